"""PreTrainedModel: parameters under transformers' names, random initialisation, loading and saving.

A model's parameters are named exactly as transformers names them (``state_dict()``). They are handed
once to the C++ core, which packs them for its kernels; every parameter the core then holds exactly (all
of a float32 model's) is kept only there and read back when asked for (``CoreParam``), so a model holds
its weights once. The rest (the float32 originals of low-precision matrices, small head parameters) are
numpy arrays the model owns: once loaded, a model never reads its checkpoint file again, so rewriting
or truncating the file cannot reach it. Loading maps a checkpoint's names onto the model's (the
base-model prefix, legacy ``gamma``/``beta``), reports missing, unexpected, mismatched and non-finite
weights through the ``pybertcore`` logger in transformers' words, and builds the core.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections import OrderedDict, namedtuple
from pathlib import Path
from typing import Any, ClassVar, Optional

import numpy as np

from pybertcore import _core

from pybertcore.checkpoints import (
    WEIGHTS_FILE_NAMES,
    CheckpointError,
    MappedPages,
    find_weights_file,
    load_weights_file,
    release_pages,
    save_weights,
    weights_file_names,
)
from pybertcore.configuration_utils import DROPPED_KWARGS, PretrainedConfig, apply_config_overrides
from pybertcore.hub import resolve_model_folder
from pybertcore.loading import match_state_dict, parse_loading_arguments, report_loading, report_nonfinite
from pybertcore.models.config_checks import check_model_size
from pybertcore.module_tree import Module
from pybertcore.module_tree import build as build_module_tree
from pybertcore.recipes import deepcopy_model, model_recipe, reduce_model

logger = logging.getLogger("pybertcore")

_rng = np.random.default_rng()


def set_seed(seed: int) -> None:
    """Seeds the generator behind random initialisation (new models, newly initialised head weights)."""
    global _rng
    _rng = np.random.default_rng(seed)


def random_generator() -> np.random.Generator:
    return _rng


# How a parameter is initialised, as transformers' _init_weights does for BERT-family models.
INIT_NORMAL = "normal"  # N(0, initializer_range): Linear and Embedding weights
INIT_ZEROS = "zeros"  # biases, LayerNorm bias
INIT_ONES = "ones"  # LayerNorm weight


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])  # torch's return value


class CpuDevice(str):
    """``model.device``: "cpu", with torch.device's ``type`` and ``index``, without importing torch (torch
    takes it wherever it takes a device string: ``tensor.to(model.device)``)."""

    def __new__(cls) -> "CpuDevice":
        return super().__new__(cls, "cpu")

    type = "cpu"
    index = None

    def __repr__(self) -> str:
        return "device(type='cpu')"


class ParamSpec:
    """Name, shape and initialisation of one parameter.

    ``tied_to`` names another parameter this one shares its storage with (an MLM decoder tied to the
    word embeddings): it shows in ``state_dict()`` under its own name, as in torch, but is stored,
    counted and saved once, under the name it is tied to.
    """

    __slots__ = ("name", "shape", "init", "padding_row", "tied_to")

    def __init__(
        self,
        name: str,
        shape: tuple[int, ...],
        init: str,
        padding_row: Optional[int] = None,
        tied_to: Optional[str] = None,
    ):
        self.name, self.shape, self.init, self.padding_row = name, tuple(shape), init, padding_row
        self.tied_to = tied_to


def linear_specs(name: str, out_features: int, in_features: int, bias: bool = True) -> list[ParamSpec]:
    specs = [ParamSpec(f"{name}.weight", (out_features, in_features), INIT_NORMAL)]
    if bias:
        specs.append(ParamSpec(f"{name}.bias", (out_features,), INIT_ZEROS))
    return specs


def layer_norm_specs(name: str, size: int, bias: bool = True) -> list[ParamSpec]:
    specs = [ParamSpec(f"{name}.weight", (size,), INIT_ONES)]
    if bias:
        specs.append(ParamSpec(f"{name}.bias", (size,), INIT_ZEROS))
    return specs


def init_param(spec: ParamSpec, initializer_range: float) -> np.ndarray:
    if callable(spec.init):  # a family's own initialiser: shape → values (DistilBERT's sinusoidal positions)
        return np.ascontiguousarray(spec.init(spec.shape), dtype=np.float32)
    if spec.init == INIT_NORMAL:
        value = random_generator().normal(0.0, initializer_range, size=spec.shape).astype(np.float32)
        if spec.padding_row is not None and 0 <= spec.padding_row < spec.shape[0]:
            value[spec.padding_row] = 0.0  # nn.Embedding(padding_idx=...) keeps that row at zero
        return value
    if spec.init == INIT_ONES:
        return np.ones(spec.shape, dtype=np.float32)
    return np.zeros(spec.shape, dtype=np.float32)


class CoreParam:
    """A parameter held only by the core, in its packed form: read back exactly when asked for.

    A float32 encoder keeps each matrix once, packed for its kernels (a permutation of the floats),
    rather than a second time as a numpy array beside it. ``state_dict()``, ``save_pretrained`` and a
    repack read it back (a new float32 array per read, ``np.asarray(param)``); shape and size need no read.
    """

    __slots__ = ("shape", "_read")
    dtype = np.dtype(np.float32)

    def __init__(self, shape: tuple[int, ...], read: Any) -> None:
        self.shape, self._read = tuple(shape), read

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        value = self._read()
        return value if dtype is None else value.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"CoreParam(shape={self.shape})"


def as_float32(param: Any) -> np.ndarray:
    """A parameter in the compute type: float32 arrays as they are, a CoreParam read back from the core,
    float16 ones (kept as float16 until the core packs them, see _load_checkpoint) converted."""
    if isinstance(param, CoreParam):
        return param._read()
    return param if param.dtype == np.float32 else np.ascontiguousarray(param, dtype=np.float32)


def all_finite(value: np.ndarray) -> bool:
    """No NaN or inf in ``value``. float32: min and max propagate NaN and reach ±inf, two reductions with no
    temporary the size of the tensor (about 40 ms per 100M floats). float16, whose min and max numpy runs
    without SIMD (2 s for bert-base), by its bits instead: an all-ones exponent, 64K values at a time."""
    if value.size == 0:
        return True
    if value.dtype == np.float16:
        bits = value.reshape(-1).view(np.uint16)
        chunk = np.empty(min(bits.size, 1 << 16), dtype=np.uint16)  # 128 KiB: below malloc's mmap threshold
        for begin in range(0, bits.size, chunk.size):
            part = chunk[: min(chunk.size, bits.size - begin)]
            np.bitwise_and(bits[begin:begin + part.size], 0x7FFF, out=part)
            if part.max() >= 0x7C00:
                return False
        return True
    with np.errstate(invalid="ignore"):
        return bool(np.isfinite(value.min()) and np.isfinite(value.max()))


class PreTrainedModel:
    """Base of every pybertcore model."""

    config_class: ClassVar[type[PretrainedConfig]] = PretrainedConfig
    base_model_prefix: ClassVar[str] = ""
    # Checkpoint keys that are dropped silently (buffers older transformers versions saved).
    _keys_to_ignore_on_load_unexpected: ClassVar[tuple[str, ...]] = (r"position_ids$",)
    # Keyword arguments of from_pretrained that go to __init__, not to the config.
    _init_kwargs: ClassVar[tuple[str, ...]] = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> "PreTrainedModel":
        """Refuses keyword arguments ``__init__`` does not take as Python would, naming this class (not the
        base class whose ``__init__`` it inherits), as transformers' error reads."""
        if kwargs:
            accepted = inspect.signature(cls.__init__).parameters
            unknown = {k: v for k, v in kwargs.items() if k not in accepted}
            if unknown:
                raise TypeError(unexpected_keyword_message(cls, unknown))
        return super().__new__(cls)

    def __init__(self, config: PretrainedConfig) -> None:
        if not isinstance(config, PretrainedConfig):
            raise TypeError(f"config must be a {self.config_class.__name__}, got {type(config).__name__}")
        check_model_size(config, type(self))  # before anything is allocated
        # Made by _for_loading: parameters stay placeholders (np.empty: address space, no pages) and the
        # native build waits; the checkpoint fills them, and only what it lacks is drawn at random, once,
        # before the single build (as transformers' meta-device loading does).
        for_loading = self.__dict__.pop("_made_for_loading", False)
        self.config = config
        self._params: OrderedDict[str, np.ndarray] = OrderedDict()
        self._tied: dict[str, str] = {}  # tied name → the name it shares storage with
        self._state_order: list[str] = []  # every state_dict name, tied ones included, in order
        self._unfilled: dict[str, ParamSpec] = {}  # placeholders of a model made for loading
        self._changed: set[str] = set()  # parameters that differ from the source's: pickled (pybertcore.recipes)
        for spec in self._param_specs():
            self._state_order.append(spec.name)
            if spec.tied_to is not None:
                self._tied[spec.name] = spec.tied_to
            elif for_loading:
                self._params[spec.name] = np.empty(spec.shape, dtype=np.float32)
                self._unfilled[spec.name] = spec
            else:
                self._params[spec.name] = init_param(spec, getattr(config, "initializer_range", 0.02))
        for name, source in self._tied.items():
            if source not in self._params:
                raise ValueError(f"{name} is tied to {source}, which is not a parameter of {type(self).__name__}")
        if not for_loading:
            self._build()

    @classmethod
    def _for_loading(cls, config: PretrainedConfig, **init_kwargs: Any) -> "PreTrainedModel":
        """A model whose parameters the caller fills (from_pretrained), built by _load_checkpoint."""
        model = cls.__new__(cls)
        model._made_for_loading = True
        model.__init__(config, **init_kwargs)
        return model

    # --- what subclasses define ----------------------------------------------------------------------
    def _param_specs(self) -> list[ParamSpec]:
        """Every parameter in transformers' state_dict order."""
        raise NotImplementedError

    def _build(self, nonfinite: Optional[list] = None) -> None:
        """(Re)creates the native objects from ``self._params``. With a list, also appends the names of
        parameters holding NaN or inf, checked piece by piece while their pages are resident for packing
        (a check of the whole checkpoint up front faulted every page in at once)."""
        raise NotImplementedError

    # The read-only file mappings parameters may view (set by from_pretrained), or None.
    _mapped_pages: Optional[MappedPages] = None

    def _release_pages(self, arrays) -> None:
        """Drops the resident file pages behind ``arrays`` (those that view the checkpoint; others are left
        alone). Called by a build right after the core has packed them: the arrays stay valid, and a later
        read (state_dict(), save_pretrained, a rebuild) faults the pages back in from the file."""
        if self._mapped_pages is not None:
            self._mapped_pages.release(arrays)

    def _own_parameters(self) -> None:
        """Copies every parameter that still views the checkpoint file (the float32 originals of a
        low-precision model's matrices, head weights) into memory of the model's own, and lets go of
        the file's mappings: after from_pretrained, rewriting or truncating the file cannot reach the
        model, whose reads of a truncated mapping would otherwise die of SIGBUS."""
        pages, self._mapped_pages = self._mapped_pages, None
        if pages is None:
            return
        for name, value in self._params.items():
            if pages.views(value):
                self._params[name] = np.array(value)  # float16 stays float16: half the copy

    # --- compute precision ---------------------------------------------------------------------------
    # The precision of the encoder's matrix multiplies: "float32", "bfloat16" or "int8". Parameters,
    # state_dict() and save_pretrained stay float32 whatever it is (config.dtype keeps describing the
    # stored weights, as in transformers).
    _compute_dtype: str = "float32"

    @property
    def dtype(self) -> str:
        """The compute precision of the encoder's matrix multiplies ("float32", "bfloat16" or "int8")."""
        return self._compute_dtype

    def to(self, *args: Any, **kwargs: Any) -> "PreTrainedModel":
        """``model.to("bfloat16")`` / ``model.to(torch.bfloat16)`` / ``model.to(dtype="int8")``: repacks the
        encoder's weights for that compute precision (from the float32 parameters, so any round trip is
        lossless). ``model.to("cpu")`` is accepted and does nothing; other devices raise."""
        targets = list(args) + ([kwargs.pop("dtype")] if "dtype" in kwargs else [])
        device = kwargs.pop("device", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        wanted = None
        for value in targets + ([device] if device is not None else []):
            text = _dtype_name(value) if not isinstance(value, str) else value
            if text in ("cpu",) or text.startswith("cpu:") or str(value) == "cpu":
                continue
            if text in ("cuda", "mps", "meta", "xpu") or text.startswith(("cuda:", "xpu:")):
                raise NotImplementedError(f"to({value!r}): pybertcore runs on the CPU only")
            wanted = check_dtype_argument(value) or "float32"
        if wanted is not None and wanted != self._compute_dtype:
            self._compute_dtype = wanted
            self._build()
        return self

    # --- the module tree (pybertcore.module_tree) -------------------------------------------------------
    def _tree_spec(self) -> Any:
        """The root Node of this model's tree (families define it)."""
        raise NotImplementedError

    def _tree_resolver(self) -> Any:
        raise NotImplementedError

    def _module_tree(self) -> Module:
        tree = self.__dict__.get("_tree")
        if tree is None:
            tree = build_module_tree(self._tree_spec(), self._tree_resolver(), self, "")
            self.__dict__["_tree"] = tree
        return tree

    def __getattr__(self, name: str) -> Any:
        """Children of the root module (``model.bert``, ``model.classifier``) and its own parameters."""
        if name.startswith("_") or name in ("config",):
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        try:
            tree = self._module_tree()
        except NotImplementedError:
            tree = None
        if tree is not None and (name in tree._children or name in tree._own):
            return getattr(tree, name)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def get_parameter(self, name: str) -> np.ndarray:
        """A parameter's values by its full name: a read-only float32 array (read back from the core for the
        weights it holds: a new array each time)."""
        source = self._tied_source(name)
        if source not in self._params:
            raise AttributeError(f"{type(self).__name__} has no parameter '{name}'")
        value = as_float32(self._params[source]).view()
        value.flags.writeable = False
        return value

    def _tied_source(self, name: str) -> str:
        return self._tied.get(name, name)

    def _set_parameter(self, name: str, value: Any) -> None:
        """``module.weight = value``: shape checked, stored, the model repacked (the next forward uses it)."""
        source = self._tied_source(name)
        self._params[source] = self._checked_param(source, value)
        self._changed.add(source)
        self._build()

    def get_submodule(self, target: str) -> Module:
        module = self._module_tree()
        for part in [p for p in target.split(".") if p]:
            if part not in module._children:
                raise AttributeError(f"{module._get_name()} has no attribute '{part}' (looking for '{target}')")
            module = module._children[part]
        return module

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Any:
        return self._module_tree().named_parameters(prefix, recurse)

    def parameters(self, recurse: bool = True) -> Any:
        return self._module_tree().parameters(recurse)

    def named_modules(self, prefix: str = "") -> Any:
        return self._module_tree().named_modules(prefix)

    def modules(self) -> Any:
        return self._module_tree().modules()

    def named_children(self) -> Any:
        return self._module_tree().named_children()

    def children(self) -> Any:
        return self._module_tree().children()

    @property
    def base_model(self) -> Any:
        """The bare encoder inside a head model (``model.bert``), or the model itself."""
        tree = self._module_tree()
        return tree._children.get(self.base_model_prefix, self) if self.base_model_prefix else self

    # --- transformers' PreTrainedModel habits ---------------------------------------------------------
    @classmethod
    def can_generate(cls) -> bool:
        """Encoders do not generate text (transformers answers False for every model here)."""
        return False

    def tie_weights(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to do: a tied parameter shares its storage for the model's lifetime (ParamSpec.tied_to)."""

    def resize_token_embeddings(self, new_num_tokens: Optional[int] = None, pad_to_multiple_of: Optional[int] = None,
                                mean_resizing: bool = True) -> Any:
        """The input embeddings, as transformers returns them, when the size does not change; a new size
        raises: new rows are for training, which pybertcore does not do."""
        embeddings = self.get_input_embeddings()
        size = embeddings.num_embeddings if new_num_tokens is None else int(new_num_tokens)
        if pad_to_multiple_of is not None:
            size = -(-size // int(pad_to_multiple_of)) * int(pad_to_multiple_of)
        if size != embeddings.num_embeddings:
            raise NotImplementedError(
                f"resize_token_embeddings({size}): pybertcore models are inference only and keep their vocabulary "
                f"of {embeddings.num_embeddings} tokens; resize and train in transformers, save_pretrained, and "
                "load the result here"
            )
        return embeddings

    # --- torch.nn.Module habits ------------------------------------------------------------------------
    # Code written for transformers calls these around a model; an inference-only CPU model answers
    # them as such: eval() and friends return the model, what would train or leave the CPU raises.
    main_input_name: ClassVar[str] = "input_ids"
    training: ClassVar[bool] = False

    @property
    def device(self) -> "CpuDevice":
        return CpuDevice()

    @property
    def name_or_path(self) -> str:
        return getattr(self.config, "name_or_path", "")

    def eval(self) -> "PreTrainedModel":
        return self

    def train(self, mode: bool = True) -> "PreTrainedModel":
        if mode:
            raise NotImplementedError(f"{type(self).__name__}.train(): pybertcore models are inference only")
        return self

    def requires_grad_(self, requires_grad: bool = True) -> "PreTrainedModel":
        return self  # nothing here keeps gradients

    def cpu(self) -> "PreTrainedModel":
        return self

    def float(self) -> "PreTrainedModel":
        return self.to("float32")

    def bfloat16(self) -> "PreTrainedModel":
        return self.to("bfloat16")

    def half(self) -> "PreTrainedModel":
        raise NotImplementedError("half(): pybertcore computes in float32, bfloat16 or int8; use model.to('bfloat16')")

    def cuda(self, *args: Any, **kwargs: Any) -> "PreTrainedModel":
        raise NotImplementedError("cuda(): pybertcore runs on the CPU only")

    # --- parameters ----------------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """The parameters under transformers' names, as read-only float32 arrays (tied names share memory,
        as tied tensors do in torch). Parameters the core holds are read back from it: new arrays."""
        out = OrderedDict()
        read: dict[str, np.ndarray] = {}
        for name in self._state_order:
            source = self._tied.get(name, name)
            if source not in read:
                read[source] = as_float32(self._params[source])
            view = read[source].view()
            view.flags.writeable = False
            out[name] = view
        return out

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True, assign: bool = False) -> Any:
        """Replaces parameters by name (numpy arrays or torch tensors) and repacks the model; returns torch's
        ``(missing_keys, unexpected_keys)`` named tuple. Errors are torch's: with ``strict``, missing and
        unexpected keys; always, shape mismatches (then nothing is loaded)."""
        missing = [k for k in self._state_order if k not in state_dict]
        unexpected = [k for k in state_dict if k not in self._params and k not in self._tied]
        errors = []
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ")
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". ")
        values = {}
        for name, value in state_dict.items():
            if name not in self._params and name not in self._tied:
                continue
            source = self._tied_source(name)
            shape = tuple(getattr(value, "shape", np.shape(value)))
            if shape != tuple(self._params[source].shape):
                errors.append(f"size mismatch for {name}: copying a param with shape {list(shape)} from checkpoint, "
                              f"the shape in current model is {list(self._params[source].shape)}.")
            elif name == source or source not in state_dict:  # a tied copy counts only without its source
                values[source] = value
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        for name, value in values.items():
            self._params[name] = self._checked_param(name, value)
        self._changed.update(values)
        self._build()
        return IncompatibleKeys(missing, unexpected)

    def _checked_param(self, name: str, value: Any) -> np.ndarray:
        arr = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
        expected = self._params[name].shape
        if arr.shape != expected:
            raise ValueError(f"{name}: expected shape {expected}, found {tuple(arr.shape)}")
        if not np.issubdtype(arr.dtype, np.floating):
            raise ValueError(f"{name}: expected floating-point values, found dtype {arr.dtype}")
        return np.ascontiguousarray(arr, dtype=np.float32)

    def num_parameters(self, only_trainable: bool = False, exclude_embeddings: bool = False) -> int:
        names = self._params
        if exclude_embeddings:  # as transformers: the parameters of every nn.Embedding module
            embeddings = {f"{name}.weight" for name, module in self.named_modules()
                          if type(module).__name__ == "Embedding"}
            names = {k: v for k, v in names.items() if k not in embeddings}
        return int(sum(v.size for v in names.values()))

    # --- loading -------------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        *model_args: Any,
        config: Optional[PretrainedConfig] = None,
        ignore_mismatched_sizes: bool = False,
        output_loading_info: bool = False,
        dtype: Any = None,
        torch_dtype: Any = None,
        use_safetensors: Optional[bool] = None,
        variant: Optional[str] = None,
        **kwargs: Any,
    ):
        """Loads a model from a folder, or a hub id resolved in the Hugging Face cache (see pybertcore.hub).

        Weights: ``model.safetensors``, ``pytorch_model.bin`` (read without torch), or either sharded with
        its index; float16/bfloat16 checkpoints are converted to float32, the compute type. Keyword
        arguments that are config fields (``num_labels=8``, ...) override the saved config, unless a
        ``config`` is passed; any other raises TypeError naming it, as ``__init__`` does in transformers
        (which hands the keywords a config does not take to the model's ``__init__``); ``cache_dir``,
        ``revision``, ``local_files_only``, ``token``, ``force_download``, ``subfolder`` choose the files;
        ``use_safetensors`` (True: only safetensors, False: only .bin) and ``variant`` ("fp16" →
        ``model.fp16.safetensors``) choose the weights file as in transformers.
        """
        if model_args:
            raise TypeError("from_pretrained takes no positional arguments after the path")
        compute_dtype = check_dtype_argument(dtype if dtype is not None else torch_dtype)
        args = parse_loading_arguments(kwargs, cls._init_kwargs)
        weights_names = weights_file_names(use_safetensors, variant)
        folder = resolve_model_folder(pretrained_model_name_or_path, weights_names=weights_names, **args.hub)
        if config is None:
            config = cls.config_class.from_pretrained(folder)
            config.name_or_path = str(pretrained_model_name_or_path)
            unused = apply_config_overrides(config, args.config_overrides)
        else:  # as in transformers: with a config, the keyword arguments are the model's, never the config's
            unused = {k: v for k, v in args.config_overrides.items() if k not in DROPPED_KWARGS}
        if unused:
            raise TypeError(unexpected_keyword_message(cls, unused))

        checkpoint = load_checkpoint_folder(folder, weights_names)
        model = cls._for_loading(config, **args.init)
        if compute_dtype is not None:
            model._compute_dtype = compute_dtype  # packed in this precision by the build below
        # Parameters that view the file: each build lets their pages go once the core has packed them.
        model._mapped_pages = MappedPages(getattr(checkpoint, "mappings", []))
        info = model._load_checkpoint(checkpoint, str(pretrained_model_name_or_path), ignore_mismatched_sizes)
        # Whatever the build did not release (head weights, unused tensors, the header) goes too.
        release_pages(checkpoint)
        model._own_parameters()
        _core.release_freed_heap()  # the conversions' temporaries are gone by now
        model._recipe = model_recipe(pretrained_model_name_or_path, args.hub, args.init, {
            "ignore_mismatched_sizes": ignore_mismatched_sizes, "use_safetensors": use_safetensors, "variant": variant})
        if output_loading_info:
            return model, info
        return model

    def _load_checkpoint(
        self, checkpoint: dict[str, np.ndarray], source: str, ignore_mismatched_sizes: bool
    ) -> dict[str, list]:
        """Fills the parameters from the checkpoint (loading.match_state_dict), reports what did not match in
        transformers' words, draws what is missing, and builds."""
        checkpoint = self._from_hub_layout(checkpoint)
        report = match_state_dict(
            checkpoint, {name: value.shape for name, value in self._params.items()}, self._state_order, self._tied,
            self.base_model_prefix, self._keys_to_ignore_on_load_unexpected,
        )
        report_loading(report, source, type(self).__name__, ignore_mismatched_sizes)
        for name, value in report.values.items():
            if not np.issubdtype(value.dtype, np.floating):
                raise CheckpointError(f"{source}: weight {name} has dtype {value.dtype}, expected floating point")
            # float16 stays a view of the file, converted piece by piece when packed: a float32 copy of every
            # weight would sit beside the packed one.
            self._params[name] = np.ascontiguousarray(value, dtype=np.float16 if value.dtype == np.float16 else np.float32)
            self._unfilled.pop(name, None)
        self._init_unfilled_params()
        nonfinite: list[str] = []
        self._build(nonfinite)
        report_nonfinite([name for name in dict.fromkeys(nonfinite) if name in report.values], source)
        return report.as_loading_info()

    def _from_hub_layout(self, checkpoint: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The checkpoint under transformers' current names, where a family's hub checkpoints carry older
        ones (EncoderLayout.hub_renames); as it is otherwise."""
        return checkpoint

    def _init_unfilled_params(self) -> None:
        """Draws the parameters a model made for loading did not get from its checkpoint."""
        initializer_range = getattr(self.config, "initializer_range", 0.02)
        for name, spec in self._unfilled.items():
            self._params[name] = init_param(spec, initializer_range)
        self._changed.update(self._unfilled)  # drawn here: a rebuilt model must get these values, not new ones
        self._unfilled = {}

    # --- saving --------------------------------------------------------------------------------------
    def save_pretrained(
        self,
        save_directory: str | os.PathLike,
        is_main_process: bool = True,
        state_dict: Optional[dict[str, Any]] = None,
        max_shard_size: int | str = "50GB",
        safe_serialization: bool = True,
        variant: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        """Writes ``config.json`` (with ``architectures``) and the weights as transformers names them.

        ``safe_serialization=True``: ``model.safetensors``; False: ``pytorch_model.bin`` in torch's zip
        format (``torch.load(path, weights_only=True)`` reads it). Above ``max_shard_size`` bytes (an int
        or "2GB"/"500MB"), shards ``model-00001-of-0000N.safetensors`` plus ``model.safetensors.index.json``.
        """
        unsupported = set(kwargs) - {"push_to_hub"}
        if unsupported or kwargs.get("push_to_hub"):
            raise TypeError(f"save_pretrained got unsupported arguments: {sorted(unsupported or ['push_to_hub'])}")
        if os.path.isfile(save_directory):
            raise ValueError(f"save_directory: {save_directory} is a file, expected a folder")
        if not is_main_process:
            return
        os.makedirs(save_directory, exist_ok=True)
        self.config.architectures = [type(self).__name__]
        self.config.dtype = "float32"  # the weights written are float32, whatever the checkpoint held
        self.config.save_pretrained(save_directory)
        tensors = {k: as_float32(v) for k, v in self._params.items()} if state_dict is None else {
            k: np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v) for k, v in state_dict.items()
        }
        save_weights(tensors, Path(save_directory), safe_serialization=bool(safe_serialization),
                     max_shard_size=max_shard_size, variant=variant)

    # --- pickling (pybertcore.recipes) ----------------------------------------------------------------
    def __reduce__(self) -> tuple:
        """The recipe (from_pretrained's source and arguments) and the state changed since, never the weights;
        a model built in memory raises pickle.PicklingError saying so."""
        return reduce_model(self)

    def __deepcopy__(self, memo: dict) -> "PreTrainedModel":
        return deepcopy_model(self, memo)

    def __repr__(self) -> str:
        """The module tree, as torch prints it."""
        try:
            return repr(self._module_tree())
        except NotImplementedError:
            return f"{type(self).__name__}(params={self.num_parameters():,}, config={type(self.config).__name__})"


def unexpected_keyword_message(cls: type, kwargs: dict[str, Any]) -> str:
    """Python's TypeError text for keyword arguments ``cls.__init__`` does not take, as transformers
    raises it from from_pretrained and from_config (its unused keyword arguments go to ``__init__``)."""
    names = list(kwargs)
    if len(names) == 1:
        return f"{cls.__name__}.__init__() got an unexpected keyword argument '{names[0]}'"
    return f"{cls.__name__}.__init__() got unexpected keyword arguments " + ", ".join(f"'{n}'" for n in names)


# dtype names from_pretrained accepts ("auto" means "the checkpoint's", which pybertcore converts to float32
# on load, computing in float32) and names it knows but cannot compute in.
# Compute precisions of the encoder's matrix multiplies, by the names users pass (torch's included).
COMPUTE_DTYPES = {"float32": "float32", "float": "float32", "fp32": "float32",
                  "bfloat16": "bfloat16", "bf16": "bfloat16", "int8": "int8", "qint8": "int8"}
_DTYPES_UNSUPPORTED = ("float16", "half", "fp16", "float64", "double", "uint8",
                       "float8_e4m3fn", "float8_e5m2", "complex64")


def _dtype_name(dtype: Any) -> str:
    if isinstance(dtype, str):
        return dtype.replace("torch.", "")
    text = str(dtype)
    if text.startswith("torch."):  # a torch.dtype, named without importing torch
        return text[len("torch."):]
    try:
        return np.dtype(dtype).name
    except TypeError:
        return text


def check_dtype_argument(dtype: Any) -> Optional[str]:
    """from_pretrained's dtype/torch_dtype, as transformers takes them: a name ("float32", "bfloat16",
    "int8", "auto"), a torch.dtype (torch.bfloat16, torch.qint8), a numpy dtype, or a dict of those per
    sub-model (which must agree). Returns the compute precision of the encoder's matrix multiplies
    ("float32", "bfloat16" or "int8"), or None for "auto"/None (float32). Checkpoints of any float
    dtype load either way; the parameters are kept in float32. float16 compute is refused by name:
    bfloat16 is the 16-bit format the kernels have (float16's 5-bit exponent overflows in BERT's
    activations); float64 is refused too."""
    if dtype is None:
        return None
    if isinstance(dtype, dict):
        names = {check_dtype_argument(value) for value in dtype.values()} - {None}
        if len(names) > 1:
            raise NotImplementedError(f"dtype={dtype!r}: one compute dtype for the whole model, got {sorted(names)}")
        return names.pop() if names else None
    name = _dtype_name(dtype)
    if name == "auto":
        return None
    if name in COMPUTE_DTYPES:
        return COMPUTE_DTYPES[name]
    if name in _DTYPES_UNSUPPORTED:
        hint = "; bfloat16 is the 16-bit compute type" if name in ("float16", "half", "fp16") else ""
        raise NotImplementedError(
            f"dtype={name!r}: pybertcore computes in float32, bfloat16 or int8{hint} "
            "(checkpoints of any float dtype load, converted to float32)"
        )
    raise ValueError(f"dtype={dtype!r} is not a dtype; pass 'auto', 'float32', 'bfloat16', 'int8' or a torch.dtype")


def load_checkpoint_folder(folder: Path, weights_names: tuple[str, ...] = WEIGHTS_FILE_NAMES) -> dict[str, np.ndarray]:
    """All weights in a model folder: ``model.safetensors``, else ``pytorch_model.bin``, sharded or not."""
    path = find_weights_file(folder, weights_names)
    if path is not None:
        return load_weights_file(path)
    others = sorted(p.name for p in folder.iterdir() if p.suffix in (".bin", ".safetensors", ".h5", ".msgpack", ".ckpt"))
    found = f"; found {', '.join(others)}" if others else ""
    raise OSError(f"{folder} has no {weights_names[0]} (nor {', '.join(weights_names[1:])}){found}")
