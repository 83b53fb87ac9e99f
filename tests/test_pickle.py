"""Pickling as a recipe (pybertcore/recipes.py): every model class, the tokenizers, SentenceEncoder and the
pipelines round-trip to the same outputs, bit for bit; what changed since loading travels; the weights
never do; a model built in memory says why it cannot be pickled."""

from __future__ import annotations

import copy
import json
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest

import pybertcore
from conftest import child_env
from family_models import CLASS_PAIRS, FAMILIES, choice_inputs, ragged_inputs

TEXTS = ["A man is eating food.", "x", "The new movie is awesome, but the popcorn was stale and far too salty.",
         "Ein Mann isst.", ""]


def pybertcore_class(family: str, suffix: str):
    stem, kwargs = FAMILIES[family]
    return getattr(pybertcore, stem + suffix), getattr(pybertcore, stem + "Config")(**kwargs)


def outputs(model, family: str, suffix: str) -> dict:
    inputs = ragged_inputs(family, model.config.pad_token_id or 0)
    if suffix == "ForMultipleChoice":
        inputs = choice_inputs(inputs)
    out = model(**inputs)
    return {key: np.asarray(value) for key, value in out.items() if value is not None}


def assert_same_outputs(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def weight_bytes(model) -> int:
    return sum(int(np.asarray(v).nbytes) for v in model.state_dict().values())


@pytest.mark.parametrize("family,suffix", CLASS_PAIRS)
def test_every_model_class_round_trips(tmp_path, family, suffix):
    cls, config = pybertcore_class(family, suffix)
    cls(config).save_pretrained(tmp_path)
    model = cls.from_pretrained(tmp_path)
    blob = pickle.dumps(model)
    assert len(blob) < weight_bytes(model) / 10  # a recipe, not the weights
    back = pickle.loads(blob)
    assert type(back) is cls and back.config == model.config
    assert_same_outputs(outputs(model, family, suffix), outputs(back, family, suffix))


def test_model_built_in_memory_says_it_has_no_source():
    cls, config = pybertcore_class("bert", "ForSequenceClassification")
    with pytest.raises(pickle.PicklingError, match="built in memory.*save_pretrained"):
        pickle.dumps(cls(config))


def test_deepcopy_of_a_model_built_in_memory_copies_its_state():
    cls, config = pybertcore_class("bert", "Model")
    model = cls(config, add_pooling_layer=False)
    twin = copy.deepcopy(model)
    assert twin.add_pooling_layer is False and twin.state_dict().keys() == model.state_dict().keys()
    assert_same_outputs(outputs(model, "bert", "Model"), outputs(twin, "bert", "Model"))
    model.get_submodule("embeddings.word_embeddings").weight = np.zeros((101, 60), np.float32)
    assert not np.array_equal(model(**ragged_inputs("bert", 0)).last_hidden_state,
                              twin(**ragged_inputs("bert", 0)).last_hidden_state)


def test_state_changed_since_loading_travels(tmp_path):
    cls, config = pybertcore_class("bert", "ForSequenceClassification")
    cls(config).save_pretrained(tmp_path)
    # a config override, and a head drawn at random (its saved size differs)
    model = cls.from_pretrained(tmp_path, num_labels=3, ignore_mismatched_sizes=True)
    rng = np.random.default_rng(1)
    model.classifier.weight = rng.normal(size=(3, 60)).astype(np.float32)
    model.get_submodule("bert.encoder.layer.1.output.dense").bias = rng.normal(size=60).astype(np.float32)
    model.config.id2label = {0: "neg", 1: "mid", 2: "pos"}
    model.to("int8")
    back = pickle.loads(pickle.dumps(model))
    assert back.dtype == "int8" and back.config.id2label == {0: "neg", 1: "mid", 2: "pos"}
    assert_same_outputs(outputs(model, "bert", "ForSequenceClassification"),
                        outputs(back, "bert", "ForSequenceClassification"))
    again = pickle.loads(pickle.dumps(back))  # what changed is still known after a round trip
    assert_same_outputs(outputs(model, "bert", "ForSequenceClassification"),
                        outputs(again, "bert", "ForSequenceClassification"))
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, again.state_dict()[name], err_msg=name)


def test_head_drawn_at_load_is_not_drawn_again(tmp_path):
    base, config = pybertcore_class("bert", "Model")
    base(config).save_pretrained(tmp_path)
    model = pybertcore.BertForTokenClassification.from_pretrained(tmp_path)
    back = pickle.loads(pickle.dumps(model))
    assert_same_outputs(outputs(model, "bert", "ForTokenClassification"),
                        outputs(back, "bert", "ForTokenClassification"))


def test_recipe_holds_an_absolute_source_and_never_the_token(tmp_path, monkeypatch):
    cls, config = pybertcore_class("bert", "Model")
    cls(config).save_pretrained(tmp_path / "m")
    monkeypatch.chdir(tmp_path)
    model = cls.from_pretrained("m", token="hf_secret_value")
    blob = pickle.dumps(model)
    assert b"hf_secret_value" not in blob
    monkeypatch.chdir(tmp_path.parent)
    assert_same_outputs(outputs(model, "bert", "Model"), outputs(pickle.loads(blob), "bert", "Model"))


# ---------------------------------------------------------------------------------------------- tokenizers
def test_tokenizer_round_trips_as_a_recipe(minilm_dir):
    tokenizer = pybertcore.AutoTokenizer.from_pretrained(minilm_dir)
    tokenizer.padding_side = "left"
    blob = pickle.dumps(tokenizer)
    assert len(blob) < 10_000  # the vocabulary stays in the folder
    back = pickle.loads(blob)
    assert type(back) is type(tokenizer) and back.padding_side == "left"
    ours, theirs = tokenizer(TEXTS, padding=True), back(TEXTS, padding=True)
    assert dict(ours) == dict(theirs)


def test_vocab_txt_tokenizer_round_trips(minilm_dir, tmp_path):
    for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(minilm_dir / name, tmp_path / name)
    tokenizer = pybertcore.AutoTokenizer.from_pretrained(tmp_path)
    back = pickle.loads(pickle.dumps(tokenizer))
    assert dict(tokenizer(TEXTS)) == dict(back(TEXTS))


def test_changed_tokenizer_travels_whole(minilm_dir):
    tokenizer = pybertcore.AutoTokenizer.from_pretrained(minilm_dir)
    tokenizer.backend_tokenizer.add_tokens(["zzyzxqq"])
    back = pickle.loads(pickle.dumps(tokenizer))
    assert back.tokenize("zzyzxqq road") == tokenizer.tokenize("zzyzxqq road") == ["zzyzxqq", "road"]


def test_tokenizer_whose_files_changed_is_refused_by_name(minilm_dir, tmp_path):
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        shutil.copy(minilm_dir / name, tmp_path / name)
    tokenizer = pybertcore.AutoTokenizer.from_pretrained(tmp_path)
    blob = pickle.dumps(tokenizer)
    data = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))
    data["model"]["vocab"]["zzyzxqq"] = len(data["model"]["vocab"])
    (tmp_path / "tokenizer.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(pickle.UnpicklingError, match=f"{tmp_path}.*differ"):
        pickle.loads(blob)


# ---------------------------------------------------------------------------------------------- composites
def test_sentence_encoder_round_trips_across_processes(minilm_dir, tmp_path):
    encoder = pybertcore.SentenceEncoder.from_pretrained(minilm_dir)
    expected = encoder.encode(TEXTS)
    (tmp_path / "encoder.pkl").write_bytes(pickle.dumps(encoder))
    script = ("import pickle, numpy as np; e = pickle.load(open('encoder.pkl', 'rb')); "
              f"np.save('out.npy', e.encode({TEXTS!r}))")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=child_env(), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), expected)


def test_sentence_encoder_with_dense_round_trips(minilm_dir, tmp_path):
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules.dense import Dense

    base = SentenceTransformer(str(minilm_dir), device="cpu")
    torch.manual_seed(0)
    SentenceTransformer(modules=[base[0], base[1], Dense(in_features=384, out_features=16), base[2]],
                        device="cpu").save(str(tmp_path))
    encoder = pybertcore.SentenceEncoder.from_pretrained(tmp_path, model_kwargs={"dtype": "bfloat16"})
    encoder.max_seq_length = 8
    blob = pickle.dumps(encoder)
    assert len(blob) < 20_000
    back = pickle.loads(blob)
    assert back.max_seq_length == 8 and back.model.dtype == "bfloat16"
    np.testing.assert_array_equal(back.encode(TEXTS), encoder.encode(TEXTS))
    with pytest.raises(ValueError, match="read-only"):
        encoder.dense[0].weight[0, 0] = 1.0  # changes come as new arrays, which travel
    encoder.dense[0].weight = np.ones((16, 384), np.float32)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(encoder)).encode(TEXTS), encoder.encode(TEXTS))


@pytest.mark.parametrize("task, suffix, call", [
    ("feature-extraction", "Model", lambda p: p(TEXTS[:3])),
    ("text-classification", "ForSequenceClassification", lambda p: p(TEXTS, top_k=None)),
    ("token-classification", "ForTokenClassification", lambda p: p(TEXTS[:3])),
    ("fill-mask", "ForMaskedLM", lambda p: p(["Paris is the [MASK] of France."])),
    ("question-answering", "ForQuestionAnswering",
     lambda p: p(question="Who eats?", context="A man is eating food.")),
])
def test_pipelines_round_trip(minilm_dir, tmp_path, task, suffix, call):
    model = getattr(pybertcore, "Bert" + suffix).from_pretrained(minilm_dir)
    pipe = pybertcore.pipeline(task, model=model, tokenizer=pybertcore.AutoTokenizer.from_pretrained(minilm_dir))
    back = pickle.loads(pickle.dumps(pipe))
    assert type(back) is type(pipe)
    ours, theirs = call(pipe), call(back)
    assert json.dumps(ours, default=lambda a: np.asarray(a).tolist()) == \
        json.dumps(theirs, default=lambda a: np.asarray(a).tolist())


def test_a_closure_over_an_encoder_ships_as_its_recipe(minilm_dir):
    """What Ray, Spark and Dask do with a function that uses a model: cloudpickle it (Ray's copy here)."""
    from ray import cloudpickle

    encoder = pybertcore.SentenceEncoder.from_pretrained(minilm_dir)

    def embed(texts):
        return encoder.encode(texts, normalize_embeddings=True)

    blob = cloudpickle.dumps(embed)
    assert len(blob) < 20_000
    np.testing.assert_array_equal(cloudpickle.loads(blob)(TEXTS), embed(TEXTS))
