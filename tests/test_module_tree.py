"""The module tree of every family × head against its transformers twin: print(model), named_parameters()
(names, order and values), attribute access, parameter assignment and load_state_dict."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from family_models import AUTO_FOR_HEAD, CLASS_PAIRS, HEADS, make_transformers_model, ragged_inputs

import pybertcore

CLASSES = ["Model"] + HEADS
# A config of each family with values off the defaults, so that printing them is tested too.
OVERRIDES = {"hidden_dropout_prob": 0.15, "attention_probs_dropout_prob": 0.05}


def _pair(tmp_path, family, suffix, **overrides):
    """(ours, theirs) loaded from the same random transformers checkpoint."""
    theirs = make_transformers_model(family, suffix, tmp_path, **overrides)
    ours = getattr(pybertcore, AUTO_FOR_HEAD[suffix]).from_pretrained(tmp_path)
    return ours, theirs


@pytest.mark.parametrize("family,suffix", CLASS_PAIRS)
def test_tree_matches_transformers(tmp_path, family, suffix):
    ours, theirs = _pair(tmp_path, family, suffix)
    assert repr(ours) == repr(theirs)
    their_params = [(n, p.detach().numpy()) for n, p in theirs.named_parameters()]
    our_params = list(ours.named_parameters())
    assert [n for n, _ in our_params] == [n for n, _ in their_params]
    for (name, value), (_, expected) in zip(our_params, their_params):
        np.testing.assert_array_equal(value, expected, err_msg=name)
    assert sum(v.size for v in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    # attribute access reaches the same values by the same path
    for name, expected in their_params[:: max(1, len(their_params) // 7)]:
        module_path, _, param = name.rpartition(".")
        module = ours
        for part in module_path.split("."):
            module = module[int(part)] if part.isdigit() else getattr(module, part)
        np.testing.assert_array_equal(getattr(module, param), expected)


def test_configured_dropouts_and_activation_print_as_transformers(tmp_path):
    ours, theirs = _pair(tmp_path, "bert", "ForSequenceClassification", hidden_act="gelu_new", classifier_dropout=0.3,
                         **OVERRIDES)
    assert repr(ours) == repr(theirs)


def test_nn_module_accessors(tmp_path):
    ours, theirs = _pair(tmp_path, "bert", "ForMaskedLM")
    assert ours.base_model is ours.bert and ours.base_model_prefix == "bert"
    assert repr(ours.get_input_embeddings()) == repr(theirs.get_input_embeddings())
    assert repr(ours.get_output_embeddings()) == repr(theirs.get_output_embeddings())
    np.testing.assert_array_equal(ours.get_output_embeddings().weight, ours.bert.embeddings.word_embeddings.weight)
    assert ours.bert.encoder.layer[1] is ours.bert.encoder.layer[-1] and len(ours.bert.encoder.layer) == 2
    model = pybertcore.BertModel(pybertcore.BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                                       intermediate_size=37))
    assert model.base_model is model and model.get_output_embeddings() is None
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        model.embeddings.nope
    with pytest.raises(NotImplementedError, match="call the model itself"):
        model.encoder(np.zeros((1, 2, 32)))


@pytest.mark.parametrize("as_torch", [False, True])
def test_assigning_a_parameter_repacks(tmp_path, as_torch):
    """model.classifier.weight = w (shape checked) is what the next forward uses."""
    ours, theirs = _pair(tmp_path, "bert", "ForSequenceClassification")
    inputs = ragged_inputs("bert", 0)
    torch.manual_seed(1)
    new_weight = torch.randn_like(theirs.classifier.weight)
    new_query = torch.randn_like(theirs.bert.encoder.layer[1].attention.self.query.weight)
    with torch.no_grad():
        theirs.classifier.weight.copy_(new_weight)
        theirs.bert.encoder.layer[1].attention.self.query.weight.copy_(new_query)
        expected = theirs(**{k: torch.from_numpy(v) for k, v in inputs.items()}).logits.numpy()
    ours.classifier.weight = new_weight if as_torch else new_weight.numpy()
    ours.bert.encoder.layer[1].attention.self.query.weight = new_query if as_torch else new_query.numpy()
    np.testing.assert_allclose(ours(**inputs).logits, expected, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(ours.classifier.weight, new_weight.numpy())
    with pytest.raises(ValueError, match=r"classifier.weight: expected shape \(2, 60\), found \(3, 60\)"):
        ours.classifier.weight = np.zeros((3, 60), dtype=np.float32)
    with pytest.raises(AttributeError, match="replacing modules is not supported"):
        ours.bert.embeddings = None


@pytest.mark.parametrize("family,suffix", CLASS_PAIRS)
def test_load_state_dict_of_a_perturbed_transformers_model(tmp_path, family, suffix):
    ours, theirs = _pair(tmp_path, family, suffix)
    torch.manual_seed(2)
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(0.05 * torch.randn_like(p))
    result = ours.load_state_dict(theirs.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    inputs = ragged_inputs(family, 1)
    if suffix == "ForMultipleChoice":
        inputs = {k: np.stack([v, v[::-1]], axis=1) for k, v in inputs.items()}
    with torch.no_grad():
        expected = theirs(**{k: torch.from_numpy(v) for k, v in inputs.items()})
    got = ours(**inputs)
    mask = inputs["attention_mask"].astype(bool)
    first = expected[0].numpy()
    if first.ndim == 3 and suffix in ("Model", "ForMaskedLM", "ForTokenClassification"):
        np.testing.assert_allclose(got[0][mask], first[mask], atol=1e-4, rtol=0)
    elif suffix == "ForQuestionAnswering":
        np.testing.assert_allclose(got.start_logits[mask], expected.start_logits.numpy()[mask], atol=1e-4, rtol=0)
    else:
        np.testing.assert_allclose(got[0], first, atol=1e-4, rtol=0)


def test_load_state_dict_errors_are_torchs(tmp_path):
    ours, theirs = _pair(tmp_path, "bert", "ForSequenceClassification")
    state = theirs.state_dict()
    extra = dict(state, surplus=torch.zeros(1))
    del extra["classifier.bias"]
    with pytest.raises(RuntimeError) as error:
        ours.load_state_dict(extra)
    text = str(error.value)
    assert text.startswith("Error(s) in loading state_dict for BertForSequenceClassification:")
    assert 'Missing key(s) in state_dict: "classifier.bias".' in text and 'Unexpected key(s) in state_dict: "surplus".' in text
    result = ours.load_state_dict(extra, strict=False)
    assert result == (["classifier.bias"], ["surplus"])
    wrong = dict(state, **{"classifier.weight": torch.zeros(3, 60)})
    with pytest.raises(RuntimeError, match=r"size mismatch for classifier.weight: copying a param with shape \[3, 60\] "
                                           r"from checkpoint, the shape in current model is \[2, 60\]"):
        ours.load_state_dict(wrong, strict=False)
