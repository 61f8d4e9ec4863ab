"""Weights: kernel grids on one symmetric scale beside the baseline, histogram, one filter."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._messages import Message
from ..methods.weights import bias_values, weight_histogram
from ..render import (
    WEIGHTS_CMAP,
    Picture,
    can_draw_rgb,
    filter_detail,
    kernel_grid_picture,
    symmetric_vmax,
)
from ._base import Request, View, ViewResult
from ._common import channel_picture
from .session import Session


def weights_details(
    session: Session,
    layer: str,
    *,
    in_channel: int = 0,
    rgb: bool = False,
    cmap: str = WEIGHTS_CMAP,
    bins: int = 50,
) -> dict[str, Any]:
    """Everything the Weights tab shows for one layer, trained beside its baseline.

    ``ValueError`` for a layer without weights (as ``layer_weights``).  Returns
    ``layer``, ``type``, ``kernel_shape``, ``bias_shape`` (or None), ``depthwise``,
    ``rgb_available``, ``in_channels``, ``vmax`` (the shared scale: max |w| over trained and
    baseline kernels), ``trained`` and ``baseline`` (:class:`Picture` on the same scale, or
    None), ``histogram`` (``weight_histogram`` of both kernels), ``bias`` and
    ``baseline_bias`` (``bias_values``, or None).
    """
    adapter = session.adapter
    info = session.layer_info(layer)
    kernel, bias = adapter.layer_weights(info.name)
    base = session.baseline_model()
    base_kernel = base_bias = None
    if base is not None:
        from ..adapters import adapter_for

        base_kernel, base_bias = adapter_for(base).layer_weights(info.name)
    depthwise = adapter.is_depthwise(info.name)
    vmax = symmetric_vmax(kernel, base_kernel)

    def draw(k: np.ndarray) -> Picture:
        return kernel_grid_picture(
            k, in_channel=in_channel, rgb=rgb, vmax=vmax, cmap=cmap, depthwise=depthwise
        )

    return {
        "layer": info.name,
        "type": info.type,
        "kernel_shape": [int(d) for d in kernel.shape],
        "bias_shape": None if bias is None else [int(d) for d in bias.shape],
        "depthwise": depthwise,
        "rgb_available": can_draw_rgb(kernel.shape, depthwise=depthwise),
        "in_channels": int(kernel.shape[-2]) if kernel.ndim >= 3 else None,
        "vmax": vmax,
        "trained": draw(kernel),
        "baseline": None if base_kernel is None else draw(base_kernel),
        "histogram": weight_histogram(kernel, base_kernel, bins=bins),
        "bias": bias_values(bias),
        "baseline_bias": bias_values(base_bias),
    }


def render(session: Session, request: Request) -> ViewResult:
    details = weights_details(
        session,
        request.layer,
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
        kernel, bias = session.adapter.layer_weights(request.layer)
        # A kernel grid's tiles, or a dense matrix's output units (its columns).
        matrix = trained.meta["kind"] == "matrix"
        tiles = int(kernel.shape[-1]) if matrix else int(trained.meta["channels"])
        if channel >= tiles:
            raise ValueError(
                Message(
                    "weights_channel",
                    f"channel must be -1 (none) or a filter of {request.layer!r}, 0 to "
                    f"{tiles - 1}; got {channel}.",
                    layer=repr(request.layer),
                    max=tiles - 1,
                    value=channel,
                )
            )
        detail = filter_detail(
            kernel,
            bias,
            channel,
            request.option("in_channel") if trained.meta.get("tiles") == "filters" else 0,
            rgb=trained.meta.get("tiles") == "rgb",
            depthwise=bool(details["depthwise"]),
            vmax=details["vmax"],
        )
        data["filter"] = detail
        if session.n_samples and len(np.shape(kernel)) == 4:
            output_channel = int(detail["output_channel"])
            pictures.append(("feature_map", channel_picture(session, request, output_channel)))
    return ViewResult(pictures, trained.caption, list(trained.warnings), data)


VIEW = View("weights", ("in_channel", "rgb", "channel"), render)
