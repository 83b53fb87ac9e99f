"""The course's fine-tuning flow, end to end, for every family: a base checkpoint loaded into a
sequence-classification model (warnings in transformers' words, listing the same weights transformers
lists; a random head), num_labels/id2label/label2id overrides, save and reload (no warning, identical
logits), a label-count mismatch (the error names the shapes; ignore_mismatched_sizes re-initialises
with a warning), and transformers reading what we saved.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from family_models import (AUTO_FOR_HEAD, FAMILIES, family_heads, make_transformers_model, ragged_inputs, run_transformers,
                           to_numpy)

import pybertcore

TOL = 1e-4
LABELS = ["anger", "joy", "fear", "love", "sadness", "surprise", "calm", "awe"]
# The last linear layer of each family's sequence-classification head (its shape follows num_labels).
CLASSIFIER = {
    "bert": "classifier",
    "distilbert": "classifier",
    "roberta": "classifier.out_proj",
    "xlm-roberta": "classifier.out_proj",
    "camembert": "classifier.out_proj",
    "electra": "classifier.out_proj",
    "albert": "classifier",
    "mpnet": "classifier.out_proj",
    "nomic_bert": "classifier",
    "gte": "classifier",
    "modernbert": "classifier",
    "deberta-v2": "classifier",
}


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "pybertcore" and r.levelno >= logging.WARNING]


def _transformers_loading_info(transformers_class, folder, **kwargs):
    _, info = transformers_class.from_pretrained(folder, output_loading_info=True, **kwargs)
    return info


@pytest.mark.parametrize("family", list(FAMILIES))
def test_finetune_flow(tmp_path, caplog, family):
    import transformers

    base = tmp_path / "base"
    make_transformers_model(family, "Model", base)
    id2label = dict(enumerate(LABELS))
    label2id = {name: i for i, name in id2label.items()}

    # 1. A base checkpoint into a head model: transformers' warnings, the weights it lists.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        model, info = pybertcore.AutoModelForSequenceClassification.from_pretrained(
            base, num_labels=8, id2label=id2label, label2id=label2id, output_loading_info=True
        )
    cls = type(model).__name__
    theirs = _transformers_loading_info(
        transformers.AutoModelForSequenceClassification, base, num_labels=8, id2label=id2label, label2id=label2id
    )
    assert set(info["missing_keys"]) == set(theirs["missing_keys"])
    assert set(info["unexpected_keys"]) == set(theirs["unexpected_keys"])
    messages = _warnings(caplog)
    newly = [m for m in messages if m.startswith(f"Some weights of {cls} were not initialized")]
    assert len(newly) == 1
    assert (
        f"Some weights of {cls} were not initialized from the model checkpoint at {base} and are newly "
        f"initialized: {info['missing_keys']}\nYou should probably TRAIN this model on a down-stream task to be "
        "able to use it for predictions and inference."
    ) == newly[0]
    unused = [m for m in messages if m.startswith("Some weights of the model checkpoint")]
    assert len(unused) == (1 if info["unexpected_keys"] else 0)
    if unused:
        assert unused[0].startswith(
            f"Some weights of the model checkpoint at {base} were not used when initializing {cls}: "
            f"{info['unexpected_keys']}\n- This IS expected"
        )
    assert len(messages) == len(newly) + len(unused)

    # 2. The head is random (normal(initializer_range), zero bias); the encoder is the checkpoint's.
    state = model.state_dict()
    head = CLASSIFIER[family]
    assert state[f"{head}.weight"].shape == (8, 60)
    # drawn as transformers draws it (normal(initializer_range); ModernBERT: truncated, std hidden_size^-0.5)
    expected_std = 0.02 if family != "modernbert" else 0.88 * 60 ** -0.5
    assert abs(float(state[f"{head}.weight"].std()) - expected_std) < 0.25 * expected_std
    assert not state[f"{head}.bias"].any()
    base_model = pybertcore.AutoModel.from_pretrained(base)
    prefix = type(model).base_model_prefix + "."
    for key, value in base_model.state_dict().items():
        if prefix + key in state:
            np.testing.assert_array_equal(state[prefix + key], value)

    # 3. The overrides apply; id2label keys are ints.
    assert model.config.num_labels == 8
    assert model.config.id2label == id2label and all(isinstance(k, int) for k in model.config.id2label)
    assert model.config.label2id == label2id

    inputs = ragged_inputs(family, model.config.pad_token_id)
    logits = model(**inputs).logits
    assert logits.shape == (4, 8)

    # 4. save_pretrained, then reload: nothing to warn about, identical logits.
    finetuned = tmp_path / "finetuned"
    model.save_pretrained(finetuned)
    saved = json.loads((finetuned / "config.json").read_text())
    assert saved["id2label"] == {str(i): name for i, name in id2label.items()}
    assert saved["architectures"] == [cls]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        reloaded = pybertcore.AutoModelForSequenceClassification.from_pretrained(finetuned)
    assert _warnings(caplog) == []
    assert reloaded.config.id2label == id2label
    np.testing.assert_array_equal(reloaded(**inputs).logits, logits)

    # 5. transformers reads the fine-tuned folder to the same numbers.
    tf_model = transformers.AutoModelForSequenceClassification.from_pretrained(finetuned).eval()
    assert tf_model.config.id2label == id2label
    assert np.abs(to_numpy(run_transformers(tf_model, inputs).logits) - logits).max() < TOL

    # 6. Three labels against the 8-label checkpoint: an error naming the shapes ...
    with pytest.raises(RuntimeError) as err:
        pybertcore.AutoModelForSequenceClassification.from_pretrained(finetuned, num_labels=3)
    message = str(err.value)
    assert f"Error(s) in loading state_dict for {cls}" in message
    assert (
        f"size mismatch for {head}.weight: copying a param with shape [8, 60] from checkpoint, the shape in "
        "current model is [3, 60]."
    ) in message
    assert f"size mismatch for {head}.bias: copying a param with shape [8] from checkpoint" in message
    assert "ignore_mismatched_sizes=True" in message

    # ... and with ignore_mismatched_sizes=True a fresh head and a warning that names them.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        three = pybertcore.AutoModelForSequenceClassification.from_pretrained(
            finetuned, num_labels=3, ignore_mismatched_sizes=True
        )
    mismatch = [m for m in _warnings(caplog) if "because the shapes did not match" in m]
    assert len(mismatch) == 1
    assert f"- {head}.weight: found shape [8, 60] in the checkpoint and [3, 60] in the model instantiated" in mismatch[0]
    assert f"- {head}.bias: found shape [8] in the checkpoint and [3] in the model instantiated" in mismatch[0]
    assert three.config.num_labels == 3 and three.config.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    assert three(**inputs).logits.shape == (4, 3)
    assert not three.state_dict()[f"{head}.bias"].any()
    # Everything but the re-initialised head came from the checkpoint.
    for key, value in reloaded.state_dict().items():
        if not key.startswith(head + "."):
            np.testing.assert_array_equal(three.state_dict()[key], value)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_head_checkpoint_into_base_model(tmp_path, caplog, family):
    """A head checkpoint loaded by AutoModel keeps the encoder and reports the head as unused, as
    transformers does."""
    import transformers

    folder = tmp_path / "mlm"
    make_transformers_model(family, "ForMaskedLM", folder)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        model, info = pybertcore.AutoModel.from_pretrained(folder, output_loading_info=True)
    theirs = _transformers_loading_info(transformers.AutoModel, folder)
    assert set(info["unexpected_keys"]) == set(theirs["unexpected_keys"])
    assert set(info["missing_keys"]) == set(theirs["missing_keys"])
    assert any(m.startswith(f"Some weights of the model checkpoint at {folder} were not used") for m in _warnings(caplog))


@pytest.mark.parametrize("family", list(FAMILIES))
def test_base_checkpoint_into_every_head(tmp_path, family):
    """Every head loads from a base checkpoint and reports the same missing/unused weights as transformers."""
    import transformers

    base = tmp_path / "base"
    make_transformers_model(family, "Model", base)
    for head in family_heads(family)[1:]:
        auto = AUTO_FOR_HEAD[head]
        _, info = getattr(pybertcore, auto).from_pretrained(base, output_loading_info=True)
        theirs = _transformers_loading_info(getattr(transformers, auto), base)
        assert set(info["missing_keys"]) == set(theirs["missing_keys"]), auto
        assert set(info["unexpected_keys"]) == set(theirs["unexpected_keys"]), auto
