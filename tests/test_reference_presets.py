"""The parity presets ARE the reference protocol; the standard configs never select on test lists."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ervlight.cli import main
from ervlight.tasks.policy_task import JUDGED_METRICS

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
PARITY = ["grpo/erv_parity.yaml", "grpo/r1omni_baseline.yaml", "humanomni/grpo_0.5b.yaml"]
STANDARD = ["sft/qwen2_5_omni.yaml", "humanomni/sft_0.5b.yaml"]


def resolved(name: str, capsys: pytest.CaptureFixture[str]) -> dict:
    """The config as the CLI resolves it."""
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--print_config", "--config", str(CONFIGS / name)])
    assert stop.value.code == 0
    return yaml.safe_load(capsys.readouterr().out)


@pytest.mark.parametrize("name", PARITY)
def test_parity_presets_are_the_reference(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    config = resolved(name, capsys)
    data, model, trainer = config["data"]["init_args"], config["model"]["init_args"], config["trainer"]
    assert data["fold"] == 5
    assert data["val"] is None
    assert data["val_fraction"] == 0.0
    assert trainer["limit_val_batches"] == 0  # no validation at all
    callbacks = [c["class_path"] for c in trainer["callbacks"] or []]
    assert "ervlight.training.LastCheckpoint" in callbacks  # the latest state, never a selected one
    assert not any(path.endswith(".ModelCheckpoint") for path in callbacks)  # no model selection
    assert model["lr_scheduler"]["class_path"].endswith("WarmupLinearLR")
    assert model["lr_scheduler"]["init_args"]["warmup_ratio"] == 0.0
    assert model["lr_scheduler"]["init_args"]["min_ratio"] == 0.0
    assert model["top_k"] == 50
    assert model["optimizer"]["init_args"]["lr"] == 1.0e-06
    accuracy = next(r for r in model["rewards"] if r["name"] == "accuracy")
    assert accuracy["init_args"]["accuracy_rule"] == "reference"


@pytest.mark.parametrize("name", STANDARD)
def test_standard_configs_validate_on_a_share_of_training(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = resolved(name, capsys)["data"]["init_args"]
    assert data["val"] is None
    assert data["val_fraction"] == 0.1


def test_no_checkpoint_monitors_a_judged_metric_under_the_papers_name() -> None:
    for path in sorted(CONFIGS.rglob("*.yaml")):
        shipped = yaml.safe_load(path.read_text()) or {}
        callbacks = (shipped.get("trainer") or {}).get("callbacks") or []
        for callback in callbacks:
            monitor = (callback.get("init_args") or {}).get("monitor") or ""
            assert monitor.rsplit("/", 1)[-1] not in JUDGED_METRICS, f"{path}: {monitor}"
