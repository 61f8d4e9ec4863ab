"""The graph view, the Examples tab and a PyTorch model in a real JupyterLab."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

READY_MS = 90_000
EVIL = "<img src=x onerror=alert(1)>"


def _ready(page, layer, view):
    page.wait_for_selector(
        f'[data-panel][data-layer="{layer}"][data-view="{view}"][data-state="ready"]',
        timeout=READY_MS,
    )


DIGITS = """
from cnnviz_widget import LayerExplorer
from cnnviz_widget.data import default_model, digits

model, images, names = default_model(4)
explorer = LayerExplorer(model, images, class_names=names, dataset=digits(200)[0])
explorer
"""


def test_graph_toggle_click_a_box_and_every_tab_follows(page, open_notebook, kernel_execute):
    open_notebook(page, [DIGITS])
    _ready(page, "conv2d", "activations")
    page.click('[data-role="graph-toggle"]')
    page.wait_for_selector('[data-graph-node="conv2d"][aria-selected="true"]', timeout=READY_MS)
    boxes = page.locator("[data-graph-node]")
    assert boxes.count() >= 8  # every layer of the digits CNN has its box
    page.click('[data-graph-node="conv2d_1"]')
    _ready(page, "conv2d_1", "activations")
    image = page.locator("[data-panel] img").first
    assert (image.get_attribute("data-rows"), image.get_attribute("data-cols")) == ("8", "8")
    assert (
        page.locator('[data-graph-node="conv2d_1"]').first.get_attribute("aria-selected") == "true"
    )
    assert kernel_execute(page, "print(explorer.layer)").strip() == "conv2d_1"
    # Back to the list: the same layer is selected there.
    page.click('[data-role="graph-toggle"]')
    page.wait_for_selector('[data-layer="conv2d_1"][aria-selected="true"]', timeout=READY_MS)


def test_examples_tab_shows_the_top_dataset_images(page, open_notebook, kernel_execute):
    open_notebook(page, [DIGITS])
    _ready(page, "conv2d", "activations")
    page.click('[data-layer="conv2d_1"]:not([data-panel])')
    page.click('[data-view="examples"]')
    _ready(page, "conv2d_1", "examples")
    assert page.locator('[data-role="example-values"] li').count() == 9
    assert "200" in page.locator('[data-panel] [data-role="progress"]').inner_text()
    page.click('[data-role="channel-next"]')
    page.wait_for_function(
        "() => document.querySelector('[data-role=channel-picker]').value === '1'",
        timeout=READY_MS,
    )
    _ready(page, "conv2d_1", "examples")
    assert kernel_execute(page, "print(explorer.channel)").strip() == "1"


TORCH = f"""
import numpy as np
import torch
from torch import nn
from cnnviz_widget import LayerExplorer

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.add_module({EVIL!r}, nn.ReLU())
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = getattr(self, {EVIL!r})(self.conv2(x))
        return self.head(torch.flatten(x.mean(dim=(2, 3)), 1))

torch.manual_seed(0)
net = Net().eval()
x = torch.rand(2, 1, 28, 28)
explorer = LayerExplorer(net, x)
explorer
"""


def test_a_torch_model_in_the_explorer(page, open_notebook, kernel_execute):
    open_notebook(page, [TORCH])
    _ready(page, "conv1", "activations")
    image = page.locator("[data-panel] img").first
    assert (image.get_attribute("data-rows"), image.get_attribute("data-cols")) == ("4", "8")
    page.click('[data-layer="conv2"]:not([data-panel])')
    _ready(page, "conv2", "activations")
    image = page.locator("[data-panel] img").first
    assert (image.get_attribute("data-rows"), image.get_attribute("data-cols")) == ("8", "8")
    row = page.locator(f'[data-layer="{EVIL}"]:not([data-panel])')
    assert EVIL in row.inner_text()
    assert page.locator('img[src="x"]').count() == 0
    page.click('[data-view="gradcam"]')
    _ready(page, "conv2", "gradcam")
    page.click('[data-view="weights"]')
    _ready(page, "conv2", "weights")
    assert kernel_execute(page, "print(net.training)").strip() == "False"
