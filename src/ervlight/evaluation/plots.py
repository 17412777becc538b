"""Report figures drawn with matplotlib's object-oriented API on the Agg canvas.

Each function returns a :class:`matplotlib.figure.Figure` built without ``pyplot``, so no figure is registered in
pyplot's global figure manager (nothing to close, nothing leaks between reports) and no backend is switched. The
report saves them with :func:`save_figure` (PNG, PDF, SVG) and logs them to TensorBoard with
``SummaryWriter.add_figure``. Users restyle them with the usual matplotlib calls on the returned figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["FIGURE_FORMATS", "PALETTE", "bar_chart", "heatmap", "save_figure"]

#: File formats a report can write its figures in.
FIGURE_FORMATS = ("png", "pdf", "svg")
#: Bar colours, one per series (Okabe-Ito, colour-blind friendly).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
_DPI = 120


def _figure(width: float, height: float) -> Figure:
    """A pyplot-free figure on an Agg canvas."""
    figure = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def heatmap(
    values: Sequence[Sequence[float]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    title: str,
    row_title: str = "gold",
    col_title: str = "predicted",
) -> Figure:
    """A count matrix as a heatmap, each cell annotated with its count; colour = share of the row."""
    rows, cols = len(row_labels), len(col_labels)
    if len(values) != rows or any(len(r) != cols for r in values):
        raise ValueError(f"heatmap: values must be {rows} x {cols}")
    counts = np.asarray(values, dtype=float).reshape(rows, cols)  # [R, C]
    totals = counts.sum(axis=1, keepdims=True)  # [R, 1]
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)  # [R, C]
    figure = _figure(1.2 + 0.55 * cols, 1.4 + 0.5 * rows)
    axes = figure.add_subplot()
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(cols), list(col_labels), rotation=90)
    axes.set_yticks(range(rows), list(row_labels))
    axes.set_xlabel(col_title)
    axes.set_ylabel(row_title)
    axes.set_title(title)
    for r in range(rows):
        for c in range(cols):
            colour = "white" if shares[r, c] > 0.55 else "black"
            axes.text(c, r, f"{counts[r, c]:g}", ha="center", va="center", color=colour, fontsize=8)
    figure.colorbar(image, ax=axes, label="share of the row")
    return figure


def bar_chart(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    title: str,
    y_max: float = 1.0,
) -> Figure:
    """Grouped vertical bars: one group per category, one bar per series (``nan`` draws no bar); with a legend."""
    if not categories or not series:
        raise ValueError("bar_chart needs at least one category and one series")
    if any(len(values) != len(categories) for values in series.values()):
        raise ValueError(f"bar_chart: every series needs {len(categories)} values")
    figure = _figure(max(4.0, 1.0 + 0.35 * len(categories) * len(series)), 3.6)
    axes = figure.add_subplot()
    positions = np.arange(len(categories), dtype=float)  # [K]
    width = 0.8 / len(series)
    for s, (name, values) in enumerate(series.items()):
        heights = [float(v) for v in values]
        offset = (s - (len(series) - 1) / 2) * width
        axes.bar(positions + offset, heights, width, label=name, color=PALETTE[s % len(PALETTE)])
    axes.set_xticks(positions, list(categories), rotation=90 if len(categories) > 4 else 0)
    axes.set_ylim(0.0, y_max)
    axes.set_title(title)
    axes.grid(axis="y", alpha=0.3)
    axes.legend(fontsize=8)
    return figure


def save_figure(figure: Figure, folder: Path, stem: str, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Save ``figure`` as ``folder/stem.<format>`` for each format; returns the paths."""
    unknown = [f for f in formats if f not in FIGURE_FORMATS]
    if unknown:
        raise ValueError(f"figure format(s) {', '.join(unknown)} not in {', '.join(FIGURE_FORMATS)}")
    paths = [folder / f"{stem}.{fmt}" for fmt in formats]
    for path in paths:
        figure.savefig(path, format=path.suffix[1:], metadata=_metadata(path.suffix[1:]))
    return paths


def _metadata(fmt: str) -> dict[str, str | None]:
    """File metadata without a creation date, so the same report gives the same bytes."""
    if fmt == "png":
        return {"Software": None}
    if fmt == "pdf":
        return {"CreationDate": None, "Producer": None}
    return {"Date": None}
