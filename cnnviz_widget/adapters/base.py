"""What every framework adapter provides.  Methods and the explorer talk only to this."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from .._layers import LayerInfo


class Adapter(Protocol):
    """Every framework call goes through an adapter; arrays come back channels-last."""

    framework: str

    def input_shapes(self) -> list[tuple[int | None, ...]]:
        """Shapes of the model's inputs, batch axis first as ``None``, channels-last."""
        ...

    def is_built(self) -> bool:
        """Whether the model's input shapes are known (no example needed)."""
        ...

    def ensure_built(self, inputs: Sequence[np.ndarray]) -> None:
        """Build a model that has never been called, from example inputs."""
        ...

    def list_layers(self) -> list[LayerInfo]:
        """All layers in model order, nested ones after their parent."""
        ...

    def activations(
        self, inputs: Sequence[np.ndarray], names: Sequence[str]
    ) -> dict[str, np.ndarray]:
        """Outputs of the named layers from one forward pass (inference mode)."""
        ...

    def class_gradients(
        self, inputs: Sequence[np.ndarray], layer: str | None, class_index: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(target value, d(class logit)/d(target), logits, explained classes) in one pass."""
        ...

    def filter_gradients(
        self, inputs: Sequence[np.ndarray], layer: str, filters: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per sample, one filter's mean activation and its gradient w.r.t. the input."""
        ...

    def logits(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """Pre-softmax class scores, (N, classes)."""
        ...

    def layer_weights(self, name: str) -> tuple[np.ndarray, np.ndarray | None]:
        """The layer's kernel (channels-last) and bias, or ``ValueError`` if it has none."""
        ...
