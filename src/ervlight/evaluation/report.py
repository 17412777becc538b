"""The consistency report: judge test predictions and write ``metrics.json``, ``report.md``, PNGs and a rater CSV.

:func:`build_report` takes the records ``ervlight test`` wrote (:mod:`ervlight.evaluation.predictions`), asks one
or more judges about each rationale (the FIRST judge gives EEA/EPC/FCR; the others are compared with it by Cohen's
kappa), counts everything with the project's torchmetrics (:func:`consistency_metrics`) per dataset and fold, and
writes the report folder:

* ``metrics.json`` — per (dataset, fold) metrics, per-class recall, confusion counts; per dataset the mean and
  sample std over folds; judge agreement;
* ``report.md`` — the same as tables (mean ± std rows when several folds are given);
* ``confusion_<dataset>_fold<k>.png``, ``per_class_recall_<dataset>.png``, ``explanation_agreement.png``;
* ``predictions.csv`` — clip, gold, answer, rationale, per-sentence verifier labels, judge labels and an empty
  ``rater_score`` column for human raters;
* ``tensorboard/`` — the figures, the scalars and the markdown for TensorBoard.
"""

from __future__ import annotations

import json
import math
import shutil
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ervlight.evaluation.agreement import judge_agreement
from ervlight.evaluation.judge import Judge, run_judge
from ervlight.evaluation.metric_inputs import encode_completions, encode_judgements, encode_targets
from ervlight.evaluation.metrics import consistency_metrics
from ervlight.evaluation.plots import FIGURE_FORMATS
from ervlight.evaluation.predictions import PredictionRecord
from ervlight.evaluation.report_files import (
    SCALARS,
    format_value,
    write_csv,
    write_figures,
    write_markdown,
    write_tensorboard,
)
from ervlight.evaluation.report_results import GroupResult, Report
from ervlight.labels import get_label_space
from ervlight.rating.human import human_evaluation
from ervlight.rating.store import Rating
from ervlight.verifier.judge import VerifierJudge
from ervlight.verifier.rationales import RationaleScorer
from ervlight.verifier.scorer import SentenceVerifier

#: entries of a report folder that ``build_report`` writes (besides its figures) and replaces on a rerun.
_OWNED = frozenset({"metrics.json", "report.md", "predictions.csv", "tensorboard"})

__all__ = [
    "SCALARS",
    "GroupResult",
    "Report",
    "build_report",
    "comparison_table",
    "format_value",
    "load_metrics",
    "sentence_labels",
]


def sentence_labels(
    rationales: Sequence[str | None],
    verifier: SentenceVerifier,
    threshold: float = 0.1,
    top_k: int | None = 2,
) -> list[str]:
    """Per rationale, each sentence's verifier label set as ``"1: joy | 2: sadness, neutral"`` (the reward's rule)."""
    scored = RationaleScorer(verifier, threshold, top_k).score(rationales)
    return [
        " | ".join(f"{i}: {', '.join(labels)}" for i, labels in enumerate(rationale.label_sets(), start=1))
        for rationale in scored
    ]


def _group_result(
    dataset: str, fold: int | None, listed: list[PredictionRecord], judgements: list[str | None]
) -> GroupResult:
    """Count one group with the project's metric collection (``excluded`` clips counted only as unreadable)."""
    space = get_label_space(dataset)
    records = [r for r in listed if r.scored]
    judged = [j for r, j in zip(listed, judgements, strict=True) if r.scored]
    encoded = encode_completions([r.completion for r in records], dataset)
    collection = consistency_metrics(space.num_classes, judged=True, formatted=True, tables=True)
    collection.update(
        preds=encoded.preds,
        target=encode_targets([r.gold for r in records], dataset),
        judged=encode_judgements(judged, dataset),
        well_formatted=encoded.well_formatted,
    )
    values = collection.compute()
    recall = values.pop("per_class_recall").tolist()
    confusion = values.pop("confusion_matrix").tolist()
    metrics = {key: float(values[key]) for key in SCALARS}
    clips = {
        "listed": len(listed),
        "evaluated": sum(r.status == "ok" for r in listed),
        "unreadable": sum(r.status != "ok" for r in listed),
        "scored": len(records),
        "unjudged": int(metrics["unjudged"]),
    }
    return GroupResult(dataset, fold, len(records), metrics, dict(zip(space.labels, recall, strict=True)),
                       [[int(c) for c in row] for row in confusion], clips)  # fmt: skip


def _summary(groups: list[GroupResult]) -> dict[str, dict[str, dict[str, float | int | None]]]:
    """Per dataset and scalar: mean, sample std (``None`` with one fold) and the number of folds."""
    out: dict[str, dict[str, dict[str, float | int | None]]] = {}
    for dataset in sorted({g.dataset for g in groups}):
        members = [g for g in groups if g.dataset == dataset]
        out[dataset] = {}
        for key in SCALARS:
            values = [g.metrics[key] for g in members if not math.isnan(g.metrics[key])]
            out[dataset][key] = {
                "mean": statistics.fmean(values) if values else None,
                "std": statistics.stdev(values) if len(values) > 1 else None,
                "folds": len(values),
            }
    return out


def build_report(
    records: Sequence[PredictionRecord],
    judges: Sequence[Judge],
    out_dir: str | Path | None,
    name: str = "run",
    sentence_verifier: SentenceVerifier | None = None,
    tensorboard: bool = True,
    ratings: Sequence[Rating] | None = None,
    figure_formats: Sequence[str] = (),
) -> Report:
    """Judge ``records`` (first judge = the metrics' judge), count per dataset and fold, and write the folder.

    ``out_dir=None`` computes without writing. ``sentence_verifier`` fills the per-sentence label column of
    ``predictions.csv`` (default: the verifier of the first judge, when it has one). ``ratings`` (human ratings
    from ``ervlight rate``) add the "Human ratings" section (:func:`ervlight.rating.human.human_evaluation`).
    Figures are written as PNG plus ``figure_formats`` (``pdf``, ``svg``).
    """
    if not judges:
        raise ValueError("build_report needs at least one judge (the first gives EEA/EPC/FCR)")
    names = [judge.name for judge in judges]
    if len(set(names)) != len(names):
        raise ValueError(f"judge names must differ, got {names}")
    records = list(records)
    rationales = [encode_completions([r.completion], r.dataset).rationales[0] for r in records]
    datasets = [r.dataset for r in records]
    answers = {judge.name: run_judge(judge, rationales, datasets) for judge in judges}
    primary = answers[names[0]]
    keys = sorted({(r.dataset, r.fold) for r in records}, key=lambda k: (k[0], -1 if k[1] is None else k[1]))
    groups = []
    for dataset, fold in keys:
        rows = [i for i, r in enumerate(records) if (r.dataset, r.fold) == (dataset, fold)]
        groups.append(_group_result(dataset, fold, [records[i] for i in rows], [primary[i] for i in rows]))
    agreement = []
    for other in names[1:]:
        for dataset in sorted(set(datasets)):
            rows = [i for i, d in enumerate(datasets) if d == dataset]
            result = judge_agreement(
                [primary[i] for i in rows], [answers[other][i] for i in rows], dataset, (names[0], other)
            )
            agreement.append({"dataset": dataset, **result.to_dict()})
    report = Report(name, names[0], groups, _summary(groups), agreement)
    if ratings:
        report.human = human_evaluation(records, answers, ratings)
    if out_dir is None:
        return report
    verifier = sentence_verifier or (judges[0].verifier if isinstance(judges[0], VerifierJudge) else None)
    per_sentence = sentence_labels(rationales, verifier) if verifier is not None else [""] * len(records)
    folder = Path(out_dir)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{folder.name}.") as staging:
        stage = Path(staging)
        (stage / "metrics.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
        figures = write_figures(report, stage, figure_formats)
        write_markdown(report, stage, figures)
        write_csv(records, rationales, per_sentence, answers, stage / "predictions.csv", judges)
        if tensorboard:
            write_tensorboard(report, stage, figures)
        _replace_owned(stage, folder)
    report.folder = folder
    return report


def _owned(path: Path) -> bool:
    """Whether a report writes this entry of its folder (its files, its figures, ``tensorboard/``)."""
    return path.name in _OWNED or path.suffix.lstrip(".") in FIGURE_FORMATS


def _replace_owned(staging: Path, folder: Path) -> None:
    """Move a finished report from ``staging`` into ``folder``: the report files of an earlier run there go first
    (stale figures, a second TensorBoard event file), other files are left alone."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if _owned(old):
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old)
            else:
                old.unlink()
    for new in staging.iterdir():
        new.replace(folder / new.name)


def load_metrics(folder: str | Path) -> dict[str, Any]:
    """The ``metrics.json`` of a report folder; ``FileNotFoundError`` naming the folder."""
    path = Path(folder) / "metrics.json"
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not a report folder (no metrics.json)")
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def comparison_table(
    runs: dict[str, dict[str, Any]], metrics: Sequence[str] = ("war", "uar", "eea", "epc", "fcr")
) -> str:
    """A markdown table comparing runs (``{run name: metrics.json content}``): one row per run and dataset.

    Values are percentages, fold means, with ``± std`` when a run has several folds.
    """
    header = ["run", "dataset", "folds", *(SCALARS[m] for m in metrics)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for run, content in runs.items():
        for dataset, summary in content["summary"].items():
            cells = [run, dataset, str(max(int(summary[m]["folds"] or 0) for m in metrics))]
            for metric in metrics:
                cells.append(format_value(metric, summary[metric]["mean"], summary[metric]["std"]))
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
