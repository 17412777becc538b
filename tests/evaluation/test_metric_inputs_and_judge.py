"""Metric inputs (completions, gold labels, judge answers as indices); running a judge over mixed datasets."""

from __future__ import annotations

import pytest

from ervlight.evaluation.judge import Judge, run_judge
from ervlight.evaluation.metric_inputs import encode_completions, encode_judgements, encode_targets

COMPLETIONS = [
    "<think>She smiles widely.</think>\n<answer>happy</answer>",
    "<think>Tears run down.</think><answer> Sadness </answer>",
    "<think>He shouts.</think> <answer>Angry.</answer>",
    "<answer>bored</answer>",
    "fear",
    "<think>   </think><answer>neutral</answer>",
]


def test_encode_completions_strict_and_lenient() -> None:
    strict = encode_completions(COMPLETIONS, "dfew")
    assert strict.preds.tolist() == [0, 1, -1, -1, 6, 2]
    assert strict.well_formatted.tolist() == [True, True, True, False, False, True]
    assert strict.rationales == ["She smiles widely.", "Tears run down.", "He shouts.", None, None, None]
    lenient = encode_completions(COMPLETIONS, "dfew", strict=False)
    assert lenient.preds.tolist() == [0, 1, 3, -1, 6, 2]


def test_encode_targets_and_judgements() -> None:
    assert encode_targets(["anger", "angry", "helplessness"], "mafw").tolist() == [0, 0, 9]
    with pytest.raises(ValueError, match=r"gold labels outside mafw: \['boredom'\]"):
        encode_targets(["anger", "boredom"], "mafw")
    assert encode_judgements(["sad", None, "fear"], "dfew").tolist() == [1, -1, 6]
    with pytest.raises(ValueError, match=r"judge answers \['Sad'\] are not canonical dfew labels"):
        encode_judgements(["Sad"], "dfew")


class _ScriptedJudge:
    """A judge that answers from a table and records its calls."""

    name = "scripted"

    def __init__(self, table: dict[str, str | None]) -> None:
        self.table = table
        self.calls: list[tuple[list[str], str]] = []

    def judge(self, rationales: list[str], dataset: str) -> list[str | None]:
        self.calls.append((rationales, dataset))
        return [self.table[r] for r in rationales]


def test_run_judge_groups_per_dataset_and_skips_missing_rationales() -> None:
    judge = _ScriptedJudge({"a": "happy", "b": "anger", "c": None, "d": "contempt"})
    assert isinstance(judge, Judge)
    result = run_judge(
        judge, ["a", "b", None, "c", "  ", "d"], ["dfew", "mafw", "dfew", "dfew", "mafw", "mafw"]
    )
    assert result == ["happy", "anger", None, None, None, "contempt"]
    assert judge.calls == [(["a", "c"], "dfew"), (["b", "d"], "mafw")]


def test_run_judge_rejects_contract_violations() -> None:
    with pytest.raises(ValueError, match="returned 'joy', not a dfew label nor None"):
        run_judge(_ScriptedJudge({"a": "joy"}), ["a"], ["dfew"])
    with pytest.raises(ValueError, match="2 rationales but 1 dataset names"):
        run_judge(_ScriptedJudge({}), ["a", "b"], ["dfew"])

    class _Short(_ScriptedJudge):
        def judge(self, rationales: list[str], dataset: str) -> list[str | None]:
            return []

    with pytest.raises(ValueError, match="returned 0 answers for 1 rationales"):
        run_judge(_Short({}), ["a"], ["dfew"])
