"""Paired bootstrap intervals on constructed outcomes with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from ervlight.evaluation.paired import (
    METRICS,
    ClipOutcomes,
    align,
    metric_values,
    paired_bootstrap,
    paired_table,
)


def outcomes(
    gold: list[int],
    pred: list[int],
    judged: list[int] | None = None,
    datasets: list[str] | None = None,
    formatted: list[bool] | None = None,
    order: list[int] | None = None,
) -> ClipOutcomes:
    """Outcomes of clips ``c0…`` (optionally listed in another ``order``)."""
    n = len(gold)
    datasets = datasets or ["dfew"] * n
    judged = judged if judged is not None else [-1] * n
    formatted = formatted if formatted is not None else [True] * n
    index = order or list(range(n))
    return ClipOutcomes(
        keys=tuple((datasets[i], 1, f"c{i}") for i in index),
        datasets=np.array([datasets[i] for i in index]),
        gold=np.array([gold[i] for i in index]),
        pred=np.array([pred[i] for i in index]),
        judged=np.array([judged[i] for i in index]),
        well_formatted=np.array([formatted[i] for i in index]),
    )


def by_key(rows: list, group: str, metric: str):  # type: ignore[no-untyped-def]
    """The row of one group and metric."""
    (row,) = [r for r in rows if r.group == group and r.metric == metric]
    return row


def test_metric_values_match_hand_counts() -> None:
    # gold 0 0 1 1 2; pred 0 1 1 -1 2 (one unparseable); judged 0 0 -1 1 1
    clips = outcomes(
        [0, 0, 1, 1, 2], [0, 1, 1, -1, 2], [0, 0, -1, 1, 1], formatted=[True, True, False, True, True]
    )
    values = {k: float(v[0]) for k, v in metric_values(clips).items()}
    assert values["war"] == pytest.approx(60.0)  # 3 of 5
    assert values["uar"] == pytest.approx(100 * (0.5 + 0.5 + 1.0) / 3)
    assert values["eea"] == pytest.approx(60.0)  # clips 0, 1, 3
    assert values["epc"] == pytest.approx(20.0)  # clip 0 only (unparseable never equals)
    assert values["fcr"] == pytest.approx(20.0)  # clip 0
    assert values["format"] == pytest.approx(80.0)


def test_identical_systems_give_zero_intervals() -> None:
    clips = outcomes([0, 1, 2, 0], [0, 2, 2, 1], [0, 1, 1, 0])
    rows = paired_bootstrap(clips, clips, num_resamples=200)
    assert len(rows) == 2 * len(METRICS)  # group "all" + "dfew"
    assert all(r.difference == 0 and r.low == 0 and r.high == 0 for r in rows)


def test_all_wrong_to_all_right_is_exactly_100_points() -> None:
    a = outcomes([0, 1, 2], [1, 2, 0])
    b = outcomes([0, 1, 2], [0, 1, 2])
    row = by_key(paired_bootstrap(a, b, num_resamples=100), "all", "war")
    assert (row.a, row.b, row.difference, row.low, row.high) == (0.0, 100.0, 100.0, 100.0, 100.0)
    assert row.excludes_zero


def test_interval_is_the_binomial_percentile_interval() -> None:
    # per-clip WAR difference d = [0, 1, 0, 0]: mean of 4 draws ~ Binomial(4, 1/4) / 4; P(k <= 2) = 0.949,
    # P(k <= 3) = 0.996 -> the 2.5 and 97.5 percentiles are 0 and 75 points.
    a = outcomes([0, 0, 0, 0], [0, 1, 1, 1])
    b = outcomes([0, 0, 0, 0], [0, 0, 1, 1])
    row = by_key(paired_bootstrap(a, b, num_resamples=20_000, seed=3), "all", "war")
    assert (row.difference, row.low, row.high) == (25.0, 0.0, 75.0)
    assert not row.excludes_zero


def test_pairing_follows_keys_not_order() -> None:
    a = outcomes([0, 1, 2, 3], [0, 1, 0, 0])
    b_shuffled = outcomes([0, 1, 2, 3], [0, 1, 0, 0], order=[3, 1, 0, 2])
    rows = paired_bootstrap(a, b_shuffled, num_resamples=50)
    assert all(r.low == r.high == 0 for r in rows)


def test_resamples_keep_each_dataset_clip_count() -> None:
    datasets = ["dfew"] * 3 + ["mafw"] * 5
    a = outcomes([0] * 8, [0, 0, 0, 1, 1, 1, 1, 1], datasets=datasets)
    b = outcomes([0] * 8, [1, 1, 1, 0, 0, 0, 0, 0], datasets=datasets)
    # every dfew clip flips right -> wrong, every mafw clip wrong -> right: with the mix fixed, the pooled WAR
    # difference is exactly (5 - 3) / 8 in every resample
    rows = paired_bootstrap(a, b, num_resamples=500)
    pooled = by_key(rows, "all", "war")
    assert (pooled.difference, pooled.low, pooled.high) == (25.0, 25.0, 25.0)
    assert (by_key(rows, "dfew", "war").clips, by_key(rows, "mafw", "war").clips) == (3, 5)
    assert by_key(rows, "dfew", "war").difference == -100.0


def test_same_seed_same_intervals_other_seed_other_draw() -> None:
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 5, 60).tolist()
    a = outcomes(gold, rng.integers(0, 5, 60).tolist(), rng.integers(0, 5, 60).tolist())
    b = outcomes(gold, rng.integers(0, 5, 60).tolist(), rng.integers(0, 5, 60).tolist())
    first = paired_bootstrap(a, b, num_resamples=300, seed=1)
    assert first == paired_bootstrap(a, b, num_resamples=300, seed=1)
    assert first != paired_bootstrap(a, b, num_resamples=300, seed=2)


def test_different_clip_sets_are_refused() -> None:
    a = outcomes([0, 1, 2], [0, 1, 2])
    b = outcomes([0, 1], [0, 1])
    with pytest.raises(
        ValueError, match=r"1 clip\(s\) only in the first \(dfew/1/c2\), 0 only in the second"
    ):
        align(a, b)


def test_bad_arguments_and_duplicates() -> None:
    clips = outcomes([0], [0])
    with pytest.raises(ValueError, match="num_resamples must be >= 1, got 0"):
        paired_bootstrap(clips, clips, num_resamples=0)
    with pytest.raises(ValueError, match=r"level must lie in \(0, 1\), got 1.5"):
        paired_bootstrap(clips, clips, level=1.5)
    with pytest.raises(ValueError, match="same \\(dataset, fold, clip\\) twice"):
        ClipOutcomes((("dfew", 1, "c"),) * 2, np.array(["dfew"] * 2), np.zeros(2), np.zeros(2), np.zeros(2),
                     np.ones(2, bool))  # fmt: skip


def test_table_lists_every_row() -> None:
    a = outcomes([0, 1], [0, 0])
    b = outcomes([0, 1], [0, 1])
    table = paired_table(paired_bootstrap(a, b, num_resamples=100), "baseline", "ERV")
    lines = table.splitlines()
    assert lines[0] == "| group | clips | metric | baseline → ERV | ERV − baseline [95 %] |"
    assert len(lines) == 2 + 2 * len(METRICS)
    assert "| all | 2 | WAR | 50.0 → 100.0 | +50.0 [" in table
