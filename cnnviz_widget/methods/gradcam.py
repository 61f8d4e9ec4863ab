"""Grad-CAM and its family: Grad-CAM++, Layer-CAM and Score-CAM.

One adapter pass gives a layer's activations ``A`` (N, h, w, C), the gradients
``g = d(score)/dA`` of the explained class's pre-softmax logit, and the logits.  The methods
differ only in the weights they derive from these (``_WEIGHTS``, as pytorch-grad-cam's
``get_cam_weights``); ``cam_details`` does the rest: cam = ReLU(sum_c w_c * A_c), resized
to the input, min-max scaled.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np

from .._cache import BytesLRU
from .._inputs import Preprocess
from .._layers import LayerInfo, resolve_layer
from .._messages import Message
from . import (
    Adapter,
    Cancelled,
    ShouldStop,
    check_classes,
    class_count,
    class_request,
    image_size,
    min_max,
    prepare,
    resize_maps,
    softmax,
    top_classes,
)
from . import (
    warn_nonfinite as _warn_nonfinite,
)

#: Keep in sync with the widget's method selector.
METHODS = ("gradcam", "gradcam++", "layercam", "scorecam")


@dataclass(frozen=True)
class CamResult:
    """Everything one explanation request gives the widget, from the same pass.

    Attributes
    ----------
    cam : numpy.ndarray
        ``(N, H, W)`` float32, what ``grad_cam`` returns.
    channel_weights : numpy.ndarray
        ``(N, C)`` float32, each channel's weight ``w_c`` (Layer-CAM's per-position weights
        averaged over the map), for a ranked strip of the layer's channels.
    logits : numpy.ndarray
        ``(N, classes)`` pre-softmax class scores.
    probabilities : numpy.ndarray
        ``softmax(logits)``, what a model ending in softmax outputs.
    classes : numpy.ndarray
        ``(N,)`` the class explained for each sample.
    layer : str
        The layer explained (the one chosen when ``layer=None``).
    """

    cam: np.ndarray
    channel_weights: np.ndarray
    logits: np.ndarray
    probabilities: np.ndarray
    classes: np.ndarray
    layer: str

    def top(self, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most probable classes per sample and their probabilities, best first."""
        order = np.argsort(-self.probabilities, axis=-1, kind="stable")[:, :k]
        return order, np.take_along_axis(self.probabilities, order, axis=-1)


class CamCache(BytesLRU):
    """Earlier passes, so that switching the class or the method on the same images and layer
    reuses them.

    A gradient method needs one forward and backward pass per class (each is kept here);
    Score-CAM's masked passes give every class's logits at once, so switching its class costs
    no pass at all.  The caller owns the cache (the widget keeps one per model); the least
    recently used entries go first beyond ``max_bytes``.
    """

    def __init__(self, max_bytes: int = 256 * 2**20) -> None:
        super().__init__(max_bytes, lambda arrays: sum(a.nbytes for a in arrays))

    def put(self, key: Any, value: tuple[np.ndarray, ...]) -> None:
        for array in value:  # results share these arrays: keep the cache from edits
            array.flags.writeable = False
        super().put(key, value)


class _Evidence:
    """What the weights of every method are made of; Score-CAM's masked scores on demand."""

    def __init__(
        self,
        activations: np.ndarray,
        gradients: np.ndarray | None,
        logits: np.ndarray,
        classes: np.ndarray,
        masked_logits: Callable[[], np.ndarray],
    ) -> None:
        self.activations, self._gradients = activations, gradients
        self.logits, self.classes, self._masked_logits = logits, classes, masked_logits

    @property
    def gradients(self) -> np.ndarray:
        assert self._gradients is not None, "a gradient method got a forward-only pass"
        return self._gradients

    @property
    def mask_scores(self) -> np.ndarray:
        """``(N, C)``: the explained class's logit with each channel's map as an input mask."""
        masked = self._masked_logits()
        return np.take_along_axis(masked, self.classes[:, None, None], axis=-1)[..., 0]


def _gradcam(e: _Evidence) -> np.ndarray:
    return e.gradients.mean(axis=(1, 2), keepdims=True, dtype=np.float64)


def _gradcam_plus_plus(e: _Evidence) -> np.ndarray:
    # pytorch-grad-cam's GradCAMPlusPlus (Chattopadhyay et al. 2018, eq. 19 with an exp
    # score, whose factor cancels out of alpha): alpha = g^2 / (2 g^2 + sum_ij(A) g^3 + eps),
    # zero where g is; the weights keep positive gradients only (eq. 7's ReLU).
    g = e.gradients.astype(np.float64)
    g2 = g * g
    total = e.activations.sum(axis=(1, 2), keepdims=True, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(g != 0, g2 / (2 * g2 + total * g2 * g + 1e-6), 0.0)
    return (np.maximum(g, 0) * alpha).sum(axis=(1, 2), keepdims=True)


def _layercam(e: _Evidence) -> np.ndarray:
    return np.maximum(e.gradients, 0)


def _scorecam(e: _Evidence) -> np.ndarray:
    return softmax(e.mask_scores.astype(np.float64), axis=-1)[:, None, None, :]


#: A cache that keeps nothing, for calls without one.
_NO_CACHE = CamCache(max_bytes=0)

_WEIGHTS: dict[str, Callable[[_Evidence], np.ndarray]] = {
    "gradcam": _gradcam,
    "gradcam++": _gradcam_plus_plus,
    "layercam": _layercam,
    "scorecam": _scorecam,
}


def grad_cam(
    model: Any,
    images: Any,
    layer: str | LayerInfo | None = None,
    class_index: int | Sequence[int] | None = None,
    *,
    method: str = "gradcam",
    upsample: bool = True,
    normalize: bool = True,
    preprocess: Preprocess | None = None,
) -> np.ndarray:
    """Class activation maps: where in each image the evidence for a class lies.

    Parameters
    ----------
    model : keras.Model
    images : array_like or list of array_like
        Shaped like the model's input, with or without the batch axis.
    layer : name or LayerInfo, optional
        A layer with a spatial ``(N, h, w, C)`` output; by default the last one in
        ``list_layers`` order (nested layers included).
    class_index : int or sequence of int, optional
        The class explained: each sample's top class by default, an int for all samples, or
        one per sample.  Its score is the pre-softmax logit.
    method : {"gradcam", "gradcam++", "layercam", "scorecam"}
    upsample : bool
        Resize bilinearly (half-pixel centres, as ``cv2.resize``) to the input's H x W.
    normalize : bool
        Scale each sample to [0, 1] (after resizing); a constant map gives zeros.
    preprocess : callable, optional
        Maps ``images`` to model input.

    Returns
    -------
    numpy.ndarray
        ``(N, H, W)`` float32; at the layer's resolution ``(N, h, w)`` without ``upsample``.
    """
    return cam_details(
        model,
        images,
        layer,
        class_index,
        method=method,
        upsample=upsample,
        normalize=normalize,
        preprocess=preprocess,
        warn_nonfinite=True,
    ).cam


def cam_details(
    model: Any,
    images: Any,
    layer: str | LayerInfo | None = None,
    class_index: int | Sequence[int] | None = None,
    *,
    method: str = "gradcam",
    upsample: bool = True,
    normalize: bool = True,
    preprocess: Preprocess | None = None,
    cache: CamCache | None = None,
    should_stop: ShouldStop | None = None,
    batch_size: int = 32,
    warn_nonfinite: bool = False,
) -> CamResult:
    """``grad_cam`` with the channel weights, logits and explained classes of the same pass.

    ``cache`` reuses earlier passes on the same images and layer (see ``CamCache``);
    ``should_stop`` is checked between Score-CAM's batches of ``batch_size`` masked inputs and
    raises ``Cancelled`` when it returns True; ``warn_nonfinite`` warns of maps that are
    zeros because they were NaN (the public functions; the panel notes it otherwise).
    """
    if method not in _WEIGHTS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}.")
    adapter, inputs = prepare(model, images, preprocess, "grad_cam" if warn_nonfinite else None)
    layers = adapter.list_layers()
    info = _target_layer(layers, layer)
    request = class_request(class_index, len(inputs[0]), class_count(adapter))
    # The map belongs to the input the layer depends on (a model may take several images).
    target = adapter.layer_input(info.name)
    size = image_size(inputs[target:]) if upsample or method == "scorecam" else None

    evidence = _gather(
        adapter, inputs, info, request, method, cache, should_stop, batch_size, target
    )
    weights = _WEIGHTS[method](evidence)
    cam = np.maximum((weights * evidence.activations).sum(axis=-1), 0).astype(np.float32)
    if warn_nonfinite and normalize:
        _warn_nonfinite(cam, inputs, "grad_cam")
    if upsample and size is not None:
        cam = resize_maps(cam, size)
    if normalize:
        cam = min_max(cam)
    return CamResult(
        cam=cam,
        channel_weights=weights.mean(axis=(1, 2)).astype(np.float32),
        logits=evidence.logits,
        probabilities=softmax(evidence.logits.astype(np.float64)).astype(np.float32),
        classes=evidence.classes,
        layer=info.name,
    )


def _target_layer(layers: Sequence[LayerInfo], layer: str | LayerInfo | None) -> LayerInfo:
    if layer is None:
        spatial = [info for info in layers if info.is_spatial]
        # A global pool that keeps its axes ((N, 1, 1, C) in torch) is spatial in shape only.
        maps = [
            info
            for info in spatial
            if info.output_shape is not None
            and (info.output_shape[1] or 2) * (info.output_shape[2] or 2) > 1
        ]
        if not spatial:
            raise ValueError(
                Message(
                    "cam_no_maps",
                    "Grad-CAM needs a layer whose output is a stack of 2-D maps (N, H, W, C), "
                    "and this model has none: every layer outputs a vector, so there is no map "
                    "to place over an image.",
                )
            )
        return (maps or spatial)[-1]
    info = resolve_layer(layers, layer)
    if info.output_shape is not None and not info.is_spatial:
        _not_spatial(info, info.output_shape)
    return info


def _not_spatial(info: LayerInfo, shape: tuple[int | None, ...]) -> NoReturn:
    raise ValueError(
        Message(
            "cam_not_spatial",
            f"Grad-CAM needs a layer whose output is a stack of 2-D maps (N, H, W, C); the "
            f"layer {info.name!r} ({info.type}) outputs shape {tuple(shape)}.",
            layer=repr(info.name),
            type=info.type,
            shape=tuple(shape),
        )
    )


def _gather(
    adapter: Adapter,
    inputs: list[np.ndarray],
    info: LayerInfo,
    request: np.ndarray,
    method: str,
    cache: CamCache | None,
    should_stop: ShouldStop | None,
    batch_size: int,
    target: int = 0,
) -> _Evidence:
    """Activations, gradients and logits from at most one pass, reusing ``cache``."""
    cache = cache if cache is not None else _NO_CACHE
    key = (*_fingerprint(adapter, inputs), info.name) if cache.max_bytes else ()
    forward = cache.get(("forward", *key))
    gradients = None
    if forward is not None:
        activations, logits = forward
        classes = top_classes(logits, request)
        if method != "scorecam":
            hit = cache.get(("gradients", *key, classes.tobytes()))
            gradients = hit[0] if hit is not None else None
    if forward is None or (method != "scorecam" and gradients is None):
        activations, gradients, logits, classes = adapter.class_gradients(
            inputs, info.name, request
        )
        if activations.ndim != 4:
            _not_spatial(info, (None, *activations.shape[1:]))
        cache.put(("forward", *key), (activations, logits))
        cache.put(("gradients", *key, classes.tobytes()), (gradients,))
    check_classes(classes, logits.shape[-1])

    def masked_logits() -> np.ndarray:
        hit = cache.get(("masked", *key))
        if hit is None:
            hit = (_masked_logits(adapter, inputs, activations, batch_size, should_stop, target),)
            cache.put(("masked", *key), hit)
        return hit[0]

    return _Evidence(activations, gradients, logits, classes, masked_logits)


def _masked_logits(
    adapter: Adapter,
    inputs: list[np.ndarray],
    activations: np.ndarray,
    batch_size: int,
    should_stop: ShouldStop | None,
    target: int = 0,
) -> np.ndarray:
    """``(N, C, classes)``: the logits of each sample with each channel's map, upsampled to
    the input and min-max scaled, multiplied as a mask into the input the layer depends on
    (``inputs[target]``; the other inputs are repeated unchanged)."""
    size = image_size(inputs[target:])
    n_samples, channels = activations.shape[0], activations.shape[-1]
    per_sample = []
    for i in range(n_samples):
        chunks = []
        for start in range(0, channels, batch_size):
            if should_stop is not None and should_stop():
                raise Cancelled("Score-CAM stopped: a newer request superseded it.")
            maps = np.moveaxis(activations[i, :, :, start : start + batch_size], -1, 0)
            masks = min_max(resize_maps(maps, size))
            batch = [np.repeat(x[i : i + 1], len(masks), axis=0) for x in inputs]
            batch[target] = inputs[target][i] * masks[..., None]
            chunks.append(adapter.logits(batch))
        per_sample.append(np.concatenate(chunks))
    return np.stack(per_sample)


def _fingerprint(adapter: Any, inputs: list[np.ndarray]) -> tuple[int, str]:
    digest = hashlib.blake2b(digest_size=16)
    for x in inputs:
        digest.update(repr(x.shape).encode())
        digest.update(np.ascontiguousarray(x).data)
    return id(adapter), digest.hexdigest()
