"""The families' configs and base models against transformers: field names and defaults, AutoConfig by
model_type, last hidden states / pooler / every hidden state / attentions on ragged masked batches,
state_dict keys and num_parameters, and our save_pretrained output read back by transformers.

Tolerance 1e-4 max abs (float32 through two layers; observed ~1e-6). Hidden states and attentions are
compared on real tokens only (padded positions hold zeros here; see encoder.h).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from family_models import FAMILIES, make_transformers_model, max_abs_on_mask, ragged_inputs, run_transformers, to_numpy

import pybertcore

TOL = 1e-4
# Output class of each family's bare model in transformers, and whether it has pooler_output.
OUTPUT_CLASS = {
    "bert": "BaseModelOutputWithPoolingAndCrossAttentions",
    "distilbert": "BaseModelOutput",
    "roberta": "BaseModelOutputWithPoolingAndCrossAttentions",
    "xlm-roberta": "BaseModelOutputWithPoolingAndCrossAttentions",
    "camembert": "BaseModelOutputWithPoolingAndCrossAttentions",
    "electra": "BaseModelOutputWithPastAndCrossAttentions",
    "albert": "BaseModelOutputWithPooling",
    "mpnet": "BaseModelOutputWithPooling",
    "nomic_bert": "BaseModelOutputWithPooling",
    "gte": "BaseModelOutputWithPooling",
    "modernbert": "BaseModelOutput",
    "deberta-v2": "BaseModelOutput",
}
# Variants that exercise the layout's data: ALBERT's groups (4 layers over 2 groups of 2 inner layers,
# so 8 layers run), ELECTRA without a projection (E == H), DistilBERT with relu, BERT without types.
VARIANTS = [(family, {}) for family in FAMILIES] + [
    ("albert", dict(num_hidden_layers=4, num_hidden_groups=2, inner_group_num=2)),
    ("albert", dict(num_hidden_layers=3, num_hidden_groups=2)),
    ("electra", dict(embedding_size=60)),
    ("albert", dict(embedding_size=60)),  # E == H, still projected: the projection must not run in place
    ("distilbert", dict(activation="relu")),
    ("bert", dict(type_vocab_size=1, hidden_act="gelu_new")),
    # DeBERTa: own position projections; one term; no buckets (distances clamped at ±6); v2's absolute
    # positions, token types and a narrower embedding projected before its norm, without relative
    # attention (pos_att_type still counts in the scale); a relative table no term reads
    ("deberta-v2", dict(share_att_key=False)),
    ("deberta-v2", dict(pos_att_type=["c2p"], share_att_key=False, norm_rel_ebd="none")),
    ("deberta-v2", dict(pos_att_type="p2c", position_buckets=-1, max_relative_positions=6)),
    ("deberta-v2", dict(relative_attention=False, position_biased_input=True, type_vocab_size=2, embedding_size=24)),
    ("deberta-v2", dict(pos_att_type=None)),
]


def _variant_id(v):
    family, overrides = v
    return family + "".join(f"-{k}={val}" for k, val in overrides.items())


@pytest.mark.parametrize("family", list(FAMILIES))
def test_config_defaults_and_names_match_transformers(tmp_path, family):
    import transformers

    stem, _ = FAMILIES[family]
    theirs = getattr(transformers, stem + "Config")().to_diff_dict()
    theirs.pop("transformers_version", None)
    ours = getattr(pybertcore, stem + "Config")().to_diff_dict()
    ours.pop("position_embedding_type", None)  # transformers 4's field, kept by our BertConfig
    assert ours == theirs
    # A config we save is the one transformers reads, and AutoConfig picks the class by model_type.
    config = getattr(pybertcore, stem + "Config")(num_labels=3)
    config.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == family
    assert type(pybertcore.AutoConfig.from_pretrained(tmp_path)).__name__ == stem + "Config"
    tf_config = transformers.AutoConfig.from_pretrained(tmp_path)
    assert type(tf_config).__name__ == stem + "Config"
    assert tf_config.id2label == config.id2label


def test_distilbert_config_aliases():
    config = pybertcore.DistilBertConfig(hidden_size=64, num_attention_heads=4, num_hidden_layers=3)
    assert (config.dim, config.n_heads, config.n_layers) == (64, 4, 3)
    assert (config.hidden_size, config.num_attention_heads, config.num_hidden_layers) == (64, 4, 3)
    config.hidden_size = 32
    assert config.dim == 32 and "hidden_size" not in config.to_dict()
    with pytest.raises(ValueError, match="dim: 30 is not a multiple of n_heads"):
        pybertcore.DistilBertConfig(dim=30, n_heads=4)


def test_unsupported_model_type_lists_supported_ones(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ValueError, match="gpt2") as err:
        pybertcore.AutoConfig.from_pretrained(tmp_path)
    for family in FAMILIES:
        assert family in str(err.value)
    with pytest.raises(ValueError, match="supported model types: albert, bert, camembert"):
        pybertcore.AutoModelForMaskedLM.from_pretrained(tmp_path)


@pytest.mark.parametrize("variant", VARIANTS, ids=_variant_id)
def test_base_model_matches_transformers(tmp_path, variant):
    family, overrides = variant
    tf_model = make_transformers_model(family, "Model", tmp_path / "tf", **overrides)
    model = pybertcore.AutoModel.from_pretrained(tmp_path / "tf")
    stem, _ = FAMILIES[family]
    assert type(model).__name__ == stem + "Model"

    inputs = ragged_inputs(family, tf_model.config.pad_token_id)
    if "type_vocab_size" in overrides:
        inputs.pop("token_type_ids")
    ours = model(**inputs, output_hidden_states=True, output_attentions=True)
    theirs = run_transformers(tf_model, inputs, output_hidden_states=True, output_attentions=True)
    mask = inputs["attention_mask"]
    assert type(ours).__name__ == OUTPUT_CLASS[family] == type(theirs).__name__
    assert list(ours.keys()) == [k for k in theirs.keys()]

    assert max_abs_on_mask(ours.last_hidden_state, to_numpy(theirs.last_hidden_state), mask) < TOL
    if "pooler_output" in theirs:
        assert np.abs(ours.pooler_output - to_numpy(theirs.pooler_output)).max() < TOL
    else:
        assert getattr(ours, "pooler_output", None) is None
    assert len(ours.hidden_states) == len(theirs.hidden_states)
    for layer, (a, b) in enumerate(zip(ours.hidden_states, theirs.hidden_states)):
        assert max_abs_on_mask(a, to_numpy(b), mask) < TOL, f"hidden state {layer}"
    assert len(ours.attentions) == len(theirs.attentions)
    for layer, (a, b) in enumerate(zip(ours.attentions, theirs.attentions)):
        b = to_numpy(b)
        for i, n in enumerate(mask.sum(axis=1)):  # real queries over real keys
            assert np.abs(a[i, :, :n, :n] - b[i, :, :n, :n]).max() < TOL, f"attention {layer}"

    tf_state = tf_model.state_dict()
    assert list(model.state_dict()) == list(tf_state)
    assert model.num_parameters() == tf_model.num_parameters()
    assert model.num_parameters(exclude_embeddings=True) == tf_model.num_parameters(exclude_embeddings=True)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_single_sequence_and_tuple_output(tmp_path, family):
    """T = 1, no mask, return_dict=False: the tuple holds the non-None fields in order."""
    tf_model = make_transformers_model(family, "Model", tmp_path / "tf")
    model = pybertcore.AutoModel.from_pretrained(tmp_path / "tf")
    ids = np.array([[7]])
    ours = model(ids, return_dict=False)
    theirs = run_transformers(tf_model, {"input_ids": ids}, return_dict=False)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert np.abs(a - to_numpy(b)).max() < TOL


@pytest.mark.parametrize("family", list(FAMILIES))
def test_saved_base_model_loads_in_transformers(tmp_path, family):
    import transformers

    make_transformers_model(family, "Model", tmp_path / "tf", seed=2)
    model = pybertcore.AutoModel.from_pretrained(tmp_path / "tf")
    model.save_pretrained(tmp_path / "ours")
    tf_model, info = transformers.AutoModel.from_pretrained(tmp_path / "ours", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    inputs = ragged_inputs(family, tf_model.config.pad_token_id, seed=5)
    ours = model(**inputs)
    theirs = run_transformers(tf_model.eval(), inputs)
    assert max_abs_on_mask(ours.last_hidden_state, to_numpy(theirs.last_hidden_state), inputs["attention_mask"]) < TOL


@pytest.mark.parametrize("family", list(FAMILIES))
def test_random_model_initialises_as_transformers(family):
    """A model built from a config: transformers' parameter names and shapes, LayerNorm at (1, 0),
    biases at zero, weights N(0, initializer_range), the padding row of the word embeddings zero."""
    import transformers

    stem, kwargs = FAMILIES[family]
    pybertcore.set_seed(0)
    model = getattr(pybertcore, stem + "Model")(getattr(pybertcore, stem + "Config")(**kwargs))
    tf_model = getattr(transformers, stem + "Model")(getattr(transformers, stem + "Config")(**kwargs))
    tf_state = tf_model.state_dict()
    assert {k: v.shape for k, v in model.state_dict().items()} == {k: tuple(v.shape) for k, v in tf_state.items()}
    word = model.state_dict()[f"{model.layout.word_embeddings}.weight"]
    tf_word = tf_state[f"{model.layout.word_embeddings}.weight"].numpy()
    # the padding row as transformers leaves it (zero, but ModernBERT's truncated normal redraws it),
    # the spread as transformers draws it
    assert np.all(word[model.config.pad_token_id] == 0) == np.all(tf_word[model.config.pad_token_id] == 0)
    assert abs(float(word.std()) - float(tf_word.std())) < 0.003
    for name, value in model.state_dict().items():  # every weight's spread and bound as transformers'
        theirs = tf_state[name].numpy()
        if value.ndim == 2 and value.size > 100:
            assert abs(float(value.std()) - float(theirs.std())) < 0.25 * float(theirs.std()), name
            assert float(np.abs(value).max()) <= 1.5 * float(np.abs(theirs).max()), name


def test_roberta_positions_start_after_padding_and_limit_length(tmp_path):
    """Positions come from input_ids (pad + 1, pad + 2, ...); a sequence needing a position past the
    table fails naming the limit."""
    tf_model = make_transformers_model("roberta", "Model", tmp_path / "tf", max_position_embeddings=12)
    model = pybertcore.AutoModel.from_pretrained(tmp_path / "tf")
    ids = np.array([[5, 6, 7, 8, 9, 10, 11, 12, 13, 14]])  # 10 tokens: positions 2..11, the last row
    theirs = run_transformers(tf_model, {"input_ids": ids})
    assert np.abs(model(ids).last_hidden_state - to_numpy(theirs.last_hidden_state)).max() < TOL
    with pytest.raises(ValueError, match="longest sequence this model takes is 10 tokens"):
        model(np.array([[5] * 11]))
    # Explicit position_ids win over the derived ones.
    positions = np.arange(10)[None, :]
    theirs = run_transformers(tf_model, {"input_ids": ids, "position_ids": positions})
    assert np.abs(model(ids, position_ids=positions).last_hidden_state - to_numpy(theirs.last_hidden_state)).max() < TOL


def test_distilbert_rejects_token_types(tmp_path):
    make_transformers_model("distilbert", "Model", tmp_path / "tf")
    model = pybertcore.AutoModel.from_pretrained(tmp_path / "tf")
    with pytest.raises(ValueError, match="token type"):
        model(np.array([[5, 6]]), token_type_ids=np.array([[0, 1]]))


def test_distilbert_sinusoidal_positions_from_config():
    """sinusoidal_pos_embds=True: a model built from the config has transformers' fixed table."""
    import transformers

    _, kwargs = FAMILIES["distilbert"]
    model = pybertcore.DistilBertModel(pybertcore.DistilBertConfig(sinusoidal_pos_embds=True, **kwargs))
    tf_model = transformers.DistilBertModel(transformers.DistilBertConfig(sinusoidal_pos_embds=True, **kwargs))
    key = "embeddings.position_embeddings.weight"
    np.testing.assert_allclose(model.state_dict()[key], to_numpy(tf_model.state_dict()[key]), atol=1e-7)
