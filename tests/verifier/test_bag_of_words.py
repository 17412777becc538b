"""The bag-of-words sentence verifier: features, a fit that separates its training labels, save and load."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ervlight.verifier.bag_of_words import BagOfWordsVerifier, fit_bag_of_words, words
from ervlight.verifier.judge import VerifierJudge

LABELS = ("joy", "sadness", "neutral")
SENTENCES = ["She is happy and smiling.", "He looks sad and tearful.", "The room is bright.",
             "A happy grin appears.", "Sad eyes look down.", "The camera is still."] * 3  # fmt: skip
TARGETS = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1]] * 6, dtype=torch.float32)


def test_words_are_lower_cased_words_and_adjacent_pairs() -> None:
    assert words("She's VERY happy!") == ["she's", "very", "happy", "she's very", "very happy"]
    assert words("...") == []


def test_fit_separates_the_training_labels_and_round_trips(tmp_path: Path) -> None:
    verifier = fit_bag_of_words(SENTENCES, TARGETS, LABELS)
    assert "happy" in verifier.vocabulary
    assert "happy and" in verifier.vocabulary
    probs = verifier.probabilities(["They are happy.", "So sad.", "The table is still."])
    assert probs.shape == (3, 3)
    assert probs.argmax(1).tolist() == [0, 1, 2]
    assert BagOfWordsVerifier.is_folder(tmp_path) is False
    verifier.save_pretrained(tmp_path)
    assert BagOfWordsVerifier.is_folder(tmp_path) is True
    loaded = BagOfWordsVerifier.from_pretrained(tmp_path)
    assert loaded.labels == LABELS
    torch.testing.assert_close(loaded.probabilities(SENTENCES), verifier.probabilities(SENTENCES))
    again = fit_bag_of_words(SENTENCES, TARGETS, LABELS)  # deterministic
    torch.testing.assert_close(again.weight, verifier.weight)
    assert verifier.probabilities([]).shape == (0, 3)


def test_a_judge_reads_rationales_with_it() -> None:
    verifier = fit_bag_of_words(SENTENCES, TARGETS, LABELS)
    judge = VerifierJudge(verifier, name="bow")
    assert judge.judge(["The room is bright. She is happy.", "Sad eyes look down."], "dfew") == [
        "happy",
        "sad",
    ]


def test_bad_inputs_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"targets \(2, 3\) do not match 18 sentences x 3 labels"):
        fit_bag_of_words(SENTENCES, TARGETS[:2], LABELS)
    with pytest.raises(ValueError, match="no word occurs in 2 or more of the 2 training sentences"):
        fit_bag_of_words(["a b", "c d"], TARGETS[:2], LABELS)
    with pytest.raises(FileNotFoundError, match="is not a bag-of-words verifier"):
        BagOfWordsVerifier.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="do not match 2 features and 3 labels"):
        BagOfWordsVerifier(LABELS, ["a", "b"], torch.ones(2), torch.zeros(3, 3), torch.zeros(3))
