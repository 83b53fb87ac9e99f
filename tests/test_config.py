"""BertConfig against transformers' BertConfig: fields, defaults, printing, JSON round trips, validation."""

from __future__ import annotations

import json

import pytest
import transformers

import pybertcore

# Keys where pybertcore's config differs from the installed transformers' on purpose: transformers writes
# its own version. (position_embedding_type, transformers 4's field, is gone from the defaults as in
# transformers 5; checkpoints that carry it keep it, and anything but "absolute" is refused.)
_OURS_ONLY: set = set()
_THEIRS_ONLY = {"transformers_version"}


def _strip(d: dict, keys: set) -> dict:
    return {k: v for k, v in d.items() if k not in keys}


def test_defaults_match_transformers():
    ours, theirs = pybertcore.BertConfig(), transformers.BertConfig()
    their_dict = _strip(theirs.to_dict(), _THEIRS_ONLY)
    our_dict = _strip(ours.to_dict(), _OURS_ONLY)
    for key, value in their_dict.items():
        assert key in our_dict, key
        if key == "dtype":
            continue
        assert our_dict[key] == value, key
    assert ours.vocab_size == 30522 and ours.hidden_size == 768 and ours.num_hidden_layers == 12
    assert ours.num_attention_heads == 12 and ours.intermediate_size == 3072 and ours.hidden_act == "gelu"
    assert ours.hidden_dropout_prob == 0.1 and ours.attention_probs_dropout_prob == 0.1
    assert ours.max_position_embeddings == 512 and ours.type_vocab_size == 2
    assert ours.initializer_range == 0.02 and ours.layer_norm_eps == 1e-12 and ours.pad_token_id == 0
    assert not hasattr(ours, "position_embedding_type")


def _printed_json(config) -> dict:
    text = repr(config)
    name, _, body = text.partition(" ")
    return name, json.loads(body)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"num_labels": 3}, {"hidden_size": 12, "num_attention_heads": 3, "foo": 1}, {"id2label": {0: "NEG", 1: "POS"}}],
)
def test_print_matches_transformers(kwargs):
    name, ours = _printed_json(pybertcore.BertConfig(**kwargs))
    their_name, theirs = _printed_json(transformers.BertConfig(**kwargs))
    assert name == their_name == "BertConfig"
    assert str(pybertcore.BertConfig(**kwargs)).startswith("BertConfig {\n")
    assert _strip(ours, _OURS_ONLY | {"label2id"}) == _strip(theirs, _THEIRS_ONLY | {"label2id"})


def test_overrides_unknown_keys_and_round_trip(tmp_path):
    config = pybertcore.BertConfig(hidden_size=48, num_attention_heads=4, custom_field={"a": [1, 2]}, num_labels=4)
    assert config.custom_field == {"a": [1, 2]}
    assert config.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2", 3: "LABEL_3"}
    config.save_pretrained(tmp_path)
    written = json.loads((tmp_path / "config.json").read_text())
    assert written["custom_field"] == {"a": [1, 2]} and written["model_type"] == "bert"
    assert written["id2label"]["3"] == "LABEL_3"
    loaded = pybertcore.BertConfig.from_pretrained(tmp_path)
    assert loaded.to_dict() == {**config.to_dict(), "_name_or_path": str(tmp_path)}
    assert all(isinstance(k, int) for k in loaded.id2label)
    assert pybertcore.BertConfig.from_json_file(tmp_path / "config.json").hidden_size == 48
    assert pybertcore.BertConfig.from_dict(written, hidden_size=96).hidden_size == 96
    assert json.loads(config.to_json_string())["custom_field"] == {"a": [1, 2]}
    # transformers reads what we write.
    theirs = transformers.BertConfig.from_pretrained(tmp_path)
    assert theirs.hidden_size == 48 and theirs.num_labels == 4 and theirs.custom_field == {"a": [1, 2]}
    # ... and we read what transformers writes.
    transformers.BertConfig(hidden_size=60, num_attention_heads=5, hidden_act="gelu_new").save_pretrained(tmp_path / "t")
    ours = pybertcore.AutoConfig.from_pretrained(tmp_path / "t")
    assert isinstance(ours, pybertcore.BertConfig) and ours.hidden_size == 60 and ours.hidden_act == "gelu_new"


def test_num_labels_setter_and_torch_dtype():
    config = pybertcore.BertConfig()
    config.num_labels = 5
    assert config.num_labels == 5 and config.label2id["LABEL_4"] == 4
    assert pybertcore.BertConfig(torch_dtype="float16").dtype == "float16"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"hidden_size": 100, "num_attention_heads": 3}, "hidden_size"),
        ({"hidden_act": "gelu_10"}, "hidden_act"),
        ({"hidden_act": "mish"}, "hidden_act"),
        ({"position_embedding_type": "relative_key"}, "position_embedding_type"),
        ({"is_decoder": True}, "is_decoder"),
        ({"add_cross_attention": True}, "add_cross_attention"),
        ({"num_hidden_layers": 0}, "num_hidden_layers"),
        ({"vocab_size": -3}, "vocab_size"),
        ({"layer_norm_eps": 0}, "layer_norm_eps"),
    ],
)
def test_invalid_values_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        pybertcore.BertConfig(**kwargs)


def test_auto_config_unknown_model_type(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ValueError, match="gpt2.*supported model types: .*bert"):
        pybertcore.AutoConfig.from_pretrained(tmp_path)


def test_num_labels_overrides_saved_labels(tmp_path, caplog):
    """As in transformers: num_labels wins over a saved id2label of another length, with a warning."""
    pybertcore.BertConfig(id2label={i: f"L{i}" for i in range(8)}).save_pretrained(tmp_path)
    with caplog.at_level("WARNING", logger="pybertcore"):
        config = pybertcore.BertConfig.from_pretrained(tmp_path, num_labels=3)
    assert config.num_labels == 3 and config.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    assert "You passed `num_labels=3` which is incompatible to the `id2label` map of length `8`." in caplog.text
    assert transformers.BertConfig.from_pretrained(tmp_path, num_labels=3).id2label == config.id2label


def test_name_or_path_is_where_it_was_loaded_from(minilm_dir):
    """MiniLM's config.json carries another _name_or_path; like transformers, the loaded path wins."""
    assert pybertcore.AutoConfig.from_pretrained(minilm_dir).name_or_path == str(minilm_dir)
    assert pybertcore.AutoModel.from_pretrained(minilm_dir).config.name_or_path == str(minilm_dir)
