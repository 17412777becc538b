"""The judge interface behind EEA/EPC/FCR and running a judge over a mixed-dataset evaluation set.

A judge reads ONLY a rationale and names one emotion of a label list (:class:`Judge`); :func:`run_judge` asks it
about the rationales of several datasets, each in its own label space.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ervlight.labels import get_label_space

__all__ = ["Judge", "run_judge"]


@runtime_checkable
class Judge(Protocol):
    """Names one label of a dataset's label space per rationale, or ``None`` ("unjudged").

    ``None`` is returned when the judge's answer falls outside the label list or the judge failed; it is never
    silently mapped to "neutral".
    """

    name: str

    def judge(self, rationales: list[str], dataset: str) -> list[str | None]:
        """Judge each rationale against the label space named ``dataset`` (``"mafw"``, ``"dfew"``…)."""
        ...


def run_judge(judge: Judge, rationales: Sequence[str | None], datasets: Sequence[str]) -> list[str | None]:
    """Judge each rationale in its own dataset's label space; ``None`` stays ``None`` (unjudged) without a call.

    Rationales are grouped per dataset so the judge is called once per label space. Raises ``ValueError`` when
    the judge returns the wrong number of answers or a value that is neither a canonical label nor ``None``.
    """
    if len(rationales) != len(datasets):
        raise ValueError(f"{len(rationales)} rationales but {len(datasets)} dataset names")
    groups: dict[str, list[int]] = defaultdict(list)
    for i, (rationale, dataset) in enumerate(zip(rationales, datasets, strict=True)):
        if rationale is not None and rationale.strip():
            groups[dataset].append(i)
    result: list[str | None] = [None] * len(rationales)
    for dataset, positions in groups.items():
        space = get_label_space(dataset)
        answers = judge.judge([rationales[i] or "" for i in positions], dataset)
        if len(answers) != len(positions):
            raise ValueError(
                f"judge {judge.name!r} returned {len(answers)} answers for {len(positions)} rationales"
            )
        for i, answer in zip(positions, answers, strict=True):
            if answer is not None and answer not in space:
                raise ValueError(
                    f"judge {judge.name!r} returned {answer!r}, not a {space.name} label nor None"
                )
            result[i] = answer
    return result
