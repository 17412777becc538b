"""HumanOmni (the ERV paper's and R1-Omni's backbone) on standard transformers classes, released key layout."""

from ervlight.policy.humanomni.config import HumanOmniConfig, ProjectorConfig
from ervlight.policy.humanomni.policy import HumanOmni, HumanOmniModel

__all__ = ["HumanOmni", "HumanOmniConfig", "HumanOmniModel", "ProjectorConfig"]
