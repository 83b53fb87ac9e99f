"""A SentenceTransformer indexed as a module list (model[0].auto_model, model[1].pooling_mode, len(model), Dense,
Normalize, a StaticEmbedding's model[0]) against sentence-transformers on the same folders; writes through a
view (max_seq_length, include_prompt) change what encode does, as there."""

from __future__ import annotations

import numpy as np
import pytest

from pybertcore import SentenceTransformer
from test_sentence import TEXTS
from test_sentence_static import make_static


def reference(folder, **kwargs):
    from sentence_transformers import SentenceTransformer as Reference

    return Reference(str(folder), device="cpu", **kwargs)


def test_module_list_of_a_transformer_model(minilm_dir):
    ours, theirs = SentenceTransformer(minilm_dir), reference(minilm_dir)
    assert len(ours) == len(theirs) == 3
    assert [type(m).__name__.replace("Module", "") for m in ours] == [type(m).__name__ for m in theirs]
    assert type(ours[0].auto_model).__name__ == type(theirs[0].auto_model).__name__ == "BertModel"
    assert ours[0].auto_model is ours.model and ours._first_module() is not None
    assert ours[0].max_seq_length == theirs[0].max_seq_length == 256
    assert ours[0].get_word_embedding_dimension() == theirs[0].get_embedding_dimension() == 384
    assert ours[1].pooling_mode == theirs[1].pooling_mode == "mean"
    assert ours[1].get_sentence_embedding_dimension() == theirs[1].get_embedding_dimension() == 384
    assert repr(ours[-1]) == repr(ours._last_module()) == "Normalize()"
    assert repr(ours[0]).startswith("Transformer({'max_seq_length': 256, 'do_lower_case': False")
    # writes go through to the encoder, as they go to sentence-transformers' modules
    for model in (ours, theirs):
        model[0].max_seq_length = 5
        model[1].include_prompt = False
    assert ours.max_seq_length == 5 and not ours.include_prompt
    np.testing.assert_allclose(ours.encode(TEXTS[:4], prompt="query: "), theirs.encode(TEXTS[:4], prompt="query: "),
                               atol=1e-5)


def test_dense_and_static_modules(minilm_dir, tmp_path):
    folder = make_static(tmp_path / "static", minilm_dir, ("Dense", "Normalize"))
    ours, theirs = SentenceTransformer(folder), reference(folder)
    assert len(ours) == len(theirs) == 3
    assert ours[0].get_embedding_dimension() == theirs[0].get_embedding_dimension() == 48
    assert ours[0].num_embeddings == theirs[0].num_embeddings and ours[0].max_seq_length == theirs[0].max_seq_length
    assert (ours[1].in_features, ours[1].out_features) == (theirs[1].in_features, theirs[1].out_features) == (48, 16)
    assert repr(ours[1]).startswith("Dense({'in_features': 48, 'out_features': 16, 'bias': True")
    np.testing.assert_allclose(ours[1].weight, theirs[1].linear.weight.detach().numpy())


def test_dense_weights_in_pytorch_model_bin(minilm_dir, tmp_path):
    """Older sentence-transformers models (distiluse's, LaBSE's) keep Dense weights in pytorch_model.bin only:
    read without torch or pickle."""
    reference(make_static(tmp_path / "static", minilm_dir, ("Dense", "Normalize"))).save(
        str(tmp_path / "bin"), safe_serialization=False)
    assert (tmp_path / "bin" / "1_Dense" / "pytorch_model.bin").is_file()
    assert not (tmp_path / "bin" / "1_Dense" / "model.safetensors").exists()
    ours, theirs = SentenceTransformer(tmp_path / "bin"), reference(tmp_path / "bin")
    np.testing.assert_allclose(ours.encode(TEXTS), theirs.encode(TEXTS), atol=1e-6)


@pytest.mark.parametrize("activation", ["ReLU", "GELU", "SiLU", "Sigmoid", "Tanh", "Identity"])
def test_dense_activations_as_sentence_transformers(minilm_dir, tmp_path, activation):
    import torch
    from sentence_transformers import SentenceTransformer as Reference
    from sentence_transformers.base.modules import Dense

    torch.manual_seed(0)
    static = reference(make_static(tmp_path / "static", minilm_dir))
    Reference(modules=[static[0], Dense(48, 32, activation_function=getattr(torch.nn, activation)())],
              device="cpu").save(str(tmp_path / "model"))
    ours, theirs = SentenceTransformer(tmp_path / "model"), reference(tmp_path / "model")
    # float32 products summed in another order: ~1e-6 apart before any squashing activation
    np.testing.assert_allclose(ours.encode(TEXTS), theirs.encode(TEXTS), atol=1e-5)
    assert ours[1].activation_function == theirs[1].get_config_dict()["activation_function"]


def test_unsupported_dense_activation_is_named(minilm_dir, tmp_path):
    import json

    folder = make_static(tmp_path / "static", minilm_dir, ("Dense",))
    config = json.loads((folder / "1_Dense" / "config.json").read_text())
    (folder / "1_Dense" / "config.json").write_text(json.dumps(
        dict(config, activation_function="torch.nn.modules.activation.ELU")))
    with pytest.raises(NotImplementedError, match="ELU.*supported: torch.nn's Tanh"):
        SentenceTransformer(folder)
