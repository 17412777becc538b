"""#15 row 7: SIGTERM to ``ervlight fit`` saves ``last.ckpt`` at the stop, exports nothing and exits 143."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from fit_args import fit_args

from ervlight.cli import SIGTERM_EXIT

SRC = Path(__file__).resolve().parents[2] / "src"


def test_sigterm_saves_the_stop_step_and_exits_143(tmp_path: Path, dfew_root: Path, emer_json: Path) -> None:
    args = fit_args(tmp_path, dfew_root, emer_json, 50)
    callbacks = '[{"class_path": "sigterm_at.SigtermAt", "init_args": {"at": 3}}]'
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), str(Path(__file__).parent)]),
        "OMP_NUM_THREADS": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "ervlight", *args, f"--trainer.callbacks+={callbacks}"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == SIGTERM_EXIT == 143, done.stderr[-2000:]
    last = tmp_path / "tensorboard" / "version_0" / "checkpoints" / "last.ckpt"
    assert (
        torch.load(last, weights_only=True, map_location="cpu")["global_step"] == 3
    )  # the step it stopped at
    assert f"SIGTERM: stopped after step 3; {last} holds it (resume with --ckpt_path {last})" in done.stderr
    assert "ervlight: stopped by SIGTERM before the end of the run (exit 143)" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "policy").exists()  # no exported policy pretends the run finished
