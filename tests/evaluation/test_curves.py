"""Training curves from TensorBoard event files: per-epoch means and the first → last table."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch.utils.tensorboard import SummaryWriter

from ervlight.evaluation.curves import epoch_means, trend_table


def write_events(folder: Path, epochs: list[int], rewards: list[float], extra: str | None = None) -> None:
    """One event file: ``epoch`` and ``reward`` (and ``extra`` = 2 x reward) at steps 0, 1, …"""
    writer = SummaryWriter(str(folder))
    for step, (epoch, reward) in enumerate(zip(epochs, rewards, strict=True)):
        writer.add_scalar("epoch", epoch, step)
        writer.add_scalar("reward", reward, step)
        if extra is not None:
            writer.add_scalar(extra, 2 * reward, step)
    writer.close()


def test_epoch_means_average_each_epoch(tmp_path: Path) -> None:
    write_events(tmp_path / "run" / "version_0", [0, 0, 0, 1, 1, 2], [1.0, 2.0, 3.0, 4.0, 6.0, 0.5], "x/mean")
    means = epoch_means(tmp_path / "run", ["reward", "x/mean"])
    assert means == {"reward": [2.0, 5.0, 0.5], "x/mean": [4.0, 10.0, 1.0]}


def test_missing_tags_raise_or_are_left_out(tmp_path: Path) -> None:
    write_events(tmp_path, [0, 1], [1.0, 3.0])
    with pytest.raises(KeyError, match=r"events\.out\.tfevents\..* has no scalar rewards/explanation/mean"):
        epoch_means(tmp_path, ["reward", "rewards/explanation/mean"])
    assert epoch_means(tmp_path, ["reward", "rewards/explanation/mean"], required=False) == {
        "reward": [1.0, 3.0]
    }
    with pytest.raises(FileNotFoundError, match=f"no TensorBoard event file under {tmp_path / 'empty'}"):
        epoch_means(tmp_path / "empty", ["reward"])


def test_trend_table_first_and_last_epoch() -> None:
    runs = {"baseline": {"reward": [1.25, 1.5, 1.75]}, "ERV": {"reward": [1.0, 2.0], "expl": [0.25, 0.5]}}
    assert trend_table(runs, {"reward": "total", "expl": "explanation"}).splitlines() == [
        "| run | epochs | total | explanation |",
        "|---|---|---|---|",
        "| baseline | 3 | 1.250 → 1.750 | – |",
        "| ERV | 2 | 1.000 → 2.000 | 0.250 → 0.500 |",
    ]


def test_window_means_split_the_steps_evenly(tmp_path: Path) -> None:
    # 7 steps in 3 windows: 3 + 2 + 2 (earlier windows take the remainder)
    write_events(tmp_path, [0] * 7, [1.0, 2.0, 3.0, 10.0, 20.0, 5.0, 7.0], "x/mean")
    from ervlight.evaluation.curves import window_means

    assert window_means(tmp_path, ["reward", "x/mean"], 3) == {
        "reward": [2.0, 15.0, 6.0],
        "x/mean": [4.0, 30.0, 12.0],
    }
    assert window_means(tmp_path, ["reward", "absent"], 1, required=False) == {"reward": [48.0 / 7]}
    assert window_means(tmp_path, ["reward"], 8) == {
        "reward": [1.0, 2.0, 3.0, 10.0, 20.0, 5.0, 7.0]
    }  # one a step
    with pytest.raises(KeyError, match=r"has no scalar absent"):
        window_means(tmp_path, ["reward", "absent"], 3)


def test_window_means_of_whole_epochs_are_epoch_means(tmp_path: Path) -> None:
    from ervlight.evaluation.curves import window_means

    write_events(tmp_path, [0, 0, 1, 1, 2, 2], [1.0, 3.0, 2.0, 4.0, 5.0, 7.0])
    assert (
        window_means(tmp_path, ["reward"], 3)
        == epoch_means(tmp_path, ["reward"])
        == {"reward": [2.0, 3.0, 6.0]}
    )


def test_trend_table_names_its_period() -> None:
    assert trend_table(
        {"ERV": {"reward": [1.0, 2.0, 3.0]}}, {"reward": "total"}, unit="windows"
    ).splitlines()[0] == ("| run | windows | total |")
