"""The reference evaluation scripts' counting of WAR/UAR and EEA/EPC/FCR, restated per dataset.

``eval_score.py`` (WAR/UAR) counts every clip in WAR's denominator, but an answer it cannot map to a label
(:func:`~ervlight.protocol.scripts.script_answer` then :func:`~ervlight.protocol.reference.reference_label`)
stays in its class's UAR denominator for DFEW only: for MAFW the script raises before counting the clip's class,
so MAFW's per-class recall leaves unparseable answers out. UAR is the mean over ALL classes of the dataset, a class
without test clips counting 0.

``compare_reason-recognition.py`` (EEA/EPC/FCR) puts every clip whose answer it cannot read
(:func:`~ervlight.protocol.scripts.script_compare_answer`, no ``<answer>`` before the first ``|``, or outside the
labels) or whose judged emotion is not a label into its "R1 false / judge false" cell: such a clip counts against
EEA even when the judge named the gold emotion. All three rates divide by every clip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ervlight.labels import get_label_space
from ervlight.protocol.reference import REFERENCE_DATASETS, reference_label
from ervlight.protocol.scripts import script_answer, script_compare_answer

__all__ = [
    "ReferenceExplanation",
    "ReferenceRecognition",
    "recognition_from_counts",
    "recognition_outcome",
    "reference_explanation",
    "reference_recognition",
]


@dataclass(frozen=True)
class ReferenceRecognition:
    """WAR/UAR of one dataset as ``eval_score.py`` counts them.

    Attributes:
        war: correct / all clips.
        uar: mean over all classes of correct / class total (0 for a class without counted clips).
        per_class_recall: class -> recall (``None`` where the class total is 0; it counts 0 in ``uar``).
        class_totals: class -> clips counted in its recall denominator.
        unparseable: clips whose answer maps to no label.
        total: all clips.
    """

    war: float
    uar: float
    per_class_recall: dict[str, float | None]
    class_totals: dict[str, int]
    unparseable: int
    total: int


@dataclass(frozen=True)
class ReferenceExplanation:
    """EEA/EPC/FCR of one dataset as ``compare_reason-recognition.py`` counts them.

    Attributes:
        eea: clips with a readable answer and judged emotion = gold, / all clips.
        epc: clips with a readable answer = judged emotion, / all clips.
        fcr: clips with answer = gold and judged emotion = gold, / all clips.
        unreadable: clips counted "R1 false / judge false" because the answer or the judgement was unreadable.
        total: all clips.
    """

    eea: float
    epc: float
    fcr: float
    unreadable: int
    total: int


def _check(dataset: str, sizes: Sequence[int]) -> None:
    """``ValueError`` for a dataset the reference scripts do not evaluate or inputs of unequal lengths."""
    if dataset not in REFERENCE_DATASETS:
        raise ValueError(
            f"the reference protocol evaluates {', '.join(REFERENCE_DATASETS)} only, not {str(dataset)!r}"
        )
    if len(set(sizes)) > 1:
        raise ValueError(f"inputs of unequal lengths: {', '.join(map(str, sizes))}")


def recognition_outcome(completion: str, gold: str, dataset: str) -> tuple[bool, bool, bool]:
    """How ``eval_score.py`` counts one clip: (in its class's recall denominator, correct, unparseable).

    An answer that maps to no label is unparseable (wrong); it stays in its class's total for DFEW only (the
    DFEW script counts the class before mapping the answer, the MAFW script after).
    """
    answer = reference_label(script_answer(completion, dataset), dataset)
    readable = answer in get_label_space(dataset)
    return readable or dataset == "dfew", readable and answer == gold, not readable


def recognition_from_counts(
    correct: Sequence[int], totals: Sequence[int], unparseable: int, dataset: str
) -> ReferenceRecognition:
    """WAR/UAR from per-class correct and total counts (label-space order) and the unparseable count.

    WAR divides by every clip (counted in a class total or not); UAR is the mean over ALL classes of the dataset,
    a class without counted clips counting 0.
    """
    space = get_label_space(dataset)
    n = sum(totals) + (
        0 if dataset == "dfew" else unparseable
    )  # MAFW's unparseable clips are in no class total
    recall = {c: correct[i] / totals[i] if totals[i] else None for i, c in enumerate(space.labels)}
    return ReferenceRecognition(
        war=sum(correct) / n if n else 0.0,
        uar=sum(r or 0.0 for r in recall.values()) / len(space),
        per_class_recall=recall,
        class_totals={c: int(totals[i]) for i, c in enumerate(space.labels)},
        unparseable=int(unparseable),
        total=n,
    )


def reference_recognition(
    completions: Sequence[str], gold: Sequence[str], dataset: str
) -> ReferenceRecognition:
    """WAR/UAR of ``completions`` against canonical ``gold`` labels under ``eval_score.py``'s counting."""
    _check(dataset, [len(completions), len(gold)])
    space = get_label_space(dataset)
    totals = [0] * len(space)
    correct = [0] * len(space)
    unparseable = 0
    for completion, label in zip(completions, gold, strict=True):
        counted, right, lost = recognition_outcome(completion, label, dataset)
        index = space.labels.index(label)
        totals[index] += counted
        correct[index] += right
        unparseable += lost
    return recognition_from_counts(correct, totals, unparseable, dataset)


def reference_explanation(
    completions: Sequence[str], gold: Sequence[str], judged: Sequence[str | None], dataset: str
) -> ReferenceExplanation:
    """EEA/EPC/FCR under the comparison script's counting; ``judged`` holds the judge's labels (``None``: none)."""
    _check(dataset, [len(completions), len(gold), len(judged)])
    space = get_label_space(dataset)
    eea = epc = fcr = unreadable = 0
    for completion, label, judgement in zip(completions, gold, judged, strict=True):
        raw = script_compare_answer(completion)
        answer = reference_label(raw, dataset) if raw is not None else None
        if answer not in space or judgement not in space:
            unreadable += 1
            continue
        eea += judgement == label
        epc += answer == judgement
        fcr += answer == label and judgement == label
    n = len(gold)
    return ReferenceExplanation(
        eea=eea / n if n else 0.0,
        epc=epc / n if n else 0.0,
        fcr=fcr / n if n else 0.0,
        unreadable=unreadable,
        total=n,
    )
