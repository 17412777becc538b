"""The explanation reward against the reference reward's rule, restated here, on adversarial completions.

The restatement follows the reference reward (``utils_reward_ERV.py`` of Rhatanii/ERV at 19cb9a7): the first
``<think>(.*?)</think>`` (dot matches newline, exact tags), the quote-parity sentence split, label sets above 0.1
(else the argmax, at most the two most probable), ``m/n`` for a neutral gold emotion and ``m/u`` otherwise.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ervlight.labels import GOEMOTIONS, get_label_space
from ervlight.rewards import RewardInputs
from ervlight.rewards.explanation import ExplanationReward
from ervlight.verifier.scorer import SentenceVerifier
from verifier.helpers import StubVerifier

_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_SPLIT = re.compile(r'(?<=[\.!?])\s+(?=(?:[^"]*"[^"]*")*[^"]*$)')
#: The verifier labels the hashed verifier gives weight to (so most rewards are neither 0 nor 1).
LIVE = ("joy", "anger", "sadness", "fear", "neutral")
GOLD = [("happy", "dfew"), ("angry", "dfew"), ("sad", "dfew"), ("neutral", "dfew"), ("fear", "dfew"),
        ("happiness", "mafw"), ("anger", "mafw"), ("neutral", "mafw")]  # fmt: skip
FRAGMENTS = [
    "<think>", "</think>", "<Think>", "</Think>", "<answer>", "</answer>", "sad", "He smiles.", "She frowns!",
    "Why?", '"', "“", "”", "„", " ", "\n", "  ", "e.g. ", "Dr. Lee", "calm", "tears. ", "Ok",
]  # fmt: skip


class HashedVerifier:
    """A sentence verifier whose probabilities are a fixed function of the sentence text."""

    labels = GOEMOTIONS.labels

    def probabilities(self, sentences: Sequence[str]) -> torch.Tensor:
        """``[N, 28]``: the five labels of :data:`LIVE` drawn from a generator seeded by the sentence, others 0.01."""
        out = torch.full((len(sentences), len(self.labels)), 0.01)
        for row, sentence in enumerate(sentences):
            rng = random.Random(sentence)
            for label in LIVE:
                out[row, self.labels.index(label)] = rng.random() ** 2  # label sets of 0, 1, 2 or more
        return out


def reference_reward(completion: str, gold: str, dataset: str, verifier: SentenceVerifier) -> float:
    """The reference reward's rule for one completion."""
    match = _THINK.search(completion)
    text = match.group(1).strip() if match else ""
    sentences = [s for s in _SPLIT.split(text) if s]
    if not sentences:
        return 0.0
    probs = verifier.probabilities(sentences)  # [n, 28]
    sets = []
    for row in probs:
        chosen = (row > 0.1).nonzero().flatten().tolist()
        if not chosen:
            chosen = [int(row.argmax())]
        elif len(chosen) > 2:
            chosen = row.topk(2).indices.tolist()
        sets.append(chosen)
    target = get_label_space(dataset).goemotions_index(gold)
    neutral = GOEMOTIONS.labels.index("neutral")
    matched = sum(target in chosen for chosen in sets)
    if target == neutral:
        return matched / len(sets)
    non_neutral = sum(chosen != [neutral] for chosen in sets)
    return matched / non_neutral if non_neutral else 0.0


_TEXT = st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join)


@settings(max_examples=150, deadline=None)
@given(
    completion=st.one_of(
        _TEXT, st.tuples(_TEXT, _TEXT, _TEXT).map(lambda p: f"{p[0]}<think>{p[1]}</think>{p[2]}")
    ),
    gold=st.sampled_from(GOLD),
)
def test_the_reward_is_the_reference_rule_on_any_text(completion: str, gold: tuple[str, str]) -> None:
    verifier = HashedVerifier()
    reward = ExplanationReward(verifier)
    got = reward(RewardInputs([completion], [gold[0]], [gold[1]])).tolist()[0]
    assert got == pytest.approx(reference_reward(completion, gold[0], gold[1], verifier), abs=1e-6)


TABLE = {
    "He smiles.": {"joy": 0.9},
    "She frowns!": {"anger": 0.8},
    "He smiles. She frowns!": {"joy": 0.6, "anger": 0.5},
    "“Why?": {"joy": 0.6},
    "No.” She frowns!": {"anger": 0.6},
    "“Why? No.” She frowns!": {"joy": 0.4},
    "<answer>sad</answer> She frowns!": {"joy": 0.5},
}


@pytest.mark.parametrize(
    ("completion", "reference", "tolerant"),
    [
        # Tags are exact: no rationale for the reference; the tolerant reading scores 2 sentences, joy in 1.
        ("<Think>He smiles. She frowns!</Think><answer>happy</answer>", 0.0, 0.5),
        # A close before the open and never closed after it: no rationale; tolerant: to the end.
        ("</think><think>He smiles. She frowns!", 0.0, 0.5),
        # An unbalanced quote: the reference splits everything after it (4 sentences: neutral, neutral, joy,
        # anger -> 1/2); the typographic rule protects everything after it (one neutral sentence -> 0).
        ('<think>He said "stop. now. He smiles. She frowns!</think>', 0.5, 0.0),
        # Curly quotes: ordinary characters for the reference (3 sentences: joy, joy, anger -> 2/3); a pair for
        # the typographic rule (2 sentences: joy, joy -> 1).
        ("<think>He smiles. “Why? No.” She frowns!</think>", 2 / 3, 1.0),
        # An answer inside the closed block belongs to the rationale in both readings (joy, joy -> 1); the old
        # tolerant reading stopped at the answer tag.
        ("<think>He smiles. <answer>sad</answer> She frowns!</think><answer>happy</answer>", 1.0, 1.0),
    ],
)
def test_the_reward_reads_the_edge_cases_as_the_reference(
    completion: str, reference: float, tolerant: float
) -> None:
    stub = StubVerifier(TABLE)
    inputs = RewardInputs([completion], ["happy"], ["dfew"])
    assert ExplanationReward(stub)(inputs).tolist() == pytest.approx([reference])
    assert reference_reward(completion, "happy", "dfew", stub) == pytest.approx(reference)
    loose = ExplanationReward(stub, require_closed_think=False, quotes="typographic")
    assert loose(inputs).tolist() == pytest.approx([tolerant])
