"""Training curves from TensorBoard logs: a logged scalar averaged per epoch or per window of steps (how GRPO
rewards moved in training).

Per-step GRPO rewards are noisy (a step scores ``B * G`` completions of ``B`` clips, and which clips a step draws
changes the expected reward), so training progress is read as a mean over many steps: per whole epoch
(:func:`epoch_means`; every epoch sees every training clip once, so epoch means compare like with like) or, for a
run shorter than a few epochs, per consecutive window of steps (:func:`window_means`; the loader shuffles the
clips, so each window is a random draw of training clips).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

__all__ = ["epoch_means", "trend_table", "window_means"]


def _event_file(folder: Path) -> Path:
    """The newest TensorBoard event file under ``folder``; ``FileNotFoundError`` naming the folder if none."""
    files = sorted(folder.rglob("events.out.tfevents.*"), key=lambda f: f.stat().st_mtime)
    if not files:
        raise FileNotFoundError(f"no TensorBoard event file under {folder}")
    return files[-1]


def _scalars(
    folder: str | Path, tags: Sequence[str], required: bool, extra: Sequence[str] = ()
) -> tuple[EventAccumulator, list[str]]:
    """The loaded events of the newest event file under ``folder`` and the ``tags`` it logged.

    A tag that was never logged raises ``KeyError`` naming it and the file, or with ``required=False`` is left
    out; a tag in ``extra`` is always required.
    """
    file = _event_file(Path(folder))
    events = EventAccumulator(str(file), size_guidance={"scalars": 0})
    events.Reload()
    logged = set(events.Tags()["scalars"])
    missing = [tag for tag in (*tags, *extra) if tag not in logged]
    if any(tag in missing for tag in extra) or (missing and required):
        raise KeyError(f"{file} has no scalar {', '.join(missing)}")
    return events, [tag for tag in tags if tag in logged]


def epoch_means(folder: str | Path, tags: Sequence[str], required: bool = True) -> dict[str, list[float]]:
    """Mean of each scalar ``tag`` per training epoch (epochs in order) from the newest event file in ``folder``.

    The epoch of a step comes from the ``epoch`` scalar Lightning logs beside every metric. A partial last epoch
    is kept (it averages fewer steps). A tag that was never logged raises ``KeyError`` naming it and the file, or
    with ``required=False`` is left out of the result (a run that does not use that reward).
    """
    events, tags = _scalars(folder, tags, required, extra=("epoch",))
    epoch_of = {event.step: int(event.value) for event in events.Scalars("epoch")}
    means: dict[str, list[float]] = {}
    for tag in tags:
        per_epoch: dict[int, list[float]] = defaultdict(list)
        for event in events.Scalars(tag):
            per_epoch[epoch_of.get(event.step, -1)].append(event.value)
        means[tag] = [sum(values) / len(values) for epoch, values in sorted(per_epoch.items()) if epoch >= 0]
    return means


def window_means(
    folder: str | Path, tags: Sequence[str], windows: int = 3, required: bool = True
) -> dict[str, list[float]]:
    """Mean of each scalar ``tag`` over ``windows`` consecutive windows of its logged steps (in step order).

    The steps are split as evenly as possible, earlier windows taking one step more when they do not divide (a
    run of 3 whole epochs split in 3 gives its epoch means); a tag with fewer logged steps than ``windows`` gets
    one window per step. Missing tags as in :func:`epoch_means`.
    """
    if windows < 1:
        raise ValueError(f"windows must be >= 1, got {windows}")
    events, tags = _scalars(folder, tags, required)
    means: dict[str, list[float]] = {}
    for tag in tags:
        values = [event.value for event in sorted(events.Scalars(tag), key=lambda event: event.step)]
        parts = min(windows, len(values))
        size, extra = divmod(len(values), parts)
        bounds = [i * size + min(i, extra) for i in range(parts + 1)]
        means[tag] = [sum(values[a:b]) / (b - a) for a, b in pairwise(bounds)]
    return means


def trend_table(runs: dict[str, dict[str, list[float]]], names: dict[str, str], unit: str = "epochs") -> str:
    """Markdown table, one row per run: each tag's first and last period mean (``first → last``).

    ``runs`` maps a run name to :func:`epoch_means` or :func:`window_means` output; ``names`` maps tags to column
    titles (tags a run did not log show ``–``); ``unit`` titles the column counting the periods.
    """
    header = f"| run | {unit} | " + " | ".join(names.values()) + " |"
    lines = [header, "|" + "---|" * (len(names) + 2)]
    for run, means in runs.items():
        periods = max((len(values) for values in means.values()), default=0)
        cells = [f"{means[tag][0]:.3f} → {means[tag][-1]:.3f}" if means.get(tag) else "–" for tag in names]
        lines.append(f"| {run} | {periods} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
