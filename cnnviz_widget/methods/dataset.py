"""Which images of a whole dataset most excite each channel: a scan in bounded memory.

Each batch takes one forward pass that records every requested layer; each channel's value
for an image is the spatial mean (or max) of its map, or a dense unit's activation.  An
adapter with ``channel_values`` (Keras) reduces the maps in its framework, so that only the
``(N, C)`` values leave it.  A running top-k per channel keeps ``C * k`` values and their
dataset indices, so memory is one batch plus the result, whatever the dataset's size.  The
values of a few batches are merged into it at once (``_RunningTop``), the images that can
enter picked by one comparison with each channel's k-th value.  A cluster run scores
partitions on the workers (each cut into the same batches as a local run, so each image
gets the same bits) and :func:`merge_top` merges what they return; both merges give the
exact top k, so a cluster run gives exactly the local result (STYLE.md, "A cluster as an
option").

See ``docs/top_activations.md``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .._inputs import Preprocess
from .._layers import LayerInfo, layer_list, resolve_layer
from ..adapters.base import Adapter
from . import Cancelled, ShouldStop, prepare

#: How ``top_activations`` reports progress: ``progress(images_done, images_total_or_None)``.
Progress = Callable[[int, "int | None"], object]

REDUCTIONS = ("mean", "max")

#: Batches per partition when an in-memory array or an iterable is spread over a cluster.
PARTITION_BATCHES = 8
#: Channel values (images x channels) a scan holds per layer before merging the images that
#: can enter into its running best: a merge costs about as much for one batch as for several.
PENDING_VALUES = 2**16
#: A progress bar appears only once a scan has run this long (seconds).
BAR_DELAY_S = 2.0
#: Seconds between checks of ``should_stop`` while waiting for workers.
POLL_S = 0.05

_DASK_EXTRA = 'pip install "cnnviz-widget[dask]"'


@dataclass(frozen=True)
class TopActivations:
    """The dataset images that most excite each channel of one layer, best first.

    Attributes
    ----------
    indices : numpy.ndarray
        ``(C, k)`` int64 positions in dataset order; row ``c`` is channel ``c``'s images
        sorted by value, highest first, ties by lower index.
    values : numpy.ndarray
        ``(C, k)`` float32, each of those images' value for the channel.
    """

    indices: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        if self.indices.shape != self.values.shape or self.indices.ndim != 2:
            raise ValueError(
                "TopActivations needs indices and values of the same (C, k) shape, got "
                f"{self.indices.shape} and {self.values.shape}."
            )


@dataclass(frozen=True)
class ScanProgress:
    """One step of :func:`iter_top_activations`.

    Attributes
    ----------
    result : TopActivations or dict of str to TopActivations
        The best images found so far (the final result after the last step).
    done : int
        Images scanned so far.
    total : int or None
        Images in the dataset, where known without reading it (arrays); None for iterables.
    """

    result: TopActivations | dict[str, TopActivations]
    done: int
    total: int | None


def top_activations(
    model: Any,
    dataset: Any,
    layer: str | LayerInfo | Sequence[str | LayerInfo],
    *,
    k: int = 9,
    batch_size: int = 64,
    reduce: Literal["mean", "max"] = "mean",
    preprocess: Preprocess | None = None,
    client: Any = None,
    progress: bool | Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> TopActivations | dict[str, TopActivations]:
    """The ``k`` dataset images with the highest activation of each channel of a layer.

    Parameters
    ----------
    model : keras.Model or torch.nn.Module
    dataset : array_like, iterable of batches, or dask.array.Array
        An array ``(N, ...)`` of model inputs (display images with ``preprocess``; a torch
        tensor or an h5py dataset work too), cut into ``batch_size`` batches; or any
        iterable of batches (arrays, tensors, ``(x, y, ...)`` tuples of which ``x`` is
        used): a ``tf.data.Dataset``, a torch ``DataLoader``, a generator; or a
        ``dask.array`` (each block along axis 0 is cut into ``batch_size`` batches).
    layer : name or LayerInfo, or a list of them
        A spatial layer (a channel's value for an image is the mean or max of its map) or a
        dense one (a unit's value is its activation).  A list scans every layer in the
        same pass and returns a dict.
    k : int, default 9
        Images per channel; a dataset of fewer than ``k`` images gives all of them.
    batch_size : int, default 64
        Images per forward pass when cutting an array; an iterable's batches are used as
        they come.
    reduce : {"mean", "max"}, default "mean"
        How a spatial map becomes one value.
    preprocess : callable, optional
        Maps each batch (as numpy) to model input.
    client : dask.distributed.Client, optional
        Scores partitions on the cluster's workers and merges them into exactly the result
        of a local run.  The model travels as a ``.keras`` archive (loaded in safe mode) or
        a torch ``state_dict`` (``weights_only``), never pickled.  Needs the ``dask`` extra.
    progress : bool or callable, optional
        None shows a tqdm bar once a scan has run for two seconds (if tqdm is installed),
        True shows one from the start, False none; a callable is called as
        ``progress(images_done, images_total_or_None)`` after each batch (or partition).
    should_stop : callable, optional
        Checked before each batch; when it returns True the scan raises ``Cancelled``.

    Returns
    -------
    TopActivations or dict of str to TopActivations
        ``indices`` (int64) and ``values`` (float32), each ``(C, min(k, N))``; a dict keyed
        by layer name, in the order given, when ``layer`` is a list.

    Raises
    ------
    ValueError
        ``k`` or ``batch_size`` below 1, an unknown ``reduce``, an empty dataset, batches
        of mixed shapes, images the model does not take.
    KeyError
        A layer the model does not have (naming close matches).
    ImportError
        ``client`` given but Dask is not installed.
    """
    report, close = _progress_reporter(progress)  # checked before any work starts
    steps, one_layer = _start(
        model, dataset, layer, k, batch_size, reduce, preprocess, client, should_stop
    )
    last: _Step | None = None
    try:
        # Only the last step's result is wanted: the running best is merged once, here,
        # instead of after every batch.
        for last in steps:
            report(last[1], last[2])
    finally:
        steps.close()
        close()
    assert last is not None  # an empty dataset raises before the first step
    result = last[0].results()
    return next(iter(result.values())) if one_layer else result


def iter_top_activations(
    model: Any,
    dataset: Any,
    layer: str | LayerInfo | Sequence[str | LayerInfo],
    *,
    k: int = 9,
    batch_size: int = 64,
    reduce: Literal["mean", "max"] = "mean",
    preprocess: Preprocess | None = None,
    client: Any = None,
    should_stop: ShouldStop | None = None,
) -> Generator[ScanProgress, None, None]:
    """:func:`top_activations` as it goes: a :class:`ScanProgress` after each batch.

    Each step's ``result`` is the best found so far, so a display can show tiles that
    improve as the scan finds better images; the last step's is the final result.
    ``k``, ``batch_size``, ``reduce``, the Dask import and an empty array are checked at the
    call; the layer names and the images' shape when the first batch is read, before it is
    scored.  Closing the iterator early (``close()``, or leaving a ``for`` loop) cancels the
    work still queued on a cluster.
    """
    steps, one_layer = _start(
        model, dataset, layer, k, batch_size, reduce, preprocess, client, should_stop
    )
    return _steps(steps, one_layer)


def _start(
    model: Any,
    dataset: Any,
    layer: Any,
    k: int,
    batch_size: int,
    reduce: str,
    preprocess: Preprocess | None,
    client: Any,
    should_stop: ShouldStop | None,
) -> tuple[Generator[_Step, None, None], bool]:
    """The checks made at the call, and the scan's steps (not started yet)."""
    _check_count("k", k)
    _check_count("batch_size", batch_size)
    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce must be one of {REDUCTIONS}, got {reduce!r}.")
    distributed = _import_distributed() if client is not None else None
    layers = layer_list(layer, "layer")
    if not layers:
        raise ValueError("No layer was given: pass a layer name or a list of them.")
    source = _source_of(dataset, batch_size)
    one_layer = isinstance(layer, (str, LayerInfo))
    plan = (layers, int(k), int(batch_size), reduce, preprocess)
    steps = (
        _scan_locally(model, source, plan, should_stop)
        if distributed is None
        else _scan_on_cluster(client, distributed, model, source, plan, should_stop)
    )
    return steps, one_layer


def merge_top(*parts: TopActivations, k: int) -> TopActivations:
    """The top ``k`` per channel of several partial results: the one merge step.

    Sorted by value, highest first, ties by lower index; a NaN value ranks as -inf.  Used
    after every batch of a local scan and to combine what workers return, so that both give
    the same result.  The parts must cover different images.
    """
    if not parts:
        raise ValueError("merge_top needs at least one TopActivations.")
    channels = {part.values.shape[0] for part in parts}
    if len(channels) > 1:
        raise ValueError(f"Cannot merge results of different channel counts: {sorted(channels)}.")
    values = np.concatenate([part.values for part in parts], axis=1).astype(np.float32)
    indices = np.concatenate([part.indices for part in parts], axis=1).astype(np.int64)
    keys = _order_keys(values, indices)
    if keys.shape[1] > k:
        keep = np.argpartition(keys, k - 1, axis=1)[:, :k]
        keys = np.take_along_axis(keys, keep, axis=1)
        values = np.take_along_axis(values, keep, axis=1)
        indices = np.take_along_axis(indices, keep, axis=1)
    order = np.argsort(keys, axis=1)
    return TopActivations(
        indices=np.take_along_axis(indices, order, axis=1),
        values=np.take_along_axis(values, order, axis=1),
    )


def channel_values(activation: np.ndarray, reduce: str = "mean") -> np.ndarray:
    """Each image's value per channel, ``(N, C)`` float32, from a channels-last activation.

    A spatial map (every axis between the batch and the channels) becomes its mean or max; a
    dense layer's ``(N, units)`` is its own value.
    """
    activation = np.asarray(activation)
    if activation.ndim < 2:
        raise ValueError(
            f"A layer output shaped {activation.shape} has no channel axis to rank images by."
        )
    if activation.ndim == 2:
        return activation.astype(np.float32)
    n, channels = activation.shape[0], activation.shape[-1]
    positions = activation.reshape(n, -1, channels).astype(np.float32, copy=False)
    if reduce == "max":
        return _halving(positions, np.maximum)
    return _halving(positions, np.add) / np.float32(positions.shape[1])


def _halving(values: np.ndarray, combine: Any) -> np.ndarray:
    """``(N, M, C)`` combined along M by adding (or taking the max of) halves, ``(N, C)``.

    A pairwise sum: float32 with an error that grows with log2(M), not M, and three times
    faster than numpy's float64 ``mean`` over the middle axes, whose inner loop runs over
    the C values of one position.  Each step is an elementwise ufunc on whole halves, so the
    result is the same bits wherever it runs (a worker or the calling process).
    """
    while values.shape[1] > 1:
        half = values.shape[1] // 2
        combined = combine(values[:, :half], values[:, half : 2 * half])
        if values.shape[1] % 2:
            combined[:, 0] = combine(combined[:, 0], values[:, 2 * half])
        values = combined
    return values[:, 0]


# ------------------------------------------------------------------------ the running top k
def _order_keys(values: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """uint64 keys whose ascending order is (value descending, index ascending).

    The float32 value's bits, mapped so that their unsigned order is the numeric order and
    then inverted, go above the 32-bit index: one key per entry makes ``argpartition`` exact
    on ties, where partitioning the values alone could keep a higher index over a lower one.
    """
    if indices.size and (indices.min() < 0 or indices.max() >= 2**32):
        # Beyond 4 billion images: the same order from a (slower) two-key sort.
        ranks = np.lexsort((indices, -_ranked(values)), axis=1)
        return np.argsort(ranks, axis=1).astype(np.uint64)
    bits = np.ascontiguousarray(_ranked(values)).view(np.uint32)
    ascending = np.where(bits >> 31 == 1, ~bits, bits | np.uint32(0x80000000))
    descending = (~ascending).astype(np.uint64)
    return (descending << np.uint64(32)) | indices.astype(np.uint64)


#: What a scan yields inside: the running best, images done, images in total.
_Step = tuple["_RunningTop", int, "int | None"]


def _batch_values(
    adapter: Adapter, inputs: list[np.ndarray], names: Sequence[str], reduce: str
) -> dict[str, np.ndarray]:
    """``(N, C)`` channel values of each layer from one forward pass.

    An adapter with ``channel_values`` reduces the maps in its framework, so that only
    ``N * C`` values leave it (no copy of the maps, none off a GPU); otherwise the maps come
    through ``activations`` and are reduced here.
    """
    in_framework = getattr(adapter, "channel_values", None)
    if in_framework is not None:
        return dict(in_framework(inputs, names, reduce))
    outputs = adapter.activations(inputs, names)
    return {name: channel_values(outputs[name], reduce) for name in names}


def _ranked(values: np.ndarray) -> np.ndarray:
    """float32 values as ranked: NaN as -inf, and -0.0 as 0.0 (they compare equal)."""
    return np.where(np.isnan(values), -np.inf, values).astype(np.float32) + np.float32(0)


@dataclass(frozen=True)
class _Plan:
    """What scoring a batch needs besides the model; travels to workers."""

    names: tuple[str, ...]
    k: int
    batch_size: int
    reduce: str
    preprocess: Preprocess | None


class _RunningTop:
    """The best ``k`` images per channel of each layer seen so far.

    A batch's ``(N, C)`` values wait in ``pending`` until :data:`PENDING_VALUES` of them
    have come or a result is asked for (:meth:`results`); then the images among them that
    can enter some channel's top k are merged in at once.  A scan that wants only the end
    result (:func:`top_activations`) merges every few batches instead of after each, which
    costs about the same per merge; what waits is at most that many values and one batch's
    per layer, a fixed bound whatever the dataset's size.
    """

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        #: Per layer: the best so far, without what is pending.
        self.best: dict[str, TopActivations] = {}
        #: Per layer, once each channel holds k images: its k-th value as ranked, (C,).
        self.floors: dict[str, np.ndarray] = {}
        #: Per layer: ``(values (n, C), first index)`` of the batches since the last merge.
        self.pending: dict[str, list[tuple[np.ndarray, int]]] = {}
        self.pending_values: dict[str, int] = {}

    def score(self, adapter: Adapter, batch: Any, first_index: int) -> int:
        """One forward pass for every layer of the plan; the number of images scored.

        The batch's images follow every image seen so far (``first_index`` on), which
        :meth:`_merge` relies on.
        """
        inputs = adapter.model_inputs(batch, self.plan.preprocess)
        per_layer = _batch_values(adapter, inputs, self.plan.names, self.plan.reduce)
        for name in self.plan.names:
            values = np.asarray(per_layer[name], dtype=np.float32)
            self.pending.setdefault(name, []).append((values, first_index))
            waiting = self.pending_values.get(name, 0) + values.size
            self.pending_values[name] = waiting
            if waiting >= PENDING_VALUES or name not in self.floors:
                self._merge(name)
        return int(inputs[0].shape[0])

    def results(self) -> dict[str, TopActivations]:
        """The best so far of every layer scored, pending images merged in."""
        for name in list(self.pending):
            self._merge(name)
        return dict(self.best)

    def _merge(self, name: str) -> None:
        """The pending images that can enter, merged into the best by one sort.

        Once a channel holds k images, an image of a later batch enters it only with a
        value strictly above the channel's k-th (an equal value loses the tie: its index is
        higher), so most of the pending ``(image, channel)`` values are dropped by one
        comparison.  The few left and the best are sorted by (channel, value descending
        with NaN as -inf, index): the first k of each channel are its new best.
        """
        waiting = self.pending.pop(name, [])
        self.pending_values.pop(name, None)
        if not waiting:
            return
        first = waiting[0][1]  # the batches are consecutive: their images follow on
        values = waiting[0][0] if len(waiting) == 1 else np.concatenate([v for v, _ in waiting])
        n_channels = values.shape[1]
        floor = self.floors.get(name)
        if floor is None:
            rows, channels = np.indices(values.shape).reshape(2, -1)
            values = values.reshape(-1)
        else:
            rows, channels = np.nonzero(values > floor)
            if not rows.size:
                return
            values = values[rows, channels]
        indices = rows + np.int64(first)
        best = self.best.get(name)
        if best is not None:
            held = best.values.shape[1]
            channels = np.concatenate([np.repeat(np.arange(n_channels), held), channels])
            values = np.concatenate([best.values.reshape(-1), values])
            indices = np.concatenate([best.indices.reshape(-1), indices])
        descending = np.where(np.isnan(values), np.float32(np.inf), -values)
        order = np.lexsort((indices, descending, channels))
        counts = np.bincount(channels, minlength=n_channels)
        # Each channel holds k already, or (before the first k images) all seen so far.
        keep = min(self.plan.k, int(counts.min()))
        starts = np.cumsum(counts) - counts
        picked = order[starts[:, None] + np.arange(keep)]
        top = TopActivations(indices=indices[picked], values=values[picked])
        self.best[name] = top
        if keep == self.plan.k:
            self.floors[name] = _ranked(top.values[:, -1])

    def add(self, parts: dict[str, TopActivations]) -> None:
        """Merge partial results of any images (a cluster's partitions, in any order)."""
        for name, part in parts.items():
            previous = self.best.get(name)
            pieces = (part,) if previous is None else (previous, part)
            self.best[name] = merge_top(*pieces, k=self.plan.k)


# ---------------------------------------------------------------------------- the sources
class _Source:
    """A dataset as numpy batches (locally) and as partitions (for a cluster)."""

    total: int | None = None

    def batches(self) -> Iterator[Any]:
        raise NotImplementedError

    def first(self) -> Any:
        """A small batch that shows the dataset's shape (for building and checks)."""
        raise NotImplementedError


class _ArraySource(_Source):
    """An array-like ``(N, ...)``: numpy, a tensor, an h5py dataset; cut into batches."""

    def __init__(self, array: Any, batch_size: int) -> None:
        self.array, self.batch_size = array, batch_size
        self.size = self.total = int(array.shape[0])
        if self.size == 0:
            raise ValueError(
                f"The dataset is empty: received an array of shape {tuple(array.shape)}."
            )

    def batches(self) -> Iterator[Any]:
        for start in range(0, self.size, self.batch_size):
            yield _as_numpy(self.array[start : start + self.batch_size])

    def first(self) -> Any:
        return _as_numpy(self.array[:1])

    def partitions(self) -> Iterator[tuple[int, int, Any]]:
        rows = self.batch_size * PARTITION_BATCHES
        for start in range(0, self.size, rows):
            chunk = _as_numpy(self.array[start : start + rows])
            yield start, len(chunk), chunk


class _DaskSource(_Source):
    """A dask array: each block along axis 0 is computed, then cut into batches."""

    def __init__(self, array: Any, batch_size: int) -> None:
        self.array, self.batch_size = array, batch_size
        size = array.shape[0]
        self.total = None if size is None or math.isnan(size) else int(size)
        if self.total == 0:
            raise ValueError(
                f"The dataset is empty: received a dask array of shape {tuple(array.shape)}."
            )

    def batches(self) -> Iterator[Any]:
        for i in range(self.array.numblocks[0]):
            block = np.asarray(self.array.blocks[i].compute())
            yield from _cut(block, self.batch_size)

    def first(self) -> Any:
        return np.asarray(self.array.blocks[0][:1].compute())

    def partitions(self) -> Iterator[tuple[int, int, Any]]:
        sizes = self.array.chunks[0]
        if any(math.isnan(size) for size in sizes):
            raise ValueError(
                "The dask array's chunk sizes along axis 0 are unknown, so the images' "
                "positions are too: call dataset.compute_chunk_sizes() first."
            )
        start = 0
        for i, size in enumerate(sizes):
            yield start, int(size), self.array.blocks[i]
            start += int(size)


class _IterableSource(_Source):
    """Any iterable of batches: each is used as it comes (``x`` of an ``(x, y)`` tuple)."""

    def __init__(self, iterable: Iterable[Any], batch_size: int) -> None:
        self.batch_size = batch_size
        self.iterator = iter(iterable)
        self.peeked: list[Any] = []
        self.shapes: tuple[tuple[int, ...], ...] | None = None
        self.index = 0

    def batches(self) -> Iterator[Any]:
        empty = True
        while True:
            batch = self._next()
            if batch is None:
                break
            empty = False
            yield batch
        if empty:
            raise ValueError("The dataset is empty: the iterable yielded no images.")

    def first(self) -> Any:
        if not self.peeked:
            batch = self._next()
            if batch is None:
                raise ValueError("The dataset is empty: the iterable yielded no images.")
            self.peeked.append(batch)
        return self.peeked[0]

    def partitions(self) -> Iterator[tuple[int, int, Any]]:
        start, group, count = 0, [], 0
        for batch in self.batches():
            group.append(batch)
            count += _length(batch)
            if len(group) == PARTITION_BATCHES:
                yield start, count, group
                start, group, count = start + count, [], 0
        if group:
            yield start, count, group

    def _next(self) -> Any:
        """The next non-empty batch as numpy (None at the end), checked against the first."""
        if self.peeked:
            return self.peeked.pop(0)
        for raw in self.iterator:
            batch = _as_numpy(_features(raw, self.index))
            self.index += 1
            if _length(batch) == 0:
                continue  # a filter can leave an empty last batch
            shapes = _sample_shapes(batch)
            if self.shapes is None:
                self.shapes = shapes
            elif shapes != self.shapes:
                raise ValueError(
                    f"The dataset's batches have mixed shapes: batch {self.index - 1} holds "
                    f"images shaped {_fmt_shapes(shapes)}, the first batch "
                    f"{_fmt_shapes(self.shapes)}.  Resize them to one shape (a model "
                    "takes one shape per input)."
                )
            return batch
        return None


def check_dataset(dataset: Any) -> None:
    """Refuse what can be no dataset (``TypeError``; a scalar or ``None``: ``ValueError``)
    without reading from it, so that a ``LayerExplorer`` refuses it at construction."""
    if dataset is None:
        raise ValueError(
            "No dataset was given: pass an array, an iterable of batches or a dask array."
        )
    if _is_dask_array(dataset):
        return
    if _is_array_like(dataset):
        if len(dataset.shape) == 0:
            raise ValueError(f"The dataset is a scalar, not an array of images: {dataset!r}.")
        return
    if isinstance(dataset, (str, bytes, dict)) or not hasattr(dataset, "__iter__"):
        raise TypeError(
            "dataset must be an array (N, ...), an iterable of batches (a tf.data.Dataset, a "
            f"torch DataLoader, a generator) or a dask array, got {type(dataset).__name__} "
            "(wrap a torch Dataset in a DataLoader)."
        )


def _source_of(dataset: Any, batch_size: int) -> _Source:
    check_dataset(dataset)
    if _is_dask_array(dataset):
        return _DaskSource(dataset, batch_size)
    if _is_array_like(dataset):
        return _ArraySource(dataset, batch_size)
    return _IterableSource(dataset, batch_size)


def _is_dask_array(x: Any) -> bool:
    return all(hasattr(x, attr) for attr in ("blocks", "chunks", "numblocks", "compute"))


def _is_array_like(x: Any) -> bool:
    # numpy, torch and TensorFlow tensors, h5py/zarr datasets: sliceable with a shape.  A
    # tf.data.Dataset or DataLoader has no shape; a list is an iterable of batches.
    return (
        not isinstance(x, (list, tuple))
        and hasattr(x, "shape")
        and hasattr(x, "__getitem__")
        and (hasattr(x, "__array__") or hasattr(x, "numpy"))
    )


def _features(batch: Any, index: int) -> Any:
    """The model input of one batch: ``x`` of an ``(x, y, ...)`` tuple or list."""
    if isinstance(batch, dict):
        raise TypeError(
            f"Batch {index} is a dict (keys {sorted(map(str, batch))}): yield (x, y) tuples or "
            "arrays instead, e.g. ds.map(lambda d: (d['image'], d['label']))."
        )
    if isinstance(batch, (list, tuple)):
        if not batch:
            raise ValueError(f"Batch {index} is an empty {type(batch).__name__}.")
        return batch[0]
    return batch


def _as_numpy(x: Any) -> Any:
    """A batch as numpy: arrays, torch/TF tensors (detached, on the CPU), lists of them."""
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (list, tuple)):
        return [_as_numpy(a) for a in x]  # several model inputs
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor, maybe on a GPU
        x = x.detach().cpu()
    elif hasattr(x, "numpy") and not hasattr(x, "__array__"):
        x = x.numpy()
    return np.asarray(x)


def _length(batch: Any) -> int:
    first = batch[0] if isinstance(batch, list) else batch
    return int(first.shape[0]) if first.ndim else 1


def _sample_shapes(batch: Any) -> tuple[tuple[int, ...], ...]:
    arrays = batch if isinstance(batch, list) else [batch]
    return tuple(tuple(a.shape[1:]) for a in arrays)


def _fmt_shapes(shapes: tuple[tuple[int, ...], ...]) -> str:
    text = [str(shape) for shape in shapes]
    return text[0] if len(text) == 1 else "[" + ", ".join(text) + "]"


def _cut(array: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(array), batch_size):
        yield array[start : start + batch_size]


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")


# ---------------------------------------------------------------------------- local scans
def _resolve(
    model: Any,
    first: Any,
    layers: list[Any],
    k: int,
    batch_size: int,
    reduce: str,
    preprocess: Preprocess | None,
) -> tuple[Adapter, _Plan]:
    """The adapter (the model built from ``first`` if it never was) and the scan's plan.

    ``first`` goes through ``prepare`` so that images the model does not take fail here,
    before any work is queued.
    """
    adapter, _ = prepare(model, first, preprocess)
    known = adapter.list_layers()
    names = tuple(dict.fromkeys(resolve_layer(known, layer).name for layer in layers))
    return adapter, _Plan(names, k, batch_size, reduce, preprocess)


def _scan_locally(
    model: Any, source: _Source, request: tuple[Any, ...], should_stop: ShouldStop | None
) -> Generator[_Step, None, None]:
    adapter, plan = _resolve(model, source.first(), *request)
    running = _RunningTop(plan)
    done = 0
    for batch in source.batches():
        if should_stop is not None and should_stop():
            raise Cancelled()
        done += running.score(adapter, batch, done)
        yield running, done, source.total


def _steps(
    steps: Generator[_Step, None, None], one_layer: bool
) -> Generator[ScanProgress, None, None]:
    try:
        for running, done, total in steps:
            result = running.results()
            yield ScanProgress(next(iter(result.values())) if one_layer else result, done, total)
    finally:
        steps.close()


# -------------------------------------------------------------------------- cluster scans
def _import_distributed() -> Any:
    try:
        import dask  # noqa: F401  (distributed imports it too; name the root cause)
        import distributed
    except ImportError as error:
        raise ImportError(
            f"top_activations(client=...) needs Dask's distributed scheduler: {_DASK_EXTRA}"
        ) from error
    return distributed


def _scan_on_cluster(
    client: Any,
    distributed: Any,
    model: Any,
    source: _Source,
    request: tuple[Any, ...],
    should_stop: ShouldStop | None,
) -> Generator[_Step, None, None]:
    from ..adapters.portable import export_model

    if not isinstance(client, distributed.Client):
        raise TypeError(f"client must be a dask.distributed.Client, got {type(client).__name__}.")
    adapter, plan = _resolve(model, source.first(), *request)
    portable = client.scatter(export_model(adapter.model), broadcast=True, hash=False)
    # Partitions waiting for or on the workers: enough to keep them busy, few enough that the
    # data read ahead stays bounded.
    window = 2 * max(1, sum(client.nthreads().values()))
    partitions = source.partitions()  # type: ignore[attr-defined]
    running = _RunningTop(plan)
    pending: list[Any] = []
    done = 0
    try:
        while True:
            if should_stop is not None and should_stop():
                raise Cancelled()
            while len(pending) < window:
                partition = next(partitions, None)
                if partition is None:
                    break
                pending.append(_submit(client, portable, partition, plan))
            if not pending:
                break
            finished = _wait_first(pending, should_stop)
            pending.remove(finished)
            parts, count = finished.result()
            running.add(parts)
            done += count
            yield running, done, source.total
    finally:
        if pending:
            client.cancel(pending)


def _submit(client: Any, portable: Any, partition: tuple[int, int, Any], plan: _Plan) -> Any:
    start, _, data = partition
    if _is_dask_array(data):
        data = client.compute(data)  # the block is computed on the cluster, not here
    else:
        [data] = client.scatter([data], hash=False)
    return client.submit(_score_partition, portable, data, start, plan, pure=False)


def _wait_first(pending: list[Any], should_stop: ShouldStop | None) -> Any:
    """The first finished future, checking ``should_stop`` while waiting."""
    while True:
        for future in pending:
            if future.done():
                return future
        if should_stop is not None and should_stop():
            raise Cancelled()
        time.sleep(POLL_S)


def _score_partition(
    portable: Any, data: Any, start: int, plan: _Plan
) -> tuple[dict[str, TopActivations], int]:
    """On a worker: one partition's running top k, with dataset-wide indices."""
    adapter = _worker_adapter(portable)
    running = _RunningTop(plan)
    # An array partition is cut as a local run cuts it; an iterable's batches come as a list.
    batches = data if isinstance(data, list) else _cut(np.asarray(data), plan.batch_size)
    done = 0
    for batch in batches:
        done += running.score(adapter, batch, start + done)
    return running.results(), done


#: Models loaded on this (worker) process, by digest, with their adapters: a worker loads a
#: model once however many partitions and calls use it.  A few are kept, least recent first out.
_WORKER_MODELS: OrderedDict[str, tuple[Any, Adapter]] = OrderedDict()
_WORKER_MODELS_KEPT = 2
_WORKER_LOCK = threading.Lock()
#: How often this process loaded each model, by digest (read by tests via ``client.run``).
worker_loads: Counter[str] = Counter()


def _worker_adapter(portable: Any) -> Adapter:
    from ..adapters import adapter_for
    from ..adapters.portable import import_model

    with _WORKER_LOCK:
        entry = _WORKER_MODELS.get(portable.digest)
        if entry is None:
            model = import_model(portable)
            entry = (model, adapter_for(model))
            worker_loads[portable.digest] += 1
            _WORKER_MODELS[portable.digest] = entry
            while len(_WORKER_MODELS) > _WORKER_MODELS_KEPT:
                _WORKER_MODELS.popitem(last=False)
        _WORKER_MODELS.move_to_end(portable.digest)
        return entry[1]


# ------------------------------------------------------------------------------- progress
def _progress_reporter(
    progress: bool | Progress | None,
) -> tuple[Callable[[int, int | None], None], Callable[[], None]]:
    """``(report(done, total), close())`` for the ``progress`` argument."""
    if callable(progress) and not isinstance(progress, bool):
        return (lambda done, total: (progress(done, total), None)[1]), lambda: None
    if progress is not None and not isinstance(progress, (bool, np.bool_)):
        raise TypeError(
            "progress must be True (a progress bar), False (none), None (a bar once a scan "
            f"takes a while) or a callable progress(done, total), got {progress!r}."
        )
    if not progress and progress is not None:
        return (lambda done, total: None), lambda: None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return (lambda done, total: None), lambda: None
    state: dict[str, Any] = {"bar": None}

    def report(done: int, total: int | None) -> None:
        bar = state["bar"]
        if bar is None:
            delay = 0.0 if progress else BAR_DELAY_S
            bar = state["bar"] = tqdm(total=total, unit="img", desc="top_activations", delay=delay)
        bar.update(done - bar.n)

    def close() -> None:
        if state["bar"] is not None:
            state["bar"].close()

    return report, close
