"""A resumed ``fit`` keeps writing to the logger version its checkpoint came from (not a new ``version_N``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["checkpoint_logger_version", "keep_logger_version"]


def checkpoint_logger_version(ckpt_path: str | Path, save_dir: str | Path, name: str | None) -> str | None:
    """The version folder of a checkpoint at ``<save_dir>/<name>/<version>/checkpoints/*.ckpt`` (else ``None``)."""
    ckpt = Path(ckpt_path).resolve()
    version_dir = ckpt.parent.parent
    root = Path(save_dir, name or "").resolve()
    if ckpt.parent.name != "checkpoints" or version_dir.parent != root:
        return None
    return version_dir.name


def keep_logger_version(logger: Any, ckpt_path: str | Path) -> None:
    """Set ``version`` of a parsed logger config (``class_path`` + ``init_args``) to the checkpoint's version.

    Only loggers with ``save_dir``, ``name`` and an unset ``version`` (TensorBoardLogger, CSVLogger) are changed,
    and only when the checkpoint lies inside one of their version folders.
    """
    for entry in logger if isinstance(logger, list) else [logger]:
        init = getattr(entry, "init_args", None)
        if init is None or not {"save_dir", "name", "version"} <= set(vars(init)) or init.version is not None:
            continue
        version = checkpoint_logger_version(ckpt_path, init.save_dir, init.name)
        if version is not None:
            init.version = version
