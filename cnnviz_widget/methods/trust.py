"""How far to trust a heatmap: integrated gradients, deletion/insertion curves, rank correlation.

- :func:`integrated_gradients` (Sundararajan et al. 2017) integrates d(score)/d(input) along
  the straight path from a baseline to the input with Gauss-Legendre quadrature, Captum's
  default rule, so that with the same ``steps`` both evaluate the gradient at the same
  points.
- :func:`faithfulness` (deletion and insertion, Petsiuk et al. 2018) removes, or restores,
  pixels in the order a map ranks them and follows the class probability.
- :func:`rank_correlation` compares two maps by rank, the measure of the model
  randomisation test (Adebayo et al. 2018): a map that barely changes when the weights are
  re-initialised does not explain the trained model.

All model calls go through the adapter, batched: the interpolation points and the perturbed
images go through the model in chunks of about ``_CHUNK_ELEMENTS`` input elements.
``docs/trust.md`` explains how to read the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
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
    prepare,
    resize_maps,
    top_classes,
)
from .saliency import _CHUNK_ELEMENTS

#: The perturbation orders of :func:`faithfulness`.
METRICS = ("deletion", "insertion")


# --------------------------------------------------------------- integrated gradients
def integrated_gradients(
    model: Any,
    images: Any,
    class_index: int | Sequence[int] | None = None,
    *,
    steps: int = 50,
    baseline: Any = None,
    preprocess: Preprocess | None = None,
    batch_size: int | None = None,
) -> np.ndarray:
    """Integrated gradients of the class score with respect to the (first) model input.

    ``(x - b) * integral_0^1 d score(b + a (x - b)) / dx da``, the integral taken with the
    ``steps``-point Gauss-Legendre rule on [0, 1] (Captum's default ``"gausslegendre"``).
    Completeness: each sample's attributions sum to ``score(x) - score(b)`` up to the
    rule's error, which is round-off for a smooth model and shrinks about as ``1 / steps``
    for a ReLU network (its gradient jumps along the path).

    Parameters
    ----------
    model : keras.Model or torch.nn.Module
    images : array_like or list of array_like
        Shaped like the model's input, with or without the batch axis.  With several model
        inputs the first is attributed and the others stay fixed.
    class_index : int or sequence of int, optional
        Each sample's top class (chosen on the image itself) by default, an int for all
        samples, or one per sample.  The score is the pre-softmax logit.
    steps : int
        Points of the quadrature rule (gradient evaluations per sample).
    baseline : float or array_like, optional
        The path's start in model-input space (after ``preprocess``), channels-last like the
        returned attributions: zeros by default, a number, or an array that broadcasts to one
        input ``(H, W, C)`` or to the batch ``(N, H, W, C)``.
    preprocess : callable, optional
        Maps ``images`` to model input; attributions are of the model input.
    batch_size : int, optional
        Interpolation points per gradient call; by default as many as fit a budget of about
        4 million input elements (16 MiB of float32).

    Returns
    -------
    numpy.ndarray
        ``(N, H, W, C)`` float32 raw attributions (signed, not scaled), channels-last.
    """
    return integrated_gradients_details(
        model,
        images,
        class_index,
        steps=steps,
        baseline=baseline,
        preprocess=preprocess,
        batch_size=batch_size,
        warn_nonfinite=True,
    )[0]


def integrated_gradients_details(
    model: Any,
    images: Any,
    class_index: int | Sequence[int] | None = None,
    *,
    steps: int = 50,
    baseline: Any = None,
    preprocess: Preprocess | None = None,
    batch_size: int | None = None,
    should_stop: ShouldStop | None = None,
    warn_nonfinite: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``integrated_gradients`` with the images' logits, the explained classes and the
    completeness gap ``sum(attributions) - (score(x) - score(baseline))`` per sample (float64),
    from one extra forward pass of the images and their baselines.

    ``should_stop`` is checked between gradient calls; ``Cancelled`` when it returns True.
    ``warn_nonfinite`` warns of images that hold NaN or infinite values (the public function).
    """
    steps = _positive_int(steps, "steps")
    adapter, inputs = prepare(
        model, images, preprocess, "integrated_gradients" if warn_nonfinite else None
    )
    x = inputs[0]
    n = len(x)
    start = _baseline(baseline, x, default=0.0)
    request = class_request(class_index, n, class_count(adapter))
    per_call = (
        _positive_int(batch_size, "batch_size")
        if batch_size is not None
        else max(1, _CHUNK_ELEMENTS // max(1, x[0].size))
    )

    # The images and their baselines in one pass: the top class is chosen on the image (not
    # on each interpolation point) and score(baseline) gives the completeness gap.
    def ends(rows: np.ndarray) -> list[np.ndarray]:
        sample = rows % n
        on_image = (rows < n).reshape((-1,) + (1,) * (x.ndim - 1))
        return [np.where(on_image, x[sample], start[sample]), *(o[sample] for o in inputs[1:])]

    end_logits = np.concatenate(
        [
            logits
            for _, logits in _chunked_logits(
                adapter, 2 * n, per_call, ends, should_stop, "Integrated gradients"
            )
        ]
    )
    logits, baseline_logits = end_logits[:n], end_logits[n:]
    classes = top_classes(logits, request)

    alphas, weights = _gauss_legendre(steps)
    spread = (-1,) + (1,) * (x.ndim - 1)
    total = np.zeros(x.shape, dtype=np.float64)
    points = n * steps
    for first in range(0, points, per_call):
        _check_stop(should_stop, "Integrated gradients")
        # Sample-major order: a chunk holds runs of consecutive points of one sample.
        sample, k = np.divmod(np.arange(first, min(points, first + per_call)), steps)
        origin = start[sample]
        path = origin + alphas[k].reshape(spread) * (x[sample] - origin)
        batch = [path, *(other[sample] for other in inputs[1:])]
        gradients = adapter.class_gradients(batch, None, classes[sample])[1]
        weighted = gradients.astype(np.float64) * weights[k].reshape(spread)
        runs = np.flatnonzero(np.r_[True, sample[1:] != sample[:-1]])
        total[sample[runs]] += np.add.reduceat(weighted, runs, axis=0)

    attributions = total * (x.astype(np.float64) - start)
    picked = np.arange(n)
    rise = logits[picked, classes].astype(np.float64) - baseline_logits[picked, classes]
    gap = attributions.reshape(n, -1).sum(axis=1) - rise
    return attributions.astype(np.float32), logits, classes, gap


def _gauss_legendre(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (float32, as the path points are formed) and weights (float64) on [0, 1].

    Captum's ``gauss_legendre_builders``: ``0.5 * (1 + nodes)`` and ``0.5 * weights`` of
    ``numpy.polynomial.legendre.leggauss``.  Exact for polynomials of degree ``2 steps - 1``.
    """
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    return (0.5 * (1 + nodes)).astype(np.float32), 0.5 * weights


# ----------------------------------------------------------------------- faithfulness
@dataclass(frozen=True, eq=False)  # eq=False: == on arrays has no single truth value
class Faithfulness:
    """A deletion or insertion curve per sample.

    Attributes
    ----------
    fractions : numpy.ndarray
        ``(steps + 1,)`` the fraction of pixels deleted (or inserted) at each step, ``i / steps``.
    scores : numpy.ndarray
        ``(N, steps + 1)`` float64 softmax probability of the explained class at each step.
    auc : numpy.ndarray
        ``(N,)`` area under each curve (trapezoid rule over ``fractions``).  A lower deletion
        AUC and a higher insertion AUC mean a more faithful map.
    """

    fractions: np.ndarray
    scores: np.ndarray
    auc: np.ndarray


def faithfulness(
    model: Any,
    images: Any,
    maps: Any,
    class_index: int | Sequence[int] | None = None,
    *,
    metric: str = "deletion",
    steps: int = 20,
    baseline: Any = 0.0,
    preprocess: Preprocess | None = None,
) -> Faithfulness:
    """Deletion or insertion curves (Petsiuk et al. 2018): is the map faithful to the model?

    Pixels are ranked by the map, highest first, ties by lower flat index.  At step ``i`` of
    ``steps`` the first ``round(i / steps * H * W)`` pixels (all channels) are set to
    ``baseline`` (deletion), or the image starts as ``baseline`` everywhere and those pixels
    are restored (insertion); the score is the softmax probability of the explained class.
    All perturbed images go through the model in batches.

    Parameters
    ----------
    model : keras.Model or torch.nn.Module
    images : array_like or list of array_like
        Shaped like the model's input, with or without the batch axis; with several model
        inputs the first is perturbed and the others stay fixed.
    maps : array_like
        ``(N, h, w)`` one map per sample (``(h, w)`` for one sample), at most the input's
        ``H x W``; a smaller map is resized bilinearly to ``H x W`` first.
    class_index : int or sequence of int, optional
        Each sample's top class on the unperturbed image by default, an int for all samples,
        or one per sample.
    metric : {"deletion", "insertion"}
    steps : int
        Curve points after the first: ``steps + 1`` scores per sample.
    baseline : float or array_like
        The value of a deleted pixel in model-input space (after ``preprocess``),
        channels-last: a number, or an array that broadcasts to one input ``(H, W, C)`` or
        to the batch ``(N, H, W, C)``.
    preprocess : callable, optional
        Maps ``images`` to model input.

    Returns
    -------
    Faithfulness
        ``fractions (steps + 1,)``, ``scores (N, steps + 1)``, ``auc (N,)``.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}.")
    steps = _positive_int(steps, "steps")
    adapter, inputs = prepare(model, images, preprocess, "faithfulness")
    n = len(inputs[0])
    size = image_size(inputs)
    ranks = _pixel_ranks(_check_maps(maps, n, size))
    request = class_request(class_index, n, class_count(adapter))
    start = _baseline(baseline, inputs[0], default=0.0)
    curves = _Curves(np.arange(n), np.full(n, metric == "insertion"), ranks)
    scores, _ = _curve_scores(adapter, inputs, start, request, curves, steps, None)
    fractions = np.arange(steps + 1) / steps
    return Faithfulness(fractions, scores, _trapezoid(scores, fractions))


def faithfulness_readout(
    model: Any,
    image: Any,
    heatmap: Any,
    class_index: int | None = None,
    *,
    steps: int = 20,
    seed: int = 0,
    baseline: Any = 0.0,
    preprocess: Preprocess | None = None,
    should_stop: ShouldStop | None = None,
) -> dict[str, Any]:
    """Deletion and insertion of one map and of a random map of the same size, for the panel.

    The random map is ``numpy.random.default_rng(seed).random((h, w))`` for a map of
    ``h x w`` (resized to the input the same way), the chance level a map should beat: pass
    the map at its own resolution (``grad_cam(..., upsample=False)``) so that the random map
    moves pixels in blocks of the same size.  The
    four curves are those of :func:`faithfulness`; their ``4 * (steps + 1)`` images go through
    the model in shared batches (an image that is the same on every curve, the unperturbed
    one and the all-baseline one, is scored once).  ``should_stop`` is checked between
    batches; ``Cancelled`` when it returns True.

    Returns
    -------
    dict
        Plain JSON-able values: ``class_index``, ``steps``, ``seed``, ``fractions`` (list),
        and for ``"deletion"`` and ``"insertion"`` each, ``{"map": {"auc", "scores"},
        "random": {"auc", "scores"}}``; non-finite numbers are ``None``.
    """
    steps = _positive_int(steps, "steps")
    adapter, inputs = prepare(model, image, preprocess)
    if len(inputs[0]) != 1:
        raise ValueError(
            f"faithfulness_readout explains one image; received {len(inputs[0])} samples."
        )
    size = image_size(inputs)
    explained = np.asarray(heatmap)
    if explained.ndim == 3 and explained.shape[0] == 1:
        explained = explained[0]
    if explained.ndim != 2:
        raise ValueError(
            f"heatmap must be one map shaped (h, w); received an array of shape {explained.shape}."
        )
    chance = np.random.default_rng(seed).random(explained.shape)
    ranks = np.concatenate(
        [_pixel_ranks(_check_maps(m[None], 1, size)) for m in (explained, chance)]
    )
    request = class_request(class_index, 1, class_count(adapter))
    start = _baseline(baseline, inputs[0], default=0.0)
    # Curves: deletion of the map, insertion of the map, deletion and insertion of chance.
    curves = _Curves(np.zeros(4, int), np.array([False, True, False, True]), ranks[[0, 0, 1, 1]])
    scores, classes = _curve_scores(adapter, inputs, start, request, curves, steps, should_stop)
    fractions = np.arange(steps + 1) / steps
    auc = _trapezoid(scores, fractions)

    def curve(i: int) -> dict[str, Any]:
        return {"auc": _json_number(auc[i]), "scores": [_json_number(s) for s in scores[i]]}

    return {
        "class_index": int(classes[0]),
        "steps": steps,
        "seed": int(seed),
        "fractions": [float(f) for f in fractions],
        "deletion": {"map": curve(0), "random": curve(2)},
        "insertion": {"map": curve(1), "random": curve(3)},
    }


@dataclass(frozen=True, eq=False)
class _Curves:
    """Which curves to score: per curve its sample, its order and the pixel ranks."""

    samples: np.ndarray  # (M,) sample index
    inserting: np.ndarray  # (M,) True for insertion, False for deletion
    ranks: np.ndarray  # (M, H * W) rank of each pixel, 0 = deleted/inserted first


def _curve_scores(
    adapter: Adapter,
    inputs: list[np.ndarray],
    start: np.ndarray,
    request: np.ndarray,
    curves: _Curves,
    steps: int,
    should_stop: ShouldStop | None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(M, steps + 1)`` class probabilities of each curve, and the classes per sample.

    Rows, in model-call order: the N unperturbed images, the N all-baseline images (every
    curve of a sample starts or ends at these two), then each curve's ``steps - 1`` inner
    steps.  The 2N end rows come first, so the top classes are known before any inner row
    needs one, however the rows are split into model calls.
    """
    x = inputs[0]
    n, height, width = x.shape[:3]
    pixels = height * width
    # The definition's rounding, literally (Python's round: half to even).
    counts = np.array([round(i / steps * pixels) for i in range(steps + 1)])
    inner = steps - 1
    m = len(curves.samples)

    def build(rows: np.ndarray) -> list[np.ndarray]:
        sample = np.empty(len(rows), dtype=np.intp)
        keep = np.empty((len(rows), pixels), dtype=bool)  # True: the image's own pixel
        ends = rows < 2 * n
        sample[ends] = rows[ends] % n
        keep[ends] = (rows[ends] < n)[:, None]
        curve, j = np.divmod(rows[~ends] - 2 * n, max(inner, 1))
        sample[~ends] = curves.samples[curve]
        hidden = curves.ranks[curve] < counts[j + 1][:, None]
        keep[~ends] = hidden == curves.inserting[curve][:, None]
        first = np.where(keep.reshape(-1, height, width, 1), x[sample], start[sample])
        return [first, *(other[sample] for other in inputs[1:])]

    scores = np.empty((m, steps + 1), dtype=np.float64)
    image_logits: list[np.ndarray] = []
    baseline_logits: list[np.ndarray] = []
    classes: np.ndarray | None = None
    per_call = max(1, _CHUNK_ELEMENTS // max(1, x[0].size))
    for rows, logits in _chunked_logits(
        adapter, 2 * n + m * inner, per_call, build, should_stop, "Faithfulness"
    ):
        ends = rows < 2 * n
        image_logits.append(logits[rows < n])
        baseline_logits.append(logits[ends & (rows >= n)])
        if rows[-1] < 2 * n - 1:  # not every unperturbed and baseline row is scored yet
            continue
        if classes is None:
            on_image = np.concatenate(image_logits)
            classes = top_classes(on_image, request)
            on_baseline = np.concatenate(baseline_logits)
            p_image = _probabilities(on_image, classes)
            p_baseline = _probabilities(on_baseline, classes)
            own = curves.samples
            scores[:, 0] = np.where(curves.inserting, p_baseline[own], p_image[own])
            scores[:, steps] = np.where(curves.inserting, p_image[own], p_baseline[own])
        curve, j = np.divmod(rows[~ends] - 2 * n, max(inner, 1))
        scores[curve, j + 1] = _probabilities(logits[~ends], classes[curves.samples[curve]])
    assert classes is not None  # the loop scores 2n >= 2 rows
    return scores, classes


def _chunked_logits(
    adapter: Adapter,
    n_rows: int,
    per_call: int,
    build: Callable[[np.ndarray], list[np.ndarray]],
    should_stop: ShouldStop | None,
    what: str,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(rows, logits)`` per model call of at most ``per_call`` rows, in row order."""
    for first in range(0, n_rows, per_call):
        _check_stop(should_stop, what)
        rows = np.arange(first, min(n_rows, first + per_call))
        yield rows, adapter.logits(build(rows))


def _probabilities(logits: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Softmax probability of ``classes[i]`` in row ``i``, in float64."""
    z = logits.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    return np.exp(z[np.arange(len(z)), classes]) / np.exp(z).sum(axis=1)


def _trapezoid(scores: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    # numpy.trapezoid is NumPy 2 only, numpy.trapz is deprecated there: written out.
    return ((scores[:, 1:] + scores[:, :-1]) / 2 * np.diff(fractions)).sum(axis=1)


def _check_maps(maps: Any, n: int, size: tuple[int, int]) -> np.ndarray:
    """``maps`` as ``(n, H, W)`` floats, resized bilinearly when smaller than the input."""
    values = np.asarray(maps)
    if values.dtype == object or not (
        np.issubdtype(values.dtype, np.number) or values.dtype == np.bool_
    ):
        raise ValueError(f"maps must be a numeric array, got dtype {values.dtype}.")
    if values.ndim == 2 and n == 1:
        values = values[None]
    height, width = size
    if values.ndim != 3 or len(values) != n:
        hint = ""
        if values.ndim == 4:
            hint = (
                " Reduce the channel axis first (e.g. np.abs(attributions).sum(-1) for "
                "integrated gradients)."
            )
        raise ValueError(
            f"maps must be shaped (N, h, w) with one map per sample (N = {n}, h <= {height}, "
            f"w <= {width}); received an array of shape {np.shape(maps)}.{hint}"
        )
    if not (0 < values.shape[1] <= height and 0 < values.shape[2] <= width):
        raise ValueError(
            f"Each map must be at most the input's size {height} x {width} (a smaller one is "
            f"resized to it); received maps of {values.shape[1]} x {values.shape[2]}."
        )
    # Ranking negates the map: unsigned integers would wrap around, so floats first.
    values = values.astype(np.float64)
    if not np.isfinite(values).all():
        raise ValueError("maps contain NaN or infinite values, which give no pixel order.")
    if values.shape[1:] != size:
        return resize_maps(values, size).astype(np.float64)
    return values


def _pixel_ranks(maps: np.ndarray) -> np.ndarray:
    """``(M, H * W)`` each pixel's position in the order: highest first, ties by flat index."""
    flat = maps.reshape(len(maps), -1)
    order = np.argsort(-flat, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.broadcast_to(np.arange(flat.shape[1]), flat.shape), axis=1)
    return ranks


# ------------------------------------------------------------------- rank correlation
def rank_correlation(a: Any, b: Any) -> float:
    """Spearman rank correlation of two maps of the same shape (ties get their mean rank).

    1 means the same pixel order, 0 none in common, -1 the reverse; NaN when a map is
    constant (it gives no order), as ``scipy.stats.spearmanr`` answers.

    Parameters
    ----------
    a, b : array_like
        Two maps of the same shape, e.g. a heatmap of the model and of its untrained copy.

    Returns
    -------
    float
    """
    first, second = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if first.shape != second.shape:
        raise ValueError(
            f"rank_correlation needs two maps of the same shape; received {first.shape} and "
            f"{second.shape}."
        )
    if first.size < 2:
        raise ValueError(f"rank_correlation needs maps of at least 2 values; got {first.size}.")
    if not (np.isfinite(first).all() and np.isfinite(second).all()):
        raise ValueError("rank_correlation: the maps contain NaN or infinite values.")
    ra, rb = _average_ranks(first.ravel()), _average_ranks(second.ravel())
    ra -= ra.mean()
    rb -= rb.mean()
    denominator = math.sqrt(float(ra @ ra) * float(rb @ rb))
    return float(ra @ rb) / denominator if denominator > 0 else math.nan


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, tied values sharing the mean of their ranks (``rankdata("average")``)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new = np.r_[True, ordered[1:] != ordered[:-1]]
    first = np.flatnonzero(new)
    last = np.r_[first[1:], len(values)] - 1
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = ((first + last) / 2 + 1)[np.cumsum(new) - 1]
    return ranks


# ------------------------------------------------------------------------ arguments
def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer of at least 1; got {value!r}.")
    return int(value)


def _baseline(baseline: Any, x: np.ndarray, default: float) -> np.ndarray:
    """``baseline`` broadcast to the batch ``x`` as float32 (``default`` when None)."""
    value = np.asarray(default if baseline is None else baseline)
    if value.dtype == object or not (
        np.issubdtype(value.dtype, np.number) or value.dtype == np.bool_
    ):
        raise ValueError(f"baseline must be a number or a numeric array; got {baseline!r}.")
    try:
        full = np.broadcast_to(value.astype(np.float32), x.shape)
    except ValueError:
        raise ValueError(
            f"baseline of shape {value.shape} does not broadcast to one model input "
            f"{x.shape[1:]} or the batch {x.shape} (model-input space, channels-last)."
        ) from None
    if not np.isfinite(full).all():
        raise ValueError("baseline contains NaN or infinite values.")
    return np.ascontiguousarray(full)


def _check_stop(should_stop: ShouldStop | None, what: str) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled(f"{what} stopped: a newer request superseded it.")


def _json_number(value: Any) -> float | None:
    v = float(value)
    return v if math.isfinite(v) else None
