"""The shipped SFT configs: both parse through the CLI; the demo config runs a tiny fit on the test fixtures."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
import yaml

from ervlight.cli import main
from ervlight.policy.backbones.tiny_omni import TinyOmni
from ervlight.tasks.schedules import WarmupCosineLR


def resolve(class_path: str) -> object:
    """The object a dotted ``class_path`` names."""
    module, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module), name)


CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "sft"


@pytest.mark.parametrize("name", ["demo.yaml", "qwen2_5_omni.yaml"])
def test_config_parses(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--print_config", "--config", str(CONFIGS / name)])
    assert stop.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    model = printed["model"]["init_args"]
    assert printed["model"]["class_path"] == "ervlight.tasks.sft.SFTModule"
    # jsonargparse prints the shortest import path of the class (the package re-exports it)
    assert resolve(model["lr_scheduler"]["class_path"]) is WarmupCosineLR
    assert printed["data"]["init_args"]["require_targets"] is True
    if name == "qwen2_5_omni.yaml":
        assert printed["trainer"]["max_epochs"] == 10
        assert printed["trainer"]["precision"] == "bf16-mixed"
        assert model["optimizer"]["init_args"]["lr"] == 2e-5
        assert model["lr_scheduler"]["init_args"]["warmup_ratio"] == 0.03
        assert model["policy"]["init_args"]["finetune"]["freeze"] == ["audio_encoder"]
        trainer = printed["trainer"]
        assert (
            trainer["devices"]
            * printed["data"]["init_args"]["batch_size"]
            * trainer["accumulate_grad_batches"]
            == 32
        )


def test_demo_config_tiny_fit(tmp_path: Path, emer_json: Path, dfew_root: Path) -> None:
    policy_dir = tmp_path / "policy"
    towers = tmp_path / "perception"  # the demo SFT starts from perception pre-training's saved policy
    TinyOmni(tokenizer_corpus=str(emer_json), hidden_size=32, intermediate_size=64).save_pretrained(towers)
    overrides = {
        "trainer.max_steps": "3",
        "trainer.max_epochs": "1",
        "trainer.check_val_every_n_epoch": "1",
        "trainer.limit_val_batches": "1",
        "trainer.default_root_dir": str(tmp_path),
        "trainer.logger.init_args.save_dir": str(tmp_path),
        "model.init_args.policy.init_args.pretrained": str(towers),
        "model.init_args.max_new_tokens": "4",
        "model.init_args.policy_dir": str(policy_dir),
        "data.init_args.train": json.dumps([{"kind": "emer", "root": str(emer_json)}]),
        "data.init_args.val": json.dumps([{"kind": "dfew", "root": str(dfew_root), "split": "test"}]),
        "data.init_args.batch_size": "2",
        "data.init_args.cache_dir": str(tmp_path / "cache"),
        "data.init_args.eval_batch_size": "2",
    }
    argv = ["fit", "--config", str(CONFIGS / "demo.yaml")]
    for key, value in overrides.items():
        argv.append(f"--{key}={value}")
    assert main(argv) == 0
    assert (policy_dir / "tiny_omni.json").is_file()
    assert (policy_dir / "lm" / "model.safetensors").is_file()
