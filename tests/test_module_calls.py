"""The torch module calls sentence-transformers code makes on a model, on SentenceTransformer, CrossEncoder and
SparseEncoder alike: ``to``, ``cpu``, ``eval``, ``train(False)``, ``float``, ``bfloat16``, ``half``, ``dtype``,
``config``, ``processor``, ``training``. A precision change must give what loading in that precision gives,
bit for bit (a SparseEncoder's fused head is packed again), and ``float()`` must bring back the float32 bits."""

from __future__ import annotations

import numpy as np
import pytest

from pybertcore import CrossEncoder, SentenceTransformer, SparseEncoder
from test_cross_encoder import make_checkpoint
from test_sentence import TEXTS
from test_sentence_static import make_static
from test_sparse_encoder import make_splade
from test_sparse_router import make_router_model

PAIRS = [(TEXTS[0], TEXTS[1]), (TEXTS[2], TEXTS[3]), (TEXTS[4], TEXTS[0])]


@pytest.fixture(scope="module")
def folders(minilm_dir, tmp_path_factory):
    return {
        "sentence": minilm_dir,
        "cross": make_checkpoint(tmp_path_factory.mktemp("cross"), minilm_dir, 1),
        "sparse": make_splade(tmp_path_factory.mktemp("splade"), minilm_dir),
        "router": make_router_model(tmp_path_factory.mktemp("router"), minilm_dir),
        "static": make_static(tmp_path_factory.mktemp("static"), minilm_dir),
    }


def run(model):
    """The model's main output on fixed inputs, as a dense float array."""
    if isinstance(model, CrossEncoder):
        return model.predict(PAIRS)
    if isinstance(model, SparseEncoder):
        return model.encode_document(TEXTS[:5]).toarray()
    return model.encode(TEXTS[:5])


LOADERS = {"sentence": SentenceTransformer, "cross": CrossEncoder, "sparse": SparseEncoder,
           "router": SparseEncoder}


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_precision_changes_as_loading_in_that_precision(folders, kind):
    load = LOADERS[kind]
    model = load(folders[kind])
    float32 = run(model)
    assert model.dtype == "float32"
    for dtype, change in (("bfloat16", lambda m: m.bfloat16()), ("int8", lambda m: m.to(dtype="int8")),
                          ("bfloat16", lambda m: m.to("bfloat16"))):
        assert change(model) is model
        assert model.dtype == dtype
        np.testing.assert_array_equal(run(model), run(load(folders[kind], model_kwargs={"dtype": dtype})))
    assert model.float() is model and model.dtype == "float32"
    np.testing.assert_array_equal(run(model), float32)


@pytest.mark.parametrize("kind", sorted(LOADERS) + ["static"])
def test_device_and_mode_calls(folders, kind):
    model = (LOADERS.get(kind) or SentenceTransformer)(folders[kind])
    before = run(model)
    assert model.to("cpu") is model and model.cpu() is model and model.eval() is model
    assert model.train(False) is model and model.training is False
    with pytest.raises(NotImplementedError, match="inference only"):
        model.train()
    with pytest.raises(NotImplementedError, match="half"):
        model.half()
    with pytest.raises(NotImplementedError, match="cuda"):
        model.to("cuda")
    with pytest.raises(NotImplementedError, match="CPU only"):
        model.cuda()
    np.testing.assert_array_equal(run(model), before)
    assert model.processor is model.tokenizer


def test_config_and_dtype_as_sentence_transformers(folders):
    from sentence_transformers import SentenceTransformer as Reference

    ours, theirs = SentenceTransformer(folders["sentence"]), Reference(str(folders["sentence"]), device="cpu")
    assert ours.config is ours.model.config
    assert ours.config.hidden_size == theirs.config.hidden_size == 384
    assert str(theirs.dtype) == "torch." + ours.dtype
    cross = CrossEncoder(folders["cross"])
    assert cross.config is cross.model.config and cross.config.num_labels == 1
    sparse = SparseEncoder(folders["router"])
    assert sparse.config is sparse.model.config
    static = SentenceTransformer(folders["static"])
    assert static.config is None and static.dtype == "float32"
    assert static.float() is static and static.to(dtype="float32") is static  # what it already is
    with pytest.raises(NotImplementedError, match="StaticEmbedding"):
        static.bfloat16()


def test_cross_encoder_preprocess_as_sentence_transformers(folders, caplog):
    from sentence_transformers import CrossEncoder as Reference

    ours, theirs = CrossEncoder(folders["cross"]), Reference(str(folders["cross"]), device="cpu")
    for inputs, prompt in ((PAIRS, None), (PAIRS[:1], "Q: "), ([TEXTS[0], TEXTS[3]], None), ([TEXTS[2]], "Q: ")):
        mine, reference = ours.preprocess(inputs, prompt=prompt), theirs.preprocess(inputs, prompt=prompt)
        for name in ("input_ids", "attention_mask", "token_type_ids"):
            assert isinstance(mine[name], np.ndarray)
            np.testing.assert_array_equal(mine[name], reference[name].numpy())
    ours.max_seq_length = 6
    assert ours.preprocess(PAIRS)["input_ids"].shape == (3, 6)
    with caplog.at_level("WARNING", logger="pybertcore"):
        np.testing.assert_array_equal(ours.tokenize(PAIRS)["input_ids"], ours.preprocess(PAIRS)["input_ids"])
    for bad in ([("a", "b"), "c"], [("a", "b", "c")], [("a", 3)]):
        with pytest.raises(ValueError, match="inputs"):
            ours.preprocess(bad)
