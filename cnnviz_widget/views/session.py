"""The session a view computes in: the model's adapter, the images, caches, cancellation.

The explorer owns one ``Session`` per model and hands it to every view; views never see
the explorer.  Everything here is thread-safe: the explorer's worker thread computes while
the kernel's thread may clear the caches (``refresh``).
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._cache import BytesLRU
from .._layers import LayerInfo, resolve_layer
from .._messages import Message
from ..adapters.base import Adapter, Recording
from ..methods.dataset import check_dataset
from ..methods.gradcam import CamCache
from ..methods.weights import check_baseline
from ._base import Request, ViewResult

_log = logging.getLogger(__name__)


def _never(request: Request) -> bool:
    return False


def _ignore(request: Request, result: ViewResult) -> None:
    return None


class Session:
    """What the views of one explorer share.

    Parameters
    ----------
    adapter : Adapter
        The model's adapter.
    inputs : list of numpy.ndarray or None
        Validated model inputs, channels-last, one array per model input.
    display : numpy.ndarray
        The images a person looks at, uint8 ``(N, H, W, C)`` (or ``(N, H, W)``).
    class_names : sequence of str
    baseline : "untrained", a model, or None
        What the weights view compares against.
    cache_bytes : int
        Memory for cached activations (least recently used samples go first).
    is_stale : callable
        ``is_stale(request)`` is True once a newer request superseded it; long views check
        it and stop.
    on_progress : callable
        ``on_progress(request, partial_result)`` sends a picture of work still running.
    dataset : optional
        What the Examples tab searches: an array, a dask array or an iterable of batches.
    preprocess : callable, optional
        Maps images (and the dataset's rows) to model input.
    """

    def __init__(
        self,
        adapter: Adapter,
        inputs: list[np.ndarray] | None,
        display: np.ndarray,
        *,
        class_names: Sequence[str] = (),
        baseline: Any = "untrained",
        cache_bytes: int = 512 * 2**20,
        is_stale: Callable[[Request], bool] = _never,
        on_progress: Callable[[Request, ViewResult], None] = _ignore,
        dataset: Any = None,
        preprocess: Any = None,
    ) -> None:
        self.adapter = adapter
        self.inputs = inputs
        self.display = display
        self.class_names = list(class_names)
        n_classes = adapter.n_classes() if self.class_names else None
        if n_classes is not None and len(self.class_names) != n_classes:
            raise ValueError(
                f"class_names has {len(self.class_names)} names, but the model has "
                f"{n_classes} classes: pass one name per class, in the order of its outputs."
            )
        self.layers: list[LayerInfo] = adapter.list_layers()
        self.is_stale = is_stale
        self.on_progress = on_progress
        self._baseline = check_baseline(baseline)
        if dataset is not None:  # refused now, not when the Examples tab first reads it
            check_dataset(dataset)
        self.activation_cache = BytesLRU(
            cache_bytes, lambda acts: sum(a.nbytes for a in acts.values())
        )
        self.result_cache = BytesLRU(64 * 2**20, lambda result: result.nbytes)
        self.cams = CamCache()
        self._pass_lock = threading.Lock()
        #: The last new sample's pass, not yet kept as numpy: ``(sample, Recording)``.
        self._recording: tuple[int, Recording] | None = None
        #: What the Examples tab searches (model inputs, or display images with preprocess).
        self.dataset = dataset
        self.preprocess = preprocess
        #: Finished scans of the dataset, per layer: (TopActivations, scanned, total).
        self.examples: dict[str, tuple[Any, int, int | None]] = {}

    @classmethod
    def of(
        cls,
        model: Any,
        images: Any = None,
        *,
        preprocess: Any = None,
        **options: Any,
    ) -> Session:
        """A session over ``model`` (and ``images``), as the explorer builds one.

        ``options`` are the keyword arguments of ``Session`` (``class_names``, ``baseline``,
        ``cache_bytes``, ``is_stale``, ``on_progress``).  ``ValueError`` for bad images.
        """
        from ..adapters import adapter_for

        adapter = adapter_for(model)
        if images is None:
            return cls(
                adapter, None, np.zeros((0, 1, 1), np.uint8), preprocess=preprocess, **options
            )
        inputs = adapter.model_inputs(images, preprocess)
        display = adapter.display_images(images, preprocess)
        return cls(adapter, inputs, display, preprocess=preprocess, **options)

    # ------------------------------------------------------------------ reading
    @property
    def n_samples(self) -> int:
        return 0 if self.inputs is None else int(self.inputs[0].shape[0])

    def layer_info(self, layer: str | LayerInfo) -> LayerInfo:
        return resolve_layer(self.layers, layer)

    def class_name(self, index: int) -> str:
        names = self.class_names
        return names[index] if 0 <= index < len(names) else str(index)

    def sample_inputs(self, sample: int) -> list[np.ndarray]:
        if self.inputs is None:
            raise ValueError(
                Message(
                    "no_images", "No images to explain: pass them as LayerExplorer(model, images)."
                )
            )
        return [x[sample : sample + 1] for x in self.inputs]

    def sample_activations(self, sample: int) -> dict[str, np.ndarray]:
        """Every layer's output for one sample, from one forward pass, cached."""
        outputs = self._outputs(sample)
        if isinstance(outputs, Recording):
            self.settle()
            return outputs.settle()  # converted once: the dict the cache holds
        return outputs

    def _outputs(self, sample: int) -> dict[str, np.ndarray] | Recording:
        """The sample's outputs: cached, or the recording of its pass not settled yet."""
        if self.inputs is None:
            raise ValueError(
                Message(
                    "no_images",
                    "No images to show feature maps for: pass them as "
                    "LayerExplorer(model, images).",
                )
            )
        cached = self.activation_cache.get(sample)  # the cache is thread-safe itself
        if cached is not None:
            return cached
        recording = self._recording  # read once: the worker may settle it meanwhile
        if recording is not None and recording[0] == sample:
            return recording[1]  # thread-safe itself
        # Not held over the pass below: the other sample's outputs it points to are freed
        # there, and this pass reuses their memory (held, the first such pass faulted in
        # as much again: 160-200 ms instead of 35 on EfficientNet-Lite0).
        recording = None
        with self._pass_lock:  # two requests for one sample must not run two passes
            cached = self.activation_cache.get(sample)
            if cached is not None:
                return cached
            if self._recording is not None and self._recording[0] == sample:
                return self._recording[1]
            # Another sample's pass not kept yet (the clicks came faster than the worker's
            # idle time) is dropped, not kept: keeping it (a numpy copy of every layer,
            # 50-150 ms on EfficientNet-Lite0) would hold this click up for longer than
            # passing that sample again costs, should it be asked for again.  Its outputs'
            # memory is what this pass reuses.
            self._recording = None
            names = [info.name for info in self.layers]
            inputs = self.sample_inputs(sample)
            record = getattr(self.adapter, "recorded_activations", None)
            if record is None:
                outputs = self.adapter.activations(inputs, names)
                self.activation_cache.put(sample, outputs)
                return outputs
            recording = record(inputs, names)
            self._recording = (sample, recording)
            return recording

    def settle(self, stop: Callable[[], bool] | None = None) -> bool:
        """Keep the last new sample's outputs in the cache, as numpy (see ``Recording``).

        The explorer's worker calls this once it has sent the picture drawn from them, with
        ``stop`` telling whether a request waits: the outputs are converted one by one and,
        when ``stop()`` turns true, the rest wait for the next call (the request is not held
        up by a copy of every layer).  True once the sample is in the cache (or there was
        nothing to keep).
        """
        with self._pass_lock:
            if self._recording is None:
                return True
            sample, recording = self._recording
            try:
                if stop is not None and not recording.convert(stop):
                    return False  # the rest next time; what is converted stays converted
                values = recording.settle()
            except BaseException:
                self._recording = None  # a conversion failed: passed again when next asked
                raise
            self._recording = None
            self.activation_cache.put(sample, values)
            return True

    def is_passed(self, sample: int) -> bool:
        """Whether the sample's outputs are at hand (cached, or recorded and not settled)."""
        if self.activation_cache.get(sample) is not None:
            return True
        recording = self._recording
        return recording is not None and recording[0] == sample

    def layer_output(self, sample: int, layer: str) -> np.ndarray:
        """One layer's output for one sample, no batch axis (from the sample's one pass)."""
        outputs = self._outputs(sample)
        if layer not in outputs:
            raise ValueError(
                Message(
                    "not_called",
                    f"{layer!r} is not called by the model's forward pass (a container or an "
                    "unused module), so it has no output to draw; pick one of its layers.",
                    layer=repr(layer),
                )
            )
        return outputs[layer][0]

    def input_range(self) -> tuple[float, float]:
        """The range of model inputs the patterns stay in, read off the images given."""
        if self.inputs is None:
            return (0.0, 1.0)
        finite = self.inputs[0][np.isfinite(self.inputs[0])]
        if not finite.size:
            return (0.0, 1.0)
        lo, hi = float(finite.min()), float(finite.max())
        if lo >= 0.0 and hi <= 1.0:
            return (0.0, 1.0)
        if lo >= 0.0 and hi <= 255.0:
            return (0.0, 255.0)
        return (lo, hi)

    # ----------------------------------------------------------------- baseline
    @property
    def baseline(self) -> Any:
        return self._baseline

    @baseline.setter
    def baseline(self, value: Any) -> None:
        self._baseline = check_baseline(value)
        self.result_cache.clear()  # the weights pictures show the old baseline

    def baseline_model(self) -> Any:
        """The model the weights view compares against (the untrained copy is cached)."""
        from ..methods.weights import resolve_baseline

        return resolve_baseline(self.adapter.model, self._baseline)

    # ---------------------------------------------------------------- computing
    def compute(self, request: Request) -> ViewResult:
        """The view's result for ``request``, from the result cache when it was drawn before."""
        from . import VIEWS

        view = VIEWS[request.view]
        layer = request.layer if view.per_layer else None
        key = (view.name, layer, request.sample, request.options)
        result = self.result_cache.get(key)
        if result is None:
            result = view.render(self, request)
            self.result_cache.put(key, result)
        return result

    def compute_quick(self, request: Request) -> ViewResult | None:
        """The result for ``request`` if it needs no pass through the model: drawn before
        (the result cache), or feature maps drawn from the sample's cached activations (a
        picture of at most ``MAX_ATLAS_SIDE`` pixels a side).  None for anything else."""
        from . import VIEWS

        view = VIEWS[request.view]
        layer = request.layer if view.per_layer else None
        key = (view.name, layer, request.sample, request.options)
        result = self.result_cache.get(key)
        if result is not None:
            return result
        if view.name != "activations" or not self.is_passed(request.sample):
            return None
        return self.compute(request)

    def draw_ahead(
        self, sample: int, layer: str, count: int, stop: Callable[[], bool] | None = None
    ) -> list[str]:
        """Draw the feature maps of the ``count`` layers nearest ``layer`` in the list (not
        drawn yet) into the result cache, so that a click on one of them is answered from
        it; only for a sample whose outputs are kept (no pass, no copy).  Nearest first, and
        ``stop()`` is asked before each drawing: a request that comes goes first.  The layers
        drawn.
        """
        from . import VIEWS

        outputs = self.activation_cache.get(sample)
        if outputs is None or count <= 0:
            return []
        names = [info.name for info in self.layers if info.name in outputs]
        if layer not in names:
            return []
        here = names.index(layer)
        nearest = sorted(range(len(names)), key=lambda i: (abs(i - here), i))[1 : count + 1]
        view = VIEWS["activations"]
        drawn = []
        for i in nearest:
            key = (view.name, names[i], sample, ())
            if self.result_cache.get(key) is not None:
                continue
            if stop is not None and stop():
                break
            try:
                picture = view.render(self, Request(0, names[i], view.name, sample))
                self.result_cache.put(key, picture)
            except Exception:  # drawn (and its error shown) when it is clicked
                _log.debug("drawing %s ahead failed:\n%s", names[i], traceback.format_exc())
                continue
            drawn.append(names[i])
        return drawn

    def clear(self) -> None:
        """Forget everything computed (after the model's weights changed)."""
        with self._pass_lock:
            self._recording = None
        self.activation_cache.clear()
        self.result_cache.clear()
        self.cams.clear()
        self.examples.clear()

    # ------------------------------------------------------------------ dataset
    def dataset_rows(self, indices: Sequence[int]) -> np.ndarray:
        """The dataset's rows at ``indices`` (positions in dataset order), as given."""
        wanted = [int(i) for i in indices]
        data = self.dataset
        if hasattr(data, "shape") and hasattr(data, "__getitem__"):  # numpy, dask, h5py
            return np.stack([np.asarray(data[i]) for i in wanted])
        # An iterable of batches: read it again and keep the rows asked for.
        found: dict[int, np.ndarray] = {}
        position = 0
        for batch in data:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            x = np.asarray(x.numpy() if hasattr(x, "numpy") else x)
            for j in range(len(x)):
                if position + j in wanted:
                    found[position + j] = x[j]
            position += len(x)
            if len(found) == len(set(wanted)):
                break
        missing = [i for i in wanted if i not in found]
        if missing:
            raise ValueError(
                Message(
                    "dataset_changed",
                    f"The dataset gave different images on a second pass (rows {missing[:3]} "
                    "are gone): the Examples tab reads it twice; pass an array or a "
                    "re-iterable dataset (tf.data.Dataset, DataLoader), not a one-shot "
                    "generator.",
                    rows=missing[:3],
                )
            )
        return np.stack([found[i] for i in wanted])

    def dataset_images(self, indices: Sequence[int]) -> list[np.ndarray]:
        """Model inputs of the dataset's rows at ``indices``."""
        return self.adapter.model_inputs(self.dataset_rows(indices), self.preprocess)

    def dataset_display(self, indices: Sequence[int]) -> np.ndarray:
        """What a person looks at for the rows at ``indices``, uint8 ``(n, H, W, C)``."""
        return self.adapter.display_images(self.dataset_rows(indices), self.preprocess)
