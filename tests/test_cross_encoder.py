"""CrossEncoder against sentence-transformers' CrossEncoder (the oracle) on small random sequence-classification
checkpoints made here with transformers (BERT and RoBERTa, one label and three; DeBERTa-v3's layout, as
mxbai-rerank and the NLI cross-encoders have it), plain and as saved by sentence-transformers.

Also sentence-transformers' older calling forms (positional and renamed arguments), its extra arguments and
attributes, and ``save`` folders that it loads back to the same scores.

Tolerance: scores within 1e-4 (the core matches transformers' logits within 1e-4; sigmoid and softmax only
shrink differences); ``rank`` gives the same order (the scores of the test documents are well apart, checked).
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from pybertcore import CrossEncoder

QUERY = "How many people live in Berlin?"
DOCUMENTS = [
    "Berlin had a population of 3,520,031 registered inhabitants in an area of 891.82 square kilometers.",
    "Berlin is well known for its museums.",
    "In 2014, the city state Berlin had 37,368 live births (+6.6%), a record number since 1991.",
    "The urban area of Berlin comprised about 4.1 million people in 2014, making it the seventh most populous "
    "urban area in the European Union.",
    "Paris is the capital of France.",
    "",
    "word " * 200,  # longer than the model's positions: truncated as a pair (longest_first)
]
PAIRS = [[QUERY, d] for d in DOCUMENTS] + [["A man is eating food.", "A man is eating pasta."],
                                            ["Crème brûlée à l'hôtel", "北京欢迎你"], ["", ""]]


def make_checkpoint(folder, minilm_dir, num_labels, family="bert", seed=0):
    import torch
    from transformers import (BertConfig, BertForSequenceClassification, BertTokenizerFast, DebertaV2Config,
                              DebertaV2ForSequenceClassification, RobertaConfig, RobertaForSequenceClassification)

    tokenizer = BertTokenizerFast.from_pretrained(minilm_dir)
    torch.manual_seed(seed)
    sizes = dict(vocab_size=tokenizer.vocab_size, hidden_size=36, num_hidden_layers=2, num_attention_heads=3,
                 intermediate_size=50, num_labels=num_labels, max_position_embeddings=72,
                 initializer_range=0.1)  # wider than the default 0.02: scores far enough apart to rank
    if family == "bert":
        model = BertForSequenceClassification(BertConfig(**sizes))
    elif family == "deberta-v2":  # no token types: the pairs' token_type_ids are ignored, as transformers does
        model = DebertaV2ForSequenceClassification(DebertaV2Config(
            **sizes, relative_attention=True, position_buckets=16, pos_att_type="p2c|c2p", share_att_key=True,
            norm_rel_ebd="layer_norm", position_biased_input=False, type_vocab_size=0))
    else:
        # type_vocab_size 2: the BERT tokenizer gives pairs token types 0 and 1
        model = RobertaForSequenceClassification(RobertaConfig(**sizes, pad_token_id=0, type_vocab_size=2))
    with torch.no_grad():  # a random init gives near-equal logits; spread them so the order is meaningful
        head = model.classifier.out_proj if family == "roberta" else model.classifier
        head.weight.mul_(20)
    model.eval().save_pretrained(folder)
    tokenizer.model_max_length = 64  # within RoBERTa's positions after its offset, so both libraries cut at 64
    tokenizer.save_pretrained(folder)
    return folder


def reference(folder, **kwargs):
    from sentence_transformers import CrossEncoder as Reference

    return Reference(str(folder), device="cpu", **kwargs)


@pytest.fixture(scope="module")
def checkpoints(minilm_dir, tmp_path_factory):
    out = {}
    for family in ("bert", "roberta", "deberta-v2"):
        for labels in (1, 3):
            out[family, labels] = make_checkpoint(tmp_path_factory.mktemp(f"{family}{labels}"), minilm_dir, labels,
                                                  family)
    return out


@pytest.mark.parametrize("family", ["bert", "roberta", "deberta-v2"])
@pytest.mark.parametrize("num_labels", [1, 3])
def test_predict_matches_sentence_transformers(checkpoints, family, num_labels):
    folder = checkpoints[family, num_labels]
    ours, theirs = CrossEncoder(folder), reference(folder)
    assert ours.num_labels == theirs.num_labels == num_labels
    assert ours.max_seq_length == theirs.max_seq_length
    for kwargs in ({}, {"apply_softmax": True}, {"batch_size": 3}):
        a, b = ours.predict(PAIRS, **kwargs), theirs.predict(PAIRS, **kwargs)
        assert a.dtype == b.dtype == np.float32 and a.shape == b.shape
        assert a.shape == ((len(PAIRS),) if num_labels == 1 else (len(PAIRS), num_labels))
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=0)
    single_ours, single_theirs = ours.predict(PAIRS[0]), theirs.predict(PAIRS[0])
    np.testing.assert_allclose(single_ours, single_theirs, atol=1e-4, rtol=0)
    assert np.shape(single_ours) == np.shape(single_theirs)


def test_activations_as_sentence_transformers(checkpoints):
    import torch

    folder = checkpoints["bert", 1]
    ours, theirs = CrossEncoder(folder), reference(folder)
    assert repr(ours.activation_fn) == "Sigmoid()"
    for fn in (torch.nn.Identity(), torch.nn.Tanh(), torch.nn.Sigmoid(), torch.nn.ReLU(), lambda x: x * 2):
        np.testing.assert_allclose(ours.predict(PAIRS, activation_fn=fn), theirs.predict(PAIRS, activation_fn=fn),
                                   atol=1e-4, rtol=0)
    for kwargs in ({"activation_fn": torch.nn.Identity()}, {"default_activation_function": torch.nn.Tanh()}):
        np.testing.assert_allclose(CrossEncoder(folder, **kwargs).predict(PAIRS),
                                   reference(folder, **kwargs).predict(PAIRS), atol=1e-4, rtol=0)
    three = checkpoints["bert", 3]
    assert repr(CrossEncoder(three).activation_fn) == "Identity()"
    np.testing.assert_allclose(CrossEncoder(three).predict(PAIRS, activation_fn=torch.nn.Sigmoid(), apply_softmax=True),
                               reference(three).predict(PAIRS, activation_fn=torch.nn.Sigmoid(), apply_softmax=True),
                               atol=1e-4, rtol=0)


def test_saved_by_sentence_transformers(checkpoints, tmp_path):
    import torch

    saved = tmp_path / "saved"
    reference(checkpoints["bert", 1], activation_fn=torch.nn.Tanh(), max_length=40).save(str(saved))
    ours, theirs = CrossEncoder(saved), reference(saved)
    assert repr(ours.activation_fn) == "Tanh()"
    from_modules = CrossEncoder(modules=[theirs[0]], activation_fn=torch.nn.Tanh())  # saved by it, then loaded
    np.testing.assert_allclose(from_modules.predict(PAIRS), theirs.predict(PAIRS), atol=1e-4, rtol=0)
    assert ours.max_seq_length == theirs.max_seq_length
    np.testing.assert_allclose(ours.predict(PAIRS), theirs.predict(PAIRS), atol=1e-4, rtol=0)


def test_activation_named_in_config_json(checkpoints, tmp_path, caplog):
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(checkpoints["bert", 1], folder)
    config = json.loads((folder / "config.json").read_text())
    config["sentence_transformers"] = {"activation_fn": "torch.nn.modules.linear.Identity"}
    (folder / "config.json").write_text(json.dumps(config))
    ours, theirs = CrossEncoder(folder), reference(folder)
    assert repr(ours.activation_fn) == "Identity()"
    np.testing.assert_allclose(ours.predict(PAIRS), theirs.predict(PAIRS), atol=1e-4, rtol=0)
    config["sentence_transformers"] = {"activation_fn": "torch.nn.modules.activation.Hardswish"}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(NotImplementedError, match="Hardswish"):
        CrossEncoder(folder)
    # a name outside torch is code pybertcore never imports: the default, with a warning (as
    # sentence-transformers does without trust_remote_code)
    config["sentence_transformers"] = {"activation_fn": "mypackage.activations.Custom"}
    (folder / "config.json").write_text(json.dumps(config))
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        assert repr(CrossEncoder(folder).activation_fn) == "Sigmoid()"
    assert any("mypackage.activations.Custom" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_rank_matches_sentence_transformers(checkpoints, family):
    folder = checkpoints[family, 1]
    ours, theirs = CrossEncoder(folder), reference(folder)
    for kwargs in ({}, {"top_k": 3}, {"return_documents": True}, {"top_k": 2, "return_documents": True}):
        a, b = ours.rank(QUERY, DOCUMENTS, **kwargs), theirs.rank(QUERY, DOCUMENTS, **kwargs)
        assert [r["corpus_id"] for r in a] == [r["corpus_id"] for r in b]
        assert [set(r) for r in a] == [set(r) for r in b]
        np.testing.assert_allclose([r["score"] for r in a], [r["score"] for r in b], atol=1e-4, rtol=0)
        assert all(isinstance(r["score"], float) for r in a)
        if kwargs.get("return_documents"):
            assert [r["text"] for r in a] == [r["text"] for r in b]
    logits = sorted(r["score"] for r in ours.rank(QUERY, DOCUMENTS, activation_fn=lambda x: x))
    assert min(np.diff(logits)) > 1e-3  # the order is not decided by rounding
    with pytest.raises(ValueError, match="num_labels=1"):
        CrossEncoder(checkpoints[family, 3]).rank(QUERY, DOCUMENTS)


def test_outputs_prompts_and_arguments(checkpoints):
    import torch

    folder = checkpoints["bert", 1]
    ours, theirs = CrossEncoder(folder), reference(folder)
    t = ours.predict(PAIRS, convert_to_tensor=True)
    assert isinstance(t, torch.Tensor) and t.shape == (len(PAIRS),)
    listed = ours.predict(PAIRS, convert_to_numpy=False)
    assert isinstance(listed, list) and isinstance(listed[0], torch.Tensor)
    np.testing.assert_allclose(ours.predict(PAIRS, prompt="query: "), theirs.predict(PAIRS, prompt="query: "),
                               atol=1e-4, rtol=0)
    assert ours.predict([]).shape == (0,)
    np.testing.assert_allclose(ours.predict(PAIRS, batch_size=1), ours.predict(PAIRS, batch_size=64), atol=0, rtol=0)
    with pytest.raises(TypeError, match="predict\\(\\) got unexpected keyword argument\\(s\\): banana"):
        ours.predict(PAIRS, banana=1)
    with pytest.raises(TypeError, match="rank\\(\\) got unexpected keyword argument\\(s\\): topk"):
        ours.rank(QUERY, DOCUMENTS, topk=1)
    with pytest.raises(TypeError, match="CrossEncoder\\(\\) got unexpected keyword argument\\(s\\): nu_labels"):
        CrossEncoder(folder, nu_labels=2)
    with pytest.raises(ValueError, match=r"inputs\[1\]"):
        ours.predict([["a", "b"], ["a", "b", "c"]])
    with pytest.raises(ValueError, match="batch_size"):
        ours.predict(PAIRS, batch_size=0)
    short = CrossEncoder(folder, max_length=16)
    assert short.max_seq_length == reference(folder, max_length=16).max_seq_length == 16
    np.testing.assert_allclose(short.predict(PAIRS), reference(folder, max_length=16).predict(PAIRS), atol=1e-4,
                               rtol=0)


# --- sentence-transformers' older calling conventions, its extra arguments, attributes and save ---------------
@pytest.mark.parametrize("args, kwargs", [
    ((1, 16), {}),  # num_labels, max_length by position (its v5.3 order)
    ((), {"model_name": None}),  # the folder under the old keyword: filled in below
    ((), {"automodel_args": {}, "config_args": {}, "cache_dir": "unused-cache"}),
    ((), {"tokenizer_args": {"model_max_length": 16}}),
    ((), {"classifier_dropout": 0.3}),
    ((), {"use_kernels": False, "kernel_config": None, "keep_in_fp32_modules": None}),
], ids=["positional", "model_name", "old-kwargs", "tokenizer_args", "classifier_dropout", "kernels-fp32"])
def test_old_and_extra_constructor_arguments_as_sentence_transformers(checkpoints, args, kwargs, caplog):
    from sentence_transformers import CrossEncoder as Reference

    folder = str(checkpoints["bert", 1])
    kwargs = {k: (folder if k == "model_name" else v) for k, v in kwargs.items()}
    path = () if "model_name" in kwargs else (folder,)
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        ours = CrossEncoder(*path, *args, **kwargs)
    theirs = Reference(*path, *args, **kwargs)
    assert ours.max_seq_length == theirs.max_seq_length == (16 if 16 in args or "tokenizer_args" in kwargs else 64)
    assert ours.num_labels == theirs.num_labels == 1
    np.testing.assert_allclose(ours.predict(PAIRS), theirs.predict(PAIRS), atol=1e-4, rtol=0)
    if args or set(kwargs) & {"model_name", "automodel_args", "tokenizer_args", "cache_dir"}:
        assert "deprecated" in caplog.text  # the old forms are taken with sentence-transformers' warning
    if "classifier_dropout" in kwargs:
        assert ours.config.classifier_dropout == theirs.config.classifier_dropout == 0.3


def test_keep_in_fp32_modules_needs_a_float32_model(checkpoints):
    folder = checkpoints["bert", 1]
    assert CrossEncoder(folder, keep_in_fp32_modules=["0.model.classifier"]).predict(PAIRS).shape == (len(PAIRS),)
    with pytest.raises(NotImplementedError, match="keep_in_fp32_modules"):
        CrossEncoder(folder, keep_in_fp32_modules=["0.model.classifier"], dtype="bfloat16")


def test_attributes_as_sentence_transformers(checkpoints):
    folder = checkpoints["bert", 1]
    ours, theirs = CrossEncoder(folder), reference(folder)
    assert ours.device == str(theirs.device) == "cpu" and ours.device.type == theirs.device.type
    assert ours.transformers_model is ours.model
    assert type(ours.transformers_model).__name__ == type(theirs.transformers_model).__name__
    with pytest.warns(DeprecationWarning, match="max_seq_length"):
        assert ours.max_length == 64
    with pytest.warns(DeprecationWarning, match="activation_fn"):
        assert repr(ours.default_activation_function) == repr(theirs.default_activation_function) == "Sigmoid()"
    with pytest.warns(DeprecationWarning):
        ours.max_length = 16
    assert ours.max_seq_length == 16


def test_rank_top_k_types_and_pool_arguments(checkpoints):
    folder = checkpoints["bert", 1]
    ours, theirs = CrossEncoder(folder), reference(folder)
    top = np.int64(2)  # e.g. from numpy arithmetic: sentence-transformers slices with it
    assert [r["corpus_id"] for r in ours.rank(QUERY, DOCUMENTS, top_k=top)] == \
        [r["corpus_id"] for r in theirs.rank(QUERY, DOCUMENTS, top_k=top)]
    for model in (ours, theirs):
        with pytest.raises(TypeError):
            model.rank(QUERY, DOCUMENTS, top_k=1.5)
    # sentence-transformers' multi-process forms run in this one process, to its single-process scores
    expected = theirs.predict(PAIRS)
    np.testing.assert_allclose(ours.predict(PAIRS, pool=None, chunk_size=None), expected, atol=1e-4, rtol=0)
    pool = ours.start_multi_process_pool(["cpu", "cpu"])
    np.testing.assert_allclose(ours.predict(PAIRS, pool=pool, chunk_size=2), expected, atol=1e-4, rtol=0)
    ours.stop_multi_process_pool(pool)
    np.testing.assert_allclose(ours.predict(PAIRS, device=["cpu", "cpu"]), expected, atol=1e-4, rtol=0)
    assert [r["corpus_id"] for r in ours.rank(QUERY, DOCUMENTS, pool=pool)] == \
        [r["corpus_id"] for r in theirs.rank(QUERY, DOCUMENTS)]
    with pytest.raises(NotImplementedError, match="cuda"):
        ours.predict(PAIRS, device=["cpu", "cuda:0"])


@pytest.mark.parametrize("num_labels", [1, 3])
def test_save_loads_in_sentence_transformers(checkpoints, tmp_path, num_labels):
    import torch

    folder = checkpoints["bert", num_labels]
    kwargs = {"activation_fn": torch.nn.Tanh(), "max_length": 20, "prompts": {"q": "query: "}}
    kwargs = kwargs if num_labels == 1 else {}
    ours = CrossEncoder(folder, **kwargs)
    ours.save(str(tmp_path / "saved"))
    theirs, back = reference(tmp_path / "saved"), CrossEncoder(tmp_path / "saved")
    for model in (theirs, back):
        assert repr(model.activation_fn) == ("Tanh()" if num_labels == 1 else "Identity()")
        assert model.max_seq_length == ours.max_seq_length == (20 if num_labels == 1 else 64)
        assert model.num_labels == num_labels and model.prompts == ours.prompts
    call = {"prompt_name": "q"} if num_labels == 1 else {}
    np.testing.assert_allclose(theirs.predict(PAIRS, **call), ours.predict(PAIRS, **call), atol=1e-4, rtol=0)
    np.testing.assert_array_equal(back.predict(PAIRS, **call), ours.predict(PAIRS, **call))


def test_save_with_a_plain_function_activation(checkpoints, tmp_path, caplog):
    ours = CrossEncoder(checkpoints["bert", 1], activation_fn=lambda x: x)
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        ours.save_pretrained(tmp_path / "saved")  # the same as save, as in sentence-transformers
    assert "plain functions can't be restored" in caplog.text
    # sentence-transformers names it "function": both libraries load the default activation back
    saved = json.loads((tmp_path / "saved" / "config_sentence_transformers.json").read_text())
    assert saved["activation_fn"] == "function"
    assert repr(reference(tmp_path / "saved").activation_fn) == repr(CrossEncoder(tmp_path / "saved").activation_fn) \
        == "Sigmoid()"


def test_config_kwargs_keep_config_fields_and_drop_the_rest(checkpoints):
    """``config_kwargs`` (and ``num_labels``) go to the config loader as in sentence-transformers: fields are set,
    a key that is no field is dropped, and the scores are unchanged."""
    folder = checkpoints["bert", 3]
    config_kwargs = {"classifier_dropout": 0.3, "not_a_config_field": 1}
    ours, theirs = CrossEncoder(folder, config_kwargs=config_kwargs), reference(folder, config_kwargs=config_kwargs)
    for config in (ours.config, theirs.config):
        assert config.classifier_dropout == 0.3 and config.num_labels == 3
        assert not hasattr(config, "not_a_config_field")
    np.testing.assert_allclose(ours.predict(PAIRS), theirs.predict(PAIRS), atol=1e-4, rtol=0)
