"""The Weights and Grad-CAM tabs in a real JupyterLab."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

CELL = """
from cnnviz_widget import LayerExplorer
from cnnviz_widget.data import default_model

model, images, names = default_model(4)
explorer = LayerExplorer(model, images, class_names=names)
explorer
"""
READY_MS = 90_000


def _ready(page, layer, view):
    page.wait_for_selector(
        f'[data-panel][data-layer="{layer}"][data-view="{view}"][data-state="ready"]',
        timeout=READY_MS,
    )


def test_weights_tab_shows_trained_and_untrained_grids(page, open_notebook, kernel_execute):
    open_notebook(page, [CELL])
    _ready(page, "conv2d", "activations")
    page.click('[data-view="weights"]')
    _ready(page, "conv2d", "weights")
    grids = page.locator('[data-panel] [data-role="grid"] img')
    assert grids.count() == 2
    for i in range(2):
        image = grids.nth(i)
        assert image.get_attribute("data-rows") == "2"  # 32 filters: 2 x 16
        assert image.get_attribute("data-cols") == "16"
        assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.locator('[data-panel] [data-role="histogram"] svg').count() == 1
    # A layer without weights says so, and the widget goes on.
    page.click('[data-layer="max_pooling2d"]:not([data-panel])')
    page.wait_for_selector(
        '[data-panel][data-layer="max_pooling2d"][data-state="error"] [data-role="error"]',
        timeout=READY_MS,
    )
    assert "no weights" in page.locator('[data-panel] [data-role="error"]').inner_text()
    page.click('[data-layer="conv2d_1"]:not([data-panel])')
    _ready(page, "conv2d_1", "weights")
    assert kernel_execute(page, "print(explorer.view, explorer.layer)").strip() == (
        "weights conv2d_1"
    )


def test_gradcam_tab_class_picker_explains_another_class(page, open_notebook, kernel_execute):
    open_notebook(page, [CELL])
    _ready(page, "conv2d", "activations")
    page.click('[data-layer="conv2d_1"]:not([data-panel])')
    page.click('[data-view="gradcam"]')
    _ready(page, "conv2d_1", "gradcam")
    predictions = page.locator('[data-panel] [data-role="prediction"]')
    assert predictions.count() == 5
    assert predictions.first.inner_text().startswith("0")  # the first digit is a 0
    page.select_option('[data-role="class-picker"]', "6")
    page.wait_for_function(
        "() => document.querySelector('[data-panel]').dataset.state === 'ready'"
        " && document.querySelector('[data-panel]').textContent.includes('class 6')",
        polling=500,
        timeout=READY_MS,
    )
    assert kernel_execute(page, "print(explorer.class_index)").strip() == "6"
    # Grad-CAM on a dense layer is an error in the panel, not a broken widget.
    page.click('[data-layer="dense"]:not([data-panel])')
    page.wait_for_selector(
        '[data-panel][data-layer="dense"][data-state="error"] [data-role="error"]',
        timeout=READY_MS,
    )
    page.click('[data-layer="conv2d"]:not([data-panel])')
    _ready(page, "conv2d", "gradcam")


def test_filters_tab_draws_patterns_with_progress(page, open_notebook):
    open_notebook(page, [CELL])
    _ready(page, "conv2d", "activations")
    page.click('[data-view="filters"]')
    _ready(page, "conv2d", "filters")
    image = page.locator("[data-panel] img").first
    assert image.get_attribute("data-rows") == "2"
    assert image.get_attribute("data-cols") == "8"
    assert "30" in page.locator('[data-panel] [data-role="progress"]').inner_text()
    page.click('[data-role="more-filters"]')
    page.wait_for_function(
        "() => { const img = document.querySelector('[data-panel] img');"
        " return document.querySelector('[data-panel]').dataset.state === 'ready'"
        " && img && img.dataset.rows === '4'; }",
        polling=500,
        timeout=READY_MS,
    )
