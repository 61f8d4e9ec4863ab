"""Saliency: input gradients (or SmoothGrad) for the chosen class, beside the image."""

from __future__ import annotations

import numpy as np

from ..methods import softmax
from ..methods.saliency import saliency_details
from ..render import heatmap_picture, image_picture
from ._base import Request, View, ViewResult
from ._common import predictions
from .session import Session

SMOOTHGRAD_SAMPLES = 25


def render(session: Session, request: Request) -> ViewResult:
    class_index = request.option("class_index")
    smooth = bool(request.option("smooth"))
    maps, all_logits, classes = saliency_details(
        session.adapter,
        session.sample_inputs(request.sample),
        None if class_index < 0 else class_index,
        smooth_samples=SMOOTHGRAD_SAMPLES if smooth else 0,
        should_stop=lambda: session.is_stale(request),
    )
    values, logits, chosen = maps[0], all_logits[0], int(classes[0])
    probabilities = softmax(logits.astype(np.float64)).astype(np.float32)
    kind = f"SmoothGrad ({SMOOTHGRAD_SAMPLES} samples)" if smooth else "input gradients"
    heat = heatmap_picture(values, f"saliency · {kind} · class {session.class_name(chosen)}")
    pictures = [("image", image_picture(session.display[request.sample])), ("heatmap", heat)]
    data = {
        "predictions": predictions(session, probabilities, logits),
        "class_index": chosen,
        "class_name": session.class_name(chosen),
        "smooth": smooth,
        "n_classes": int(logits.shape[-1]),
    }
    return ViewResult(pictures, heat.caption, [], data)


#: Saliency is of the input: it does not depend on the selected layer.
VIEW = View("saliency", ("class_index", "smooth"), render, per_layer=False)
