"""cnnviz-widget: see inside a convolutional neural network from a notebook cell."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._layers import LayerInfo
from .api import activations, layer_weights, list_layers
from .graph import GraphNode, ModelGraph, model_graph
from .methods.dataset import ScanProgress, TopActivations, iter_top_activations, top_activations
from .methods.gradcam import grad_cam
from .methods.maximize import maximize_filter
from .methods.saliency import saliency
from .methods.trust import Faithfulness, faithfulness, integrated_gradients
from .render import mosaic

if TYPE_CHECKING:
    from .explorer import LayerExplorer

__all__ = [
    "Faithfulness",
    "GraphNode",
    "LayerExplorer",
    "LayerInfo",
    "ModelGraph",
    "ScanProgress",
    "TopActivations",
    "activations",
    "faithfulness",
    "grad_cam",
    "integrated_gradients",
    "iter_top_activations",
    "layer_weights",
    "list_layers",
    "maximize_filter",
    "model_graph",
    "mosaic",
    "saliency",
    "top_activations",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The widget pulls in anywidget/ipywidgets; plain array users should not pay for that.
    if name == "LayerExplorer":
        from .explorer import LayerExplorer

        return LayerExplorer
    raise AttributeError(f"module 'cnnviz_widget' has no attribute {name!r}")
