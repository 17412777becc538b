"""ervlight's LightningModules (torchgeo's shape): a thin base, the policy task base and its SFT, GRPO and evaluation
tasks, the perception pre-training task, and the learning-rate schedules.

Names are imported on first use, so that ``ervlight.tasks.base`` (which the verifier's module derives from) loads
without pulling in the policy tasks and their rewards.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ervlight.tasks.base import BaseModule
    from ervlight.tasks.evaluation import EvaluationTask
    from ervlight.tasks.grpo import GRPOModule
    from ervlight.tasks.perception import PerceptionModule
    from ervlight.tasks.policy_task import PolicyTask
    from ervlight.tasks.schedules import WarmupCosineLR, WarmupLinearLR
    from ervlight.tasks.sft import SFTModule

__all__ = [
    "BaseModule",
    "EvaluationTask",
    "GRPOModule",
    "PerceptionModule",
    "PolicyTask",
    "SFTModule",
    "WarmupCosineLR",
    "WarmupLinearLR",
]

_MODULES = {
    "BaseModule": "ervlight.tasks.base",
    "EvaluationTask": "ervlight.tasks.evaluation",
    "GRPOModule": "ervlight.tasks.grpo",
    "PerceptionModule": "ervlight.tasks.perception",
    "PolicyTask": "ervlight.tasks.policy_task",
    "SFTModule": "ervlight.tasks.sft",
    "WarmupCosineLR": "ervlight.tasks.schedules",
    "WarmupLinearLR": "ervlight.tasks.schedules",
}


def __getattr__(name: str) -> Any:
    """Import a task class from its module on first access."""
    if name not in _MODULES:
        raise AttributeError(f"module 'ervlight.tasks' has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULES[name]), name)
