"""Filter patterns: the input that a filter responds to most, found by gradient ascent.

The lesson's method: start from a grey image with a little noise and climb the filter's mean
activation, stepping along the gradient L2-normalised per image.  Done by hand that gives
noisy, high-frequency pictures; three well-known regularisers make them readable:

- **jitter**: every step the image is rolled by a few random pixels before the gradient is
  taken, so no pattern can rely on exact pixel positions (Lucid's ``jitter``);
- **decorrelated steps**: the gradient is reweighted in the Fourier domain by ``1 / f``
  (capped at the lowest frequencies) before it is normalised, which is what gradient ascent
  on a spectrum scaled by ``1 / sqrt(f)`` amounts to (a linear reparameterisation
  ``x = A z`` turns a step on ``z`` into the step ``A A^T g`` on ``x``).  Low frequencies,
  where natural images keep their energy, get the larger steps, so patterns grow as smooth
  strokes instead of pixel noise;
- **blur**: every few steps a light Gaussian blur removes what high frequencies remain.

All ``K`` filters of a request climb together: one batch of ``K`` images, one compiled
forward and backward pass per step (``adapter.filter_gradients``).  Every random draw of a
filter comes from its own generator seeded by ``(seed, filter_index)``, so a filter's pattern
does not depend on which other filters share the batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._layers import LayerInfo, resolve_layer
from ..adapters import adapter_for
from . import Cancelled, ShouldStop

#: ``on_step(step, images, values)``: after step ``step`` (1-based), the ``(K, H, W, C)``
#: images and the ``(K,)`` mean activations measured in that step.
OnStep = Callable[[int, np.ndarray, np.ndarray], None]

#: Step size, as a fraction of the input range, of a step whose update has RMS 1.
_STEP_SIZE = 0.1
#: Amplitude of the uniform noise on the grey start, as a fraction of the input range.
_START_NOISE = 0.05
#: Steps are reweighted by ``1 / f`` in the Fourier domain, flat below this many cycles per
#: image: capping the weight of the lowest frequencies keeps the steps from being mostly a
#: change of brightness, which the clipping to the input range would then waste.
_FLAT_BELOW_CYCLES = 4
#: Blur every this many steps, with this Gaussian sigma in pixels.
_BLUR_EVERY = 4
_BLUR_SIGMA = 0.5
#: The largest jitter, in pixels; smaller images get 1 pixel per 16.
_MAX_JITTER = 8
#: Bytes one batch of climbing filters may hold (activations and gradients of every layer).
MEMORY_BUDGET = 1 << 30


def maximize_filter(
    model: Any,
    layer: str | LayerInfo,
    filter_index: int,
    *,
    steps: int = 30,
    size: tuple[int, int] | None = None,
    seed: int = 0,
    input_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """The input that one filter of ``layer`` responds to most, by gradient ascent.

    Parameters
    ----------
    model : keras.Model
    layer : name or LayerInfo
        A conv layer (the filter's spatial mean activation is maximised) or a dense layer
        (the unit's value), nested layers included (``"vgg16/block3_conv1"``).
    filter_index : int
        The channel (conv) or unit (dense).
    steps : int
        Gradient-ascent steps.
    size : (int, int), optional
        ``(H, W)`` of the image; the model's input size by default.  A different size is
        allowed only where the model's input leaves it open (``None``).
    seed : int
        The same seed gives the same image.
    input_range : (float, float), optional
        The range of the model's inputs (after any preprocessing); ``(0, 1)`` by default.

    Returns
    -------
    numpy.ndarray
        ``(H, W, C)`` float32, a model input within ``input_range``.
    """
    return maximize_filters(
        model, layer, [filter_index], steps=steps, size=size, seed=seed, input_range=input_range
    )[0]


def maximize_filters(
    model: Any,
    layer: str | LayerInfo,
    filter_indices: Sequence[int],
    *,
    steps: int = 30,
    size: tuple[int, int] | None = None,
    seed: int = 0,
    input_range: tuple[float, float] | None = None,
    should_stop: ShouldStop | None = None,
    on_step: OnStep | None = None,
    memory_budget: int | None = None,
) -> np.ndarray:
    """Patterns of several filters of one layer, climbing together in batches.

    Parameters
    ----------
    model, layer, steps, size, seed
        As in :func:`maximize_filter`.
    filter_indices : sequence of int
        The ``K`` filters (or dense units); each gets its own image.
    input_range : (float, float), optional
        ``(lo, hi)`` of the model's input values, ``(0, 1)`` by default; every step clips
        the images to it, and the step size and start noise scale with it.
    should_stop : callable, optional
        Checked before every step; when it returns True, ``Cancelled`` is raised.
    on_step : callable, optional
        ``on_step(step, images, values)`` after each step (``step`` from 1) of each batch:
        all ``(K, H, W, C)`` images (finished batches, the one climbing, the rest still at
        their start; read-only, a new array every call) and the ``(K,)`` mean activations
        measured so far, on the jittered images before the update.
    memory_budget : int, optional
        Bytes the ascent may hold at once (``MEMORY_BUDGET`` by default): the filters climb
        in batches of :func:`filters_per_batch`, so memory does not grow with their number.

    Returns
    -------
    numpy.ndarray
        ``(K, H, W, C)`` float32 in ``input_range``.  A filter's image depends only on the
        model, the layer, its index, ``steps``, ``size``, ``seed`` and ``input_range``, not on
        the other filters of the request.
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}.")
    lo, hi = _input_range(input_range)
    adapter = adapter_for(model)
    info = resolve_layer(adapter.list_layers(), layer)
    filters = _filter_request(filter_indices, info)
    input_shapes = adapter.input_shapes()
    # The pattern is of the input the layer depends on (the others of a several-input model
    # stay grey): ascending an input that does not reach the layer would climb a zero gradient.
    target = adapter.layer_input(info.name)
    shape = _pattern_shape(input_shapes[target], size)
    others = [
        np.full((1, *dims), (lo + hi) / 2, np.float32)
        for dims in _other_input_sizes(adapter, input_shapes, target, shape)
    ]
    budget = MEMORY_BUDGET if memory_budget is None else int(memory_budget)
    chunk = filters_per_batch(adapter, shape, budget)
    # A filter's draws come from its own generator, so chunks give what one batch would.
    images = np.stack([_start(int(seed), int(f), shape, lo, hi) for f in filters])
    values = np.zeros(len(filters), np.float32)
    for start in range(0, len(filters), chunk):
        part = slice(start, start + chunk)

        def progress(
            step: int, chunk_images: np.ndarray, chunk_values: np.ndarray, part: slice = part
        ) -> None:
            if on_step is None:
                return
            shown = images.copy()  # finished chunks, this one as it climbs, the rest grey
            shown[part] = chunk_images
            values[part] = chunk_values
            shown.flags.writeable = False
            on_step(step, shown, values.copy())

        images[part] = _ascend(
            adapter,
            info.name,
            filters[part],
            images[part],
            others,
            target,
            steps=steps,
            seed=int(seed),
            bounds=(lo, hi),
            should_stop=should_stop,
            on_step=progress,
        )
    return np.array(images, dtype=np.float32)  # writable, whatever on_step saw


def filters_per_batch(
    adapter: Any, shape: tuple[int, int, int], memory_budget: int = MEMORY_BUDGET
) -> int:
    """How many patterns climb together within ``memory_budget`` bytes.

    A forward and backward pass keeps about every layer's output of each image, and its
    gradient, alive: per image, three float32 copies of all layers' outputs (at this input
    size, scaled from the layers' own shapes when those are known).
    """
    height, width, _ = shape
    per_image = 0
    for info in adapter.list_layers():
        out = info.output_shape
        if out is None or info.kind == "model":
            continue
        dims = list(out[1:])
        if len(dims) == 3 and (dims[0] is None or dims[1] is None):
            dims = [height, width, dims[2]]  # an open size follows the pattern's (at most)
        per_image += int(np.prod([d or 1 for d in dims]))
    per_image = max(per_image, height * width * shape[2]) * 4 * 3
    return max(1, int(memory_budget // per_image))


def _start(seed: int, index: int, shape: tuple[int, int, int], lo: float, hi: float) -> np.ndarray:
    """The grey start of one filter, with a little noise from its own generator."""
    rng = np.random.default_rng([seed, index])
    noise = rng.uniform(-1, 1, shape)
    return ((lo + hi) / 2 + _START_NOISE * (hi - lo) * noise).astype(np.float32)


def _ascend(
    adapter: Any,
    layer: str,
    filters: np.ndarray,
    images: np.ndarray,
    grey: list[np.ndarray],
    target: int,
    *,
    steps: int,
    seed: int,
    bounds: tuple[float, float],
    should_stop: ShouldStop | None,
    on_step: OnStep,
) -> np.ndarray:
    """Gradient ascent of one batch of filters (see the module docstring)."""
    lo, hi = bounds
    span = hi - lo
    shape = images.shape[1:]
    # Each filter's generator: the start drew its noise first, the steps continue from there.
    rngs = [np.random.default_rng([seed, int(f)]) for f in filters]
    for rng in rngs:
        rng.uniform(-1, 1, shape)
    others = [np.repeat(g, len(filters), axis=0) for g in grey]
    weights = _step_weights(shape[:2])
    jitter = max(1, min(_MAX_JITTER, min(shape[:2]) // 16))
    for step in range(1, steps + 1):
        if should_stop is not None and should_stop():
            raise Cancelled(f"Filter patterns stopped before step {step} of {steps}.")
        shifts = [tuple(int(s) for s in rng.integers(-jitter, jitter + 1, 2)) for rng in rngs]
        moved = np.stack([np.roll(x, s, axis=(0, 1)) for x, s in zip(images, shifts, strict=True)])
        batch = [*others[:target], moved, *others[target:]]
        values, gradients = adapter.filter_gradients(batch, layer, filters, target)
        gradients = np.stack(
            [np.roll(g, (-a, -b), axis=(0, 1)) for g, (a, b) in zip(gradients, shifts, strict=True)]
        )
        update = _normalized(_decorrelated(gradients, weights))
        images = images + np.float32(_STEP_SIZE * span) * update
        if step % _BLUR_EVERY == 0 and step < steps:
            images = _blur(images, _BLUR_SIGMA)
        # A filter silent on its image (a ReLU that is zero everywhere) has no gradient to
        # climb: start it again from a random image of random brightness and contrast, drawn
        # by its own generator, until one draw wakes it.
        for i in np.flatnonzero(~np.any(gradients.reshape(len(filters), -1), axis=1)):
            images[i] = _restart(rngs[i], weights, shape, lo, hi)
        images = np.clip(images, lo, hi).astype(np.float32, copy=False)
        on_step(step, images, np.asarray(values, dtype=np.float32))
    return images


def _restart(
    rng: np.random.Generator,
    weights: np.ndarray,
    shape: tuple[int, int, int],
    lo: float,
    hi: float,
) -> np.ndarray:
    """Smooth (``1 / f``) noise around a random level with a random contrast, in range."""
    level, contrast = rng.uniform(0, 1, 2)
    white = rng.standard_normal(shape)
    smooth = _decorrelated(white[None], weights)[0]
    smooth /= smooth.std() + 1e-8
    return lo + (hi - lo) * np.clip(level + contrast * smooth, 0, 1)


def _filter_request(filter_indices: Sequence[int], info: LayerInfo) -> np.ndarray:
    filters = np.asarray(filter_indices)
    if filters.ndim == 0:
        filters = filters[None]
    if filters.ndim != 1 or filters.size == 0:
        raise ValueError(f"filter_indices must be a non-empty sequence of ints, got {filters!r}.")
    if filters.dtype == np.bool_ or not np.issubdtype(filters.dtype, np.integer):
        raise TypeError(f"filter_indices must be ints, got {filter_indices!r}.")
    shape = info.output_shape
    if shape is not None and (len(shape) < 2 or shape[-1] is None):
        raise ValueError(
            f"The layer {info.name!r} ({info.type}) outputs shape {tuple(shape)}: a filter "
            "pattern needs a channel axis last, (N, ..., channels)."
        )
    count = shape[-1] if shape is not None else None
    bad = filters[(filters < 0) | (filters >= (count or np.iinfo(np.int32).max))]
    if bad.size:
        known = f"0 to {count - 1}" if count else "0 or more"
        raise ValueError(
            f"filter index {int(bad[0])} is out of range: the layer {info.name!r} has filters "
            f"{known}."
        )
    return filters.astype(np.int32)


def _pattern_shape(
    input_shape: tuple[int | None, ...], size: tuple[int, int] | None
) -> tuple[int, int, int]:
    """``(H, W, C)`` of the patterns, from the model's first input and ``size``."""
    if len(input_shape) != 4:
        raise ValueError(
            "Filter patterns are images: the model's first input must be shaped (N, H, W, C), "
            f"not {tuple(input_shape)}."
        )
    _, height, width, channels = input_shape
    if channels is None:
        raise ValueError("The model's input has an unknown number of channels.")
    if size is None:
        if height is None or width is None:
            raise ValueError(f"The model's input size is open ({input_shape}): pass size=(H, W).")
        return height, width, channels
    try:
        wanted = tuple(int(s) for s in size)
    except (TypeError, ValueError):
        wanted = ()
    if len(wanted) != 2 or min(wanted) < 1:
        raise ValueError(f"size must be (H, W) with positive sides, got {size!r}.")
    for got, fixed, axis in ((wanted[0], height, "height"), (wanted[1], width, "width")):
        if fixed is not None and got != fixed:
            raise ValueError(
                f"The model's input {axis} is fixed at {fixed}; size={tuple(wanted)} cannot be "
                "used (a different size needs a model whose input leaves it open, None)."
            )
    return wanted[0], wanted[1], channels


def _other_input_sizes(
    adapter: Any,
    input_shapes: Sequence[tuple[int | None, ...]],
    target: int,
    pattern: tuple[int, int, int],
) -> list[tuple[int, ...]]:
    """Per model input other than ``target``, the sample shape of its grey image.

    Sizes the model leaves open (torch declares no H and W) come from the images the model
    was given (``adapter.example_shapes()``; torch: its first pass, on the images the
    explorer or the first call was given), except that an image input given at the same
    H x W as the pattern's input follows the pattern's size, so that images the model
    combines keep matching.  Without such images, an image input ``(N, H, W, C)`` with open
    H and W takes the pattern's (``size``).  Anything else left open is a ``ValueError``
    saying what to pass.
    """
    examples = getattr(adapter, "example_shapes", None)
    known = examples() if callable(examples) else None
    beside = known[target][1:3] if known and len(known[target]) == 4 else None
    sizes = []
    for i, shape in enumerate(input_shapes):
        if i == target:
            continue
        dims = list(shape[1:])
        image = len(dims) == 3 and dims[2] is not None
        fill: Sequence[int | None] = dims
        if known is not None and i < len(known):
            example = known[i][1:]
            same = image and beside is not None and tuple(example[:2]) == tuple(beside)
            fill = (*pattern[:2], *example[2:]) if same else example
        elif image:
            fill = (*pattern[:2], dims[2])
        dims = [f if d is None else d for d, f in zip(dims, fill, strict=False)]
        if None in dims or len(dims) != len(shape) - 1:
            raise ValueError(
                f"The model's input {i} is {tuple(shape)} (channels-last) with a size left "
                f"open; the filter pattern is of input {target}, and the others are held "
                "grey at the size of the images the model was given, which is unknown.  Give "
                "the model images first (LayerExplorer(model, images), or any function that "
                "takes images, such as activations(model, images, layers))."
            )
        sizes.append(tuple(int(d) for d in dims))  # type: ignore[arg-type]
    return sizes


def _input_range(input_range: tuple[float, float] | None) -> tuple[float, float]:
    try:
        lo, hi = (0.0, 1.0) if input_range is None else (float(v) for v in input_range)
    except (TypeError, ValueError):
        lo = hi = math.nan  # refused below, with the same message
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"input_range must be (lo, hi) with lo < hi, got {input_range!r}.")
    return lo, hi


def _step_weights(size: tuple[int, int]) -> np.ndarray:
    """``(H, W // 2 + 1, 1)`` float32 Fourier weights of a step: ``1 / f``, capped."""
    height, width = size
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    frequency = np.sqrt(fy * fy + fx * fx)
    flat_below = _FLAT_BELOW_CYCLES / max(height, width)
    return (1.0 / np.maximum(frequency, flat_below))[..., None].astype(np.float32)


def _decorrelated(gradients: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``gradients`` (K, H, W, C) reweighted by ``weights`` in the Fourier domain."""
    size = gradients.shape[1:3]
    spectrum = np.fft.rfft2(np.nan_to_num(gradients), axes=(1, 2))
    return np.fft.irfft2(spectrum * weights, s=size, axes=(1, 2)).astype(np.float32)


def _normalized(gradients: np.ndarray) -> np.ndarray:
    """Each gradient scaled to RMS 1 (a zero gradient stays zero)."""
    gradients = np.nan_to_num(gradients.astype(np.float32, copy=False))
    axes = tuple(range(1, gradients.ndim))
    rms = np.sqrt(np.mean(np.square(gradients), axis=axes, keepdims=True))
    return gradients / (rms + 1e-8)


def _blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of ``(K, H, W, C)`` images, edges reflected."""
    radius = max(1, math.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps = (taps / taps.sum()).astype(np.float32)
    out = images
    for axis in (1, 2):
        if out.shape[axis] <= radius:
            continue
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="reflect")
        length = out.shape[axis]
        out = sum(
            w * np.take(padded, np.arange(i, i + length), axis=axis) for i, w in enumerate(taps)
        )
    return out.astype(np.float32, copy=False)


# ----------------------------------------------------------------------------- drawing
