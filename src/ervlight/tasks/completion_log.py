"""Tables of sample completions for whichever Lightning loggers a run has, with a CSV file as the fallback.

TensorBoard gets a markdown table (its text plugin), Weights & Biases a ``wandb.Table`` (``log_table``), MLflow a
JSON table artifact (``log_table``), the CSV logger a ``completions.csv`` beside its ``metrics.csv``. A logger that
can show no table (or a run with only such loggers) gets ``completions.csv`` in the trainer's log directory.
Every CSV row starts with the optimiser ``step``; later steps are appended under the same header.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from lightning.pytorch import Trainer
from lightning.pytorch.loggers import CSVLogger, Logger, MLFlowLogger, TensorBoardLogger, WandbLogger

from ervlight.grpo.stats import markdown_table

__all__ = ["COMPLETIONS_CSV", "TABLE_KEY", "append_csv", "log_completion_table"]

#: Name of the completion table in every logger (and of the CSV file, with ``.csv``).
TABLE_KEY = "completions"
COMPLETIONS_CSV = f"{TABLE_KEY}.csv"

Rows = Sequence[dict[str, str | float]]


def append_csv(path: Path, rows: Rows, step: int) -> None:
    """Append ``rows`` to the CSV file ``path`` with a leading ``step`` column (the header once, when new)."""
    if not rows:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = ["step", *rows[0]]
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        if new:
            writer.writeheader()
        writer.writerows({"step": step, **row} for row in rows)


def _columns(rows: Rows) -> tuple[list[str], list[list[str | float]]]:
    """``(column names, row values)`` of a table."""
    columns = list(rows[0])
    return columns, [[row[key] for key in columns] for row in rows]


def _log_to(logger: Logger, rows: Rows, step: int) -> bool:
    """Log the table to ``logger`` in its own form; ``False`` when it can show no table."""
    if isinstance(logger, TensorBoardLogger):
        logger.experiment.add_text(TABLE_KEY, markdown_table(rows), step)
    elif isinstance(logger, WandbLogger):
        columns, data = _columns(rows)
        logger.log_table(key=TABLE_KEY, columns=columns, data=data, step=step)
    elif isinstance(logger, MLFlowLogger):
        columns, data = _columns(rows)
        table = {name: [values[i] for values in data] for i, name in enumerate(columns)}
        logger.experiment.log_table(logger.run_id, table, f"{TABLE_KEY}/step_{step:06d}.json")
    elif isinstance(logger, CSVLogger):
        append_csv(Path(logger.log_dir) / COMPLETIONS_CSV, rows, step)
    else:
        return False
    return True


def log_completion_table(trainer: Trainer, rows: Rows, step: int) -> list[str]:
    """Log ``rows`` to every logger of ``trainer`` that takes a table, else to ``<log dir>/completions.csv``.

    Call it on the main process only. Returns where the table went (logger class names, or the CSV path); a
    run without loggers logs nothing.
    """
    if not rows or not trainer.loggers:
        return []
    targets = [type(logger).__name__ for logger in trainer.loggers if _log_to(logger, rows, step)]
    if not targets:
        path = Path(trainer.log_dir or trainer.default_root_dir) / COMPLETIONS_CSV
        append_csv(path, rows, step)
        targets.append(str(path))
    return targets
