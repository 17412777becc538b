"""The reference scripts' reading of completions and their counting of WAR/UAR and EEA/EPC/FCR."""

from __future__ import annotations

import pytest

from ervlight.protocol import (
    reference_explanation,
    reference_judge_prompt,
    reference_judge_reply,
    reference_recognition,
    script_answer,
    script_compare_answer,
    script_rationale,
    script_record,
)


def test_record_joins_stripped_lines_with_one_space() -> None:
    assert (
        script_record("<think> a\n\n  b </think>\r\n<answer>c</answer>\n")
        == "<think> a  b </think> <answer>c</answer>"
    )


@pytest.mark.parametrize(
    ("completion", "dataset", "answer"),
    [
        ("<think>a</think>\n<answer>\nhappy\n</answer>", "dfew", "happy"),
        ("<answer>happy<answer>sad", "dfew", "happy<answer>sad"),  # DFEW, no </answer>: all after the first
        ("<answer>happy<answer>sad", "mafw", "happy"),
        ("<answer>happy<answer>sad</answer>", "dfew", "happy"),
        ("happy|sad", "dfew", "happy"),
        ("happy<|im_end|>", "mafw", "happy"),
        ("happy<|im_end|>", "dfew", "happy<"),
        ("  sad  ", "mafw", "sad"),
    ],
)
def test_script_answer(completion: str, dataset: str, answer: str) -> None:
    assert script_answer(completion, dataset) == answer


def test_script_rationale_and_compare_answer() -> None:
    assert script_rationale("<think> a\nb </think><answer>x</answer>") == "a b"
    assert script_rationale("no think block") == ""
    assert script_rationale("<think>a|b</think>") == "a"
    assert script_rationale("<think>a<think>b</think>") == "a"
    assert script_compare_answer("<think>a</think><answer> sad </answer>") == "sad"
    assert script_compare_answer("<think>a</think>sad") is None
    assert script_compare_answer("<think>a|b</think><answer>sad</answer>") is None  # cut at the first |


def test_recognition_dfew_keeps_unparseable_answers_in_the_class_denominator() -> None:
    completions = [
        "<answer>happy</answer>",
        "<answer>happy</answer>",
        "<answer>xyz</answer>",
        "<answer>sad</answer>",
    ]
    result = reference_recognition(completions, ["happy", "sad", "sad", "sad"], "dfew")
    assert result.war == 0.5
    assert result.class_totals["sad"] == 3
    assert result.class_totals["happy"] == 1
    assert result.per_class_recall["sad"] == pytest.approx(1 / 3)
    assert result.per_class_recall["fear"] is None
    assert result.uar == pytest.approx((1 + 1 / 3) / 7)  # absent classes count 0 in the mean
    assert (result.unparseable, result.total) == (1, 4)


def test_recognition_mafw_leaves_unparseable_answers_out_of_the_class_denominator() -> None:
    completions = [
        "<answer>happy</answer>",
        "<answer>happy</answer>",
        "<answer>xyz</answer>",
        "<answer>sad</answer>",
    ]
    result = reference_recognition(completions, ["happiness", "sadness", "sadness", "sadness"], "mafw")
    assert result.war == 0.5  # WAR still divides by every clip
    assert result.class_totals["sadness"] == 2
    assert result.per_class_recall["sadness"] == 0.5
    assert result.uar == pytest.approx((1 + 0.5) / 11)
    assert result.unparseable == 1


def test_explanation_counts_an_unreadable_answer_against_eea() -> None:
    completions = [
        "<think>a</think><answer>happy</answer>",  # right, judged right
        "<think>a</think>happy",  # no <answer>: unreadable although the judge is right
        "<think>a</think><answer>sad</answer>",  # wrong, consistent with the judge
        "<think>a</think><answer>happy</answer>",  # not judged
        "<think>a|b</think><answer>happy</answer>",  # the script stops at the first |
    ]
    gold = ["happy"] * 5
    judged = ["happy", "happy", "sad", None, "happy"]
    result = reference_explanation(completions, gold, judged, "dfew")
    assert (result.eea, result.epc, result.fcr) == (1 / 5, 2 / 5, 1 / 5)
    assert (result.unreadable, result.total) == (3, 5)


def test_counting_rejects_other_datasets_and_unequal_lengths() -> None:
    with pytest.raises(ValueError, match="evaluates dfew, mafw only, not 'mafw_compound'"):
        reference_recognition(["a"], ["anger"], "mafw_compound")
    with pytest.raises(ValueError, match="unequal lengths: 2, 1"):
        reference_recognition(["a", "b"], ["happy"], "dfew")


def test_reference_judge_prompt_and_reply() -> None:
    assert reference_judge_prompt("She smiles.", "dfew") == (
        "Read the reasoning content and respond with the appropriate emotion in happy, sad, neutral, angry, "
        "surprise, disgust, fear. Reply with only the emotion word.\nReason: She smiles.\nAnswer Emotion:"
    )
    assert reference_judge_reply("happy", "dfew") == "happy"
    assert reference_judge_reply("Happy", "dfew") == "neutral"  # exact, case-sensitive
    assert reference_judge_reply("happy ", "dfew") == "neutral"
    assert reference_judge_reply("happiness", "dfew") == "neutral"
    assert reference_judge_reply("happiness", "mafw") == "happiness"
    assert reference_judge_reply(None, "mafw") == "neutral"  # a failed request
