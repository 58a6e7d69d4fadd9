"""The reference's VLM image of NetHack and MiniHack: the 21x79 glyph map
drawn with 16x16 tiles (1264x336 px), as BALROG's ``render_rgb`` draws it.

The tiles and the glyph-to-tile table are the ones the minihack package
ships (``minihack/tiles/tiles.pkl``, ``minihack.tiles.glyph2tile``), the very
data the reference's renderer carries (checked equal: the table entry for
entry, the tile file byte for byte). They are read from the installed
package at run time, not copied.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from functools import cache
from importlib import resources

import numpy as np

from games.images import png_bytes

ROWS, COLUMNS, TILE = 21, 79, 16


@cache
def _atlas() -> np.ndarray:
    # The package's own data file, pickled by its authors: trusted as the package is.
    blob = resources.files("minihack.tiles").joinpath("tiles.pkl").read_bytes()
    tiles = pickle.loads(blob)
    return np.stack([np.asarray(tiles[i], dtype=np.uint8) for i in range(len(tiles))])


@cache
def _glyph_to_tile() -> np.ndarray:
    from minihack.tiles import glyph2tile

    return np.asarray(glyph2tile, dtype=np.int64)


def tile_image(glyphs: Sequence[int]) -> np.ndarray:
    """RGB pixels (336, 1264, 3) of a flattened 21x79 glyph map."""
    grid = np.asarray(glyphs, dtype=np.int64).reshape(ROWS, COLUMNS)
    tiles: np.ndarray = _atlas()[_glyph_to_tile()[grid]]  # (21, 79, 16, 16, 3)
    return tiles.transpose(0, 2, 1, 3, 4).reshape(ROWS * TILE, COLUMNS * TILE, 3)


def tile_png(glyphs: Sequence[int]) -> bytes:
    return png_bytes(tile_image(glyphs))
