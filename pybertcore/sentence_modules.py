"""A SentenceTransformer's modules as sentence-transformers code indexes them: ``model[0].auto_model``,
``model[0].max_seq_length = 256``, ``model[1].pooling_mode``, ``len(model)``, ``for module in model``.

sentence-transformers' model is a torch ``Sequential`` of modules; pybertcore's SentenceEncoder holds the same
parts as plain attributes. These views give them the modules' names and read and write through to the encoder,
so a change made through a view (the length limit, ``include_prompt``) is the encoder's. The Dense modules are
the encoder's own layers (``weight``, ``bias``, ``activation_function``). Nothing here computes.
"""

from __future__ import annotations

from typing import Any


class TransformerModule:
    """``model[0]`` of a transformer model: sentence-transformers' Transformer module."""

    def __init__(self, owner: Any) -> None:
        self._owner = owner

    @property
    def auto_model(self) -> Any:
        return self._owner.model

    model = auto_model

    @property
    def config(self) -> Any:
        return self._owner.model.config

    @property
    def tokenizer(self) -> Any:
        return self._owner.tokenizer

    @property
    def max_seq_length(self) -> int:
        return self._owner.max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        self._owner.max_seq_length = value

    @property
    def do_lower_case(self) -> bool:
        return self._owner.do_lower_case

    def get_embedding_dimension(self) -> int:
        return int(self._owner.model.config.hidden_size)

    get_word_embedding_dimension = get_embedding_dimension

    def get_config_dict(self) -> dict:
        return {"max_seq_length": self.max_seq_length, "do_lower_case": self.do_lower_case}

    def __repr__(self) -> str:
        return f"Transformer({dict(self.get_config_dict(), architecture=type(self.auto_model).__name__)})"


class PoolingModule:
    """``model[1]`` of a transformer model: sentence-transformers' Pooling module."""

    def __init__(self, owner: Any) -> None:
        self._owner = owner

    @property
    def pooling_mode(self) -> Any:
        modes = self._owner.pooling_modes
        return modes[0] if len(modes) == 1 else modes

    @property
    def include_prompt(self) -> bool:
        return self._owner.include_prompt

    @include_prompt.setter
    def include_prompt(self, value: bool) -> None:
        self._owner.set_pooling_include_prompt(value)

    @property
    def word_embedding_dimension(self) -> int:
        return int(self._owner.model.config.hidden_size)

    def get_embedding_dimension(self) -> int:
        return self.word_embedding_dimension * len(self._owner.pooling_modes)

    get_sentence_embedding_dimension = get_embedding_dimension

    def get_pooling_mode_str(self) -> str:
        return "+".join(self._owner.pooling_modes)

    def get_config_dict(self) -> dict:
        return {"embedding_dimension": self.word_embedding_dimension, "pooling_mode": self.pooling_mode,
                "include_prompt": self.include_prompt}

    def __repr__(self) -> str:
        return f"Pooling({self.get_config_dict()})"


class NormalizeModule:
    """sentence-transformers' Normalize module: each vector scaled to unit length."""

    def __repr__(self) -> str:
        return "Normalize()"


class RouterModule:
    """``model[0]`` of a Router model: sentence-transformers' Router, its routes as module lists."""

    def __init__(self, owner: Any) -> None:
        self._owner = owner

    @property
    def sub_modules(self) -> dict:
        return {name: module_list(route) for name, route in self._owner.routes.routes.items()}

    @property
    def default_route(self) -> Any:
        return self._owner.routes.default_route

    @property
    def route_mappings(self) -> dict:
        return dict(self._owner.routes.route_mappings)

    @property
    def tokenizer(self) -> Any:
        return self._owner.tokenizer

    @property
    def max_seq_length(self) -> Any:
        return self._owner.max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: Any) -> None:
        self._owner.max_seq_length = value

    def get_embedding_dimension(self) -> int:
        return self._owner.routes.first._untruncated_dimension()

    def __repr__(self) -> str:
        routes = ", ".join(f"{name}: {module_list(route)}" for name, route in self._owner.routes.routes.items())
        return f"Router({{{routes}}}, default_route={self.default_route!r})"


def module_list(owner: Any) -> list:
    """The encoder's modules in sentence-transformers' order."""
    if owner.routes is not None:
        modules = [RouterModule(owner)]
    elif owner.static is not None:
        modules = [owner.static]
    else:
        modules = [TransformerModule(owner), PoolingModule(owner)]
    modules += list(owner.dense)
    if owner.normalize:
        modules.append(NormalizeModule())
    return modules
