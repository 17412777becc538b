"""Report figures: the plotted data (image array, bar heights, tick labels), the files, TensorBoard, no pyplot state."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from ervlight.evaluation.plots import PALETTE, bar_chart, heatmap, save_figure


def _ticks(labels: list) -> list[str]:
    return [label.get_text() for label in labels]


def test_heatmap_plots_row_shares_and_annotates_counts() -> None:
    figure = heatmap(
        [[3, 1, 0], [0, 0, 0]], ["happy", "sad"], ["happy", "sad", "unparseable"], "toy confusion"
    )
    axes = figure.axes[0]
    shares = np.asarray(axes.images[0].get_array())
    np.testing.assert_allclose(shares, [[0.75, 0.25, 0.0], [0.0, 0.0, 0.0]])  # an empty row stays 0, no nan
    assert axes.images[0].get_clim() == (0.0, 1.0)
    assert [t.get_text() for t in axes.texts] == ["3", "1", "0", "0", "0", "0"]
    assert [t.get_color() for t in axes.texts[:2]] == ["white", "black"]  # dark cell, light cell
    assert _ticks(axes.get_xticklabels()) == ["happy", "sad", "unparseable"]
    assert _ticks(axes.get_yticklabels()) == ["happy", "sad"]
    assert (axes.get_title(), axes.get_xlabel(), axes.get_ylabel()) == ("toy confusion", "predicted", "gold")
    with pytest.raises(ValueError, match="values must be 2 x 3"):
        heatmap([[1, 2]], ["happy", "sad"], ["a", "b", "c"], "bad")


def test_bar_chart_draws_one_bar_per_series_and_category() -> None:
    series = {"fold1": [1.0, 0.5, math.nan], "fold2": [0.25, 0.0, 0.75]}
    figure = bar_chart(["happy", "sad", "fear"], series, "toy recall")
    axes = figure.axes[0]
    assert len(axes.containers) == 2
    first, second = axes.containers
    heights = [bar.get_height() for bar in first]
    assert heights[:2] == [1.0, 0.5]
    assert math.isnan(heights[2])  # nan draws no bar
    assert [bar.get_height() for bar in second] == [0.25, 0.0, 0.75]
    centres = [bar.get_x() + bar.get_width() / 2 for bar in first]
    assert centres == pytest.approx([-0.2, 0.8, 1.8])  # two series share a group of width 0.8
    assert first.get_label() == "fold1"
    assert _ticks(axes.get_legend().get_texts()) == ["fold1", "fold2"]
    assert _ticks(axes.get_xticklabels()) == ["happy", "sad", "fear"]
    assert axes.get_ylim() == (0.0, 1.0)
    assert tuple(first[0].get_facecolor()) == pytest.approx((0.0, 114 / 255, 178 / 255, 1.0))
    assert PALETTE[0] == "#0072B2"
    with pytest.raises(ValueError, match="every series needs 3 values"):
        bar_chart(["a", "b", "c"], {"s": [1.0]}, "bad")
    with pytest.raises(ValueError, match="at least one category"):
        bar_chart([], {}, "bad")


def test_figures_are_saved_in_each_format_without_pyplot_state(tmp_path: Path) -> None:
    before = plt.get_fignums()
    figure = bar_chart(["a", "b"], {"s": [0.5, 1.0]}, "toy")
    assert isinstance(figure, Figure)
    assert plt.get_fignums() == before  # built without pyplot: nothing to close, nothing leaks
    paths = save_figure(figure, tmp_path, "toy", ["png", "pdf", "svg"])
    assert [p.name for p in paths] == ["toy.png", "toy.pdf", "toy.svg"]
    with Image.open(paths[0]) as image:
        assert image.format == "PNG"
        assert image.size == (480, 432)  # 4.0 x 3.6 inches at 120 dpi
    assert paths[1].read_bytes().startswith(b"%PDF-")
    assert "<svg" in paths[2].read_text()
    again = save_figure(bar_chart(["a", "b"], {"s": [0.5, 1.0]}, "toy"), tmp_path / "..", "toy2", ["pdf"])
    assert again[0].read_bytes() == paths[1].read_bytes()  # no creation date: same figure, same bytes
    with pytest.raises(ValueError, match="figure format\\(s\\) jpg not in png, pdf, svg"):
        save_figure(figure, tmp_path, "toy", ["jpg"])
