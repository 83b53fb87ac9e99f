"""Fuzzes config.json (pybertcore/configuration_utils.py, models/*/configuration_*.py, models/config_checks.py)
through ``AutoConfig.from_pretrained``: then the config is printed, ``check_model_size`` runs for every
model class of its family, and the classes whose models are tiny are built and run on three tokens, so
a config that passes validation but breaks the core is a finding too. Seeds: fuzz/corpus/config/."""

import json

import harness

with harness.instrumented_imports():
    import numpy as np

    import pybertcore
    from pybertcore import AutoConfig
    from pybertcore.models.auto import auto_factory
    from pybertcore.models.config_checks import check_model_size, parameter_counts

FOLDER = harness.work_folder("config")
MAPPINGS = (
    auto_factory.MODEL_MAPPING, auto_factory.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING,
    auto_factory.MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING, auto_factory.MODEL_FOR_QUESTION_ANSWERING_MAPPING,
    auto_factory.MODEL_FOR_MASKED_LM_MAPPING, auto_factory.MODEL_FOR_MULTIPLE_CHOICE_MAPPING,
)
# Models built per input: small enough that building and running one stays within the time budget.
MAX_PARAMETERS, MAX_LAYERS_RUN = 100_000, 8
# A config of N labels makes N label names twice (id2label, label2id): about 1 µs each here, as in
# transformers. An input is entitled to that time, on top of its size's budget. Printing the config
# (6 µs a label) is left to configs of at most PRINTED_LABELS.
SECONDS_PER_LABEL, PRINTED_LABELS = 3e-6, 10_000


def load() -> None:
    with harness.names_file(FOLDER / "config.json"):
        config = AutoConfig.from_pretrained(FOLDER)
    if config.num_labels <= PRINTED_LABELS:
        repr(config)
    for mapping in MAPPINGS:
        model_class = mapping[config.model_type]
        check_model_size(config, model_class)
        dims = model_class.layout.dims(config)
        size = sum(n for n, _ in parameter_counts(config, model_class))
        if size > MAX_PARAMETERS or dims.L * dims.inner > MAX_LAYERS_RUN:
            continue
        model = model_class(config)
        ids = np.minimum(np.arange(1, 4), dims.V - 1)[None, :]
        if mapping is auto_factory.MODEL_FOR_MULTIPLE_CHOICE_MAPPING:
            ids = ids[None]
        model(input_ids=ids)


def asked_labels(data: bytes) -> int:
    """The num_labels an input asks for, read before pybertcore does (it may refuse the file later)."""
    try:
        value = json.loads(data).get("num_labels")
    except (ValueError, RecursionError, AttributeError):
        return 0
    return value if isinstance(value, int) and 0 < value < 2**31 else 0


def test_one_input(data: bytes) -> None:
    (FOLDER / "config.json").write_bytes(data)
    harness.judge(load, data, extra=SECONDS_PER_LABEL * asked_labels(data))


if __name__ == "__main__":
    harness.limit_address_space()
    pybertcore.set_num_threads(1)
    harness.run(test_one_input)
