"""Class paths from before ``ervlight.tasks`` still name the same classes (old configs and imports keep working)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from ervlight.tasks.base import BaseModule
from ervlight.tasks.grpo import GRPOModule
from ervlight.tasks.schedules import WarmupCosineLR
from ervlight.tasks.sft import SFTModule

OLD_PATHS = {
    "ervlight.grpo.GRPOModule": GRPOModule,
    "ervlight.grpo.module.GRPOModule": GRPOModule,
    "ervlight.tasks.GRPOModule": GRPOModule,
    "ervlight.policy.sft.SFTModule": SFTModule,
    "ervlight.tasks.SFTModule": SFTModule,
    "ervlight.base.BaseModule": BaseModule,
    "ervlight.tasks.BaseModule": BaseModule,
    "ervlight.policy.schedule.WarmupCosineLR": WarmupCosineLR,
    "ervlight.tasks.WarmupCosineLR": WarmupCosineLR,
}
ROOT = Path(__file__).resolve().parents[2]


def resolve(class_path: str) -> object:
    """The object a dotted ``class_path`` names (as jsonargparse resolves it)."""
    module, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("path", sorted(OLD_PATHS))
def test_old_and_package_paths_name_the_new_classes(path: str) -> None:
    assert resolve(path) is OLD_PATHS[path]


def test_unknown_names_still_fail() -> None:
    with pytest.raises(AttributeError, match=r"module 'ervlight\.grpo' has no attribute 'GRPOTrainer'"):
        resolve("ervlight.grpo.GRPOTrainer")
    with pytest.raises(AttributeError, match=r"module 'ervlight\.tasks' has no attribute 'PPOModule'"):
        resolve("ervlight.tasks.PPOModule")


ENTRY_POINTS = [
    "ervlight.verifier.module",  # verifier -> tasks.base -> (rewards -> verifier) would be a partial import
    pytest.param("ervlight.grpo", marks=pytest.mark.slow),
    pytest.param("ervlight.tasks.base", marks=pytest.mark.slow),
    pytest.param("ervlight.base", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("first", ENTRY_POINTS)
def test_each_entry_point_imports_alone(first: str) -> None:
    # a fresh interpreter per entry module: a partial-import circle would raise ImportError here
    code = f"import {first}, ervlight.tasks.grpo, ervlight.grpo.module; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_old_class_path_config_still_parses(capsys: pytest.CaptureFixture[str]) -> None:
    from ervlight.cli import main

    config = ROOT / "configs" / "grpo" / "erv_parity_demo.yaml"
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--print_config", "--config", str(config), "--model", "ervlight.grpo.GRPOModule"])
    assert stop.value.code == 0
    assert "num_generations: 4" in capsys.readouterr().out
