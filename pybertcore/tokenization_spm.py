"""Fast tokenizers built from a SentencePiece model file, as transformers builds them.

DeBERTa-v3 folders (and ALBERT ones) often ship only ``spm.model`` / ``spiece.model``, no ``tokenizer.json``.
transformers 5 reads the model's ModelProto (pieces and scores, the unknown piece's id, control pieces,
the normalizer's precompiled character map) and hands them to the tokenizer class's ``__init__``, which
assembles a ``tokenizers.Tokenizer``; ``TokenizersBackend.__init__`` then adds the added and special tokens.
This module does the same steps in the same order, so the Rust tokenizer it returns serializes to the same
JSON as transformers' ``backend_tokenizer`` (tests/test_sentencepiece_tokenizer.py compares them whole):

- ``DebertaV2Tokenizer`` (``spm.model``): a Unigram model; normalizer [Lowercase if do_lower_case] +
  Precompiled(charsmap) + Strip(right) + collapse runs of spaces (without a charsmap: collapse whitespace,
  NFC, Strip(right)); [Punctuation(isolated) if split_by_punct] + Metaspace (prepend "always" with
  add_prefix_space, else "first"); ``[CLS] A [SEP]`` / ``[CLS] A [SEP] B [SEP]`` with type ids 0 / 1.
- ``AlbertTokenizer`` (``spiece.model``): a Unigram model (unknown id 1, as transformers hard-codes);
  normalizer ``` `` ``` / ``''`` → ``"``, [NFKD + StripAccents unless keep_accents], [Lowercase if
  do_lower_case], Precompiled; WhitespaceSplit + Metaspace (prepend "always" / "never"); the same template.

The same builds serve tokenizer.json folders of these classes, whose vocabulary transformers 5 rebuilds the
same way (pybertcore.tokenization), as does ``XLMRobertaTokenizer`` (XLM-RoBERTa, GTE): a Unigram model
(unknown id 3, as transformers hard-codes), the charsmap alone as normalizer, WhitespaceSplit + Metaspace,
``<s> A </s>`` / ``<s> A </s> </s> B </s>``.

Other tokenizer classes with only a SentencePiece model (XLM-RoBERTa's and CamemBERT's fairseq id shift, T5,
Llama's BPE ...) are refused by name: transformers gives each its own rules, which are not copied here.

Reading the ModelProto needs the ``sentencepiece`` package (its ``sentencepiece_model_pb2``) and
``protobuf``: the optional extra ``pybertcore[sentencepiece]``. Without them, loading such a folder raises
ImportError saying how to install it. The model file is untrusted: bytes that are not a ModelProto, or a
model the ``tokenizers`` library refuses (no pieces, an unknown id out of range), raise OSError naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from pybertcore.untrusted import describe, errors_name_file

INSTALL_HINT = 'pip install "pybertcore[sentencepiece]"'

# Files transformers' tokenizer classes read their SentencePiece model from (vocab_files_names).
SENTENCEPIECE_FILES = ("spm.model", "spiece.model", "sentencepiece.bpe.model", "sentencepiece.model",
                       "tokenizer.model")

# config.json model_type -> the tokenizer class transformers' AutoTokenizer picks (TOKENIZER_MAPPING_NAMES).
TOKENIZER_CLASS_OF_MODEL_TYPE = {
    "bert": "BertTokenizer",
    "distilbert": "BertTokenizer",
    "electra": "BertTokenizer",
    "nomic_bert": "BertTokenizer",
    "roberta": "RobertaTokenizer",
    "mpnet": "MPNetTokenizer",
    "gte": "XLMRobertaTokenizer",
    "deberta-v2": "DebertaV2Tokenizer",
    "albert": "AlbertTokenizer",
    "xlm-roberta": "XLMRobertaTokenizer",
    "camembert": "CamembertTokenizer",
    "t5": "T5Tokenizer",
    "xlnet": "XLNetTokenizer",
    "llama": "LlamaTokenizer",
}

# transformers' PreTrainedTokenizerBase.SPECIAL_TOKENS_ATTRIBUTES, in its order (the order tokens are added).
SPECIAL_ATTRIBUTES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")

# SentencePiece's ModelProto.SentencePiece.Type: CONTROL pieces become special added tokens.
_CONTROL = 3


@dataclass
class SentencePieceModel:
    """What transformers' ``SentencePieceExtractor`` takes out of a ModelProto."""

    path: Path
    vocab: list  # [(piece, score)] in id order
    unk_id: int  # trainer_spec.unk_id
    control_pieces: list  # pieces of type CONTROL, in id order
    precompiled_charsmap: Optional[bytes]  # normalizer_spec's, None when empty


def _model_pb2() -> Any:
    """sentencepiece's generated ModelProto module (it imports google.protobuf), or ImportError saying how to
    install both."""
    try:
        from sentencepiece import sentencepiece_model_pb2
    except ImportError as e:
        raise ImportError(
            f"reading a SentencePiece model needs the sentencepiece and protobuf packages ({e}); "
            f"install it with `{INSTALL_HINT}`"
        ) from None
    return sentencepiece_model_pb2


def read_sentencepiece_model(path: Path) -> SentencePieceModel:
    """The pieces, scores, unknown id, control pieces and precompiled charsmap of a SentencePiece model file."""
    model_pb2 = _model_pb2()
    proto = model_pb2.ModelProto()
    try:
        proto.ParseFromString(path.read_bytes())
    except Exception as e:  # protobuf's DecodeError (and, on odd bytes, others): the file is not a ModelProto
        raise OSError(f"{path} is not a SentencePiece model (protobuf cannot parse it: {str(e)[:200]})") from None
    if not proto.pieces:
        raise OSError(f"{path} is not a SentencePiece model: it has no pieces")
    return SentencePieceModel(
        path=path,
        vocab=[(piece.piece, piece.score) for piece in proto.pieces],
        unk_id=int(proto.trainer_spec.unk_id),
        control_pieces=[piece.piece for piece in proto.pieces if piece.type == _CONTROL],
        precompiled_charsmap=bytes(proto.normalizer_spec.precompiled_charsmap) or None,
    )


# ---------------------------------------------------------------------------------------- tokenizer settings
def _flag(kwargs: dict, name: str, default: bool) -> bool:
    value = kwargs.setdefault(name, default)
    if not isinstance(value, bool):
        raise ValueError(f"{name}: expected true or false, found {describe(value)}")
    return value


def _added_token(value: Any, field: str, special: Optional[bool] = None) -> Any:
    """An AddedToken from a string or a serialized AddedToken dict (transformers' ``AddedToken(**value)``)."""
    from tokenizers import AddedToken

    if isinstance(value, str):
        return AddedToken(value, special=True) if special is None else AddedToken(value, special=special)
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        options = {k: value[k] for k in ("single_word", "lstrip", "rstrip", "normalized", "special") if k in value}
        for key, option in options.items():
            if not isinstance(option, bool):
                raise ValueError(f"{field}.{key}: expected true or false, found {describe(option)}")
        if special is not None:
            options["special"] = special
        return AddedToken(value["content"], **options)
    raise ValueError(f"{field}: expected a string or an object with a string \"content\", found {describe(value)}")


def special_token_settings(folder: Path, config: dict, special_map: dict, kwargs: dict,
                           json_added_tokens: Optional[list] = None) -> dict:
    """transformers' ``_from_pretrained`` bookkeeping of special and added tokens: returns the named special
    tokens (AddedToken or str), ``added_tokens_decoder`` ({id: AddedToken}) and ``extra_special_tokens`` (a
    list, or None when the files give none).

    With ``added_tokens_decoder`` in tokenizer_config.json, that is the whole story; without it (older
    folders), special_tokens_map.json overrides the named tokens, and added_tokens.json and tokenizer.json's
    "added_tokens" (``json_added_tokens``, when the tokenizer is rebuilt from that file) list added tokens. A
    special_tokens_map.json "additional_special_tokens" is dropped: transformers' SentencePiece extractor
    overwrites it with the model's control pieces. A bad value raises ValueError naming its file."""
    named: dict[str, Any] = {}
    decoder: dict[int, Any] = {}
    with errors_name_file(folder / "tokenizer_config.json"):
        for name in SPECIAL_ATTRIBUTES:
            if config.get(name) is not None:
                named[name] = _checked_token(config[name], name)
        extra = config.get("extra_special_tokens") or config.get("additional_special_tokens")
        # transformers 5's model-specific special tokens: "<name>_token" strings and a dict of extra ones,
        # added after the standard ones (the extractor's control pieces are then the extra list).
        for name, value in config.items():
            if name.endswith("_token") and name not in SPECIAL_ATTRIBUTES and isinstance(value, str):
                named[name] = value
        if isinstance(extra, dict):
            for name, value in extra.items():
                named[str(name)] = _checked_token(value, f"extra_special_tokens.{name}")
            extra = None
        if extra is not None and not isinstance(extra, list):
            raise ValueError(f"extra_special_tokens: expected a list of tokens, found {describe(extra)}")
        if "added_tokens_decoder" in config:
            table = config["added_tokens_decoder"]
            if not isinstance(table, dict):
                raise ValueError(f"added_tokens_decoder: expected an object, found {describe(table)}")
            for index, token in table.items():
                if not index.lstrip("-").isdigit():
                    raise ValueError(f"added_tokens_decoder: the key {describe(index)} is not a token id")
                decoder[int(index)] = _added_token(token, f"added_tokens_decoder[{index}]")
    if "added_tokens_decoder" not in config:
        with errors_name_file(folder / "special_tokens_map.json"):
            for name, value in special_map.items():
                if name in kwargs and kwargs[name]:
                    continue  # the caller's keyword wins
                if name in SPECIAL_ATTRIBUTES:
                    named[name] = _checked_token(value, name)
                elif name == "extra_special_tokens" and isinstance(value, list):
                    extra = list(extra or []) + [t for t in value if t not in (extra or [])]
        added_tokens_file = folder / "added_tokens.json"
        if added_tokens_file.is_file():
            from pybertcore.tokenization import _read_json

            with errors_name_file(added_tokens_file):
                specials = {_content(v) for v in named.values()} | {_content(t) for t in extra or []}
                for token, index in _read_json(added_tokens_file).items():
                    if isinstance(index, bool) or not isinstance(index, int):
                        raise ValueError(f"the id of {describe(token)} must be an integer, found {describe(index)}")
                    is_special = token in specials
                    decoder[index] = _added_token(
                        {"content": token, "normalized": not is_special, "special": is_special}, token
                    )
        with errors_name_file(folder / "tokenizer.json"):
            for entry in json_added_tokens or []:
                index = entry.get("id") if isinstance(entry, dict) else None
                if isinstance(index, bool) or not isinstance(index, int):
                    raise ValueError(f"added_tokens: an entry without an integer id: {describe(entry)}")
                fields = {k: v for k, v in entry.items() if k != "id"}
                decoder[index] = _added_token(fields, f"added_tokens[{index}]")
    for name in SPECIAL_ATTRIBUTES:
        if name in kwargs and kwargs[name] is not None:
            named[name] = _checked_token(kwargs[name], name)
    if "extra_special_tokens" in kwargs or "additional_special_tokens" in kwargs:
        extra = kwargs.get("extra_special_tokens") or kwargs.get("additional_special_tokens")
    if extra is not None and not isinstance(extra, list):
        raise ValueError(f"extra_special_tokens: expected a list of tokens, found {describe(extra)}")
    # A named token written as a plain string takes the properties of the added token of that text.
    by_text = {t.content: t for t in decoder.values()}
    for name, value in list(named.items()):
        named[name] = by_text.get(_content(value), value if isinstance(value, str) else _added_token(value, name))
    return {"named": named, "added_tokens_decoder": decoder, "extra_special_tokens": extra}


def _checked_token(value: Any, name: str) -> Any:
    if _content(value) is None:
        raise ValueError(f"{name}: expected a string or an object with a string \"content\", found {describe(value)}")
    return value


def _content(value: Any) -> Optional[str]:
    if isinstance(value, str):
        return value
    content = getattr(value, "content", None)
    if content is None and isinstance(value, dict):
        content = value.get("content")
    return content if isinstance(content, str) else None


def add_tokens_as_transformers(tokenizer: Any, settings: dict) -> None:
    """``TokenizersBackend.__init__``'s additions: the added tokens in id order, then the named special tokens
    (bos, eos, unk, sep, pad, cls, mask, then model-specific ones), then the extra special tokens, each once; a plain string becomes
    a special AddedToken. A token already in the vocabulary keeps its id; a new one takes the next free id."""
    from tokenizers import AddedToken

    tokens: list[Any] = [token for _, token in sorted(settings["added_tokens_decoder"].items())]
    seen = {token.content for token in tokens}
    named = settings["named"]
    named_texts = {_content(v) for v in named.values()}
    in_order = [named[n] for n in SPECIAL_ATTRIBUTES if n in named] + [
        v for n, v in named.items() if n not in SPECIAL_ATTRIBUTES]  # then the model-specific ones
    for value in in_order + list(settings["extra_special_tokens"] or []):
        if _content(value) is None:
            raise ValueError(f"extra_special_tokens: expected strings or AddedToken objects, found {describe(value)}")
        if _content(value) not in seen:
            seen.add(_content(value))
            tokens.append(value)
    ready = []
    for token in tokens:
        if isinstance(token, str):
            token = AddedToken(token, special=True)
        elif isinstance(token, dict):
            token = _added_token(token, "extra_special_tokens")
        elif not token.special and token.content in named_texts:
            token = AddedToken(token.content, single_word=token.single_word, lstrip=token.lstrip,
                               rstrip=token.rstrip, normalized=token.normalized, special=True)
        ready.append(token)
    if ready:
        tokenizer.add_tokens(ready)


# ---------------------------------------------------------------------------------------- the backends
def _template(cls_token: str, sep_token: str, cls_id: Optional[int], sep_id: Optional[int]) -> Any:
    """DebertaV2Tokenizer's ``[CLS] A [SEP]`` / ``[CLS] A [SEP] B [SEP]`` (type ids 0 / 1); a missing id is 0."""
    from tokenizers import processors

    for field, token in (("cls_token", cls_token), ("sep_token", sep_token)):
        if ":" in token or token.startswith("$"):  # the template's own syntax: "<token>:<type id>", "$A"
            raise ValueError(f"{field}: {describe(token)} cannot stand in the [CLS] A [SEP] template (':' or '$')")
    return processors.TemplateProcessing(  # pieces as a list: a token may hold spaces
        single=[f"{cls_token}:0", "$A:0", f"{sep_token}:0"],
        pair=[f"{cls_token}:0", "$A:0", f"{sep_token}:0", "$B:1", f"{sep_token}:1"],
        special_tokens=[(cls_token, 0 if cls_id is None else cls_id), (sep_token, 0 if sep_id is None else sep_id)],
    )


def build_deberta_v2(model: SentencePieceModel, kwargs: dict, settings: dict) -> Any:
    """transformers' ``DebertaV2Tokenizer.__init__`` on the extracted vocabulary (the Rust tokenizer)."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import Unigram

    do_lower_case = _flag(kwargs, "do_lower_case", False)
    split_by_punct = _flag(kwargs, "split_by_punct", False)
    add_prefix_space = _flag(kwargs, "add_prefix_space", True)
    named = settings["named"]
    unk_token = _content(named["unk_token"])
    unk_id = model.vocab.index((unk_token, 0.0)) if (unk_token, 0.0) in model.vocab else model.unk_id
    kwargs["unk_id"] = unk_id  # saved in tokenizer_config.json, as transformers does: a reload needs it
    tokenizer = Tokenizer(Unigram(model.vocab, unk_id=unk_id, byte_fallback=False))

    steps = [normalizers.Lowercase()] if do_lower_case else []
    if model.precompiled_charsmap is not None:
        steps += [normalizers.Precompiled(model.precompiled_charsmap), normalizers.Strip(left=False, right=True),
                  normalizers.Replace(Regex(r" {2,}"), " ")]
    else:
        steps += [normalizers.Replace(Regex(r"\s{2,}|[\n\r\t]"), " "), normalizers.NFC(),
                  normalizers.Strip(left=False, right=True)]
    tokenizer.normalizer = normalizers.Sequence(steps)
    prepend_scheme = "always" if add_prefix_space else "first"
    pre = [pre_tokenizers.Punctuation(behavior="isolated")] if split_by_punct else []
    pre.append(pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=prepend_scheme))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(pre)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme=prepend_scheme)

    add_tokens_as_transformers(tokenizer, settings)
    cls_token, sep_token = _content(named["cls_token"]), _content(named["sep_token"])
    tokenizer.post_processor = _template(
        cls_token, sep_token, tokenizer.token_to_id(cls_token), tokenizer.token_to_id(sep_token)
    )
    return tokenizer


def build_albert(model: SentencePieceModel, kwargs: dict, settings: dict) -> Any:
    """transformers' ``AlbertTokenizer.__init__`` on the extracted vocabulary (the Rust tokenizer)."""
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    do_lower_case = _flag(kwargs, "do_lower_case", True)
    keep_accents = _flag(kwargs, "keep_accents", False)
    add_prefix_space = _flag(kwargs, "add_prefix_space", True)
    # transformers' AlbertTokenizer passes unk_id=1 whatever the model file says.
    tokenizer = Tokenizer(Unigram(model.vocab, unk_id=1, byte_fallback=False))
    steps = [normalizers.Replace("``", '"'), normalizers.Replace("''", '"')]
    if not keep_accents:
        steps += [normalizers.NFKD(), normalizers.StripAccents()]
    if do_lower_case:
        steps.append(normalizers.Lowercase())
    if model.precompiled_charsmap is not None:
        steps.append(normalizers.Precompiled(model.precompiled_charsmap))
    tokenizer.normalizer = normalizers.Sequence(steps)
    prepend_scheme = "always" if add_prefix_space else "never"
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=prepend_scheme)]
    )
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme=prepend_scheme)
    named = settings["named"]
    cls_token, sep_token = _content(named["cls_token"]), _content(named["sep_token"])
    # Albert names "[CLS]" / "[SEP]" in its template whatever the tokens are, with their ids before any additions.
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0",
        pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tokenizer.token_to_id(cls_token)), ("[SEP]", tokenizer.token_to_id(sep_token))],
    )
    add_tokens_as_transformers(tokenizer, settings)
    return tokenizer


def build_xlm_roberta(model: SentencePieceModel, kwargs: dict, settings: dict) -> Any:
    """transformers' ``XLMRobertaTokenizer.__init__`` on a Unigram vocabulary (from tokenizer.json): unknown id 3
    (hard-coded there), the charsmap alone as normalizer, WhitespaceSplit + Metaspace (prepend "always" with
    add_prefix_space, else "never"), ``<s> A </s>`` / ``<s> A </s> </s> B </s>`` with type ids 0."""
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    add_prefix_space = _flag(kwargs, "add_prefix_space", True)
    tokenizer = Tokenizer(Unigram(model.vocab, unk_id=3, byte_fallback=False))
    if model.precompiled_charsmap is not None:
        tokenizer.normalizer = normalizers.Precompiled(model.precompiled_charsmap)
    prepend_scheme = "always" if add_prefix_space else "never"
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=prepend_scheme)]
    )
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme=prepend_scheme)
    add_tokens_as_transformers(tokenizer, settings)
    bos, eos = _content(settings["named"]["bos_token"]), _content(settings["named"]["eos_token"])
    tokenizer.post_processor = processors.TemplateProcessing(  # pieces as a list: a token may hold spaces
        single=[bos, "$A", eos], pair=[bos, "$A", eos, eos, "$B", eos],
        special_tokens=[(bos, tokenizer.token_to_id(bos) or 0), (eos, tokenizer.token_to_id(eos) or 0)],
    )
    return tokenizer


def model_from_tokenizer_json(tokenizer_json: dict, path: Path, unk_id: Any = None) -> SentencePieceModel:
    """A Unigram tokenizer.json's vocabulary (scores as Python parses them) and precompiled charsmap, as
    transformers' ``convert_to_native_format`` hands them to the class, with ``unk_id`` (the class's argument,
    which it takes over the file's) or the file's; no control pieces (the file's added tokens say which
    tokens are special)."""
    import base64

    model = tokenizer_json.get("model") or {}
    vocab = [tuple(entry) for entry in model.get("vocab") or []]
    if not vocab or not all(len(e) == 2 and isinstance(e[0], str) and isinstance(e[1], (int, float)) for e in vocab):
        raise OSError(f"{path}: its Unigram model has no vocabulary of [piece, score] pairs")
    normalizer = tokenizer_json.get("normalizer") or {}
    steps = normalizer.get("normalizers") if normalizer.get("type") == "Sequence" else [normalizer]
    charsmap = None
    for step in steps if isinstance(steps, list) else []:
        if isinstance(step, dict) and step.get("type") == "Precompiled" and step.get("precompiled_charsmap"):
            charsmap = base64.b64decode(step["precompiled_charsmap"])
            break
    if unk_id is None:
        unk_id = model.get("unk_id")
    elif isinstance(unk_id, bool) or not isinstance(unk_id, int):
        raise ValueError(f"unk_id: expected an integer, found {describe(unk_id)}")
    return SentencePieceModel(path=path, vocab=vocab, unk_id=unk_id if isinstance(unk_id, int) else 0,
                              control_pieces=[], precompiled_charsmap=charsmap)


@dataclass(frozen=True)
class SentencePieceRecipe:
    """How one transformers tokenizer class turns its SentencePiece file into a fast tokenizer."""

    file_name: str  # the class's vocab_files_names["vocab_file"]
    defaults: dict  # its __init__'s special-token defaults
    build: Callable[[SentencePieceModel, dict, dict], Any]


RECIPES = {
    "DebertaV2Tokenizer": SentencePieceRecipe(
        "spm.model",
        {"bos_token": "[CLS]", "eos_token": "[SEP]", "unk_token": "[UNK]", "sep_token": "[SEP]",
         "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"},
        build_deberta_v2,
    ),
    "AlbertTokenizer": SentencePieceRecipe(
        "spiece.model",
        {"bos_token": "[CLS]", "eos_token": "[SEP]", "unk_token": "<unk>", "sep_token": "[SEP]",
         "pad_token": "<pad>", "cls_token": "[CLS]", "mask_token": "[MASK]"},
        build_albert,
    ),
}


def recipe_name(class_name: Optional[str]) -> Optional[str]:
    """The RECIPES key for a tokenizer class name as tokenizer_config.json writes it (with or without Fast)."""
    if not isinstance(class_name, str):
        return None
    base = class_name[:-4] if class_name.endswith("Fast") else class_name
    return base if base in RECIPES else None


def folder_tokenizer_class(folder: Path, init_kwargs: dict) -> Optional[str]:
    """The tokenizer class transformers would pick: tokenizer_config.json's ``tokenizer_class``, else the one
    of config.json's ``model_type``."""
    name = init_kwargs.get("tokenizer_class")
    if isinstance(name, str):
        return name
    config_file = folder / "config.json"
    if config_file.is_file():
        from pybertcore.tokenization import _read_json

        model_type = _read_json(config_file).get("model_type")
        if isinstance(model_type, str):
            return TOKENIZER_CLASS_OF_MODEL_TYPE.get(model_type)
    return None


def sentencepiece_file_in(folder: Path) -> Optional[Path]:
    """The first SentencePiece model file the folder holds (any tokenizer class's name), or None."""
    for name in SENTENCEPIECE_FILES:
        if (folder / name).is_file():
            return folder / name
    return None


def unsupported_message(folder: Path, model_file: Path, class_name: Optional[str]) -> str:
    supported = ", ".join(f"{name} ({recipe.file_name})" for name, recipe in RECIPES.items())
    which = f"its tokenizer class {class_name}" if class_name else "no tokenizer class (tokenizer_config.json's " \
        "tokenizer_class or config.json's model_type)"
    return (
        f"{folder} holds a SentencePiece model ({model_file.name}) but no tokenizer.json, and {which} is not one "
        f"pybertcore builds from a SentencePiece model; it builds {supported}. Write tokenizer.json once with "
        "transformers: AutoTokenizer.from_pretrained(folder).save_pretrained(folder)"
    )


def exact_unigram_scores(tokenizer: Any, tokenizer_json: dict) -> None:
    """A Unigram tokenizer.json's scores as Python parses them. The tokenizers library's JSON reader can land
    a score one unit in the last place off (-7.2367329597473145 reads back as -7.236732959747315), while
    transformers' DebertaV2Tokenizer and AlbertTokenizer rebuild the model from the vocabulary Python parsed;
    so does this, keeping the file's unk_id and byte_fallback, so a saved tokenizer reloads bit for bit."""
    from tokenizers.models import Unigram

    model = tokenizer_json.get("model")
    if not isinstance(model, dict) or model.get("type") != "Unigram":
        return
    vocab = [tuple(entry) for entry in model.get("vocab") or []]
    tokenizer.model = Unigram(vocab, unk_id=model.get("unk_id"), byte_fallback=bool(model.get("byte_fallback")))


def load_sentencepiece_tokenizer(folder: Path, recipe: SentencePieceRecipe, config: dict, special_map: dict,
                                 init_kwargs: dict, kwargs: dict) -> tuple:
    """(the Rust tokenizer, init kwargs) for a folder whose SentencePiece file ``recipe`` names: the vocabulary
    read from the file, the tokenizer assembled as the transformers class does, the settings it used kept
    in the init kwargs (so save_pretrained writes them to tokenizer_config.json)."""
    model = read_sentencepiece_model(folder / recipe.file_name)
    settings = special_token_settings(folder, config, special_map, kwargs)
    for name, default in recipe.defaults.items():
        settings["named"].setdefault(name, default)
    if settings["extra_special_tokens"] is None:
        # transformers' extractor lists the model's control pieces as extra special tokens.
        from tokenizers import AddedToken

        settings["extra_special_tokens"] = [AddedToken(p, normalized=False, special=True)
                                            for p in model.control_pieces]
    with errors_name_file(folder / "tokenizer_config.json"):  # the flags (do_lower_case, ...)
        tokenizer = recipe.build(model, init_kwargs, settings)
    for name, value in settings["named"].items():
        init_kwargs[name] = _content(value)
    init_kwargs.pop("additional_special_tokens", None)
    init_kwargs["extra_special_tokens"] = [_content(t) for t in settings["extra_special_tokens"]]
    return tokenizer, init_kwargs
