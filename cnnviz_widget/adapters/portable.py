"""Moving a model to another process without pickling it: for ``top_activations(client=...)``.

A pickled model is code that runs when it is loaded, so a model travels to Dask workers in
its framework's own safe format instead:

- **Keras**: the ``.keras`` archive ``model.save`` writes (config + weights), loaded on the
  worker with ``keras.saving.load_model`` and its default ``safe_mode``.  A model that this
  cannot rebuild (a ``Lambda`` layer, whose function is bytecode; a custom class that is not
  registered with ``keras.saving.register_keras_serializable`` in a module the workers can
  import) is refused in the calling process, before any data moves.
- **PyTorch**: the ``state_dict`` (``torch.save`` of tensors only), loaded with
  ``torch.load(..., weights_only=True)`` into a fresh instance of the model's class.  The
  class is imported on the worker by its module and name and called without arguments, so
  it must live in an importable module (not ``__main__``) and need no constructor
  arguments; a model that does not is refused with the reason.

Like the adapter registry this finds the framework by duck typing and imports a framework
only when a model of it is passed.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import io
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import SUPPORTED, _is_keras_model, _is_torch_module


@dataclass(frozen=True)
class PortableModel:
    """A model as bytes that a worker process rebuilds without unpickling code.

    Attributes
    ----------
    framework : str
        ``"keras"`` or ``"torch"``.
    payload : bytes
        The ``.keras`` archive, or the ``torch.save`` bytes of the ``state_dict``.
    digest : str
        SHA-256 of what defines the model (architecture and weights, not the save date), so
        that a worker loads the same model once however many calls send it.
    imports : tuple of str
        Modules to import on the worker first: they register the model's custom classes
        (Keras) or define its class (torch).
    builder : str or None
        torch: ``"module:QualName"`` of the class to instantiate.
    backend : str or None
        Keras: the backend the model was saved from, used on workers that have not
        imported Keras yet.
    """

    framework: str
    payload: bytes
    digest: str
    imports: tuple[str, ...] = ()
    builder: str | None = None
    backend: str | None = None


class NotPortableError(TypeError):
    """A model that cannot travel to another process safely, with the reason."""


def export_model(model: Any) -> PortableModel:
    """``model`` as a :class:`PortableModel`; ``NotPortableError`` saying why it cannot be."""
    if _is_keras_model(model):
        return _export_keras(model)
    if _is_torch_module(model):
        return _export_torch(model)
    raise TypeError(
        f"cnnviz_widget cannot send a {type(model).__module__}.{type(model).__name__} to "
        f"workers: it supports {SUPPORTED}."
    )


def import_model(portable: PortableModel) -> Any:
    """Rebuild the model of ``portable`` in this process (Keras safe mode; torch weights only)."""
    for module in portable.imports:
        importlib.import_module(module)
    if portable.framework == "keras":
        if portable.backend:
            # Only takes effect where Keras is not imported yet (a fresh worker).
            os.environ.setdefault("KERAS_BACKEND", portable.backend)
        import keras

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.keras"
            path.write_bytes(portable.payload)
            # The default safe_mode stays on: a Lambda's bytecode is refused, not run.
            return keras.saving.load_model(path, compile=False)
    if portable.framework == "torch":
        import torch

        assert portable.builder is not None
        model_class = _find(portable.builder)
        model = model_class()
        state = torch.load(io.BytesIO(portable.payload), map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        return model.eval()
    raise ValueError(f"Unknown framework {portable.framework!r} in a PortableModel.")


# ---------------------------------------------------------------------------------- Keras
def _export_keras(model: Any) -> PortableModel:
    import keras

    imports = _check_keras_classes(model, keras)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        payload = path.read_bytes()
    return PortableModel(
        framework="keras",
        payload=payload,
        digest=_archive_digest(payload),
        imports=imports,
        backend=keras.backend.backend(),
    )


def _check_keras_classes(model: Any, keras: Any) -> tuple[str, ...]:
    """Modules that register the model's custom classes; refuses what safe mode cannot load."""
    modules: list[str] = []
    for obj in _keras_objects(model):
        cls = type(obj)
        if cls.__module__.split(".")[0] == "keras":
            if isinstance(obj, keras.layers.Lambda):
                raise NotPortableError(
                    f"The model {model.name!r} has a Lambda layer ({obj.name!r}): its function "
                    "is Python bytecode, which keras.saving.load_model refuses in safe mode, so "
                    "the model cannot be sent to Dask workers.  Write the function as a custom "
                    "layer registered with keras.saving.register_keras_serializable in a module "
                    "the workers can import."
                )
            continue
        registered = keras.saving.get_registered_object(keras.saving.get_registered_name(cls))
        if registered is not cls:
            raise NotPortableError(
                f"The model {model.name!r} uses the custom class {cls.__qualname__} "
                f"({getattr(obj, 'name', '')!r}), which is not registered, so "
                "keras.saving.load_model could not rebuild it on a Dask worker.  Decorate it "
                "with @keras.saving.register_keras_serializable() in a module the workers "
                "can import."
            )
        if cls.__module__ == "__main__":
            raise NotPortableError(
                f"The model {model.name!r} uses the custom class {cls.__qualname__}, defined in "
                "__main__ (a notebook or script), which Dask workers cannot import.  Move it "
                "to a module the workers can import."
            )
        modules.append(cls.__module__)
    return tuple(dict.fromkeys(modules))


def _keras_objects(model: Any) -> list[Any]:
    """The model and every layer inside it, nested models' layers and sublayers included."""
    # Layer._flatten_layers is how Keras itself walks sublayers (for weights and saving).
    flatten = getattr(model, "_flatten_layers", None)
    if callable(flatten):
        return list(flatten(include_self=True, recursive=True))
    found, stack = [], [model]
    while stack:
        obj = stack.pop()
        found.append(obj)
        stack.extend(getattr(obj, "layers", None) or [])
    return found


def _archive_digest(payload: bytes) -> str:
    """SHA-256 of a ``.keras`` archive's config and weights; its metadata holds the save date."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        for name in sorted(archive.namelist()):
            if name != "metadata.json":
                digest.update(name.encode())
                digest.update(archive.read(name))
    return digest.hexdigest()


# ---------------------------------------------------------------------------------- torch
def _export_torch(model: Any) -> PortableModel:
    import torch

    cls = type(model)
    builder = f"{cls.__module__}:{cls.__qualname__}"
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        raise NotPortableError(
            f"The model's class {cls.__qualname__} is defined in {cls.__module__} (a notebook, "
            "script or function), which Dask workers cannot import.  Move it to a module the "
            "workers can import."
        )
    required = [
        p.name
        for p in inspect.signature(cls).parameters.values()
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if required:
        raise NotPortableError(
            f"The model's class {cls.__qualname__} needs the constructor arguments "
            f"{required}, but a worker rebuilds it as {cls.__qualname__}() and loads the "
            "weights into it (a pickled module would be code).  Subclass it with an "
            "__init__ that takes no arguments, in a module the workers can import."
        )
    if _find(builder) is not cls:
        raise NotPortableError(
            f"{builder} does not name the model's class when imported, so a worker could not "
            "rebuild it."
        )
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    # What the worker will build, built here first: a class whose no-argument instance has
    # other weights (an empty nn.Sequential()) fails now with the reason, not on a worker.
    rebuilt = {k: tuple(v.shape) for k, v in cls().state_dict().items()}
    if rebuilt != {k: tuple(v.shape) for k, v in state.items()}:
        raise NotPortableError(
            f"{cls.__qualname__}() builds a model whose weights differ from this one's "
            f"({len(rebuilt)} tensors against {len(state)}, or other shapes), so a worker could "
            "not load the weights into it.  Subclass it with an __init__ that takes no "
            "arguments and builds this architecture, in a module the workers can import."
        )
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    digest = hashlib.sha256(builder.encode() + b"\0" + payload).hexdigest()
    return PortableModel(
        framework="torch",
        payload=payload,
        digest=digest,
        imports=(cls.__module__,),
        builder=builder,
    )


def _find(builder: str) -> Any:
    module, _, qualname = builder.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj
