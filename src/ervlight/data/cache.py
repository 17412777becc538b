"""On-disk cache of decoded clips, keyed by the media file (path, size, mtime) and the decoding parameters.

Only deterministic decodes are cached (evaluation sampling, or training with ``middle``/``start`` sampling): a
random-sampling decode differs every epoch. Entries are written atomically and read with
``torch.load(weights_only=True)``; an unreadable entry is treated as a miss and rewritten. Editing or replacing a
media file changes its mtime/size and therefore its key, so stale entries are never served.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from ervlight.data.clip_decoder import DecodedClip
from ervlight.data.records import ClipRecord

__all__ = ["SampleCache"]


def _stamp(path: Path | None) -> list[Any]:
    """``[path, size, mtime_ns]`` of a file or folder (``None`` for no path)."""
    if path is None:
        return [None]
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


class SampleCache:
    """A folder of decoded clips; ``params`` is everything that changes a decode (frames, size, audio…)."""

    def __init__(self, root: str | os.PathLike[str], params: dict[str, Any]) -> None:
        self.root = Path(root)
        self.params = json.dumps(params, sort_keys=True, default=str)
        self.hits = 0
        self.misses = 0

    def key(self, record: ClipRecord) -> str:
        """The entry name of a record under these parameters."""
        stamp = [_stamp(record.video), _stamp(record.frames_dir), _stamp(record.audio), self.params]
        return hashlib.sha256(json.dumps(stamp).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.pt"

    def load(self, record: ClipRecord) -> DecodedClip | None:
        """The cached decode of a record, or ``None`` (a miss, also for an unreadable entry)."""
        path = self._path(self.key(record))
        try:
            data = torch.load(path, weights_only=True)
            clip = DecodedClip(**data)
        except (OSError, RuntimeError, EOFError, TypeError, ValueError, pickle.UnpicklingError):
            self.misses += 1
            return None
        self.hits += 1
        return clip

    def store(self, record: ClipRecord, clip: DecodedClip) -> None:
        """Write a decode (atomically: a temporary file renamed into place)."""
        path = self._path(self.key(record))
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        torch.save(dict(clip.__dict__), partial)
        os.replace(partial, path)
