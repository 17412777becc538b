"""Judge agreement: Cohen's kappa and the confusion table against hand computations and torchmetrics."""

from __future__ import annotations

import json
import math
import random

import pytest
import torch
from torchmetrics.functional.classification import multiclass_cohen_kappa

from ervlight.evaluation.agreement import UNJUDGED_LABEL, judge_agreement, pairwise_agreement

FIRST = ["happy", "happy", "sad", "sad", None, "angry", "happy", "neutral"]
SECOND = ["happy", "sad", "sad", "sad", "happy", "angry", None, "neutral"]


def test_kappa_dropping_unjudged_items_by_hand() -> None:
    result = judge_agreement(FIRST, SECOND, "dfew", judges=("llm", "verifier"))
    # Both judged: 6 items, 5 agree; marginals llm h2 s2 a1 n1, verifier h1 s3 a1 n1 -> p_e = 10/36.
    assert result.num_items == 8
    assert result.num_compared == 6
    assert result.observed == pytest.approx(5 / 6)
    assert result.expected == pytest.approx(10 / 36)
    assert result.kappa == pytest.approx(10 / 13)
    assert result.unjudged == (1, 1)
    assert result.labels == (
        "happy",
        "sad",
        "neutral",
        "angry",
        "surprise",
        "disgust",
        "fear",
        UNJUDGED_LABEL,
    )
    assert result.table[0] == (1, 1, 0, 0, 0, 0, 0, 1)  # llm happy: verifier happy, sad, unjudged
    assert result.table[7] == (1, 0, 0, 0, 0, 0, 0, 0)  # llm unjudged, verifier happy
    assert sum(map(sum, result.table)) == 8


def test_kappa_with_unjudged_as_a_category_by_hand() -> None:
    result = judge_agreement(FIRST, SECOND, "dfew", unjudged="category")
    # 8 items, 5 agree; marginals h3 s2 a1 n1 U1 vs h2 s3 a1 n1 U1 -> p_e = 15/64.
    assert result.num_compared == 8
    assert result.observed == pytest.approx(5 / 8)
    assert result.expected == pytest.approx(15 / 64)
    assert result.kappa == pytest.approx(25 / 49)


def test_kappa_matches_torchmetrics_on_random_answers() -> None:
    rng = random.Random(0)
    labels = ["anger", "disgust", "fear", "happiness", "neutral", "sadness"]
    first = [rng.choice(labels) for _ in range(300)]
    second = [a if rng.random() < 0.6 else rng.choice(labels) for a in first]
    index = {label: i for i, label in enumerate(labels)}
    reference = multiclass_cohen_kappa(
        torch.tensor([index[a] for a in first]), torch.tensor([index[b] for b in second]), num_classes=11
    )
    assert judge_agreement(first, second, "mafw").kappa == pytest.approx(reference.item(), abs=1e-6)


def test_degenerate_and_invalid_inputs() -> None:
    assert math.isnan(judge_agreement(["sad", "sad"], ["sad", "sad"], "dfew").kappa)  # p_e = 1: undefined
    nothing = judge_agreement([None], ["sad"], "dfew")
    assert (nothing.num_compared, math.isnan(nothing.kappa)) == (0, True)
    assert judge_agreement(["sad", "happy"], ["sad", "happy"], "dfew").kappa == pytest.approx(1.0)
    with pytest.raises(ValueError, match="judge 'b' answered 'joy', not a dfew label nor None"):
        judge_agreement(["sad"], ["joy"], "dfew", judges=("a", "b"))
    with pytest.raises(ValueError, match="answered 1 and 2 items"):
        judge_agreement(["sad"], ["sad", "sad"], "dfew")
    with pytest.raises(ValueError, match="'drop' or 'category'"):
        judge_agreement(["sad"], ["sad"], "dfew", unjudged="ignore")  # type: ignore[arg-type]


def test_pairwise_reports_and_serialisation() -> None:
    third = ["happy"] * 8
    results = pairwise_agreement({"llm": FIRST, "verifier": SECOND, "constant": third}, "dfew")
    assert [r.judges for r in results] == [("llm", "verifier"), ("llm", "constant"), ("verifier", "constant")]
    as_dict = json.loads(json.dumps(results[0].to_dict()))
    assert as_dict["kappa"] == pytest.approx(10 / 13)
    assert as_dict["table"][0] == [1, 1, 0, 0, 0, 0, 0, 1]
    markdown = results[0].to_markdown().splitlines()
    assert (
        markdown[0]
        == "| llm \\ verifier | happy | sad | neutral | angry | surprise | disgust | fear | (unjudged) |"
    )
    assert markdown[2] == "| happy | 1 | 1 | 0 | 0 | 0 | 0 | 0 | 1 |"
    assert markdown[-1] == (
        "Cohen's kappa = 0.7692 over 6 of 8 items (unjudged: llm 1, verifier 1; policy drop)."
    )
