"""Feature maps, images and heatmaps as pictures: mosaics (one tile per channel), strips
(vectors), single images.  Numpy on computed arrays; nothing imports a framework."""

from __future__ import annotations

import io
import math
from numbers import Integral
from typing import Any

import numpy as np

from .atlas import GAP, MAX_ATLAS_SIDE, block_mean, fit_factor, grid_meta, grid_shape, tile_atlas
from .colors import GAP_INDEX, colorize, encode_palette_png, encode_png, palette_indices
from .notes import Note, value_warnings
from .picture import Picture

#: Heatmaps use a rainbow map as the Grad-CAM paper and the references do.
HEATMAP_CMAP = "jet"


def normalize_tiles(maps: np.ndarray) -> np.ndarray:
    """Min-max scale each channel of an (H, W, C) stack to [0, 1] on its own.

    Non-finite values are ignored for the range and come back as NaN; a constant channel
    becomes zeros (never NaN), as ``imshow`` draws a flat image in one colour.
    """
    x = np.asarray(maps, dtype=np.float32)
    lo, hi = x.min(axis=(0, 1)), x.max(axis=(0, 1))
    if np.isfinite(lo).all() and np.isfinite(hi).all():  # no NaN or inf anywhere
        # The same values as below, with one temporary the size of the maps instead of six.
        span = hi - lo
        flat = ~(span > 0)
        scaled = np.subtract(x, lo)
        np.divide(scaled, np.where(flat, np.float32(1), span), out=scaled)
        scaled[..., flat] = 0.0
        return scaled
    finite = np.isfinite(x)
    lo = np.where(finite, x, np.inf).min(axis=(0, 1))
    hi = np.where(finite, x, -np.inf).max(axis=(0, 1))
    empty = ~np.isfinite(lo)  # a channel without one finite value
    lo = np.where(empty, 0.0, lo)
    span = np.where(empty, 0.0, hi - lo)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.where(span > 0, (x - lo) / np.where(span > 0, span, 1.0), 0.0)
    return np.where(finite, scaled, np.nan).astype(np.float32)


def _finite_range(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per channel of ``(H, W, C)``, the least and greatest finite value (inf and -inf for a
    channel with none)."""
    lo, hi = x.min(axis=(0, 1)), x.max(axis=(0, 1))
    if np.isfinite(lo).all() and np.isfinite(hi).all():
        return lo, hi
    finite = np.isfinite(x)
    return (
        np.where(finite, x, np.inf).min(axis=(0, 1)),
        np.where(finite, x, -np.inf).max(axis=(0, 1)),
    )


def mosaic(maps: Any, cols: int | None = None, *, gap: int = 0, fill: float = 0.0) -> np.ndarray:
    """Lay out the channels of an ``(H, W, C)`` stack as one 2-D grid image.

    Each tile is min-max scaled to [0, 1] on its own (as ``imshow`` does per axes); 16
    channels give 2x8, 32 give 4x8, 64 give 8x8, more give rows of 16.

    Parameters
    ----------
    maps : array_like, shape (H, W, C)
        Feature maps of one sample, channels-last.
    cols : int, optional
        Tiles per row; by default chosen as above.
    gap : int
        Pixels between tiles.
    fill : float
        Value of the gaps and of unused tiles in the last row.

    Returns
    -------
    numpy.ndarray, shape (rows * H + (rows - 1) * gap, cols * W + (cols - 1) * gap)
        float32 in [0, 1]; non-finite input values are NaN.
    """
    x = np.asarray(maps)
    if x.ndim != 3 or 0 in x.shape:
        raise ValueError(
            f"mosaic expects an (H, W, C) stack with at least one pixel and one channel, "
            f"got shape {x.shape}."
        )
    for name, value in (("cols", cols), ("gap", gap)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, Integral)):
            raise TypeError(f"{name} must be an int, got {value!r}.")
    if gap < 0:
        raise ValueError(f"gap is the pixels between tiles, 0 or more, got {gap}.")
    _, cols = grid_shape(x.shape[-1], cols)
    tiles = np.moveaxis(normalize_tiles(x), -1, 0)
    return tile_atlas(tiles, cols, gap=gap, fill=np.float32(fill))


def feature_map_picture(activation: np.ndarray, *, max_side: int = MAX_ATLAS_SIDE) -> Picture:
    """Draw one sample's activation of a layer: a mosaic for (H, W, C), else a strip."""
    x = np.asarray(activation, dtype=np.float32)
    if x.ndim == 3:
        return _mosaic_picture(x, max_side)
    return _strip_picture(x)


def _mosaic_picture(x: np.ndarray, max_side: int) -> Picture:
    h, w, c = x.shape
    rows, cols = grid_shape(c)
    factor = fit_factor(rows, cols, h, w, max_side)
    small = block_mean(x, factor)
    th, tw = small.shape[:2]
    # The atlas is drawn as palette indices (one byte a pixel): Pillow writes that PNG several
    # times faster than RGBA, which is most of a layer switch on big layers.
    index = np.moveaxis(palette_indices(normalize_tiles(small)), -1, 0)  # (c, th, tw)
    atlas = tile_atlas(index, cols, fill=np.uint8(GAP_INDEX))
    warnings = value_warnings(x)
    lo, hi = _finite_range(x)
    constant = int(np.sum(~(hi > lo)))
    if constant:
        which = "all" if constant == c else f"{constant} of {c}"
        verb = "is" if constant == 1 and c > 1 else "are"
        text = f"{which} channels {verb} constant (drawn flat)"
        warnings.append(Note("constant_channels", text, n=constant, of=c))
    caption = f"{c} channels · {h} × {w}"
    if factor > 1:
        caption += f" (tiles shown at {th} × {tw}, 1/{factor})"
    meta = grid_meta(
        "mosaic",
        width=int(atlas.shape[1]),
        height=int(atlas.shape[0]),
        rows=rows,
        cols=cols,
        tile_width=tw,
        tile_height=th,
        gap=GAP,
        channels=c,
        true_shape=[h, w, c],
        downsample=factor,
    )
    return Picture(encode_palette_png(atlas), meta, caption, warnings)


def _strip_picture(x: np.ndarray) -> Picture:
    """A vector (or anything not spatial) as a strip of cells on one shared scale."""
    true_shape = list(x.shape)
    values = x.reshape(-1)
    n = values.size
    cols = min(n, 64) if n else 1
    rows = max(1, math.ceil(n / cols))
    cell = 12 if n <= 128 else 8 if n <= 1024 else 4 if n <= 8192 else 2
    if rows * cell > MAX_ATLAS_SIDE:  # very long vectors: fold into more columns
        cols = math.ceil(n / (MAX_ATLAS_SIDE // cell))
        rows = math.ceil(n / cols)
    grid = np.full(rows * cols, np.nan, np.float32)
    grid[:n] = values
    scaled = normalize_tiles(grid.reshape(rows, cols, 1))[..., 0]
    rgba = np.zeros((rows, cols, 4), np.uint8)
    rgba[..., :3] = colorize(scaled)
    rgba[..., 3] = 255
    rgba.reshape(-1, 4)[n:, 3] = 0  # unused cells at the end are transparent
    pixels = np.repeat(np.repeat(rgba, cell, axis=0), cell, axis=1)
    warnings = value_warnings(values)
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() == finite.max():
        warnings.append(Note("equal_values", "all values are equal (drawn flat)"))
    lo = f"{finite.min():.3g}" if finite.size else "nan"
    hi = f"{finite.max():.3g}" if finite.size else "nan"
    caption = f"{n:,} values · {' × '.join(map(str, true_shape))} · range {lo} … {hi}"
    meta = grid_meta(
        "strip",
        width=int(pixels.shape[1]),
        height=int(pixels.shape[0]),
        rows=rows,
        cols=cols,
        tile_width=cell,
        tile_height=cell,
        gap=0,
        channels=n,
        true_shape=true_shape,
        downsample=1,
    )
    return Picture(encode_png(pixels), meta, caption, warnings)


def thumbnail_png(image: np.ndarray, max_side: int = 64) -> bytes:
    """A small PNG of one display image (uint8, (H, W), (H, W, 1) or (H, W, 3/4))."""
    from PIL import Image

    x = np.asarray(image)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    elif x.ndim == 3 and x.shape[-1] not in (3, 4):
        x = x[..., 0]  # neither grey nor colour: show the first channel
    picture = Image.fromarray(np.ascontiguousarray(x))
    picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def single_picture(
    pixels: np.ndarray, kind: str, true_shape: Any, caption: str, **extra: Any
) -> Picture:
    """One untiled picture (an input image, a heatmap) with its layout description.

    A side longer than ``MAX_ATLAS_SIDE`` is shrunk by an integer factor (block means), as
    atlases are, so no picture sent to the browser or saved in a notebook is unbounded.
    """
    h, w = pixels.shape[:2]
    factor = math.ceil(max(h, w) / MAX_ATLAS_SIDE)
    if factor > 1:
        shrunk = block_mean(pixels.astype(np.float32), factor)
        pixels = np.clip(shrunk + 0.5, 0, 255).astype(np.uint8)
        h, w = pixels.shape[:2]
    meta = grid_meta(
        kind,
        width=w,
        height=h,
        rows=1,
        cols=1,
        tile_width=w,
        tile_height=h,
        gap=0,
        channels=1,
        true_shape=true_shape,
        downsample=factor,
        **extra,
    )
    return Picture(encode_png(np.ascontiguousarray(pixels)), meta, caption)


def image_picture(image: np.ndarray) -> Picture:
    """A display image (uint8, grey or colour) as it is."""
    pixels = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
    if pixels.ndim == 3 and pixels.shape[-1] not in (3, 4):
        pixels = pixels[..., 0]
    h, w = pixels.shape[:2]
    return single_picture(pixels, "image", image.shape, f"{h} × {w}")


def heatmap_picture(values: np.ndarray, caption: str) -> Picture:
    """A map in [0, 1] in the heatmap colour map."""
    rgb = colorize(values, HEATMAP_CMAP)
    return single_picture(rgb, "heatmap", values.shape, caption)
