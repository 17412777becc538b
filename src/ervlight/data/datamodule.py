"""``ERVDataModule``: the one LightningDataModule of ervlight (MAFW, DFEW, R1-Omni/EMER JSON -> batches).

YAML (LightningCLI, ``data:`` section)::

    data:
      class_path: ervlight.data.datamodule.ERVDataModule
      init_args:
        train: [{kind: mafw, root: /data/MAFW}, {kind: dfew, root: /data/DFEW}]   # mixed, as the reference
        fold: 1
        num_frames: 8
        image_size: 224

Stages and splits: official sources (``dfew``, ``mafw``) read ``train`` for training and ``test`` for test and
prediction unless a source names its split. MAFW and DFEW have no validation split and the test lists must not
choose checkpoints, so validation is either a stratified share of the training list (``val_fraction``, seeded by
``val_seed``, see :mod:`ervlight.data.holdout`; these arguments are saved in the hyperparameters, hence in every
checkpoint) or explicit ``val`` sources; without either there is no validation. ``test``/``predict`` default to
``val`` sources when given, else to the ``train`` sources that are official datasets (JSON sources have no
held-out part). Datasets are built per modality by one method each (:attr:`ERVDataModule.dataset_builders`) and
batched by that modality's collate (:attr:`ERVDataModule.collate_fns`); this module implements ``media``
(-> :class:`~ervlight.data.batch.MediaBatch`) and ``text`` (verifier texts from ``text:``, read by
:mod:`ervlight.data.text` -> :class:`~ervlight.data.batch.TextBatch`).

Training batches come from a :class:`~ervlight.data.resumable.ResumableLoader` in either modality: a per-epoch
order seeded by ``data_seed``, sharded per rank, whose position is saved in checkpoints, so ``fit --ckpt_path``
continues mid-epoch with the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, is_dataclass
from typing import Any, get_args

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from ervlight.data.batch import MediaBatch, UnreadablePolicy
from ervlight.data.cache import SampleCache
from ervlight.data.clip_decoder import AudioPolicy, AudioSpan, ClipDecoder, ShortClipPolicy
from ervlight.data.dataset import BadSamplePolicy, ClipDataset, collate_media
from ervlight.data.errors import DatasetFormatError, DatasetLayoutError
from ervlight.data.holdout import stratified_holdout
from ervlight.data.records import InvalidRow, SplitListing
from ervlight.data.registry import get_dataset_kind, read_source
from ervlight.data.resumable import ResumableLoader, ResumableSampler
from ervlight.data.sampling import SamplingMode
from ervlight.data.sources import DataSource
from ervlight.data.text import TextCollator, TextSourceConfig
from ervlight.data.transforms import DefaultPreprocessor, MediaPreprocessor, ResizeMode

__all__ = ["ERVDataModule", "seed_worker"]

log = logging.getLogger(__name__)
_STAGE_SPLITS = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("predict",)}
_DEFAULT_OFFICIAL_SPLIT = {"train": "train", "val": "test", "test": "test", "predict": "test"}
_SHOWN = 5  # ids shown per warning line


def seed_worker(worker_id: int) -> None:
    """Seed Python's and NumPy's generators in a DataLoader worker from its torch seed (distinct per worker)."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


class ERVDataModule(LightningDataModule):
    """Mixes dataset sources per split and yields typed batches.

    Args:
        train: sources of the training split (a list of :class:`~ervlight.data.sources.DataSource` mappings).
        val: sources for validation (default: none, or the ``val_fraction`` share of the training list).
        test: sources for testing (default: ``val`` when given, else the official ``train`` sources' test lists).
        predict: sources for prediction (default: as ``test``).
        fold: official fold 1..5 for sources that do not name one.
        val_fraction: share of each (dataset, label) stratum of the training list held out for validation
            (``0``: none); only without ``val`` sources.
        val_seed: seed of that split (the same list, fraction and seed give the same split).
        modality: ``media`` (clips -> :class:`MediaBatch`) or ``text`` (verifier texts -> :class:`TextBatch`).
        text: the text data of ``modality: text`` (path, source kind, label space, soft targets, splitting).
        num_frames: frames per clip ``T`` (reference: 8).
        image_size: frames are ``image_size x image_size`` (224 for SigLIP-style encoders; e.g. 64 for CPU demos).
        resize_mode: ``pad`` (pad to square, default), ``crop`` (centre crop) or ``stretch``.
        audio: decode the audio track (``False``: empty audio).
        audio_features: compute log-mel features (``MediaBatch.audio_features``).
        n_mels: mel bins of the features (Whisper large-v3: 128).
        sample_rate: audio rate in Hz.
        audio_policy: clip without an audio track: ``zeros`` (zeros + ``has_audio=False``, default), ``skip``,
            ``error``.
        audio_span: ``clip`` (whole track, default) or ``frames`` (the span of the sampled frames).
        short_clip_policy: fewer frames than ``num_frames``: ``repeat`` the last (masked, default) or ``error``.
        train_sampling: frame sampling in training (``random`` within segments, default).
        eval_sampling: frame sampling in validation/test/predict (``middle`` of segments, default).
        augment: training augmentation (random crop position, flip); off by default: train = eval preprocessing.
        require_targets: training records must carry reasoning targets (SFT); others are reported and dropped.
        backend: ``pyav`` (default) or ``torchcodec`` (optional).
        decode_threads: decoder threads per clip (1 suits workers).
        batch_size: training batch size.
        eval_batch_size: batch size of the other splits (default: ``batch_size``).
        num_workers: DataLoader workers (each seeded by :func:`seed_worker`).
        data_seed: seed of the training order and of each training sample's randomness (frame sampling,
            augmentation): epoch ``e`` is a permutation seeded by ``data_seed + e`` and item ``i`` draws with a
            seed of ``(data_seed, e, i)``, whatever the worker count. ``None`` (default): drawn from torch's global
            generator when the training loader is built (so ``seed_everything`` decides it), rank 0's value on
            every rank. A resumed run keeps its checkpoint's seed.
        pin_memory: pin batches in page-locked memory (GPU training).
        bad_sample_policy: unreadable clips and rows: ``skip`` (count, leave out, summarise per epoch; default)
            or ``fail`` (see :mod:`ervlight.data.dataset` for what replaces a skipped training clip).
        unreadable_policy: evaluation splits (val/test/predict) keep every listed clip: one that is missing on
            disk or cannot be decoded travels in :attr:`MediaBatch.unreadable` and counts as a wrong answer
            (``wrong``, default) or is left out of the metrics (``readable_only``); it is counted as unreadable
            either way.
        cache_dir: folder of an on-disk cache of decoded clips (deterministic sampling only); ``None``: no cache.
        preprocessor: replaces the default frame/audio preprocessing (e.g. a policy's own processor).
    """

    def __init__(
        self,
        train: list[DataSource] | None = None,
        val: list[DataSource] | None = None,
        test: list[DataSource] | None = None,
        predict: list[DataSource] | None = None,
        fold: int = 1,
        val_fraction: float = 0.0,
        val_seed: int = 0,
        modality: str = "media",
        text: TextSourceConfig | None = None,
        num_frames: int = 8,
        image_size: int = 224,
        resize_mode: ResizeMode = "pad",
        audio: bool = True,
        audio_features: bool = True,
        n_mels: int = 128,
        sample_rate: int = 16000,
        audio_policy: AudioPolicy = "zeros",
        audio_span: AudioSpan = "clip",
        short_clip_policy: ShortClipPolicy = "repeat",
        train_sampling: SamplingMode = "random",
        eval_sampling: SamplingMode = "middle",
        augment: bool = False,
        require_targets: bool = False,
        backend: str = "pyav",
        decode_threads: int = 1,
        batch_size: int = 8,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        data_seed: int | None = None,
        pin_memory: bool = False,
        bad_sample_policy: BadSamplePolicy = "skip",
        unreadable_policy: UnreadablePolicy = "wrong",
        cache_dir: str | None = None,
        preprocessor: MediaPreprocessor | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["preprocessor"])
        # plain data only, so that checkpoints load with torch.load(weights_only=True) on resume
        self.hparams.update({key: _plain(value) for key, value in self.hparams.items()})
        train, val, test, predict = (_sources(s) for s in (train, val, test, predict))
        if isinstance(text, Mapping):
            text = TextSourceConfig(**text)
        self.sources = {"train": train or [], "val": val, "test": test, "predict": predict}
        self.fold, self.modality = fold, modality
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must lie in [0, 1), got {val_fraction}")
        if val_fraction and val is not None:
            raise ValueError("give either val sources or val_fraction, not both")
        self.val_fraction, self.val_seed = val_fraction, val_seed
        self._holdout: tuple[SplitListing, SplitListing] | None = None
        self.train_sampling, self.eval_sampling = train_sampling, eval_sampling
        self.require_targets, self.bad_sample_policy = require_targets, bad_sample_policy
        if unreadable_policy not in get_args(UnreadablePolicy):
            raise ValueError(
                f"unreadable_policy must be one of {', '.join(get_args(UnreadablePolicy))}, got {unreadable_policy!r}"
            )
        self.unreadable_policy: UnreadablePolicy = unreadable_policy
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size or batch_size
        self.num_workers, self.pin_memory, self.cache_dir = num_workers, pin_memory, cache_dir
        self.data_seed = data_seed
        self.decoder = ClipDecoder(
            num_frames,
            backend,
            decode_threads,
            sample_rate,
            audio,
            audio_policy,
            audio_span,
            short_clip_policy,
        )
        self.preprocessor = preprocessor or DefaultPreprocessor(
            image_size, resize_mode, audio_features=audio and audio_features, n_mels=n_mels, augment=augment
        )
        self.text = text
        #: modality -> method building the dataset of a split (``None`` when the split has no source).
        self.dataset_builders: dict[str, Callable[[str], Dataset | None]] = {
            "media": self._media_dataset,
            "text": self._text_dataset,
        }
        #: modality -> collate function of its batches.
        self.collate_fns: dict[str, Callable[[list[Any]], Any]] = {
            "media": collate_media,
            "text": text.collator() if text is not None else TextCollator(),
        }
        self.datasets: dict[str, Dataset | None] = {}
        self.listings: dict[str, SplitListing] = {}
        #: (stage, epoch) -> skipped clip id -> reason (each clip once, however often it was tried).
        self.skipped: dict[tuple[str, int], dict[str, str]] = {}
        self._logged: set[tuple[str, int]] = set()
        self._epoch_key: tuple[str, int] | None = None

    # -- reading ------------------------------------------------------------------------------------------------
    def split_sources(self, split: str) -> list[DataSource]:
        """The sources of a split (``train``/``val``/``test``/``predict``), defaults applied."""
        given = self.sources.get(split)
        if given is not None:
            return list(given)
        if split == "predict" and self.sources["test"] is not None:
            return list(self.sources["test"])
        if split in ("test", "predict") and self.sources["val"] is not None:
            return list(self.sources["val"])
        if split == "val":
            return list(self.sources["train"] or []) if self.val_fraction else []
        official = [s for s in self.sources["train"] or [] if get_dataset_kind(s.kind).official_splits]
        return official if split != "train" else []

    def read_split(self, split: str) -> SplitListing:
        """Read every source of a split into one listing (missing clips and bad rows reported, not raised)."""
        if self.val_fraction and split in ("train", "val"):
            return self._held_out()[split == "val"]
        return self._read(split)

    def _held_out(self) -> tuple[SplitListing, SplitListing]:
        """The training listing split into ``(train, val)`` by :func:`stratified_holdout` (read once)."""
        if self._holdout is None:
            listing = self._read("train")
            train, val = stratified_holdout(listing.records, self.val_fraction, self.val_seed)
            if not val:
                raise DatasetLayoutError(
                    "val", f"val_fraction={self.val_fraction} holds out no training clip"
                )
            log.info("val: %d of %d training clips held out (seed %d)", len(val), len(listing), self.val_seed)
            self._holdout = (
                SplitListing("train", train, listing.missing, listing.invalid, listing.warnings),
                SplitListing("val", [r.with_split("val") for r in val]),
            )
        return self._holdout

    def _read(self, split: str) -> SplitListing:
        """Read the sources of a split as listed (no hold-out)."""
        listing = SplitListing(name=split)
        for source in self.split_sources(split):
            official = get_dataset_kind(source.kind).official_splits
            default = _DEFAULT_OFFICIAL_SPLIT[split] if official else None
            listing.extend(read_source(source, default, self.fold))
        if split == "train" and self.require_targets:
            listing.invalid.extend(_without_targets(listing))
            listing.records = [r for r in listing.records if r.target]
        self._report(split, listing)
        return listing

    def _report(self, split: str, listing: SplitListing) -> None:
        """Log missing clips, bad rows and warnings; raise on bad rows under ``fail`` or when nothing is left."""
        for warning in listing.warnings:
            log.warning("%s: %s", split, warning)
        if listing.missing:
            ids = ", ".join(m.clip_id for m in listing.missing[:_SHOWN])
            more = "…" if len(listing.missing) > _SHOWN else ""
            counted = "" if split == "train" else f" (counted as unreadable: {self.unreadable_policy})"
            log.warning(
                "%s: %d listed clips are not on disk (%s%s)%s",
                split,
                len(listing.missing),
                ids,
                more,
                counted,
            )
        if listing.invalid:
            first = listing.invalid[0]
            if self.bad_sample_policy == "fail":
                raise DatasetFormatError(
                    first.source, f"{first.reason} ({len(listing.invalid)} bad rows in {split})"
                )
            log.warning(
                "%s: %d rows skipped, first: %s: %s", split, len(listing.invalid), first.source, first.reason
            )
        if not (listing.records if split == "train" else listing.listed()):
            raise DatasetLayoutError(split, "no usable clip in this split's sources")

    # -- datasets -----------------------------------------------------------------------------------------------
    def _media_dataset(self, split: str) -> Dataset | None:
        """The clip dataset of a split (``None`` without sources)."""
        if not self.split_sources(split):
            return None
        listing = self.read_split(split)
        self.listings[split] = listing
        train = split == "train"
        sampling = self.train_sampling if train else self.eval_sampling
        cache = (
            SampleCache(self.cache_dir, self._cache_params(sampling)) if self.cache_dir is not None else None
        )
        records = listing.records if train else listing.listed()  # evaluation counts missing clips too
        return ClipDataset(records, self.decoder, self.preprocessor, train, sampling, self.bad_sample_policy,
                           cache, self.unreadable_policy)  # fmt: skip

    def _text_dataset(self, split: str) -> Dataset | None:
        """The verifier text dataset of a split (``None`` when the text source has none for it)."""
        if self.text is None:
            raise ValueError("modality 'text' needs the 'text' argument (path, source, label_space…)")
        return self.text.dataset_of(split, self.fold)

    def _cache_params(self, sampling: str) -> dict[str, Any]:
        """Everything that changes a decoded clip: decoder settings, sampling and the decode size rule."""
        decoder = {k: v for k, v in vars(self.decoder).items() if k != "backend"}
        sizes = [
            self.preprocessor.decode_size(h, w) for h, w in ((360, 640), (480, 640), (224, 224), (48, 64))
        ]
        return {
            "decoder": decoder,
            "backend": self.decoder.backend.name,
            "sampling": sampling,
            "sizes": sizes,
        }

    def setup(self, stage: str | None = None) -> None:
        """Build the datasets of a stage (``fit``, ``validate``, ``test``, ``predict``; ``None``: all)."""
        if self.modality not in self.dataset_builders:
            raise ValueError(
                f"unknown modality {self.modality!r}; expected one of {', '.join(self.dataset_builders)}"
            )
        splits = _STAGE_SPLITS.get(stage or "", ("train", "val", "test", "predict"))
        for split in splits:
            if split not in self.datasets:
                self.datasets[split] = self.dataset_builders[self.modality](split)

    # -- loaders ------------------------------------------------------------------------------------------------
    def _dataset(self, split: str) -> Dataset:
        """The dataset of a split (set up on demand); ``DatasetLayoutError`` if the split has no source."""
        if split not in self.datasets:
            self.setup({"train": "fit", "val": "validate"}.get(split, split))
        dataset = self.datasets.get(split)
        if dataset is None:
            raise DatasetLayoutError(split, f"no sources configured for the {split} split")
        return dataset

    def _collate(self, dataset: Dataset) -> Callable[[list[Any]], Any]:
        """The collate of a dataset: a clip dataset's own (stand-ins, unreadable clips), else the modality's."""
        return dataset.collate if isinstance(dataset, ClipDataset) else self.collate_fns[self.modality]

    def _loader(self, split: str) -> DataLoader:
        """The in-order DataLoader of an evaluation split (Lightning shards it under several processes)."""
        dataset = self._dataset(split)
        return DataLoader(
            dataset,
            batch_size=self.eval_batch_size,
            shuffle=False,
            collate_fn=self._collate(dataset),
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            worker_init_fn=seed_worker,
            persistent_workers=False,
        )

    def train_dataloader(self) -> ResumableLoader:
        """Shuffled training batches whose position is saved in checkpoints (see :mod:`ervlight.data.resumable`).

        Under several processes the loader is sharded here, as Lightning's ``DistributedSampler`` would shard
        it (Lightning leaves the loader's own ``DistributedSampler`` in place); with
        ``Trainer(use_distributed_sampler=False)`` every rank iterates the whole epoch in the same order.
        """
        dataset = self._dataset("train")
        replicas, rank = self._shard()
        seed = self._train_seed()
        sampler = ResumableSampler(dataset, num_replicas=replicas, rank=rank, seed=seed)  # type: ignore[arg-type]
        return ResumableLoader(
            dataset,
            sampler=sampler,
            batch_size=self.batch_size,
            epoch_batches=self._epoch_batches,
            checkpoint=str(self.trainer.ckpt_path) if self.trainer and self.trainer.ckpt_path else None,
            collate_fn=self._collate(dataset),
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            worker_init_fn=seed_worker,
            persistent_workers=False,
        )

    def _shard(self) -> tuple[int, int]:
        """``(num_replicas, rank)`` of the training data: Lightning's distributed-sampler arguments, or one shard."""
        trainer = self.trainer
        if trainer is None or not getattr(trainer._accelerator_connector, "use_distributed_sampler", True):
            return 1, 0
        kwargs = trainer.distributed_sampler_kwargs or {}
        return int(kwargs.get("num_replicas", 1)), int(kwargs.get("rank", 0))

    def _epoch_batches(self) -> float:
        """The batches a training epoch takes (``limit_train_batches`` applied; infinite without a trainer)."""
        return self.trainer.num_training_batches if self.trainer is not None else float("inf")

    def _train_seed(self) -> int:
        """The ``data_seed`` argument, or a seed drawn from torch's global generator (rank 0's on every rank)."""
        if self.data_seed is not None:
            return self.data_seed
        drawn = int(torch.randint(0, 2**31 - 1, ()).item())
        return int(self.trainer.strategy.broadcast(drawn, src=0)) if self.trainer is not None else drawn

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        """Validation batches (an empty list, i.e. no validation, when no source is configured)."""
        if self.modality == "text":
            self.setup("validate")
            return self._loader("val") if self.datasets["val"] is not None else []
        return self._loader("val") if self.split_sources("val") else []

    def test_dataloader(self) -> DataLoader:
        """Test batches."""
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        """Prediction batches."""
        return self._loader("predict")

    # -- skip bookkeeping ---------------------------------------------------------------------------------------
    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Note the clips a batch skipped; log the summary of an epoch once the stage has moved past it."""
        trainer = self.trainer
        key = (
            str(trainer.state.stage.value) if trainer and trainer.state.stage else "",
            trainer.current_epoch if trainer else 0,
        )
        if key != self._epoch_key:
            self._log_finished(key)
            self._epoch_key = key
        skipped = batch.skipped if isinstance(batch, MediaBatch) else []
        for clip_id, kind, _ in skipped:
            self.skipped.setdefault(key, {}).setdefault(clip_id, kind)
        return batch

    def skip_summary(self, key: tuple[str, int] | None = None) -> list[str]:
        """One line per (stage, epoch) with skipped clips (or only ``key``): clips per reason, the first ids (sorted).

        Each clip counts once per stage and epoch, however many times it was tried (a training clip can be tried
        again as a stand-in).
        """
        lines = []
        for (stage, epoch), clips in sorted(self.skipped.items()):
            if key is not None and (stage, epoch) != key:
                continue
            counts = sorted(Counter(clips.values()).items(), key=lambda item: (-item[1], item[0]))
            reasons = ", ".join(f"{kind}: {n}" for kind, n in counts)
            ids = sorted(clips)
            shown = ", ".join(ids[:_SHOWN]) + ("…" if len(ids) > _SHOWN else "")
            lines.append(f"{stage} epoch {epoch}: skipped {len(ids)} clips ({reasons}): {shown}")
        return lines

    def _log_finished(self, now: tuple[str, int] | None) -> None:
        """Log, once each, the summaries of the epochs that are over: earlier epochs of ``now``'s stage (all at
        ``None``); an epoch interrupted by validation goes on, so its summary waits."""
        for key in sorted(self.skipped):
            if key in self._logged or (now is not None and (key[0] != now[0] or key[1] >= now[1])):
                continue
            self._logged.add(key)
            for line in self.skip_summary(key):
                log.warning(line)

    def teardown(self, stage: str) -> None:
        """Log the skip summaries not logged yet."""
        self._log_finished(None)
        self._epoch_key = None


def _plain(value: Any) -> Any:
    """Dataclasses (sources, text config) as dicts, in lists too."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return asdict(value) if is_dataclass(value) and not isinstance(value, type) else value


def _sources(entries: list[DataSource] | None) -> list[DataSource] | None:
    """Sources given as :class:`DataSource` or as mappings of its fields; ``ValueError`` on an unknown kind."""
    if entries is None:
        return None
    sources = [DataSource(**e) if isinstance(e, Mapping) else e for e in entries]
    for source in sources:
        get_dataset_kind(source.kind)
    return sources


def _without_targets(listing: SplitListing) -> list[InvalidRow]:
    """Invalid-row entries for records without a reasoning target."""
    return [
        InvalidRow(r.source, "no reasoning target (require_targets=True)")
        for r in listing.records
        if not r.target
    ]
