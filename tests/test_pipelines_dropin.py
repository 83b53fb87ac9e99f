"""pybertcore.pipeline as a drop-in for transformers.pipeline: the arguments and call forms user code passes.

The same small random BERT heads as test_pipelines.py (built by transformers, MiniLM's tokenizer), run by both
libraries from one folder: pipeline()'s construction arguments (dtype, torch_dtype, revision, token,
device/device_map naming the CPU, positional config), the tokenizer arguments transformers passes on
(truncation, max_length, padding, tokenize_kwargs, tokenizer_kwargs), batch_size/num_workers at call time,
generators and torch Datasets (lazy iterators), the legacy return_all_scores, and the errors transformers
gives. Tolerance as there: scores within 1e-4, everything else equal.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from test_pipelines import (CONTEXT, ID2LABEL_SEQ, ID2LABEL_TOK, QUESTION, TEXTS, _both, _build, _reference_qa,
                            assert_same_result)

from pybertcore import pipeline

TOL = 1e-4
NLI = {0: "contradiction", 1: "neutral", 2: "entailment"}
LONG = "the weather was lovely and the match went to penalties " * 3  # about 35 tokens, within the 64 positions
MASKED = ["Paris is the [MASK] of France.", "The [MASK] sat on the [MASK].", "one [MASK]"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory, minilm_dir):
    root = tmp_path_factory.mktemp("dropin")
    return {
        "seq": _build(root / "seq", minilm_dir, "BertForSequenceClassification", num_labels=3,
                      id2label=ID2LABEL_SEQ, label2id={v: k for k, v in ID2LABEL_SEQ.items()}),
        "nli": _build(root / "nli", minilm_dir, "BertForSequenceClassification", num_labels=3,
                      id2label=NLI, label2id={v: k for k, v in NLI.items()}),
        "tok": _build(root / "tok", minilm_dir, "BertForTokenClassification", num_labels=5, id2label=ID2LABEL_TOK),
        "mlm": _build(root / "mlm", minilm_dir, "BertForMaskedLM"),
        "qa": _build(root / "qa", minilm_dir, "BertForQuestionAnswering"),
        "base": _build(root / "base", minilm_dir, "BertModel"),
    }


def _assert_same_features(ours, theirs):
    a, b = np.asarray(ours, dtype=np.float32), np.asarray(theirs, dtype=np.float32)
    assert a.shape == b.shape
    assert np.abs(a - b).max() <= TOL


# --- the tokenizer's arguments ------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [
    {"truncation": True},
    {"truncation": True, "max_length": 6},
    {"truncation": "only_first", "max_length": 24},
    {"max_length": 7},  # a bare max_length truncates too
    {"padding": True},
    {"padding": "max_length", "max_length": 40, "truncation": True},
    {"add_special_tokens": False},
], ids=str)
def test_text_classification_takes_the_tokenizer_arguments(folders, kwargs):
    """transformers hands text-classification's other keywords to its tokenizer (it raised TypeError here)."""
    ours, theirs = _both("text-classification", folders["seq"])
    for inputs in (LONG, [LONG, TEXTS[1]], {"text": LONG, "text_pair": TEXTS[1]}):
        assert_same_result(ours(inputs, top_k=None, **kwargs), theirs(inputs, top_k=None, **kwargs))
    at_construction, reference = _both("text-classification", folders["seq"], **kwargs)
    assert_same_result(at_construction([LONG, TEXTS[0]]), reference([LONG, TEXTS[0]]))


def test_max_length_cuts_where_asked(folders, caplog):
    """truncation=True, max_length=6 scores the first six tokens: not the whole text, and not a warning."""
    ours, _ = _both("text-classification", folders["seq"])
    whole, cut = ours(LONG, top_k=None), ours(LONG, top_k=None, truncation=True, max_length=6)
    assert max(abs(a["score"] - b["score"]) for a, b in zip(sorted(whole, key=lambda x: x["label"]),
                                                             sorted(cut, key=lambda x: x["label"]))) > 1e-4
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        ours(LONG, truncation=True, max_length=6)
    assert not [r for r in caplog.records if "truncated" in r.getMessage()]


def test_return_all_scores_is_ignored_with_a_warning(folders, caplog):
    """transformers 5 passes return_all_scores to its tokenizer, which drops it: the top label only."""
    ours, theirs = _both("text-classification", folders["seq"])
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        result = ours(TEXTS[0], return_all_scores=True)
    assert_same_result(result, theirs(TEXTS[0], return_all_scores=True))
    assert len(result) == 1
    assert any("return_all_scores is ignored" in r.getMessage() and "top_k=None" in r.getMessage()
               for r in caplog.records)


def test_feature_extraction_tokenize_kwargs(folders):
    ours, theirs = _both("feature-extraction", folders["base"])
    for kwargs in ({"tokenize_kwargs": {"truncation": True, "max_length": 4}},  # raised TypeError here
                   {"tokenize_kwargs": {"max_length": 5}},
                   {"truncation": True, "tokenize_kwargs": {"add_special_tokens": False}}):
        a, b = ours(TEXTS[1], **kwargs), theirs(TEXTS[1], **kwargs)
        _assert_same_features(a, b)
    assert np.asarray(ours(TEXTS[1], tokenize_kwargs={"truncation": True, "max_length": 4})).shape == (1, 4, 36)
    message = "truncation parameter defined twice (given as keyword argument as well as in tokenize_kwargs)"
    for pipe in (ours, theirs):
        with pytest.raises(ValueError) as info:
            pipe(TEXTS[0], truncation=True, tokenize_kwargs={"truncation": True})
        assert str(info.value) == message


def test_feature_extraction_return_tensors_pt_gives_torch(folders):
    import torch

    ours, theirs = _both("feature-extraction", folders["base"])
    tensor = ours(TEXTS[0], return_tensors="pt")
    assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float32
    _assert_same_features(tensor.numpy(), theirs(TEXTS[0], return_tensors="pt").numpy())
    assert isinstance(ours(TEXTS[0], return_tensors=True), np.ndarray)  # True: numpy, the house rule


def test_fill_mask_tokenizer_kwargs_and_top_k_zero(folders):
    ours, theirs = _both("fill-mask", folders["mlm"])
    kwargs = {"tokenizer_kwargs": {"truncation": True, "max_length": 9}}  # raised TypeError here
    assert_same_result(ours(MASKED, **kwargs), theirs(MASKED, **kwargs))
    assert ours(MASKED[0], top_k=0) == theirs(MASKED[0], top_k=0) == []  # was read as the default 5


def test_zero_shot_takes_truncation(folders):
    """transformers' zero-shot pipeline drops truncation (the premise is always cut "only_first")."""
    ours, theirs = _both("zero-shot-classification", folders["nli"])
    kwargs = {"candidate_labels": ["sports", "economics", "food"], "truncation": True}
    assert_same_result(ours(TEXTS, **kwargs), theirs(TEXTS, **kwargs))


# --- batch_size, num_workers, generators and datasets -------------------------------------------------------

CALLS = {
    "text-classification": ("seq", TEXTS, {"top_k": 2}),
    "token-classification": ("tok", TEXTS, {"aggregation_strategy": "simple"}),
    "fill-mask": ("mlm", MASKED, {"top_k": 3}),
    "feature-extraction": ("base", TEXTS, {}),
    "zero-shot-classification": ("nli", TEXTS, {"candidate_labels": ["sports", "economics", "food"]}),
}


def _compare(task, ours, theirs):
    if task == "feature-extraction":
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _assert_same_features(a, b)
    else:
        assert_same_result(ours, theirs)


@pytest.mark.parametrize("task", list(CALLS))
def test_batch_size_and_num_workers_at_call(folders, task):
    """transformers takes both on every call (they raised TypeError here); results do not depend on them."""
    name, inputs, kwargs = CALLS[task]
    ours, theirs = _both(task, folders[name])
    # transformers' feature-extraction returns a batch's padding rows with each text's features; here a text
    # gets its own tokens whatever its batch, so it is compared with transformers one text at a time.
    their_batch_size = 1 if task == "feature-extraction" else 2
    _compare(task, ours(inputs, batch_size=2, num_workers=0, **kwargs),
             theirs(inputs, batch_size=their_batch_size, num_workers=0, **kwargs))
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        ours(inputs, batch_size=0, **kwargs)


@pytest.mark.parametrize("task", list(CALLS))
def test_a_generator_gives_a_lazy_iterator(folders, task):
    """As transformers: an iterator, not a list, whose inputs are read batch_size at a time as it is consumed."""
    name, inputs, kwargs = CALLS[task]
    ours, theirs = _both(task, folders[name])
    taken = []

    def texts():
        for text in inputs:
            taken.append(text)
            yield text

    results = ours(texts(), batch_size=2, **kwargs)
    assert not isinstance(results, list) and iter(results) is results
    assert taken == []
    first = next(results)
    assert len(taken) == 2
    _compare(task, [first] + list(results), list(theirs((t for t in inputs), **kwargs)))
    assert taken == inputs


def test_a_torch_dataset_streams_like_a_generator(folders):
    """transformers' KeyDataset over a torch Dataset: the idiom of its pipeline docs."""
    import torch
    from transformers.pipelines.pt_utils import KeyDataset

    class Rows(torch.utils.data.Dataset):
        def __len__(self):
            return len(TEXTS)

        def __getitem__(self, i):
            return {"text": TEXTS[i]}

    ours, theirs = _both("text-classification", folders["seq"])
    results = ours(KeyDataset(Rows(), "text"), batch_size=2, top_k=None)
    assert not isinstance(results, list)
    assert_same_result(list(results), list(theirs(KeyDataset(Rows(), "text"), batch_size=2, top_k=None)))


# --- question-answering (transformers 4's pipeline, see test_pipelines.py) ----------------------------------

def test_question_answering_one_example_is_one_answer(folders):
    """transformers 4 answers a single example without a list, however it came (it was [answer] here)."""
    qa = pipeline("question-answering", model=str(folders["qa"]))
    expected = _reference_qa(folders["qa"], QUESTION, CONTEXT)
    for result in (qa([{"question": QUESTION, "context": CONTEXT}]), qa(question=[QUESTION], context=CONTEXT),
                   qa(QUESTION, CONTEXT), qa(question=QUESTION, context=CONTEXT, padding="longest", batch_size=2)):
        assert isinstance(result, dict)
        assert_same_result(result, expected)
    streamed = qa(({"question": q, "context": CONTEXT} for q in (QUESTION, "What does he play?")))
    assert not isinstance(streamed, list)
    assert_same_result(next(streamed), expected)
    assert len(list(streamed)) == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"top_k": 0}, "top_k parameter should be >= 1 (got 0)"),  # 0 was read as the default here
    ({"max_answer_len": 0}, "max_answer_len parameter should be >= 1 (got 0)"),
])
def test_question_answering_bad_parameters(folders, kwargs, message):
    qa = pipeline("question-answering", model=str(folders["qa"]))
    with pytest.raises(ValueError) as info:
        qa(question=QUESTION, context=CONTEXT, **kwargs)
    assert str(info.value) == message


# --- pipeline()'s arguments ---------------------------------------------------------------------------------

def _construction_arguments():
    import torch

    return [
        {"dtype": "auto"}, {"dtype": "float32"}, {"dtype": torch.float32}, {"torch_dtype": torch.float32},
        {"revision": "main"}, {"token": None}, {"use_fast": True}, {"trust_remote_code": False},
        {"device": torch.device("cpu")}, {"device": "cpu"}, {"device": -1}, {"device_map": "cpu"},
        {"num_workers": 0}, {"framework": "pt"},
    ]


def test_construction_arguments_of_transformers(folders):
    """Each raised TypeError or ValueError here; transformers takes them all and so gives the same results."""
    import transformers

    folder = str(folders["seq"])
    reference = transformers.pipeline("text-classification", model=folder)(TEXTS, top_k=None)
    for kwargs in _construction_arguments():
        ours = pipeline("text-classification", model=folder, **kwargs)
        assert_same_result(ours(TEXTS, top_k=None), reference)
    positional = pipeline("sentiment-analysis", folder, folder)  # (task, model, config), as there
    assert_same_result(positional(TEXTS, top_k=None), reference)
    assert positional.task == transformers.pipeline("sentiment-analysis", folder).task == "sentiment-analysis"
    assert positional.device == "cpu" and positional.device.type == "cpu"


def test_dtype_sets_the_compute_precision(folders, caplog):
    folder = str(folders["seq"])
    assert pipeline("text-classification", model=folder, dtype="bfloat16").model.dtype == "bfloat16"
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        assert pipeline("text-classification", model=folder, torch_dtype="int8").model.dtype == "int8"
    assert any(r.getMessage() == "`torch_dtype` is deprecated! Use `dtype` instead!" for r in caplog.records)
    assert pipeline("text-classification", model=folder).model.dtype == "float32"
    with pytest.raises(ValueError, match="You cannot use both"):
        pipeline("text-classification", model=folder, dtype="bfloat16", model_kwargs={"dtype": "int8"})


def test_devices_other_than_the_cpu_are_refused(folders):
    for kwargs in ({"device": 0}, {"device": "cuda"}, {"device_map": {"": 0}}):
        with pytest.raises(ValueError, match="runs on the CPU only"):
            pipeline("text-classification", model=str(folders["seq"]), **kwargs)


def test_unknown_task_is_a_key_error_as_in_transformers(folders):
    import transformers

    with pytest.raises(KeyError) as theirs:
        transformers.pipeline("summarizationx", model=str(folders["seq"]))
    with pytest.raises(KeyError) as ours:
        pipeline("summarizationx", model=str(folders["seq"]))
    assert isinstance(ours.value, ValueError)  # what pybertcore raised before, for callers that catch it
    prefix = "Unknown task summarizationx, available tasks are ["
    assert str(ours.value).startswith(prefix) and theirs.value.args[0].startswith(prefix)
    assert "'fill-mask'" in str(ours.value) and "'ner'" in str(ours.value)


@pytest.mark.parametrize("task, name, bad", [
    ("text-classification", "seq", 5), ("feature-extraction", "base", 3), ("fill-mask", "mlm", 3),
])
def test_a_number_is_a_value_error(folders, task, name, bad):
    """transformers raises ValueError on a non-text input; this raised "'int' object is not iterable"."""
    ours, theirs = _both(task, folders[name])
    with pytest.raises(ValueError):
        theirs(bad)
    with pytest.raises(ValueError, match="is int"):
        ours(bad)


def test_unknown_keywords_still_name_the_argument(folders):
    """Where transformers drops a keyword silently (text-classification's go to its tokenizer), a typo is
    TypeError naming it here, at construction and at call."""
    with pytest.raises(TypeError, match="top_kk"):
        pipeline("text-classification", model=str(folders["seq"]), top_kk=2)
    ours, _ = _both("feature-extraction", folders["base"])
    with pytest.raises(TypeError, match="return_tensor\\b"):
        ours(TEXTS[0], return_tensor=True)


# --- saving ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("task,key,inputs", [
    ("text-classification", "seq", TEXTS),
    ("fill-mask", "mlm", MASKED[:2]),
    ("token-classification", "tok", TEXTS[:2]),
])
def test_save_pretrained_writes_a_folder_both_libraries_load(folders, tmp_path, task, key, inputs):
    import transformers

    ours, theirs = _both(task, folders[key])
    ours.save_pretrained(tmp_path / "ours", safe_serialization=True)
    expected = theirs(inputs)
    assert_same_result(pipeline(task, model=str(tmp_path / "ours"))(inputs), expected)
    assert_same_result(transformers.pipeline(task, model=str(tmp_path / "ours"))(inputs), expected)


def test_save_pretrained_into_a_file_raises(folders, tmp_path):
    ours, _ = _both("text-classification", folders["seq"])
    target = tmp_path / "file"
    target.write_text("not a folder")
    with pytest.raises(OSError, match="is a file"):
        ours.save_pretrained(target)
    with pytest.raises(TypeError, match="unsupported"):
        ours.save_pretrained(tmp_path / "out", push_to_hub=True)
