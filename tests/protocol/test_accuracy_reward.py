"""AccuracyReward's accuracy_rule: ervlight's rule (default) or the reference rule, on the same completions."""

from __future__ import annotations

import pytest

from ervlight.rewards.accuracy import AccuracyReward
from ervlight.rewards.base import RewardInputs

COMPLETIONS = [
    "<think>a</think><answer>surprised</answer>",
    "<think>a</think><answer>unhappy</answer>",
    "<think>a</think><answer>\nhappy\n</answer>",
    "<think>a</think><answer>danger</answer>",
    "<think>a</think><answer>Sad</answer>",
]
INPUTS = RewardInputs(
    completions=COMPLETIONS,
    labels=["surprise", "happiness", "happy", "angry", "sadness"],
    datasets=["dfew", "mafw", "dfew", "dfew", "mafw"],
)


def test_default_rule_is_ervlights() -> None:
    reward = AccuracyReward()
    assert reward.accuracy_rule == "ervlight"
    assert reward(INPUTS).tolist() == [1.0, 0.0, 1.0, 0.0, 1.0]


def test_reference_rule() -> None:
    assert AccuracyReward(accuracy_rule="reference")(INPUTS).tolist() == [0.0, 1.0, 0.0, 1.0, 1.0]


def test_gold_in_another_accepted_form_is_normalised_first() -> None:
    inputs = RewardInputs(["<answer>anger</answer>"], ["Angry"], ["mafw"])
    assert AccuracyReward(accuracy_rule="reference")(inputs).tolist() == [1.0]


def test_unknown_rule_is_refused() -> None:
    with pytest.raises(
        ValueError, match="AccuracyReward accuracy_rule must be one of ervlight, reference, got 'r1'"
    ):
        AccuracyReward(accuracy_rule="r1")  # type: ignore[arg-type]
