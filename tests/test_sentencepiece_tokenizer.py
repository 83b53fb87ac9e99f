"""Tokenizers built from a SentencePiece model (no tokenizer.json) against transformers' on the same folder.

SentencePiece unigram models are trained here with the ``sentencepiece`` package on the package's sample
sentences plus accented, CJK, full-width and spacing-heavy lines: one laid out as DeBERTa-v3's spm.model is
([PAD]=0, [CLS]=1, [SEP]=2 control pieces, [UNK]=3, [MASK] added after the vocabulary), one without a
precompiled charsmap (identity normalization), one with [MASK] as a user-defined piece, and an ALBERT one
(<pad>, <unk>, control [CLS] [SEP] [MASK]). Folders hold the model + tokenizer_config.json (+ config.json,
added_tokens.json, special_tokens_map.json as real checkpoints do). For each, pybertcore's tokenizer must
serialize to the same JSON as transformers' backend tokenizer and give identical ids, token types, masks,
tokens, offsets and decoded text on several hundred texts, single and paired, truncated and padded.
"""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pybertcore
from conftest import CHILD_CWD, child_env
from pybertcore import AutoTokenizer, DebertaV2TokenizerFast
from spm_models import DEBERTA_IDS, DEBERTA_SPECIALS, EXTRA_LINES, VOCAB_SIZE, sample_lines, train, write_folder


def texts() -> list[str]:
    """Several hundred texts: the sample sentences as they are and disturbed (case, spacing, tabs and
    newlines, accents), characters never seen in training, special tokens written in the text."""
    lines = sample_lines()
    out = list(lines) + EXTRA_LINES
    for i, line in enumerate(lines[:120]):
        variant = i % 6
        if variant == 0:
            out.append(line.upper())
        elif variant == 1:
            out.append("  " + line.replace(" ", "   ") + "   ")
        elif variant == 2:
            out.append(line.replace(" ", "\t", 2).replace(", ", ",\n"))
        elif variant == 3:
            out.append(line.replace("e", "é").replace("a", "à").replace("o", "ö"))
        elif variant == 4:
            out.append(line.replace(".", " [MASK].").replace(" the ", " [SEP] the "))
        else:
            out.append(line[: len(line) // 2] + " ✓ ∑ ℵ 🤗 " + line[len(line) // 2:])
    out += ["", " ", "\t\n", "[MASK]", "[CLS] [SEP] [PAD] [UNK]", "a" * 300, "word " * 200, "x\u200by\u00a0z",
            "NFKC: ﬁne ２０２６ ｶﾀｶﾅ", "\u0301combining first", "ends with space "]
    return out


@pytest.fixture(scope="module")
def spm_models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("spm")
    return {
        "deberta": train(root / "deberta", **DEBERTA_IDS),
        "identity": train(root / "identity", normalization_rule_name="identity", **DEBERTA_IDS),
        "user_mask": train(root / "user_mask", user_defined_symbols=["[MASK]"], **DEBERTA_IDS),
        "albert": train(root / "albert", pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, pad_piece="<pad>",
                        unk_piece="<unk>", control_symbols=["[CLS]", "[SEP]", "[MASK]"]),
    }


# name -> (model, file name, tokenizer_config.json, config.json model_type, other JSON files)
FOLDERS = {
    # deberta-v3-base's own layout: a bare tokenizer_config, [MASK] from added_tokens.json.
    "v3_layout": ("deberta", "spm.model", {"do_lower_case": False, "vocab_type": "spm"}, "deberta-v2",
                  {"added_tokens": {"[MASK]": VOCAB_SIZE}, "special_tokens_map": DEBERTA_SPECIALS}),
    "bare": ("deberta", "spm.model", {}, "deberta-v2", {}),
    "lower_punct": ("deberta", "spm.model", {"do_lower_case": True, "split_by_punct": True}, "deberta-v2", {}),
    "no_prefix_space": ("deberta", "spm.model", {"add_prefix_space": False, "tokenizer_class": "DebertaV2Tokenizer"},
                        None, {}),
    "no_charsmap": ("identity", "spm.model", {"do_lower_case": False}, "deberta-v2", {}),
    "no_charsmap_lower": ("identity", "spm.model", {"do_lower_case": True, "split_by_punct": True}, "deberta-v2", {}),
    "user_defined_mask": ("user_mask", "spm.model", {"split_by_punct": True}, "deberta-v2", {}),
    # transformers 5's own layout: added_tokens_decoder in tokenizer_config.json, a mask that strips left.
    "added_tokens_decoder": ("deberta", "spm.model", {
        "tokenizer_class": "DebertaV2TokenizerFast", "model_max_length": 24, "mask_token": "[MASK]",
        "added_tokens_decoder": {
            "0": {"content": "[PAD]", "special": True, "normalized": False, "lstrip": False, "rstrip": False,
                  "single_word": False},
            str(VOCAB_SIZE): {"content": "[MASK]", "special": True, "normalized": False, "lstrip": True,
                              "rstrip": False, "single_word": False},
        }}, "deberta-v2", {}),
    # Extra special tokens, added tokens outside the vocabulary (special or not), a special token renamed to a
    # text the vocabulary lacks, a special_tokens_map entry written as an AddedToken object.
    "extras_and_added": ("deberta", "spm.model", {"additional_special_tokens": ["<extra>", "[MASK]"]}, "deberta-v2",
                         {"added_tokens": {"<new>": VOCAB_SIZE + 1, "[MASK]": VOCAB_SIZE}}),
    "renamed_specials": ("deberta", "spm.model", {"mask_token": "<m>", "unk_token": "<unk2>"}, "deberta-v2",
                         {"added_tokens": {"foo": VOCAB_SIZE, "<m>": VOCAB_SIZE + 1}}),
    "special_map_objects": ("deberta", "spm.model", {}, "deberta-v2", {"special_tokens_map": {
        "mask_token": {"content": "<mask>", "lstrip": True, "normalized": False}, "pad_token": "[PAD]",
        "extra_special_tokens": ["<extra>"]}}),
    # transformers 5's model-specific special tokens: a "<name>_token" field and a dict of extra special tokens.
    "model_specific_tokens": ("deberta", "spm.model", {"image_token": "<img>", "extra_special_tokens": {
        "audio_token": "<aud>"}, "mask_token": "<msk>"}, "deberta-v2", {}),
    "albert": ("albert", "spiece.model", {}, "albert", {}),
    "albert_cased_accents": ("albert", "spiece.model", {"do_lower_case": False, "keep_accents": True,
                                                        "tokenizer_class": "AlbertTokenizer"}, None, {}),
}


@pytest.fixture(scope="module", params=sorted(FOLDERS))
def folder(request, spm_models, tmp_path_factory) -> Path:
    model, file_name, config, model_type, files = FOLDERS[request.param]
    return write_folder(tmp_path_factory.mktemp(request.param), spm_models[model], file_name, config, model_type,
                        **files)


@pytest.fixture(scope="module")
def pair(folder):
    """(ours, transformers') tokenizers on the same SentencePiece-only folder."""
    import transformers

    assert not (folder / "tokenizer.json").exists()
    return AutoTokenizer.from_pretrained(folder), transformers.AutoTokenizer.from_pretrained(str(folder))


def assert_same(ours, theirs, keys=None):
    assert list(ours.keys()) == list(theirs.keys())
    for key in keys or theirs.keys():
        a, b = ours[key], theirs[key]
        if isinstance(b, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg=key)
            assert a.dtype == b.dtype
        else:
            assert a == b, key


def test_class_and_settings_match(pair, folder):
    ours, theirs = pair
    assert type(theirs).__name__ in ("DebertaV2Tokenizer", "AlbertTokenizer")
    assert type(ours).__name__ == type(theirs).__name__  # transformers 5's names; the Fast ones are aliases
    assert ours.model_max_length == theirs.model_max_length
    assert ours.all_special_tokens == [str(t) for t in theirs.all_special_tokens]
    assert ours.all_special_ids == theirs.all_special_ids
    assert ours.special_tokens_map == theirs.special_tokens_map
    assert ours.pad_token_id == theirs.pad_token_id and ours.mask_token_id == theirs.mask_token_id
    assert ours.vocab_size == theirs.vocab_size and len(ours) == len(theirs)
    assert ours.get_vocab() == theirs.get_vocab()
    assert sorted(ours.model_input_names) == sorted(theirs.model_input_names)


def test_backend_is_the_same_tokenizer(pair):
    """The whole Rust tokenizer: model (pieces, scores, unk id), normalizer (charsmap included),
    pre-tokenizer, template, decoder, added tokens with their ids and flags."""
    ours, theirs = pair
    assert json.loads(ours.backend_tokenizer.to_str()) == json.loads(theirs.backend_tokenizer.to_str())


def test_single_texts(pair):
    ours, theirs = pair
    batch = texts()
    assert len(batch) > 400
    kwargs = {"return_offsets_mapping": True, "return_special_tokens_mask": True}
    assert_same(ours(batch, **kwargs), theirs(batch, **kwargs))
    for text in batch[:: 37]:
        assert_same(ours(text, **kwargs), theirs(text, **kwargs))
        assert ours.tokenize(text) == theirs.tokenize(text)
    enc_ours, enc_theirs = ours(batch), theirs(batch)
    for i in range(0, len(batch), 11):
        assert enc_ours.tokens(i) == enc_theirs.tokens(i)
        assert enc_ours.word_ids(i) == enc_theirs.word_ids(i)


@pytest.mark.parametrize("kwargs", [
    {"padding": True},
    {"padding": "max_length", "max_length": 48, "truncation": True},
    {"truncation": True, "max_length": 17},
    {"padding": True, "truncation": True, "max_length": 33, "pad_to_multiple_of": 3 * 11},
    {"padding": True, "return_tensors": "np"},
    {"add_special_tokens": False, "padding": True, "padding_side": "left"},
], ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_padding_and_truncation(pair, kwargs):
    ours, theirs = pair
    batch = texts()
    assert_same(ours(batch, **kwargs), theirs(batch, **kwargs))


@pytest.mark.parametrize("truncation", ["only_first", "longest_first", "only_second"])
def test_pairs(pair, truncation):
    ours, theirs = pair
    batch = texts()
    firsts, seconds = batch[:200], batch[200:400][::-1]
    assert_same(ours(firsts, seconds), theirs(firsts, seconds))
    if truncation == "only_first":  # the side that is cut must leave room for the other: a short hypothesis
        seconds = ["Is this about the weather?"] * len(firsts)
    elif truncation == "only_second":
        firsts, seconds = ["A short premise."] * len(firsts), firsts
    kwargs = {"truncation": truncation, "max_length": 40, "padding": True, "return_offsets_mapping": True}
    assert_same(ours(firsts, seconds, **kwargs), theirs(firsts, seconds, **kwargs))
    assert_same(ours(list(zip(firsts, seconds)), **kwargs), theirs(list(zip(firsts, seconds)), **kwargs))
    assert_same(ours(firsts[3], seconds[3]), theirs(firsts[3], seconds[3]))


def test_decode(pair):
    ours, theirs = pair
    batch = texts()
    ids = ours(batch[:300], batch[100:400])["input_ids"]
    for row in ids:
        assert ours.decode(row) == theirs.decode(row)
        assert ours.decode(row, skip_special_tokens=True) == theirs.decode(row, skip_special_tokens=True)
        assert ours.convert_ids_to_tokens(row) == theirs.convert_ids_to_tokens(row)
    assert ours.batch_decode(ids[:20]) == theirs.batch_decode(ids[:20])


def test_save_and_reload(pair, tmp_path):
    """save_pretrained writes tokenizer.json + tokenizer_config.json: we and transformers reload it to the same
    tokenizer (bit for bit, scores included) with the same outputs."""
    import transformers

    ours, theirs = pair
    written = {Path(p).name for p in ours.save_pretrained(tmp_path)}
    assert {"tokenizer.json", "tokenizer_config.json"} <= written
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert type(again) is type(ours)
    assert again.backend_tokenizer.to_str() == ours.backend_tokenizer.to_str()
    assert again.model_max_length == ours.model_max_length
    assert sorted(again.all_special_tokens) == sorted(ours.all_special_tokens)
    theirs_again = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    assert type(theirs_again).__name__ == type(theirs).__name__
    assert json.loads(theirs_again.backend_tokenizer.to_str()) == json.loads(ours.backend_tokenizer.to_str())
    batch = texts()
    kwargs = {"padding": True, "truncation": True, "max_length": 30}
    expected = theirs(batch, batch[::-1], **kwargs)
    assert_same(again(batch, batch[::-1], **kwargs), expected)
    assert_same(theirs_again(batch, batch[::-1], **kwargs), expected)


def test_pickle_round_trip(pair):
    ours, _ = pair
    clone = pickle.loads(pickle.dumps(ours))
    assert type(clone) is type(ours)
    assert clone.backend_tokenizer.to_str() == ours.backend_tokenizer.to_str()
    assert clone(texts()[:50], padding=True)["input_ids"] == ours(texts()[:50], padding=True)["input_ids"]


def test_explicit_class_without_config(spm_models, tmp_path):
    """DebertaV2TokenizerFast.from_pretrained on a folder that names no class, as transformers'
    DebertaV2Tokenizer.from_pretrained does."""
    import transformers

    folder = write_folder(tmp_path, spm_models["deberta"], model_type=None, tokenizer_config={})
    (folder / "tokenizer_config.json").unlink()
    ours = DebertaV2TokenizerFast.from_pretrained(folder)
    theirs = transformers.DebertaV2Tokenizer.from_pretrained(str(folder))
    assert pybertcore.DebertaV2Tokenizer is DebertaV2TokenizerFast
    assert json.loads(ours.backend_tokenizer.to_str()) == json.loads(theirs.backend_tokenizer.to_str())
    assert_same(ours(texts(), padding=True), theirs(texts(), padding=True))
    # The folder names no class, so AutoTokenizer cannot tell which recipe applies.
    with pytest.raises(OSError, match=r"SentencePiece model \(spm.model\).*no tokenizer class"):
        AutoTokenizer.from_pretrained(folder)


def test_other_sentencepiece_classes_are_refused_by_name(spm_models, tmp_path):
    folder = write_folder(tmp_path, spm_models["deberta"], "sentencepiece.bpe.model", model_type="xlm-roberta")
    with pytest.raises(OSError) as info:
        AutoTokenizer.from_pretrained(folder)
    message = str(info.value)
    assert "XLMRobertaTokenizer" in message and "sentencepiece.bpe.model" in message
    assert "DebertaV2Tokenizer (spm.model)" in message and "AlbertTokenizer (spiece.model)" in message
    assert "save_pretrained" in message


def test_corrupt_model_file_names_it(tmp_path, spm_models):
    folder = write_folder(tmp_path, spm_models["deberta"])
    (folder / "spm.model").write_bytes(b"\xff\x00 not a protobuf \x12\x34" * 10)
    with pytest.raises(OSError, match=r"spm\.model"):
        AutoTokenizer.from_pretrained(folder)
    (folder / "spm.model").write_bytes(b"")
    with pytest.raises(OSError, match=r"spm\.model.*no pieces"):
        AutoTokenizer.from_pretrained(folder)


@pytest.mark.parametrize("file_name,content,problem", [
    ("added_tokens.json", {"[MASK]": "400"}, r"the id of '\[MASK\]' must be an integer"),
    ("tokenizer_config.json", {"added_tokens_decoder": {"x": "[MASK]"}}, "added_tokens_decoder: the key 'x'"),
    ("tokenizer_config.json", {"extra_special_tokens": 5}, "extra_special_tokens: expected a list"),
    ("tokenizer_config.json", {"extra_special_tokens": {"image_token": 1}}, "extra_special_tokens.image_token: "),
    ("tokenizer_config.json", {"added_tokens_decoder": {"5": {"content": "[X]", "lstrip": "yes"}}},
     r"added_tokens_decoder\[5\]\.lstrip: expected true or false"),
    ("special_tokens_map.json", {"mask_token": {"text": "[MASK]"}}, "mask_token: expected a string"),
])
def test_bad_token_files_name_the_file(tmp_path, spm_models, file_name, content, problem):
    folder = write_folder(tmp_path, spm_models["deberta"])
    (folder / file_name).write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(ValueError) as info:
        AutoTokenizer.from_pretrained(folder)
    message = str(info.value)
    assert message.startswith(str(folder / file_name) + ": ")
    assert re.search(problem, message)
    assert message.count(".json") == 1  # named once, by the file the value came from


@pytest.mark.parametrize("field,value", [("do_lower_case", "yes"), ("split_by_punct", 1), ("add_prefix_space", None)])
def test_bad_flag_names_field(tmp_path, spm_models, field, value):
    folder = write_folder(tmp_path, spm_models["deberta"], tokenizer_config={field: value})
    with pytest.raises(ValueError, match=rf"tokenizer_config\.json.*{field}: expected true or false"):
        AutoTokenizer.from_pretrained(folder)


def test_missing_sentencepiece_says_how_to_install(spm_models, tmp_path):
    """Without the sentencepiece package (hidden in a child interpreter), the error names the extra."""
    folder = write_folder(tmp_path / "deberta", spm_models["deberta"])
    code = (
        "import sys\n"
        "sys.modules['sentencepiece'] = None\n"
        "from pybertcore import AutoTokenizer\n"
        "try:\n"
        f"    AutoTokenizer.from_pretrained({str(folder)!r})\n"
        "except ImportError as e:\n"
        "    print('ImportError:', e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=CHILD_CWD, env=child_env(), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "ImportError:" in result.stdout
    assert 'install it with `pip install "pybertcore[sentencepiece]"`' in result.stdout
