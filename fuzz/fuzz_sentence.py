"""Fuzzes the sentence-transformers module files (pybertcore/sentence.py) through
``SentenceEncoder.from_pretrained``: modules.json, 1_Pooling/config.json, 2_Dense/config.json and its
model.safetensors, sentence_bert_config.json and config_sentence_transformers.json (prompts,
default_prompt_name, similarity_fn_name, truncate_dim), in harness.py's multi-file format, next to a fixed
tiny BERT with a vocab.txt tokenizer (hidden size 8). The encoder then encodes two texts.
Seeds: fuzz/corpus/sentence/."""

import harness

with harness.instrumented_imports():
    import pybertcore
    from pybertcore import BertConfig, BertModel, SentenceEncoder

NAMES = ("modules.json", "1_Pooling/config.json", "2_Dense/config.json", "2_Dense/model.safetensors",
         "sentence_bert_config.json", "config_sentence_transformers.json")
FOLDER = harness.work_folder("sentence")
TINY = dict(vocab_size=12, hidden_size=8, num_attention_heads=2, intermediate_size=12, num_hidden_layers=1,
            max_position_embeddings=16)
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "a", "b", "c", "##s", "."]


def load() -> None:
    with harness.names_file(FOLDER):
        encoder = SentenceEncoder.from_pretrained(FOLDER)
    encoder.encode(["hello worlds.", "a b c"])


def test_one_input(data: bytes) -> None:
    harness.write_files(FOLDER, harness.split_files(data, NAMES), NAMES)
    harness.judge(load, data)


if __name__ == "__main__":
    harness.limit_address_space()
    pybertcore.set_num_threads(1)
    BertModel(BertConfig(**TINY)).save_pretrained(FOLDER)
    (FOLDER / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    harness.run(test_one_input)
