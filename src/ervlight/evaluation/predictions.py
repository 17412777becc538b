"""Test-time predictions on disk: one JSON line per clip (clip, dataset, fold, gold, completion).

``ervlight test`` writes them through :class:`PredictionWriter` (a Lightning callback that reads the completions a
module's ``test_step`` returns); ``ervlight report`` reads them back with :func:`read_predictions`, judges the
rationales and writes the report folder. Keeping generation and judging apart means a report can be rebuilt with
another judge without generating again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer

from ervlight.jsonl import read_jsonl
from ervlight.labels import get_label_space

__all__ = ["PredictionRecord", "PredictionWriter", "read_predictions", "write_predictions"]


@dataclass(frozen=True)
class PredictionRecord:
    """One generated completion for one test clip.

    Attributes:
        clip_id: the clip's id in its dataset.
        dataset: label-space name (``"dfew"``, ``"mafw"``…).
        fold: official fold (``None`` for sources without folds).
        gold: canonical gold label.
        completion: the policy's full output (``<think>…</think><answer>…</answer>``).
    """

    clip_id: str
    dataset: str
    fold: int | None
    gold: str
    completion: str


def write_predictions(records: Iterable[PredictionRecord], path: str | Path) -> Path:
    """Write records as JSON lines (parent folders created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")
    return path


def _record(row: dict[str, Any], where: str) -> PredictionRecord:
    """Validate one JSON line's object; ``ValueError`` naming the file and line (``where``) on a bad row."""
    missing = [key for key in ("clip_id", "dataset", "gold", "completion") if key not in row]
    if missing:
        raise ValueError(f"{where}: missing field(s) {', '.join(missing)}")
    try:
        space = get_label_space(str(row["dataset"]))
    except (KeyError, ValueError) as error:
        raise ValueError(f"{where}: unknown dataset {row['dataset']!r}") from error
    gold = space.normalize(str(row["gold"]))
    if gold is None:
        raise ValueError(f"{where}: gold label {row['gold']!r} is not a {space.name} label")
    fold = row.get("fold")
    return PredictionRecord(str(row["clip_id"]), space.name, None if fold is None else int(fold), gold,
                            str(row["completion"]))  # fmt: skip


def read_predictions(paths: Sequence[str | Path]) -> list[PredictionRecord]:
    """Read prediction files written by :class:`PredictionWriter`, in order; errors name the file and line."""
    records: list[PredictionRecord] = []
    for name in paths:
        path = Path(name)
        if not path.is_file():
            raise FileNotFoundError(f"predictions file {path} does not exist")
        records.extend(_record(row, where) for where, row in read_jsonl(path))
    if not records:
        raise ValueError(f"no predictions in {', '.join(str(p) for p in paths)}")
    return records


class PredictionWriter(Callback):
    """Collect the completions ``test_step`` returns and write them as JSON lines at the end of testing.

    The module's ``test_step`` must return ``{"completions": list[str]}``, one per clip (``SFTModule`` does); the
    batch gives clip ids, datasets and gold labels; the fold comes from ``fold`` or the datamodule's ``fold``.

    Args:
        path: the JSONL file to write (``{trainer.log_dir}`` inside it is filled in).
        fold: the fold to record (default: ``trainer.datamodule.fold`` when it has one, else ``None``).
    """

    def __init__(self, path: str = "predictions.jsonl", fold: int | None = None) -> None:
        self.path = path
        self.fold = fold
        self.records: list[PredictionRecord] = []

    def on_test_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Start an empty collection."""
        self.records = []

    def on_test_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Keep one record per clip of the batch."""
        texts = outputs.get("completions") if isinstance(outputs, dict) else None
        if not isinstance(texts, list) or len(texts) != len(batch.clip_ids):
            raise TypeError(
                f"PredictionWriter needs {type(pl_module).__name__}.test_step to return "
                f"{{'completions': [one text per clip]}} ({len(batch.clip_ids)} clips), got {type(outputs).__name__}"
            )
        fold = (
            self.fold
            if self.fold is not None
            else getattr(getattr(trainer, "datamodule", None), "fold", None)
        )
        for clip, dataset, gold, text in zip(
            batch.clip_ids, batch.datasets, batch.label_names, texts, strict=True
        ):
            self.records.append(PredictionRecord(str(clip), dataset, fold, gold, str(text)))

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Write the file (rank 0 of a single process; gather first under DDP is not done: run tests on one)."""
        if trainer.world_size > 1:
            raise RuntimeError("PredictionWriter writes from one process: run `ervlight test` with devices=1")
        path = self.path.replace("{trainer.log_dir}", str(trainer.log_dir or trainer.default_root_dir))
        write_predictions(self.records, path)
        print(f"wrote {len(self.records)} predictions to {path}")
