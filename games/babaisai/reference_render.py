"""The reference's VLM image: the full grid at 32 px per cell.

Drawn the way the ``baba`` package draws it (its tiles are shapes filled on
a 3x supersampled tile and averaged down): black cells with grey grid lines
on the top and left edges, grey border blocks, small grey squares for walls,
coloured ball, key and door shapes, baba as a white triangle facing right
(the package caches the first drawing of a tile, made at the reset), and word
tiles as a light frame around the word. The package writes words with
OpenCV's Hershey font; we write them with Pillow's, so word tiles are close,
not pixel-equal.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from games.babaisai.reference_world import NAME, World
from games.images import png_bytes

TILE = 32
SUBDIVS = 3
SUPER = TILE * SUBDIVS
RGB: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "grey": (100, 100, 100),
    "white": (255, 255, 255),
}
WORD_FRAME = (235, 235, 235)
WORD_MARGIN = 10

Mask = NDArray[np.bool_]
_CENTRES = (np.arange(SUPER) + 0.5) / SUPER
_X, _Y = np.meshgrid(_CENTRES, _CENTRES)


def _rect(xmin: float, xmax: float, ymin: float, ymax: float) -> Mask:
    mask: Mask = (xmin <= _X) & (xmax >= _X) & (ymin <= _Y) & (ymax >= _Y)
    return mask


def _circle(cx: float, cy: float, r: float) -> Mask:
    mask: Mask = (_X - cx) ** 2 + (_Y - cy) ** 2 <= r * r
    return mask


def _triangle(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> Mask:
    """Points inside the triangle, by barycentric coordinates."""
    v0 = (c[0] - a[0], c[1] - a[1])
    v1 = (b[0] - a[0], b[1] - a[1])
    v2x, v2y = _X - a[0], _Y - a[1]
    dot00 = v0[0] * v0[0] + v0[1] * v0[1]
    dot01 = v0[0] * v1[0] + v0[1] * v1[1]
    dot11 = v1[0] * v1[0] + v1[1] * v1[1]
    dot02 = v0[0] * v2x + v0[1] * v2y
    dot12 = v1[0] * v2x + v1[1] * v2y
    inv = 1 / (dot00 * dot11 - dot01 * dot01)
    u = (dot11 * dot02 - dot01 * dot12) * inv
    v = (dot00 * dot12 - dot01 * dot02) * inv
    mask: Mask = (u >= 0) & (v >= 0) & (u + v < 1)
    return mask


Shape = list[tuple[Mask, tuple[int, int, int]]]
BLACK = (0, 0, 0)


def _shapes(kind: str, colour: tuple[int, int, int]) -> Shape:
    if kind == "wall":  # the border
        return [(_rect(0, 1, 0, 1), colour)]
    if kind == "fwall":
        return [(_rect(0.2, 0.8, 0.2, 0.8), colour)]
    if kind == "fball":
        return [(_circle(0.5, 0.5, 0.31), colour)]
    if kind == "fdoor":
        return [
            (_rect(0, 1, 0, 1), colour),
            (_rect(0.04, 0.96, 0.04, 0.96), BLACK),
            (_rect(0.08, 0.92, 0.08, 0.92), colour),
            (_rect(0.12, 0.88, 0.12, 0.88), BLACK),
            (_circle(0.75, 0.5, 0.08), colour),
        ]
    if kind == "fkey":
        return [
            (_rect(0.50, 0.63, 0.31, 0.88), colour),
            (_rect(0.38, 0.50, 0.59, 0.66), colour),
            (_rect(0.38, 0.50, 0.81, 0.88), colour),
            (_circle(0.56, 0.28, 0.190), colour),
            (_circle(0.56, 0.28, 0.064), BLACK),
        ]
    return [(_triangle((0.12, 0.19), (0.87, 0.50), (0.12, 0.81)), RGB["white"])]  # baba


@cache
def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=22)
    except (OSError, TypeError):  # Pillow without FreeType
        return ImageFont.load_default()


def _word_image(word: str) -> NDArray[np.uint8]:
    side = SUPER - 2 * WORD_MARGIN
    image = Image.new("RGB", (side, side), BLACK)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.textbbox((0, 0), word, font=_font())
    x = (side - (right - left)) // 2 - left
    y = (side - (bottom - top)) // 2 - top
    draw.text((x, y), word, fill=WORD_FRAME, font=_font(), stroke_width=1, stroke_fill=WORD_FRAME)
    return np.asarray(image, dtype=np.uint8)


@cache
def tile(kind: str, colour: str, word: str) -> NDArray[np.uint8]:
    """One cell (its top thing, or empty when ``kind`` is "") at 32 px."""
    big = np.zeros((SUPER, SUPER, 3), dtype=np.uint8)
    big[_rect(0, 0.031, 0, 1)] = (100, 100, 100)
    big[_rect(0, 1, 0, 0.031)] = (100, 100, 100)
    if kind.startswith("rule_"):
        big[_rect(0.06, 0.94, 0.06, 0.94)] = WORD_FRAME
        big[WORD_MARGIN:-WORD_MARGIN, WORD_MARGIN:-WORD_MARGIN] = _word_image(NAME[word])
    elif kind:
        for mask, paint in _shapes(kind, RGB.get(colour, RGB["grey"])):
            big[mask] = paint
    small: np.ndarray = big.reshape(TILE, SUBDIVS, TILE, SUBDIVS, 3).mean(axis=(1, 3))
    return small.astype(np.uint8)


def render_array(world: World) -> NDArray[np.uint8]:
    image = np.zeros((world.height * TILE, world.width * TILE, 3), dtype=np.uint8)
    for index, stack in enumerate(world.cells):
        x, y = index % world.width, index // world.width
        top = stack[-1] if stack else None
        cell = tile(top.kind, top.colour, top.word) if top is not None else tile("", "", "")
        image[y * TILE : (y + 1) * TILE, x * TILE : (x + 1) * TILE] = cell
    return image


def render_png(world: World) -> bytes:
    return png_bytes(render_array(world))
