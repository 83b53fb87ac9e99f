"""The Hugging Face course, chapter 2 ("Behind the pipeline", "Models", "Handling multiple sequences",
"Putting it all together"), run twice: as written, with transformers, and with the import line changed to
pybertcore. Every value the course prints is recorded and compared: the same text, with numbers equal
within float32 tolerance. Checkpoints: the real all-MiniLM-L6-v2, and a sequence classifier made from it
by transformers and saved (the course's sst-2 checkpoint would need the network).
"""

from __future__ import annotations

import re

import pytest
import torch

# The course's code, verbatim but for {lib} in the import lines, the checkpoint names and the folder
# save_pretrained writes to. print is the recorder below.
BEHIND_THE_PIPELINE = """
from {lib} import AutoTokenizer

checkpoint = CLASSIFIER
tokenizer = AutoTokenizer.from_pretrained(checkpoint)
raw_inputs = [
    "I've been waiting for a HuggingFace course my whole life.",
    "I hate this so much!",
]
inputs = tokenizer(raw_inputs, padding=True, truncation=True, return_tensors="pt")
print(inputs)

from {lib} import AutoModel

checkpoint = CLASSIFIER
model = AutoModel.from_pretrained(checkpoint)
outputs = model(**inputs)
print(outputs.last_hidden_state.shape)

from {lib} import AutoModelForSequenceClassification

checkpoint = CLASSIFIER
model = AutoModelForSequenceClassification.from_pretrained(checkpoint)
outputs = model(**inputs)
print(outputs.logits.shape)
print(outputs.logits)

import torch

predictions = torch.nn.functional.softmax(outputs.logits, dim=-1)
print(predictions)
print(model.config.id2label)
"""

MODELS = """
from {lib} import BertConfig, BertModel

# Building the config
config = BertConfig()

# Building the model from the config
model = BertModel(config)
print(config)

from {lib} import BertModel

model = BertModel.from_pretrained(MINILM)
model.save_pretrained(SAVE_DIR)

sequences = ["Hello!", "Cool.", "Nice!"]
encoded_sequences = [
    [101, 7592, 999, 102],
    [101, 4658, 1012, 102],
    [101, 3835, 999, 102],
]
import torch

model_inputs = torch.tensor(encoded_sequences)
output = model(model_inputs)
print(output.last_hidden_state.shape)
print(output.last_hidden_state[0, 0, :4])
"""

MULTIPLE_SEQUENCES = """
import torch
from {lib} import AutoTokenizer, AutoModelForSequenceClassification

checkpoint = CLASSIFIER
tokenizer = AutoTokenizer.from_pretrained(checkpoint)
model = AutoModelForSequenceClassification.from_pretrained(checkpoint)

sequence = "I've been waiting for a HuggingFace course my whole life."

tokens = tokenizer.tokenize(sequence)
ids = tokenizer.convert_tokens_to_ids(tokens)

input_ids = torch.tensor([ids])
print("Input IDs:", input_ids)

output = model(input_ids)
print("Logits:", output.logits)

sequence1_ids = [[200, 200, 200]]
sequence2_ids = [[200, 200]]
batched_ids = [
    [200, 200, 200],
    [200, 200, tokenizer.pad_token_id],
]

print(model(torch.tensor(sequence1_ids)).logits)
print(model(torch.tensor(sequence2_ids)).logits)
print(model(torch.tensor(batched_ids)).logits)

batched_ids = [
    [200, 200, 200],
    [200, 200, tokenizer.pad_token_id],
]

attention_mask = [
    [1, 1, 1],
    [1, 1, 0],
]

outputs = model(torch.tensor(batched_ids), attention_mask=torch.tensor(attention_mask))
print(outputs.logits)
"""

PUTTING_IT_ALL_TOGETHER = """
from {lib} import AutoTokenizer

checkpoint = CLASSIFIER
tokenizer = AutoTokenizer.from_pretrained(checkpoint)

sequence = "I've been waiting for a HuggingFace course my whole life."

model_inputs = tokenizer(sequence)
print(model_inputs)

sequences = ["I've been waiting for a HuggingFace course my whole life.", "So have I!"]

model_inputs = tokenizer(sequences)
print(model_inputs)

# Will pad the sequences up to the maximum sequence length
model_inputs = tokenizer(sequences, padding="longest")
print(model_inputs)

# Will pad the sequences up to the model max length
# (512 for BERT or DistilBERT)
model_inputs = tokenizer(sequences, padding="max_length")
print(model_inputs["input_ids"][1][-3:], len(model_inputs["input_ids"][1]))

# Will pad the sequences up to the specified max length
model_inputs = tokenizer(sequences, padding="max_length", max_length=8)
print(model_inputs)

sequences = ["I've been waiting for a HuggingFace course my whole life.", "So have I!"]

# Will truncate the sequences that are longer than the model max length
# (512 for BERT or DistilBERT)
model_inputs = tokenizer(sequences, truncation=True)
print(model_inputs)

# Will truncate the sequences that are longer than the specified max length
model_inputs = tokenizer(sequences, max_length=8, truncation=True)
print(model_inputs)

sequences = ["I've been waiting for a HuggingFace course my whole life.", "So have I!"]

# Returns PyTorch tensors
model_inputs = tokenizer(sequences, padding=True, return_tensors="pt")
print(model_inputs)

# Returns NumPy arrays
model_inputs = tokenizer(sequences, padding=True, return_tensors="np")
print({{k: v.tolist() for k, v in model_inputs.items()}})

sequence = "I've been waiting for a HuggingFace course my whole life."

model_inputs = tokenizer(sequence)
print(model_inputs["input_ids"])

tokens = tokenizer.tokenize(sequence)
ids = tokenizer.convert_tokens_to_ids(tokens)
print(ids)

print(tokenizer.decode(model_inputs["input_ids"]))
print(tokenizer.decode(ids))

import torch
from {lib} import AutoTokenizer, AutoModelForSequenceClassification

checkpoint = CLASSIFIER
tokenizer = AutoTokenizer.from_pretrained(checkpoint)
model = AutoModelForSequenceClassification.from_pretrained(checkpoint)
sequences = ["I've been waiting for a HuggingFace course my whole life.", "So have I!"]

tokens = tokenizer(sequences, padding=True, truncation=True, return_tensors="pt")
output = model(**tokens)
print(output.logits)
"""

_NUMBER = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")


def _run(code: str, lib: str, names: dict) -> list[str]:
    printed: list[str] = []

    def record(*args, **kwargs):
        printed.append(" ".join(str(a) for a in args))

    namespace = {"print": record, **names}
    with torch.no_grad():
        exec(code.format(lib=lib), namespace)  # noqa: S102 (the course's code, written above)
    return printed


def _same(ours: str, theirs: str) -> bool:
    """Equal text, with floats equal within 1e-4 (what the course prints are rounded float32s). A printed
    config's "transformers_version" line is transformers' stamp of itself, which pybertcore does not claim."""
    theirs = re.sub(r'\n  "transformers_version": "[^"]*",', "", theirs)
    if _NUMBER.sub("#", ours) != _NUMBER.sub("#", theirs):
        return False
    return all(abs(float(a) - float(b)) <= 1e-4 for a, b in zip(_NUMBER.findall(ours), _NUMBER.findall(theirs)))


@pytest.fixture(scope="module")
def checkpoints(minilm_dir, tmp_path_factory):
    import transformers

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("course") / "classifier"
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        minilm_dir, num_labels=2, id2label={0: "NEGATIVE", 1: "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1})
    model.save_pretrained(folder)
    transformers.AutoTokenizer.from_pretrained(minilm_dir).save_pretrained(folder)
    return {"MINILM": str(minilm_dir), "CLASSIFIER": str(folder)}


@pytest.mark.parametrize("section", ["BEHIND_THE_PIPELINE", "MODELS", "MULTIPLE_SEQUENCES", "PUTTING_IT_ALL_TOGETHER"])
def test_course_chapter_2_runs_with_one_changed_line(section, checkpoints, tmp_path):
    code = globals()[section]
    theirs = _run(code, "transformers", {**checkpoints, "SAVE_DIR": str(tmp_path / "theirs")})
    ours = _run(code, "pybertcore", {**checkpoints, "SAVE_DIR": str(tmp_path / "ours")})
    assert len(ours) == len(theirs)
    for mine, reference in zip(ours, theirs):
        assert _same(mine, reference), f"\npybertcore:   {mine}\ntransformers: {reference}"
