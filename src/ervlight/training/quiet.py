"""Silence output that reads like trouble but is expected in an ``ervlight`` run (each with its reason)."""

from __future__ import annotations

import logging
import warnings

from lightning.pytorch.utilities.warnings import PossibleUserWarning

__all__ = ["TIP_PREFIX", "quiet_lightning"]

#: Start of Lightning's advertisements for its cloud services (litlogger, litmodels).
TIP_PREFIX = "💡 Tip:"


class _DropTips(logging.Filter):
    """Drops Lightning's cloud-service tips: adverts, not information about the run."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(TIP_PREFIX)


def quiet_lightning() -> None:
    """Drop Lightning's cloud tips and its warning about modules in eval mode at the start of training.

    The eval-mode warning is intended: ervlight's tasks keep frozen parts in eval mode on purpose (GRPO's reference
    policy and the explanation reward's verifier, frozen encoders), so that scoring has no dropout.
    """
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropTips) for f in logger.filters):
            logger.addFilter(_DropTips())
    warnings.filterwarnings("ignore", r"Found \d+ module\(s\) in eval mode", PossibleUserWarning)
