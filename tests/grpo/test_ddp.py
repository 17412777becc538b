"""Two-process DDP on CPU (gloo) gives the loss and the update of one process on the same four prompts.

Slow (three interpreter start-ups): ``pytest -m slow tests/grpo/test_ddp.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

HERE = Path(__file__).resolve().parent


def _run(out: Path, mode: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run(
        [sys.executable, str(HERE / "ddp_run.py"), str(out), mode],
        env=env, capture_output=True, text=True, timeout=600, cwd=out,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
def test_two_process_ddp_matches_one_process(tmp_path: Path) -> None:
    _run(tmp_path, "single")
    _run(tmp_path, "ddp")
    single = json.loads((tmp_path / "single.json").read_text())
    ddp = json.loads((tmp_path / "ddp.json").read_text())
    for key in (
        "loss",
        "reward",
        "reward_std",
        "rewards/vowels/mean",
        "completions/mean_length",
        "kl",
        "entropy",
    ):
        assert ddp[key] == pytest.approx(single[key], rel=1e-4, abs=1e-6), key
    assert single["loss"] != 0.0
    one, two = load_file(tmp_path / "single.safetensors"), load_file(tmp_path / "ddp.safetensors")
    moved = [
        name for name in one if not torch.equal(one[name], load_file(tmp_path / "single.safetensors")[name])
    ]
    assert not moved
    for name, value in one.items():
        torch.testing.assert_close(two[name], value, rtol=1e-4, atol=1e-6, msg=name)
