"""2-process FSDP2 and DDP (gloo, CPU) give the parameters of one process; a sharded checkpoint resumes exactly.

A tiny Qwen2.5-Omni thinker (2 text layers, a vision block, an audio layer), full fine-tuning with a frozen
reference, 2 GRPO steps of 4 clips (2 per rank), 2 micro-batches per rank sharing one prompt encoding, gradient
clipping, SGD with momentum (see ``shard_run.py``). FSDP2 runs with gradient checkpointing. Slow (four launches,
two of them of two processes; about 4 minutes on the 2-core development machine):
``pytest -m slow tests/grpo/test_sharding.py``.
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
TOLERANCE = 1e-5


def _run(out: Path, folder: Path, mode: str) -> None:
    paths = [str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(HERE / "shard_run.py"), str(out), str(folder), mode],
        env=env, capture_output=True, text=True, timeout=900, cwd=out,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four runs' outputs: ``policy_<mode>/`` (saved at the end of fit), ``<mode>.json`` and ``ckpt/``."""
    sys.path.insert(0, str(HERE.parent))
    from policy.omni_folder import build_omni_folder

    out = tmp_path_factory.mktemp("sharding")
    folder = build_omni_folder(out / "omni")
    for mode in ("single", "ddp", "fsdp", "fsdp_resume"):
        _run(out, folder, mode)
    return out


def _weights(out: Path, mode: str) -> dict[str, torch.Tensor]:
    return load_file(out / f"policy_{mode}" / "lm" / "model.safetensors")


def _assert_same(actual: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        torch.testing.assert_close(actual[name], value, rtol=0, atol=TOLERANCE, msg=name)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["ddp", "fsdp"])
def test_two_processes_match_one_process(runs: Path, mode: str) -> None:
    single, other = _weights(runs, "single"), _weights(runs, mode)
    initial = load_file(runs / "omni" / "model.safetensors")
    moved = [name for name in single if not torch.equal(single[name], initial[name])]
    assert len(moved) == len(single) - 1  # all but the frozen, unused audio_bos_eos_token
    _assert_same(other, single)
    logged = json.loads((runs / f"{mode}.json").read_text())
    reference = json.loads((runs / "single.json").read_text())
    assert logged["world_size"] == 2
    for key in ("loss", "kl", "reward", "num_tokens"):
        assert logged[key] == pytest.approx(reference[key], rel=1e-4, abs=1e-6), key
    assert reference["kl"] > 0  # the frozen reference is used (beta > 0)


@pytest.mark.slow
def test_sharded_checkpoint_resumes_to_the_same_parameters(runs: Path) -> None:
    step_one = runs / "ckpt" / "step=1.ckpt"
    assert step_one.is_dir()
    assert sorted(p.name for p in step_one.iterdir()) == [
        ".metadata",
        "__0_0.distcp",
        "__1_0.distcp",
        "meta.pt",
    ]
    _assert_same(_weights(runs, "fsdp_resume"), _weights(runs, "fsdp"))
