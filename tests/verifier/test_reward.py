"""The explanation reward on hand-built rationales, with a stub verifier of fixed probabilities."""

from __future__ import annotations

import pytest
import torch

from ervlight.labels import DFEW
from ervlight.rewards import RewardFunction, RewardInputs
from ervlight.rewards.explanation import ExplanationReward
from verifier.helpers import StubVerifier

ANGRY = "He shouts at the clerk."
CALM = "The room is quiet."
HAPPY = "She laughs with her friends."
TABLE = {
    ANGRY: {"anger": 0.8, "annoyance": 0.3},
    HAPPY: {"joy": 0.7},
    CALM: {"neutral": 0.95},
    "Three emotions at once.": {"fear": 0.6, "nervousness": 0.5, "anger": 0.4},
    "Nothing is clear.": {"fear": 0.05, "anger": 0.08},
    'She says "I am fine. Really. Truly." with a frown.': {"anger": 0.3, "disapproval": 0.2},
    "He cries quietly.": {"sadness": 0.9},
}


def think(*sentences: str, answer: str = "angry") -> str:
    """A completion with these rationale sentences."""
    return f"<think>{' '.join(sentences)}</think>\n<answer>{answer}</answer>"


def rewards(
    reward: ExplanationReward, completions: list[str], labels: list[str], dataset: str = "dfew"
) -> list:
    """Rewards as a list of floats."""
    return reward(RewardInputs(completions, labels, [dataset] * len(completions))).tolist()


@pytest.fixture
def stub() -> StubVerifier:
    """The stub verifier over GoEmotions-28."""
    return StubVerifier(TABLE)


def test_protocol_and_name(stub: StubVerifier) -> None:
    reward = ExplanationReward(stub)
    assert isinstance(reward, RewardFunction)
    assert reward.name == "explanation"
    out = reward(RewardInputs([think(ANGRY)], ["angry"], ["dfew"]))
    assert out.dtype == torch.float32
    assert out.shape == (1,)


def test_no_think_and_empty_rationale_score_zero(stub: StubVerifier) -> None:
    completions = ["<answer>angry</answer>", "<think>   </think><answer>angry</answer>", ANGRY, ""]
    assert rewards(ExplanationReward(stub), completions, ["angry"] * 4) == [0.0, 0.0, 0.0, 0.0]
    assert stub.calls == []  # nothing to score: no forward pass


def test_unclosed_think_reads_only_when_allowed(stub: StubVerifier) -> None:
    truncated = f"<think>{ANGRY} {CALM}"
    assert rewards(ExplanationReward(stub), [truncated], ["angry"]) == [0.0]
    assert rewards(ExplanationReward(stub, require_closed_think=False), [truncated], ["angry"]) == [1.0]


def test_non_neutral_gold_divides_by_non_neutral_sentences(stub: StubVerifier) -> None:
    # anger, neutral-only, joy: m = 1, u = 2 -> 0.5; anger, neutral: m = 1, u = 1 -> 1.0
    out = rewards(
        ExplanationReward(stub), [think(ANGRY, CALM, HAPPY), think(ANGRY, CALM)], ["angry", "angry"]
    )
    assert out == [0.5, 1.0]


def test_all_neutral_rationale_with_non_neutral_gold_scores_zero(stub: StubVerifier) -> None:
    assert rewards(ExplanationReward(stub), [think(CALM, CALM)], ["angry"]) == [0.0]


def test_neutral_gold_divides_by_all_sentences(stub: StubVerifier) -> None:
    out = rewards(
        ExplanationReward(stub), [think(CALM, ANGRY, CALM), think(CALM, CALM)], ["neutral", "neutral"]
    )
    assert out == pytest.approx([2 / 3, 1.0])


def test_neutral_rule_off_always_divides_by_all(stub: StubVerifier) -> None:
    out = rewards(ExplanationReward(stub, neutral_rule=False), [think(ANGRY, CALM, HAPPY)], ["angry"])
    assert out == pytest.approx([1 / 3])


def test_quotes_with_periods_stay_one_sentence(stub: StubVerifier) -> None:
    quoted = 'She says "I am fine. Really. Truly." with a frown.'
    result = ExplanationReward(stub).explain(RewardInputs([think(quoted, CALM)], ["angry"], ["dfew"]))[0]
    assert [s.text for s in result.sentences] == [quoted, CALM]
    assert result.sentences[0].labels == ("anger", "disapproval")
    assert (result.matched, result.non_neutral, result.reward) == (1, 1, 1.0)


def test_more_than_top_k_labels_keeps_the_most_probable(stub: StubVerifier) -> None:
    sentence = "Three emotions at once."
    result = ExplanationReward(stub).explain(RewardInputs([think(sentence)], ["angry"], ["dfew"]))[0]
    assert result.sentences[0].labels == ("fear", "nervousness")  # anger (0.4) is third: dropped
    assert result.reward == 0.0
    wide = ExplanationReward(stub, top_k=3).explain(RewardInputs([think(sentence)], ["angry"], ["dfew"]))[0]
    assert wide.sentences[0].labels == ("fear", "nervousness", "anger")
    assert wide.reward == 1.0


def test_none_above_threshold_takes_the_argmax(stub: StubVerifier) -> None:
    sentence = "Nothing is clear."
    result = ExplanationReward(stub).explain(RewardInputs([think(sentence)], ["angry"], ["dfew"]))[0]
    assert result.sentences[0].labels == ("anger",)
    assert result.reward == 1.0
    assert result.sentences[0].probabilities["anger"] == pytest.approx(0.08)
    assert len(result.sentences[0].probabilities) == 28
    high = ExplanationReward(stub, threshold=0.9).explain(RewardInputs([think(ANGRY)], ["angry"], ["dfew"]))[
        0
    ]
    assert high.sentences[0].labels == ("anger",)


def test_gold_target_ignores_the_answer_predicted_target_uses_it(stub: StubVerifier) -> None:
    completion = think(HAPPY, answer="happy")
    assert rewards(ExplanationReward(stub), [completion], ["angry"]) == [0.0]
    predicted = ExplanationReward(stub, target="predicted")
    assert rewards(predicted, [completion, think(HAPPY, answer="banana")], ["angry", "angry"]) == [1.0, 0.0]


def test_mafw_labels_map_through_goemotions(stub: StubVerifier) -> None:
    reward = ExplanationReward(stub)
    inputs = RewardInputs(
        [think(HAPPY)] * 4, ["happiness", "anxiety", "helplessness", "contempt"], ["mafw"] * 4
    )
    assert [r.target for r in reward.explain(inputs)] == [
        ("joy",),
        ("nervousness",),
        ("grief",),
        ("disapproval",),
    ]
    assert reward(inputs).tolist() == [1.0, 0.0, 0.0, 0.0]


def test_label_map_overrides_the_default(stub: StubVerifier) -> None:
    reward = ExplanationReward(stub, label_map={"anxiety": "fear"})
    sentence = "Three emotions at once."
    assert rewards(reward, [think(sentence)], ["anxiety"], dataset="mafw") == [1.0]
    with pytest.raises(ValueError, match="not labels of the verifier"):
        ExplanationReward(stub, label_map={"anger": "rage"})(
            RewardInputs([think(ANGRY)], ["anger"], ["mafw"])
        )


def test_all_sentences_scored_in_one_verifier_call(stub: StubVerifier) -> None:
    completions = [think(ANGRY, CALM), think(HAPPY), "no think", think(ANGRY, "He cries quietly.")]
    out = rewards(ExplanationReward(stub), completions, ["angry", "happy", "sad", "sad"])
    assert out == [1.0, 1.0, 0.0, 0.5]
    assert stub.calls == [[ANGRY, CALM, HAPPY, "He cries quietly."]]  # one call, each sentence once


def test_single_label_verifier_over_dataset_labels() -> None:
    stub = StubVerifier(
        {"He shouts.": {"angry": 0.7, "neutral": 0.2}, "Quiet.": {"neutral": 0.9}}, DFEW.labels
    )
    reward = ExplanationReward(stub)
    assert rewards(reward, [think("He shouts.", "Quiet."), think("Quiet.")], ["angry", "neutral"]) == [
        1.0,
        1.0,
    ]
    assert reward.explain(RewardInputs([think("Quiet.")], ["sad"], ["dfew"]))[0].target == ("sad",)


def test_bad_arguments_raise_clear_errors(stub: StubVerifier) -> None:
    with pytest.raises(ValueError, match="top_k must be at least 1"):
        ExplanationReward(stub, top_k=0)
    with pytest.raises(ValueError, match="target must be 'gold' or 'predicted'"):
        ExplanationReward(stub, target="answer")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="gold label 'banana' is not a label of dfew"):
        ExplanationReward(stub)(RewardInputs([think(ANGRY)], ["banana"], ["dfew"]))


def test_compound_gold_matches_any_of_its_emotions(stub: StubVerifier) -> None:
    result = ExplanationReward(stub).explain(
        RewardInputs([think(ANGRY, "He cries quietly.", HAPPY)], ["anger_sadness"], ["mafw_compound"])
    )[0]
    assert result.target == ("anger", "sadness")
    assert (result.matched, result.non_neutral, result.reward) == (2, 3, pytest.approx(2 / 3))
