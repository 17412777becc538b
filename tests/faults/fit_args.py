"""Arguments of a tiny GRPO ``ervlight fit`` (TinyOmni, DFEW-mini, format + accuracy) for the fault tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "grpo" / "r1omni_baseline_demo.yaml"


def fit_args(root: Path, dfew_root: Path, emer_json: Path, steps: int, **model: Any) -> list[str]:
    """``fit --config <GRPO demo preset>`` shrunk to seconds; ``model`` overrides ``model.init_args``."""
    policy = {
        "pretrained": None,
        "tokenizer_corpus": str(emer_json),
        "hidden_size": 32,
        "intermediate_size": 64,
    }
    overrides: dict[str, Any] = {
        "trainer.max_steps": steps, "trainer.limit_val_batches": 0, "trainer.enable_progress_bar": False,
        "trainer.enable_model_summary": False, "trainer.default_root_dir": str(root),
        "trainer.logger.init_args.save_dir": str(root),
        "model.init_args.policy": json.dumps({"class_path": "ervlight.policy.TinyOmni", "init_args": policy}),
        "model.init_args.rewards": json.dumps([{"name": "format"}, {"name": "accuracy"}]),
        "model.init_args.num_generations": 2, "model.init_args.max_completion_length": 4,
        "model.init_args.policy_dir": str(root / "policy"), "model.init_args.datasets": '["dfew"]',
        "data.init_args.train": json.dumps([{"kind": "dfew", "root": str(dfew_root)}]),
        "data.init_args.val": "null", "data.init_args.batch_size": 2,
    }  # fmt: skip
    overrides.update({f"model.init_args.{key}": value for key, value in model.items()})
    return ["fit", "--config", str(CONFIG), *(f"--{key}={value}" for key, value in overrides.items())]
