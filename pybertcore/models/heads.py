"""Task heads on the family encoder: sequence and token classification, question answering, masked LM,
multiple choice. Each family declares its heads as data (``Head``: which encoder output feeds it and a
list of linear and LayerNorm steps named as in transformers); the computation runs in the C++ core
(``_core.Dense``, ``_core.layer_norm``, GIL released there).

Token-level heads (token classification, QA, masked LM) run on the real tokens only: a padded position
(attention_mask 0) gets the head applied to the zero vector, which is what ``last_hidden_state`` holds
there; transformers computes a value from the padded token instead, so compare logits on real tokens.
Losses (``labels=...``) are computed in numpy in float64, as transformers' do in torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Optional, Union

import numpy as np

from pybertcore import _core
from pybertcore.activations import activation_from_name
from pybertcore.configuration_utils import PretrainedConfig
from pybertcore.frameworks import follows_input_framework
from pybertcore.inputs import _to_numpy
from pybertcore.memory import check_allocation
from pybertcore.modeling_outputs import (
    MaskedLMOutput,
    MultipleChoiceModelOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from pybertcore.modeling_utils import INIT_NORMAL, INIT_ZEROS, CoreParam, ParamSpec, all_finite, layer_norm_specs
from pybertcore.models.config_checks import config_flag_holds
from pybertcore.models.encoder_model import EncoderDims, EncoderPreTrainedModel

# A size: an int, or a name resolved against the config: "H", "E", "V" (EncoderDims), "num_labels".
Size = Union[int, str]


@dataclass(frozen=True)
class Linear:
    """y = act(x · Wᵀ + b), parameters ``<name>.weight`` (out, in) and ``<name>.bias`` (out).

    ``act``: a transformers activation name, ``"config:<field>"`` to read it from the config (None there
    means identity), or None. ``tied_weight``: the encoder parameter (name without the model prefix)
    the weight shares storage with, ``tied_bias``: the head parameter the bias shares storage with
    (transformers' ``cls.predictions.bias``); both only when ``config.tie_word_embeddings``. ``when``: a boolean
    config field (``"!<field>"``: its negation); the step and its parameters exist only when it holds (every
    step takes one).
    """

    name: str
    out: Size
    inp: Size = "H"
    act: Optional[str] = None
    tied_weight: Optional[str] = None
    tied_bias: Optional[str] = None
    when: Optional[str] = None
    bias: Union[bool, str] = True  # or "config:<field>" (ModernBERT's classifier_bias, decoder_bias)


@dataclass(frozen=True)
class Norm:
    """LayerNorm over ``size`` features (eps: the family's), parameters ``<name>.weight``, ``<name>.bias``
    (the bias only when ``bias``: a bool or "config:<field>")."""

    name: str
    size: Size = "H"
    bias: Union[bool, str] = True
    when: Optional[str] = None


@dataclass(frozen=True)
class Bias:
    """A bare bias vector (``cls.predictions.bias``), used through a Linear's ``tied_bias``."""

    name: str
    size: Size
    when: Optional[str] = None


@dataclass(frozen=True)
class EmbeddingDecoder:
    """logits = x · (the encoder's word embeddings)ᵀ + ``bias`` (a Bias step's name): DeBERTa's non-legacy
    masked-LM head, which reads the table itself and has no decoder module or parameter of its own."""

    bias: str
    when: Optional[str] = None


@dataclass(frozen=True)
class Head:
    """A head: its input (``"pooled"`` the pooler output, ``"first"`` position 0 of the last hidden
    state, ``"first_real"`` each sequence's first real token, ``"mean"`` the mean over real tokens,
    ``"tokens"`` every position, or ``"config:<field>"``: ``cls_input`` when the field says "cls", else
    "mean", as ModernBERT's classifier_pooling) and its steps. ``order``: the parameters' module names in
    transformers' state_dict order, when that differs from the steps' order."""

    input: str
    steps: tuple
    order: Optional[tuple[str, ...]] = None
    cls_input: str = "first"


# One linear layer on the pooler output: BERT's, ALBERT's, NomicBERT's and GTE's sequence classification.
POOLED_CLASSIFICATION_HEAD = Head("pooled", (Linear("classifier", "num_labels"),))
# The token-level heads every family declares the same way: one linear layer on each position.
TOKEN_CLASSIFICATION_HEAD = Head("tokens", (Linear("classifier", "num_labels"),))
QUESTION_ANSWERING_HEAD = Head("tokens", (Linear("qa_outputs", "num_labels"),))


def _size(size: Size, dims: EncoderDims, config: PretrainedConfig) -> int:
    if isinstance(size, int):
        return size
    if size == "num_labels":
        return config.num_labels
    return getattr(dims, size)


def _flag(value: Union[bool, str], config: PretrainedConfig) -> bool:
    if isinstance(value, str) and value.startswith("config:"):
        return bool(getattr(config, value[len("config:"):]))
    return bool(value)


def _activation(act: Optional[str], config: PretrainedConfig) -> Any:
    if act is not None and act.startswith("config:"):
        field = act[len("config:"):]
        act = getattr(config, field)
        if act is None:
            return _core.Activation.identity
        return activation_from_name(act, field)
    return _core.Activation.identity if act is None else activation_from_name(act)


class EncoderForTask(EncoderPreTrainedModel):
    """A family encoder (parameters under ``<base_model_prefix>.``) with the head the class declares."""

    head_spec: ClassVar[Head]  # not "head": ModernBERT has a module of that name
    # transformers' XLM-R and CamemBERT heads register the head before the encoder: state_dict lists it first.
    _head_params_first: ClassVar[bool] = False

    def __init__(self, config: PretrainedConfig) -> None:
        self._with_pooler = self.head_spec.input == "pooled"
        if self._with_pooler and self.layout.pooler is None:
            raise TypeError(f"{type(self).__name__}: a pooled head on a family without a pooler")
        super().__init__(config)

    @property
    def _encoder_prefix(self) -> str:  # type: ignore[override]
        return self.base_model_prefix + "."

    def _module_tree(self):
        """The tree, its base-model module callable as transformers' (``model.bert(**inputs)``)."""
        tree = super()._module_tree()
        base = tree._children.get(self.base_model_prefix)
        if base is not None and base._forward is None:
            object.__setattr__(base, "_forward", self._base_forward)
        return tree

    @follows_input_framework
    def _base_forward(self, input_ids: Any = None, attention_mask: Any = None, token_type_ids: Any = None,
                      position_ids: Any = None, head_mask: Any = None, inputs_embeds: Any = None,
                      output_attentions: Optional[bool] = None, output_hidden_states: Optional[bool] = None,
                      return_dict: Optional[bool] = None) -> Any:
        return self._base_output(input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds,
                                 output_attentions, output_hidden_states, return_dict)

    def _steps(self) -> list:
        return [s for s in self.head_spec.steps if config_flag_holds(s.when, self.config)]

    def _head_param_specs(self) -> list[ParamSpec]:
        d, c, pre = self.dims, self.config, self._encoder_prefix
        by_module: dict[str, list[ParamSpec]] = {}
        for step in self._steps():
            if isinstance(step, EmbeddingDecoder):
                continue  # the encoder's word embeddings and a Bias step's vector: no parameter of its own
            if isinstance(step, Bias):
                by_module[step.name] = [ParamSpec(step.name, (_size(step.size, d, c),), INIT_ZEROS)]
            elif isinstance(step, Norm):
                by_module[step.name] = layer_norm_specs(step.name, _size(step.size, d, c), _flag(step.bias, c))
            else:
                out, inp = _size(step.out, d, c), _size(step.inp, d, c)
                # transformers ties both or neither, by tie_word_embeddings
                tie = bool(c.tie_word_embeddings)
                tied_weight = pre + step.tied_weight if step.tied_weight and tie else None
                tied_bias = step.tied_bias if tie else None
                by_module[step.name] = [ParamSpec(f"{step.name}.weight", (out, inp), INIT_NORMAL, tied_to=tied_weight)]
                if _flag(step.bias, c):
                    by_module[step.name].append(ParamSpec(f"{step.name}.bias", (out,), INIT_ZEROS, tied_to=tied_bias))
        order = self.head_spec.order or tuple(by_module)
        return [spec for module in order if module in by_module for spec in by_module[module]]

    def _param_specs(self) -> list[ParamSpec]:
        if self._head_params_first:
            return self._initialised(self._head_param_specs() + self._encoder_param_specs())
        return self._initialised(self._encoder_param_specs() + self._head_param_specs())

    def _build(self, nonfinite: Optional[list] = None) -> None:
        # The head first: an MLM decoder tied to the word embeddings packs that table a second time, and
        # once its file pages are released the encoder's piece-by-piece build starts from a small base
        # (bert-base MLM: load peak over the interpreter 1.45x -> 1.30x of the weights).
        c = self.config
        head_ops: list = []
        sources = []
        handed: dict[str, CoreParam] = {}  # head parameters that only their packed Dense keeps
        for step in self._steps():
            if isinstance(step, EmbeddingDecoder):
                table = self._params[f"{self._encoder_prefix}{self.layout.word_embeddings}.weight"]
                bias = self._params[step.bias]
                dense = _core.Dense(np.ascontiguousarray(table, dtype=np.float32),
                                    np.ascontiguousarray(bias, dtype=np.float32))
                head_ops.append(("dense", dense, _core.Activation.identity))
                handed[step.bias] = CoreParam(bias.shape, dense.bias)
                sources.append(bias)
                continue
            if not isinstance(step, (Linear, Norm)):
                continue
            w_name, b_name = (self._tied.get(f"{step.name}.{part}", f"{step.name}.{part}") for part in ("weight", "bias"))
            has_bias = _flag(step.bias, c)
            weight = self._params[w_name]
            bias = self._params[b_name] if has_bias else None
            sources += [weight] + ([bias] if has_bias else [])
            if nonfinite is not None:
                nonfinite += [n for n, v in ((w_name, weight), (b_name, bias)) if v is not None and not all_finite(v)]
            if isinstance(step, Linear):
                dense = _core.Dense(np.ascontiguousarray(weight, dtype=np.float32),
                                    None if bias is None else np.ascontiguousarray(bias, dtype=np.float32))
                head_ops.append(("dense", dense, _activation(step.act, c)))
                handed[w_name] = CoreParam(weight.shape, dense.weight)
                if has_bias:
                    handed[b_name] = CoreParam(bias.shape, dense.bias)
            else:  # read by every call: copies of the model's own, never views of a checkpoint file
                self._params[w_name] = np.array(weight, dtype=np.float32)
                if has_bias:
                    self._params[b_name] = np.array(bias, dtype=np.float32)
                    norm_bias = self._params[b_name]
                else:  # a LayerNorm without bias adds zeros
                    norm_bias = np.zeros(weight.shape, dtype=np.float32)
                head_ops.append(("norm", self._params[w_name], norm_bias))
        self._release_pages([a for a in sources if a.size > 4096])
        in_encoder = self._build_encoder(nonfinite)
        for name, param in handed.items():
            if name not in in_encoder:  # a decoder tied to the word embeddings reads them from the encoder
                self._params[name] = param
        self._head_ops = head_ops

    def _run_head(self, x: np.ndarray) -> np.ndarray:
        """The head's steps on (M, H) rows; (M, out)."""
        eps = self.dims.eps
        x = np.ascontiguousarray(x, dtype=np.float32)
        for kind, a, b in self._head_ops:
            x = a.forward(x, b) if kind == "dense" else _core.layer_norm(x, a, b, eps)
        return x

    def _head_input(self) -> str:
        kind = self.head_spec.input
        if kind.startswith("config:"):
            kind = self.head_spec.cls_input if getattr(self.config, kind[len("config:"):]) == "cls" else "mean"
        return kind

    def _head_logits(self, out: dict[str, Any]) -> np.ndarray:
        """(B, out) for sequence heads, (B, T, out) for token heads, from what _encode gave for the head's input."""
        kind = self._head_input()
        if kind == "pooled":
            return self._run_head(out["pooler_output"])
        if kind == "tokens":
            return self._token_logits(out["packed_rows"], out["packed_index"], out["packed_shape"])
        return self._run_head(out["mean_pooled"] if kind == "mean" else out["first_hidden_state"])

    def _token_logits(self, rows: np.ndarray, index: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """(B, T, out) logits of a token head from the core's packed rows (N, H) at flat places ``index``.
        A place the core did not compute (a masked token) gets the head of the zero vector, which is what
        ``last_hidden_state`` holds there; transformers computes a value from the padded token instead."""
        B, T = shape
        H = rows.shape[1]
        width = next(op[1].out_features for op in reversed(self._head_ops) if op[0] == "dense")
        # the head's rows and the (B, T, width) logits they are scattered into
        check_allocation((len(index) + B * T) * width * 4,
                         f"{type(self).__name__}: logits of shape ({B}, {T}, {width})")
        head_rows = self._run_head(rows)
        if len(index) == B * T:
            return head_rows.reshape(B, T, -1)
        logits = np.empty((B * T, head_rows.shape[1]), dtype=np.float32)
        logits[:] = self._run_head(np.zeros((1, H), dtype=np.float32))
        logits[index] = head_rows
        return logits.reshape(B, T, -1)

    def _run_task(self, inputs: dict, output_attentions: Optional[bool], output_hidden_states: Optional[bool],
                  return_dict: Optional[bool], **targets: Any) -> Any:
        """The one path of every head's forward: inputs → encoder → head on its rows → the head's output."""
        output_attentions, output_hidden_states, return_dict = self._flags(
            output_attentions, output_hidden_states, return_dict
        )
        inputs, shape = self._task_inputs(inputs)
        kind = self._head_input()
        reads_only = {"pooled": "position0", "first": "position0", "tokens": "packed"}.get(kind, kind)
        out, _ = self._encode(**inputs, output_attentions=output_attentions,
                              output_hidden_states=output_hidden_states, reads_only=reads_only)
        result = self._task_output(self._head_logits(out), out, shape, **targets)
        return result if return_dict else result.to_tuple()

    def _task_inputs(self, inputs: dict) -> tuple[dict, tuple]:
        """The encoder's inputs from the forward's, and the shape the head's output takes back (multiple
        choice flattens its choices: passed along, not kept on the model, which may run several calls at once)."""
        return inputs, ()

    def _task_output(self, logits: np.ndarray, out: dict, shape: tuple, **targets: Any) -> Any:
        """The head's output class, with its loss when targets were given."""
        raise NotImplementedError


def _inputs(input_ids: Any, attention_mask: Any, token_type_ids: Any, position_ids: Any, head_mask: Any,
            inputs_embeds: Any) -> dict:
    return {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids,
            "position_ids": position_ids, "head_mask": head_mask, "inputs_embeds": inputs_embeds}


def _float_loss(value: float) -> np.ndarray:
    return np.asarray(value, dtype=np.float32)


def cross_entropy(logits: np.ndarray, labels: np.ndarray, ignore_index: int = -100,
                  name: str = "labels") -> np.ndarray:
    """Mean cross-entropy of (N, C) logits against N int labels, skipping ignore_index (as torch); torch's
    refusals as ValueErrors naming the argument: labels that are not integers, or not one per row."""
    labels = np.asarray(labels)
    if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == np.bool_):
        raise ValueError(f"{name}: class indices must be integers, got dtype {labels.dtype}")
    if labels.size != logits.shape[0]:
        raise ValueError(f"{name}: expected input batch_size ({logits.shape[0]}) to match target batch_size "
                         f"({labels.size}); got {name} of shape {tuple(labels.shape)}")
    logits = logits.astype(np.float64)
    labels = labels.reshape(-1).astype(np.int64)
    keep = labels != ignore_index
    if not keep.any():
        return _float_loss(np.nan)
    z = logits[keep]
    y = labels[keep]
    if y.min() < 0 or y.max() >= z.shape[1]:
        raise ValueError(f"{name}: values must be in [0, {z.shape[1]}) or {ignore_index}, got {sorted(set(y.tolist()))}")
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return _float_loss(-logp[np.arange(len(y)), y].mean())


def sequence_classification_loss(logits: np.ndarray, labels: Any, config: PretrainedConfig) -> np.ndarray:
    """transformers' problem_type rules: regression (MSE; both squeezed when num_labels is 1), single-label
    (CE) or multi-label (BCE with logits, labels of the logits' shape)."""
    labels = _to_numpy(labels, "labels")
    num_labels = config.num_labels
    problem_type = config.problem_type
    if problem_type is None:
        if num_labels == 1:
            problem_type = "regression"
        elif num_labels > 1 and np.issubdtype(labels.dtype, np.integer):
            problem_type = "single_label_classification"
        else:
            problem_type = "multi_label_classification"
    if problem_type == "regression":
        z, y = logits.astype(np.float64), labels.astype(np.float64)
        if num_labels == 1:
            z, y = z.squeeze(), y.squeeze()
        try:
            diff = z - y
        except ValueError:
            raise ValueError(f"labels: shape {tuple(labels.shape)} does not match the logits' "
                             f"{tuple(logits.shape)} (regression)") from None
        return _float_loss(np.mean(diff**2))
    if problem_type == "single_label_classification":
        return cross_entropy(logits.reshape(-1, num_labels), labels.reshape(-1))
    if labels.shape != logits.shape:
        raise ValueError(f"labels: target size {tuple(labels.shape)} must be the same as input size "
                         f"{tuple(logits.shape)} (multi_label_classification)")
    z, y = logits.astype(np.float64), labels.astype(np.float64)
    return _float_loss(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))


class ForSequenceClassification(EncoderForTask):
    """``logits`` (B, num_labels)."""

    head_kind = "sequence_classification"

    @follows_input_framework
    def forward(self, input_ids: Any = None, attention_mask: Any = None, token_type_ids: Any = None,
                position_ids: Any = None, head_mask: Any = None, inputs_embeds: Any = None, labels: Any = None,
                output_attentions: Optional[bool] = None, output_hidden_states: Optional[bool] = None,
                return_dict: Optional[bool] = None):
        return self._run_task(_inputs(input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds),
                              output_attentions, output_hidden_states, return_dict, labels=labels)

    __call__ = forward

    def _task_output(self, logits: np.ndarray, out: dict, shape: tuple, labels: Any = None) -> Any:
        loss = None if labels is None else sequence_classification_loss(logits, labels, self.config)
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=out["hidden_states"],
                                        attentions=out["attentions"])


class ForTokenClassification(EncoderForTask):
    """``logits`` (B, T, num_labels)."""

    head_kind = "token_classification"

    @follows_input_framework
    def forward(self, input_ids: Any = None, attention_mask: Any = None, token_type_ids: Any = None,
                position_ids: Any = None, head_mask: Any = None, inputs_embeds: Any = None, labels: Any = None,
                output_attentions: Optional[bool] = None, output_hidden_states: Optional[bool] = None,
                return_dict: Optional[bool] = None):
        return self._run_task(_inputs(input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds),
                              output_attentions, output_hidden_states, return_dict, labels=labels)

    __call__ = forward

    def _task_output(self, logits: np.ndarray, out: dict, shape: tuple, labels: Any = None) -> Any:
        loss = None
        if labels is not None:
            loss = cross_entropy(logits.reshape(-1, logits.shape[-1]), _to_numpy(labels, "labels"))
        return TokenClassifierOutput(loss=loss, logits=logits, hidden_states=out["hidden_states"],
                                     attentions=out["attentions"])


class ForQuestionAnswering(EncoderForTask):
    """``start_logits`` and ``end_logits`` (B, T). ``qa_outputs`` has ``num_labels`` rows, as in
    transformers; a span needs exactly two (start, end)."""

    head_kind = "question_answering"

    def __init__(self, config: PretrainedConfig) -> None:
        if config.num_labels != 2:
            raise ValueError(
                f"num_labels: {type(self).__name__} scores a start and an end per token and needs "
                f"num_labels=2, got {config.num_labels}"
            )
        super().__init__(config)

    @follows_input_framework
    def forward(self, input_ids: Any = None, attention_mask: Any = None, token_type_ids: Any = None,
                position_ids: Any = None, head_mask: Any = None, inputs_embeds: Any = None,
                start_positions: Any = None, end_positions: Any = None, output_attentions: Optional[bool] = None,
                output_hidden_states: Optional[bool] = None, return_dict: Optional[bool] = None):
        return self._run_task(_inputs(input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds),
                              output_attentions, output_hidden_states, return_dict,
                              start_positions=start_positions, end_positions=end_positions)

    __call__ = forward

    def _task_output(self, logits: np.ndarray, out: dict, shape: tuple, start_positions: Any = None,
                     end_positions: Any = None) -> Any:
        start_logits = np.ascontiguousarray(logits[..., 0])
        end_logits = np.ascontiguousarray(logits[..., 1])
        loss = None
        if start_positions is not None and end_positions is not None:
            # transformers clamps positions outside the sequence to T and ignores them
            T = start_logits.shape[1]
            starts = np.clip(_to_numpy(start_positions, "start_positions").reshape(-1), 0, T)
            ends = np.clip(_to_numpy(end_positions, "end_positions").reshape(-1), 0, T)
            loss = _float_loss(
                (cross_entropy(start_logits, starts, ignore_index=T, name="start_positions")
                 + cross_entropy(end_logits, ends, ignore_index=T, name="end_positions")) / 2
            )
        return QuestionAnsweringModelOutput(loss=loss, start_logits=start_logits, end_logits=end_logits,
                                            hidden_states=out["hidden_states"], attentions=out["attentions"])


class ForMaskedLM(EncoderForTask):
    """``logits`` (B, T, V); the decoder shares the word embeddings (``config.tie_word_embeddings``)."""

    head_kind = "masked_lm"

    @follows_input_framework
    def forward(self, input_ids: Any = None, attention_mask: Any = None, token_type_ids: Any = None,
                position_ids: Any = None, head_mask: Any = None, inputs_embeds: Any = None, labels: Any = None,
                output_attentions: Optional[bool] = None, output_hidden_states: Optional[bool] = None,
                return_dict: Optional[bool] = None):
        return self._run_task(_inputs(input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds),
                              output_attentions, output_hidden_states, return_dict, labels=labels)

    __call__ = forward

    def _task_output(self, logits: np.ndarray, out: dict, shape: tuple, labels: Any = None) -> Any:
        loss = None
        if labels is not None:
            loss = cross_entropy(logits.reshape(-1, logits.shape[-1]), _to_numpy(labels, "labels"))
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=out["hidden_states"], attentions=out["attentions"])


def _flatten_choices(value: Any, name: str) -> Optional[np.ndarray]:
    """(B, C, T) → (B·C, T); None stays None."""
    if value is None:
        return None
    arr = _to_numpy(value, name)
    if arr.ndim != 3:
        raise ValueError(f"{name} must be 3-D (batch, choices, tokens) for multiple choice, got shape {tuple(arr.shape)}")
    return arr.reshape(-1, arr.shape[-1])


class ForMultipleChoice(EncoderForTask):
    """Inputs (B, C, T); ``logits`` (B, C). Hidden states and attentions are per (B·C) sequence."""

    head_kind = "multiple_choice"

    @follows_input_framework
    def forward(self, input_ids: Any = None, attention_mask: Any = None, token_type_ids: Any = None,
                position_ids: Any = None, head_mask: Any = None, inputs_embeds: Any = None, labels: Any = None,
                output_attentions: Optional[bool] = None, output_hidden_states: Optional[bool] = None,
                return_dict: Optional[bool] = None):
        return self._run_task(_inputs(input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds),
                              output_attentions, output_hidden_states, return_dict, labels=labels)

    __call__ = forward

    def _task_inputs(self, inputs: dict) -> tuple[dict, tuple]:
        """(B, C, T) → (B·C, T): every choice runs as a sequence of its own; C goes to _task_output."""
        if inputs["input_ids"] is None:
            raise ValueError("input_ids is required (inputs_embeds is not supported)")
        ids = _to_numpy(inputs["input_ids"], "input_ids")
        if ids.ndim != 3:
            raise ValueError(
                f"input_ids must be 3-D (batch, choices, tokens) for multiple choice, got shape {tuple(ids.shape)}"
            )
        flat = {name: _flatten_choices(inputs[name], name) for name in ("attention_mask", "token_type_ids", "position_ids")}
        return {**inputs, "input_ids": ids.reshape(-1, ids.shape[-1]), **flat}, (ids.shape[1],)

    def _task_output(self, logits: np.ndarray, out: dict, shape: tuple, labels: Any = None) -> Any:
        (num_choices,) = shape
        logits = np.ascontiguousarray(logits.reshape(-1, num_choices))
        loss = None if labels is None else cross_entropy(logits, _to_numpy(labels, "labels"))
        return MultipleChoiceModelOutput(loss=loss, logits=logits, hidden_states=out["hidden_states"],
                                         attentions=out["attentions"])
