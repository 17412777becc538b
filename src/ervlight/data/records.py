"""The common record every reader produces, and the listing of one split (records, missing clips, bad rows).

DFEW, MAFW and R1-Omni/EMER JSON readers all return a :class:`SplitListing` of :class:`ClipRecord`. A record says
where a clip's media lives (an mp4, a frame folder, an audio file), its gold label in the dataset's label space
(:mod:`ervlight.labels`), its fold and split, and optional text (a MAFW caption, an EMER reasoning target).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ervlight.labels import UNPARSEABLE, get_label_space

__all__ = ["ClipRecord", "InvalidRow", "MissingClip", "SplitListing"]


@dataclass(frozen=True)
class ClipRecord:
    """One clip of a split.

    Attributes:
        clip_id: the dataset's clip id (``"00025"``; DFEW ids are zero-padded to 5 digits).
        dataset: label-space name of ``label`` (``dfew``, ``mafw`` or ``mafw_compound``).
        label: canonical gold label in that space, ``None`` when unknown (prediction).
        split: ``train`` or ``test`` (official lists) or the name given to a JSON file.
        fold: the official fold 1..5, ``None`` for JSON sources.
        video: the mp4 (video and, usually, audio) or ``None`` when frames come from ``frames_dir``.
        frames_dir: a folder of frame images (natural order by trailing number) or ``None``.
        audio: the file the audio is read from (the mp4 itself, or a WAV), ``None`` when there is none.
        caption: a dataset caption (MAFW ``with_caption``, English), if any.
        target: a reasoning target ``<think>…</think>\\n<answer>…</answer>`` (EMER cold-start data), if any.
        source: ``file:line`` (or ``file#index``) of the row that listed the clip, for messages.
    """

    clip_id: str
    dataset: str
    label: str | None
    split: str
    fold: int | None = None
    video: Path | None = None
    frames_dir: Path | None = None
    audio: Path | None = None
    caption: str | None = None
    target: str | None = None
    source: str = ""

    @property
    def label_index(self) -> int:
        """0-based class index of ``label`` in its label space (``-1`` when unknown)."""
        return UNPARSEABLE if self.label is None else get_label_space(self.dataset).index(self.label)

    @property
    def media(self) -> Path | None:
        """The path the frames are read from: ``video`` or ``frames_dir``."""
        return self.video if self.video is not None else self.frames_dir

    def with_media(self, path: Path, frames: bool = False) -> ClipRecord:
        """A copy whose frame folder (``frames``) or video and audio file is ``path``."""
        return replace(self, frames_dir=path) if frames else replace(self, video=path, audio=path)

    def with_split(self, split: str) -> ClipRecord:
        """A copy with another split name."""
        return replace(self, split=split)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (paths as strings, ``None`` fields dropped)."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if value is not None:
                out[key] = str(value) if isinstance(value, Path) else value
        return out


@dataclass(frozen=True)
class MissingClip:
    """A clip a split lists whose media is not on disk.

    Attributes:
        clip_id: the listed id.
        expected: the path the media was looked for at.
        source: ``file:line`` of the listing row.
        record: the record the clip would have (its media path is ``expected``), so evaluation and ``data
            inspect`` can count it with its label; ``None`` when a reader cannot build one.
    """

    clip_id: str
    expected: str
    source: str
    record: ClipRecord | None = None


@dataclass(frozen=True)
class InvalidRow:
    """A split-file row or JSON record that could not be read (bad label, bad id, missing field)."""

    source: str
    reason: str


@dataclass
class SplitListing:
    """What a reader found for one split: usable records, clips missing on disk and unreadable rows.

    Attributes:
        name: a human name (``"dfew fold 1 train"``).
        records: clips whose media exists.
        missing: clips listed but not on disk (with the path that was expected).
        invalid: rows that could not be read, with the reason.
        warnings: other notes (for example undecodable bytes replaced in a caption file).
    """

    name: str
    records: list[ClipRecord] = field(default_factory=list)
    missing: list[MissingClip] = field(default_factory=list)
    invalid: list[InvalidRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    def listed(self) -> list[ClipRecord]:
        """Every listed clip with a record: those on disk, then the missing ones (bad rows have none)."""
        return self.records + [m.record for m in self.missing if m.record is not None]

    def class_counts(self, records: list[ClipRecord] | None = None) -> dict[str, int]:
        """Clips per label in label-space order (default: :attr:`records`); ``dataset:label`` keys when mixed."""
        records = self.records if records is None else records
        counts = Counter((r.dataset, r.label) for r in records if r.label is not None)
        datasets = list(dict.fromkeys(r.dataset for r in records))
        out: dict[str, int] = {}
        for dataset in datasets:
            for label in get_label_space(dataset).labels:
                if counts[(dataset, label)]:
                    out[f"{dataset}:{label}" if len(datasets) > 1 else label] = counts[(dataset, label)]
        return out

    def extend(self, other: SplitListing) -> None:
        """Append another listing's records, missing clips, invalid rows and warnings."""
        self.records.extend(other.records)
        self.missing.extend(other.missing)
        self.invalid.extend(other.invalid)
        self.warnings.extend(other.warnings)
