"""Consistency metrics: hand counts, chunked = one update, torchmetrics reference, collections, merging."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_confusion_matrix,
    multiclass_recall,
)
from torchmetrics.utilities.data import dim_zero_sum

from ervlight.evaluation import consistency as fn
from ervlight.evaluation.metrics import (
    ExplanationEmotionAccuracy,
    ExplanationPredictionConsistency,
    FaithfulConsistencyGivenCorrect,
    FaithfulConsistencyRate,
    FormatRate,
    PerClassRecall,
    RecognitionConfusionMatrix,
    UnjudgedCount,
    UnparseableRate,
    UnweightedAverageRecall,
    WeightedAverageRecall,
    consistency_metrics,
)

# Ten hand-checked clips, C = 3. -1 = unparseable answer / unjudged rationale.
TARGET = torch.tensor([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
PREDS = torch.tensor([0, 0, 1, -1, 1, 1, 0, 2, -1, 2])
JUDGED = torch.tensor([0, 1, 1, -1, 1, -1, 0, 2, -1, 0])
FORMATTED = torch.tensor([1, 1, 1, 0, 1, 1, 1, 1, 0, 1], dtype=torch.bool)
# Correct answers: clips 0, 1, 4, 5, 7, 9 -> 6. Judged = gold: 0, 4, 7 -> 3. Answer = judged (both valid): 0, 2, 4, 6,
# 7 -> 5 (clip 3 is unparseable AND unjudged: no agreement). Answer = gold = judged: 0, 4, 7 -> 3. Unjudged: 3, 5, 8.
HAND = {
    "war": 6 / 10,
    "uar": (2 / 4 + 2 / 3 + 2 / 3) / 3,
    "unparseable_rate": 2 / 10,
    "format_rate": 8 / 10,
    "eea": 3 / 10,
    "epc": 5 / 10,
    "fcr": 3 / 10,
    "fcr_given_correct": 3 / 6,
    "unjudged": 3,
}
HAND_CONFMAT = [[2, 1, 0, 1], [1, 2, 0, 0], [0, 0, 2, 1]]


def _update(metric, preds=PREDS, target=TARGET, judged=JUDGED, formatted=FORMATTED):
    metric.update(preds=preds, target=target, judged=judged, well_formatted=formatted)
    return metric


def test_hand_counts_of_every_metric() -> None:
    classes = {
        "war": WeightedAverageRecall,
        "uar": UnweightedAverageRecall,
        "unparseable_rate": UnparseableRate,
        "format_rate": FormatRate,
        "eea": ExplanationEmotionAccuracy,
        "epc": ExplanationPredictionConsistency,
        "fcr": FaithfulConsistencyRate,
        "fcr_given_correct": FaithfulConsistencyGivenCorrect,
        "unjudged": UnjudgedCount,
    }
    for key, cls in classes.items():
        assert _update(cls(3)).compute().item() == pytest.approx(HAND[key], abs=1e-6), key
    assert _update(RecognitionConfusionMatrix(3)).compute().tolist() == HAND_CONFMAT
    assert _update(PerClassRecall(3)).compute().tolist() == pytest.approx([0.5, 2 / 3, 2 / 3])


def test_functional_twins_match_hand_counts() -> None:
    assert fn.war(PREDS, TARGET, 3).item() == pytest.approx(HAND["war"])
    assert fn.uar(PREDS, TARGET, 3).item() == pytest.approx(HAND["uar"])
    assert fn.unparseable_rate(PREDS, TARGET, 3).item() == pytest.approx(HAND["unparseable_rate"])
    assert fn.format_rate(FORMATTED).item() == pytest.approx(HAND["format_rate"])
    for name in ("eea", "epc", "fcr", "fcr_given_correct", "unjudged"):
        func = getattr(fn, "unjudged_count" if name == "unjudged" else name)
        assert func(PREDS, TARGET, JUDGED, 3).item() == pytest.approx(HAND[name]), name
    assert fn.confusion_matrix(PREDS, TARGET, 3).tolist() == HAND_CONFMAT
    assert fn.joint_counts(PREDS, TARGET, JUDGED, 3).sum().item() == 10


def test_uar_over_present_or_all_classes() -> None:
    # Class 2 (of 4) never occurs in the gold labels; class 3 is predicted but absent from the gold labels.
    target, preds = torch.tensor([0, 0, 1, 1]), torch.tensor([0, 3, 1, 1])
    assert fn.per_class_recall(preds, target, 4)[:2].tolist() == [0.5, 1.0]
    assert fn.per_class_recall(preds, target, 4)[2:].isnan().all()
    assert fn.uar(preds, target, 4, classes="present").item() == pytest.approx(0.75)
    assert fn.uar(preds, target, 4, classes="all").item() == pytest.approx(1.5 / 4)
    metric = UnweightedAverageRecall(4, classes="all")
    metric.update(preds, target)
    assert metric.compute().item() == pytest.approx(1.5 / 4)
    with pytest.raises(ValueError, match="'present' or 'all'"):
        UnweightedAverageRecall(4, classes="some")  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore:The ``compute`` method of metric")
def test_empty_metrics_are_nan_and_zero_correct_makes_conditional_fcr_nan() -> None:
    assert math.isnan(WeightedAverageRecall(3).compute().item())
    assert math.isnan(FormatRate(3).compute().item())
    metric = FaithfulConsistencyGivenCorrect(3)
    metric.update(torch.tensor([1, -1]), torch.tensor([0, 0]), judged=torch.tensor([0, 0]))
    assert math.isnan(metric.compute().item())


def test_input_validation_names_the_problem() -> None:
    with pytest.raises(ValueError, match=r"ExplanationEmotionAccuracy\.update needs judged"):
        ExplanationEmotionAccuracy(3).update(PREDS, TARGET)
    with pytest.raises(ValueError, match=r"FormatRate\.update needs well_formatted"):
        FormatRate(3).update(PREDS, TARGET)
    with pytest.raises(ValueError, match=r"target holds indices outside \[0, 2\]: \[-1, 0\]"):
        fn.war(torch.tensor([0, 0]), torch.tensor([-1, 0]), 3)
    with pytest.raises(ValueError, match=r"preds holds indices outside \[-1, 2\]: \[0, 3\]"):
        fn.war(torch.tensor([0, 3]), torch.tensor([0, 0]), 3)
    with pytest.raises(ValueError, match="preds must be a 1-D integer tensor"):
        fn.war(torch.tensor([0.0, 1.0]), torch.tensor([0, 0]), 3)
    with pytest.raises(ValueError, match="differ in length: 3, 2, 2"):
        fn.war(torch.tensor([0, 1, 2]), torch.tensor([0, 0]), 3)
    with pytest.raises(ValueError, match="num_classes must be >= 1"):
        WeightedAverageRecall(0)


def _random_inputs(seed: int, n: int, c: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(0, c, (n,), generator=g)
    preds = torch.randint(-1, c, (n,), generator=g)
    judged = torch.randint(-1, c, (n,), generator=g)
    formatted = torch.rand(n, generator=g) > 0.3
    return preds, target, judged, formatted


def _values(collection_or_metric) -> dict[str, torch.Tensor]:
    out = collection_or_metric.compute()
    return out if isinstance(out, dict) else {"value": out}


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], equal_nan=True, msg=key)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 60),
    c=st.integers(1, 6),
    cuts=st.lists(st.integers(0, 60), max_size=4),
)
def test_chunked_updates_equal_one_update(seed: int, n: int, c: int, cuts: list[int]) -> None:
    preds, target, judged, formatted = _random_inputs(seed, n, c)
    whole = consistency_metrics(c, tables=True)
    whole.update(preds=preds, target=target, judged=judged, well_formatted=formatted)
    chunked = consistency_metrics(c, tables=True)
    bounds = [0, *sorted(min(x, n) for x in cuts), n]
    for lo, hi in itertools.pairwise(bounds):
        chunked.update(
            preds=preds[lo:hi], target=target[lo:hi], judged=judged[lo:hi], well_formatted=formatted[lo:hi]
        )
    _assert_same(whole.compute(), chunked.compute())


def test_against_torchmetrics_reference_with_unparseable_as_an_extra_class() -> None:
    for seed in range(5):
        preds, target, _, _ = _random_inputs(seed, 200, 7)
        extra = torch.where(preds < 0, 7, preds)  # unparseable -> class 7 of a C+1 problem
        recall = multiclass_recall(extra, target, num_classes=8, average=None)[:7]
        assert fn.war(preds, target, 7).item() == pytest.approx(
            multiclass_accuracy(extra, target, num_classes=8, average="micro").item()
        )
        torch.testing.assert_close(fn.per_class_recall(preds, target, 7), recall)
        assert fn.uar(preds, target, 7).item() == pytest.approx(recall.mean().item())
        reference_confmat = multiclass_confusion_matrix(extra, target, num_classes=8)[:7]
        assert torch.equal(fn.confusion_matrix(preds, target, 7), reference_confmat)


def test_consistency_metrics_against_a_direct_loop() -> None:
    for seed in range(5):
        preds, target, judged, _ = _random_inputs(seed, 150, 5)
        p, t, j = preds.tolist(), target.tolist(), judged.tolist()
        n = len(t)
        correct = sum(a == b for a, b in zip(p, t, strict=True))
        faithful = sum(a == b == c for a, b, c in zip(p, t, j, strict=True))
        assert fn.eea(preds, target, judged, 5).item() == pytest.approx(
            sum(a == b for a, b in zip(j, t, strict=True)) / n
        )
        assert fn.epc(preds, target, judged, 5).item() == pytest.approx(
            sum(a == b and b >= 0 for a, b in zip(p, j, strict=True)) / n
        )
        assert fn.fcr(preds, target, judged, 5).item() == pytest.approx(faithful / n)
        assert fn.fcr_given_correct(preds, target, judged, 5).item() == pytest.approx(faithful / correct)
        assert fn.unjudged_count(preds, target, judged, 5).item() == j.count(-1)


def test_collection_keys_prefix_and_compute_groups() -> None:
    collection = consistency_metrics(3, prefix="test/", tables=True)
    collection.update(preds=PREDS, target=TARGET, judged=JUDGED, well_formatted=FORMATTED)
    collection.update(preds=PREDS, target=TARGET, judged=JUDGED, well_formatted=FORMATTED)
    values = collection.compute()
    assert sorted(values) == sorted(f"test/{k}" for k in [*HAND, "per_class_recall", "confusion_matrix"])
    for key, expected in HAND.items():
        factor = 2 if key == "unjudged" else 1
        assert values[f"test/{key}"].item() == pytest.approx(expected * factor, abs=1e-6), key
    assert values["test/confusion_matrix"].tolist() == [[2 * x for x in row] for row in HAND_CONFMAT]
    assert len(collection.compute_groups) == 1  # one shared state, updated once per batch


def test_collection_keeps_checking_inputs_after_compute_groups_form() -> None:
    collection = consistency_metrics(3)
    collection.update(preds=PREDS, target=TARGET, judged=JUDGED, well_formatted=FORMATTED)
    assert len(collection.compute_groups) == 1  # from now on only one member is updated per batch
    with pytest.raises(ValueError, match="needs judged"):
        collection.update(preds=PREDS, target=TARGET, well_formatted=FORMATTED)
    with pytest.raises(ValueError, match="needs well_formatted"):
        collection.update(preds=PREDS, target=TARGET, judged=JUDGED)


def test_collection_without_judge_or_format_needs_only_preds_and_target() -> None:
    collection = consistency_metrics(3, prefix="val/", judged=False, formatted=False)
    collection.update(preds=PREDS, target=TARGET)
    assert sorted(collection.compute()) == ["val/uar", "val/unparseable_rate", "val/war"]
    with pytest.raises(ValueError, match="needs judged"):
        consistency_metrics(3).update(preds=PREDS, target=TARGET, well_formatted=FORMATTED)


def test_merged_states_equal_one_update() -> None:
    # What a distributed sum does: states of two processes summed (dist_reduce_fx="sum").
    preds, target, judged, formatted = _random_inputs(3, 40, 4)
    one = _update(FaithfulConsistencyRate(4), preds, target, judged, formatted)
    rank0 = _update(FaithfulConsistencyRate(4), preds[:25], target[:25], judged[:25], formatted[:25])
    rank1 = _update(FaithfulConsistencyRate(4), preds[25:], target[25:], judged[25:], formatted[25:])
    rank0.merge_state(rank1)
    assert torch.equal(rank0.joint, one.joint)
    assert rank0.compute().item() == pytest.approx(one.compute().item())
    assert FaithfulConsistencyRate.full_state_update is False
    assert {name: fx is dim_zero_sum for name, fx in one._reductions.items()} == dict.fromkeys(
        ("joint", "formatted", "format_total"), True
    )


@pytest.mark.gpu
def test_cuda_states_and_deterministic_mode_match_cpu() -> None:
    preds, target, judged, formatted = _random_inputs(7, 500, 11)
    cpu = consistency_metrics(11, tables=True)
    cpu.update(preds=preds, target=target, judged=judged, well_formatted=formatted)
    cuda = consistency_metrics(11, tables=True).to("cuda")
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        cuda.update(
            preds=preds.cuda(), target=target.cuda(), judged=judged.cuda(), well_formatted=formatted.cuda()
        )
        values = cuda.compute()
    finally:
        torch.use_deterministic_algorithms(previous)
    assert all(v.device.type == "cuda" for v in values.values())
    _assert_same({k: v.cpu() for k, v in values.items()}, cpu.compute())
