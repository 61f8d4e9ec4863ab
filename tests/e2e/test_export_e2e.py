"""The page written by ``LayerExplorer.save_html`` works in Chromium with no kernel."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.e2e

EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    import keras

    from cnnviz_widget import LayerExplorer

    keras.utils.set_random_seed(0)
    x = keras.Input((28, 28, 1))
    a = keras.layers.Conv2D(32, 3, activation="relu", name="conv_a")(x)
    b = keras.layers.Conv2D(64, 3, name="conv_b")(a)
    b = keras.layers.Activation("relu", name=EVIL)(b)
    out = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(b))
    model = keras.Model(x, out)
    images = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    explorer = LayerExplorer(model, images)
    path = explorer.save_html(tmp_path_factory.mktemp("export") / "explorer.html")
    explorer.close()
    return path


def test_exported_page_shows_saved_layers_without_a_kernel(browser, exported):
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(exported.as_uri())
    page.wait_for_selector('[data-panel][data-layer="conv_a"][data-state="ready"]', timeout=30_000)
    page.click('[data-layer="conv_b"]')
    page.wait_for_selector('[data-panel][data-layer="conv_b"][data-state="ready"]', timeout=30_000)
    image = page.locator("[data-panel] img").first
    assert image.get_attribute("data-rows") == "8"
    assert image.get_attribute("data-cols") == "8"
    row = page.locator(f'[data-layer="{EVIL}"]')
    assert EVIL in row.inner_text()
    assert page.locator('img[src="x"]').count() == 0
    # A view that was not saved says so instead of waiting for a kernel forever.
    page.click('[data-view="weights"]')
    page.wait_for_selector('[data-panel][data-state="error"] [data-role="error"]', timeout=30_000)
    assert not dialogs
    context.close()


@pytest.fixture(scope="module")
def exported_on_filters(tmp_path_factory):
    from cnnviz_widget import LayerExplorer
    from cnnviz_widget.data import default_model

    model, images, names = default_model()
    explorer = LayerExplorer(model, images[:2], class_names=names, view="filters")
    explorer.layer = "conv2d"
    explorer._serve(explorer._new_request(), send=False)  # the final grid, as the worker does
    assert explorer.snapshot["type"] == "result"
    path = explorer.save_html(tmp_path_factory.mktemp("export") / "filters.html")
    explorer.close()
    return path


def test_exported_page_shows_the_saved_view_again_after_leaving_it(browser, exported_on_filters):
    """The saved Filters grid answers only its own options; the page must carry all of them
    (it once lacked filter_count, and coming back to the tab said "not included")."""
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.goto(exported_on_filters.as_uri())
    ready = '[data-panel][data-view="{}"][data-layer="conv2d"][data-state="ready"]'
    page.wait_for_selector(ready.format("filters"), timeout=30_000)
    page.click('[data-view="activations"]')
    page.wait_for_selector(ready.format("activations"), timeout=30_000)
    page.click('[data-view="filters"]')
    page.wait_for_selector(ready.format("filters"), timeout=30_000)
    assert page.locator('[data-panel] [data-role="error"]:visible').count() == 0
    context.close()


def test_exported_page_draws_the_model_graph(browser, exported):
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.goto(exported.as_uri())
    page.wait_for_selector('[data-panel][data-layer="conv_a"][data-state="ready"]', timeout=30_000)
    page.click('[data-role="graph-toggle"]')
    page.wait_for_selector('[data-graph-node="conv_b"]', timeout=30_000)
    # The skip-free chain conv_a -> conv_b -> EVIL -> ...: every layer has its box, as text.
    assert page.locator(f'[data-graph-node="{EVIL}"]').count() >= 1
    assert page.locator('img[src="x"]').count() == 0
    page.click('[data-graph-node="conv_b"]')
    page.wait_for_selector('[data-panel][data-layer="conv_b"][data-state="ready"]', timeout=30_000)
    context.close()
