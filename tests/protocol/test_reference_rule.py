"""The reference accuracy rule on a table of probe answers, beside ervlight's own rule on the same answers."""

from __future__ import annotations

import pytest

from ervlight.labels import get_label_space
from ervlight.parsing import parse_completion
from ervlight.protocol import reference_accuracy, reference_answer, reference_label

T = "<think>She frowns.</think>"

# completion, gold, dataset, reference reward, ervlight reward (AccuracyReward's current rule)
PROBES = [
    # ervlight 1, reference 0: forms the reference's table does not map
    (f"{T}<answer>surprised</answer>", "surprise", "dfew", 0.0, 1.0),
    (f"{T}<answer>fearful</answer>", "fear", "dfew", 0.0, 1.0),
    (f"{T}<answer>scared</answer>", "fear", "dfew", 0.0, 1.0),
    (f"{T}<answer>disgusted</answer>", "disgust", "dfew", 0.0, 1.0),
    (f"{T}<answer>neutrality</answer>", "neutral", "dfew", 0.0, 1.0),
    (f"{T}<answer>surprised</answer>", "surprise", "mafw", 0.0, 1.0),
    (f"{T}<answer>fearful</answer>", "fear", "mafw", 0.0, 1.0),
    # ervlight 1, reference 0: a multi-line or unclosed <answer> makes the whole completion the answer
    (f"{T}<answer>\nhappy\n</answer>", "happy", "dfew", 0.0, 1.0),
    (f"{T}<answer>happy", "happy", "dfew", 0.0, 1.0),
    (f"{T}<answer>sadness\n</answer>", "sadness", "mafw", 0.0, 1.0),
    # ervlight 0, reference 1: substring rules
    (f"{T}<answer>happy.</answer>", "happiness", "mafw", 1.0, 0.0),
    (f"{T}<answer>Happy!</answer>", "happiness", "mafw", 1.0, 0.0),
    (f"{T}<answer>unhappy</answer>", "happiness", "mafw", 1.0, 0.0),
    (f"{T}<answer>happy and surprised</answer>", "happiness", "mafw", 1.0, 0.0),
    (f"{T}<answer>anger and disgust</answer>", "angry", "dfew", 1.0, 0.0),
    (f"{T}<answer>danger</answer>", "angry", "dfew", 1.0, 0.0),
    (f"{T}<answer>unhappiness</answer>", "happy", "dfew", 1.0, 0.0),
    (f"{T}<answer>a contemptuous smirk</answer>", "contempt", "mafw", 1.0, 0.0),
    # both 1
    (f"{T}<answer>Sadness</answer>", "sad", "dfew", 1.0, 1.0),
    (f"{T}<answer> Happy </answer>", "happy", "dfew", 1.0, 1.0),
    (f"{T}<answer>angry</answer>", "anger", "mafw", 1.0, 1.0),
    (f"{T}<answer>Disappointed</answer>", "disappointment", "mafw", 1.0, 1.0),
    ("happy", "happy", "dfew", 1.0, 1.0),
    ("  sad \n", "sadness", "mafw", 1.0, 1.0),
    (f"{T}<answer>happy</answer><answer>sad</answer>", "happy", "dfew", 1.0, 1.0),
    # both 0
    (f"{T}<answer>Happy.</answer>", "happy", "dfew", 0.0, 0.0),
    (f"{T}<answer>angry.</answer>", "anger", "mafw", 0.0, 0.0),
    (f"{T}<answer></answer>", "neutral", "dfew", 0.0, 0.0),
    (f"{T}<answer>happy</answer>", "sad", "dfew", 0.0, 0.0),
    # the reference skips a multi-line <answer> and reads the next single-line one; ervlight reads the first
    (f"{T}<answer>sad\n</answer><answer>happy</answer>", "happy", "dfew", 1.0, 0.0),
    # the reference deletes newlines inside the whole-completion answer and then matches substrings
    ("my answer: hap\npiness", "happy", "dfew", 1.0, 0.0),
]


def _ervlight_rule(completion: str, gold: str, dataset: str) -> float:
    """AccuracyReward's current rule (``strict=True``), spelled out for the comparison."""
    space = get_label_space(dataset)
    answer = parse_completion(completion).answer_or_text(completion)
    return float(space.normalize(answer, strict=True) == space.normalize(gold))


@pytest.mark.parametrize(("completion", "gold", "dataset", "reference", "ervlight"), PROBES)
def test_probe_table(completion: str, gold: str, dataset: str, reference: float, ervlight: float) -> None:
    assert reference_accuracy(completion, gold, dataset) == reference
    assert _ervlight_rule(completion, gold, dataset) == ervlight


def test_answer_is_the_first_single_line_match_or_the_stripped_completion() -> None:
    assert reference_answer("<answer> a </answer><answer>b</answer>") == "a"
    assert reference_answer("<answer>a\nb</answer>") == "<answer>a\nb</answer>"
    assert reference_answer("\n  no tags here \n") == "no tags here"
    assert reference_answer("<ANSWER>happy</ANSWER>") == "<ANSWER>happy</ANSWER>"  # tags are case-sensitive


def test_label_mapping_per_dataset() -> None:
    assert reference_label("Sadness", "dfew") == "sad"
    assert reference_label("sadness", "mafw") == "sadness"
    assert reference_label("sad", "dfew") == "sad"
    assert reference_label("Angry", "mafw") == "anger"
    assert reference_label("anger", "dfew") == "angry"
    assert reference_label("hap\npy", "mafw") == "happiness"
    assert reference_label("surprised", "dfew") == "surprised"
    # datasets other than DFEW and MAFW are compared as they are (no lower-casing)
    assert reference_label("Anger_Disgust", "mafw_compound") == "Anger_Disgust"
    assert reference_accuracy("anger_disgust", "anger_disgust", "mafw_compound") == 1.0
    assert reference_accuracy("Anger_disgust", "anger_disgust", "mafw_compound") == 0.0
