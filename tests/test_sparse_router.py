"""Inference-free SPLADE: a SparseEncoder whose Router sends queries to a SparseStaticEmbedding (a fixed weight
per query token) and documents to a SPLADE pipeline, against sentence-transformers' SparseEncoder (the
oracle) on small random models built and saved here by sentence-transformers itself.

Tolerances: static vectors are the saved weights, so they must be equal bit for bit; SPLADE vectors as in
test_sparse_encoder.py (1e-3, the same non-zero set beyond rounding at zero).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from pybertcore import SparseEncoder
from pybertcore.checkpoints import CheckpointError, save_safetensors
from test_sparse_encoder import TEXTS_REAL, assert_same_vectors, make_splade, reference, to_dense

# repeated tokens (counted once), an empty text, and 90 distinct words: past the tokenizer's 60-token limit,
# which the static route cuts at too
LONG = ("rain snow wind storm cloud sun heat cold frost ice river lake sea ocean island coast hill valley forest "
        "desert city town village street road bridge tower castle church school market garden farm field horse "
        "cow sheep dog cat bird fish tree flower grass leaf root seed fruit apple bread cheese milk water wine "
        "beer coffee tea sugar salt pepper soup meat egg rice corn wheat oil gold silver iron copper stone glass "
        "paper book letter word song music dance film story poem paint color red blue green yellow black white "
        "brown")
TEXTS = TEXTS_REAL + ["the the the rain rain", "", LONG]


def static_weight(vocab_size, seed=1):
    """IDF-like weights: most of the vocabulary 0, the rest in (0, 4)."""
    rng = np.random.default_rng(seed)
    weight = rng.uniform(0, 4, vocab_size).astype(np.float32)
    weight[rng.random(vocab_size) < 0.3] = 0
    return weight


def make_router_model(folder, minilm_dir, route_mappings=None, names=("query", "document"), default_route="document",
                      allow_empty_key=True, safe_serialization=True):
    """An inference-free SPLADE model saved by sentence-transformers: Router(query: SparseStaticEmbedding,
    document: Transformer + SpladePooling(max, log1p_relu))."""
    import torch
    from sentence_transformers import SparseEncoder as Reference
    from sentence_transformers.sparse_encoder.modules import Router, SparseStaticEmbedding, SpladePooling, Transformer

    mlm = make_splade(folder, minilm_dir, "bert", "max", "log1p_relu").parent / "mlm"
    document = Transformer(str(mlm), transformer_task="fill-mask")
    query = SparseStaticEmbedding(tokenizer=document.tokenizer,
                                  weight=torch.from_numpy(static_weight(document.tokenizer.vocab_size)), frozen=True)
    router = Router(sub_modules={names[0]: [query],
                                 names[1]: [document, SpladePooling(pooling_strategy="max",
                                                                    activation_function="log1p_relu")]},
                    default_route=default_route, allow_empty_key=allow_empty_key, route_mappings=route_mappings)
    Reference(modules=[router], similarity_fn_name="dot", device="cpu").save(str(folder / "router"),
                                                                          safe_serialization=safe_serialization)
    return folder / "router"


@pytest.fixture(scope="module")
def router_folder(minilm_dir, tmp_path_factory):
    return make_router_model(tmp_path_factory.mktemp("inference-free"), minilm_dir)


def test_queries_static_documents_splade_as_sentence_transformers(router_folder):
    ours, theirs = SparseEncoder(router_folder), reference(router_folder)
    queries = ours.encode_query(TEXTS).toarray()
    np.testing.assert_array_equal(queries, to_dense(theirs.encode_query(TEXTS)))
    # a query's vector is its distinct tokens' weights: nothing contextual
    assert ((queries != 0).sum(axis=1) <= [len(set(ours.tokenizer(t, add_special_tokens=False)["input_ids"]))
                                           for t in TEXTS]).all()
    assert (queries[TEXTS.index("")] == 0).all()
    long_ids = ours.tokenizer(LONG, add_special_tokens=False)["input_ids"]
    assert len(set(long_ids)) > 80 and (queries[-1] != 0).sum() <= 60  # cut at model_max_length
    documents = ours.encode_document(TEXTS, batch_size=4).toarray()
    assert_same_vectors(documents, to_dense(theirs.encode_document(TEXTS, batch_size=4)))
    # without a task the Router's default route (document) runs, in both
    np.testing.assert_array_equal(ours.encode(TEXTS).toarray(), documents)
    assert_same_vectors(ours.encode(TEXTS).toarray(), to_dense(theirs.encode(TEXTS)))
    for task in ("query", "document"):
        np.testing.assert_array_equal(ours.encode(TEXTS, task=task).toarray(),
                                      queries if task == "query" else documents)
    one = ours.encode_query(TEXTS[0])
    assert one.shape == (ours.get_embedding_dimension(),)
    np.testing.assert_array_equal(one.toarray(), queries[0])
    np.testing.assert_allclose(ours.similarity(ours.encode_query(TEXTS[:3]), ours.encode_document(TEXTS[:3])),
                               theirs.similarity(theirs.encode_query(TEXTS[:3]), theirs.encode_document(TEXTS[:3])),
                               rtol=1e-4, atol=1e-4)


def test_router_attributes_decode_and_limits(router_folder):
    ours, theirs = SparseEncoder(router_folder), reference(router_folder)
    assert ours.get_embedding_dimension() == theirs.get_embedding_dimension() == 30522
    assert ours.max_seq_length == theirs.max_seq_length
    assert ours.similarity_fn_name == theirs.similarity_fn_name == "dot"
    assert type(ours.transformers_model).__name__ == type(theirs.transformers_model).__name__ == "BertForMaskedLM"
    assert ours.pooling_strategy == "max" and ours.activation_function == "log1p_relu"
    assert "Router" in repr(ours) and "SparseStaticEmbedding" in repr(ours)
    # sentence-transformers gathers them in a set: its order changes with the hash seed
    assert ours.get_model_kwargs() == sorted(theirs.get_model_kwargs()) == ["modality", "task"]
    np.testing.assert_array_equal(ours.encode(TEXTS[:3], task="query", modality="text").toarray(),
                                  to_dense(theirs.encode(TEXTS[:3], task="query", modality="text")))
    with pytest.raises(ValueError, match="text only"):
        ours.encode(TEXTS[:3], modality="image")
    q, tq = ours.encode_query(TEXTS[:3]), theirs.encode_query(TEXTS[:3])
    assert ours.decode(q, top_k=5) == theirs.decode(tq, top_k=5)
    # max_seq_length set on a Router reaches every route; sentence-transformers' static route keeps cutting
    # at its tokenizer's model_max_length, and so does ours
    for model in (ours, theirs):
        model.max_seq_length = 8
    assert ours.max_seq_length == theirs.max_seq_length == 8
    np.testing.assert_array_equal(ours.encode_query(TEXTS).toarray(), to_dense(theirs.encode_query(TEXTS)))
    assert_same_vectors(ours.encode_document(TEXTS).toarray(), to_dense(theirs.encode_document(TEXTS)))


def test_preprocess_per_route_and_pooling_settings(router_folder):
    ours, theirs = SparseEncoder(router_folder), reference(router_folder)
    for task in ("query", "document"):  # the static route's ids carry no special tokens
        mine, reference_features = ours.preprocess(TEXTS, prompt="q: ", task=task), theirs.preprocess(
            TEXTS, prompt="q: ", task=task)
        for name in ("input_ids", "attention_mask"):
            np.testing.assert_array_equal(mine[name], reference_features[name].numpy())
    assert ours.splade_pooling_chunk_size is None
    ours.splade_pooling_chunk_size = 64  # kept; the fused head already bounds memory
    assert ours.splade_pooling_chunk_size == 64
    with pytest.raises(ValueError, match="splade_pooling_chunk_size"):
        ours.splade_pooling_chunk_size = 0
    with pytest.raises(NotImplementedError, match="evaluate"):
        ours.evaluate()


def test_prompts_output_formats_and_max_active_dims(router_folder):
    prompts = {"query": "query: ", "document": "passage: "}
    ours, theirs = SparseEncoder(router_folder, prompts=prompts), reference(router_folder, prompts=prompts)
    np.testing.assert_array_equal(ours.encode_query(TEXTS).toarray(), to_dense(theirs.encode_query(TEXTS)))
    assert_same_vectors(ours.encode_document(TEXTS).toarray(), to_dense(theirs.encode_document(TEXTS)))
    a = ours.encode_query(TEXTS, max_active_dims=3).toarray()
    assert ((a != 0).sum(axis=1) <= 3).all()
    np.testing.assert_array_equal(a, to_dense(theirs.encode_query(TEXTS, max_active_dims=3)))
    t = ours.encode_query(TEXTS, convert_to_tensor=True)
    assert t.is_sparse and tuple(t.shape) == (len(TEXTS), 30522)
    np.testing.assert_array_equal(t.to_dense().numpy(), ours.encode_query(TEXTS).toarray())
    dense = ours.encode_query(TEXTS, convert_to_sparse_tensor=False)
    np.testing.assert_array_equal(dense, ours.encode_query(TEXTS).toarray())


def test_texts_alone_and_in_a_batch_are_the_same_bits(router_folder):
    encoder = SparseEncoder(router_folder)
    for method in (encoder.encode_query, encoder.encode_document):
        batch = method(TEXTS, batch_size=3).toarray()
        np.testing.assert_array_equal(np.stack([method(t).toarray() for t in TEXTS]), batch)


def test_route_mappings_and_route_names(minilm_dir, tmp_path):
    mappings = {("query", "text"): "lexical", (None, None): "splade"}
    folder = make_router_model(tmp_path, minilm_dir, route_mappings=mappings, names=("lexical", "splade"),
                               default_route=None)
    ours, theirs = SparseEncoder(folder), reference(folder)
    for task in ("query", "document", None, "lexical"):
        a, b = ours.encode(TEXTS[:4], task=task).toarray(), to_dense(theirs.encode(TEXTS[:4], task=task))
        if task == "query":  # mapped to the static route
            np.testing.assert_array_equal(a, b)
        else:  # everything else falls to the (None, None) mapping: SPLADE
            assert_same_vectors(a, b)


def test_no_default_route_and_unknown_task_raise_as_sentence_transformers(minilm_dir, tmp_path):
    folder = make_router_model(tmp_path, minilm_dir, default_route=None, allow_empty_key=False)
    ours, theirs = SparseEncoder(folder), reference(folder)
    for model in (ours, theirs):
        with pytest.raises(ValueError, match="Could not determine route for task=None"):
            model.encode(TEXTS[:2])
        with pytest.raises(ValueError, match="No route found for task type 'banana'. Available routes: "
                                             "task='query' and task='document'"):
            model.encode(TEXTS[:2], task="banana")
    np.testing.assert_array_equal(ours.encode_query(TEXTS[:2]).toarray(), to_dense(theirs.encode_query(TEXTS[:2])))


def test_save_loads_in_sentence_transformers(router_folder, tmp_path):
    ours = SparseEncoder(router_folder, prompts={"query": "q: "}, max_active_dims=50)
    for safe in (True, False):
        out = tmp_path / f"saved-{safe}"
        ours.save(str(out), safe_serialization=safe)
        config = json.loads((out / "router_config.json").read_text())
        assert config["structure"] == {"query": ["query_0_SparseStaticEmbedding"],
                                       "document": ["document_0_Transformer", "document_1_SpladePooling"]}
        assert config["parameters"]["default_route"] == "document"
        theirs, back = reference(out), SparseEncoder(out)
        assert theirs.max_active_dims == back.max_active_dims == 50 and theirs.prompts["query"] == "q: "
        expected_q, expected_d = ours.encode_query(TEXTS).toarray(), ours.encode_document(TEXTS).toarray()
        np.testing.assert_array_equal(to_dense(theirs.encode_query(TEXTS)), expected_q)
        assert_same_vectors(expected_d, to_dense(theirs.encode_document(TEXTS)))
        np.testing.assert_array_equal(back.encode_query(TEXTS).toarray(), expected_q)
        np.testing.assert_array_equal(back.encode_document(TEXTS).toarray(), expected_d)


def test_from_sentence_transformers_modules_and_old_layouts(router_folder, tmp_path):
    from sentence_transformers import SparseEncoder as Reference

    theirs = reference(router_folder)
    expected_q = to_dense(theirs.encode_query(TEXTS))
    from_modules = SparseEncoder(modules=list(Reference(str(router_folder), device="cpu").children()))
    np.testing.assert_array_equal(from_modules.encode_query(TEXTS).toarray(), expected_q)
    # sentence-transformers 5's names (modules in sentence_transformers.models / sparse_encoder.models,
    # MLMTransformer) and the old Asym, whose routes are in config.json
    old = tmp_path / "old"
    shutil.copytree(router_folder, old)
    config = json.loads((old / "router_config.json").read_text())
    config["types"] = {key: {"SparseStaticEmbedding": "sentence_transformers.sparse_encoder.models.SparseStaticEmbedding",
                             "Transformer": "sentence_transformers.sparse_encoder.models.MLMTransformer",
                             "SpladePooling": "sentence_transformers.sparse_encoder.models.SpladePooling"}[
                                 value.rsplit(".", 1)[-1]] for key, value in config["types"].items()}
    (old / "router_config.json").unlink()
    (old / "config.json").write_text(json.dumps(config))
    (old / "modules.json").write_text(json.dumps([{"idx": 0, "name": "0", "path": "",
                                                   "type": "sentence_transformers.models.Asym"}]))
    legacy = SparseEncoder(old)
    np.testing.assert_array_equal(legacy.encode_query(TEXTS).toarray(), expected_q)
    assert_same_vectors(legacy.encode_document(TEXTS).toarray(), to_dense(theirs.encode_document(TEXTS)))


def _broken_copy(router_folder, tmp_path, name, edit):
    folder = tmp_path / name
    shutil.copytree(router_folder, folder)
    edit(folder)
    return folder


def _edit_router_config(change):
    def edit(folder):
        config = json.loads((folder / "router_config.json").read_text())
        change(config)
        (folder / "router_config.json").write_text(json.dumps(config))
    return edit


@pytest.mark.parametrize("name, edit, error, match", [
    ("escaping-module", _edit_router_config(lambda c: c["types"].update({"../x": "a.SparseStaticEmbedding"})),
     ValueError, "inside the model folder"),
    ("unknown-id", _edit_router_config(lambda c: c["structure"].update({"query": ["nope"]})),
     ValueError, "structure.query"),
    ("bad-default", _edit_router_config(lambda c: c["parameters"].update({"default_route": "other"})),
     ValueError, "default_route"),
    ("bad-mapping-key", _edit_router_config(lambda c: c["parameters"].update({"route_mappings": {"__import__('os')": "query"}})),
     ValueError, "route_mappings"),
    ("bad-mapping-target", _edit_router_config(lambda c: c["parameters"].update({"route_mappings": {"('query', None)": "x"}})),
     ValueError, "route_mappings"),
    ("no-structure", _edit_router_config(lambda c: c.pop("structure")), ValueError, "structure"),
    ("autoencoder", _edit_router_config(lambda c: c["types"].update(
        {"query_0_SparseStaticEmbedding": "sentence_transformers.sparse_encoder.modules.SparseAutoEncoder"})),
     NotImplementedError, "SparseAutoEncoder"),
    ("missing-idf-json", lambda f: (f / "query_0_SparseStaticEmbedding" / "config.json").write_text('{"path": "nope.json"}'),
     OSError, "no such IDF file"),
    ("idf-path-not-a-string", lambda f: (f / "query_0_SparseStaticEmbedding" / "config.json").write_text('{"path": 3}'),
     ValueError, "path: expected a string"),
    ("unknown-static-setting", lambda f: (f / "query_0_SparseStaticEmbedding" / "config.json").write_text('{"idf": 1}'),
     ValueError, "unknown SparseStaticEmbedding settings 'idf'"),
    ("no-weight-tensor", lambda f: save_safetensors({"other": np.ones(3, np.float32)},
                                                    f / "query_0_SparseStaticEmbedding" / "model.safetensors"),
     CheckpointError, "'weight'"),
    ("no-weights-file", lambda f: (f / "query_0_SparseStaticEmbedding" / "model.safetensors").unlink(),
     OSError, "needs model.safetensors or pytorch_model.bin"),
    ("truncated-weights", lambda f: (f / "query_0_SparseStaticEmbedding" / "model.safetensors").write_bytes(b"\x10\0"),
     CheckpointError, "model.safetensors"),
    ("router-and-more", lambda f: (f / "modules.json").write_text(json.dumps(
        [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.router.Router"},
         {"idx": 1, "name": "1", "path": "x", "type": "sentence_transformers.base.modules.normalize.Normalize"}])),
     NotImplementedError, "Router only as the model's one module"),
])
def test_bad_router_folders_raise_naming_the_problem(router_folder, tmp_path, name, edit, error, match):
    with pytest.raises(error, match=match):
        SparseEncoder(_broken_copy(router_folder, tmp_path, name, edit))


def test_static_weights_from_an_idf_json_file(router_folder, tmp_path):
    """A SparseStaticEmbedding whose config names an IDF JSON file (``path``): its weights come from the file as
    sentence-transformers' from_json makes them (zeros over the whole vocabulary, each token's weight at its id,
    a token the vocabulary lacks setting the unknown token's); saved, the weights go to model.safetensors."""
    folder = _broken_copy(router_folder, tmp_path, "idf", lambda f: None)
    module = folder / "query_0_SparseStaticEmbedding"
    vocab = SparseEncoder(router_folder).tokenizer.get_vocab()
    rng = np.random.default_rng(0)
    idf = {token: float(rng.uniform(0.5, 9.0)) for token in sorted(vocab)[1000:9000]}
    idf["not-a-token-at-all"] = 4.25  # becomes [UNK]'s weight, as convert_tokens_to_ids maps it
    (module / "idf.json").write_text(json.dumps(idf))
    (module / "model.safetensors").unlink()
    (module / "config.json").write_text(json.dumps({"frozen": True, "path": str(module / "idf.json")}))
    ours, theirs = SparseEncoder(folder), reference(folder)
    queries = ours.encode_query(TEXTS).toarray()
    np.testing.assert_array_equal(queries, to_dense(theirs.encode_query(TEXTS)))
    assert (queries != 0).any() and ours.get_embedding_dimension() == len(vocab)
    # a path relative to the module folder (sentence-transformers reads relative paths from the working
    # directory only): the same weights
    (module / "config.json").write_text(json.dumps({"frozen": True, "path": "idf.json"}))
    np.testing.assert_array_equal(SparseEncoder(folder).encode_query(TEXTS).toarray(), queries)
    # saved: model.safetensors and {"frozen": true}, which sentence-transformers loads to the same vectors
    ours.save(str(tmp_path / "saved"))
    saved = tmp_path / "saved" / "query_0_SparseStaticEmbedding"
    assert (saved / "model.safetensors").is_file() and json.loads((saved / "config.json").read_text()) == {"frozen": True}
    np.testing.assert_array_equal(to_dense(reference(tmp_path / "saved").encode_query(TEXTS)), queries)
    # a path not ending in .json is ignored, as there: the folder's own weights (none here) are wanted
    (module / "config.json").write_text(json.dumps({"path": "idf.txt"}))
    with pytest.raises(OSError, match="needs model.safetensors or pytorch_model.bin"):
        SparseEncoder(folder)
    # hostile IDF files: a weight that is not a number, a file that is not an object
    (module / "config.json").write_text(json.dumps({"path": "idf.json"}))
    (module / "idf.json").write_text(json.dumps({"hello": "nan"}))
    with pytest.raises(ValueError, match="the weight of 'hello' must be a finite number"):
        SparseEncoder(folder)
    (module / "idf.json").write_text("[1, 2]")
    with pytest.raises(OSError, match="must hold a JSON object"):
        SparseEncoder(folder)


def test_weights_shorter_than_the_vocabulary(router_folder, tmp_path):
    folder = _broken_copy(router_folder, tmp_path, "short", lambda f: save_safetensors(
        {"weight": np.ones(1000, np.float32)}, f / "query_0_SparseStaticEmbedding" / "model.safetensors"))
    encoder = SparseEncoder(folder)
    assert encoder.get_embedding_dimension() == 1000  # the first route's width, as sentence-transformers
    with pytest.raises(ValueError, match=r"inputs\[0\]: token id \d+ is outside this SparseStaticEmbedding's 1000"):
        encoder.encode_query(["weather in new york"])


def test_pickles_with_its_routes(router_folder):
    """A SparseEncoder pickles (Ray ships encoders so): the fused head is packed again from the model on the
    other side; the same bits for both routes, plain SPLADE models too."""
    import pickle

    for folder in (router_folder, router_folder.parent / "mlm"):
        encoder = SparseEncoder(folder, tile_rows=100)
        back = pickle.loads(pickle.dumps(encoder))
        assert back.head.tile_rows == 100
        for method in ("encode_query", "encode_document"):
            np.testing.assert_array_equal(getattr(back, method)(TEXTS).toarray(),
                                          getattr(encoder, method)(TEXTS).toarray())
