"""Tokenizers: text to the ``input_ids`` / ``token_type_ids`` / ``attention_mask`` the models take.

A thin layer over the ``tokenizers`` package (the Rust tokenizer transformers itself uses), with transformers
5's call signature, padding/truncation rules, BatchEncoding and tokenizer API, so ids, masks, offsets and
decoded text are identical to ``transformers.AutoTokenizer`` on the same files. The class is picked as
transformers picks it (tokenizer_config.json's ``tokenizer_class``, else config.json's ``model_type``), and
built as that class builds it:

- from ``tokenizer.json``: BertTokenizer (also DistilBERT, ELECTRA, nomic_bert), MPNetTokenizer,
  RobertaTokenizer, XLMRobertaTokenizer (also GTE), DebertaV2Tokenizer and AlbertTokenizer take the file's
  vocabulary (and merges) and build their own normalizer, pre-tokenizer, decoder and template from
  tokenizer_config.json and from_pretrained's keywords (``do_lower_case=False``, ``add_prefix_space``, ...),
  as transformers 5 does; other classes (ModernBERT's PreTrainedTokenizerFast) run the file as it is;
- from ``vocab.txt`` alone: BERT's WordPiece pipeline (BertNormalizer, BertPreTokenizer, ``[CLS] $A [SEP]``);
- from a SentencePiece model alone (DeBERTa-v3's ``spm.model``, ALBERT's ``spiece.model``):
  pybertcore.tokenization_spm (the ``sentencepiece`` extra); other SentencePiece classes are refused by name.

The rebuilds from tokenizer.json live in pybertcore.tokenization_json, the returned BatchEncoding in
pybertcore.batch_encoding; this module picks the class, reads the files and holds the tokenizer API.

Left out: slow (pure Python) tokenizers, chat templates, ``encode_plus``/``batch_encode_plus`` (transformers 5
dropped them too). ``return_tensors="np"`` gives numpy arrays, ``"pt"`` torch tensors (torch is imported only
then, and its absence is an ImportError that says so), None lists. Deliberately unlike transformers: a ragged
batch with ``return_tensors="np"`` raises ValueError (transformers returns an object array the models cannot
take), an empty batch gives empty arrays (transformers raises IndexError), and a keyword it does not know
raises TypeError naming it (transformers ignores it silently, so ``truncate=True`` would not truncate).

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
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Iterable, Optional, Union

import numpy as np

from pybertcore import tokenization_spm as spm
from pybertcore.batch_encoding import BatchEncoding, check_return_tensors
from pybertcore.frameworks import is_torch_tensor
from pybertcore.hub import resolve_model_folder
from pybertcore.recipes import reduce_tokenizer, tokenizer_recipe
from pybertcore.thread_budget import cap_tokenizer_pool
from pybertcore.tokenization_json import rebuild_from_json
from pybertcore.untrusted import describe, errors_name_file, load_json

logger = logging.getLogger("pybertcore")

TOKENIZER_FILE = "tokenizer.json"
VOCAB_FILE = "vocab.txt"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json"

VERY_LARGE_INTEGER = int(1e30)  # transformers' "no model_max_length" value
LARGE_INTEGER = int(1e20)

# transformers' SPECIAL_TOKENS_ATTRIBUTES, in its order (that of special_tokens_map and all_special_tokens).
SPECIAL_TOKEN_NAMES = spm.SPECIAL_ATTRIBUTES

# transformers 5's tokenizer classes (tokenizer_config.json's tokenizer_class, without "Fast") whose
# model_input_names hold token_type_ids; a tokenizer.json of another class gives input_ids and attention_mask only.
_TOKEN_TYPE_CLASSES = frozenset({
    "BertTokenizer", "ElectraTokenizer", "SqueezeBertTokenizer", "LayoutLMTokenizer", "ConvBertTokenizer",
    "MobileBertTokenizer", "DebertaTokenizer", "DebertaV2Tokenizer", "LayoutLMv2Tokenizer", "LxmertTokenizer",
    "DPRQuestionEncoderTokenizer", "DPRContextEncoderTokenizer", "DPRReaderTokenizer", "CanineTokenizer",
    "FNetTokenizer", "TapasTokenizer", "MarkupLMTokenizer",
})


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


class PreTrainedTokenizerFast:
    """A ``tokenizers.Tokenizer`` with transformers' tokenizer API (``__call__``, ``decode``, ...): transformers
    5's ``TokenizersBackend``, which it also names ``PreTrainedTokenizerFast``."""

    model_input_names = ["input_ids", "attention_mask"]
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
        # Padding and truncation are set per call, as transformers does; the file's settings only give defaults
        # (pad_token, padding_side, truncation_side) and are written back by save_pretrained.
        self._file_truncation = self._tokenizer.truncation
        self._file_padding = self._tokenizer.padding
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        if self._file_truncation:
            init_kwargs.setdefault("truncation_side", self._file_truncation.get("direction"))
        if self._file_padding:
            init_kwargs.setdefault("pad_token", self._file_padding.get("pad_token"))
            init_kwargs.setdefault("padding_side", self._file_padding.get("direction"))
        self.init_kwargs = dict(init_kwargs)
        self.name_or_path = str(init_kwargs.pop("name_or_path", ""))
        self.model_max_length = _model_max_length(init_kwargs.get("model_max_length"))
        self.padding_side = _side("padding_side", init_kwargs.get("padding_side", type(self).padding_side))
        self.truncation_side = _side("truncation_side", init_kwargs.get("truncation_side", type(self).truncation_side))
        self.clean_up_tokenization_spaces = bool(init_kwargs.get("clean_up_tokenization_spaces", False))
        self.split_special_tokens = bool(init_kwargs.get("split_special_tokens", False))
        names = init_kwargs.get("model_input_names")
        if names is None and type(self) is PreTrainedTokenizerFast:
            # The file run as it is: the inputs of the class the folder names (TokenizersBackend's otherwise).
            if _base_class_name(init_kwargs.get("tokenizer_class")) in _TOKEN_TYPE_CLASSES:
                names = ["input_ids", "token_type_ids", "attention_mask"]
        if names is not None:
            if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
                raise ValueError(f"model_input_names: expected a list of strings, found {describe(names)}")
            self.model_input_names = list(names)
        for name in SPECIAL_TOKEN_NAMES:
            setattr(self, name, _token_str(init_kwargs.get(name), name))
        # transformers 5's other special tokens: model-specific ones ("<name>_token" strings, or a dict of
        # extra_special_tokens), named like the standard ones, and the extra_special_tokens list (transformers 4's
        # additional_special_tokens).
        extra = init_kwargs.get("extra_special_tokens", init_kwargs.get("additional_special_tokens"))
        specific = {k: v for k, v in init_kwargs.items()
                    if k.endswith("_token") and k not in SPECIAL_TOKEN_NAMES and isinstance(v, str)}
        if isinstance(extra, dict):
            specific.update({str(k): _token_str(v, f"extra_special_tokens.{k}") for k, v in extra.items()})
            extra = None
        if extra is not None and not isinstance(extra, list):
            raise ValueError(f"extra_special_tokens: expected a list of tokens, found {describe(extra)}")
        self._model_specific_tokens = {k: v for k, v in specific.items() if v is not None}
        self.extra_special_tokens = [
            t for t in (_token_str(v, "extra_special_tokens") for v in extra or []) if t is not None
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

    def __getattr__(self, key: str) -> Any:
        # A model-specific special token (image_token) and its id (image_token_id), as transformers 5 gives them.
        specific = self.__dict__.get("_model_specific_tokens") or {}
        if key in specific:
            return specific[key]
        if key.endswith("_id") and key[:-3] in specific:
            return self.convert_tokens_to_ids(specific[key[:-3]])
        raise AttributeError(f"{type(self).__name__} has no attribute {key}")

    def __setattr__(self, key: str, value: Any) -> None:
        # transformers takes a tokenizers.AddedToken for a named special token and keeps its text
        if key in SPECIAL_TOKEN_NAMES and value is not None and not isinstance(value, str):
            content = getattr(value, "content", None)
            if not isinstance(content, str):
                raise ValueError(f"Cannot set a non-string value as the {key}")
            value = content
        object.__setattr__(self, key, value)

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
        folder = resolve_model_folder(pretrained_model_name_or_path, need_weights=False, tokenizer=True, **hub_kwargs)
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
            class_name = _json_class_name(cls, folder, init_kwargs)
            target = _JSON_TARGETS.get(class_name, cls) if cls is PreTrainedTokenizerFast else cls
            with errors_name_file(config_file), _tokenizers_errors(tokenizer_file):
                rebuilt = rebuild_from_json(class_name, tokenizer_json, tokenizer_file, config, special_map,
                                            init_kwargs, kwargs)
                if rebuilt is not None:
                    return target(rebuilt, **init_kwargs)
                tokenizer = Tokenizer.from_str(json.dumps(tokenizer_json))
                if target._sentencepiece_class is not None:
                    spm.exact_unigram_scores(tokenizer, tokenizer_json)
                return target(tokenizer, **init_kwargs)
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
            target = _JSON_TARGETS.get(_base_class_name(init_kwargs.get("tokenizer_class")), BertTokenizer) \
                if cls is PreTrainedTokenizerFast else cls
            if not issubclass(target, BertTokenizer):
                target = BertTokenizer
            with errors_name_file(config_file), _tokenizers_errors(vocab_file):
                return target._from_vocab(vocab_file, **init_kwargs)
        model_file = spm.sentencepiece_file_in(folder)
        if model_file is not None:
            raise OSError(spm.unsupported_message(folder, model_file, class_name))
        raise OSError(
            f"{folder} has neither {TOKENIZER_FILE} nor {VOCAB_FILE}; pybertcore loads a tokenizer from one of them"
        )

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
        with self._lock:  # the file keeps the padding and truncation it was loaded with, as in transformers
            try:
                if self._file_truncation:
                    self._tokenizer.enable_truncation(**self._file_truncation)
                if self._file_padding:
                    self._tokenizer.enable_padding(**self._file_padding)
                self._tokenizer.save(str(path))
            finally:
                self._tokenizer.no_truncation()
                self._tokenizer.no_padding()
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
    def decoder(self) -> Any:
        return self._tokenizer.decoder

    @property
    def is_fast(self) -> bool:
        return True

    def __bool__(self) -> bool:
        return True

    @property
    def vocab_size(self) -> int:
        return self._tokenizer.get_vocab_size(with_added_tokens=False)

    def __len__(self) -> int:
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def get_vocab(self) -> dict[str, int]:
        return self._tokenizer.get_vocab(with_added_tokens=True)

    @property
    def vocab(self) -> dict[str, int]:
        return self.get_vocab()

    @property
    def added_tokens_decoder(self) -> dict[int, Any]:
        """The added tokens (special ones included) by id, as ``tokenizers.AddedToken``."""
        return self._tokenizer.get_added_tokens_decoder()

    @property
    def added_tokens_encoder(self) -> dict[str, int]:
        return {token.content: index for index, token in sorted(self.added_tokens_decoder.items())}

    def get_added_vocab(self) -> dict[str, int]:
        return self.added_tokens_encoder

    @property
    def pad_token_type_id(self) -> int:
        return 0

    @property
    def special_tokens_map(self) -> dict[str, str]:
        """The named special tokens (bos, eos, unk, sep, pad, cls, mask, then model-specific ones such as
        image_token), as transformers 5 lists them; extra_special_tokens are not named."""
        named = {name: getattr(self, name) for name in SPECIAL_TOKEN_NAMES if getattr(self, name) is not None}
        return {**named, **self.__dict__.get("_model_specific_tokens", {})}

    @property
    def all_special_tokens(self) -> list[str]:
        out = []
        for token in self.special_tokens_map.values():
            if token not in out:
                out.append(token)
        for token in getattr(self, "extra_special_tokens", ()):
            if token not in out:
                out.append(token)
        return out

    @property
    def all_special_ids(self) -> list[int]:
        return [self.convert_tokens_to_ids(t) for t in self.all_special_tokens]

    @property
    def extra_special_tokens_ids(self) -> list[int]:
        return [self.convert_tokens_to_ids(t) for t in self.extra_special_tokens]

    def _id_of(self, name: str) -> Optional[int]:
        """A named special token's id: as transformers, a token missing from the vocabulary gives unk's id."""
        token = getattr(self, name, None)
        if token is None:
            return None
        index = self._tokenizer.token_to_id(token)
        if index is None and name != "unk_token":
            return self._id_of("unk_token")
        return index

    def _set_id(self, name: str, value: Optional[int]) -> None:
        setattr(self, name, None if value is None else self.convert_ids_to_tokens(int(value)))

    unk_token_id = property(lambda self: self._id_of("unk_token"), lambda self, v: self._set_id("unk_token", v))
    sep_token_id = property(lambda self: self._id_of("sep_token"), lambda self, v: self._set_id("sep_token", v))
    pad_token_id = property(lambda self: self._id_of("pad_token"), lambda self, v: self._set_id("pad_token", v))
    cls_token_id = property(lambda self: self._id_of("cls_token"), lambda self, v: self._set_id("cls_token", v))
    mask_token_id = property(lambda self: self._id_of("mask_token"), lambda self, v: self._set_id("mask_token", v))
    bos_token_id = property(lambda self: self._id_of("bos_token"), lambda self, v: self._set_id("bos_token", v))
    eos_token_id = property(lambda self: self._id_of("eos_token"), lambda self, v: self._set_id("eos_token", v))

    def add_tokens(self, new_tokens: Any, special_tokens: bool = False) -> int:
        """Adds tokens to the vocabulary (those it lacks, after the last id); returns how many were added. The
        model's embedding table does not grow with it: pybertcore runs inference only."""
        from tokenizers import AddedToken

        if not new_tokens:
            return 0
        if not isinstance(new_tokens, (list, tuple)):
            new_tokens = [new_tokens]
        for token in new_tokens:
            if not isinstance(token, (str, AddedToken)):
                raise TypeError(f"add_tokens: expected str or tokenizers.AddedToken, found {describe(token)}")
        if special_tokens:
            return self._tokenizer.add_special_tokens(list(new_tokens))
        return self._tokenizer.add_tokens(list(new_tokens))

    def add_special_tokens(self, special_tokens_dict: dict, replace_extra_special_tokens: bool = True) -> int:
        """Sets named special tokens (``{"pad_token": "[PAD]"}``) and ``extra_special_tokens`` (transformers 4's
        ``additional_special_tokens``), adding those the vocabulary lacks; returns how many were added."""
        from tokenizers import AddedToken

        if not special_tokens_dict:
            return 0
        special_tokens_dict = dict(special_tokens_dict)
        if "additional_special_tokens" in special_tokens_dict and not special_tokens_dict.get("extra_special_tokens"):
            special_tokens_dict["extra_special_tokens"] = special_tokens_dict.pop("additional_special_tokens")
        allowed = set(SPECIAL_TOKEN_NAMES) | {"extra_special_tokens"}
        to_add = []
        for key, value in special_tokens_dict.items():
            if key not in allowed:
                raise ValueError(f"Key {key} is not a valid special token. Valid keys are: {sorted(allowed)}")
            if key == "extra_special_tokens":
                if not isinstance(value, (list, tuple)) or not all(isinstance(t, (str, AddedToken)) for t in value):
                    raise ValueError(f"Tokens {value} for key {key} should all be str or AddedToken instances")
                new = [AddedToken(t, normalized=False, special=True) if isinstance(t, str) else t for t in value
                       if replace_extra_special_tokens or str(t) not in self.extra_special_tokens]
                texts = [str(t) if isinstance(t, str) else t.content for t in new]
                if replace_extra_special_tokens and new:
                    self.extra_special_tokens = texts
                else:
                    self.extra_special_tokens = list(self.extra_special_tokens) + texts
                to_add += new
            else:
                if not isinstance(value, (str, AddedToken)):
                    raise ValueError(f"Token {value} for key {key} should be a str or an AddedToken instance")
                if isinstance(value, str):
                    value = AddedToken(value, normalized=False, special=True)
                setattr(self, key, value.content)
                to_add.append(value)
        return self.add_tokens(to_add, special_tokens=True)

    def convert_tokens_to_ids(self, tokens: Union[str, Iterable[str]]) -> Union[int, list[int]]:
        if isinstance(tokens, str):
            tid = self._tokenizer.token_to_id(tokens)
            return self.unk_token_id if tid is None else tid
        return [self.convert_tokens_to_ids(t) for t in tokens]

    def convert_ids_to_tokens(self, ids: Any, skip_special_tokens: bool = False) -> Union[str, list[str], None]:
        if isinstance(ids, (int, np.integer)) or (is_torch_tensor(ids) or isinstance(ids, np.ndarray)) and not ids.ndim:
            return self._tokenizer.id_to_token(int(ids))
        special = set(self.all_special_ids) if skip_special_tokens else set()
        return [self._tokenizer.id_to_token(int(i)) for i in _as_id_list(ids) if int(i) not in special]

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return self._tokenizer.decoder.decode(tokens) if self._tokenizer.decoder else " ".join(tokens)

    def tokenize(self, text: str, pair: Optional[str] = None, add_special_tokens: bool = False,
                 **kwargs: Any) -> list[str]:
        return self(text, pair, add_special_tokens=add_special_tokens, **kwargs).tokens()

    def __reduce__(self) -> tuple:
        """The recipe (from_pretrained's source and arguments) and the settings; the Rust tokenizer's state
        travels only when it differs from the source's (pybertcore.recipes)."""
        return reduce_tokenizer(self)

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return self._tokenizer.num_special_tokens_to_add(pair)

    @property
    def max_len_single_sentence(self) -> int:
        return self.model_max_length - self.num_special_tokens_to_add(pair=False)

    @property
    def max_len_sentences_pair(self) -> int:
        return self.model_max_length - self.num_special_tokens_to_add(pair=True)

    def get_special_tokens_mask(self, token_ids_0: list[int], token_ids_1: Optional[list[int]] = None,
                                already_has_special_tokens: bool = False) -> list[int]:
        """1 for a special token of ids that already hold them, 0 for the others (transformers 5 computes only
        that case for fast tokenizers)."""
        if not already_has_special_tokens:
            raise NotImplementedError(
                f"{type(self).__name__} does not implement get_special_tokens_mask for non-formatted sequences"
            )
        if token_ids_1 is not None:
            raise ValueError(
                "You should not supply a second sequence if the provided sequence of ids is already formatted "
                "with special tokens for the model."
            )
        special = set(self.all_special_ids)
        return [1 if int(i) in special else 0 for i in token_ids_0]

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
            raise ValueError(
                "Asking to pad but the tokenizer does not have a padding token (pad_token). Set one, e.g. "
                "tokenizer.pad_token = tokenizer.eos_token"
            )
        return pad, trunc, max_length

    def __call__(
        self,
        text: Union[str, list[str], list[tuple[str, str]], list[list[str]], None] = None,
        text_pair: Union[str, list[str], list[list[str]], None] = None,
        text_target: Union[str, list[str], None] = None,
        text_pair_target: Union[str, list[str], None] = None,
        add_special_tokens: bool = True,
        padding: Union[bool, str] = False,
        truncation: Union[bool, str, None] = None,
        max_length: Optional[int] = None,
        stride: int = 0,
        is_split_into_words: bool = False,
        pad_to_multiple_of: Optional[int] = None,
        padding_side: Optional[str] = None,
        return_tensors: Optional[str] = None,
        return_token_type_ids: Optional[bool] = None,
        return_attention_mask: Optional[bool] = None,
        return_overflowing_tokens: bool = False,
        return_special_tokens_mask: bool = False,
        return_offsets_mapping: bool = False,
        return_length: bool = False,
        verbose: bool = True,
        tokenizer_kwargs: Optional[dict] = None,
        **kwargs: Any,
    ) -> BatchEncoding:
        """Tokenizes a string, a list of strings, a list of (text, text_pair) pairs, or text + text_pair (each a
        list of words with ``is_split_into_words=True``); ``text_target`` is encoded alike into ``labels``."""
        options = {
            "add_special_tokens": add_special_tokens, "padding": padding, "truncation": truncation,
            "max_length": max_length, "stride": stride, "is_split_into_words": is_split_into_words,
            "pad_to_multiple_of": pad_to_multiple_of, "padding_side": padding_side, "return_tensors": return_tensors,
            "return_token_type_ids": return_token_type_ids, "return_attention_mask": return_attention_mask,
            "return_overflowing_tokens": return_overflowing_tokens,
            "return_special_tokens_mask": return_special_tokens_mask,
            "return_offsets_mapping": return_offsets_mapping, "return_length": return_length,
            "split_special_tokens": kwargs.pop("split_special_tokens", self.split_special_tokens), "verbose": verbose,
        }
        max_target_length = kwargs.pop("max_target_length", None)
        # transformers merges tokenizer_kwargs, then other keywords, over the named arguments
        options.update(tokenizer_kwargs or {})
        unknown = sorted(k for k in kwargs if k not in options)
        if unknown:  # transformers ignores them silently: a typo (truncate=True) would then change nothing unseen
            raise TypeError(f"{type(self).__name__}.__call__() got unexpected keyword argument(s): "
                            f"{', '.join(unknown)}")
        options.update(kwargs)
        if text is None and text_target is None:
            raise ValueError("You need to specify either `text` or `text_target`.")
        if text is not None:
            encoded = self._call_one(text, text_pair, **options)
        if text_target is not None:
            if max_target_length is not None:
                options["max_length"] = max_target_length
            target = self._call_one(text_target, text_pair_target, **options)
            if text is None:
                return target
            encoded["labels"] = target["input_ids"]
        return encoded

    def _call_one(self, text: Any, text_pair: Any, add_special_tokens: bool = True, padding: Any = False,
                  truncation: Any = None, max_length: Optional[int] = None, stride: int = 0,
                  is_split_into_words: bool = False, pad_to_multiple_of: Optional[int] = None,
                  padding_side: Optional[str] = None, return_tensors: Optional[str] = None,
                  return_token_type_ids: Optional[bool] = None, return_attention_mask: Optional[bool] = None,
                  return_overflowing_tokens: bool = False, return_special_tokens_mask: bool = False,
                  return_offsets_mapping: bool = False, return_length: bool = False, verbose: bool = True,
                  split_special_tokens: bool = False) -> BatchEncoding:
        """One of text / text_target: the inputs checked and batched as transformers does, then encoded."""
        if return_tensors is not None:
            check_return_tensors(return_tensors)
        if padding_side is not None:
            _side("padding_side", padding_side)
        inputs, batched = _batch_inputs(text, text_pair, is_split_into_words)
        pad, trunc, max_length_used = self._strategies(padding, truncation, max_length)
        if (
            trunc != "do_not_truncate" and pad != "do_not_pad" and pad_to_multiple_of is not None
            and max_length_used is not None and max_length_used % pad_to_multiple_of != 0
        ):
            raise ValueError(
                "Truncation and padding are both activated but "
                f"truncation length ({max_length_used}) is not a multiple of pad_to_multiple_of ({pad_to_multiple_of})."
            )
        encodings = self._run_backend(
            inputs, add_special_tokens, pad, trunc, max_length_used, stride, pad_to_multiple_of,
            padding_side or self.padding_side, is_split_into_words, bool(split_special_tokens),
        )
        if return_overflowing_tokens:
            rows = [[e] + list(e.overflowing) for e in encodings]
        else:
            rows = [[e] for e in encodings]
        flat = [e for row in rows for e in row]
        if max_length_used is None and verbose:
            self._warn_if_too_long(flat)
        if return_token_type_ids is None:
            return_token_type_ids = "token_type_ids" in self.model_input_names
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        data: dict[str, list] = {"input_ids": [e.ids for e in flat]}
        if return_token_type_ids:
            data["token_type_ids"] = [e.type_ids for e in flat]
        if return_attention_mask:
            data["attention_mask"] = [e.attention_mask for e in flat]
        if return_special_tokens_mask:
            data["special_tokens_mask"] = [e.special_tokens_mask for e in flat]
        if return_offsets_mapping:
            data["offset_mapping"] = [e.offsets for e in flat]
        if return_length:
            data["length"] = [len(e.ids) for e in flat]
        if return_overflowing_tokens:
            data["overflow_to_sample_mapping"] = [i for i, row in enumerate(rows) for _ in row]
        if return_tensors is not None and not flat:  # an empty batch: (0, 0) arrays, not (0,)
            data = {k: np.zeros((0, 0), dtype=np.int64) for k in data}
        out = BatchEncoding(data, flat, tensor_type=return_tensors)
        if not batched and return_tensors is None and not return_overflowing_tokens:
            # A single input loses its batch axis, as in transformers: a value that is not a list of lists
            # (return_length's [n]) stays as it is.
            out = BatchEncoding(
                {k: v[0] if v and isinstance(v[0], list) else v for k, v in out.items()}, flat
            )
        return out

    def _run_backend(self, inputs: list, add_special_tokens: bool, pad: str, trunc: str, max_length: Optional[int],
                     stride: int, pad_to_multiple_of: Optional[int], padding_side: str, is_pretokenized: bool,
                     split_special_tokens: bool) -> list:
        """The ``tokenizers`` encodings of a batch, with this call's padding and truncation (settings of the
        shared Rust tokenizer, so one call at a time sets them)."""
        tok = self._tokenizer
        cap_tokenizer_pool()  # before the tokenizers pool first runs: it is sized once
        with self._lock:
            if trunc != "do_not_truncate":
                tok.enable_truncation(max_length, stride=stride, strategy=trunc, direction=self.truncation_side)
            else:
                tok.no_truncation()
            if pad != "do_not_pad":
                tok.enable_padding(
                    direction=padding_side, pad_id=self.pad_token_id, pad_type_id=self.pad_token_type_id,
                    pad_token=self.pad_token, length=max_length if pad == "max_length" else None,
                    pad_to_multiple_of=pad_to_multiple_of,
                )
            else:
                tok.no_padding()
            tok.encode_special_tokens = split_special_tokens
            try:
                if not inputs:
                    return []
                return tok.encode_batch(inputs, add_special_tokens=add_special_tokens, is_pretokenized=is_pretokenized)
            except Exception as e:  # the Rust side raises a bare Exception, e.g. max_length below the special tokens
                raise ValueError(f"tokenizer ({trunc}, max_length={max_length}): {e}") from None
            except BaseException as e:  # a panic: a tokenizer file the library loaded but cannot run
                if not _is_panic(e):
                    raise
                raise ValueError(
                    f"tokenizer {self.name_or_path}: the tokenizers library failed: {str(e)[:300]}"
                ) from None
            finally:
                # Leave the shared tokenizer as loaded (no padding, no truncation) for backend_tokenizer users.
                tok.no_truncation()
                tok.no_padding()
                tok.encode_special_tokens = False

    def _warn_if_too_long(self, encodings: list) -> None:
        """transformers' warning, once per tokenizer, for a sequence longer than model_max_length when no
        max_length applied."""
        if self._warned_too_long or not self.model_max_length:
            return
        longest = max((len(e.ids) for e in encodings), default=0)
        if longest > self.model_max_length:
            self._warned_too_long = True
            logger.warning(
                "Token indices sequence length is longer than the specified maximum sequence length for this "
                "model (%d > %d); the model will refuse it. Pass truncation=True to cut it.",
                longest, self.model_max_length,
            )

    def encode(self, text: Any, text_pair: Any = None, add_special_tokens: bool = True, padding: Any = False,
               truncation: Any = None, max_length: Optional[int] = None, stride: int = 0,
               padding_side: Optional[str] = None, return_tensors: Optional[str] = None, **kwargs: Any) -> Any:
        """The ``input_ids`` of one text (or pair), as a list (or a (1, T) array with return_tensors)."""
        return self(text, text_pair, add_special_tokens=add_special_tokens, padding=padding, truncation=truncation,
                    max_length=max_length, stride=stride, padding_side=padding_side, return_tensors=return_tensors,
                    **kwargs)["input_ids"]

    def pad(self, encoded_inputs: Any, padding: Union[bool, str] = True, max_length: Optional[int] = None,
            pad_to_multiple_of: Optional[int] = None, padding_side: Optional[str] = None,
            return_attention_mask: Optional[bool] = None, return_tensors: Optional[str] = None,
            verbose: bool = True) -> BatchEncoding:
        """transformers' ``pad``: one encoding (a dict of lists) or a batch (a list of such dicts, or a dict of
        lists of lists) padded to one length. input_ids, token_type_ids, attention_mask and special_tokens_mask
        are padded; other keys (labels, offset_mapping) pass through. Arrays in give arrays out."""
        if isinstance(encoded_inputs, (list, tuple)) and encoded_inputs and isinstance(encoded_inputs[0], Mapping):
            encoded_inputs = {key: [example[key] for example in encoded_inputs] for key in encoded_inputs[0].keys()}
        if not isinstance(encoded_inputs, Mapping):
            raise ValueError(
                "pad() takes an encoding (a dict of lists), a list of encodings or a dict of lists of lists, "
                f"found {type(encoded_inputs).__name__}"
            )
        main = self.model_input_names[0]
        if main not in encoded_inputs:
            raise ValueError(
                "You should supply an encoding or a list of encodings to this method "
                f"that includes {main}, but you provided {list(encoded_inputs.keys())}"
            )
        encoded_inputs = dict(encoded_inputs)
        required = encoded_inputs[main]
        if required is None or len(required) == 0:
            if return_attention_mask:
                encoded_inputs["attention_mask"] = []
            return BatchEncoding(encoded_inputs)
        first = required[0]
        if isinstance(first, (list, tuple)):
            first = next((item[0] for item in required if len(item)), first)
        if not isinstance(first, (int, list, tuple)):
            if is_torch_tensor(first) or is_torch_tensor(required):
                return_tensors = "pt" if return_tensors is None else return_tensors
            elif isinstance(first, (np.ndarray, np.integer)):
                return_tensors = "np" if return_tensors is None else return_tensors
            else:
                raise ValueError(f"type of {first} unknown: {type(first)}. Should be one of a python, numpy, or "
                                 "pytorch object.")
            encoded_inputs = {k: _to_python(v) for k, v in encoded_inputs.items()}
        pad, _, max_length = self._strategies(padding, None, max_length)
        required = encoded_inputs[main]
        if required and not isinstance(required[0], (list, tuple)):
            out = self._pad_one(dict(encoded_inputs), max_length, pad, pad_to_multiple_of, padding_side,
                                return_attention_mask)
            return BatchEncoding(out, tensor_type=return_tensors)
        batch_size = len(required)
        for key, value in encoded_inputs.items():
            if len(value) != batch_size:
                raise ValueError(f"pad(): {key} holds {len(value)} items, {main} {batch_size}")
        if pad == "longest":
            max_length = max(len(ids) for ids in required)
            pad = "max_length"
        batch: dict[str, list] = {}
        for i in range(batch_size):
            one = self._pad_one({k: v[i] for k, v in encoded_inputs.items()}, max_length, pad, pad_to_multiple_of,
                                padding_side, return_attention_mask)
            for key, value in one.items():
                batch.setdefault(key, []).append(value)
        return BatchEncoding(batch, tensor_type=return_tensors)

    def _pad_one(self, encoded: dict, max_length: Optional[int], pad: str, pad_to_multiple_of: Optional[int],
                 padding_side: Optional[str], return_attention_mask: Optional[bool]) -> dict:
        """transformers' ``_pad`` of one encoding."""
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        main = self.model_input_names[0]
        ids = list(encoded[main])
        if pad == "longest":
            max_length = len(ids)
        if max_length is not None and pad_to_multiple_of is not None and max_length % pad_to_multiple_of != 0:
            max_length = (max_length // pad_to_multiple_of + 1) * pad_to_multiple_of
        if return_attention_mask and "attention_mask" not in encoded:
            encoded["attention_mask"] = [1] * len(ids)
        if pad != "do_not_pad" and max_length is not None and len(ids) != max_length:
            n = max_length - len(ids)
            side = _side("padding_side", padding_side if padding_side is not None else self.padding_side)
            fills = {main: self.pad_token_id, "token_type_ids": self.pad_token_type_id, "special_tokens_mask": 1}
            if return_attention_mask:
                fills["attention_mask"] = 0
            for key, value in fills.items():
                if key in encoded:
                    seq = list(encoded[key])
                    encoded[key] = seq + [value] * n if side == "right" else [value] * n + seq
        return encoded

    # ------------------------------------------------------------------ decoding
    def decode(self, token_ids: Any, skip_special_tokens: bool = False, **kwargs: Any) -> Union[str, list[str]]:
        """The text of a sequence of ids (a list, an array, a tensor, an id, a BatchEncoding); a batch (a list of
        lists, a 2-D array) gives a list of texts, as in transformers 5."""
        clean = kwargs.pop("clean_up_tokenization_spaces", None)
        token_ids = _to_python(token_ids)
        if isinstance(token_ids, Mapping):
            token_ids = _to_python(token_ids["input_ids"])
        if isinstance(token_ids, (list, tuple)) and token_ids and isinstance(token_ids[0], (list, tuple)):
            return [self._decode(seq, skip_special_tokens, clean) for seq in token_ids]
        return self._decode(token_ids, skip_special_tokens, clean)

    def _decode(self, token_ids: Any, skip_special_tokens: bool, clean_up_tokenization_spaces: Optional[bool]) -> str:
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        text = self._tokenizer.decode(_as_id_list(token_ids), skip_special_tokens=skip_special_tokens)
        clean = clean_up_tokenization_spaces
        if clean is None:
            clean = self.clean_up_tokenization_spaces
        if clean and type(self._tokenizer.model).__name__ == "BPE" and not self.init_kwargs.get(
                "clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output"):
            # transformers 5 skips the clean-up on BPE tokenizers: it would remove real spaces before punctuation
            clean = False
        return self.clean_up_tokenization(text) if clean else text

    def batch_decode(self, sequences: Any, skip_special_tokens: bool = False,
                     clean_up_tokenization_spaces: Optional[bool] = None, **kwargs: Any) -> list[str]:
        sequences = _to_python(sequences)
        if len(sequences) == 0:
            return []
        result = self.decode(sequences, skip_special_tokens=skip_special_tokens,
                             clean_up_tokenization_spaces=clean_up_tokenization_spaces)
        return [result] if isinstance(result, str) else result

    @staticmethod
    def clean_up_tokenization(text: str) -> str:
        return (
            text.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
            .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s")
            .replace(" 've", "'ve").replace(" 're", "'re")
        )

    def __repr__(self) -> str:
        added = "\n\t".join(f"{index}: {token!r}," for index, token in self.added_tokens_decoder.items())
        added = f"\n\t{added}\n" if added else ""
        return (
            f"{type(self).__name__}(name_or_path='{self.name_or_path}', vocab_size={self.vocab_size}, "
            f"model_max_length={self.model_max_length}, padding_side='{self.padding_side}', "
            f"truncation_side='{self.truncation_side}', special_tokens={self.special_tokens_map}, "
            f"added_tokens_decoder={{{added}}})"
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


_TEXT_INPUT_ERROR = (
    "text input must be of type `str` (single example), `list[str]` (batch or single pretokenized example) "
    "or `list[list[str]]` (batch of pretokenized examples) or `list[tuple[list[str], list[str]]]` (batch of "
    "pretokenized sequence pairs)."
)


def _is_text_input(t: Any) -> bool:
    """transformers' ``_is_valid_text_input``: a string, or (nested up to three deep) lists whose first item is one."""
    for _ in range(3):
        if isinstance(t, str):
            return True
        if not isinstance(t, (list, tuple)):
            return False
        if len(t) == 0:
            return True
        t = t[0]
    return isinstance(t, str)


def _is_words(item: Any) -> bool:
    return isinstance(item, (list, tuple)) and all(isinstance(w, str) for w in item)


def _batch_inputs(text: Any, text_pair: Any, is_split_into_words: bool) -> tuple[list, bool]:
    """(the inputs of ``encode_batch``, whether the call was batched), as transformers batches them: a single
    text with an empty text_pair is a single text; a batch's items are texts, (text, text_pair) pairs or,
    with is_split_into_words, lists of words and pairs of them."""
    if not _is_text_input(text) or (text_pair is not None and not _is_text_input(text_pair)):
        raise ValueError(_TEXT_INPUT_ERROR)
    if is_split_into_words:
        batched = isinstance(text, (list, tuple)) and bool(text) and isinstance(text[0], (list, tuple))
    else:
        batched = isinstance(text, (list, tuple))
    if not batched:
        return [(text, text_pair) if text_pair else text], False
    if isinstance(text_pair, str):
        raise TypeError(
            "when tokenizing batches of text, `text_pair` must be a list or tuple with the same length as `text`."
        )
    if text_pair is not None and len(text) != len(text_pair):
        raise ValueError(
            f"batch length of `text`: {len(text)} does not match batch length of `text_pair`: {len(text_pair)}."
        )
    inputs = list(zip(text, text_pair)) if text_pair is not None else list(text)
    one = _is_words if is_split_into_words else (lambda x: isinstance(x, str))
    for i, item in enumerate(inputs):
        if one(item):
            continue
        if isinstance(item, (list, tuple)) and len(item) == 2 and all(one(part) for part in item):
            inputs[i] = tuple(item)
            continue
        what = "a list of words or a pair of them" if is_split_into_words else \
            "a string or a (text, text_pair) pair of strings"
        raise ValueError(f"text[{i}] is {type(item).__name__}: expected {what}")
    return inputs, True


def _to_python(value: Any) -> Any:
    """numpy arrays, numpy integers and torch tensors (also inside lists) as Python lists and ints."""
    if is_torch_tensor(value):
        return value.detach().cpu().tolist()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (list, tuple)) and value and (
            isinstance(value[0], (np.ndarray, np.integer)) or is_torch_tensor(value[0])):
        return [_to_python(v) for v in value]
    return value


def _as_id_list(ids: Any) -> list[int]:
    if hasattr(ids, "detach") and hasattr(ids, "cpu"):
        ids = ids.detach().cpu()
    arr = np.asarray(ids)
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 1:
        raise ValueError(f"expected a sequence of token ids, got an array of shape {tuple(arr.shape)}")
    return [int(i) for i in arr.tolist()]


class BertTokenizer(PreTrainedTokenizerFast):
    """BERT's WordPiece tokenizer (transformers 5's ``BertTokenizer``, which ``BertTokenizerFast`` names too);
    ``_from_vocab`` builds it from ``vocab.txt`` as transformers does."""

    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]

    @classmethod
    def _from_vocab(cls, vocab_file: Union[str, os.PathLike], **init_kwargs: Any) -> "BertTokenizer":
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


BertTokenizerFast = BertTokenizer


class DebertaV2Tokenizer(PreTrainedTokenizerFast):
    """DeBERTa-v2/v3's SentencePiece (Unigram) tokenizer. From a folder with only ``spm.model`` it is built as
    transformers' ``DebertaV2Tokenizer`` builds it (pybertcore.tokenization_spm; needs the sentencepiece extra)."""

    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    _sentencepiece_class = "DebertaV2Tokenizer"


class AlbertTokenizer(PreTrainedTokenizerFast):
    """ALBERT's SentencePiece (Unigram) tokenizer. From a folder with only ``spiece.model`` it is built as
    transformers' ``AlbertTokenizer`` builds it (pybertcore.tokenization_spm; needs the sentencepiece extra).
    transformers 5 gives ALBERT no token_type_ids by default."""

    model_input_names = ["input_ids", "attention_mask"]
    _sentencepiece_class = "AlbertTokenizer"


# transformers 5 names one class per tokenizer (the fast one) and keeps the Fast names as aliases.
DebertaV2TokenizerFast = DebertaV2Tokenizer
AlbertTokenizerFast = AlbertTokenizer

# tokenizer_config.json's tokenizer_class (without "Fast") -> the class loading it.
_SENTENCEPIECE_CLASSES = {"DebertaV2Tokenizer": DebertaV2Tokenizer, "AlbertTokenizer": AlbertTokenizer}


class DistilBertTokenizer(BertTokenizer):
    """DistilBERT's tokenizer: BERT's, without token_type_ids (the model has no token-type embedding)."""

    model_input_names = ["input_ids", "attention_mask"]


class RobertaTokenizer(PreTrainedTokenizerFast):
    """RoBERTa's byte-level BPE tokenizer, rebuilt from tokenizer.json as transformers' class builds it."""

    model_input_names = ["input_ids", "attention_mask"]


class XLMRobertaTokenizer(PreTrainedTokenizerFast):
    """XLM-RoBERTa's (and GTE's) SentencePiece Unigram tokenizer, rebuilt from tokenizer.json as transformers'
    class builds it."""

    model_input_names = ["input_ids", "attention_mask"]


class MPNetTokenizer(PreTrainedTokenizerFast):
    """MPNet's WordPiece tokenizer (``<s> A </s></s> B </s>``), rebuilt from tokenizer.json as transformers' class
    builds it."""

    model_input_names = ["input_ids", "attention_mask"]


DistilBertTokenizerFast = DistilBertTokenizer
RobertaTokenizerFast = RobertaTokenizer
XLMRobertaTokenizerFast = XLMRobertaTokenizer
MPNetTokenizerFast = MPNetTokenizer


# ------------------------------------------------------------------ tokenizer.json, rebuilt as transformers 5 does
# transformers 5's tokenizer classes (BertTokenizer, RobertaTokenizer, ...) do not run tokenizer.json as it is:
# they take its vocabulary (and merges) and build the normalizer, pre-tokenizer, decoder and template
# themselves, from tokenizer_config.json and from_pretrained's keywords (do_lower_case=False, add_prefix_space,
# cls_token, ...); tokenizer.json's added tokens are added back in id order, then the special tokens. The same
# steps here give the same ids, offsets and decoded text; a class not listed loads the file as it is, as
# transformers' TokenizersBackend (PreTrainedTokenizerFast) does.
# The builds themselves: pybertcore/tokenization_json.py; here, which class builds and which is returned.


def _base_class_name(name: Any) -> Optional[str]:
    if not isinstance(name, str):
        return None
    return name[:-4] if name.endswith("Fast") else name


def _json_class_name(cls: type, folder: Path, init_kwargs: dict) -> Optional[str]:
    """The transformers class that builds the tokenizer: the one called (BertTokenizer.from_pretrained), else
    tokenizer_config.json's tokenizer_class, else the class of config.json's model_type."""
    if cls is not PreTrainedTokenizerFast:
        return _TRANSFORMERS_NAMES.get(cls)
    name = _base_class_name(init_kwargs.get("tokenizer_class"))
    if name is None and (folder / "config.json").is_file():
        try:  # the model's config is not the tokenizer's to judge: unreadable, it names no class
            model_type = _read_json(folder / "config.json").get("model_type")
        except OSError:
            model_type = None
        name = spm.TOKENIZER_CLASS_OF_MODEL_TYPE.get(model_type) if isinstance(model_type, str) else None
    return name


# transformers class name -> the pybertcore class returned for it
_JSON_TARGETS: dict[Optional[str], type] = {
    "BertTokenizer": BertTokenizer, "ElectraTokenizer": BertTokenizer, "DistilBertTokenizer": DistilBertTokenizer,
    "RobertaTokenizer": RobertaTokenizer, "XLMRobertaTokenizer": XLMRobertaTokenizer, "MPNetTokenizer": MPNetTokenizer,
    "DebertaV2Tokenizer": DebertaV2Tokenizer, "AlbertTokenizer": AlbertTokenizer,
}
_TRANSFORMERS_NAMES = {cls: name for name, cls in _JSON_TARGETS.items() if name != "ElectraTokenizer"}


class AutoTokenizer:
    """``AutoTokenizer.from_pretrained(folder)``: the tokenizer class transformers would pick for the folder,
    built from its ``tokenizer.json``, its ``vocab.txt`` or its SentencePiece model (see the module's notes)."""

    def __init__(self) -> None:
        raise OSError("AutoTokenizer is designed to be instantiated with AutoTokenizer.from_pretrained(path)")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Union[str, os.PathLike], *inputs: Any, **kwargs: Any):
        return PreTrainedTokenizerFast.from_pretrained(pretrained_model_name_or_path, *inputs, **kwargs)
