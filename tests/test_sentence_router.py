"""SentenceTransformer models with a Router (asymmetric models: one pipeline for queries, another for documents),
against sentence-transformers 6 on folders it saves: the route each task takes, the vectors of each route, the
modules after the Router, prompts, truncate_dim, precision, token embeddings, the module list, saving in the
Router layout (both libraries load it back), pickling, precision changes, and hostile router folders."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest

from pybertcore import SentenceTransformer
from pybertcore.checkpoints import CheckpointError
from test_sentence import TEXTS
from test_sentence_static import DIM, make_static

QUERIES = ["how do I bake bread", "A man is eating food.", "Crème brûlée à l'hôtel", "", "x " * 400]


def reference(folder, **kwargs):
    from sentence_transformers import SentenceTransformer as Reference

    return Reference(str(folder), device="cpu", **kwargs)


def make_dense_router(folder, minilm_dir, after=("Normalize",), route_mappings=None, default_route="document",
                      query="static"):
    """Router(query: StaticEmbedding + Dense(48 → 384, tanh) or the MiniLM with CLS pooling, document: the real
    MiniLM (Transformer, mean Pooling, Normalize)) and ``after`` (Dense 384 → 40, Normalize), saved by
    sentence-transformers."""
    import torch
    from sentence_transformers import SentenceTransformer as Reference
    from sentence_transformers.base.modules import Dense, Normalize, Router
    from sentence_transformers.sentence_transformer.modules import Pooling

    torch.manual_seed(0)
    document = Reference(str(minilm_dir), device="cpu")
    if query == "static":
        static = Reference(str(make_static(folder / "static", minilm_dir)), device="cpu")
        query_modules = list(static.children()) + [Dense(DIM, 384, activation_function=torch.nn.Tanh())]
    else:  # the same transformer module, pooled by CLS
        query_modules = [document[0], Pooling(384, pooling_mode="cls")]
    router = Router(sub_modules={"query": query_modules, "document": list(document.children())},
                    default_route=default_route, route_mappings=route_mappings)
    modules = [router] + [Dense(384, 40) if name == "Dense" else Normalize() for name in after]
    Reference(modules=modules, device="cpu").save(str(folder / "router"))
    return folder / "router"


@pytest.fixture(scope="module")
def router_folder(minilm_dir, tmp_path_factory):
    return make_dense_router(tmp_path_factory.mktemp("dense-router"), minilm_dir)


def assert_close(ours, theirs):
    theirs = np.asarray(theirs)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, atol=2e-6)


def test_each_task_takes_its_route_as_sentence_transformers(router_folder):
    ours, theirs = SentenceTransformer(router_folder), reference(router_folder)
    assert_close(ours.encode_query(QUERIES), theirs.encode_query(QUERIES))
    assert_close(ours.encode_document(TEXTS), theirs.encode_document(TEXTS))
    assert_close(ours.encode(TEXTS), theirs.encode(TEXTS))  # the default route
    assert_close(ours.encode(QUERIES, task="query"), theirs.encode(QUERIES, task="query"))
    assert_close(ours.encode(TEXTS[0], task="document", modality="text"),
                 theirs.encode(TEXTS[0], task="document", modality="text"))
    # the query route (a table) and the document route (the transformer) really differ
    assert np.abs(ours.encode_query(TEXTS) - ours.encode_document(TEXTS)).max() > 0.1
    assert sorted(ours.get_model_kwargs()) == sorted(theirs.get_model_kwargs()) == ["modality", "task"]
    assert ours.get_sentence_embedding_dimension() == theirs.get_embedding_dimension() == 384
    assert ours.max_seq_length == theirs.max_seq_length == float("inf")  # the largest route's, as there
    with pytest.raises(ValueError) as mine:
        ours.encode(TEXTS, task="nope")
    with pytest.raises(ValueError) as reference_error:
        theirs.encode(TEXTS, task="nope")
    assert str(mine.value) == str(reference_error.value)
    with pytest.raises(ValueError, match="text only"):
        ours.encode(TEXTS, modality="image")


def test_prompts_truncation_precision_and_token_embeddings(router_folder):
    prompts = {"query": "query: ", "document": "passage: "}
    ours, theirs = SentenceTransformer(router_folder, prompts=prompts), reference(router_folder, prompts=prompts)
    assert_close(ours.encode_query(QUERIES), theirs.encode_query(QUERIES))
    assert_close(ours.encode_document(TEXTS, truncate_dim=64, normalize_embeddings=True),
                 theirs.encode_document(TEXTS, truncate_dim=64, normalize_embeddings=True))
    mine, reference_codes = ours.encode_query(QUERIES, precision="int8"), theirs.encode_query(QUERIES, precision="int8")
    assert mine.dtype == reference_codes.dtype and (mine == reference_codes).mean() >= 0.99
    np.testing.assert_array_equal(ours.encode_document(TEXTS, precision="ubinary"),
                                  theirs.encode_document(TEXTS, precision="ubinary"))
    tokens = ours.encode_document(TEXTS[:3], output_value="token_embeddings")
    for mine, reference_rows in zip(tokens, theirs.encode_document(TEXTS[:3], output_value="token_embeddings")):
        np.testing.assert_allclose(mine, reference_rows.numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="no token embeddings"):
        ours.encode_query(TEXTS, output_value="token_embeddings")
    every = ours.encode_document(TEXTS[:3], output_value=None)
    for mine, reference_features in zip(every, theirs.encode_document(TEXTS[:3], output_value=None)):
        np.testing.assert_array_equal(mine["input_ids"], reference_features["input_ids"].numpy())
        np.testing.assert_allclose(mine["sentence_embedding"], reference_features["sentence_embedding"].numpy(),
                                   atol=1e-5)
    with pytest.raises(ValueError, match="no token features"):
        ours.encode_query(TEXTS, output_value=None)
    # the length limit set on the model is every route's (sentence-transformers' Router sets it so, but fails
    # on a StaticEmbedding route, whose limit is read-only there: its transformer route is set directly)
    ours.max_seq_length = theirs[0].sub_modules["document"][0].max_seq_length = 6
    assert ours.max_seq_length == 6
    assert_close(ours.encode_document(TEXTS), theirs.encode_document(TEXTS))
    for name in ("input_ids", "attention_mask"):
        np.testing.assert_array_equal(ours.preprocess(TEXTS, task="document")[name],
                                      theirs.preprocess(TEXTS, task="document")[name].numpy())


@pytest.mark.parametrize("after", [(), ("Dense", "Normalize")], ids=["nothing-after", "dense-normalize-after"])
def test_modules_after_the_router_and_shared_transformers(minilm_dir, tmp_path, after):
    folder = make_dense_router(tmp_path, minilm_dir, after=after, query="cls",
                               route_mappings={("query", None): "query"}, default_route="document")
    ours, theirs = SentenceTransformer(folder), reference(folder)
    assert ours.get_sentence_embedding_dimension() == theirs.get_embedding_dimension()
    for task in ("query", "document", None):
        assert_close(ours.encode(TEXTS, task=task), theirs.encode(TEXTS, task=task))
    # both routes list the same Transformer folder: it is saved once, and loaded once per route
    config = json.loads((folder / "router_config.json").read_text())
    assert config["structure"]["query"][0] == config["structure"]["document"][0]


def test_module_list_save_and_reload_in_both_libraries(router_folder, tmp_path):
    ours, theirs = SentenceTransformer(router_folder), reference(router_folder)
    assert len(ours) == len(theirs) == 2
    assert type(ours[0]).__name__ == "RouterModule" and repr(ours[1]) == "Normalize()"
    assert sorted(ours[0].sub_modules) == sorted(theirs[0].sub_modules) == ["document", "query"]
    assert [type(m).__name__ for m in ours[0].sub_modules["query"]] == ["StaticEmbedding", "_Dense"]
    assert ours[0].default_route == theirs[0].default_route == "document"
    ours.save(tmp_path / "saved")
    config = json.loads((tmp_path / "saved" / "router_config.json").read_text())
    assert config["structure"] == {"query": ["query_0_StaticEmbedding", "query_1_Dense"],
                                   "document": ["document_0_Transformer", "document_1_Pooling", "document_2_Normalize"]}
    again, theirs_again = SentenceTransformer(tmp_path / "saved"), reference(tmp_path / "saved")
    for encode in ("encode_query", "encode_document"):
        np.testing.assert_array_equal(getattr(again, encode)(TEXTS), getattr(ours, encode)(TEXTS))
        assert_close(getattr(ours, encode)(TEXTS), getattr(theirs_again, encode)(TEXTS))


def test_pickle_and_precision_changes(router_folder):
    ours = SentenceTransformer(router_folder)
    copy = pickle.loads(pickle.dumps(ours))
    for encode in ("encode_query", "encode_document"):
        np.testing.assert_array_equal(getattr(copy, encode)(TEXTS), getattr(ours, encode)(TEXTS))
    float32 = ours.encode_document(TEXTS)
    assert ours.bfloat16() is ours and ours.dtype == "bfloat16"
    np.testing.assert_array_equal(ours.encode_document(TEXTS),
                                  SentenceTransformer(router_folder, model_kwargs={"dtype": "bfloat16"})
                                  .encode_document(TEXTS))
    np.testing.assert_array_equal(ours.float().encode_document(TEXTS), float32)
    # a text's vector does not depend on its batch, behind a Router too
    np.testing.assert_array_equal(ours.encode_query(QUERIES[1:2]), ours.encode_query(QUERIES)[1:2])


def _edit(file_name, edit):
    """A change to one JSON file of the router folder."""
    def change(folder):
        path = folder / file_name
        value = json.loads(path.read_text())
        edit(value)
        path.write_text(json.dumps(value))
    return change


@pytest.mark.parametrize("change, error, match", [
    (_edit("modules.json", lambda m: m.__setitem__(1, dict(
        m[1], type="sentence_transformers.sentence_transformer.modules.pooling.Pooling"))),
     NotImplementedError, "Router as the first module"),
    (_edit("router_config.json", lambda c: c["types"].__setitem__("query_1_Dense", "somewhere.Unknown")),
     NotImplementedError, "Unknown"),
    (_edit("router_config.json", lambda c: c["structure"].__setitem__("query", ["document_1_Pooling"])),
     NotImplementedError, "no Transformer or StaticEmbedding"),
    (_edit("router_config.json", lambda c: c["types"].__setitem__(
        "../escape", "sentence_transformers.base.modules.normalize.Normalize")),
     ValueError, "inside the model folder"),
    (_edit("router_config.json", lambda c: c["parameters"].__setitem__("default_route", "elsewhere")),
     ValueError, "default_route"),
    (_edit("router_config.json", lambda c: c["parameters"].__setitem__("route_mappings",
                                                                         {"__import__('os')": "query"})),
     ValueError, "route_mappings"),
    (lambda folder: (folder / "router_config.json").write_text("{"), OSError, "router_config.json"),
], ids=["pooling-after-router", "unknown-module", "no-input-module", "escaping-module", "bad-default",
        "bad-mapping", "not-json"])
def test_hostile_router_folders(router_folder, tmp_path, change, error, match):
    folder = tmp_path / "broken"
    shutil.copytree(router_folder, folder)
    change(folder)
    with pytest.raises(error, match=match):
        SentenceTransformer(folder)


def test_dense_after_the_router_must_fit_every_route(minilm_dir, tmp_path):
    """A Dense layer after the Router takes what every route gives: a route of another width is refused
    when the model loads (sentence-transformers fails on the first call through it)."""
    folder = make_dense_router(tmp_path, minilm_dir, after=("Dense",))
    config = json.loads((folder / "router_config.json").read_text())
    # the query route without its Dense (48 → 384): it gives 48 features
    config["structure"]["query"] = config["structure"]["query"][:1]
    (folder / "router_config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="takes 384 features, the module before it gives 48 or 384"):
        SentenceTransformer(folder)
