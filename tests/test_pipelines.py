"""pybertcore.pipeline against transformers.pipeline (the oracle) on small random BERT models.

Each head model is built by transformers with an odd small config (H=36, NH=3, I=50, L=2) and a known
id2label, saved with MiniLM's tokenizer files, then loaded by both libraries from that folder.
Tolerance: scores within 1e-4 (the encoder agrees within 1e-4 on logits; softmax does not amplify that);
everything else (labels, words, offsets, tokens, sequences) exactly equal.

transformers 5 removed the question-answering pipeline; its reference here is transformers 4's algorithm
written out with transformers' tokenizer, the torch model's logits and transformers' own
``select_starts_ends`` (kept in its document-QA pipeline).
"""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

import pybertcore
from pybertcore import pipeline

TOL = 1e-4

TEXTS = [
    "Hello John Smith from Paris!",
    "Tokyo is big; Jean-Baptiste lives in montréal.",
    "unaffable xylophone 北京",
]

ID2LABEL_SEQ = {0: "neg", 1: "neu", 2: "pos"}
ID2LABEL_TOK = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC"}


def _build(folder, minilm_dir, cls_name, **config_kwargs):
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=30522, hidden_size=36, num_attention_heads=3, intermediate_size=50, num_hidden_layers=2,
        max_position_embeddings=64, **config_kwargs,
    )
    model = getattr(transformers, cls_name)(config).eval()
    with torch.no_grad():  # larger logits than the default init, so scores are far from uniform
        for name, p in model.named_parameters():
            if name.startswith(("classifier", "qa_outputs")) and name.endswith("weight"):
                p.mul_(40.0)
    model.save_pretrained(folder)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(minilm_dir / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory, minilm_dir):
    root = tmp_path_factory.mktemp("pipelines")
    return {
        "seq": _build(root / "seq", minilm_dir, "BertForSequenceClassification", num_labels=3,
                      id2label=ID2LABEL_SEQ, label2id={v: k for k, v in ID2LABEL_SEQ.items()}),
        "seq1": _build(root / "seq1", minilm_dir, "BertForSequenceClassification", num_labels=1),
        "multi": _build(root / "multi", minilm_dir, "BertForSequenceClassification", num_labels=3,
                        id2label=ID2LABEL_SEQ, problem_type="multi_label_classification"),
        "tok": _build(root / "tok", minilm_dir, "BertForTokenClassification", num_labels=5, id2label=ID2LABEL_TOK),
        "mlm": _build(root / "mlm", minilm_dir, "BertForMaskedLM"),
        "qa": _build(root / "qa", minilm_dir, "BertForQuestionAnswering"),
        "base": _build(root / "base", minilm_dir, "BertModel"),
    }


def _normalise(value):
    """Floats rounded away for structural comparison; the scores are compared separately."""
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return "<float>"
    if isinstance(value, np.integer):
        return int(value)
    return value


def _floats(value):
    if isinstance(value, dict):
        return [f for k in sorted(value) for f in _floats(value[k])]
    if isinstance(value, (list, tuple)):
        return [f for v in value for f in _floats(v)]
    if isinstance(value, (float, np.floating)):
        return [float(value)]
    return []


def assert_same_result(ours, theirs, tol=TOL):
    assert _normalise(ours) == _normalise(theirs)
    a, b = np.array(_floats(ours)), np.array(_floats(theirs))
    assert a.shape == b.shape
    if a.size:
        assert np.abs(a - b).max() <= tol


_PIPES: dict = {}


def _both(task, folder, **kwargs):
    """(ours, transformers') pipelines for a folder, built once per test session."""
    import transformers

    key = (task, str(folder), tuple(sorted(kwargs.items())))
    if key not in _PIPES:
        _PIPES[key] = (pipeline(task, model=str(folder), **kwargs),
                       transformers.pipeline(task, model=str(folder), **kwargs))
    return _PIPES[key]


@pytest.mark.parametrize("kwargs", [{}, {"top_k": 2}, {"top_k": None}, {"top_k": 1}, {"function_to_apply": "sigmoid"},
                                    {"function_to_apply": "none"}], ids=str)
def test_text_classification(folders, kwargs):
    ours, theirs = _both("text-classification", folders["seq"])
    for inputs in (TEXTS[0], TEXTS, {"text": TEXTS[0], "text_pair": TEXTS[1]}, [{"text": "a", "text_pair": "b"}]):
        assert_same_result(ours(inputs, **kwargs), theirs(inputs, **kwargs))
    result = ours(TEXTS[0])
    assert result[0]["label"] in ID2LABEL_SEQ.values()


def test_text_classification_default_top_k_at_construction(folders):
    ours, theirs = _both("sentiment-analysis", folders["seq"], top_k=2)
    for inputs in (TEXTS[0], TEXTS):
        assert_same_result(ours(inputs), theirs(inputs))


@pytest.mark.parametrize("name", ["seq1", "multi"])
def test_text_classification_sigmoid_cases(folders, name):
    ours, theirs = _both("text-classification", folders[name])
    for inputs in (TEXTS[0], TEXTS):
        assert_same_result(ours(inputs), theirs(inputs))
        assert_same_result(ours(inputs, top_k=None), theirs(inputs, top_k=None))


@pytest.mark.parametrize("strategy", ["none", "simple", "first", "average", "max"])
def test_token_classification(folders, strategy):
    ours, theirs = _both("token-classification", folders["tok"])
    kw = {"aggregation_strategy": strategy}
    for inputs in (TEXTS[0], TEXTS):
        assert_same_result(ours(inputs, **kw), theirs(inputs, **kw))
        assert_same_result(ours(inputs, ignore_labels=[], **kw), theirs(inputs, ignore_labels=[], **kw))
    entities = ours(TEXTS[1], ignore_labels=[], **kw)
    assert entities, "with no ignored labels every word shows up"
    for e in entities:
        assert TEXTS[1][e["start"]:e["end"]]


@pytest.mark.parametrize("kwargs", [{}, {"top_k": 3}, {"targets": ["paris", "london", "city"]}], ids=str)
def test_fill_mask(folders, kwargs):
    ours, theirs = _both("fill-mask", folders["mlm"])
    for inputs in ("Hello [MASK] world.", ["The [MASK] is [MASK].", "Paris is a [MASK]."], ["one [MASK]"]):
        assert_same_result(ours(inputs, **kwargs), theirs(inputs, **kwargs))
    first = ours("Paris is a [MASK].", top_k=2)
    assert set(first[0]) == {"score", "token", "token_str", "sequence"}


def test_fill_mask_without_mask_token(folders):
    ours = pipeline("fill-mask", model=str(folders["mlm"]))
    with pytest.raises(ValueError, match=r"mask_token \(\[MASK\]\)"):
        ours("no mask here")
    with pytest.raises(ValueError, match="cut off"):
        ours("word " * 100 + "[MASK]")  # max_position_embeddings is 64


@pytest.mark.parametrize("family", ["distilbert", "roberta", "electra"])
def test_other_families(tmp_path, minilm_dir, family):
    """Heads of the other families: no token types for DistilBERT, RoBERTa's position offset."""
    import torch
    import transformers

    small = {
        "distilbert": (transformers.DistilBertConfig, "DistilBert",
                       dict(dim=36, n_heads=3, hidden_dim=50, n_layers=2, max_position_embeddings=64)),
        "roberta": (transformers.RobertaConfig, "Roberta",
                    dict(hidden_size=36, num_attention_heads=3, intermediate_size=50, num_hidden_layers=2,
                         max_position_embeddings=66, pad_token_id=0)),
        "electra": (transformers.ElectraConfig, "Electra",
                    dict(hidden_size=36, embedding_size=20, num_attention_heads=3, intermediate_size=50,
                         num_hidden_layers=2, max_position_embeddings=64)),
    }
    config_class, prefix, kwargs = small[family]
    torch.manual_seed(0)
    config = config_class(vocab_size=30522, num_labels=5, id2label=ID2LABEL_TOK, **kwargs)
    getattr(transformers, prefix + "ForTokenClassification")(config).eval().save_pretrained(tmp_path)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(minilm_dir / name, tmp_path / name)
    ours = pipeline("token-classification", model=str(tmp_path))
    theirs = transformers.pipeline("token-classification", model=str(tmp_path))
    for strategy in ("none", "simple"):
        assert_same_result(ours(TEXTS, aggregation_strategy=strategy), theirs(TEXTS, aggregation_strategy=strategy))
    assert len(ours(["word " * 100])) == 1  # truncated at the model's limit, not a crash


def test_feature_extraction(folders):
    ours, theirs = _both("feature-extraction", folders["base"])
    for inputs in (TEXTS[0], TEXTS):
        a, b = ours(inputs), theirs(inputs)
        assert _normalise(a) == _normalise(b)
        assert np.abs(np.array(_floats(a)) - np.array(_floats(b))).max() <= TOL
    arr = ours(TEXTS[0], return_tensors=True)
    assert isinstance(arr, np.ndarray) and arr.shape == (1, 8, 36) and arr.dtype == np.float32


def test_feature_extraction_model_object_and_tokenizer_object(folders):
    model = pybertcore.AutoModel.from_pretrained(folders["base"])
    tokenizer = pybertcore.AutoTokenizer.from_pretrained(folders["base"])
    pipe = pipeline("feature-extraction", model=model, tokenizer=tokenizer)
    direct = model(**tokenizer(TEXTS[0], return_tensors="np")).last_hidden_state
    np.testing.assert_allclose(np.array(pipe(TEXTS[0])), direct, atol=1e-6)


def test_task_inferred_from_architectures(folders):
    assert pipeline(model=str(folders["seq"])).task == "text-classification"
    assert pipeline(model=str(folders["tok"])).task == "token-classification"
    assert pipeline(model=str(folders["qa"])).task == "question-answering"


def _reference_qa(folder, question, context, top_k=1, max_seq_len=None, doc_stride=None, max_answer_len=15,
                  handle_impossible_answer=False):
    """transformers 4's QuestionAnsweringPipeline, on transformers' tokenizer and torch model."""
    import torch
    import transformers
    from transformers.pipelines.document_question_answering import select_starts_ends

    tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    model = transformers.BertForQuestionAnswering.from_pretrained(str(folder)).eval()
    max_seq_len = max_seq_len or min(tok.model_max_length, 384)
    doc_stride = doc_stride if doc_stride is not None else min(max_seq_len // 2, 128)
    enc = tok(text=question, text_pair=context, truncation="only_second", max_length=max_seq_len,
              stride=doc_stride, return_token_type_ids=True, return_overflowing_tokens=True,
              return_offsets_mapping=True, return_special_tokens_mask=True)
    answers, min_null_score = [], 1000000
    for span in range(len(enc["input_ids"])):
        ids = enc["input_ids"][span]
        p_mask = np.array([s != 1 for s in enc.sequence_ids(span)])
        p_mask[np.asarray(ids) == tok.cls_token_id] = 0
        with torch.no_grad():
            out = model(input_ids=torch.tensor([ids]), attention_mask=torch.tensor([enc["attention_mask"][span]]),
                        token_type_ids=torch.tensor([enc["token_type_ids"][span]]))
        starts, ends, scores, min_null_score = select_starts_ends(
            out.start_logits.numpy(), out.end_logits.numpy(), p_mask, np.array(enc["attention_mask"][span]),
            min_null_score, top_k, handle_impossible_answer, max_answer_len,
        )
        e = enc.encodings[span]
        for s, t, score in zip(starts, ends, scores):
            try:
                a = e.word_to_chars(e.token_to_word(s), sequence_index=1)[0]
                b = e.word_to_chars(e.token_to_word(t), sequence_index=1)[1]
            except Exception:
                a, b = e.offsets[s][0], e.offsets[t][1]
            answers.append({"score": score.item(), "start": a, "end": b, "answer": context[a:b]})
    if handle_impossible_answer:
        answers.append({"score": min_null_score, "start": 0, "end": 0, "answer": ""})
    answers = sorted(answers, key=lambda x: x["score"], reverse=True)[:top_k]
    return answers[0] if len(answers) == 1 else answers


QUESTION = "Where does Jean live?"
CONTEXT = ("Jean-Baptiste lives in Montréal, a city in Québec. He works at a bakery near the old port, "
           "and on weekends he plays the xylophone with friends.")


@pytest.mark.parametrize("kwargs", [{}, {"top_k": 3}, {"handle_impossible_answer": True, "top_k": 2},
                                    {"max_answer_len": 3, "top_k": 2}], ids=str)
def test_question_answering(folders, kwargs):
    qa = pipeline("question-answering", model=str(folders["qa"]))
    ours = qa(question=QUESTION, context=CONTEXT, **kwargs)
    theirs = _reference_qa(folders["qa"], QUESTION, CONTEXT, **kwargs)
    assert_same_result(ours, theirs)
    for answer in ours if isinstance(ours, list) else [ours]:
        assert set(answer) == {"score", "start", "end", "answer"}
        assert CONTEXT[answer["start"]:answer["end"]] == answer["answer"]


def test_question_answering_long_context_windows(folders):
    """A context longer than max_position_embeddings=64 runs in doc_stride windows."""
    context = " ".join([CONTEXT] * 4)
    qa = pipeline("question-answering", model=str(folders["qa"]))
    ours = qa(question=QUESTION, context=context, top_k=2)
    theirs = _reference_qa(folders["qa"], QUESTION, context, top_k=2, max_seq_len=64, doc_stride=32)
    assert_same_result(ours, theirs)
    batch = qa(question=[QUESTION, "What does he play?"], context=[CONTEXT, CONTEXT])
    assert isinstance(batch, list) and len(batch) == 2
    assert batch[0] == qa({"question": QUESTION, "context": CONTEXT})


def test_long_inputs_are_truncated_with_one_warning(folders, caplog):
    clf = pipeline("text-classification", model=str(folders["seq"]))
    long_text = "word " * 200  # max_position_embeddings is 64
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        results = clf([long_text, "short", long_text])
    assert len(results) == 3
    warnings = [r.getMessage() for r in caplog.records if "truncated" in r.getMessage()]
    assert warnings == ["text-classification: 2 of 3 inputs were longer than the model's limit of 64 tokens "
                        "and were truncated"]


def test_bad_arguments(folders):
    with pytest.raises(ValueError, match="Unknown task"):
        pipeline("summarization", model=str(folders["seq"]))
    with pytest.raises(ValueError, match="model="):
        pipeline("text-classification")
    clf = pipeline("text-classification", model=str(folders["seq"]))
    with pytest.raises(TypeError, match="aggregation_strategy"):
        clf("x", aggregation_strategy="simple")
    ner = pipeline("token-classification", model=str(folders["tok"]))
    with pytest.raises(ValueError, match="aggregation_strategy"):
        ner("x", aggregation_strategy="sideways")
    qa = pipeline("question-answering", model=str(folders["qa"]))
    with pytest.raises(ValueError, match="context"):
        qa(question="q")
