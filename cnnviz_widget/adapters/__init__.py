"""Find the adapter for a model by duck typing, importing a framework only when needed."""

from __future__ import annotations

import sys
import threading
import weakref
from typing import Any

from .base import Adapter

_adapters: weakref.WeakKeyDictionary[Any, Adapter] = weakref.WeakKeyDictionary()
_lock = threading.Lock()

SUPPORTED = "a Keras 3 model (keras.Model / keras.Sequential)"


def _is_keras_model(model: Any) -> bool:
    # Checking sys.modules first keeps `import keras` (seconds, and TensorFlow with it) out
    # of sessions that never pass a Keras model.
    if "keras" not in sys.modules:
        return False
    import keras

    return isinstance(model, keras.Model)


def adapter_for(model: Any) -> Adapter:
    """The (cached) adapter of ``model``; ``TypeError`` for unsupported objects."""
    if getattr(model, "is_cnnviz_adapter", False):
        return model
    with _lock:
        try:
            cached = _adapters.get(model)
        except TypeError:  # not weak-referenceable: not a model of ours either
            cached = None
        if cached is not None:
            return cached
        if _is_keras_model(model):
            from .keras import KerasAdapter

            adapter: Adapter = KerasAdapter(model)
        else:
            raise TypeError(
                f"cnnviz_widget cannot read a {type(model).__module__}.{type(model).__name__}: "
                f"it supports {SUPPORTED}."
            )
        _adapters[model] = adapter
        return adapter
