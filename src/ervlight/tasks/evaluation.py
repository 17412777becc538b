"""``EvaluationTask``: test (and predict) a saved policy — no training, the task the evaluation config names.

``ervlight test --config configs/eval/demo.yaml`` runs it over any saved policy (cold-start SFT or GRPO): one
completion per clip with the reference evaluation decoding, format rate, WAR and UAR per dataset
(``test/<dataset>/war``…), and ``{"completions": …}`` per batch for
:class:`~ervlight.evaluation.predictions.PredictionWriter`.

``protocol`` chooses how WAR/UAR count: ``ervlight`` (the default: ervlight's parser, every unparseable answer
wrong in every denominator), ``reference`` (the reference scripts' reading and counting,
:mod:`ervlight.protocol.counting`, logged as ``test/<dataset>/war_reference``, ``uar_reference`` and
``unparseable_reference``) or ``both``. Only WAR/UAR apply here: the explanation metrics need a judge and come
from ``ervlight report --protocol``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from ervlight.evaluation.report_reference import ReportProtocol, check_report_protocol
from ervlight.policy.base import Policy
from ervlight.protocol.metric import ReferenceRecognitionMetric
from ervlight.tasks.policy_task import (
    EvalBatch,
    PolicyTask,
    Stage,
    computed_metrics,
    evaluation_sampling,
    logged_counts,
    scored_rows,
)

__all__ = ["EvaluationTask"]


class EvaluationTask(PolicyTask):
    """Test, validate or predict with a policy; ``fit`` is refused (nothing here trains).

    Args:
        policy: the policy, or a factory building it (in YAML: ``class_path`` + ``init_args``).
        datasets: label spaces that test metrics are kept for (batches may mix them).
        max_new_tokens: completion budget.
        temperature: sampling temperature (reference evaluation: 0.3); ``0`` decodes greedily.
        top_p: nucleus threshold (reference evaluation: 0.9).
        seed: seed of the sampler (each batch index offsets it).
        protocol: how WAR/UAR count: ``ervlight``, ``reference`` (``…/war_reference``…) or ``both``.
    """

    def __init__(
        self,
        policy: Policy | Callable[[], Policy],
        datasets: list[str] | None = None,
        max_new_tokens: int = 512,
        temperature: float = 0.3,
        top_p: float = 0.9,
        seed: int = 0,
        protocol: ReportProtocol = "ervlight",
    ) -> None:
        self.protocol = check_report_protocol(protocol)
        super().__init__(policy, evaluation_sampling(temperature, top_p, max_new_tokens), datasets, seed=seed)

    def configure_metrics(self) -> None:
        """ervlight's metrics and, under the reference protocol, :class:`ReferenceRecognitionMetric` per dataset
        (``ValueError`` for a dataset the reference scripts do not evaluate)."""
        super().configure_metrics()
        names = self.dataset_names if self.protocol != "ervlight" else []
        self.reference_metrics = nn.ModuleDict({name: ReferenceRecognitionMetric(name) for name in names})

    def evaluate(self, batch: EvalBatch, batch_idx: int, stage: Stage) -> list[str]:
        """As :meth:`PolicyTask.evaluate`, counting the same scored rows for the reference protocol too."""
        texts = super().evaluate(batch, batch_idx, stage)
        if stage == "test" and self.reference_metrics:
            update_reference(self.reference_metrics, *scored_rows(batch, texts))
        return texts

    def on_test_epoch_end(self) -> None:
        """Log and reset the protocol's test metrics and the clip counts."""
        ervlight = computed_metrics(self.test_metrics)  # computed (and reset) either way
        values = logged_counts(self.test_counts, "test")
        if self.protocol != "reference":
            values |= ervlight
        values |= computed_reference(self.reference_metrics, "test")
        self.log_dict(values)

    def configure_optimizers(self) -> Any:
        """Refused: an evaluation task does not train."""
        raise RuntimeError(
            "EvaluationTask only tests and predicts; train with ervlight.tasks.SFTModule or ervlight.tasks.GRPOModule"
        )


def update_reference(
    metrics: nn.ModuleDict, completions: Sequence[str], datasets: Sequence[str], golds: torch.Tensor
) -> None:
    """Add scored rows (:func:`~ervlight.tasks.policy_task.scored_rows`) to their datasets' reference metrics."""
    for name in sorted(set(datasets)):
        rows = [i for i, dataset in enumerate(datasets) if dataset == name]
        metric = metrics[name]
        assert isinstance(metric, ReferenceRecognitionMetric)
        metric.update([completions[i] for i in rows], golds[rows])


def computed_reference(metrics: nn.ModuleDict, stage: str) -> dict[str, torch.Tensor]:
    """``<stage>/<dataset>/war_reference``… of every reference metric that counted clips (all are reset)."""
    values: dict[str, torch.Tensor] = {}
    for name, metric in metrics.items():
        assert isinstance(metric, ReferenceRecognitionMetric)
        if metric.clips > 0:
            values.update({f"{stage}/{name}/{key}": value.float() for key, value in metric.compute().items()})
        metric.reset()
    return values
