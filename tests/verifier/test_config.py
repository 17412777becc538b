"""``configs/verifier/*.yaml``: they parse, and run tiny (fit, then test on the exported verifier)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ervlight.cli import main

CONFIGS = sorted((Path(__file__).parents[2] / "configs" / "verifier").glob("*.yaml"))


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_parses(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--print_config", "--config", str(config)])
    assert stop.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["class_path"] == "ervlight.verifier.VerifierModule"
    assert printed["data"]["class_path"] == "ervlight.data.datamodule.ERVDataModule"
    assert printed["data"]["init_args"]["modality"] == "text"


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_runs_tiny(config: Path, tiny_bert_dir: Path, corpus_file: Path, tmp_path: Path) -> None:
    exported = tmp_path / "verifier"
    tiny = [
        "--config", str(config),
        "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
        "--trainer.limit_test_batches", "1", "--trainer.logger", "false",
        "--trainer.default_root_dir", str(tmp_path), "--trainer.callbacks", "[]",
        "--trainer.enable_checkpointing", "false",
        "--data.init_args.text.path", str(corpus_file), "--data.init_args.text.source", "corpus",
        "--trainer.accelerator", "cpu", "--trainer.precision", "32-true",
    ]  # fmt: skip
    fit = ["--model.init_args.backbone", str(tiny_bert_dir), "--model.init_args.export_dir", str(exported)]
    assert main(["fit", *tiny, *fit]) == 0
    assert (exported / "config.json").is_file()
    assert (
        main(["test", *tiny, "--model.init_args.backbone", str(exported), "--model.init_args.export_dir", ""])
        == 0
    )
