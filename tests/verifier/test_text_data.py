"""Text sources of the verifier: corpus JSONL/CSV, EMER-style JSON, MAFW captions, splitting, collation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ervlight.data.text import (
    TextCollator,
    TextDataset,
    TextExample,
    read_mafw_captions,
    read_reasoning_json,
    read_text_source,
    read_verifier_corpus,
    split_examples,
)
from verifier.helpers import TEST_ROWS, TRAIN_ROWS, VAL_ROWS


def test_corpus_splits_and_labels(corpus_file: Path) -> None:
    train = read_verifier_corpus(corpus_file, split="train")
    assert (len(train), len(read_verifier_corpus(corpus_file, split="val"))) == (TRAIN_ROWS, VAL_ROWS)
    assert len(read_verifier_corpus(corpus_file, split="test")) == TEST_ROWS
    assert len(read_verifier_corpus(corpus_file)) == TRAIN_ROWS + VAL_ROWS + TEST_ROWS
    furious = next(e for e in train if e.text == "The man looks furious.")
    assert furious.labels == ("anger",)
    assert furious.split == "train"
    assert furious.source.startswith(f"{corpus_file}:")
    dfew = read_verifier_corpus(corpus_file, label_space="dfew", split="train")
    assert next(e for e in dfew if e.text == "The man looks delighted.").labels == ("happy",)
    mafw = read_verifier_corpus(corpus_file, label_space="mafw", split="train")
    assert next(e for e in mafw if e.text == "The man looks delighted.").labels == ("happiness",)


def test_corpus_soft_targets_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    rows = [
        {"id": "1", "text": "He is furious.", "split": "train", "goemotions": ["anger", "annoyance"], "mafw": None,
         "dfew": "angry", "template": "t", "probs": {"anger": 0.8, "annoyance": 0.4}},
        {"id": "2", "text": "Calm.", "split": "train", "goemotions": ["neutral"], "mafw": "neutral", "dfew": None,
         "template": "t", "probs": {"neutral": 0.9}},
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    soft = read_verifier_corpus(path, soft=True)
    assert soft[0].probs == {"anger": 0.8, "annoyance": 0.4}
    assert [e.text for e in read_verifier_corpus(path, label_space="mafw")] == ["Calm."]  # null mafw skipped
    path.write_text(json.dumps({**rows[0], "goemotions": ["rage"]}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"{path}:1: 'rage' is not a label of goemotions"):
        read_verifier_corpus(path)
    path.write_text(json.dumps({**rows[0], "probs": {"rage": 1.0}}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"c.jsonl:1: 'probs' names labels outside goemotions: rage"):
        read_verifier_corpus(path, soft=True)
    path.write_text(json.dumps(rows[1]) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"c.jsonl:2: not a JSON object"):
        read_verifier_corpus(path)
    with pytest.raises(FileNotFoundError, match=r"verifier corpus .*missing.jsonl does not exist"):
        read_verifier_corpus(tmp_path / "missing.jsonl")


def test_corpus_csv(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        'id,text,split,goemotions,mafw,dfew,probs\n1,"He shouts, loudly.",train,anger;annoyance,anger,angry,'
        '"{""anger"": 0.7}"\n2,Calm.,test,neutral,,neutral,\n',
        encoding="utf-8",
    )
    examples = read_verifier_corpus(path)
    assert [(e.text, e.labels, e.split) for e in examples] == [
        ("He shouts, loudly.", ("anger", "annoyance"), "train"),
        ("Calm.", ("neutral",), "test"),
    ]
    assert [e.labels for e in read_verifier_corpus(path, label_space="mafw")] == [("anger",)]
    assert examples[0].source == f"{path}:2"
    with pytest.raises(ValueError, match=rf"{path}:3: soft targets need a 'probs' object"):
        read_verifier_corpus(path, soft=True)


def test_reasoning_json_both_shapes(tmp_path: Path) -> None:
    path = tmp_path / "emer.json"
    records = [
        {"video": "a.mp4", "conversations": [{"from": "human", "value": "<video>"},
         {"from": "gpt", "value": "<think>He frowns. His voice trembles.</think>\n<answer>anxious</answer>"}]},
        {"reasoning": "She beams at the camera.", "label": "happy"},
        {"video": "b.mp4", "conversations": [{"from": "gpt", "value": "<answer>sad</answer>"}]},
    ]  # fmt: skip
    path.write_text(json.dumps(records), encoding="utf-8")
    examples = read_reasoning_json(path)
    assert [(e.text, e.labels) for e in examples] == [
        ("He frowns. His voice trembles.", ("nervousness",)),
        ("She beams at the camera.", ("joy",)),
    ]
    assert [e.labels for e in read_reasoning_json(path, label_space="mafw")] == [("anxiety",), ("happiness",)]
    sentences = split_examples(examples)
    assert [(e.text, e.labels) for e in sentences[:2]] == [
        ("He frowns.", ("nervousness",)),
        ("His voice trembles.", ("nervousness",)),
    ]
    assert sentences[1].source == f"{path}:record 0 sentence 1"
    path.write_text(json.dumps([{"reasoning": "x", "label": "bored"}]), encoding="utf-8")
    with pytest.raises(ValueError, match=r"emer.json:record 0: 'bored' is not a label of mafw"):
        read_reasoning_json(path)


def test_mafw_captions_gbk(tmp_path: Path) -> None:
    path = tmp_path / "train.txt"
    lines = [
        "00025.mp4\tanger\t一个男人大声说话\tA man speaks loudly. The deep frown.",
        "03747.mp4\tanger_disgust\t皱眉\tHe wrinkles his nose.",
        "01000.mp4\tsadness\t-\t-",
    ]
    path.write_bytes("\r\n".join(lines).encode("gbk"))
    examples = read_mafw_captions(path)
    assert [(e.text, e.labels) for e in examples] == [
        ("A man speaks loudly. The deep frown.", ("anger",)),
        ("He wrinkles his nose.", ("anger", "disgust")),
    ]
    assert examples[1].source == f"{path}:2"
    assert [e.labels for e in read_text_source(path, "mafw_captions", "mafw_compound")][1] == (
        "anger_disgust",
    )
    with pytest.raises(ValueError, match="soft targets need the verifier corpus"):
        read_text_source(path, "mafw_captions", soft=True)


def test_collator_targets() -> None:
    examples = [
        TextExample("a", ("anger", "annoyance"), "f:1", {"anger": 0.7}),
        TextExample("b", ("neutral",), "f:2", {"neutral": 0.9}),
    ]
    multi = TextCollator()(examples)
    assert multi.texts == ["a", "b"]
    assert multi.sources == ["f:1", "f:2"]
    assert multi.targets.shape == (2, 28)
    assert multi.targets[0].nonzero().flatten().tolist() == [2, 3]
    assert multi.targets[1].nonzero().flatten().tolist() == [27]
    soft = TextCollator(soft=True)(examples)
    assert soft.targets[0, 2].item() == pytest.approx(0.7)
    assert soft.targets.sum().item() == pytest.approx(1.6)
    single = TextCollator("dfew")([TextExample("x", ("angry",), "f:3"), TextExample("y", ("fear",), "f:4")])
    assert single.label_space == "dfew"
    assert single.targets.dtype == torch.long
    assert single.targets.tolist() == [3, 6]
    with pytest.raises(ValueError, match=r"f:1: a single-label verifier needs exactly one label"):
        TextCollator("goemotions", multi_label=False)(examples)


def test_dataset_counts(corpus_file: Path) -> None:
    dataset = TextDataset(read_verifier_corpus(corpus_file, split="train"))
    assert len(dataset) == TRAIN_ROWS
    assert dataset.counts[2].item() == TRAIN_ROWS / 6  # anger
    assert dataset.counts.sum().item() == TRAIN_ROWS
    assert dataset[0] is dataset.examples[0]


def test_mafw_captions_from_a_root(tmp_path: Path) -> None:
    folder = tmp_path / "MAFW" / "Train & Test Set" / "single" / "with_caption" / "set_2"
    folder.mkdir(parents=True)
    (folder / "test.txt").write_bytes("00025.mp4\tsadness\t哭\tShe weeps. Tears fall.\r\n".encode("gbk"))
    examples = read_text_source(tmp_path / "MAFW", "mafw_captions", "mafw", split="test", fold=2)
    assert [(e.text, e.labels) for e in examples] == [("She weeps. Tears fall.", ("sadness",))]
    assert [e.text for e in split_examples(examples)] == ["She weeps.", "Tears fall."]


def test_datamodule_text_modality(corpus_file: Path, tmp_path: Path) -> None:
    from ervlight.data.batch import TextBatch
    from ervlight.data.datamodule import ERVDataModule
    from ervlight.data.errors import DatasetLayoutError
    from ervlight.data.text import TextSourceConfig

    data = ERVDataModule(
        modality="text", text=TextSourceConfig(str(corpus_file), label_space="dfew"), batch_size=8
    )
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    assert isinstance(batch, TextBatch)
    assert (len(batch), batch.label_space, batch.targets.shape) == (8, "dfew", (8,))
    assert sum(len(b) for b in data.val_dataloader()) == VAL_ROWS
    assert sum(len(b) for b in data.test_dataloader()) == TEST_ROWS
    emer = tmp_path / "emer.json"
    emer.write_text(json.dumps([{"reasoning": "He frowns. He shouts.", "label": "angry"}]), encoding="utf-8")
    config = TextSourceConfig(str(emer), source="emer", sentences=True, soft=False)
    paragraphs = ERVDataModule(modality="text", text=config, batch_size=4)
    only = next(iter(paragraphs.train_dataloader()))
    assert sorted(only.texts) == ["He frowns.", "He shouts."]  # shuffled
    assert only.targets[:, 2].tolist() == [1.0, 1.0]  # anger
    assert paragraphs.val_dataloader() == []
    with pytest.raises(DatasetLayoutError, match="no sources configured for the test split"):
        paragraphs.test_dataloader()
    with pytest.raises(ValueError, match="modality 'text' needs the 'text' argument"):
        ERVDataModule(modality="text").setup("fit")
