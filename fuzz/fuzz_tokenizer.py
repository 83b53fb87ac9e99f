"""Fuzzes the tokenizer files (pybertcore/tokenization.py, pybertcore/tokenization_spm.py) through
``AutoTokenizer.from_pretrained``: tokenizer.json, vocab.txt, tokenizer_config.json, special_tokens_map.json,
and a SentencePiece model (spm.model, spiece.model) with the config.json and added_tokens.json that pick and
complete it, in harness.py's multi-file format; the tokenizer then encodes a batch (padded, truncated,
pairs), decodes it and saves itself. Seeds: fuzz/corpus/tokenizer/."""

import harness

with harness.instrumented_imports():
    from pybertcore import AutoTokenizer
    import pybertcore.tokenization_spm  # noqa: F401 (imported lazily by tokenization.py: instrument it here)

NAMES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "spm.model",
         "spiece.model", "config.json", "added_tokens.json")
FOLDER = harness.work_folder("tokenizer")
OUT = FOLDER / "saved"
TEXTS = ["Hello world!", "naïve café [MASK] 東京", ""]


def load() -> None:
    with harness.names_file(FOLDER):
        tokenizer = AutoTokenizer.from_pretrained(FOLDER)
    ids = tokenizer(TEXTS, padding=True, truncation=True, max_length=12, return_tensors="np")["input_ids"]
    tokenizer(TEXTS[0], TEXTS[1])
    tokenizer.batch_decode(ids, skip_special_tokens=True)
    tokenizer.save_pretrained(OUT)


def test_one_input(data: bytes) -> None:
    harness.write_files(FOLDER, harness.split_files(data, NAMES), NAMES)
    harness.judge(load, data)


if __name__ == "__main__":
    harness.limit_address_space()
    harness.run(test_one_input)
