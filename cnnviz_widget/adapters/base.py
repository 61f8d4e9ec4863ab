"""What every framework adapter provides.  Methods, views and the explorer talk only to this.

An adapter owns every call into its framework.  Everything that crosses this boundary is
numpy, **channels-last**, float32: model inputs ``(N, H, W, C)`` (an adapter of a
channels-first framework transposes on the way in and out), activations ``(N, H, W, C)``,
kernels ``(kh, kw, in, out)``, dense kernels ``(in, out)``.  See ``docs/architecture.md``.

The registry (``adapters/__init__.py``) finds an adapter by duck typing; a framework is
imported only when a model of it is passed.  ``tests/test_adapter_contract.py`` runs one
contract suite against every adapter.

Beyond :class:`Adapter`, an adapter may offer optional methods, described by their own
protocols (not members of ``Adapter``, so an adapter without them is still one); callers
look for them with ``getattr`` and fall back on the required methods:

- :class:`ChannelValues` (the Keras adapter has it): a dataset scan's per-channel values,
  reduced in the framework.  Without it, ``methods.dataset`` reduces ``activations``.
- :class:`DeferredActivations` (both adapters have it): one pass's outputs left in the
  framework, each turned into numpy when read (:class:`Recording`).  The explorer draws a
  new sample's layer from it and keeps the rest afterwards.  Without it, ``activations``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .._layers import LayerInfo
from .._messages import Message

#: Preprocess callables map what a person displays to model input (any framework's layout).
Preprocess = Any


@runtime_checkable
class Adapter(Protocol):
    """Every framework call goes through an adapter; arrays come back channels-last."""

    #: "keras" or "torch": for messages and docs only; no caller branches on it.
    framework: str
    #: Marks an adapter, so that ``adapter_for(adapter)`` returns it unchanged.
    is_cnnviz_adapter: bool

    @property
    def model(self) -> Any:
        """The user's model (``ReferenceError`` once it no longer exists)."""
        ...

    # ------------------------------------------------------------------ inputs
    def input_shapes(self) -> list[tuple[int | None, ...]]:
        """Shapes of the model's inputs, batch axis first as ``None``, **channels-last**.

        Unknown sizes are ``None`` (a torch model does not declare H and W).
        """
        ...

    def model_inputs(self, images: Any, preprocess: Preprocess | None) -> list[np.ndarray]:
        """``images`` as validated float32 batches, one per model input, channels-last.

        Builds a model that was never called, from the example.  ``ValueError`` naming the
        expected and received shapes before any computation.
        """
        ...

    def display_images(self, images: Any, preprocess: Preprocess | None) -> np.ndarray:
        """What a person looks at: the first input's images as uint8 ``(N, H, W, C)``."""
        ...

    # ------------------------------------------------------------------ layers
    def list_layers(self) -> list[LayerInfo]:
        """All layers in model order, nested ones after their parent."""
        ...

    def is_depthwise(self, name: str) -> bool:
        """Whether the layer's kernel is depthwise: ``(kh, kw, in, multiplier)``."""
        ...

    def layer_weights(self, name: str) -> tuple[np.ndarray, np.ndarray | None]:
        """The layer's kernel (channels-last) and bias, or ``ValueError`` if it has none."""
        ...

    def untrained_copy(self) -> Any:
        """A freshly initialised model of the same architecture (same layer names).

        The user's model is not touched (its weights, and the global random state, stay as
        they are).  Callers cache the copy.
        """
        ...

    def n_classes(self) -> int | None:
        """Classes of the (first) output when it is ``(N, classes)``, else None.

        A model with several outputs is explained through its first (DESIGN.md section 2).
        """
        ...

    def graph(self, inputs: Sequence[np.ndarray] | None) -> tuple[list[Any], list[Any], str, str]:
        """``(nodes, edges, source, note)`` of the model's real data flow (``graph.py``).

        ``inputs`` (channels-last model inputs, as ``model_inputs`` gives) give output shapes
        and, where the framework cannot read the graph statically, a pass to record.
        """
        ...

    # ------------------------------------------------------------ computations
    def activations(
        self, inputs: Sequence[np.ndarray], names: Sequence[str]
    ) -> dict[str, np.ndarray]:
        """Outputs of the named layers from one forward pass (inference mode)."""
        ...

    def logits(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """Pre-softmax class scores of the (first) output, ``(N, classes)``."""
        ...

    def class_gradients(
        self, inputs: Sequence[np.ndarray], layer: str | None, class_index: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(target value, d(class logit)/d(target), logits, explained classes)``, one pass.

        The target is the named layer's output, or the first model input when ``layer`` is
        None (channels-last either way).  ``class_index`` holds one class per sample, -1
        meaning that sample's top class.
        """
        ...

    def filter_gradients(
        self,
        inputs: Sequence[np.ndarray],
        layer: str,
        filters: np.ndarray,
        input_index: int = 0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per sample ``i``, the mean activation of filter ``filters[i]`` of ``layer`` and its
        gradient w.r.t. ``inputs[input_index]`` (channels-last)."""
        ...

    def layer_input(self, name: str) -> int:
        """The index of the first model input the layer's output depends on (0 for one)."""
        ...


@runtime_checkable
class ChannelValues(Protocol):
    """Optional: a dataset scan's values, reduced where the maps are (see the module doc)."""

    def channel_values(
        self, inputs: Sequence[np.ndarray], names: Sequence[str], reduce: str = "mean"
    ) -> dict[str, np.ndarray]:
        """``(N, C)`` float32 per named layer from one forward pass (inference mode).

        Each channel's value for an image is what ``methods.dataset.channel_values`` gives
        for the layer's activation: the mean (``reduce="mean"``, to float32 round-off of the
        float64 mean) or max (exact) of a spatial map over its positions, a dense unit's
        activation.  Only these values leave the framework, never the maps.  The same
        inputs must give the same bits in any process (a Dask worker's values are merged
        with the calling process's).
        """
        ...


class Recording(Mapping[str, np.ndarray]):
    """Outputs of one forward pass, still the framework's: each becomes numpy when read.

    Reading one layer costs that layer's conversion; :meth:`settle` converts the rest and
    lets the framework's outputs go.  Why it exists: a framework's pass reuses the memory of
    the outputs of its last pass once they are freed, but numpy copies of every layer need
    memory the process may never have touched, and on some machines (virtual machines that
    map memory on first touch) that costs more than the pass itself (``benchmarks/
    README.md``, the latency section).  The explorer draws the one layer asked for from a
    recording, sends it, and then settles the recording into its cache.  Thread-safe.
    """

    def __init__(self, outputs: Mapping[str, Any], convert: Callable[[Any], np.ndarray]) -> None:
        self._raw: dict[str, Any] = dict(outputs)
        self._names = list(outputs)
        self._convert = convert
        self._done: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> np.ndarray:
        with self._lock:
            value = self._done.get(name)
            if value is None:
                value = self._done[name] = self._convert(self._raw.pop(name))
            return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._done or name in self._raw

    def convert(self, stop: Callable[[], bool]) -> bool:
        """Turn outputs into numpy one by one until ``stop()`` is true before the next one;
        True once every output is numpy (``settle`` then only collects them)."""
        for name in self._names:
            if name in self._done:
                continue
            if stop():
                return False
            self[name]
        return True

    def settle(self) -> dict[str, np.ndarray]:
        """Every output as numpy (converted once); the framework's outputs are dropped."""
        for name in self._names:
            self[name]
        return {name: self._done[name] for name in self._names}


@runtime_checkable
class DeferredActivations(Protocol):
    """Optional: ``activations`` whose conversion to numpy waits until each is read."""

    def recorded_activations(self, inputs: Sequence[np.ndarray], names: Sequence[str]) -> Recording:
        """What ``activations(inputs, names)`` gives, as a :class:`Recording` of one pass."""
        ...


def not_class_scores(shape: Sequence[int | None]) -> ValueError:
    """The error for a class asked of a model whose (first) output is no ``(N, classes)``
    (a segmentation map, one regression value per sample)."""
    dims = [str(d) for d in tuple(shape)[1:]]
    text = f"(N, {', '.join(dims)})" if dims else "(N,)"
    return ValueError(
        Message(
            "not_class_scores",
            "Explaining a class needs a model whose (first) output is (N, classes); this one "
            f"outputs shape {text}.",
            shape=text,
        )
    )
