"""BatchEncoding, what a tokenizer returns: transformers' dict of ``input_ids`` / ``token_type_ids`` /
``attention_mask`` with attribute access, the ``tokenizers.Encoding`` of each sequence and the alignment
methods (``tokens``, ``word_ids``, ``char_to_token``, ...), converted to lists, numpy or torch as asked
(torch imported only for ``return_tensors="pt"``)."""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

import numpy as np

from pybertcore.frameworks import import_torch, is_torch_tensor, to_torch


def check_return_tensors(tensor_type: Any) -> None:
    """transformers' names for the frameworks pybertcore returns: "np" (numpy) and "pt" (torch)."""
    if tensor_type not in ("np", "pt"):
        raise ValueError(
            f"return_tensors={tensor_type!r} is not supported by pybertcore; use 'pt' (torch), 'np' (numpy) or None"
        )


class CharSpan(NamedTuple):
    """transformers' character span: ``start`` and ``end`` (exclusive) in the original string."""

    start: int
    end: int


class TokenSpan(NamedTuple):
    """transformers' token span: ``start`` and ``end`` (exclusive) in the encoded sequence."""

    start: int
    end: int


class BatchEncoding(dict):
    """What a tokenizer returns: a dict of ``input_ids``, ``token_type_ids``, ``attention_mask`` (lists, numpy
    arrays or torch tensors) that also answers attribute access (``.input_ids``), ``[i]`` (the i-th
    ``tokenizers.Encoding``) and transformers' alignment methods (``tokens``, ``word_ids``, ``sequence_ids``,
    ``char_to_token``, ``token_to_chars``, ``word_to_tokens``, ...); pass it as ``model(**encoded)``."""

    def __init__(self, data: Optional[dict] = None, encoding: Any = None, tensor_type: Optional[str] = None,
                 prepend_batch_axis: bool = False, n_sequences: Optional[int] = None):
        super().__init__(data or {})
        if encoding is not None and not isinstance(encoding, (list, tuple)):
            encoding = [encoding]
        self._encodings = None if encoding is None else list(encoding)
        if n_sequences is None and self._encodings:
            n_sequences = self._encodings[0].n_sequences
        self._n_sequences = n_sequences
        self.convert_to_tensors(tensor_type, prepend_batch_axis)

    def __getitem__(self, item: Any) -> Any:
        """A key's value; with an integer (or a slice), the batch item's ``tokenizers.Encoding`` (or items'); with
        a slice and no encodings, every key's values sliced."""
        if isinstance(item, str):
            return dict.__getitem__(self, item)
        if self._encodings is not None:
            return self._encodings[item]
        if isinstance(item, slice):
            return {key: value[item] for key, value in self.items()}
        raise KeyError(
            "Invalid key. Only three types of key are available: "
            "(1) string, (2) integers for backend Encoding, and (3) slices for data subsetting."
        )

    def __getattr__(self, item: str) -> Any:
        if item.startswith("__"):
            raise AttributeError(item)
        try:
            return dict.__getitem__(self, item)
        except KeyError:
            raise AttributeError(item) from None

    def __getstate__(self) -> dict:
        return {"data": dict(self), "encodings": self._encodings, "n_sequences": self._n_sequences}

    def __setstate__(self, state: dict) -> None:
        self.update(state["data"])
        self._encodings = state["encodings"]
        self._n_sequences = state.get("n_sequences")

    @property
    def data(self) -> "BatchEncoding":
        """transformers' underlying dict: here the BatchEncoding itself, which is one."""
        return self

    @property
    def encodings(self) -> Optional[list]:
        return self._encodings

    @property
    def n_sequences(self) -> Optional[int]:
        return self._n_sequences

    @property
    def is_fast(self) -> bool:
        return self._encodings is not None

    def _encoding(self, method: str, batch_index: int) -> Any:
        if not self._encodings:
            raise ValueError(f"{method}() is not available: this BatchEncoding holds no tokenizers encodings")
        return self._encodings[batch_index]

    def _two_indices(self, method: str, first: int, second: Optional[int]) -> tuple[Any, int]:
        """transformers' ``(index)`` for a batch of one, ``(batch_index, index)`` otherwise."""
        batch_index, index = (0, first) if second is None else (first, second)
        return self._encoding(method, batch_index), index

    def tokens(self, batch_index: int = 0) -> list[str]:
        return self._encoding("tokens", batch_index).tokens

    def word_ids(self, batch_index: int = 0) -> list[Optional[int]]:
        return self._encoding("word_ids", batch_index).word_ids

    def sequence_ids(self, batch_index: int = 0) -> list[Optional[int]]:
        return self._encoding("sequence_ids", batch_index).sequence_ids

    def token_to_sequence(self, batch_or_token_index: int, token_index: Optional[int] = None) -> Optional[int]:
        encoding, index = self._two_indices("token_to_sequence", batch_or_token_index, token_index)
        return encoding.token_to_sequence(index if index >= 0 else len(encoding.ids) + index)

    def token_to_word(self, batch_or_token_index: int, token_index: Optional[int] = None) -> Optional[int]:
        encoding, index = self._two_indices("token_to_word", batch_or_token_index, token_index)
        return encoding.token_to_word(index if index >= 0 else len(encoding.ids) + index)

    def word_to_tokens(self, batch_or_word_index: int, word_index: Optional[int] = None,
                       sequence_index: int = 0) -> Optional[TokenSpan]:
        encoding, index = self._two_indices("word_to_tokens", batch_or_word_index, word_index)
        span = encoding.word_to_tokens(index, sequence_index)
        return TokenSpan(*span) if span is not None else None

    def token_to_chars(self, batch_or_token_index: int, token_index: Optional[int] = None) -> Optional[CharSpan]:
        encoding, index = self._two_indices("token_to_chars", batch_or_token_index, token_index)
        span = encoding.token_to_chars(index)
        return CharSpan(*span) if span is not None else None

    def char_to_token(self, batch_or_char_index: int, char_index: Optional[int] = None,
                      sequence_index: int = 0) -> Optional[int]:
        encoding, index = self._two_indices("char_to_token", batch_or_char_index, char_index)
        return encoding.char_to_token(index, sequence_index)

    def word_to_chars(self, batch_or_word_index: int, word_index: Optional[int] = None,
                      sequence_index: int = 0) -> CharSpan:
        encoding, index = self._two_indices("word_to_chars", batch_or_word_index, word_index)
        return CharSpan(*encoding.word_to_chars(index, sequence_index))

    def char_to_word(self, batch_or_char_index: int, char_index: Optional[int] = None,
                     sequence_index: int = 0) -> Optional[int]:
        encoding, index = self._two_indices("char_to_word", batch_or_char_index, char_index)
        return encoding.char_to_word(index, sequence_index)

    def to(self, device: Any, *, non_blocking: bool = False) -> "BatchEncoding":
        """Moves torch tensors as transformers does (pybertcore's models run on the CPU); numpy arrays and lists
        stay as they are."""
        for key, value in list(self.items()):
            if is_torch_tensor(value):
                self[key] = value.to(device=device, non_blocking=non_blocking)
        return self

    def convert_to_tensors(self, tensor_type: Optional[str] = None,
                           prepend_batch_axis: bool = False) -> "BatchEncoding":
        """The lists as int64 arrays: numpy for "np", torch tensors for "pt" (sharing their memory);
        ``prepend_batch_axis`` first wraps each value in a batch of one."""
        if tensor_type is None:
            return self
        check_return_tensors(tensor_type)
        for key, value in list(self.items()):
            if isinstance(value, np.ndarray) or is_torch_tensor(value):
                continue
            try:
                arr = np.asarray([value] if prepend_batch_axis else value, dtype=np.int64)
            except (ValueError, TypeError):
                raise ValueError(
                    f"{key}: sequences have different lengths, so they cannot form one array; "
                    "use padding=True (or 'max_length') and truncation=True"
                ) from None
            self[key] = arr
        if tensor_type == "pt":
            import_torch('return_tensors="pt"')
            for key, value in list(self.items()):
                if isinstance(value, np.ndarray):
                    self[key] = to_torch(value)
        return self
