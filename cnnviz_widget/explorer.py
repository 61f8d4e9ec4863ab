"""LayerExplorer: the widget.  Traits hold the selection; one worker thread computes.

The browser (or Python) changes ``layer``/``view``/``sample``; an observer gives the change
a request id and puts it in a one-slot mailbox, so a burst of clicks leaves only the last
selection to compute (no queue builds up).  The worker thread, never the kernel's shell
thread, computes and sends the image as a binary buffer tagged with the id; a result whose
id is no longer the newest is dropped.  One forward pass per sample fills an activation
cache shared by all layers.  ``docs/architecture.md`` tells the whole path.
"""

from __future__ import annotations

import base64
import logging
import os
import pathlib
import threading
import traceback
import weakref
from collections.abc import Sequence
from typing import Any, cast

import anywidget
import numpy as np
import traitlets

from . import _protocol as protocol
from ._layers import LayerInfo, resolve_layer
from ._messages import Message, message_of
from .render import thumbnail_png
from .views import VIEWS, Request, Session, ViewResult

_STATIC = pathlib.Path(__file__).parent / "static"
_log = logging.getLogger(__name__)
if not (_STATIC / "widget.js").exists():
    raise ImportError(
        f"The widget's frontend is not built ({_STATIC / 'widget.js'} is missing). Install the "
        "package with pip (it builds the frontend), or run `npm install && npm run build` in a "
        "source checkout."
    )


def _static(name: str) -> str | pathlib.Path:
    """The built file's text; its path only for ``ANYWIDGET_HMR=1`` development.

    anywidget watches a ``pathlib.Path`` and connects a callback per instance that holds
    the widget, so every explorer would stay alive after ``close()``.  Text (with a newline,
    so anywidget does not take it for a file name) is sent as it is.
    """
    if os.environ.get("ANYWIDGET_HMR") == "1":
        return _STATIC / name
    return (_STATIC / name).read_text(encoding="utf-8").rstrip("\n") + "\n"


#: Views, in tab order.
AVAILABLE_VIEWS: tuple[str, ...] = tuple(VIEWS)
LANGUAGES = ("en", "ko")
#: At most this many thumbnails are sent to the browser.
MAX_THUMBNAILS = 64
#: The most filters the Filters tab draws for one click.
MAX_FILTERS = 256
#: A selection not answered within this many seconds gets a ``pending`` message (the panel
#: dims the old picture and says it is computing).  A quicker answer goes alone: each message
#: is a frame through the kernel, the server and the page, which costs more than drawing a
#: small layer; one that comes just before the answer (a new sample's pass takes 40-70 ms on
#: EfficientNet-Lite0) makes the page redraw in the answer's way.  The panel shows a selection
#: it has no picture of as computing by itself, and dims the old picture only after its own
#: ``WAIT_MS`` (200 ms, js/src/panel.ts), so this stays below that.
PENDING_AFTER_S = 0.15
#: The worker keeps a new sample's outputs (``Session.settle``, a copy of every layer) once
#: no request has come for this many seconds after its picture was sent; a request that comes
#: meanwhile stops the copying (``benchmarks/bench_sample_flip.py``).
SETTLE_AFTER_S = 0.1
#: The ``snapshot`` trait (the last answer, for views rendered later and saved pages) goes to
#: the browser this long after the answer, once for a burst of answers: sent at once, its
#: copy of the picture would share the server and the page with the answer on its way.
SNAPSHOT_AFTER_S = 0.03
#: Once idle (SETTLE_AFTER_S after an answer) the worker draws the feature maps of this many
#: layers nearest the selected one, for the sample shown, so that stepping through the list
#: finds each picture drawn; a request that comes meanwhile goes first.  0: none.
DRAW_AHEAD_LAYERS = 8


class InvalidSelection(traitlets.TraitError, ValueError):
    """A trait value the explorer cannot show.  A ``ValueError`` for Python callers; a
    ``TraitError`` so that traitlets rolls a browser update back to the previous value."""


class InvalidLayer(InvalidSelection, KeyError):
    """A layer name the model does not have (also a ``KeyError``, as ``resolve_layer``'s)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class _Refusing(traitlets.TraitType):  # type: ignore[type-arg]
    """A user-settable trait: a value of the wrong type (``sample = "1"``) is refused with
    ``InvalidSelection``, a ``ValueError`` as the explorer's other refusals are, not only
    traitlets' ``TraitError``."""

    def validate(self, obj: Any, value: Any) -> Any:
        try:
            return super().validate(obj, value)  # type: ignore[misc]  # the next class has it
        except InvalidSelection:
            raise
        except traitlets.TraitError as error:
            raise InvalidSelection(str(error)) from None


class _Int(_Refusing, traitlets.Int):  # type: ignore[misc,type-arg]
    pass


class _Unicode(_Refusing, traitlets.Unicode):  # type: ignore[misc,type-arg]
    pass


class _Bool(_Refusing, traitlets.Bool):  # type: ignore[misc,type-arg]
    pass


class _LayerName(_Unicode):
    """A layer given by name or by its ``LayerInfo`` (stored as the name)."""

    def validate(self, obj: Any, value: Any) -> Any:
        return super().validate(obj, value.name if isinstance(value, LayerInfo) else value)


class _Idle:
    """What ``_Mailbox.take`` returns when the worker is only woken for its idle work."""


IDLE = _Idle()


class _Mailbox:
    """A one-slot queue: a newer request replaces the one not yet taken."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._request: Request | None = None
        self._poked = False
        self._closed = False

    def put(self, request: Request) -> None:
        with self._cond:
            self._request = request
            self._cond.notify()

    def poke(self) -> None:
        """Wake the worker for its idle work (an answer was sent by another thread)."""
        with self._cond:
            self._poked = True
            self._cond.notify()

    def take(self) -> Request | _Idle | None:
        """The next request, IDLE if the worker was only poked, None once closed."""
        with self._cond:
            while self._request is None and not self._poked and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            request, self._request, self._poked = self._request, None, False
            return IDLE if request is None else request

    def has_request(self) -> bool:
        """Whether a request waits (or the mailbox is closed): work in hand should yield."""
        return self._request is not None or self._closed

    def is_idle_for(self, seconds: float) -> bool:
        """Whether no request arrives within ``seconds`` (False at once if one is waiting)."""
        with self._cond:
            self._cond.wait_for(lambda: self._request is not None or self._closed, seconds)
            return self._request is None and not self._closed

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._request = None
            self._cond.notify_all()


def _work(mailbox: _Mailbox, explorer_ref: weakref.ref[LayerExplorer]) -> None:
    """The worker thread: it holds the explorer only while it computes (or keeps a sample's
    outputs), so a dropped explorer is collected (its finaliser closes the mailbox, which
    ends this loop)."""
    while (request := mailbox.take()) is not None:
        explorer = explorer_ref()
        if explorer is None:
            return
        if isinstance(request, Request) and not explorer._is_stale(request):
            explorer._serve(request)
        del explorer  # not held while waiting: a closed, dropped explorer is collected
        if mailbox.is_idle_for(SETTLE_AFTER_S):
            # Idle: keep a new sample's outputs (the picture drawn from them is sent, and
            # the page has had time to show it before this takes the CPU), then draw the
            # layers next to the selected one.  A request that comes meanwhile goes first:
            # the rest is done when the worker is idle again.
            explorer = explorer_ref()
            if explorer is None:
                return
            try:
                if explorer._session.settle(stop=mailbox.has_request):
                    explorer._draw_ahead(stop=mailbox.has_request)
            except Exception:  # MemoryError: the next pass of that sample runs again
                _log.debug("idle work failed:\n%s", traceback.format_exc())
            del explorer


class LayerExplorer(anywidget.AnyWidget):
    """An interactive panel over a CNN: its layers, and what each computes for an image.

    Parameters
    ----------
    model : keras.Model
        The network to explore.  It is never modified.
    images : array_like, optional
        Images as a person would display them (uint8 0-255 or float in [0, 1]), shaped
        like the model's input with or without the batch axis; a list of arrays for a
        model with several inputs.
    preprocess : callable, optional
        Maps ``images`` to model input.  Without it uint8 is cast to float32 unchanged.
    class_names : sequence of str, optional
        Names of the model's output classes, one per class (a ``ValueError`` otherwise,
        when the model's output is ``(N, classes)``).
    layer : str or LayerInfo, optional
        The layer selected first; by default the first convolution.
    view : str
        The tab shown first.
    baseline : "untrained" or keras.Model
        What the weights view compares against.
    lang : "en" or "ko"
        Language of the interface.
    dataset : optional
        Images the Examples tab searches for those that excite a channel most: an array of
        model inputs (or display images, with ``preprocess``), a ``tf.data.Dataset``, a torch
        ``DataLoader``, any re-iterable of batches, or a ``dask.array``.
    cache_bytes : int
        Memory for cached activations (least recently used samples are dropped).  A new
        sample's pass is held outside it for a moment, until its picture is sent and the
        worker keeps its layers in the cache.

    Examples
    --------
    >>> from cnnviz_widget import LayerExplorer
    >>> LayerExplorer(model, images, class_names=names)            # doctest: +SKIP
    >>> explorer.layer = "conv2d_1"                                 # doctest: +SKIP
    """

    _esm = _static("widget.js")
    _css = _static("widget.css")

    layers = traitlets.List(traitlets.Dict()).tag(sync=True)
    samples = traitlets.List(traitlets.Dict()).tag(sync=True)
    layer = _LayerName("").tag(sync=True, echo_update=False)
    view = _Unicode("activations").tag(sync=True, echo_update=False)
    views = traitlets.List(traitlets.Unicode()).tag(sync=True)
    sample = _Int(0).tag(sync=True, echo_update=False)
    lang = _Unicode("en").tag(sync=True)
    model_name = traitlets.Unicode("").tag(sync=True)
    class_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    #: The class explained by Grad-CAM and saliency; -1 is each sample's top prediction.
    class_index = _Int(-1).tag(sync=True, echo_update=False)
    cam_method = _Unicode("gradcam").tag(sync=True, echo_update=False)
    #: What the Saliency tab draws: "gradients", "smoothgrad" or "integrated" (gradients).
    saliency_method = _Unicode("gradients").tag(sync=True, echo_update=False)
    #: The Grad-CAM tab also draws the same map on the untrained copy (Adebayo et al. 2018).
    sanity = _Bool(False).tag(sync=True, echo_update=False)
    #: Input channel of the kernels drawn in the weights view, and RGB drawing of first layers.
    in_channel = _Int(0).tag(sync=True, echo_update=False)
    rgb = _Bool(False).tag(sync=True, echo_update=False)
    #: The filter/channel opened in the linked view (-1: none).
    channel = _Int(-1).tag(sync=True, echo_update=False)
    #: How many filters the Filters tab draws (the first ones of the layer).
    filter_count = _Int(16).tag(sync=True, echo_update=False)
    snapshot = traitlets.Dict().tag(sync=True)
    #: The model's real data flow (``model_graph(...).to_json()``), for the graph view.
    graph = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        model: Any,
        images: Any = None,
        *,
        preprocess: Any = None,
        class_names: Sequence[str] | None = None,
        layer: str | LayerInfo | None = None,
        view: str = "activations",
        baseline: Any = "untrained",
        lang: str = "en",
        dataset: Any = None,
        cache_bytes: int = 512 * 2**20,
    ) -> None:
        self._model = model
        self._latest = 0
        self._last_selection: tuple[Any, ...] | None = None
        self._id_lock = threading.Lock()
        # The newest request id answered (a picture, final or not, or an error), and the lock
        # that orders a late ``pending`` before its answer.
        self._answered = 0
        self._answer_lock = threading.Lock()
        self._snapshot_timer: threading.Timer | None = None
        #: How many layers the worker draws ahead (DRAW_AHEAD_LAYERS when it was created).
        self._draw_ahead_layers = DRAW_AHEAD_LAYERS
        self._session = Session.of(
            model,
            images,
            preprocess=preprocess,
            class_names=[] if class_names is None else [str(c) for c in class_names],
            baseline=baseline,
            cache_bytes=cache_bytes,
            is_stale=self._is_stale,
            on_progress=self._send_progress,
            dataset=dataset,
        )
        thumbnails = [
            {"thumbnail": thumbnail_png(image), "caption": f"#{i}"}
            for i, image in enumerate(self._session.display[:MAX_THUMBNAILS])
        ]
        self._input_notes = _input_notes(self._session.inputs)
        self._mailbox = _Mailbox()
        # The mailbox closes when the explorer is collected, so its worker thread ends too.
        weakref.finalize(self, self._mailbox.close)
        self._worker: threading.Thread | None = None
        self.last_error: BaseException | None = None

        first = self._default_layer() if layer is None else self.layer_info(layer).name
        super().__init__(
            layers=[info.to_json() for info in self._session.layers],
            graph=_graph_json(self._session),
            samples=thumbnails,
            views=list(AVAILABLE_VIEWS),
            model_name=str(getattr(model, "name", type(model).__name__)),
            class_names=self._session.class_names,
            # Validated here, before the widget opens its comm: a refused value leaves no
            # half-made explorer registered with the kernel, holding the model.
            lang=lang,
            view=view,
        )
        try:
            self.layer = first
            self.observe(
                self._on_selection,
                names=["layer", "view", "sample", *{o for v in VIEWS.values() for o in v.options}],
            )
            self.on_msg(self._on_message)
            # The first picture is drawn here, on the caller's thread, so it is in the widget's
            # state (saved notebooks, exported HTML) from the start.
            request = self._new_request()
            self._last_selection = _selection(request)
            self._serve(request, send=False)
            # Its sample's outputs are kept now, not on the way to the next sample's picture.
            self._session.settle()
        except BaseException:
            self.close()  # the caller gets no explorer to close: nothing of it stays open
            raise

    # ------------------------------------------------------------ validation
    # Every validator raises InvalidSelection: a TraitError, so that a value from the browser
    # (set_state) is rolled back to the previous one, and a ValueError for Python callers.
    @traitlets.validate("layer")
    def _valid_layer(self, proposal: Any) -> str:
        try:
            return self.layer_info(proposal["value"]).name
        except KeyError as error:
            raise InvalidLayer(_describe(error)) from None

    @traitlets.validate("view")
    def _valid_view(self, proposal: Any) -> str:
        value = proposal["value"]
        if value not in AVAILABLE_VIEWS:
            views = ", ".join(AVAILABLE_VIEWS)
            raise InvalidSelection(
                Message(
                    "unknown_view",
                    f"Unknown view {value!r}: this version shows {views}.",
                    value=repr(value),
                    views=views,
                )
            )
        return str(value)

    @traitlets.validate("sample")
    def _valid_sample(self, proposal: Any) -> int:
        value = int(proposal["value"])
        n = self.n_samples
        if (n and not 0 <= value < n) or (not n and value != 0):
            raise InvalidSelection(
                Message(
                    "sample_range",
                    f"sample must be between 0 and {n - 1}, got {value}.",
                    max=n - 1,
                    value=value,
                )
                if n
                else Message(
                    "sample_no_images",
                    f"There are no images (sample must be 0), got {value}.",
                    value=value,
                )
            )
        return value

    @traitlets.validate("cam_method")
    def _valid_cam_method(self, proposal: Any) -> str:
        from .methods.gradcam import METHODS

        if proposal["value"] not in METHODS:
            methods = ", ".join(METHODS)
            raise InvalidSelection(
                Message(
                    "cam_method",
                    f"cam_method must be one of {methods}, got {proposal['value']!r}.",
                    value=repr(proposal["value"]),
                    methods=methods,
                )
            )
        return str(proposal["value"])

    @traitlets.validate("saliency_method")
    def _valid_saliency_method(self, proposal: Any) -> str:
        from .views.saliency import METHODS as SALIENCY_METHODS

        if proposal["value"] not in SALIENCY_METHODS:
            methods = ", ".join(SALIENCY_METHODS)
            raise InvalidSelection(
                Message(
                    "saliency_method",
                    f"saliency_method must be one of {methods}, got {proposal['value']!r}.",
                    value=repr(proposal["value"]),
                    methods=methods,
                )
            )
        return str(proposal["value"])

    @traitlets.validate("class_index")
    def _valid_class_index(self, proposal: Any) -> int:
        value = int(proposal["value"])
        count = self._class_count()
        if value < -1 or (count is not None and value >= count):
            top = count - 1 if count is not None else "the number of classes"
            raise InvalidSelection(
                Message(
                    "class_index_range",
                    f"class_index must be -1 (top class) or 0..{top}, got {value}.",
                    max=top,
                    value=value,
                )
            )
        return value

    @traitlets.validate("in_channel")
    def _valid_in_channel(self, proposal: Any) -> int:
        value = int(proposal["value"])
        n_in = self._input_channels(self.layer) if self.layer else None
        if value < 0 or (n_in is not None and value >= n_in):
            if n_in is None:
                raise InvalidSelection(
                    Message(
                        "in_channel_negative",
                        f"in_channel must be an input channel (0 or more), got {value}.",
                        value=value,
                    )
                )
            raise InvalidSelection(
                Message(
                    "in_channel_range",
                    f"in_channel must be an input channel of {self.layer!r} (0..{n_in - 1}), "
                    f"got {value}.",
                    layer=repr(self.layer),
                    max=n_in - 1,
                    value=value,
                )
            )
        return value

    @traitlets.validate("channel")
    def _valid_channel(self, proposal: Any) -> int:
        value = int(proposal["value"])
        count = self._channel_count(self.layer) if self.layer else None
        if value < -1 or (count is not None and value >= count):
            if count is None:
                raise InvalidSelection(
                    Message(
                        "channel_negative",
                        f"channel must be -1 (none) or 0 or more, got {value}.",
                        value=value,
                    )
                )
            raise InvalidSelection(
                Message(
                    "channel_range",
                    f"channel must be -1 (none) or a channel of {self.layer!r} "
                    f"(0..{count - 1}), got {value}.",
                    layer=repr(self.layer),
                    max=count - 1,
                    value=value,
                )
            )
        return value

    @traitlets.validate("filter_count")
    def _valid_filter_count(self, proposal: Any) -> int:
        value = int(proposal["value"])
        if not 1 <= value <= MAX_FILTERS:
            raise InvalidSelection(
                Message(
                    "filter_count_range",
                    f"filter_count must be between 1 and {MAX_FILTERS}, got {value}.",
                    max=MAX_FILTERS,
                    value=value,
                )
            )
        return value

    @traitlets.validate("lang")
    def _valid_lang(self, proposal: Any) -> str:
        if proposal["value"] not in LANGUAGES:
            raise InvalidSelection(
                Message(
                    "lang",
                    f"lang must be one of {LANGUAGES}, got {proposal['value']!r}.",
                    value=repr(proposal["value"]),
                    langs=", ".join(LANGUAGES),
                )
            )
        return str(proposal["value"])

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """Apply a state update from the browser; a rejected value keeps the old one.

        traitlets rolls the whole update back when a validator raises; the browser is sent
        the values that stand and, in one line, why its value was refused.

        ipywidgets echoes a browser's change back (``echo_update``) before applying it.  The
        traits that choose what is drawn are tagged ``echo_update=False`` and echoed here,
        after the change is handled, with the values that stand: a picture drawn at once
        (one already cached) leaves the kernel ahead of the echo, one message sooner.
        """
        try:
            super().set_state(sync_data)
        except traitlets.TraitError as error:
            names = [name for name in sync_data if name in self.keys]
            self.send_state(names)
            for name in names:
                message = protocol.rejected(name, sync_data[name], _describe(error))
                self.send(message)
                break
        finally:
            self._echo_after(sync_data)

    def _echo_after(self, sync_data: dict[str, Any]) -> None:
        """The echo ipywidgets leaves to ``set_state`` (the browser that sent a change waits
        for it before it takes other browsers' echoes of that trait again)."""
        from ipywidgets.widgets import widget as ipywidget

        names = [
            name
            for name in sync_data
            if name in self.keys and self.trait_metadata(name, "echo_update", True) is False
        ]
        if names and ipywidget.JUPYTER_WIDGETS_ECHO:
            state = self.get_state(names)
            self._send({"method": "echo_update", "state": state, "buffer_paths": []})

    # --------------------------------------------------------------- public
    @property
    def model(self) -> Any:
        return self._model

    @property
    def session(self) -> Session:
        """What the views compute with (adapter, inputs, caches); see ``cnnviz_widget.views``."""
        return self._session

    @property
    def n_samples(self) -> int:
        return self._session.n_samples if hasattr(self, "_session") else 0

    def layer_info(self, layer: str | LayerInfo | None = None) -> LayerInfo:
        """The ``LayerInfo`` of ``layer`` (the selected one by default)."""
        return resolve_layer(self._session.layers, self.layer if layer is None else layer)

    def feature_maps(
        self, layer: str | LayerInfo | None = None, sample: int | None = None
    ) -> np.ndarray:
        """The activation the panel draws, for one sample (cached, no batch axis)."""
        name = self.layer_info(layer).name
        return self._session.layer_output(self.sample if sample is None else sample, name)

    def save_html(self, path: str | pathlib.Path, *, title: str | None = None) -> pathlib.Path:
        """Write the explorer as a standalone HTML page (no kernel, no network needed).

        The page carries the feature maps of every layer for the current sample and the
        view on screen; other views say they were not saved.
        """
        from ._html_export import standalone_html

        target = pathlib.Path(path)
        target.write_text(standalone_html(self, title), encoding="utf-8")
        return target

    def sidecar(self, title: str | None = None) -> Any:
        """Show the explorer in JupyterLab's right-hand side panel (needs ``sidecar``).

        Without the ``sidecar`` package it is displayed inline, with a message saying why.
        Returns the ``Sidecar`` (close it to close the panel), or None when shown inline.
        """
        from IPython.display import display

        try:
            from sidecar import Sidecar
        except ImportError:
            print(
                "The side panel needs the 'sidecar' package (pip install sidecar, then reload "
                "JupyterLab); showing the explorer here instead."
            )
            display(self)
            return None
        panel = Sidecar(title=title or f"cnnviz: {self.model_name}")
        with panel:
            display(self)
        return panel

    def __repr__(self) -> str:
        # The default widget repr lists every trait, thumbnails and PNG bytes included.
        return (
            f"LayerExplorer(model={self.model_name!r}, layers={len(self.layers)}, "
            f"samples={self.n_samples}, layer={self.layer!r}, view={self.view!r})"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # Static viewers (GitHub, nbviewer without widget state) show the last image.
        bundle = super()._repr_mimebundle_(**kwargs)
        pngs = self.snapshot.get("pngs") or [None]
        png = pngs[0]
        if bundle is not None and png:
            data, metadata = bundle
            data = {**data, "image/png": base64.b64encode(png).decode("ascii")}
            return data, metadata
        return bundle

    def refresh(self) -> None:
        """Forget cached activations and pictures and draw the current view again.

        Call it after changing the model's weights (training it further, ``set_weights``):
        the explorer caches what it computed, and cannot see the weights change.
        """
        self._session.clear()
        self._submit(force=True)

    @property
    def baseline(self) -> Any:
        """What the weights view compares against: ``"untrained"``, a model, or None."""
        return self._session.baseline

    @baseline.setter
    def baseline(self, value: Any) -> None:
        self._session.baseline = value
        if self.view == "weights":
            self._submit(force=True)

    def close(self) -> None:
        with getattr(self, "_id_lock", threading.Lock()):
            # Running work (Score-CAM, filter ascent) checks this id and stops.
            self._latest = getattr(self, "_latest", 0) + 1
        mailbox = getattr(self, "_mailbox", None)  # absent when __init__ raised early
        if mailbox is not None:
            mailbox.close()
        timer = getattr(self, "_snapshot_timer", None)
        if timer is not None:
            timer.cancel()
        session = getattr(self, "_session", None)
        if session is not None:
            session.clear()  # the caches hold arrays as big as the model's layers
        super().close()

    # ------------------------------------------------------------- requests
    def _default_layer(self) -> str:
        layers = self._session.layers
        for kinds in (("conv",), ("input", "model", "other")):
            for info in layers:
                if info.kind in kinds and info.is_spatial:
                    return info.name
        return layers[0].name if layers else ""

    def _class_count(self) -> int | None:
        from .methods import class_count

        count = class_count(self._session.adapter)
        if count is None and self.class_names:
            return len(self.class_names)
        return count

    def _channel_count(self, layer: str) -> int | None:
        """Channels (or units) of the layer's output, the last axis, when it is known."""
        try:
            shape = self.layer_info(layer).output_shape
        except KeyError:
            return None
        if not shape or len(shape) < 2 or not isinstance(shape[-1], int):
            return None
        return int(shape[-1])

    def _input_channels(self, layer: str) -> int | None:
        try:
            kernel, _ = self._session.adapter.layer_weights(layer)
        except (ValueError, KeyError):
            return None
        return int(kernel.shape[-2]) if kernel.ndim >= 3 else None

    def _new_request(self) -> Request:
        options = tuple((name, getattr(self, name)) for name in VIEWS[self.view].options)
        with self._id_lock:
            self._latest += 1
            return Request(self._latest, self.layer, self.view, self.sample, options)

    def _on_selection(self, change: Any) -> None:
        if change["name"] == "layer":
            # The linked view and the input channel belong to the layer they were chosen on.
            with self.hold_trait_notifications():
                self.channel, self.in_channel = -1, 0
        self._submit()

    def _on_message(self, widget: Any, content: Any, buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == protocol.REFRESH:
            self._submit(force=True)

    def _submit(self, *, force: bool = False) -> None:
        """Start computing the current selection, unless it is the one already asked for.

        Several traits changing together (a new layer resets its channel) notify one by
        one; only the first change of the selection starts a request.
        """
        selection = (self.layer, self.view, self.sample, _options(self))
        if not force and selection == self._last_selection:
            return
        self._last_selection = selection
        request = self._new_request()
        if self._serve_quick(request):
            return
        if PENDING_AFTER_S <= 0:
            self.send(protocol.pending(request))
        else:
            timer = threading.Timer(PENDING_AFTER_S, _announce, (weakref.ref(self), request))
            timer.daemon = True
            timer.start()
        self._start_worker()
        self._mailbox.put(request)

    def _start_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(
                target=_work,
                args=(self._mailbox, weakref.ref(self)),
                name="cnnviz-worker",
                daemon=True,
            )
            self._worker.start()

    def _draw_ahead(self, stop: Any = None) -> list[str]:
        """Feature maps of the layers next to the selected one, drawn while idle (see
        DRAW_AHEAD_LAYERS); the layers drawn."""
        if self.view != "activations":
            return []  # other views cost passes or gradients: only what is asked for
        return self._session.draw_ahead(self.sample, self.layer, self._draw_ahead_layers, stop)

    def _is_stale(self, request: Request) -> bool:
        return request.id != self._latest

    def _serve_quick(self, request: Request) -> bool:
        """Answer ``request`` here and now if it needs no pass through the model (a picture
        drawn before, feature maps of a sample already passed forward); whether it did.

        The thread that heard of the selection (the kernel's, for a click) answers at once:
        handing the request to the worker would cost a thread switch, and the worker may
        wait for the interpreter lock while this thread finishes, both more than drawing
        a small layer.  Everything else, and anything that fails here, goes to the worker.
        """
        try:
            # Beside the worker, which may still be busy with an older request (whose answer
            # will be dropped): both only read the session's caches, which lock themselves.
            result = self._session.compute_quick(request)
        except Exception:
            _log.debug("quick answer failed, the worker retries:\n%s", traceback.format_exc())
            return False
        if result is None:
            return False
        self._finish(request, result, send=True)
        if self._draw_ahead_layers > 0:
            self._start_worker()
            self._mailbox.poke()  # its idle work: the layers next to this one
        return True

    def _serve(self, request: Request, *, send: bool = True) -> None:
        """Compute one request and deliver it; errors become an error message."""
        try:
            result = self._session.compute(request)
        except Exception as error:
            if self._is_stale(request):
                return  # cancelled (Score-CAM stops early) or superseded
            self.last_error = error
            _log.debug("request %s failed:\n%s", request, traceback.format_exc())
            self._deliver(protocol.error(request, _describe(error)), None, send=send)
            return
        self._finish(request, result, send=send)

    def _finish(self, request: Request, result: ViewResult, *, send: bool) -> None:
        """Deliver ``result`` unless a newer request superseded ``request``."""
        if self._is_stale(request):
            return
        if self._input_notes:
            result = ViewResult(
                result.pictures, result.caption, self._input_notes + result.warnings, result.data
            )
        content, pngs = protocol.result(request, result, final=True)
        self._deliver(content, pngs, send=send)

    def _deliver(self, content: dict[str, Any], pngs: list[bytes] | None, *, send: bool) -> None:
        """Send a final answer (result or error) and keep it as the snapshot."""
        snapshot = protocol.snapshot(content, pngs)
        if not send:
            self.snapshot = snapshot
            return
        # The kernel's snapshot is set first (once the browser shows the answer, the kernel's
        # state says so too), but its sync to the browser, which carries the same PNGs, goes
        # after the message, SNAPSHOT_AFTER_S later: the panel draws from the message; the
        # snapshot serves views rendered later and saved pages.  Nothing observes `snapshot`,
        # so setting its value directly skips no observer.
        self._trait_values["snapshot"] = snapshot
        self._answer(content, pngs)
        self._sync_snapshot_later()

    def _sync_snapshot_later(self) -> None:
        """Send the ``snapshot`` trait SNAPSHOT_AFTER_S from now; a sync already due sends
        the newest value (it reads it when it goes)."""
        if SNAPSHOT_AFTER_S <= 0:
            self.send_state("snapshot")
            return
        with self._answer_lock:
            if self._snapshot_timer is not None:
                return
            timer = threading.Timer(SNAPSHOT_AFTER_S, _sync_snapshot, (weakref.ref(self),))
            timer.daemon = True
            self._snapshot_timer = timer
        timer.start()

    def _answer(self, content: dict[str, Any], pngs: list[bytes] | None) -> None:
        with self._answer_lock:
            self._answered = max(self._answered, int(content["id"]))
        self.send(content, buffers=pngs)

    def _announce(self, request: Request) -> None:
        """Send ``pending`` for ``request`` unless it was answered or superseded meanwhile."""
        with self._answer_lock:  # held while sending: an answer cannot overtake it
            if self._answered < request.id and not self._is_stale(request):
                self.send(protocol.pending(request))

    def _send_progress(self, request: Request, result: ViewResult) -> None:
        """Send a picture of a long computation that is still running (``final: false``)."""
        if not self._is_stale(request):
            content, pngs = protocol.result(request, result, final=False)
            self._answer(content, pngs)


def _announce(explorer_ref: weakref.ref[LayerExplorer], request: Request) -> None:
    explorer = explorer_ref()
    if explorer is not None:
        explorer._announce(request)


def _sync_snapshot(explorer_ref: weakref.ref[LayerExplorer]) -> None:
    explorer = explorer_ref()
    if explorer is None:
        return
    with explorer._answer_lock:
        explorer._snapshot_timer = None
    if explorer.comm is not None:  # closed meanwhile: nothing to sync
        explorer.send_state("snapshot")


def _graph_json(session: Session) -> dict[str, Any]:
    """The graph trait: the model's data flow, or, if it cannot be read, why not (the panel
    says so; nothing else depends on it)."""
    from .graph import ModelGraph

    example = session.sample_inputs(0) if session.n_samples else None
    try:
        nodes, edges, source, note = session.adapter.graph(example)
    except Exception as error:  # a graph that cannot be read must not cost the explorer
        _log.debug("model graph failed:\n%s", traceback.format_exc())
        return {"nodes": [], "edges": [], "source": "none", "note": _describe(error)}
    return ModelGraph(tuple(nodes), tuple(edges), cast(Any, source), note).to_json()


def _options(explorer: LayerExplorer) -> tuple[tuple[str, Any], ...]:
    return tuple((name, getattr(explorer, name)) for name in VIEWS[explorer.view].options)


def _selection(request: Request) -> tuple[Any, ...]:
    return (request.layer, request.view, request.sample, request.options)


def _input_notes(inputs: list[np.ndarray] | None) -> list[str]:
    """A warning for non-finite values in the images, shown with every picture."""
    from .render import Note

    if inputs is None:
        return []
    bad = sum(int((~np.isfinite(x)).sum()) for x in inputs)
    if not bad:
        return []
    text = f"the images hold {bad:,} NaN or infinite values: every picture is computed from them"
    return [Note("nonfinite_images", text, n=bad)]


def _describe(error: BaseException) -> str:
    return message_of(error)
