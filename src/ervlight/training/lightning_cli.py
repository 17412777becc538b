"""``ErvlightCLI``: LightningCLI with ervlight's resume rules, progress bar and checks of what ``--config`` names.

- ``fit --ckpt_path <logger dir>/<version>/checkpoints/last.ckpt`` keeps logging to ``<version>``.
- When only ``max_steps`` bounds training, the progress bar reads ``Epoch k`` (not ``Epoch k/-2``).
- A Trainer fragment (``configs/grpo/strategy/*.yaml``) given to ``--config`` is refused with one line that says
  to pass it with ``--trainer``.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.callbacks import ProgressBar, RichProgressBar
from lightning.pytorch.cli import LightningCLI

from ervlight.errors import ConfigError
from ervlight.training.progress import StepBoundProgressBar
from ervlight.training.resume import keep_logger_version

__all__ = ["ErvlightCLI", "check_config_files", "config_files"]


class ErvlightCLI(LightningCLI):
    """LightningCLI that resumes the logger version of ``--ckpt_path`` and keeps the progress bar truthful."""

    def before_instantiate_classes(self) -> None:
        """Point the logger at the checkpoint's version folder when ``fit`` resumes."""
        config = self.config[self.subcommand] if self.subcommand else self.config
        ckpt_path = config.get("ckpt_path")
        logger = config.get("trainer", {}).get("logger")
        if self.subcommand == "fit" and ckpt_path and logger not in (None, True, False):
            keep_logger_version(logger, ckpt_path)

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """Lightning's trainer, with the default rich bar replaced by :class:`StepBoundProgressBar`."""
        trainer = super().instantiate_trainer(**kwargs)
        callbacks: list[Callback] = trainer.callbacks  # type: ignore[attr-defined]  # set by Trainer.__init__
        bars = [i for i, c in enumerate(callbacks) if isinstance(c, ProgressBar)]
        if len(bars) == 1 and type(callbacks[bars[0]]) is RichProgressBar:
            callbacks[bars[0]] = StepBoundProgressBar()
        return trainer


def config_files(args: Sequence[str]) -> list[str]:
    """The files named by ``--config FILE`` / ``--config=FILE`` in ``args``."""
    files = []
    for i, arg in enumerate(args):
        if arg == "--config" and i + 1 < len(args):
            files.append(args[i + 1])
        elif arg.startswith("--config="):
            files.append(arg.split("=", 1)[1])
    return files


def check_config_files(args: Sequence[str]) -> None:
    """Refuse a Trainer fragment given to ``--config`` (it belongs to ``--trainer``)."""
    trainer_options = set(inspect.signature(Trainer.__init__).parameters) - {"self"}
    for file in config_files(args):
        path = Path(file)
        if not path.is_file():
            continue  # jsonargparse reports a missing file itself
        try:
            content = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError):
            continue  # jsonargparse reports unreadable YAML itself
        if isinstance(content, dict) and content and set(content) <= trainer_options:
            raise ConfigError(
                f"{file} is a Trainer fragment (its keys {', '.join(sorted(content))} are Trainer options), not a "
                f"full config: pass it with --trainer {file} after --config of a full config"
            )
