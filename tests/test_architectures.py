"""The encoders beside BERT (MPNet, NomicBERT, GTE, ModernBERT) on the one packed-token core: what the
family suites (test_families, test_heads, test_module_tree, test_precision) do not show.

- batch = single, bit for bit, and the same at 1 and 2 threads (windows, relative bias and rotary
  positions are per sequence: padding must not leak in);
- T = 1, ModernBERT's local layers with windows shorter than the sequence among global ones, left
  padding, classifier_pooling "mean";
- folders in the hub's older layouts (remote-code config keys and weight names, built here from a
  transformers checkpoint) load and give transformers' numbers;
- sentence-transformers folders of each family through SentenceEncoder.

transformers (torch, CPU) is the oracle; tolerance 1e-4 on real tokens.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from family_models import make_transformers_model, max_abs_on_mask, ragged_inputs, run_transformers, to_numpy

import pybertcore

TOL = 1e-4
NEW_FAMILIES = ["mpnet", "nomic_bert", "gte", "modernbert", "deberta-v2"]


def _load(folder, suffix="Model"):
    auto = {"Model": "AutoModel", "ForSequenceClassification": "AutoModelForSequenceClassification",
            "ForMultipleChoice": "AutoModelForMultipleChoice"}[suffix]
    return getattr(pybertcore, auto).from_pretrained(folder)


@pytest.mark.parametrize("family", NEW_FAMILIES)
def test_batch_equals_single_bit_for_bit(tmp_path, family):
    make_transformers_model(family, "Model", tmp_path, max_position_embeddings=64)
    model = _load(tmp_path)
    inputs = ragged_inputs(family, model.config.pad_token_id, lengths=(17, 1, 9, 30), T=30)
    batch = model(**inputs).last_hidden_state
    for b, n in enumerate(inputs["attention_mask"].sum(axis=1)):
        alone = model(**{k: v[b:b + 1, :n] for k, v in inputs.items()}).last_hidden_state
        np.testing.assert_array_equal(batch[b, :n], alone[0])
    before = pybertcore.get_num_threads()
    try:
        pybertcore.set_num_threads(1)
        np.testing.assert_array_equal(model(**inputs).last_hidden_state, batch)
    finally:
        pybertcore.set_num_threads(before)


@pytest.mark.parametrize("family", NEW_FAMILIES)
def test_single_token(tmp_path, family):
    tf_model = make_transformers_model(family, "Model", tmp_path)
    model = _load(tmp_path)
    inputs = {"input_ids": np.array([[5], [7]], dtype=np.int64)}
    ours = model(**inputs, output_hidden_states=True)
    theirs = run_transformers(tf_model, inputs, output_hidden_states=True)
    assert np.abs(ours.last_hidden_state - to_numpy(theirs.last_hidden_state)).max() < TOL
    for a, b in zip(ours.hidden_states, theirs.hidden_states):
        assert np.abs(a - to_numpy(b)).max() < TOL


MODERNBERT_MIX = dict(num_hidden_layers=5, global_attn_every_n_layers=2, local_attention=6,
                      max_position_embeddings=64)


@pytest.mark.parametrize("left", [False, True])
def test_modernbert_windows_shorter_than_the_sequence(tmp_path, left):
    """Layers [global, local, global, local, global]; local ones see ±3 tokens of sequences up to 25 long."""
    tf_model = make_transformers_model("modernbert", "Model", tmp_path, **MODERNBERT_MIX)
    model = _load(tmp_path)
    assert model.config.layer_types == ["full_attention", "sliding_attention"] * 2 + ["full_attention"]
    inputs = ragged_inputs("modernbert", 0, lengths=(25, 3, 14, 1), T=25)
    if left:  # padding on the left: the window counts padded positions, as transformers' mask does
        inputs = {k: v[:, ::-1].copy() for k, v in inputs.items()}
    ours = model(**inputs, output_hidden_states=True, output_attentions=True)
    theirs = run_transformers(tf_model, inputs, output_hidden_states=True, output_attentions=True)
    mask = inputs["attention_mask"]
    assert max_abs_on_mask(ours.last_hidden_state, to_numpy(theirs.last_hidden_state), mask) < TOL
    for a, b in zip(ours.hidden_states, theirs.hidden_states):
        assert max_abs_on_mask(a, to_numpy(b), mask) < TOL
    for layer, (a, b) in enumerate(zip(ours.attentions, theirs.attentions)):
        real = mask.astype(bool)
        b = to_numpy(b)
        for i in range(len(mask)):
            keep = np.flatnonzero(real[i])
            assert np.abs(a[i][:, keep][:, :, keep] - b[i][:, keep][:, :, keep]).max() < TOL, layer


@pytest.mark.parametrize("suffix", ["ForSequenceClassification", "ForMultipleChoice"])
@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_modernbert_classifier_pooling(tmp_path, suffix, pooling):
    tf_model = make_transformers_model("modernbert", suffix, tmp_path, classifier_pooling=pooling, **MODERNBERT_MIX)
    model = _load(tmp_path, suffix)
    inputs = ragged_inputs("modernbert", 0, lengths=(12, 3, 9, 1), T=12)
    if suffix == "ForMultipleChoice" or pooling == "mean":
        # left padding: the first real token is not at 0 (with "cls", sequence classification reads
        # position 0 whatever it holds; a padded query out of every window's reach attends to nothing here,
        # to transformers' additive-mask artefact there: not compared)
        inputs = {k: v[:, ::-1].copy() for k, v in inputs.items()}
    if suffix == "ForMultipleChoice":
        inputs = {k: v.reshape(2, 2, -1) for k, v in inputs.items()}
    ours = model(**inputs).logits
    theirs = to_numpy(run_transformers(tf_model, inputs).logits)
    assert np.abs(ours - theirs).max() < TOL


# --- the hub's older layouts -------------------------------------------------------------------------
def _rewrite_config(folder, drop=(), **values):
    path = folder / "config.json"
    config = json.loads(path.read_text())
    for key in drop:
        config.pop(key, None)
    config.update(values)
    path.write_text(json.dumps(config))


def _compare(folder, tf_model, family):
    model = pybertcore.AutoModel.from_pretrained(folder)
    inputs = ragged_inputs(family, tf_model.config.pad_token_id, lengths=(9, 4, 1), T=9)
    ours = model(**inputs).last_hidden_state
    theirs = to_numpy(run_transformers(tf_model, inputs).last_hidden_state)
    assert max_abs_on_mask(ours, theirs, inputs["attention_mask"]) < TOL
    return model


def test_nomic_remote_code_layout(tmp_path):
    """nomic-embed-text's config.json (n_embd, rotary_emb_base, activation_function 'swiglu', ...) with
    the remote code's weight names (Wqkv, fc11/fc12/fc2, emb_ln, norm1/norm2)."""
    from safetensors import safe_open

    tf_model = make_transformers_model("nomic_bert", "Model", tmp_path, rope_parameters={
        "rope_type": "default", "rope_theta": 321.0})
    with safe_open(str(tmp_path / "model.safetensors"), "np") as f:
        keys = set(f.keys())
    assert "emb_ln.weight" in keys and "encoder.layers.0.attn.Wqkv.weight" in keys  # transformers writes the hub's names
    c = tf_model.config
    _rewrite_config(tmp_path, drop=("hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size",
                                    "max_position_embeddings", "layer_norm_eps", "rope_parameters", "hidden_act",
                                    "head_dim", "hidden_dropout_prob", "attention_probs_dropout_prob"),
                    n_embd=c.hidden_size, n_head=c.num_attention_heads, n_layer=c.num_hidden_layers,
                    n_inner=c.intermediate_size, n_positions=c.max_position_embeddings,
                    layer_norm_epsilon=c.layer_norm_eps, rotary_emb_base=321, rotary_emb_fraction=1.0,
                    rotary_emb_interleaved=False, rotary_scaling_factor=None, activation_function="swiglu",
                    qkv_proj_bias=False, mlp_fc1_bias=False, mlp_fc2_bias=False, prenorm=False, causal=False,
                    use_flash_attn=True, fused_bias_fc=True, embd_pdrop=0.0, resid_pdrop=0.0, attn_pdrop=0.0)
    model = _compare(tmp_path, tf_model, "nomic_bert")
    assert model.config.rope_parameters["rope_theta"] == 321
    # saved in transformers' current layout, which transformers reads back
    model.save_pretrained(tmp_path / "saved")
    saved = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert "n_embd" not in saved and saved["hidden_size"] == c.hidden_size
    import transformers
    again = transformers.AutoModel.from_pretrained(tmp_path / "saved").eval()
    _compare(tmp_path / "saved", again, "nomic_bert")
    # variants the core does not run are refused by name
    _rewrite_config(tmp_path, rotary_emb_fraction=0.5)
    with pytest.raises(ValueError, match="rotary_emb_fraction=0.5"):
        pybertcore.AutoModel.from_pretrained(tmp_path)


def _gte_to_new_layout(folder):
    """A transformers GTE folder as Alibaba-NLP's remote code has it: model_type 'new', fused qkv_proj and
    up_gate_proj (up first), attn_ln / mlp_ln, encoder.layer."""
    from safetensors.numpy import load_file, save_file

    state = load_file(str(folder / "model.safetensors"))
    out = {}
    for key, value in state.items():
        key = key.replace("layers.", "encoder.layer.").replace("post_attention_layernorm", "attn_ln")
        key = key.replace("post_mlp_layernorm", "mlp_ln").replace("self_attn.o_proj", "attention.o_proj")
        out[key] = value
    for key in list(out):
        if key.endswith("self_attn.q_proj.weight") or key.endswith("self_attn.q_proj.bias"):
            stem, kind = key.rsplit(".q_proj.", 1)
            parts = [out.pop(f"{stem}.{p}_proj.{kind}") for p in "qkv"]
            out[f"{stem.replace('self_attn', 'attention')}.qkv_proj.{kind}"] = np.concatenate(parts)
        if key.endswith("mlp.up_proj.weight"):
            stem = key[: -len("up_proj.weight")]
            out[f"{stem}up_gate_proj.weight"] = np.concatenate([out.pop(key), out.pop(f"{stem}gate_proj.weight")])
    save_file(out, str(folder / "model.safetensors"))


def test_gte_new_layout(tmp_path):
    tf_model = make_transformers_model("gte", "Model", tmp_path)
    _gte_to_new_layout(tmp_path)
    c = tf_model.config
    _rewrite_config(tmp_path, drop=("rope_parameters",), model_type="new", architectures=["NewModel"],
                    rope_theta=c.rope_parameters["rope_theta"], position_embedding_type="rope",
                    layer_norm_type="layer_norm", logn_attention_scale=False, logn_attention_clip1=False,
                    unpad_inputs=False, use_memory_efficient_attention=False, pack_qkv=True, rope_scaling=None)
    model = _compare(tmp_path, tf_model, "gte")
    assert type(model).__name__ == "GteModel" and model.config.model_type == "gte"
    _rewrite_config(tmp_path, position_embedding_type="absolute")
    with pytest.raises(ValueError, match="position_embedding_type='absolute'"):
        pybertcore.AutoModel.from_pretrained(tmp_path)


def test_gte_ntk_rope_scaling(tmp_path):
    """gte-base-en-v1.5's rope_scaling {"type": "ntk", "factor": 2}: the remote code's fixed NTK scaling
    (base θ·f, inverse frequencies divided by f^(2/d)), checked against transformers' GTE given those
    inverse frequencies."""
    import torch

    tf_model = make_transformers_model("gte", "Model", tmp_path)
    c = tf_model.config
    theta, factor, dim = c.rope_parameters["rope_theta"], 2.0, c.hidden_size // c.num_attention_heads
    inv_freq = 1.0 / ((theta * factor) ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    tf_model.rotary_emb.inv_freq = inv_freq / factor ** (2 / dim)
    _rewrite_config(tmp_path, drop=("rope_parameters",), rope_theta=theta, rope_scaling={"type": "ntk", "factor": 2.0})
    _compare(tmp_path, tf_model, "gte")


def test_modernbert_older_config_keys(tmp_path):
    """ModernBERT checkpoints from before transformers 5: global_attn_every_n_layers, global_rope_theta,
    local_rope_theta instead of layer_types and rope_parameters."""
    tf_model = make_transformers_model("modernbert", "Model", tmp_path, **MODERNBERT_MIX, rope_parameters={
        "full_attention": {"rope_type": "default", "rope_theta": 7000.0},
        "sliding_attention": {"rope_type": "default", "rope_theta": 300.0}})
    _rewrite_config(tmp_path, drop=("layer_types", "rope_parameters"), global_attn_every_n_layers=2,
                    global_rope_theta=7000.0, local_rope_theta=300.0, reference_compile=False)
    model = _compare(tmp_path, tf_model, "modernbert")
    assert model.config.layer_types == tf_model.config.layer_types


# --- sentence-transformers folders --------------------------------------------------------------------
SENTENCES = ["The cat sits on the mat.", "A quick brown fox jumps over the lazy dog near the river bank.", "Hi",
             "Transformers on CPUs, packed without padding."]


@pytest.mark.parametrize("family", NEW_FAMILIES)
def test_sentence_transformers_folder(tmp_path, family, minilm_dir):
    """A family model with MiniLM's tokenizer, wrapped and saved by sentence-transformers (mean pooling,
    normalised): SentenceEncoder loads the folder and gives its embeddings."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models

    base = tmp_path / "base"
    special = dict(pad_token_id=0, bos_token_id=101, eos_token_id=102) if family in ("mpnet", "modernbert") else {}
    if family == "modernbert":
        special.update(cls_token_id=101, sep_token_id=102)
    make_transformers_model(family, "Model", base, vocab_size=30522, max_position_embeddings=128, **special)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (minilm_dir / name).exists():
            shutil.copy(minilm_dir / name, base / name)
    word = models.Transformer(str(base), max_seq_length=64)
    st = SentenceTransformer(modules=[word, models.Pooling(word.get_embedding_dimension(), "mean"),
                                      models.Normalize()], device="cpu")
    st.save(str(tmp_path / "st"))
    theirs = SentenceTransformer(str(tmp_path / "st"), device="cpu").encode(SENTENCES)
    ours = pybertcore.SentenceEncoder.from_pretrained(tmp_path / "st").encode(SENTENCES)
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() < TOL
