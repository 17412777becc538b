"""The one place the HumanOmni tests import the training tasks from (their package is moving)."""

from ervlight.grpo import GRPOModule
from ervlight.policy.sft import SFTModule

__all__ = ["GRPOModule", "SFTModule"]
