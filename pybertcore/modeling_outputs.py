"""Model outputs that behave like transformers' ``ModelOutput``: attribute, key and index access, and
its printed form.

Fields that are None are skipped by keys and indices, as in transformers, so ``output[1]`` is the
pooled output when there is one and the hidden states otherwise.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, fields
from typing import Any, Optional

import numpy as np


class ModelOutput(OrderedDict):
    """An ordered dict of the non-None fields of a dataclass, also reachable as attributes."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                super().__setitem__(f.name, value)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(key)
        return self.to_tuple()[key]

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.keys() and value is not None:
            super().__setitem__(name, value)
        super().__setattr__(name, value)

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        super().__setattr__(key, value)

    def __reduce__(self):
        return (self.__class__, tuple(getattr(self, f.name) for f in fields(self)))

    def to_tuple(self) -> tuple:
        return tuple(self[k] for k in self.keys())

    def __repr__(self) -> str:
        """As transformers' outputs print (their dataclass repr): every field, None ones included."""
        values = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))
        return f"{type(self).__qualname__}({values})"


@dataclass(repr=False)
class BaseModelOutputWithPoolingAndCrossAttentions(ModelOutput):
    """Encoder output. ``last_hidden_state`` (B, T, H); ``pooler_output`` (B, H); ``hidden_states`` a tuple
    of L+1 arrays (B, T, H); ``attentions`` a tuple of L arrays (B, NH, T, T). All float32."""

    last_hidden_state: Optional[np.ndarray] = None
    pooler_output: Optional[np.ndarray] = None
    hidden_states: Optional[tuple] = None
    cache: Optional[Any] = None  # transformers 5's name (past_key_values before): always None in an encoder
    attentions: Optional[tuple] = None
    cross_attentions: Optional[tuple] = None

    @property
    def past_key_values(self) -> Any:
        """transformers 4's name of ``cache``, which transformers 5 still answers."""
        return self.cache


@dataclass(repr=False)
class BaseModelOutput(ModelOutput):
    """Encoder output of families without a pooler (DistilBERT, ELECTRA, ...)."""

    last_hidden_state: Optional[np.ndarray] = None
    hidden_states: Optional[tuple] = None
    attentions: Optional[tuple] = None


@dataclass(repr=False)
class SequenceClassifierOutput(ModelOutput):
    """``logits`` (B, num_labels); ``loss`` a float32 scalar when labels were given."""

    loss: Optional[np.ndarray] = None
    logits: Optional[np.ndarray] = None
    hidden_states: Optional[tuple] = None
    attentions: Optional[tuple] = None


@dataclass(repr=False)
class TokenClassifierOutput(ModelOutput):
    """``logits`` (B, T, num_labels)."""

    loss: Optional[np.ndarray] = None
    logits: Optional[np.ndarray] = None
    hidden_states: Optional[tuple] = None
    attentions: Optional[tuple] = None


@dataclass(repr=False)
class QuestionAnsweringModelOutput(ModelOutput):
    """``start_logits`` and ``end_logits`` (B, T)."""

    loss: Optional[np.ndarray] = None
    start_logits: Optional[np.ndarray] = None
    end_logits: Optional[np.ndarray] = None
    hidden_states: Optional[tuple] = None
    attentions: Optional[tuple] = None


@dataclass(repr=False)
class MaskedLMOutput(ModelOutput):
    """``logits`` (B, T, V)."""

    loss: Optional[np.ndarray] = None
    logits: Optional[np.ndarray] = None
    hidden_states: Optional[tuple] = None
    attentions: Optional[tuple] = None


@dataclass(repr=False)
class MultipleChoiceModelOutput(ModelOutput):
    """``logits`` (B, C): one score per choice."""

    loss: Optional[np.ndarray] = None
    logits: Optional[np.ndarray] = None
    hidden_states: Optional[tuple] = None
    attentions: Optional[tuple] = None


@dataclass(repr=False)
class BaseModelOutputWithPooling(ModelOutput):
    """Encoder output with a pooled first token (ALBERT)."""

    last_hidden_state: Optional[np.ndarray] = None
    pooler_output: Optional[np.ndarray] = None
    hidden_states: Optional[tuple] = None
    attentions: Optional[tuple] = None


@dataclass(repr=False)
class BaseModelOutputWithCrossAttentions(ModelOutput):
    """Encoder output without a pooler (ELECTRA); ``cross_attentions`` is always None (encoders only)."""

    last_hidden_state: Optional[np.ndarray] = None
    hidden_states: Optional[tuple] = None
    attentions: Optional[tuple] = None
    cross_attentions: Optional[tuple] = None


@dataclass(repr=False)
class BaseModelOutputWithPastAndCrossAttentions(ModelOutput):
    """Encoder output without a pooler, as transformers 5's ELECTRA returns it; ``cache`` is always None and
    ``cross_attentions`` empty or None (encoders only)."""

    last_hidden_state: Optional[np.ndarray] = None
    cache: Optional[Any] = None
    hidden_states: Optional[tuple] = None
    attentions: Optional[tuple] = None
    cross_attentions: Optional[tuple] = None

    @property
    def past_key_values(self) -> Any:
        """transformers 4's name of ``cache``, which transformers 5 still answers."""
        return self.cache
