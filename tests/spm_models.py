"""SentencePiece models and SentencePiece-only tokenizer folders for the tests (tests/test_sentencepiece_tokenizer.py,
tests/test_zero_shot.py): unigram models trained with the ``sentencepiece`` package on the package's sample
sentences plus accented, CJK and full-width lines, laid out as DeBERTa-v3's spm.model or ALBERT's spiece.model."""

from __future__ import annotations

import json
from pathlib import Path

import sentencepiece

import pybertcore

SAMPLE = Path(pybertcore.__file__).parent / "data" / "sample_sentences.txt"

# Lines the sample sentences lack: accents, other scripts, full-width and ligature forms (which the NFKC
# charsmap folds), odd spacing. Part of the training text, so these characters get pieces.
EXTRA_LINES = [
    "Café crème brûlée à la carte, naïve façade — São Paulo, Zürich, Kraków.",
    "Straße über Größe; Ærøskøbing, Þórshöfn, Łódź and İstanbul.",
    "日本語のテキストです。北京欢迎你。한국어 텍스트.",
    "ＦＵＬＬＷＩＤＴＨ ｆｕｌｌ ①②③ ﬁ ﬂ ™ ½",
    "\"Quotes\" and 'apostrophes' can't won't (brackets) [square] {curly} -- dashes...",
]

DEBERTA_IDS = dict(pad_id=0, bos_id=1, eos_id=2, unk_id=3, pad_piece="[PAD]", bos_piece="[CLS]",
                   eos_piece="[SEP]", unk_piece="[UNK]")
DEBERTA_SPECIALS = {"bos_token": "[CLS]", "eos_token": "[SEP]", "unk_token": "[UNK]", "sep_token": "[SEP]",
                    "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"}
VOCAB_SIZE = 400


def sample_lines() -> list[str]:
    return [line for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]


def train(prefix: Path, **options) -> Path:
    corpus = sample_lines() + EXTRA_LINES * 3
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus), model_prefix=str(prefix), vocab_size=VOCAB_SIZE, model_type="unigram",
        character_coverage=1.0, minloglevel=2, num_threads=1, **options,
    )
    return prefix.with_suffix(".model")


def write_folder(folder: Path, model: Path, file_name: str = "spm.model", tokenizer_config: dict | None = None,
                 model_type: str | None = "deberta-v2", **json_files: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / file_name).write_bytes(model.read_bytes())
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config or {}), encoding="utf-8")
    if model_type is not None:
        (folder / "config.json").write_text(json.dumps({"model_type": model_type}), encoding="utf-8")
    for name, content in json_files.items():
        (folder / f"{name}.json").write_text(json.dumps(content), encoding="utf-8")
    return folder
