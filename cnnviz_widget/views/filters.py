"""Filters: the patterns each filter responds to, by batched gradient ascent, streamed."""

from __future__ import annotations

import numpy as np

from .._messages import Message
from ..methods.maximize import maximize_filters
from ..render import Picture, pattern_picture
from ._base import Request, View, ViewResult
from .session import Session

#: Gradient-ascent steps for filter patterns, and how often a partial grid is sent.
FILTER_STEPS = 30
FILTER_PROGRESS_EVERY = 3


def render(session: Session, request: Request) -> ViewResult:
    info = session.layer_info(request.layer)
    channels = info.output_shape[-1] if info.output_shape else None
    if info.kind == "input" or not channels:
        raise ValueError(
            Message(
                "filters_layer",
                f"Filter patterns need a layer with channels or units; {info.name!r} "
                f"({info.type}) outputs shape {info.output_shape}.",
                layer=repr(info.name),
                type=info.type,
                shape=info.output_shape,
            )
        )
    indices = list(range(min(int(request.option("filter_count")), int(channels))))
    input_range = session.input_range()
    # A model with an open input size climbs at the size of the images it was given.
    target = session.adapter.layer_input(info.name)
    _, height, width, *_ = (*session.adapter.input_shapes()[target], None, None)
    size = None
    if session.inputs is not None and session.inputs[target].ndim == 4 and None in (height, width):
        size = (int(session.inputs[target].shape[1]), int(session.inputs[target].shape[2]))

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
            session.on_progress(request, ViewResult([("main", partial)], partial.caption))

    images = maximize_filters(
        session.adapter,
        request.layer,
        indices,
        steps=FILTER_STEPS,
        size=size,
        seed=0,
        input_range=input_range,
        should_stop=lambda: session.is_stale(request),
        on_step=on_step,
    )
    final = picture(images, FILTER_STEPS)
    data = {"filters": indices, "channels": int(channels), "steps": FILTER_STEPS}
    return ViewResult([("main", final)], final.caption, list(final.warnings), data)


VIEW = View("filters", ("filter_count",), render)
