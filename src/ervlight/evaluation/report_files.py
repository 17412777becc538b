"""Writers of a report folder's files: figures (PNG, PDF/SVG on request, TensorBoard), report.md, predictions.csv."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from matplotlib.figure import Figure

from ervlight.evaluation.judge import Judge
from ervlight.evaluation.llm_judge import LLMJudge
from ervlight.evaluation.plots import bar_chart, heatmap, save_figure
from ervlight.evaluation.predictions import PredictionRecord
from ervlight.labels import get_label_space
from ervlight.parsing import parse_completion
from ervlight.rating.human import human_figure, human_markdown

if TYPE_CHECKING:
    from ervlight.evaluation.report_results import GroupResult, Report

__all__ = [
    "SCALARS",
    "format_value",
    "judge_cell",
    "write_csv",
    "write_figures",
    "write_markdown",
    "write_tensorboard",
]

#: Scalar metrics of a report, in table order, with their column titles.
SCALARS: dict[str, str] = {
    "war": "WAR",
    "uar": "UAR",
    "eea": "EEA",
    "epc": "EPC",
    "fcr": "FCR",
    "fcr_given_correct": "FCR|correct",
    "format_rate": "format",
    "unparseable_rate": "unparseable",
    "unjudged": "unjudged",
}

#: The explanation metrics drawn in ``explanation_agreement.png``.
_AGREEMENT = ("war", "eea", "epc", "fcr", "fcr_given_correct")


def format_value(metric: str, mean: float | None, std: float | None = None) -> str:
    """A table cell: rates as percentages with one decimal, counts as numbers, ``—`` when undefined."""
    if mean is None or math.isnan(mean):
        return "—"
    if metric == "unjudged":
        text = str(int(mean)) if float(mean).is_integer() else f"{mean:.1f}"
        return text if std is None else f"{text} ± {std:.1f}"
    text = f"{100 * mean:.1f}"
    return text if std is None else f"{text} ± {100 * std:.1f}"


def write_figures(report: Report, folder: Path, formats: Sequence[str] = ()) -> dict[str, Figure]:
    """Draw the figures and save each as PNG plus the extra ``formats`` (``pdf``, ``svg``); ``{file stem: figure}``."""
    figures: dict[str, Figure] = {}
    for group in report.groups:
        labels = list(get_label_space(group.dataset).labels)
        fold = "all" if group.fold is None else f"fold{group.fold}"
        figures[f"confusion_{group.dataset}_{fold}"] = heatmap(
            group.confusion,
            labels,
            [*labels, "unparseable"],
            f"{report.name}: {group.dataset} {fold} confusion",
        )
    for dataset in sorted({g.dataset for g in report.groups}):
        members = [g for g in report.groups if g.dataset == dataset]
        labels = list(get_label_space(dataset).labels)
        series = {g.key.split("/")[1]: [g.per_class_recall[label] for label in labels] for g in members}
        figures[f"per_class_recall_{dataset}"] = bar_chart(labels, series, f"{report.name}: {dataset} recall")
    series = {SCALARS[m]: [g.metrics[m] for g in report.groups] for m in _AGREEMENT}
    figures["explanation_agreement"] = bar_chart(
        [g.key for g in report.groups], series, f"{report.name}: explanation agreement ({report.judge})"
    )
    if report.human is not None:
        figures["human_agreement"] = human_figure(report.human, report.name)
    for stem, figure in figures.items():
        save_figure(figure, folder, stem, ["png", *(f for f in dict.fromkeys(formats) if f != "png")])
    return figures


def _fold_rows(report: Report, dataset: str) -> list[str]:
    """Markdown rows of one dataset: one per fold, then mean ± std when there are several folds."""
    rows = []
    members = [g for g in report.groups if g.dataset == dataset]
    for group in members:
        fold = "—" if group.fold is None else str(group.fold)
        cells = [fold, str(group.num_clips), *(format_value(m, group.metrics[m]) for m in SCALARS)]
        rows.append("| " + " | ".join(cells) + " |")
    if len(members) > 1:
        summary = report.summary[dataset]
        cells = ["mean ± std", str(sum(g.num_clips for g in members))]
        cells += [format_value(m, summary[m]["mean"], summary[m]["std"]) for m in SCALARS]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def _clip_counts(group: GroupResult) -> str:
    """One markdown bullet with a group's listed / evaluated / unreadable / scored / unjudged clips."""
    fold = "all" if group.fold is None else f"fold {group.fold}"
    counts = ", ".join(
        f"{name} {group.clips.get(name, 0)}"
        for name in ("listed", "evaluated", "unreadable", "scored", "unjudged")
    )
    return f"- {fold}: {counts}"


def write_markdown(report: Report, folder: Path, figures: dict[str, Figure]) -> Path:
    """Write ``report.md``: per-dataset fold tables, per-class recall, judge agreement and the figures."""
    lines = [
        f"# Consistency report: {report.name}",
        "",
        f"Judge of EEA/EPC/FCR: **{report.judge}** (reads only the rationale). Rates in %; `unjudged` is a count. "
        "FCR is joint (answer = gold = judged); FCR|correct is conditional on a correct answer.",
    ]
    header = ["fold", "clips", *SCALARS.values()]
    for dataset in sorted(report.summary):
        lines += ["", f"## {dataset}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += _fold_rows(report, dataset)
        lines += [
            "",
            "Clips (listed = evaluated + unreadable; unreadable clips count as wrong unless excluded):",
            "",
        ]
        lines += [_clip_counts(group) for group in report.groups if group.dataset == dataset]
        labels = list(get_label_space(dataset).labels)
        members = [g for g in report.groups if g.dataset == dataset]
        lines += ["", "Per-class recall (%):", "", "| fold | " + " | ".join(labels) + " |"]
        lines.append("|" + "---|" * (len(labels) + 1))
        for group in members:
            cells = [format_value("recall", group.per_class_recall[label]) for label in labels]
            lines.append(f"| {group.key.split('/')[1]} | " + " | ".join(cells) + " |")
    if report.agreement:
        lines += [
            "",
            "## Judge agreement",
            "",
            "| dataset | judges | kappa | observed | compared | unjudged |",
        ]
        lines.append("|---|---|---|---|---|---|")
        for row in report.agreement:
            kappa = "—" if row["kappa"] is None else f"{row['kappa']:.3f}"
            observed = "—" if row["observed"] is None else f"{100 * row['observed']:.1f}"
            lines.append(
                f"| {row['dataset']} | {' vs '.join(row['judges'])} | {kappa} | {observed} | "
                f"{row['num_compared']}/{row['num_items']} | {row['unjudged'][0]} / {row['unjudged'][1]} |"
            )
    if report.human is not None:
        lines += human_markdown(report.human)
    lines += ["", "## Figures", ""] + [f"![{stem}]({stem}.png)" for stem in figures]
    lines += ["", "Rationales for human raters: `predictions.csv` (fill the `rater_score` column).", ""]
    path = folder / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def judge_cell(judge: Judge | None, answer: str | None, rationale: str | None, dataset: str) -> str:
    """A judge column's cell: the label; ``failed`` / ``out_of_list`` (an LLM judge's reason) or ``unjudged``
    when the judge named none; empty when there was no rationale to judge."""
    if answer is not None:
        return answer
    if not rationale or not rationale.strip():
        return ""
    if isinstance(judge, LLMJudge):
        return judge.unjudged_reason(rationale, dataset) or "unjudged"
    return "unjudged"


def write_csv(
    records: Sequence[PredictionRecord],
    rationales: Sequence[str | None],
    per_sentence: Sequence[str],
    answers: dict[str, list[str | None]],
    path: Path,
    judges: Sequence[Judge] = (),
) -> Path:
    """Write ``predictions.csv``: one row per clip for human raters (judge columns named ``judge:<name>``).

    A judge column holds the label, or why there is none (:func:`judge_cell`; ``judges`` gives the reasons).
    """
    by_name = {judge.name: judge for judge in judges}
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        judge_columns = [f"judge:{name}" for name in answers]
        writer.writerow(["clip", "dataset", "fold", "gold", "answer", "correct", "well_formatted", "rationale",
                         "verifier_sentences", *judge_columns, "rater_score"])  # fmt: skip
        for i, record in enumerate(records):
            parsed = parse_completion(record.completion)
            answer = parsed.answer_or_text(record.completion).strip()
            correct = get_label_space(record.dataset).normalize(answer, strict=True) == record.gold
            judged = [judge_cell(by_name.get(name), answers[name][i], rationales[i], record.dataset)
                      for name in answers]  # fmt: skip
            writer.writerow([record.clip_id, record.dataset, "" if record.fold is None else record.fold,
                             record.gold, answer, int(correct), int(parsed.well_formatted), rationales[i] or "",
                             per_sentence[i], *judged, ""])  # fmt: skip
    return path


def write_tensorboard(report: Report, folder: Path, figures: dict[str, Figure]) -> Path:
    """Log the figures, every scalar and the markdown report to ``folder/tensorboard``."""
    from torch.utils.tensorboard import SummaryWriter

    log_dir = folder / "tensorboard"
    writer = SummaryWriter(log_dir=str(log_dir))
    try:
        for stem, figure in figures.items():
            writer.add_figure(f"{report.name}/{stem}", figure, 0, close=False)
        for group in report.groups:
            for metric, value in group.metrics.items():
                if not math.isnan(value):
                    writer.add_scalar(f"{report.name}/{group.key}/{metric}", value, 0)
        writer.add_text(f"{report.name}/report", (folder / "report.md").read_text(encoding="utf-8"), 0)
    finally:
        writer.close()
    return log_dir
