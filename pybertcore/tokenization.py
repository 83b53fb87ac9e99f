"""Tokenizers: text to the ``input_ids`` / ``token_type_ids`` / ``attention_mask`` the models take.

A thin layer over the ``tokenizers`` package (the Rust tokenizer transformers itself uses), with
transformers' call signature and padding/truncation rules, so ids are identical to
``transformers.AutoTokenizer`` on the same files. A folder with ``tokenizer.json`` is loaded as is; a
folder with only ``vocab.txt`` (+ ``tokenizer_config.json``) gets the BERT pipeline transformers builds:
WordPiece, BertNormalizer (lower-casing, accent stripping, CJK splitting as configured), BertPreTokenizer,
``[CLS] $A [SEP] $B:1 [SEP]:1`` and the WordPiece decoder. A folder with only a SentencePiece model
(DeBERTa-v3's ``spm.model``, ALBERT's ``spiece.model``) gets the tokenizer transformers' class builds from
it (pybertcore.tokenization_spm, the ``sentencepiece`` extra); other SentencePiece classes are refused by name.

Left out: slow (pure Python) tokenizers, ``is_split_into_words``, overflowing tokens with a stride,
``text_target``. ``return_tensors="np"`` gives numpy arrays, ``"pt"`` torch tensors (torch is imported only
then, and its absence is an ImportError that says so), None lists.

Files are untrusted: a file that cannot be read as what it claims to be (JSON, UTF-8, a tokenizer the
``tokenizers`` library accepts) raises OSError naming it, as transformers' "Can't load tokenizer" does; a
field of the wrong type or value (``padding_side``, ``model_max_length``, a special token that is not a
string) raises ValueError naming the field, prefixed with the file when it came from one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import threading
from pathlib import Path
from typing import Any, Iterable, Optional, Union

import numpy as np

from pybertcore.frameworks import import_torch, is_torch_tensor, to_torch
from pybertcore.hub import resolve_model_folder
from pybertcore.recipes import reduce_tokenizer, tokenizer_recipe
from pybertcore.thread_budget import cap_tokenizer_pool
from pybertcore.untrusted import describe, errors_name_file, load_json

logger = logging.getLogger("pybertcore")

TOKENIZER_FILE = "tokenizer.json"
VOCAB_FILE = "vocab.txt"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json"

VERY_LARGE_INTEGER = int(1e30)  # transformers' "no model_max_length" value
LARGE_INTEGER = int(1e20)

SPECIAL_TOKEN_NAMES = ("unk_token", "sep_token", "pad_token", "cls_token", "mask_token", "bos_token", "eos_token")

# Tokenizer classes whose models take no token_type_ids (transformers' model_input_names).
_NO_TOKEN_TYPE_CLASSES = ("Roberta", "XLMRoberta", "DistilBert", "Camembert", "Bart", "GPT2", "MPNet", "Longformer")


def _token_str(value: Any, field: str = "special token") -> Optional[str]:
    """A special token as written in tokenizer_config.json: a string, an AddedToken dict, or null."""
    content = value.get("content") if isinstance(value, dict) else value
    if content is None or isinstance(content, str):
        return content
    raise ValueError(f"{field}: expected a string or an object with a string \"content\", found {describe(value)}")


def _read_json(path: Path) -> dict:
    """A tokenizer's JSON file as an object ({} when absent); OSError naming the file when it is not one."""
    if not path.is_file():
        return {}
    data = load_json(path, lambda reason: OSError(f"{path} is {reason}"))
    if not isinstance(data, dict):
        raise OSError(f"{path} must hold a JSON object, found a JSON {type(data).__name__}")
    return data


@contextlib.contextmanager
def _tokenizers_errors(path: Path) -> Any:
    """The ``tokenizers`` library's errors (a bare Exception, or a Rust panic, which is a BaseException)
    on a file it cannot use, as OSError naming the file."""
    try:
        yield
    except (ValueError, OSError, MemoryError, ImportError):  # ImportError: a missing optional extra, said so
        raise
    except BaseException as e:  # noqa: B902 (pyo3's PanicException derives from BaseException)
        if not _is_panic(e) and not isinstance(e, Exception):
            raise
        raise OSError(f"{path}: the tokenizers library cannot load it: {str(e)[:300]}") from None


def _check_templates(processor: Any, path: Path) -> None:
    """A TemplateProcessing post-processor (also inside a Sequence) may only name special tokens it defines:
    the tokenizers library loads a template naming another one, then panics on the first encode."""
    if isinstance(processor, dict) and processor.get("type") == "Sequence":
        for child in processor.get("processors") or []:
            _check_templates(child, path)
        return
    if not isinstance(processor, dict) or processor.get("type") != "TemplateProcessing":
        return
    defined = processor.get("special_tokens")
    defined = defined if isinstance(defined, dict) else {}
    for template in ("single", "pair"):
        pieces = processor.get(template)
        for piece in pieces if isinstance(pieces, list) else []:
            special = piece.get("SpecialToken") if isinstance(piece, dict) else None
            token = special.get("id") if isinstance(special, dict) else None
            if token is not None and (not isinstance(token, str) or token not in defined):
                raise OSError(f"{path}: post_processor's {template} template uses special token {describe(token)}, "
                              "which its special_tokens do not define")


def _is_panic(error: BaseException) -> bool:
    """A Rust panic inside the tokenizers library (pyo3's PanicException derives from BaseException)."""
    return type(error).__name__ == "PanicException"


def load_vocab(vocab_file: Union[str, os.PathLike]) -> dict[str, int]:
    """``vocab.txt``: one token a line, its id the line number (as transformers reads it)."""
    vocab: dict[str, int] = {}
    try:
        with open(vocab_file, encoding="utf-8") as f:
            for index, line in enumerate(f):
                vocab[line.rstrip("\n")] = index
    except UnicodeDecodeError as e:
        raise OSError(f"{vocab_file} is not UTF-8 text (byte {e.start}: {e.reason})") from None
    return vocab


def _model_max_length(value: Any) -> int:
    """tokenizer_config.json's model_max_length: a non-negative number (1e30 means "no limit")."""
    if value is None:
        return VERY_LARGE_INTEGER
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        raise ValueError(f"model_max_length: expected a non-negative number, found {describe(value)}")
    return int(value)


def _side(field: str, value: Any) -> str:
    if value not in ("left", "right"):
        raise ValueError(f"{field}: expected 'left' or 'right', found {describe(value)}")
    return value


def check_return_tensors(tensor_type: Any) -> None:
    """transformers' names for the frameworks pybertcore returns: "np" (numpy) and "pt" (torch)."""
    if tensor_type not in ("np", "pt"):
        raise ValueError(
            f"return_tensors={tensor_type!r} is not supported by pybertcore; use 'pt' (torch), 'np' (numpy) or None"
        )


class BatchEncoding(dict):
    """What a tokenizer returns: a dict of ``input_ids``, ``token_type_ids``, ``attention_mask`` (lists or
    numpy arrays) that also answers attribute access and keeps the ``tokenizers`` encodings for
    ``tokens(i)`` / ``word_ids(i)``; pass it as ``model(**encoded)``."""

    def __init__(self, data: Optional[dict] = None, encodings: Optional[list] = None, n_sequences: Optional[int] = None):
        super().__init__(data or {})
        self._encodings = encodings
        self._n_sequences = n_sequences

    def __getattr__(self, item: str) -> Any:
        try:
            return self[item]
        except KeyError:
            raise AttributeError(item) from None

    def __getstate__(self) -> dict:
        return {"data": dict(self), "encodings": self._encodings}

    def __setstate__(self, state: dict) -> None:
        self.update(state["data"])
        self._encodings = state["encodings"]

    @property
    def encodings(self) -> Optional[list]:
        return self._encodings

    @property
    def n_sequences(self) -> Optional[int]:
        return self._n_sequences

    def tokens(self, batch_index: int = 0) -> list[str]:
        return self._encodings[batch_index].tokens

    def word_ids(self, batch_index: int = 0) -> list[Optional[int]]:
        return self._encodings[batch_index].word_ids

    def sequence_ids(self, batch_index: int = 0) -> list[Optional[int]]:
        return self._encodings[batch_index].sequence_ids

    def to(self, device: Any) -> "BatchEncoding":
        """For code written against transformers: arrays stay on the CPU."""
        return self

    def convert_to_tensors(self, tensor_type: Optional[str] = None) -> "BatchEncoding":
        """The lists as int64 arrays: numpy for "np", torch tensors for "pt" (sharing their memory)."""
        if tensor_type is None:
            return self
        check_return_tensors(tensor_type)
        for key, value in list(self.items()):
            if isinstance(value, np.ndarray) or is_torch_tensor(value):
                continue
            try:
                arr = np.asarray(value, dtype=np.int64)
            except ValueError:
                raise ValueError(
                    f"{key}: sequences have different lengths, so they cannot form one array; "
                    "use padding=True (or 'max_length') and truncation=True"
                ) from None
            if arr.ndim == 1 and key != "offset_mapping":
                arr = arr[None, :]
            self[key] = arr
        if tensor_type == "pt":
            import_torch('return_tensors="pt"')
            for key, value in list(self.items()):
                if isinstance(value, np.ndarray):
                    self[key] = to_torch(value)
        return self


class PreTrainedTokenizerFast:
    """A ``tokenizers.Tokenizer`` with transformers' tokenizer API (``__call__``, ``decode``, ...)."""

    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    # The transformers class whose SentencePiece recipe (pybertcore.tokenization_spm) from_pretrained uses
    # on a folder without tokenizer.json; None: the folder's tokenizer_config.json / config.json say.
    _sentencepiece_class: Optional[str] = None
    padding_side = "right"
    truncation_side = "right"

    def __init__(self, tokenizer_object: Any, **init_kwargs: Any) -> None:
        from tokenizers import AddedToken

        self._tokenizer = tokenizer_object
        self._warned_too_long = False
        # Padding and truncation are settings of the shared Rust tokenizer: one call at a time sets them.
        self._lock = threading.Lock()
        # Padding and truncation are set per call, as transformers does; the file's defaults never apply.
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.init_kwargs = dict(init_kwargs)
        self.name_or_path = str(init_kwargs.pop("name_or_path", ""))
        self.model_max_length = _model_max_length(init_kwargs.get("model_max_length"))
        self.padding_side = _side("padding_side", init_kwargs.get("padding_side", type(self).padding_side))
        self.truncation_side = _side("truncation_side", init_kwargs.get("truncation_side", type(self).truncation_side))
        self.clean_up_tokenization_spaces = bool(init_kwargs.get("clean_up_tokenization_spaces", False))
        names = init_kwargs.get("model_input_names")
        if names is None:
            cls_name = init_kwargs.get("tokenizer_class")
            if isinstance(cls_name, str) and any(cls_name.startswith(prefix) for prefix in _NO_TOKEN_TYPE_CLASSES):
                names = ["input_ids", "attention_mask"]
        if names is not None:
            if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
                raise ValueError(f"model_input_names: expected a list of strings, found {describe(names)}")
            self.model_input_names = list(names)
        for name in SPECIAL_TOKEN_NAMES:
            setattr(self, name, _token_str(init_kwargs.get(name), name))
        # transformers 5's other special tokens: model-specific ones ("<name>_token" strings, or a dict of
        # extra_special_tokens) and the extra_special_tokens list (transformers 4's additional_special_tokens).
        extra = init_kwargs.get("extra_special_tokens", init_kwargs.get("additional_special_tokens"))
        specific = [v for k, v in init_kwargs.items()
                    if k.endswith("_token") and k not in SPECIAL_TOKEN_NAMES and isinstance(v, str)]
        if isinstance(extra, dict):
            specific += list(extra.values())
            extra = None
        if extra is not None and not isinstance(extra, list):
            raise ValueError(f"extra_special_tokens: expected a list of tokens, found {describe(extra)}")
        self.extra_special_tokens = [
            t for t in (_token_str(v, "extra_special_tokens") for v in specific + list(extra or [])) if t is not None
        ]
        # Special tokens written in the text ("[MASK]") must stay whole, as in transformers.
        added = {a.content for a in self._tokenizer.get_added_tokens_decoder().values()}
        to_add = [
            AddedToken(t, special=True, normalized=False)
            for t in self.all_special_tokens
            if t not in added and self._tokenizer.token_to_id(t) is not None
        ]
        if to_add:
            self._tokenizer.add_special_tokens(to_add)

    # ------------------------------------------------------------------ loading and saving
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Union[str, os.PathLike], *inputs: Any, **kwargs: Any):
        """Loads ``tokenizer.json`` from a folder, or builds a BERT WordPiece tokenizer from ``vocab.txt``."""
        arguments = {k: v for k, v in kwargs.items() if k != "use_fast"}
        tokenizer = cls._from_files(pretrained_model_name_or_path, *inputs, **kwargs)
        hub = {k: arguments.pop(k) for k in ("cache_dir", "revision", "local_files_only", "token") if k in arguments}
        tokenizer._recipe = tokenizer_recipe(cls, pretrained_model_name_or_path, hub, arguments, tokenizer._tokenizer)
        return tokenizer

    @classmethod
    def _from_files(cls, pretrained_model_name_or_path: Union[str, os.PathLike], *inputs: Any, **kwargs: Any):
        from tokenizers import Tokenizer

        hub_kwargs = {k: kwargs.pop(k) for k in ("cache_dir", "revision", "local_files_only", "token") if k in kwargs}
        kwargs.pop("use_fast", None)
        folder = resolve_model_folder(pretrained_model_name_or_path, need_weights=False, **hub_kwargs)
        config_file, special_file = folder / TOKENIZER_CONFIG_FILE, folder / SPECIAL_TOKENS_MAP_FILE
        config = _read_json(config_file)
        special_map = _read_json(special_file)
        init_kwargs: dict[str, Any] = {}
        with errors_name_file(special_file):
            for name in SPECIAL_TOKEN_NAMES:
                if name in special_map:
                    init_kwargs[name] = _token_str(special_map[name], name)
        init_kwargs.update({k: v for k, v in config.items() if k != "added_tokens_decoder"})
        with errors_name_file(config_file):
            for name in SPECIAL_TOKEN_NAMES:
                if name in init_kwargs:
                    init_kwargs[name] = _token_str(init_kwargs[name], name)
        init_kwargs.update(kwargs)
        init_kwargs["name_or_path"] = str(pretrained_model_name_or_path)

        tokenizer_file = folder / TOKENIZER_FILE
        vocab_file = folder / VOCAB_FILE
        if tokenizer_file.is_file():
            tokenizer_json = _read_json(tokenizer_file)
            _check_templates(tokenizer_json.get("post_processor"), tokenizer_file)
            with _tokenizers_errors(tokenizer_file):
                tokenizer = Tokenizer.from_str(json.dumps(tokenizer_json))
            target = cls
            source = tokenizer_file
        else:
            from pybertcore import tokenization_spm as spm

            class_name = cls._sentencepiece_class or spm.folder_tokenizer_class(folder, init_kwargs)
            recipe = spm.RECIPES.get(spm.recipe_name(class_name) or "")
            if recipe is not None and (folder / recipe.file_name).is_file():
                target = _SENTENCEPIECE_CLASSES[spm.recipe_name(class_name)] if cls is PreTrainedTokenizerFast else cls
                source = folder / recipe.file_name
                with _tokenizers_errors(source):  # its errors name the file they come from
                    tokenizer, init_kwargs = spm.load_sentencepiece_tokenizer(
                        folder, recipe, config, special_map, init_kwargs, kwargs
                    )
                with errors_name_file(config_file), _tokenizers_errors(source):
                    return target(tokenizer, **init_kwargs)
            if vocab_file.is_file():
                target = BertTokenizerFast if cls is PreTrainedTokenizerFast else cls
                with errors_name_file(config_file), _tokenizers_errors(vocab_file):
                    return target._from_vocab(vocab_file, **init_kwargs)
            model_file = spm.sentencepiece_file_in(folder)
            if model_file is not None:
                raise OSError(spm.unsupported_message(folder, model_file, class_name))
            raise OSError(
                f"{folder} has neither {TOKENIZER_FILE} nor {VOCAB_FILE}; pybertcore loads a tokenizer from one of them"
            )
        cls_name = init_kwargs.get("tokenizer_class")
        if target is PreTrainedTokenizerFast and isinstance(cls_name, str):
            base_name = cls_name[:-4] if cls_name.endswith("Fast") else cls_name
            if base_name in _SENTENCEPIECE_CLASSES:
                target = _SENTENCEPIECE_CLASSES[base_name]
            elif cls_name.startswith("Bert"):
                target = BertTokenizerFast
        if target._sentencepiece_class is not None:
            from pybertcore.tokenization_spm import exact_unigram_scores

            with _tokenizers_errors(source):
                exact_unigram_scores(tokenizer, tokenizer_json)
        with errors_name_file(config_file), _tokenizers_errors(source):
            return target(tokenizer, **init_kwargs)

    def save_pretrained(self, save_directory: Union[str, os.PathLike], **kwargs: Any) -> tuple[str, ...]:
        """Writes ``tokenizer.json``, ``tokenizer_config.json``, ``special_tokens_map.json`` (and ``vocab.txt``
        for WordPiece), which transformers' ``AutoTokenizer.from_pretrained`` reads back."""
        folder = Path(save_directory)
        if folder.is_file():
            raise OSError(f"save_pretrained: {folder} is a file, not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        config = {k: v for k, v in self.init_kwargs.items() if k not in ("name_or_path", "added_tokens_decoder")}
        config.setdefault("tokenizer_class", type(self).__name__.replace("Fast", ""))
        config["model_max_length"] = self.model_max_length
        config["clean_up_tokenization_spaces"] = self.clean_up_tokenization_spaces
        for name in SPECIAL_TOKEN_NAMES:
            if getattr(self, name) is not None:
                config[name] = getattr(self, name)
        path = folder / TOKENIZER_CONFIG_FILE
        path.write_text(json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(str(path))
        path = folder / SPECIAL_TOKENS_MAP_FILE
        special = {n: getattr(self, n) for n in SPECIAL_TOKEN_NAMES if getattr(self, n) is not None}
        path.write_text(json.dumps(special, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(str(path))
        path = folder / TOKENIZER_FILE
        self._tokenizer.save(str(path))
        written.append(str(path))
        if type(self._tokenizer.model).__name__ == "WordPiece":
            vocab = self._tokenizer.model.get_vocab() if hasattr(self._tokenizer.model, "get_vocab") else None
            if vocab is None:
                vocab = self._tokenizer.get_vocab(with_added_tokens=False)
            path = folder / VOCAB_FILE
            with open(path, "w", encoding="utf-8") as f:
                for token, _ in sorted(vocab.items(), key=lambda kv: kv[1]):
                    f.write(token + "\n")
            written.append(str(path))
        return tuple(written)

    # ------------------------------------------------------------------ vocabulary
    @property
    def backend_tokenizer(self) -> Any:
        return self._tokenizer

    @property
    def vocab_size(self) -> int:
        return self._tokenizer.get_vocab_size(with_added_tokens=False)

    def __len__(self) -> int:
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def get_vocab(self) -> dict[str, int]:
        return self._tokenizer.get_vocab(with_added_tokens=True)

    @property
    def all_special_tokens(self) -> list[str]:
        out = []
        for name in SPECIAL_TOKEN_NAMES:
            token = getattr(self, name, None)
            if token is not None and token not in out:
                out.append(token)
        for token in getattr(self, "extra_special_tokens", ()):
            if token not in out:
                out.append(token)
        return out

    @property
    def all_special_ids(self) -> list[int]:
        return [self.convert_tokens_to_ids(t) for t in self.all_special_tokens]

    def _id_of(self, name: str) -> Optional[int]:
        token = getattr(self, name, None)
        return None if token is None else self._tokenizer.token_to_id(token)

    unk_token_id = property(lambda self: self._id_of("unk_token"))
    sep_token_id = property(lambda self: self._id_of("sep_token"))
    pad_token_id = property(lambda self: self._id_of("pad_token"))
    cls_token_id = property(lambda self: self._id_of("cls_token"))
    mask_token_id = property(lambda self: self._id_of("mask_token"))
    bos_token_id = property(lambda self: self._id_of("bos_token"))
    eos_token_id = property(lambda self: self._id_of("eos_token"))

    def convert_tokens_to_ids(self, tokens: Union[str, Iterable[str]]) -> Union[int, list[int]]:
        if isinstance(tokens, str):
            tid = self._tokenizer.token_to_id(tokens)
            return self.unk_token_id if tid is None else tid
        return [self.convert_tokens_to_ids(t) for t in tokens]

    def convert_ids_to_tokens(self, ids: Any, skip_special_tokens: bool = False) -> Union[str, list[str]]:
        if isinstance(ids, (int, np.integer)):
            return self._tokenizer.id_to_token(int(ids))
        special = set(self.all_special_ids) if skip_special_tokens else set()
        return [self._tokenizer.id_to_token(int(i)) for i in _as_id_list(ids) if int(i) not in special]

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return self._tokenizer.decoder.decode(tokens) if self._tokenizer.decoder else " ".join(tokens)

    def tokenize(self, text: str, pair: Optional[str] = None, add_special_tokens: bool = False, **kwargs: Any) -> list[str]:
        with self._lock:
            return self._tokenizer.encode(text, pair, add_special_tokens=add_special_tokens).tokens

    def __reduce__(self) -> tuple:
        """The recipe (from_pretrained's source and arguments) and the settings; the Rust tokenizer's state
        travels only when it differs from the source's (pybertcore.recipes)."""
        return reduce_tokenizer(self)

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return self._tokenizer.num_special_tokens_to_add(pair)

    # ------------------------------------------------------------------ encoding
    def _strategies(self, padding: Any, truncation: Any, max_length: Optional[int]) -> tuple[str, str, Optional[int]]:
        """transformers' ``_get_padding_truncation_strategies``: (padding, truncation, max_length)."""
        if max_length is not None and padding is False and truncation is None:
            truncation = "longest_first"  # a bare max_length truncates, for backward compatibility
        if padding is True:
            pad = "longest"
        elif padding is False or padding is None:
            pad = "do_not_pad"
        elif padding in ("longest", "max_length", "do_not_pad"):
            pad = padding
        else:
            raise ValueError(f"padding={padding!r}: expected True, False, 'longest', 'max_length' or 'do_not_pad'")
        if truncation is True:
            trunc = "longest_first"
        elif truncation is False or truncation is None:
            trunc = "do_not_truncate"
        elif truncation in ("longest_first", "only_first", "only_second", "do_not_truncate"):
            trunc = truncation
        else:
            raise ValueError(
                f"truncation={truncation!r}: expected True, False, 'longest_first', 'only_first' or 'only_second'"
            )
        # Past 2**63 a length cannot reach the Rust side (a usize) and means "no limit" as well as 1e30 does.
        no_limit = self.model_max_length > min(LARGE_INTEGER, 2**63 - 1)
        if max_length is None:
            if pad == "max_length":
                if no_limit:
                    pad = "do_not_pad"
                else:
                    max_length = self.model_max_length
            if trunc != "do_not_truncate":
                if no_limit:
                    trunc = "do_not_truncate"
                else:
                    max_length = self.model_max_length
        if pad != "do_not_pad" and self.pad_token_id is None:
            raise ValueError("Asking to pad but the tokenizer has no padding token (pad_token)")
        return pad, trunc, max_length

    def __call__(
        self,
        text: Union[str, list[str], list[tuple[str, str]], None] = None,
        text_pair: Union[str, list[str], None] = None,
        add_special_tokens: bool = True,
        padding: Union[bool, str] = False,
        truncation: Union[bool, str, None] = None,
        max_length: Optional[int] = None,
        stride: int = 0,
        pad_to_multiple_of: Optional[int] = None,
        padding_side: Optional[str] = None,
        return_tensors: Optional[str] = None,
        return_token_type_ids: Optional[bool] = None,
        return_attention_mask: Optional[bool] = None,
        return_special_tokens_mask: bool = False,
        return_offsets_mapping: bool = False,
        return_length: bool = False,
        verbose: bool = True,
        **kwargs: Any,
    ) -> BatchEncoding:
        """Tokenizes a string, a list of strings, a list of (text, text_pair) pairs, or text + text_pair."""
        if kwargs.pop("is_split_into_words", False):
            raise NotImplementedError("is_split_into_words is not supported by pybertcore's tokenizer")
        if kwargs.pop("return_overflowing_tokens", False):
            raise NotImplementedError("return_overflowing_tokens is not supported by pybertcore's tokenizer")
        if kwargs:
            raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
        if text is None:
            raise ValueError("You need to specify `text` (a string, a list of strings or a list of pairs)")
        if return_tensors is not None:
            check_return_tensors(return_tensors)
        batched = True
        if isinstance(text, str):
            if text_pair is not None and not isinstance(text_pair, str):
                raise ValueError("text is a string, so text_pair must be a string too")
            inputs = [text if text_pair is None else (text, text_pair)]
            batched = False
        else:
            text = list(text)
            if text_pair is not None:
                if isinstance(text_pair, str) or len(text_pair) != len(text):
                    raise ValueError(
                        f"text is a batch of {len(text)}, so text_pair must be a list of as many strings"
                    )
                inputs = [(a, b) for a, b in zip(text, text_pair)]
            else:
                inputs = [tuple(t) if isinstance(t, (list, tuple)) else t for t in text]
            for i, item in enumerate(inputs):
                ok = isinstance(item, str) or (
                    isinstance(item, tuple) and len(item) == 2 and all(isinstance(s, str) for s in item)
                )
                if not ok:
                    raise ValueError(
                        f"text[{i}] is {type(item).__name__}: expected a string or a (text, text_pair) pair of strings"
                    )
        pad, trunc, max_length = self._strategies(padding, truncation, max_length)
        if (
            trunc != "do_not_truncate" and pad != "do_not_pad" and pad_to_multiple_of is not None
            and max_length is not None and max_length % pad_to_multiple_of != 0
        ):
            raise ValueError(
                f"truncation length ({max_length}) is not a multiple of pad_to_multiple_of ({pad_to_multiple_of})"
            )
        return self._encode(
            inputs, batched, add_special_tokens, pad, trunc, max_length, stride, pad_to_multiple_of,
            padding_side or self.padding_side, return_tensors, return_token_type_ids, return_attention_mask,
            return_special_tokens_mask, return_offsets_mapping, return_length, verbose,
        )

    def _encode(
        self, inputs, batched, add_special_tokens, pad, trunc, max_length, stride, pad_to_multiple_of,
        padding_side, return_tensors, return_token_type_ids, return_attention_mask,
        return_special_tokens_mask, return_offsets_mapping, return_length, verbose=True,
    ) -> BatchEncoding:
        tok = self._tokenizer
        cap_tokenizer_pool()  # before the tokenizers pool first runs: it is sized once
        with self._lock:
            if trunc != "do_not_truncate":
                tok.enable_truncation(max_length, stride=stride, strategy=trunc, direction=self.truncation_side)
            else:
                tok.no_truncation()
            if pad != "do_not_pad":
                tok.enable_padding(
                    direction=padding_side, pad_id=self.pad_token_id, pad_type_id=0, pad_token=self.pad_token,
                    length=max_length if pad == "max_length" else None, pad_to_multiple_of=pad_to_multiple_of,
                )
            else:
                tok.no_padding()
            try:
                encodings = tok.encode_batch(inputs, add_special_tokens=add_special_tokens) if inputs else []
            except Exception as e:  # the Rust side raises a bare Exception, e.g. max_length below the special tokens
                raise ValueError(f"tokenizer ({trunc}, max_length={max_length}): {e}") from None
            except BaseException as e:  # a panic: a tokenizer file the library loaded but cannot run
                if not _is_panic(e):
                    raise
                raise ValueError(f"tokenizer {self.name_or_path}: the tokenizers library failed: {str(e)[:300]}") from None
            finally:
                # Leave the shared tokenizer as loaded (no padding, no truncation) for tokenize/encode users.
                tok.no_truncation()
                tok.no_padding()

        if trunc == "do_not_truncate" and verbose and not self._warned_too_long:
            longest = max((len(e.ids) for e in encodings), default=0)
            if longest > self.model_max_length:
                self._warned_too_long = True
                logger.warning(
                    "Token indices sequence length is longer than the specified maximum sequence length for this "
                    "model (%d > %d); the model will refuse it. Pass truncation=True to cut it.",
                    longest, self.model_max_length,
                )
        if return_token_type_ids is None:
            return_token_type_ids = "token_type_ids" in self.model_input_names
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        data: dict[str, list] = {"input_ids": [e.ids for e in encodings]}
        if return_token_type_ids:
            data["token_type_ids"] = [e.type_ids for e in encodings]
        if return_attention_mask:
            data["attention_mask"] = [e.attention_mask for e in encodings]
        if return_special_tokens_mask:
            data["special_tokens_mask"] = [e.special_tokens_mask for e in encodings]
        if return_offsets_mapping:
            data["offset_mapping"] = [e.offsets for e in encodings]
        if return_length:
            data["length"] = [len(e.ids) for e in encodings]
        if not batched:
            data = {k: v[0] for k, v in data.items()}
        n_sequences = encodings[0].n_sequences if encodings else None
        out = BatchEncoding(data, encodings=encodings, n_sequences=n_sequences)
        if return_tensors is not None:
            if batched and not encodings:
                out = BatchEncoding({k: np.zeros((0, 0), dtype=np.int64) for k in data}, encodings=encodings)
            out.convert_to_tensors(return_tensors)
        return out

    def encode(self, text: str, text_pair: Optional[str] = None, add_special_tokens: bool = True, **kwargs: Any) -> Any:
        """The ``input_ids`` of one text (or pair), as a list (or a (1, T) array with return_tensors='np')."""
        return self(text, text_pair, add_special_tokens=add_special_tokens, **kwargs)["input_ids"]

    def pad(self, encoded_inputs: Any, padding: Union[bool, str] = True, max_length: Optional[int] = None,
            pad_to_multiple_of: Optional[int] = None, return_attention_mask: Optional[bool] = None,
            return_tensors: Optional[str] = None) -> BatchEncoding:
        """Pads a list of encodings (dicts of lists) or a dict of lists of lists to one length."""
        if isinstance(encoded_inputs, (list, tuple)):
            keys = list(encoded_inputs[0].keys()) if encoded_inputs else ["input_ids"]
            encoded_inputs = {k: [list(e[k]) for e in encoded_inputs] for k in keys}
        batch = {k: [list(np.asarray(s).tolist()) for s in v] for k, v in dict(encoded_inputs).items()}
        ids = batch["input_ids"]
        if padding == "max_length":
            target = max_length if max_length is not None else self.model_max_length
        elif padding in (True, "longest"):
            target = max((len(s) for s in ids), default=0)
        else:
            target = None
        if target is not None and pad_to_multiple_of:
            target = -(-target // pad_to_multiple_of) * pad_to_multiple_of
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        if return_attention_mask and "attention_mask" not in batch:
            batch["attention_mask"] = [[1] * len(s) for s in ids]
        if target is not None:
            fill = {"input_ids": self.pad_token_id, "token_type_ids": 0, "attention_mask": 0, "special_tokens_mask": 1}
            for key, seqs in batch.items():
                value = fill.get(key, 0)
                for i, s in enumerate(seqs):
                    extra = [value] * max(0, target - len(s))
                    seqs[i] = s + extra if self.padding_side == "right" else extra + s
        out = BatchEncoding(batch)
        return out.convert_to_tensors(return_tensors) if return_tensors else out

    # ------------------------------------------------------------------ decoding
    def decode(self, token_ids: Any, skip_special_tokens: bool = False,
               clean_up_tokenization_spaces: Optional[bool] = None, **kwargs: Any) -> str:
        if isinstance(token_ids, (int, np.integer)):
            token_ids = [int(token_ids)]
        text = self._tokenizer.decode(_as_id_list(token_ids), skip_special_tokens=skip_special_tokens)
        clean = self.clean_up_tokenization_spaces if clean_up_tokenization_spaces is None else clean_up_tokenization_spaces
        return self.clean_up_tokenization(text) if clean else text

    def batch_decode(self, sequences: Any, skip_special_tokens: bool = False,
                     clean_up_tokenization_spaces: Optional[bool] = None, **kwargs: Any) -> list[str]:
        return [self.decode(s, skip_special_tokens, clean_up_tokenization_spaces) for s in sequences]

    @staticmethod
    def clean_up_tokenization(text: str) -> str:
        return (
            text.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
            .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s")
            .replace(" 've", "'ve").replace(" 're", "'re")
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name_or_path={self.name_or_path!r}, vocab_size={self.vocab_size}, "
            f"model_max_length={self.model_max_length}, padding_side={self.padding_side!r}, "
            f"special_tokens={self.all_special_tokens})"
        )


# Position ids of the RoBERTa family start after the padding index, so they use two fewer positions.
_POSITION_OFFSET_TYPES = ("roberta", "xlm-roberta", "camembert")


def model_token_limit(config: Any, tokenizer: Optional["PreTrainedTokenizerFast"] = None) -> int:
    """The most tokens one sequence may have: the model's position table, within the tokenizer's limit."""
    limit = int(config.max_position_embeddings)
    if getattr(config, "model_type", None) in _POSITION_OFFSET_TYPES:
        limit -= int(getattr(config, "pad_token_id", None) or 0) + 1
    if tokenizer is not None:
        limit = min(limit, int(tokenizer.model_max_length))
    return limit


def model_takes_token_types(config: Any) -> bool:
    """Whether the model has a token-type embedding to feed (DistilBERT has none)."""
    return int(getattr(config, "type_vocab_size", 0) or 0) > 0


def _as_id_list(ids: Any) -> list[int]:
    if hasattr(ids, "detach") and hasattr(ids, "cpu"):
        ids = ids.detach().cpu()
    arr = np.asarray(ids)
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 1:
        raise ValueError(f"expected a sequence of token ids, got an array of shape {tuple(arr.shape)}")
    return [int(i) for i in arr.tolist()]


class BertTokenizerFast(PreTrainedTokenizerFast):
    """BERT's WordPiece tokenizer; ``_from_vocab`` builds it as transformers' ``BertTokenizer`` does."""

    @classmethod
    def _from_vocab(cls, vocab_file: Union[str, os.PathLike], **init_kwargs: Any) -> "BertTokenizerFast":
        from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
        from tokenizers.models import WordPiece

        vocab = load_vocab(vocab_file)
        defaults = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                    "mask_token": "[MASK]"}
        for name, value in defaults.items():
            if init_kwargs.get(name) is None:
                init_kwargs[name] = value
        do_lower_case = init_kwargs.setdefault("do_lower_case", True)
        tokenize_chinese_chars = init_kwargs.setdefault("tokenize_chinese_chars", True)
        strip_accents = init_kwargs.setdefault("strip_accents", None)
        for field, value in (("do_lower_case", do_lower_case), ("tokenize_chinese_chars", tokenize_chinese_chars),
                             ("strip_accents", strip_accents)):
            if not isinstance(value, bool) and not (value is None and field == "strip_accents"):
                raise ValueError(f"{field}: expected true or false, found {describe(value)}")
        cls_token, sep_token = init_kwargs["cls_token"], init_kwargs["sep_token"]
        for field, token in (("cls_token", cls_token), ("sep_token", sep_token)):
            if ":" in token or token.startswith("$"):  # the template's own syntax: "<token>:<type id>", "$A"
                raise ValueError(f"{field}: {describe(token)} cannot stand in BERT's template (':' or a leading '$')")
        tokenizer = Tokenizer(WordPiece(vocab, unk_token=init_kwargs["unk_token"]))
        tokenizer.normalizer = normalizers.BertNormalizer(
            clean_text=True, handle_chinese_chars=tokenize_chinese_chars, strip_accents=strip_accents,
            lowercase=do_lower_case,
        )
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.decoder = decoders.WordPiece(prefix="##")
        cls_id = vocab.get(cls_token, 2)
        sep_id = vocab.get(sep_token, 3)
        tokenizer.post_processor = processors.TemplateProcessing(  # pieces as a list: a token may hold spaces
            single=[f"{cls_token}:0", "$A:0", f"{sep_token}:0"],
            pair=[f"{cls_token}:0", "$A:0", f"{sep_token}:0", "$B:1", f"{sep_token}:1"],
            special_tokens=[(cls_token, cls_id), (sep_token, sep_id)],
        )
        return cls(tokenizer, **init_kwargs)


BertTokenizer = BertTokenizerFast


class DebertaV2TokenizerFast(PreTrainedTokenizerFast):
    """DeBERTa-v2/v3's SentencePiece (Unigram) tokenizer. From a folder with only ``spm.model`` it is built as
    transformers' ``DebertaV2Tokenizer`` builds it (pybertcore.tokenization_spm; needs the sentencepiece extra)."""

    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    _sentencepiece_class = "DebertaV2Tokenizer"


class AlbertTokenizerFast(PreTrainedTokenizerFast):
    """ALBERT's SentencePiece (Unigram) tokenizer. From a folder with only ``spiece.model`` it is built as
    transformers' ``AlbertTokenizer`` builds it (pybertcore.tokenization_spm; needs the sentencepiece extra).
    transformers 5 gives ALBERT no token_type_ids by default."""

    model_input_names = ["input_ids", "attention_mask"]
    _sentencepiece_class = "AlbertTokenizer"


# transformers 5 names one class per tokenizer: DebertaV2Tokenizer is the fast one.
DebertaV2Tokenizer = DebertaV2TokenizerFast
AlbertTokenizer = AlbertTokenizerFast

# tokenizer_config.json's tokenizer_class (without "Fast") -> the class loading it.
_SENTENCEPIECE_CLASSES = {"DebertaV2Tokenizer": DebertaV2TokenizerFast, "AlbertTokenizer": AlbertTokenizerFast}


class AutoTokenizer:
    """``AutoTokenizer.from_pretrained(folder)``: the folder's ``tokenizer.json``, or BERT's WordPiece
    pipeline built from its ``vocab.txt``."""

    def __init__(self) -> None:
        raise OSError("AutoTokenizer is designed to be instantiated with AutoTokenizer.from_pretrained(path)")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Union[str, os.PathLike], *inputs: Any, **kwargs: Any):
        return PreTrainedTokenizerFast.from_pretrained(pretrained_model_name_or_path, *inputs, **kwargs)
