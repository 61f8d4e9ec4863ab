"""Tiles laid out in a grid, and the one downsampling rule every grid uses.

Mosaics, kernel grids, filter-pattern grids and the static plots all lay their tiles out
with :func:`tile_atlas` and shrink what would pass ``MAX_ATLAS_SIDE`` with
:func:`fit_factor` and :func:`block_mean`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: The largest side of a drawn atlas, in pixels.  Bigger layers are downsampled by an integer
#: factor (block mean) so the PNG stays small and quick to encode and send.
MAX_ATLAS_SIDE = 1024

#: Pixels between tiles; gaps are transparent so the notebook's theme shows through.
GAP = 1


def grid_shape(n: int, cols: int | None = None) -> tuple[int, int]:
    """Rows and columns for ``n`` tiles: 16 -> 2x8, 32 -> 4x8, 64 -> 8x8, more -> rows of 16."""
    if n < 1:
        raise ValueError("A mosaic needs at least one channel.")
    if cols is None:
        cols = n if n <= 8 else 8 if n <= 64 else 16
    if cols < 1:
        raise ValueError(f"cols must be at least 1, got {cols}.")
    cols = min(cols, n)
    return math.ceil(n / cols), cols


def fit_factor(rows: int, cols: int, height: int, width: int, max_side: int, gap: int = GAP) -> int:
    """The smallest integer factor that shrinks ``rows x cols`` tiles of ``height x width``
    (block means, partial blocks rounded up) so the grid fits in ``max_side`` pixels."""
    factor = 1
    while max(rows * math.ceil(height / factor), cols * math.ceil(width / factor)) + (
        max(rows, cols) - 1
    ) * gap > max_side and factor < max(height, width):
        factor += 1
    return factor


def block_mean(x: np.ndarray, factor: int | tuple[int, int]) -> np.ndarray:
    """Downsample the first two axes by integer factors, averaging each block.

    ``factor`` is one factor for both axes or ``(fy, fx)``.  A partial last block averages
    only the values it has; a NaN in a block makes it NaN (drawn in the marked colour), so
    a non-finite value is never hidden.  Returns float32.
    """
    fy, fx = (factor, factor) if isinstance(factor, int) else factor
    x = np.asarray(x, dtype=np.float32)
    if fy <= 1 and fx <= 1:
        return x
    h, w = x.shape[:2]
    ph, pw = -h % fy, -w % fx
    rest = x.shape[2:]
    hh, ww = (h + ph) // fy, (w + pw) // fx
    if not (ph or pw):  # whole blocks: a plain mean (the common case, and the fast one)
        return x.reshape(hh, fy, ww, fx, *rest).mean(axis=(1, 3), dtype=np.float32)
    pad = ((0, ph), (0, pw)) + ((0, 0),) * len(rest)
    sums = np.pad(x, pad).reshape(hh, fy, ww, fx, *rest).sum(axis=(1, 3), dtype=np.float64)
    counts = np.pad(np.ones((h, w)), pad[:2]).reshape(hh, fy, ww, fx).sum(axis=(1, 3))
    return (sums / counts.reshape(hh, ww, *([1] * len(rest)))).astype(np.float32)


def tile_atlas(tiles: np.ndarray, cols: int, *, gap: int = GAP, fill: Any = 0) -> np.ndarray:
    """Lay out ``(n, h, w, ...)`` tiles row by row, ``cols`` to a row.

    Gaps between tiles and unused cells of the last row hold ``fill``; the result keeps the
    tiles' dtype and trailing axes (values, palette indices or RGBA pixels).
    """
    n, h, w = tiles.shape[:3]
    rows = math.ceil(n / cols)
    shape = (rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, *tiles.shape[3:])
    out = np.full(shape, fill, dtype=tiles.dtype)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = tiles[i]
    return out


def opaque(pixels: np.ndarray) -> np.ndarray:
    """``(..., 3)`` uint8 RGB as RGBA with alpha 255 (so an atlas's gaps can be transparent)."""
    rgba = np.empty((*pixels.shape[:-1], 4), np.uint8)
    rgba[..., :3] = pixels
    rgba[..., 3] = 255
    return rgba


def grid_meta(
    kind: str,
    *,
    width: int,
    height: int,
    rows: int,
    cols: int,
    tile_width: int,
    tile_height: int,
    gap: int,
    channels: int,
    true_shape: Any,
    downsample: int,
    **extra: Any,
) -> dict[str, Any]:
    """What the browser needs to lay out a picture of ``rows`` x ``cols`` tiles (one for a
    plain image): its pixel size, tile size and gap, and the true size of what it shows."""
    return {
        "kind": kind,
        "width": int(width),
        "height": int(height),
        "rows": int(rows),
        "cols": int(cols),
        "tile_width": int(tile_width),
        "tile_height": int(tile_height),
        "gap": int(gap),
        "channels": int(channels),
        "true_shape": [int(d) for d in true_shape],
        "downsample": int(downsample),
        **extra,
    }
