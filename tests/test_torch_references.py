"""Torch models against independent references: Captum, the hand-derived golden network,
and EfficientNet-Lite0 against its Keras port (the same weights in another framework).

Captum runs on an ``eval()`` deep copy of each model; ours runs on the model itself, left in
train mode (our calls switch to eval semantics on their own and put the flags back, which
``Guard`` checks after every call).
"""

from __future__ import annotations

import copy

import captum.attr as captum_attr
import numpy as np
import pytest
import torch
from _torch_models import Guard, images, skip_net
from torch import nn

import cnnviz_widget as cw
from cnnviz_widget.adapters import adapter_for
from cnnviz_widget.methods.gradcam import cam_details


def min_max(maps: np.ndarray) -> np.ndarray:
    lo = maps.min(axis=(1, 2), keepdims=True)
    return (maps - lo) / (maps.max(axis=(1, 2), keepdims=True) - lo)


# ------------------------------------------------------------------------------ Captum

SKIP_NET_LAYERS = ["conv1", "bn1", "relu1", "block.0", "block.1", "block.2", "block", "relu2"]


@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("layer", SKIP_NET_LAYERS)
def test_grad_cam_equals_captum_layer_grad_cam(layer, inplace):
    model = skip_net(inplace=inplace)
    guard = Guard(model)
    reference = copy.deepcopy(model).eval()
    x = images(n=3)
    classes = [0, 3, 4]
    module = reference.get_submodule(layer)
    expected = captum_attr.LayerGradCam(reference, module).attribute(
        x, target=classes, relu_attributions=True
    )
    ours = cw.grad_cam(model, x, layer, classes, upsample=False, normalize=False)
    assert ours.shape == (3, 12, 12)
    np.testing.assert_allclose(ours, expected[:, 0].detach().numpy(), rtol=1e-5, atol=1e-6)
    guard.check()


def test_grad_cam_of_each_samples_top_class_equals_captum():
    model = skip_net()
    guard = Guard(model)
    reference = copy.deepcopy(model).eval()
    x = images(n=4, seed=7)
    with torch.no_grad():
        top = reference(x).argmax(dim=1).tolist()
    expected = captum_attr.LayerGradCam(reference, reference.block[3]).attribute(
        x, target=top, relu_attributions=True
    )
    result = cam_details(model, x, "block.3", upsample=False, normalize=False)
    np.testing.assert_array_equal(result.classes, top)
    np.testing.assert_allclose(result.cam, expected[:, 0].detach().numpy(), rtol=1e-5, atol=1e-6)
    guard.check()


@pytest.mark.parametrize("inplace", [False, True])
def test_saliency_equals_captum_saliency(inplace):
    model = skip_net(inplace=inplace)
    guard = Guard(model)
    reference = copy.deepcopy(model).eval()
    x = images(n=3, size=16)
    classes = [1, 1, 2]
    leaf = x.clone().requires_grad_(True)  # Captum warns when it has to set this itself
    expected = captum_attr.Saliency(reference).attribute(leaf, target=classes, abs=True)
    expected = min_max(expected.max(dim=1).values.detach().numpy())
    ours = cw.saliency(model, x, classes)
    np.testing.assert_allclose(ours, expected, atol=1e-5)
    guard.check()


class SoftmaxHead(nn.Module):
    """SkipNet's features, then a probability output (nn.Softmax as the last module)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = skip_net()
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        return self.softmax(self.features(x))


def test_a_softmax_output_is_explained_by_its_logits_like_captum_on_the_logits():
    model = SoftmaxHead().train()
    guard = Guard(model)
    logits_model = copy.deepcopy(model.features).eval()  # the same network without softmax
    x = images(n=2)
    expected = captum_attr.LayerGradCam(logits_model, logits_model.block[0]).attribute(
        x, target=[2, 0], relu_attributions=True
    )
    ours = cw.grad_cam(model, x, "features.block.0", [2, 0], upsample=False, normalize=False)
    np.testing.assert_allclose(ours, expected[:, 0].detach().numpy(), rtol=1e-5, atol=1e-6)
    leaf = x.clone().requires_grad_(True)
    sal = captum_attr.Saliency(logits_model).attribute(leaf, target=[2, 0], abs=True)
    np.testing.assert_allclose(
        cw.saliency(model, x, [2, 0]), min_max(sal.max(dim=1).values.detach().numpy()), atol=1e-5
    )
    guard.check()


def test_a_call_that_raises_leaves_nothing_behind():
    model = skip_net()
    guard = Guard(model)
    with pytest.raises(ValueError, match=r"takes 3 input channels.*\(2, 4, 12, 12\)"):
        cw.grad_cam(model, torch.zeros(2, 4, 12, 12), "conv1")
    with pytest.raises(ValueError, match="out of range"):
        cw.saliency(model, images(), 7)
    with pytest.raises(ValueError, match="stack of 2-D maps"):
        cw.grad_cam(model, images(), "fc")
    guard.check()


# ------------------------------------------------- the golden network of test_gradcam.py

# Derived by hand in tests/test_gradcam.py (the Keras twin): input x[i, j] = 4i + j, conv of
# two 3x3 kernels of ones with biases -50 and -75, ReLU, flatten, dense; class 0's dense
# weights put [[1, 1], [1, -1]] on map 0 and [[1, 1], [-1, -1]] on map 1.
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


def tiny_torch() -> nn.Module:
    model = nn.Sequential()
    model.add_module("conv", nn.Conv2d(1, 2, 3))
    model.add_module("relu", nn.ReLU())
    model.add_module("flat", nn.Flatten())
    model.add_module("dense", nn.Linear(8, 4))
    # The Keras dense rows follow a channels-last flatten, (i, j, c); torch flattens (c, i, j).
    keras_dense = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    keras_dense[:, 0] = [1, 1, 1, 1, 1, -1, -1, -1]
    keras_dense[:, 1] = -1
    torch_rows = [(i * 2 + j) * 2 + c for c in range(2) for i in range(2) for j in range(2)]
    with torch.no_grad():
        model.conv.weight.fill_(1)
        model.conv.bias.copy_(torch.tensor([-50.0, -75.0]))
        model.dense.weight.copy_(torch.from_numpy(keras_dense[torch_rows].T.copy()))
        model.dense.bias.zero_()
    return model


@pytest.mark.parametrize(("method", "layer"), sorted(TINY_GOLDEN))
def test_tiny_network_in_torch_equals_the_hand_derived_cam(method, layer):
    model = tiny_torch()
    guard = Guard(model)
    x = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4)
    cam = cw.grad_cam(model, x, layer, 0, method=method, upsample=False, normalize=False)
    assert cam.shape == (1, 2, 2)
    np.testing.assert_allclose(cam[0], TINY_GOLDEN[method, layer], rtol=1e-6, atol=1e-6)
    guard.check()


def test_tiny_network_in_torch_weights_and_logit():
    model = tiny_torch()
    x = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4)
    result = cam_details(model, x, "conv", 0, upsample=False, normalize=False)
    np.testing.assert_allclose(result.channel_weights, [[0.25, -0.5]])
    assert result.logits[0, 0] == pytest.approx(-26)
    # Class 1 weighs every map by -1: all Grad-CAM weights at "relu" are negative.
    np.testing.assert_array_equal(cw.grad_cam(model, x, "relu", 1), np.zeros((1, 4, 4)))


# ------------------------------------------------------------- EfficientNet-Lite0, torch


@pytest.fixture(scope="module")
def lite0():
    from cnnviz_widget import imagenet_torch

    return imagenet_torch.demo()


@pytest.fixture(scope="module")
def keras_lite0(keras):
    from cnnviz_widget import imagenet

    return imagenet.efficientnet_lite0()


def test_efficientnet_is_built_from_the_shipped_weights(lite0):
    from cnnviz_widget import imagenet

    model, _, _, _ = lite0
    state = imagenet.load_state_dict()  # the file read without torch, as the Keras port does
    mine = model.state_dict()
    assert list(mine) == list(state)
    for name, value in state.items():
        np.testing.assert_array_equal(mine[name].numpy(), value, err_msg=name)
    assert not model.training


def test_efficientnet_layers(lite0):
    model, images, preprocess, _ = lite0
    guard = Guard(model)
    adapter = adapter_for(model)
    adapter.model_inputs(images[:1], preprocess)
    layers = {info.name: info for info in cw.list_layers(model)}
    assert layers["_conv_stem"].kind == "conv"
    assert layers["_conv_stem"].output_shape == (None, 112, 112, 32)
    assert layers["_conv_stem.static_padding"].parent == "_conv_stem"
    assert layers["_blocks"].kind == "model"
    assert layers["_blocks.3"].parent == "_blocks"
    assert layers["_blocks.3._depthwise_conv"].parent == "_blocks.3"
    assert layers["_swish"].output_shape == (None, 112, 112, 32)  # stem: its first call
    assert layers["_swish#2"].output_shape == (None, 7, 7, 1280)  # head: its second call
    assert layers["_fc"].params == 1280 * 1000 + 1000
    assert adapter.is_depthwise("_blocks.1._depthwise_conv")
    assert not adapter.is_depthwise("_blocks.1._project_conv")
    kernel, bias = cw.layer_weights(model, "_blocks.1._depthwise_conv")
    assert kernel.shape == (3, 3, 96, 1)
    assert bias is None
    guard.check()


def test_chelsea_is_a_cat_with_the_keras_ports_top5(lite0, keras_lite0):
    from cnnviz_widget import imagenet

    model, images, preprocess, names = lite0
    guard = Guard(model)
    adapter = adapter_for(model)
    logits = adapter.logits(adapter.model_inputs(images, preprocess))
    keras_probs = np.asarray(keras_lite0(imagenet.preprocess(images), training=False))
    for i in range(len(images)):
        torch_top5 = np.argsort(-logits[i], kind="stable")[:5]
        keras_top5 = np.argsort(-keras_probs[i], kind="stable")[:5]
        np.testing.assert_array_equal(torch_top5, keras_top5)
    assert 281 <= logits[0].argmax() <= 285  # chelsea: a domestic cat
    assert names[logits[0].argmax()] == "Egyptian cat"
    probs = np.exp(logits[0] - logits[0].max())
    assert probs[285] / probs.sum() == pytest.approx(keras_probs[0, 285], abs=1e-4)
    guard.check()


def test_efficientnet_activations_match_the_keras_port(lite0, keras_lite0):
    from cnnviz_widget import imagenet

    model, images, preprocess, _ = lite0
    pairs = {
        "_conv_stem": "stem_conv",
        "_blocks.1._depthwise_conv": "blocks_1_depthwise_conv",
        "_blocks.1._swish#2": "blocks_1_depthwise_relu6",
        "_blocks.15._bn2": "blocks_15_project_bn",
        "_swish#2": "head_relu6",
    }
    ours = cw.activations(model, images[:1], list(pairs), preprocess=preprocess)
    theirs = cw.activations(
        keras_lite0, images[:1], list(pairs.values()), preprocess=imagenet.preprocess
    )
    for torch_name, keras_name in pairs.items():
        np.testing.assert_allclose(
            ours[torch_name], theirs[keras_name], atol=2e-4, err_msg=torch_name
        )


def test_chelsea_grad_cam_lies_where_the_keras_ports_does(lite0, keras_lite0):
    from cnnviz_widget import imagenet

    model, images, preprocess, _ = lite0
    guard = Guard(model)
    ours = cam_details(model, images[:1], preprocess=preprocess)
    theirs = cam_details(keras_lite0, images[:1], preprocess=imagenet.preprocess)
    assert ours.layer == "_swish#2"  # the head's activation, as head_relu6 in Keras
    assert theirs.layer == "head_relu6"
    np.testing.assert_array_equal(ours.classes, theirs.classes)
    correlation = np.corrcoef(ours.cam.ravel(), theirs.cam.ravel())[0, 1]
    assert correlation > 0.999
    np.testing.assert_allclose(ours.cam, theirs.cam, atol=1e-4)
    # Most of the heat lies where the Keras port marks (its map at half maximum or more).
    hot = theirs.cam[0] >= 0.5
    assert ours.cam[0][hot].sum() / ours.cam[0].sum() > 0.6
    guard.check()
