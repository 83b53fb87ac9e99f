"""ELECTRA: BERT's names, embeddings of ``embedding_size`` projected to ``hidden_size`` (when they
differ), no pooler."""

from __future__ import annotations

from dataclasses import replace

from pybertcore.configuration_utils import PretrainedConfig
from pybertcore.modeling_outputs import BaseModelOutputWithPastAndCrossAttentions
from pybertcore.models.bert.modeling_bert import BERT_LAYOUT
from pybertcore.models.electra.configuration_electra import ElectraConfig
from pybertcore.models.encoder_model import EncoderDims, EncoderModel, EncoderPreTrainedModel, bert_dims
from pybertcore.models.module_trees import ELECTRA_TREE
from pybertcore.models.heads import (
    ForMaskedLM,
    ForMultipleChoice,
    ForQuestionAnswering,
    ForSequenceClassification,
    ForTokenClassification,
    Head,
    Linear,
    Norm,
    QUESTION_ANSWERING_HEAD,
    TOKEN_CLASSIFICATION_HEAD,
)


def electra_dims(c: PretrainedConfig) -> EncoderDims:
    """BERT's sizes with embeddings of ``embedding_size``, projected when that differs from H."""
    return replace(bert_dims(c), E=c.embedding_size, projection=c.embedding_size != c.hidden_size)


ELECTRA_LAYOUT = replace(
    BERT_LAYOUT,
    dims=electra_dims,
    embedding_projection="embeddings_project",
    pooler=None,
    output_class=BaseModelOutputWithPastAndCrossAttentions,
)


class ElectraPreTrainedModel(EncoderPreTrainedModel):
    config_class = ElectraConfig
    base_model_prefix = "electra"
    layout = ELECTRA_LAYOUT
    module_tree = ELECTRA_TREE


class ElectraModel(ElectraPreTrainedModel, EncoderModel):
    """The bare ELECTRA encoder (the discriminator's body): ``last_hidden_state``, no pooler."""


class ElectraForSequenceClassification(ElectraPreTrainedModel, ForSequenceClassification):
    head_spec = Head("first", (Linear("classifier.dense", "H", act="gelu"), Linear("classifier.out_proj", "num_labels")))


class ElectraForTokenClassification(ElectraPreTrainedModel, ForTokenClassification):
    head_spec = TOKEN_CLASSIFICATION_HEAD


class ElectraForQuestionAnswering(ElectraPreTrainedModel, ForQuestionAnswering):
    head_spec = QUESTION_ANSWERING_HEAD


class ElectraForMaskedLM(ElectraPreTrainedModel, ForMaskedLM):
    """The generator's head: hidden → embedding_size, gelu, LayerNorm, decoder tied to the word embeddings."""

    head_spec = Head(
        "tokens",
        (
            Linear("generator_predictions.dense", "E", act="gelu"),
            Norm("generator_predictions.LayerNorm", "E"),
            Linear("generator_lm_head", "V", inp="E", tied_weight="embeddings.word_embeddings.weight"),
        ),
        order=("generator_predictions.LayerNorm", "generator_predictions.dense", "generator_lm_head"),
    )


class ElectraForMultipleChoice(ElectraPreTrainedModel, ForMultipleChoice):
    """transformers' sequence summary with ``summary_type="first"``: a projection (``summary_use_proj``)
    with ``summary_activation``, then the classifier."""

    head_spec = Head(
        "first",
        (
            Linear("sequence_summary.summary", "H", act="config:summary_activation", when="summary_use_proj"),
            Linear("classifier", 1),
        ),
    )

    def __init__(self, config: ElectraConfig) -> None:
        if getattr(config, "summary_type", "first") != "first":
            raise NotImplementedError(
                f"summary_type: {config.summary_type!r} is not implemented by pybertcore; only 'first' is"
            )
        if not config.summary_use_proj and config.summary_activation:
            raise NotImplementedError(
                "summary_activation without summary_use_proj (an activation on the raw first token) is not "
                "implemented by pybertcore"
            )
        if getattr(config, "summary_proj_to_labels", False):
            raise NotImplementedError("summary_proj_to_labels: a summary projected to the labels is not implemented")
        super().__init__(config)
