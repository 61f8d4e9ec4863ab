"""The framework-free description of a layer, and looking layers up by name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ._messages import Message

Kind = Literal[
    "input",
    "conv",
    "dense",
    "pool",
    "activation",
    "norm",
    "reshape",
    "dropout",
    "merge",
    "model",
    "other",
]


@dataclass(frozen=True)
class LayerInfo:
    """One row of the layer list, in the user's words.

    Attributes
    ----------
    name : str
        Unique name; layers of nested Keras models are ``outer/inner``, torch modules are
        named as ``named_modules()`` gives them.
    type : str
        The layer's class name, e.g. ``"Conv2D"``.
    output_shape : tuple or None
        Output shape with the batch axis as ``None``; ``None`` where unknown.
    params : int
        Number of parameters (weights and biases, trainable or not).
    trainable : bool
    kind : str
        One of ``input, conv, dense, pool, activation, norm, reshape, dropout, merge, model,
        other``.
    parent : str or None
        Name of the enclosing sub-model, ``None`` at the top level.
    """

    name: str
    type: str
    output_shape: tuple[int | None, ...] | None
    params: int
    trainable: bool
    kind: Kind
    parent: str | None = None

    @property
    def is_spatial(self) -> bool:
        """True when the output is a batch of 2-D maps, ``(N, H, W, C)``."""
        return self.output_shape is not None and len(self.output_shape) == 4

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# Checked in order: the first fragment found in the lower-cased class name wins, so the
# more specific names come first ("depthwiseconv" before "dense"-free "conv").
_KIND_BY_CLASS_FRAGMENT: tuple[tuple[str, Kind], ...] = (
    ("inputlayer", "input"),
    ("conv", "conv"),
    ("dense", "dense"),
    ("linear", "dense"),
    ("pool", "pool"),
    ("normalization", "norm"),
    ("batchnorm", "norm"),
    ("groupnorm", "norm"),
    ("layernorm", "norm"),
    ("dropout", "dropout"),
    ("flatten", "reshape"),
    ("reshape", "reshape"),
    ("permute", "reshape"),
    ("padding", "reshape"),
    ("cropping", "reshape"),
    ("upsampling", "reshape"),
    ("add", "merge"),
    ("concatenate", "merge"),
    ("multiply", "merge"),
    ("average", "merge"),
    ("subtract", "merge"),
    ("maximum", "merge"),
    ("minimum", "merge"),
    ("relu", "activation"),
    ("activation", "activation"),
    ("softmax", "activation"),
    ("sigmoid", "activation"),
    ("tanh", "activation"),
    ("gelu", "activation"),
    ("silu", "activation"),
    ("hardswish", "activation"),
)


def kind_of(class_name: str) -> Kind:
    """Classify a layer by its class name (framework-independent)."""
    lowered = class_name.lower()
    for fragment, kind in _KIND_BY_CLASS_FRAGMENT:
        if fragment in lowered:
            return kind
    return "other"


def resolve_layer(layers: Sequence[LayerInfo], layer: str | LayerInfo) -> LayerInfo:
    """Find ``layer`` (a name or a ``LayerInfo``) among ``layers``.

    Raises a ``KeyError`` naming the closest matches when there is no such layer.
    """
    name = layer.name if isinstance(layer, LayerInfo) else layer
    if not isinstance(name, str):
        raise TypeError(f"a layer is given by its name or a LayerInfo, not {type(layer).__name__}")
    for info in layers:
        if info.name == name:
            return info
    raise UnknownLayerError(name, (info.name for info in layers))


class UnknownLayerError(KeyError, ValueError):
    """A layer name that the model does not have (both a KeyError and a ValueError)."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        known = list(known)
        close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
        if not close:
            # Names of nested layers are long: also match on the last path component.
            tail = name.rsplit("/", 1)[-1]
            close = [k for k in known if k.rsplit("/", 1)[-1] == tail][:5]
        text = f"The model has no layer named {name!r}."
        if close:
            names = ", ".join(repr(c) for c in close)
            message = Message(
                "unknown_layer", f"{text} Did you mean: {names}?", layer=repr(name), close=names
            )
        elif known:
            some = ", ".join(repr(k) for k in known[:8]) + (", ..." if len(known) > 8 else "")
            message = Message(
                "unknown_layer_list", f"{text} Its layers are: {some}", layer=repr(name), known=some
            )
        else:
            message = Message("unknown_layer_none", f"{text} It has no layers.", layer=repr(name))
        self.message = message
        super().__init__(self.message)

    def __str__(self) -> str:
        # KeyError's str() adds quotes around the message; users should read plain text.
        return self.message


def layer_list(layers: Any, argument: str = "layers") -> list[Any]:
    """``layers`` as a list: one name or ``LayerInfo`` becomes a list of one; anything that
    is neither nor an iterable of them (``3``, ``None``) is a ``TypeError`` saying so."""
    if isinstance(layers, (str, LayerInfo)):
        return [layers]
    if isinstance(layers, (bytes, Mapping)) or not isinstance(layers, Iterable):
        raise TypeError(
            f"{argument} is a layer name, a LayerInfo or a list of them, not "
            f"{type(layers).__name__}"
        )
    return list(layers)
