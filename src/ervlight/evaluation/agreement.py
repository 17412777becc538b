"""Agreement between two judges of the same rationales: Cohen's kappa and a confusion table, unjudged included.

Relying on one closed LLM judge is the paper's own stated limitation; comparing any two judges (an LLM, the
verifier judge, a second verifier, human raters) says how far the explanation metrics depend on the judge.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ervlight.labels import get_label_space

__all__ = [
    "UNJUDGED_LABEL",
    "JudgeAgreement",
    "UnjudgedPolicy",
    "judge_agreement",
    "kappa_from_table",
    "pairwise_agreement",
]

#: Name of the extra row/column of the agreement table for ``None`` answers.
UNJUDGED_LABEL = "(unjudged)"

#: How kappa treats an item that one judge or both left unjudged: ``"drop"`` compares only items both judges
#: labelled (the default); ``"category"`` treats "unjudged" as one more category.
UnjudgedPolicy = Literal["drop", "category"]


@dataclass(frozen=True)
class JudgeAgreement:
    """How two judges agree on the same ``N`` rationales.

    Attributes:
        judges: the two judges' names (rows, columns).
        labels: the categories of the table: the label space's labels, then :data:`UNJUDGED_LABEL`.
        table: ``(C+1) x (C+1)`` counts, rows = first judge, columns = second judge, all ``N`` items.
        kappa: Cohen's kappa over the compared items (``nan`` when undefined: no items, or chance agreement 1).
        observed: observed agreement p_o over the compared items.
        expected: chance agreement p_e from the two judges' marginals over the compared items.
        num_items: ``N``.
        num_compared: items entering kappa (both judged under ``"drop"``, all under ``"category"``).
        unjudged: how many items each judge left unjudged (first, second).
        unjudged_policy: the :data:`UnjudgedPolicy` used.
    """

    judges: tuple[str, str]
    labels: tuple[str, ...]
    table: tuple[tuple[int, ...], ...]
    kappa: float
    observed: float
    expected: float
    num_items: int
    num_compared: int
    unjudged: tuple[int, int]
    unjudged_policy: UnjudgedPolicy

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``nan`` kappa becomes ``None``)."""
        out = asdict(self)
        for key in ("kappa", "observed", "expected"):
            out[key] = None if math.isnan(out[key]) else out[key]
        out["table"] = [list(row) for row in self.table]
        return out

    def to_markdown(self) -> str:
        """The table as Markdown, rows = first judge, columns = second judge, with kappa underneath."""
        a, b = self.judges
        lines = [f"| {a} \\ {b} | " + " | ".join(self.labels) + " |", "|---" * (len(self.labels) + 1) + "|"]
        for label, row in zip(self.labels, self.table, strict=True):
            lines.append(f"| {label} | " + " | ".join(map(str, row)) + " |")
        kappa = "undefined" if math.isnan(self.kappa) else f"{self.kappa:.4f}"
        lines.append("")
        lines.append(
            f"Cohen's kappa = {kappa} over {self.num_compared} of {self.num_items} items "
            f"(unjudged: {a} {self.unjudged[0]}, {b} {self.unjudged[1]}; policy {self.unjudged_policy})."
        )
        return "\n".join(lines)


def _category(answer: str | None, labels: tuple[str, ...], judge: str, dataset: str) -> int:
    """Column of an answer in the table; ``ValueError`` for an answer outside the label space."""
    if answer is None:
        return len(labels)
    try:
        return labels.index(answer)
    except ValueError:
        raise ValueError(f"judge {judge!r} answered {answer!r}, not a {dataset} label nor None") from None


def kappa_from_table(table: Sequence[Sequence[int]]) -> tuple[float, float, float, int]:
    """Cohen's kappa, p_o, p_e and n of a square count table (rows: first rater, columns: second); ``nan`` kappa
    when undefined (no items, or chance agreement 1)."""
    n = sum(map(sum, table))
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    observed = sum(table[k][k] for k in range(len(table))) / n
    rows = [sum(row) for row in table]
    cols = [sum(col) for col in zip(*table, strict=True)]
    expected = sum(r * c for r, c in zip(rows, cols, strict=True)) / (n * n)
    kappa = math.nan if expected == 1 else (observed - expected) / (1 - expected)
    return kappa, observed, expected, n


def judge_agreement(
    first: Sequence[str | None],
    second: Sequence[str | None],
    dataset: str,
    judges: tuple[str, str] = ("first", "second"),
    unjudged: UnjudgedPolicy = "drop",
) -> JudgeAgreement:
    """Compare two judges' answers (canonical labels of ``dataset`` or ``None``) on the same rationales."""
    if len(first) != len(second):
        raise ValueError(
            f"judges {judges[0]!r} and {judges[1]!r} answered {len(first)} and {len(second)} items"
        )
    if unjudged not in ("drop", "category"):
        raise ValueError(f"unjudged policy must be 'drop' or 'category', got {unjudged!r}")
    labels = get_label_space(dataset).labels
    size = len(labels) + 1
    table = [[0] * size for _ in range(size)]
    for a, b in zip(first, second, strict=True):
        table[_category(a, labels, judges[0], dataset)][_category(b, labels, judges[1], dataset)] += 1
    compared = table if unjudged == "category" else [row[:-1] for row in table[:-1]]
    kappa, observed, expected, n = kappa_from_table(compared)
    return JudgeAgreement(
        judges=judges,
        labels=(*labels, UNJUDGED_LABEL),
        table=tuple(tuple(row) for row in table),
        kappa=kappa,
        observed=observed,
        expected=expected,
        num_items=len(first),
        num_compared=n,
        unjudged=(sum(table[-1]), sum(row[-1] for row in table)),
        unjudged_policy=unjudged,
    )


def pairwise_agreement(
    answers: Mapping[str, Sequence[str | None]], dataset: str, unjudged: UnjudgedPolicy = "drop"
) -> list[JudgeAgreement]:
    """:func:`judge_agreement` for every pair of named judges, in the mapping's order."""
    return [
        judge_agreement(answers[a], answers[b], dataset, judges=(a, b), unjudged=unjudged)
        for a, b in itertools.combinations(answers, 2)
    ]
