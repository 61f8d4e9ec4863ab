"""Filter patterns (model inputs found by gradient ascent) as a grid of display tiles."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .atlas import (
    GAP,
    MAX_ATLAS_SIDE,
    block_mean,
    fit_factor,
    grid_meta,
    grid_shape,
    opaque,
    tile_atlas,
)
from .colors import encode_png
from .notes import Note
from .picture import Picture


def pattern_picture(
    images: np.ndarray,
    *,
    filter_indices: Sequence[int],
    true_shape: Sequence[int] | None = None,
    step: int,
    steps: int,
    input_range: tuple[float, float] | None = None,
    max_side: int = MAX_ATLAS_SIDE,
) -> Picture:
    """Draw ``(K, H, W, C)`` patterns as a grid of tiles, in the mosaic's layout.

    Each tile is shown as an image on its own scale, as the lesson's ``deprocess``: centred
    on its mean and scaled by its standard deviation (mean +- 3 std fill the range, beyond
    is clipped); RGB for 3 channels, grey otherwise (the mean of the channels).  A tile that
    is flat (std under 1% of ``input_range``, ``(0, 1)`` by default) is drawn at its own
    level instead, so that a filter whose best input is plain white shows white.  Gaps are
    transparent; a grid wider than ``max_side`` pixels is downsampled by an integer factor.

    Parameters
    ----------
    images : numpy.ndarray
        ``(K, H, W, C)`` model inputs, as ``maximize_filters`` gives (or its ``on_step``).
    filter_indices : sequence of int
        The filter of each image, for the meta (``filters``).
    true_shape : sequence of int, optional
        ``(H, W, C)`` of the patterns as computed, where ``images`` were shrunk before
        drawing; ``images.shape[1:]`` by default.
    step, steps : int
        Progress, for the caption and the meta.
    input_range : (float, float), optional
        What was passed to ``maximize_filters``.
    max_side : int
        The largest side of the drawn grid, in pixels.

    Returns
    -------
    Picture
        Meta as a mosaic's (``kind: "patterns"``) with ``filters``, ``step`` and ``steps``.
    """
    x = np.asarray(images, dtype=np.float32)
    if x.ndim != 4:
        raise ValueError(f"pattern_picture expects (K, H, W, C) images, got shape {x.shape}.")
    k, h, w, c = x.shape
    filters = [int(f) for f in filter_indices]
    if len(filters) != k:
        raise ValueError(f"{k} images but {len(filters)} filter indices.")
    rows, cols = grid_shape(k)
    factor = fit_factor(rows, cols, h, w, max_side)
    tiles = pattern_display(x, input_range)
    if factor > 1:
        tiles = np.stack([block_mean(t, factor) for t in tiles])
    pixels = (tiles * 255 + 0.5).astype(np.uint8)
    th, tw = pixels.shape[1:3]
    atlas = tile_atlas(opaque(pixels), cols, fill=np.uint8(0))
    shape = [int(d) for d in (true_shape if true_shape is not None else (h, w, c))]
    caption = f"{k} filter{'s' if k != 1 else ''} · step {step}/{steps} · {shape[0]} × {shape[1]}"
    if factor > 1 or [th, tw] != shape[:2]:
        caption += f" (tiles shown at {th} × {tw})"
    meta = grid_meta(
        "patterns",
        width=int(atlas.shape[1]),
        height=int(atlas.shape[0]),
        rows=rows,
        cols=cols,
        tile_width=int(tw),
        tile_height=int(th),
        gap=GAP,
        channels=k,
        true_shape=shape,
        downsample=factor,
        step=int(step),
        steps=int(steps),
    )
    warnings: list[str] = []
    bad = int((~np.isfinite(x)).sum())
    if bad:
        text = f"{bad:,} non-finite values (drawn at their tile's mean)"
        warnings.append(Note("nonfinite_patterns", text, n=bad))
    return Picture(encode_png(atlas), meta, caption, warnings)


def pattern_display(
    images: np.ndarray, input_range: tuple[float, float] | None = None
) -> np.ndarray:
    """``(K, H, W, C)`` model inputs to ``(K, H, W, 3)`` float32 in [0, 1], tile by tile."""
    x = images if images.shape[-1] == 3 else images.mean(axis=-1, keepdims=True)
    axes = (1, 2, 3)
    finite = np.isfinite(x)
    count = np.maximum(finite.sum(axis=axes, keepdims=True), 1)
    mean = np.where(finite, x, 0).sum(axis=axes, keepdims=True) / count
    x = np.where(finite, x, mean)
    std = np.sqrt(np.square(x - mean).sum(axis=axes, keepdims=True) / count)
    lo, hi = (0.0, 1.0) if input_range is None else (float(v) for v in input_range)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"input_range must be (lo, hi) with lo < hi, got {input_range!r}.")
    flat = std < 0.01 * (hi - lo)
    stretched = 0.5 + (x - mean) / (6 * np.where(flat, 1, std))
    level = (x - lo) / (hi - lo)
    shown = np.clip(np.where(flat, level, stretched), 0, 1).astype(np.float32)
    return np.broadcast_to(shown, (*shown.shape[:3], 3)) if shown.shape[-1] == 1 else shown
