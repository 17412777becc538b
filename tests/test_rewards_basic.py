"""The format and accuracy rewards against the reference rules."""

import pytest
import torch

from ervlight.rewards import AccuracyReward, FormatReward, RewardFunction, RewardInputs

COMPLETIONS = [
    "<think>The brows drop.</think>\n<answer> angry </answer>",  # well formed, adjective for MAFW
    "<think>Lip corners rise.</think><answer>Happy.</answer>",  # trailing period: strict 0, lenient 1
    "happy",  # no tags: the whole completion is the answer
    "<think>x</think><answer>contempt</answer>",  # outside DFEW
    # Two answers: the first counts for accuracy; the reference regex still full-matches (.*? stretches).
    "<think>x</think> <answer>sad</answer><answer>fear</answer>",
    "",
]
LABELS = ["anger", "happy", "happy", "neutral", "sad", "fear"]
DATASETS = ["mafw", "dfew", "dfew", "dfew", "dfew", "dfew"]


def test_format_reward() -> None:
    rewards = FormatReward()(RewardInputs(COMPLETIONS, LABELS, DATASETS))
    assert rewards.tolist() == [1.0, 1.0, 0.0, 1.0, 1.0, 0.0]
    assert rewards.dtype == torch.float32


def test_accuracy_reward_strict_and_lenient() -> None:
    inputs = RewardInputs(COMPLETIONS, LABELS, DATASETS)
    assert AccuracyReward()(inputs).tolist() == [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    assert AccuracyReward(strict=False)(inputs).tolist() == [1.0, 1.0, 1.0, 0.0, 1.0, 0.0]


def test_rewards_follow_the_protocol() -> None:
    assert isinstance(FormatReward(), RewardFunction)
    assert isinstance(AccuracyReward(), RewardFunction)
    assert [FormatReward.name, AccuracyReward.name] == ["format", "accuracy"]


def test_inputs_must_agree_in_length() -> None:
    with pytest.raises(ValueError, match="2 completions, 1 labels, 2 datasets"):
        RewardInputs(["a", "b"], ["happy"], ["dfew", "dfew"])
