"""Static matplotlib figures of what the explorer shows, one call each.

For notebooks that must read well without a kernel (GitHub, nbviewer, a PDF) and for
slides: every function computes with the package's own functions (``activations`` and
``mosaic``, ``layer_weights`` and the weights view's shared scale and histogram,
``grad_cam``, ``saliency``, ``maximize_filters``) and draws the result.  Nothing is
computed twice in two ways, so a figure shows the same numbers as the widget.

Every function returns a :class:`matplotlib.figure.Figure` that pyplot no longer tracks:
as the last line of a notebook cell it is shown once, and a loop that makes many figures
does not pile them up in pyplot.  Keep one to show later (``fig`` on its own line) or
save it (``fig.savefig("kernels.png", dpi=150)``).

Examples
--------
>>> from cnnviz_widget import plot
>>> from cnnviz_widget.data import default_model
>>> model, images, names = default_model()
>>> plot.feature_maps(model, images[0], "conv2d")  # doctest: +SKIP
>>> plot.kernels(model, "conv2d", baseline="untrained")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._inputs import Preprocess
from ._layers import LayerInfo, resolve_layer
from .adapters import adapter_for
from .api import activations
from .methods import prepare, softmax
from .render import (
    GAP,
    WEIGHTS_CMAP,
    as_conv4d,
    check_in_channel,
    grid_shape,
    kernel_grid_shape,
    kernel_tiles,
    mosaic,
    pattern_display,
    symmetric_vmax,
    tile_atlas,
    tiles_mode,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "feature_maps",
    "filter_patterns",
    "grad_cam",
    "kernels",
    "saliency",
    "weight_histograms",
]

#: Colour map of feature maps (each tile min-max scaled, as the explorer draws them).
MAPS_CMAP = "viridis"
#: Heatmaps (Grad-CAM, saliency) use the rainbow map of the Grad-CAM paper and the widget.
HEATMAP_CMAP = "jet"
#: How opaque a heatmap is over its image.
OVERLAY_ALPHA = 0.5

_METHOD_LABELS = {
    "gradcam": "Grad-CAM",
    "gradcam++": "Grad-CAM++",
    "layercam": "Layer-CAM",
    "scorecam": "Score-CAM",
}


# ---------------------------------------------------------------------------- plumbing
def _new_figure(width: float, height: float) -> Figure:
    """A figure pyplot does not keep: shown once as a cell's value, never accumulated."""
    import matplotlib.pyplot as plt

    # Made through pyplot so that Jupyter's inline display of figures is set up, then let
    # go of at once (a closed figure still draws, saves and displays).
    fig = plt.figure(figsize=(width, height), layout="constrained")
    plt.close(fig)
    return fig


def _cmap(name: str, gap_color: Any = (1.0, 1.0, 1.0, 0.0)) -> Any:
    """A matplotlib colour map whose NaN (the gaps between tiles) is ``gap_color``."""
    from matplotlib import colormaps

    return colormaps[name].with_extremes(bad=gap_color)


def _frame(ax: Axes) -> None:
    """No ticks, a thin grey frame: a white tile stays visible on a white page."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("0.7")
        spine.set_linewidth(0.8)


def _layer(model: Any, layer: str | LayerInfo) -> LayerInfo:
    adapter = adapter_for(model)
    return resolve_layer(adapter.list_layers(), layer)


def _one_sample(array: np.ndarray, what: str) -> np.ndarray:
    if array.shape[0] != 1:
        raise ValueError(
            f"{what} draws one image; got a batch of {array.shape[0]}. Pass images[i]."
        )
    return array[0]


def _shape_text(shape: Sequence[int]) -> str:
    return " × ".join(str(int(d)) for d in shape)


def _display_image(image: Any) -> np.ndarray:
    """One image as ``imshow`` takes it: ``(H, W)`` grey or ``(H, W, 3|4)``."""
    x = np.asarray(image)
    if x.ndim == 4:
        x = _one_sample(x, "This figure")
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim == 3 and x.shape[-1] not in (3, 4):
        raise ValueError(f"Cannot show an image of shape {x.shape}: expected (H, W, 1|3|4).")
    if x.dtype != np.uint8:
        x = np.clip(x.astype(np.float32), 0.0, 1.0)
    return x


def _show_image(ax: Axes, image: np.ndarray, title: str) -> None:
    if image.ndim == 2:
        vmax = 255 if image.dtype == np.uint8 else 1.0
        ax.imshow(image, cmap="gray", vmin=0, vmax=vmax)
    else:
        ax.imshow(image)
    ax.set_title(title)
    ax.set_axis_off()


def _class_name(index: int, class_names: Sequence[str] | None) -> str:
    if class_names is not None and 0 <= index < len(class_names):
        return str(class_names[index])
    return f"class {index}"


def _tile_grid(tiles: np.ndarray, rows: int, cols: int, gap: int = GAP) -> np.ndarray:
    """``(n, h, w)`` tiles laid out row by row, raw values kept; gaps and unused tiles NaN."""
    return tile_atlas(tiles.astype(np.float32), cols, gap=gap, fill=np.float32(np.nan))


# ------------------------------------------------------------------------ feature maps
def feature_maps(
    model: Any,
    image: Any,
    layer: str | LayerInfo,
    *,
    preprocess: Preprocess | None = None,
    cols: int | None = None,
) -> Figure:
    """A layer's output for one image: its channels as one mosaic.

    The picture is :func:`cnnviz_widget.mosaic` of :func:`cnnviz_widget.activations`: each
    channel min-max scaled on its own, 32 channels as 4 x 8, 64 as 8 x 8, more in rows of 16,
    one pixel apart.  A dense layer's output is drawn as a strip of its values.

    Parameters
    ----------
    model : keras.Model
    image : array_like
        One image as a person would display it (uint8 or float in [0, 1]), with or without
        the batch axis.
    layer : str or LayerInfo
        The layer, by name as ``list_layers`` gives it.
    preprocess : callable, optional
        Maps the image to model input.
    cols : int, optional
        Tiles per row; by default as above.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; its title names the layer and the shape of its output.
    """
    info = _layer(model, layer)
    output = _one_sample(
        activations(model, image, info, preprocess=preprocess)[info.name], "feature_maps"
    )
    if output.ndim == 3:
        grid = mosaic(output, cols, gap=GAP, fill=np.nan)
        rows, ncols = grid_shape(output.shape[-1], cols)
        height, width = grid.shape
        fig = _new_figure(10.0, max(1.5, 10.0 * height / width + 0.6))
        ax = fig.add_subplot()
        ax.imshow(grid, cmap=_cmap(MAPS_CMAP), vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(
            f"{info.name} · output {_shape_text(output.shape)} · "
            f"{output.shape[-1]} channels as {rows} × {ncols}"
        )
        ax.set_axis_off()
        return fig
    values = output.reshape(1, -1)
    fig = _new_figure(10.0, 1.8)
    ax = fig.add_subplot()
    image_artist = ax.imshow(values, cmap=MAPS_CMAP, aspect="auto", interpolation="nearest")
    ax.set_yticks([])
    ax.set_xlabel("unit")
    ax.set_title(f"{info.name} · output {_shape_text(output.shape)}")
    fig.colorbar(image_artist, ax=ax, pad=0.01)
    return fig


# ----------------------------------------------------------------------------- weights
def _kernels_of(model: Any, baseline: Any, info: LayerInfo) -> tuple[np.ndarray, np.ndarray | None]:
    from .methods.weights import resolve_baseline

    kernel, _ = adapter_for(model).layer_weights(info.name)
    base = resolve_baseline(model, baseline)
    if base is None:
        return kernel, None
    base_kernel, _ = adapter_for(base).layer_weights(info.name)
    return kernel, base_kernel


def kernels(
    model: Any,
    layer: str | LayerInfo,
    *,
    baseline: Any = None,
    in_channel: int = 0,
    labels: tuple[str, str] = ("trained", "untrained"),
) -> Figure:
    """A layer's kernels as a grid of filters, on one symmetric colour scale.

    Each tile is one filter's ``kh x kw`` slice at input channel ``in_channel``, in rows of
    16 (32 filters give 2 x 16), drawn with a diverging map (blue < 0 < red) from ``-vmax``
    to ``vmax``, where ``vmax`` is the largest ``|w|`` of the whole kernel: a fixed
    ``vmin = -vmax`` for every tile, so that tiles (and two models) can be compared by
    colour.  A depthwise kernel gets one tile per output channel; a dense kernel is drawn
    as its ``(in, out)`` matrix.

    Parameters
    ----------
    model : keras.Model
    layer : str or LayerInfo
        A layer with weights (``ValueError`` otherwise).
    baseline : keras.Model, "untrained" or None
        A model of the same architecture drawn below ``model`` on the **same** scale (max
        ``|w|`` over both), e.g. ``methods.weights.untrained_copy(model)``; ``"untrained"``
        makes (and caches) that copy.
    in_channel : int
        The input channel whose slice each tile shows.
    labels : (str, str)
        What the two panels are called when there is a baseline.

    Returns
    -------
    matplotlib.figure.Figure
        One image per model (trained first), both with ``clim == (-vmax, vmax)``, and one
        colour bar.
    """
    info = _layer(model, layer)
    kernel, base_kernel = _kernels_of(model, baseline, info)
    vmax = symmetric_vmax(kernel, base_kernel)
    depthwise = adapter_for(model).is_depthwise(info.name)
    panels = [("", kernel)]
    if base_kernel is not None:
        panels = [(labels[0], kernel), (labels[1], base_kernel)]

    def grid(k: np.ndarray) -> tuple[np.ndarray, str]:
        if k.ndim == 2:
            return k.astype(np.float32), f"dense kernel {_shape_text(k.shape)} (in × out)"
        k4, note = as_conv4d(k)
        kh, kw, n_in, _ = k4.shape
        mode = tiles_mode(k.shape, depthwise=depthwise)
        channel = check_in_channel(in_channel, n_in) if mode == "filters" else 0
        tiles, _ = kernel_tiles(k4, mode, channel)
        rows, cols = kernel_grid_shape(len(tiles))
        text = {
            "depthwise": f"{len(tiles)} depthwise filters · {kh} × {kw}",
            "input_channels": f"1 filter · {kh} × {kw} · its {n_in} input channels",
        }.get(mode, f"{len(tiles)} filters · {kh} × {kw}")
        if mode == "filters" and n_in > 1:
            text += f" · input channel {channel} of {n_in}"
        if note:
            text += f" · {note}"
        return _tile_grid(tiles.astype(np.float32), rows, cols), text

    drawn = [(label, *grid(k)) for label, k in panels]
    height, width = drawn[0][1].shape
    dense = kernel.ndim == 2
    panel_height = 4.0 if dense else max(1.0, 9.0 * height / width + 0.35)
    fig = _new_figure(10.0, panel_height * len(drawn) + 0.3)
    axes = fig.subplots(len(drawn), 1, squeeze=False)[:, 0]
    for ax, (label, values, text) in zip(axes, drawn, strict=True):
        ax.imshow(
            values,
            # Light grey gaps: a near-zero (white) weight must not melt into its neighbours.
            cmap=_cmap(WEIGHTS_CMAP, gap_color="0.82"),
            vmin=-vmax,
            vmax=vmax,
            interpolation="nearest",
            aspect="auto" if dense else "equal",
        )
        ax.set_title(f"{info.name} ({label}) · {text}" if label else f"{info.name} · {text}")
        if dense:
            ax.set_xlabel("output unit")
            ax.set_ylabel("input")
        else:
            ax.set_axis_off()
    # Every panel has the same norm and map, so one colour bar serves them all.
    colorbar = fig.colorbar(axes[0].images[0], ax=list(axes), shrink=0.9, pad=0.01)
    colorbar.set_label(f"weight (shared scale ±{vmax:.3g})")
    return fig


def weight_histograms(
    model: Any,
    layer: str | LayerInfo,
    *,
    baseline: Any = None,
    bins: int = 50,
    labels: tuple[str, str] = ("trained", "untrained"),
) -> Figure:
    """Histogram of a layer's kernel weights, over a baseline's on the same bins.

    The counts, mean and standard deviation are
    :func:`cnnviz_widget.methods.weights.weight_histogram`'s (what the Weights tab shows):
    ``bins`` equal bins from the smallest to the largest weight of both kernels together,
    so the two histograms share their bin edges.

    Parameters
    ----------
    model : keras.Model
    layer : str or LayerInfo
        A layer with weights.
    baseline : keras.Model, "untrained" or None
        As in :func:`kernels`.
    bins : int
        Number of bins.
    labels : (str, str)
        What the two histograms are called in the legend.

    Returns
    -------
    matplotlib.figure.Figure
        One axes with one bar container per model (trained first) and a legend giving
        each one's mean and std.
    """
    from .methods.weights import weight_histogram

    info = _layer(model, layer)
    kernel, base_kernel = _kernels_of(model, baseline, info)
    histogram = weight_histogram(kernel, base_kernel, bins=bins)
    edges = np.asarray(histogram["edges"])
    fig = _new_figure(8.0, 3.6)
    ax = fig.add_subplot()
    for key, label, color in (("trained", labels[0], "C0"), ("baseline", labels[1], "C1")):
        stats = histogram[key]
        if stats is None:
            continue
        mean, std = stats["mean"], stats["std"]
        summary = "no finite values" if mean is None else f"mean {mean:+.4f}, std {std:.4f}"
        ax.bar(
            edges[:-1],
            stats["counts"],
            width=np.diff(edges),
            align="edge",
            color=color,
            alpha=0.6,
            label=f"{label}: {summary}",
        )
    ax.set_title(f"{info.name} kernel {_shape_text(kernel.shape)} · {kernel.size:,} weights")
    ax.set_xlabel("weight")
    ax.set_ylabel("count")
    ax.legend(loc="upper right", fontsize="small")
    return fig


# ------------------------------------------------------------------ explanations
def grad_cam(
    model: Any,
    image: Any,
    *,
    layer: str | LayerInfo | None = None,
    class_index: int | None = None,
    method: str = "gradcam",
    preprocess: Preprocess | None = None,
    class_names: Sequence[str] | None = None,
) -> Figure:
    """The image, and a class activation map over it.

    The map is :func:`cnnviz_widget.grad_cam` (resized to the model input and scaled to
    [0, 1]), drawn with ``jet`` at half opacity over the image; the title names the class
    explained and the probability the model gives it.

    Parameters
    ----------
    model : keras.Model
    image : array_like
        One image as displayed (uint8 or float in [0, 1]), with or without the batch axis.
    layer : str or LayerInfo, optional
        A spatial layer; by default the last one.
    class_index : int, optional
        The class explained; the top predicted class by default.
    method : {"gradcam", "gradcam++", "layercam", "scorecam"}
        Score-CAM runs the model once per channel of ``layer`` (slow on big layers).
    preprocess : callable, optional
        Maps the image to model input.  The map is stretched over the image as shown,
        which is exact when ``preprocess`` keeps the whole image (no crop).
    class_names : sequence of str, optional
        Names for the title.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: the image, and the image with the heatmap (the second image of the
        second axes holds the map's values).
    """
    from .methods.gradcam import METHODS, cam_details

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}.")
    shown = _display_image(image)
    result = cam_details(
        model, image, layer, class_index, method=method, preprocess=preprocess, warn_nonfinite=True
    )
    cam = _one_sample(result.cam, "grad_cam")
    chosen = int(result.classes[0])
    probability = float(result.probabilities[0, chosen])
    fig = _new_figure(8.0, 4.4)
    left, right = fig.subplots(1, 2)
    _show_image(left, shown, "input")
    _show_image(right, shown, "")
    right.imshow(
        cam,
        cmap=HEATMAP_CMAP,
        vmin=0.0,
        vmax=1.0,
        alpha=OVERLAY_ALPHA,
        extent=right.images[0].get_extent(),
        interpolation="bilinear",
    )
    right.set_title(f"{_METHOD_LABELS[method]} · layer {result.layer}")
    fig.suptitle(f"{_class_name(chosen, class_names)} (p = {probability:.2f})")
    return fig


def saliency(
    model: Any,
    image: Any,
    *,
    class_index: int | None = None,
    smooth_samples: int = 0,
    noise: float = 0.2,
    seed: int = 0,
    preprocess: Preprocess | None = None,
    class_names: Sequence[str] | None = None,
) -> Figure:
    """The image, and which of its pixels move the class score most.

    The map is :func:`cnnviz_widget.saliency`: the largest ``|d score / d pixel|`` over the
    colour channels, scaled to [0, 1]; with ``smooth_samples`` it is SmoothGrad (the
    average over that many noisy copies of the image), which is less speckled.

    Parameters
    ----------
    model : keras.Model
    image : array_like
        One image as displayed, with or without the batch axis.
    class_index : int, optional
        The class explained; the top predicted class by default.
    smooth_samples, noise, seed
        As in :func:`cnnviz_widget.saliency`.
    preprocess : callable, optional
        Maps the image to model input.
    class_names : sequence of str, optional
        Names for the title.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: the image, and the saliency map (``jet``, 0 to 1) with a colour bar.
    """
    from .methods.saliency import saliency as saliency_maps

    shown = _display_image(image)
    adapter, inputs = prepare(model, image, preprocess)
    probabilities = _one_sample(softmax(adapter.logits(inputs).astype(np.float64)), "saliency")
    chosen = int(np.argmax(probabilities)) if class_index is None else int(class_index)
    values = saliency_maps(
        model,
        image,
        chosen,
        smooth_samples=smooth_samples,
        noise=noise,
        seed=seed,
        preprocess=preprocess,
    )
    values = _one_sample(values, "saliency")
    fig = _new_figure(8.4, 4.4)
    left, right = fig.subplots(1, 2)
    _show_image(left, shown, "input")
    image_artist = right.imshow(values, cmap=HEATMAP_CMAP, vmin=0.0, vmax=1.0)
    right.set_axis_off()
    kind = f"SmoothGrad ({smooth_samples} samples)" if smooth_samples > 0 else "input gradients"
    right.set_title(f"saliency · {kind}")
    fig.suptitle(f"{_class_name(chosen, class_names)} (p = {probabilities[chosen]:.2f})")
    fig.colorbar(image_artist, ax=right, shrink=0.8, pad=0.02)
    return fig


# ----------------------------------------------------------------------- filter patterns
def filter_patterns(
    model: Any,
    layer: str | LayerInfo,
    filters: Iterable[int] = range(16),
    *,
    steps: int = 30,
    size: tuple[int, int] | None = None,
    seed: int = 0,
    input_range: tuple[float, float] | None = None,
    cols: int | None = None,
) -> Figure:
    """The input each filter responds to most, found by gradient ascent, one tile a filter.

    The patterns are :func:`cnnviz_widget.methods.maximize.maximize_filters` (all filters
    climb together in one batch); each is drawn as the explorer's Filters tab draws it,
    on its own scale (mean +- 3 std fill the range; grey for one channel).

    Parameters
    ----------
    model : keras.Model
    layer : str or LayerInfo
        A conv layer (the filter's mean activation is maximised) or a dense one (the unit).
    filters : iterable of int
        Which filters (channels or units); the first 16 by default.
    steps : int
        Gradient-ascent steps; a few dozen show the pattern on a small network.
    size : (int, int), optional
        ``(H, W)`` of the patterns; the model's input size by default.
    seed : int
        The same seed gives the same patterns.
    input_range : (float, float), optional
        The model input's ``(lo, hi)``, ``(0, 1)`` by default; for a model fed
        ``preprocess(images)``, the preprocessed values of black and white.
    cols : int, optional
        Tiles per row; by default the mosaic's layout (16 as 2 x 8).  Fewer, larger tiles
        suit big inputs such as 224 x 224.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per filter, titled with its index; unused axes of the last row are hidden.
    """
    from .methods.maximize import maximize_filters

    info = _layer(model, layer)
    indices = [int(f) for f in filters]
    patterns = maximize_filters(
        model, info, indices, steps=steps, size=size, seed=seed, input_range=input_range
    )
    shown = pattern_display(patterns, input_range)
    rows, cols = grid_shape(len(indices), cols)
    tile = min(2.5, 10.0 / cols)  # inches: a row is at most 10 in wide
    fig = _new_figure(tile * cols, (tile + 0.1) * rows + 0.5)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[len(indices) :]:
        ax.set_axis_off()
    for ax, index, tile in zip(axes, indices, shown, strict=False):
        ax.imshow(tile, interpolation="nearest")
        ax.set_title(str(index), fontsize="small")
        _frame(ax)
    fig.suptitle(
        f"{info.name} · the input each {'unit' if info.kind == 'dense' else 'filter'} "
        f"responds to most ({steps} steps of gradient ascent)"
    )
    return fig
