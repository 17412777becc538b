"""Typed errors of the data layer; every one names the file it is about.

:class:`MediaError` subclasses are raised by the decoders for one clip and are caught by the dataset's bad-sample
policy (skip and count, or fail); :class:`DatasetLayoutError` and :class:`DatasetFormatError` are raised by the
readers for a whole dataset tree or split file.
"""

from __future__ import annotations

import os

__all__ = [
    "CorruptMediaError",
    "DataError",
    "DatasetFormatError",
    "DatasetLayoutError",
    "EmptyMediaError",
    "MediaError",
    "MissingMediaError",
    "NoAudioStreamError",
    "NoVideoStreamError",
    "TooFewFramesError",
    "TruncatedMediaError",
    "UnknownDatasetError",
]


class DataError(Exception):
    """Base class: a problem with a data file; ``path`` is the file, ``reason`` the problem."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class DatasetLayoutError(DataError):
    """A dataset tree lacks what a reader needs (split files, folds, media folders)."""


class UnknownDatasetError(DataError, ValueError):
    """A data source names a dataset kind that is not registered (``path`` is the kind)."""

    def __init__(self, kind: str, registered: tuple[str, ...]) -> None:
        self.path, self.reason = kind, f"unknown dataset kind {kind!r}; registered: {', '.join(registered)}"
        ValueError.__init__(self, self.reason)


class DatasetFormatError(DataError):
    """A split or JSON file cannot be parsed (``path`` may carry ``:line``)."""


class MediaError(DataError):
    """A clip cannot be decoded as asked; ``kind`` is a short tag used in skip summaries."""

    kind = "media"


class MissingMediaError(MediaError):
    """The clip's file or frame folder does not exist."""

    kind = "missing"


class EmptyMediaError(MediaError):
    """The file is zero bytes (or a frame folder without images)."""

    kind = "empty"


class CorruptMediaError(MediaError):
    """The file cannot be opened or decoded (not media, corrupt, or an mp4 cut before its index)."""

    kind = "corrupt"


class TruncatedMediaError(MediaError):
    """The file opens but ends early: fewer frames can be read than its index lists."""

    kind = "truncated"


class NoVideoStreamError(MediaError):
    """The file has no video stream."""

    kind = "no_video"


class NoAudioStreamError(MediaError):
    """The file has no audio stream and the audio policy is ``error`` (or ``skip``)."""

    kind = "no_audio"


class TooFewFramesError(MediaError):
    """The clip has fewer frames than asked and padding is switched off (or it has no frame at all)."""

    kind = "too_few_frames"
