"""Running ``fit``: the resume checkpoint, resume of the logger version, signals and the command line's quiet mode."""

from ervlight.training.checkpoints import LastCheckpoint

__all__ = ["LastCheckpoint"]
