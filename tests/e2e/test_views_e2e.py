"""The Weights and Grad-CAM tabs in a real JupyterLab."""

from __future__ import annotations

import json

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


# Records, in the page, whether the Grad-CAM heatmap was ever on screen while the read-out was
# still being measured (the kernel's first message), and whether the panel covered it then.
WATCH_PARTIAL = """() => {
  window.cnnvizPartial = { heatmap: false, covered: false };
  new MutationObserver(() => {
    const panel = document.querySelector('[data-panel][data-view="gradcam"]');
    if (!panel || !panel.querySelector('[data-role="faithfulness-pending"]')) return;
    if (!panel.querySelector('[data-role="overlay"] img[data-role="heatmap"]')) return;
    window.cnnvizPartial.heatmap = true;
    const loading = panel.querySelector('[data-role="loading"]');
    if (loading && !loading.hidden) window.cnnvizPartial.covered = true;
  }).observe(document.body, { subtree: true, childList: true, attributes: true });
}"""

AUCS = """
import json
import numpy as np
from cnnviz_widget import faithfulness, grad_cam
cam = grad_cam(model, images[:1], "conv2d_1", upsample=False)
noise = np.random.default_rng(0).random(cam.shape[1:])[None]
out = {}
for metric in ("deletion", "insertion"):
    out[metric] = {
        "map": float(faithfulness(model, images[:1], cam, metric=metric).auc[0]),
        "random": float(faithfulness(model, images[:1], noise, metric=metric).auc[0]),
    }
print(json.dumps(out))
"""

IG_SUM = """
from cnnviz_widget import integrated_gradients
print(float(integrated_gradients(model, images[:1]).sum()))
"""


def test_trust_readout_sanity_check_and_integrated_gradients(
    page, open_notebook, kernel_execute, artifacts
):
    open_notebook(page, [CELL])
    _ready(page, "conv2d", "activations")
    page.click('[data-layer="conv2d_1"]:not([data-panel])')
    _ready(page, "conv2d_1", "activations")
    panel = page.locator("[data-panel]")
    page.evaluate(WATCH_PARTIAL)
    page.click('[data-view="gradcam"]')
    cell = (
        '[data-panel][data-state="ready"] [data-role="faithfulness"]'
        ' tr[data-metric="{}"] td[data-series="{}"]'
    )
    page.wait_for_selector(cell.format("insertion", "random") + "[data-value]", timeout=READY_MS)
    # The heatmap came first, without the panel's overlay over it.
    partial = page.evaluate("() => window.cnnvizPartial")
    assert partial["heatmap"], "the heatmap was not drawn before the read-out"
    assert not partial["covered"], "the heatmap was covered while the read-out was measured"
    heat = page.locator('[data-panel] [data-role="overlay"] img[data-role="heatmap"]')
    assert heat.evaluate("img => img.complete && img.naturalWidth === 28")
    # The read-out's AUCs are those of the public faithfulness() on the same map (at the
    # layer's 11 x 11, enlarged) and on the random map it documents (default_rng(0)).
    expected = json.loads(kernel_execute(page, AUCS))
    for metric in ("deletion", "insertion"):
        for series in ("map", "random"):
            shown = page.locator(cell.format(metric, series))
            value = float(shown.get_attribute("data-value"))
            assert abs(value - expected[metric][series]) < 1e-4, (metric, series, value)
            assert shown.inner_text() == f"{value:.2f}"
    # On this digit the map beats the random map both ways (0.26 < 0.64, 0.84 > 0.55).
    assert expected["deletion"]["map"] < expected["deletion"]["random"]
    assert expected["insertion"]["map"] > expected["insertion"]["random"]
    readout = page.locator('[data-panel] [data-role="faithfulness"]')
    assert readout.locator("svg path[data-series]").count() == 4
    assert readout.locator(".cnnviz-trust-legend li").count() == 4
    assert page.locator('[data-panel] img[data-role="sanity"]').count() == 0
    panel.screenshot(path=str(artifacts.path("gradcam-faithfulness.png")))

    # The sanity check: the untrained copy's heatmap beside the trained one.
    page.check('[data-role="sanity-toggle"]')
    page.wait_for_selector(
        '[data-panel][data-state="ready"] img[data-role="sanity"]', timeout=READY_MS
    )
    twin = page.locator('[data-panel] img[data-role="sanity"]')
    assert twin.evaluate("img => img.complete && img.naturalWidth === 28")
    box, twin_box = heat.bounding_box(), twin.bounding_box()
    assert twin_box["x"] > box["x"] + box["width"] - 1  # beside it, same size
    assert abs(twin_box["width"] - box["width"]) < 1
    line = page.locator('[data-panel] [data-role="sanity-correlation"]').inner_text()
    assert line.startswith("rank correlation with the trained map: ")
    r = float(
        page.locator('[data-panel] [data-role="sanity-correlation"]').get_attribute("data-value")
    )
    assert -1 <= r <= 1
    shown_r = f"{r:.2f}" if round(r, 2) != 0 else "0.00"  # no sign on a zero
    assert f": {shown_r} (" in line
    assert kernel_execute(page, "print(explorer.sanity)").strip() == "True"
    panel.screenshot(path=str(artifacts.path("gradcam-sanity.png")))

    # Saliency: integrated gradients, with its completeness line.
    page.click('[data-view="saliency"]')
    _ready(page, "conv2d_1", "saliency")
    page.select_option('[data-role="saliency-method"]', "integrated")
    page.wait_for_selector(
        '[data-panel][data-state="ready"] [data-role="completeness"]:not([hidden])',
        timeout=READY_MS,
    )
    assert kernel_execute(page, "print(explorer.saliency_method)").strip() == "integrated"
    completeness = page.locator('[data-panel] [data-role="completeness"]')
    assert completeness.inner_text().startswith("attributions sum to ")
    total = float(kernel_execute(page, IG_SUM))
    assert abs(float(completeness.get_attribute("data-sum")) - total) < 1e-3 * max(1, abs(total))
    panel.screenshot(path=str(artifacts.path("saliency-integrated.png")))
