"""Pictures of the playground, drawn with Pillow straight into small PNGs.

Pillow draws a frame (network, output, loss curve) in a few milliseconds, where a
matplotlib figure takes tens: the live view redraws many times a second. Colours follow
the TensorFlow Playground: orange for negative values and weights, blue for positive,
near-white for zero; a link's thickness grows with ``|weight|``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .core import DOMAIN

__all__ = ["NetworkPicture", "colorize", "heatmap_image", "loss_png", "network_png",
           "output_png", "png_bytes"]

ORANGE = (245, 147, 34)
BLUE = (8, 119, 189)
MIDDLE = (232, 234, 235)
INK = (40, 44, 52)
GREY = (140, 146, 153)
BACKGROUND = (255, 255, 255)


def _lut() -> np.ndarray:
    """256 colours from orange (-1) through near-white (0) to blue (+1)."""
    t = np.linspace(-1.0, 1.0, 256)[:, None]
    lo, mid, hi = (np.array(c, dtype=float) for c in (ORANGE, MIDDLE, BLUE))
    rgb = np.where(t < 0, mid + (lo - mid) * -t, mid + (hi - mid) * t)
    return np.round(rgb).astype(np.uint8)


LUT = _lut()


@lru_cache(maxsize=8)
def font(size: int) -> Any:
    """DejaVu Sans (shipped with matplotlib) at ``size`` pixels, else Pillow's default."""
    try:
        from matplotlib import font_manager

        return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)
    except Exception:  # no matplotlib, or a font cache problem: any legible font will do
        return ImageFont.load_default()


def colorize(values: np.ndarray) -> np.ndarray:
    """Map numbers in [-1, 1] (clipped; nan as 0) to RGB colours, shape ``(*shape, 3)``."""
    v = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0, posinf=1.0, neginf=-1.0)
    idx = np.clip(np.round((v + 1.0) * 127.5), 0, 255).astype(np.intp)
    return LUT[idx]


def heatmap_image(values: np.ndarray, size: int) -> Image.Image:
    """A square picture of a lattice of numbers in [-1, 1], scaled up smoothly."""
    return Image.fromarray(colorize(values), "RGB").resize((size, size), Image.Resampling.BILINEAR)


def png_bytes(image: Image.Image) -> bytes:
    """The image as PNG (fast compression: frames are replaced many times a second)."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _to_pixels(points: np.ndarray, size: int, offset: tuple[int, int]) -> np.ndarray:
    scale = size / (2.0 * DOMAIN)
    x = offset[0] + (points[:, 0] + DOMAIN) * scale
    y = offset[1] + (DOMAIN - points[:, 1]) * scale
    return np.column_stack([x, y])


def _point_colours(values: np.ndarray, regression: bool) -> np.ndarray:
    if regression:
        return colorize(np.clip(values, -1.0, 1.0))
    return np.where((values > 0.5)[:, None], np.array(BLUE), np.array(ORANGE)).astype(np.uint8)


def _draw_points(draw: ImageDraw.ImageDraw, pixels: np.ndarray, colours: np.ndarray,
                 outline: tuple[int, int, int], radius: float,
                 highlight: int | None = None) -> None:
    r = radius
    for (x, y), c in zip(pixels.tolist(), colours.tolist()):
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(c), outline=outline)
    if highlight is not None and 0 <= highlight < len(pixels):
        x, y = pixels[highlight]
        r = radius + 4
        draw.ellipse((x - r, y - r, x + r, y + r), outline=(0, 0, 0), width=2)


def output_png(heat: np.ndarray, *, size: int = 300, train: tuple[np.ndarray, np.ndarray],
               test: tuple[np.ndarray, np.ndarray] | None, regression: bool,
               discretize: bool = False, highlight: int | None = None,
               title: str = "") -> bytes:
    """The output heatmap with training points (white rims) and test points (dark rims).

    ``heat`` is the GRID x GRID lattice in [-1, 1]; ``train``/``test`` are (points,
    targets) in Playground coordinates; ``highlight`` circles one training point.
    """
    if discretize:
        heat = np.where(heat >= 0, 1.0, -1.0)
    pad_left, pad_top, pad_bottom = 28, 20 if title else 4, 20
    image = Image.new("RGB", (size + pad_left + 6, size + pad_top + pad_bottom), BACKGROUND)
    image.paste(heatmap_image(heat, size), (pad_left, pad_top))
    draw = ImageDraw.Draw(image)
    small = font(11)
    if title:
        draw.text((pad_left, 2), title, fill=INK, font=font(13))
    for tick in (-DOMAIN, -DOMAIN / 2, 0.0, DOMAIN / 2, DOMAIN):
        x = pad_left + (tick + DOMAIN) / (2 * DOMAIN) * size
        y = pad_top + (DOMAIN - tick) / (2 * DOMAIN) * size
        label = f"{tick:g}"
        draw.text((x, pad_top + size + 3), label, fill=GREY, font=small, anchor="ma")
        draw.text((pad_left - 4, y), label, fill=GREY, font=small, anchor="rm")
    offset = (pad_left, pad_top)
    if test is not None and len(test[0]):
        _draw_points(draw, _to_pixels(test[0], size, offset),
                     _point_colours(test[1], regression), (30, 30, 30), 3.2)
    _draw_points(draw, _to_pixels(train[0], size, offset), _point_colours(train[1], regression),
                 (255, 255, 255), 3.2, highlight)
    draw.rectangle((pad_left - 1, pad_top - 1, pad_left + size, pad_top + size), outline=GREY)
    return png_bytes(image)


def output_geometry(size: int = 300, title: bool = True) -> tuple[int, int, int]:
    """``(left, top, size)`` of the heatmap inside :func:`output_png`'s picture."""
    return 28, 20 if title else 4, size


def loss_png(epochs: Sequence[int], train: Sequence[float], test: Sequence[float], *,
             width: int = 334, height: int = 96) -> bytes:
    """Train (dark) and test (orange) loss against epochs, with the latest numbers."""
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    small = font(11)
    last_test = test[-1] if test else math.nan
    last_train = train[-1] if train else math.nan
    draw.text((4, 2), f"test loss {last_test:.3f}", fill=ORANGE, font=font(12))
    draw.text((width // 2, 2), f"training loss {last_train:.3f}", fill=INK, font=font(12))
    left, top, right, bottom = 34, 20, width - 6, height - 14
    draw.rectangle((left, top, right, bottom), outline=(220, 222, 225))
    values = [v for v in (*train, *test) if math.isfinite(v)]
    if len(epochs) >= 1 and values:
        hi = max(values) * 1.05 or 1.0
        span = max(epochs[-1] - epochs[0], 1)

        def xy(e: int, v: float) -> tuple[float, float]:
            return (left + (e - epochs[0]) / span * (right - left),
                    bottom - min(max(v, 0.0), hi) / hi * (bottom - top))

        for series, colour in ((train, INK), (test, ORANGE)):
            pts = [xy(e, v) for e, v in zip(epochs, series) if math.isfinite(v)]
            if len(pts) > 1:
                draw.line(pts, fill=colour, width=2)
            elif pts:
                x, y = pts[0]
                draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=colour)
        draw.text((left - 3, top), f"{hi:.2g}", fill=GREY, font=small, anchor="ra")
        draw.text((left - 3, bottom), "0", fill=GREY, font=small, anchor="rb")
        draw.text((right, bottom + 1), f"epoch {int(epochs[-1])}", fill=GREY, font=small,
                  anchor="ra")
    return png_bytes(image)


@dataclass
class NetworkPicture:
    """A drawn network: the PNG and where each tile is, for mapping clicks to neurons.

    ``boxes`` maps ``("feature", i)`` and ``("neuron", layer, j)`` (layer ``len(hidden)``
    is the output neuron) to ``(x0, y0, x1, y1)`` in image pixels.
    """

    png: bytes
    width: int
    height: int
    boxes: dict[tuple, tuple[int, int, int, int]] = field(default_factory=dict)

    def hit(self, x: float, y: float, slack: int = 4) -> tuple | None:
        """The tile at image pixel ``(x, y)``, or None."""
        for key, (x0, y0, x1, y1) in self.boxes.items():
            if x0 - slack <= x <= x1 + slack and y0 - slack <= y <= y1 + slack:
                return key
        return None


def network_png(feature_names: Sequence[str], feature_maps: Sequence[np.ndarray],
                neuron_maps: Sequence[Sequence[np.ndarray]], output_map: np.ndarray,
                weights: Sequence[np.ndarray], *, activation: str = "",
                selected: tuple | None = None, tile: int = 40, column: int = 104,
                row: int = 54) -> NetworkPicture:
    """Draw inputs, hidden neurons and the output as heatmap tiles joined by links.

    ``weights[k]`` is the (outputs x inputs) weight matrix of layer k (the last is the
    output layer). A link is blue for a positive weight and orange for a negative one,
    thicker and more opaque as ``|weight|`` grows.
    """
    columns = [len(feature_maps), *(len(layer) for layer in neuron_maps), 1]
    tallest = max(columns)
    top, left = 26, 56
    width = left + (len(columns) - 1) * column + tile + 34
    height = top + tallest * row + 6
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image, "RGBA")
    boxes: dict[tuple, tuple[int, int, int, int]] = {}
    centres: list[list[tuple[float, float]]] = []
    for c, count in enumerate(columns):
        x0 = left + c * column
        y_start = top + (tallest - count) * row / 2
        col = []
        for j in range(count):
            y0 = int(y_start + j * row)
            key = ("feature", j) if c == 0 else ("neuron", c - 1, j)
            boxes[key] = (x0, y0, x0 + tile, y0 + tile)
            col.append((x0 + tile / 2, y0 + tile / 2))
        centres.append(col)

    # links first, so tiles sit on top of them
    for k, w in enumerate(weights):
        w = np.asarray(w, dtype=float)
        for j, (xt, yt) in enumerate(centres[k + 1]):
            for i, (xs, ys) in enumerate(centres[k]):
                value = float(w[j, i])
                if not math.isfinite(value):
                    continue
                strength = min(abs(value), 3.0) / 3.0
                colour = (*(BLUE if value > 0 else ORANGE), int(60 + 195 * strength))
                draw.line((xs + tile / 2, ys, xt - tile / 2, yt), fill=colour,
                          width=max(1, round(1 + 6 * strength)))

    small = font(11)
    maps = [list(feature_maps), *[list(layer) for layer in neuron_maps], [output_map]]
    for c, col in enumerate(maps):
        for j, heat in enumerate(col):
            key = ("feature", j) if c == 0 else ("neuron", c - 1, j)
            x0, y0, x1, y1 = boxes[key]
            image.paste(heatmap_image(heat, tile), (x0, y0))
            outline = (0, 0, 0) if key == selected else (200, 203, 207)
            draw.rectangle((x0 - 1, y0 - 1, x1, y1), outline=outline,
                           width=3 if key == selected else 1)
            if c == 0:
                draw.text((x0 - 4, (y0 + y1) / 2), feature_names[j], fill=INK, font=small,
                          anchor="rm")
    headers = ["inputs", *(f"layer {k + 1}" for k in range(len(neuron_maps))), "output"]
    for c, text in enumerate(headers):
        draw.text((left + c * column + tile / 2, 4), text, fill=INK, font=font(12), anchor="ma")
    if activation and neuron_maps:
        draw.text((width - 4, height - 4), activation, fill=GREY, font=small, anchor="rd")
    return NetworkPicture(png_bytes(image), width, height, boxes)


def inspector_png(heat: np.ndarray, *, title: str, subtitle: str, size: int = 240,
                  points: tuple[np.ndarray, np.ndarray] | None = None,
                  regression: bool = False) -> bytes:
    """One neuron's heatmap, large, with its name and value range."""
    image = Image.new("RGB", (size + 8, size + 40), BACKGROUND)
    image.paste(heatmap_image(heat, size), (4, 36))
    draw = ImageDraw.Draw(image)
    draw.text((4, 2), title, fill=INK, font=font(13))
    draw.text((4, 19), subtitle, fill=GREY, font=font(11))
    if points is not None and len(points[0]):
        pixels = _to_pixels(points[0], size, (4, 36))
        colours = _point_colours(points[1], regression)
        for (x, y), c in zip(pixels.tolist(), colours.tolist()):
            draw.ellipse((x - 1.8, y - 1.8, x + 1.8, y + 1.8), fill=tuple(c))
    draw.rectangle((3, 35, 4 + size, 36 + size), outline=GREY)
    return png_bytes(image)
