"""Text sources of the verifier, read into :class:`TextExample` rows that name the file and line they came from.

* the verifier corpus, JSONL or CSV (``id, text, split, goemotions, mafw, dfew[, probs]``; the CSV holds label
  lists joined by ``;`` and ``probs`` as a JSON object) — :func:`read_verifier_corpus`;
* EMER-style reasoning JSON (R1-Omni records whose answer is ``<think>…</think><answer>…</answer>``, or flat
  ``{"reasoning": …, "label": …}`` records) — :func:`read_reasoning_json`;
* MAFW's English captions (the GBK, tab-separated ``with_caption`` split files) — :func:`read_mafw_captions`.

Dataset labels reach a GoEmotions space through :meth:`ervlight.labels.LabelSpace.goemotions_indices`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ervlight.data.files import read_text
from ervlight.data.readers.mafw import find_mafw_split_file
from ervlight.jsonl import read_jsonl
from ervlight.labels import GOEMOTIONS, LabelSpace, get_label_space
from ervlight.parsing import extract_answer, extract_think

__all__ = [
    "TextExample",
    "TextSource",
    "read_mafw_captions",
    "read_reasoning_json",
    "read_text_source",
    "read_verifier_corpus",
]

TextSource = Literal["corpus", "emer", "mafw_captions", "goemotions"]
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
            out.extend(dataset.goemotions_labels(label))
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
    yield from read_jsonl(path)


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
    as :func:`ervlight.data.readers.mafw.find_mafw_split_file` finds it (single view; compound lists by file). Only the
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
    """Read a text source by kind (``corpus``, ``emer``, ``mafw_captions``; ``goemotions``: :mod:`.goemotions`)."""
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
