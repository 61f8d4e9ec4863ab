"""Turning what a person passes as ``images`` into model inputs, with clear errors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Preprocess = Callable[[Any], Any]


def _fmt(shape: Sequence[int | None]) -> str:
    return "(" + ", ".join("N" if d is None else str(d) for d in shape) + ")"


def as_batches(images: Any, n_inputs: int) -> list[np.ndarray]:
    """Split ``images`` into one array per model input (a list for several inputs)."""
    if n_inputs > 1:
        if not isinstance(images, (list, tuple)) or len(images) != n_inputs:
            raise ValueError(
                f"The model has {n_inputs} inputs: pass a list of {n_inputs} arrays, one per "
                "input in model.inputs order."
            )
        return [_array(x, f"input {i} of images") for i, x in enumerate(images)]
    if isinstance(images, (list, tuple)) and len(images) == 1 and isinstance(images[0], np.ndarray):
        # A one-input model's inputs as a list of one batch (or a list of one image: the
        # same thing once the batch axis is added).
        return [_array(images[0], "images")]
    return [_array(images, "images")]


def _array(value: Any, what: str) -> np.ndarray:
    """``np.asarray`` with a clear error for a ragged list (images of different shapes)."""
    try:
        return np.asarray(value)
    except ValueError as error:
        shapes = sorted({tuple(np.shape(v)) for v in value}) if isinstance(value, list) else []
        raise ValueError(
            f"The {what} are a list of arrays of different shapes {shapes}: stack images of "
            "one shape (resize them first), or pass them to separate calls."
        ) from error


def model_inputs(
    images: Any,
    input_shapes: Sequence[tuple[int | None, ...]],
    preprocess: Preprocess | None = None,
) -> list[np.ndarray]:
    """Validate ``images`` against the model's input shapes and return float32 batches.

    Each array may come with or without the batch axis.  ``preprocess`` runs first; without
    it uint8 is cast to float32 unchanged.  Raises ``ValueError`` naming the expected and
    received shapes before any computation.
    """
    if images is None:
        raise ValueError("No images were given: pass an array shaped like the model's input.")
    if preprocess is not None:
        images = preprocess(images)
    arrays = as_batches(images, len(input_shapes))
    batches: list[np.ndarray] = []
    sizes = set()
    for i, (x, expected) in enumerate(zip(arrays, input_shapes, strict=True)):
        where = f"input {i} " if len(input_shapes) > 1 else ""
        subject = f"The model's input {i}" if len(input_shapes) > 1 else "The model"
        if x.dtype == object or not (
            np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.bool_)
        ):
            raise ValueError(
                f"images{f' ({where.strip()})' if where else ''} must be a numeric array "
                f"(uint8 0-255 or float in [0, 1]), got dtype {x.dtype}."
            )
        per_sample = tuple(expected[1:])
        if x.ndim == len(per_sample):
            x = x[None]
        if x.ndim != len(expected) or any(
            want is not None and got != want
            for got, want in zip(x.shape[1:], per_sample, strict=False)
        ):
            hint = ""
            if x.ndim == len(expected) - 1 and per_sample[-1:] == (1,):
                hint = " Add the channel axis with images[..., None]."
            raise ValueError(
                f"{subject} expects images shaped {_fmt(per_sample)} or "
                f"{_fmt(expected)}, but received an array of shape {tuple(np.shape(arrays[i]))}."
                + hint
            )
        if x.shape[0] == 0:
            raise ValueError("The images array is empty (no samples).")
        sizes.add(x.shape[0])
        batches.append(np.ascontiguousarray(x, dtype=np.float32))
    if len(sizes) > 1:
        raise ValueError(f"Every input needs the same number of samples, got {sorted(sizes)}.")
    return batches


def display_images(images: Any, n_inputs: int, sample_rank: int) -> np.ndarray:
    """The images a person looks at (first input), as uint8 with a batch axis."""
    x = as_batches(images, n_inputs)[0]
    if x.ndim == sample_rank:
        x = x[None]
    if x.dtype == np.uint8:
        return x
    x = x.astype(np.float32)
    finite = x[np.isfinite(x)]
    if finite.size and (finite.min() < 0 or finite.max() > 1):
        # Not display-range data (already preprocessed): stretch to what imshow would show.
        lo, hi = float(finite.min()), float(finite.max())
        x = (x - lo) / (hi - lo or 1.0)
    return (np.nan_to_num(np.clip(x, 0, 1)) * 255 + 0.5).astype(np.uint8)


def prebuild_inputs(images: Any, preprocess: Preprocess | None) -> list[np.ndarray]:
    """Example arrays to build a never-called model from (its shape is still unknown)."""
    x = preprocess(images) if preprocess is not None else images
    if isinstance(x, (list, tuple)):
        return [np.asarray(a, dtype=np.float32) for a in x]
    return [np.asarray(x, dtype=np.float32)]
