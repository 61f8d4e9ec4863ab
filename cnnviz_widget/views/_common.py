"""Pieces several views draw: one channel's feature map, the top-5 predictions."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._messages import Message
from ..render import Picture, feature_map_picture
from ._base import Request
from .session import Session

TOP_K = 5


def channel_picture(session: Session, request: Request, channel: int) -> Picture:
    """One channel of the selected layer's feature maps (the linked view of a tile)."""
    activation = session.layer_output(request.sample, request.layer)
    if activation.ndim != 3 or not 0 <= channel < activation.shape[-1]:
        raise ValueError(
            Message(
                "no_channel",
                f"{request.layer!r} has no channel {channel}.",
                layer=repr(request.layer),
                channel=channel,
            )
        )
    picture = feature_map_picture(activation[..., channel : channel + 1])
    picture.caption = f"channel {channel} · " + picture.caption.split(" · ", 1)[-1]
    return picture


def predictions(
    session: Session, probabilities: np.ndarray, logits: np.ndarray
) -> list[dict[str, Any]]:
    """The ``TOP_K`` most probable classes, best first, with names and logits."""
    order = np.argsort(-probabilities, kind="stable")[:TOP_K]
    return [
        {
            "index": int(i),
            "name": session.class_name(int(i)),
            "probability": float(probabilities[i]),
            "logit": float(logits[i]),
        }
        for i in order
    ]
