"""The CLI spine: overview, version, dispatch, and LightningCLI in subclass mode."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from ervlight import __version__
from ervlight.cli import COMMANDS, LIGHTNING_SUBCOMMANDS, main
from ervlight.data.cli import DATA_COMMANDS

TOY_CONFIG = """
seed_everything: 3
trainer:
  max_epochs: 2
  accelerator: cpu
  logger: false
  enable_checkpointing: false
  enable_progress_bar: false
  enable_model_summary: false
  default_root_dir: {root}
model:
  class_path: toy_modules.ToyRegressor
  init_args:
    optimizer:
      class_path: torch.optim.SGD
      init_args:
        lr: 0.1
    lr_scheduler:
      class_path: torch.optim.lr_scheduler.StepLR
      init_args:
        step_size: 1
data:
  class_path: toy_modules.ToyData
  init_args:
    batch_size: 4
"""


def test_overview_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in [*LIGHTNING_SUBCOMMANDS, *COMMANDS]:
        assert f"\n  {name} " in out
    assert main([]) == 2


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"ervlight {__version__}\n"


def test_python_dash_m_is_the_same_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ervlight", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout == f"ervlight {__version__}\n"


def test_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train"]) == 2
    assert "ervlight: unknown command 'train'" in capsys.readouterr().err


def test_command_groups(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: ervlight data <command>")
    for name in DATA_COMMANDS:
        assert f"  {name} " in out
    assert main(["data", "frobnicate"]) == 2
    assert "ervlight data: unknown command 'frobnicate'" in capsys.readouterr().err


def test_labels_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["labels", "dfew", "--json"]) == 0
    rows = yaml.safe_load(capsys.readouterr().out)
    assert [r["label"] for r in rows] == ["happy", "sad", "neutral", "angry", "surprise", "disgust", "fear"]
    assert rows[0] == {
        "index": 0, "id": 1, "label": "happy", "r1omni": "happy", "accepts": ["happiness", "happy"],
        "goemotions": ["joy"],
    }  # fmt: skip
    assert main(["labels", "mafw_compound"]) == 0
    assert "anger_disgust" in capsys.readouterr().out


def _write_config(tmp_path: Path) -> Path:
    path = tmp_path / "toy.yaml"
    path.write_text(TOY_CONFIG.format(root=tmp_path))
    return path


def test_print_config_resolves_class_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--print_config", "--config", str(_write_config(tmp_path))])
    assert stop.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["class_path"] == "toy_modules.ToyRegressor"
    assert printed["model"]["init_args"]["optimizer"]["init_args"]["lr"] == 0.1
    assert printed["data"]["init_args"]["batch_size"] == 4
    assert printed["seed_everything"] == 3


@pytest.mark.parametrize("subcommand", ["fit", "validate", "test", "predict"])
def test_lightning_subcommands_run(tmp_path: Path, subcommand: str) -> None:
    assert main([subcommand, "--config", str(_write_config(tmp_path))]) == 0
    if subcommand == "fit":
        saved = yaml.safe_load((tmp_path / "config.yaml").read_text())
        assert saved["model"]["class_path"] == "toy_modules.ToyRegressor"


def test_injected_optimizer_sees_only_trainable_parameters() -> None:
    from toy_modules import ToyRegressor

    module = ToyRegressor(freeze_bias=True, optimizer=lambda params: torch.optim.SGD(params, lr=0.1))
    optimizer = module.configure_optimizers()
    assert [p.shape for group in optimizer.param_groups for p in group["params"]] == [torch.Size([1, 1])]
    frozen = ToyRegressor(optimizer=lambda params: torch.optim.SGD(params, lr=0.1))
    frozen.net.requires_grad_(False)
    with pytest.raises(ValueError, match="ToyRegressor has no trainable parameters"):
        frozen.configure_optimizers()
