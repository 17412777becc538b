"""The demo's seed tables: per-seed paired intervals beside mean ± std over seeds."""

from __future__ import annotations

import pytest

from ervlight.evaluation.paired import PairedDifference
from ervlight.pipeline.summary import mean_std, policies_table, seeds_table


def _row(
    group: str, metric: str, a: float, b: float, low: float, high: float, clips: int = 10
) -> PairedDifference:
    return PairedDifference(group, metric, clips, a, b, b - a, low, high)


def test_mean_std_uses_the_sample_deviation() -> None:
    assert mean_std([1.0, 2.0, 3.0]) == "+2.0 ± 1.0"
    assert mean_std([-4.25]) == "-4.2"
    assert mean_std([0.0, 0.0]) == "+0.0 ± 0.0"


def test_seeds_table_puts_each_seed_interval_beside_the_mean() -> None:
    table = seeds_table(
        {0: [_row("all", "war", 50, 52, -1, 5), _row("dfew", "eea", 30, 20, -15.55, -4.44)],
         2: [_row("all", "war", 50, 56, 1, 11), _row("dfew", "eea", 30, 30, -5, 5)]},
        "ERV − baseline",
    )  # fmt: skip
    assert table.splitlines() == [
        "| group | clips | metric | seed 0: ERV − baseline [95 %] | seed 2: ERV − baseline [95 %] | mean ± std |",
        "|---|---|---|---|---|---|",
        "| all | 10 | WAR | +2.0 [-1.0, +5.0] | +6.0 [+1.0, +11.0] | +4.0 ± 2.8 |",
        "| dfew | 10 | EEA | -10.0 [-15.6, -4.4] | +0.0 [-5.0, +5.0] | -5.0 ± 7.1 |",
    ]


def test_seeds_must_compare_the_same_rows() -> None:
    with pytest.raises(ValueError, match="seed 1 compares other groups, metrics or clip counts than seed 0"):
        seeds_table({0: [_row("all", "war", 1, 2, 0, 1)], 1: [_row("all", "war", 1, 2, 0, 1, clips=9)]}, "x")
    with pytest.raises(ValueError, match="no seeds to tabulate"):
        seeds_table({}, "x")


def test_policies_table_reads_each_policy_from_the_paired_rows() -> None:
    per_seed = {
        seed: {"ERV − baseline": [_row("all", "fcr", 10 + seed, 20 + seed, 0, 1)],
               "ERV − SFT": [_row("all", "fcr", 5.0, 20 + seed, 0, 1)]}
        for seed in (0, 1)
    }  # fmt: skip
    assert policies_table(per_seed).splitlines()[2:] == [
        "| all | 10 | FCR | 5.0 ± 0.0 | 10.5 ± 0.7 | 20.5 ± 0.7 |"
    ]
