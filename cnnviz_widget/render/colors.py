"""Colour maps, palettes and PNG encoding: every pixel the package draws goes through here.

Colour maps are matplotlib's (looked up, never hand-written); PNGs are Pillow's.
"""

from __future__ import annotations

import io
import zlib
from functools import lru_cache

import numpy as np

#: Non-finite values (NaN, +-Inf) are drawn in this colour, which no viridis value has.
NAN_RGB = (255, 0, 255)


@lru_cache(maxsize=8)
def colormap_lut(name: str = "viridis") -> np.ndarray:
    """The matplotlib colour map ``name`` as a (256, 3) uint8 lookup table."""
    from matplotlib import colormaps

    cmap = colormaps[name].resampled(256)
    rgba = cmap(np.arange(256))  # integer arguments index the table itself
    return (rgba[:, :3] * 255 + 0.5).astype(np.uint8)


def colorize(values: np.ndarray, cmap: str = "viridis") -> np.ndarray:
    """Values in [0, 1] (NaN allowed) to uint8 RGB via a matplotlib colour map."""
    # The same binning as matplotlib's Colormap.__call__ for floats: floor(x * N), 1.0 -> N-1.
    index = np.nan_to_num(values, nan=0.0) * 256
    rgb = colormap_lut(cmap)[np.clip(index, 0, 255).astype(np.uint8)]
    rgb[np.isnan(values)] = NAN_RGB
    return rgb


#: Palette layout of mosaics: PALETTE_LEVELS colour-map levels, then NaN, then the gap.
PALETTE_LEVELS = 254

NAN_INDEX = 254

GAP_INDEX = 255


def palette_indices(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (NaN allowed) to palette indices, binned as matplotlib bins a map
    resampled to ``PALETTE_LEVELS`` colours (floor(x * N), 1.0 -> N - 1)."""
    index = np.clip(np.nan_to_num(values, nan=0.0) * PALETTE_LEVELS, 0, PALETTE_LEVELS - 1)
    index = index.astype(np.uint8)
    index[np.isnan(values)] = NAN_INDEX
    return index


@lru_cache(maxsize=8)
def _palette(cmap: str) -> bytes:
    from matplotlib import colormaps

    levels = colormaps[cmap].resampled(PALETTE_LEVELS)(np.arange(PALETTE_LEVELS))[:, :3]
    table = np.zeros((256, 3), np.uint8)
    table[:PALETTE_LEVELS] = (levels * 255 + 0.5).astype(np.uint8)
    table[NAN_INDEX] = NAN_RGB
    return table.tobytes()


def encode_palette_png(index: np.ndarray, cmap: str = "viridis") -> bytes:
    """Encode palette indices (see ``palette_indices``) as a PNG; the gap is transparent.

    zlib's run-length strategy: as small as its default at level 1 on feature-map mosaics,
    in half the time (a 900 x 450 mosaic: 6 ms instead of 12).
    """
    from PIL import Image

    picture = Image.fromarray(np.ascontiguousarray(index), mode="P")
    picture.putpalette(_palette(cmap))
    buffer = io.BytesIO()
    picture.save(
        buffer,
        format="PNG",
        compress_level=1,
        compress_type=zlib.Z_RLE,
        transparency=GAP_INDEX,
    )
    return buffer.getvalue()


def encode_png(pixels: np.ndarray) -> bytes:
    """Encode uint8 (H, W), (H, W, 3) or (H, W, 4) pixels as PNG (fast compression)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def hex_color(rgb: np.ndarray) -> str:
    """``#rrggbb`` of one uint8 RGB triple."""
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in rgb))
