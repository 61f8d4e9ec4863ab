"""Find the adapter for a model by duck typing, importing a framework only when needed."""

from __future__ import annotations

import sys
import threading
import weakref
from collections import OrderedDict
from typing import Any

from .base import Adapter

SUPPORTED = "a Keras 3 model (keras.Model / keras.Sequential) or a PyTorch torch.nn.Module"

#: Adapters of the most recently used models, so repeated calls reuse compiled functions.
#: Compiled TensorFlow functions end up referring to their model, so this cache holds at most
#: a few models alive; a LayerExplorer keeps its own adapter for as long as it lives.
RECENT_ADAPTERS = 4
_recent: OrderedDict[int, tuple[weakref.ref[Any], Adapter]] = OrderedDict()
_lock = threading.Lock()


def _forget(key: int) -> None:
    with _lock:
        entry = _recent.get(key)
        if entry is not None and entry[0]() is None:
            del _recent[key]


def _is_keras_model(model: Any) -> bool:
    # Checking sys.modules first keeps `import keras` (seconds, and TensorFlow with it) out
    # of sessions that never pass a Keras model.
    if "keras" not in sys.modules:
        return False
    import keras

    return isinstance(model, keras.Model)


def _is_torch_module(model: Any) -> bool:
    if "torch" not in sys.modules:  # a torch model cannot exist without torch imported
        return False
    import torch

    return isinstance(model, torch.nn.Module)


def is_model(model: Any) -> bool:
    """Whether ``adapter_for`` can read ``model`` (without building its adapter)."""
    return (
        bool(getattr(model, "is_cnnviz_adapter", False))
        or _is_keras_model(model)
        or _is_torch_module(model)
    )


def adapter_for(model: Any) -> Adapter:
    """The adapter of ``model`` (cached for recent models); ``TypeError`` if unsupported."""
    if getattr(model, "is_cnnviz_adapter", False):
        return model
    with _lock:
        entry = _recent.get(id(model))
        if entry is not None and entry[0]() is model:
            _recent.move_to_end(id(model))
            return entry[1]
        if _is_keras_model(model):
            from .keras import KerasAdapter

            adapter: Adapter = KerasAdapter(model)
        elif _is_torch_module(model):
            from .torch import TorchAdapter

            adapter = TorchAdapter(model)
        else:
            raise TypeError(
                f"cnnviz_widget cannot read a {type(model).__module__}.{type(model).__name__}: "
                f"it supports {SUPPORTED}."
            )
        _recent[id(model)] = (weakref.ref(model), adapter)
        # The adapter's compiled functions hold the model's variables: drop them with the model.
        weakref.finalize(model, _forget, id(model))
        while len(_recent) > RECENT_ADAPTERS:
            _recent.popitem(last=False)
        return adapter
