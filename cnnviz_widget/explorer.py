"""LayerExplorer: the widget.  Traits hold the selection; one worker thread computes.

The browser (or Python) changes ``layer``/``view``/``sample``; an observer gives the change
a request id and puts it in a one-slot mailbox, so a burst of clicks leaves only the last
selection to compute (no queue builds up).  The worker thread, never the kernel's shell
thread, computes and sends the image as a binary buffer tagged with the id; a result whose
id is no longer the newest is dropped.  One forward pass per sample fills an activation
cache shared by all layers.
"""

from __future__ import annotations

import base64
import logging
import pathlib
import threading
import traceback
from collections.abc import Sequence
from typing import Any

import anywidget
import numpy as np
import traitlets

from . import _protocol as protocol
from ._cache import BytesLRU
from ._inputs import Preprocess, display_images
from ._layers import LayerInfo, resolve_layer
from ._views import OPTIONS, RENDERERS, Request, ViewResult
from .adapters import adapter_for
from .render import note_codes, thumbnail_png

_STATIC = pathlib.Path(__file__).parent / "static"
_log = logging.getLogger(__name__)
if not (_STATIC / "widget.js").exists():
    raise ImportError(
        f"The widget's frontend is not built ({_STATIC / 'widget.js'} is missing). Install the "
        "package with pip (it builds the frontend), or run `npm install && npm run build` in a "
        "source checkout."
    )

#: Views, in tab order.
AVAILABLE_VIEWS: tuple[str, ...] = tuple(RENDERERS)
LANGUAGES = ("en", "ko")
#: At most this many thumbnails are sent to the browser.
MAX_THUMBNAILS = 64


class _Mailbox:
    """A one-slot queue: a newer request replaces the one not yet taken."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._request: Request | None = None
        self._closed = False

    def put(self, request: Request) -> None:
        with self._cond:
            self._request = request
            self._cond.notify()

    def take(self) -> Request | None:
        with self._cond:
            while self._request is None and not self._closed:
                self._cond.wait()
            request, self._request = self._request, None
            return request

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


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
        Names of the model's output classes.
    layer : str or LayerInfo, optional
        The layer selected first; by default the first convolution.
    view : str
        The tab shown first.
    baseline : "untrained" or keras.Model
        What the weights view compares against.
    lang : "en" or "ko"
        Language of the interface.
    cache_bytes : int
        Memory for cached activations (least recently used samples are dropped).

    Examples
    --------
    >>> from cnnviz_widget import LayerExplorer
    >>> LayerExplorer(model, images, class_names=names)            # doctest: +SKIP
    >>> explorer.layer = "conv2d_1"                                 # doctest: +SKIP
    """

    _esm = _STATIC / "widget.js"
    _css = _STATIC / "widget.css"

    layers = traitlets.List(traitlets.Dict()).tag(sync=True)
    samples = traitlets.List(traitlets.Dict()).tag(sync=True)
    layer = traitlets.Unicode("").tag(sync=True)
    view = traitlets.Unicode("activations").tag(sync=True)
    views = traitlets.List(traitlets.Unicode()).tag(sync=True)
    sample = traitlets.Int(0).tag(sync=True)
    lang = traitlets.Unicode("en").tag(sync=True)
    model_name = traitlets.Unicode("").tag(sync=True)
    class_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    #: The class explained by Grad-CAM and saliency; -1 is each sample's top prediction.
    class_index = traitlets.Int(-1).tag(sync=True)
    cam_method = traitlets.Unicode("gradcam").tag(sync=True)
    #: SmoothGrad instead of plain input gradients in the saliency view.
    smooth = traitlets.Bool(False).tag(sync=True)
    #: Input channel of the kernels drawn in the weights view, and RGB drawing of first layers.
    in_channel = traitlets.Int(0).tag(sync=True)
    rgb = traitlets.Bool(False).tag(sync=True)
    #: The filter/channel opened in the linked view (-1: none).
    channel = traitlets.Int(-1).tag(sync=True)
    #: How many filters the Filters tab draws (the first ones of the layer).
    filter_count = traitlets.Int(16).tag(sync=True)
    snapshot = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        model: Any,
        images: Any = None,
        *,
        preprocess: Preprocess | None = None,
        class_names: Sequence[str] | None = None,
        layer: str | LayerInfo | None = None,
        view: str = "activations",
        baseline: Any = "untrained",
        lang: str = "en",
        cache_bytes: int = 512 * 2**20,
    ) -> None:
        self._adapter = adapter_for(model)
        self._model = model
        self._baseline = baseline
        self._inputs: list[np.ndarray] | None = None
        self._display = np.zeros((0, 1, 1), np.uint8)
        thumbnails: list[dict[str, Any]] = []
        if images is not None:
            from .methods import prepare

            self._adapter, self._inputs = prepare(model, images, preprocess)  # ValueError if bad
            shapes = self._adapter.input_shapes()
            self._display = display_images(images, len(shapes), len(shapes[0]) - 1)
            thumbnails = [
                {"thumbnail": thumbnail_png(image), "caption": f"#{i}"}
                for i, image in enumerate(self._display[:MAX_THUMBNAILS])
            ]
        self._infos = self._adapter.list_layers()
        self._activations = BytesLRU(cache_bytes, lambda acts: sum(a.nbytes for a in acts.values()))
        self._results = BytesLRU(64 * 2**20, lambda result: result.nbytes)
        from .methods.gradcam import CamCache

        self._cams = CamCache()
        self._pass_lock = threading.Lock()
        self._mailbox = _Mailbox()
        self._worker: threading.Thread | None = None
        self._latest = 0
        self._id_lock = threading.Lock()
        self.last_error: BaseException | None = None

        first = self._default_layer() if layer is None else resolve_layer(self._infos, layer).name
        super().__init__(
            layers=[info.to_json() for info in self._infos],
            samples=thumbnails,
            views=list(AVAILABLE_VIEWS),
            model_name=str(getattr(model, "name", type(model).__name__)),
            class_names=[] if class_names is None else [str(c) for c in class_names],
        )
        self.lang = lang
        self.view = view
        self.layer = first
        self.observe(
            self._on_selection,
            names=["layer", "view", "sample", *{o for opts in OPTIONS.values() for o in opts}],
        )
        self.on_msg(self._on_message)
        # The first picture is drawn here, on the caller's thread, so it is in the widget's
        # state (saved notebooks, exported HTML) from the start.
        self._serve(self._new_request(), send=False)

    # ------------------------------------------------------------ validation
    @traitlets.validate("layer")
    def _valid_layer(self, proposal: Any) -> str:
        value = proposal["value"]
        if isinstance(value, LayerInfo):
            value = value.name
        return resolve_layer(self._infos, value).name

    @traitlets.validate("view")
    def _valid_view(self, proposal: Any) -> str:
        value = proposal["value"]
        if value not in AVAILABLE_VIEWS:
            raise ValueError(
                f"Unknown view {value!r}: this version shows {', '.join(AVAILABLE_VIEWS)}."
            )
        return str(value)

    @traitlets.validate("sample")
    def _valid_sample(self, proposal: Any) -> int:
        value = int(proposal["value"])
        n = self.n_samples
        if n and not 0 <= value < n:
            raise ValueError(f"sample must be between 0 and {n - 1}, got {value}.")
        return value

    @traitlets.validate("cam_method")
    def _valid_cam_method(self, proposal: Any) -> str:
        from .methods.gradcam import METHODS

        if proposal["value"] not in METHODS:
            raise ValueError(
                f"cam_method must be one of {', '.join(METHODS)}, got {proposal['value']!r}."
            )
        return str(proposal["value"])

    @traitlets.validate("class_index")
    def _valid_class_index(self, proposal: Any) -> int:
        value = int(proposal["value"])
        if value < -1 or (self.class_names and value >= len(self.class_names)):
            top = len(self.class_names) - 1 if self.class_names else "the number of classes"
            raise ValueError(f"class_index must be -1 (top class) or 0..{top}, got {value}.")
        return value

    @traitlets.validate("filter_count")
    def _valid_filter_count(self, proposal: Any) -> int:
        value = int(proposal["value"])
        if not 1 <= value <= 512:
            raise ValueError(f"filter_count must be between 1 and 512, got {value}.")
        return value

    @traitlets.validate("lang")
    def _valid_lang(self, proposal: Any) -> str:
        if proposal["value"] not in LANGUAGES:
            raise ValueError(f"lang must be one of {LANGUAGES}, got {proposal['value']!r}.")
        return str(proposal["value"])

    # --------------------------------------------------------------- public
    @property
    def model(self) -> Any:
        return self._model

    @property
    def n_samples(self) -> int:
        return 0 if self._inputs is None else int(self._inputs[0].shape[0])

    def layer_info(self, layer: str | LayerInfo | None = None) -> LayerInfo:
        """The ``LayerInfo`` of ``layer`` (the selected one by default)."""
        return resolve_layer(self._infos, self.layer if layer is None else layer)

    def feature_maps(
        self, layer: str | LayerInfo | None = None, sample: int | None = None
    ) -> np.ndarray:
        """The activation the panel draws, for one sample (cached, no batch axis)."""
        name = self.layer_info(layer).name
        return self._sample_activations(self.sample if sample is None else sample)[name][0]

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
        self._activations.clear()
        self._results.clear()
        self._cams.clear()
        self._submit()

    @property
    def baseline(self) -> Any:
        """What the weights view compares against: ``"untrained"``, a model, or None."""
        return self._baseline

    @baseline.setter
    def baseline(self, value: Any) -> None:
        self._baseline = value
        if hasattr(self, "_results"):  # the weights pictures show the old baseline
            self._results.clear()
            if self.view == "weights":
                self._submit()

    def close(self) -> None:
        with getattr(self, "_id_lock", threading.Lock()):
            # Running work (Score-CAM, filter ascent) checks this id and stops.
            self._latest = getattr(self, "_latest", 0) + 1
        mailbox = getattr(self, "_mailbox", None)  # absent when __init__ raised early
        if mailbox is not None:
            mailbox.close()
        super().close()

    # ------------------------------------------------------------- requests
    def _default_layer(self) -> str:
        for kinds in (("conv",), ("input", "model", "other")):
            for info in self._infos:
                if info.kind in kinds and info.is_spatial:
                    return info.name
        return self._infos[0].name if self._infos else ""

    def _new_request(self) -> Request:
        options = tuple((name, getattr(self, name)) for name in OPTIONS.get(self.view, ()))
        with self._id_lock:
            self._latest += 1
            return Request(self._latest, self.layer, self.view, self.sample, options)

    def _on_selection(self, change: Any) -> None:
        if change["name"] == "layer":
            # The linked view and the input channel belong to the layer they were chosen on.
            with self.hold_trait_notifications():
                self.channel, self.in_channel = -1, 0
        elif change["name"] not in ("view", "sample") and change["name"] not in OPTIONS.get(
            self.view, ()
        ):
            return  # an option of another tab: nothing on screen changes
        self._submit()

    def _on_message(self, widget: Any, content: Any, buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == protocol.REFRESH:
            self._submit()

    def _submit(self) -> None:
        request = self._new_request()
        self.send(request.message(protocol.PENDING))
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, name="cnnviz-worker", daemon=True)
            self._worker.start()
        self._mailbox.put(request)

    def _is_stale(self, request: Request) -> bool:
        return request.id != self._latest

    def _work(self) -> None:
        while (request := self._mailbox.take()) is not None:
            if not self._is_stale(request):
                self._serve(request)

    def _serve(self, request: Request, *, send: bool = True) -> None:
        """Compute one request and deliver it; errors become an error message."""
        try:
            result = self._result(request)
        except Exception as error:
            if self._is_stale(request):
                return  # cancelled (Score-CAM stops early) or superseded
            self.last_error = error
            _log.debug("request %s failed:\n%s", request, traceback.format_exc())
            message = {**request.message(protocol.ERROR), "message": _describe(error)}
            self.snapshot = message
            if send:
                self.send(message)
            return
        if self._is_stale(request):
            return
        content, pngs = self._message(request, result, final=True)
        # The snapshot first: once the browser shows the result, the kernel's state says so too.
        self.snapshot = {**content, "pngs": pngs}
        if send:
            self.send(content, buffers=pngs)

    def _message(self, request: Request, result: ViewResult, *, final: bool) -> tuple[dict, list]:
        pictures = [{"role": role, **picture.meta} for role, picture in result.pictures]
        content = {
            **request.message(protocol.RESULT),
            "final": final,
            "image": pictures[0],
            "images": pictures,
            "caption": result.caption,
            "warnings": [str(w) for w in result.warnings],
            "warning_codes": note_codes(result.warnings),
            "data": result.data,
        }
        return content, [picture.png for _, picture in result.pictures]

    def _send_progress(self, request: Request, result: ViewResult) -> None:
        """Send a picture of a long computation that is still running (``final: false``)."""
        if not self._is_stale(request):
            content, pngs = self._message(request, result, final=False)
            self.send(content, buffers=pngs)

    def _input_range(self) -> tuple[float, float]:
        """The range of model inputs the patterns stay in, read off the images given."""
        if self._inputs is None:
            return (0.0, 1.0)
        lo, hi = float(np.nanmin(self._inputs[0])), float(np.nanmax(self._inputs[0]))
        if lo >= 0.0 and hi <= 1.0:
            return (0.0, 1.0)
        if lo >= 0.0 and hi <= 255.0:
            return (0.0, 255.0)
        return (lo, hi)

    def _result(self, request: Request) -> ViewResult:
        result = self._results.get(request.key)
        if result is None:
            result = RENDERERS[request.view](self, request)
            self._results.put(request.key, result)
        return result

    def _sample_inputs(self, sample: int) -> list[np.ndarray]:
        if self._inputs is None:
            raise ValueError("No images to explain: pass them as LayerExplorer(model, images).")
        return [x[sample : sample + 1] for x in self._inputs]

    def _class_name(self, index: int) -> str:
        return self.class_names[index] if 0 <= index < len(self.class_names) else str(index)

    def _baseline_model(self) -> Any:
        from .methods.weights import resolve_baseline

        return resolve_baseline(self._model, self.baseline)

    def _sample_activations(self, sample: int) -> dict[str, np.ndarray]:
        """Every layer's output for one sample, from one forward pass, cached."""
        if self._inputs is None:
            raise ValueError(
                "No images to show feature maps for: pass them as LayerExplorer(model, images)."
            )
        with self._pass_lock:  # two requests for one sample must not run two passes
            cached = self._activations.get(sample)
            if cached is None:
                cached = self._adapter.activations(
                    self._sample_inputs(sample), [info.name for info in self._infos]
                )
                self._activations.put(sample, cached)
            return cached


def _describe(error: BaseException) -> str:
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    return text or type(error).__name__
