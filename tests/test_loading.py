"""loading.match_state_dict (pure: names and shapes in, a LoadReport out) and parse_loading_arguments."""

from __future__ import annotations

import numpy as np
import pytest

from pybertcore.loading import match_state_dict, parse_loading_arguments

SHAPES = {"bert.embeddings.word_embeddings.weight": (5, 2), "bert.embeddings.LayerNorm.weight": (2,),
          "classifier.weight": (3, 2), "cls.predictions.bias": (5,)}
ORDER = list(SHAPES)[:3] + ["cls.predictions.bias", "cls.predictions.decoder.weight", "cls.predictions.decoder.bias"]
TIED = {"cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.predictions.bias"}


def z(*shape):
    return np.zeros(shape, dtype=np.float32)


def test_a_bare_checkpoint_loads_under_the_prefix_and_reports_in_its_own_names():
    report = match_state_dict({"embeddings.word_embeddings.weight": z(5, 2), "embeddings.LayerNorm.gamma": z(2),
                               "pooler.dense.weight": z(2, 2)}, SHAPES, ORDER, TIED, "bert")
    assert set(report.values) == {"bert.embeddings.word_embeddings.weight", "bert.embeddings.LayerNorm.weight"}
    assert report.unexpected == ["pooler.dense.weight"]  # the checkpoint's spelling, as transformers reports it
    # a missing source takes its tied names with it, in state_dict order
    assert report.missing == ["classifier.weight", "cls.predictions.bias", "cls.predictions.decoder.bias"]


def test_a_head_checkpoint_loads_into_the_bare_model_and_tied_copies_stand_in():
    shapes = {"embeddings.word_embeddings.weight": (5, 2)}
    report = match_state_dict({"bert.embeddings.word_embeddings.weight": z(5, 2), "bert.position_ids": z(1),
                               "classifier.weight": z(3, 2)}, shapes, list(shapes), {}, "bert", (r"position_ids$",))
    assert list(report.values) == ["embeddings.word_embeddings.weight"] and report.unexpected == ["classifier.weight"]
    only_copy = match_state_dict({"bert.embeddings.LayerNorm.weight": z(2), "cls.predictions.decoder.bias": z(5)},
                                 SHAPES, ORDER, TIED, "bert")
    assert "cls.predictions.bias" in only_copy.values  # the tied copy stands in for its absent source


def test_shapes_that_differ_are_mismatched_not_loaded():
    report = match_state_dict({"bert.embeddings.LayerNorm.weight": z(2), "classifier.weight": z(4, 2)}, SHAPES, ORDER,
                              TIED, "bert")
    assert report.mismatched == [("classifier.weight", (4, 2), (3, 2))] and "classifier.weight" not in report.values
    assert report.as_loading_info()["mismatched_keys"] == report.mismatched


def test_loading_arguments_are_sorted_once():
    args = parse_loading_arguments({"num_labels": 3, "cache_dir": "/c", "add_pooling_layer": False,
                                    "output_loading_info": True, "low_cpu_mem_usage": True, "device_map": "cpu"},
                                   ("add_pooling_layer",))
    assert args.config_overrides == {"num_labels": 3} and args.hub == {"cache_dir": "/c"}
    assert args.init == {"add_pooling_layer": False} and args.options == {"output_loading_info": True}
    with pytest.raises(NotImplementedError, match="CPU only"):
        parse_loading_arguments({"device_map": "cuda:0"})
    with pytest.raises(ValueError, match="attn_implementation"):
        parse_loading_arguments({"attn_implementation": "magic"})
