"""The drop-in claim, habit by habit: user code written for transformers 5 run on both libraries, with the
same outcome (the same values, output tuples, losses, config contents, or the same exception and text).

Covers what the course flow (test_course.py) and the parity tests (test_heads.py, test_families.py) do
not: from_pretrained's and from_config's keyword arguments (config fields override the config, anything
else is refused by the model's ``__init__``, also when a config is passed), ``return_unused_kwargs``,
``return_dict=False`` tuples with losses for every head, label errors, a head model's base model called on
its own, ``can_generate``/``tie_weights``/``resize_token_embeddings``, and ``dtype`` in saved configs.

Tolerance 1e-4 max abs (float32 through two layers; observed ~1e-6); losses 1e-4 absolute.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import warnings

import numpy as np
import pytest
import torch
import transformers
from family_models import (
    AUTO_FOR_HEAD,
    FAMILIES,
    choice_inputs,
    family_heads,
    make_transformers_model,
    max_abs_on_mask,
    ragged_inputs,
    run_transformers,
    to_numpy,
)

import pybertcore

TOL = 1e-4
# A sample of families that differ in what the drop-in has to get right: pooler or none, token types or
# none, relative positions, rotary positions with windows, an embedding projection.
SAMPLE = ["bert", "roberta", "distilbert", "electra", "mpnet", "modernbert", "gte", "nomic_bert", "deberta-v2"]
LIBS = [transformers, pybertcore]


def _error(call) -> tuple[type, str]:
    with pytest.raises(Exception) as info:
        call()
    return info.type, str(info.value)


@pytest.fixture
def transformers_warnings(caplog):
    """transformers' own logger, captured by caplog beside ours (it does not propagate by default)."""
    transformers.logging.enable_propagation()
    try:
        with caplog.at_level(logging.WARNING):
            yield caplog
    finally:
        transformers.logging.disable_propagation()


# --- from_pretrained / from_config keyword arguments ------------------------------------------------
@pytest.mark.parametrize("family", ["bert", "distilbert", "modernbert"])
def test_unknown_from_pretrained_kwargs_raise_as_transformers(tmp_path, family):
    """A keyword that is neither a loading option nor a config field goes to __init__, which refuses it by
    name: a typo (num_label=3) is an error, not a field silently added to the config."""
    stem, _ = FAMILIES[family]
    make_transformers_model(family, "Model", tmp_path)
    for get_class, kwargs in [
        (lambda lib: getattr(lib, stem + "Model"), {"foo": 1}),
        (lambda lib: lib.AutoModel, {"num_label": 3}),
        (lambda lib: lib.AutoModelForSequenceClassification, {"num_labels": 3, "gradient_checkpointing": True}),
    ]:
        theirs, ours = (_error(lambda lib=lib: get_class(lib).from_pretrained(tmp_path, **kwargs)) for lib in LIBS)
        assert theirs[0] is ours[0] is TypeError
        assert ours[1] == theirs[1]  # e.g. "BertModel.__init__() got an unexpected keyword argument 'foo'"


def test_config_fields_with_an_explicit_config_are_refused(tmp_path):
    """With config=..., transformers hands every other keyword to __init__: num_labels raises there and
    the config passed stays as it was."""
    make_transformers_model("bert", "Model", tmp_path)
    for lib in LIBS:
        config = lib.AutoConfig.from_pretrained(tmp_path)
        kind, text = _error(lambda: lib.AutoModelForSequenceClassification.from_pretrained(tmp_path, config=config,
                                                                                         num_labels=3))
        assert kind is TypeError
        assert text == "BertForSequenceClassification.__init__() got an unexpected keyword argument 'num_labels'"
        assert config.num_labels == 2
    model = pybertcore.BertModel.from_pretrained(tmp_path, config=pybertcore.AutoConfig.from_pretrained(tmp_path),
                                                 add_pooling_layer=False, _from_auto=True)
    assert "pooler" not in dict(model.named_children())  # add_pooling_layer reached __init__; _from_auto dropped


def test_config_from_pretrained_keeps_unused_kwargs_out(tmp_path):
    """Config loaders set the keywords that are fields and return (or drop) the others, as transformers."""
    make_transformers_model("bert", "Model", tmp_path)
    kwargs = dict(num_labels=3, hidden_dropout_prob=0.3, foo=1, trust_remote_code=True, _from_auto=True,
                  return_unused_kwargs=True)
    for loader in ("AutoConfig", "BertConfig"):
        (theirs, their_unused), (ours, our_unused) = (getattr(lib, loader).from_pretrained(tmp_path, **kwargs)
                                                      for lib in LIBS)
        assert our_unused == their_unused == {"foo": 1}
        assert not hasattr(ours, "foo") and not hasattr(theirs, "foo")
        assert ours.num_labels == theirs.num_labels == 3 and ours.hidden_dropout_prob == 0.3
        assert ours.to_json_string() == theirs.to_json_string()
        assert not hasattr(getattr(pybertcore, loader).from_pretrained(tmp_path, foo=1), "foo")
    theirs, ours = (lib.BertConfig.from_dict({"hidden_size": 60}, hidden_size=30, num_attention_heads=3, foo=1,
                                             return_unused_kwargs=True) for lib in LIBS)
    assert ours[1] == theirs[1] == {"foo": 1} and ours[0].hidden_size == theirs[0].hidden_size == 30


def test_num_labels_against_a_saved_head_warns_as_transformers(tmp_path, transformers_warnings):
    """A head saved with 3 labels (config.json holds id2label) reloaded with num_labels=5: both warn."""
    make_transformers_model("bert", "ForSequenceClassification", tmp_path, num_labels=3)
    warning = "You passed `num_labels=5` which is incompatible to the `id2label` map of length `3`."
    for lib in LIBS:
        transformers_warnings.clear()
        model = lib.AutoModelForSequenceClassification.from_pretrained(tmp_path, num_labels=5,
                                                                       ignore_mismatched_sizes=True)
        assert model.config.num_labels == 5
        assert warning in [r.getMessage() for r in transformers_warnings.records], lib.__name__


def test_single_label_problem_needs_two_labels():
    theirs, ours = (_error(lambda lib=lib: lib.BertConfig(problem_type="single_label_classification", num_labels=1))
                    for lib in LIBS)
    assert ours == theirs and ours[0] is ValueError


def test_model_init_refuses_unknown_kwargs_by_its_own_name():
    kwargs = dict(FAMILIES["bert"][1])
    theirs, ours = (_error(lambda lib=lib: lib.BertForSequenceClassification(lib.BertConfig(**kwargs), foo=1))
                    for lib in LIBS)
    message = "BertForSequenceClassification.__init__() got an unexpected keyword argument 'foo'"
    assert ours == theirs == (TypeError, message)


def test_from_config_takes_loading_options():
    """from_config(config, dtype=..., attn_implementation=...) as transformers takes them; others go to __init__."""
    for lib in LIBS:
        config = lib.AutoConfig.for_model("bert", **FAMILIES["bert"][1])
        lib.AutoModel.from_config(config, attn_implementation="eager", add_pooling_layer=False)
        assert str(lib.AutoModel.from_config(config, dtype=torch.bfloat16).dtype).endswith("bfloat16")
        kind, text = _error(lambda: lib.AutoModelForSequenceClassification.from_config(config, num_labels=4))
        assert kind is TypeError and "got an unexpected keyword argument 'num_labels'" in text


@pytest.mark.parametrize("build", ["init", "from_config"])
def test_saved_config_names_the_dtype(tmp_path, build):
    """save_pretrained writes "dtype": "float32" (the weights it writes), as transformers does."""
    for lib in LIBS:
        config = lib.BertConfig(**FAMILIES["bert"][1])
        model = lib.BertModel(config) if build == "init" else lib.AutoModel.from_config(config)
        model.save_pretrained(tmp_path / lib.__name__)
        assert json.loads((tmp_path / lib.__name__ / "config.json").read_text())["dtype"] == "float32"
        assert str(model.config.dtype).endswith("float32")


# --- forward: tuples, losses, labels ---------------------------------------------------------------
def _labels(head: str, inputs: dict, num_labels: int) -> dict:
    """Labels as a training loop passes them: -100 on padding for token heads; QA spans inside sequences."""
    rng = np.random.default_rng(1)
    mask = inputs["attention_mask"]
    if head == "ForSequenceClassification":
        return {"labels": rng.integers(0, num_labels, size=mask.shape[0])}
    if head == "ForMultipleChoice":
        return {"labels": rng.integers(0, mask.shape[1], size=mask.shape[0])}
    if head in ("ForTokenClassification", "ForMaskedLM"):
        return {"labels": np.where(mask == 1, rng.integers(0, num_labels, size=mask.shape), -100)}
    starts = rng.integers(0, mask.shape[1], size=mask.shape[0])
    return {"start_positions": starts, "end_positions": np.minimum(starts + 2, mask.shape[1] + 3)}  # past T: ignored


@pytest.mark.parametrize("family,head", [(f, h) for f in SAMPLE for h in family_heads(f)])
def test_tuples_and_losses_match_transformers(tmp_path, family, head):
    """return_dict=False with labels, hidden states and attentions: the same tuple (loss first, then the
    head's outputs, hidden_states, attentions) with the same shapes and the same loss. QA runs on unpadded
    sequences: its loss normalises over every position, padded ones included, whose logits differ here
    (README: padded positions hold the head of a zero state)."""
    num_labels = 2 if head == "ForQuestionAnswering" else 3
    tf_model = make_transformers_model(family, head, tmp_path, num_labels=num_labels)
    model = getattr(pybertcore, AUTO_FOR_HEAD[head]).from_pretrained(tmp_path)
    lengths = (9, 9, 9, 9) if head == "ForQuestionAnswering" else (9, 1, 5, 7)
    inputs = ragged_inputs(family, tf_model.config.pad_token_id, lengths=lengths)
    if head == "ForMultipleChoice":
        inputs = choice_inputs(inputs)
    vocab = tf_model.config.vocab_size
    labels = _labels(head, inputs, vocab if head == "ForMaskedLM" else num_labels)
    flags = dict(output_hidden_states=True, output_attentions=True, return_dict=False)
    theirs = run_transformers(tf_model, {**inputs, **labels}, **flags)
    ours = model(**inputs, **labels, **flags)
    assert isinstance(ours, tuple) and len(ours) == len(theirs)
    assert abs(float(ours[0]) - float(theirs[0])) < TOL
    for a, b in zip(ours[1:], theirs[1:]):
        a, b = (a, b) if isinstance(a, tuple) else ((a,), (b,))
        assert [np.shape(x) for x in a] == [tuple(x.shape) for x in b]
    # The loss as a torch scalar when the inputs are torch tensors.
    out = model(**{k: torch.tensor(v) for k, v in {**inputs, **labels}.items()})
    assert isinstance(out.loss, torch.Tensor) and out.loss.shape == () and out.loss.dtype == torch.float32


@pytest.mark.parametrize("problem_type,num_labels,labels", [
    (None, 1, np.array([0.5, -1.0, 2.0, 0.0], dtype=np.float32)),
    (None, 1, np.array([[0.5], [-1.0], [2.0], [0.0]], dtype=np.float32)),
    (None, 3, np.array([[0, 1, 1], [1, 0, 0], [0, 0, 0], [1, 1, 1]], dtype=np.float32)),
    ("multi_label_classification", 3, np.array([[0, 1, 1], [1, 0, 0], [0, 0, 0], [1, 1, 1]], dtype=np.float32)),
    ("regression", 3, np.arange(12, dtype=np.float32).reshape(4, 3) / 10),
    ("regression", 3, np.array([[0.1], [0.2], [0.3], [0.4]], dtype=np.float32)),  # broadcast, as torch does
    ("single_label_classification", 3, np.array([2, 0, 1, 1])),
])
def test_problem_types_give_transformers_loss(tmp_path, problem_type, num_labels, labels):
    tf_model = make_transformers_model("bert", "ForSequenceClassification", tmp_path, num_labels=num_labels,
                                       problem_type=problem_type)
    model = pybertcore.AutoModelForSequenceClassification.from_pretrained(tmp_path)
    inputs = ragged_inputs("bert", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's broadcasting warning
        theirs = run_transformers(tf_model, {**inputs, "labels": labels})
    assert abs(float(model(**inputs, labels=labels).loss) - float(theirs.loss)) < TOL


@pytest.mark.parametrize("problem_type,labels,message", [
    (None, np.array([0.0, 1.0, 2.0, 1.0]), r"labels: target size \(4,\) must be the same as input size \(4, 3\)"),
    (None, np.array([[0, 1, 0]] * 4), r"labels: expected input batch_size \(4\) to match target batch_size \(12\)"),
    ("single_label_classification", np.array([0.0, 1.0, 2.0, 1.0]), "labels: class indices must be integers"),
    ("regression", np.array([0.1, 0.2, 0.3, 0.4]), r"labels: shape \(4,\) does not match the logits' \(4, 3\)"),
])
def test_labels_transformers_refuses_raise_naming_labels(tmp_path, problem_type, labels, message):
    tf_model = make_transformers_model("bert", "ForSequenceClassification", tmp_path, num_labels=3,
                                       problem_type=problem_type)
    model = pybertcore.AutoModelForSequenceClassification.from_pretrained(tmp_path)
    inputs = ragged_inputs("bert", 0)
    with pytest.raises((ValueError, RuntimeError)), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's broadcasting warning before its error
        run_transformers(tf_model, {**inputs, "labels": labels})
    with pytest.raises(ValueError, match=message):
        model(**inputs, labels=labels)


def test_four_dimensional_mask_is_refused_by_name(tmp_path):
    make_transformers_model("bert", "Model", tmp_path)
    model = pybertcore.AutoModel.from_pretrained(tmp_path)
    mask = np.ones((2, 1, 1, 5), dtype=np.float32)
    with pytest.raises(ValueError, match=r"attention_mask has shape \(2, 1, 1, 5\).*2-D \(batch, tokens\)"):
        model(np.ones((2, 5), dtype=np.int64), attention_mask=mask)


# --- the model object ------------------------------------------------------------------------------
@pytest.mark.parametrize("family,head", [
    ("bert", "ForSequenceClassification"), ("bert", "ForTokenClassification"), ("roberta", "ForSequenceClassification"),
    ("distilbert", "ForQuestionAnswering"), ("electra", "ForSequenceClassification"), ("mpnet", "ForMaskedLM"),
    ("modernbert", "ForMaskedLM"), ("deberta-v2", "ForSequenceClassification"), ("gte", "ForTokenClassification"),
])
def test_base_model_of_a_head_model_runs_the_encoder(tmp_path, family, head):
    """model.base_model(...) / model.bert(...): the bare model's output, pooled only where the head model's
    encoder has its pooler (BertForTokenClassification's has none), numpy or torch as the inputs."""
    tf_model = make_transformers_model(family, head, tmp_path)
    model = getattr(pybertcore, AUTO_FOR_HEAD[head]).from_pretrained(tmp_path)
    inputs = ragged_inputs(family, tf_model.config.pad_token_id)
    theirs = run_transformers(tf_model.base_model, inputs, output_hidden_states=True)
    for base in (model.base_model, getattr(model, model.base_model_prefix)):
        ours = base(**inputs, output_hidden_states=True)
        assert type(ours).__name__ == type(theirs).__name__ and list(ours.keys()) == list(theirs.keys())
        for key in ours.keys():
            if key == "hidden_states":
                for a, b in zip(ours[key], theirs[key]):
                    assert max_abs_on_mask(a, to_numpy(b), inputs["attention_mask"]) < TOL
            elif key == "pooler_output":
                assert np.abs(ours[key] - to_numpy(theirs[key])).max() < TOL
            else:
                assert max_abs_on_mask(ours[key], to_numpy(theirs[key]), inputs["attention_mask"]) < TOL
    out = model.base_model(**{k: torch.tensor(v) for k, v in inputs.items()}, return_dict=False)
    assert isinstance(out, tuple) and isinstance(out[0], torch.Tensor)
    with pytest.raises(NotImplementedError, match="view of the model's parameters"):
        model.get_input_embeddings()(inputs["input_ids"])


@pytest.mark.parametrize("family", ["bert", "electra", "deberta-v2"])
def test_pretrained_model_habits(tmp_path, family):
    """can_generate(), tie_weights() and resize_token_embeddings() as transformers answers them for an
    encoder that keeps its vocabulary; a new size is refused by name (no training here)."""
    tf_model = make_transformers_model(family, "ForMaskedLM", tmp_path)
    model = pybertcore.AutoModelForMaskedLM.from_pretrained(tmp_path)
    assert model.can_generate() is tf_model.can_generate() is False
    assert model.tie_weights() is tf_model.tie_weights() is None
    V = tf_model.config.vocab_size
    for kwargs in [{}, {"new_num_tokens": V}]:
        ours, theirs = model.resize_token_embeddings(**kwargs), tf_model.resize_token_embeddings(**kwargs)
        assert repr(ours) == repr(theirs)
    padded = -(-(V + 1) // 8) * 8
    with pytest.raises(NotImplementedError, match=rf"resize_token_embeddings\({padded}\): .*inference only"):
        model.resize_token_embeddings(V + 1, pad_to_multiple_of=8)
    assert model.config.vocab_size == V


@pytest.mark.parametrize("family,suffix", [("bert", "Model"), ("electra", "Model"), ("bert", "ForQuestionAnswering")])
def test_outputs_print_as_transformers(tmp_path, family, suffix):
    """print(outputs) shows the dataclass form, None fields included: with torch inputs, the very text
    transformers' output class prints for the same values."""
    from transformers import modeling_outputs

    tf_model = make_transformers_model(family, suffix, tmp_path, num_labels=2)
    model = getattr(pybertcore, AUTO_FOR_HEAD[suffix]).from_pretrained(tmp_path)
    inputs = ragged_inputs(family, 0, lengths=(3, 2), T=3)
    ours = model(**{k: torch.tensor(v) for k, v in inputs.items()}, output_attentions=True)
    theirs = run_transformers(tf_model, inputs, output_attentions=True)
    twin = getattr(modeling_outputs, type(theirs).__name__)
    assert type(ours).__name__ == twin.__name__
    assert [f.name for f in dataclasses.fields(ours)] == list(theirs.__dataclass_fields__)
    assert repr(ours) == repr(twin(**{name: getattr(ours, name) for name in theirs.__dataclass_fields__}))
    assert "hidden_states=None" in repr(model(**inputs))


def test_output_classes_have_transformers_fields():
    """Every output class has its transformers namesake's fields in its order (transformers 5 renamed
    past_key_values to cache), so to_tuple(), keys and printing line up."""
    from transformers import modeling_outputs

    from pybertcore import modeling_outputs as ours

    classes = [c for c in vars(ours).values() if isinstance(c, type) and dataclasses.is_dataclass(c)]
    assert len(classes) >= 10
    for cls in classes:
        twin = getattr(modeling_outputs, cls.__name__)
        assert [f.name for f in dataclasses.fields(cls)] == list(twin.__dataclass_fields__), cls.__name__
