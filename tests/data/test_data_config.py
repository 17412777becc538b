"""The shipped data YAML through LightningCLI (``ervlight.cli.main``): parsed, and a tiny fit on the mini trees."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from ervlight.base import BaseModule
from ervlight.cli import main
from ervlight.data.batch import MediaBatch
from ervlight.labels import MAFW

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "data" / "mafw_dfew.yaml"


class MediaProbe(BaseModule):
    """A linear classifier on mean frame colour and mean log-mel: just enough to consume MediaBatch in a fit."""

    def configure_models(self) -> None:
        self.head = nn.Linear(3 + 128, MAFW.num_classes)
        self.seen: list[str] = []

    def _step(self, batch: MediaBatch) -> torch.Tensor:
        assert batch.audio_features is not None
        features = torch.cat([batch.frames.mean(dim=(1, 3, 4)), batch.audio_features.mean(dim=2)], dim=1)
        self.seen.extend(batch.clip_ids)
        return nn.functional.cross_entropy(self.head(features), batch.labels.clamp(max=6))

    def training_step(self, batch: MediaBatch, batch_idx: int) -> torch.Tensor:
        return self._step(batch)

    def validation_step(self, batch: MediaBatch, batch_idx: int) -> None:
        if len(batch):  # a batch of only unreadable clips (here the missing DFEW 00011) holds no sample
            self.log("val/loss", self._step(batch), batch_size=len(batch))


def _overrides(mafw_root: Path, dfew_root: Path) -> list[str]:
    sources = f"[{{kind: mafw, root: {mafw_root}}}, {{kind: dfew, root: {dfew_root}}}]"
    return [
        f"--data.init_args.train={sources}",
        "--data.init_args.image_size=16",
        "--data.init_args.num_frames=2",
        "--data.init_args.num_workers=0",
        "--data.init_args.batch_size=5",
    ]


def test_shipped_yaml_parses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--print_config", "--model", "test_data_config.MediaProbe", "--data", str(CONFIG)])
    assert stop.value.code == 0
    data = yaml.safe_load(capsys.readouterr().out)["data"]
    assert data["class_path"] == "ervlight.data.datamodule.ERVDataModule"
    assert data["init_args"]["train"][0] == {
        "kind": "mafw", "root": "data/MAFW", "split": None, "fold": None, "view": "single", "captions": False,
        "media": "video", "media_root": None,
    }  # fmt: skip
    assert data["init_args"]["n_mels"] == 128


def test_tiny_fit_with_the_shipped_yaml(mafw_root: Path, dfew_root: Path, tmp_path: Path) -> None:
    args = [
        "fit", "--model", "test_data_config.MediaProbe", "--data", str(CONFIG), *_overrides(mafw_root, dfew_root),
        "--trainer.max_epochs=1", "--trainer.logger=false", "--trainer.enable_checkpointing=false",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
        f"--trainer.default_root_dir={tmp_path}",
    ]  # fmt: skip
    assert main(args) == 0
    saved = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert saved["data"]["init_args"]["image_size"] == 16
