"""Saliency and SmoothGrad against a hand-derived gradient and tf-keras-vis 0.8.7."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from cnnviz_widget.methods import saliency as saliency_module
from cnnviz_widget.methods.saliency import saliency


@pytest.fixture(scope="module")
def tiny(keras):
    """The network of test_gradcam.py: x = 0..15 (4x4), two 3x3 all-ones kernels with biases
    -50 and -75, ReLU, channels-last Flatten, Dense with output-0 weights
    [1, 1, 1, 1, 1, -1, -1, -1]."""
    x = keras.Input((4, 4, 1), name="image")
    h = keras.layers.Conv2D(2, 3, name="conv")(x)
    h = keras.layers.ReLU(name="relu")(h)
    h = keras.layers.Flatten(name="flat")(h)
    model = keras.Model(x, keras.layers.Dense(4, name="dense")(h))
    model.get_layer("conv").set_weights(
        [np.ones((3, 3, 1, 2), np.float32), np.array([-50, -75], np.float32)]
    )
    dense = np.zeros((8, 4), np.float32)
    dense[:, 0] = [1, 1, 1, 1, 1, -1, -1, -1]
    model.get_layer("dense").set_weights([dense, np.zeros(4, np.float32)])
    return model


def test_tiny_network_equals_hand_derived_gradient(tiny):
    # Pre-activations Z0 = [[-5, 4], [31, 40]], Z1 = [[-30, -21], [6, 15]] (see
    # test_gradcam.py).  d(logit 0)/dx sums, over the active units (Z > 0) whose 3x3 window
    # covers a pixel, that unit's dense weight; per window position (i, j) the active
    # weights add up to  W = [[0, 1], [1 - 1, -1 - 1]] = [[0, 1], [0, -2]].
    # Pixel row p is covered by window rows {0} (p = 0), {0, 1} (p = 1, 2), {1} (p = 3),
    # columns likewise, so the gradient is
    #     [[0,  1,  1,  1],
    #      [0, -1, -1, -1],
    #      [0, -1, -1, -1],
    #      [0, -2, -2, -2]]
    # and |gradient| / max = [[0, .5, .5, .5], [0, .5, .5, .5], [0, .5, .5, .5], [0, 1, 1, 1]].
    image = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
    expected = np.array([[0, 0.5, 0.5, 0.5]] * 3 + [[0, 1, 1, 1]], np.float32)
    got = saliency(tiny, image, 0)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected[None])


@pytest.fixture(scope="module")
def softmax_cnn(keras):
    keras.utils.set_random_seed(7)
    x = keras.Input((16, 12, 3), name="image")
    h = keras.layers.Conv2D(6, 3, activation="relu", name="conv1")(x)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.Conv2D(8, 3, activation="relu", name="conv2")(h)
    h = keras.layers.Flatten(name="flat")(h)
    out = keras.layers.Dense(5, activation="softmax", name="probs")(h)
    return keras.Model(x, out, name="softmax_cnn")


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(8)
    return {
        "softmax_cnn": rng.random((3, 16, 12, 3), dtype=np.float32),
        "functional": rng.random((2, 28, 28, 1), dtype=np.float32),
    }


@pytest.fixture(scope="module")
def tkv():
    """tf-keras-vis ``Saliency(model, model_modifier=ReplaceToLinear())`` with
    ``normalize_map=True``, and the tolerance its normalisation needs.

    Its normalize divides by ``max - min + 1e-7`` where we divide by ``max - min``, so the
    maps are up to ``1e-7 / (max - min)`` apart; the raw map gives that spread, and applying
    tf-keras-vis's own ``normalize`` to it is exactly what ``normalize_map=True`` does.
    """
    pytest.importorskip("tf_keras_vis")
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.utils import normalize
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    def run(model, x, classes, smooth_samples=0, seed=None):
        visualizer = Saliency(model, model_modifier=ReplaceToLinear(), clone=True)
        if seed is not None:
            # tf-keras-vis draws its noise from NumPy's global legacy generator.
            np.random.seed(seed)  # noqa: NPY002
        with warnings.catch_warnings():
            # tf-keras-vis passes a one-input model a list; Keras 3 warns about that.
            warnings.filterwarnings("ignore", "The structure of `inputs`", UserWarning)
            raw = np.asarray(
                visualizer(
                    CategoricalScore([int(c) for c in classes]),
                    x,
                    smooth_samples=smooth_samples,
                    normalize_map=False,
                )
            )
        span = raw.max(axis=(1, 2)) - raw.min(axis=(1, 2))
        return np.asarray(normalize(raw)), float((1e-7 / span).max()) + 2e-6

    return run


@pytest.mark.parametrize("fixture", ["softmax_cnn", "functional"])
def test_vanilla_equals_tf_keras_vis(request, tkv, images, fixture):
    model = request.getfixturevalue(fixture)
    x = images[fixture]
    classes = [3, 1, 4][: len(x)]
    theirs, atol = tkv(model, x, classes)
    ours = saliency(model, x, classes)
    assert ours.shape == theirs.shape == x.shape[:3]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=atol)


def test_default_class_is_top_class(tkv, softmax_cnn, images):
    x = images["softmax_cnn"]
    top = np.argmax(softmax_cnn.predict(x, verbose=0), axis=-1)
    theirs, atol = tkv(softmax_cnn, x, top)
    np.testing.assert_allclose(saliency(softmax_cnn, x), theirs, rtol=0, atol=atol)
    np.testing.assert_array_equal(saliency(softmax_cnn, x), saliency(softmax_cnn, x, top))


@pytest.mark.parametrize("fixture", ["softmax_cnn", "functional"])
def test_smoothgrad_equals_tf_keras_vis_on_the_same_noise(request, tkv, images, fixture):
    # Both draw the copies' noise from NumPy's legacy generator in copy-major order, so
    # seeding it the same way gives the same noisy images; both average |gradient|.
    model = request.getfixturevalue(fixture)
    x = images[fixture]
    classes = [0, 2, 1][: len(x)]
    theirs, atol = tkv(model, x, classes, smooth_samples=6, seed=11)
    ours = saliency(model, x, classes, smooth_samples=6, seed=11)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=atol)
    assert not np.allclose(ours, saliency(model, x, classes), atol=1e-3), "no noise was added"


def test_smoothgrad_is_deterministic_and_in_range(softmax_cnn, images):
    x = images["softmax_cnn"]
    first = saliency(softmax_cnn, x, smooth_samples=5, seed=3)
    assert first.shape == (3, 16, 12)
    assert first.dtype == np.float32
    np.testing.assert_array_equal(first, saliency(softmax_cnn, x, smooth_samples=5, seed=3))
    assert not np.array_equal(first, saliency(softmax_cnn, x, smooth_samples=5, seed=4))
    top = np.argmax(softmax_cnn.predict(x, verbose=0), axis=-1)  # of the clean images
    np.testing.assert_array_equal(first, saliency(softmax_cnn, x, top, smooth_samples=5, seed=3))
    np.testing.assert_allclose(first.min(axis=(1, 2)), 0)
    np.testing.assert_allclose(first.max(axis=(1, 2)), 1)


def test_smoothgrad_does_not_depend_on_chunking(monkeypatch, softmax_cnn, images):
    x = images["softmax_cnn"]
    whole = saliency(softmax_cnn, x, [1, 2, 3], smooth_samples=4, seed=5)
    # 2.5 images per gradient call: chunks that split the copies of one pass of the batch.
    monkeypatch.setattr(saliency_module, "_CHUNK_ELEMENTS", int(2.5 * x[0].size))
    np.testing.assert_allclose(
        saliency(softmax_cnn, x, [1, 2, 3], smooth_samples=4, seed=5), whole, atol=1e-6
    )


def test_bad_inputs_are_clear_errors(softmax_cnn):
    with pytest.raises(ValueError, match=r"\(N, 16, 12, 3\)"):
        saliency(softmax_cnn, np.zeros((12, 16, 3), np.float32))
    with pytest.raises(ValueError, match="out of range"):
        saliency(softmax_cnn, np.zeros((16, 12, 3), np.float32), 9)
