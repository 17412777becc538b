"""MAFW reader: the official ``Train & Test Set`` lists (found by pattern) -> :class:`SplitListing`.

Handles the single (11 classes, label space ``mafw``) and compound (43 classes, ``mafw_compound``) views, the
``no_caption`` lists (``00025.mp4 anger``, ASCII/UTF-8) and the ``with_caption`` lists (``clip<TAB>label<TAB>zh
<TAB>en``, GBK; the English caption is kept), CRLF line endings, non-contiguous 5-digit ids, the renamed split
folders (``Train & Test Set``, ``Train_Test_Set``, ``split``, ``anno``… any folder holding ``single/`` or
``compound/``), EmoCLIP's ``*_caption_new`` folders, and three media layouts:

* ``video`` — ``data/clips/<id>.mp4``;
* ``frames`` — ``data/frames/<id>/`` (audio from the mp4, else ``data/audio_16k/<id>.wav``);
* ``faces`` — ``data/faces/<id>/`` (same audio rule).

A clip whose mp4 has no audio track (21 in MAFW) is listed normally: the decoder's audio policy deals with it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from ervlight.data.errors import DatasetLayoutError
from ervlight.data.files import check_official_split, find_dirs, find_media_dir, read_text
from ervlight.data.records import ClipRecord, InvalidRow, MissingClip, SplitListing
from ervlight.data.registry import DatasetKind, register_dataset
from ervlight.data.sources import DataSource
from ervlight.labels import MAFW, MAFW_COMPOUND, LabelSpace

__all__ = ["MafwMedia", "MafwView", "find_mafw_split_file", "read_mafw", "read_mafw_source"]

MafwView = Literal["single", "compound"]
MafwMedia = Literal["video", "frames", "faces"]
_VIEW_DIR = re.compile(r"^(single|compound)$", re.IGNORECASE)
_MEDIA_DIRS: dict[str, tuple[str, ...]] = {
    "video": ("clips", "videos"),
    "frames": ("frames",),
    "faces": ("faces",),
}


def _caption_dir(view_dir: Path, captions: bool) -> Path | None:
    """The ``no_caption`` / ``with_caption`` folder (``-`` or ``_``, optional ``_new`` suffix) of a view."""
    pattern = re.compile(rf"^{'with' if captions else 'no'}[ _-]?caption(?:[ _-]?new)?$", re.IGNORECASE)
    matches = [p for p in sorted(view_dir.iterdir()) if p.is_dir() and pattern.match(p.name)]
    return matches[0] if matches else None


def find_mafw_split_file(
    root: Path, split: str, fold: int, view: MafwView = "single", captions: bool = False
) -> Path:
    """The ``set_<fold>/<split>.txt`` list of a MAFW view; ``DatasetLayoutError`` if the tree has none."""
    check_official_split("MAFW", split, fold)
    set_pattern = re.compile(rf"^set[ _-]?0?{fold}$", re.IGNORECASE)
    for view_dir in find_dirs(root, _VIEW_DIR):
        if view_dir.name.lower() != view:
            continue
        caption_dir = _caption_dir(view_dir, captions)
        sets = [p for p in sorted(caption_dir.iterdir()) if set_pattern.match(p.name)] if caption_dir else []
        for set_dir in sets:
            for candidate in (set_dir / f"{split}.txt", set_dir / f"{split}.TXT"):
                if candidate.is_file():
                    return candidate
    kind = "with_caption" if captions else "no_caption"
    raise DatasetLayoutError(
        root,
        f"no MAFW {view}/{kind} {split} list for fold {fold} (looked for a folder such as 'Train & Test Set' "
        f"holding '{view}/{kind}/set_{fold}/{split}.txt')",
    )


def _parse(line: str, captions: bool) -> tuple[str, str, str | None] | None:
    """``(clip id, label text, English caption)`` of a list line, or ``None`` if it has under two fields."""
    fields = [f.strip() for f in (line.split("\t") if "\t" in line else line.split(None, 1))]
    if len(fields) < 2 or not fields[0] or not fields[1]:
        return None
    clip = fields[0].removesuffix(".mp4").removesuffix(".MP4")
    clip = clip.zfill(5) if clip.isdigit() else clip
    caption = fields[3] if captions and len(fields) >= 4 and fields[3] not in ("", "-") else None
    return clip, fields[1], caption


def read_mafw(
    root: str | Path,
    split: str = "train",
    fold: int = 1,
    view: MafwView = "single",
    captions: bool = False,
    media: MafwMedia = "video",
) -> SplitListing:
    """Read one official MAFW list (``train``/``test`` of fold 1..5, single or compound, with/without captions)."""
    root = Path(root)
    path = find_mafw_split_file(root, split, fold, view, captions)
    space: LabelSpace = MAFW if view == "single" else MAFW_COMPOUND
    listing = SplitListing(name=f"mafw {view}{' with_caption' if captions else ''} fold {fold} {split}")
    text, warning = read_text(path, ("gbk", "gb18030", "utf-8-sig") if captions else ("utf-8-sig", "gb18030"))
    if warning:
        listing.warnings.append(warning)
    # data/<clips|frames|faces> under the root, or under the split folder's parent (the list's 4th parent)
    clips = find_media_dir(root, _MEDIA_DIRS["video"], "data", path, 4)
    frames = find_media_dir(root, _MEDIA_DIRS[media], "data", path, 4)
    wavs = (clips.parent if clips is not None else root / "data") / "audio_16k"
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        source = f"{path}:{number}"
        parsed = _parse(line, captions)
        if parsed is None:
            listing.invalid.append(InvalidRow(source, f"expected '<clip>.mp4 <label>', got {line!r}"))
            continue
        clip_id, label_text, caption = parsed
        label = space.normalize(label_text)
        if label is None:
            listing.invalid.append(InvalidRow(source, f"label {label_text!r} is not a {space.name} label"))
            continue
        video = clips / f"{clip_id}.mp4" if clips else None
        video = video if video is not None and video.is_file() else None
        folder = frames / clip_id if frames is not None and media != "video" else None
        wanted = video if media == "video" else (folder if folder is not None and folder.is_dir() else None)
        wav = wavs / f"{clip_id}.wav"
        audio = video if video is not None else (wav if wav.is_file() else None)
        record = ClipRecord(
            clip_id=clip_id,
            dataset=str(space.name),
            label=label,
            split=split,
            fold=fold,
            video=video if media == "video" else None,
            frames_dir=None if media == "video" else folder,
            audio=audio,
            caption=caption,
            source=source,
        )
        if wanted is None:
            base = (frames if media != "video" else clips) or root / "data" / _MEDIA_DIRS[media][0]
            expected = base / (f"{clip_id}.mp4" if media == "video" else clip_id)
            listing.missing.append(
                MissingClip(clip_id, str(expected), source, record.with_media(expected, media != "video"))
            )
            continue
        listing.records.append(record)
    return listing


def read_mafw_source(source: DataSource, split: str | None, fold: int) -> SplitListing:
    """The registry's reader of ``kind: mafw`` (``split`` defaults to ``train``)."""
    return read_mafw(source.root, split or "train", fold, source.view, source.captions, source.media)  # type: ignore[arg-type]


register_dataset(
    DatasetKind(
        "mafw",
        read_mafw_source,
        (str(MAFW.name), str(MAFW_COMPOUND.name)),
        tuple(_MEDIA_DIRS),
        official_splits=True,
        title="MAFW",
    )
)
