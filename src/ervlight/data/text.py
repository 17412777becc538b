"""Text data for the verifier: datasets, collation and the DataModule's text configuration.

Rows come from the readers of :mod:`ervlight.data.text_sources` (verifier corpus JSONL/CSV, EMER-style
reasoning JSON, MAFW English captions) with hard labels or teacher probabilities. Paragraphs may be split with
:func:`ervlight.parsing.split_sentences`; each sentence keeps its paragraph's targets. :class:`TextDataset`
holds rows and :class:`TextCollator` turns them into a :class:`~ervlight.data.batch.TextBatch` (symbols: ``B``
texts, ``K`` labels); :class:`TextSourceConfig` is the ``text:`` argument of
:class:`~ervlight.data.datamodule.ERVDataModule`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import torch
from torch.utils.data import Dataset

from ervlight.data.batch import TextBatch
from ervlight.data.goemotions import read_goemotions
from ervlight.data.text_sources import (
    TextExample,
    TextSource,
    read_mafw_captions,
    read_reasoning_json,
    read_text_source,
    read_verifier_corpus,
)
from ervlight.labels import LabelSpace, get_label_space
from ervlight.parsing import split_sentences

__all__ = [
    "TextCollator",
    "TextDataset",
    "TextExample",
    "TextSource",
    "TextSourceConfig",
    "read_mafw_captions",
    "read_reasoning_json",
    "read_text_source",
    "read_verifier_corpus",
    "split_examples",
]


#: The split of each source read for a DataModule split (``None``: the source has none for it).
_SOURCE_SPLITS: dict[str, dict[str, str | None]] = {
    "corpus": {"train": "train", "val": "val", "test": "test", "predict": "test"},
    "emer": {"train": "train", "val": None, "test": None, "predict": None},
    "mafw_captions": {"train": "train", "val": "test", "test": "test", "predict": "test"},
    "goemotions": {"train": "train", "val": "val", "test": "test", "predict": "test"},
}


@dataclass(frozen=True)
class TextSourceConfig:
    """The text data of a verifier run, as :class:`~ervlight.data.datamodule.ERVDataModule` takes it (``text:``).

    Attributes:
        path: the verifier corpus (JSONL/CSV), an EMER-style JSON file, or a MAFW root / caption list.
        source: ``corpus``, ``emer``, ``mafw_captions`` or ``goemotions`` (:mod:`ervlight.data.goemotions`).
        label_space: the verifier's labels (``goemotions`` multi-label; ``mafw``/``dfew`` single-label).
        soft: train on the corpus's teacher probabilities (``probs``) instead of hard labels.
        sentences: split paragraphs into sentences (each keeps its paragraph's labels).
        dataset: label space of the answers in EMER-style JSON.
        multi_label: ``[B, K]`` (``True``) or ``[B]`` (``False``) targets; ``None`` follows the label space.
    """

    path: str
    source: TextSource = "corpus"
    label_space: str = "goemotions"
    soft: bool = False
    sentences: bool = False
    dataset: str = "mafw"
    multi_label: bool | None = None

    def dataset_of(self, split: str, fold: int = 1) -> TextDataset | None:
        """The dataset of a DataModule split (``train``/``val``/``test``/``predict``), ``None`` if there is none.

        The corpus serves its own ``train``/``val``/``test`` rows (``predict`` reads ``test``); MAFW captions serve
        the fold's ``train`` list for training and its ``test`` list otherwise; EMER JSON serves training only.
        ``sentences`` splits paragraphs with :func:`ervlight.parsing.split_sentences`.
        """
        if self.source not in _SOURCE_SPLITS:
            raise ValueError(
                f"unknown text source {self.source!r}; expected one of {', '.join(_SOURCE_SPLITS)}"
            )
        if split not in _SOURCE_SPLITS[self.source]:
            raise ValueError(f"unknown split {split!r}; expected train, val, test or predict")
        source_split = _SOURCE_SPLITS[self.source][split]
        if source_split is None:
            return None
        if self.source == "goemotions":
            if self.soft:
                raise ValueError(
                    "soft targets need the verifier corpus's 'probs'; GoEmotions has hard labels"
                )
            examples = read_goemotions(self.path, self.label_space, source_split)
        else:
            examples = read_text_source(
                self.path, self.source, self.label_space, source_split, self.soft, self.dataset, fold
            )
        if self.sentences:
            examples = split_examples(examples)
        if not examples:
            raise ValueError(f"{self.path}: no {source_split} texts with {self.label_space} labels")
        return TextDataset(examples, self.label_space)

    def collator(self) -> TextCollator:
        """The collate function of these texts."""
        return TextCollator(self.label_space, self.multi_label, self.soft)


def split_examples(examples: Iterable[TextExample]) -> list[TextExample]:
    """One example per sentence (:func:`ervlight.parsing.split_sentences`), each with its paragraph's targets."""
    return [
        replace(example, text=sentence, source=f"{example.source} sentence {i}")
        for example in examples
        for i, sentence in enumerate(split_sentences(example.text))
    ]


@dataclass
class TextDataset(Dataset[TextExample]):
    """Text examples over one label space, indexable for a DataLoader."""

    examples: list[TextExample]
    label_space: str = "goemotions"
    counts: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        space = get_label_space(self.label_space)
        counts = torch.zeros(space.num_classes)  # [K]
        for example in self.examples:
            for label in example.labels:
                counts[space.index(label)] += 1
        self.counts = counts

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> TextExample:
        return self.examples[index]


@dataclass(frozen=True)
class TextCollator:
    """Turn text examples into a :class:`TextBatch`: multi-hot or teacher-probability targets, or class indices.

    Attributes:
        label_space: the targets' label space.
        multi_label: ``[B, K]`` multi-hot/probability targets (``True``) or ``[B]`` class indices (``False``);
            ``None`` follows the space (GoEmotions multi-label, datasets single-label).
        soft: use teacher probabilities (``[B, K]`` float in both cases).
    """

    label_space: str = "goemotions"
    multi_label: bool | None = None
    soft: bool = False

    def __call__(self, examples: Sequence[TextExample]) -> TextBatch:
        """Collate ``B`` examples."""
        space = get_label_space(self.label_space)
        multi = space.multi_label if self.multi_label is None else self.multi_label
        if self.soft:
            targets = torch.tensor([[_prob(e, label) for label in space.labels] for e in examples])  # [B, K]
        elif multi:
            targets = torch.zeros(len(examples), space.num_classes)  # [B, K]
            for row, example in enumerate(examples):
                targets[row, [space.index(label) for label in example.labels]] = 1.0
        else:
            targets = torch.tensor([_single(e, space) for e in examples], dtype=torch.long)  # [B]
        return TextBatch([e.text for e in examples], space.name, targets, [e.source for e in examples])


def _prob(example: TextExample, label: str) -> float:
    """A teacher probability (0 for labels the teacher left out); error naming the row if it has none."""
    if example.probs is None:
        raise ValueError(f"{example.source}: soft targets requested but the row has no 'probs'")
    return float(example.probs.get(label, 0.0))


def _single(example: TextExample, space: LabelSpace) -> int:
    """The class index of a single-label example; error naming the row if it has several labels."""
    if len(example.labels) != 1:
        raise ValueError(
            f"{example.source}: a single-label verifier needs exactly one label, got {list(example.labels)}"
        )
    return space.index(example.labels[0])
