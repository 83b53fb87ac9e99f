"""pipeline("zero-shot-classification") against transformers' pipeline on the same NLI-style classifiers.

Small random sequence classifiers built by transformers (H=36, NH=3, I=50, L=2, three labels) and saved with a
tokenizer: BERT with MiniLM's WordPiece files and labels (contradiction, neutral, entailment); BERT with the
labels the other way round (ENTAILMENT at id 0, so multi_label's contradiction logit is the last one);
RoBERTa; BERT with a DeBERTa-v3-style SentencePiece-only tokenizer (spm.model trained in the test); and
DeBERTa-v2 itself (v3's attention layout) with that tokenizer, as NLI zero-shot checkpoints come.
A wide weight init (initializer_range=0.3) makes scores far from uniform, so the label order means something.

Tolerance: scores within 1e-5 (the logits agree within about 1e-6 here; the softmax over a handful of
labels does not amplify that); labels, their order and sequences exactly equal.
"""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from pybertcore import pipeline

TOL = 1e-5
TASK = "zero-shot-classification"

SEQUENCES = [
    "I have a problem with my iphone that needs to be resolved asap!!",
    "The match went to extra time and the home side won on penalties.",
    "Interest rates rose by a quarter of a percentage point on Tuesday.",
    "Crème brûlée à l'hôtel Zürich, naïve café",
]
LABELS = ["urgent", "not urgent", "phone", "sports", "economics", "food"]

NLI = {0: "contradiction", 1: "neutral", 2: "entailment"}
NLI_REVERSED = {0: "ENTAILMENT", 1: "NEUTRAL", 2: "CONTRADICTION"}
NO_ENTAILMENT = {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
# initializer_range 0.3 (not 0.02): with the default init the [CLS] state hardly depends on the hypothesis,
# every label scores 1/n to six digits and the order would be decided by rounding.
SMALL = dict(hidden_size=36, num_attention_heads=3, intermediate_size=50, num_hidden_layers=2, initializer_range=0.3)


def _save_classifier(folder, config, cls_name):
    import torch
    import transformers

    torch.manual_seed(0)
    getattr(transformers, cls_name)(config).eval().save_pretrained(folder)
    return folder


def _copy_wordpiece(folder, minilm_dir):
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(minilm_dir / name, folder / name)


def _labels(id2label):
    return dict(num_labels=len(id2label), id2label=id2label, label2id={v: k for k, v in id2label.items()})


def _bert(root, minilm_dir, id2label):
    import transformers

    config = transformers.BertConfig(vocab_size=30522, max_position_embeddings=512, **SMALL, **_labels(id2label))
    folder = _save_classifier(root, config, "BertForSequenceClassification")
    _copy_wordpiece(folder, minilm_dir)
    return folder


def _roberta(root, minilm_dir):
    import transformers

    config = transformers.RobertaConfig(vocab_size=30522, max_position_embeddings=514, pad_token_id=0, **SMALL,
                                        **_labels(NLI))
    folder = _save_classifier(root, config, "RobertaForSequenceClassification")
    _copy_wordpiece(folder, minilm_dir)
    return folder


def _spm_folder(root, tmp_path_factory, tokenizer_config):
    from spm_models import DEBERTA_IDS, VOCAB_SIZE, train, write_folder

    model = train(tmp_path_factory.mktemp("spm") / "deberta", **DEBERTA_IDS)
    write_folder(root, model, "spm.model", tokenizer_config, model_type=None)
    return VOCAB_SIZE + 1  # the pieces and [MASK]


def _bert_with_spm(root, tmp_path_factory):
    import transformers

    vocab_size = _spm_folder(root, tmp_path_factory, {"tokenizer_class": "DebertaV2Tokenizer",
                                                      "model_max_length": 512})
    config = transformers.BertConfig(vocab_size=vocab_size, max_position_embeddings=512, pad_token_id=0, **SMALL,
                                     **_labels(NLI))
    return _save_classifier(root, config, "BertForSequenceClassification")


def _deberta_v2(root, tmp_path_factory):
    import transformers

    vocab_size = _spm_folder(root, tmp_path_factory, {"do_lower_case": False, "vocab_type": "spm"})
    config = transformers.DebertaV2Config(
        vocab_size=vocab_size, max_position_embeddings=512, type_vocab_size=0, relative_attention=True,
        position_buckets=16, max_relative_positions=64, pos_att_type=["p2c", "c2p"], norm_rel_ebd="layer_norm",
        share_att_key=True, position_biased_input=False, pad_token_id=0, **SMALL, **_labels(NLI),
    )
    return _save_classifier(root, config, "DebertaV2ForSequenceClassification")


MODELS = ["bert", "bert_reversed", "roberta", "bert_spm_tokenizer", "deberta_v2"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory, minilm_dir):
    made = {}

    def get(name):
        if name not in made:
            root = tmp_path_factory.mktemp(name)
            if name == "bert":
                made[name] = _bert(root, minilm_dir, NLI)
            elif name == "bert_reversed":
                made[name] = _bert(root, minilm_dir, NLI_REVERSED)
            elif name == "bert_no_entailment":
                made[name] = _bert(root, minilm_dir, NO_ENTAILMENT)
            elif name == "roberta":
                made[name] = _roberta(root, minilm_dir)
            elif name == "bert_spm_tokenizer":
                made[name] = _bert_with_spm(root, tmp_path_factory)
            else:
                made[name] = _deberta_v2(root, tmp_path_factory)
        return made[name]

    return get


_PIPES: dict = {}


def _both(folder, **kwargs):
    """(ours, transformers') zero-shot pipelines on one folder, built once per session."""
    import transformers

    key = (str(folder), tuple(sorted(kwargs.items())))
    if key not in _PIPES:
        _PIPES[key] = (pipeline(TASK, model=str(folder), **kwargs), transformers.pipeline(TASK, model=str(folder),
                                                                                            **kwargs))
    return _PIPES[key]


def assert_same(ours, theirs):
    if isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_same(a, b)
        return
    assert isinstance(ours, dict) and set(ours) == {"sequence", "labels", "scores"}
    assert ours["sequence"] == theirs["sequence"]
    assert ours["labels"] == theirs["labels"]
    assert all(isinstance(s, float) for s in ours["scores"])
    np.testing.assert_allclose(ours["scores"], theirs["scores"], rtol=0, atol=TOL)


CALLS = [
    {"candidate_labels": LABELS},
    {"candidate_labels": LABELS, "multi_label": True},
    {"candidate_labels": LABELS, "multi_label": False},
    {"candidate_labels": "urgent, not urgent ,phone,, sports "},
    {"candidate_labels": "urgent, phone", "multi_label": True},
    {"candidate_labels": ["phone"]},  # one label: the multi-label formula
    {"candidate_labels": LABELS, "hypothesis_template": "The topic of this text is {}"},
    {"candidate_labels": LABELS[:3], "hypothesis_template": "{} is what this is about.", "multi_label": True},
]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("kwargs", CALLS, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items())[:60])
def test_matches_transformers(folders, model, kwargs):
    ours, theirs = _both(folders(model))
    single_ours, single_theirs = ours(SEQUENCES[0], **kwargs), theirs(SEQUENCES[0], **kwargs)
    assert isinstance(single_ours, dict)
    assert_same(single_ours, single_theirs)
    assert_same(ours(SEQUENCES, **kwargs), theirs(SEQUENCES, **kwargs))
    assert_same(ours(SEQUENCES[1:2], **kwargs), theirs(SEQUENCES[1:2], **kwargs))  # a list of one: a list


def test_scores_follow_the_formulas(folders):
    """Single-label scores sum to 1 over the labels; multi-label ones each lie in (0, 1) independently."""
    ours, _ = _both(folders("bert"))
    single = ours(SEQUENCES[1], candidate_labels=LABELS)
    assert abs(sum(single["scores"]) - 1.0) < 1e-6
    assert single["scores"][0] - single["scores"][-1] > 0.05  # the test models give labels distinct scores
    gaps = -np.diff(single["scores"])
    assert gaps.min() > 100 * TOL  # so the order compared with transformers' is not decided by rounding
    assert single["scores"] == sorted(single["scores"], reverse=True)
    multi = ours(SEQUENCES[1], candidate_labels=LABELS, multi_label=True)
    assert all(0.0 < s < 1.0 for s in multi["scores"]) and abs(sum(multi["scores"]) - 1.0) > 1e-3
    alone = {label: ours(SEQUENCES[1], candidate_labels=[label])["scores"][0] for label in LABELS}
    np.testing.assert_allclose([alone[label] for label in multi["labels"]], multi["scores"], rtol=0, atol=1e-7)


def test_positional_labels_and_construction_defaults(folders):
    import transformers

    folder = folders("bert")
    ours, theirs = _both(folder)
    assert_same(ours(SEQUENCES, LABELS), theirs(SEQUENCES, LABELS))
    with_defaults = pipeline(TASK, model=str(folder), candidate_labels="phone, food", multi_label=True)
    reference = transformers.pipeline(TASK, model=str(folder), candidate_labels="phone, food", multi_label=True)
    assert_same(with_defaults(SEQUENCES), reference(SEQUENCES))
    assert_same(with_defaults(SEQUENCES, multi_label=False), reference(SEQUENCES, multi_label=False))


def test_batch_size_does_not_change_results(folders):
    """All pairs go through the packed core in batches; a pair's logits do not depend on its batch."""
    folder = folders("bert")
    one = pipeline(TASK, model=str(folder), batch_size=1)(SEQUENCES, candidate_labels=LABELS, multi_label=True)
    many = pipeline(TASK, model=str(folder), batch_size=64)(SEQUENCES, candidate_labels=LABELS, multi_label=True)
    assert one == many


def test_long_sequences_truncate_the_premise_only(folders):
    """truncation="only_first": a premise past model_max_length (512) is cut, the hypothesis stays whole."""
    ours, theirs = _both(folders("bert"))
    long_text = "the weather was lovely and " * 120
    assert_same(ours([long_text, SEQUENCES[0]], candidate_labels=LABELS[:3]),
                theirs([long_text, SEQUENCES[0]], candidate_labels=LABELS[:3]))


def test_hypothesis_longer_than_the_limit_goes_untruncated(folders, tmp_path, caplog):
    """A pair only_first cannot fit (the hypothesis alone passes model_max_length) is tokenized whole, as
    transformers does on its "too short" error; the others in the same call are still truncated."""
    folder = tmp_path / "short_limit"
    shutil.copytree(folders("bert"), folder)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "model_max_length": 24}))
    ours, theirs = _both(folder)
    labels = ["sports", "a label with very many words in it so that the hypothesis is longer than the limit"]
    texts = [SEQUENCES[1] * 3, SEQUENCES[0]]
    for multi_label in (False, True):
        with caplog.at_level(logging.WARNING, logger="pybertcore"):
            caplog.clear()
            result = ours(texts, candidate_labels=labels, multi_label=multi_label)
        assert_same(result, theirs(texts, candidate_labels=labels, multi_label=multi_label))
        warnings = [r.getMessage() for r in caplog.records if "were truncated" in r.getMessage()]
        assert warnings == [f"{TASK}: 1 of 4 inputs were longer than the model's limit of 24 tokens and were truncated"]


def test_no_entailment_label_warns_and_uses_the_last_logit(folders, caplog):
    """Like transformers: a label2id without an "entail..." label is a warning, and id -1 (the last logit)."""
    folder = folders("bert_no_entailment")
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        ours, theirs = _both(folder)
    assert any("Failed to determine 'entailment' label id" in r.getMessage() for r in caplog.records)
    assert ours.entailment_id == theirs.entailment_id == -1
    for kwargs in ({"candidate_labels": LABELS}, {"candidate_labels": LABELS, "multi_label": True}):
        assert_same(ours(SEQUENCES, **kwargs), theirs(SEQUENCES, **kwargs))


def _message(call):
    try:
        call()
    except Exception as e:  # noqa: BLE001 (the oracle's exception, whatever its type)
        return type(e), str(e)
    raise AssertionError("expected an exception")


@pytest.mark.parametrize("args,kwargs", [
    ((SEQUENCES[0],), {"candidate_labels": []}),
    ((SEQUENCES[0],), {"candidate_labels": " , ,"}),
    (("",), {"candidate_labels": LABELS}),
    ((SEQUENCES,), {"candidate_labels": LABELS, "hypothesis_template": "This example is."}),
    ((SEQUENCES[0], LABELS, "extra"), {}),
    ((SEQUENCES[0], LABELS), {"candidate_labels": LABELS}),
], ids=["no-labels", "blank-label-string", "empty-sequence", "template-without-braces",
        "extra-positional", "labels-twice"])
def test_errors_as_transformers(folders, args, kwargs):
    ours, theirs = _both(folders("bert"))
    expected_type, expected = _message(lambda: theirs(*args, **kwargs))
    assert expected_type is ValueError
    with pytest.raises(ValueError) as info:
        ours(*args, **kwargs)
    assert str(info.value) == expected


def test_bad_arguments(folders):
    ours, _ = _both(folders("bert"))
    with pytest.raises(ValueError, match="You must include at least one label"):
        ours(SEQUENCES[0])  # no candidate_labels at all (transformers fails on len(None))
    with pytest.raises(TypeError, match="top_k"):
        ours(SEQUENCES[0], candidate_labels=LABELS, top_k=2)
    with pytest.raises(ValueError, match=r"sequences\[1\] is int"):
        ours([SEQUENCES[0], 3], candidate_labels=LABELS)
    with pytest.raises(ValueError, match="hypothesis_template must be a string"):
        ours(SEQUENCES[0], candidate_labels=LABELS, hypothesis_template=None)
    with pytest.raises(TypeError, match="multi_labels"):
        pipeline(TASK, model=str(folders("bert")), multi_labels=True)
    assert ours([], candidate_labels=LABELS) == []
