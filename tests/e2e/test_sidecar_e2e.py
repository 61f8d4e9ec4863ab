"""``LayerExplorer.sidecar()`` opens the explorer in JupyterLab's right-hand panel."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e

CELL = """
from cnnviz_widget import LayerExplorer
from cnnviz_widget.data import default_model

model, images, names = default_model(4)
explorer = LayerExplorer(model, images, class_names=names)
panel = explorer.sidecar(title="cnnviz side panel")
"""
READY_MS = 90_000


def _in_side_panel(page, selector: str):
    # JupyterLab 4 puts right-hand panels in #jp-right-stack.
    return page.locator(f"#jp-right-stack {selector}")


def test_explorer_in_the_side_panel_fills_it_and_answers_clicks(page, open_notebook, artifacts):
    open_notebook(page, [CELL])
    root = _in_side_panel(page, ".cnnviz")
    root.wait_for(state="visible", timeout=READY_MS)
    page.wait_for_selector(
        '#jp-right-stack [data-panel][data-layer="conv2d"][data-state="ready"]', timeout=READY_MS
    )
    # It follows the panel's size rather than a fixed width.
    panel_box = page.locator("#jp-right-stack").bounding_box()
    widget_box = root.bounding_box()
    assert panel_box is not None
    assert widget_box is not None
    assert widget_box["width"] >= 0.8 * panel_box["width"] - 40
    assert widget_box["width"] <= panel_box["width"] + 1

    _in_side_panel(page, f"[data-layer={json.dumps('conv2d_1')}]:not([data-panel])").click()
    page.wait_for_selector(
        '#jp-right-stack [data-panel][data-layer="conv2d_1"][data-state="ready"]',
        timeout=READY_MS,
    )
    image = _in_side_panel(page, "[data-panel] img").first
    assert image.get_attribute("data-rows") == "8"
    assert image.get_attribute("data-cols") == "8"
    artifacts.screenshot(page, "sidecar.png")


def test_the_graph_fills_the_side_panel_and_selects_layers(page, open_notebook, artifacts):
    open_notebook(page, [CELL])
    page.wait_for_selector(
        '#jp-right-stack [data-panel][data-layer="conv2d"][data-state="ready"]', timeout=READY_MS
    )
    _in_side_panel(page, '[data-role="graph-toggle"]').click()
    box = _in_side_panel(page, '[data-graph-node="conv2d_1"]').first
    box.wait_for(state="visible", timeout=READY_MS)
    graph = _in_side_panel(page, ".cnnviz-body").bounding_box()
    panel = page.locator("#jp-right-stack").bounding_box()
    assert graph is not None
    assert panel is not None
    assert graph["width"] >= 0.8 * panel["width"] - 40  # the side panel is narrow: full width
    box.click()
    page.wait_for_selector(
        '#jp-right-stack [data-panel][data-layer="conv2d_1"][data-state="ready"]',
        timeout=READY_MS,
    )
    shot = artifacts.screenshot(page, "sidecar-graph.png")
    assert shot.exists()
