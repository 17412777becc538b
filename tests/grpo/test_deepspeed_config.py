"""The shipped DeepSpeed fragment, as Lightning builds it, is a config DeepSpeed itself accepts (CPU check).

DeepSpeed is not a dependency of ervlight (it installs on these CPU machines, imports with its CPU accelerator and
validates configs, but Lightning's DeepSpeed strategy refuses a CPU accelerator), so this test is skipped unless
``deepspeed`` is importable.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from lightning.pytorch.strategies import DeepSpeedStrategy, StrategyRegistry

deepspeed_config = pytest.importorskip("deepspeed.runtime.config")

FRAGMENT = Path(__file__).resolve().parents[2] / "configs" / "grpo" / "strategy" / "deepspeed.yaml"


def test_the_deepspeed_fragment_validates_with_deepspeed() -> None:
    trainer = yaml.safe_load(FRAGMENT.read_text())
    strategy = StrategyRegistry.get(trainer["strategy"])
    assert isinstance(strategy, DeepSpeedStrategy)
    assert trainer["precision"] == "bf16-mixed"
    config = dict(strategy.config) | {"train_micro_batch_size_per_gpu": 2, "bf16": {"enabled": True}}
    config |= {"gradient_accumulation_steps": 1, "gradient_clipping": 1.0}  # what Lightning adds at setup
    checked = deepspeed_config.DeepSpeedConfig(config)
    assert checked.zero_optimization_stage == 2
    assert checked.bfloat16_config.enabled
    assert checked.train_micro_batch_size_per_gpu == 2
    with pytest.raises(Exception, match="stagee"):  # DeepSpeed's own validation rejects unknown keys
        deepspeed_config.DeepSpeedConfig(config | {"zero_optimization": {"stagee": 2}})
