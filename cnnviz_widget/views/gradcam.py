"""Grad-CAM: the heatmap of the chosen method and class over the image, top-5, channels."""

from __future__ import annotations

import numpy as np

from ..methods.gradcam import cam_details
from ..render import Note, heatmap_picture, image_picture
from ._base import Request, View, ViewResult
from ._common import channel_picture, predictions
from .session import Session

#: How many of the layer's channels the ranked strip lists.
RANKED_CHANNELS = 64


def render(session: Session, request: Request) -> ViewResult:
    class_index = request.option("class_index")
    method = request.option("cam_method")
    result = cam_details(
        session.adapter,
        session.sample_inputs(request.sample),
        request.layer,
        None if class_index < 0 else class_index,
        method=method,
        cache=session.cams,
        should_stop=lambda: session.is_stale(request),
    )
    chosen = int(result.classes[0])
    weights = result.channel_weights[0]
    ranked = np.argsort(-weights, kind="stable")[:RANKED_CHANNELS]
    heat = heatmap_picture(
        result.cam[0], f"{method} · class {session.class_name(chosen)} · layer {result.layer}"
    )
    pictures = [("image", image_picture(session.display[request.sample])), ("heatmap", heat)]
    channel = request.option("channel")
    if channel >= 0:
        pictures.append(("feature_map", channel_picture(session, request, channel)))
    data = {
        "predictions": predictions(session, result.probabilities[0], result.logits[0]),
        "class_index": chosen,
        "class_name": session.class_name(chosen),
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


VIEW = View("gradcam", ("class_index", "cam_method", "channel"), render)
