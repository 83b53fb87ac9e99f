"""AutoTokenizer against transformers' AutoTokenizer (the oracle) on the same files.

Two folders: the real MiniLM one (tokenizer.json present) and a vocab.txt + tokenizer_config.json copy,
where pybertcore builds BERT's WordPiece pipeline itself. Ids, keys, padding and truncation must be
identical, token for token.
"""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

import pybertcore
from pybertcore import AutoTokenizer, BatchEncoding

TEXTS = [
    "Hello!",
    "I've been waiting for a HuggingFace course my whole life.",
    "Crème brûlée à l'hôtel Zürich, naïve café — ÅNGSTRÖM",
    "北京欢迎你，東京です。한국어 텍스트",
    "",
    "   ",
    "a [MASK] b [SEP] c",
    "tabs\tand\nnewlines\u200b zero-width\x00 control",
    "emoji 🤗🙂 and numbers 3.14159 1,000,000",
    "word " * 700,
]

CALL_KWARGS = [
    {},
    {"padding": True},
    {"padding": "longest", "truncation": True},
    {"padding": "max_length", "max_length": 24, "truncation": True},
    {"max_length": 9},
    {"truncation": True},
    {"truncation": "only_first", "max_length": 40, "padding": True},
    {"padding": True, "truncation": True, "max_length": 16, "pad_to_multiple_of": 8},
    {"add_special_tokens": False},
    {"return_attention_mask": False, "return_token_type_ids": False},
]


@pytest.fixture(scope="module")
def vocab_only_dir(minilm_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("vocab_only")
    for name in ("vocab.txt", "tokenizer_config.json"):
        shutil.copy(minilm_dir / name, folder / name)
    return folder


@pytest.fixture(scope="module", params=["tokenizer_json", "vocab_txt"])
def pair(request, minilm_dir, vocab_only_dir):
    """(ours, transformers') tokenizers loaded from the same folder."""
    import transformers

    folder = minilm_dir if request.param == "tokenizer_json" else vocab_only_dir
    ours = AutoTokenizer.from_pretrained(folder)
    theirs = transformers.AutoTokenizer.from_pretrained(str(folder))
    return ours, theirs


def assert_same(ours, theirs):
    assert isinstance(ours, BatchEncoding)
    assert list(ours.keys()) == list(theirs.keys())
    for key in theirs:
        a, b = ours[key], theirs[key]
        if isinstance(b, np.ndarray):
            assert isinstance(a, np.ndarray), key
            assert a.dtype == b.dtype and a.shape == b.shape, key
            np.testing.assert_array_equal(a, b, err_msg=key)
        else:
            assert a == b, key


@pytest.mark.parametrize("kwargs", CALL_KWARGS, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) or "plain")
def test_ids_equal_transformers(pair, kwargs):
    ours, theirs = pair
    for text in (TEXTS, TEXTS[1], TEXTS[2], TEXTS[4]):
        assert_same(ours(text, **kwargs), theirs(text, **kwargs))


@pytest.mark.parametrize("kwargs", [{}, {"padding": True, "truncation": True}, {"padding": True, "max_length": 20,
                                                                                "truncation": "longest_first"}])
def test_pairs_equal_transformers(pair, kwargs):
    ours, theirs = pair
    firsts, seconds = TEXTS[:-1], TEXTS[:-1][::-1]
    assert_same(ours(firsts, seconds, **kwargs), theirs(firsts, seconds, **kwargs))
    assert_same(ours(list(zip(firsts, seconds)), **kwargs), theirs(list(zip(firsts, seconds)), **kwargs))
    assert_same(ours(text=TEXTS[0], text_pair=TEXTS[1], **kwargs), theirs(text=TEXTS[0], text_pair=TEXTS[1], **kwargs))
    # The long text in a pair: longest_first takes tokens from the longer side.
    long_pair = ([TEXTS[-1], TEXTS[1]], [TEXTS[2], TEXTS[-1]])
    assert_same(
        ours(*long_pair, truncation=True, max_length=64, padding=True, return_tensors="np"),
        theirs(*long_pair, truncation=True, max_length=64, padding=True, return_tensors="np"),
    )


def test_numpy_tensors_and_model_call(pair, minilm_dir):
    ours, theirs = pair
    enc = ours(TEXTS[:4], padding=True, truncation=True, return_tensors="np")
    assert_same(enc, theirs(TEXTS[:4], padding=True, truncation=True, return_tensors="np"))
    assert enc["input_ids"].dtype == np.int64
    assert enc.input_ids is enc["input_ids"]
    single = ours("Hello!", return_tensors="np")
    assert single["input_ids"].shape == (1, 4)
    assert single["input_ids"].tolist() == [[101, 7592, 999, 102]]


def test_model_accepts_batch_encoding(minilm_dir):
    tok = AutoTokenizer.from_pretrained(minilm_dir)
    model = pybertcore.AutoModel.from_pretrained(minilm_dir)
    enc = tok(["Hello!", "A slightly longer sentence."], padding=True, return_tensors="np")
    out = model(**enc)
    assert out.last_hidden_state.shape == (2, enc["input_ids"].shape[1], 384)


def test_ragged_without_padding_refuses_numpy(pair):
    ours, _ = pair
    with pytest.raises(ValueError, match="padding"):
        ours(["a", "a longer one"], return_tensors="np")


def test_truncation_at_model_max_length(pair):
    ours, theirs = pair
    assert ours.model_max_length == theirs.model_max_length == 512
    enc = ours([TEXTS[-1], "short"], truncation=True, padding=True, return_tensors="np")
    assert enc["input_ids"].shape == (2, 512)
    assert enc["input_ids"][0, -1] == ours.sep_token_id


def test_too_long_without_truncation_warns(minilm_dir, caplog):
    tok = AutoTokenizer.from_pretrained(minilm_dir)
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        ids = tok(TEXTS[-1])["input_ids"]
        tok(TEXTS[-1])
    assert len(ids) == 702
    warnings = [r for r in caplog.records if "longer than the specified maximum" in r.getMessage()]
    assert len(warnings) == 1


def test_decode_and_token_conversions(pair):
    ours, theirs = pair
    ids_batch = theirs(TEXTS[:-1])["input_ids"]
    for ids in ids_batch:
        assert ours.decode(ids) == theirs.decode(ids)
        assert ours.decode(ids, skip_special_tokens=True) == theirs.decode(ids, skip_special_tokens=True)
        assert ours.decode(np.asarray(ids)) == theirs.decode(ids)
        assert ours.convert_ids_to_tokens(ids) == theirs.convert_ids_to_tokens(ids)
        assert ours.convert_ids_to_tokens(ids, skip_special_tokens=True) == theirs.convert_ids_to_tokens(
            ids, skip_special_tokens=True
        )
        tokens = theirs.convert_ids_to_tokens(ids)
        assert ours.convert_tokens_to_ids(tokens) == theirs.convert_tokens_to_ids(tokens)
    assert ours.batch_decode(ids_batch, skip_special_tokens=True) == theirs.batch_decode(
        ids_batch, skip_special_tokens=True
    )
    assert ours.convert_ids_to_tokens(7592) == "hello"
    assert ours.convert_tokens_to_ids("hello") == 7592
    assert ours.convert_tokens_to_ids("notawordpiece_xyz") == ours.unk_token_id
    for text in TEXTS:
        assert ours.tokenize(text) == theirs.tokenize(text)
    for name in ("cls_token_id", "sep_token_id", "pad_token_id", "unk_token_id", "mask_token_id"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.vocab_size == theirs.vocab_size
    assert len(ours) == len(theirs)


@pytest.mark.parametrize("do_lower_case, strip_accents", [(False, None), (True, False), (False, True)])
def test_vocab_only_respects_normalizer_options(minilm_dir, tmp_path, do_lower_case, strip_accents):
    import json

    import transformers

    shutil.copy(minilm_dir / "vocab.txt", tmp_path / "vocab.txt")
    config = json.loads((minilm_dir / "tokenizer_config.json").read_text())
    config.update(do_lower_case=do_lower_case, strip_accents=strip_accents, tokenize_chinese_chars=False)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    ours = AutoTokenizer.from_pretrained(tmp_path)
    theirs = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    assert_same(ours(TEXTS, padding=True, truncation=True), theirs(TEXTS, padding=True, truncation=True))


def test_save_pretrained_round_trip(pair, tmp_path):
    import transformers

    ours, theirs = pair
    ours.save_pretrained(tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        assert (tmp_path / name).is_file(), name
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    theirs_reloaded = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    kwargs = {"padding": True, "truncation": True}
    assert_same(reloaded(TEXTS, **kwargs), theirs(TEXTS, **kwargs))
    assert theirs_reloaded(TEXTS, **kwargs) == theirs(TEXTS, **kwargs)
    assert reloaded.model_max_length == ours.model_max_length


def test_bad_arguments_name_the_problem(minilm_dir, tmp_path):
    tok = AutoTokenizer.from_pretrained(minilm_dir)
    with pytest.raises(ValueError, match="return_tensors='tf' is not supported by pybertcore; use 'pt'"):
        tok("x", return_tensors="tf")
    with pytest.raises(ValueError, match="padding"):
        tok("x", padding="sideways")
    with pytest.raises(ValueError, match=r"text\[1\]"):
        tok(["ok", 3])
    with pytest.raises(ValueError, match="text_pair"):
        tok(["a", "b"], ["c"])
    with pytest.raises(ValueError, match="max_length"):
        tok("one two three four", "x", truncation="only_second", max_length=5)
    with pytest.raises(OSError, match="vocab.txt"):
        AutoTokenizer.from_pretrained(tmp_path)


def test_empty_batch(minilm_dir):
    tok = AutoTokenizer.from_pretrained(minilm_dir)
    assert tok([])["input_ids"] == []


def test_byte_level_bpe_tokenizer_json_like_roberta(tmp_path):
    """A RoBERTa-style tokenizer.json (byte-level BPE, <s> </s>, no token types) loads as transformers loads it."""
    import json

    import transformers
    from tokenizers import ByteLevelBPETokenizer
    from tokenizers.processors import RobertaProcessing

    corpus = ["Hello world, a tiny corpus for byte-level BPE.", "Paris is a city in France.",
              "Jean-Baptiste lives in Montréal."] * 20
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=300, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.post_processor = RobertaProcessing(("</s>", bpe.token_to_id("</s>")), ("<s>", bpe.token_to_id("<s>")))
    bpe.save(str(tmp_path / "tokenizer.json"))
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "RobertaTokenizer", "bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>",
        "cls_token": "<s>", "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>",
        "model_max_length": 512,
    }))
    ours = AutoTokenizer.from_pretrained(tmp_path)
    theirs = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    texts = ["Hello world!", "Paris <mask> France.", "", "unseen 北京 text"]
    for kwargs in ({}, {"padding": True}, {"padding": True, "truncation": True, "max_length": 6}):
        assert_same(ours(texts, **kwargs), theirs(texts, **kwargs))
    assert_same(ours(texts[:2], texts[2:]), theirs(texts[:2], texts[2:]))
    assert "token_type_ids" not in ours("x")
    ids = theirs(texts)["input_ids"][1]
    assert ours.decode(ids) == theirs.decode(ids)
    assert ours.decode(ids, skip_special_tokens=True) == theirs.decode(ids, skip_special_tokens=True)
    assert ours.tokenize(texts[0]) == theirs.tokenize(texts[0])


def test_concurrent_calls_keep_their_own_settings(minilm_dir):
    """Padding/truncation live on the shared Rust tokenizer; calls from several threads must not mix them."""
    import threading

    tok = AutoTokenizer.from_pretrained(minilm_dir)
    errors = []

    def work(length):
        try:
            for _ in range(30):
                ids = tok(["a b c d e f g h"] * 3, padding="max_length", max_length=length, truncation=True)["input_ids"]
                assert all(len(x) == length for x in ids)
                assert len(tok.tokenize("a b c d e f g h i j")) == 10
        except AssertionError as e:  # pragma: no cover - only on a race
            errors.append(e)

    threads = [threading.Thread(target=work, args=(5 + i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_pickle_round_trip(minilm_dir):
    import pickle

    tok = AutoTokenizer.from_pretrained(minilm_dir)
    again = pickle.loads(pickle.dumps(tok))
    assert again("Hello!") == tok("Hello!")


def test_return_tensors_pt_gives_torch_like_transformers(minilm_dir):
    """The course's line: tokenizer(raw_inputs, padding=True, truncation=True, return_tensors="pt")."""
    import torch
    import transformers

    raw_inputs = ["I've been waiting for a HuggingFace course my whole life.", "I hate this so much!"]
    ours = AutoTokenizer.from_pretrained(minilm_dir)(raw_inputs, padding=True, truncation=True, return_tensors="pt")
    theirs = transformers.AutoTokenizer.from_pretrained(minilm_dir)(raw_inputs, padding=True, truncation=True,
                                                                     return_tensors="pt")
    assert list(ours.keys()) == list(theirs.keys())
    for key in theirs:
        assert isinstance(ours[key], torch.Tensor) and ours[key].dtype == theirs[key].dtype == torch.int64
        assert torch.equal(ours[key], theirs[key])
    single = AutoTokenizer.from_pretrained(minilm_dir)("Hello!", return_tensors="pt")
    assert single["input_ids"].shape == (1, 4)


def test_return_tensors_pt_without_torch_says_so(minilm_dir):
    import subprocess
    import sys

    from conftest import CHILD_CWD, child_env

    code = ("import sys; sys.modules['torch'] = None\n"
            "from pybertcore import AutoTokenizer\n"
            f"tok = AutoTokenizer.from_pretrained({str(minilm_dir)!r})\n"
            "print(tok('x', return_tensors='np')['input_ids'].shape)\n"
            "try:\n"
            "    tok('x', return_tensors='pt')\n"
            "except ImportError as e:\n"
            "    print('ImportError:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], env=child_env(), cwd=CHILD_CWD, capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert "(1, 3)" in out
    assert 'ImportError: return_tensors="pt" needs PyTorch, which is not installed' in out
