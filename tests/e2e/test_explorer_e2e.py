# ruff: noqa: E501  (JavaScript run in the page is kept readable, not wrapped)
"""LayerExplorer in a real JupyterLab, driven through Chromium.

Relies only on the DOM hooks of DESIGN.md section 5 (``data-layer``, ``aria-selected``,
``data-panel`` with ``data-layer``/``data-view``/``data-state``, ``data-role="error"``), on
the mosaic image carrying its layout as ``data-rows``/``data-cols``/``data-tile-width``/
``data-tile-height``/``data-gap`` (on the ``<img>`` or an element around it inside the panel),
and on the widget's root having the class ``cnnviz``.

The layout is checked twice: from those attributes, and independently from the decoded PNG
(its size, and where the separator rows/columns between tiles actually are).
"""

from __future__ import annotations

import base64
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.e2e

EVIL = "<img src=x onerror=alert(1)>"

MODEL_CELL = f"""
import numpy as np
import keras

keras.utils.set_random_seed(0)
inputs = keras.Input((28, 28, 1))
x = keras.layers.Conv2D(32, 3, activation="relu", name="conv_a")(inputs)
x = keras.layers.MaxPooling2D()(x)
x = keras.layers.Conv2D(64, 3, activation="relu", name="conv_b")(x)
x = keras.layers.Activation("relu", name={EVIL!r})(x)
x = keras.layers.Flatten()(x)
outputs = keras.layers.Dense(10)(x)
model = keras.Model(inputs, outputs)
images = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)

from cnnviz_widget import LayerExplorer
explorer = LayerExplorer(model, images)
explorer
"""

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_MS = 90_000  # the first forward pass of a fresh kernel includes tracing the tf.function


@pytest.fixture(autouse=True)
def _frontend_is_built():
    if os.environ.get("CNNVIZ_E2E_USE_INSTALLED"):
        return
    js = REPO_ROOT / "cnnviz_widget" / "static" / "widget.js"
    if not js.exists() or js.stat().st_size < 200:
        pytest.fail(f"{js} is missing or a stub: run `npm install && npm run build` first")


# ------------------------------------------------------------------------------ page helpers


def css_str(value: str) -> str:
    """A CSS string literal (JSON's escaping is valid CSS for these names)."""
    return json.dumps(value)


def row(page, layer: str):
    return page.locator(f"[data-layer={css_str(layer)}]:not([data-panel])")


def all_rows(page):
    return page.locator("[data-layer]:not([data-panel])")


def wait_panel(page, layer: str, timeout_ms: int = READY_MS) -> None:
    """Wait until the panel shows ``layer`` as ready; fail at once (with its text) on error."""
    handle = page.wait_for_function(
        """(layer) => {
             const p = document.querySelector('[data-panel]');
             if (!p || p.getAttribute('data-layer') !== layer) return false;
             const s = p.getAttribute('data-state');
             if (s === 'error') {
               const e = p.querySelector('[data-role="error"]') || document.querySelector('[data-role="error"]');
               return {error: (e || p).textContent};
             }
             return s === 'ready' ? {ready: true} : false;
           }""",
        arg=layer,
        timeout=timeout_ms,
        polling=50,
    )
    state = handle.json_value()
    assert "error" not in state, f"panel for {layer!r} is in error: {state['error']!r}"


@dataclass
class Mosaic:
    rows: int
    cols: int
    tile_w: int
    tile_h: int
    gap: int
    natural_w: int
    natural_h: int
    client_w: float
    client_h: float
    object_fit: str
    png: bytes


_JS_READ_MOSAIC = """
async () => {
  const panel = document.querySelector('[data-panel]');
  const imgs = Array.from(panel.querySelectorAll('img'));
  const img = imgs.find(i => i.closest('[data-rows]')) || imgs[0];
  if (!img) return {missing: panel.outerHTML.slice(0, 2000)};
  if (!img.complete || !img.naturalWidth) {
    await new Promise((res, rej) => { img.onload = res; img.onerror = () => rej(new Error('img failed to load')); });
  }
  const holder = img.closest('[data-rows]');
  const attrs = {};
  if (holder && panel.contains(holder)) {
    for (const k of ['rows', 'cols', 'tileWidth', 'tileHeight', 'gap']) attrs[k] = holder.dataset[k];
  }
  const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  const r = img.getBoundingClientRect();
  return {attrs, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
          clientWidth: r.width, clientHeight: r.height,
          objectFit: getComputedStyle(img).objectFit, png: btoa(bin)};
}
"""


def read_mosaic(page) -> Mosaic:
    got = page.evaluate(_JS_READ_MOSAIC)
    assert "missing" not in got, f"no <img> in the ready panel: {got.get('missing')}"
    attrs = got["attrs"]
    assert attrs, "the mosaic <img> (or an element around it in the panel) has no data-rows"
    missing = [k for k, v in attrs.items() if v is None]
    assert not missing, f"mosaic layout attributes missing: {missing} (have {attrs})"
    return Mosaic(
        rows=int(attrs["rows"]),
        cols=int(attrs["cols"]),
        tile_w=int(attrs["tileWidth"]),
        tile_h=int(attrs["tileHeight"]),
        gap=int(attrs["gap"]),
        natural_w=got["naturalWidth"],
        natural_h=got["naturalHeight"],
        client_w=got["clientWidth"],
        client_h=got["clientHeight"],
        object_fit=got["objectFit"],
        png=base64.b64decode(got["png"]),
    )


def _runs(indices: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive runs in a sorted index array, as (start, length)."""
    runs: list[tuple[int, int]] = []
    for i in indices.tolist():
        if runs and runs[-1][0] + runs[-1][1] == i:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((i, 1))
    return runs


def check_mosaic(m: Mosaic, rows: int, cols: int, tile: int) -> None:
    from PIL import Image

    # 1. What the widget says about the layout.
    assert (m.rows, m.cols) == (rows, cols), f"grid {m.rows}x{m.cols}, expected {rows}x{cols}"
    assert (m.tile_w, m.tile_h) == (tile, tile), f"tiles {m.tile_w}x{m.tile_h}, expected {tile}"
    assert m.gap >= 0
    width = cols * tile + (cols - 1) * m.gap
    height = rows * tile + (rows - 1) * m.gap
    # 2. What the browser decoded.
    assert (m.natural_w, m.natural_h) == (width, height), (
        f"img natural size {m.natural_w}x{m.natural_h}, layout implies {width}x{height}"
    )
    assert min(m.client_w, m.client_h) > 0, "the mosaic is not visible"
    if m.object_fit not in ("contain", "scale-down", "cover"):
        # Drawn without distortion (the box keeps the image's aspect ratio).
        assert abs((m.client_w / m.client_h) / (width / height) - 1) < 0.05, (
            f"mosaic drawn at {m.client_w}x{m.client_h}, image is {width}x{height}"
        )
    # 3. The PNG bytes themselves, decoded here.
    img = Image.open(io.BytesIO(m.png))
    assert img.format == "PNG"
    assert img.size == (width, height)
    px = np.asarray(img.convert("RGBA"))
    if m.gap == 0:
        return
    sep = px[0, tile]  # the top pixel of the first separator column
    is_sep = (px == sep).all(axis=-1)
    # Separator columns/rows are exactly those entirely in the separator colour ...
    sep_cols = np.flatnonzero(is_sep.all(axis=0))
    sep_rows = np.flatnonzero(is_sep.all(axis=1))
    want_cols = [(k * (tile + m.gap) + tile, m.gap) for k in range(cols - 1)]
    want_rows = [(k * (tile + m.gap) + tile, m.gap) for k in range(rows - 1)]
    assert _runs(sep_cols) == want_cols, (
        f"separator columns at {_runs(sep_cols)}, expected {want_cols}"
    )
    assert _runs(sep_rows) == want_rows, (
        f"separator rows at {_runs(sep_rows)}, expected {want_rows}"
    )
    # ... and every tile reaches its edges (no tile is empty or shifted by a pixel).
    for r in range(rows):
        for c in range(cols):
            y, x = r * (tile + m.gap), c * (tile + m.gap)
            t = is_sep[y : y + tile, x : x + tile]
            for edge, name in (
                (t[0], "top"),
                (t[-1], "bottom"),
                (t[:, 0], "left"),
                (t[:, -1], "right"),
            ):
                assert not edge.all(), f"tile ({r}, {c}) {name} edge is all separator colour"


_JS_EFFECTIVE_COLOURS = """
(sel) => {
  const root = document.querySelector(sel);
  if (!root) return null;
  const ctx = Object.assign(document.createElement('canvas'), {width: 1, height: 1}).getContext('2d');
  const rgba = (css) => { ctx.clearRect(0, 0, 1, 1); ctx.fillStyle = css; ctx.fillRect(0, 0, 1, 1);
                          return Array.from(ctx.getImageData(0, 0, 1, 1).data); };
  let el = root, bg = null, from = null;
  for (; el; el = el.parentElement) {
    const c = rgba(getComputedStyle(el).backgroundColor);
    if (c[3] > 0) { bg = c; from = el === root ? 'root' : (el.className || el.tagName); break; }
  }
  const rowEl = document.querySelector('[data-layer]:not([data-panel])');
  return {rootBg: getComputedStyle(root).backgroundColor, effectiveBg: bg, bgFrom: String(from),
          rowText: rowEl ? rgba(getComputedStyle(rowEl).color) : null};
}
"""


def luminance(rgb) -> float:
    r, g, b = (v / 255 for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def widget_colours(page) -> dict:
    got = page.evaluate(_JS_EFFECTIVE_COLOURS, ".cnnviz")
    assert got is not None, "no element with class 'cnnviz' (the widget root)"
    assert got["effectiveBg"] is not None
    return got


def assert_no_page_errors(page) -> None:
    assert page.e2e_page_errors == [], f"uncaught errors in the page: {page.e2e_page_errors}"
    errors = [m["text"] for m in page.e2e_console if m["type"] == "error"]
    assert errors == [], f"console errors: {errors}"


def open_explorer(page, open_notebook, theme: str = "light"):
    open_notebook(page, [MODEL_CELL], theme=theme)
    page.wait_for_selector("[data-layer]:not([data-panel])", timeout=READY_MS)
    page.wait_for_selector("[data-panel]", state="attached", timeout=READY_MS)
    return page


# ---------------------------------------------------------------------------------- the tests


def test_layers_listed_and_mosaics_laid_out(page, open_notebook, artifacts):
    open_explorer(page, open_notebook)
    names = [
        all_rows(page).nth(i).get_attribute("data-layer") for i in range(all_rows(page).count())
    ]
    assert {"conv_a", "conv_b", EVIL} <= set(names), names

    row(page, "conv_a").click()
    wait_panel(page, "conv_a")
    assert row(page, "conv_a").get_attribute("aria-selected") == "true"
    a = read_mosaic(page)
    check_mosaic(a, rows=4, cols=8, tile=26)  # 32 channels of 26 x 26
    artifacts.screenshot(page, "light-conv_a.png")

    row(page, "conv_b").click()
    wait_panel(page, "conv_b")
    b = read_mosaic(page)
    check_mosaic(b, rows=8, cols=8, tile=11)  # 64 channels of 11 x 11
    assert b.png != a.png
    # The selection moved: exactly one selected row, and it is conv_b.
    assert row(page, "conv_b").get_attribute("aria-selected") == "true"
    assert row(page, "conv_a").get_attribute("aria-selected") != "true"
    assert page.locator('[data-layer]:not([data-panel])[aria-selected="true"]').count() == 1
    panel = page.locator("[data-panel]")
    assert panel.get_attribute("data-view") == "activations"
    artifacts.screenshot(page, "light-conv_b.png")

    # Back to conv_a (served from the cache): its layout again, not conv_b's.
    row(page, "conv_a").click()
    wait_panel(page, "conv_a")
    check_mosaic(read_mosaic(page), rows=4, cols=8, tile=26)

    # The light theme: light background, dark text.
    colours = widget_colours(page)
    assert luminance(colours["effectiveBg"]) > 0.6, colours
    assert colours["rowText"], colours
    assert luminance(colours["rowText"]) < 0.5, colours
    assert page.e2e_dialogs == []
    assert_no_page_errors(page)


def test_layer_name_is_shown_as_text(page, open_notebook):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    open_explorer(page, open_notebook)

    evil_row = row(page, EVIL)
    assert evil_row.count() == 1, "no row whose data-layer is the literal malicious name"
    assert EVIL in evil_row.inner_text()

    def assert_not_injected() -> None:
        assert page.locator('img[src="x"]').count() == 0
        assert page.evaluate("() => document.querySelectorAll('[onerror]').length") == 0
        assert page.e2e_dialogs == [], page.e2e_dialogs
        assert not [u for u in requests if u.rstrip("/").endswith("/x")], requests

    assert_not_injected()
    # Selecting it puts the name in the panel (header, caption or error): still only text.
    evil_row.click()
    page.wait_for_function(
        """(layer) => { const p = document.querySelector('[data-panel]');
                        return p && p.getAttribute('data-layer') === layer
                               && ['ready', 'error'].includes(p.getAttribute('data-state')); }""",
        arg=EVIL,
        timeout=READY_MS,
    )
    assert evil_row.get_attribute("aria-selected") == "true"
    assert_not_injected()
    wait_panel(page, EVIL)  # an Activation on conv_b: 64 maps of 11 x 11
    check_mosaic(read_mosaic(page), rows=8, cols=8, tile=11)
    assert_no_page_errors(page)


def test_dark_theme(page, open_notebook, artifacts):
    open_explorer(page, open_notebook, theme="dark")
    assert page.evaluate("() => document.body.dataset.jpThemeLight") == "false"
    row(page, "conv_b").click()
    wait_panel(page, "conv_b")
    check_mosaic(read_mosaic(page), rows=8, cols=8, tile=11)
    artifacts.screenshot(page, "dark-page.png")
    page.locator(".cnnviz").first.screenshot(path=str(artifacts.path("dark-widget.png")))

    colours = widget_colours(page)
    print("dark theme colours:", colours)
    assert luminance(colours["effectiveBg"]) < 0.25, f"widget background is not dark: {colours}"
    # Text follows the theme too (light on dark), so it stays readable.
    assert colours["rowText"], colours
    assert luminance(colours["rowText"]) > 0.5, colours
    assert_no_page_errors(page)


_JS_WATCH_PANEL = """
() => {
  const p = document.querySelector('[data-panel]');
  const log = window.__cnnvizPanelLog = [];
  const note = () => log.push([p.getAttribute('data-layer'), p.getAttribute('data-state'), performance.now()]);
  new MutationObserver(note).observe(p, {attributes: true, subtree: true, childList: true});
  note();
}
"""


def test_fast_clicks_end_on_last_layer(page, open_notebook, kernel_execute):
    open_explorer(page, open_notebook)
    first = page.wait_for_selector(
        '[data-panel][data-state="ready"], [data-panel][data-state="error"]', timeout=READY_MS
    )
    wait_panel(page, first.get_attribute("data-layer"))  # fails here if the first one errored
    names = [
        all_rows(page).nth(i).get_attribute("data-layer") for i in range(all_rows(page).count())
    ]
    page.evaluate(_JS_WATCH_PANEL)

    # About 30 clicks, each as soon as the previous one is dispatched, ending on conv_b.
    sequence = names * 4 + ["conv_b"]
    t0 = page.evaluate("() => performance.now()")
    for name in sequence:
        row(page, name).click()
    wait_panel(page, "conv_b", timeout_ms=60_000)
    t_ready = page.evaluate("() => performance.now()") - t0
    check_mosaic(read_mosaic(page), rows=8, cols=8, tile=11)
    assert row(page, "conv_b").get_attribute("aria-selected") == "true"

    # The kernel agrees.  It may hear of the last click a moment after the panel is ready:
    # the widget manager holds back state updates while earlier ones are unanswered and then
    # sends only the newest, and the panel may already show conv_b from its own cache.
    expected = {"layer": "conv_b", "snapshot": "conv_b", "error": None}
    for _ in range(40):
        state = json.loads(
            kernel_execute(
                page,
                "import json; print(json.dumps({'layer': explorer.layer, "
                "'snapshot': explorer.snapshot.get('layer'), "
                "'error': repr(explorer.last_error) if explorer.last_error else None}))",
            ).strip()
        )
        if state == expected:
            break
        page.wait_for_timeout(250)
    assert state == expected, state

    # Nothing stale arrives afterwards: a final click burst fired inside the page (no
    # round trips between clicks) also ends on its last layer, conv_a.
    page.evaluate(
        """(names) => { const rows = Array.from(document.querySelectorAll('[data-layer]:not([data-panel])'));
                        for (const n of names) rows.find(r => r.getAttribute('data-layer') === n).click(); }""",
        [*names[::-1], *names, "conv_a"],
    )
    wait_panel(page, "conv_a", timeout_ms=60_000)
    check_mosaic(read_mosaic(page), rows=4, cols=8, tile=26)
    kernel_execute(page, "explorer.layer")  # every click has reached the kernel ...
    wait_panel(page, "conv_a", timeout_ms=10_000)  # ... and the panel still shows the last one
    check_mosaic(read_mosaic(page), rows=4, cols=8, tile=26)
    log = page.evaluate("() => window.__cnnvizPanelLog")
    last_ready = [entry for entry in log if entry[1] == "ready"][-1]
    assert last_ready[0] == "conv_a", log[-10:]
    print(
        f"{len(sequence)} Playwright clicks: ready on the last after {t_ready:.0f} ms; "
        f"{len(log)} panel mutations seen"
    )
    assert page.e2e_dialogs == []
    assert_no_page_errors(page)
