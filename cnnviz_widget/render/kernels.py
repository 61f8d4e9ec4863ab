"""Kernel grids and dense matrices on one symmetric colour scale, and one filter's numbers.

``kernel`` is channels-last as ``layer_weights`` returns it: conv ``(kh, kw, in, out)``,
depthwise ``(kh, kw, in, multiplier)``, dense ``(in, out)``.  Every dictionary returned holds
plain Python values, ready for JSON (non-finite numbers as ``None``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._json import DIGITS, nested, num
from .atlas import GAP, MAX_ATLAS_SIDE, block_mean, grid_meta, opaque, tile_atlas
from .colors import colorize, encode_png, hex_color
from .notes import Note, value_warnings
from .picture import Picture

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
        "colors": [hex_color(c) for c in rgbs],
        "vmin": -float(vmax),
        "vmax": float(vmax),
        "cmap": "rgb" if rgb else cmap,
        "ticks": [num(v) for v in np.linspace(-vmax, vmax, 5)],
    }


def kernel_grid_shape(n: int) -> tuple[int, int]:
    """Rows and columns of a kernel grid: rows of 16 (32 -> 2x16), fewer -> one row."""
    if n < 1:
        raise ValueError("A kernel grid needs at least one filter.")
    cols = min(n, KERNEL_COLS)
    return math.ceil(n / cols), cols


def as_conv4d(kernel: np.ndarray) -> tuple[np.ndarray, str]:
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


def kernel_tiles(k4: np.ndarray, mode: str, in_channel: int) -> tuple[np.ndarray, list[int]]:
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


def check_in_channel(in_channel: int, n_in: int) -> int:
    i = int(in_channel)
    if not 0 <= i < n_in:
        raise ValueError(f"in_channel must be between 0 and {n_in - 1}, got {in_channel}.")
    return i


def _weight_notes(k: np.ndarray, scale: float, *, clipped: bool) -> list[str]:
    notes = value_warnings(k)
    if _finite_abs_max(k) == 0:
        notes.append(Note("zero_weights", "all weights are zero"))
    if clipped and _finite_abs_max(k) > scale:
        text = f"weights beyond ±{scale:.3g} are clipped to the ends of the scale"
        notes.append(Note("clipped_weights", text, scale=float(f"{scale:.3g}")))
    return notes


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
        ``downsample``, ``vmin``, ``vmax``, ``colorbar`` (see :func:`colorbar`) and, for
        kernels, ``tiles`` (the mode), ``cell`` (pixels per weight), ``in_channels`` and
        ``tile_output_channel`` (one int per tile: the output channel, i.e. the feature map,
        it belongs to).
    """
    k = np.asarray(kernel)
    if k.ndim == 2:
        if rgb:
            raise ValueError("An RGB rendering needs a conv kernel with 3 input channels.")
        return matrix_picture(k, vmax=vmax, cmap=cmap)
    k4, note = as_conv4d(k)
    kh, kw, n_in, n_out = k4.shape
    if rgb and not can_draw_rgb(k.shape, depthwise=depthwise):
        raise ValueError(
            f"An RGB rendering needs exactly 3 input channels; this kernel {k.shape} has {n_in}."
        )
    mode = tiles_mode(k.shape, rgb=rgb, depthwise=depthwise)
    if mode == "filters":
        in_channel = check_in_channel(in_channel, n_in)
    scale = _check_vmax(vmax, k)
    gap = max(0, int(gap))
    tiles, out_of_tile = kernel_tiles(k4, mode, in_channel)
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

    atlas = tile_atlas(opaque(pixels), cols, gap=gap, fill=np.uint8(0))

    notes = _weight_notes(k, scale, clipped=vmax is not None)

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
        in_channels=n_in,
        tile_output_channel=out_of_tile,
        vmin=-scale,
        vmax=scale,
        colorbar=colorbar(scale, cmap, rgb=mode == "rgb"),
    )
    return Picture(encode_png(atlas), meta, caption, notes)


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
    small = block_mean(x, (fy, fx))
    h, w = small.shape
    cy = max(1, min(MAX_CELL, MATRIX_TARGET // h))
    cx = max(1, min(MAX_CELL, MATRIX_TARGET // w))
    rgb = colorize(normalize_symmetric(small, scale), cmap)
    pixels = np.repeat(np.repeat(opaque(rgb), cy, axis=0), cx, axis=1)

    notes = _weight_notes(k, scale, clipped=False)
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
        colorbar=colorbar(scale, cmap),
    )
    return Picture(encode_png(pixels), meta, caption, notes)


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
        colors = [hex_color(c) for c in colorize(normalize_symmetric(values, scale), cmap)]
    else:
        k4, _ = as_conv4d(k)
        n_in = k4.shape[2]
        if rgb and not can_draw_rgb(k.shape, depthwise=depthwise):
            raise ValueError(
                f"An RGB rendering needs exactly 3 input channels; this kernel {k.shape} "
                f"has {n_in}."
            )
        mode = tiles_mode(k.shape, rgb=rgb, depthwise=depthwise)
        if mode == "filters":
            channel = check_in_channel(in_channel, n_in)
        tiles, out_of_tile = kernel_tiles(k4, mode, channel or 0)
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
            colors = [[hex_color(px) for px in row] for row in grey]
        else:
            colors = [[hex_color(px) for px in row] for row in colorize(norm, cmap)]
    x = np.asarray(values, dtype=np.float64)
    finite = x[np.isfinite(x)]
    w = np.asarray(whole, dtype=np.float64)
    w = w[np.isfinite(w)]
    bias_value = None
    if b is not None and out_channel < b.size:
        bias_value = num(b[out_channel], digits)
    return {
        "kind": kind,
        "tiles": mode,
        "filter_index": index,
        "output_channel": int(out_channel),
        "in_channel": channel,
        "shape": [int(d) for d in np.shape(values)],
        "values": nested(x, digits),
        "colors": colors,
        "bias": bias_value,
        "vmin": -scale,
        "vmax": scale,
        "cmap": "rgb" if mode == "rgb" else cmap,
        "mean": num(finite.mean(), digits) if finite.size else None,
        "std": num(finite.std(), digits) if finite.size else None,
        "min": num(finite.min(), digits) if finite.size else None,
        "max": num(finite.max(), digits) if finite.size else None,
        "norm": num(np.sqrt(np.sum(w * w)), digits),
        "truncated": truncated,
    }
