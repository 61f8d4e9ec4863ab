"""Arrays to pictures: mosaics, colour maps and PNG encoding (Pillow).

Everything here is numpy on arrays that are already computed; nothing imports a framework.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

#: The largest side of a drawn atlas, in pixels.  Bigger layers are downsampled by an integer
#: factor (block mean) so the PNG stays small and quick to encode and send.
MAX_ATLAS_SIDE = 1024
#: Pixels between tiles; gaps are transparent so the notebook's theme shows through.
GAP = 1
#: Non-finite values (NaN, +-Inf) are drawn in this colour, which no viridis value has.
NAN_RGB = (255, 0, 255)


@lru_cache(maxsize=8)
def colormap_lut(name: str = "viridis") -> np.ndarray:
    """The matplotlib colour map ``name`` as a (256, 3) uint8 lookup table."""
    from matplotlib import colormaps

    cmap = colormaps[name].resampled(256)
    rgba = cmap(np.arange(256))  # integer arguments index the table itself
    return (rgba[:, :3] * 255 + 0.5).astype(np.uint8)


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


def normalize_tiles(maps: np.ndarray) -> np.ndarray:
    """Min-max scale each channel of an (H, W, C) stack to [0, 1] on its own.

    Non-finite values are ignored for the range and come back as NaN; a constant channel
    becomes zeros (never NaN), as ``imshow`` draws a flat image in one colour.
    """
    x = np.asarray(maps, dtype=np.float32)
    finite = np.isfinite(x)
    lo = np.where(finite, x, np.inf).min(axis=(0, 1))
    hi = np.where(finite, x, -np.inf).max(axis=(0, 1))
    empty = ~np.isfinite(lo)  # a channel without one finite value
    lo = np.where(empty, 0.0, lo)
    span = np.where(empty, 0.0, hi - lo)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.where(span > 0, (x - lo) / np.where(span > 0, span, 1.0), 0.0)
    return np.where(finite, scaled, np.nan).astype(np.float32)


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
    if x.ndim != 3:
        raise ValueError(f"mosaic expects an (H, W, C) stack, got shape {x.shape}.")
    h, w, c = x.shape
    rows, cols = grid_shape(c, cols)
    tiles = normalize_tiles(x)
    out = np.full((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap), fill, np.float32)
    for i in range(c):
        r, k = divmod(i, cols)
        out[r * (h + gap) : r * (h + gap) + h, k * (w + gap) : k * (w + gap) + w] = tiles[..., i]
    return out


def block_mean(maps: np.ndarray, factor: int) -> np.ndarray:
    """Downsample (H, W, C) by an integer factor, averaging blocks (edges padded)."""
    if factor <= 1:
        return maps
    h, w, c = maps.shape
    ph, pw = -h % factor, -w % factor
    if ph or pw:
        maps = np.pad(maps, ((0, ph), (0, pw), (0, 0)), mode="edge")
    hh, ww = maps.shape[0] // factor, maps.shape[1] // factor
    return maps.reshape(hh, factor, ww, factor, c).mean(axis=(1, 3), dtype=np.float32)


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
    """Encode palette indices (see ``palette_indices``) as a PNG; the gap is transparent."""
    from PIL import Image

    picture = Image.fromarray(np.ascontiguousarray(index), mode="P")
    picture.putpalette(_palette(cmap))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1, transparency=GAP_INDEX)
    return buffer.getvalue()


def encode_png(pixels: np.ndarray) -> bytes:
    """Encode uint8 (H, W), (H, W, 3) or (H, W, 4) pixels as PNG (fast compression)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


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


@dataclass
class Picture:
    """A PNG with what the browser needs to lay it out and what the caption says."""

    png: bytes
    meta: dict[str, Any]
    caption: str
    warnings: list[str] = field(default_factory=list)


class Note(str):
    """A warning in English that also carries a code and its numbers, so the browser can
    say it in the interface's language (``js/src/captions.ts``)."""

    code: str
    params: dict[str, Any]

    def __new__(cls, code: str, text: str, **params: Any) -> Note:
        note = super().__new__(cls, text)
        note.code, note.params = code, params
        return note

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, **self.params}


def note_codes(warnings: list[str]) -> list[dict[str, Any] | None]:
    """The codes of ``warnings`` for the browser (None for a plain string)."""
    return [w.to_json() if isinstance(w, Note) else None for w in warnings]


def _value_warnings(x: np.ndarray) -> list[str]:
    warnings: list[str] = []
    n_nan = int(np.isnan(x).sum())
    n_inf = int(np.isinf(x).sum())
    if n_nan:
        warnings.append(Note("nan", f"{n_nan:,} NaN values (drawn in magenta)", n=n_nan))
    if n_inf:
        warnings.append(Note("inf", f"{n_inf:,} infinite values (drawn in magenta)", n=n_inf))
    return warnings


def feature_map_picture(activation: np.ndarray, *, max_side: int = MAX_ATLAS_SIDE) -> Picture:
    """Draw one sample's activation of a layer: a mosaic for (H, W, C), else a strip."""
    x = np.asarray(activation, dtype=np.float32)
    if x.ndim == 3:
        return _mosaic_picture(x, max_side)
    return _strip_picture(x)


def _mosaic_picture(x: np.ndarray, max_side: int) -> Picture:
    h, w, c = x.shape
    rows, cols = grid_shape(c)
    factor = 1
    while max(rows * math.ceil(h / factor), cols * math.ceil(w / factor)) + (
        max(rows, cols) - 1
    ) * GAP > max_side and factor < max(h, w):
        factor += 1
    small = block_mean(x, factor)
    th, tw = small.shape[:2]
    # The atlas is drawn as palette indices (one byte a pixel): Pillow writes that PNG several
    # times faster than RGBA, which is most of a layer switch on big layers.
    index = palette_indices(normalize_tiles(small))  # (th, tw, c)
    atlas = np.full((rows * th + (rows - 1) * GAP, cols * tw + (cols - 1) * GAP), GAP_INDEX)
    atlas = atlas.astype(np.uint8)
    for i in range(c):
        r, k = divmod(i, cols)
        atlas[r * (th + GAP) : r * (th + GAP) + th, k * (tw + GAP) : k * (tw + GAP) + tw] = index[
            :, :, i
        ]
    warnings = _value_warnings(x)
    finite = np.isfinite(x)
    lo = np.where(finite, x, np.inf).min(axis=(0, 1))
    hi = np.where(finite, x, -np.inf).max(axis=(0, 1))
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
    warnings = _value_warnings(values)
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
