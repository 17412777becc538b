"""Text data for the verifier: rationale sentences or paragraphs with hard labels or teacher probabilities.

Three sources, each read into :class:`TextExample` rows that name the file and line they came from:

* the verifier corpus, JSONL or CSV (``id, text, split, goemotions, mafw, dfew[, probs]``; the CSV holds label
  lists joined by ``;`` and ``probs`` as a JSON object) — :func:`read_verifier_corpus`;
* EMER-style reasoning JSON (R1-Omni records whose answer is ``<think>…</think><answer>…</answer>``, or flat
  ``{"reasoning": …, "label": …}`` records) — :func:`read_reasoning_json`;
* MAFW's English captions (the GBK, tab-separated ``with_caption`` split files) — :func:`read_mafw_captions`.

Dataset labels reach a GoEmotions space through :meth:`ervlight.labels.LabelSpace.goemotions_indices`.
Paragraphs may be split with :func:`ervlight.parsing.split_sentences`; each sentence keeps its paragraph's
targets. :class:`TextDataset` holds rows and :class:`TextCollator` turns them into a
:class:`~ervlight.data.batch.TextBatch` (symbols: ``B`` texts, ``K`` labels).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import torch
from torch.utils.data import Dataset

from ervlight.data.batch import TextBatch
from ervlight.data.files import read_text
from ervlight.data.mafw import find_mafw_split_file
from ervlight.labels import GOEMOTIONS, LabelSpace, get_label_space
from ervlight.parsing import extract_answer, extract_think, split_sentences

__all__ = [
    "TargetKind",
    "TextCollator",
    "TextDataset",
    "TextExample",
    "TextSource",
    "TextSourceConfig",
    "build_text_dataset",
    "read_mafw_captions",
    "read_reasoning_json",
    "read_text_source",
    "read_verifier_corpus",
    "split_examples",
]

TargetKind = Literal["hard", "soft"]
TextSource = Literal["corpus", "emer", "mafw_captions"]
_LIST_SEPARATORS = (";", "|")


@dataclass(frozen=True)
class TextExample:
    """One verifier training text.

    Attributes:
        text: the sentence or paragraph.
        labels: its labels, canonical names of the dataset's label space (several in a multi-label space).
        source: ``file:line`` (or ``file:record``) it came from.
        probs: teacher probabilities per label (soft targets), ``None`` when the source has none.
        split: ``train``/``val``/``test`` when the source says, else ``None``.
    """

    text: str
    labels: tuple[str, ...]
    source: str
    probs: Mapping[str, float] | None = None
    split: str | None = None


def _to_space(labels: Iterable[str], dataset: LabelSpace, space: LabelSpace, where: str) -> tuple[str, ...]:
    """Normalise labels of ``dataset`` and carry them into ``space`` (a GoEmotions space via the label map)."""
    out: list[str] = []
    for raw in labels:
        label = dataset.normalize(raw)
        if label is None:
            raise ValueError(f"{where}: {raw!r} is not a label of {dataset.name}")
        if space is dataset:
            out.append(label)
        elif space.multi_label and space.name == GOEMOTIONS.name:
            out.extend(GOEMOTIONS.labels[i] for i in dataset.goemotions_indices(label))
        else:
            carried = space.normalize(label)
            if carried is None:
                raise ValueError(
                    f"{where}: {dataset.name} label {label!r} has no counterpart in {space.name}"
                )
            out.append(carried)
    return tuple(dict.fromkeys(out))


def _check_probs(probs: Any, space: LabelSpace, where: str) -> dict[str, float]:
    """Validate a teacher-probability mapping against the label space."""
    if not isinstance(probs, Mapping):
        raise ValueError(
            f"{where}: 'probs' must be an object of label -> probability, got {type(probs).__name__}"
        )
    unknown = [k for k in probs if k not in space]
    if unknown:
        raise ValueError(
            f"{where}: 'probs' names labels outside {space.name}: {', '.join(map(str, unknown))}"
        )
    out = {str(k): float(v) for k, v in probs.items()}
    if any(not 0.0 <= v <= 1.0 for v in out.values()):
        raise ValueError(f"{where}: teacher probabilities must lie in [0, 1]")
    return out


def _corpus_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, record)`` per JSONL line or CSV row (CSV label lists split on ``;`` or ``|``)."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            for number, row in enumerate(csv.DictReader(handle), start=2):
                yield f"{path}:{number}", _csv_record(row, f"{path}:{number}")
        return
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not a JSON object ({error.msg})") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
            yield f"{path}:{number}", record


def _csv_record(row: dict[str, str | None], where: str) -> dict[str, Any]:
    """A CSV row as a corpus record: label lists split, empty cells as null, ``probs`` parsed from JSON."""
    record: dict[str, Any] = {k: (v if v not in ("", None) else None) for k, v in row.items() if k}
    if record.get("goemotions"):
        cell = str(record["goemotions"])
        sep = next((s for s in _LIST_SEPARATORS if s in cell), ";")
        record["goemotions"] = [part.strip() for part in cell.split(sep) if part.strip()]
    if record.get("probs"):
        try:
            record["probs"] = json.loads(str(record["probs"]))
        except json.JSONDecodeError as error:
            raise ValueError(f"{where}: the 'probs' cell is not JSON ({error.msg})") from None
    return record


def read_verifier_corpus(
    path: str | Path, label_space: str = "goemotions", split: str | None = None, soft: bool = False
) -> list[TextExample]:
    """Rows of a verifier corpus (JSONL or CSV) in ``label_space``, optionally of one ``split`` only.

    The labels come from the field named like the space (``goemotions``, ``mafw``, ``dfew``; ``mafw`` for
    ``mafw_compound``); rows whose field is null are skipped (a DFEW verifier skips MAFW-only sentences).
    ``soft`` requires each row's ``probs``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"verifier corpus {path} does not exist")
    space = get_label_space(label_space)
    key = "mafw" if space.name == "mafw_compound" else space.name
    examples = []
    for where, record in _corpus_rows(path):
        if split is not None and record.get("split") != split:
            continue
        text, value = record.get("text"), record.get(key)
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{where}: missing or empty 'text'")
        if value is None or value == []:
            continue
        labels = _to_space([value] if isinstance(value, str) else value, space, space, where)
        probs = None
        if soft:
            if record.get("probs") is None:
                raise ValueError(f"{where}: soft targets need a 'probs' object on every row")
            probs = _check_probs(record["probs"], space, where)
        examples.append(TextExample(text.strip(), labels, where, probs, record.get("split")))
    return examples


def _reasoning_pair(record: Any, where: str) -> tuple[str | None, str | None]:
    """``(rationale, label)`` of an R1-Omni conversation record or a flat reasoning record."""
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    turns = record.get("conversations")
    if isinstance(turns, list):
        answer = next((t.get("value") for t in turns if isinstance(t, dict) and t.get("from") == "gpt"), None)
        if not isinstance(answer, str):
            raise ValueError(f"{where}: no 'gpt' turn with a string value")
        return extract_think(answer), extract_answer(answer)
    text = record.get("reasoning", record.get("text"))
    label = record.get("label", record.get("emotion"))
    return (text if isinstance(text, str) else None), (label if isinstance(label, str) else None)


def read_reasoning_json(
    path: str | Path, label_space: str = "goemotions", dataset: str = "mafw"
) -> list[TextExample]:
    """Rationales of an EMER-style JSON list, with their answer labels (of ``dataset``) in ``label_space``.

    Records without a rationale are skipped; an answer outside ``dataset``'s labels is an error naming the record.
    """
    path = Path(path)
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"reasoning file {path} does not exist") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected a JSON list of records, got {type(records).__name__}")
    space, source = get_label_space(label_space), get_label_space(dataset)
    examples = []
    for number, record in enumerate(records):
        where = f"{path}:record {number}"
        text, label = _reasoning_pair(record, where)
        if not text:
            continue
        if label is None:
            raise ValueError(f"{where}: a rationale without a label")
        examples.append(TextExample(text, _to_space([label], source, space, where), where))
    return examples


def read_mafw_captions(
    path: str | Path, label_space: str = "goemotions", split: str = "train", fold: int = 1
) -> list[TextExample]:
    """English captions of a MAFW ``with_caption`` list (GBK, ``clip<TAB>label<TAB>zh<TAB>en``).

    ``path`` is the list file itself, or a MAFW root whose ``with_caption`` list of ``split``/``fold`` is found
    as :func:`ervlight.data.mafw.find_mafw_split_file` finds it (single view; compound lists by file). Only the
    text is read, so clips need not be present. Rows without an English caption (``-``) are skipped; compound
    labels (``anger_disgust``) are read in the compound space.
    """
    path = Path(path)
    if path.is_dir():
        path = find_mafw_split_file(path, split, fold, "single", captions=True)
    if not path.is_file():
        raise FileNotFoundError(f"MAFW caption file {path} does not exist")
    content, _ = read_text(path, ("gbk", "gb18030", "utf-8-sig"))
    space, mafw = get_label_space(label_space), get_label_space("mafw_compound")
    examples = []
    for number, line in enumerate(content.splitlines(), start=1):
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) < 4 or fields[3] in ("", "-"):
            continue
        where = f"{path}:{number}"
        examples.append(TextExample(fields[3], _to_space([fields[1]], mafw, space, where), where))
    return examples


def read_text_source(
    path: str | Path,
    source: TextSource = "corpus",
    label_space: str = "goemotions",
    split: str | None = None,
    soft: bool = False,
    dataset: str = "mafw",
    fold: int = 1,
) -> list[TextExample]:
    """Read any text source by kind (``corpus``, ``emer``, ``mafw_captions``); see the readers for fields."""
    if source == "corpus":
        return read_verifier_corpus(path, label_space, split=split, soft=soft)
    if soft:
        raise ValueError(
            f"soft targets need the verifier corpus's 'probs'; {source!r} files carry hard labels only"
        )
    if source == "emer":
        return read_reasoning_json(path, label_space, dataset=dataset)
    if source == "mafw_captions":
        return read_mafw_captions(path, label_space, split=split or "train", fold=fold)
    raise ValueError(f"unknown text source {source!r}; expected corpus, emer or mafw_captions")


#: The split of each source read for a DataModule split (``None``: the source has none for it).
_SOURCE_SPLITS: dict[str, dict[str, str | None]] = {
    "corpus": {"train": "train", "val": "val", "test": "test", "predict": "test"},
    "emer": {"train": "train", "val": None, "test": None, "predict": None},
    "mafw_captions": {"train": "train", "val": "test", "test": "test", "predict": "test"},
}


def build_text_dataset(
    split: str,
    path: str | Path,
    source: TextSource = "corpus",
    label_space: str = "goemotions",
    soft: bool = False,
    sentences: bool = False,
    dataset: str = "mafw",
    fold: int = 1,
) -> TextDataset | None:
    """The dataset of a DataModule split (``train``/``val``/``test``/``predict``), ``None`` if there is none.

    The corpus serves its own ``train``/``val``/``test`` rows (``predict`` reads ``test``); MAFW captions serve
    the fold's ``train`` list for training and its ``test`` list otherwise; EMER JSON serves training only.
    ``sentences`` splits paragraphs with :func:`ervlight.parsing.split_sentences`.
    """
    if source not in _SOURCE_SPLITS:
        raise ValueError(f"unknown text source {source!r}; expected one of {', '.join(_SOURCE_SPLITS)}")
    if split not in _SOURCE_SPLITS[source]:
        raise ValueError(f"unknown split {split!r}; expected train, val, test or predict")
    source_split = _SOURCE_SPLITS[source][split]
    if source_split is None:
        return None
    examples = read_text_source(path, source, label_space, source_split, soft, dataset, fold)
    if sentences:
        examples = split_examples(examples)
    if not examples:
        raise ValueError(f"{path}: no {source_split} texts with {label_space} labels")
    return TextDataset(examples, label_space)


@dataclass(frozen=True)
class TextSourceConfig:
    """The text data of a verifier run, as :class:`~ervlight.data.datamodule.ERVDataModule` takes it (``text:``).

    Attributes:
        path: the verifier corpus (JSONL/CSV), an EMER-style JSON file, or a MAFW root / caption list.
        source: ``corpus``, ``emer`` or ``mafw_captions``.
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
        """The dataset of a DataModule split (see :func:`build_text_dataset`)."""
        return build_text_dataset(
            split, self.path, self.source, self.label_space, self.soft, self.sentences, self.dataset, fold
        )

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
