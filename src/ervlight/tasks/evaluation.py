"""``EvaluationTask``: test (and predict) a saved policy — no training, the task the evaluation config names.

``ervlight test --config configs/eval/demo.yaml`` runs it over any saved policy (cold-start SFT or GRPO): one
completion per clip with the reference evaluation decoding, format rate, WAR and UAR per dataset
(``test/<dataset>/war``…), and ``{"completions": …}`` per batch for
:class:`~ervlight.evaluation.predictions.PredictionWriter`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ervlight.policy.base import Policy
from ervlight.tasks.policy_task import PolicyTask, evaluation_sampling

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
    """

    def __init__(
        self,
        policy: Policy | Callable[[], Policy],
        datasets: list[str] | None = None,
        max_new_tokens: int = 512,
        temperature: float = 0.3,
        top_p: float = 0.9,
        seed: int = 0,
    ) -> None:
        super().__init__(policy, evaluation_sampling(temperature, top_p, max_new_tokens), datasets, seed=seed)

    def configure_optimizers(self) -> Any:
        """Refused: an evaluation task does not train."""
        raise RuntimeError(
            "EvaluationTask only tests and predicts; train with ervlight.tasks.SFTModule or ervlight.tasks.GRPOModule"
        )
