"""Training curves from TensorBoard logs: a logged scalar averaged per epoch (how GRPO rewards moved in training).

Per-step GRPO rewards are noisy (a step scores ``B * G`` completions of ``B`` clips, and which clips a step draws
changes the expected reward), so training progress is read as the mean over each whole epoch: every epoch sees
every training clip once, so epoch means compare like with like.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

__all__ = ["epoch_means", "trend_table"]


def _event_file(folder: Path) -> Path:
    """The newest TensorBoard event file under ``folder``; ``FileNotFoundError`` naming the folder if none."""
    files = sorted(folder.rglob("events.out.tfevents.*"), key=lambda f: f.stat().st_mtime)
    if not files:
        raise FileNotFoundError(f"no TensorBoard event file under {folder}")
    return files[-1]


def epoch_means(folder: str | Path, tags: Sequence[str], required: bool = True) -> dict[str, list[float]]:
    """Mean of each scalar ``tag`` per training epoch (epochs in order) from the newest event file in ``folder``.

    The epoch of a step comes from the ``epoch`` scalar Lightning logs beside every metric. A partial last epoch
    is kept (it averages fewer steps). A tag that was never logged raises ``KeyError`` naming it and the file, or
    with ``required=False`` is left out of the result (a run that does not use that reward).
    """
    file = _event_file(Path(folder))
    events = EventAccumulator(str(file), size_guidance={"scalars": 0})
    events.Reload()
    logged = set(events.Tags()["scalars"])
    missing = [tag for tag in (*tags, "epoch") if tag not in logged]
    if "epoch" in missing or (missing and required):
        raise KeyError(f"{file} has no scalar {', '.join(missing)}")
    tags = [tag for tag in tags if tag in logged]
    epoch_of = {event.step: int(event.value) for event in events.Scalars("epoch")}
    means: dict[str, list[float]] = {}
    for tag in tags:
        per_epoch: dict[int, list[float]] = defaultdict(list)
        for event in events.Scalars(tag):
            per_epoch[epoch_of.get(event.step, -1)].append(event.value)
        means[tag] = [sum(values) / len(values) for epoch, values in sorted(per_epoch.items()) if epoch >= 0]
    return means


def trend_table(runs: dict[str, dict[str, list[float]]], names: dict[str, str]) -> str:
    """Markdown table, one row per run: each tag's first-epoch and last-epoch mean (``first → last``).

    ``runs`` maps a run name to :func:`epoch_means` output; ``names`` maps tags to column titles (tags a run did
    not log show ``–``).
    """
    header = "| run | epochs | " + " | ".join(names.values()) + " |"
    lines = [header, "|" + "---|" * (len(names) + 2)]
    for run, means in runs.items():
        epochs = max((len(values) for values in means.values()), default=0)
        cells = [f"{means[tag][0]:.3f} → {means[tag][-1]:.3f}" if means.get(tag) else "–" for tag in names]
        lines.append(f"| {run} | {epochs} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
