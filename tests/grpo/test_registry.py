"""The reward registry: built-in names, weights, user rewards by class_path, explanation reward with a stub."""

from __future__ import annotations

import pytest
import torch
from grpo_stubs import KeywordVerifier

from ervlight.rewards import RewardRegistry, RewardSpec
from ervlight.rewards.base import RewardInputs
from ervlight.rewards.registry import BUILTIN_REWARDS, register_reward

GOOD = "<think>He smiles at her.</think>\n<answer>happy</answer>"
WRONG = "<think>She frowns.</think><answer>sad</answer>"
BROKEN = "happy"
INPUTS = RewardInputs([GOOD, WRONG, BROKEN], ["happy", "happy", "happy"], ["dfew"] * 3)


def test_builtin_rewards_score_in_config_order() -> None:
    registry = RewardRegistry([RewardSpec(name="format"), RewardSpec(name="accuracy", weight=2.0)])
    assert registry.names == ["format", "accuracy"]
    assert registry.weights.tolist() == [1.0, 2.0]
    torch.testing.assert_close(registry(INPUTS), torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]))
    assert registry.index("accuracy") == 1


def test_explanation_reward_with_a_stub_verifier() -> None:
    spec = RewardSpec(name="explanation", init_args={"verifier": KeywordVerifier()})
    registry = RewardRegistry([spec])
    # GOOD: one sentence with joy (gold happy -> joy): 1/1; WRONG: sadness only: 0; BROKEN: no think: 0.
    torch.testing.assert_close(registry(INPUTS), torch.tensor([[1.0], [0.0], [0.0]]))


def test_config_mappings_build_the_same_registry() -> None:
    registry = RewardRegistry([{"name": "format"}, {"class_path": "grpo_stubs.LengthReward", "weight": 0.5}])
    assert registry.names == ["format", "short"]
    assert registry.weights.tolist() == [1.0, 0.5]


def test_user_reward_by_class_path() -> None:
    spec = RewardSpec(class_path="grpo_stubs.LengthReward", weight=0.5, init_args={"max_chars": 5})
    registry = RewardRegistry([RewardSpec(name="format"), spec])
    assert registry.names == ["format", "short"]
    torch.testing.assert_close(registry(INPUTS)[:, 1], torch.tensor([0.0, 0.0, 1.0]))
    named = RewardRegistry([RewardSpec(name="brevity", class_path="grpo_stubs.LengthReward")])
    assert named.names == ["brevity"]


def test_register_reward_adds_a_name() -> None:
    register_reward("short_answer", "grpo_stubs.LengthReward")
    try:
        assert RewardRegistry([RewardSpec(name="short_answer")]).names == ["short_answer"]
        with pytest.raises(ValueError, match="already registered"):
            register_reward("format", "grpo_stubs.LengthReward")
    finally:
        del BUILTIN_REWARDS["short_answer"]


def test_bad_specs_give_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown reward name 'fromat'"):
        RewardRegistry([RewardSpec(name="fromat")])
    with pytest.raises(ValueError, match="cannot be imported"):
        RewardRegistry([RewardSpec(class_path="grpo_stubs.Missing")])
    with pytest.raises(TypeError, match="does not follow the RewardFunction protocol"):
        RewardRegistry([RewardSpec(class_path="grpo_stubs.KeywordVerifier")])
    with pytest.raises(ValueError, match="must be unique"):
        RewardRegistry([RewardSpec(name="format"), RewardSpec(name="format")])
    with pytest.raises(ValueError, match=r"unknown keys \['args'\]"):
        RewardRegistry([{"name": "format", "args": {}}])
    with pytest.raises(ValueError, match="at least one reward"):
        RewardRegistry([])
    with pytest.raises(KeyError, match="no reward named 'accuracy'"):
        RewardRegistry([RewardSpec(name="format")]).index("accuracy")
