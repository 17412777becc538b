"""The dataset registry: the one place that maps a dataset kind (``kind: dfew`` in YAML) to its reader.

Each :class:`DatasetKind` names its reader, the label spaces of its records (:mod:`ervlight.labels`), the media
views it reads and whether its root holds official ``train``/``test`` lists per fold (how ``ervlight data
inspect`` and :class:`~ervlight.data.datamodule.ERVDataModule` choose its splits). The readers of
:mod:`ervlight.data.readers` register themselves when that package's modules are imported, which happens on the
first look-up; a reader defined elsewhere (a project's own dataset, a test) calls :func:`register_dataset`.

Adding a dataset: write ``ervlight/data/readers/<name>.py`` with a reader ``(source, split, fold) ->
SplitListing`` and one ``register_dataset(DatasetKind(...))`` line; a new label set goes into
:mod:`ervlight.labels`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ervlight.data.errors import DatasetLayoutError, UnknownDatasetError
from ervlight.data.records import SplitListing
from ervlight.data.sources import DataSource
from ervlight.labels import get_label_space

__all__ = [
    "DatasetKind",
    "Reader",
    "dataset_kinds",
    "get_dataset_kind",
    "read_source",
    "register_dataset",
    "unregister_dataset",
]

#: A reader: ``(source, split, fold) -> SplitListing``. ``split`` is the source's own split, else the caller's
#: default (``None`` when neither names one); ``fold`` is the source's fold, else the caller's default.
Reader = Callable[[DataSource, str | None, int], SplitListing]

_READERS_PACKAGE = "ervlight.data.readers"
_KINDS: dict[str, DatasetKind] = {}


@dataclass(frozen=True)
class DatasetKind:
    """A registered dataset kind.

    Attributes:
        name: the ``kind`` written in YAML and given to ``--dataset`` (lower case).
        read: the reader of one split.
        label_spaces: names of the :mod:`ervlight.labels` spaces its records are labelled in.
        media: the media views it reads (``DataSource.media``); the first is the default.
        official_splits: its root holds official ``train``/``test`` lists per fold 1..5 (read ``train`` for
            training and ``test`` otherwise); ``False``: the source is one file (or a folder of JSON files), each
            a split of its own, with no held-out part.
        title: its name in messages (``DFEW``; default: the name).
    """

    name: str
    read: Reader
    label_spaces: tuple[str, ...]
    media: tuple[str, ...] = ("video",)
    official_splits: bool = False
    title: str = ""

    def check_media(self, media: str) -> None:
        """``ValueError`` naming the views this kind reads unless ``media`` is one of them."""
        if media not in self.media:
            views = ", ".join(repr(m) for m in self.media[:-1])
            allowed = f"{views} or {self.media[-1]!r}" if views else repr(self.media[-1])
            raise ValueError(f"{self.title or self.name} media must be {allowed}, got {media!r}")


def register_dataset(kind: DatasetKind) -> DatasetKind:
    """Add a kind to the registry (its label spaces must exist); ``ValueError`` if the name is taken."""
    if kind.name in _KINDS:
        raise ValueError(f"dataset kind {kind.name!r} is already registered")
    if kind.name != kind.name.lower().strip() or not kind.name:
        raise ValueError(f"dataset kind names are lower case without spaces, got {kind.name!r}")
    if not kind.media:
        raise ValueError(f"dataset kind {kind.name!r} reads no media view")
    for space in kind.label_spaces:
        get_label_space(space)
    _KINDS[kind.name] = kind
    return kind


def unregister_dataset(name: str) -> None:
    """Remove a kind (a test's toy dataset); ``KeyError`` if it is not registered."""
    del _KINDS[name]


@cache
def _load_readers() -> None:
    """Import every module of :mod:`ervlight.data.readers` once, so the built-in kinds are registered."""
    package = importlib.import_module(_READERS_PACKAGE)
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{_READERS_PACKAGE}.{module.name}")


def dataset_kinds() -> tuple[str, ...]:
    """The registered kind names, sorted."""
    _load_readers()
    return tuple(sorted(_KINDS))


def get_dataset_kind(name: str) -> DatasetKind:
    """The kind registered under ``name``; :class:`UnknownDatasetError` (a ``ValueError``) listing the others."""
    _load_readers()
    kind = _KINDS.get(name)
    if kind is None:
        raise UnknownDatasetError(name, dataset_kinds())
    return kind


def read_source(source: DataSource, split: str | None = None, fold: int = 1) -> SplitListing:
    """Read a source with its kind's reader; ``split``/``fold`` are the defaults where the source names none.

    Raises :class:`DatasetLayoutError` naming the root when it does not exist.
    """
    kind = get_dataset_kind(source.kind)
    kind.check_media(source.media)
    if not Path(source.root).exists():
        raise DatasetLayoutError(
            source.root, f"{kind.title or kind.name} root does not exist; check the data source's root"
        )
    return kind.read(source, source.split or split, source.fold or fold)
