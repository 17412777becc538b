"""A published verifier's ``id2label``: GoEmotions names in another order or spelling map by name; others need a
``label_map``, and the error says which."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification

from ervlight.labels import DFEW, GOEMOTIONS, MAFW
from ervlight.rewards import RewardInputs
from ervlight.rewards.explanation import ExplanationReward
from ervlight.verifier.judge import VerifierJudge
from ervlight.verifier.scorer import VerifierScorer
from ervlight.verifier.targets import label_map_message, missing_label_map, resolve_label, verifier_labels_of
from verifier.helpers import StubVerifier

COMPLETIONS = [
    "<think>He shouts at the clerk. The room is quiet.</think><answer>angry</answer>",
    "<think>She laughs with her friends. He cries quietly.</think><answer>happy</answer>",
    "<think>She trembles. The room is quiet.</think><answer>fear</answer>",
]
TABLE = {
    "He shouts at the clerk.": {"anger": 0.8, "annoyance": 0.3},
    "She laughs with her friends.": {"joy": 0.7},
    "He cries quietly.": {"sadness": 0.9},
    "She trembles.": {"fear": 0.6, "nervousness": 0.5},
    "The room is quiet.": {"neutral": 0.95},
}
#: GoEmotions in reverse order, spelled in upper case.
RESPELLED = tuple(label.upper() for label in reversed(GOEMOTIONS.labels))


def test_names_resolve_up_to_case_and_separators() -> None:
    assert resolve_label("joy", RESPELLED) == "JOY"
    assert resolve_label("joy", ("Joy", "joy")) == "joy"  # the exact name first
    assert resolve_label("joy", ("Joy", "JOY")) is None  # ambiguous
    assert resolve_label("social anxiety", ("Social_Anxiety",)) == "Social_Anxiety"
    assert verifier_labels_of(MAFW, "anxiety", RESPELLED) == ("NERVOUSNESS",)
    assert verifier_labels_of(DFEW, "sad", ("Happy", "Sad")) == (
        "Sad",
    )  # a verifier over the dataset's labels


def test_reordered_and_respelled_labels_give_the_same_rewards() -> None:
    table = {s: {label.upper(): p for label, p in row.items()} for s, row in TABLE.items()}
    respelled = StubVerifier(table, labels=RESPELLED)
    canonical = StubVerifier(TABLE)
    inputs = RewardInputs(COMPLETIONS, ["angry", "happy", "fear"], ["dfew"] * 3)
    expected = ExplanationReward(canonical)(inputs).tolist()
    assert expected == [1.0, 0.5, 1.0]
    got = ExplanationReward(respelled, neutral_label="NEUTRAL")(inputs).tolist()
    assert got == expected


def test_unnamed_labels_fail_with_the_label_map_to_give() -> None:
    numbered = tuple(f"LABEL_{i}" for i in range(28))
    assert missing_label_map(DFEW, numbered) == {
        "happy": ("joy",), "sad": ("sadness",), "neutral": ("neutral",), "angry": ("anger",),
        "surprise": ("surprise",), "disgust": ("disgust",), "fear": ("fear",),
    }  # fmt: skip
    message = label_map_message(DFEW, numbered)
    assert message == (
        "the verifier's labels (" + ", ".join(numbered) + ") do not name these dfew emotions (happy -> joy, "
        "sad -> sadness, neutral -> neutral, angry -> anger, surprise -> surprise, disgust -> disgust, "
        "fear -> fear): give the explanation reward label_map: {happiness: <verifier label>, sadness: <verifier "
        "label>, neutral: <verifier label>, anger: <verifier label>, surprise: <verifier label>, disgust: "
        "<verifier label>, fear: <verifier label>}, each value one of the verifier's labels"
    )
    reward = ExplanationReward(StubVerifier({}, labels=numbered))
    with pytest.raises(ValueError, match=re.escape("do not name these dfew emotions (happy -> joy")):
        reward(RewardInputs(COMPLETIONS[:1], ["happy"], ["dfew"]))
    mapped = {"happiness": "LABEL_17", "sadness": "LABEL_25", "neutral": "LABEL_27", "anger": "LABEL_2",
              "surprise": "LABEL_26", "disgust": "LABEL_11", "fear": "LABEL_14"}  # fmt: skip
    assert missing_label_map(DFEW, numbered, mapped) == {}
    assert missing_label_map(MAFW, numbered, mapped) == {
        "contempt": ("disapproval",), "anxiety": ("nervousness",), "helplessness": ("grief",),
        "disappointment": ("disappointment",),
    }  # fmt: skip


def _republish(source: Path, target: Path, order: list[int], names: list[str]) -> Path:
    """Save ``source``'s classifier with its label rows permuted by ``order`` and ``id2label`` = ``names``."""
    model = AutoModelForSequenceClassification.from_pretrained(source)
    head = model.classifier.out_proj
    with torch.no_grad():
        head.weight.copy_(head.weight[order])
        head.bias.copy_(head.bias[order])
    model.config.id2label = dict(enumerate(names))
    model.config.label2id = {name: i for i, name in enumerate(names)}
    model.save_pretrained(target)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (source / name).is_file():
            (target / name).write_bytes((source / name).read_bytes())
    return target


def test_a_published_folder_in_another_order_and_spelling_maps_by_name(
    tiny_roberta_dir: Path, tmp_path: Path
) -> None:
    order = list(reversed(range(len(GOEMOTIONS.labels))))
    names = [GOEMOTIONS.labels[i].capitalize() for i in order]
    folder = _republish(tiny_roberta_dir, tmp_path / "published", order, names)
    assert json.loads((folder / "config.json").read_text())["id2label"]["0"] == "Neutral"
    original, republished = (
        VerifierScorer.from_pretrained(str(tiny_roberta_dir)),
        VerifierScorer.from_pretrained(str(folder)),
    )
    assert republished.labels == tuple(names)
    completions = [f"<think>{' '.join(TABLE)}</think><answer>x</answer>"] * 3
    inputs = RewardInputs(completions, ["angry", "happiness", "anxiety"], ["dfew", "mafw", "mafw"])
    expected = ExplanationReward(original, top_k=None)(inputs)
    got = ExplanationReward(republished, top_k=None, neutral_label="Neutral")(inputs)
    torch.testing.assert_close(got, expected)
    rationales = [" ".join(TABLE), "He cries quietly."]
    judged = VerifierJudge(original).judge(rationales, "mafw")
    assert all(label in MAFW for label in judged)
    assert VerifierJudge(republished, neutral_label="Neutral").judge(rationales, "mafw") == judged


def test_the_judge_takes_the_label_map() -> None:
    numbered = tuple(f"LABEL_{i}" for i in range(28))
    table = {"She trembles.": {"LABEL_14": 0.9}, "He cries quietly.": {"LABEL_25": 0.9}}
    stub = StubVerifier(table, labels=numbered)
    assert VerifierJudge(stub).judge(["She trembles.", "He cries quietly."], "dfew") == [None, None]
    judge = VerifierJudge(stub, label_map={"fear": "LABEL_14", "sadness": "LABEL_25"})
    assert judge.judge(["She trembles.", "He cries quietly."], "dfew") == ["fear", "sad"]
