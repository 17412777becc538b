"""File helpers shared by the readers: tolerant text decoding, JSON Lines, natural sort, folder search by pattern."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "IMAGE_SUFFIXES",
    "check_official_split",
    "find_dirs",
    "find_media_dir",
    "list_images",
    "natural_key",
    "read_text",
]

#: Frame image suffixes a frame folder may hold.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
_NUMBER = re.compile(r"(\d+)")


def read_text(path: Path, encodings: Sequence[str] = ("utf-8-sig",)) -> tuple[str, str | None]:
    """Decode a text file with the first encoding that works; returns ``(text, warning)``.

    When no encoding decodes the file strictly, the first one is used with ``errors="replace"`` and the warning
    names the file and the bad byte offset, so nothing is silently lost.
    """
    data = path.read_bytes()
    for encoding in encodings:
        try:
            return data.decode(encoding), None
        except UnicodeDecodeError:
            continue
    try:
        data.decode(encodings[0])
    except UnicodeDecodeError as error:
        offset = error.start
    text = data.decode(encodings[0], errors="replace")
    tried = "/".join(encodings)
    return text, f"{path}: bytes at offset {offset} are not valid {tried}; replaced with U+FFFD"


def natural_key(name: str) -> tuple[int, str]:
    """Sort key of a frame file: its trailing integer (``00001_12.jpg`` -> 12), then the name."""
    numbers = _NUMBER.findall(Path(name).stem)
    return (int(numbers[-1]) if numbers else -1, name)


def list_images(folder: Path) -> list[Path]:
    """Image files of a frame folder in natural order (by the trailing number of the name)."""
    images = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    return sorted(images, key=lambda p: natural_key(p.name))


def find_dirs(
    root: Path, pattern: re.Pattern[str], max_depth: int = 3, max_children: int = 200
) -> list[Path]:
    """Folders under ``root`` (itself included, down to ``max_depth``) whose name matches ``pattern``.

    Media folders are not searched: a folder with more than ``max_children`` sub-folders (a clip or frame folder
    tree) is not descended into.
    """
    found: list[Path] = []
    level: list[Path] = [root]
    for depth in range(max_depth + 1):
        next_level: list[Path] = []
        for folder in level:
            if pattern.search(folder.name):
                found.append(folder)
            if depth == max_depth:
                continue
            children = sorted(p for p in folder.iterdir() if p.is_dir())
            if len(children) <= max_children:
                next_level.extend(children)
        level = next_level
    return found


def check_official_split(dataset: str, split: str, fold: int) -> None:
    """``ValueError`` unless ``split`` is ``train``/``test`` and ``fold`` is 1..5 (the official MAFW/DFEW lists)."""
    if split not in ("train", "test"):
        raise ValueError(f"{dataset} splits are 'train' and 'test', got {split!r}")
    if not 1 <= fold <= 5:
        raise ValueError(f"{dataset} folds are 1..5, got {fold}")


def find_media_dir(
    root: Path, names: Sequence[str], subfolder: str, split_file: Path | None = None, depth: int = 0
) -> Path | None:
    """The first folder ``<base>/<name>`` that exists, ``None`` if none.

    Bases are ``root/subfolder`` and ``root``, then (when ``split_file`` is given) the same under the split
    file's ``depth``-th parent, for trees whose split lists sit away from the root.
    """
    roots = [root] + (
        [split_file.parents[depth]] if split_file is not None and len(split_file.parents) > depth else []
    )
    for base in [folder for r in roots for folder in (r / subfolder, r)]:
        for name in names:
            if (base / name).is_dir():
                return base / name
    return None
