"""The verifier as a judge, and ``ervlight verifier score``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ervlight.cli import main as ervlight_main
from ervlight.evaluation.judge import Judge
from ervlight.labels import DFEW, MAFW
from ervlight.verifier import VerifierJudge, VerifierModule
from ervlight.verifier.cli import main
from verifier.helpers import StubVerifier

TABLE = {
    "He shouts.": {"anger": 0.8},
    "He frowns.": {"anger": 0.4, "disapproval": 0.5},
    "She trembles.": {"fear": 0.3, "nervousness": 0.6},
    "The room is quiet.": {"neutral": 0.95},
    "He sobs.": {"sadness": 0.9, "grief": 0.7},
}


def test_judge_names_one_dataset_label_or_none() -> None:
    judge = VerifierJudge(StubVerifier(TABLE), name="erv")
    assert isinstance(judge, Judge)
    assert judge.name == "erv"
    rationales = [
        "He shouts. The room is quiet. The room is quiet.",  # neutral sentences are left out
        "The room is quiet. The room is quiet.",  # all neutral: neutral
        "",  # nothing to judge
        "He frowns.",
        "She trembles.",
    ]
    assert judge.judge(rationales, "dfew") == ["angry", "neutral", None, "angry", "fear"]
    # MAFW has contempt (disapproval 0.5) and anxiety (nervousness 0.6)
    assert judge.judge(rationales, "mafw") == ["anger", "neutral", None, "contempt", "anxiety"]
    assert judge.judge(["He sobs."], "mafw") == ["sadness"]


def test_judge_keeps_neutral_sentences_when_asked() -> None:
    judge = VerifierJudge(StubVerifier(TABLE), skip_neutral=False)
    assert judge.judge(["He shouts. The room is quiet. The room is quiet."], "dfew") == ["neutral"]
    labels, scores = judge.scores(["He shouts. The room is quiet."], "dfew")
    assert labels == list(DFEW.labels)
    assert scores[0, labels.index("angry")].item() == pytest.approx((0.8 + 0.01) / 2)


def test_judge_over_a_verifier_of_dataset_labels_and_uncovered_labels() -> None:
    dfew_judge = VerifierJudge(StubVerifier({"He shouts.": {"angry": 0.9}}, DFEW.labels))
    assert dfew_judge.judge(["He shouts.", "Calm."], "dfew") == ["angry", "neutral"]
    # a DFEW verifier covers none of MAFW's noun labels except neutral, disgust, fear, surprise
    assert dfew_judge.columns(MAFW)[0] == [
        "disgust",
        "fear",
        "neutral",
        "surprise",
    ]
    nothing = VerifierJudge(StubVerifier({}, ("x", "y")))
    assert nothing.judge(["Some text."], "dfew") == [None]


@pytest.fixture(scope="module")
def verifier_dir(tiny_bert_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exported GoEmotions verifier (untrained head)."""
    return VerifierModule(backbone=str(tiny_bert_dir)).save_pretrained(
        tmp_path_factory.mktemp("v") / "verifier"
    )


def test_score_command(verifier_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.jsonl"
    rows = [
        {
            "id": 1,
            "completion": "<think>He shouts. He is red.</think><answer>angry</answer>",
            "label": "angry",
        },
        {"id": 2, "completion": "<answer>sad</answer>", "label": "sad", "dataset": "dfew"},
        {
            "id": 3,
            "completion": "<think>He shouts.</think><answer>anger</answer>",
            "label": "anger",
            "dataset": "mafw",
        },
    ]
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    target = tmp_path / "out" / "scored.jsonl"
    args = ["score", "--verifier", str(verifier_dir), "--input", str(source), "--output", str(target)]
    assert ervlight_main(["verifier", *args, "--dataset", "dfew"]) == 0
    out = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [o["id"] for o in out] == [1, 2, 3]
    assert [o["dataset"] for o in out] == ["dfew", "dfew", "mafw"]
    assert [len(o["sentences"]) for o in out] == [2, 0, 1]
    first = out[0]["sentences"][0]
    assert first["text"] == "He shouts."
    assert 1 <= len(first["labels"]) <= 2
    assert len(first["probabilities"]) == 28
    assert all(0.0 <= o["reward"] <= 1.0 for o in out)
    assert out[1]["reward"] == 0.0
    assert out[0]["sentences"][0] == out[2]["sentences"][0]  # same sentence, same scores (from the cache)
    assert "scored 3 lines" in capsys.readouterr().out


def test_score_command_errors_leave_no_output(
    verifier_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"completion": "<think>x.</think>", "label": "angry"}\n', encoding="utf-8")
    target = tmp_path / "scored.jsonl"
    args = ["score", "--verifier", str(verifier_dir), "--input", str(source), "--output", str(target)]
    assert main(args) == 2
    assert f"{source}:1: no 'dataset' field and no --dataset given" in capsys.readouterr().err
    source.write_text('{"completion": "<think>x.</think>"}\n', encoding="utf-8")
    assert main([*args, "--dataset", "dfew"]) == 2
    assert "missing string field 'label'" in capsys.readouterr().err
    source.write_text("[1]\n", encoding="utf-8")
    assert main([*args, "--dataset", "dfew"]) == 2
    assert f"{source}:1: expected a JSON object, got list" in capsys.readouterr().err
    assert not target.exists()
    assert not list(tmp_path.glob(".*partial"))
    assert (
        main(
            ["score", "--verifier", str(verifier_dir), "--input", str(tmp_path / "no.jsonl"), "--output", "x"]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
