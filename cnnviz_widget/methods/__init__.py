"""Methods: framework-free maths on top of adapter calls.

This module is the plumbing every method shares: turning what the user passed into model
inputs, choosing the class each sample is explained for, resizing and min-max scaling maps,
and stopping a long computation when a newer request supersedes it.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PIL import Image

from .._inputs import Preprocess
from .._messages import Message
from ..adapters import adapter_for
from ..adapters.base import Adapter

ShouldStop = Callable[[], bool]


class Cancelled(Exception):
    """A long computation stopped early because ``should_stop()`` returned True."""


def prepare(
    model: Any, images: Any, preprocess: Preprocess | None, warn: str | None = None
) -> tuple[Adapter, list[np.ndarray]]:
    """The model's adapter and ``images`` validated as float32 model inputs.

    With ``warn`` (the public function's name) inputs holding NaN or infinite values give a
    ``RuntimeWarning``: a model computes something from them that means nothing (ReLU and
    max-pooling may even turn NaN into ordinary numbers).  The panel notes it instead.
    """
    adapter = adapter_for(model)
    inputs = adapter.model_inputs(images, preprocess)
    if warn is not None:
        _warn_nonfinite_inputs(inputs, warn)
    return adapter, inputs


def _bad_samples(x: np.ndarray) -> np.ndarray:
    """Indices of the samples (axis 0) of ``x`` that hold NaN or infinite values."""
    if x.size == 0 or (np.isfinite(x.min()) and np.isfinite(x.max())):
        return np.zeros(0, dtype=np.intp)
    return np.flatnonzero(~np.isfinite(x.reshape(len(x), -1)).all(axis=1))


def _samples_text(bad: np.ndarray, total: int) -> str:
    shown = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
    return f"{len(bad)} of {total} sample(s) (index {shown})"


def _warn_nonfinite_inputs(inputs: Sequence[np.ndarray], what: str) -> None:
    for x in inputs:
        if x.dtype.kind != "f":
            continue
        bad = _bad_samples(x)
        if len(bad):
            warnings.warn(
                f"{what}: the images (after preprocess) hold NaN or infinite values in "
                f"{_samples_text(bad, len(x))}; what is computed from them means nothing.",
                RuntimeWarning,
                stacklevel=_caller_level(),
            )
            return


def image_size(inputs: Sequence[np.ndarray]) -> tuple[int, int]:
    """``(H, W)`` of the first of ``inputs``, which must be a batch of images."""
    if inputs[0].ndim != 4:
        per_sample = tuple(int(d) for d in inputs[0].shape[1:])
        shape = f"(N, {', '.join(map(str, per_sample))})"
        raise ValueError(
            Message(
                "not_image_input",
                "A heatmap shows where in an image the evidence lies, so it needs image inputs "
                f"(N, H, W, C); this model's input is not an image but {per_sample} values per "
                f"sample (shape {shape}).",
                shape=shape,
            )
        )
    return int(inputs[0].shape[1]), int(inputs[0].shape[2])


def class_count(adapter: Adapter) -> int | None:
    """Number of classes of the model's first output (``None`` if it is not ``(N, classes)``)."""
    return adapter.n_classes()


def class_request(class_index: Any, n_samples: int, n_classes: int | None) -> np.ndarray:
    """The class to explain per sample as int32, -1 meaning that sample's top class.

    ``None`` means each sample's top class, an int applies to all samples, a sequence gives
    one per sample.
    """
    if class_index is None:
        return np.full(n_samples, -1, dtype=np.int32)
    request = np.asarray(class_index)
    if request.size == 0 and request.ndim == 1:
        request = request.astype(np.int32)  # [] is a sequence of the wrong length, not floats
    if request.dtype == np.bool_ or not np.issubdtype(request.dtype, np.integer):
        raise TypeError(
            f"class_index must be None, an int or a sequence of ints, got {class_index!r}."
        )
    if request.ndim == 0:
        request = np.full(n_samples, int(request))
    elif request.shape != (n_samples,):
        raise ValueError(
            f"class_index gives {request.size} classes for {n_samples} samples: pass one int "
            "for all samples, or one per sample."
        )
    check_classes(request, n_classes)
    return request.astype(np.int32)


def check_classes(classes: np.ndarray, n_classes: int | None) -> None:
    bad = classes[(classes < 0) | (classes >= (n_classes or np.iinfo(np.int32).max))]
    if bad.size:
        known = f"0 to {n_classes - 1}" if n_classes else "0 or more"
        raise ValueError(
            f"class_index {int(bad[0])} is out of range: the model has classes {known}."
        )


def top_classes(logits: np.ndarray, request: np.ndarray) -> np.ndarray:
    """Resolve -1 in ``request`` to each sample's top class (the first one on a tie)."""
    return np.where(request < 0, np.argmax(logits, axis=-1), request).astype(np.int32)


def softmax(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    """NaN for a sample with a NaN or infinite score (quietly: the caller says why)."""
    with np.errstate(invalid="ignore"):
        shifted = np.exp(scores - np.max(scores, axis=axis, keepdims=True))
        return shifted / shifted.sum(axis=axis, keepdims=True)


def resize_maps(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of ``(M, h, w)`` maps to ``(M, *size)``, float32.

    Pillow's BILINEAR on mode "F" images samples at half-pixel centres and clamps at the edges,
    which is ``cv2.resize(INTER_LINEAR)`` (pytorch-grad-cam's resize) to float32 round-off when
    enlarging; when shrinking it filters over the covered pixels instead of aliasing.
    (``scipy.ndimage.zoom(order=1)``, tf-keras-vis's resize, aligns the corner pixels instead.)
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.shape[1:] == tuple(size):
        return maps.copy()
    height, width = size
    resized = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(m)).resize(
                (width, height), Image.Resampling.BILINEAR
            )
        )
        for m in maps
    ]
    return np.stack(resized).astype(np.float32, copy=False)


def warn_nonfinite(maps: np.ndarray, inputs: Sequence[np.ndarray], what: str) -> None:
    """A ``RuntimeWarning`` when a sample's raw map holds NaN or infinite values though its
    images are finite (those ``prepare`` warned of): scaled, such a map becomes zeros
    (``min_max``), which would otherwise pass for "no evidence"."""
    bad = _bad_samples(maps)
    for x in inputs:
        if len(bad) and x.dtype.kind == "f" and len(x) == len(maps):
            bad = np.setdiff1d(bad, _bad_samples(x))
    if len(bad):
        warnings.warn(
            f"{what}: {_samples_text(bad, len(maps))} gave NaN or infinite values, so their "
            "maps are returned as zeros; the model's outputs or gradients are not finite "
            "for these images.",
            RuntimeWarning,
            stacklevel=_caller_level(),
        )


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside this package (the user's call), for a
    warning raised from its caller."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    level, frame = 2, sys._getframe(2)  # 1: the function that warns; 2: its caller
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(
        package + os.sep
    ):
        level, frame = level + 1, frame.f_back
    return level


def min_max(maps: np.ndarray) -> np.ndarray:
    """Scale each sample (axis 0) to [0, 1]; a constant sample becomes zeros, never NaN."""
    axes = tuple(range(1, maps.ndim))
    low = maps.min(axis=axes, keepdims=True)
    span = maps.max(axis=axes, keepdims=True) - low
    return np.where(span > 0, (maps - low) / np.where(span > 0, span, 1), 0).astype(np.float32)
