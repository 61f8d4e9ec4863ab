"""The Weights view: kernel grids on one symmetric scale, histograms, an untrained baseline.

Drawing and statistics are numpy on arrays that are already computed (``kernel`` is
channels-last as ``layer_weights`` returns it: conv ``(kh, kw, in, out)``, dense
``(in, out)``).  Only :func:`untrained_copy`, :func:`resolve_baseline` and
:func:`weights_view` touch a model, and they do so through the adapter and Keras's own
``clone_model``.

Every returned dictionary holds plain Python values (lists, floats, ints, str, None), so
it can go to the browser as JSON as it is; non-finite numbers come back as ``None``.
"""

from __future__ import annotations

import contextlib
import math
import threading
import warnings
import weakref
from typing import Any

import numpy as np

from ..render import (
    GAP,
    MAX_ATLAS_SIDE,
    Picture,
    _value_warnings,
    colorize,
    encode_png,
    grid_meta,
)

#: The diverging colour map of the weights view (matplotlib's name): blue < 0 < red.
WEIGHTS_CMAP = "RdBu_r"
#: Kernel tiles per row: 32 filters give 2 rows of 16.
KERNEL_COLS = 16
#: Largest and smallest size, in pixels, of one kernel weight in a grid.
MAX_CELL = 12
#: A dense matrix is block-mean downsampled to at most this many pixels a side...
MAX_MATRIX_SIDE = 512
#: ...and small matrices are enlarged (integer cells) towards this size.
MATRIX_TARGET = 256
#: Colours in a colour bar description.
COLORBAR_STEPS = 11
#: Significant digits of the numbers handed to the panel.
DIGITS = 4

_DEPTHWISE_TYPES = frozenset(
    {"DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D"}
)


# ----------------------------------------------------------------------------- helpers
def _num(value: Any, digits: int | None = DIGITS) -> float | None:
    """A JSON-able float (``None`` for NaN/Inf), rounded to ``digits`` significant digits."""
    v = float(value)
    if not math.isfinite(v):
        return None
    if digits is None or v == 0.0:
        return v
    return float(f"{v:.{digits}g}")


def _nested(values: np.ndarray, digits: int | None = DIGITS) -> Any:
    """An array as nested lists of rounded floats (``None`` for non-finite values)."""
    if values.ndim == 0:
        return _num(values, digits)
    return [_nested(v, digits) for v in values]


def _hex(rgb: np.ndarray) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in rgb))


def _finite_abs_max(*arrays: np.ndarray | None) -> float:
    best = 0.0
    for a in arrays:
        if a is None or np.size(a) == 0:
            continue
        x = np.abs(np.asarray(a))
        if not np.isfinite(x).all():
            x = x[np.isfinite(x)]
        if x.size:
            best = max(best, float(x.max()))
    return best


def symmetric_vmax(*kernels: np.ndarray | None) -> float:
    """The shared scale of one or more kernels: max |w| over all their finite weights.

    Returns 1.0 when there is no nonzero finite weight (a zero layer is then drawn in the
    colour map's middle colour, never divided by zero).
    """
    vmax = _finite_abs_max(*kernels)
    return vmax if vmax > 0 else 1.0


def _check_vmax(vmax: float | None, kernel: np.ndarray) -> float:
    if vmax is None:
        return symmetric_vmax(kernel)
    v = float(vmax)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"vmax must be a positive finite number, got {vmax!r}.")
    return v


def normalize_symmetric(values: np.ndarray, vmax: float) -> np.ndarray:
    """Map ``[-vmax, vmax]`` to ``[0, 1]`` (clipped), as ``Normalize(-vmax, vmax)`` does.

    The arithmetic is matplotlib's own, ``(x - vmin) / (vmax - vmin)`` in float32, so
    ``colorize`` of the result equals ``colormaps[cmap](Normalize(-vmax, vmax)(x))``.
    Non-finite values come back as NaN (drawn in the marked colour).
    """
    x = np.asarray(values, dtype=np.float32)
    lo, hi = np.float32(-vmax), np.float32(vmax)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = (x - lo) / (hi - lo)
    scaled = np.clip(scaled, 0.0, 1.0)
    return np.where(np.isfinite(x), scaled, np.nan).astype(np.float32)


def colorbar(vmax: float, cmap: str = WEIGHTS_CMAP, *, rgb: bool = False) -> dict[str, Any]:
    """What the browser needs to draw a colour bar with numbers.

    ``colors`` are ``COLORBAR_STEPS`` hex strings evenly spaced from ``vmin`` to ``vmax``
    (sampled from the same lookup table as the pixels); in RGB mode they run from black
    to white, since each of R, G and B maps ``[-vmax, vmax]`` to ``[0, 255]``.
    """
    steps = np.linspace(0.0, 1.0, COLORBAR_STEPS, dtype=np.float32)
    if rgb:
        grey = (steps * 255 + 0.5).astype(np.uint8)
        rgbs = np.stack([grey, grey, grey], axis=-1)
    else:
        rgbs = colorize(steps, cmap)
    return {
        "colors": [_hex(c) for c in rgbs],
        "vmin": -float(vmax),
        "vmax": float(vmax),
        "cmap": "rgb" if rgb else cmap,
        "ticks": [_num(v) for v in np.linspace(-vmax, vmax, 5)],
    }


def kernel_grid_shape(n: int) -> tuple[int, int]:
    """Rows and columns of a kernel grid: rows of 16 (32 -> 2x16), fewer -> one row."""
    if n < 1:
        raise ValueError("A kernel grid needs at least one filter.")
    cols = min(n, KERNEL_COLS)
    return math.ceil(n / cols), cols


def _as_conv4d(kernel: np.ndarray) -> tuple[np.ndarray, str]:
    """Bring a conv kernel to (kh, kw, in, out); the note says what was done."""
    if kernel.ndim == 4:
        return kernel, ""
    if kernel.ndim == 3:  # Conv1D: (k, in, out) -> a one-row 2-D kernel
        return kernel[np.newaxis], ""
    if kernel.ndim == 5:  # Conv3D: (d, h, w, in, out) -> its middle depth slice
        d = kernel.shape[0]
        return kernel[d // 2], f"depth slice {d // 2 + 1} of {d}"
    raise ValueError(
        f"Cannot draw a kernel of shape {kernel.shape}: expected (kh, kw, in, out), "
        "(k, in, out), (d, kh, kw, in, out) or a dense (in, out) matrix."
    )


def tiles_mode(kernel_shape: tuple[int, ...], *, rgb: bool = False, depthwise: bool = False) -> str:
    """How a conv kernel's grid is tiled (see :func:`kernel_grid_picture`)."""
    n_in, n_out = kernel_shape[-2], kernel_shape[-1]
    if rgb:
        return "rgb"
    if depthwise:
        return "depthwise"
    if n_out == 1 and n_in > 1:
        return "input_channels"
    return "filters"


def can_draw_rgb(kernel_shape: tuple[int, ...], *, depthwise: bool = False) -> bool:
    """True for a conv kernel with exactly 3 input channels (a first layer on colour)."""
    return len(kernel_shape) in (3, 4, 5) and kernel_shape[-2] == 3 and not depthwise


def _tiles(k4: np.ndarray, mode: str, in_channel: int) -> tuple[np.ndarray, list[int]]:
    """The tiles of a grid, (n, kh, kw) or (n, kh, kw, 3), and each tile's output channel."""
    kh, kw, n_in, n_out = k4.shape
    if mode == "rgb":
        return np.moveaxis(k4, 3, 0), list(range(n_out))  # (out, kh, kw, 3)
    if mode == "depthwise":
        # Keras orders a depthwise layer's outputs input-channel-major: c * m + j.
        tiles = k4.transpose(2, 3, 0, 1).reshape(n_in * n_out, kh, kw)
        return tiles, list(range(n_in * n_out))
    if mode == "input_channels":
        return np.moveaxis(k4[:, :, :, 0], 2, 0), [0] * n_in
    return np.moveaxis(k4[:, :, in_channel, :], 2, 0), list(range(n_out))


def _check_in_channel(in_channel: int, n_in: int) -> int:
    i = int(in_channel)
    if not 0 <= i < n_in:
        raise ValueError(f"in_channel must be between 0 and {n_in - 1}, got {in_channel}.")
    return i


# ---------------------------------------------------------------------- pictures
def kernel_grid_picture(
    kernel: Any,
    *,
    in_channel: int = 0,
    rgb: bool = False,
    vmax: float | None = None,
    cmap: str = WEIGHTS_CMAP,
    depthwise: bool = False,
    cell: int | None = None,
    gap: int = GAP,
    max_side: int = MAX_ATLAS_SIDE,
) -> Picture:
    """Draw a layer's kernel on one symmetric colour scale.

    Parameters
    ----------
    kernel : array_like
        Channels-last: conv ``(kh, kw, in, out)`` (also Conv1D ``(k, in, out)`` and, as its
        middle depth slice, Conv3D ``(d, kh, kw, in, out)``), or dense ``(in, out)``.
    in_channel : int
        The input channel whose slice each filter tile shows (mode ``"filters"``).
    rgb : bool
        Draw each filter of a 3-input-channel kernel as one RGB image: each of R, G, B is
        ``(w + vmax) / (2 vmax)`` times 255, rounded.  ``ValueError`` if there are not
        exactly 3 input channels.
    vmax : float, optional
        The scale: weights map from ``[-vmax, vmax]`` (values beyond are clipped).  By
        default max |w| over the whole kernel (all input channels), so every tile shares it;
        pass one value to draw a trained and an untrained layer on the same scale.
    cmap : str
        A matplotlib colour map, diverging by default.
    depthwise : bool
        The kernel is a depthwise one ``(kh, kw, in, multiplier)``: one tile per output
        channel ``c * multiplier + j``.  A kernel with one output and several inputs is tiled
        per input channel anyway (mode ``"input_channels"``).
    cell : int, optional
        Pixels per weight (nearest neighbour); by default about 32 px per tile side, at
        most 12 px a weight (3x3 kernels: 10 px), smaller if the grid would pass
        ``max_side``.
    gap : int
        Transparent pixels between tiles (``render.GAP`` by default).

    Returns
    -------
    Picture
        RGBA PNG; gaps between tiles and unused tiles are transparent.  ``meta`` holds
        ``kind`` (``"kernels"`` or ``"matrix"``), ``width``, ``height``, ``rows``, ``cols``,
        ``tile_width``, ``tile_height``, ``gap``, ``channels`` (tiles), ``true_shape``,
        ``downsample``, ``vmin``, ``vmax``, ``cmap``, ``colorbar`` (see :func:`colorbar`)
        and, for kernels, ``tiles`` (the mode), ``cell``, ``in_channel``, ``in_channels``,
        ``out_channels``, ``kernel_size``, ``tile_output_channel`` (one int per tile: the
        output channel, i.e. the feature map, it belongs to) and ``rgb``.
    """
    k = np.asarray(kernel)
    if k.ndim == 2:
        if rgb:
            raise ValueError("An RGB rendering needs a conv kernel with 3 input channels.")
        return matrix_picture(k, vmax=vmax, cmap=cmap)
    k4, note = _as_conv4d(k)
    kh, kw, n_in, n_out = k4.shape
    if rgb and not can_draw_rgb(k.shape, depthwise=depthwise):
        raise ValueError(
            f"An RGB rendering needs exactly 3 input channels; this kernel {k.shape} has {n_in}."
        )
    mode = tiles_mode(k.shape, rgb=rgb, depthwise=depthwise)
    if mode == "filters":
        in_channel = _check_in_channel(in_channel, n_in)
    scale = _check_vmax(vmax, k)
    gap = max(0, int(gap))
    tiles, out_of_tile = _tiles(k4, mode, in_channel)
    n = tiles.shape[0]
    rows, cols = kernel_grid_shape(n)

    def side(c: int) -> int:
        return max(rows * kh, cols * kw) * c + (max(rows, cols) - 1) * gap

    if cell is None:
        cell = max(1, min(MAX_CELL, 32 // max(kh, kw)))
        while cell > 1 and side(cell) > max_side:
            cell -= 1
    cell = max(1, int(cell))
    th, tw = kh * cell, kw * cell

    norm = normalize_symmetric(tiles, scale)
    if mode == "rgb":
        finite = np.isfinite(norm).all(axis=-1, keepdims=True)
        pixels = (np.nan_to_num(norm) * 255 + 0.5).astype(np.uint8)
        pixels = np.where(finite, pixels, np.asarray([255, 0, 255], np.uint8))
    else:
        pixels = colorize(norm, cmap)  # (n, kh, kw, 3)
    pixels = np.repeat(np.repeat(pixels, cell, axis=1), cell, axis=2)  # (n, th, tw, 3)

    atlas = np.zeros((rows * th + (rows - 1) * gap, cols * tw + (cols - 1) * gap, 4), np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        tile = atlas[r * (th + gap) : r * (th + gap) + th, c * (tw + gap) : c * (tw + gap) + tw]
        tile[..., :3] = pixels[i]
        tile[..., 3] = 255

    notes = _value_warnings(k)
    if _finite_abs_max(k) == 0:
        notes.append("all weights are zero")
    if vmax is not None and _finite_abs_max(k) > scale:
        notes.append(f"weights beyond ±{scale:.3g} are clipped to the ends of the scale")

    size = f"{kh} × {kw}" if k.ndim != 3 else f"{kw}"
    if mode == "rgb":
        what = f"{n} filters · {size} × RGB"
    elif mode == "depthwise":
        per = f", {n_out} per input channel" if n_out > 1 else ""
        what = f"{n} depthwise filters{per} · {size}"
    elif mode == "input_channels":
        what = f"1 filter · {size} · its {n_in} input channels"
    else:
        what = f"{n} filters · {size} · input channel {in_channel} of {n_in}"
    caption = f"{what} · scale ±{scale:.3g}"
    if note:
        caption += f" · {note}"

    meta = grid_meta(
        "kernels",
        width=int(atlas.shape[1]),
        height=int(atlas.shape[0]),
        rows=rows,
        cols=cols,
        tile_width=tw,
        tile_height=th,
        gap=gap,
        channels=n,
        true_shape=[int(d) for d in k.shape],
        downsample=1,
        cell=cell,
        tiles=mode,
        rgb=mode == "rgb",
        in_channel=in_channel if mode == "filters" else None,
        in_channels=n_in,
        out_channels=n_out if mode != "depthwise" else n,
        kernel_size=[kh, kw],
        tile_output_channel=out_of_tile,
        vmin=-scale,
        vmax=scale,
        cmap="rgb" if mode == "rgb" else cmap,
        colorbar=colorbar(scale, cmap, rgb=mode == "rgb"),
    )
    return Picture(encode_png(atlas), meta, caption, notes)


def _block_mean_2d(x: np.ndarray, fy: int, fx: int) -> np.ndarray:
    """Mean over fy x fx blocks; a last partial block averages only the values it has."""
    if fy == 1 and fx == 1:
        return x.astype(np.float32)
    h, w = x.shape
    ph, pw = -h % fy, -w % fx
    padded = np.pad(x.astype(np.float64), ((0, ph), (0, pw)), constant_values=np.nan)
    blocks = padded.reshape((h + ph) // fy, fy, (w + pw) // fx, fx)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks stay NaN
        return np.nanmean(blocks, axis=(1, 3)).astype(np.float32)


def matrix_picture(
    kernel: Any,
    *,
    vmax: float | None = None,
    cmap: str = WEIGHTS_CMAP,
    max_side: int = MAX_MATRIX_SIDE,
) -> Picture:
    """A dense kernel ``(in, out)`` as one image: ``in`` down, ``out`` across.

    Each axis longer than ``max_side`` is block-mean downsampled by its own integer factor
    (``meta["downsample_axes"]``); short axes are enlarged by integer cells
    (``meta["cell_height"]``, ``meta["cell_width"]``), so value ``[i, j]`` of the drawn
    (downsampled) matrix covers pixels ``[i * cell_height : (i + 1) * cell_height,
    j * cell_width : ...]``.  The scale is symmetric as for kernels.
    """
    k = np.asarray(kernel)
    if k.ndim != 2:
        raise ValueError(f"A dense kernel is (in, out); got shape {k.shape}.")
    n_in, n_out = k.shape
    scale = _check_vmax(vmax, k)
    fy, fx = max(1, math.ceil(n_in / max_side)), max(1, math.ceil(n_out / max_side))
    x = np.where(np.isfinite(k), k, np.nan)
    small = _block_mean_2d(x, fy, fx)
    h, w = small.shape
    cy = max(1, min(MAX_CELL, MATRIX_TARGET // h))
    cx = max(1, min(MAX_CELL, MATRIX_TARGET // w))
    rgb = colorize(normalize_symmetric(small, scale), cmap)
    rgba = np.empty((h, w, 4), np.uint8)
    rgba[..., :3] = rgb
    rgba[..., 3] = 255
    pixels = np.repeat(np.repeat(rgba, cy, axis=0), cx, axis=1)

    notes = _value_warnings(k)
    if _finite_abs_max(k) == 0:
        notes.append("all weights are zero")
    caption = f"dense kernel {n_in} × {n_out} (in × out) · scale ±{scale:.3g}"
    if fy > 1 or fx > 1:
        caption += f" · shown at {h} × {w} (block means of {fy} × {fx})"
    meta = grid_meta(
        "matrix",
        width=int(pixels.shape[1]),
        height=int(pixels.shape[0]),
        rows=1,
        cols=1,
        tile_width=int(pixels.shape[1]),
        tile_height=int(pixels.shape[0]),
        gap=0,
        channels=1,
        true_shape=[int(n_in), int(n_out)],
        downsample=max(fy, fx),
        downsample_axes=[fy, fx],
        shown_shape=[h, w],
        cell_height=cy,
        cell_width=cx,
        vmin=-scale,
        vmax=scale,
        cmap=cmap,
        colorbar=colorbar(scale, cmap),
    )
    return Picture(encode_png(pixels), meta, caption, notes)


# ------------------------------------------------------------------- statistics
def _flat(values: Any) -> np.ndarray:
    """All numbers of an array, or of a list/tuple of arrays (``None`` skipped), as 1-D."""
    if isinstance(values, (list, tuple)):
        parts = [np.asarray(v, dtype=np.float64).ravel() for v in values if v is not None]
        return np.concatenate(parts) if parts else np.zeros(0)
    return np.asarray(values, dtype=np.float64).ravel()


def _stats(x: np.ndarray, bins: int, lo: float, hi: float) -> dict[str, Any]:
    finite = x[np.isfinite(x)]
    # Equal bins over (lo, hi): numpy's fast path, whose counts equal those on the edges
    # np.linspace(lo, hi, bins + 1) (it corrects each index against those edges).
    counts, _ = np.histogram(finite, bins=bins, range=(lo, hi))
    return {
        "counts": [int(c) for c in counts],
        "mean": _num(finite.mean(), None) if finite.size else None,
        "std": _num(finite.std(), None) if finite.size else None,
        "min": _num(finite.min(), None) if finite.size else None,
        "max": _num(finite.max(), None) if finite.size else None,
        "count": int(finite.size),
        "nonfinite": int(x.size - finite.size),
    }


def weight_histogram(trained: Any, baseline: Any = None, bins: int = 50) -> dict[str, Any]:
    """Counts of all weights on shared bin edges, with mean and standard deviation.

    Parameters
    ----------
    trained, baseline : array_like, or a list/tuple of arrays (e.g. ``(kernel, bias)``)
        The values to count; ``baseline`` may be ``None``.
    bins : int
        Number of bins.  The edges are ``np.linspace(lo, hi, bins + 1)`` over the finite
        values of both together (the same edges ``np.histogram`` makes for that range), so
        the two histograms can be drawn on one axis.

    Returns
    -------
    dict
        ``{"edges": [bins + 1 floats], "bins": int,
        "trained": {"counts", "mean", "std", "min", "max", "count", "nonfinite"},
        "baseline": the same or None}``.  ``std`` is numpy's (``ddof=0``); mean, std, min
        and max are over finite values (``None`` when there are none); ``counts`` are
        ints.
    """
    bins = int(bins)
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}.")
    t = _flat(trained)
    b = None if baseline is None else _flat(baseline)
    both = [a[np.isfinite(a)] for a in (t, b) if a is not None]
    both = [a for a in both if a.size]
    if both:
        lo = min(float(a.min()) for a in both)
        hi = max(float(a.max()) for a in both)
    else:
        lo, hi = 0.0, 1.0
    edges = np.histogram_bin_edges(np.zeros(0), bins=bins, range=(lo, hi))
    return {
        "edges": [float(e) for e in edges],
        "bins": bins,
        "trained": _stats(t, bins, lo, hi),
        "baseline": None if b is None else _stats(b, bins, lo, hi),
    }


def bias_values(
    bias: Any, *, digits: int = DIGITS, limit: int | None = None
) -> dict[str, Any] | None:
    """A layer's bias for the panel's list: rounded values and a summary; ``None`` if none.

    Returns ``{"values": [float | None, ...], "count": n, "shown": len(values),
    "truncated": bool, "mean", "std", "min", "max"}``; ``limit`` keeps the first
    ``limit`` values only.
    """
    if bias is None:
        return None
    x = np.asarray(bias, dtype=np.float64).ravel()
    shown = x if limit is None else x[: max(0, int(limit))]
    finite = x[np.isfinite(x)]
    return {
        "values": [_num(v, digits) for v in shown],
        "count": int(x.size),
        "shown": int(shown.size),
        "truncated": bool(shown.size < x.size),
        "mean": _num(finite.mean(), digits) if finite.size else None,
        "std": _num(finite.std(), digits) if finite.size else None,
        "min": _num(finite.min(), digits) if finite.size else None,
        "max": _num(finite.max(), digits) if finite.size else None,
    }


def filter_detail(
    kernel: Any,
    bias: Any,
    filter_index: int,
    in_channel: int = 0,
    *,
    rgb: bool = False,
    depthwise: bool = False,
    vmax: float | None = None,
    cmap: str = WEIGHTS_CMAP,
    digits: int = DIGITS,
    max_values: int = 4096,
) -> dict[str, Any]:
    """One tile of :func:`kernel_grid_picture` enlarged: its numbers and their colours.

    ``filter_index`` is the tile's index in the grid drawn with the same ``rgb`` and
    ``depthwise`` (for a dense kernel: the output unit, whose column is returned).

    Returns
    -------
    dict
        ``kind`` (``"kernel"`` or ``"column"``), ``tiles`` (the grid's mode),
        ``filter_index``, ``output_channel`` (the feature map this filter makes),
        ``in_channel`` (None in rgb/depthwise/input_channels modes), ``shape``,
        ``values`` (nested lists ``[kh][kw]`` of rounded floats; ``[kh][kw][3]`` in RGB
        mode; a flat list of ``in`` values for dense, at most ``max_values``),
        ``colors`` (the same nesting of hex strings on the layer's shared scale; RGB mode:
        one colour per cell), ``bias`` (this output channel's bias or None), ``vmin``,
        ``vmax``, ``cmap``, ``mean``, ``std``, ``min``, ``max`` (of the shown values),
        ``norm`` (L2 norm of the whole filter over all its input channels), ``truncated``.
    """
    k = np.asarray(kernel)
    b = None if bias is None else np.asarray(bias).ravel()
    scale = _check_vmax(vmax, k)
    index = int(filter_index)
    truncated = False
    channel: int | None = None
    colors: list[Any]
    if k.ndim == 2:
        n_in, n_out = k.shape
        if not 0 <= index < n_out:
            raise ValueError(f"filter_index must be between 0 and {n_out - 1}, got {index}.")
        column = k[:, index]
        whole = column
        values = column[:max_values]
        truncated = column.size > values.size
        mode, out_channel, channel, kind = "matrix", index, None, "column"
        colors = [_hex(c) for c in colorize(normalize_symmetric(values, scale), cmap)]
    else:
        k4, _ = _as_conv4d(k)
        n_in = k4.shape[2]
        if rgb and not can_draw_rgb(k.shape, depthwise=depthwise):
            raise ValueError(
                f"An RGB rendering needs exactly 3 input channels; this kernel {k.shape} "
                f"has {n_in}."
            )
        mode = tiles_mode(k.shape, rgb=rgb, depthwise=depthwise)
        if mode == "filters":
            channel = _check_in_channel(in_channel, n_in)
        tiles, out_of_tile = _tiles(k4, mode, channel or 0)
        if not 0 <= index < tiles.shape[0]:
            raise ValueError(
                f"filter_index must be between 0 and {tiles.shape[0] - 1}, got {index}."
            )
        values = tiles[index]
        out_channel = out_of_tile[index]
        kind = "kernel"
        if mode == "depthwise":
            whole = values
        elif mode == "input_channels":
            whole = k4[..., 0]
        else:
            whole = k4[..., out_channel]
        norm = normalize_symmetric(values, scale)
        if mode == "rgb":
            grey = (np.nan_to_num(norm) * 255 + 0.5).astype(np.uint8)
            colors = [[_hex(px) for px in row] for row in grey]
        else:
            colors = [[_hex(px) for px in row] for row in colorize(norm, cmap)]
    x = np.asarray(values, dtype=np.float64)
    finite = x[np.isfinite(x)]
    w = np.asarray(whole, dtype=np.float64)
    w = w[np.isfinite(w)]
    bias_value = None
    if b is not None and out_channel < b.size:
        bias_value = _num(b[out_channel], digits)
    return {
        "kind": kind,
        "tiles": mode,
        "filter_index": index,
        "output_channel": int(out_channel),
        "in_channel": channel,
        "shape": [int(d) for d in np.shape(values)],
        "values": _nested(x, digits),
        "colors": colors,
        "bias": bias_value,
        "vmin": -scale,
        "vmax": scale,
        "cmap": "rgb" if mode == "rgb" else cmap,
        "mean": _num(finite.mean(), digits) if finite.size else None,
        "std": _num(finite.std(), digits) if finite.size else None,
        "min": _num(finite.min(), digits) if finite.size else None,
        "max": _num(finite.max(), digits) if finite.size else None,
        "norm": _num(np.sqrt(np.sum(w * w)), digits),
        "truncated": truncated,
    }


# ---------------------------------------------------------------- the baseline
_untrained: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_checked: weakref.WeakKeyDictionary[Any, weakref.WeakSet[Any]] = weakref.WeakKeyDictionary()
_baseline_lock = threading.Lock()


def untrained_copy(model: Any) -> Any:
    """A freshly initialised copy of ``model``'s architecture, built once and cached.

    Keras: ``keras.models.clone_model`` rebuilds every layer from its config with its own
    initialisers (a nested sub-model is rebuilt from its config too, so it gets new
    variables; that no variable is shared with ``model`` is checked).  Layer names are kept,
    input layers' included, so ``outer/inner`` names resolve in both (checked with
    :func:`check_same_architecture`).  The copy is built (a model the clone leaves unbuilt
    is built from ``model.inputs``' shapes).  The user's model is not touched.  The cache
    holds the copy only while ``model`` is alive.
    """
    from ..adapters import adapter_for

    adapter = adapter_for(model)
    model = getattr(adapter, "model", model)
    with _baseline_lock:
        try:
            cached = _untrained.get(model)
        except TypeError:
            cached = None
        if cached is not None:
            return cached
        if adapter.framework != "keras":
            raise TypeError(
                f"An untrained copy of a {adapter.framework} model is not supported yet; "
                "pass baseline=<a model of the same architecture> or baseline=None."
            )
        copy = _untrained_keras(model)
        _untrained[model] = copy
        return copy


def _untrained_keras(model: Any) -> Any:
    import keras

    if not model.built:
        raise ValueError(
            f"The model {model.name!r} has never been built: call it once (or start it with "
            "keras.Input) before asking for an untrained copy."
        )
    try:
        # Not recursive=True: that path renames a nested model's InputLayer.  The default
        # clone re-creates a nested model from its config, so it gets fresh variables too.
        copy = keras.models.clone_model(model, input_tensors=_named_inputs(model))
    except Exception as exc:
        raise ValueError(
            f"Could not build an untrained copy of {model.name!r} with "
            f"keras.models.clone_model ({type(exc).__name__}: {exc}); pass baseline= a "
            "model of the same architecture, or baseline=None."
        ) from exc
    if not copy.built or len(copy.weights) != len(model.weights):
        shapes = [tuple(t.shape) for t in model.inputs]
        if isinstance(copy, keras.Sequential) and len(shapes) == 1:
            copy.build((None, *shapes[0][1:]))
        else:
            zeros = [np.zeros([1 if d is None else int(d) for d in s], np.float32) for s in shapes]
            copy(zeros[0] if len(zeros) == 1 else zeros, training=False)
    mine = {id(v) for v in model.weights}
    if any(id(v) in mine for v in copy.weights):
        raise ValueError(f"The copy of {model.name!r} shares variables with it; not a baseline.")
    if [tuple(v.shape) for v in copy.weights] != [tuple(v.shape) for v in model.weights]:
        raise ValueError(f"The copy of {model.name!r} does not have the original's weights.")
    check_same_architecture(model, copy)  # names must resolve in both
    return copy


def _named_inputs(model: Any) -> Any:
    """New ``keras.Input``s for a functional model, named as its own input layers.

    ``clone_model`` would otherwise name a functional model's new inputs after their
    tensors (``keras_tensor_12``), and the input layers' names would no longer match.
    """
    import keras

    if isinstance(model, keras.Sequential) or not hasattr(model, "_run_through_graph"):
        return None

    def named(tensor: Any) -> Any:
        layer = getattr(getattr(tensor, "_keras_history", None), "operation", None)
        return keras.Input(
            batch_shape=tuple(tensor.shape),
            dtype=tensor.dtype,
            name=getattr(layer, "name", None),
        )

    try:
        return keras.tree.map_structure(named, model.input)
    except (AttributeError, ValueError):
        return None


def _kernel_shape(adapter: Any, name: str) -> tuple[int, ...] | None:
    try:
        kernel, _ = adapter.layer_weights(name)
    except ValueError:
        return None
    return tuple(int(d) for d in np.shape(kernel))


def check_same_architecture(model: Any, baseline: Any) -> None:
    """``ValueError`` naming the first layer where ``baseline`` differs from ``model``.

    Compared in model order: layer names, types and parameter counts, and the kernel
    shape of every layer with a kernel.
    """
    from ..adapters import adapter_for

    mine, theirs = adapter_for(model), adapter_for(baseline)
    a, b = mine.list_layers(), theirs.list_layers()
    for i in range(max(len(a), len(b))):
        if i >= len(a) or i >= len(b):
            extra = b[i] if i < len(b) else a[i]
            where = "baseline" if i < len(b) else "model"
            raise ValueError(
                f"The baseline has a different architecture: layer {extra.name!r} "
                f"({extra.type}) exists only in the {where} ({len(a)} layers in the model, "
                f"{len(b)} in the baseline)."
            )
        x, y = a[i], b[i]
        if x.name != y.name or x.type != y.type:
            raise ValueError(
                f"The baseline has a different architecture: layer {i} is {x.name!r} "
                f"({x.type}) in the model but {y.name!r} ({y.type}) in the baseline."
            )
        if x.kind == "model":
            continue
        if x.params != y.params:
            raise ValueError(
                f"The baseline has a different architecture: layer {x.name!r} has "
                f"{x.params:,} parameters in the model but {y.params:,} in the baseline."
            )
        if x.params:
            ks, kt = _kernel_shape(mine, x.name), _kernel_shape(theirs, y.name)
            if ks != kt:
                raise ValueError(
                    f"The baseline has a different architecture: layer {x.name!r} has a "
                    f"kernel of shape {ks} in the model but {kt} in the baseline."
                )


def resolve_baseline(model: Any, baseline: Any) -> Any | None:
    """What a weights view compares against.

    ``None`` -> ``None``; ``"untrained"`` -> :func:`untrained_copy` (cached); a model ->
    that model, after :func:`check_same_architecture` (``ValueError`` naming the first
    mismatching layer; a pair once checked is remembered).  Any other string is a
    ``ValueError``; an object that is no model a ``TypeError``.
    """
    if baseline is None:
        return None
    if isinstance(baseline, str):
        if baseline == "untrained":
            return untrained_copy(model)
        raise ValueError(f"baseline must be 'untrained', a model or None, got {baseline!r}.")
    if baseline is model:
        return baseline
    with _baseline_lock:
        try:
            seen = _checked.get(model)
            if seen is not None and baseline in seen:
                return baseline
        except TypeError:
            seen = None
    check_same_architecture(model, baseline)
    with _baseline_lock, contextlib.suppress(TypeError):  # unweakrefable: check each time
        _checked.setdefault(model, weakref.WeakSet()).add(baseline)
    return baseline


# ------------------------------------------------------------------- all of it
def is_depthwise_type(layer_type: str) -> bool:
    """True for layer classes whose kernel is depthwise ``(kh, kw, in, multiplier)``."""
    return layer_type in _DEPTHWISE_TYPES


def weights_view(
    model: Any,
    layer: Any,
    *,
    baseline: Any = None,
    in_channel: int = 0,
    rgb: bool = False,
    cmap: str = WEIGHTS_CMAP,
    bins: int = 50,
) -> dict[str, Any]:
    """Everything the Weights tab shows for one layer, trained beside its baseline.

    ``model`` is a model or its adapter; ``baseline`` anything :func:`resolve_baseline`
    takes (``"untrained"``, a model, ``None``).  ``ValueError`` for a layer without
    weights (as ``layer_weights``).

    Returns
    -------
    dict
        ``layer`` (name), ``type``, ``kernel_shape``, ``bias_shape`` (or None),
        ``depthwise``, ``rgb_available``, ``in_channels``, ``vmax`` (the shared scale:
        max |w| over trained and baseline kernels), ``trained`` (a :class:`Picture`),
        ``baseline`` (a :class:`Picture` on the same scale, or None), ``histogram``
        (:func:`weight_histogram` of the kernels), ``bias`` and ``baseline_bias``
        (:func:`bias_values`, or None).
    """
    from .._layers import resolve_layer
    from ..adapters import adapter_for

    adapter = adapter_for(model)
    user_model = getattr(adapter, "model", model)
    info = resolve_layer(adapter.list_layers(), layer)
    kernel, bias = adapter.layer_weights(info.name)
    base = resolve_baseline(user_model, baseline)
    base_kernel = base_bias = None
    if base is not None:
        base_kernel, base_bias = adapter_for(base).layer_weights(info.name)
    depthwise = is_depthwise_type(info.type)
    vmax = symmetric_vmax(kernel, base_kernel)

    def draw(k: np.ndarray) -> Picture:
        return kernel_grid_picture(
            k, in_channel=in_channel, rgb=rgb, vmax=vmax, cmap=cmap, depthwise=depthwise
        )

    return {
        "layer": info.name,
        "type": info.type,
        "kernel_shape": [int(d) for d in kernel.shape],
        "bias_shape": None if bias is None else [int(d) for d in bias.shape],
        "depthwise": depthwise,
        "rgb_available": can_draw_rgb(kernel.shape, depthwise=depthwise),
        "in_channels": int(kernel.shape[-2]) if kernel.ndim >= 3 else None,
        "vmax": vmax,
        "trained": draw(kernel),
        "baseline": None if base_kernel is None else draw(base_kernel),
        "histogram": weight_histogram(kernel, base_kernel, bins=bins),
        "bias": bias_values(bias),
        "baseline_bias": bias_values(base_bias),
    }
