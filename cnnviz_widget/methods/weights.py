"""Weights as numbers: histograms on shared bins, bias summaries, and the baseline model.

``kernel`` is channels-last as ``layer_weights`` returns it.  Pictures of kernels are drawn
by ``render.kernels``; the Weights tab (``views/weights.py``) puts the two together.  Only
:func:`untrained_copy` and :func:`resolve_baseline` touch a model, through the adapter.
Every returned dictionary holds plain Python values, ready for JSON.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from typing import Any

import numpy as np

from .._json import DIGITS, num
from ..adapters import SUPPORTED, adapter_for, is_model


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
        "mean": num(finite.mean(), None) if finite.size else None,
        "std": num(finite.std(), None) if finite.size else None,
        "min": num(finite.min(), None) if finite.size else None,
        "max": num(finite.max(), None) if finite.size else None,
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
        "values": [num(v, digits) for v in shown],
        "count": int(x.size),
        "shown": int(shown.size),
        "truncated": bool(shown.size < x.size),
        "mean": num(finite.mean(), digits) if finite.size else None,
        "std": num(finite.std(), digits) if finite.size else None,
        "min": num(finite.min(), digits) if finite.size else None,
        "max": num(finite.max(), digits) if finite.size else None,
    }


# ---------------------------------------------------------------- the baseline
_untrained: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


_checked: weakref.WeakKeyDictionary[Any, weakref.WeakSet[Any]] = weakref.WeakKeyDictionary()


_baseline_lock = threading.Lock()


def untrained_copy(model: Any) -> Any:
    """A freshly initialised copy of ``model``'s architecture, built once and cached.

    The adapter builds it (``Adapter.untrained_copy``: Keras re-creates every layer from
    its config, torch deep-copies and resets parameters); here it is checked to resolve the
    same layer names (:func:`check_same_architecture`) and cached while ``model`` lives.
    The user's model is not touched.
    """
    adapter = adapter_for(model)
    model = getattr(adapter, "model", model)
    with _baseline_lock:
        try:
            cached = _untrained.get(model)
        except TypeError:
            cached = None
        if cached is not None:
            return cached
        copy = adapter.untrained_copy()
        check_same_architecture(model, copy)  # names must resolve in both
        _untrained[model] = copy
        return copy


def _kernel_shape(adapter: Any, name: str) -> tuple[int, ...] | None:
    try:
        kernel, _ = adapter.layer_weights(name)
    except ValueError:
        return None
    return tuple(int(d) for d in np.shape(kernel))


def _count_calls_alike(mine: Any, theirs: Any) -> str | None:
    """Let an adapter that lists layers from its first pass (torch: the calls of a module)
    make that pass like the other's, so that both list the same rows.

    Adapters without ``probe_like`` (Keras: layers are known without a pass) are left
    alone.  A pass that fails leaves the rows as they were (the comparison then says what
    differs); returns why it failed (None when nothing did), a note for that error.
    """
    for adapter, other, which in ((theirs, mine, "baseline"), (mine, theirs, "model")):
        probe_like = getattr(adapter, "probe_like", None)
        if not callable(probe_like):
            continue
        try:
            probe_like(other)
        except Exception as error:  # any failure: the comparison then says what differs
            return f"the {which} cannot run on inputs shaped like the other's: {error}"
    return None


def check_same_architecture(model: Any, baseline: Any) -> None:
    """``ValueError`` naming the first layer where ``baseline`` differs from ``model``.

    Compared in model order: layer names, types and parameter counts, and the kernel
    shape of every layer with a kernel.  A torch module called ``k`` times in a forward pass
    is listed as ``k`` rows (``"name#2"``...) once a pass counted its calls: when only one
    of the two models ran, the other first runs once on zeros shaped like its inputs
    (``probe_like``), so that a baseline that never ran compares row for row.
    """
    mine, theirs = adapter_for(model), adapter_for(baseline)
    failed = _count_calls_alike(mine, theirs)
    try:
        _compare_layers(mine, theirs)
    except ValueError as error:
        if failed is None:
            raise
        raise ValueError(f"{error} (Also, {failed}.)") from error


def _compare_layers(mine: Any, theirs: Any) -> None:
    """The comparison of :func:`check_same_architecture`, on the two adapters."""
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


def check_baseline(baseline: Any) -> Any:
    """``baseline`` when it can be one (``None``, ``"untrained"`` or a model); a
    ``ValueError`` for another string, a ``TypeError`` for what is no model.  Whether a
    model has the same architecture is checked when the weights view first draws it."""
    if baseline is None or (isinstance(baseline, str) and baseline == "untrained"):
        return baseline
    if isinstance(baseline, str):
        raise ValueError(f"baseline must be 'untrained', a model or None, got {baseline!r}.")
    if not is_model(baseline):
        raise TypeError(
            f"baseline must be 'untrained', a model or None, got a {type(baseline).__name__}: "
            f"a baseline is {SUPPORTED} with the model's architecture."
        )
    return baseline


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
