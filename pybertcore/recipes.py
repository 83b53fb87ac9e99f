"""Pickling as a recipe: how models and tokenizers cross process and machine boundaries.

A model or tokenizer made by ``from_pretrained`` remembers its recipe: the source (a local folder, made
absolute, or a hub id with its hub options; never the ``token``, a credential) and the loading arguments.
Pickled, it is that recipe plus the state changed since, never its packed weights:

- a model: its config (as it is now: overrides, labels), its compute dtype (``model.to("int8")``), and the
  parameters that differ from what the source gives: those assigned (``module.weight = ...``,
  ``load_state_dict``) and those drawn at random at load (a new classification head), as safetensors
  bytes. Unpickling runs ``from_pretrained`` on the source and applies them;
- a tokenizer: its Python settings (padding side, model_max_length, ...), plus the Rust tokenizer's whole
  state (its JSON: a vocabulary, not weights) only when it differs from what the source gave.

So the receiving process must see the same source: the same folder (a shared file system), or the same
hub id in its cache. A tokenizer whose source gives something else than at load is refused by name on
unpickling (its state's SHA-256 is compared). A model's weights are not fingerprinted (that would read them
all): a model pickled from a folder that is then rewritten loads the new weights.

A model built in memory (``BertModel(config)``, random weights) has no recipe: pickling it raises
``pickle.PicklingError`` saying so and how to give it one (``save_pretrained`` then ``from_pretrained``).
Shipping its weights inside the pickle would be the packed weights this design avoids; ``copy.deepcopy``,
which stays in the process, copies it from its state.

``SentenceEncoder`` and the pipelines hold a model and a tokenizer: they pickle as their plain attributes,
and those as above (sentence-transformers' Dense modules as their folder).
"""

from __future__ import annotations

import hashlib
import os
import pickle
from typing import Any, Optional

import numpy as np

# Loading options that say which weights, how: kept in a model's recipe (config overrides are in its config).
_RECIPE_OPTIONS = ("ignore_mismatched_sizes", "use_safetensors", "variant")


def source_of(name_or_path: Any) -> str:
    """A recipe's source: an existing local folder made absolute (the unpickling process may have another
    working folder), anything else (a hub id) as given."""
    text = os.fspath(name_or_path)
    return os.path.abspath(text) if os.path.isdir(text) else str(text)


def hub_options(hub: dict) -> dict:
    """The hub options worth repeating elsewhere: never the token, which would travel inside every pickle."""
    return {k: v for k, v in hub.items() if k != "token" and v is not None}


# ---------------------------------------------------------------------------------------------- models
def model_recipe(name_or_path: Any, hub: dict, init: dict, options: dict) -> dict:
    return {
        "source": source_of(name_or_path),
        "kwargs": {**hub_options(hub), **init, **{k: options[k] for k in _RECIPE_OPTIONS if options.get(k) is not None}},
    }


def reduce_model(model: Any) -> tuple:
    """``PreTrainedModel.__reduce__``: (rebuild, (class, recipe, config, dtype, changed parameters))."""
    recipe = model.__dict__.get("_recipe")
    if recipe is None:
        raise pickle.PicklingError(
            f"this {type(model).__name__} was built in memory, not loaded with from_pretrained, so it has no "
            "source to be rebuilt from in another process; pybertcore pickles a model as its recipe, never its "
            "weights. Save it with model.save_pretrained(folder) and pickle "
            f"{type(model).__name__}.from_pretrained(folder) instead"
        )
    from safetensors.numpy import save

    from pybertcore.modeling_utils import as_float32

    changed = sorted(model._changed)
    params = save({name: as_float32(model._params[name]) for name in changed}) if changed else None
    return (rebuild_model, (type(model), recipe, model.config, model._compute_dtype, params))


def rebuild_model(cls: type, recipe: dict, config: Any, dtype: str, params: Optional[bytes]) -> Any:
    model = cls.from_pretrained(recipe["source"], config=config, dtype=dtype, **recipe["kwargs"])
    if params is not None:
        from safetensors.numpy import load

        model.load_state_dict(load(params), strict=False)
    return model


def deepcopy_model(model: Any, memo: dict) -> Any:
    """``copy.deepcopy``: in the process, so a copy of the state (parameters, config, dtype, recipe)."""
    import copy

    new = type(model).__new__(type(model))
    new._made_for_loading = True  # parameters are placeholders until the copies below fill them
    new.__init__(copy.deepcopy(model.config, memo), **{k: model.__dict__[k] for k in type(model)._init_kwargs
                                                       if k in model.__dict__})
    new._params.update({name: np.array(value, dtype=value.dtype if isinstance(value, np.ndarray) else np.float32)
                        for name, value in model._params.items()})
    new._unfilled = {}
    new._compute_dtype = model._compute_dtype
    new._build()
    new._recipe = copy.deepcopy(model.__dict__.get("_recipe"), memo)
    new._changed = set(model._changed)
    return new


# ---------------------------------------------------------------------------------------------- tokenizers
def backend_digest(backend: Any) -> str:
    """The SHA-256 of a Rust tokenizer's whole state (its JSON): cheap next to loading it (~5%)."""
    return hashlib.sha256(backend.to_str().encode("utf-8")).hexdigest()


def tokenizer_recipe(cls: type, name_or_path: Any, hub: dict, kwargs: dict, backend: Any) -> dict:
    return {"class": cls, "source": source_of(name_or_path), "kwargs": {**hub_options(hub), **kwargs},
            "digest": backend_digest(backend)}


def reduce_tokenizer(tokenizer: Any) -> tuple:
    """``PreTrainedTokenizerFast.__reduce__``: the recipe and the settings, or the whole state without one."""
    state = {k: v for k, v in tokenizer.__dict__.items() if k not in ("_lock", "_tokenizer", "_recipe")}
    recipe = tokenizer.__dict__.get("_recipe")
    if recipe is None or backend_digest(tokenizer._tokenizer) != recipe["digest"]:
        # Built in memory, or changed since it was loaded: the Rust tokenizer's JSON travels (a vocabulary, not
        # weights), and the tokenizers package rebuilds it from that.
        return (rebuild_tokenizer, (type(tokenizer), recipe, tokenizer._tokenizer.to_str(), state))
    return (rebuild_tokenizer, (type(tokenizer), recipe, None, state))


def rebuild_tokenizer(cls: type, recipe: Optional[dict], backend_json: Optional[str], state: dict) -> Any:
    import threading

    from tokenizers import Tokenizer

    if backend_json is None:
        loaded = recipe["class"].from_pretrained(recipe["source"], **recipe["kwargs"])
        if backend_digest(loaded._tokenizer) != recipe["digest"]:
            raise pickle.UnpicklingError(
                f"the tokenizer pickled from {recipe['source']} cannot be rebuilt: the tokenizer files there now "
                "differ from those it was loaded from"
            )
        backend = loaded._tokenizer
    else:
        backend = Tokenizer.from_str(backend_json)
    tokenizer = cls.__new__(cls)
    tokenizer.__dict__.update(state)
    tokenizer._tokenizer = backend
    tokenizer._lock = threading.Lock()
    if recipe is not None:
        tokenizer._recipe = recipe
    return tokenizer
