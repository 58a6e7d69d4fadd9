"""A PNG of a Baba Is AI state: coloured shapes for objects, labelled tiles for words.

Only for VLM prompts and thumbnails; never called while stepping or replaying.
Tiles are drawn once per thing and cached.
"""

from __future__ import annotations

from functools import cache

from PIL import Image, ImageDraw, ImageFont

from games.babaisai.engine import BORDER, CODE_CATEGORY, CODE_COLOUR, CODE_NAME, NOUNS, PROPERTIES, Engine
from games.images import png_bytes

TILE = 32
BACKGROUND = (16, 16, 24)
RGB: dict[str, tuple[int, int, int]] = {
    "white": (240, 240, 240),
    "grey": (128, 128, 128),
    "red": (220, 60, 60),
    "green": (70, 190, 90),
    "blue": (70, 110, 235),
}
WORD_FILL: dict[str, tuple[int, int, int]] = {
    "noun": (226, 110, 170),
    "is": (235, 235, 235),
    "property": (240, 170, 60),
}


@cache
def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=10)
    except (OSError, TypeError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


@cache
def tile(code: int) -> Image.Image:
    image = Image.new("RGB", (TILE, TILE), BACKGROUND)
    draw = ImageDraw.Draw(image)
    if code == BORDER:
        draw.rectangle((0, 0, TILE - 1, TILE - 1), fill=(70, 70, 80))
    elif CODE_CATEGORY[code] == "word":
        _draw_word(draw, CODE_NAME[code])
    elif CODE_CATEGORY[code] == "object":
        _draw_object(draw, CODE_NAME[code], RGB[CODE_COLOUR[code]])
    return image


def _draw_word(draw: ImageDraw.ImageDraw, word: str) -> None:
    kind = "noun" if word in NOUNS else "property" if word in PROPERTIES else "is"
    draw.rounded_rectangle((2, 2, TILE - 3, TILE - 3), radius=4, fill=WORD_FILL[kind])
    label = word.upper()
    font = _font()
    left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
    x = (TILE - (right - left)) // 2 - left
    y = (TILE - (bottom - top)) // 2 - top
    draw.text((x, y), label, fill=(20, 20, 20), font=font)


def _draw_object(draw: ImageDraw.ImageDraw, kind: str, colour: tuple[int, int, int]) -> None:
    if kind == "wall":
        draw.rectangle((3, 3, TILE - 4, TILE - 4), fill=colour)
        draw.line((3, TILE // 2, TILE - 4, TILE // 2), fill=BACKGROUND)
    elif kind == "ball":
        draw.ellipse((7, 7, TILE - 8, TILE - 8), fill=colour)
    elif kind == "key":
        draw.ellipse((6, 6, 16, 16), outline=colour, width=3)
        draw.line((14, 14, 25, 25), fill=colour, width=3)
        draw.line((21, 25, 25, 21), fill=colour, width=3)
    elif kind == "door":
        draw.rectangle((7, 4, TILE - 8, TILE - 3), outline=colour, width=3)
        draw.ellipse((18, 16, 21, 19), fill=colour)
    else:  # baba: a round creature with two eyes
        draw.rounded_rectangle((6, 8, TILE - 7, TILE - 6), radius=7, fill=colour)
        draw.ellipse((11, 13, 14, 16), fill=BACKGROUND)
        draw.ellipse((18, 13, 21, 16), fill=BACKGROUND)


def render_png(engine: Engine) -> bytes:
    """The grid, one tile per cell showing its top thing; a corner dot marks a
    cell with more things beneath."""
    image = Image.new("RGB", (engine.width * TILE, engine.height * TILE), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for index, stack in enumerate(engine.cells):
        if not stack:
            continue
        x, y = (index % engine.width) * TILE, (index // engine.width) * TILE
        image.paste(tile(stack[-1]), (x, y))
        if len(stack) > 1 and stack[0] != BORDER:
            draw.ellipse((x + TILE - 7, y + 2, x + TILE - 3, y + 6), fill=(255, 255, 255))
    return png_bytes(image)
