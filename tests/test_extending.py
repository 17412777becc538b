"""Extending ervlight: a reward written in one file of the user's own and named in a YAML trains and is logged.

(A backbone in 1–2 files: ``tests/policy/test_new_backbone.py``; a dataset in one file:
``tests/data/test_dataset_registry.py``.)
"""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

import pytest

from ervlight.cli import main

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "grpo"

#: The whole of a user's reward: one file, no ervlight code changed.
REWARD_FILE = '''
"""A user's reward: a fixed bonus per completion, more for DFEW clips."""

import torch

from ervlight.rewards.base import RewardInputs


class DatasetBonus:
    """``bonus`` for every completion, twice that for DFEW clips."""

    name = "bonus"

    def __init__(self, bonus: float = 0.25) -> None:
        self.bonus = bonus

    def __call__(self, inputs: RewardInputs) -> torch.Tensor:
        return torch.tensor([self.bonus * (2 if d == "dfew" else 1) for d in inputs.datasets])
'''

#: ...and the YAML that adds it to a shipped preset's rewards.
REWARD_YAML = """
model:
  init_args:
    rewards:
      - {name: format}
      - {name: accuracy}
      - {class_path: my_rewards.DatasetBonus, weight: 0.5, init_args: {bonus: 0.125}}
"""


def test_a_reward_in_one_file_and_a_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emer_json: Path, dfew_root: Path
) -> None:
    (tmp_path / "my_rewards.py").write_text(textwrap.dedent(REWARD_FILE), encoding="utf-8")
    (tmp_path / "bonus.yaml").write_text(REWARD_YAML, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    policy = {
        "pretrained": None,
        "tokenizer_corpus": str(emer_json),
        "hidden_size": 32,
        "intermediate_size": 64,
    }
    overrides = {
        "trainer.max_steps": "2",
        "trainer.limit_val_batches": "0",
        "trainer.default_root_dir": str(tmp_path),
        "trainer.callbacks": "[]",
        "trainer.logger": json.dumps(
            {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": str(tmp_path)}}
        ),
        "model.init_args.policy": json.dumps({"class_path": "ervlight.policy.TinyOmni", "init_args": policy}),
        "model.init_args.num_generations": "2",
        "model.init_args.max_completion_length": "4",
        "model.init_args.policy_dir": str(tmp_path / "policy"),
        "model.init_args.datasets": '["dfew"]',
        "data.init_args.train": json.dumps([{"kind": "dfew", "root": str(dfew_root)}]),
        "data.init_args.val": "null",
        "data.init_args.batch_size": "2",
    }
    argv = [
        "fit",
        "--config",
        str(CONFIGS / "r1omni_baseline_demo.yaml"),
        "--config",
        str(tmp_path / "bonus.yaml"),
    ]
    assert main([*argv, *(f"--{key}={value}" for key, value in overrides.items())]) == 0
    (metrics,) = tmp_path.rglob("metrics.csv")
    rows = [row for row in csv.DictReader(metrics.open()) if row.get("rewards/bonus/mean")]
    assert [
        (row["step"], float(row["rewards/bonus/mean"]), float(row["rewards/bonus/std"])) for row in rows
    ] == [
        ("0", 0.25, 0.0),
        ("1", 0.25, 0.0),
    ]  # 2 * 0.125 on every DFEW completion of both steps
