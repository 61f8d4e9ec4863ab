"""What each tab of the explorer draws: a request in, pictures and numbers out.

Every view is one function from a ``Request`` to a ``ViewResult``; the explorer does the
plumbing (threads, caches, messages).  ``OPTIONS`` names the traits each view depends on, so
that changing, say, the Grad-CAM method does not recompute the feature maps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .methods import softmax
from .render import Note, Picture, colorize, encode_png, feature_map_picture, grid_meta

if TYPE_CHECKING:
    from .explorer import LayerExplorer

#: The traits each view depends on besides layer and sample.
OPTIONS: dict[str, tuple[str, ...]] = {
    "activations": (),
    "weights": ("in_channel", "rgb", "channel"),
    "gradcam": ("class_index", "cam_method", "channel"),
    "saliency": ("class_index", "smooth"),
    "filters": ("filter_count",),
}
#: Heatmaps use a rainbow map as the Grad-CAM paper and the references do.
HEATMAP_CMAP = "jet"
TOP_K = 5
RANKED_CHANNELS = 64
SMOOTHGRAD_SAMPLES = 25
#: Gradient-ascent steps for filter patterns, and how often a partial grid is sent.
FILTER_STEPS = 30
FILTER_PROGRESS_EVERY = 3


@dataclass(frozen=True)
class Request:
    id: int
    layer: str
    view: str
    sample: int
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, name: str) -> Any:
        return dict(self.options)[name]

    def message(self, kind: str) -> dict[str, Any]:
        return {
            "type": kind,
            "id": self.id,
            "layer": self.layer,
            "view": self.view,
            "sample": self.sample,
            "options": dict(self.options),
        }

    @property
    def key(self) -> tuple[Any, ...]:
        """What the result depends on (saliency does not depend on the layer)."""
        layer = None if self.view == "saliency" else self.layer
        return (self.view, layer, self.sample, self.options)


@dataclass
class ViewResult:
    pictures: list[tuple[str, Picture]]
    caption: str
    warnings: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return sum(len(p.png) for _, p in self.pictures)


def _single_picture(
    pixels: np.ndarray, kind: str, true_shape: Any, caption: str, **extra: Any
) -> Picture:
    """One untiled picture (an input image, a heatmap) with its layout description."""
    h, w = pixels.shape[:2]
    meta = grid_meta(
        kind,
        width=w,
        height=h,
        rows=1,
        cols=1,
        tile_width=w,
        tile_height=h,
        gap=0,
        channels=1,
        true_shape=true_shape,
        downsample=1,
        **extra,
    )
    return Picture(encode_png(np.ascontiguousarray(pixels)), meta, caption)


def _image_picture(image: np.ndarray) -> Picture:
    pixels = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
    if pixels.ndim == 3 and pixels.shape[-1] not in (3, 4):
        pixels = pixels[..., 0]
    h, w = pixels.shape[:2]
    return _single_picture(pixels, "image", image.shape, f"{h} × {w}")


def _heatmap_picture(values: np.ndarray, caption: str) -> Picture:
    rgb = colorize(values, HEATMAP_CMAP)
    return _single_picture(rgb, "heatmap", values.shape, caption, cmap=HEATMAP_CMAP)


def _channel_picture(explorer: LayerExplorer, request: Request, channel: int) -> Picture:
    activation = explorer._sample_activations(request.sample)[request.layer][0]
    if activation.ndim != 3 or not 0 <= channel < activation.shape[-1]:
        raise ValueError(f"{request.layer!r} has no channel {channel}.")
    picture = feature_map_picture(activation[..., channel : channel + 1])
    picture.caption = f"channel {channel} · " + picture.caption.split(" · ", 1)[-1]
    return picture


def activations_view(explorer: LayerExplorer, request: Request) -> ViewResult:
    activation = explorer._sample_activations(request.sample)[request.layer][0]
    picture = feature_map_picture(activation)
    return ViewResult([("main", picture)], picture.caption, picture.warnings)


def weights_view(explorer: LayerExplorer, request: Request) -> ViewResult:
    from .methods import weights

    details = weights.weights_view(
        explorer._adapter,
        request.layer,
        baseline=explorer._baseline_model(),
        in_channel=request.option("in_channel"),
        rgb=request.option("rgb"),
    )
    trained: Picture = details["trained"]
    pictures = [("trained", trained)]
    if details["baseline"] is not None:
        pictures.append(("baseline", details["baseline"]))
    data = {
        key: details[key]
        for key in (
            "kernel_shape",
            "bias_shape",
            "depthwise",
            "rgb_available",
            "in_channels",
            "vmax",
            "histogram",
            "bias",
            "baseline_bias",
        )
    }
    data["colorbar"] = trained.meta.get("colorbar")
    channel = request.option("channel")
    if channel >= 0:
        kernel, bias = explorer._adapter.layer_weights(request.layer)
        detail = weights.filter_detail(
            kernel,
            bias,
            channel,
            request.option("in_channel") if trained.meta.get("tiles") == "filters" else 0,
            rgb=trained.meta.get("tiles") == "rgb",
            depthwise=bool(details["depthwise"]),
            vmax=details["vmax"],
        )
        data["filter"] = detail
        if explorer.n_samples and len(np.shape(kernel)) == 4:
            pictures.append(
                ("feature_map", _channel_picture(explorer, request, int(detail["output_channel"])))
            )
    return ViewResult(pictures, trained.caption, list(trained.warnings), data)


def _predictions(
    explorer: LayerExplorer, probabilities: np.ndarray, logits: np.ndarray
) -> list[dict[str, Any]]:
    order = np.argsort(-probabilities, kind="stable")[:TOP_K]
    return [
        {
            "index": int(i),
            "name": explorer._class_name(int(i)),
            "probability": float(probabilities[i]),
            "logit": float(logits[i]),
        }
        for i in order
    ]


def gradcam_view(explorer: LayerExplorer, request: Request) -> ViewResult:
    from .methods.gradcam import cam_details

    class_index = request.option("class_index")
    method = request.option("cam_method")
    result = cam_details(
        explorer._adapter,
        explorer._sample_inputs(request.sample),
        request.layer,
        None if class_index < 0 else class_index,
        method=method,
        cache=explorer._cams,
        should_stop=lambda: explorer._is_stale(request),
    )
    chosen = int(result.classes[0])
    weights = result.channel_weights[0]
    ranked = np.argsort(-weights, kind="stable")[:RANKED_CHANNELS]
    heat = _heatmap_picture(
        result.cam[0], f"{method} · class {explorer._class_name(chosen)} · layer {result.layer}"
    )
    pictures = [("image", _image_picture(explorer._display[request.sample])), ("heatmap", heat)]
    channel = request.option("channel")
    if channel >= 0:
        pictures.append(("feature_map", _channel_picture(explorer, request, channel)))
    data = {
        "predictions": _predictions(explorer, result.probabilities[0], result.logits[0]),
        "class_index": chosen,
        "class_name": explorer._class_name(chosen),
        "method": method,
        "n_classes": int(result.logits.shape[-1]),
        "channel_weights": [{"channel": int(c), "weight": float(weights[c])} for c in ranked],
        "channels": int(weights.shape[0]),
    }
    warnings: list[str] = []
    if not np.any(result.cam[0] > 0):
        text = f"the map is zero everywhere: no positive evidence for this class at {result.layer}"
        warnings.append(Note("zero_cam", text, layer=result.layer))
    return ViewResult(pictures, heat.caption, warnings, data)


def saliency_view(explorer: LayerExplorer, request: Request) -> ViewResult:
    from .methods.saliency import saliency_details

    class_index = request.option("class_index")
    smooth = bool(request.option("smooth"))
    maps, all_logits, classes = saliency_details(
        explorer._adapter,
        explorer._sample_inputs(request.sample),
        None if class_index < 0 else class_index,
        smooth_samples=SMOOTHGRAD_SAMPLES if smooth else 0,
    )
    values, logits, chosen = maps[0], all_logits[0], int(classes[0])
    probabilities = softmax(logits.astype(np.float64)).astype(np.float32)
    kind = f"SmoothGrad ({SMOOTHGRAD_SAMPLES} samples)" if smooth else "input gradients"
    heat = _heatmap_picture(values, f"saliency · {kind} · class {explorer._class_name(chosen)}")
    pictures = [("image", _image_picture(explorer._display[request.sample])), ("heatmap", heat)]
    data = {
        "predictions": _predictions(explorer, probabilities, logits),
        "class_index": chosen,
        "class_name": explorer._class_name(chosen),
        "smooth": smooth,
        "n_classes": int(logits.shape[-1]),
    }
    return ViewResult(pictures, heat.caption, [], data)


def filters_view(explorer: LayerExplorer, request: Request) -> ViewResult:
    from .methods.maximize import maximize_filters, pattern_picture

    info = explorer.layer_info(request.layer)
    channels = info.output_shape[-1] if info.output_shape else None
    if info.kind == "input" or not channels:
        raise ValueError(
            f"Filter patterns need a layer with channels or units; {info.name!r} ({info.type}) "
            f"outputs shape {info.output_shape}."
        )
    indices = list(range(min(int(request.option("filter_count")), int(channels))))
    input_range = explorer._input_range()

    def picture(images: np.ndarray, step: int) -> Picture:
        return pattern_picture(
            images,
            filter_indices=indices,
            step=step,
            steps=FILTER_STEPS,
            input_range=input_range,
        )

    def on_step(step: int, images: np.ndarray, values: np.ndarray) -> None:
        if step % FILTER_PROGRESS_EVERY == 0 and step < FILTER_STEPS:
            partial = picture(images, step)
            explorer._send_progress(request, ViewResult([("main", partial)], partial.caption))

    images = maximize_filters(
        explorer._adapter,
        request.layer,
        indices,
        steps=FILTER_STEPS,
        seed=0,
        input_range=input_range,
        should_stop=lambda: explorer._is_stale(request),
        on_step=on_step,
    )
    final = picture(images, FILTER_STEPS)
    data = {"filters": indices, "channels": int(channels), "steps": FILTER_STEPS}
    return ViewResult([("main", final)], final.caption, list(final.warnings), data)


RENDERERS: dict[str, Callable[[LayerExplorer, Request], ViewResult]] = {
    "activations": activations_view,
    "weights": weights_view,
    "gradcam": gradcam_view,
    "saliency": saliency_view,
    "filters": filters_view,
}
