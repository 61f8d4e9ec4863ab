"""Saliency maps: how strongly each input pixel moves the class score, and SmoothGrad."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._inputs import Preprocess
from ..adapters.base import Adapter
from . import (
    Cancelled,
    ShouldStop,
    class_count,
    class_request,
    image_size,
    min_max,
    prepare,
    top_classes,
)
from . import (
    warn_nonfinite as _warn_nonfinite,
)

#: Input elements per gradient call when SmoothGrad batches its noisy copies (16 MiB float32).
_CHUNK_ELEMENTS = 2**22


def saliency(
    model: Any,
    images: Any,
    class_index: int | Sequence[int] | None = None,
    *,
    smooth_samples: int = 0,
    noise: float = 0.2,
    seed: int = 0,
    preprocess: Preprocess | None = None,
) -> np.ndarray:
    """Max over channels of |d(class score)/d(input)|, scaled to [0, 1] per sample.

    Parameters
    ----------
    model : keras.Model
    images : array_like or list of array_like
        Shaped like the model's input, with or without the batch axis; the map is of the
        (first) input.
    class_index : int or sequence of int, optional
        Each sample's top class by default, an int for all samples, or one per sample.  The
        score is the pre-softmax logit.
    smooth_samples : int
        SmoothGrad when positive: |gradient| averaged over this many copies of each image with
        Gaussian noise of sigma ``noise * (max - min)`` of that image (the class stays the one
        chosen on the clean image).
    noise : float
    seed : int
        Seeds ``numpy.random.RandomState``, whose stream NumPy keeps unchanged across
        versions; it is the stream tf-keras-vis draws from, so ``np.random.seed(seed)`` there
        makes the same noisy copies.
    preprocess : callable, optional
        Maps ``images`` to model input; the gradient is with respect to the model input.

    Returns
    -------
    numpy.ndarray
        ``(N, H, W)`` float32 in [0, 1]; a sample whose gradient is constant gives zeros.
    """
    return saliency_details(
        model,
        images,
        class_index,
        smooth_samples=smooth_samples,
        noise=noise,
        seed=seed,
        preprocess=preprocess,
        warn_nonfinite=True,
    )[0]


def saliency_details(
    model: Any,
    images: Any,
    class_index: int | Sequence[int] | None = None,
    *,
    smooth_samples: int = 0,
    noise: float = 0.2,
    seed: int = 0,
    preprocess: Preprocess | None = None,
    should_stop: ShouldStop | None = None,
    warn_nonfinite: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``saliency`` with the clean images' logits and the explained classes, from the passes
    it makes anyway (the widget shows the predictions beside the map).  ``should_stop`` is
    checked between SmoothGrad's gradient calls and raises ``Cancelled``; ``warn_nonfinite``
    warns of maps that are zeros because they were NaN (the public function)."""
    samples = _sample_count(smooth_samples)
    if samples > 0:
        _check_noise(noise, seed)
    adapter, inputs = prepare(model, images, preprocess, "saliency" if warn_nonfinite else None)
    image_size(inputs)
    request = class_request(class_index, len(inputs[0]), class_count(adapter))
    if samples > 0:
        logits = adapter.logits(inputs)
        request = top_classes(logits, request)
        magnitude = _smooth_gradients(
            adapter, inputs, request, samples, float(noise), int(seed), should_stop
        )
    else:
        _, gradients, logits, request = adapter.class_gradients(inputs, None, request)
        magnitude = np.abs(gradients)
    magnitude = magnitude.max(axis=-1)
    if warn_nonfinite:
        _warn_nonfinite(magnitude, inputs, "saliency")
    return min_max(magnitude), logits, request


def _smooth_gradients(
    adapter: Adapter,
    inputs: list[np.ndarray],
    classes: np.ndarray,
    samples: int,
    noise: float,
    seed: int,
    should_stop: ShouldStop | None = None,
) -> np.ndarray:
    """Mean |d score / d input| over ``samples`` noisy copies of every sample, one gradient
    call per chunk of copies (copy-major order, as tf-keras-vis draws its noise)."""
    x = inputs[0]
    n_samples = len(x)
    axes = tuple(range(1, x.ndim))
    sigma = np.float32(noise) * (x.max(axis=axes, keepdims=True) - x.min(axis=axes, keepdims=True))
    rng = np.random.RandomState(seed)
    total = np.zeros(x.shape, dtype=np.float64)
    copies = samples * n_samples
    per_call = max(1, _CHUNK_ELEMENTS // x[0].size)
    for start in range(0, copies, per_call):
        if should_stop is not None and should_stop():
            raise Cancelled("SmoothGrad stopped: a newer request superseded it.")
        which = np.arange(start, min(copies, start + per_call)) % n_samples
        drawn = rng.standard_normal((len(which), *x.shape[1:])) * sigma[which]
        batch = [x[which] + drawn.astype(np.float32)] + [other[which] for other in inputs[1:]]
        gradients = adapter.class_gradients(batch, None, classes[which])[1]
        np.add.at(total, which, np.abs(gradients))
    return total / samples


def _sample_count(smooth_samples: Any) -> int:
    """``smooth_samples`` as an int; a clear error for anything that is not a whole number."""
    if isinstance(smooth_samples, bool) or not isinstance(smooth_samples, (int, np.integer)):
        raise TypeError(
            f"smooth_samples must be a whole number of noisy copies, got {smooth_samples!r}."
        )
    if smooth_samples < 0:
        raise ValueError(f"smooth_samples must be 0 (plain gradients) or more: {smooth_samples}.")
    return int(smooth_samples)


def _check_noise(noise: Any, seed: Any) -> None:
    """SmoothGrad's ``noise`` (a number >= 0) and ``seed`` (a whole number >= 0)."""
    if (
        isinstance(noise, (bool, np.bool_))
        or not isinstance(noise, (int, float, np.integer, np.floating))
        or not np.isfinite(noise)
        or noise < 0
    ):
        raise ValueError(
            "noise must be a number >= 0 (the noise's standard deviation as a fraction of "
            f"each image's value range, e.g. 0.2), got {noise!r}."
        )
    if (
        isinstance(seed, (bool, np.bool_))
        or not isinstance(seed, (int, np.integer))
        or not 0 <= seed < 2**32
    ):
        raise ValueError(f"seed must be a whole number from 0 to 2**32 - 1, got {seed!r}.")
