"""pybertcore's tokenizers as a drop-in for transformers 5's, call by call, on the same folders.

Folders laid out as hub checkpoints are (tokenizer.json written by the ``tokenizers`` library the way the
transformers 4 converters wrote it, tokenizer_config.json naming the class, config.json the model type) for
every family pybertcore runs: BERT (uncased, cased, no class named, DistilBERT, ELECTRA, nomic_bert), MPNet,
RoBERTa, XLM-RoBERTa and GTE (a Unigram model with a SentencePiece charsmap), ModernBERT (a byte-level BPE run
as it is). transformers 5 rebuilds most of them from the file's vocabulary with the class's own pipeline; the
backend (the whole Rust tokenizer), ids, masks, offsets, word ids and decoded text must match it, and so must
the arguments of ``__call__``, the BatchEncoding API, ``pad``, ``decode``, the special-token attributes,
``add_tokens`` and ``save_pretrained``. The real MiniLM folder covers from_pretrained's keywords.
"""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path

import numpy as np
import pytest

import pybertcore
from pybertcore import AutoTokenizer, BatchEncoding
from spm_models import EXTRA_LINES, sample_lines, train

CORPUS = sample_lines() + EXTRA_LINES * 3
TEXTS = sample_lines()[:40] + [
    "Hello world", " leading space", "trailing spaces  ", "tabs\tand\nnewlines", "multi   space", "a <mask> b",
    "x [MASK] y", "Crème brûlée ÅNGSTRÖM", "北京欢迎你", "ＦＵＬＬ ｗｉｄｔｈ", "", "can't won't",
    "Hello , world !",
]


# ------------------------------------------------------------------ hub-like folders
def _write(folder: Path, tok, config: dict, model_type: str | None) -> Path:
    folder.mkdir(parents=True)
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    if model_type:
        (folder / "config.json").write_text(json.dumps({"model_type": model_type}))
    return folder


def _wordpiece(specials: list[str], lower: bool, unk: str):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.WordPiece(unk_token=unk))
    tok.normalizer = normalizers.BertNormalizer(lowercase=lower)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(CORPUS, trainers.WordPieceTrainer(vocab_size=500, special_tokens=specials))
    return tok


def bert_folder(folder: Path, class_name: str | None, model_type: str, lower: bool = True) -> Path:
    from tokenizers import processors

    tok = _wordpiece(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], lower, "[UNK]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    config = {"do_lower_case": lower, "model_max_length": 512, "unk_token": "[UNK]", "sep_token": "[SEP]",
              "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"}
    if class_name:
        config["tokenizer_class"] = class_name
    return _write(folder, tok, config, model_type)


def mpnet_folder(folder: Path) -> Path:
    from tokenizers import AddedToken, processors

    tok = _wordpiece(["<s>", "<pad>", "</s>", "<unk>", "[UNK]", "<mask>"], True, "[UNK]")
    tok.post_processor = processors.TemplateProcessing(
        single="<s>:0 $A:0 </s>:0", pair="<s>:0 $A:0 </s>:0 </s>:0 $B:0 </s>:0",
        special_tokens=[("<s>", 0), ("</s>", 2)])
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True)])
    mask = {"content": "<mask>", "lstrip": True, "rstrip": False, "normalized": False, "single_word": False,
            "__type": "AddedToken"}
    config = {"tokenizer_class": "MPNetTokenizer", "do_lower_case": True, "model_max_length": 512, "bos_token": "<s>",
              "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>", "unk_token": "[UNK]", "pad_token": "<pad>",
              "mask_token": mask}
    return _write(folder, tok, config, "mpnet")


def _byte_level_bpe(specials: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=600, special_tokens=specials,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return tok


def roberta_folder(folder: Path) -> Path:
    from tokenizers import AddedToken, processors

    tok = _byte_level_bpe(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True,
                                                      add_prefix_space=False)
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True)])
    config = {"tokenizer_class": "RobertaTokenizer", "model_max_length": 512, "bos_token": "<s>", "eos_token": "</s>",
              "sep_token": "</s>", "cls_token": "<s>", "unk_token": "<unk>", "pad_token": "<pad>",
              "mask_token": "<mask>", "add_prefix_space": False, "trim_offsets": True, "errors": "replace"}
    return _write(folder, tok, config, "roberta")


def xlmr_folder(folder: Path, charsmap: bytes, model_type: str) -> Path:
    """XLM-RoBERTa's hub layout: a Unigram model, the SentencePiece charsmap then runs of spaces collapsed,
    Metaspace, ``<s> A </s></s> B </s>``."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers import processors, trainers

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.Precompiled(charsmap),
                                           normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.train_from_iterator(CORPUS, trainers.UnigramTrainer(vocab_size=500, unk_token="<unk>",
                                                            special_tokens=["<s>", "<pad>", "</s>", "<unk>"]))
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True)])
    tok.post_processor = processors.TemplateProcessing(
        single="<s>:0 $A:0 </s>:0", pair="<s>:0 $A:0 </s>:0 </s>:0 $B:0 </s>:0",
        special_tokens=[("<s>", 0), ("</s>", 2)])
    mask = {"content": "<mask>", "lstrip": True, "rstrip": False, "normalized": True, "single_word": False,
            "__type": "AddedToken"}
    config = {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512, "bos_token": "<s>",
              "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>", "unk_token": "<unk>", "pad_token": "<pad>",
              "mask_token": mask}
    return _write(folder, tok, config, model_type)


def modernbert_folder(folder: Path, model_type: str | None = "modernbert", input_names: bool = True) -> Path:
    from tokenizers import AddedToken, normalizers, processors

    tok = _byte_level_bpe(["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"])
    tok.normalizer = normalizers.NFC()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:0 [SEP]:0",
        special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
    tok.add_special_tokens([AddedToken("[MASK]", lstrip=True, special=True)])
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 8192,
              "clean_up_tokenization_spaces": True,
              "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]",
              "mask_token": "[MASK]"}
    if input_names:
        config["model_input_names"] = ["input_ids", "attention_mask"]
    return _write(folder, tok, config, model_type)


def _charsmap(root: Path) -> bytes:
    """The nmt_nfkc charsmap of a SentencePiece model trained on the corpus (what XLM-R's tokenizer.json holds)."""
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(train(root / "charsmap", pad_id=1, unk_id=3, bos_id=0, eos_id=2).read_bytes())
    return bytes(proto.normalizer_spec.precompiled_charsmap)


# "generic": a tokenizer.json of no class transformers rebuilds, and no model_input_names: input_ids and
# attention_mask only, as transformers' TokenizersBackend gives.
FAMILIES = ["bert", "bert_cased", "bert_no_class", "distilbert", "electra_no_class", "nomic_bert", "mpnet", "roberta",
            "xlm_roberta", "gte", "modernbert", "generic"]


@pytest.fixture(scope="module")
def family_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("families")
    charsmap = _charsmap(root)
    bert_folder(root / "bert", "BertTokenizer", "bert")
    bert_folder(root / "bert_cased", "BertTokenizerFast", "bert", lower=False)
    bert_folder(root / "bert_no_class", None, "bert")
    bert_folder(root / "distilbert", "DistilBertTokenizer", "distilbert")
    bert_folder(root / "electra_no_class", None, "electra")
    bert_folder(root / "nomic_bert", "BertTokenizer", "nomic_bert")
    mpnet_folder(root / "mpnet")
    roberta_folder(root / "roberta")
    xlmr_folder(root / "xlm_roberta", charsmap, "xlm-roberta")
    xlmr_folder(root / "gte", charsmap, "gte")
    modernbert_folder(root / "modernbert")
    modernbert_folder(root / "generic", model_type=None, input_names=False)
    return root


@pytest.fixture(scope="module", params=FAMILIES)
def family(request, family_root):
    """(name, folder, ours, transformers') for one family."""
    import transformers

    folder = family_root / request.param
    return request.param, folder, AutoTokenizer.from_pretrained(folder), transformers.AutoTokenizer.from_pretrained(
        str(folder))


def assert_same(ours, theirs):
    """Same keys in the same order, same values and types (lists, or arrays of the same dtype and shape)."""
    assert isinstance(ours, BatchEncoding)
    assert list(ours.keys()) == list(theirs.keys())
    for key in theirs.keys():
        a, b = ours[key], theirs[key]
        if isinstance(b, np.ndarray):
            assert isinstance(a, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, key
            np.testing.assert_array_equal(a, b, err_msg=key)
        elif hasattr(b, "numpy"):
            assert type(a) is type(b) and a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape), key
            assert a.tolist() == b.tolist(), key
        else:
            assert a == b, key


def backend_state(tokenizer) -> dict:
    """The Rust tokenizer as JSON, without the padding and truncation transformers leaves on it between calls."""
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    return {k: v for k, v in state.items() if k not in ("padding", "truncation")}


# ------------------------------------------------------------------ the families, built as transformers 5 builds them
def test_family_backend_is_transformers(family):
    """The whole Rust tokenizer (model, normalizer, pre-tokenizer, template, decoder, added tokens) as
    transformers' class rebuilt it from the file, or the file as it is for PreTrainedTokenizerFast."""
    name, _, ours, theirs = family
    assert type(ours).__name__ == type(theirs).__name__.replace("TokenizersBackend", "PreTrainedTokenizerFast")
    assert backend_state(ours) == backend_state(theirs)
    assert ours.model_input_names == theirs.model_input_names
    assert list(ours("a b").keys()) == list(theirs("a b").keys())
    assert ours.all_special_tokens == theirs.all_special_tokens
    assert ours.all_special_ids == theirs.all_special_ids
    assert ours.special_tokens_map == theirs.special_tokens_map
    assert (ours.vocab_size, len(ours), ours.model_max_length) == (
        theirs.vocab_size, len(theirs), theirs.model_max_length)
    assert {i: str(t) for i, t in ours.added_tokens_decoder.items()} == {
        i: str(t) for i, t in theirs.added_tokens_decoder.items()}


def test_family_ids_offsets_and_text(family):
    """Whitespace edge cases (tabs, trailing spaces), accents, CJK, full-width forms, masks in the text: ids,
    masks, offsets, special-token masks, word ids, tokens and decoded text."""
    _, _, ours, theirs = family
    kwargs = {"return_offsets_mapping": True, "return_special_tokens_mask": True}
    assert_same(ours(TEXTS, **kwargs), theirs(TEXTS, **kwargs))
    assert_same(ours(TEXTS[:20], TEXTS[20:40], padding=True, **kwargs), theirs(TEXTS[:20], TEXTS[20:40], padding=True,
                                                                              **kwargs))
    enc_o, enc_t = ours(TEXTS), theirs(TEXTS)
    for i, text in enumerate(TEXTS):
        assert enc_o.word_ids(i) == enc_t.word_ids(i) and enc_o.tokens(i) == enc_t.tokens(i), text
        assert ours.tokenize(text) == theirs.tokenize(text), text
        ids = enc_t["input_ids"][i]
        for skip in (False, True):
            assert ours.decode(ids, skip_special_tokens=skip) == theirs.decode(ids, skip_special_tokens=skip), text
        assert ours.decode(ids, clean_up_tokenization_spaces=True) == theirs.decode(
            ids, clean_up_tokenization_spaces=True)


def test_family_save_pretrained_round_trip(family, tmp_path):
    """The saved tokenizer.json is the one transformers saves; each library loads the other's folder to the
    same tokenizer."""
    import transformers

    _, _, ours, theirs = family
    ours.save_pretrained(tmp_path / "ours")
    theirs.save_pretrained(tmp_path / "theirs")
    assert json.loads((tmp_path / "ours" / "tokenizer.json").read_text()) == json.loads(
        (tmp_path / "theirs" / "tokenizer.json").read_text())
    reference = theirs(TEXTS[:20], TEXTS[20:40], return_offsets_mapping=True)
    for library, folder in ((transformers, "ours"), (pybertcore, "theirs"), (pybertcore, "ours")):
        again = library.AutoTokenizer.from_pretrained(str(tmp_path / folder))
        assert dict(again(TEXTS[:20], TEXTS[20:40], return_offsets_mapping=True)) == dict(reference), (library, folder)
        assert again.all_special_tokens == theirs.all_special_tokens


def test_family_words_and_overflow(family):
    """is_split_into_words and overflowing windows with a stride: ids, offsets, word ids, the sample mapping."""
    _, _, ours, theirs = family
    words = [t.split() for t in TEXTS if t.split()]
    kwargs = {"is_split_into_words": True, "return_offsets_mapping": True}
    assert_same(ours(words, **kwargs), theirs(words, **kwargs))
    kwargs = {"truncation": True, "max_length": 12, "stride": 3, "return_overflowing_tokens": True, "padding": True,
              "return_offsets_mapping": True}
    o, t = ours(TEXTS[:10], **kwargs), theirs(TEXTS[:10], **kwargs)
    assert_same(o, t)
    assert len(o["input_ids"]) > 10
    assert [o.word_ids(i) for i in range(len(o["input_ids"]))] == [t.word_ids(i) for i in range(len(t["input_ids"]))]


# ------------------------------------------------------------------ from_pretrained's keywords
@pytest.mark.parametrize("kwargs", [
    {"do_lower_case": False}, {"strip_accents": False}, {"tokenize_chinese_chars": False}, {"model_max_length": 8},
    {"padding_side": "left"}, {"truncation_side": "left"}, {"use_fast": False}, {"cls_token": "[MASK]"},
    {"model_input_names": ["input_ids", "attention_mask"]}, {"clean_up_tokenization_spaces": True},
], ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_from_pretrained_keywords(minilm_dir, kwargs):
    """transformers 5 builds BERT's normalizer and template from these (tokenizer.json's are replaced)."""
    import transformers

    ours = AutoTokenizer.from_pretrained(minilm_dir, **kwargs)
    theirs = transformers.AutoTokenizer.from_pretrained(str(minilm_dir), **kwargs)
    texts = ["Hello World, Crème Brûlée à Zürich", "北京 I've been waiting , it 's long .", "x"]
    for call in ({}, {"padding": True, "truncation": True, "max_length": 8}, {"padding": True}):
        assert_same(ours(texts, **call), theirs(texts, **call))
    assert ours.decode(theirs(texts[1])["input_ids"]) == theirs.decode(theirs(texts[1])["input_ids"])
    assert (ours.model_max_length, ours.padding_side, ours.truncation_side) == (
        theirs.model_max_length, theirs.padding_side, theirs.truncation_side)


# ------------------------------------------------------------------ __call__'s arguments
@pytest.fixture(scope="module")
def minilm_pair(minilm_dir):
    import transformers

    return AutoTokenizer.from_pretrained(minilm_dir), transformers.AutoTokenizer.from_pretrained(str(minilm_dir))


S = ["I've been waiting for a HuggingFace course my whole life.", "I hate this so much!", "Hello"]
P = ["Second sentence here.", "Another one", "x y z w"]

CALLS = {
    "split_words": lambda k: k(["Hello", "world", "HuggingFace"], is_split_into_words=True,
                               return_offsets_mapping=True),
    "split_words_batch": lambda k: k([["Hello", "world"], ["a", "b", "c"]], is_split_into_words=True, padding=True),
    "split_words_pair": lambda k: k(["a", "b"], ["c", "d"], is_split_into_words=True),
    "split_words_batch_pairs": lambda k: k([(["a", "b"], ["c"])], is_split_into_words=True),
    "overflow_single": lambda k: k(S[0], truncation=True, max_length=8, stride=2, return_overflowing_tokens=True),
    "overflow_single_np": lambda k: k(S[0], truncation=True, max_length=8, stride=2, return_overflowing_tokens=True,
                                      padding=True, return_tensors="np", return_offsets_mapping=True),
    "overflow_pair_only_second": lambda k: k(S[0], P[0] * 5, truncation="only_second", max_length=24, stride=2,
                                             return_overflowing_tokens=True, return_offsets_mapping=True),
    "offsets_single_np": lambda k: k(S[0], return_offsets_mapping=True, return_tensors="np"),
    "length_single": lambda k: k(S[0], return_length=True),
    "length_batch_np": lambda k: k(S, return_length=True, padding=True, return_tensors="np"),
    "special_mask_pairs": lambda k: k(S, P, return_special_tokens_mask=True, padding="max_length", max_length=24),
    "left_padding": lambda k: k(S, padding=True, padding_side="left"),
    "multiple_of": lambda k: k(S, padding=True, pad_to_multiple_of=8),
    "no_token_types": lambda k: k(S, return_token_type_ids=False, return_attention_mask=False),
    "only_first": lambda k: k(S, P, truncation="only_first", max_length=10),
    "text_target": lambda k: k(S, text_target=P, padding=True, return_tensors="np"),
    "text_target_only": lambda k: k(text_target=P),
    "max_target_length": lambda k: k(S, text_target=P, max_target_length=4, truncation=True, padding=True),
    "tokenizer_kwargs": lambda k: k(S, tokenizer_kwargs={"padding": True, "max_length": 6, "truncation": True}),
    "split_special_tokens": lambda k: k("a [MASK] b [SEP]", split_special_tokens=True),
    "empty_text_pair": lambda k: k("a", ""),
    "encode_np": lambda k: k.encode(S[0], P[0], return_tensors="np", max_length=9, truncation=True),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_call_arguments(minilm_pair, name):
    ours, theirs = minilm_pair
    o, t = CALLS[name](ours), CALLS[name](theirs)
    if isinstance(t, np.ndarray):
        assert isinstance(o, np.ndarray) and o.dtype == t.dtype and o.tolist() == t.tolist()
    else:
        assert_same(o, t)


def test_call_pt_matches(minilm_pair):
    import torch

    ours, theirs = minilm_pair
    kwargs = {"padding": True, "truncation": True, "return_tensors": "pt", "return_offsets_mapping": True,
              "return_length": True}
    o = ours(S[0], **kwargs)
    assert_same(o, theirs(S[0], **kwargs))
    assert isinstance(o["offset_mapping"], torch.Tensor) and o["offset_mapping"].shape == (1, 16, 2)


@pytest.mark.parametrize("call, error, message", [
    (lambda k: k(3), ValueError, "text input must be of type `str`"),
    (lambda k: k(["a", "b"], "c"), TypeError, "`text_pair` must be a list or tuple"),
    (lambda k: k(["a", "b"], ["c"]), ValueError, "batch length of `text`: 2 does not match"),
    (lambda k: k(None), ValueError, "You need to specify either `text` or `text_target`"),
    (lambda k: k("a", padding=True, truncation=True, max_length=10, pad_to_multiple_of=8), ValueError,
     "truncation length (10) is not a multiple of pad_to_multiple_of (8)"),
    (lambda k: k.add_special_tokens({"foo_token": "x"}), ValueError, "Key foo_token is not a valid special token"),
    (lambda k: k.get_special_tokens_mask([7592], [2088]), NotImplementedError, "for non-formatted sequences"),
])
def test_errors_as_transformers(minilm_pair, call, error, message):
    for tokenizer in minilm_pair:
        with pytest.raises(error) as e:
            call(tokenizer)
        assert message in str(e.value)


def test_unknown_keywords_raise_naming_them(minilm_dir):
    """transformers ignores a keyword it does not know (``truncate=True`` then truncates nothing); ours raises,
    naming it, and the known keywords beside it work as there."""
    import transformers

    ours = AutoTokenizer.from_pretrained(minilm_dir)
    theirs = transformers.AutoTokenizer.from_pretrained(str(minilm_dir))
    with pytest.raises(TypeError, match="truncate"):
        ours(S, truncate=True)
    assert ours(S, truncation=True) == theirs(S, truncation=True)


def test_too_long_warning_only_without_max_length(minilm_dir, caplog):
    """transformers warns when no max_length applied (not with padding="max_length", which sets one)."""
    long_text = "word " * 600
    tok = AutoTokenizer.from_pretrained(minilm_dir)
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        assert len(tok(long_text, padding="max_length")["input_ids"]) == 602
    assert not [r for r in caplog.records if "longer than the specified maximum" in r.getMessage()]
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        assert len(tok.tokenize(long_text)) == 600
    assert [r for r in caplog.records if "(600 > 512)" in r.getMessage()]


# ------------------------------------------------------------------ BatchEncoding
def test_batch_encoding_alignment_methods(minilm_pair):
    ours, theirs = minilm_pair
    o, t = ours(S, P), theirs(S, P)
    for i in range(len(S)):
        assert o.sequence_ids(i) == t.sequence_ids(i) and o.word_ids(i) == t.word_ids(i)
        for token in range(len(t["input_ids"][i])):
            assert o.token_to_chars(i, token) == t.token_to_chars(i, token)
            assert o.token_to_word(i, token) == t.token_to_word(i, token)
            assert o.token_to_sequence(i, token) == t.token_to_sequence(i, token)
        for char in range(len(S[i])):
            assert o.char_to_token(i, char) == t.char_to_token(i, char)
            assert o.char_to_word(i, char) == t.char_to_word(i, char)
            assert o.char_to_token(i, char, sequence_index=1) == t.char_to_token(i, char, sequence_index=1)
        for word in {w for w, seq in zip(t.word_ids(i), t.sequence_ids(i)) if seq == 0}:
            assert o.word_to_tokens(i, word) == t.word_to_tokens(i, word)
            assert o.word_to_chars(i, word) == t.word_to_chars(i, word)
    single_o, single_t = ours(S[0]), theirs(S[0])
    assert single_o.char_to_token(5) == single_t.char_to_token(5) == 4
    assert tuple(single_o.token_to_chars(3)) == tuple(single_t.token_to_chars(3)) == (2, 4)
    assert single_o.word_to_tokens(2).start == single_t.word_to_tokens(2).start
    assert o[1].ids == t[1].ids and [e.ids for e in o[0:2]] == [e.ids for e in t[0:2]]
    assert o.is_fast and o.n_sequences == t.n_sequences == 2
    assert o.data == dict(t.data) and o.input_ids == t.input_ids and len(o) == len(t)
    again = pickle.loads(pickle.dumps(o))
    assert again == o and again.word_ids(1) == o.word_ids(1) and again.n_sequences == 2


def test_batch_encoding_to_moves_torch_tensors(minilm_pair):
    import torch

    ours, _ = minilm_pair
    enc = ours(S, padding=True, return_tensors="pt")
    assert enc.to("cpu") is enc and all(isinstance(v, torch.Tensor) for v in enc.values())
    assert ours(S, padding=True, return_tensors="np").to("cpu")["input_ids"].dtype == np.int64


# ------------------------------------------------------------------ pad, decode
PADS = {
    "encodings": lambda k: k.pad([k("a b"), k("a b c d e")]),
    "encodings_np": lambda k: k.pad([k("a b", "c"), k("a b c d e")], return_tensors="np"),
    "dict_of_lists": lambda k: k.pad({"input_ids": [[1, 2], [1, 2, 3]]}),
    "max_length": lambda k: k.pad([{"input_ids": [1, 2]}, {"input_ids": [1, 2, 3]}], padding="max_length",
                                  max_length=6),
    "left": lambda k: k.pad([{"input_ids": [1, 2]}, {"input_ids": [1, 2, 3]}], padding_side="left"),
    "one_encoding": lambda k: k.pad({"input_ids": [1, 2]}, padding="max_length", max_length=4),
    "multiple_of": lambda k: k.pad([{"input_ids": [1, 2]}, {"input_ids": [1, 2, 3]}], pad_to_multiple_of=4),
    "no_padding": lambda k: k.pad([{"input_ids": [1, 2]}, {"input_ids": [1, 2, 3]}], padding=False),
    "special_tokens_mask": lambda k: k.pad([k("a b", return_special_tokens_mask=True),
                                           k("a b c d e", return_special_tokens_mask=True)]),
    "numpy_in_numpy_out": lambda k: k.pad({"input_ids": np.array([[1, 2, 3]])}),
    "offsets_untouched": lambda k: k.pad([k("a b", return_offsets_mapping=True),
                                          k("a b c", return_offsets_mapping=True)]),
    "labels_pass_through": lambda k: k.pad([{"input_ids": [1, 2], "labels": 1}, {"input_ids": [1, 2, 3], "labels": 0}],
                                           return_tensors="np"),
}


@pytest.mark.parametrize("name", sorted(PADS))
def test_pad(minilm_pair, name):
    ours, theirs = minilm_pair
    assert_same(PADS[name](ours), PADS[name](theirs))


def test_pad_torch_in_torch_out(minilm_pair):
    import torch

    ours, theirs = minilm_pair
    batch = [{"input_ids": torch.tensor([1, 2])}, {"input_ids": torch.tensor([1, 2, 3])}]
    o = ours.pad(batch)
    assert_same(o, theirs.pad(batch))
    assert isinstance(o["input_ids"], torch.Tensor)


def test_decode_forms(minilm_pair):
    import torch

    ours, theirs = minilm_pair
    ids = theirs(S, padding=True)["input_ids"]
    for value in (ids, np.array(ids), torch.tensor(ids), ids[0], np.array(ids[0]), torch.tensor(ids[0]), 7592,
                  np.int64(7592), theirs(S[0]), []):
        for skip in (False, True):
            assert ours.decode(value, skip_special_tokens=skip) == theirs.decode(value, skip_special_tokens=skip)
    assert isinstance(ours.decode(ids), list) and len(ours.decode(ids)) == 3  # a batch gives a list, as in v5
    for value in (ids, np.array(ids), ids[0], []):
        assert ours.batch_decode(value) == theirs.batch_decode(value)


def test_decode_cleanup_skipped_for_bpe(family_root):
    """transformers 5 ignores clean_up_tokenization_spaces on BPE tokenizers (ModernBERT's config sets it)."""
    import transformers

    folder = family_root / "modernbert"
    ours, theirs = AutoTokenizer.from_pretrained(folder), transformers.AutoTokenizer.from_pretrained(str(folder))
    ids = theirs("Hello , world !")["input_ids"]
    assert ours.decode(ids) == theirs.decode(ids) == "[CLS]Hello , world ![SEP]"


# ------------------------------------------------------------------ the tokenizer's attributes and vocabulary
def test_attributes(minilm_pair):
    ours, theirs = minilm_pair
    assert type(ours).__name__ == type(theirs).__name__ == "BertTokenizer"
    assert pybertcore.BertTokenizerFast is pybertcore.BertTokenizer
    assert ours.is_fast and bool(ours)
    for name in ("special_tokens_map", "all_special_tokens", "all_special_ids", "max_len_single_sentence",
                 "max_len_sentences_pair", "added_tokens_encoder", "pad_token_type_id", "extra_special_tokens",
                 "cls_token", "pad_token_id", "bos_token", "bos_token_id", "mask_token", "vocab_size"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.get_added_vocab() == theirs.get_added_vocab() and ours.vocab == theirs.vocab
    assert {i: str(t) for i, t in ours.added_tokens_decoder.items()} == {
        i: str(t) for i, t in theirs.added_tokens_decoder.items()}
    ids = theirs(S[0])["input_ids"]
    assert ours.get_special_tokens_mask(ids, already_has_special_tokens=True) == theirs.get_special_tokens_mask(
        ids, already_has_special_tokens=True)
    assert repr(ours) == repr(theirs)


def test_add_tokens_and_special_tokens(minilm_dir):
    import transformers

    pair = AutoTokenizer.from_pretrained(minilm_dir), transformers.AutoTokenizer.from_pretrained(str(minilm_dir))
    results = []
    for tok in pair:
        added = (tok.add_tokens(["newtok1", "hello"]), tok.add_special_tokens(
            {"extra_special_tokens": ["<x1>"], "bos_token": "<bos>"}))
        text = "<x1> a newtok1 b <bos>"
        results.append((added, len(tok), tok.get_added_vocab(), tok.tokenize(text), tok(text)["input_ids"],
                        tok.decode(tok(text)["input_ids"], skip_special_tokens=True), tok.all_special_tokens,
                        tok.bos_token, tok.bos_token_id, tok.extra_special_tokens))
    assert results[0] == results[1]
    ours = pair[0]
    assert pickle.loads(pickle.dumps(ours)).tokenize("a newtok1") == ["a", "newtok1"]


def test_setting_special_tokens(minilm_dir):
    import transformers

    results = []
    for library in (pybertcore, transformers):
        tok = library.AutoTokenizer.from_pretrained(str(minilm_dir))
        tok.pad_token_id = 100
        first = (tok.pad_token, tok(S, padding=True)["input_ids"])
        tok.pad_token = tok.sep_token
        results.append((first, tok.pad_token_id, tok(S, padding=True)["input_ids"]))
    assert results[0] == results[1]


def test_saved_tokenizer_json_keeps_the_file_settings(minilm_dir, tmp_path):
    """MiniLM's tokenizer.json pads and truncates to 128: transformers keeps that in the file a fresh tokenizer
    saves (its calls then clear it on the shared backend; ours keep the file's, and calls set their own)."""
    import transformers

    ours = AutoTokenizer.from_pretrained(minilm_dir)
    theirs = transformers.AutoTokenizer.from_pretrained(str(minilm_dir))
    assert ours("a b")["input_ids"] == [101, 1037, 1038, 102]
    ours.save_pretrained(tmp_path / "ours")
    theirs.save_pretrained(tmp_path / "theirs")
    assert (tmp_path / "ours" / "tokenizer.json").read_text() == (tmp_path / "theirs" / "tokenizer.json").read_text()


# ------------------------------------------------------------------ bad files and values, rebuilt classes
@pytest.mark.parametrize("family_name, file, edit, error, message", [
    ("bert", "tokenizer_config.json", lambda c: c.update(strip_accents="yes"), ValueError,
     "strip_accents: expected true, false or null, found 'yes'"),
    ("roberta", "tokenizer_config.json", lambda c: c.update(add_prefix_space="no"), ValueError,
     "add_prefix_space: expected true or false, found 'no'"),
    ("xlm_roberta", "tokenizer.json", lambda j: j["model"].update(vocab=[["a", "x"]]), OSError,
     "the tokenizers library cannot load it"),
    ("roberta", "tokenizer.json", lambda j: j["model"].update(merges=[1, 2]), OSError,
     "the tokenizers library cannot load it"),
    ("bert", "tokenizer.json", lambda j: j["added_tokens"].append({"content": "zz"}), OSError,
     "the tokenizers library cannot load it"),
])
def test_bad_files_of_rebuilt_classes_name_them(family_root, tmp_path, family_name, file, edit, error, message):
    import shutil

    folder = tmp_path / family_name
    shutil.copytree(family_root / family_name, folder)
    data = json.loads((folder / file).read_text())
    edit(data)
    (folder / file).write_text(json.dumps(data))
    with pytest.raises(error) as e:
        AutoTokenizer.from_pretrained(folder)
    assert str(folder / file) in str(e.value) and message in str(e.value), str(e.value)


def test_bad_pad_and_add_tokens_arguments(minilm_dir):
    tok = AutoTokenizer.from_pretrained(minilm_dir)
    with pytest.raises(ValueError, match="pad\\(\\) takes an encoding"):
        tok.pad(3)
    with pytest.raises(ValueError, match="that includes input_ids, but you provided \\['labels'\\]"):
        tok.pad({"labels": [1]})
    with pytest.raises(TypeError, match="add_tokens: expected str or tokenizers.AddedToken, found 3"):
        tok.add_tokens([3])
