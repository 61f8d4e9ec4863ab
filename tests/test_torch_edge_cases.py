"""Torch edge cases across methods: a baseline that never ran, patterns of two-input models.

A module called twice is listed as two rows (``"again"``, ``"again#2"``) once a forward
pass counted its calls; a baseline model passed by the user may never have run one.  A
model with two image inputs of open size holds the input that is not climbed grey, at the
size of the images it was given.  The references: the modules' own weights, and the same
ascent on a one-input wrapper that holds the other input grey by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _torch_models import Guard, images, nhwc
from torch import nn

from cnnviz_widget.adapters import adapter_for
from cnnviz_widget.methods.maximize import maximize_filter, maximize_filters
from cnnviz_widget.methods.weights import check_same_architecture, resolve_baseline


class TwiceNet(nn.Module):
    """One conv applied twice and one ReLU after every conv."""

    def __init__(self, twice: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.act = nn.ReLU()
        self.again = nn.Conv2d(4, 4, 3, padding=1)
        self.fc = nn.Linear(4, 3)
        self.twice = twice

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.again(self.act(self.conv(x))))
        if self.twice:
            x = self.act(self.again(x))
        return self.fc(x.mean(dim=(2, 3)))


def twice_net(seed: int, twice: bool = True) -> TwiceNet:
    torch.manual_seed(seed)
    return TwiceNet(twice).eval()


NAMES = ["conv", "act", "act#2", "act#3", "again", "again#2", "fc"]


def kernel(conv: nn.Conv2d) -> np.ndarray:
    """A conv's weight ``(out, in, kh, kw)`` as ``(kh, kw, in, out)``, by numpy."""
    return np.transpose(conv.weight.detach().numpy(), (2, 3, 1, 0))


# ------------------------------------------------------------------ the baseline
def test_a_baseline_that_never_ran_compares_with_a_model_that_did():
    model, baseline = twice_net(0), twice_net(1)
    guards = Guard(model), Guard(baseline)
    adapter_for(model).model_inputs(images(), None)  # the model ran, the baseline did not
    check_same_architecture(model, baseline)
    assert resolve_baseline(model, baseline) is baseline
    theirs = adapter_for(baseline)
    assert [i.name for i in theirs.list_layers()] == NAMES
    assert [i.name for i in adapter_for(model).list_layers()] == NAMES
    # The second call's kernel is the baseline's own conv, as the model's is its own.
    k2, b2 = theirs.layer_weights("again#2")
    np.testing.assert_array_equal(k2, kernel(baseline.again))
    np.testing.assert_array_equal(b2, baseline.again.bias.detach().numpy())
    np.testing.assert_array_equal(
        adapter_for(model).layer_weights("again#2")[0], kernel(model.again)
    )
    assert not np.array_equal(k2, kernel(model.again))
    for guard in guards:
        guard.check()


def test_a_model_that_never_ran_compares_with_a_baseline_that_did():
    model, baseline = twice_net(2), twice_net(3)
    adapter_for(baseline).model_inputs(images(size=10), None)
    check_same_architecture(model, baseline)
    assert [i.name for i in adapter_for(model).list_layers()] == NAMES
    # Shapes come from the pass on zeros shaped like the baseline's inputs.
    assert adapter_for(model).list_layers()[-2].output_shape == (None, 10, 10, 4)


def test_a_baseline_that_calls_a_module_fewer_times_differs():
    model, baseline = twice_net(4), twice_net(5, twice=False)
    adapter_for(model).model_inputs(images(), None)
    with pytest.raises(ValueError, match=r"different architecture.*act#3"):
        check_same_architecture(model, baseline)


def test_a_baseline_that_cannot_run_on_the_models_inputs_says_so():
    model = twice_net(6)
    adapter_for(model).model_inputs(images(), None)
    torch.manual_seed(7)
    baseline = TwiceNet().eval()
    baseline.conv = nn.Conv2d(1, 4, 3, padding=1)  # takes grey images
    guard = Guard(baseline)
    with pytest.raises(
        ValueError, match=r"40 in the baseline.*baseline cannot run on inputs shaped"
    ):
        check_same_architecture(model, baseline)
    guard.check()


# ------------------------------------------------------- patterns of two inputs
class SameSize(nn.Module):
    """A colour and a grey image of the same (any) size, added after their convs."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(8)
        self.colour = nn.Conv2d(3, 4, 3, padding=1)
        self.grey = nn.Conv2d(1, 4, 3, padding=1)
        self.mix = nn.Conv2d(4, 5, 3, padding=1)

    def forward(self, colour: torch.Tensor, grey: torch.Tensor) -> torch.Tensor:
        return self.mix(torch.relu(self.colour(colour) + self.grey(grey)))


class FixedGrey(nn.Module):
    """A colour image of any size and an 8 x 8 grey one read by a linear layer, which the
    forward pass reaches first."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(9)
        self.colour = nn.Conv2d(3, 4, 3, padding=1)
        self.grey = nn.Linear(64, 4)
        self.mix = nn.Conv2d(4, 5, 3, padding=1)

    def forward(self, colour: torch.Tensor, grey: torch.Tensor) -> torch.Tensor:
        bias = self.grey(grey.flatten(1))[:, :, None, None]
        return self.mix(torch.relu(self.colour(colour) + bias))


class HeldGrey(nn.Module):
    """``net`` with its second input held grey (0.5) at ``size``: one input, by hand."""

    def __init__(self, net: nn.Module, size: tuple[int, int]) -> None:
        super().__init__()
        self.net = net
        self.size = size

    def forward(self, colour: torch.Tensor) -> torch.Tensor:
        grey = torch.full((len(colour), 1, *self.size), 0.5)
        return self.net(colour, grey)


def test_the_grey_input_of_two_same_size_images_follows_the_patterns_size():
    net = SameSize().eval()
    guard = Guard(net)
    generator = torch.Generator().manual_seed(10)
    given = [torch.rand(2, 3, 12, 12, generator=generator), torch.rand(2, 1, 12, 12)]
    adapter_for(net).model_inputs(given, None)
    assert adapter_for(net).layer_input("mix") == 0
    got = maximize_filters(net, "mix", [0, 3], steps=4, size=(16, 16))
    expected = maximize_filters(
        HeldGrey(net, (16, 16)).eval(), "net.mix", [0, 3], steps=4, size=(16, 16)
    )
    assert got.shape == (2, 16, 16, 3)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    guard.check()


def test_the_grey_input_keeps_the_size_it_was_given():
    net = FixedGrey().eval()
    guard = Guard(net)
    given = [torch.rand(1, 3, 12, 12), torch.rand(1, 1, 8, 8)]
    adapter = adapter_for(net)
    adapter.model_inputs(given, None)
    # The pass reaches the grey input's linear layer first; the first input is still the
    # colour image, and the same images go in again.
    assert adapter.input_shapes() == [(None, None, None, 3), (None, None, None, 1)]
    adapter.model_inputs(given, None)
    got = maximize_filter(net, "mix", 2, steps=4, size=(20, 20))
    expected = maximize_filter(HeldGrey(net, (8, 8)).eval(), "net.mix", 2, steps=4, size=(20, 20))
    assert got.shape == (20, 20, 3)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    guard.check()


def test_patterns_of_a_two_input_model_that_saw_no_images_say_what_to_pass():
    net = SameSize().eval()
    guard = Guard(net)
    with pytest.raises(ValueError, match=r"takes 2 inputs.*give the model images first"):
        maximize_filter(net, "mix", 0, steps=1, size=(12, 12))
    guard.check()


# ------------------------------------------------ recording many modules at once
def _deep_net() -> nn.Module:
    """Twelve conv-relu pairs: a pass recording every module dispatches its hooks from one
    global hook (``MANY_HOOKS``); one recording a few registers them module by module."""
    torch.manual_seed(3)
    layers: list[nn.Module] = []
    for i in range(12):
        layers += [nn.Conv2d(3 if i == 0 else 4, 4, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)).eval()


def test_recording_every_module_equals_recording_each_alone():
    model = _deep_net()
    x = nhwc(images(2, 8))
    adapter = adapter_for(model)
    names = [info.name for info in adapter.list_layers()]
    guard = Guard(model)
    every = adapter.activations([x], names)
    guard.check()
    assert len(names) > 8
    assert set(every) == set(names)
    for name in names:
        (alone,) = adapter.activations([x], [name]).values()
        np.testing.assert_array_equal(every[name], alone, err_msg=name)
    guard.check()


def test_a_users_own_forward_hook_is_recorded_after_it_ran_as_module_by_module():
    """What a layer hands on is recorded, also when the user's hook replaced it: global
    hooks run before a module's own, so a module with hooks of its own gets ours on it."""
    model = _deep_net()
    x = nhwc(images(1, 8))
    adapter = adapter_for(model)
    names = [info.name for info in adapter.list_layers()]
    plain = adapter.activations([x], names)
    seen: list[torch.Tensor] = []

    def doubled(module: nn.Module, args: object, output: torch.Tensor) -> torch.Tensor:
        seen.append(output)
        return output * 2

    handle = model[4].register_forward_hook(doubled)  # the third conv
    try:
        every = adapter.activations([x], names)
        (alone,) = adapter.activations([x], ["4"]).values()
        assert len(seen) == 2
        assert list(model[4]._forward_hooks.values()) == [doubled]
    finally:
        handle.remove()
    np.testing.assert_allclose(every["4"], 2 * plain["4"], rtol=1e-6)
    np.testing.assert_array_equal(every["4"], alone)
    # Downstream layers saw the doubled map too (a ReLU after it: exactly doubled).
    np.testing.assert_allclose(every["5"], 2 * plain["5"], rtol=1e-6)
    Guard(model).check()


def test_a_pass_that_raises_leaves_no_global_hook():
    model = _deep_net()
    adapter = adapter_for(model)
    names = [info.name for info in adapter.list_layers()]
    adapter.activations([nhwc(images(1, 8))], names)
    guard = Guard(model)

    def broken(module: nn.Module, args: object, output: torch.Tensor) -> None:
        raise RuntimeError("broken on purpose")

    # A user's hook on the last module raises inside the dispatching pass.
    handle = model[-1].register_forward_hook(broken)
    try:
        with pytest.raises(RuntimeError, match="broken on purpose"):
            adapter.activations([nhwc(images(1, 8))], names)
    finally:
        handle.remove()
    guard.check()  # global hooks among them
