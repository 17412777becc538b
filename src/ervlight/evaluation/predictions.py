"""Test-time predictions on disk: one JSON line per listed clip (clip, dataset, fold, gold, completion, status).

``status`` says how a clip was counted: ``ok`` (generated), ``unreadable`` (missing or undecodable: no completion,
counted as a wrong answer) or ``excluded`` (unreadable and left out of the metrics under the data module's
``unreadable_policy: readable_only``). Files without the field are read as ``ok``.

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
from torch.utils.data import DataLoader

from ervlight.data.batch import MediaBatch
from ervlight.jsonl import read_jsonl
from ervlight.labels import get_label_space

__all__ = [
    "STATUSES",
    "PredictionRecord",
    "PredictionWriter",
    "merge_parts",
    "read_predictions",
    "write_predictions",
]

#: the values of :attr:`PredictionRecord.status`.
STATUSES = ("ok", "unreadable", "excluded")


@dataclass(frozen=True)
class PredictionRecord:
    """One generated completion for one test clip.

    Attributes:
        clip_id: the clip's id in its dataset.
        dataset: label-space name (``"dfew"``, ``"mafw"``…).
        fold: official fold (``None`` for sources without folds).
        gold: canonical gold label.
        completion: the policy's full output (``<think>…</think><answer>…</answer>``; ``""`` if unreadable).
        status: ``ok``, ``unreadable`` (counted wrong) or ``excluded`` (unreadable, not counted); see the module.
    """

    clip_id: str
    dataset: str
    fold: int | None
    gold: str
    completion: str
    status: str = "ok"

    @property
    def scored(self) -> bool:
        """Whether the metrics count this clip (all but ``excluded`` ones)."""
        return self.status != "excluded"


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
    status = str(row.get("status", "ok"))
    if status not in STATUSES:
        raise ValueError(f"{where}: status {status!r} is not one of {', '.join(STATUSES)}")
    return PredictionRecord(str(row["clip_id"]), space.name, None if fold is None else int(fold), gold,
                            str(row["completion"]), status)  # fmt: skip


def read_predictions(paths: Sequence[str | Path]) -> list[PredictionRecord]:
    """Read prediction files written by :class:`PredictionWriter`, in order; errors name the file and line.

    A clip (dataset, fold, id) listed twice, in one file or across files, is refused (``ValueError``).
    """
    records: list[PredictionRecord] = []
    seen: dict[tuple[str, int | None, str], str] = {}
    for name in paths:
        path = Path(name)
        if not path.is_file():
            raise FileNotFoundError(f"predictions file {path} does not exist")
        for where, row in read_jsonl(path):
            record = _record(row, where)
            key = (record.dataset, record.fold, record.clip_id)
            if key in seen:
                fold = "" if record.fold is None else f" fold {record.fold}"
                raise ValueError(
                    f"{where}: clip {record.clip_id} ({record.dataset}{fold}) is listed twice (first at "
                    f"{seen[key]}); a clip counts once: remove the duplicate row"
                )
            seen[key] = where
            records.append(record)
    if not records:
        raise ValueError(f"no predictions in {', '.join(str(p) for p in paths)}")
    return records


def _batch_indices(loader: Any) -> list[list[int]]:
    """The dataset indices of each batch a map-style loader yields on this rank (its sampler's order)."""
    batches = loader.batch_sampler if isinstance(loader, DataLoader) else None
    return [list(batch) for batch in batches] if batches is not None else []


def _loaders(trainer: Trainer) -> list[Any]:
    """The test dataloaders as a list (Lightning gives one loader or a sequence)."""
    loaders = trainer.test_dataloaders
    if loaders is None:
        return []
    return list(loaders) if isinstance(loaders, list | tuple) else [loaders]


def merge_parts(parts: Sequence[Path]) -> list[PredictionRecord]:
    """Records of per-rank part files in dataset order, padded repeats (same loader, index and clip) dropped."""
    rows: dict[tuple[int, int, str, str], PredictionRecord] = {}
    for part in parts:
        with part.open(encoding="utf-8") as handle:
            for text in handle:
                row = json.loads(text)
                record = PredictionRecord(row["clip_id"], row["dataset"], row["fold"], row["gold"],
                                          row["completion"], row.get("status", "ok"))  # fmt: skip
                rows.setdefault((row["loader"], row["index"], record.dataset, record.clip_id), record)
    return [rows[key] for key in sorted(rows)]


class PredictionWriter(Callback):
    """Collect the completions ``test_step`` returns and write them as JSON lines at the end of testing.

    The module's ``test_step`` must return ``{"completions": list[str]}``, one per clip (``SFTModule`` does); the
    batch gives clip ids, datasets and gold labels; the fold comes from ``fold`` or the datamodule's ``fold``. The
    batch's unreadable clips (:attr:`MediaBatch.unreadable`) are written too, with an empty completion and the
    status ``unreadable`` or ``excluded`` (``unreadable_policy: readable_only``).

    Several processes (``ervlight test --trainer.devices 8``): like Lightning's ``BasePredictionWriter``, each
    rank writes a part file ``<path>.rank<r>`` with the dataset index of every clip (from its sampler); rank 0
    merges them into ``path`` in dataset order, drops the repeats ``DistributedSampler`` pads the last batches
    with (same index and clip), and deletes the parts. The ranks must share the folder of ``path``. A batch's
    unreadable clips carry their dataset index; its generated clips take the batch's other indices, in order.

    Args:
        path: the JSONL file to write (``{trainer.log_dir}`` inside it is filled in).
        fold: the fold to record (default: ``trainer.datamodule.fold`` when it has one, else ``None``).
    """

    def __init__(self, path: str = "predictions.jsonl", fold: int | None = None) -> None:
        self.path = path
        self.fold = fold
        self.records: list[PredictionRecord] = []
        self.keys: list[tuple[int, int]] = []
        self._indices: list[list[list[int]]] = []

    def on_test_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Start an empty collection; read each loader's batch indices on this rank."""
        self.records, self.keys = [], []
        self._indices = [_batch_indices(loader) for loader in _loaders(trainer)]

    def on_test_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Keep one record per clip of the batch, with its dataset index."""
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
        batches = self._indices[dataloader_idx] if dataloader_idx < len(self._indices) else []
        indices = batches[batch_idx] if batch_idx < len(batches) else []
        unreadable = batch.unreadable if isinstance(batch, MediaBatch) else []
        lost_at = {lost.index for lost in unreadable}
        kept = [index for index in indices if index not in lost_at]  # the generated clips' dataset indices
        start = len(self.records)
        for position, (clip, dataset, gold, text) in enumerate(
            zip(batch.clip_ids, batch.datasets, batch.label_names, texts, strict=True)
        ):
            self.records.append(PredictionRecord(str(clip), dataset, fold, gold, str(text)))
            self.keys.append((dataloader_idx, kept[position] if position < len(kept) else start + position))
        status = (
            "unreadable"
            if isinstance(batch, MediaBatch) and batch.unreadable_policy == "wrong"
            else "excluded"
        )
        for position, lost in enumerate(unreadable, start=len(self.records) - start):
            self.records.append(
                PredictionRecord(lost.clip_id, lost.dataset, fold, lost.label_name, "", status)
            )
            self.keys.append((dataloader_idx, lost.index if lost.index >= 0 else start + position))

    def resolved_path(self, trainer: Trainer) -> Path:
        """The predictions file, ``{trainer.log_dir}`` filled in."""
        return Path(self.path.replace("{trainer.log_dir}", str(trainer.log_dir or trainer.default_root_dir)))

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Write the file; with several processes, write this rank's part and let rank 0 merge the parts."""
        path = self.resolved_path(trainer)
        if trainer.world_size == 1:
            write_predictions(self.records, path)
            print(f"wrote {len(self.records)} predictions to {path}")
            return
        part = path.with_name(f"{path.name}.rank{trainer.global_rank}")
        part.parent.mkdir(parents=True, exist_ok=True)
        with part.open("w", encoding="utf-8") as handle:
            for (loader, index), record in zip(self.keys, self.records, strict=True):
                row = {"loader": loader, "index": index, **asdict(record)}
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        trainer.strategy.barrier("prediction_parts_written")
        if trainer.is_global_zero:
            parts = [path.with_name(f"{path.name}.rank{r}") for r in range(trainer.world_size)]
            records = merge_parts(parts)
            write_predictions(records, path)
            for name in parts:
                name.unlink()
            print(f"wrote {len(records)} predictions from {trainer.world_size} processes to {path}")
        trainer.strategy.barrier("predictions_merged")
