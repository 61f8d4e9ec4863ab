"""Examples: the dataset images that excite the selected channel most, with its map over each.

The scan (``methods.dataset.iter_top_activations``) serves every channel of the layer in one
pass over the dataset; it streams (tiles improve as better images are found, with a count of
images scanned), stops when a newer selection arrives, and a finished scan is kept per layer.
"""

from __future__ import annotations

import math

import numpy as np

from .._messages import Message
from ..methods import min_max, resize_maps
from ..methods.dataset import TopActivations, iter_top_activations
from ..render import colorize, encode_png, grid_meta, opaque, tile_atlas
from ..render.picture import Picture
from ._base import Request, View, ViewResult
from .session import Session

#: Images shown per channel, and how often (in batches) the tiles are redrawn while scanning.
TOP_K = 9
REDRAW_EVERY = 4
#: Opacity of the channel's map over each image.
OVERLAY_ALPHA = 0.45

NO_DATASET = Message(
    "no_dataset",
    "No dataset to search: pass one as LayerExplorer(model, images, dataset=...) (an array of "
    "model inputs, a tf.data.Dataset, a torch DataLoader or any iterable of batches) to see "
    "which of its images excite each channel most.",
)


def render(session: Session, request: Request) -> ViewResult:
    if session.dataset is None:
        raise ValueError(NO_DATASET)
    info = session.layer_info(request.layer)
    if info.kind == "input" or info.output_shape is None or len(info.output_shape) < 2:
        raise ValueError(
            Message(
                "examples_layer",
                f"Examples need a layer with channels or units; {info.name!r} ({info.type}) "
                f"outputs shape {info.output_shape}.",
                layer=repr(info.name),
                type=info.type,
                shape=info.output_shape,
            )
        )
    channel = max(0, int(request.option("channel")))
    channels = int(info.output_shape[-1] or 0)
    if channels and channel >= channels:
        raise ValueError(
            Message(
                "examples_channel",
                f"channel must be between 0 and {channels - 1}, got {channel}.",
                max=channels - 1,
                value=channel,
            )
        )
    top, done, total = session.examples.get(info.name, (None, 0, None))
    if top is None:
        steps = iter_top_activations(
            session.adapter,
            session.dataset,
            info.name,
            k=TOP_K,
            should_stop=lambda: session.is_stale(request),
        )
        for number, step in enumerate(steps):
            top, done, total = step.result, step.done, step.total
            if number % REDRAW_EVERY == 0:
                assert isinstance(top, TopActivations)
                partial = _result(session, request, top, channel, done, total, final=False)
                session.on_progress(request, partial)
        if top is None:
            raise ValueError(Message("empty_dataset", "The dataset is empty: it gave no images."))
        session.examples[info.name] = (top, done, total)
    assert isinstance(top, TopActivations)
    return _result(session, request, top, channel, done, total, final=True)


def _result(
    session: Session,
    request: Request,
    top: TopActivations,
    channel: int,
    done: int,
    total: int | None,
    *,
    final: bool,
) -> ViewResult:
    indices = [int(i) for i in top.indices[channel]]
    values = [float(v) for v in top.values[channel]]
    images = session.dataset_images(indices)
    maps = session.adapter.activations(images, [request.layer])[request.layer]
    picture = _tiles(session.dataset_display(indices), maps, channel)
    scanned = f"{done:,} of {total:,}" if total is not None else f"{done:,}"
    caption = (
        f"channel {channel} · the {len(indices)} images of the dataset that excite it most "
        f"(mean activation) · {scanned} images scanned"
    )
    data = {
        "channel": channel,
        "channels": int(top.indices.shape[0]),
        "indices": indices,
        "values": values,
        "done": done,
        "total": total,
        "final": final,
    }
    return ViewResult([("main", picture)], caption, [], data)


def _tiles(display: np.ndarray, maps: np.ndarray, channel: int) -> Picture:
    """Each image with the channel's map over it (jet, min-max per tile), in a 3 x 3 grid."""
    n, height, width = display.shape[:3]
    rgb = display if display.ndim == 4 and display.shape[-1] == 3 else None
    if rgb is None:
        grey = display.reshape(n, height, width, -1)[..., 0]
        rgb = np.repeat(grey[..., None], 3, axis=-1)
    if maps.ndim == 4:
        heat = min_max(resize_maps(maps[..., channel], (height, width)))
        overlay = colorize(heat, "jet").astype(np.float32)
        rgb = (1 - OVERLAY_ALPHA) * rgb.astype(np.float32) + OVERLAY_ALPHA * overlay
    pixels = opaque(np.clip(rgb + 0.5, 0, 255).astype(np.uint8))
    cols = min(n, 3)
    atlas = tile_atlas(pixels, cols, gap=2, fill=np.uint8(0))
    meta = grid_meta(
        "image",
        width=int(atlas.shape[1]),
        height=int(atlas.shape[0]),
        rows=math.ceil(n / cols),
        cols=cols,
        tile_width=width,
        tile_height=height,
        gap=2,
        channels=n,
        true_shape=[height, width, 3],
        downsample=1,
    )
    return Picture(encode_png(atlas), meta, f"{n} images")


VIEW = View("examples", ("channel",), render)
