"""Save/load round trips both ways, checkpoint key mapping, state_dict and random initialisation."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch
import transformers
from conftest import make_transformers_bert, max_abs_on, ragged_batch, run_transformers

import pybertcore
from pybertcore.checkpoints import load_safetensors, save_safetensors

TOL = 1e-4
CFG = dict(hidden_size=96, num_attention_heads=3, intermediate_size=200, vocab_size=1013, num_hidden_layers=3)


def test_pybertcore_to_transformers(tmp_path):
    pybertcore.set_seed(0)
    ours = pybertcore.BertModel(pybertcore.BertConfig(**CFG))
    ours.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["architectures"] == ["BertModel"] and config["model_type"] == "bert"
    theirs = transformers.BertModel.from_pretrained(tmp_path, attn_implementation="eager").eval()
    # Identical weights under identical names.
    their_sd = {k: v.numpy() for k, v in theirs.state_dict().items()}
    our_sd = ours.state_dict()
    assert list(our_sd) == list(their_sd)
    for k in our_sd:
        np.testing.assert_array_equal(our_sd[k], their_sd[k])
    assert ours.num_parameters() == theirs.num_parameters()
    assert ours.num_parameters(exclude_embeddings=True) == theirs.num_parameters(exclude_embeddings=True)
    ids, mask = ragged_batch(np.random.default_rng(0), CFG["vocab_size"], [8, 5, 2], 8)
    ref = run_transformers(theirs, ids, mask)
    got = ours(ids, attention_mask=mask)
    assert max_abs_on(got.last_hidden_state, ref.last_hidden_state.numpy(), mask) <= TOL
    assert np.abs(got.pooler_output - ref.pooler_output.numpy()).max() <= TOL


def test_transformers_round_trip_through_pybertcore(tmp_path):
    tf_model, folder = make_transformers_bert(tmp_path, **CFG)
    ours = pybertcore.AutoModel.from_pretrained(folder)
    ours.save_pretrained(tmp_path / "again")
    reloaded = transformers.BertModel.from_pretrained(tmp_path / "again").eval()
    for k, v in tf_model.state_dict().items():
        torch.testing.assert_close(reloaded.state_dict()[k], v, rtol=0, atol=0)


def test_random_init_like_transformers():
    pybertcore.set_seed(1)
    config = pybertcore.BertConfig(**CFG)
    sd = pybertcore.BertModel(config).state_dict()
    word = sd["embeddings.word_embeddings.weight"]
    assert not word[config.pad_token_id].any()  # padding row zeroed like nn.Embedding(padding_idx)
    assert abs(word[1:].std() - config.initializer_range) < 2e-3
    q = sd["encoder.layer.0.attention.self.query.weight"]
    assert abs(q.mean()) < 2e-3 and abs(q.std() - 0.02) < 2e-3
    assert not sd["encoder.layer.0.attention.self.query.bias"].any()
    np.testing.assert_array_equal(sd["embeddings.LayerNorm.weight"], 1.0)
    assert not sd["embeddings.LayerNorm.bias"].any()
    assert "pooler.dense.weight" in sd
    no_pool = pybertcore.BertModel(config, add_pooling_layer=False)
    assert "pooler.dense.weight" not in no_pool.state_dict()
    assert no_pool([[1, 2]]).pooler_output is None
    with pytest.raises(ValueError):
        sd["pooler.dense.bias"][0] = 1.0  # read-only: edits would not reach the packed core


def test_head_checkpoint_into_base_model(tmp_path, caplog):
    """A BertForSequenceClassification checkpoint (bert. prefix) loads into BertModel; the head is unused."""
    torch.manual_seed(0)
    head = transformers.BertForSequenceClassification(transformers.BertConfig(**CFG, num_labels=3)).eval()
    head.save_pretrained(tmp_path)
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        ours = pybertcore.BertModel.from_pretrained(tmp_path)
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert "Some weights of the model checkpoint at" in warning and "classifier.weight" in warning
    assert "newly initialized" not in warning
    ids = np.random.default_rng(0).integers(0, CFG["vocab_size"], size=(2, 6))
    ref = run_transformers(head.bert, ids)
    np.testing.assert_allclose(ours(ids).last_hidden_state, ref.last_hidden_state.numpy(), atol=TOL, rtol=0)


def test_legacy_gamma_beta_and_position_ids(tmp_path, caplog):
    tf_model, folder = make_transformers_bert(tmp_path, **CFG)
    tensors = load_safetensors(folder / "model.safetensors")
    legacy = {}
    for k, v in tensors.items():
        if "LayerNorm" in k:
            k = k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        legacy["bert." + k] = v
    legacy["bert.embeddings.position_ids"] = np.arange(512, dtype=np.int64)[None]
    save_safetensors(legacy, folder / "model.safetensors")
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        ours = pybertcore.BertModel.from_pretrained(folder)
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    ids = np.random.default_rng(0).integers(0, CFG["vocab_size"], size=(2, 6))
    np.testing.assert_allclose(
        ours(ids).last_hidden_state, run_transformers(tf_model, ids).last_hidden_state.numpy(), atol=TOL, rtol=0
    )


def test_missing_weights_are_reported(tmp_path, caplog):
    tf_model, folder = make_transformers_bert(tmp_path, **CFG)
    tensors = load_safetensors(folder / "model.safetensors")
    del tensors["pooler.dense.weight"]
    save_safetensors(tensors, folder / "model.safetensors")
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        _, info = pybertcore.BertModel.from_pretrained(folder, output_loading_info=True)
    assert info["missing_keys"] == ["pooler.dense.weight"]
    text = caplog.records[0].getMessage()
    assert text.startswith("Some weights of BertModel were not initialized from the model checkpoint at")
    assert "['pooler.dense.weight']" in text and "You should probably TRAIN this model" in text


def test_config_overrides_through_from_pretrained(tmp_path):
    _, folder = make_transformers_bert(tmp_path, **CFG)
    model = pybertcore.BertModel.from_pretrained(folder, num_labels=5, output_attentions=True)
    assert model.config.num_labels == 5
    assert model([[1, 2, 3]]).attentions is not None
    with pytest.raises(NotImplementedError, match="float16"):
        pybertcore.BertModel.from_pretrained(folder, dtype="float16")
    assert pybertcore.BertModel.from_pretrained(folder, dtype="bfloat16").dtype == "bfloat16"
    assert pybertcore.BertModel.from_pretrained(folder, torch_dtype=torch.float32) is not None


def test_transformers_loading_options(tmp_path):
    """Options users pass to transformers' from_pretrained are accepted where they mean what we do anyway."""
    _, folder = make_transformers_bert(tmp_path, **CFG)
    model = pybertcore.AutoModel.from_pretrained(
        folder, low_cpu_mem_usage=True, trust_remote_code=False, attn_implementation="eager", device_map="cpu",
        use_safetensors=True,
    )
    assert not hasattr(model.config, "use_safetensors") and not hasattr(model.config, "device_map")
    with pytest.raises(NotImplementedError, match="device_map='cuda'"):
        pybertcore.AutoModel.from_pretrained(folder, device_map="cuda")
