"""SparseEncoder CSR models (Transformer, Pooling, SparseAutoEncoder) against sentence-transformers 6 on folders it
saves, with the real MiniLM as the encoder and a random autoencoder: vectors and their non-zero sets, k and
max_active_dims, prompts, saving (both libraries load it back, safetensors and .bin), pickling, batch
independence, precision changes, a CSR route behind a Router, and hostile autoencoder folders."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest

from pybertcore import SparseEncoder
from pybertcore.checkpoints import CheckpointError
from test_sparse_encoder import TEXTS_REAL, to_dense


def reference(folder, **kwargs):
    from sentence_transformers import SparseEncoder as Reference

    return Reference(str(folder), device="cpu", **kwargs)


def make_csr(folder, minilm_dir, normalize, k=24, hidden_dim=1000, extra=()):
    """MiniLM (mean pooling, ``extra`` Dense / Normalize modules) and a SparseAutoEncoder(384 → hidden_dim, k)
    with random biases, saved by sentence-transformers."""
    import torch
    from sentence_transformers import SparseEncoder as Reference
    from sentence_transformers.base.modules import Dense, Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from sentence_transformers.sparse_encoder.modules import SparseAutoEncoder

    torch.manual_seed(0)
    autoencoder = SparseAutoEncoder(384, hidden_dim, k=k, k_aux=64, normalize=normalize)
    with torch.no_grad():
        autoencoder.pre_bias.normal_(0, 0.05)
        autoencoder.latent_bias.normal_(0, 0.05)
    middle = [Dense(384, 384, activation_function=torch.nn.Tanh()) if name == "Dense" else Normalize()
              for name in extra]
    modules = [Transformer(str(minilm_dir)), Pooling(384, "mean"), *middle, autoencoder]
    Reference(modules=modules, device="cpu").save(str(folder))
    return folder


@pytest.fixture(scope="module")
def csr_folders(minilm_dir, tmp_path_factory):
    return {normalize: make_csr(tmp_path_factory.mktemp(f"csr-{normalize}"), minilm_dir, normalize)
            for normalize in (False, True)}


def assert_same_vectors(ours, theirs):
    theirs = to_dense(theirs)
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(ours != 0, theirs != 0)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("normalize", [False, True], ids=["plain", "layer-normalized"])
def test_encode_matches_sentence_transformers(csr_folders, normalize):
    folder = csr_folders[normalize]
    ours, theirs = SparseEncoder(folder), reference(folder)
    assert ours.get_embedding_dimension() == theirs.get_embedding_dimension() == 1000
    assert ours.max_active_dims == theirs.max_active_dims == 24
    assert ours.similarity_fn_name == theirs.similarity_fn_name
    vectors = ours.encode(TEXTS_REAL).toarray()
    assert_same_vectors(vectors, theirs.encode(TEXTS_REAL))
    assert ((vectors != 0).sum(axis=1) <= 24).all() and (vectors >= 0).all()
    for k in (5, 60):  # fewer and more than the autoencoder's k, which the call's max_active_dims replaces
        assert_same_vectors(ours.encode(TEXTS_REAL, max_active_dims=k).toarray(),
                            theirs.encode(TEXTS_REAL, max_active_dims=k))
    prompts = {"query": "query: ", "document": "passage: "}
    ours, theirs = SparseEncoder(folder, prompts=prompts), reference(folder, prompts=prompts)
    assert_same_vectors(ours.encode_query(TEXTS_REAL).toarray(), theirs.encode_query(TEXTS_REAL))
    assert_same_vectors(ours.encode_document(TEXTS_REAL).toarray(), theirs.encode_document(TEXTS_REAL))


def test_dense_and_normalize_before_the_autoencoder(minilm_dir, tmp_path):
    folder = make_csr(tmp_path / "csr", minilm_dir, normalize=False, extra=("Dense", "Normalize"))
    assert_same_vectors(SparseEncoder(folder).encode(TEXTS_REAL).toarray(), reference(folder).encode(TEXTS_REAL))


@pytest.mark.parametrize("safe_serialization", [True, False], ids=["safetensors", "bin"])
def test_save_loads_in_both_libraries(csr_folders, tmp_path, safe_serialization):
    ours = SparseEncoder(csr_folders[True])
    ours.save(tmp_path / "saved", safe_serialization=safe_serialization)
    again = SparseEncoder(tmp_path / "saved")
    np.testing.assert_array_equal(again.encode(TEXTS_REAL).toarray(), ours.encode(TEXTS_REAL).toarray())
    assert_same_vectors(ours.encode(TEXTS_REAL).toarray(), reference(tmp_path / "saved").encode(TEXTS_REAL))


def test_pickle_batches_and_precision(csr_folders):
    folder = csr_folders[True]
    ours = SparseEncoder(folder)
    batch = ours.encode(TEXTS_REAL).toarray()
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(ours)).encode(TEXTS_REAL).toarray(), batch)
    for i in (0, 3, len(TEXTS_REAL) - 1):  # a text's vector does not depend on its batch
        np.testing.assert_array_equal(ours.encode([TEXTS_REAL[i]]).toarray()[0], batch[i])
    assert ours.model is ours.routes.first.pipeline.model and ours.to("int8").dtype == "int8"
    np.testing.assert_array_equal(ours.encode(TEXTS_REAL).toarray(),
                                  SparseEncoder(folder, model_kwargs={"dtype": "int8"}).encode(TEXTS_REAL).toarray())
    np.testing.assert_array_equal(ours.float().encode(TEXTS_REAL).toarray(), batch)


def test_csr_route_behind_a_router(csr_folders, minilm_dir, tmp_path):
    """Router(query: CSR, document: the same CSR modules): saved and loaded by both libraries."""
    from sentence_transformers import SparseEncoder as Reference
    from sentence_transformers.sparse_encoder.modules import Router

    modules = list(reference(csr_folders[False]).children())
    Reference(modules=[Router.for_query_document(modules, modules)], device="cpu").save(str(tmp_path / "router"))
    ours, theirs = SparseEncoder(tmp_path / "router"), reference(tmp_path / "router")
    assert_same_vectors(ours.encode_query(TEXTS_REAL).toarray(), theirs.encode_query(TEXTS_REAL))
    ours.save(tmp_path / "again")
    assert_same_vectors(ours.encode_document(TEXTS_REAL).toarray(),
                        reference(tmp_path / "again").encode_document(TEXTS_REAL))


def test_hostile_autoencoder_folders(csr_folders, tmp_path):
    def broken(change):
        folder = tmp_path / f"broken{len(list(tmp_path.iterdir()))}"
        shutil.copytree(csr_folders[False], folder)
        change(folder / "2_SparseAutoEncoder")
        return folder

    def edit_config(key, value):
        def change(module):
            config = json.loads((module / "config.json").read_text())
            config[key] = value
            (module / "config.json").write_text(json.dumps(config))
        return change

    with pytest.raises(CheckpointError, match="hidden_dim 999"):
        SparseEncoder(broken(edit_config("hidden_dim", 999)))
    with pytest.raises(CheckpointError, match="input_dim 383"):
        SparseEncoder(broken(edit_config("input_dim", 383)))
    for key, value in (("k", 0), ("k", "8"), ("hidden_dim", True)):
        with pytest.raises(ValueError, match=key):
            SparseEncoder(broken(edit_config(key, value)))
    with pytest.raises(ValueError, match="normalize"):
        SparseEncoder(broken(edit_config("normalize", "yes")))
    with pytest.raises(OSError, match="SparseAutoEncoder module needs model.safetensors"):
        SparseEncoder(broken(lambda module: (module / "model.safetensors").unlink()))
    truncated = broken(lambda module: (module / "model.safetensors").write_bytes(
        (module / "model.safetensors").read_bytes()[:1000]))
    with pytest.raises((CheckpointError, OSError)):
        SparseEncoder(truncated)
    no_pooling = broken(lambda module: None)
    entries = json.loads((no_pooling / "modules.json").read_text())
    (no_pooling / "modules.json").write_text(json.dumps([entries[0], entries[2]]))
    with pytest.raises(ValueError, match="no Pooling module"):
        SparseEncoder(no_pooling)


def test_prompt_left_out_of_pooling_and_preprocess(csr_folders):
    folder = csr_folders[False]
    ours, theirs = SparseEncoder(folder), reference(folder)
    for model in (ours, theirs):
        model.set_pooling_include_prompt(False)
    with_prompt = ours.encode(TEXTS_REAL, prompt="query: ").toarray()
    assert_same_vectors(with_prompt, theirs.encode(TEXTS_REAL, prompt="query: "))
    ours.set_pooling_include_prompt(True)
    assert np.abs(ours.encode(TEXTS_REAL, prompt="query: ").toarray() - with_prompt).max() > 1e-3
    mine, reference_features = ours.preprocess(TEXTS_REAL, prompt="query: "), theirs.preprocess(TEXTS_REAL,
                                                                                               prompt="query: ")
    for name in ("input_ids", "attention_mask"):
        np.testing.assert_array_equal(mine[name], reference_features[name].numpy())
