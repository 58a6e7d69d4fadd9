"""The one PNG encoder of the adapters' ``render_png`` (VLM prompts,
thumbnails): Pillow's defaults, so a state always encodes to the same bytes."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def png_bytes(image: Image.Image | np.ndarray) -> bytes:
    """``image`` (a Pillow image or an RGB uint8 array) as PNG bytes."""
    picture = image if isinstance(image, Image.Image) else Image.fromarray(image)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()
