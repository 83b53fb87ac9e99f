"""Every (family, head) pair against transformers: loaded through its Auto class, compared on ragged
masked batches; state_dict keys, num_parameters and config as transformers'; our save_pretrained
output loads in transformers to the same numbers.

Tolerance 1e-4 max abs (float32 through two layers and a head; observed ~1e-6). Token-level logits are
compared on real tokens only: on padded positions transformers computes from the padded token, the
core returns the head of a zero state. Sequence-level logits are compared fully.
"""

from __future__ import annotations

import numpy as np
import pytest
from family_models import (
    AUTO_FOR_HEAD,
    FAMILIES,
    HEAD_PAIRS,
    choice_inputs,
    make_transformers_model,
    max_abs_on_mask,
    ragged_inputs,
    run_transformers,
    to_numpy,
)

import pybertcore

TOL = 1e-4
PAIRS = HEAD_PAIRS


def _outputs(family: str, head: str, tf_model, model, inputs: dict) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(name, ours, transformers', mask of the positions to compare) for every output of the head."""
    if head == "ForMultipleChoice":
        inputs = choice_inputs(inputs)
    ours = model(**inputs)
    theirs = run_transformers(tf_model, inputs)
    mask = inputs["attention_mask"]
    if head == "ForQuestionAnswering":
        return [(k, ours[k], to_numpy(theirs[k]), mask) for k in ("start_logits", "end_logits")]
    if head in ("ForTokenClassification", "ForMaskedLM"):
        return [("logits", ours.logits, to_numpy(theirs.logits), mask)]
    full = np.ones(ours.logits.shape, dtype=np.int64)
    return [("logits", ours.logits, to_numpy(theirs.logits), full)]


@pytest.mark.parametrize("family,head", PAIRS)
def test_head_matches_transformers(tmp_path, family, head):
    num_labels = 2 if head == "ForQuestionAnswering" else 5
    tf_model = make_transformers_model(family, head, tmp_path / "tf", num_labels=num_labels)
    auto = getattr(pybertcore, AUTO_FOR_HEAD[head])
    model = auto.from_pretrained(tmp_path / "tf")
    stem, _ = FAMILIES[family]
    assert type(model).__name__ == stem + head

    inputs = ragged_inputs(family, tf_model.config.pad_token_id)
    for name, ours, theirs, mask in _outputs(family, head, tf_model, model, inputs):
        assert ours.shape == theirs.shape, name
        assert ours.dtype == np.float32
        assert max_abs_on_mask(ours, theirs, mask) < TOL, name

    # The parameters, under transformers' names and in its order, with its count.
    tf_state = tf_model.state_dict()
    assert list(model.state_dict()) == list(tf_state)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, to_numpy(tf_state[key]), err_msg=key)
    assert model.num_parameters() == tf_model.num_parameters()
    assert model.config.num_labels == num_labels and model.config.id2label == tf_model.config.id2label


@pytest.mark.parametrize("family,head", PAIRS)
def test_saved_head_loads_in_transformers(tmp_path, family, head):
    import transformers

    num_labels = 2 if head == "ForQuestionAnswering" else 3
    make_transformers_model(family, head, tmp_path / "tf", num_labels=num_labels, seed=1)
    model = getattr(pybertcore, AUTO_FOR_HEAD[head]).from_pretrained(tmp_path / "tf")
    model.save_pretrained(tmp_path / "ours")
    tf_model = getattr(transformers, AUTO_FOR_HEAD[head]).from_pretrained(
        tmp_path / "ours", attn_implementation="eager", output_loading_info=True
    )
    tf_model, info = tf_model
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    tf_model.eval()
    inputs = ragged_inputs(family, tf_model.config.pad_token_id, seed=3)
    for name, ours, theirs, mask in _outputs(family, head, tf_model, model, inputs):
        assert max_abs_on_mask(ours, theirs, mask) < TOL, name
    assert tf_model.num_parameters() == model.num_parameters()


@pytest.mark.parametrize("family", list(FAMILIES))
def test_masked_lm_decoder_is_tied(tmp_path, family):
    """The decoder shares the word embeddings: state_dict shows both names, the file holds one copy."""
    from safetensors import safe_open

    make_transformers_model(family, "ForMaskedLM", tmp_path / "tf")
    model = pybertcore.AutoModelForMaskedLM.from_pretrained(tmp_path / "tf")
    state = model.state_dict()
    word = f"{type(model).base_model_prefix}.{model.layout.word_embeddings}.weight"
    decoder = [k for k, v in model._tied.items() if v == word]
    assert len(decoder) == 1
    assert np.shares_memory(state[decoder[0]], state[word])
    model.save_pretrained(tmp_path / "ours")
    with safe_open(str(tmp_path / "ours" / "model.safetensors"), "np") as f:
        saved = set(f.keys())
    assert decoder[0] not in saved
    assert saved == set(state) - set(model._tied)


@pytest.mark.parametrize("family", ["bert", "distilbert", "roberta", "electra", "albert"])
def test_masked_lm_untied(tmp_path, family):
    """tie_word_embeddings=False: the decoder has its own weight and bias, saved and counted."""
    tf_model = make_transformers_model(family, "ForMaskedLM", tmp_path / "tf", tie_word_embeddings=False)
    model = pybertcore.AutoModelForMaskedLM.from_pretrained(tmp_path / "tf")
    assert model._tied == {}
    assert list(model.state_dict()) == list(tf_model.state_dict())
    assert model.num_parameters() == tf_model.num_parameters()
    inputs = ragged_inputs(family, tf_model.config.pad_token_id)
    theirs = to_numpy(run_transformers(tf_model, inputs).logits)
    assert max_abs_on_mask(model(**inputs).logits, theirs, inputs["attention_mask"]) < TOL


def test_multiple_choice_needs_three_dimensions(tmp_path):
    make_transformers_model("bert", "ForMultipleChoice", tmp_path / "tf")
    model = pybertcore.AutoModelForMultipleChoice.from_pretrained(tmp_path / "tf")
    with pytest.raises(ValueError, match="input_ids must be 3-D"):
        model(input_ids=[[1, 2, 3]])


def test_labels_give_transformers_loss(tmp_path):
    """labels → loss, as transformers computes it (cross-entropy for integer labels)."""
    tf_model = make_transformers_model("bert", "ForSequenceClassification", tmp_path / "tf", num_labels=4)
    model = pybertcore.AutoModelForSequenceClassification.from_pretrained(tmp_path / "tf")
    inputs = ragged_inputs("bert", 0)
    labels = np.array([0, 3, 1, 2])
    ours = model(**inputs, labels=labels)
    theirs = run_transformers(tf_model, {**inputs, "labels": labels})
    assert abs(float(ours.loss) - float(theirs.loss)) < TOL
    assert model(**inputs, labels=labels, return_dict=False)[0] == ours.loss


def test_question_answering_needs_two_labels():
    config = pybertcore.BertConfig(hidden_size=60, num_attention_heads=3, intermediate_size=37, vocab_size=101,
                                   num_hidden_layers=1, num_labels=3)
    with pytest.raises(ValueError, match="num_labels=2, got 3"):
        pybertcore.BertForQuestionAnswering(config)


def test_electra_multiple_choice_summary_type():
    config = pybertcore.ElectraConfig(hidden_size=60, num_attention_heads=3, intermediate_size=37, vocab_size=101,
                                      num_hidden_layers=1, embedding_size=24, summary_type="mean")
    with pytest.raises(NotImplementedError, match="summary_type: 'mean'"):
        pybertcore.ElectraForMultipleChoice(config)


def test_from_config_builds_a_random_head():
    config = pybertcore.AutoConfig.for_model("albert", hidden_size=60, num_attention_heads=3, intermediate_size=37,
                                             vocab_size=101, num_hidden_layers=2, embedding_size=24, num_labels=4)
    model = pybertcore.AutoModelForSequenceClassification.from_config(config)
    assert type(model).__name__ == "AlbertForSequenceClassification"
    assert model(input_ids=[[2, 5, 9, 3]]).logits.shape == (1, 4)
