"""The Grad-CAM family against references: values derived by hand on a tiny network,
tf-keras-vis 0.8.7 and pytorch-grad-cam 1.5 on randomly initialised CNNs, and cv2's resize.

Where a reference defines a method differently, the test says so instead of widening a
tolerance:

* tf-keras-vis ``GradcamPlusPlus`` divides each channel's alphas by their spatial sum and
  scales the weights by exp(score); pytorch-grad-cam (our definition) does neither, so the
  maps differ by a per-channel factor: it is compared with pytorch-grad-cam only.
* tf-keras-vis ``Scorecam`` weighs each channel by the class *probability* of its masked
  input (softmax over classes), pytorch-grad-cam and we by the softmax over *channels* of
  the masked inputs' logits; and both references upsample the masks with aligned corners
  (``scipy.ndimage.zoom``, ``UpsamplingBilinear2d``) where we use the half-pixel resize of
  the CAM itself.  So Score-CAM is compared with pytorch-grad-cam at layers that already have
  the input's size (no resize), and with a numpy forward pass of the tiny network.
* tf-keras-vis cannot explain a layer inside a nested model (its sub-model from
  ``model.inputs`` to an inner layer's output is a disconnected graph): the nested case is
  compared with the same weights laid out flat.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from cnnviz_widget.methods import Cancelled
from cnnviz_widget.methods.gradcam import METHODS, CamCache, cam_details, grad_cam

# ----------------------------------------------------------------------------------------
# The tiny network, solved on paper.
#
# Input x: one channel, 4x4, x[i, j] = 4i + j (0..15).  Conv2D "conv": two 3x3 kernels of
# ones, biases -50 and -75, valid padding -> Z (2x2x2).  The sum of the 3x3 window at
# (i, j) is 9 * (4i + j) + 45, so
#     window sums  [[45, 54], [81, 90]]
#     Z0 = sums - 50 = [[-5, 4], [31, 40]]      R0 = ReLU(Z0) = [[0, 4], [31, 40]]
#     Z1 = sums - 75 = [[-30, -21], [6, 15]]    R1 = ReLU(Z1) = [[0, 0], [6, 15]]
# ReLU "relu", Flatten, Dense "dense" to 4 outputs.  Flatten is channels-last, so its
# order is (0,0,c0) (0,0,c1) (0,1,c0) (0,1,c1) (1,0,c0) (1,0,c1) (1,1,c0) (1,1,c1) and the
# output-0 weights [1, 1, 1, 1, 1, -1, -1, -1] (bias 0) put on each map
#     on R0: [[1, 1], [1, -1]]     on R1: [[1, 1], [-1, -1]]
#     logit 0 = (0 + 4 + 31 - 40) + (0 + 0 - 6 - 15) = -26
# d(logit 0)/dR is exactly those weight maps; at the conv output ReLU passes gradient only
# where Z > 0:  G0 = [[0, 1], [1, -1]],  G1 = [[0, 0], [-1, -1]].
#
# Grad-CAM at "conv": w = spatial means = (1/4, -1/2);
#     cam = ReLU(Z0/4 - Z1/2) = [[-1.25 + 15, 1 + 10.5], [7.75 - 3, 10 - 7.5]]
#         = [[13.75, 11.5], [4.75, 2.5]]
# Grad-CAM at "relu": w = (mean [[1,1],[1,-1]], mean [[1,1],[-1,-1]]) = (1/2, 0);
#     cam = R0 / 2 = [[0, 2], [15.5, 20]]
# Grad-CAM++ (alpha = g^2 / (2 g^2 + sum(A) g^3 + 1e-6), zero where g = 0,
# w = sum(alpha * ReLU(g))):
#   at "conv": sum(Z0) = 70: alpha = 1/72.000001 where G0 = 1 -> w0 = 2/72.000001;
#     G1 has no positive entry -> w1 = 0;  cam = ReLU(w0 Z0) = w0 * [[0, 4], [31, 40]]
#   at "relu": sum(R0) = 75 -> w0 = 3/77.000001;  sum(R1) = 21 -> w1 = 2/23.000001;
#     cam = w0 R0 + w1 R1 = [[0, 4 w0], [31 w0 + 6 w1, 40 w0 + 15 w1]]
# Layer-CAM (cam = ReLU(sum_c ReLU(g_c) A_c)):
#   at "conv": ReLU(G0) Z0 + ReLU(G1) Z1 = [[0, 4], [31, 0]] + 0
#   at "relu": ReLU([[1,1],[1,-1]]) R0 + ReLU([[1,1],[-1,-1]]) R1 = [[0, 4], [31, 0]] + 0
# Score-CAM at "conv": Z0 and Z1 are the same plane 9 (4i + j) shifted by a bias, so their
#   min-max scaled masks are identical, both masked inputs score the same, and the softmax
#   over the two channels gives (1/2, 1/2) whatever the network does after the mask:
#     cam = ReLU((Z0 + Z1) / 2) = ReLU([[-17.5, -8.5], [18.5, 27.5]]) = [[0, 0], [18.5, 27.5]]
# Output 1 gets weights -1 everywhere: every Grad-CAM weight at "relu" is negative, so its
# map is all zeros (the "constant map" case).
# ----------------------------------------------------------------------------------------

TINY_IMAGE = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
W0_CONV, W0_RELU, W1_RELU = 2 / 72.000001, 3 / 77.000001, 2 / 23.000001
TINY_GOLDEN = {
    ("gradcam", "conv"): [[13.75, 11.5], [4.75, 2.5]],
    ("gradcam", "relu"): [[0, 2], [15.5, 20]],
    ("gradcam++", "conv"): [[0, 4 * W0_CONV], [31 * W0_CONV, 40 * W0_CONV]],
    ("gradcam++", "relu"): [
        [0, 4 * W0_RELU],
        [31 * W0_RELU + 6 * W1_RELU, 40 * W0_RELU + 15 * W1_RELU],
    ],
    ("layercam", "conv"): [[0, 4], [31, 0]],
    ("layercam", "relu"): [[0, 4], [31, 0]],
    ("scorecam", "conv"): [[0, 0], [18.5, 27.5]],
}


@pytest.fixture(scope="module")
def tiny(keras):
    x = keras.Input((4, 4, 1), name="image")
    z = keras.layers.Conv2D(2, 3, name="conv")(x)
    r = keras.layers.ReLU(name="relu")(z)
    flat = keras.layers.Flatten(name="flat")(r)
    out = keras.layers.Dense(4, name="dense")(flat)
    model = keras.Model(x, out, name="tiny")
    model.get_layer("conv").set_weights(
        [np.ones((3, 3, 1, 2), np.float32), np.array([-50, -75], np.float32)]
    )
    dense = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    dense[:, 0] = [1, 1, 1, 1, 1, -1, -1, -1]
    dense[:, 1] = -1
    model.get_layer("dense").set_weights([dense, np.zeros(4, np.float32)])
    return model


@pytest.mark.parametrize(("method", "layer"), sorted(TINY_GOLDEN))
def test_tiny_network_equals_hand_derived_cam(tiny, method, layer):
    cam = grad_cam(tiny, TINY_IMAGE, layer, 0, method=method, upsample=False, normalize=False)
    assert cam.dtype == np.float32
    assert cam.shape == (1, 2, 2)
    np.testing.assert_allclose(cam[0], TINY_GOLDEN[method, layer], rtol=1e-6, atol=1e-6)


def test_tiny_network_details_equal_hand_derived_weights_and_logits(tiny):
    result = cam_details(tiny, TINY_IMAGE, "conv", 0, upsample=False, normalize=False)
    np.testing.assert_allclose(result.channel_weights, [[0.25, -0.5]])
    assert result.logits[0, 0] == pytest.approx(-26)
    np.testing.assert_array_equal(result.classes, [0])
    np.testing.assert_allclose(result.probabilities.sum(), 1, rtol=1e-6)
    classes, probabilities = result.top(2)
    assert classes[0, 0] == np.argmax(result.logits[0])
    assert probabilities[0, 0] >= probabilities[0, 1]
    plus = cam_details(tiny, TINY_IMAGE, "relu", 0, method="gradcam++")
    np.testing.assert_allclose(plus.channel_weights, [[W0_RELU, W1_RELU]], rtol=1e-6)
    score = cam_details(tiny, TINY_IMAGE, "conv", 0, method="scorecam")
    np.testing.assert_allclose(score.channel_weights, [[0.5, 0.5]], rtol=1e-6)


def _tiny_logits(image, conv_bias=(-50.0, -75.0)):
    """The tiny network in numpy: window sums, bias, ReLU, channels-last flatten, output 0."""
    sums = np.array([[image[i : i + 3, j : j + 3].sum() for j in range(2)] for i in range(2)])
    relu = np.maximum(sums[..., None] + np.array(conv_bias), 0)  # (2, 2, 2), channels-last
    return relu.reshape(-1) @ np.array([1, 1, 1, 1, 1, -1, -1, -1], np.float64)


def test_tiny_network_scorecam_at_relu_equals_numpy_forward(tiny):
    cv2 = pytest.importorskip("cv2")
    maps = np.array([[[0, 4], [31, 40]], [[0, 0], [6, 15]]], np.float32)  # R0, R1
    scores = []
    for channel in maps:
        up = cv2.resize(channel, (4, 4), interpolation=cv2.INTER_LINEAR).astype(np.float64)
        mask = (up - up.min()) / (up.max() - up.min())
        scores.append(_tiny_logits(TINY_IMAGE[..., 0] * mask))
    weights = np.exp(scores - np.max(scores))
    weights /= weights.sum()
    expected = np.maximum(np.tensordot(weights, maps, axes=1), 0)
    cam = grad_cam(tiny, TINY_IMAGE, "relu", 0, method="scorecam", upsample=False, normalize=False)
    np.testing.assert_allclose(cam[0], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "layercam"])
def test_all_negative_evidence_gives_zeros_not_nan(tiny, method):
    for upsample in (False, True):
        cam = grad_cam(tiny, TINY_IMAGE, "relu", 1, method=method, upsample=upsample)
        assert not np.isnan(cam).any()
        np.testing.assert_array_equal(cam, 0)


def test_constant_nonzero_map_normalizes_to_zeros(tiny):
    # An image of tens: every window sums to 90, Z = (40, 15) everywhere, all units active;
    # w = (1/2, 0) as at "relu" above, so the raw CAM is 20 everywhere.
    flat_image = np.full((4, 4, 1), 10, np.float32)
    raw = grad_cam(tiny, flat_image, "conv", 0, upsample=False, normalize=False)
    np.testing.assert_allclose(raw, 20)
    np.testing.assert_array_equal(grad_cam(tiny, flat_image, "conv", 0), 0)
    np.testing.assert_array_equal(grad_cam(tiny, flat_image, "conv", 0, upsample=False), 0)


# ----------------------------------------------------------------------------------------
# Randomly initialised functional CNNs against tf-keras-vis.
# ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def softmax_bn(keras):
    """Ends in softmax, with BatchNorm (random moving statistics), pooling, 'same' convs."""
    keras.utils.set_random_seed(1)
    x = keras.Input((20, 20, 3), name="image")
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(x)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.MaxPooling2D(name="pool")(h)
    h = keras.layers.Conv2D(12, 3, padding="same", name="conv2")(h)
    h = keras.layers.ReLU(name="relu2")(h)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    out = keras.layers.Dense(5, activation="softmax", name="probs")(h)
    model = keras.Model(x, out, name="softmax_bn")
    rng = np.random.default_rng(1)
    model.get_layer("bn").set_weights(
        [
            rng.uniform(0.5, 2, 8),
            rng.normal(0, 0.5, 8),
            rng.normal(0, 0.3, 8),
            rng.uniform(0.2, 2, 8),
        ]
    )
    return model


@pytest.fixture(scope="module")
def flatten_linear(keras):
    """Non-square input, valid convs, a Flatten head ending linear."""
    keras.utils.set_random_seed(2)
    x = keras.Input((18, 14, 1), name="image")
    h = keras.layers.Conv2D(6, 3, activation="relu", name="c1")(x)
    h = keras.layers.Conv2D(8, 3, name="c2")(h)
    h = keras.layers.LeakyReLU(negative_slope=0.1, name="leaky")(h)
    h = keras.layers.AveragePooling2D(2, name="avg")(h)
    h = keras.layers.Flatten(name="flat")(h)
    h = keras.layers.Dense(16, activation="relu", name="hidden")(h)
    out = keras.layers.Dense(4, name="logits")(h)
    return keras.Model(x, out, name="flatten_linear")


@pytest.fixture(scope="module")
def random_images():
    rng = np.random.default_rng(3)
    return {
        "softmax_bn": rng.random((3, 20, 20, 3), dtype=np.float32),
        "flatten_linear": rng.random((3, 18, 14, 1), dtype=np.float32),
        "functional": rng.random((3, 28, 28, 1), dtype=np.float32),
    }


@pytest.fixture(scope="module")
def tkv():
    pytest.importorskip("tf_keras_vis")
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.layercam import Layercam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    def raw_cam(kind, model, x, layer, classes):
        visualizer = {"gradcam": Gradcam, "layercam": Layercam}[kind]
        with warnings.catch_warnings():
            # tf-keras-vis passes a one-input model a list; Keras 3 warns about that.
            warnings.filterwarnings("ignore", "The structure of `inputs`", UserWarning)
            cam = visualizer(model, model_modifier=ReplaceToLinear(), clone=True)(
                CategoricalScore([int(c) for c in classes]),
                x,
                penultimate_layer=layer,
                seek_penultimate_conv_layer=False,
                expand_cam=False,
                normalize_cam=False,
            )
        return np.asarray(cam)

    return raw_cam


def _assert_cam_close(ours, theirs, **kwargs):
    """Equal to float32 round-off: relative, and absolute at the map's own scale."""
    np.testing.assert_allclose(
        ours, theirs, rtol=1e-5, atol=1e-5 * float(np.abs(theirs).max()) + 1e-30, **kwargs
    )


CASES = [
    ("softmax_bn", "conv1"),
    ("softmax_bn", "bn"),
    ("softmax_bn", "pool"),
    ("softmax_bn", "conv2"),
    ("softmax_bn", "relu2"),
    ("flatten_linear", "c1"),
    ("flatten_linear", "c2"),
    ("flatten_linear", "leaky"),
    ("flatten_linear", "avg"),
    ("functional", "conv_a"),
    ("functional", "bn"),
    ("functional", "add"),
    ("functional", "relu"),
]


@pytest.mark.parametrize("method", ["gradcam", "layercam"])
@pytest.mark.parametrize(("fixture", "layer"), CASES)
def test_raw_cam_equals_tf_keras_vis(request, tkv, random_images, fixture, layer, method):
    model = request.getfixturevalue(fixture)
    x = random_images[fixture]
    classes = [1, 3, 0]
    ours = grad_cam(model, x, layer, classes, method=method, upsample=False, normalize=False)
    theirs = tkv(method, model, x, layer, classes)
    assert ours.shape == theirs.shape == (3, *model.get_layer(layer).output.shape[1:3])
    assert np.abs(theirs).max() > 0, "a degenerate case compares nothing"
    _assert_cam_close(ours, theirs)


def test_default_class_is_top_class(tkv, softmax_bn, random_images):
    x = random_images["softmax_bn"]
    top = np.argmax(softmax_bn.predict(x, verbose=0), axis=-1)
    result = cam_details(softmax_bn, x, "conv2", upsample=False, normalize=False)
    np.testing.assert_array_equal(result.classes, top)
    _assert_cam_close(result.cam, tkv("gradcam", softmax_bn, x, "conv2", top))


def _linear_twin(keras, model):
    """The same architecture and weights with the final softmax replaced by linear."""

    def clone(layer):
        config = layer.get_config()
        if config.get("activation") == "softmax":
            config["activation"] = "linear"
        return layer.__class__.from_config(config)

    twin = keras.models.clone_model(model, clone_function=clone)
    twin.set_weights(model.get_weights())
    return twin


@pytest.fixture(scope="module")
def softmax_bn_linear(keras, softmax_bn):
    return _linear_twin(keras, softmax_bn)


@pytest.mark.parametrize("method", METHODS)
def test_softmax_model_and_linear_twin_give_the_same_cam(
    softmax_bn, softmax_bn_linear, random_images, method
):
    x = random_images["softmax_bn"]
    for layer in ("conv1", "relu2"):
        ours = grad_cam(softmax_bn, x, layer, [4, 2, 0], method=method, normalize=False)
        twin = grad_cam(softmax_bn_linear, x, layer, [4, 2, 0], method=method, normalize=False)
        _assert_cam_close(ours, twin, err_msg=layer)


def test_users_model_is_unchanged(keras, softmax_bn, random_images):
    x = random_images["softmax_bn"]
    weights = [w.copy() for w in softmax_bn.get_weights()]
    nodes = {id(layer): len(layer._inbound_nodes) for layer in softmax_bn._flatten_layers()}
    before = softmax_bn.predict(x, verbose=0)
    for method in METHODS:
        grad_cam(softmax_bn, x, "pool", method=method)
    from cnnviz_widget.methods.saliency import saliency

    saliency(softmax_bn, x, smooth_samples=2)
    assert all(np.array_equal(a, b) for a, b in zip(weights, softmax_bn.get_weights(), strict=True))
    assert nodes == {id(layer): len(layer._inbound_nodes) for layer in softmax_bn._flatten_layers()}
    assert softmax_bn.get_layer("probs").activation is keras.activations.softmax
    np.testing.assert_array_equal(softmax_bn.predict(x, verbose=0), before)


@pytest.fixture(scope="module")
def nested_and_flat(keras):
    """A model with a nested backbone, and the same weights laid out flat."""
    keras.utils.set_random_seed(4)

    def layers():
        return [
            keras.layers.Conv2D(6, 3, activation="relu", name="b_conv1"),
            keras.layers.Conv2D(8, 3, activation="relu", name="b_conv2"),
        ]

    inner_input = keras.Input((16, 16, 3), name="backbone_in")
    h = inner_input
    for layer in layers():
        h = layer(h)
    backbone = keras.Model(inner_input, h, name="backbone")
    x = keras.Input((16, 16, 3), name="image")
    h = keras.layers.GlobalAveragePooling2D(name="gap")(backbone(x))
    nested = keras.Model(x, keras.layers.Dense(4, activation="softmax", name="probs")(h))

    x = keras.Input((16, 16, 3), name="image")
    h = x
    for layer in layers():
        h = layer(h)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    flat = keras.Model(x, keras.layers.Dense(4, activation="softmax", name="probs")(h))
    flat.set_weights(nested.get_weights())
    return nested, flat


@pytest.mark.parametrize("method", ["gradcam", "layercam"])
def test_inner_layer_of_nested_model_equals_flat_twin_in_tf_keras_vis(tkv, nested_and_flat, method):
    nested, flat = nested_and_flat
    x = np.random.default_rng(5).random((2, 16, 16, 3), dtype=np.float32)
    for inner in ("b_conv1", "b_conv2"):
        ours = grad_cam(
            nested, x, f"backbone/{inner}", [2, 1], method=method, upsample=False, normalize=False
        )
        _assert_cam_close(ours, tkv(method, flat, x, inner, [2, 1]), err_msg=inner)


def test_default_layer_is_last_spatial_one_nested_included(nested_and_flat, softmax_bn, functional):
    nested, _ = nested_and_flat
    x = np.random.default_rng(6).random((1, 16, 16, 3), dtype=np.float32)
    assert cam_details(nested, x).layer == "backbone/b_conv2"
    np.testing.assert_array_equal(grad_cam(nested, x), grad_cam(nested, x, "backbone/b_conv2"))
    assert cam_details(softmax_bn, np.zeros((20, 20, 3), np.float32)).layer == "relu2"
    assert cam_details(functional, np.zeros((28, 28, 1), np.float32)).layer == "relu"


# ----------------------------------------------------------------------------------------
# Grad-CAM++ and Score-CAM against pytorch-grad-cam's own weight code on the same Keras
# model (activations, gradients and logits from a plain tf.GradientTape on a linear twin).
# ----------------------------------------------------------------------------------------


def _tape_reference(keras, linear_model, x, layer, classes):
    """Activations, gradients of the class logits, NCHW as pytorch-grad-cam holds them."""
    import tensorflow as tf

    probe = keras.Model(
        linear_model.inputs[0], [linear_model.get_layer(layer).output, linear_model.output]
    )
    with tf.GradientTape() as tape:
        activations, logits = probe(x, training=False)
        score = tf.reduce_sum(tf.gather(logits, np.asarray(classes), batch_dims=1))
    gradients = tape.gradient(score, activations)
    return (
        np.transpose(np.array(activations), (0, 3, 1, 2)).copy(),
        np.transpose(np.array(gradients), (0, 3, 1, 2)).copy(),
    )


def _gradcam_plus_plus_reference(activations, gradients):
    """pytorch-grad-cam 1.5.7 ``GradCAMPlusPlus.get_cam_weights`` + ``get_cam_image``,
    transcribed line by line (NCHW numpy, as that library holds them)."""
    grads_power_2 = gradients**2
    grads_power_3 = grads_power_2 * gradients
    sum_activations = np.sum(activations, axis=(2, 3))
    eps = 0.000001
    aij = grads_power_2 / (
        2 * grads_power_2 + sum_activations[:, :, None, None] * grads_power_3 + eps
    )
    aij = np.where(gradients != 0, aij, 0)
    weights = np.maximum(gradients, 0) * aij
    weights = np.sum(weights, axis=(2, 3))
    return (weights[:, :, None, None] * activations).sum(axis=1)


def _scorecam_reference(activations, x, classes, logits_of):
    """pytorch-grad-cam 1.5.7 ``ScoreCAM.get_cam_weights`` for layers already at input
    resolution (its upsampling is then the identity), transcribed (NCHW numpy)."""
    maxs = activations.max(axis=(2, 3), keepdims=True)
    mins = activations.min(axis=(2, 3), keepdims=True)
    upsampled = (activations - mins) / (maxs - mins + 1e-8)
    weights = []
    for i, cls in enumerate(classes):
        masked = x[i][None, :, :, :] * upsampled[i][:, None, :, :]  # (channels, C_in, H, W)
        scores = logits_of(masked)[:, cls]
        scores = np.exp(scores - scores.max())
        weights.append(scores / scores.sum())
    weights = np.asarray(weights, dtype=np.float64)
    return (weights[:, :, None, None] * activations).sum(axis=1)


@pytest.mark.parametrize("layer", ["conv1", "bn", "pool", "conv2", "relu2"])
def test_gradcam_plus_plus_equals_pytorch_grad_cam_formula(
    keras, softmax_bn, softmax_bn_linear, random_images, layer
):
    x = random_images["softmax_bn"]
    classes = [1, 3, 0]
    activations, gradients = _tape_reference(keras, softmax_bn_linear, x, layer, classes)
    # BaseCAM applies the ReLU after the weighted sum.
    theirs = np.maximum(_gradcam_plus_plus_reference(activations, gradients), 0)
    ours = grad_cam(
        softmax_bn, x, layer, classes, method="gradcam++", upsample=False, normalize=False
    )
    assert np.abs(theirs).max() > 0
    _assert_cam_close(ours, theirs)


@pytest.mark.parametrize("layer", ["conv1", "bn"])
def test_scorecam_equals_pytorch_grad_cam_formula_at_input_resolution(
    keras, softmax_bn, softmax_bn_linear, random_images, layer
):
    x = random_images["softmax_bn"]
    classes = [1, 3, 0]
    activations, _ = _tape_reference(keras, softmax_bn_linear, x, layer, classes)

    def logits_of(batch):  # the linear twin: pre-softmax scores, computed by Keras itself
        return np.array(softmax_bn_linear(np.transpose(batch, (0, 2, 3, 1)), training=False))

    channels_first = np.transpose(x, (0, 3, 1, 2))
    theirs = np.maximum(_scorecam_reference(activations, channels_first, classes, logits_of), 0)
    ours = grad_cam(
        softmax_bn, x, layer, classes, method="scorecam", upsample=False, normalize=False
    )
    assert np.abs(theirs).max() > 0
    _assert_cam_close(ours, theirs)


# ----------------------------------------------------------------------------------------
# Resizing, classes, errors, cache and cancellation.
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("layer", ["c1", "c2", "avg"])
def test_upsample_is_half_pixel_bilinear_as_cv2(flatten_linear, random_images, layer):
    cv2 = pytest.importorskip("cv2")
    x = random_images["flatten_linear"]
    raw = grad_cam(flatten_linear, x, layer, 2, upsample=False, normalize=False)
    up = grad_cam(flatten_linear, x, layer, 2, normalize=False)
    assert up.shape == (3, 18, 14)
    expected = np.stack([cv2.resize(m, (14, 18), interpolation=cv2.INTER_LINEAR) for m in raw])
    _assert_cam_close(up, expected)
    scaled = grad_cam(flatten_linear, x, layer, 2)
    lo = expected.min(axis=(1, 2), keepdims=True)
    hi = expected.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(scaled, (expected - lo) / (hi - lo), atol=1e-5)
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(scaled.min(axis=(1, 2)), 0)
    np.testing.assert_allclose(scaled.max(axis=(1, 2)), 1)


def test_class_index_int_sequence_and_none(softmax_bn, random_images):
    x = random_images["softmax_bn"]
    one = grad_cam(softmax_bn, x, "conv2", 3, normalize=False)
    np.testing.assert_array_equal(one, grad_cam(softmax_bn, x, "conv2", [3, 3, 3], normalize=False))
    per_sample = grad_cam(softmax_bn, x, "conv2", [4, 0, 2], normalize=False)
    for i, c in enumerate([4, 0, 2]):
        _assert_cam_close(per_sample[i], grad_cam(softmax_bn, x[i], "conv2", c, normalize=False)[0])
    top = np.argmax(softmax_bn.predict(x, verbose=0), axis=-1)
    np.testing.assert_array_equal(
        grad_cam(softmax_bn, x, "conv2"), grad_cam(softmax_bn, x, "conv2", top)
    )


def test_bad_arguments_are_clear_errors(softmax_bn, random_images):
    x = random_images["softmax_bn"]
    with pytest.raises(ValueError, match=r"'gap'.*\(None, 12\)"):
        grad_cam(softmax_bn, x, "gap")
    with pytest.raises(ValueError, match=r"\(None, 5\)"):
        grad_cam(softmax_bn, x, "probs")
    with pytest.raises(KeyError, match="conv2"):
        grad_cam(softmax_bn, x, "conv_2")
    with pytest.raises(ValueError, match="3 samples"):
        grad_cam(softmax_bn, x, "conv2", [1, 2])
    with pytest.raises(ValueError, match="out of range"):
        grad_cam(softmax_bn, x, "conv2", 5)
    with pytest.raises(TypeError, match="class_index"):
        grad_cam(softmax_bn, x, "conv2", 1.5)
    with pytest.raises(ValueError, match="method"):
        grad_cam(softmax_bn, x, "conv2", method="gradcam+")
    with pytest.raises(ValueError, match=r"\(N, 20, 20, 3\)"):
        grad_cam(softmax_bn, np.zeros((20, 3)), "conv2")


def test_sequential_built_by_a_first_call_works(seq_first_call, digits_like):
    cam = grad_cam(seq_first_call, digits_like, "conv_b", [1, 2, 3])
    assert cam.shape == (3, 28, 28)
    assert np.isfinite(cam).all()
    np.testing.assert_allclose(
        cam[1], grad_cam(seq_first_call, digits_like[1], "conv_b", 2)[0], atol=1e-6
    )


def test_cache_reuses_passes_when_switching_class(monkeypatch, softmax_bn, random_images):
    x = random_images["softmax_bn"][:1]
    cache = CamCache()
    adapter_passes = []
    from cnnviz_widget.adapters import adapter_for

    adapter = adapter_for(softmax_bn)
    real = adapter.class_gradients
    monkeypatch.setattr(
        adapter, "class_gradients", lambda *a: adapter_passes.append(a[1:]) or real(*a)
    )
    batches = []

    def count_batches():
        batches.append(1)
        return False

    def explain(cls, method):
        return cam_details(
            softmax_bn,
            x,
            "pool",
            cls,
            method=method,
            cache=cache,
            should_stop=count_batches,
            batch_size=4,
        )

    first = explain(None, "gradcam")
    assert len(adapter_passes) == 1
    again = explain(None, "gradcam")  # the top class is read from the cached logits
    np.testing.assert_array_equal(again.classes, first.classes)
    np.testing.assert_array_equal(again.cam, first.cam)
    assert len(adapter_passes) == 1
    np.testing.assert_array_equal(explain(int(first.classes[0]), "gradcam").cam, first.cam)
    explain(int(first.classes[0]), "gradcam++")  # same class: the same gradients serve
    assert len(adapter_passes) == 1
    other = explain((int(first.classes[0]) + 1) % 5, "gradcam")
    assert len(adapter_passes) == 2
    assert not np.array_equal(other.cam, first.cam)
    uncached = grad_cam(softmax_bn, x, "pool", 3, method="scorecam")
    assert len(adapter_passes) == 3
    np.testing.assert_allclose(explain(3, "scorecam").cam, uncached, atol=1e-6)
    assert (len(adapter_passes), len(batches)) == (3, 2)  # 8 channels in batches of 4
    for cls in (0, 1, 4):  # Score-CAM's masked logits hold every class: no pass at all
        explain(cls, "scorecam")
    assert (len(adapter_passes), len(batches)) == (3, 2)


def test_scorecam_stops_when_asked(softmax_bn, random_images):
    asked = []

    def stop_after_two():
        asked.append(1)
        return len(asked) > 2

    with pytest.raises(Cancelled):
        cam_details(
            softmax_bn,
            random_images["softmax_bn"],
            "conv2",
            0,
            method="scorecam",
            should_stop=stop_after_two,
            batch_size=4,
        )
    assert len(asked) == 3
