"""Grad-CAM: the heatmap of the chosen method and class over the image, top-5, channels."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..methods.gradcam import cam_details
from ..methods.trust import faithfulness_readout, rank_correlation
from ..methods.weights import untrained_copy
from ..render import Note, heatmap_picture, image_picture
from ._base import Request, View, ViewResult
from ._common import channel_picture, predictions
from .session import Session

#: How many of the layer's channels the ranked strip lists.
RANKED_CHANNELS = 64
#: Steps of the deletion and insertion curves of the faithfulness read-out.
FAITHFULNESS_STEPS = 20


def render(session: Session, request: Request) -> ViewResult:
    """The heatmap first (sent as soon as it is drawn), then the faithfulness read-out and,
    with ``sanity``, the same map on the untrained copy; a newer selection stops both."""
    class_index = request.option("class_index")
    method = request.option("cam_method")
    inputs = session.sample_inputs(request.sample)

    def stop() -> bool:
        return session.is_stale(request)

    result = cam_details(
        session.adapter,
        inputs,
        request.layer,
        None if class_index < 0 else class_index,
        method=method,
        cache=session.cams,
        should_stop=stop,
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
        "faithfulness": None,
        "sanity": None,
    }
    warnings: list[str] = []
    if not np.any(result.cam[0] > 0):
        text = f"the map is zero everywhere: no positive evidence for this class at {result.layer}"
        warnings.append(Note("zero_cam", text, layer=result.layer))
    # The heatmap never waits for the numbers below.
    session.on_progress(request, ViewResult(list(pictures), heat.caption, warnings, dict(data)))

    data["faithfulness"] = _faithfulness(session, request, inputs, chosen, method, stop)
    if request.option("sanity"):
        untrained = untrained_copy(session.adapter.model)
        twin = cam_details(
            untrained, inputs, request.layer, chosen, method=method, should_stop=stop
        )
        pictures.append(
            (
                "sanity",
                heatmap_picture(twin.cam[0], f"{method} · untrained copy · layer {result.layer}"),
            )
        )
        data["sanity"] = {"rank_correlation": _finite(rank_correlation(result.cam[0], twin.cam[0]))}
    return ViewResult(pictures, heat.caption, warnings, data)


def _faithfulness(
    session: Session, request: Request, inputs: list, chosen: int, method: str, stop: Any
) -> dict[str, Any]:
    """Deletion and insertion of the map at its own resolution and of a random map of the
    same size (``methods.trust.faithfulness_readout``), cached per sample, class, method
    and layer."""
    key = ("faithfulness", request.sample, chosen, method, request.layer)
    cached = session.result_cache.get(key)
    if cached is not None:
        return cached.data
    raw = cam_details(
        session.adapter,
        inputs,
        request.layer,
        chosen,
        method=method,
        upsample=False,
        normalize=False,
        cache=session.cams,  # the same pass as the heatmap's
        should_stop=stop,
    )
    readout = faithfulness_readout(
        session.adapter, inputs, raw.cam[0], chosen, steps=FAITHFULNESS_STEPS, should_stop=stop
    )
    session.result_cache.put(key, ViewResult([], "", [], readout))
    return readout


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None


VIEW = View("gradcam", ("class_index", "cam_method", "channel", "sanity"), render)
