"""Keras 3 adapter.

Activations of every layer, nested sub-models included, come from one forward pass that
re-runs the model's own graph on real tensors (``Functional._run_through_graph``, the loop
``Functional.call`` itself uses) and records each layer's output on the way.  Unlike
``keras.Model(model.inputs, layer.output)`` this reaches inner layers of nested models
without "Graph disconnected", works for a Sequential built from a first call (whose inputs
carry a fixed batch size), and adds no nodes to the user's layers.  The pass is compiled
with ``tf.function`` once per set of requested layers; TensorFlow prunes the layers a set
does not need.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from .._inputs import Preprocess, display_images, model_inputs, prebuild_inputs
from .._layers import LayerInfo, kind_of, resolve_layer
from .._messages import Message
from .base import Recording, not_class_scores

_SEP = "/"
#: Layer classes whose kernel is depthwise, ``(kh, kw, in, multiplier)``.
_DEPTHWISE_TYPES = frozenset(
    {"DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D"}
)
#: Key of the pre-softmax class scores among recorded outputs (no layer name has a NUL).
LOGITS = "\0logits"


def _is_softmax(function: Any) -> bool:
    return getattr(function, "__name__", None) == "softmax"


def _output_layer(model: Any) -> Any:
    """The layer object that produces the model's (first) output, inside nested models too."""
    graph = _graph_of(model)
    layer = graph.outputs[0]._keras_history.operation if graph is not None else model.layers[-1]
    return _output_layer(layer) if _is_nested_model(layer) else layer


def _pre_softmax(layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> Any:
    """The class scores before a final softmax, computed without touching the layer.

    A ``Softmax``/``Activation("softmax")`` layer's scores are its input.  A layer with a
    fused softmax (``Dense(10, activation="softmax")``) is called through a shallow copy
    whose activation is linear: the copy shares the variables, the user's layer is not
    modified (tf-keras-vis's ReplaceToLinear swaps the activation on the model itself).
    """
    if isinstance(layer, keras.layers.Softmax) or (
        isinstance(layer, keras.layers.Activation) and _is_softmax(layer.activation)
    ):
        return args[0]
    if _is_softmax(getattr(layer, "activation", None)):
        # copy.copy would go through Keras's __reduce__ (a full save and load); a bare object
        # with the same attribute dict shares the variables and costs nothing.
        twin = object.__new__(type(layer))
        twin.__dict__.update(layer.__dict__)
        object.__setattr__(twin, "activation", keras.activations.linear)
        kwargs = {k: v for k, v in kwargs.items() if k != "training"}
        return twin.call(*args, **kwargs)
    return output


def _graph_of(model: Any) -> Any | None:
    """The Functional graph behind a model, or None for a Sequential without one."""
    if isinstance(model, keras.Sequential):
        return getattr(model, "_functional", None)
    if hasattr(model, "_run_through_graph") and hasattr(model, "_nodes_by_depth"):
        return model
    return None


def _expected_rank(layer: Any) -> int | None:
    """The input rank a layer asks for (its input_spec), batch axis included, if it says."""
    spec = getattr(layer, "input_spec", None)
    if isinstance(spec, (list, tuple)):
        spec = spec[0] if spec else None
    rank = getattr(spec, "ndim", None) or getattr(spec, "min_ndim", None)
    return int(rank) if rank else None


def _is_nested_model(layer: Any) -> bool:
    return isinstance(layer, keras.Model)


def _shape_of(layer: Any) -> tuple[int | None, ...] | None:
    try:
        output = layer.output
    except (AttributeError, ValueError, RuntimeError):
        return None
    shape = getattr(output, "shape", None)
    if shape is None:  # several outputs: no single shape to show
        return None
    # The batch axis is whatever the model was first called with; show it as unknown.
    return (None, *(None if d is None else int(d) for d in tuple(shape)[1:]))


#: Keras internals the adapter relies on: (owner, attribute, what it is used for).  They are
#: private, so ``pyproject.toml`` bounds Keras to the major version tested, and
#: :func:`require_internals` turns a Keras that moved them into a clear error instead of a
#: wrong answer.
_INTERNALS = (
    ("keras.Model", "_run_through_graph", "re-running a functional graph, recording layers"),
    ("keras.Model", "_nodes_by_depth", "recognising a functional graph"),
    ("keras.Sequential", "_functional", "the graph of a Sequential built from an Input"),
    ("keras.layers.Layer", "_call_has_training_arg", "calling layers in inference mode"),
)


def require_internals() -> None:
    """``RuntimeError`` naming the Keras version when an internal the adapter uses is gone."""
    probe = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    owners = {
        "keras.Model": probe._functional,
        "keras.Sequential": probe,
        "keras.layers.Layer": probe.layers[0],
    }
    missing = [
        f"{owner}.{attribute} ({use})"
        for owner, attribute, use in _INTERNALS
        if not hasattr(owners[owner], attribute)
    ]
    if missing:
        raise RuntimeError(
            f"cnnviz_widget's Keras adapter relies on Keras internals that Keras "
            f"{keras.__version__} no longer has: {'; '.join(missing)}.  It is tested with "
            "Keras 3 (see pyproject.toml); install a Keras 3 release, or report this with the "
            "version above."
        )


_internals_checked = False


class KerasAdapter:
    """Adapter for ``keras.Model`` (Sequential, functional, subclassed with a graph)."""

    framework = "keras"
    is_cnnviz_adapter = True

    def __init__(self, model: Any) -> None:
        global _internals_checked
        if not _internals_checked:
            require_internals()
            _internals_checked = True
        if not isinstance(model, keras.Sequential) and _graph_of(model) is None:
            raise TypeError(
                f"{type(model).__name__} {model.name!r} is a subclassed keras.Model: its call() "
                "is Python code with no graph of layers to record, so cnnviz_widget cannot "
                "show its layers.  Build it with the functional API (keras.Model(inputs, "
                "outputs)) or keras.Sequential; its layers and weights can be reused."
            )
        # Weak, so that the adapter cache (keyed weakly by model) does not keep models alive.
        self._model_ref = weakref.ref(model)
        self._lock = threading.RLock()
        self._layers: list[LayerInfo] | None = None
        self._objects: dict[str, Any] = {}
        self._functions: dict[Any, Callable[..., Any]] = {}
        self._connected: dict[str, list[bool]] = {}

    @property
    def model(self) -> Any:
        model = self._model_ref()
        if model is None:
            raise ReferenceError("The model of this adapter no longer exists.")
        return model

    # ----------------------------------------------------------------- inputs
    def input_shapes(self) -> list[tuple[int | None, ...]]:
        if not self.model.built:
            raise ValueError(
                f"The model {self.model.name!r} has never been built, so its input shape is "
                "unknown: pass images (they build it), call it once, or start it with "
                "keras.Input(shape)."
            )
        try:
            inputs = self.model.inputs
        except (AttributeError, ValueError):
            inputs = None
        if not inputs:
            raise ValueError(
                f"The model {self.model.name!r} has no defined inputs: start it with "
                "keras.Input(shape) or call it once on data."
            )
        return [
            (None, *(None if d is None else int(d) for d in tuple(t.shape)[1:])) for t in inputs
        ]

    def is_built(self) -> bool:
        return bool(self.model.built) and (
            _graph_of(self.model) is not None or not isinstance(self.model, keras.Sequential)
        )

    def ensure_built(self, inputs: Sequence[np.ndarray]) -> None:
        with self._lock:
            if self.is_built():
                return
            if isinstance(self.model, keras.Sequential):
                # A Sequential never called has no graph; building one from the example's
                # shape is what its first call would do anyway.  The example may lack the
                # batch axis; anything else of the wrong rank must not fix a wrong shape.
                x = inputs[0]
                rank = _expected_rank(self.model.layers[0]) if self.model.layers else None
                if rank is not None and x.ndim == rank - 1:
                    shape = (None, *x.shape)
                elif rank is not None and x.ndim != rank:
                    raise ValueError(
                        f"The model {self.model.name!r} has not been built yet and its first "
                        f"layer expects inputs of rank {rank} (batch first), but received an "
                        f"array of shape {x.shape}."
                    )
                else:
                    shape = (None, *x.shape[1:])
                self.model.build(shape)
                self._layers = None
                return
            if not self.model.built:
                self.model(inputs[0] if len(inputs) == 1 else list(inputs), training=False)
                self._layers = None

    def model_inputs(self, images: Any, preprocess: Preprocess | None) -> list[np.ndarray]:
        if not self.is_built():
            self.ensure_built(prebuild_inputs(images, preprocess))
        return model_inputs(images, self.input_shapes(), preprocess)

    def display_images(self, images: Any, preprocess: Preprocess | None) -> np.ndarray:
        # Keras models take display-layout (channels-last) images: show them as given.
        shapes = self.input_shapes()
        return display_images(images, len(shapes), len(shapes[0]) - 1)

    # ----------------------------------------------------------------- layers
    def is_depthwise(self, name: str) -> bool:
        self.list_layers()
        return type(self._objects[name]).__name__ in _DEPTHWISE_TYPES

    def graph(self, inputs: Sequence[np.ndarray] | None) -> tuple[list[Any], list[Any], str, str]:
        from ._keras_graph import keras_graph

        if inputs is not None and not self.is_built():
            self.ensure_built(inputs)
        nodes, edges, note = keras_graph(self.model, self.list_layers())
        return nodes, edges, "keras", note

    def n_classes(self) -> int | None:
        graph = _graph_of(self.model)
        shape: tuple[int | None, ...] | None = None
        if graph is not None and graph.outputs:
            shape = tuple(graph.outputs[0].shape)
        elif self.model.layers:
            shape = _shape_of(self.model.layers[-1])
        return int(shape[-1]) if shape is not None and len(shape) == 2 and shape[-1] else None

    def untrained_copy(self) -> Any:
        # Keras draws unseeded initialisers' seeds from Python's global generator; a user's
        # reproducible script must not see it move because a tab was opened.
        # Seeded, so that the copy (and the sanity check's rank correlation) is the same on
        # every run.
        state = random.getstate()
        try:
            random.seed(0)
            return _untrained_keras(self.model)
        finally:
            random.setstate(state)

    def list_layers(self) -> list[LayerInfo]:
        with self._lock:
            if self._layers is None:
                if not self.model.built:
                    self.input_shapes()  # raises the explanatory error
                infos: list[LayerInfo] = []
                objects: dict[str, Any] = {}
                self._collect(self.model, "", None, infos, objects)
                self._layers, self._objects = infos, objects
            return list(self._layers)

    def _collect(
        self,
        model: Any,
        prefix: str,
        parent: str | None,
        infos: list[LayerInfo],
        objects: dict[str, Any],
    ) -> None:
        for layer in model.layers:
            name = prefix + layer.name
            nested = _is_nested_model(layer)
            infos.append(
                LayerInfo(
                    name=name,
                    type=type(layer).__name__,
                    output_shape=_shape_of(layer),
                    params=int(layer.count_params()) if layer.built else 0,
                    trainable=bool(layer.trainable),
                    kind="model" if nested else kind_of(type(layer).__name__),
                    parent=parent,
                )
            )
            objects[name] = layer
            if nested:
                self._collect(layer, name + _SEP, name, infos, objects)

    # ------------------------------------------------------------ forward pass
    def activations(
        self, inputs: Sequence[np.ndarray], names: Sequence[str]
    ) -> dict[str, np.ndarray]:
        return self.recorded_activations(inputs, names).settle()

    def recorded_activations(self, inputs: Sequence[np.ndarray], names: Sequence[str]) -> Recording:
        wanted = frozenset(names)
        function = self._function_for(wanted)
        outputs = function(*[keras.ops.convert_to_tensor(x) for x in inputs])
        return Recording({name: outputs[name] for name in names}, _to_numpy)

    def _function_for(self, wanted: frozenset[str]) -> Callable[..., dict[str, Any]]:
        with self._lock:
            function = self._functions.get(wanted)
            if function is None:
                function = self._compile(wanted)
                self._functions[wanted] = function
            return function

    def _compile(self, wanted: frozenset[str]) -> Callable[..., dict[str, Any]]:
        # The compiled functions reach the model through the adapter's weak reference: the
        # adapter cache must not keep a model alive that its user has dropped.
        model_ref = self._model_ref
        logits_layer = _output_layer(self.model) if LOGITS in wanted else None

        def forward(*inputs: Any) -> dict[str, Any]:
            recorded: dict[str, Any] = {}
            _run_recording(model_ref(), list(inputs), "", recorded, logits_layer)
            missing = wanted - recorded.keys()
            if missing:
                raise ValueError(
                    f"Layer(s) {sorted(missing)} are not reached by a forward pass from the "
                    "model's inputs."
                )
            return {name: recorded[name] for name in wanted}

        if keras.backend.backend() != "tensorflow":
            return forward
        import tensorflow as tf

        signature = [tf.TensorSpec(shape, tf.float32) for shape in self.input_shapes()]
        return _compiled_or_eager(forward, signature)

    # ------------------------------------------------------------ dataset scans
    def channel_values(
        self, inputs: Sequence[np.ndarray], names: Sequence[str], reduce: str = "mean"
    ) -> dict[str, np.ndarray]:
        """Each image's value per channel of the named layers, ``(N, C)`` float32, one pass.

        What ``methods.dataset.channel_values`` gives for each layer's activation (the mean
        or max of a map over its positions, a dense unit's activation), reduced inside
        TensorFlow, so that only ``N * C`` values per layer leave it, never the maps.  The
        pass is compiled once per (layers, reduce, input shapes).  A mean is within a few
        float32 ulps of the float64 mean (see :func:`_spatial_mean`); a max is exact.
        """
        shapes = tuple(tuple(np.shape(x)[1:]) for x in inputs)
        key = ("channel_values", tuple(names), reduce, shapes)
        function = self._functions.get(key)
        if function is None:
            with self._lock:
                function = self._functions.get(key)
                if function is None:
                    function = self._compile_channel_values(tuple(names), reduce, shapes)
                    self._functions[key] = function
        return function(*inputs)

    def _compile_channel_values(
        self, names: tuple[str, ...], reduce: str, shapes: tuple[tuple[int, ...], ...]
    ) -> Callable[..., dict[str, np.ndarray]]:
        """``channel_values`` of these layers (keyed in this order): one compiled pass.

        Traced for the input shapes given, so that the maps' sizes are known to the trace; a
        map whose size still is not leaves the pass whole and is reduced in numpy.
        """
        model_ref = self._model_ref
        wanted = tuple(dict.fromkeys(names))
        #: Layers whose maps leave the pass whole (set when the pass is traced).
        whole: set[str] = set()

        def one_pass(inputs: list[Any]) -> dict[str, Any]:
            recorded: dict[str, Any] = {}
            _run_recording(model_ref(), inputs, "", recorded)
            missing = set(wanted) - recorded.keys()
            if missing:
                raise ValueError(
                    f"Layer(s) {sorted(missing)} are not reached by a forward pass from the "
                    "model's inputs."
                )
            out = {}
            for name in wanted:
                output = keras.ops.cast(recorded[name], "float32")
                shape = tuple(output.shape)
                if len(shape) <= 2:
                    out[name] = output
                elif any(d is None for d in shape[1:]):
                    whole.add(name)
                    out[name] = output
                elif reduce == "max":  # any order gives the same max; NaN wins, as in numpy
                    out[name] = keras.ops.max(output, axis=tuple(range(1, len(shape) - 1)))
                else:
                    out[name] = _spatial_mean(output)
            return out

        if keras.backend.backend() != "tensorflow":

            def eager(*inputs: Any) -> dict[str, np.ndarray]:
                outputs = one_pass([keras.ops.convert_to_tensor(x) for x in inputs])
                return finish({n: keras.ops.convert_to_numpy(v) for n, v in outputs.items()})

            return eager
        import tensorflow as tf

        def reduced(*inputs: Any) -> dict[str, Any]:
            return one_pass(list(inputs))

        signature = [tf.TensorSpec((None, *shape), tf.float32) for shape in shapes]
        compiled = _concrete_or_eager(reduced, signature)

        def finish(outputs: dict[str, Any]) -> dict[str, np.ndarray]:
            result = {}
            for name in wanted:
                values = np.asarray(outputs[name])
                if name in whole:
                    from ..methods.dataset import channel_values as reduce_in_numpy

                    values = reduce_in_numpy(values, reduce)
                result[name] = values
            return result

        def channel_values(*inputs: Any) -> dict[str, np.ndarray]:
            return finish(compiled(*[tf.constant(x) for x in inputs]))

        return channel_values

    # --------------------------------------------------------------- gradients
    def class_gradients(
        self, inputs: Sequence[np.ndarray], layer: str | None, class_index: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """d(class score)/d(target) with the target's value, the logits and the classes.

        The target is the named layer's output, or the (first) model input when ``layer`` is
        None.  The score is the pre-softmax logit of ``class_index`` per sample (-1 means that
        sample's top class).  One forward and one backward pass.
        """
        key = ("gradients", layer)
        with self._lock:
            function = self._functions.get(key)
            if function is None:
                function = self._compile_gradients(layer)
                self._functions[key] = function
        tensors = [keras.ops.convert_to_tensor(x) for x in inputs]
        classes = keras.ops.convert_to_tensor(np.asarray(class_index, dtype=np.int32))
        value, grad, logits, chosen = function(classes, *tensors)
        return (
            np.asarray(value),
            np.asarray(grad),
            np.asarray(logits),
            np.asarray(chosen),
        )

    def filter_gradients(
        self,
        inputs: Sequence[np.ndarray],
        layer: str,
        filters: np.ndarray,
        input_index: int = 0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean activation of one filter per sample and its gradient w.r.t. one input.

        Sample ``i`` scores ``mean(layer_output[i, ..., filters[i]])`` (the spatial mean for a
        conv layer), so one batch ascends many filters at once.  The gradient is with respect
        to ``inputs[input_index]`` (see :meth:`layer_input`).  Layers after ``layer`` are
        pruned from the compiled graph.
        """
        function = self._filter_function(layer)
        tensors = [keras.ops.convert_to_tensor(x) for x in inputs]
        chosen = keras.ops.convert_to_tensor(np.asarray(filters, dtype=np.int32))
        values, *grads = function(chosen, *tensors)
        return np.asarray(values), np.asarray(grads[input_index])

    def layer_input(self, name: str) -> int:
        """The index of the first model input that the layer's output depends on."""
        if len(self.input_shapes()) == 1:
            return 0
        if name not in self._connected:
            # Tracing records which inputs reach the layer; run once on a probe to trace.
            shapes = [(1, *(64 if d is None else d for d in s[1:])) for s in self.input_shapes()]
            self.filter_gradients([np.zeros(s, np.float32) for s in shapes], name, np.zeros(1))
        connected = self._connected.get(name, [True])
        return connected.index(True) if True in connected else 0

    def _filter_function(self, layer: str) -> Callable[..., Any]:
        key = ("filters", layer)
        with self._lock:
            function = self._functions.get(key)
            if function is None:
                function = self._compile_filter_gradients(layer)
                self._functions[key] = function
            return function

    def _compile_filter_gradients(self, layer: str) -> Callable[..., Any]:
        import tensorflow as tf

        model_ref = self._model_ref
        connected = self._connected

        def gradients(filters: Any, *inputs: Any) -> tuple[Any, ...]:
            with tf.GradientTape() as tape:
                for x in inputs:
                    tape.watch(x)
                recorded: dict[str, Any] = {}
                _run_recording(model_ref(), list(inputs), "", recorded)
                output = recorded[layer]
                picked = tf.gather(output, filters, axis=-1, batch_dims=1)
                rank = len(output.shape)
                values = (
                    tf.reduce_mean(picked, axis=list(range(1, rank - 1))) if rank > 2 else picked
                )
                total = tf.reduce_sum(values)
            grads = tape.gradient(total, list(inputs))
            # Which inputs reach the layer is known while tracing (a disconnected one is None).
            connected[layer] = [g is not None for g in grads]
            filled = [
                tf.zeros_like(x) if g is None else g for g, x in zip(grads, inputs, strict=True)
            ]
            return (values, *filled)

        signature = [tf.TensorSpec((None,), tf.int32)] + [
            tf.TensorSpec(shape, tf.float32) for shape in self.input_shapes()
        ]
        return _compiled_or_eager(gradients, signature)

    def logits(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """Pre-softmax class scores, (N, classes)."""
        scores = self.activations(inputs, [LOGITS])[LOGITS]
        if scores.ndim != 2:
            raise not_class_scores(scores.shape)
        return scores

    def _compile_gradients(self, layer: str | None) -> Callable[..., Any]:
        import tensorflow as tf

        model_ref = self._model_ref
        logits_layer = _output_layer(self.model)

        def gradients(class_index: Any, *inputs: Any) -> tuple[Any, Any, Any, Any]:
            with tf.GradientTape() as tape:
                tape.watch(inputs[0])
                recorded: dict[str, Any] = {}
                _run_recording(model_ref(), list(inputs), "", recorded, logits_layer)
                logits = recorded[LOGITS]
                if len(logits.shape) != 2:  # known while tracing
                    raise not_class_scores(tuple(logits.shape))
                target = inputs[0] if layer is None else recorded[layer]
                top = tf.argmax(logits, axis=-1, output_type=tf.int32)
                chosen = tf.where(class_index < 0, top, class_index)
                # Samples are independent in inference mode, so the gradient of the sum is
                # each sample's own gradient.
                score = tf.reduce_sum(tf.gather(logits, chosen, batch_dims=1))
            grad = tape.gradient(score, target)
            if grad is None:
                grad = tf.zeros_like(target)
            return target, grad, logits, chosen

        signature = [tf.TensorSpec((None,), tf.int32)] + [
            tf.TensorSpec(shape, tf.float32) for shape in self.input_shapes()
        ]
        return _compiled_or_eager(gradients, signature)

    # ----------------------------------------------------------------- weights
    def layer_weights(self, name: str) -> tuple[np.ndarray, np.ndarray | None]:
        info = resolve_layer(self.list_layers(), name)
        layer = self._objects[info.name]
        kernel = getattr(layer, "kernel", None)
        if kernel is None and hasattr(layer, "depthwise_kernel"):
            kernel = layer.depthwise_kernel
        if kernel is None or info.kind == "model":
            raise ValueError(
                Message(
                    "no_weights",
                    f"The layer {info.name!r} ({info.type}) has no weights to show.",
                    layer=repr(info.name),
                    type=info.type,
                )
            )
        bias = getattr(layer, "bias", None)
        # Variable.numpy(): convert_to_numpy goes through np.array(variable), which warns
        # under NumPy 2 (TensorFlow's __array__ takes no copy argument).
        values = np.array(kernel.numpy())
        if "Transpose" in type(layer).__name__:
            # Keras stores transposed-conv kernels as (..., out, in); ours are (..., in, out).
            values = np.swapaxes(values, -1, -2)
        return (
            values,
            None if bias is None else np.array(bias.numpy()),
        )


def _not_about_our_functions(record: logging.LogRecord) -> bool:
    return "KerasAdapter" not in record.getMessage()


def _quiet_retracing_warning(tf: Any) -> None:
    """Drop TensorFlow's "triggered tf.function retracing" warning about our functions.

    The adapter compiles one function per set of layers on purpose (TensorFlow prunes what a
    set does not need); after five sets TensorFlow warns as if that were a mistake.  The
    filter matches only messages naming this adapter's functions.
    """
    logger = tf.get_logger()
    if _not_about_our_functions not in logger.filters:
        logger.addFilter(_not_about_our_functions)


def _compiled_or_eager(function: Callable[..., Any], signature: list[Any]) -> Callable[..., Any]:
    """``function`` compiled with tf.function, run eagerly if the model cannot be traced.

    Keras accepts layer names that TensorFlow refuses as graph scope names (any name with a
    space or "<", say); such a model still runs eagerly, as it does in ``model(x)``.
    """
    import tensorflow as tf

    _quiet_retracing_warning(tf)
    compiled = tf.function(function, input_signature=signature, autograph=False)
    state = {"eager": False}

    def call(*args: Any) -> Any:
        if not state["eager"]:
            try:
                return compiled(*args)
            except ValueError as error:
                if "scope name" not in str(error):
                    raise
                state["eager"] = True
        return function(*args)

    return call


def _concrete_or_eager(function: Callable[..., Any], signature: list[Any]) -> Callable[..., Any]:
    """``function`` traced once for ``signature`` and called as that concrete function.

    A concrete function skips tf.function's matching of the arguments to its traces (a
    tenth of a millisecond a call, as much as a small layer's pass takes).  As with
    :func:`_compiled_or_eager`, a model that cannot be traced runs eagerly.
    """
    import tensorflow as tf

    _quiet_retracing_warning(tf)
    compiled = tf.function(function, input_signature=signature, autograph=False)
    try:
        return compiled.get_concrete_function()
    except ValueError as error:
        if "scope name" not in str(error):
            raise
        return function


def _to_numpy(tensor: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(tensor))


def _spatial_mean(output: Any) -> Any:
    """``(N, ..., C)`` averaged over the positions, ``(N, C)`` float32, in a fixed order.

    Each row of the map (its last spatial axis) is summed in float32, the row sums in
    float64, divided and rounded once to float32: within a few float32 ulps of the float64
    mean (a map summed in float32 alone drifts by up to its size times that).  Each output
    is one sequential sum, whatever threads TensorFlow runs it on, so a worker gives the
    same bits as the calling process.  A map with one spatial axis is summed in float64.
    """
    count = math.prod(output.shape[1:-1])
    rows = output if len(output.shape) == 3 else keras.ops.sum(output, axis=-2)
    axes = tuple(range(1, len(rows.shape) - 1))
    total = keras.ops.sum(keras.ops.cast(rows, "float64"), axis=axes)
    return keras.ops.cast(total / float(count), "float32")


def _run_recording(
    model: Any,
    inputs: list[Any],
    prefix: str,
    recorded: dict[str, Any],
    logits_layer: Any = None,
) -> Any:
    """Run ``model`` on ``inputs`` in inference mode, recording every layer's output.

    When ``logits_layer`` is given, the pre-softmax output of that (final) layer is also
    recorded under ``LOGITS``.
    """
    graph = _graph_of(model)
    if graph is None:  # a Sequential without a graph: its layers form a chain
        x = inputs[0]
        for layer in model.layers:
            x = _call_layer(layer, (x,), {}, prefix, recorded, logits_layer)
        return x

    input_ids = [id(t) for t in graph.inputs]
    for layer in graph.layers:
        if isinstance(layer, keras.layers.InputLayer):
            index = input_ids.index(id(layer.output)) if id(layer.output) in input_ids else 0
            recorded.setdefault(prefix + layer.name, inputs[index])

    def operation_fn(operation: Any) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            return _call_layer(operation, args, kwargs, prefix, recorded, logits_layer)

        return call

    return graph._run_through_graph(inputs, operation_fn=operation_fn)


def _call_layer(
    layer: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    prefix: str,
    recorded: dict[str, Any],
    logits_layer: Any = None,
) -> Any:
    name = prefix + layer.name
    if _is_nested_model(layer):
        nested_inputs = keras.tree.flatten(args)
        output = _run_recording(layer, nested_inputs, name + _SEP, recorded, logits_layer)
    else:
        if getattr(layer, "_call_has_training_arg", False):
            kwargs = {**kwargs, "training": False}
        output = layer(*args, **kwargs)
        if layer is logits_layer:
            recorded[LOGITS] = _pre_softmax(layer, args, kwargs, output)
    # A shared layer called twice keeps its first output, as ``layer.output`` does.
    recorded.setdefault(name, output)
    return output


def _untrained_keras(model: Any) -> Any:
    """A fresh copy of ``model`` from its layers' configs (no variable shared with it)."""
    if not model.built:
        raise ValueError(
            f"The model {model.name!r} has never been built: call it once (or start it with "
            "keras.Input) before asking for an untrained copy."
        )
    try:
        # Not recursive=True: that path renames a nested model's InputLayer.  The default
        # clone re-creates a nested model from its config, so it gets fresh variables too.
        copy = keras.models.clone_model(model, input_tensors=_named_inputs(model))
    except Exception as exc:
        raise ValueError(
            f"Could not build an untrained copy of {model.name!r} with "
            f"keras.models.clone_model ({type(exc).__name__}: {exc}); pass baseline= a "
            "model of the same architecture, or baseline=None."
        ) from exc
    if not copy.built or len(copy.weights) != len(model.weights):
        shapes = [tuple(t.shape) for t in model.inputs]
        if isinstance(copy, keras.Sequential) and len(shapes) == 1:
            copy.build((None, *shapes[0][1:]))
        else:
            zeros = [np.zeros([1 if d is None else int(d) for d in s], np.float32) for s in shapes]
            copy(zeros[0] if len(zeros) == 1 else zeros, training=False)
    mine = {id(v) for v in model.weights}
    if any(id(v) in mine for v in copy.weights):
        raise ValueError(f"The copy of {model.name!r} shares variables with it; not a baseline.")
    if [tuple(v.shape) for v in copy.weights] != [tuple(v.shape) for v in model.weights]:
        raise ValueError(f"The copy of {model.name!r} does not have the original's weights.")
    return copy


def _named_inputs(model: Any) -> Any:
    """New ``keras.Input``s for a functional model, named as its own input layers.

    ``clone_model`` would otherwise name a functional model's new inputs after their
    tensors (``keras_tensor_12``), and the input layers' names would no longer match.
    """
    if isinstance(model, keras.Sequential) or not hasattr(model, "_run_through_graph"):
        return None

    def named(tensor: Any) -> Any:
        layer = getattr(getattr(tensor, "_keras_history", None), "operation", None)
        return keras.Input(
            batch_shape=tuple(tensor.shape),
            dtype=tensor.dtype,
            name=getattr(layer, "name", None),
        )

    try:
        return keras.tree.map_structure(named, model.input)
    except (AttributeError, ValueError):
        return None
