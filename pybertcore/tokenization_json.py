"""tokenizer.json rebuilt as transformers 5's tokenizer classes build it.

transformers 5's BertTokenizer, MPNetTokenizer, RobertaTokenizer, XLMRobertaTokenizer, DebertaV2Tokenizer and
AlbertTokenizer (and their aliases) do not run tokenizer.json as it is: they take its vocabulary (and merges)
and build the normalizer, pre-tokenizer, decoder and template themselves, from tokenizer_config.json and
from_pretrained's keywords (``do_lower_case=False``, ``add_prefix_space``, ``cls_token``, ...); the file's added
tokens are added back in id order, then the special tokens. The same steps here give the same ids, offsets
and decoded text. Which class builds (and which pybertcore class is returned) is pybertcore.tokenization's
choice; the SentencePiece builds are pybertcore.tokenization_spm's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from pybertcore import tokenization_spm as spm
from pybertcore.untrusted import describe


def _flag_or_none(kwargs: dict, name: str) -> Optional[bool]:
    value = kwargs.setdefault(name, None)
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"{name}: expected true, false or null, found {describe(value)}")
    return value


def _build_wordpiece(parsed: Any, kwargs: dict, settings: dict, mpnet: bool = False) -> Any:
    """transformers' ``BertTokenizer.__init__`` (or ``MPNetTokenizer``'s: <s>/</s> and RobertaProcessing, special
    tokens that do not strip, a mask that takes the space before it) on tokenizer.json's vocabulary: the model of
    ``parsed`` (the file as tokenizers reads it), set as transformers' ``WordPiece(vocab, unk_token=...)`` would
    be, rather than rebuilt from the vocabulary's Python dict (a transient second copy: 4 MiB for BERT's)."""
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers, processors

    do_lower_case = spm._flag(kwargs, "do_lower_case", True)
    tokenize_chinese_chars = spm._flag(kwargs, "tokenize_chinese_chars", True)
    strip_accents = _flag_or_none(kwargs, "strip_accents")
    named = settings["named"]
    model = parsed.model
    model.unk_token = spm._content(named["unk_token"])
    model.continuing_subword_prefix, model.max_input_chars_per_word = "##", 100  # WordPiece()'s defaults
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=tokenize_chinese_chars, strip_accents=strip_accents,
        lowercase=do_lower_case,
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    if mpnet:
        for name, value in named.items():
            if isinstance(value, str) and name in spm.SPECIAL_ATTRIBUTES:
                named[name] = AddedToken(value, lstrip=name == "mask_token", rstrip=False)
    spm.add_tokens_as_transformers(tokenizer, settings)
    cls_token, sep_token = spm._content(named["cls_token"]), spm._content(named["sep_token"])
    cls_id, sep_id = tokenizer.token_to_id(cls_token), tokenizer.token_to_id(sep_token)
    if mpnet:
        tokenizer.post_processor = processors.RobertaProcessing(
            (sep_token, 2 if sep_id is None else sep_id), (cls_token, 0 if cls_id is None else cls_id),
            trim_offsets=True, add_prefix_space=False,
        )
    else:
        tokenizer.post_processor = spm._template(cls_token, sep_token, 2 if cls_id is None else cls_id,
                                                 3 if sep_id is None else sep_id)
    return tokenizer


def _build_byte_level_bpe(tokenizer_json: dict, kwargs: dict, settings: dict) -> Any:
    """transformers' ``RobertaTokenizer.__init__`` on tokenizer.json's vocabulary and merges."""
    from tokenizers import Tokenizer, decoders, pre_tokenizers, processors
    from tokenizers.models import BPE

    add_prefix_space = spm._flag(kwargs, "add_prefix_space", False)
    trim_offsets = spm._flag(kwargs, "trim_offsets", True)
    model = tokenizer_json["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model.get("merges") or []]
    tokenizer = Tokenizer(BPE(vocab=model.get("vocab"), merges=merges, dropout=None, continuing_subword_prefix="",
                              end_of_word_suffix="", fuse_unk=False))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
    tokenizer.decoder = decoders.ByteLevel()
    spm.add_tokens_as_transformers(tokenizer, settings)
    named = settings["named"]
    cls_token, sep_token = spm._content(named["cls_token"]), spm._content(named["sep_token"])
    tokenizer.post_processor = processors.RobertaProcessing(
        (sep_token, tokenizer.token_to_id(sep_token)), (cls_token, tokenizer.token_to_id(cls_token)),
        trim_offsets=trim_offsets, add_prefix_space=add_prefix_space,
    )
    return tokenizer


def _build_unigram(class_name: str) -> Any:
    """The build of a SentencePiece (Unigram) class from tokenizer.json: pybertcore.tokenization_spm's, on the
    file's vocabulary and charsmap. DebertaV2Tokenizer takes its unk_id argument (1 unless the config says)."""

    def build(tokenizer_json: dict, kwargs: dict, settings: dict, path: Path, parsed: Any) -> Any:
        if class_name == "XLMRobertaTokenizer":
            return spm.build_xlm_roberta(spm.model_from_tokenizer_json(tokenizer_json, path), kwargs, settings)
        unk_id = kwargs.get("unk_id", 1) if class_name == "DebertaV2Tokenizer" else None
        return spm.RECIPES[class_name].build(spm.model_from_tokenizer_json(tokenizer_json, path, unk_id), kwargs,
                                             settings)

    return build


_ROBERTA_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
                   "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"}
# transformers class -> (the tokenizers model its __init__ builds, its special-token defaults, the build)
_JSON_RECIPES: dict[str, tuple[str, dict, Any]] = {
    "BertTokenizer": ("WordPiece", {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                                    "cls_token": "[CLS]", "mask_token": "[MASK]"},
                      lambda j, k, s, p, parsed: _build_wordpiece(parsed, k, s)),
    "MPNetTokenizer": ("WordPiece", {**_ROBERTA_TOKENS, "unk_token": "[UNK]"},
                       lambda j, k, s, p, parsed: _build_wordpiece(parsed, k, s, mpnet=True)),
    "RobertaTokenizer": ("BPE", _ROBERTA_TOKENS, lambda j, k, s, p, parsed: _build_byte_level_bpe(j, k, s)),
    "XLMRobertaTokenizer": ("Unigram", _ROBERTA_TOKENS, _build_unigram("XLMRobertaTokenizer")),
}
for _name in ("DebertaV2Tokenizer", "AlbertTokenizer"):
    _JSON_RECIPES[_name] = ("Unigram", spm.RECIPES[_name].defaults, _build_unigram(_name))
for _alias in ("DistilBertTokenizer", "ElectraTokenizer"):
    _JSON_RECIPES[_alias] = _JSON_RECIPES["BertTokenizer"]


def rebuild_from_json(class_name: Optional[str], tokenizer_json: dict, path: Path, config: dict,
                      special_map: dict, init_kwargs: dict, kwargs: dict) -> Any:
    """The Rust tokenizer transformers' class ``class_name`` builds from the tokenizer.json at ``path`` (read as
    ``tokenizer_json``), with the special tokens it settled on written back to ``init_kwargs``; None for a class
    that loads the file as it is, or a file whose model is not the one the class builds (transformers would
    misread its vocabulary)."""
    from tokenizers import Tokenizer

    recipe = _JSON_RECIPES.get(class_name or "")
    if recipe is None:
        return None
    model_type, defaults, build = recipe
    parsed = Tokenizer.from_file(str(path))  # checks the file (errors name it) and its model type
    if type(parsed.model).__name__ != model_type:
        return None
    settings = spm.special_token_settings(path.parent, config, special_map, kwargs, tokenizer_json.get("added_tokens"))
    for name, default in defaults.items():
        settings["named"].setdefault(name, default)
    tokenizer = build(tokenizer_json, init_kwargs, settings, path, parsed)
    if parsed.truncation:  # kept, as transformers keeps them, for save_pretrained (calls set their own)
        tokenizer.enable_truncation(**parsed.truncation)
    if parsed.padding:
        tokenizer.enable_padding(**parsed.padding)
    for name, value in settings["named"].items():
        init_kwargs[name] = spm._content(value)
    if settings["extra_special_tokens"] is not None:
        init_kwargs.pop("additional_special_tokens", None)
        init_kwargs["extra_special_tokens"] = [spm._content(t) for t in settings["extra_special_tokens"]]
    return tokenizer
