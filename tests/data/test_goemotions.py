"""The GoEmotions reader on fixture files in the release layouts (TSV per split, raw CSV)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ervlight.data.goemotions import read_goemotions
from ervlight.data.text import TextSourceConfig
from ervlight.labels import GOEMOTIONS

_RAW_HEADER = ["text", "id", "author", "example_very_unclear", *GOEMOTIONS.labels]


def _release(root: Path) -> Path:
    """A release folder: train.tsv (3 rows), dev.tsv (1 row), test.tsv (1 row)."""
    root.mkdir()
    (root / "train.tsv").write_text(
        "I am so happy for you!\t17\teea1\nThat is disgusting and infuriating.\t2,11\teeb2\nOkay.\t27\teec3\n",
        encoding="utf-8",
    )
    (root / "dev.tsv").write_text('He said "wow" twice.\t26\teed4\n', encoding="utf-8")
    (root / "test.tsv").write_text("I miss her.\t25\teee5\n", encoding="utf-8")
    return root


def _raw_row(text: str, labels: set[str], unclear: str = "FALSE") -> str:
    cells = [text, "x1", "someone", unclear, *("1" if name in labels else "0" for name in GOEMOTIONS.labels)]
    return ",".join(cells)


def test_release_tsv_per_split(tmp_path: Path) -> None:
    root = _release(tmp_path / "goemotions")
    train = read_goemotions(root, split="train")
    assert [(e.text, e.labels) for e in train] == [
        ("I am so happy for you!", ("joy",)),
        ("That is disgusting and infuriating.", ("anger", "disgust")),
        ("Okay.", ("neutral",)),
    ]
    assert train[1].source == f"{root / 'train.tsv'}:2"
    assert {e.split for e in train} == {"train"}
    val = read_goemotions(root, split="val")
    assert [(e.text, e.labels) for e in val] == [('He said "wow" twice.', ("surprise",))]  # quotes kept
    assert [e.labels for e in read_goemotions(root / "test.tsv")] == [("sadness",)]


def test_release_tsv_in_a_dataset_space_and_bad_rows(tmp_path: Path) -> None:
    root = _release(tmp_path / "goemotions")
    assert [e.labels for e in read_goemotions(root / "test.tsv", "mafw")] == [("sadness",)]
    with pytest.raises(
        ValueError, match=r"train.tsv:1: GoEmotions labels \['joy'\] have no counterpart in mafw"
    ):
        read_goemotions(root / "train.tsv", "mafw")
    bad = tmp_path / "bad.tsv"
    bad.write_text("text\t28\tid\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.tsv:1: label ids '28' are not GoEmotions ids 0..27"):
        read_goemotions(bad)
    bad.write_text("only text\n", encoding="utf-8")
    with pytest.raises(
        ValueError, match=r"bad.tsv:1: expected text, label ids and id \(3 tab-separated fields\)"
    ):
        read_goemotions(bad)
    with pytest.raises(FileNotFoundError, match=r"dev\.tsv does not exist"):
        read_goemotions(tmp_path, split="val")


def test_raw_csv(tmp_path: Path) -> None:
    raw = tmp_path / "goemotions_1.csv"
    rows = [
        _raw_row("So proud of this!", {"pride", "joy"}),
        _raw_row("Whatever.", set()),  # no label: skipped
        _raw_row("asdf", {"neutral"}, unclear="TRUE"),  # very unclear: skipped
        _raw_row("I can't believe it", {"surprise"}),
    ]
    raw.write_text(",".join(_RAW_HEADER) + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    examples = read_goemotions(raw)
    assert [(e.text, e.labels, e.source) for e in examples] == [
        ("So proud of this!", ("joy", "pride"), f"{raw}:2"),
        ("I can't believe it", ("surprise",), f"{raw}:5"),
    ]
    raw.write_text("text,id\nhello,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a raw GoEmotions CSV, missing columns"):
        read_goemotions(raw)


def test_text_source_config_reads_goemotions_splits(tmp_path: Path) -> None:
    root = _release(tmp_path / "goemotions")
    config = TextSourceConfig(path=str(root), source="goemotions")
    assert len(config.dataset_of("train")) == 3  # type: ignore[arg-type]
    assert len(config.dataset_of("val")) == 1  # type: ignore[arg-type]
    assert len(config.dataset_of("predict")) == 1  # type: ignore[arg-type]
