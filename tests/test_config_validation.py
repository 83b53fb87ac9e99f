"""config.json from a stranger: fields of the wrong type, sizes the core cannot index, models too big to build.

The audit's findings each have a test here: raw AttributeError/TypeError from id2label, label2id,
num_labels, model_type and initializer_range; pad_token_id="int8" accepted; configs whose models
(hidden_size=24576, num_hidden_layers=10**9, num_labels=10**9, vocab_size=10**12, ALBERT
inner_group_num=2**64) hung or ate memory for minutes. Errors are ValueError (MemoryError for what
cannot fit) naming the field, expected vs found, and the file when the config came from one.
"""

from __future__ import annotations

import inspect
import json

import time

import pytest

import pybertcore
from pybertcore import AlbertConfig, AutoConfig, BertConfig, BertModel
from pybertcore.models.auto import auto_factory
from pybertcore.models.config_checks import check_model_size, parameter_counts

TINY = dict(vocab_size=20, hidden_size=8, num_attention_heads=2, intermediate_size=12, num_hidden_layers=2,
            max_position_embeddings=16)


def load(tmp_path, config: dict):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path, lambda: AutoConfig.from_pretrained(tmp_path)


@pytest.mark.parametrize("fields, error, message", [
    # AttributeError: 'list' object has no attribute 'items'
    ({"id2label": ["a", "b"]}, ValueError, "id2label: expected an object of label id → name, found a list of 2 items"),
    ({"id2label": {"a": "b"}}, ValueError, "id2label: label ids must be integers, found 'a'"),
    ({"id2label": {"0": ["x"]}}, ValueError, "id2label: label names must be strings, found a list of 1 items"),
    # AttributeError / TypeError from label2id
    ({"label2id": [1]}, ValueError, "label2id: expected an object of label name → id, found a list of 1 items"),
    ({"label2id": {"a": [1]}}, ValueError, "label2id: label ids must be integers, found a list of 1 items"),
    # TypeError: 'str' object cannot be interpreted as an integer
    ({"num_labels": "3"}, ValueError, "num_labels: expected a non-negative integer (at most 2147483647), found '3'"),
    ({"num_labels": -1}, ValueError, "num_labels: expected a non-negative integer"),
    # TypeError from numpy's normal(scale="x") when the model was built
    ({"initializer_range": "x"}, ValueError, "initializer_range: expected a number, found 'x'"),
    ({"initializer_range": -0.5}, ValueError, "initializer_range: expected a finite non-negative number, found -0.5"),
    # accepted before, as transformers' strict config refuses it
    ({"pad_token_id": "int8"}, ValueError, "pad_token_id: expected null or a token id (an integer), or a list of them, "
                                           "found 'int8'"),
    ({"hidden_size": "768"}, ValueError, "hidden_size: expected an integer, found '768'"),
    ({"hidden_size": 2**40}, ValueError, "hidden_size: expected a positive integer (at most 2147483647, the core's int)"),
    ({"layer_norm_eps": 1e400}, ValueError, "layer_norm_eps: expected a number, found inf"),
    ({"tie_word_embeddings": 1}, ValueError, "tie_word_embeddings: expected true or false, found 1"),
    ({"architectures": "BertModel"}, ValueError, "architectures: expected null or a list of class names"),
    ({"position_embedding_type": ["absolute"]}, ValueError, "position_embedding_type: a list of 1 items is not implemented"),
    ({"validate": 3}, ValueError, "'validate' is not a config field: it names a BertConfig attribute"),
    ({"use_return_dict": False}, ValueError, "'use_return_dict' is not a config field"),
])
def test_wrong_field_types_name_the_file_and_field(tmp_path, fields, error, message):
    path, from_file = load(tmp_path, {"model_type": "bert", **TINY, **fields})
    with pytest.raises(error) as e:
        from_file()
    assert str(path) in str(e.value) and message in str(e.value), str(e.value)


@pytest.mark.parametrize("model_type", [["bert"], {"a": 1}, 3, None])
def test_model_type_of_any_json_type(tmp_path, model_type):
    """Audit: a list model_type raised TypeError (unhashable) in the family lookup."""
    path, from_file = load(tmp_path, {"model_type": model_type})
    with pytest.raises(ValueError, match="is not supported by pybertcore; supported model types: albert") as e:
        from_file()
    assert str(path) in str(e.value)


def test_deep_nesting_in_config_json(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"model_type": "bert", "x": ' + "[" * 200 + "]" * 200 + "}")
    with pytest.raises(ValueError) as e:
        AutoConfig.from_pretrained(tmp_path)
    assert f"config file {path} is nested deeper than 100 levels" in str(e.value)


def test_wrong_types_in_code_too():
    with pytest.raises(ValueError, match="BertConfig: pad_token_id: expected null or a token id"):
        BertConfig(pad_token_id="int8")
    with pytest.raises(ValueError, match="num_labels: expected a non-negative integer"):
        BertConfig().num_labels = "many"


# --- sizes -------------------------------------------------------------------------------------------------

def test_num_labels_too_many_for_memory(tmp_path):
    """Audit: num_labels=10**9 built a billion-entry id2label for minutes; the config itself makes that
    map (in transformers too), so the config refuses it, naming the field and the bytes."""
    path, from_file = load(tmp_path, {"model_type": "bert", **TINY, "num_labels": 10**9})
    with pytest.raises(MemoryError) as e:
        from_file()
    assert str(path) in str(e.value)
    assert "num_labels=1000000000 (the id2label and label2id maps) needs 745.1 GiB, more than" in str(e.value)


def test_vocab_size_past_int32(tmp_path):
    path, from_file = load(tmp_path, {"model_type": "bert", "vocab_size": 10**12})
    with pytest.raises(ValueError) as e:
        from_file()
    assert f"{path}: BertConfig: vocab_size: expected a positive integer (at most 2147483647, the core's int), " \
           "found 1000000000000" in str(e.value)


def test_albert_inner_group_num_past_int32(tmp_path):
    """Audit: ALBERT inner_group_num=2**64 hung building a 2**64-entry layer map."""
    path, from_file = load(tmp_path, {"model_type": "albert", "inner_group_num": 2**64})
    with pytest.raises(ValueError) as e:
        from_file()
    assert str(path) in str(e.value)
    assert "inner_group_num: expected a positive integer (at most 2147483647, the core's int), found " \
           "18446744073709551616" in str(e.value)


def test_albert_layers_run_past_the_cap():
    config = AlbertConfig(num_hidden_layers=2**10, inner_group_num=2**7, hidden_size=8, num_attention_heads=2,
                          intermediate_size=8, embedding_size=4)
    with pytest.raises(ValueError, match=r"num_hidden_layers=1024 × inner_group_num=128 layers = 131072: "
                                         r"pybertcore runs at most 65536 layers"):
        check_model_size(config, pybertcore.AlbertModel)


def test_albert_a_billion_shared_layers_fail_at_once():
    """One weight set run 10**9 times fits in memory but took minutes to map out: refused by name, at once."""
    config = AlbertConfig(num_hidden_layers=10**9, hidden_size=8, num_attention_heads=2, intermediate_size=8,
                          embedding_size=4)
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"AlbertConfig: num_hidden_layers=1000000000 layers = 1000000000: "
                                         r"pybertcore runs at most 65536 layers"):
        pybertcore.AlbertModel(config)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("fields, model, dominant", [
    # hung for minutes drawing 32 billion random weights
    ({"hidden_size": 24576}, "BertModel",
     "mostly num_hidden_layers=12 layers of 4 × hidden_size=24576² + 2 × hidden_size=24576 × intermediate_size=3072 "
     "(the encoder layers), needs 119.9 GiB"),
    ({"num_hidden_layers": 10**9}, "BertModel", "mostly num_hidden_layers=1000000000 layers of 4 × hidden_size=768²"),
    # numpy's "Unable to allocate 1.36 PiB", naming no field (10**12 is past the core's int32: a ValueError)
    ({"vocab_size": 2**31 - 1}, "BertModel", "mostly vocab_size=2147483647 × hidden_size=768 (the word embeddings), "
                                             "needs 6.0 TiB"),
    ({"num_labels": 10**6, "hidden_size": 2**15, "num_attention_heads": 16, "num_hidden_layers": 1,
      "intermediate_size": 1}, "BertForTokenClassification",
     "mostly num_labels=1000000 × hidden_size=32768 (the head's classifier)"),
])
def test_models_too_big_fail_before_allocating(fields, model, dominant):
    """A config may describe a model of any size (transformers lets you build one); the model's construction
    fails at once, naming the field that dominates."""
    config = BertConfig(**fields)
    with pytest.raises(MemoryError) as e:
        check_model_size(config, getattr(pybertcore, model))
    assert str(e.value).startswith(f"{model}(BertConfig): float32 storage for ")
    assert dominant in str(e.value) and "this process can still allocate" in str(e.value), str(e.value)


def test_model_construction_calls_the_size_check():
    """BertModel(config) and from_pretrained fail before numpy allocates: the check runs in
    PreTrainedModel.__init__ (modeling_utils.py), which both go through."""
    import pybertcore.modeling_utils as modeling_utils

    if "check_model_size" not in inspect.getsource(modeling_utils.PreTrainedModel.__init__):
        pytest.skip("PreTrainedModel.__init__ does not call check_model_size yet (the lead's one-line change)")
    with pytest.raises(MemoryError, match="vocab_size=2147483647 × hidden_size=768"):
        BertModel(BertConfig(vocab_size=2**31 - 1))


def _family_configs():
    small = dict(vocab_size=23, max_position_embeddings=19, num_attention_heads=2, intermediate_size=13,
                 num_hidden_layers=2)
    return {
        "bert": pybertcore.BertConfig(**small, hidden_size=10),
        "roberta": pybertcore.RobertaConfig(**small, hidden_size=10),
        "xlm-roberta": pybertcore.XLMRobertaConfig(**small, hidden_size=10),
        "camembert": pybertcore.CamembertConfig(**small, hidden_size=10),
        "electra": pybertcore.ElectraConfig(**small, hidden_size=10, embedding_size=6, tie_word_embeddings=False),
        "albert": pybertcore.AlbertConfig(**small, hidden_size=10, embedding_size=6, num_hidden_groups=2,
                                          inner_group_num=2),
        "distilbert": pybertcore.DistilBertConfig(vocab_size=23, max_position_embeddings=19, dim=10, n_heads=2,
                                                  hidden_dim=13, n_layers=2),
    }


MAPPINGS = (auto_factory.MODEL_MAPPING, auto_factory.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING,
            auto_factory.MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING, auto_factory.MODEL_FOR_QUESTION_ANSWERING_MAPPING,
            auto_factory.MODEL_FOR_MASKED_LM_MAPPING, auto_factory.MODEL_FOR_MULTIPLE_CHOICE_MAPPING)


@pytest.mark.parametrize("family", list(_family_configs()))
def test_parameter_counts_are_exact(family):
    """The size check counts exactly what each model allocates, for every family and head."""
    config = _family_configs()[family]
    for mapping in MAPPINGS:
        model_class = mapping[family]
        expected = model_class(config).num_parameters()
        assert sum(n for n, _ in parameter_counts(config, model_class)) == expected, model_class.__name__


def test_big_configs_are_valid_objects():
    """As in transformers, a config is only a description: building one never allocates its model."""
    config = BertConfig(vocab_size=2**31 - 1, hidden_size=2**30, num_attention_heads=2**10)
    assert json.loads(config.to_json_string())["vocab_size"] == 2**31 - 1
