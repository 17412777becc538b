"""A training loader whose position survives a checkpoint: ``fit --ckpt_path`` continues mid-epoch exactly.

* :class:`ResumableSampler` — the epoch's order: a permutation seeded by ``seed + epoch`` and sharded per rank
  exactly as :class:`~torch.utils.data.distributed.DistributedSampler` does (it is one, so Lightning never
  replaces it), started at a sample offset on resume. Each index comes with a per-sample seed drawn from
  ``(seed, epoch, index)``;
* :class:`SeededDataset` — runs the wrapped dataset's ``__getitem__`` under that seed (torch's generator forked),
  so random frame sampling and augmentation depend neither on the worker count nor on where a run resumed;
* :class:`ResumableLoader` — a DataLoader that counts the batches it served in the current epoch and has
  ``state_dict()`` / ``load_state_dict()``, which makes Lightning store it in the checkpoint.

What Lightning 2.6 does on a mid-epoch restart (``loops/fit_loop.py``, ``loops/training_epoch_loop.py``): the
fit loop saves ``[loader.state_dict()]`` of every stateful train loader under the fit loop's ``combined_loader``
(rank 0's only); on restore it calls ``load_state_dict`` before ``iter()`` and skips nothing itself: it keeps
counting ``batch_idx`` and the fetcher's length from its restored progress, so the loader must yield only the
batches the epoch has left while ``len()`` stays the full epoch. ``set_epoch`` comes after that first ``iter()``,
so the order is computed lazily, on the first batch. Lightning's epoch count is not reliable for this: a
checkpoint written after ``max_steps`` stopped a run mid-epoch or at an epoch's end (``last.ckpt``) resumes in
the next epoch at the old ``batch_idx``, or runs one batch past the end of the old one. The loader's saved
position is therefore authoritative: after a restore it continues the saved epoch where it stopped (or starts
the one after it when it was complete) over as many iterations as Lightning cuts it into, and later epochs keep
that numbering (:attr:`ResumableSampler.epoch_offset`). The batches are those of an uninterrupted run, whatever
epoch Lightning thinks it is in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sized
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, SequentialSampler
from torch.utils.data.distributed import DistributedSampler

__all__ = ["LoaderStateError", "ResumableLoader", "ResumableSampler", "SeededDataset", "sample_seed"]

log = logging.getLogger(__name__)

#: keys of a :meth:`ResumableLoader.state_dict`.
STATE_KEYS = (
    "epoch",
    "batches",
    "seed",
    "dataset_size",
    "batch_size",
    "num_replicas",
    "shuffle",
    "drop_last",
)


class LoaderStateError(ValueError):
    """A checkpoint's training-loader state does not fit the data or the loader settings of this run."""


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of dataset item ``index`` in ``epoch`` (a 63-bit mix of the three by NumPy's ``SeedSequence``)."""
    state = np.random.SeedSequence((seed, epoch, index)).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))


class ResumableSampler(DistributedSampler):
    """This rank's indices of an epoch, each paired with its per-sample seed; resumable at a sample offset.

    The order is :class:`~torch.utils.data.distributed.DistributedSampler`'s (``randperm`` seeded by
    ``seed + epoch``, padded by repetition to a multiple of ``num_replicas`` unless ``drop_last``, every
    ``num_replicas``-th index from ``rank``). ``len()`` is always the full epoch of this rank; :attr:`start`
    (consumed by the next iteration) skips that many of its first indices without touching the dataset.
    :meth:`set_epoch` adds :attr:`epoch_offset` (0 unless a resume found Lightning counting epochs differently).
    """

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int = 1,
        rank: int = 0,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if seed < 0:
            raise ValueError(f"the sampling seed must be >= 0, got {seed}")
        super().__init__(
            dataset,  # type: ignore[arg-type]
            num_replicas=num_replicas,
            rank=rank,
            shuffle=shuffle,
            seed=seed,
            drop_last=drop_last,
        )
        self.start = 0
        self.epoch_offset = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch + epoch_offset`` from the next iteration on."""
        super().set_epoch(epoch + self.epoch_offset)

    def order(self) -> list[int]:
        """This rank's dataset indices for the current epoch, in order (the whole epoch)."""
        return list(super().__iter__())

    def __iter__(self) -> Iterator[tuple[int, int]]:
        """``(index, sample seed)`` pairs from :attr:`start` on (which is reset to 0)."""
        start, self.start = self.start, 0
        for index in self.order()[start:]:
            yield index, sample_seed(self.seed, self.epoch, index)


class SeededDataset(Dataset):
    """Wraps a map-style dataset: item ``(index, seed)`` is ``dataset[index]`` drawn with torch seeded by ``seed``.

    Torch's CPU generator is forked, so loading leaves the caller's random state as it was (Python's and NumPy's
    generators are not touched: ervlight's data code draws from torch's). A plain ``int`` key reads the item
    without seeding.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        """Items of the wrapped dataset."""
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int] | int) -> Any:
        """``dataset[index]`` under ``seed`` for ``(index, seed)``; ``dataset[key]`` for an ``int``."""
        if isinstance(key, int):
            return self.dataset[key]
        index, seed = key
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.dataset[index]


class ResumableLoader(DataLoader):
    """Training batches in :class:`ResumableSampler` order; its state is the position in the epoch.

    Args:
        dataset: the training dataset (map-style); items are loaded through :class:`SeededDataset`.
        sampler: the epoch order (its seed, shuffle and sharding are part of the state); a
            ``SequentialSampler`` (what Lightning puts in for ``overfit_batches``) becomes an unshuffled one.
        batch_size: samples per batch.
        epoch_batches: the batches an epoch really takes, asked when a resumed run starts (Lightning:
            ``Trainer.num_training_batches``, fewer than ``len()`` under ``limit_train_batches``); default ``len()``.
        checkpoint: the checkpoint being resumed (``Trainer.ckpt_path``), named in errors about its state.
        **kwargs: other :class:`~torch.utils.data.DataLoader` arguments (``collate_fn``, ``num_workers``…;
            not ``shuffle``, ``batch_sampler`` or ``drop_last``, which the sampler decides).
    """

    def __init__(
        self,
        dataset: Dataset,
        sampler: ResumableSampler | Sampler,
        batch_size: int = 1,
        epoch_batches: Callable[[], float] | None = None,
        checkpoint: str | None = None,
        **kwargs: Any,
    ) -> None:
        for name in ("shuffle", "batch_sampler", "drop_last"):
            if kwargs.pop(name, None):
                raise ValueError(f"ResumableLoader takes no {name!r}: the ResumableSampler decides the order")
        wrapped = dataset if isinstance(dataset, SeededDataset) else SeededDataset(dataset)
        if isinstance(sampler, SequentialSampler):  # Lightning's overfit_batches: in order, still resumable
            sampler = ResumableSampler(wrapped, shuffle=False)
        if not isinstance(sampler, ResumableSampler):
            raise TypeError(f"ResumableLoader needs a ResumableSampler, got {type(sampler).__name__}")
        super().__init__(wrapped, batch_size=batch_size, sampler=sampler, **kwargs)
        self.epoch_batches, self.checkpoint = epoch_batches, checkpoint
        self.epoch = sampler.epoch
        #: batches of :attr:`epoch` served so far (skipped ones included after a resume).
        self.served = 0
        #: restored from a checkpoint and its epoch not finished yet: iterations continue at :attr:`served`.
        self.resuming = False

    @property
    def order(self) -> ResumableSampler:
        """The sampler deciding the order."""
        assert isinstance(self.sampler, ResumableSampler)
        return self.sampler

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        """The epoch's batches (at most :meth:`taken`); after :meth:`load_state_dict`, only those not yet served."""
        skip = self._resumed_position() if self.resuming else 0
        self.epoch, self.served = self.order.epoch, skip
        taken = self.taken()
        if skip >= taken:
            return
        self.order.start = skip * self.batch_size  # type: ignore[operator]
        for batch in super().__iter__():
            self.served += 1
            self.resuming = self.resuming and self.served < taken  # the restored epoch is complete
            yield batch
            if self.served >= taken:
                break

    def taken(self) -> int:
        """The batches an epoch takes: ``len()``, or fewer when ``epoch_batches`` says so."""
        limit = self.epoch_batches() if self.epoch_batches is not None else len(self)
        return int(min(len(self), limit))

    def _resumed_position(self) -> int:
        """Go to the restored position (the next epoch once that one is complete); returns the batches to skip."""
        epoch, served = self.epoch, self.served
        if served >= self.taken():
            epoch, served = epoch + 1, 0
        order = self.order
        asked = order.epoch - order.epoch_offset  # the epoch Lightning set
        order.epoch_offset, order.epoch = epoch - asked, epoch
        return served

    def state_dict(self) -> dict[str, Any]:
        """The position (epoch, batches served) and what it depends on (seed, sizes, sharding)."""
        order = self.order
        return {
            "epoch": self.epoch,
            "batches": self.served,
            "seed": order.seed,
            "dataset_size": len(self.dataset),  # type: ignore[arg-type]
            "batch_size": self.batch_size,
            "num_replicas": order.num_replicas,
            "shuffle": order.shuffle,
            "drop_last": order.drop_last,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue where ``state`` stopped: its epoch and seed, skipping the batches it had served.

        Raises :class:`LoaderStateError` when the state was saved for other data or other loader settings.
        """
        missing = [key for key in STATE_KEYS if key not in state]
        if missing:
            raise LoaderStateError(
                f"{self._source()}: the training-loader state lacks {', '.join(missing)}; it was not written by "
                "ervlight's ResumableLoader"
            )
        self._check_fits(state)
        order = self.order
        if state["seed"] != order.seed:
            log.info(
                "resuming the training order with the checkpoint's seed %d (not %d)",
                state["seed"],
                order.seed,
            )
        order.seed = int(state["seed"])
        order.epoch_offset = 0
        order.set_epoch(int(state["epoch"]))
        self.epoch, self.served = int(state["epoch"]), int(state["batches"])
        self.resuming = True

    def _check_fits(self, state: dict[str, Any]) -> None:
        """Raise :class:`LoaderStateError` naming every setting of ``state`` that differs from this loader's."""
        now = self.state_dict()
        names = {
            "dataset_size": "training samples",
            "batch_size": "batch size",
            "num_replicas": "processes sharing the data",
            "shuffle": "shuffle",
            "drop_last": "drop_last",
        }
        differ = [f"{label} {state[key]} in the checkpoint, {now[key]} now" for key, label in names.items()
                  if state[key] != now[key]]  # fmt: skip
        if differ:
            raise LoaderStateError(
                f"{self._source()}: the training-loader position does not fit this run's data: "
                + "; ".join(differ)
                + ". Resume with the data and settings of the checkpointed run, or start a new run without "
                "--ckpt_path"
            )
        if not 0 <= state["batches"] <= len(self):
            raise LoaderStateError(
                f"{self._source()}: the training loader had served {state['batches']} batches of an epoch of "
                f"{len(self)}"
            )

    def _source(self) -> str:
        """The checkpoint named in errors."""
        return f"checkpoint {self.checkpoint}" if self.checkpoint else "the checkpoint"
