"""One contract suite that every framework adapter passes.

The same small CNN is built in Keras and in torch with the same weights (copied between the
layouts: Keras kernels ``(kh, kw, in, out)``, torch ``(out, in, kh, kw)``; depthwise Keras
``(kh, kw, C, m)``, torch ``(C * m, 1, kh, kw)``).  It ends in a global average pool, so no
flatten order differs between the two.  Each test runs once per framework against the
definition written out in numpy (float64) here: the forward pass, the pre-softmax logits,
gradients by hand or by central differences.  So both adapters agree with the definition,
and ``test_frameworks_agree`` checks them against each other through the public functions.

After every call the model must be as it was (weights, and for torch: hooks, training
flags, ``requires_grad``, ``.grad``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import cnnviz_widget as cw
from cnnviz_widget.adapters import adapter_for
from cnnviz_widget.adapters.base import Adapter, Recording

FRAMEWORKS = ["keras", "torch"]
H = W = 6
N = 2
RNG = np.random.default_rng(42)
#: The twin's weights, Keras layouts.
WEIGHTS = {
    "conv": (RNG.normal(0, 0.5, (3, 3, 3, 4)), RNG.normal(0, 0.1, 4)),
    "dw": (RNG.normal(0, 0.5, (3, 3, 4, 2)), RNG.normal(0, 0.1, 8)),
    "bn": (  # gamma, beta, moving mean, moving variance
        RNG.uniform(0.5, 1.5, 8),
        RNG.normal(0, 0.2, 8),
        RNG.normal(0, 0.3, 8),
        RNG.uniform(0.5, 2.0, 8),
    ),
    "fc": (RNG.normal(0, 0.5, (8, 5)), RNG.normal(0, 0.1, 5)),
}
WEIGHTS = {k: tuple(np.asarray(a, np.float32) for a in v) for k, v in WEIGHTS.items()}
EPS = 1e-3
#: Display images (channels-last, in [0, 1]) and the model inputs they stand for.
DISPLAY = RNG.random((N, H, W, 3)).astype(np.float32)
IMAGES = (DISPLAY - 0.5) * 4  # model input, channels-last


# -------------------------------------------------------------------- the definition


def _correlate_same(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``(N, H, W, C) x (3, 3, C, O)``, zero padding 1 (``padding="same"`` / ``padding=1``)."""
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.zeros((*x.shape[:3], kernel.shape[-1]))
    for i in range(3):
        for j in range(3):
            out += padded[:, i : i + x.shape[1], j : j + x.shape[2]] @ kernel[i, j]
    return out


def _depthwise_same(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``(N, H, W, C) x (3, 3, C, m)`` -> ``(N, H, W, C * m)``, output channel ``c * m + k``."""
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    c, m = kernel.shape[2:]
    out = np.zeros((*x.shape[:3], c, m))
    for i in range(3):
        for j in range(3):
            window = padded[:, i : i + x.shape[1], j : j + x.shape[2], :, None]
            out += window * kernel[i, j]
    return out.reshape(*x.shape[:3], c * m)


def reference(x: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer's output, float64, channels-last: the network written out."""
    x = x.astype(np.float64)
    out = {"conv": _correlate_same(x, WEIGHTS["conv"][0]) + WEIGHTS["conv"][1]}
    out["relu"] = np.maximum(out["conv"], 0)
    out["dw"] = _depthwise_same(out["relu"], WEIGHTS["dw"][0]) + WEIGHTS["dw"][1]
    gamma, beta, mean, var = WEIGHTS["bn"]
    out["bn"] = (out["dw"] - mean) / np.sqrt(var.astype(np.float64) + EPS) * gamma + beta
    out["pool"] = out["bn"].mean(axis=(1, 2))
    out["fc"] = out["pool"] @ WEIGHTS["fc"][0] + WEIGHTS["fc"][1]
    e = np.exp(out["fc"] - out["fc"].max(axis=1, keepdims=True))
    out["softmax"] = e / e.sum(axis=1, keepdims=True)
    return out


LAYER_KINDS = {
    "conv": "conv",
    "relu": "activation",
    "dw": "conv",
    "bn": "norm",
    "pool": "pool",
    "fc": "dense",
    "softmax": "activation",
}


# ---------------------------------------------------------------------------- twins


def keras_twin() -> Any:
    import keras

    x = keras.Input((H, W, 3), name="image")
    h = keras.layers.Conv2D(4, 3, padding="same", name="conv")(x)
    h = keras.layers.ReLU(name="relu")(h)
    h = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="dw")(h)
    h = keras.layers.BatchNormalization(epsilon=EPS, name="bn")(h)
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    h = keras.layers.Dense(5, name="fc")(h)
    out = keras.layers.Softmax(name="softmax")(h)
    model = keras.Model(x, out, name="twin")
    for name, values in WEIGHTS.items():
        model.get_layer(name).set_weights(list(values))
    return model


def torch_twin() -> Any:
    import torch
    from torch import nn

    class GlobalAveragePool(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.mean(dim=(2, 3))

    class Twin(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.relu = nn.ReLU()
            self.dw = nn.Conv2d(4, 8, 3, padding=1, groups=4)
            self.bn = nn.BatchNorm2d(8, eps=EPS)
            self.pool = GlobalAveragePool()
            self.fc = nn.Linear(8, 5)
            self.softmax = nn.Softmax(dim=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.bn(self.dw(self.relu(self.conv(x))))
            return self.softmax(self.fc(self.pool(h)))

    model = Twin()
    t = torch.from_numpy
    with torch.no_grad():
        kernel, bias = WEIGHTS["conv"]
        model.conv.weight.copy_(t(kernel.transpose(3, 2, 0, 1).copy()))
        model.conv.bias.copy_(t(bias))
        kernel, bias = WEIGHTS["dw"]  # (kh, kw, C, m) -> (C * m, 1, kh, kw)
        model.dw.weight.copy_(t(kernel.transpose(2, 3, 0, 1).reshape(8, 1, 3, 3).copy()))
        model.dw.bias.copy_(t(bias))
        gamma, beta, mean, var = WEIGHTS["bn"]
        model.bn.weight.copy_(t(gamma))
        model.bn.bias.copy_(t(beta))
        model.bn.running_mean.copy_(t(mean))
        model.bn.running_var.copy_(t(var))
        kernel, bias = WEIGHTS["fc"]
        model.fc.weight.copy_(t(kernel.T.copy()))
        model.fc.bias.copy_(t(bias))
    return model.train()  # our calls must use eval semantics and put train mode back


@dataclass
class Case:
    framework: str
    model: Any
    #: ``IMAGES`` as this framework's model takes them.
    images: Any
    #: ``preprocess`` for ``DISPLAY`` (maps display images to this framework's input).
    preprocess: Any
    #: Puts ``IMAGES``-like channels-last data into this framework's layout.
    layout: Any
    snapshot: Any

    def check_unchanged(self) -> None:
        self.snapshot()


def _keras_case() -> Case:
    model = keras_twin()
    weights = [np.array(v) for v in model.get_weights()]

    def check() -> None:
        for before, after in zip(weights, model.get_weights(), strict=True):
            np.testing.assert_array_equal(before, after)

    return Case(
        "keras",
        model,
        IMAGES,
        lambda d: (np.asarray(d) - 0.5) * 4,
        lambda x: x,
        check,
    )


def _torch_case() -> Case:
    import torch
    from _torch_models import Guard

    model = torch_twin()
    guard = Guard(model)

    def layout(x: np.ndarray) -> Any:
        return torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))

    def preprocess(d: Any) -> Any:
        return layout((np.asarray(d, np.float32) - 0.5) * 4)

    return Case("torch", model, layout(IMAGES), preprocess, layout, guard.check)


@pytest.fixture(params=FRAMEWORKS)
def case(request, keras):  # every framework's case loads Keras for nothing but conftest's seed
    case = _torch_case() if request.param == "torch" else _keras_case()
    yield case
    case.check_unchanged()


@pytest.fixture
def adapter(case):
    adapter = adapter_for(case.model)
    adapter.model_inputs(case.images, None)  # the first pass (torch learns shapes from it)
    return adapter


# ---------------------------------------------------------------------------- tests


def test_is_an_adapter(case):
    adapter = adapter_for(case.model)
    assert isinstance(adapter, Adapter)  # runtime_checkable: every member is there
    assert adapter.framework == case.framework
    assert adapter.is_cnnviz_adapter
    assert adapter.model is case.model
    assert adapter_for(adapter) is adapter


def test_input_shapes_are_channels_last(case):
    (shape,) = adapter_for(case.model).input_shapes()
    assert len(shape) == 4
    assert shape[0] is None
    assert shape[-1] == 3
    assert shape[1:3] in ((H, W), (None, None))  # torch declares no H, W


def test_model_inputs_are_channels_last_float32(case):
    adapter = adapter_for(case.model)
    (batch,) = adapter.model_inputs(case.images, None)
    assert batch.dtype == np.float32
    np.testing.assert_array_equal(batch, IMAGES)
    (one,) = adapter.model_inputs(case.images[0], None)  # without the batch axis
    np.testing.assert_array_equal(one, IMAGES[:1])
    # What it gave goes back through unchanged (the views pass one sample of it back).
    (sample,) = adapter.model_inputs(batch[1:2], None)
    np.testing.assert_array_equal(sample, IMAGES[1:2])
    (through,) = adapter.model_inputs(DISPLAY, case.preprocess)
    np.testing.assert_allclose(through, IMAGES, atol=1e-6)
    shown = adapter.display_images(DISPLAY, case.preprocess)
    np.testing.assert_array_equal(shown, (DISPLAY * 255 + 0.5).astype(np.uint8))


@pytest.mark.parametrize("channels", [1, 4])
def test_model_inputs_refuse_the_wrong_channels(case, channels):
    bad = case.layout(np.zeros((N, H, W, channels), np.float32))
    with pytest.raises(ValueError, match=re.escape(str(tuple(bad.shape)))):
        adapter_for(case.model).model_inputs(bad, None)
    with pytest.raises(ValueError, match=re.escape(str(tuple(bad.shape)))):
        cw.grad_cam(case.model, bad, "conv")


def test_list_layers(adapter):
    layers = {info.name: info for info in adapter.list_layers()}
    for name, kind in LAYER_KINDS.items():
        assert layers[name].kind == kind, name
        assert layers[name].parent is None
        assert layers[name].trainable
    assert layers["conv"].params == 3 * 3 * 3 * 4 + 4
    assert layers["dw"].params == 3 * 3 * 4 * 2 + 8
    assert layers["fc"].params == 8 * 5 + 5
    assert layers["conv"].output_shape == (None, H, W, 4)
    assert layers["dw"].output_shape == (None, H, W, 8)
    assert layers["bn"].output_shape == (None, H, W, 8)
    assert layers["pool"].output_shape == (None, 8)
    assert layers["softmax"].output_shape == (None, 5)
    assert adapter.n_classes() == 5
    order = [info.name for info in adapter.list_layers() if info.name in LAYER_KINDS]
    assert order == list(LAYER_KINDS)


def test_activations_equal_the_definition(case, adapter):
    acts = adapter.activations([IMAGES], list(LAYER_KINDS))
    expected = reference(IMAGES)
    for name in LAYER_KINDS:
        assert acts[name].dtype == np.float32, name
        np.testing.assert_allclose(acts[name], expected[name], rtol=1e-5, atol=1e-5, err_msg=name)
    public = cw.activations(case.model, case.images, ["dw", "relu"])
    np.testing.assert_allclose(public["dw"], expected["dw"], atol=1e-5)


def test_recorded_activations_are_the_activations_read_one_by_one(adapter):
    # Against the definition written out in this file, not against ``activations`` (which
    # the Keras adapter builds from a recording).
    names = list(LAYER_KINDS)
    expected = reference(IMAGES)
    recording = adapter.recorded_activations([IMAGES], names)
    assert isinstance(recording, Recording)
    assert list(recording) == names
    assert len(recording) == len(names)
    assert "relu" in recording
    assert "no such layer" not in recording
    first = recording["relu"]  # read before the rest are converted
    np.testing.assert_allclose(first, expected["relu"], rtol=1e-5, atol=1e-5)
    settled = recording.settle()
    assert settled["relu"] is first  # converted once
    assert list(settled) == names
    for name in names:
        assert settled[name].dtype == np.float32, name
        np.testing.assert_allclose(
            settled[name], expected[name], rtol=1e-5, atol=1e-5, err_msg=name
        )


def test_logits_are_pre_softmax(adapter):
    np.testing.assert_allclose(adapter.logits([IMAGES]), reference(IMAGES)["fc"], atol=1e-5)


def test_class_gradients_at_a_layer_by_hand(adapter):
    # logit_k = fc(mean_yx(bn(dw))): d logit_k / d dw[n, y, x, c] = fc[c, k] g_c / (sqrt(v_c +
    # eps) H W), the same at every position.
    value, grad, logits, classes = adapter.class_gradients(
        [IMAGES], "dw", np.array([-1, 2], np.int32)
    )
    expected = reference(IMAGES)
    top = int(expected["fc"][0].argmax())
    np.testing.assert_array_equal(classes, [top, 2])
    np.testing.assert_allclose(value, expected["dw"], atol=1e-5)
    np.testing.assert_allclose(logits, expected["fc"], atol=1e-5)
    gamma, _, _, var = WEIGHTS["bn"]
    scale = gamma / np.sqrt(var.astype(np.float64) + EPS) / (H * W)
    for n, k in enumerate(classes):
        by_hand = np.broadcast_to(WEIGHTS["fc"][0][:, k] * scale, (H, W, 8))
        np.testing.assert_allclose(grad[n], by_hand, rtol=1e-5, atol=1e-7)


def _central_difference(score, x: np.ndarray, index: tuple[int, ...], h: float = 1e-4) -> float:
    up, down = x.astype(np.float64), x.astype(np.float64)
    up[index] += h
    down[index] -= h
    return (score(up) - score(down)) / (2 * h)


def test_class_gradients_at_the_input_by_central_differences(adapter):
    value, grad, _, classes = adapter.class_gradients([IMAGES], None, np.array([1, 4], np.int32))
    np.testing.assert_array_equal(value, IMAGES)
    np.testing.assert_array_equal(classes, [1, 4])
    for index in [(0, 0, 0, 0), (0, 2, 3, 1), (1, 5, 5, 2), (1, 3, 0, 0), (0, 4, 1, 2)]:
        k = classes[index[0]]

        def score(x: np.ndarray, n: int = index[0], k: int = k) -> float:
            return float(reference(x)["fc"][n, k])

        expected = _central_difference(score, IMAGES, index)
        assert grad[index] == pytest.approx(expected, rel=1e-4, abs=1e-6), index


def test_filter_gradients_by_central_differences(adapter):
    filters = np.array([3, 6], np.int32)
    values, grad = adapter.filter_gradients([IMAGES], "dw", filters)
    dw = reference(IMAGES)["dw"]
    np.testing.assert_allclose(values, [dw[0, ..., 3].mean(), dw[1, ..., 6].mean()], atol=1e-6)
    for index in [(0, 1, 1, 0), (1, 2, 4, 2), (0, 5, 0, 1)]:
        f = filters[index[0]]

        def score(x: np.ndarray, n: int = index[0], f: int = f) -> float:
            return float(reference(x)["dw"][n, ..., f].mean())

        expected = _central_difference(score, IMAGES, index)
        assert grad[index] == pytest.approx(expected, rel=1e-4, abs=1e-6), index


def test_layer_weights_layouts(adapter):
    kernel, bias = adapter.layer_weights("conv")
    assert kernel.shape == (3, 3, 3, 4)  # (kh, kw, in, out)
    np.testing.assert_array_equal(kernel, WEIGHTS["conv"][0])
    np.testing.assert_array_equal(bias, WEIGHTS["conv"][1])
    depthwise, _ = adapter.layer_weights("dw")
    assert depthwise.shape == (3, 3, 4, 2)  # (kh, kw, C, multiplier)
    np.testing.assert_array_equal(depthwise, WEIGHTS["dw"][0])
    dense, _ = adapter.layer_weights("fc")
    assert dense.shape == (8, 5)  # (in, out)
    np.testing.assert_array_equal(dense, WEIGHTS["fc"][0])
    assert adapter.is_depthwise("dw")
    assert not adapter.is_depthwise("conv")
    assert not adapter.is_depthwise("fc")
    for name in ("relu", "pool", "softmax"):
        with pytest.raises(ValueError, match="has no weights"):
            adapter.layer_weights(name)


def test_untrained_copy(case, adapter):
    twin = adapter.untrained_copy()
    assert twin is not case.model
    twin_adapter = adapter_for(twin)
    assert twin_adapter.framework == case.framework
    mine = [info.name for info in adapter.list_layers()]
    assert [info.name for info in twin_adapter.list_layers()] == mine
    for name in ("conv", "dw", "fc"):
        trained, fresh = adapter.layer_weights(name)[0], twin_adapter.layer_weights(name)[0]
        assert fresh.shape == trained.shape
        assert not np.allclose(fresh, trained), name
    np.testing.assert_array_equal(adapter.layer_weights("conv")[0], WEIGHTS["conv"][0])


def test_frameworks_agree(keras):
    cases = [_keras_case(), _torch_case()]
    results = []
    for case in cases:
        model, x = case.model, case.images
        results.append(
            {
                "activations": cw.activations(model, x, list(LAYER_KINDS)),
                "gradcam": cw.grad_cam(model, x, "dw", upsample=False, normalize=False),
                "gradcam_up": cw.grad_cam(model, x, "relu", [0, 3]),
                "layercam": cw.grad_cam(model, x, "conv", 1, method="layercam"),
                "saliency": cw.saliency(model, x),
                "smoothgrad": cw.saliency(model, x, 2, smooth_samples=3),
            }
        )
        case.check_unchanged()
    keras_result, torch_result = results
    for name in LAYER_KINDS:
        np.testing.assert_allclose(
            torch_result["activations"][name], keras_result["activations"][name], atol=1e-5
        )
    for key in ("gradcam", "gradcam_up", "layercam", "saliency", "smoothgrad"):
        np.testing.assert_allclose(torch_result[key], keras_result[key], atol=1e-4, err_msg=key)
