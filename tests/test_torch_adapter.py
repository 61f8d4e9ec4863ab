"""The torch adapter on small real models: layouts, names, modes, hooks, in-place ops.

Every numeric check is against the definition written out here (``F.conv2d`` on the
recorded input, numpy transposes of the weights, the module's own forward) or against the
twin model with plain ReLUs.  After every call, including calls that raise, ``Guard``
checks that no hook is left, every module's training flag is back, and no parameter,
buffer, ``requires_grad`` flag or ``.grad`` changed.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _torch_models import Guard, images, nhwc, skip_net
from torch import nn

import cnnviz_widget as cw
from cnnviz_widget.adapters import adapter_for
from cnnviz_widget.adapters.base import Adapter
from cnnviz_widget.adapters.torch import TorchAdapter
from cnnviz_widget.methods.gradcam import cam_details
from cnnviz_widget.methods.weights import check_same_architecture

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def model():
    return skip_net()


@pytest.fixture
def guard(model):
    guard = Guard(model)
    yield guard
    guard.check()


# --------------------------------------------------------------------------- registry


def test_registry_finds_the_torch_adapter(model, guard):
    adapter = adapter_for(model)
    assert isinstance(adapter, TorchAdapter)
    assert isinstance(adapter, Adapter)
    assert adapter.framework == "torch"
    assert adapter.model is model
    assert adapter_for(adapter) is adapter
    assert adapter_for(model) is adapter  # cached


def test_a_keras_session_never_imports_torch():
    code = (
        "import sys, numpy as np, keras\n"
        "import cnnviz_widget as cw\n"
        "m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name='c'),\n"
        "                      keras.layers.Flatten(), keras.layers.Dense(3)])\n"
        "x = np.random.default_rng(0).random((1, 8, 8, 1), dtype=np.float32)\n"
        "cw.list_layers(m); cw.activations(m, x); cw.grad_cam(m, x, 'c'); cw.saliency(m, x)\n"
        "cw.layer_weights(m, 'c')\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": ""},
    )
    assert out.stdout.strip().splitlines()[-1] == "False"


# ----------------------------------------------------------------------------- inputs


def test_input_shapes_are_channels_last_with_open_size(model, guard):
    assert adapter_for(model).input_shapes() == [(None, None, None, 3)]


def test_model_inputs_take_channels_first_and_give_channels_last(model, guard):
    adapter = adapter_for(model)
    x = images()
    for given in (x, x.numpy(), list(x.numpy())):
        (batch,) = adapter.model_inputs(given, None)
        assert batch.dtype == np.float32
        np.testing.assert_array_equal(batch, nhwc(x))
    (one,) = adapter.model_inputs(x[0], None)  # (C, H, W): one sample
    np.testing.assert_array_equal(one, nhwc(x[:1]))


def test_validated_inputs_go_back_through_unchanged(model, guard):
    # The views pass one sample of the validated (channels-last) inputs back to the public
    # functions; a channels-last array cannot be told from a channels-first one by its shape.
    x = images(n=3, size=3)  # (3, 3, 3, 3): both layouts look alike
    adapter = adapter_for(model)
    (batch,) = adapter.model_inputs(x, None)
    (again,) = adapter.model_inputs(batch[1:2], None)
    np.testing.assert_array_equal(again, nhwc(x[1:2]))
    np.testing.assert_allclose(
        cam_details(adapter, [batch[1:2]], "conv1").cam,
        cam_details(model, x[1:2], "conv1").cam,
        atol=1e-6,
    )
    assert type(batch * 2) is np.ndarray  # arithmetic drops the mark
    assert type(batch.max(axis=0)) is np.ndarray
    grey = nn.Sequential(nn.Conv2d(1, 2, 3))  # another model: its channels are checked
    with pytest.raises(ValueError, match=r"\(3, 3, 3, 3\)"):
        adapter_for(grey).model_inputs(batch, None)


def test_model_inputs_through_preprocess(model, guard):
    display = np.random.default_rng(0).integers(0, 256, (2, 12, 12, 3), dtype=np.uint8)

    def preprocess(images):
        return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255 - 0.5

    adapter = adapter_for(model)
    (batch,) = adapter.model_inputs(display, preprocess)
    np.testing.assert_allclose(batch, display / np.float32(255) - 0.5, atol=1e-7)
    np.testing.assert_array_equal(adapter.display_images(display, preprocess), display)


def test_display_images_without_preprocess_are_min_max_scaled_per_image(model, guard):
    x = images()
    x[1] *= 10  # another range: scaled on its own
    shown = adapter_for(model).display_images(x, None)
    assert shown.dtype == np.uint8
    assert shown.shape == (2, 12, 12, 3)
    for i in range(2):
        a = nhwc(x)[i]
        expected = ((a - a.min()) / (a.max() - a.min()) * 255 + 0.5).astype(np.uint8)
        np.testing.assert_array_equal(shown[i], expected)


def test_uint8_model_input_is_shown_as_it_is(guard, model):
    x = np.random.default_rng(0).integers(0, 256, (2, 3, 12, 12), dtype=np.uint8)
    adapter = adapter_for(model)
    (batch,) = adapter.model_inputs(x, None)
    np.testing.assert_array_equal(batch, x.transpose(0, 2, 3, 1).astype(np.float32))
    np.testing.assert_array_equal(adapter.display_images(x, None), x.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("every", [False, True], ids=["two layers", "every layer"])
def test_a_pass_on_another_thread_is_left_alone(every):
    """Hooks registered on the modules (two layers) or dispatched from one global hook
    (every layer, more than MANY_HOOKS) act on the adapter's own thread only."""
    import threading

    from cnnviz_widget.adapters.torch import MANY_HOOKS

    entered, release = threading.Event(), threading.Event()
    worker_id: list[int] = []
    global_hooks: list[int] = []

    class Gate(nn.Module):
        """Holds the adapter's pass (its hooks registered) while the main thread runs."""

        def forward(self, t):
            if worker_id and threading.get_ident() == worker_id[0]:
                global_hooks.append(len(nn.modules.module._global_forward_hooks))
                entered.set()
                assert release.wait(30)
            return t

    torch.manual_seed(0)
    spacers = [nn.Identity() for _ in range(MANY_HOOKS)]
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3), Gate(), nn.ReLU(), *spacers, nn.Flatten(), nn.LazyLinear(2)
    )
    last = str(len(net) - 1)
    x = images()
    net.eval()(x)
    guard = Guard(net)
    adapter = adapter_for(net)
    adapter.model_inputs(x, None)
    with torch.no_grad():
        expected = {"0": net[0](x), last: net(x)}
    names = [info.name for info in adapter.list_layers()] if every else ["0", last]
    results = {}

    def explain():
        worker_id.append(threading.get_ident())
        results.update(adapter.activations([nhwc(x)], names))

    worker = threading.Thread(target=explain)
    worker.start()
    assert entered.wait(30)
    with torch.no_grad():
        mine = net(x * 2)  # our hooks are on the modules now: they must not act on this
    release.set()
    worker.join(30)
    assert global_hooks == [1 if every else 0]
    np.testing.assert_allclose(mine.numpy(), net(x * 2).detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(results["0"], nhwc(expected["0"]), atol=1e-6)
    np.testing.assert_allclose(results[last], expected[last].numpy(), atol=1e-6)
    guard.check()


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, 12, 12, 3), np.float32),  # channels-last
        np.zeros((2, 1, 12, 12), np.float32),  # one channel
        np.zeros((12, 12), np.float32),  # no channel axis
        np.zeros((1, 2, 3, 12, 12), np.float32),  # rank 5
    ],
)
def test_wrong_channels_raise_naming_shape_and_channels(model, guard, bad):
    before = adapter_for(model).list_layers()
    with pytest.raises(ValueError, match="takes 3 input channels") as raised:
        adapter_for(model).model_inputs(bad, None)
    assert str(tuple(bad.shape)) in str(raised.value)
    with pytest.raises(ValueError, match="takes 3 input channels"):
        cw.grad_cam(model, bad)
    assert adapter_for(model).list_layers() == before  # no pass ran


def test_channels_last_images_get_a_hint(model, guard):
    with pytest.raises(ValueError, match="channels-last"):
        cw.activations(model, np.zeros((2, 12, 12, 3), np.float32))


def test_a_size_the_model_cannot_take_is_a_value_error(guard):
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 10 * 10, 2))
    net_guard = Guard(net)
    with pytest.raises(ValueError, match=r"cannot run on inputs of shape \(1, 3, 9, 9\)"):
        cw.activations(net, np.zeros((1, 3, 9, 9), np.float32))
    net_guard.check()


# ----------------------------------------------------------------------------- layers


def test_list_layers_names_kinds_parents_params_and_shapes(model, guard):
    adapter = adapter_for(model)
    before = adapter.list_layers()
    assert [i.name for i in before] == [n for n, _ in model.named_modules() if n]
    assert all(i.output_shape is None for i in before)  # no pass yet
    adapter.model_inputs(images(), None)
    layers = {i.name: i for i in adapter.list_layers()}
    assert layers["conv1"].kind == "conv"
    assert layers["conv1"].type == "Conv2d"
    assert layers["conv1"].params == 8 * 3 * 9 + 8
    assert layers["conv1"].output_shape == (None, 12, 12, 8)
    assert layers["bn1"].kind == "norm"
    assert layers["bn1"].params == 16  # weight and bias (running statistics are buffers)
    assert layers["relu1"].kind == "activation"
    assert layers["block"].kind == "model"
    assert layers["block"].parent is None
    assert layers["block"].params == 2 * (8 * 8 * 9 + 8) + 2 * 16
    assert layers["block.0"].parent == "block"
    assert layers["block.0"].kind == "conv"
    assert layers["pool"].kind == "pool"
    assert layers["pool"].output_shape == (None, 1, 1, 8)
    assert layers["flat"].kind == "reshape"
    assert layers["drop"].kind == "dropout"
    assert layers["fc"].kind == "dense"
    assert layers["fc"].output_shape == (None, 5)
    assert adapter.n_classes() == 5


def test_trainable_follows_requires_grad(model):
    model.conv1.requires_grad_(False)
    guard = Guard(model)
    layers = {i.name: i for i in adapter_for(model).list_layers()}
    assert not layers["conv1"].trainable
    assert layers["fc"].trainable
    assert layers["relu1"].trainable  # nothing to freeze
    cw.grad_cam(model, images(), "conv1")  # gradients still reach a frozen layer's output
    guard.check()


@pytest.mark.parametrize("image_model", [True, False])
def test_an_in_place_op_on_the_input_leaves_the_callers_array_alone(image_model):
    torch.manual_seed(0)
    if image_model:
        net = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(3, 2, 3), nn.Flatten())
        x = images().numpy()
    else:  # a 2-D input goes through without a transpose
        net = nn.Sequential(nn.ReLU(inplace=True), nn.Linear(4, 3))
        x = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
    original = x.copy()
    guard = Guard(net)
    adapter = adapter_for(net)
    inputs = adapter.model_inputs(x, None)
    before = [a.copy() for a in inputs]
    cw.activations(net, x)
    adapter.logits(inputs)
    adapter.class_gradients(inputs, None, np.array([0, 1]))
    adapter.filter_gradients(inputs, "1", np.array([0, 1]))
    np.testing.assert_array_equal(x, original)
    for a, b in zip(inputs, before, strict=True):
        np.testing.assert_array_equal(a, b)
    guard.check()


class SharedReLU(nn.Module):
    """One ReLU object after both convs, and one conv applied twice."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.act = nn.ReLU()
        self.again = nn.Conv2d(4, 4, 3, padding=1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = self.act(self.conv(x))
        x = self.act(self.again(x))
        x = self.act(self.again(x))
        return self.fc(x.mean(dim=(2, 3)))


def test_a_module_called_several_times_is_listed_once_per_call():
    torch.manual_seed(0)
    net = SharedReLU().eval()
    guard = Guard(net)
    x = images()
    adapter = adapter_for(net)
    adapter.model_inputs(x, None)
    names = [i.name for i in adapter.list_layers()]
    assert names == ["conv", "act", "act#2", "act#3", "again", "again#2", "fc"]
    layers = {i.name: i for i in adapter.list_layers()}
    assert layers["again"].params == 4 * 4 * 9 + 4
    assert layers["again#2"].params == 0  # counted once
    assert layers["act#3"].kind == "activation"
    assert layers["act#3"].output_shape == (None, 12, 12, 4)

    acts = cw.activations(net, x, ["act", "act#2", "act#3", "again#2"])
    with torch.no_grad():
        a1 = torch.relu(net.conv(x))
        a2 = torch.relu(net.again(a1))
        z3 = net.again(a2)
    np.testing.assert_allclose(acts["act"], nhwc(a1), atol=1e-6)
    np.testing.assert_allclose(acts["act#2"], nhwc(a2), atol=1e-6)
    np.testing.assert_allclose(acts["again#2"], nhwc(z3), atol=1e-6)
    np.testing.assert_allclose(acts["act#3"], nhwc(torch.relu(z3)), atol=1e-6)
    # Grad-CAM at the second call differs from the first: each call is its own layer.
    cam1 = cw.grad_cam(net, x, "act", 0, upsample=False, normalize=False)
    cam2 = cw.grad_cam(net, x, "act#2", 0, upsample=False, normalize=False)
    assert not np.allclose(cam1, cam2)
    np.testing.assert_array_equal(
        adapter.layer_weights("again#2")[0], adapter.layer_weights("again")[0]
    )
    # The untrained copy lists the same rows without a pass of its own.
    twin = adapter.untrained_copy()
    assert [i.name for i in adapter_for(twin).list_layers()] == names
    check_same_architecture(net, twin)
    with pytest.raises(KeyError, match="act#4"):
        cw.activations(net, x, ["act#4"])
    guard.check()


def test_unknown_layer_names_close_matches(model, guard):
    with pytest.raises(KeyError, match="conv1"):
        cw.activations(model, images(), ["conv_1"])


# ---------------------------------------------------------------------- activations


def test_activations_are_one_pass_of_eval_semantics(model, guard):
    x = images()
    acts = cw.activations(model, x)
    reference = copy.deepcopy(model).eval()
    with torch.no_grad():
        conv1 = reference.conv1(x)
        relu1 = torch.relu(reference.bn1(conv1))
        block = reference.block(relu1)
        out = reference(x)
    np.testing.assert_allclose(acts["conv1"], nhwc(conv1), atol=1e-5)
    np.testing.assert_allclose(acts["block"], nhwc(block), atol=1e-5)
    np.testing.assert_allclose(acts["drop"], acts["flat"])  # dropout is off
    np.testing.assert_allclose(acts["fc"], out.numpy(), atol=1e-5)
    assert set(acts) == {n for n, _ in model.named_modules() if n}


@pytest.mark.parametrize("inplace", [False, True])
def test_in_place_relu_does_not_overwrite_recorded_outputs(inplace):
    net = skip_net(inplace=inplace)
    guard = Guard(net)
    x = images()
    acts = cw.activations(net, x, ["bn1", "relu1", "block.1", "block.2"])
    assert (acts["bn1"] < 0).any()  # the ReLU after it did not zero it
    assert (acts["block.1"] < 0).any()
    reference = copy.deepcopy(net).eval()
    with torch.no_grad():
        bn1 = reference.bn1(reference.conv1(x))
    np.testing.assert_allclose(acts["bn1"], nhwc(bn1), atol=1e-5)
    np.testing.assert_allclose(acts["relu1"], np.maximum(nhwc(bn1), 0), atol=1e-5)
    guard.check()


def test_in_place_and_plain_relu_twins_agree_everywhere():
    plain, inplace = skip_net(inplace=False), skip_net(inplace=True)
    guards = [Guard(plain), Guard(inplace)]
    x = images()
    a, b = cw.activations(plain, x), cw.activations(inplace, x)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    for layer in ("conv1", "bn1", "relu1", "block.1", "block", "relu2"):
        for method in ("gradcam", "gradcam++", "layercam"):
            np.testing.assert_allclose(
                cw.grad_cam(plain, x, layer, method=method, upsample=False, normalize=False),
                cw.grad_cam(inplace, x, layer, method=method, upsample=False, normalize=False),
                rtol=1e-5,
                atol=1e-6,
                err_msg=f"{method} at {layer}",
            )
    np.testing.assert_allclose(cw.saliency(plain, x), cw.saliency(inplace, x), atol=1e-6)
    for layer in ("bn1", "block.1"):
        va, ga = adapter_for(plain).filter_gradients([nhwc(x)], layer, np.array([1, 5]))
        vb, gb = adapter_for(inplace).filter_gradients([nhwc(x)], layer, np.array([1, 5]))
        np.testing.assert_allclose(va, vb, atol=1e-6)
        np.testing.assert_allclose(ga, gb, atol=1e-6)
    for guard in guards:
        guard.check()


class Stack(nn.Module):
    """Layers in a ModuleList (never called itself) and an auxiliary head the forward pass
    does not use."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Conv2d(3, 4, 3), nn.ReLU()])
        self.aux = nn.Linear(4, 2)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.fc(x.mean(dim=(2, 3)))


def test_layers_the_pass_does_not_reach_are_listed_but_left_out_of_activations():
    torch.manual_seed(0)
    net = Stack()
    guard = Guard(net)
    adapter = adapter_for(net)
    x = images()
    adapter.model_inputs(x, None)
    layers = {info.name: info for info in adapter.list_layers()}
    assert layers["layers"].kind == "model"
    assert layers["layers"].output_shape is None
    assert layers["layers.0"].parent == "layers"
    assert layers["aux"].output_shape is None
    acts = cw.activations(net, x)
    assert set(acts) == {"layers.0", "layers.1", "fc"}
    assert set(adapter.activations([nhwc(x)], ["aux", "layers.1", "fc#2"])) == {"layers.1"}
    with pytest.raises(ValueError, match="not reached"):
        cw.grad_cam(net, x, "aux")
    guard.check()


class SometimesInPlace(nn.Module):
    """Changes the conv's output in place only when told to (its values, or only its shape):
    the first pass cannot see it coming."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.pool = nn.AdaptiveAvgPool2d(1)  # requested too: the pass runs past the change
        self.in_place: str | None = None

    def forward(self, x):
        z = self.conv(x)
        if self.in_place == "clamp_":
            z.clamp_(min=0)
        elif self.in_place == "unsqueeze_":  # metadata only: the recorded tensor's shape
            z = z.unsqueeze_(0)[0]
        return self.pool(z).flatten(1)


@pytest.mark.parametrize("op", ["clamp_", "unsqueeze_"])
def test_an_in_place_op_the_first_pass_did_not_see_is_caught(op):
    torch.manual_seed(0)
    net = SometimesInPlace()
    guard = Guard(net)
    adapter = adapter_for(net)
    x = images()
    adapter.model_inputs(x, None)  # first pass: nothing in place
    net.in_place = op
    conv = adapter.activations([nhwc(x)], ["conv", "pool"])["conv"]
    with torch.no_grad():
        expected = nhwc(net.conv(x))
    assert (expected < 0).any()
    assert conv.shape == expected.shape
    np.testing.assert_allclose(conv, expected, atol=1e-6)
    again = adapter.activations([nhwc(x)], ["conv", "pool"])["conv"]  # now copied in the hook
    np.testing.assert_allclose(again, expected, atol=1e-6)
    guard.check()


class Table(nn.Module):
    """Outputs its own parameter (an embedding-like lookup of everything)."""

    def __init__(self) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.randn(1, 4, 2, 2))

    def forward(self, x):
        return self.table


def test_an_output_that_is_a_parameter_comes_back_as_a_copy():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), Table())
    guard = Guard(net)
    acts = cw.activations(net, images(), ["1"])
    np.testing.assert_array_equal(acts["1"], nhwc(net[1].table))
    acts["1"][...] = 0  # writing into the result leaves the model alone
    guard.check()


# ------------------------------------------------------------------------ gradients


def test_class_gradients_against_autograd_by_hand(model, guard):
    x = images()
    value, grad, logits, classes = adapter_for(model).class_gradients(
        [nhwc(x)], "block.1", np.array([-1, 3], np.int32)
    )
    reference = copy.deepcopy(model).eval()
    captured = {}
    bn = reference.block[1]
    handle = bn.register_forward_hook(lambda m, a, out: captured.setdefault("z", out))
    out = reference(x)
    handle.remove()
    top = int(out[0].argmax())
    np.testing.assert_array_equal(classes, [top, 3])
    score = out[0, top] + out[1, 3]
    (expected,) = torch.autograd.grad(score, captured["z"])
    np.testing.assert_allclose(value, nhwc(captured["z"]), atol=1e-5)
    np.testing.assert_allclose(grad, nhwc(expected), atol=1e-6)
    np.testing.assert_allclose(logits, out.detach().numpy(), atol=1e-5)


def test_input_gradients_and_frozen_models(model):
    model.requires_grad_(False)  # a frozen feature extractor: the input still gets gradients
    guard = Guard(model)
    x = images()
    value, grad, _, classes = adapter_for(model).class_gradients(
        [nhwc(x)], None, np.array([2, 2], np.int32)
    )
    reference = copy.deepcopy(model).eval()
    leaf = x.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(reference(leaf)[:, 2].sum(), leaf)
    np.testing.assert_array_equal(value, nhwc(x))
    np.testing.assert_allclose(grad, nhwc(expected), atol=1e-6)
    np.testing.assert_array_equal(classes, [2, 2])
    guard.check()


def test_out_of_range_class_is_a_value_error(model, guard):
    with pytest.raises(ValueError, match="out of range"):
        cw.grad_cam(model, images(), "conv1", 5)
    with pytest.raises(ValueError, match="out of range"):
        adapter_for(model).class_gradients([nhwc(images())], "conv1", np.array([9, 0]))


class Probabilities(nn.Module):
    def __init__(self, final: nn.Module) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 6)
        self.final = final

    def forward(self, x):
        return self.final(self.fc(self.conv(x).mean(dim=(2, 3))))


@pytest.mark.parametrize("final", [nn.Softmax(dim=1), nn.LogSoftmax(dim=1)])
def test_class_scores_are_pre_softmax(final):
    torch.manual_seed(0)
    net = Probabilities(final)
    guard = Guard(net)
    x = images()
    adapter = adapter_for(net)
    with torch.no_grad():
        expected = net.fc(net.conv(x).mean(dim=(2, 3)))
    np.testing.assert_allclose(adapter.logits([nhwc(x)]), expected.numpy(), atol=1e-6)
    _, grad, logits, _ = adapter.class_gradients([nhwc(x)], "conv", np.array([1, 1]))
    np.testing.assert_allclose(logits, expected.numpy(), atol=1e-6)
    z = net.conv(x)
    (by_hand,) = torch.autograd.grad(net.fc(z.mean(dim=(2, 3)))[:, 1].sum(), z)
    np.testing.assert_allclose(grad, nhwc(by_hand), atol=1e-6)
    guard.check()


def test_filter_gradients_by_hand(model, guard):
    x = images()
    values, grad = adapter_for(model).filter_gradients([nhwc(x)], "block.0", np.array([2, 6]))
    reference = copy.deepcopy(model).eval()
    leaf = x.clone().requires_grad_(True)
    z = reference.block[0](reference.relu1(reference.bn1(reference.conv1(leaf))))
    mean = torch.stack([z[0, 2].mean(), z[1, 6].mean()])
    (expected,) = torch.autograd.grad(mean.sum(), leaf)
    np.testing.assert_allclose(values, mean.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(grad, nhwc(expected), atol=1e-6)
    dense_values, _ = adapter_for(model).filter_gradients([nhwc(x)], "fc", np.array([0, 4]))
    with torch.no_grad():
        out = reference(x)
    np.testing.assert_allclose(dense_values, [out[0, 0], out[1, 4]], atol=1e-6)


class Stopwatch(nn.Module):
    """Counts its calls: a layer after the target that a stopped pass never reaches."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x


def test_passes_that_need_nothing_after_a_layer_stop_there():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), Stopwatch(), nn.Flatten(), nn.LazyLinear(2))
    net(images())  # materialises the lazy layer
    guard = Guard(net)
    adapter = adapter_for(net)
    adapter.model_inputs(images(), None)  # the first pass records every layer
    calls = net[1].calls
    adapter.activations([nhwc(images())], ["0"])
    adapter.filter_gradients([nhwc(images())], "0", np.array([0, 1]))
    assert net[1].calls == calls
    adapter.activations([nhwc(images())], ["0", "3"])
    assert net[1].calls == calls + 1
    guard.check()


def test_hooks_go_away_when_the_model_raises():
    class Boom(nn.Module):
        armed = False

        def forward(self, x):
            if self.armed:
                raise RuntimeError("boom")
            return x.mean(dim=(2, 3))

    net = nn.Sequential(nn.Conv2d(3, 4, 3), Boom(), nn.Linear(4, 2)).train()
    guard = Guard(net)
    adapter = adapter_for(net)
    adapter.model_inputs(images(), None)
    net[1].armed = True
    with pytest.raises(RuntimeError, match="boom"):
        adapter.activations([nhwc(images())], ["0", "2"])
    with pytest.raises(RuntimeError, match="boom"):
        adapter.class_gradients([nhwc(images())], "0", np.array([0, 0]))
    with pytest.raises(RuntimeError, match="boom"):
        adapter.filter_gradients([nhwc(images())], "2", np.array([0, 0]))
    with pytest.raises(RuntimeError, match="boom"):
        adapter.logits([nhwc(images())])
    guard.check()


def test_training_flags_of_every_submodule_come_back(model):
    model.train()
    model.block.eval()  # a mixed state, as a fine-tuning script leaves it
    model.block[1].train()
    guard = Guard(model)
    cw.activations(model, images())
    cw.grad_cam(model, images())
    cw.saliency(model, images(), smooth_samples=2)
    cw.maximize_filter(model, "block.0", 1, steps=2, size=(12, 12))
    guard.check()


class TwoInputs(nn.Module):
    """A grey and a colour image, each through its own conv, joined before the head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_grey = nn.Conv2d(1, 4, 3)
        self.conv_colour = nn.Conv2d(3, 6, 3)
        self.fc = nn.Linear(10, 3)

    def forward(self, grey, colour):
        g = torch.relu(self.conv_grey(grey)).amax(dim=(2, 3))
        c = torch.relu(self.conv_colour(colour)).amax(dim=(2, 3))
        return self.fc(torch.cat([g, c], dim=1))


def test_a_model_with_two_inputs():
    torch.manual_seed(0)
    net = TwoInputs()
    guard = Guard(net)
    generator = torch.Generator().manual_seed(3)
    grey, colour = torch.rand(2, 1, 10, 10, generator=generator), torch.rand(2, 3, 8, 8)
    adapter = adapter_for(net)
    batches = adapter.model_inputs([grey, colour], None)
    np.testing.assert_array_equal(batches[0], nhwc(grey))
    np.testing.assert_array_equal(batches[1], nhwc(colour))
    assert adapter.input_shapes() == [(None, None, None, 1), (None, None, None, 3)]
    with pytest.raises(ValueError, match="same number of samples"):
        adapter.model_inputs([grey, colour[:1]], None)
    assert adapter.layer_input("conv_grey") == 0
    assert adapter.layer_input("conv_colour") == 1
    assert adapter.layer_input("fc") == 0
    values, grad = adapter.filter_gradients(batches, "conv_colour", np.array([2, 5]), 1)
    leaf = colour.clone().requires_grad_(True)
    z = net.conv_colour(leaf)
    mean = torch.stack([z[0, 2].mean(), z[1, 5].mean()])
    (expected,) = torch.autograd.grad(mean.sum(), leaf)
    np.testing.assert_allclose(values, mean.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(grad, nhwc(expected), atol=1e-6)
    _, unused = adapter.filter_gradients(batches, "conv_colour", np.array([2, 5]), 0)
    np.testing.assert_array_equal(unused, np.zeros_like(batches[0]))
    with torch.no_grad():
        np.testing.assert_allclose(adapter.logits(batches), net(grey, colour).numpy(), atol=1e-6)
    guard.check()


# -------------------------------------------------------------------------- weights


def test_layer_weights_layouts():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(4, 6, (3, 5)),  # plain
        nn.Conv2d(6, 4, 3, groups=2),  # grouped
        nn.Conv2d(4, 8, 3, groups=4, bias=False),  # depthwise, multiplier 2
        nn.ConvTranspose2d(8, 6, 2, groups=2),  # transposed, grouped
        nn.Flatten(),
        nn.LazyLinear(3),
        nn.BatchNorm1d(3),
    )
    net.eval()(torch.zeros(1, 4, 9, 9))  # materialises the lazy layer
    guard = Guard(net)
    adapter = adapter_for(net)

    kernel, bias = adapter.layer_weights("0")
    w = net[0].weight.detach().numpy()  # (out, in, kh, kw)
    assert kernel.shape == (3, 5, 4, 6)
    for o, i, y, x in [(0, 0, 0, 0), (5, 3, 2, 4), (2, 1, 1, 3)]:
        assert kernel[y, x, i, o] == w[o, i, y, x]
    np.testing.assert_array_equal(bias, net[0].bias.detach().numpy())

    grouped, _ = adapter.layer_weights("1")
    assert grouped.shape == (3, 3, 3, 4)  # (kh, kw, in / groups, out)
    np.testing.assert_array_equal(grouped, net[1].weight.detach().numpy().transpose(2, 3, 1, 0))
    assert not adapter.is_depthwise("1")

    depthwise, none = adapter.layer_weights("2")
    assert none is None
    assert adapter.is_depthwise("2")
    assert depthwise.shape == (3, 3, 4, 2)  # Keras's (kh, kw, C, multiplier)
    d = net[2].weight.detach().numpy()  # (C * m, 1, kh, kw); output channel c * m + k
    for c in range(4):
        for k in range(2):
            np.testing.assert_array_equal(depthwise[:, :, c, k], d[c * 2 + k, 0])

    transposed, _ = adapter.layer_weights("3")
    t = net[3].weight.detach().numpy()  # (in, out / groups, kh, kw)
    assert transposed.shape == (2, 2, 8, 3)
    np.testing.assert_array_equal(transposed, t.transpose(2, 3, 0, 1))
    assert not adapter.is_depthwise("3")

    dense, dense_bias = adapter.layer_weights("5")
    np.testing.assert_array_equal(dense, net[5].weight.detach().numpy().T)
    assert dense_bias.shape == (3,)

    for name in ("4", "6"):
        with pytest.raises(ValueError, match="has no weights"):
            adapter.layer_weights(name)
    kernel[...] = 0  # a copy: the model's weights stay as they are
    guard.check()


def test_untrained_copy(model, guard):
    adapter = adapter_for(model)
    rng_before = torch.random.get_rng_state()
    twin = adapter.untrained_copy()
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # the global RNG did not move
    assert twin is not model
    assert isinstance(twin, type(model))
    assert [n for n, _ in twin.named_modules()] == [n for n, _ in model.named_modules()]
    twin_adapter = adapter_for(twin)
    for name in ("conv1", "block.0", "fc"):
        mine, theirs = adapter.layer_weights(name)[0], twin_adapter.layer_weights(name)[0]
        assert mine.shape == theirs.shape
        assert not np.allclose(mine, theirs)
    # Batch norm statistics are reset too; the copy is the same every time.
    assert torch.equal(twin.bn1.running_mean, torch.zeros(8))
    again = adapter.untrained_copy()
    for a, b in zip(twin.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)


# ---------------------------------------------------------------------------- device


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_computes_on_the_models_device_and_returns_numpy(device):
    net = skip_net().to(device)
    guard = Guard(net)
    x = images().to(device)
    acts = cw.activations(net, x, ["conv1", "fc"])
    assert all(isinstance(a, np.ndarray) for a in acts.values())
    cam = cw.grad_cam(net, x, "block.1")
    sal = cw.saliency(net, x)
    assert cam.shape == sal.shape == (2, 12, 12)
    reference = skip_net()
    np.testing.assert_allclose(
        acts["fc"], cw.activations(reference, images(), "fc")["fc"], atol=1e-4
    )
    guard.check()
