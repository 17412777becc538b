"""Report figures drawn with Pillow (already a dependency through torchvision): no plotting library needed.

Each function returns a ``PIL.Image.Image`` (RGB) that the report saves as PNG and logs to TensorBoard
(:func:`image_array` gives the ``[H, W, 3]`` uint8 array TensorBoard takes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["bar_chart", "heatmap", "image_array"]

_FONT_SIZE = 13
_BACKGROUND = (255, 255, 255)
_INK = (20, 20, 20)
_GRID = (200, 200, 200)
#: Bar colours, one per series (colour-blind friendly palette).
PALETTE = ((0, 114, 178), (230, 159, 0), (0, 158, 115), (204, 121, 167), (86, 180, 233), (213, 94, 0))

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _font(size: int = _FONT_SIZE) -> Font:
    """Pillow's built-in scalable font (bitmap fallback when FreeType is missing)."""
    return ImageFont.load_default(size=size)


def _text_size(draw: ImageDraw.ImageDraw, text: str, font: Font) -> tuple[int, int]:
    """Width and height of ``text`` in pixels."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return int(right - left), int(bottom - top)


def image_array(image: Image.Image) -> np.ndarray:
    """``[H, W, 3]`` uint8 array of an image (TensorBoard ``add_image(..., dataformats="HWC")``)."""
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _blue(value: float) -> tuple[int, int, int]:
    """White (0) to dark blue (1)."""
    v = min(max(value, 0.0), 1.0)
    return (int(255 - 247 * v), int(255 - 207 * v), int(255 - 148 * v))


def heatmap(
    values: Sequence[Sequence[float]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    title: str,
    row_title: str = "gold",
    col_title: str = "predicted",
    cell: int = 44,
) -> Image.Image:
    """A count matrix as a heatmap, each cell annotated with its count; colour = share of the row."""
    rows, cols = len(row_labels), len(col_labels)
    if len(values) != rows or any(len(r) != cols for r in values):
        raise ValueError(f"heatmap: values must be {rows} x {cols}")
    font, small = _font(), _font(11)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    left = max(_text_size(probe, label, font)[0] for label in row_labels) + 40
    top = max(_text_size(probe, label, font)[0] for label in col_labels) + 60
    image = Image.new("RGB", (left + cols * cell + 20, top + rows * cell + 20), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((10, 8), title, fill=_INK, font=font)
    draw.text((left, top - 18), "columns: " + col_title, fill=_INK, font=small)
    draw.text((6, top + rows * cell + 2), "rows: " + row_title, fill=_INK, font=small)
    for c, label in enumerate(col_labels):
        width, height = _text_size(probe, label, font)
        text = Image.new("RGBA", (width + 4, height + 6), (0, 0, 0, 0))
        ImageDraw.Draw(text).text((2, 0), label, fill=_INK, font=font)
        rotated = text.rotate(90, expand=True)
        image.paste(
            rotated, (left + c * cell + (cell - rotated.width) // 2, top - 22 - rotated.height), rotated
        )
    for r, label in enumerate(row_labels):
        total = sum(values[r])
        width, height = _text_size(draw, label, font)
        draw.text((left - width - 8, top + r * cell + (cell - height) // 2), label, fill=_INK, font=font)
        for c in range(cols):
            count = values[r][c]
            share = count / total if total else 0.0
            box = (left + c * cell, top + r * cell, left + (c + 1) * cell, top + (r + 1) * cell)
            draw.rectangle(box, fill=_blue(share), outline=_GRID)
            number = f"{count:g}"
            width, height = _text_size(draw, number, small)
            colour = (255, 255, 255) if share > 0.55 else _INK
            draw.text(
                (box[0] + (cell - width) // 2, box[1] + (cell - height) // 2), number, fill=colour, font=small
            )
    return image


def bar_chart(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    title: str,
    y_max: float = 1.0,
    height: int = 260,
) -> Image.Image:
    """Grouped vertical bars: one group per category, one bar per series (``nan`` draws no bar); with a legend."""
    if not categories or not series:
        raise ValueError("bar_chart needs at least one category and one series")
    if any(len(values) != len(categories) for values in series.values()):
        raise ValueError(f"bar_chart: every series needs {len(categories)} values")
    font, small = _font(), _font(11)
    bar = 16 if len(series) > 1 else 26
    group = bar * len(series) + 14
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_height = max(_text_size(probe, c, small)[0] for c in categories) + 12
    left, top = 48, 34
    legend = 22 * len(series)
    width = max(left + group * len(categories) + 20, 320)
    image = Image.new("RGB", (width, top + height + label_height + legend + 10), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((10, 8), title, fill=_INK, font=font)
    for tick in range(6):
        value = y_max * tick / 5
        y = top + height - int(height * tick / 5)
        draw.line((left, y, width - 10, y), fill=_GRID)
        draw.text((6, y - 7), f"{value:.1f}", fill=_INK, font=small)
    for g, category in enumerate(categories):
        x0 = left + g * group + 7
        for s, (_, values) in enumerate(series.items()):
            value = float(values[g])
            if math.isnan(value):
                continue
            bar_height = int(height * min(max(value, 0.0), y_max) / y_max)
            draw.rectangle((x0 + s * bar, top + height - bar_height, x0 + (s + 1) * bar - 2, top + height),
                           fill=PALETTE[s % len(PALETTE)])  # fmt: skip
        text_w, text_h = _text_size(probe, category, small)
        text = Image.new("RGBA", (text_w + 4, text_h + 6), (0, 0, 0, 0))
        ImageDraw.Draw(text).text((2, 0), category, fill=_INK, font=small)
        rotated = text.rotate(90, expand=True)
        image.paste(rotated, (x0 + (group - 14 - rotated.width) // 2, top + height + 6), rotated)
    y = top + height + label_height + 4
    for s, name in enumerate(series):
        draw.rectangle((left, y + 3, left + 12, y + 15), fill=PALETTE[s % len(PALETTE)])
        draw.text((left + 18, y + 1), name, fill=_INK, font=small)
        y += 22
    return image
