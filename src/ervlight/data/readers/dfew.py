"""DFEW reader: the official split CSVs (found by pattern) -> :class:`~ervlight.data.records.SplitListing`.

Handles the naming variants of the split folders (``train(single-labeled)``, ``train(single_labeled)``,
``train_single-labeled``, plain ``train``), padded and unpadded ids (``7`` and ``00007``), labels 1..7 (0, "not
single-labelled", is reported as an invalid row), and three media layouts:

* ``video`` — ``Clip/original/<00001>.mp4`` (video and audio);
* ``frames`` — ``Clip/clip_224x224/<00001>/`` face frames (audio then from the original mp4 when present);
* ``frames_16f`` — ``Clip/clip_224x224_16f/<00001>/1..16.jpg``.

Clips listed in a split but absent on disk (the 362 clips without a detected face, for frame layouts) are
returned in :attr:`SplitListing.missing` with their ids; nothing raises for them.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Literal

from ervlight.data.errors import DatasetLayoutError
from ervlight.data.files import check_official_split, find_dirs, find_media_dir, read_text
from ervlight.data.records import ClipRecord, InvalidRow, MissingClip, SplitListing
from ervlight.data.registry import DatasetKind, register_dataset
from ervlight.data.sources import DataSource
from ervlight.labels import DFEW

__all__ = ["DFEW_MEDIA_DIRS", "DfewMedia", "find_dfew_split_file", "read_dfew", "read_dfew_source"]

DfewMedia = Literal["video", "frames", "frames_16f"]
#: Folder names (under ``Clip/`` or the root) of each media layout, first match wins.
DFEW_MEDIA_DIRS: dict[str, tuple[str, ...]] = {
    "video": ("original", "videos", "clips"),
    "frames": ("clip_224x224", "jpg_256", "DFEW_Frame_Face", "frames"),
    "frames_16f": ("clip_224x224_16f",),
}
_SPLIT_DIR = re.compile(r"^(train|test)(?:[ _(-]*single[-_ ]?label{1,2}ed\)?)?$", re.IGNORECASE)


def find_dfew_split_file(root: Path, split: str, fold: int) -> Path:
    """The ``set_<fold>.csv`` of ``split`` (``train``/``test``) under a DFEW root; ``DatasetLayoutError`` if none."""
    check_official_split("DFEW", split, fold)
    file_pattern = re.compile(rf"^set[ _-]?0?{fold}\.csv$", re.IGNORECASE)
    for folder in find_dirs(root, _SPLIT_DIR):
        match = _SPLIT_DIR.match(folder.name)
        if match is None or match.group(1).lower() != split:
            continue
        files = [p for p in sorted(folder.iterdir()) if file_pattern.match(p.name)]
        if files:
            return files[0]
    raise DatasetLayoutError(
        root,
        f"no DFEW {split} split file for fold {fold} (looked for a folder named like "
        f"'EmoLabel_DataSplit/{split}(single-labeled)' holding 'set_{fold}.csv')",
    )


def _rows(path: Path) -> tuple[list[tuple[int, list[str]]], str | None]:
    """Data rows ``(line number, cells)`` of a split CSV (header skipped), and a decoding warning."""
    text, warning = read_text(path, ("utf-8-sig", "gb18030"))
    rows = [(i, [c.strip() for c in row]) for i, row in enumerate(csv.reader(io.StringIO(text)), 1) if row]
    if rows and not rows[0][1][0].isdigit():
        rows = rows[1:]
    return rows, warning


def _find(folder: Path | None, clip_id: int, suffix: str) -> Path | None:
    """``folder/<00007><suffix>`` or ``folder/<7><suffix>``, whichever exists."""
    if folder is None:
        return None
    for name in (f"{clip_id:05d}{suffix}", f"{clip_id}{suffix}"):
        if (folder / name).exists():
            return folder / name
    return None


def read_dfew(
    root: str | Path, split: str = "train", fold: int = 1, media: DfewMedia = "video"
) -> SplitListing:
    """Read one official DFEW split (``train``/``test`` of fold 1..5) with its media paths."""
    root = Path(root)
    path = find_dfew_split_file(root, split, fold)
    listing = SplitListing(name=f"dfew fold {fold} {split}")
    rows, warning = _rows(path)
    if warning:
        listing.warnings.append(warning)
    # media folders: under Clip/ or the root, or next to the split folders' parent (the split file's 2nd parent)
    videos = find_media_dir(root, DFEW_MEDIA_DIRS["video"], "Clip", path, 2)
    frames = find_media_dir(root, DFEW_MEDIA_DIRS[media], "Clip", path, 2) if media != "video" else None
    for line, cells in rows:
        source = f"{path}:{line}"
        if len(cells) < 2 or not cells[0].isdigit():
            listing.invalid.append(
                InvalidRow(source, f"expected 'video_name,label' with an integer id, got {cells}")
            )
            continue
        clip_id = int(cells[0])
        label = _label(cells[1])
        if label is None:
            listing.invalid.append(
                InvalidRow(source, f"label {cells[1]!r} is not a DFEW label (1..7 or a name)")
            )
            continue
        video = _find(videos, clip_id, ".mp4")
        folder = _find(frames, clip_id, "") if media != "video" else None
        wanted = video if media == "video" else folder
        record = ClipRecord(
            clip_id=f"{clip_id:05d}",
            dataset=str(DFEW.name),
            label=label,
            split=split,
            fold=fold,
            video=video if media == "video" else None,
            frames_dir=folder,
            audio=video,
            source=source,
        )
        if wanted is None:
            where = (videos if media == "video" else frames) or root / "Clip" / DFEW_MEDIA_DIRS[media][0]
            expected = where / (f"{clip_id:05d}.mp4" if media == "video" else f"{clip_id:05d}")
            listing.missing.append(
                MissingClip(
                    f"{clip_id:05d}", str(expected), source, record.with_media(expected, media != "video")
                )
            )
            continue
        listing.records.append(record)
    return listing


def _label(cell: str) -> str | None:
    """A DFEW label from an official id (``1``..``7``) or a label word; ``None`` for 0 and garbage."""
    if cell.isdigit():
        try:
            return DFEW.from_official_id(int(cell))
        except KeyError:
            return None
    return DFEW.normalize(cell)


def read_dfew_source(source: DataSource, split: str | None, fold: int) -> SplitListing:
    """The registry's reader of ``kind: dfew`` (``split`` defaults to ``train``)."""
    return read_dfew(source.root, split or "train", fold, source.media)  # type: ignore[arg-type]


register_dataset(
    DatasetKind(
        "dfew",
        read_dfew_source,
        (str(DFEW.name),),
        tuple(DFEW_MEDIA_DIRS),
        official_splits=True,
        title="DFEW",
    )
)
