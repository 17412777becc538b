"""The plan of a demo corpus: its sizes, and per dataset the clip specs and test folds drawn for a seed (no media)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ervlight.demo.spec import ClipSpec, sample_clip
from ervlight.demo.trees import assign_folds
from ervlight.labels import get_label_space

__all__ = ["DATASETS", "SIZES", "DatasetPlan", "DemoSize", "plan"]

DATASETS = ("dfew", "mafw")
_MAFW_IDS = (19, 20099)  # the official single-set id range (non-contiguous ids drawn inside it)


@dataclass(frozen=True)
class DemoSize:
    """How big a corpus is: clips per class per dataset, clip length, cold-start share, verifier split sizes and
    the frame rate the clips are rendered at (rendering is the corpus's cost; the demo samples 8 frames a clip)."""

    per_class: dict[str, int]
    duration_s: tuple[float, float]
    emer_fraction: float  # share of fold-1 train clips that get a cold-start rationale
    verifier: dict[str, int]
    fps: int = 25


SIZES: dict[str, DemoSize] = {
    "small": DemoSize({"dfew": 20, "mafw": 16}, (2.0, 3.0), 0.5, {"train": 2000, "val": 300, "test": 600}),
    # the demo's default: >= 300 fold-1 test clips (154 per dataset) for paired intervals; 20 % of the fold-1
    # training clips carry cold-start rationales (the towers are pre-trained on all of their labels first); 10 fps
    # (20-30 frames a clip) renders and encodes 1540 clips in 45 % less time than 25 fps
    "standard": DemoSize(
        {"dfew": 110, "mafw": 70}, (2.0, 3.0), 0.2, {"train": 2000, "val": 300, "test": 600}, fps=10
    ),
    "medium": DemoSize(
        {"dfew": 100, "mafw": 70}, (2.0, 4.0), 0.3, {"train": 8000, "val": 1000, "test": 2000}
    ),
}


@dataclass(frozen=True)
class DatasetPlan:
    """The clips of one dataset: specs (ids ascending) and each clip's test fold."""

    dataset: str
    specs: list[ClipSpec]
    folds: list[int]


def plan(size: DemoSize, seed: int) -> dict[str, DatasetPlan]:
    """Draw ids, labels, folds and clip specs of both datasets (cheap; no media)."""
    plans = {}
    for index, dataset in enumerate(DATASETS):
        rng = np.random.default_rng([seed, 11, index])
        space = get_label_space(dataset)
        labels = [label for label in space.labels for _ in range(size.per_class[dataset])]
        labels = [labels[int(i)] for i in rng.permutation(len(labels))]
        if dataset == "dfew":
            numbers = np.arange(1, len(labels) + 1)
        else:
            numbers = np.sort(rng.choice(np.arange(*_MAFW_IDS), size=len(labels), replace=False))
        ids = [f"{int(n):05d}" for n in numbers]
        specs = [
            sample_clip(dataset, i, lab, seed, size.duration_s, fps=size.fps)
            for i, lab in zip(ids, labels, strict=True)
        ]
        plans[dataset] = DatasetPlan(dataset, specs, assign_folds(labels, space.labels, rng))
    return plans
