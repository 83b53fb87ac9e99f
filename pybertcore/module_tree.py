"""The module tree: every model's attribute tree named and printed as its transformers twin's.

``model.bert.encoder.layer[3].attention.self.query.weight`` reads a parameter (a read-only float32 numpy
array, read back from the core where it lives packed); assigning one (``model.classifier.weight = w``,
numpy or torch, shape checked) stores it and repacks the model, so the next forward uses it.
``print(model)`` prints torch's layout: class and module names, Linear / LayerNorm / Embedding / Dropout
lines with their sizes, repeated layers folded as ``(0-11): 12 x BertLayer(``.

A family describes its tree as data (``Node`` and the leaf specs below, sizes given as names resolved
against the model's dimensions and config); ``build`` turns a spec into Modules bound to one model.
Modules hold no values: parameters stay in the model (``PreTrainedModel._params``), read and written by
name. Nothing here computes; dropout and activation modules exist to be printed, as transformers shows
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Union

# A size: an int, or a name ("H", "I", "E", "V", "P", "TV", "num_labels", "pad" ...) that the tree's
# resolver turns into an int (or None, for an absent padding_idx).
Size = Union[int, str]


# --- specs: what a family writes --------------------------------------------------------------------
@dataclass(frozen=True)
class Node:
    """A container module: transformers' class name, its own parameters (name, shape) and its children."""

    cls: str
    children: tuple = ()
    params: tuple = ()  # ((name, (Size, ...)), ...): a parameter of the module itself (BERT's predictions.bias)


@dataclass(frozen=True)
class Layers:
    """A ModuleList of ``count`` modules built from ``node``; ``count`` a Size. ``first``, when given, is
    layer 0's spec instead (ModernBERT's first layer has no attention norm)."""

    count: Size
    node: Any
    first: Any = None


@dataclass(frozen=True)
class LinearSpec:
    inp: Size
    out: Size
    bias: Union[bool, str] = True  # a bool, or a boolean config field


@dataclass(frozen=True)
class LayerNormSpec:
    size: Size
    eps: Size = "eps"
    bias: Union[bool, str] = True  # a bool, or a boolean config field (ModernBERT's norm_bias)


@dataclass(frozen=True)
class EmbeddingSpec:
    num: Size
    dim: Size
    padding_idx: Optional[Size] = None


@dataclass(frozen=True)
class DropoutSpec:
    p: Size  # a config field name, or a number
    identity_when_zero: bool = False  # nn.Dropout(p) if p > 0 else nn.Identity(), as ModernBERT builds it


@dataclass(frozen=True)
class ActivationSpec:
    """An activation module, by transformers' activation name or a config field holding one."""

    name: str


@dataclass(frozen=True)
class PlainSpec:
    """A module printed as ``Name()`` and holding nothing (Tanh, CrossEntropyLoss)."""

    cls: str


# transformers' activation name → the class its ACT2CLS table builds (what print(model) shows).
ACTIVATION_CLASSES = {
    "gelu": "GELUActivation", "gelu_python": "GELUActivation", "gelu_new": "NewGELUActivation",
    "gelu_fast": "FastGELUActivation", "gelu_pytorch_tanh": "GELUTanh", "gelu_python_tanh": "GELUTanh",
    "gelu_accurate": "AccurateGELUActivation", "quick_gelu": "QuickGELUActivation", "relu": "ReLU",
    "relu6": "ReLU6", "silu": "SiLUActivation", "swish": "SiLU", "tanh": "Tanh", "sigmoid": "Sigmoid",
    "linear": "LinearActivation", "mish": "MishActivation",
}


# --- modules: what a model exposes ------------------------------------------------------------------
class Module:
    """A node of a model's tree. Children and own parameters are attributes; parameters are read from and
    written to the model by their full name."""

    _param_names: tuple = ()

    def __init__(self, cls_name: str) -> None:
        object.__setattr__(self, "_cls_name", cls_name)
        object.__setattr__(self, "_children", {})
        object.__setattr__(self, "_own", {})  # parameter name → its full name in the model
        object.__setattr__(self, "_model", None)
        object.__setattr__(self, "_forward", None)  # what calling the module runs (a head model's base model)

    # attribute access: children, then parameters
    def __getattr__(self, name: str) -> Any:
        children = object.__getattribute__(self, "_children")
        if name in children:
            return children[name]
        own = object.__getattribute__(self, "_own")
        if name in own:
            return object.__getattribute__(self, "_model").get_parameter(own[name])
        raise AttributeError(f"'{object.__getattribute__(self, '_cls_name')}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._own:
            self._model._set_parameter(self._own[name], value)
        elif name in self._children:
            raise AttributeError(f"{self._cls_name}.{name}: replacing modules is not supported; assign parameters")
        else:
            raise AttributeError(f"'{self._cls_name}' object has no parameter or module named '{name}'")

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._children) | set(self._own))

    # torch.nn.Module's traversal, by full name
    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        yield from self._children.items()

    def children(self) -> Iterator["Module"]:
        yield from self._children.values()

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        yield prefix, self
        for name, child in self._children.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator["Module"]:
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Any]]:
        """(name relative to this module, value) for each parameter, once (a tied one under its owner's
        name), own parameters before the children's, as torch orders them."""
        seen: set[str] = set()
        for name, module in (self.named_modules(prefix) if recurse else [(prefix, self)]):
            for own, full in module._own.items():
                key = module._model._tied_source(full)
                if key in seen:
                    continue
                seen.add(key)
                yield (f"{name}.{own}" if name else own), module._model.get_parameter(full)

    def parameters(self, recurse: bool = True) -> Iterator[Any]:
        for _, value in self.named_parameters(recurse=recurse):
            yield value

    # printing, as torch.nn.Module.__repr__ does
    def extra_repr(self) -> str:
        return ""

    def _get_name(self) -> str:
        return self._cls_name

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): {_indent(repr(child), 2)}" for name, child in self._children.items()]
        lines = extra_lines + child_lines
        text = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """A head model's base model (``model.bert(...)``, ``model.base_model(...)``) runs the encoder as the
        bare model would; other modules are views of parameters the core runs whole, not callable."""
        if self._forward is not None:
            return self._forward(*args, **kwargs)
        raise NotImplementedError(
            f"{self._cls_name} is a view of the model's parameters; call the model itself (the core runs it whole)"
        )


class ModuleList(Module):
    def __init__(self) -> None:
        super().__init__("ModuleList")

    def __getitem__(self, index: int) -> Module:
        items = list(self._children.values())
        return items[index]

    def __len__(self) -> int:
        return len(self._children)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._children.values()))

    def __repr__(self) -> str:
        """torch folds runs of identical entries: ``(0-11): 12 x BertLayer(...)``."""
        reprs = [repr(item) for item in self]
        if not reprs:
            return "ModuleList()"
        runs: list[list] = []  # [start, end, text]
        for i, text in enumerate(reprs):
            if runs and runs[-1][2] == text:
                runs[-1][1] = i
            else:
                runs.append([i, i, text])
        lines = []
        for start, end, text in runs:
            line = f"({start}): {text}" if start == end else f"({start}-{end}): {end - start + 1} x {text}"
            lines.append(_indent(line, 2))
        return "ModuleList(\n  " + "\n  ".join(lines) + "\n)"


class Linear(Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__("Linear")
        object.__setattr__(self, "in_features", in_features)
        object.__setattr__(self, "out_features", out_features)
        object.__setattr__(self, "_bias", bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self._bias}"


class LayerNorm(Module):
    def __init__(self, size: int, eps: float, bias: bool = True) -> None:
        super().__init__("LayerNorm")
        object.__setattr__(self, "normalized_shape", (size,))
        object.__setattr__(self, "eps", eps)
        object.__setattr__(self, "_bias", bias)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine=True, bias={self._bias}"


class Embedding(Module):
    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: Optional[int] = None) -> None:
        super().__init__("Embedding")
        object.__setattr__(self, "num_embeddings", num_embeddings)
        object.__setattr__(self, "embedding_dim", embedding_dim)
        object.__setattr__(self, "padding_idx", padding_idx)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        return text + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")


class Dropout(Module):
    def __init__(self, p: float) -> None:
        super().__init__("Dropout")
        object.__setattr__(self, "p", p)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace=False"


def _indent(text: str, spaces: int) -> str:
    """torch's _addindent: every line but the first indented."""
    lines = text.split("\n")
    return lines[0] if len(lines) == 1 else lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


# --- building a tree from a spec --------------------------------------------------------------------
def build(spec: Any, resolve: Callable[[Size], Any], model: Any, prefix: str) -> Module:
    """The Module a spec describes, its parameters named under ``prefix`` ("" at the root) in ``model``."""
    join = (lambda name: f"{prefix}.{name}") if prefix else (lambda name: name)
    if isinstance(spec, Node):
        module = Module(spec.cls)
        for name, _shape in spec.params:
            module._own[name] = join(name)
        for name, child in spec.children:
            module._children[name] = build(child, resolve, model, join(name))
    elif isinstance(spec, Layers):
        module = ModuleList()
        for i in range(resolve(spec.count)):
            node = spec.first if i == 0 and spec.first is not None else spec.node
            module._children[str(i)] = build(node, resolve, model, join(str(i)))
    elif isinstance(spec, LinearSpec):
        bias = bool(resolve(spec.bias)) if isinstance(spec.bias, str) else spec.bias
        module = Linear(resolve(spec.inp), resolve(spec.out), bias)
        module._own.update({"weight": join("weight"), **({"bias": join("bias")} if bias else {})})
    elif isinstance(spec, LayerNormSpec):
        bias = bool(resolve(spec.bias)) if isinstance(spec.bias, str) else spec.bias
        module = LayerNorm(resolve(spec.size), resolve(spec.eps), bias)
        module._own.update({"weight": join("weight"), **({"bias": join("bias")} if bias else {})})
    elif isinstance(spec, EmbeddingSpec):
        padding = resolve(spec.padding_idx) if spec.padding_idx is not None else None
        module = Embedding(resolve(spec.num), resolve(spec.dim), padding)
        module._own["weight"] = join("weight")
    elif isinstance(spec, DropoutSpec):
        p = resolve(spec.p)
        module = Module("Identity") if spec.identity_when_zero and not p > 0 else Dropout(p)
    elif isinstance(spec, ActivationSpec):
        name = resolve(spec.name)
        module = Module(ACTIVATION_CLASSES.get(name, "Identity") if name is not None else "Identity")
    elif isinstance(spec, PlainSpec):
        module = Module(spec.cls)
    else:
        raise TypeError(f"not a module spec: {type(spec).__name__}")
    _bind(module, model)
    return module


def _bind(module: Module, model: Any) -> None:
    object.__setattr__(module, "_model", model)
