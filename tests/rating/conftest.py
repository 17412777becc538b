"""Shared data of the rating tests: two systems' predictions on three DFEW clips, a keyword judge, a clip tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from ervlight.evaluation.predictions import PredictionRecord, write_predictions
from ervlight.evaluation.report import build_report
from mini_trees import write_clip

#: The clips (DFEW fold 1) and their gold labels.
GOLD = {"00001": "happy", "00002": "sad", "00003": "neutral"}
#: system -> clip -> (rationale, answer).
OUTPUTS = {
    "erv": {
        "00001": ("She smiles warmly.", "happy"),
        "00002": ("Tears run down his face.", "sad"),
        "00003": ("He looks calm.", "neutral"),
    },
    "sft": {
        "00001": ("He shouts at the door.", "angry"),
        "00002": ("She smiles at him.", "happy"),
        "00003": ("Nothing shows on his face.", "neutral"),
    },
}
#: keyword -> DFEW label, for :class:`WordJudge`.
WORDS = {"smile": "happy", "tears": "sad", "shout": "angry", "calm": "neutral"}


class WordJudge:
    """Names the DFEW label of the first keyword in a rationale; ``None`` without one."""

    def __init__(self, name: str = "words") -> None:
        self.name = name

    def judge(self, rationales: list[str], dataset: str) -> list[str | None]:
        """One label or ``None`` per rationale."""
        out: list[str | None] = []
        for text in rationales:
            found = [label for word, label in WORDS.items() if word in (text or "").lower()]
            out.append(found[0] if found else None)
        return out


def system_records(system: str) -> list[PredictionRecord]:
    """The prediction records of one system."""
    return [
        PredictionRecord(clip, "dfew", 1, GOLD[clip], f"<think>{why}</think><answer>{answer}</answer>")
        for clip, (why, answer) in OUTPUTS[system].items()
    ]


@pytest.fixture
def reports(tmp_path: Path) -> dict[str, Path]:
    """``{system: predictions.csv}`` of two report folders (as ``ervlight report`` writes them)."""
    out = {}
    for system in OUTPUTS:
        folder = tmp_path / "reports" / system
        build_report(system_records(system), [WordJudge()], folder, name=system, tensorboard=False)
        out[system] = folder / "predictions.csv"
    return out


@pytest.fixture
def jsonl(tmp_path: Path) -> dict[str, Path]:
    """``{system: predictions.jsonl}`` as ``ervlight test`` writes them."""
    return {
        s: write_predictions(system_records(s), tmp_path / "eval" / s / "predictions.jsonl") for s in OUTPUTS
    }


@pytest.fixture
def clip_tree(tmp_path: Path) -> Path:
    """A DFEW tree whose fold-1 test list names the three clips; only 00001 has an mp4."""
    root = tmp_path / "data" / "DFEW"
    write_clip(root / "Clip" / "original" / "00001.mp4", 1.0, 10, (1, 16000))
    split = root / "EmoLabel_DataSplit" / "test(single-labeled)" / "set_1.csv"
    split.parent.mkdir(parents=True)
    split.write_text("video_name,label\n1,1\n2,2\n3,3\n", encoding="utf-8")
    return root.parent
