"""The public functions: one call each, any supported model."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ._inputs import Preprocess
from ._layers import LayerInfo, layer_list, resolve_layer
from .adapters import adapter_for
from .methods import prepare


def list_layers(model: Any) -> list[LayerInfo]:
    """The model's layers in model order, nested sub-models' layers after their parent.

    Parameters
    ----------
    model : keras.Model
        A built Keras 3 model (Sequential, functional, or with nested sub-models).

    Returns
    -------
    list of LayerInfo
    """
    return adapter_for(model).list_layers()


def activations(
    model: Any,
    images: Any,
    layers: Iterable[str | LayerInfo] | str | LayerInfo | None = None,
    *,
    preprocess: Preprocess | None = None,
) -> dict[str, np.ndarray]:
    """Outputs of several layers from one forward pass, in inference mode.

    Parameters
    ----------
    model : keras.Model
    images : array_like or list of array_like
        Shaped like the model's input, with or without the batch axis; a list with one
        array per input for a model with several inputs.
    layers : name, LayerInfo or iterable of them, optional
        Which layers; all of them by default.
    preprocess : callable, optional
        Maps ``images`` to model input.

    Returns
    -------
    dict of str to numpy.ndarray
        Channels-last arrays with the batch axis, keyed by layer name, in model order.
    """
    adapter, inputs = prepare(model, images, preprocess, "activations")
    known = adapter.list_layers()
    if layers is None:
        names = [info.name for info in known]
    else:
        names = list(
            dict.fromkeys(resolve_layer(known, layer).name for layer in layer_list(layers))
        )
    outputs = adapter.activations(inputs, names)
    missing = [name for name in names if name not in outputs]
    if missing and layers is not None:
        raise ValueError(
            f"Layer(s) {missing} are not called by the model's forward pass (containers or "
            "unused modules), so they have no output."
        )
    return outputs


def layer_weights(model: Any, layer: str | LayerInfo) -> tuple[np.ndarray, np.ndarray | None]:
    """A layer's kernel and bias as numpy, channels-last.

    Conv kernels are ``(kh, kw, in, out)``, dense kernels ``(in, out)``.  Raises
    ``ValueError`` for a layer without weights.
    """
    adapter = adapter_for(model)
    return adapter.layer_weights(resolve_layer(adapter.list_layers(), layer).name)
