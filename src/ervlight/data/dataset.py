"""The map-style dataset of clips (record -> decoded, preprocessed sample) and its collate into a MediaBatch.

Bad clips (any :class:`~ervlight.data.errors.MediaError`) follow the bad-sample policy:

* ``fail`` — the error propagates (it names the file);
* ``skip`` (default) — the clip is counted and left out of its batch, which holds one sample fewer; no other
  clip is served in its place, so no clip is seen twice in an epoch. Skipped clips travel in
  :attr:`MediaBatch.skipped` so the DataModule can summarise them (once per clip and epoch).

  - Evaluation batches also carry each unreadable clip with its gold label (:attr:`MediaBatch.unreadable`, a
    batch may hold no sample at all): metrics count it as a wrong answer, or leave it out under
    ``unreadable_policy: readable_only``, and say how many clips were unreadable either way.
  - Training: when EVERY clip of a batch is unreadable (always the case for one bad clip at ``batch_size: 1``),
    one stand-in keeps the step from being empty: a clip drawn at random from the whole list with the first
    skipped sample's seed (reproducible, resumable; not the list neighbour, and a different one each epoch).
    That stand-in is the only clip an epoch can serve twice.

A clip without an audio track follows the decoder's ``audio_policy`` first: ``zeros`` keeps it, ``skip`` always
skips it and ``error`` always raises, whatever the bad-sample policy.

Loading runs torch single-threaded (the tensors are small; parallelism comes from DataLoader workers, which
PyTorch already runs with one thread each): in the main process the thread count is restored afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch.utils.data import Dataset, get_worker_info

from ervlight.data.batch import MediaBatch, UnreadableClip, UnreadablePolicy
from ervlight.data.cache import SampleCache
from ervlight.data.clip_decoder import ClipDecoder, DecodedClip
from ervlight.data.errors import MediaError, NoAudioStreamError
from ervlight.data.records import ClipRecord
from ervlight.data.sampling import SamplingMode
from ervlight.data.transforms import MediaPreprocessor

__all__ = ["BadSamplePolicy", "ClipDataset", "ClipSample", "Skipped", "collate_media", "single_threaded"]

BadSamplePolicy = Literal["skip", "fail"]
_MAX_REPLACEMENTS = 16


@contextmanager
def single_threaded() -> Iterator[None]:
    """Run torch ops on one thread inside the block (restoring the previous count)."""
    threads = torch.get_num_threads()
    if threads == 1 or get_worker_info() is not None:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@dataclass(frozen=True)
class Skipped:
    """A clip left out by the skip policy (``record``: the clip, ``seed``: its sample's torch seed, ``index``: its
    index in the dataset)."""

    clip_id: str
    kind: str
    message: str
    record: ClipRecord | None = None
    seed: int = 0
    index: int = -1

    def unreadable(self) -> UnreadableClip:
        """The clip as an evaluation batch carries it (with its gold label)."""
        record = self.record
        dataset, label, name = (
            ("", -1, "") if record is None else (record.dataset, record.label_index, record.label or "")
        )
        return UnreadableClip(self.clip_id, dataset, label, name, self.kind, self.message, self.index)


@dataclass
class ClipSample:
    """One preprocessed clip (``T`` frames, ``S`` audio samples, ``F`` mel frames)."""

    record: ClipRecord
    frames: torch.Tensor  # [T, 3, H, W] float
    frame_mask: torch.Tensor  # [T] bool
    audio: torch.Tensor  # [S] float
    has_audio: bool
    audio_features: torch.Tensor | None  # [M, F] float
    skipped: list[Skipped] = field(default_factory=list)


class ClipDataset(Dataset):
    """Records -> :class:`ClipSample` (or :class:`Skipped` under the skip policy); :meth:`collate` batches them.

    Args:
        records: the clips.
        decoder: frame/audio decoding settings.
        preprocessor: frame and audio-feature preprocessing.
        train: training mode (augmentation if the preprocessor has it; a stand-in for a batch left empty).
        sampling: frame sampling mode (``random`` for training, ``middle`` for evaluation by default).
        bad_sample_policy: ``skip`` (count and leave out) or ``fail``.
        cache: optional on-disk cache of decodes (used only for deterministic sampling).
        unreadable_policy: how evaluation metrics count unreadable clips (carried by every batch).
    """

    def __init__(
        self,
        records: Sequence[ClipRecord],
        decoder: ClipDecoder,
        preprocessor: MediaPreprocessor,
        train: bool = False,
        sampling: SamplingMode = "middle",
        bad_sample_policy: BadSamplePolicy = "skip",
        cache: SampleCache | None = None,
        unreadable_policy: UnreadablePolicy = "wrong",
    ) -> None:
        self.records = list(records)
        self.decoder, self.preprocessor = decoder, preprocessor
        self.train, self.sampling, self.bad_sample_policy = train, sampling, bad_sample_policy
        self.cache = cache if sampling != "random" else None
        self.unreadable_policy = unreadable_policy

    def __len__(self) -> int:
        return len(self.records)

    def _decode(self, record: ClipRecord) -> DecodedClip:
        """Decode a record (through the cache when there is one)."""
        cached = self.cache.load(record) if self.cache is not None else None
        if cached is not None:
            return cached
        clip = self.decoder.decode(record, self.sampling, size=self.preprocessor.decode_size)
        if self.cache is not None:
            self.cache.store(record, clip)
        return clip

    def load(self, index: int) -> ClipSample:
        """Decode and preprocess one clip; media errors propagate."""
        record = self.records[index]
        clip = self._decode(record)
        return ClipSample(
            record=record,
            frames=self.preprocessor.frames(clip.frames, train=self.train),
            frame_mask=clip.frame_mask,
            audio=clip.audio,
            has_audio=clip.has_audio,
            audio_features=self.preprocessor.audio_features(clip.audio),
        )

    def _skippable(self, error: MediaError) -> bool:
        """Whether the policies skip this error (the audio policy decides for missing audio tracks)."""
        if isinstance(error, NoAudioStreamError):
            return self.decoder.audio_policy == "skip"
        return self.bad_sample_policy == "skip"

    def __getitem__(self, index: int) -> ClipSample | Skipped:
        with single_threaded():
            return self._get(index)

    def _get(self, index: int) -> ClipSample | Skipped:
        """Load a clip, or :class:`Skipped` when the skip policy leaves it out."""
        record = self.records[index]
        try:
            return self.load(index)
        except MediaError as error:
            if not self._skippable(error):
                raise
            return Skipped(record.clip_id, error.kind, str(error), record, torch.initial_seed(), index)

    def stand_in(self, seed: int) -> ClipSample:
        """A clip drawn at random with ``seed`` (readable; up to 16 draws) for a training batch left empty."""
        generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(self.records), generator=generator)[:_MAX_REPLACEMENTS].tolist()
        skipped: list[Skipped] = []
        with single_threaded(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for index in order:
                item = self._get(index)
                if isinstance(item, ClipSample):
                    item.skipped = skipped
                    return item
                skipped.append(item)
        raise RuntimeError(
            f"{len(skipped)} clips drawn at random could not be decoded either; first: {skipped[0].message}"
        )

    def collate(self, items: list[ClipSample | Skipped]) -> MediaBatch:
        """This dataset's batches: :func:`collate_media` with a stand-in (training) or the unreadable clips."""
        if self.train:
            if items and all(isinstance(item, Skipped) for item in items):
                first = items[0]
                assert isinstance(first, Skipped)
                items = [*items, self.stand_in(first.seed)]
            return collate_media(items)
        return collate_media(items, unreadable=True, unreadable_policy=self.unreadable_policy)


def _pad_stack(tensors: list[torch.Tensor], dim: int = -1) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad tensors along their last dimension to the longest and stack; returns ``(stacked, mask)``."""
    length = max(t.shape[dim] for t in tensors)
    stacked = torch.stack([torch.nn.functional.pad(t, (0, length - t.shape[dim])) for t in tensors])
    mask = torch.stack([torch.arange(length) < t.shape[dim] for t in tensors])  # [B, length]
    return stacked, mask


def collate_media(
    items: list[ClipSample | Skipped], unreadable: bool = False, unreadable_policy: UnreadablePolicy = "wrong"
) -> MediaBatch:
    """Stack samples into a :class:`MediaBatch` (audio and features right-padded with masks; skips recorded).

    ``unreadable`` (evaluation): the skipped items also go to :attr:`MediaBatch.unreadable` with their labels.
    """
    samples = [item for item in items if isinstance(item, ClipSample)]
    skipped = [s for item in items for s in ([item] if isinstance(item, Skipped) else item.skipped)]
    skipped_rows = [(s.clip_id, s.kind, s.message) for s in skipped]
    lost = [s.unreadable() for s in skipped] if unreadable else []
    if not samples:
        return _empty_batch(skipped_rows, lost, unreadable_policy)
    audio, audio_mask = _pad_stack([s.audio for s in samples])  # [B, S]
    has_audio = torch.tensor([s.has_audio for s in samples])  # [B]
    audio_mask &= has_audio[:, None]
    features = feature_mask = None
    if all(s.audio_features is not None for s in samples):
        features, feature_mask = _pad_stack(
            [s.audio_features for s in samples if s.audio_features is not None]
        )
        feature_mask &= has_audio[:, None]  # [B, F]
    records = [s.record for s in samples]
    return MediaBatch(
        clip_ids=[r.clip_id for r in records],
        datasets=[r.dataset for r in records],
        labels=torch.tensor([r.label_index for r in records], dtype=torch.long),
        label_names=[r.label or "" for r in records],
        frames=torch.stack([s.frames for s in samples]),  # [B, T, 3, H, W]
        frame_mask=torch.stack([s.frame_mask for s in samples]),  # [B, T]
        audio=audio,
        audio_mask=audio_mask,
        has_audio=has_audio,
        audio_features=features,
        audio_feature_mask=feature_mask,
        targets=[r.target for r in records],
        captions=[r.caption for r in records],
        skipped=skipped_rows,
        unreadable=lost,
        unreadable_policy=unreadable_policy,
    )


def _empty_batch(
    skipped: list[tuple[str, str, str]], unreadable: list[UnreadableClip], policy: UnreadablePolicy
) -> MediaBatch:
    """A zero-sample batch (every clip of it was skipped)."""
    return MediaBatch(
        clip_ids=[],
        datasets=[],
        labels=torch.zeros(0, dtype=torch.long),
        label_names=[],
        frames=torch.zeros(0, 0, 3, 0, 0),
        frame_mask=torch.zeros(0, 0, dtype=torch.bool),
        audio=torch.zeros(0, 0),
        audio_mask=torch.zeros(0, 0, dtype=torch.bool),
        has_audio=torch.zeros(0, dtype=torch.bool),
        skipped=skipped,
        unreadable=unreadable,
        unreadable_policy=policy,
    )
