"""Saliency: input gradients, SmoothGrad or integrated gradients for the chosen class."""

from __future__ import annotations

import numpy as np

from ..methods import min_max, softmax
from ..methods.saliency import saliency_details
from ..methods.trust import integrated_gradients_details
from ..render import heatmap_picture, image_picture
from ._base import Request, View, ViewResult
from ._common import predictions
from .session import Session

#: What the tab can draw, in the order its selector lists them.
METHODS = ("gradients", "smoothgrad", "integrated")
SMOOTHGRAD_SAMPLES = 25
#: Interpolation points of integrated gradients (Gauss-Legendre, as Captum's default).
IG_STEPS = 50


def render(session: Session, request: Request) -> ViewResult:
    class_index = request.option("class_index")
    method = request.option("saliency_method")
    inputs = session.sample_inputs(request.sample)
    wanted = None if class_index < 0 else class_index

    def stop() -> bool:
        return session.is_stale(request)

    data: dict = {"method": method}
    if method == "integrated":
        attributions, all_logits, classes, gap = integrated_gradients_details(
            session.adapter, inputs, wanted, steps=IG_STEPS, should_stop=stop
        )
        # |attribution| summed over colour channels, as Captum's visualisation shows it.
        maps = min_max(np.abs(attributions).sum(axis=-1))
        kind = f"integrated gradients ({IG_STEPS} steps, black baseline)"
        total = float(attributions[0].sum())
        data["completeness"] = {"sum": total, "gap": float(gap[0])}
    else:
        smooth = method == "smoothgrad"
        maps, all_logits, classes = saliency_details(
            session.adapter,
            inputs,
            wanted,
            smooth_samples=SMOOTHGRAD_SAMPLES if smooth else 0,
            should_stop=stop,
        )
        kind = f"SmoothGrad ({SMOOTHGRAD_SAMPLES} samples)" if smooth else "input gradients"
    values, logits, chosen = maps[0], all_logits[0], int(classes[0])
    probabilities = softmax(logits.astype(np.float64)).astype(np.float32)
    heat = heatmap_picture(values, f"saliency · {kind} · class {session.class_name(chosen)}")
    pictures = [("image", image_picture(session.display[request.sample])), ("heatmap", heat)]
    data.update(
        {
            "predictions": predictions(session, probabilities, logits),
            "class_index": chosen,
            "class_name": session.class_name(chosen),
            "n_classes": int(logits.shape[-1]),
        }
    )
    return ViewResult(pictures, heat.caption, [], data)


#: Saliency is of the input: it does not depend on the selected layer.
VIEW = View("saliency", ("class_index", "saliency_method"), render, per_layer=False)
