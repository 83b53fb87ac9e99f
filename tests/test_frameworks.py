"""Outputs follow the inputs' framework: torch tensors in → torch tensors out, numpy or lists in → numpy
out; torch is imported only when the user hands us torch objects."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import CHILD_CWD, child_env
from family_models import AUTO_FOR_HEAD, HEADS, make_transformers_model, ragged_inputs

import pybertcore


def _arrays(value):
    """Every array-like leaf of an output, in order."""
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in _arrays(v)]
    if isinstance(value, dict):
        return [a for v in value.values() for a in _arrays(v)]
    return [] if value is None else [value]


@pytest.mark.parametrize("suffix", ["Model"] + HEADS)
@pytest.mark.parametrize("family", ["bert", "distilbert"])
def test_torch_in_torch_out(tmp_path, family, suffix):
    make_transformers_model(family, suffix, tmp_path)
    model = getattr(pybertcore, AUTO_FOR_HEAD[suffix]).from_pretrained(tmp_path)
    inputs = ragged_inputs(family, 0)
    if suffix == "ForMultipleChoice":
        inputs = {k: np.stack([v, v[::-1]], axis=1) for k, v in inputs.items()}
    flags = dict(output_hidden_states=True, output_attentions=True)
    numpy_out = model(**inputs, **flags)
    torch_out = model(**{k: torch.from_numpy(v) for k, v in inputs.items()}, **flags)
    assert type(torch_out) is type(numpy_out) and list(torch_out.keys()) == list(numpy_out.keys())
    ours, theirs = _arrays(numpy_out), _arrays(torch_out)
    assert len(ours) == len(theirs) > 0
    for a, t in zip(ours, theirs):
        assert isinstance(a, np.ndarray) and isinstance(t, torch.Tensor)
        assert t.dtype == torch.float32 and t.device.type == "cpu"
        np.testing.assert_array_equal(t.numpy(), a)
    # attribute, key and index access give the same tensors; return_dict=False gives a tuple of them
    first = next(iter(torch_out.keys()))
    assert getattr(torch_out, first) is torch_out[first] is torch_out[0]
    plain = model(**{k: torch.from_numpy(v) for k, v in inputs.items()}, return_dict=False)
    assert isinstance(plain, tuple) and all(isinstance(t, torch.Tensor) for t in _arrays(plain))


def test_lists_and_numpy_give_numpy():
    model = pybertcore.BertModel(pybertcore.BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                                       intermediate_size=37))
    assert isinstance(model([[1, 2, 3]]).last_hidden_state, np.ndarray)
    assert isinstance(model(np.array([[1, 2, 3]])).pooler_output, np.ndarray)
    # one torch argument is enough: the mask alone
    out = model([[1, 2, 3]], attention_mask=torch.tensor([[1, 1, 0]]))
    assert isinstance(out.last_hidden_state, torch.Tensor)


def test_course_softmax_line_runs_on_our_logits(tmp_path):
    """The course's next line after the model call: torch.nn.functional.softmax(outputs.logits, dim=-1)."""
    make_transformers_model("bert", "ForSequenceClassification", tmp_path)
    model = pybertcore.AutoModelForSequenceClassification.from_pretrained(tmp_path)
    with torch.no_grad():
        outputs = model(torch.tensor([[1, 5, 7, 2]]), labels=torch.tensor([1]))
    predictions = torch.nn.functional.softmax(outputs.logits, dim=-1)
    assert predictions.shape == (1, 2) and torch.allclose(predictions.sum(-1), torch.ones(1))
    assert isinstance(outputs.loss, torch.Tensor) and outputs.loss.ndim == 0


def test_import_does_not_import_torch():
    code = "import sys, pybertcore; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env=child_env(), cwd=CHILD_CWD, capture_output=True, text=True,
                         check=True, timeout=120).stdout.strip()
    assert out == "False"


def test_nn_module_habits(tmp_path):
    make_transformers_model("bert", "ForSequenceClassification", tmp_path)
    model = pybertcore.AutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert model.eval() is model and model.train(False) is model and model.requires_grad_(False) is model
    assert model.cpu() is model and model.float() is model and model.to("cpu") is model
    assert model.training is False and model.main_input_name == "input_ids"
    assert model.device == "cpu" and model.device.type == "cpu" and str(model.device) == "cpu"
    assert model.name_or_path == str(tmp_path)
    assert torch.ones(2).to(model.device).device.type == "cpu"
    for call, message in ((model.train, "inference only"), (lambda: model.train(True), "inference only"),
                          (model.half, "bfloat16"), (model.cuda, "CPU only"), (lambda: model.to("cuda"), "CPU only")):
        with pytest.raises(NotImplementedError, match=message):
            call()
    assert model.bfloat16().dtype == "bfloat16" and model.float().dtype == "float32"
    assert model.to(torch.float32) is model and model.to(dtype=torch.float32).dtype == "float32"
    with torch.no_grad(), torch.inference_mode():
        logits = model(torch.tensor([[1, 2, 3]])).logits
    assert isinstance(logits, torch.Tensor)
