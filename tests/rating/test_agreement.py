"""Agreement statistics on constructed data with hand-computed answers."""

from __future__ import annotations

import math

import pytest

from ervlight.rating.agreement import (
    bootstrap_agreement,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    majority,
)


def test_cohen_kappa_by_hand() -> None:
    # p_o = 2/3; marginals a: n1 u1 x1, b: n2 x1 -> p_e = (1*2 + 1*1) / 9 = 1/3; kappa = (2/3 - 1/3) / (2/3) = 0.5
    assert cohen_kappa(["n", "u", "x"], ["n", "n", "x"]) == pytest.approx(0.5)
    assert cohen_kappa(["a", "b"], ["a", "b"]) == pytest.approx(1.0)
    assert math.isnan(cohen_kappa(["a", "a"], ["a", "a"]))  # p_e = 1
    assert math.isnan(cohen_kappa([], []))
    with pytest.raises(ValueError, match="2 and 1 answers"):
        cohen_kappa(["a", "b"], ["a"])


def test_fleiss_kappa_by_hand() -> None:
    # 4 items x 3 raters. P_i: (9-3)/6=1, (5-3)/6=1/3, 1, 1/3 -> P = 2/3. Totals a=6, b=6 of 12 -> P_e = 1/2.
    items = [["a", "a", "a"], ["a", "a", "b"], ["b", "b", "b"], ["b", "b", "a"]]
    assert fleiss_kappa(items) == pytest.approx((2 / 3 - 1 / 2) / (1 - 1 / 2))
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa([["a", "b"], ["a"]])
    assert math.isnan(fleiss_kappa([]))


def test_krippendorff_alpha_by_hand() -> None:
    # Coincidences: (n,n)=2, (u,n)=(n,u)=1, (x,x)=2; n_c: n3 u1 x2, n=6; D_o pairs 2; sum n_c n_k (c!=k) = 36-14 = 22
    # alpha = 1 - (6 - 1) * 2 / 22 = 12/22. A third item with one answer is skipped.
    assert krippendorff_alpha([["n", "n"], ["u", "n"], ["x", "x"], ["x"]]) == pytest.approx(12 / 22)
    # Three raters, one missing answer: all agree -> 1.
    assert krippendorff_alpha([["a", "a", "a"], ["b", "b"]]) == pytest.approx(1.0)
    assert math.isnan(krippendorff_alpha([["a", "a"]]))


def test_majority_and_ties() -> None:
    assert majority(["a", "b", "a"]) == "a"
    assert majority(["a", "b"]) is None
    assert majority([]) is None


def test_bootstrap_intervals_are_seeded_and_bracket_the_estimate() -> None:
    first = ["a", "b", "a", "a", "b", "c", "a", "b"]
    second = ["a", "b", "b", "a", "b", "c", "a", "a"]
    one = bootstrap_agreement(first, second, resamples=500, seed=3)
    assert one == bootstrap_agreement(first, second, resamples=500, seed=3)
    low, high = one["agreement"]
    assert low <= 6 / 8 <= high
    assert 0 <= low < high <= 1
    low, high = one["kappa"]
    assert low <= cohen_kappa(first, second) <= high
    # Perfect agreement on two items: every defined resample gives 1.
    assert bootstrap_agreement(["a", "b"], ["a", "b"]) == {"agreement": (1.0, 1.0), "kappa": (1.0, 1.0)}
