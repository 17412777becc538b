"""Validation and test of a GRPO run: one sampled completion per clip, scored per dataset.

WAR, UAR and the format rate per dataset (``val/<dataset>/war``…, ``test/<dataset>/war``… in ``ervlight test``);
with an explanation reward in the registry, its verifier also judges each rationale, giving EEA, EPC and FCR
(``val/<dataset>/eea``…). Select checkpoints on one of these task metrics (e.g. ``val/mafw/uar``), never on the
training reward. Validation and test share these helpers; each stage has its own metric collections.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ervlight.evaluation.judge import Judge, run_judge
from ervlight.evaluation.metric_inputs import encode_completions, encode_judgements, encode_targets
from ervlight.evaluation.metrics import consistency_metrics
from ervlight.labels import get_label_space
from ervlight.rewards.registry import RewardRegistry
from ervlight.verifier.judge import VerifierJudge

__all__ = ["computed_metrics", "registry_judge", "update_metrics", "validation_metrics"]


def registry_judge(registry: RewardRegistry) -> Judge | None:
    """A judge made from the verifier of the registry's ``explanation`` reward (``None`` without one)."""
    verifier = getattr(dict(registry).get("explanation"), "verifier", None)
    return None if verifier is None else VerifierJudge(verifier)


def validation_metrics(datasets: Sequence[str], judged: bool, stage: str = "val") -> nn.ModuleDict:
    """One metric collection per dataset, keys ``<stage>/<dataset>/<metric>`` (``stage``: ``val`` or ``test``)."""
    return nn.ModuleDict(
        {
            name: consistency_metrics(get_label_space(name).num_classes, f"{stage}/{name}/", judged=judged)
            for name in datasets
        }
    )


def update_metrics(
    metrics: nn.ModuleDict,
    completions: Sequence[str],
    labels: Sequence[str],
    datasets: Sequence[str],
    judge: Judge | None,
    device: torch.device,
) -> None:
    """Add a batch of completions to the collections of their datasets."""
    for name in sorted(set(datasets)):
        if name not in metrics:
            raise ValueError(f"evaluation batch holds {name!r} clips but the module tracks {list(metrics)}")
        rows = [i for i, dataset in enumerate(datasets) if dataset == name]
        encoded = encode_completions([completions[i] for i in rows], name)
        tensors = {"preds": encoded.preds, "target": encode_targets([labels[i] for i in rows], name)}
        tensors["well_formatted"] = encoded.well_formatted
        if judge is not None:
            judged = run_judge(judge, encoded.rationales, [name] * len(rows))
            tensors["judged"] = encode_judgements(judged, name)
        metrics[name].update(**{key: value.to(device) for key, value in tensors.items()})  # type: ignore[operator]


def computed_metrics(metrics: nn.ModuleDict) -> dict[str, torch.Tensor]:
    """Computed values of every collection that saw data (all collections are reset)."""
    values: dict[str, torch.Tensor] = {}
    for collection in metrics.values():
        if int(next(iter(collection.values())).joint.sum()) > 0:  # type: ignore[operator]
            values.update({key: value.float() for key, value in collection.compute().items()})  # type: ignore[operator]
        collection.reset()  # type: ignore[operator]
    return values
