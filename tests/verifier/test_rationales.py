"""The one rationale scorer: one deduplicated verifier call per batch, and the same label sets for all readers."""

from __future__ import annotations

import pytest
import torch

from ervlight.evaluation.report import sentence_labels
from ervlight.rewards import RewardInputs
from ervlight.rewards.explanation import ExplanationReward
from ervlight.verifier import RationaleScorer, VerifierJudge
from verifier.helpers import StubVerifier

TABLE = {
    "He shouts.": {"anger": 0.8},
    "She trembles.": {"fear": 0.3, "nervousness": 0.6},
    "The room is quiet.": {"neutral": 0.95},
    "He sobs.": {"sadness": 0.9, "grief": 0.7},
}
RATIONALES = ["He shouts. The room is quiet. He shouts.", "She trembles. He sobs.", ""]
DISTINCT = ["He shouts.", "The room is quiet.", "She trembles.", "He sobs."]
LABEL_SETS = [[("anger",), ("neutral",), ("anger",)], [("nervousness", "fear"), ("sadness", "grief")], []]


def test_scorer_calls_the_verifier_once_per_batch_with_distinct_sentences() -> None:
    stub = StubVerifier(TABLE)
    scored = RationaleScorer(stub).score(RATIONALES)
    assert stub.calls == [DISTINCT]
    assert [s.sentences for s in scored] == [
        ("He shouts.", "The room is quiet.", "He shouts."),
        ("She trembles.", "He sobs."),
        (),
    ]
    assert [s.label_sets() for s in scored] == LABEL_SETS
    assert [tuple(s.probabilities.shape) for s in scored] == [(3, 28), (2, 28), (0, 28)]
    assert torch.equal(scored[0].probabilities[0], scored[0].probabilities[2])  # the repeat shares its row
    assert scored[1].rows()[0].probabilities["nervousness"] == pytest.approx(0.6)
    assert scored[0].only("neutral").tolist() == [False, True, False]
    assert scored[0].only("not-a-label").tolist() == [False, False, False]


def test_scorer_without_sentences_makes_no_call_and_checks_top_k() -> None:
    stub = StubVerifier(TABLE)
    scored = RationaleScorer(stub).score([None, "", "   "])
    assert stub.calls == []
    assert [s.label_sets() for s in scored] == [[], [], []]
    assert RationaleScorer(stub, top_k=1).score(["She trembles."])[0].label_sets() == [("nervousness",)]
    with pytest.raises(ValueError, match="top_k must be at least 1 or None, got 0"):
        RationaleScorer(stub, top_k=0)


def test_reward_judge_and_report_give_the_same_sentence_labels() -> None:
    stub = StubVerifier(TABLE)
    completions = [f"<think>{r}</think><answer>angry</answer>" for r in RATIONALES]
    reward = ExplanationReward(stub)
    explained = reward.explain(RewardInputs(completions, ["angry"] * 3, ["dfew"] * 3))
    judge = VerifierJudge(stub)
    from_reward = [[s.labels for s in result.sentences] for result in explained]
    from_judge = [s.label_sets() for s in judge.scorer.score(RATIONALES)]
    from_report = sentence_labels(RATIONALES, stub)
    assert from_reward == from_judge == LABEL_SETS
    assert from_report == ["1: anger | 2: neutral | 3: anger", "1: nervousness, fear | 2: sadness, grief", ""]
    assert [r.reward for r in explained] == [1.0, 0.0, 0.0]
    assert judge.judge(RATIONALES, "dfew") == ["angry", "sad", None]
    # reward, judge scorer, report, judge: one verifier call each, every distinct sentence once
    assert stub.calls == [DISTINCT] * 4
    assert reward.verifier is stub
    assert judge.verifier is stub
