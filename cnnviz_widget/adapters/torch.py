"""PyTorch adapter: any ``torch.nn.Module`` behind the same protocol as Keras.

Layout.  A torch model takes its input channels-first, ``(N, C, H, W)``; everything that
crosses the adapter boundary is channels-last float32 numpy, as for Keras.
``model_inputs`` accepts what the model takes (a tensor or array ``(N, C, H, W)`` or
``(C, H, W)``, already normalised; or display images with a ``preprocess`` that maps them
to that) and hands back ``(N, H, W, C)``; every model call moves the channel axis back and
runs on the model's own device and dtype.  What ``model_inputs`` returns is marked
(``ModelInput``), so that one sample of it can go back through ``model_inputs`` unchanged.
4-D outputs come back ``(N, H, W, C)`` (activations as a transposed view of the model's
``(N, C, H, W)`` memory: no copy), others as they are; kernels ``(kh, kw, in, out)``,
depthwise ``(kh, kw, C, multiplier)`` (Keras's layout), dense ``(in, out)``.

Layers are ``named_modules()`` in that order (the root excluded).  A module with children
and no parameters of its own (``Sequential``, a residual block) is a sub-model: kind
``"model"``, its children carry its name as ``parent``.  A module with parameters of its own
keeps its kind even when it has children (EfficientNet's same-padding ``Conv2d`` holds its
padding module).  Output shapes come from the first forward pass the adapter makes (one
sample; ``model_inputs`` makes it); until then they are ``None``.  A module the forward
pass never calls (a ``ModuleList``, an unused head) is listed with no shape, and
``activations`` leaves it out.

**A module called more than once in one forward pass** (one ``ReLU`` object reused after
every conv, EfficientNet's ``_swish``) **is listed once per call**: the row named as
``named_modules()`` names it is its first call, and each later call ``k`` gets its own row
``"<name>#k"`` right after it (same type, kind and parent, ``params`` 0 so the parameters
are counted once).  Every function takes those names: ``activations(model, x,
["_swish#2"])`` is the output of ``_swish``'s second call.  The calls are counted in the
adapter's first forward pass, so the rows ``#2``, ``#3``... appear once that pass ran.

Passes.  Every pass runs in ``eval()`` semantics (batch norm uses and keeps its running
statistics, dropout is off) and puts back every submodule's own ``training`` flag
afterwards.  Forward hooks are registered inside a context manager and removed in
``finally``, also when an exception escapes.  An in-place ``ReLU`` after a conv cannot
overwrite the conv's recorded output: the first pass notes which outputs an in-place op
changes later (by their version counters), and those are ``.detach().clone()``-d in the hook
itself; every other output is kept without a copy (holding every layer costs memory
enough), and its version is checked after the pass (a change the first pass did not see
runs the pass again, copying it).  Gradients come from ``torch.autograd.grad`` with respect
to the recorded target only (never full backward hooks, which break on in-place ops; no
``param.grad`` is written; ``requires_grad`` flags are not touched): the hook records the
layer's output and hands the rest of the model a copy, so in-place ops downstream cannot
alter what is differentiated.  A pass that needs nothing after a layer stops there.

Class scores are pre-softmax: when the model's output is the output of an ``nn.Softmax`` or
``nn.LogSoftmax`` module, its input is used.  (A softmax written as ``F.softmax`` in
``forward`` cannot be seen from outside; such a model is explained through its
probabilities.)

``torch`` is imported by this module only, and this module only when an ``nn.Module`` is
passed (``adapters.adapter_for``).
"""

from __future__ import annotations

import copy
import inspect
import itertools
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from .._inputs import as_batches
from .._inputs import display_images as _display_images
from .._layers import LayerInfo, kind_of, resolve_layer
from .._messages import Message
from .base import Recording, not_class_scores

#: Separates a module's name from the number of a later call: ``"_swish#2"``.
CALL_MARK = "#"
#: A pass recording more modules than this dispatches its hooks from one global hook.
MANY_HOOKS = 8

_Shape = tuple[int | None, ...]

#: Seeds the untrained copy, so that it is the same copy every time (any fixed number; not 0,
#: which a model built right after ``torch.manual_seed(0)`` would reproduce exactly).
_UNTRAINED_SEED = 2**31 - 1


class ModelInput(np.ndarray):
    """A batch that ``model_inputs`` validated: float32, channels-last.

    ``model_inputs`` hands it back unchanged (a channels-last array could not otherwise be
    told from a channels-first one), so a slice of it, one sample, can go back through the
    public functions as the views do.  Slices keep the mark; arithmetic gives plain arrays.
    """

    def __array_wrap__(self, array: Any, context: Any = None, return_scalar: bool = False) -> Any:
        plain = np.asarray(array)
        return plain[()] if return_scalar else plain


#: The first pass's findings, handed from a model to its untrained copy (same modules), so
#: that both list the same layers (``untrained_copy``).
_INHERITED: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()

#: What the first pass finds (attributes of ``TorchAdapter``).
_FIRST_PASS = (
    "_calls",
    "_entry",
    "_seen_inputs",
    "_probe_shapes",
    "_output_shape",
    "_overwritten",
)


class _StopForward(BaseException):
    """Raised by a hook once a pass has all it needs (a BaseException, so that a model's own
    ``except Exception`` cannot swallow it)."""


def _first_output(output: Any) -> Any:
    """The (first) output of a model that returns a tensor, a tuple/list or a dict."""
    if isinstance(output, (tuple, list)) and output:
        return _first_output(output[0])
    if isinstance(output, dict) and output:
        return _first_output(next(iter(output.values())))
    return output


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    """A copy of ``t``, 4-D ones moved to ``(N, H, W, C)``, detached, float32."""
    t = t.detach()
    if t.ndim == 4:
        t = t.permute(0, 2, 3, 1)
    # clone (not contiguous, which may return the tensor itself): later in-place ops of the
    # model must not reach what was recorded.
    return t.clone(memory_format=torch.contiguous_format).float()


def _numpy(t: torch.Tensor) -> np.ndarray:
    return np.asarray(t.detach().cpu().numpy())


def _numpy_channels_last(t: torch.Tensor) -> np.ndarray:
    """float32 numpy, 4-D as ``(N, H, W, C)``: a transposed view of the ``(N, C, H, W)``
    memory, so no copy is made (each channel's map stays contiguous)."""
    if t.dtype is not torch.float32 or not t.is_cpu or t.requires_grad:
        t = t.detach().float().cpu()
    a = t.numpy()  # the fast path above: this runs once per layer of every pass
    return a.transpose(0, 2, 3, 1) if a.ndim == 4 else a


def _shape_of(output: Any) -> _Shape | None:
    if not isinstance(output, torch.Tensor) or output.ndim == 0:
        return None
    dims = tuple(int(d) for d in output.shape)
    if len(dims) == 4:
        dims = (dims[0], dims[2], dims[3], dims[1])
    return (None, *dims[1:])


def _is_conv(module: nn.Module) -> bool:
    return isinstance(module, nn.modules.conv._ConvNd)


def _is_transposed(module: nn.Module) -> bool:
    return isinstance(module, nn.modules.conv._ConvTransposeNd)


def _is_uninitialized(module: nn.Module) -> bool:
    return isinstance(module, nn.modules.lazy.LazyModuleMixin) and bool(
        module.has_uninitialized_params()
    )


def _fmt(shape: Sequence[int | None]) -> str:
    return "(" + ", ".join("N" if d is None else str(d) for d in shape) + ")"


def _as_array(x: Any) -> Any:
    """Tensors (and lists of them) as numpy, so that ``as_batches`` can stack them."""
    if isinstance(x, torch.Tensor):
        return _numpy(x)
    if isinstance(x, (list, tuple)):
        return [_as_array(a) for a in x]
    return x


class TorchAdapter:
    """Adapter for ``torch.nn.Module``."""

    framework = "torch"
    is_cnnviz_adapter = True

    def __init__(self, model: Any) -> None:
        # Weak, so that the adapter cache (keyed weakly by model) does not keep models alive.
        self._model_ref = weakref.ref(model)
        self._lock = threading.RLock()
        #: Per module, the output shape of each call in the first pass (channels-last).
        self._calls: dict[str, list[_Shape | None]] | None = None
        #: The conv/linear module the first pass reached first that takes the first input as
        #: it is (else the first reached): what input 0 is validated against.
        self._entry: str | None = None
        #: Input shapes seen in the first pass (channels-last, H and W open).
        self._seen_inputs: list[_Shape] | None = None
        self._layers: list[LayerInfo] | None = None
        self._output_shape: _Shape | None = None
        #: Modules whose output an in-place op later changes: copied when recorded.
        self._overwritten: set[str] = set()
        #: Channels-last shapes of the first pass's (one-sample) inputs.
        self._probe_shapes: list[tuple[int, ...]] | None = None
        #: Per-sample shapes of the tensors of the first pass that ran (see ``_call``).
        self._shapes_ran: list[tuple[int, ...]] | None = None
        #: Per layer, which inputs reach it (``layer_input``).
        self._connected: dict[str, list[bool]] = {}
        for name, value in _INHERITED.get(model, {}).items():
            setattr(self, name, copy.deepcopy(value))

    @property
    def model(self) -> Any:
        model = self._model_ref()
        if model is None:
            raise ReferenceError("The model of this adapter no longer exists.")
        return model

    # ----------------------------------------------------------------- modules
    def _modules(self) -> dict[str, Any]:  # Any: mypy types module attributes loosely
        return {name: m for name, m in self.model.named_modules() if name}

    def _entry_layer(self, modules: dict[str, Any] | None = None) -> tuple[str, Any] | None:
        """The conv or linear module the input goes into first.

        Known exactly after the first pass; before it, the first conv in ``named_modules()``
        order (a classifier head defined before the features is no conv), else the first
        linear.
        """
        modules = self._modules() if modules is None else modules
        if self._entry is not None and self._entry in modules:
            return self._entry, modules[self._entry]
        for wanted in (_is_conv, lambda m: isinstance(m, nn.Linear)):
            for name, module in modules.items():
                if wanted(module) and not _is_uninitialized(module):
                    return name, module
        return None

    def _n_inputs(self) -> int:
        if self._seen_inputs is not None:
            return len(self._seen_inputs)
        try:
            parameters = inspect.signature(self.model.forward).parameters.values()
        except (TypeError, ValueError):
            return 1
        positional = [
            p
            for p in parameters
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        ]
        return max(1, len(positional))

    def _device_dtype(self) -> tuple[torch.device, torch.dtype]:
        first = None
        for tensor in itertools.chain(self.model.parameters(), self.model.buffers()):
            if tensor.is_floating_point():
                return tensor.device, tensor.dtype
            first = tensor if first is None else first
        return (torch.device("cpu") if first is None else first.device), torch.float32

    # ----------------------------------------------------------------- inputs
    def input_shapes(self) -> list[tuple[int | None, ...]]:
        """Channels-last shapes of the inputs; H and W are open (``None``): torch models do
        not declare them."""
        entry = self._entry_layer()
        first: _Shape
        if entry is not None and _is_conv(entry[1]):
            module = entry[1]
            first = (None, *([None] * len(module.kernel_size)), int(module.in_channels))
        elif entry is not None:
            first = (None, int(entry[1].in_features))
        elif self._seen_inputs:
            first = self._seen_inputs[0]
        else:
            first = (None, None, None, None)
        rest = (self._seen_inputs or [])[1:]
        return [first, *rest]

    def model_inputs(self, images: Any, preprocess: Any | None) -> list[np.ndarray]:
        """``images`` (channels-first, or display images through ``preprocess``) as
        channels-last float32 batches, validated before any computation."""
        if images is None:
            raise ValueError(
                "No images were given: pass a tensor or array shaped like the model's input, "
                "(N, C, H, W) or (C, H, W)."
            )
        x = preprocess(images) if preprocess is not None else images
        n_inputs = self._n_inputs()
        given = list(x) if isinstance(x, (list, tuple)) else [x]
        if len(given) == n_inputs and all(isinstance(a, ModelInput) for a in given):
            return self._revalidated(given)  # a sample the views pass back
        arrays = as_batches(_as_array(x), n_inputs)
        batches: list[np.ndarray] = [
            self._validated(a, i, len(arrays)).view(ModelInput) for i, a in enumerate(arrays)
        ]
        sizes = sorted({len(b) for b in batches})
        if len(sizes) > 1:
            raise ValueError(f"Every input needs the same number of samples, got {sizes}.")
        self._probe(batches)
        return batches

    def _revalidated(self, batches: list[ModelInput]) -> list[np.ndarray]:
        """Batches that ``model_inputs`` made before (maybe for another model): checked
        against this model's input channels, channels-last."""
        expected = self.input_shapes()
        for i, (x, shape) in enumerate(zip(batches, expected, strict=False)):
            if x.ndim != len(shape) or (shape[-1] is not None and x.shape[-1] != shape[-1]):
                raise ValueError(
                    f"The model's input {i} is {_fmt(shape)} channels-last, but received "
                    f"validated inputs of shape {tuple(x.shape)}."
                )
        self._probe(batches)
        return list(batches)

    def _validated(self, x: np.ndarray, index: int, count: int) -> np.ndarray:
        """One input as a float32 channels-last batch, or a ``ValueError`` naming shapes."""
        where = f"input {index} " if count > 1 else ""
        if x.dtype == object or not (
            np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.bool_)
        ):
            images = f"The images for input {index}" if count > 1 else "The images"
            raise ValueError(f"{images} must be numeric arrays, got dtype {x.dtype}.")
        received = tuple(x.shape)
        entry = self._entry_layer() if index == 0 else None
        if entry is not None and _is_conv(entry[1]):
            name, module = entry
            channels, rank = int(module.in_channels), len(module.kernel_size) + 2
            if x.ndim == rank - 1:
                x = x[None]
            spatial = ", ".join("HWD"[i] for i in range(rank - 2))
            layout = f"(N, {channels}, {spatial}) or ({channels}, {spatial})"
            if x.ndim != rank or x.shape[1] != channels:
                hint = ""
                if x.ndim == rank and x.shape[-1] == channels:
                    hint = (
                        " They look channels-last (display images): pass a preprocess that "
                        "maps them to model input, or move the channel axis first "
                        "(x.permute(0, 3, 1, 2))."
                    )
                raise ValueError(
                    f"The model's first layer {name!r} ({type(module).__name__}) takes "
                    f"{channels} input channels, so images go in channels-first as {layout}, "
                    f"but received an array of shape {received}.{hint}"
                )
            x = np.moveaxis(x, 1, -1)
        elif entry is not None:
            name, module = entry
            features = int(module.in_features)
            if x.ndim == 1:
                x = x[None]
            # A flattened image (N, C, H, W) -> (N, C * H * W) feeds a linear layer too.
            if x.ndim < 2 or features not in (x.shape[-1], int(np.prod(x.shape[1:]))):
                raise ValueError(
                    f"The model's first layer {name!r} ({type(module).__name__}) takes "
                    f"{features} input features, (N, ..., {features}) or an (N, ...) whose "
                    f"sample has {features} values, but received an array of shape "
                    f"{received}."
                )
            if x.ndim == 4:
                x = np.moveaxis(x, 1, -1)
        elif self._seen_inputs is not None and index < len(self._seen_inputs):
            seen = self._seen_inputs[index]
            if x.ndim == len(seen) - 1:
                x = x[None]
            if x.ndim == 4:
                x = np.moveaxis(x, 1, -1)
            if x.ndim != len(seen) or (seen[-1] is not None and x.shape[-1] != seen[-1]):
                raise ValueError(
                    f"The model's {where or 'input '}takes arrays shaped like "
                    f"{_fmt(seen)} channels-last, but received an array of shape {received}."
                )
        elif x.ndim == 4:
            x = np.moveaxis(x, 1, -1)
        if x.shape[0] == 0:
            raise ValueError("The images array is empty (no samples).")
        return np.ascontiguousarray(x, dtype=np.float32)

    def display_images(self, images: Any, preprocess: Any | None) -> np.ndarray:
        """uint8 ``(N, H, W, C)``: the images as given when there is a ``preprocess``,
        otherwise the model input moved channels-last and min-max scaled per image."""
        if preprocess is not None:
            return _display_images(_as_array(images), self._n_inputs(), 3)
        raw = as_batches(_as_array(images), self._n_inputs())[0]
        x = self.model_inputs(images, None)[0]
        if raw.dtype == np.uint8:
            return x.astype(np.uint8)
        axes = tuple(range(1, x.ndim))
        finite = np.where(np.isfinite(x), x, np.nan)
        lo = np.nanmin(finite, axis=axes, keepdims=True)
        span = np.nanmax(finite, axis=axes, keepdims=True) - lo
        scaled = np.where(span > 0, (x - lo) / np.where(span > 0, span, 1), 0)
        return (np.nan_to_num(np.clip(scaled, 0, 1)) * 255 + 0.5).astype(np.uint8)

    def _tensors(
        self, inputs: Sequence[np.ndarray], modules: dict[str, Any] | None = None
    ) -> list[torch.Tensor]:
        """Channels-last numpy batches as the model takes them: channels-first for a conv
        model, on its device, in its dtype."""
        device, dtype = self._device_dtype()
        entry = self._entry_layer(modules)
        conv = entry is not None and _is_conv(entry[1])
        out = []
        for x in inputs:
            a = np.asarray(x)
            if a.ndim == 4 or (conv and a.ndim >= 3):
                a = np.moveaxis(a, -1, 1)
            b = np.ascontiguousarray(a, dtype=np.float32)
            if np.shares_memory(b, x):  # an in-place op of the model must not reach the caller
                b = b.copy()
            out.append(torch.from_numpy(b).to(device, dtype))
        return out

    # ------------------------------------------------------------ the passes
    @contextmanager
    def _pass(
        self, modules: dict[str, Any], *, many: bool = False
    ) -> Iterator[Callable[[nn.Module, Callable[..., Any]], None]]:
        """Inference mode for one pass; yields ``hook(module, fn)`` to add forward hooks.

        Every hook is removed and every module's own ``training`` flag put back on exit,
        whatever escapes.

        With ``many`` (a pass that records most modules) the hooks are not registered one
        by one on their modules (a handle each, set up and torn down on every pass: a
        millisecond for EfficientNet's 180 modules) but dispatched from one global forward
        hook (``torch.nn.modules.module.register_module_forward_hook``).  A module that has
        forward hooks of its own still gets ours registered on it, after its own: global
        hooks run before a module's hooks, and what we record must be what the module hands
        on, as without ``many``.
        """
        model = self.model
        handles: list[Any] = []
        owner = threading.get_ident()
        dispatched: dict[nn.Module, list[Callable[..., Any]]] = {}

        def dispatch(m: nn.Module, args: Any, output: Any) -> Any:
            # Every module of the process calls this while the pass runs: only ours count,
            # and only on this thread (the user may call the model from another one
            # meanwhile; the explorer computes on a worker thread).
            fns = dispatched.get(m)
            if fns is None or threading.get_ident() != owner:
                return None
            replaced = None
            for fn in fns:  # as torch runs a module's hooks: each sees the one before's output
                result = fn(m, args, output)
                if result is not None:
                    output = replaced = result
            return replaced

        def hook(module: nn.Module, fn: Callable[..., Any]) -> None:
            if many and not module._forward_hooks:
                if not dispatched:
                    handles.append(nn.modules.module.register_module_forward_hook(dispatch))
                dispatched.setdefault(module, []).append(fn)
                return

            def ours_only(m: nn.Module, args: Any, output: Any) -> Any:
                # The user may call the model from another thread meanwhile (the explorer
                # computes on a worker thread): that pass is none of our business.
                return fn(m, args, output) if threading.get_ident() == owner else None

            handles.append(module.register_forward_hook(ours_only))

        with self._lock:
            modes = [(m, m.training) for m in (model, *modules.values())]
            try:
                if any(mode for _, mode in modes):
                    model.eval()  # through train(), which a module may override
                yield hook
            finally:
                for handle in handles:
                    handle.remove()
                for module, mode in modes:
                    if module.training != mode:
                        module.training = mode

    def _run(self, tensors: list[torch.Tensor]) -> Any:
        try:
            return self._call(tensors)
        except _StopForward:
            return None

    def _call(self, tensors: list[torch.Tensor]) -> Any:
        """``model(*tensors)``; torch's own shape errors (a ``RuntimeError`` naming torch's
        layout, "mat1 and mat2 shapes cannot be multiplied") come back as a ``ValueError``
        naming the shapes the model was given: on the first pass, and on any pass whose
        samples are shaped otherwise than the first's.  A model's own ``RuntimeError`` on
        inputs shaped as those it ran on goes up as it is."""
        try:
            return self.model(*tensors)
        except torch.cuda.OutOfMemoryError:  # torch.OutOfMemoryError since 2.5: the same class
            raise
        except RuntimeError as error:
            shapes_ran = self._shapes_ran
            if shapes_ran is not None and shapes_ran == [tuple(t.shape[1:]) for t in tensors]:
                raise
            shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
            raise ValueError(
                f"The model cannot run on inputs of shape {shapes} (channels-first, as it "
                f"takes them): {error}"
            ) from error

    def _probe(self, batches: Sequence[np.ndarray]) -> None:
        """The first pass (one sample): output shapes and call counts of every module, and
        which outputs an in-place op changes later in the pass."""
        if self._calls is not None:
            return
        modules = self._modules()
        calls: dict[str, list[_Shape | None]] = {name: [] for name in modules}
        outputs: list[tuple[str, torch.Tensor, int]] = []
        # The conv/linear modules reached, in order, and whether the first input went into
        # each as it is (in a model with several inputs the first one reached may take
        # another input).
        order: list[tuple[str, bool]] = []
        tensors = self._tensors([b[:1] for b in batches], modules)
        with self._pass(modules, many=True) as hook, torch.no_grad():
            for name, module in modules.items():

                def record(m: nn.Module, args: Any, output: Any, name: str = name) -> None:
                    out = _first_output(output)
                    calls[name].append(_shape_of(out))
                    if isinstance(out, torch.Tensor):
                        outputs.append((name, out.detach(), out._version))
                    if _is_conv(m) or isinstance(m, nn.Linear):
                        order.append((name, any(a is tensors[0] for a in args)))

                hook(module, record)
            output = _first_output(self._run(tensors))
        self._shapes_ran = [tuple(t.shape[1:]) for t in tensors]
        self._overwritten.update(name for name, t, version in outputs if t._version != version)
        self._output_shape = _shape_of(output)
        self._calls = calls
        fed = [name for name, first in order if first]
        self._entry = fed[0] if fed else order[0][0] if order else None
        self._seen_inputs = [(None, *(None,) * (b.ndim - 2), b.shape[-1]) for b in batches]
        self._probe_shapes = [(1, *b.shape[1:]) for b in batches]
        self._layers = None

    def example_shapes(self) -> list[tuple[int, ...]] | None:
        """Channels-last shapes of one sample of each input of the first pass (the images
        this model was first given), or None before any pass."""
        return None if self._probe_shapes is None else list(self._probe_shapes)

    def probe_like(self, other: Any) -> None:
        """Make the first pass, if it has not run, on zeros shaped like ``other``'s first
        pass (another adapter of a model of the same architecture).

        A module called ``k`` times is listed as ``k`` rows only once a pass counted its
        calls: a baseline model that never ran forward lists a shared module once, the model
        that ran lists ``"name#2"``...  Comparing the two needs both passes.  Nothing happens
        when this pass already ran or ``other``'s did not.
        """
        shapes = (
            other.example_shapes() if callable(getattr(other, "example_shapes", None)) else None
        )
        if self._calls is not None or not shapes:
            return
        self._probe([np.zeros(shape, np.float32).view(ModelInput) for shape in shapes])

    def _resolve(self, name: str, modules: dict[str, Any] | None = None) -> tuple[str, Any, int]:
        """``(module name, module, call)`` of a layer name (call 1 for the plain name)."""
        modules = self._modules() if modules is None else modules
        if name in modules:
            return name, modules[name], 1
        base, mark, number = name.rpartition(CALL_MARK)
        if mark and number.isdigit() and int(number) >= 2 and base in modules:
            return base, modules[base], int(number)
        resolve_layer(self.list_layers(), name)  # raises, naming close matches
        raise KeyError(name)  # pragma: no cover - resolve_layer found a name we do not have

    def _record(
        self,
        hook: Callable[[nn.Module, Callable[..., Any]], None],
        names: Sequence[str],
        keep: Callable[[str, str, Any, Any], Any],
        stop_when_done: bool,
        modules: dict[str, Any] | None = None,
    ) -> None:
        """Hooks that call ``keep(name, module name, args, output)`` on the wanted call of
        each named layer; what ``keep`` returns replaces the output when not None.  With
        ``stop_when_done`` the pass stops once every layer was recorded."""
        modules = self._modules() if modules is None else modules
        wanted: dict[nn.Module, tuple[str, dict[int, list[str]]]] = {}
        for name in names:
            base, module, call = self._resolve(name, modules)
            wanted.setdefault(module, (base, {}))[1].setdefault(call, []).append(name)
        remaining = len(names)

        for module, (base, by_call) in wanted.items():
            count = [0]

            def on_output(
                m: nn.Module,
                args: Any,
                output: Any,
                base: str = base,
                by_call: dict[int, list[str]] = by_call,
                count: list[int] = count,
            ) -> Any:
                nonlocal remaining
                count[0] += 1
                replacement = None
                for name in by_call.get(count[0], ()):
                    replacement = keep(name, base, args, output)
                    remaining -= 1
                if stop_when_done and remaining == 0:
                    raise _StopForward
                return replacement

            hook(module, on_output)

    @staticmethod
    def _not_reached(names: Sequence[str], got: Any) -> None:
        missing = [n for n in names if n not in got]
        if missing:
            raise ValueError(
                f"Layer(s) {missing} are not reached by a forward pass of these inputs (a "
                "module the forward pass does not call, or a call it does not make)."
            )

    def activations(
        self, inputs: Sequence[np.ndarray], names: Sequence[str]
    ) -> dict[str, np.ndarray]:
        """Outputs of the named layers from one forward pass (stopped after the last).

        A layer the pass does not reach is left out of the result: a module the forward pass
        never calls (a ``ModuleList``, an auxiliary head unused in eval mode), a call number
        it does not make, or a module whose output is no tensor.  (Keras models have none.)
        """
        self._probe(inputs)
        modules = self._modules()
        calls = self._calls or {}
        reached = []
        for name in dict.fromkeys(names):
            base, _, call = self._resolve(name, modules)
            if base not in calls or len(calls[base]) >= call:
                reached.append(name)
        values = self._recorded_outputs(inputs, reached, modules)
        return {name: _numpy_channels_last(values[name]) for name in reached if name in values}

    def recorded_activations(self, inputs: Sequence[np.ndarray], names: Sequence[str]) -> Recording:
        """``activations`` as a ``Recording``: each output is copied when read, so that the
        pass's own outputs are freed once it settles and the next pass reuses their memory."""
        outputs = self.activations(inputs, names)
        return Recording(outputs, np.copy)

    def _recorded_outputs(
        self, inputs: Sequence[np.ndarray], names: Sequence[str], modules: dict[str, Any]
    ) -> dict[str, torch.Tensor]:
        """Outputs of one pass, with no graph, safe from the model's in-place ops.

        A reference costs no copy; a copy costs memory traffic on top of the memory every
        kept output needs anyway (fresh pages the kernel maps, since each output stays alive:
        the floor of any recording, ``benchmarks/bench_torch.py``).  An output is copied
        in its hook when the first pass saw an in-place op change it later (``ReLU(inplace=
        True)`` after a batch norm), and after the pass when it shares memory with a
        parameter or buffer.  Every other output is checked after the pass: if an in-place
        op changed it after all (the model took another path), the pass runs again copying
        it.
        """
        overwritten = self._overwritten
        values: dict[str, torch.Tensor] = {}
        versions: dict[str, tuple[str, int]] = {}

        def keep(name: str, base: str, args: Any, output: Any) -> None:
            # As little as can be done here: this runs once per module, between the model's
            # own kernels, with the caches cold (a microsecond here costs several there).
            out = output if type(output) is torch.Tensor else _first_output(output)
            if not isinstance(out, torch.Tensor):
                return
            if base in overwritten:
                values[name] = out.detach().clone()
            else:
                values[name], versions[name] = out, (base, out._version)

        with self._pass(modules, many=len(names) > MANY_HOOKS) as hook, torch.no_grad():
            self._record(hook, names, keep, stop_when_done=True, modules=modules)
            if names:
                self._run(self._tensors(inputs, modules))
        changed = [n for n, (_, v) in versions.items() if values[n]._version != v]
        if versions:
            # An output sharing memory with a parameter or buffer (a module returning its
            # weight, or a view of it) would change when the user trains: copied.  Every
            # in-place op bumps a tensor's version, its metadata's too (``unsqueeze_``), so
            # one kept as it is (not even detached: no graph under ``no_grad``) is exactly
            # what the module handed on unless ``changed`` names it.
            weights = _storages(self.model, modules)
            for name in versions:
                out = values[name]
                if out.requires_grad:  # a model that turns gradients on inside
                    out = values[name] = out.detach()
                if out.untyped_storage().data_ptr() in weights:
                    values[name] = out.clone()
        if changed:
            self._overwritten.update(versions[n][0] for n in changed)
            values.update(self._recorded_outputs(inputs, changed, modules))
        return values

    def _forward_logits(
        self,
        hook: Callable[[nn.Module, Callable[..., Any]], None],
        tensors: list[torch.Tensor],
        modules: dict[str, Any],
    ) -> torch.Tensor:
        """The model's pre-softmax class scores (inside a pass)."""
        seen: list[tuple[torch.Tensor, torch.Tensor]] = []

        def softmax_input(m: nn.Module, args: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor) and args:
                seen.append((output, args[0]))

        for module in modules.values():
            if isinstance(module, (nn.Softmax, nn.LogSoftmax)):
                hook(module, softmax_input)
        output = _first_output(self._call(tensors))
        if not isinstance(output, torch.Tensor):
            raise ValueError(
                f"The model returns a {type(output).__name__}, not a tensor of class scores."
            )
        return next((scores for probs, scores in seen if probs is output), output)

    def logits(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """Pre-softmax class scores of the (first) output, (N, classes)."""
        self._probe(inputs)
        modules = self._modules()
        with self._pass(modules) as hook, torch.no_grad():
            scores = self._forward_logits(hook, self._tensors(inputs, modules), modules)
        if scores.ndim != 2:
            raise not_class_scores(scores.shape)
        return _numpy(scores.float())

    def class_gradients(
        self, inputs: Sequence[np.ndarray], layer: str | None, class_index: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """d(class logit)/d(target) with the target's value, the logits and the classes.

        The target is the named layer's output, or the (first) model input when ``layer`` is
        None, channels-last either way.  ``class_index`` holds one class per sample, -1
        meaning that sample's top class.  One forward and one backward pass (to the target
        only).
        """
        self._probe(inputs)
        target: dict[str, torch.Tensor] = {}

        def keep(name: str, base: str, args: Any, output: Any) -> torch.Tensor:
            if not isinstance(output, torch.Tensor) or not output.is_floating_point():
                raise ValueError(
                    f"The layer {name!r} outputs a {type(output).__name__}, not one float "
                    "tensor: there is no map to explain."
                )
            out = output
            if not out.requires_grad:  # a part of the model that no gradient reaches
                out = out.detach().requires_grad_(True)
            elif any(out is a for a in args):
                # nn.Identity (and eval-mode dropout) hand back their input itself, whose
                # gradient would also collect every other use of that input.
                out = out.clone()
            # The rest of the model gets a copy: in-place ops downstream (ReLU(inplace=True))
            # would otherwise change what is differentiated.
            target[name] = out
            return out.clone()

        modules = self._modules()
        tensors = self._tensors(inputs, modules)
        # The input needs a gradient only when it is the target (keep() gives a layer of a
        # frozen model its own); the model gets a copy, so an in-place op on it is allowed.
        leaf = tensors[0].requires_grad_(layer is None)
        with self._pass(modules) as hook, torch.enable_grad():
            if layer is not None:
                self._record(hook, [layer], keep, stop_when_done=False, modules=modules)
            logits = self._forward_logits(hook, [leaf.clone(), *tensors[1:]], modules)
            if layer is not None:
                self._not_reached([layer], target)
            if logits.ndim != 2:
                raise not_class_scores(logits.shape)
            requested = torch.as_tensor(np.asarray(class_index), dtype=torch.long)
            requested = requested.to(logits.device)
            bad = requested[requested >= logits.shape[-1]]
            if bad.numel():
                raise ValueError(
                    f"class_index {int(bad[0])} is out of range: the model has classes 0 to "
                    f"{logits.shape[-1] - 1}."
                )
            chosen = torch.where(requested < 0, logits.argmax(dim=-1), requested)
            # Samples are independent in eval mode: the gradient of the sum is each sample's.
            score = logits.gather(1, chosen[:, None]).sum()
            wrt = leaf if layer is None else target[layer]
            (grad,) = torch.autograd.grad(score, [wrt], allow_unused=True)
        if grad is None:
            grad = torch.zeros_like(wrt)
        value = np.array(inputs[0]) if layer is None else _numpy(_channels_last(wrt))
        return (
            np.ascontiguousarray(value, dtype=np.float32),
            _numpy(_channels_last(grad)),
            _numpy(logits.detach().float()),
            _numpy(chosen).astype(np.int32),
        )

    def filter_gradients(
        self,
        inputs: Sequence[np.ndarray],
        layer: str,
        filters: np.ndarray,
        input_index: int = 0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean activation of one filter per sample and its gradient w.r.t. one input.

        Sample ``i`` scores ``mean(output[i, ..., filters[i]])`` in channels-last terms (the
        spatial mean for a conv layer); the gradient is with respect to
        ``inputs[input_index]`` (see :meth:`layer_input`).  The forward pass stops after the
        layer.
        """
        self._probe(inputs)
        chosen = torch.as_tensor(np.asarray(filters), dtype=torch.long)
        values, (grad,), (leaf,) = self._filter_pass(inputs, layer, chosen, [input_index])
        grad = torch.zeros_like(leaf) if grad is None else grad
        return _numpy(values.detach()), _numpy(_channels_last(grad))

    def _filter_pass(
        self,
        inputs: Sequence[np.ndarray],
        layer: str,
        chosen: torch.Tensor,
        wrt: Sequence[int],
    ) -> tuple[torch.Tensor, Sequence[torch.Tensor | None], list[torch.Tensor]]:
        """The picked filters' means, their gradients w.r.t. the inputs ``wrt`` (None where
        an input does not reach the layer) and those inputs, from a pass stopped after the
        layer."""
        picked: dict[str, torch.Tensor] = {}

        def keep(name: str, base: str, args: Any, output: Any) -> None:
            out = _first_output(output)
            if not isinstance(out, torch.Tensor) or out.ndim < 2:
                raise ValueError(f"The layer {name!r} has no channel axis to pick filters from.")
            channels = out if out.ndim != 4 else out.movedim(1, -1)
            index = chosen.to(out.device)
            rows = torch.arange(len(index), device=out.device)
            values = channels[rows, ..., index]  # (N, ...) spatial
            # Computed here, before anything downstream can change ``out`` in place.
            picked[name] = values.reshape(len(index), -1).float().mean(dim=1)

        modules = self._modules()
        tensors = self._tensors(inputs, modules)
        leaves = [t.requires_grad_(i in wrt) for i, t in enumerate(tensors)]
        with self._pass(modules) as hook, torch.enable_grad():
            self._record(hook, [layer], keep, stop_when_done=True, modules=modules)
            # The model gets copies, so that an in-place op on an input is allowed.
            self._run([t.clone() for t in leaves])
            self._not_reached([layer], picked)
            values = picked[layer]
            targets = [leaves[i] for i in wrt]
            grads: Sequence[torch.Tensor | None] = [None] * len(targets)
            if values.requires_grad:
                grads = torch.autograd.grad(values.sum(), targets, allow_unused=True)
        return values, grads, targets

    def layer_input(self, name: str) -> int:
        """The index of the first model input that the layer's output depends on.

        Found from the gradients of one pass on zeros shaped like the first pass's inputs
        (so at least one pass must have run for a model with several inputs).
        """
        if self._n_inputs() == 1:
            return 0
        with self._lock:
            if name not in self._connected:
                if self._probe_shapes is None:
                    raise ValueError(
                        f"This model takes {self._n_inputs()} inputs and has not seen images "
                        "yet, so which of them reaches the layer, and the size of the others, "
                        "is unknown: give the model images first (LayerExplorer(model, "
                        "images), or any function that takes images, such as "
                        "activations(model, images, layers))."
                    )
                zeros = [np.zeros(shape, np.float32) for shape in self._probe_shapes]
                chosen = torch.zeros(1, dtype=torch.long)
                _, grads, _ = self._filter_pass(zeros, name, chosen, range(len(zeros)))
                # The graph decides, not the values (a ReLU may be flat on zeros): an input
                # that does not reach the layer gets no gradient at all.
                self._connected[name] = [g is not None for g in grads]
            connected = self._connected[name]
        return connected.index(True) if True in connected else 0

    # ----------------------------------------------------------------- layers
    def n_classes(self) -> int | None:
        """Classes of the (first) output, known once the first pass ran (else None)."""
        shape = self._output_shape
        return int(shape[1]) if shape is not None and len(shape) == 2 and shape[1] else None

    def graph(self, inputs: Sequence[np.ndarray] | None) -> tuple[list[Any], list[Any], str, str]:
        """``(nodes, edges, source, note)``: traced with ``torch.fx``, or recorded from a pass
        of ``inputs`` (channels-last; see ``adapters/_torch_graph.py``)."""
        from ._torch_graph import torch_graph

        example = None if inputs is None else self._tensors(inputs)
        nodes, edges, source, note = torch_graph(self.model, example)
        return list(nodes), list(edges), source, note

    def list_layers(self) -> list[LayerInfo]:
        with self._lock:
            if self._layers is None:
                self._layers = self._collect()
            return list(self._layers)

    def _collect(self) -> list[LayerInfo]:
        calls = self._calls or {}
        infos: list[LayerInfo] = []
        for name, module in self._modules().items():
            own = next(module.parameters(recurse=False), None) is not None
            container = next(module.children(), None) is not None and not own
            parameters = list(module.parameters())
            params = sum(p.numel() for p in parameters if not _is_lazy(p))
            trainable = any(p.requires_grad for p in parameters) if parameters else True
            kind = "model" if container else kind_of(type(module).__name__)
            parent = name.rpartition(".")[0] or None
            shapes = calls.get(name) or [None]
            for call, shape in enumerate(shapes, start=1):
                infos.append(
                    LayerInfo(
                        name=name if call == 1 else f"{name}{CALL_MARK}{call}",
                        type=type(module).__name__,
                        output_shape=shape,
                        params=params if call == 1 else 0,
                        trainable=trainable,
                        kind=kind,
                        parent=parent,
                    )
                )
        return infos

    def is_depthwise(self, name: str) -> bool:
        _, module, _ = self._resolve(name)
        return (
            _is_conv(module)
            and not _is_transposed(module)
            and module.groups > 1
            and module.groups == module.in_channels
        )

    def layer_weights(self, name: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Kernel channels-last and bias: conv ``(kh, kw, in / groups, out)``, depthwise
        ``(kh, kw, C, multiplier)``, transposed conv ``(kh, kw, in, out / groups)``, linear
        ``(in, out)``."""
        _, module, _ = self._resolve(name)
        weight = getattr(module, "weight", None)
        layered = _is_conv(module) or isinstance(module, nn.Linear)
        if not (isinstance(weight, torch.Tensor) and layered) or _is_lazy(weight):
            raise ValueError(
                Message(
                    "no_weights",
                    f"The layer {name!r} ({type(module).__name__}) has no weights to show "
                    "(only convolutions and linear layers have kernels).",
                    layer=repr(name),
                    type=type(module).__name__,
                )
            )
        w = weight.detach()
        spatial = list(range(2, w.ndim))
        if _is_transposed(module):  # (in, out / g, *k) -> (*k, in, out / g)
            kernel = w.permute(*spatial, 0, 1)
        elif self.is_depthwise(name):  # (C * m, 1, *k) -> (*k, C, m), Keras's layout
            c = int(module.in_channels)
            kernel = w.reshape(c, w.shape[0] // c, *w.shape[2:]).permute(*spatial, 0, 1)
        elif _is_conv(module):  # (out, in / g, *k) -> (*k, in / g, out)
            kernel = w.permute(*spatial, 1, 0)
        else:  # linear (out, in) -> (in, out)
            kernel = w.T
        bias = getattr(module, "bias", None)
        return (
            np.array(_numpy(kernel.float())),
            None if not isinstance(bias, torch.Tensor) else np.array(_numpy(bias.float())),
        )

    def untrained_copy(self) -> Any:
        """A deep copy with every ``reset_parameters()`` called, seeded so that it is the
        same copy every time, inside ``torch.random.fork_rng`` so the global random state
        does not move.  The user's model is not touched."""
        model = self.model
        devices = sorted(
            {
                t.device.index or 0
                for t in (*model.parameters(), *model.buffers())
                if t.device.type == "cuda"
            }
        )
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            # Seed only the generators reset_parameters draws from (torch.manual_seed would
            # also queue a seed for CUDA devices not yet initialised, outside the fork).
            torch.random.default_generator.manual_seed(_UNTRAINED_SEED)
            for index in devices:
                torch.cuda.default_generators[index].manual_seed(_UNTRAINED_SEED)
            twin = copy.deepcopy(model)
            for module in twin.modules():
                reset = getattr(module, "reset_parameters", None)
                if callable(reset):
                    reset()
        if self._calls is not None:
            # The copy has the same modules and is called the same way: it lists the same
            # layers (calls "#2", ...) without a pass of its own.
            _INHERITED[twin] = {name: getattr(self, name) for name in _FIRST_PASS}
        return twin


def _storages(model: nn.Module, modules: dict[str, Any]) -> set[int]:
    """Addresses of the storages of every parameter and buffer of ``model`` (whose
    submodules are ``modules``), read from each module's own dictionaries (a third of the
    time of ``model.parameters()`` and ``model.buffers()``, which walk the tree again)."""
    return {
        t.untyped_storage().data_ptr()
        for m in (model, *modules.values())
        for t in (*m._parameters.values(), *m._buffers.values())
        if t is not None
    }


def _is_lazy(tensor: torch.Tensor) -> bool:
    return isinstance(tensor, nn.parameter.UninitializedParameter)
