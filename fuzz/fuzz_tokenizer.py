"""Fuzzes the tokenizer files (pybertcore/tokenization.py) through ``AutoTokenizer.from_pretrained``:
tokenizer.json, vocab.txt, tokenizer_config.json and special_tokens_map.json, in harness.py's multi-file
format; the tokenizer then encodes a batch (padded, truncated, pairs), decodes it and saves itself.
Seeds: fuzz/corpus/tokenizer/."""

import harness

with harness.instrumented_imports():
    from pybertcore import AutoTokenizer

NAMES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")
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
