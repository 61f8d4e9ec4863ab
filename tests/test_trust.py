"""Integrated gradients, deletion/insertion curves and rank correlation against references.

* Deletion and insertion: the definition (DESIGN.md section 3) written out plainly here, one
  image at a time, with a numpy forward pass of a model small enough to follow by hand, and
  with Keras's own ``model(image)`` on a CNN; on a linear model the exact attribution
  ``w * x`` deletes faster than its reverse and than random orders.
* Integrated gradients: completeness against ``score(x) - score(baseline)`` from the model
  itself, exact attributions of a linear model, and Captum's ``IntegratedGradients`` on a
  torch network with the same weights as a Keras CNN (same Gauss-Legendre rule and steps).
* Rank correlation: ``scipy.stats.spearmanr``.
* The sanity check's untrained copy leaves the user's model bitwise unchanged.
"""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import numpy as np
import pytest

from cnnviz_widget.adapters import adapter_for
from cnnviz_widget.methods import Cancelled, resize_maps
from cnnviz_widget.methods.trust import (
    Faithfulness,
    faithfulness,
    faithfulness_readout,
    integrated_gradients,
    integrated_gradients_details,
    rank_correlation,
)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def reference_curve(
    probabilities: Any, image: np.ndarray, heat: np.ndarray, cls: int, steps: int, baseline: Any
) -> dict[str, tuple[list[float], float]]:
    """The definition, plainly: rank pixels (highest first, ties by lower flat index), then
    at step i delete (or restore) the first round(i / steps * H * W) of them, one image at a
    time; AUC by the trapezoid rule over i / steps."""
    height, width = image.shape[:2]
    flat = [float(v) for v in heat.ravel()]
    order = sorted(range(height * width), key=lambda p: (-flat[p], p))
    empty = np.broadcast_to(np.asarray(baseline, np.float32), image.shape)
    curves = {}
    for metric in ("deletion", "insertion"):
        scores = []
        for i in range(steps + 1):
            k = round(i / steps * height * width)
            picture = image.copy() if metric == "deletion" else empty.copy()
            for p in order[:k]:
                row, col = divmod(p, width)
                picture[row, col, :] = (
                    empty[row, col, :] if metric == "deletion" else image[row, col]
                )
            scores.append(float(probabilities(picture)[cls]))
        auc = sum((scores[i] + scores[i + 1]) / 2 * (1 / steps) for i in range(steps))
        curves[metric] = (scores, auc)
    return curves


# ------------------------------------------------------------------ a model to do by hand
@pytest.fixture(scope="module")
def hand(keras):
    """2x2 grey image -> Flatten -> Dense(2, softmax); logit 0 = [1, 2, 3, 4] . x, logit 1 = 0."""
    x = keras.Input((2, 2, 1))
    out = keras.layers.Dense(2, activation="softmax", name="dense")(keras.layers.Flatten()(x))
    model = keras.Model(x, out)
    kernel = np.zeros((4, 2), np.float32)
    kernel[:, 0] = [1, 2, 3, 4]
    model.get_layer("dense").set_weights([kernel, np.zeros(2, np.float32)])
    return model


def test_curves_of_the_hand_model_equal_the_values_worked_out_on_paper(hand):
    # Image of ones, map = the weights: pixels go in the order 4, 3, 2, 1 (flat index 3..0).
    # p(class 0) = sigmoid(logit 0).  With steps = 4 one pixel goes per step:
    #   deletion  logit 0 = 10, 10-4, 10-4-3, 10-4-3-2, 0  = 10, 6, 3, 1, 0
    #   insertion logit 0 = 0, 4, 7, 9, 10
    image = np.ones((2, 2, 1), np.float32)
    heat = np.array([[1.0, 2.0], [3.0, 4.0]])

    def sigmoid(v: list[float]) -> np.ndarray:
        return 1 / (1 + np.exp(-np.array(v, np.float64)))

    deletion = faithfulness(hand, image, heat, 0, steps=4)
    insertion = faithfulness(hand, image, heat, 0, metric="insertion", steps=4)
    assert isinstance(deletion, Faithfulness)
    np.testing.assert_array_equal(deletion.fractions, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(deletion.scores, [sigmoid([10, 6, 3, 1, 0])], rtol=1e-6)
    np.testing.assert_allclose(insertion.scores, [sigmoid([0, 4, 7, 9, 10])], rtol=1e-6)
    trapezoid = lambda s: (s[0] / 2 + s[1] + s[2] + s[3] + s[4] / 2) / 4  # noqa: E731
    np.testing.assert_allclose(deletion.auc, [trapezoid(sigmoid([10, 6, 3, 1, 0]))], rtol=1e-6)
    np.testing.assert_allclose(insertion.auc, [trapezoid(sigmoid([0, 4, 7, 9, 10]))], rtol=1e-6)


@pytest.fixture(scope="module")
def dense16(keras):
    """4x4 grey -> Flatten -> Dense(3, softmax) with known weights: a numpy forward pass is
    the model, written out."""
    rng = np.random.default_rng(5)
    x = keras.Input((4, 4, 1))
    out = keras.layers.Dense(3, activation="softmax", name="dense")(keras.layers.Flatten()(x))
    model = keras.Model(x, out)
    kernel = rng.normal(size=(16, 3)).astype(np.float32)
    bias = rng.normal(size=3).astype(np.float32)
    model.get_layer("dense").set_weights([kernel, bias])
    return model, kernel, bias


@pytest.mark.parametrize("steps", [1, 3, 8, 20])
def test_curves_equal_the_definition_one_image_at_a_time(dense16, steps):
    model, kernel, bias = dense16
    rng = np.random.default_rng(steps)
    images = rng.random((3, 4, 4, 1), dtype=np.float32)
    maps = np.stack(
        [
            rng.integers(0, 3, (4, 4)).astype(np.float32),  # many ties: lower flat index first
            rng.random((4, 4), dtype=np.float32),
            np.zeros((4, 4), np.float32),  # all tied: flat order
        ]
    )
    baseline = 0.25

    def probabilities(picture: np.ndarray) -> np.ndarray:
        return _softmax(picture.reshape(-1).astype(np.float64) @ kernel + bias)

    for metric in ("deletion", "insertion"):
        got = faithfulness(model, images, maps, metric=metric, steps=steps, baseline=baseline)
        assert got.scores.shape == (3, steps + 1)
        np.testing.assert_allclose(got.fractions, np.arange(steps + 1) / steps)
        for n in range(3):
            cls = int(np.argmax(probabilities(images[n])))  # top class of the clean image
            scores, auc = reference_curve(probabilities, images[n], maps[n], cls, steps, baseline)[
                metric
            ]
            np.testing.assert_allclose(got.scores[n], scores, rtol=1e-5, atol=1e-7)
            np.testing.assert_allclose(got.auc[n], auc, rtol=1e-5)


@pytest.fixture(scope="module")
def small_cnn(keras):
    keras.utils.set_random_seed(11)
    x = keras.Input((6, 6, 3), name="image")
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(x)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    out = keras.layers.Dense(5, activation="softmax", name="probs")(h)
    return keras.Model(x, out, name="small_cnn")


def test_cnn_curves_with_a_smaller_map_and_an_array_baseline_equal_the_definition(small_cnn):
    import cv2

    rng = np.random.default_rng(2)
    images = rng.random((2, 6, 6, 3), dtype=np.float32)
    # 3x3 maps, enlarged bilinearly to 6x6 (cv2's INTER_LINEAR, half-pixel centres, is the
    # reference resize): chosen so that the enlarged values are well apart, so that round-off
    # between the two resizes cannot swap two pixels.
    maps = np.stack(
        [
            np.array([[0.0, 1.0, 2.2], [3.1, 4.6, 5.0], [6.3, 7.9, 9.4]], np.float32) ** 1.3,
            np.array([[9.0, 0.2, 4.1], [1.3, 7.7, 2.9], [5.6, 3.4, 8.2]], np.float32),
        ]
    )
    enlarged = np.stack([cv2.resize(m, (6, 6), interpolation=cv2.INTER_LINEAR) for m in maps])
    for m in enlarged:
        gaps = np.diff(np.unique(m))
        assert gaps.min() > 1e-3
    baseline = rng.random((6, 6, 3), dtype=np.float32)  # e.g. a blurred image
    steps = 8  # 36 / 8 = 4.5: round half to even (4 at i = 1, 14 at i = 3)
    classes = [3, None]
    for metric in ("deletion", "insertion"):
        for n, cls in enumerate(classes):
            got = faithfulness(
                small_cnn, images[n], maps[n], cls, metric=metric, steps=steps, baseline=baseline
            )

            def probabilities(picture: np.ndarray) -> np.ndarray:
                return np.asarray(small_cnn(picture[None], training=False))[0]

            explained = cls if cls is not None else int(np.argmax(probabilities(images[n])))
            scores, auc = reference_curve(
                probabilities, images[n], enlarged[n], explained, steps, baseline
            )[metric]
            np.testing.assert_allclose(got.scores[0], scores, rtol=1e-5, atol=1e-7)
            np.testing.assert_allclose(got.auc[0], auc, rtol=1e-5)


def test_two_input_model_perturbs_the_first_input_and_keeps_the_other(
    two_inputs, two_inputs_images
):
    grey, colour = two_inputs_images
    maps = np.random.default_rng(4).random((2, 28, 28))
    got = faithfulness(two_inputs, [grey, colour], maps, metric="insertion", steps=5)
    for n in range(2):

        def probabilities(picture: np.ndarray, n: int = n) -> np.ndarray:
            logits = np.asarray(two_inputs([picture[None], colour[n : n + 1]], training=False))
            return _softmax(logits[0].astype(np.float64))

        cls = int(np.argmax(probabilities(grey[n])))
        scores, auc = reference_curve(probabilities, grey[n], maps[n], cls, 5, 0.0)["insertion"]
        np.testing.assert_allclose(got.scores[n], scores, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(got.auc[n], auc, rtol=1e-5)


# ------------------------------------------------------------------------ a linear model
@pytest.fixture(scope="module")
def linear(keras):
    """8x8 grey -> Flatten -> Dense(2, softmax): logit 0 = w . x + 0.5, logit 1 = 0."""
    rng = np.random.default_rng(9)
    x = keras.Input((8, 8, 1))
    out = keras.layers.Dense(2, activation="softmax", name="dense")(keras.layers.Flatten()(x))
    model = keras.Model(x, out)
    weight_image = rng.normal(size=(8, 8, 1)).astype(np.float32)
    kernel = np.zeros((64, 2), np.float32)
    kernel[:, 0] = weight_image.ravel()
    model.get_layer("dense").set_weights([kernel, np.array([0.5, 0], np.float32)])
    images = rng.random((3, 8, 8, 1), dtype=np.float32)
    return model, weight_image, images


def test_linear_model_integrated_gradients_are_exactly_weight_times_input(linear):
    # The gradient of a linear score is the weight image everywhere on the path, so every
    # quadrature rule is exact: IG = w * (x - b), for any baseline.
    model, w, images = linear
    np.testing.assert_allclose(
        integrated_gradients(model, images, 0, steps=3), w * images, rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(
        integrated_gradients(model, images, 0, steps=1, baseline=0.5),
        w * (images - 0.5),
        rtol=1e-5,
        atol=1e-7,
    )


def test_linear_model_exact_attribution_deletes_faster_than_its_reverse(linear):
    # Deleting (to 0) the k pixels of largest w * x leaves the smallest logit any k pixels
    # can leave, so its curve lies under every other order's at every step; inserting them
    # first gives the largest.  Strictly lower/higher AUC than the reverse order.
    model, w, images = linear
    exact = (w * images)[..., 0]
    deletion = faithfulness(model, images, exact, 0, steps=16)
    reverse = faithfulness(model, images, -exact, 0, steps=16)
    assert np.all(deletion.auc < reverse.auc - 0.05)
    insertion = faithfulness(model, images, exact, 0, metric="insertion", steps=16)
    inserted_reverse = faithfulness(model, images, -exact, 0, metric="insertion", steps=16)
    assert np.all(insertion.auc > inserted_reverse.auc + 0.05)
    rng = np.random.default_rng(1)
    for _ in range(3):
        shuffled = rng.random(exact.shape)
        other = faithfulness(model, images, shuffled, 0, steps=16)
        assert np.all(deletion.scores <= other.scores + 1e-7)
        inserted = faithfulness(model, images, shuffled, 0, metric="insertion", steps=16)
        assert np.all(insertion.scores >= inserted.scores - 1e-7)


# -------------------------------------------------------------- integrated gradients
def _cnn(keras, activation: str, softmax: bool, seed: int) -> Any:
    """Conv-conv-GAP-Dense with nonzero biases (a ReLU net without biases is homogeneous:
    its gradient is constant along the path from 0 and every rule would be exact)."""
    keras.utils.set_random_seed(seed)
    bias = keras.initializers.RandomNormal(stddev=0.3, seed=seed)
    x = keras.Input((10, 10, 3), name="image")
    h = keras.layers.Conv2D(6, 3, activation=activation, bias_initializer=bias, name="c1")(x)
    h = keras.layers.Conv2D(8, 3, activation=activation, bias_initializer=bias, name="c2")(h)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    out = keras.layers.Dense(
        4, activation="softmax" if softmax else None, bias_initializer=bias, name="out"
    )(h)
    return keras.Model(x, out, name=f"cnn_{activation}")


@pytest.fixture(scope="module")
def images10():
    return np.random.default_rng(0).random((3, 10, 10, 3), dtype=np.float32)


@pytest.mark.parametrize("baseline", [None, 0.5, "array"])
def test_completeness_on_a_smooth_model_is_round_off(keras, images10, baseline):
    # tanh is analytic: the integrand is smooth along the path and 50 Gauss-Legendre points
    # integrate it to float32 round-off (measured about 2e-7 of score(x) - score(b)).
    model = _cnn(keras, "tanh", softmax=False, seed=1)
    start = np.float32(0.0 if baseline is None else 0.5) * np.ones((10, 10, 3), np.float32)
    if baseline == "array":
        start = np.random.default_rng(3).random((10, 10, 3), dtype=np.float32)
    given = start if baseline == "array" else baseline
    attributions, _logits, classes, gap = integrated_gradients_details(
        model, images10, steps=50, baseline=given
    )
    assert attributions.shape == (3, 10, 10, 3)
    assert attributions.dtype == np.float32
    on_images = np.asarray(model(images10, training=False), np.float64)
    on_start = np.asarray(model(np.stack([start] * 3), training=False), np.float64)
    np.testing.assert_array_equal(classes, on_images.argmax(axis=1))
    rise = on_images[np.arange(3), classes] - on_start[np.arange(3), classes]
    total = attributions.reshape(3, -1).astype(np.float64).sum(axis=1)
    np.testing.assert_allclose(total, rise, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gap, total - rise, atol=1e-6)


def test_completeness_on_a_relu_cnn_holds_to_the_rule_error(keras, images10):
    # A ReLU net's gradient is piecewise constant along the path and jumps where a unit
    # switches on or off.  Gauss-Legendre is exact for polynomials, not for jumps: each jump
    # costs up to about one node's weight (~1/steps) times its size, so at 50 steps the sum
    # is within a few tenths of a percent of the rise (measured 0.06-0.2%), and more steps
    # bring it closer.
    model = _cnn(keras, "relu", softmax=True, seed=2)
    gaps = {}
    for steps in (5, 50, 400):
        attributions, logits, classes, gap = integrated_gradients_details(
            model, images10, steps=steps
        )
        rise = logits[np.arange(3), classes].astype(np.float64) - _logits_at_zero(model, classes)
        total = attributions.reshape(3, -1).astype(np.float64).sum(axis=1)
        np.testing.assert_allclose(gap, total - rise, atol=1e-5)
        gaps[steps] = np.abs(total - rise) / np.abs(rise)
    assert np.all(gaps[50] < 1e-2)
    assert np.all(gaps[400] < 2e-3)
    assert gaps[400].max() < gaps[5].max()


def _logits_at_zero(model: Any, classes: np.ndarray) -> np.ndarray:
    # The model ends in softmax: its pre-softmax scores are the Dense layer's output, read
    # from a sub-model that stops before the activation is applied (same weights).
    import keras

    dense = model.get_layer("out")
    features = keras.Model(model.inputs[0], dense.input)
    h = np.asarray(features(np.zeros((len(classes), 10, 10, 3), np.float32), training=False))
    kernel, bias = dense.get_weights()
    return (h.astype(np.float64) @ kernel + bias)[np.arange(len(classes)), classes]


def test_top_class_is_chosen_on_the_image_and_an_int_or_list_is_honoured(keras, images10):
    model = _cnn(keras, "relu", softmax=True, seed=2)
    top = np.asarray(model(images10, training=False)).argmax(axis=1)
    default = integrated_gradients(model, images10, steps=8)
    np.testing.assert_array_equal(default, integrated_gradients(model, images10, top, steps=8))
    per_sample = integrated_gradients(model, images10, [0, 1, 2], steps=8)
    for n in range(3):
        alone = integrated_gradients(model, images10[n], n, steps=8)
        np.testing.assert_allclose(per_sample[n], alone[0], rtol=1e-5, atol=1e-7)


def _torch_twin(model: Any) -> Any:
    """The Keras conv-conv-GAP-Dense CNN rebuilt in pure torch with the same weights.

    Keras Conv2D kernels are (kh, kw, in, out), torch's (out, in, kh, kw); Dense kernels are
    (in, out), torch's Linear (out, in).  Global average pooling before the dense layer makes
    the channel order of a flatten irrelevant.  The twin outputs the pre-softmax logits.
    """
    import torch

    layers: list[Any] = []
    for name in ("c1", "c2"):
        kernel, bias = model.get_layer(name).get_weights()
        conv = torch.nn.Conv2d(kernel.shape[2], kernel.shape[3], kernel.shape[:2])
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()))
            conv.bias.copy_(torch.from_numpy(bias))  # type: ignore[union-attr]
        act = model.get_layer(name).activation.__name__
        layers += [conv, torch.nn.ReLU() if act == "relu" else torch.nn.Tanh()]
    kernel, bias = model.get_layer("out").get_weights()
    dense = torch.nn.Linear(*kernel.shape)
    with torch.no_grad():
        dense.weight.copy_(torch.from_numpy(kernel.T.copy()))
        dense.bias.copy_(torch.from_numpy(bias))
    layers += [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), dense]
    return torch.nn.Sequential(*layers).eval()


@pytest.mark.parametrize("baseline", [None, 0.3, "array"])
def test_keras_integrated_gradients_agree_with_captum_on_the_torch_twin(keras, images10, baseline):
    torch = pytest.importorskip("torch")
    captum_attr = pytest.importorskip("captum.attr")
    model = _cnn(keras, "relu", softmax=True, seed=4)
    twin = _torch_twin(model)
    nchw = torch.from_numpy(images10.transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        twin_logits = twin(nchw).numpy()
    # The twin is the same function: its logits give the Keras model's probabilities.
    np.testing.assert_allclose(
        np.asarray(model(images10, training=False)),
        np.exp(twin_logits) / np.exp(twin_logits).sum(1, keepdims=True),
        rtol=1e-5,
        atol=1e-7,
    )
    if baseline == "array":
        start = np.random.default_rng(6).random((10, 10, 3), dtype=np.float32)
        given: Any = start
        captum_baseline: Any = torch.from_numpy(start.transpose(2, 0, 1)[None].copy())
    else:
        given = baseline
        captum_baseline = 0.0 if baseline is None else float(baseline)
    ours = integrated_gradients(model, images10, steps=50, baseline=given)
    classes = [int(c) for c in twin_logits.argmax(axis=1)]
    theirs = (
        captum_attr.IntegratedGradients(twin)
        .attribute(
            nchw, baselines=captum_baseline, target=classes, n_steps=50, method="gausslegendre"
        )
        .detach()
        .numpy()
        .transpose(0, 2, 3, 1)
    )
    scale = np.abs(theirs).max()
    assert scale > 0
    np.testing.assert_allclose(ours, theirs, atol=1e-5 * scale, rtol=0)


@pytest.fixture(scope="module")
def torch_cnn():
    torch = pytest.importorskip("torch")
    pytest.importorskip("cnnviz_widget.adapters.torch")
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 6, 3),
        torch.nn.ReLU(),
        torch.nn.Conv2d(6, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 4),
    ).eval()


@pytest.mark.parametrize("baseline", [None, 0.3, "array"])
def test_torch_integrated_gradients_agree_with_captum_on_the_same_model(torch_cnn, baseline):
    import torch

    captum_attr = pytest.importorskip("captum.attr")
    nchw = torch.rand(3, 3, 10, 10, generator=torch.Generator().manual_seed(1))
    state = {k: v.clone() for k, v in torch_cnn.state_dict().items()}
    if baseline == "array":
        start = np.random.default_rng(6).random((10, 10, 3), dtype=np.float32)
        given: Any = start  # channels-last, as the attributions come back
        captum_baseline: Any = torch.from_numpy(start.transpose(2, 0, 1)[None].copy())
    else:
        given = baseline
        captum_baseline = 0.0 if baseline is None else float(baseline)
    ours = integrated_gradients(torch_cnn, nchw, steps=50, baseline=given)
    assert ours.shape == (3, 10, 10, 3)
    assert ours.dtype == np.float32
    with torch.no_grad():
        classes = torch_cnn(nchw).argmax(dim=1).tolist()
    theirs = (
        captum_attr.IntegratedGradients(torch_cnn)
        .attribute(
            nchw, baselines=captum_baseline, target=classes, n_steps=50, method="gausslegendre"
        )
        .detach()
        .numpy()
        .transpose(0, 2, 3, 1)
    )
    np.testing.assert_allclose(ours, theirs, atol=1e-5 * np.abs(theirs).max(), rtol=0)
    for name, value in torch_cnn.state_dict().items():  # the model is left as it was
        assert torch.equal(value, state[name])


def test_torch_curves_equal_the_definition(torch_cnn):
    import torch

    rng = np.random.default_rng(3)
    nchw = rng.random((2, 3, 10, 10), dtype=np.float32)
    maps = rng.random((2, 5, 5))
    enlarged = resize_maps(maps, (10, 10))  # the resize itself is checked with cv2 above

    def probabilities(picture: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            logits = torch_cnn(torch.from_numpy(picture.transpose(2, 0, 1)[None].copy()))
        return _softmax(logits.numpy()[0].astype(np.float64))

    for metric in ("deletion", "insertion"):
        got = faithfulness(torch_cnn, nchw, maps, metric=metric, steps=10)
        for n in range(2):
            image = nchw[n].transpose(1, 2, 0)
            cls = int(np.argmax(probabilities(image)))
            scores, auc = reference_curve(probabilities, image, enlarged[n], cls, 10, 0.0)[metric]
            np.testing.assert_allclose(got.scores[n], scores, rtol=1e-5, atol=1e-7)
            np.testing.assert_allclose(got.auc[n], auc, rtol=1e-5)


def test_two_input_model_attributes_the_first_input_with_the_other_fixed(
    two_inputs, two_inputs_images
):
    grey, colour = two_inputs_images
    attributions, _logits, classes, _gap = integrated_gradients_details(
        two_inputs, [grey, colour], steps=64
    )
    assert attributions.shape == grey.shape
    on_images = np.asarray(two_inputs([grey, colour], training=False), np.float64)
    on_zero = np.asarray(two_inputs([np.zeros_like(grey), colour], training=False), np.float64)
    rows = np.arange(2)
    rise = on_images[rows, classes] - on_zero[rows, classes]
    total = attributions.reshape(2, -1).astype(np.float64).sum(axis=1)
    # ReLU and global max pooling: piecewise linear, so the rule's error is a few percent
    # of the rise at most (see the ReLU completeness test).
    np.testing.assert_allclose(total, rise, rtol=2e-2, atol=1e-4)


class CountingAdapter:
    """The model's real adapter, recording how many samples each model call carries."""

    is_cnnviz_adapter = True

    def __init__(self, model: Any) -> None:
        self._inner = adapter_for(model)
        self.calls: list[tuple[str, int]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def logits(self, inputs: Any) -> Any:
        self.calls.append(("logits", len(inputs[0])))
        return self._inner.logits(inputs)

    def class_gradients(self, inputs: Any, layer: Any, classes: Any) -> Any:
        self.calls.append(("gradients", len(inputs[0])))
        return self._inner.class_gradients(inputs, layer, classes)


def test_interpolation_points_and_perturbed_images_go_through_the_model_in_batches(keras, images10):
    model = _cnn(keras, "relu", softmax=True, seed=2)
    counting = CountingAdapter(model)
    whole = integrated_gradients(counting, images10, steps=50)
    # One pass for the images and their baselines, one gradient call for all 150 points.
    assert counting.calls == [("logits", 6), ("gradients", 150)]
    counting.calls.clear()
    chunked = integrated_gradients(counting, images10, steps=50, batch_size=40)
    assert counting.calls == [("logits", 6)] + [("gradients", 40)] * 3 + [("gradients", 30)]
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-6)

    counting.calls.clear()
    faithfulness(counting, images10, np.ones((3, 10, 10)), steps=20)
    assert counting.calls == [("logits", 3 * 21)]  # 3 images, 3 baselines, 3 x 19 inner steps
    counting.calls.clear()
    faithfulness_readout(counting, images10[0], np.ones((5, 5)), steps=20)
    # 4 curves x 21 points, of which the unperturbed and the all-baseline image are shared.
    assert counting.calls == [("logits", 2 + 4 * 19)]


def test_results_do_not_depend_on_how_the_rows_are_split_into_model_calls(
    keras, images10, monkeypatch
):
    from cnnviz_widget.methods import trust

    model = _cnn(keras, "relu", softmax=True, seed=2)
    maps = np.random.default_rng(0).random((3, 5, 5))
    whole = [
        faithfulness(model, images10, maps, metric=metric, steps=7)
        for metric in ("deletion", "insertion")
    ]
    readout = faithfulness_readout(model, images10[1], maps[1], steps=7)
    attributions = integrated_gradients(model, images10, steps=9)
    # 4 images of 10 x 10 x 3 per call: the 6 end rows alone need two calls.
    monkeypatch.setattr(trust, "_CHUNK_ELEMENTS", 4 * 300)
    counting = CountingAdapter(model)
    for metric, expected in zip(("deletion", "insertion"), whole, strict=True):
        got = faithfulness(counting, images10, maps, metric=metric, steps=7)
        np.testing.assert_allclose(got.scores, expected.scores, rtol=1e-5, atol=1e-7)
    assert max(size for _, size in counting.calls) == 4
    assert sum(size for _, size in counting.calls) == 2 * (6 + 3 * 6)
    again = faithfulness_readout(counting, images10[1], maps[1], steps=7)
    for metric in ("deletion", "insertion"):
        for which in ("map", "random"):
            np.testing.assert_allclose(
                again[metric][which]["scores"], readout[metric][which]["scores"], rtol=1e-5
            )
    np.testing.assert_allclose(
        integrated_gradients(counting, images10, steps=9), attributions, rtol=1e-5, atol=1e-6
    )


# ------------------------------------------------------------------------- the read-out
def test_readout_is_four_faithfulness_curves_of_the_map_and_a_seeded_random_map(small_cnn):
    rng = np.random.default_rng(12)
    image = rng.random((6, 6, 3), dtype=np.float32)
    heat = rng.random((3, 3))
    readout = faithfulness_readout(small_cnn, image, heat, steps=6, seed=7)
    json.dumps(readout, allow_nan=False)  # plain numbers, ready for the browser
    chance = np.random.default_rng(7).random((3, 3))
    top = int(np.argmax(np.asarray(small_cnn(image[None], training=False))))
    assert readout["class_index"] == top
    assert readout["steps"] == 6
    assert readout["seed"] == 7
    np.testing.assert_allclose(readout["fractions"], np.arange(7) / 6)
    for metric in ("deletion", "insertion"):
        for which, m in (("map", heat), ("random", chance)):
            expected = faithfulness(small_cnn, image, m, top, metric=metric, steps=6)
            got = readout[metric][which]
            np.testing.assert_allclose(got["scores"], expected.scores[0], rtol=1e-6)
            np.testing.assert_allclose(got["auc"], expected.auc[0], rtol=1e-6)
    again = faithfulness_readout(small_cnn, image, heat, steps=6, seed=7)
    assert again == readout
    other_seed = faithfulness_readout(small_cnn, image, heat, steps=6, seed=8)
    assert other_seed["deletion"]["random"] != readout["deletion"]["random"]


def test_readout_and_integrated_gradients_stop_when_superseded(small_cnn):
    image = np.random.default_rng(0).random((6, 6, 3), dtype=np.float32)
    with pytest.raises(Cancelled):
        faithfulness_readout(small_cnn, image, np.ones((6, 6)), should_stop=lambda: True)
    with pytest.raises(Cancelled):
        integrated_gradients_details(small_cnn, image, should_stop=lambda: True)


# ------------------------------------------------------------------- rank correlation
def test_rank_correlation_equals_scipy_spearman():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    a = rng.random((7, 9))
    b = a + rng.normal(scale=0.3, size=a.shape)
    tied_a = rng.integers(0, 4, (7, 9))
    tied_b = rng.integers(0, 3, (7, 9))
    for first, second in ((a, b), (a, -a), (tied_a, tied_b), (tied_a, a), (a, a)):
        expected = stats.spearmanr(np.ravel(first), np.ravel(second)).statistic
        assert rank_correlation(first, second) == pytest.approx(expected, abs=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns about the constant input
        expected = stats.spearmanr(np.ravel(a), np.zeros(a.size)).statistic
    assert math.isnan(expected)
    assert math.isnan(rank_correlation(a, np.zeros_like(a)))


# -------------------------------------------------------------------- the sanity check
def test_untrained_copy_for_the_sanity_check_leaves_the_model_bitwise_unchanged(keras):
    from cnnviz_widget.methods.saliency import saliency

    model = _cnn(keras, "relu", softmax=True, seed=5)
    images = np.random.default_rng(1).random((2, 10, 10, 3), dtype=np.float32)
    before = [np.array(w, copy=True) for w in model.get_weights()]
    predicted = np.asarray(model(images, training=False))
    adapter = adapter_for(model)
    if hasattr(adapter, "untrained_copy"):
        copy = adapter.untrained_copy()
    else:  # before the adapter grew its own
        from cnnviz_widget.methods.weights import untrained_copy

        copy = untrained_copy(model)
    trained_map = saliency(model, images)
    untrained_map = saliency(copy, images)
    rho = rank_correlation(trained_map[0], untrained_map[0])
    assert -1 <= rho <= 1
    after = model.get_weights()
    assert len(after) == len(before)
    for old, new in zip(before, after, strict=True):
        assert old.dtype == new.dtype
        assert old.tobytes() == new.tobytes()
    assert np.asarray(model(images, training=False)).tobytes() == predicted.tobytes()
    # ...and the copy really is another model (fresh weights).
    fresh = copy.get_weights()
    assert any(not np.array_equal(o, f) for o, f in zip(before, fresh, strict=True))


# ------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("steps", [0, -3, 2.5, True, "20"])
def test_bad_steps_are_value_errors(small_cnn, steps):
    image = np.zeros((6, 6, 3), np.float32)
    with pytest.raises(ValueError, match="steps must be an integer of at least 1"):
        integrated_gradients(small_cnn, image, steps=steps)
    with pytest.raises(ValueError, match="steps must be an integer of at least 1"):
        faithfulness(small_cnn, image, np.ones((6, 6)), steps=steps)
    with pytest.raises(ValueError, match="steps must be an integer of at least 1"):
        faithfulness_readout(small_cnn, image, np.ones((6, 6)), steps=steps)


@pytest.mark.parametrize(
    ("maps", "message"),
    [
        (np.ones((6, 6)), r"shaped \(N, h, w\) with one map per sample \(N = 2"),
        (np.ones((3, 6, 6)), r"received an array of shape \(3, 6, 6\)"),
        (np.ones((2, 6, 6, 3)), "Reduce the channel axis first"),
        (np.ones((2, 7, 6)), "at most the input's size 6 x 6"),
        (np.full((2, 6, 6), np.nan), "NaN or infinite"),
        (np.array([["a"] * 6] * 6), "numeric array"),
    ],
)
def test_maps_of_the_wrong_shape_are_value_errors(small_cnn, maps, message):
    images = np.zeros((2, 6, 6, 3), np.float32)
    with pytest.raises(ValueError, match=message):
        faithfulness(small_cnn, images, maps)


def test_other_bad_arguments_are_value_errors(small_cnn):
    images = np.zeros((2, 6, 6, 3), np.float32)
    maps = np.ones((2, 6, 6))
    with pytest.raises(ValueError, match="metric must be one of deletion, insertion; got 'ROAD'"):
        faithfulness(small_cnn, images, maps, metric="ROAD")
    with pytest.raises(ValueError, match=r"baseline of shape \(5,\) does not broadcast"):
        faithfulness(small_cnn, images, maps, baseline=np.zeros(5))
    with pytest.raises(ValueError, match=r"baseline of shape \(6, 6, 2\) does not broadcast"):
        integrated_gradients(small_cnn, images, baseline=np.zeros((6, 6, 2)))
    with pytest.raises(ValueError, match="baseline contains NaN"):
        integrated_gradients(small_cnn, images, baseline=np.nan)
    with pytest.raises(ValueError, match="batch_size must be an integer of at least 1"):
        integrated_gradients(small_cnn, images, batch_size=0)
    with pytest.raises(ValueError, match="explains one image; received 2 samples"):
        faithfulness_readout(small_cnn, images, np.ones((6, 6)))
    with pytest.raises(ValueError, match=r"one map shaped \(h, w\)"):
        faithfulness_readout(small_cnn, images[0], np.ones((2, 6, 6)))
    with pytest.raises(ValueError, match="expects images shaped"):
        integrated_gradients(small_cnn, np.zeros((2, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match="same shape"):
        rank_correlation(np.ones((3, 3)), np.ones((3, 4)))
