"""Human ratings in the consistency report: human EEA/EPC/FCR beside the judges', agreement, a figure.

A prediction's ratings are found by its item id (:func:`ervlight.rating.items.item_key`), so ratings given on any
copy of the same predictions (a report's CSV or the test JSONL) apply. The human answer of an item is the majority
emotion of its raters (``None``, i.e. unjudged, on a tie or a majority of "none/unclear"). Human and judge metrics
are counted on the same rated clips with the project's metric collection.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure

from ervlight.evaluation.metric_inputs import encode_completions, encode_judgements, encode_targets
from ervlight.evaluation.metrics import consistency_metrics
from ervlight.evaluation.plots import bar_chart
from ervlight.evaluation.predictions import PredictionRecord
from ervlight.labels import get_label_space
from ervlight.parsing import parse_completion
from ervlight.rating.agreement import (
    bootstrap_agreement,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    majority,
)
from ervlight.rating.items import item_key
from ervlight.rating.store import UNCLEAR, Rating, latest_ratings

__all__ = ["HUMANS", "human_evaluation", "human_figure", "human_markdown"]

#: Row name of the human majority in the tables.
HUMANS = "humans (majority)"
_METRICS = ("eea", "epc", "fcr")


def _metrics(records: list[PredictionRecord], judged: list[str | None], dataset: str) -> dict[str, float]:
    """EEA/EPC/FCR of ``records`` with ``judged`` as the judge's answers."""
    encoded = encode_completions([r.completion for r in records], dataset)
    collection = consistency_metrics(get_label_space(dataset).num_classes, formatted=False)
    collection.update(preds=encoded.preds, target=encode_targets([r.gold for r in records], dataset),
                      judged=encode_judgements(judged, dataset))  # fmt: skip
    values = collection.compute()
    return {key: float(values[key]) for key in _METRICS}


def _inter_rater(per_item: list[dict[str, str]]) -> dict[str, Any]:
    """Cohen's kappa (2 raters, co-rated items) or Fleiss' kappa (items rated by all), and Krippendorff's alpha."""
    raters = sorted({rater for answers in per_item for rater in answers})
    multi = [answers for answers in per_item if len(answers) >= 2]
    alpha = krippendorff_alpha([list(answers.values()) for answers in multi])
    if len(raters) == 2:
        both = [answers for answers in multi if len(answers) == 2]
        kappa = cohen_kappa([a[raters[0]] for a in both], [a[raters[1]] for a in both])
        statistic, items = "Cohen's kappa", len(both)
    else:
        full = [[answers[r] for r in raters] for answers in per_item if len(answers) == len(raters)]
        kappa = fleiss_kappa(full) if len(raters) > 2 else math.nan
        statistic, items = "Fleiss' kappa", len(full)
    return {"raters": len(raters), "items": items, "statistic": statistic, "kappa": _number(kappa),
            "alpha": _number(alpha), "items_alpha": len(multi)}  # fmt: skip


def _number(value: float) -> float | None:
    """``None`` for ``nan`` (JSON has no NaN)."""
    return None if math.isnan(value) else value


def human_evaluation(
    records: Sequence[PredictionRecord], answers: dict[str, list[str | None]], ratings: Sequence[Rating]
) -> dict[str, Any]:
    """Per dataset: human and judge EEA/EPC/FCR on the rated clips, supports/coherence, agreement (JSON-ready)."""
    by_item: dict[str, dict[str, Rating]] = defaultdict(dict)
    for (rater, item), rating in latest_ratings(ratings).items():
        by_item[item][rater] = rating
    out: dict[str, Any] = {"num_ratings": sum(map(len, by_item.values())),
                           "raters": sorted({r.rater for r in ratings}), "datasets": {}}  # fmt: skip
    for dataset in sorted({r.dataset for r in records}):
        rows = [i for i, r in enumerate(records) if r.dataset == dataset]
        rated: list[tuple[int, dict[str, Rating]]] = []
        for i in rows:
            parsed = parse_completion(records[i].completion)
            answer = parsed.answer_or_text(records[i].completion).strip()
            key = item_key(dataset, records[i].fold, records[i].clip_id, parsed.think or "", answer)
            if key in by_item:
                rated.append((i, by_item[key]))
        if not rated:
            continue
        emotions = [{rater: r.emotion or UNCLEAR for rater, r in given.items()} for _, given in rated]
        human = [majority(list(e.values())) for e in emotions]
        judged_human = [None if h in (None, UNCLEAR) else str(h) for h in human]
        subset = [records[i] for i, _ in rated]
        metrics = {HUMANS: _metrics(subset, judged_human, dataset)}
        judges: dict[str, Any] = {}
        decided = [k for k, h in enumerate(human) if h is not None]
        for name, judged in answers.items():
            mine = [judged[i] for i, _ in rated]
            metrics[name] = _metrics(subset, mine, dataset)
            judge_side = [mine[k] or UNCLEAR for k in decided]
            human_side = [str(human[k]) for k in decided]
            agree = (
                sum(a == b for a, b in zip(judge_side, human_side, strict=True)) / len(decided)
                if decided
                else math.nan
            )
            intervals = bootstrap_agreement(judge_side, human_side)
            judges[name] = {"items": len(decided), "agreement": _number(agree),
                            "agreement_ci": [_number(v) for v in intervals["agreement"]],
                            "kappa": _number(cohen_kappa(judge_side, human_side)),
                            "kappa_ci": [_number(v) for v in intervals["kappa"]]}  # fmt: skip
        supports = [r.supports for _, given in rated for r in given.values() if r.supports is not None]
        coherence = [r.coherence for _, given in rated for r in given.values()]
        out["datasets"][dataset] = {
            "clips": len(rated),
            "total": len(rows),
            "metrics": metrics,
            "supports": sum(supports) / len(supports) if supports else None,
            "coherence": {
                "mean": statistics.fmean(coherence),
                "std": statistics.stdev(coherence) if len(coherence) > 1 else None,
            },
            "inter_rater": _inter_rater(emotions),
            "judges": judges,
        }
    return out


def _pct(value: float | None) -> str:
    """A rate as a percentage with one decimal (``—`` when undefined)."""
    return "—" if value is None else f"{100 * value:.1f}"


def _num(value: float | None) -> str:
    """A statistic with three decimals (``—`` when undefined)."""
    return "—" if value is None else f"{value:.3f}"


def human_markdown(human: dict[str, Any]) -> list[str]:
    """The report's "Human ratings" section as Markdown lines."""
    lines = ["", "## Human ratings", "",
             f"{human['num_ratings']} ratings by {len(human['raters'])} rater(s). Human answer = the raters' "
             "majority emotion (a tie or none/unclear counts as unjudged); every row is counted on the rated clips.",
             "", "| dataset | judge | clips | EEA | EPC | FCR |", "|---|---|---|---|---|---|"]  # fmt: skip
    for dataset, part in human["datasets"].items():
        clips = f"{part['clips']}/{part['total']}"
        for name, values in part["metrics"].items():
            lines.append(
                f"| {dataset} | {name} | {clips} | " + " | ".join(_pct(values[m]) for m in _METRICS) + " |"
            )
    lines += ["", "| dataset | supports the answer (%) | coherence 1-5 (mean ± std) |", "|---|---|---|"]
    for dataset, part in human["datasets"].items():
        coherence = part["coherence"]
        std = "" if coherence["std"] is None else f" ± {coherence['std']:.2f}"
        lines.append(f"| {dataset} | {_pct(part['supports'])} | {coherence['mean']:.2f}{std} |")
    lines += ["", "### Inter-rater agreement (emotion)", "",
              "| dataset | raters | statistic | items | kappa | Krippendorff's alpha | items (alpha) |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for dataset, part in human["datasets"].items():
        ir = part["inter_rater"]
        lines.append(f"| {dataset} | {ir['raters']} | {ir['statistic']} | {ir['items']} | {_num(ir['kappa'])} | "
                     f"{_num(ir['alpha'])} | {ir['items_alpha']} |")  # fmt: skip
    lines += ["", "### Judges vs the human majority (emotion; 95% bootstrap intervals)", "",
              "| dataset | judge | items | agreement (%) | 95% CI | Cohen's kappa | 95% CI |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for dataset, part in human["datasets"].items():
        for name, j in part["judges"].items():
            ci_a = f"{_pct(j['agreement_ci'][0])}–{_pct(j['agreement_ci'][1])}"
            ci_k = f"{_num(j['kappa_ci'][0])}–{_num(j['kappa_ci'][1])}"
            lines.append(f"| {dataset} | {name} | {j['items']} | {_pct(j['agreement'])} | {ci_a} | "
                         f"{_num(j['kappa'])} | {ci_k} |")  # fmt: skip
    return lines


def human_figure(human: dict[str, Any], title: str) -> Figure:
    """Bars of EEA/EPC/FCR per dataset: the human majority beside every judge, on the rated clips."""
    categories = [f"{dataset} {m.upper()}" for dataset in human["datasets"] for m in _METRICS]
    names = list(next(iter(human["datasets"].values()))["metrics"]) if human["datasets"] else [HUMANS]
    series = {
        name: [
            math.nan if part["metrics"].get(name) is None else part["metrics"][name][m]
            for part in human["datasets"].values()
            for m in _METRICS
        ]
        for name in names
    }
    return bar_chart(categories or ["(no rated clips)"], series if categories else {HUMANS: [math.nan]},
                     f"{title}: humans vs judges on the rated clips")  # fmt: skip
