# ruff: noqa: E501  (JavaScript run in the page is kept readable, not wrapped)
"""The explorer wherever notebooks run, and a panel that reads well at every size.

Front ends (servers from ``_frontends.py``, one per module, token-less on 127.0.0.1):

- **Notebook 7** (``jupyter notebook``): the notebook opened and run like a user would.
- **Voila** (``voila lesson.ipynb``): a teaching app, the notebook served with its code cells
  hidden (``--strip_sources``), run by Voila when the page opens.
- **marimo** (``marimo run app.py``): the explorer wrapped in ``mo.ui.anywidget``; marimo
  renders anywidgets in a shadow root, which the page helpers look through.

Each shows the explorer on the bundled digits CNN (with one identity layer whose name is
markup, ``<img src=x onerror=alert(1)>``), answers layer clicks with the right mosaics (4 x 8
for ``conv2d``'s 32 channels, 8 x 8 for ``conv2d_1``'s 64), switches tabs, keeps the hostile
name as text, and ends a burst of clicks on the last layer with no "Computing..." overlay
over a picture that is already right.

In JupyterLab (the ``conftest.py`` server): the layout at a ~1400 px and a ~700 px cell in
the light and dark themes, in the side panel, and with the 144 layers of EfficientNet-Lite0
(search, full names, the resizable split, the keyboard), with screenshots saved to
``.e2e-artifacts/<test>/`` and, when ``CNNVIZ_E2E_SHOTS`` names a folder, there too.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _frontends as fe
import pytest

pytestmark = pytest.mark.e2e

EVIL = "<img src=x onerror=alert(1)>"
READY_MS = 120_000  # a fresh kernel imports TensorFlow and traces its first forward pass
REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / ".e2e-artifacts"

# The bundled digits CNN, called on a new input with one identity layer after conv2d_1 whose
# name is markup (a model may name its layers anything): every front end must show it as text.
DIGITS = f"""
import keras
from cnnviz_widget import LayerExplorer
from cnnviz_widget.data import default_model

base, images, names = default_model(4)
inputs = keras.Input((28, 28, 1))
x = inputs
for layer in base.layers:
    x = layer(x)
    if layer.name == "conv2d_1":
        x = keras.layers.Activation("linear", name={EVIL!r})(x)
model = keras.Model(inputs, x, name="digits_cnn")
explorer = LayerExplorer(model, images, class_names=names)
"""
LESSON_TEXT = "Lesson 3: what a convolutional network sees"


@pytest.fixture(autouse=True)
def _frontend_is_built():
    if os.environ.get("CNNVIZ_E2E_USE_INSTALLED"):
        return
    js = REPO_ROOT / "cnnviz_widget" / "static" / "widget.js"
    if not js.exists() or js.stat().st_size < 200:
        pytest.fail(f"{js} is missing or a stub: run `npm install && npm run build` first")


def save_shot(page_or_locator: Any, name: str, folder: Path) -> Path:
    """A screenshot in the test's artifacts folder, and in $CNNVIZ_E2E_SHOTS when set."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page_or_locator.screenshot(path=str(path))
    extra = os.environ.get("CNNVIZ_E2E_SHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / name)
    return path


# ------------------------------------------------------------------------- page helpers

_JS_ROWS = (
    "(index) => {"
    + fe.JS_ROOT
    + """
  const root = cnnvizRoots()[index || 0];
  return Array.from(root.querySelectorAll('[role=treeitem]')).map(r => ({
    layer: r.getAttribute('data-layer'), selected: r.getAttribute('aria-selected'), hidden: r.hidden,
    label: r.querySelector('.cnnviz-label').textContent,
    title: r.querySelector('.cnnviz-name').getAttribute('title'),
  }));
}"""
)

# Watch the panel after a burst: every state change with whether the overlay is on screen.
_JS_WATCH = (
    "(index) => {"
    + fe.JS_ROOT
    + """
  const root = cnnvizRoots()[index || 0];
  const p = root.querySelector('[data-panel]');
  const overlay = p.querySelector('[data-role="loading"]');
  const log = window.__cnnvizWatch = [];
  const note = () => {
    const img = p.querySelector('img[data-rows]');
    log.push({t: performance.now(), layer: p.getAttribute('data-layer'), state: p.getAttribute('data-state'),
              overlay: !overlay.hidden, dim: p.querySelector('.cnnviz-figure').classList.contains('is-stale'),
              rows: img ? img.getAttribute('data-rows') : null});
  };
  new MutationObserver(note).observe(p, {attributes: true, subtree: true, childList: true});
  note();
}"""
)

_JS_BURST = (
    "([names, index]) => {"
    + fe.JS_ROOT
    + """
  const root = cnnvizRoots()[index || 0];
  const rows = Array.from(root.querySelectorAll('[data-layer]:not([data-panel])'));
  for (const n of names) rows.find(r => r.getAttribute('data-layer') === n).click();
}"""
)


def rows(page: Any, index: int = 0) -> list[dict[str, Any]]:
    return page.evaluate(_JS_ROWS, index)


def row_locator(scope: Any, layer: str) -> Any:
    return scope.locator(f".cnnviz [data-layer={json.dumps(layer)}]:not([data-panel])")


def check_digits_explorer(page: Any, scope: Any) -> None:
    """The first panel, then clicks: conv2d_1 is 8 x 8, conv2d 4 x 8, the selection follows."""
    state = fe.wait_panel(page, "conv2d", timeout_ms=READY_MS)
    assert (state["rows"], state["cols"], state["kind"]) == ("4", "8", "mosaic"), state
    names = [r["layer"] for r in rows(page)]
    order = ["conv2d", "max_pooling2d", "conv2d_1", EVIL, "max_pooling2d_1", "dense_1"]
    assert [n for n in names if n in order] == order, names
    row_locator(scope, "conv2d_1").click()
    state = fe.wait_panel(page, "conv2d_1", view="activations", timeout_ms=READY_MS)
    assert (state["rows"], state["cols"]) == ("8", "8"), state
    selected = [r["layer"] for r in rows(page) if r["selected"] == "true"]
    assert selected == ["conv2d_1"], selected
    row_locator(scope, "conv2d").click()
    state = fe.wait_panel(page, "conv2d", view="activations", timeout_ms=READY_MS)
    assert (state["rows"], state["cols"]) == ("4", "8"), state


def check_tabs(page: Any, scope: Any) -> None:
    """Weights (a kernel grid: 32 filters of conv2d are 2 x 16), Grad-CAM, back to the maps."""
    fe.wait_panel(page, "conv2d", timeout_ms=READY_MS)
    scope.locator('.cnnviz [role=tab][data-view="weights"]').click()
    fe.wait_panel(page, "conv2d", view="weights", timeout_ms=READY_MS)
    kernels = scope.locator('.cnnviz [data-panel] [data-grid="trained"] img')
    assert kernels.get_attribute("data-kind") == "kernels"
    assert (kernels.get_attribute("data-rows"), kernels.get_attribute("data-cols")) == ("2", "16")
    assert scope.locator('.cnnviz [role=tab][data-view="weights"]').get_attribute(
        "aria-selected"
    ) == ("true")
    scope.locator('.cnnviz [role=tab][data-view="gradcam"]').click()
    fe.wait_panel(page, "conv2d", view="gradcam", timeout_ms=READY_MS)
    assert scope.locator(".cnnviz [data-panel] img").count() >= 1
    scope.locator('.cnnviz [role=tab][data-view="activations"]').click()
    state = fe.wait_panel(page, "conv2d", view="activations", timeout_ms=READY_MS)
    assert (state["rows"], state["cols"]) == ("4", "8"), state


def check_hostile_name(page: Any, scope: Any, requests: list[str]) -> None:
    def not_injected() -> None:
        assert scope.locator('img[src="x"]').count() == 0
        assert page.evaluate("() => document.querySelectorAll('[onerror]').length") == 0
        assert page.e2e_dialogs == [], page.e2e_dialogs
        assert not [u for u in requests if u.rstrip("/").endswith("/x")], requests

    evil = [r for r in rows(page) if r["layer"] == EVIL]
    assert len(evil) == 1, "no row whose data-layer is the literal markup"
    assert evil[0]["label"] == EVIL
    assert evil[0]["title"] == EVIL
    not_injected()
    row_locator(scope, EVIL).click()
    state = fe.wait_panel(page, EVIL, view="activations", timeout_ms=READY_MS)
    assert (state["rows"], state["cols"]) == ("8", "8"), state  # an identity on conv2d_1
    caption = scope.locator(".cnnviz [data-panel] .cnnviz-caption-layer")
    assert caption.inner_text() == EVIL
    not_injected()


def check_burst_settles(page: Any) -> list[dict[str, Any]]:
    """A burst of clicks inside the page ends on its last layer, ready, with nothing over it."""
    names = ["conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1"]
    for name in names:  # every picture in the browser's store first: the burst is all cache
        fe.click_and_time(page, name)
    page.evaluate(_JS_WATCH, 0)
    page.evaluate(_JS_BURST, [names * 3 + ["conv2d_1"], 0])
    fe.wait_panel(page, "conv2d_1", timeout_ms=READY_MS)
    # The kernel hears of the burst late (ipywidgets merges held-back updates) and answers
    # for a while after the panel is ready: watch that time too.
    page.wait_for_timeout(2500)
    log = page.evaluate("() => window.__cnnvizWatch")
    first_ready = next(
        i for i, e in enumerate(log) if e["layer"] == "conv2d_1" and e["state"] == "ready"
    )
    after = log[first_ready:]
    assert all(e["layer"] == "conv2d_1" for e in after), after
    assert not [e for e in after if e["overlay"] or e["dim"]], after
    assert all(e["rows"] == "8" for e in after), after
    assert after[-1]["state"] in ("ready", "loading"), after
    fe.wait_panel(page, "conv2d_1", timeout_ms=READY_MS)
    return log


# --------------------------------------------------------------- Notebook 7, Voila, marimo


@dataclass
class Opened:
    kind: str
    server: fe.Server
    page: Any
    requests: list[str] = field(default_factory=list)
    folder: Path = ARTIFACTS / "frontends"

    @property
    def scope(self) -> Any:
        return self.page


def _open_notebook7(server: fe.Server, page: Any) -> None:
    page.goto(f"{server.url}/notebooks/lesson.ipynb", timeout=fe.START_TIMEOUT_S * 1000)
    page.wait_for_function(
        "() => !!(window.jupyterapp && window.jupyterapp.shell && window.jupyterapp.shell.currentWidget"
        " && window.jupyterapp.shell.currentWidget.sessionContext)",
        timeout=READY_MS,
    )
    page.wait_for_function(
        """() => { const w = window.jupyterapp.shell.currentWidget;
                   const k = w.sessionContext.session && w.sessionContext.session.kernel;
                   return !!(w.sessionContext.isReady && k && k.status === 'idle' && k.connectionStatus === 'connected'); }""",
        timeout=READY_MS,
        polling=100,
    )
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


@pytest.fixture(scope="module", params=["notebook", "voila", "marimo"])
def opened(request: pytest.FixtureRequest, browser) -> Iterator[Opened]:
    kind = request.param
    tmp = Path(tempfile.mkdtemp(prefix=f"cnnviz-{kind}-"))
    root = tmp / "root"
    root.mkdir()
    target: str | None
    if kind == "marimo":
        fe.write_marimo_app(
            root / "app.py",
            "import marimo as mo\n" + DIGITS,
            "mo.vstack([mo.md('# " + LESSON_TEXT + "'), mo.ui.anywidget(explorer)])",
        )
        target = "app.py"
    else:
        fe.write_notebook(
            root / "lesson.ipynb",
            [DIGITS, "explorer"],
            markdown=[f"# {LESSON_TEXT}\n\nClick a layer to see what it computes."],
        )
        target = "lesson.ipynb" if kind == "voila" else None
    folder = ARTIFACTS / f"frontends-{kind}"
    shutil.rmtree(folder, ignore_errors=True)
    env = fe.isolated_env(tmp / "env")
    with fe.serve(kind, root, folder / "server.log", target=target, env=env) as server:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(30_000)
        page = context.new_page()
        page.e2e_console, page.e2e_page_errors, page.e2e_dialogs = [], [], []
        page.on("console", lambda m: page.e2e_console.append({"type": m.type, "text": m.text}))
        page.on("pageerror", lambda e: page.e2e_page_errors.append(str(e)))

        def _dialog(d) -> None:
            page.e2e_dialogs.append(f"{d.type}: {d.message}")
            with contextlib.suppress(Exception):
                d.dismiss()

        page.on("dialog", _dialog)
        opened = Opened(kind, server, page, folder=folder)
        page.on("request", lambda r: opened.requests.append(r.url))
        try:
            if kind == "notebook":
                _open_notebook7(server, page)
            else:
                page.goto(server.url + "/", timeout=fe.START_TIMEOUT_S * 1000)
            page.locator(".cnnviz [data-panel]").first.wait_for(state="attached", timeout=READY_MS)
            yield opened
        finally:
            with contextlib.suppress(Exception):
                save_shot(page, f"{kind}-last.png", folder)
            lines = [f"[{m['type']}] {m['text']}" for m in page.e2e_console]
            lines += [f"[pageerror] {e}" for e in page.e2e_page_errors]
            (folder / "console.log").write_text("\n".join(lines) + "\n")
            context.close()
    shutil.rmtree(tmp, ignore_errors=True)


def test_frontend_shows_the_explorer_and_answers_clicks(opened: Opened) -> None:
    check_digits_explorer(opened.page, opened.scope)
    save_shot(opened.page, f"{opened.kind}-1400.png", opened.folder)
    if opened.kind == "voila":
        # A teaching app: the lesson's text is there, the code that made the widget is not.
        body = opened.page.inner_text("body")
        assert LESSON_TEXT in body
        assert "LayerExplorer(" not in body
        assert "default_model(" not in body
    # Our code throws nothing in any front end.
    ours = [e for e in opened.page.e2e_page_errors if "cnnviz" in e or "widget" in e.lower()]
    assert ours == [], ours


def test_frontend_switches_tabs(opened: Opened) -> None:
    check_tabs(opened.page, opened.scope)


def test_frontend_keeps_a_hostile_layer_name_as_text(opened: Opened) -> None:
    check_hostile_name(opened.page, opened.scope, opened.requests)


def test_frontend_burst_of_clicks_ends_settled(opened: Opened) -> None:
    check_burst_settles(opened.page)
    save_shot(opened.page, f"{opened.kind}-after-burst.png", opened.folder)


# -------------------------------------------------------------------- JupyterLab layouts

_JS_LAYOUT = (
    "(index) => {"
    + fe.JS_ROOT
    + """
  const root = cnnvizRoots()[index || 0];
  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).display !== 'none';
  const cut = (el) => el.scrollWidth > el.clientWidth + 1;
  const rows = Array.from(root.querySelectorAll('.cnnviz-tree [role=treeitem]')).filter(r => !r.hidden);
  const types = rows.map(r => r.querySelector('.cnnviz-type')).filter(shown);
  const names = rows.map(r => r.querySelector('.cnnviz-label'));
  const pane = root.querySelector('.cnnviz-layer-pane');
  return {
    width: root.getBoundingClientRect().width,
    classes: root.className,
    paneWidth: pane.getBoundingClientRect().width,
    typesShown: types.length,
    typesCut: types.filter(cut).map(t => t.textContent + ' ' + t.clientWidth + '/' + t.scrollWidth),
    namesCut: names.filter(cut).length,
    rowsShown: rows.length,
    overflowX: root.scrollWidth > root.clientWidth + 1,
    listOverflowX: (() => { const l = root.querySelector('.cnnviz-layers'); return l.scrollWidth > l.clientWidth + 1; })(),
    splitterShown: shown(root.querySelector('[data-role=splitter]')),
  };
}"""
)

_JS_KERNEL_GRID = """
() => {
  const img = document.querySelector('.cnnviz [data-panel] [data-grid="trained"] img[data-kind="kernels"]');
  if (!img) return null;
  const cs = getComputedStyle(img);
  const page = getComputedStyle(img.closest('.cnnviz'));
  return {bg: cs.backgroundColor, pageBg: page.backgroundColor, outline: cs.outlineWidth,
          outlineStyle: cs.outlineStyle, scale: Number(img.dataset.scale), gap: Number(img.dataset.gap)};
}
"""

_JS_FOCUS_OUTLINE = """
() => {
  const el = document.activeElement;
  if (!el) return null;
  const target = el.getAttribute('role') === 'tree' ? el.querySelector('[aria-selected="true"]') || el : el;
  const cs = getComputedStyle(target);
  return {role: el.getAttribute('role'), dataRole: el.getAttribute('data-role'), tag: el.tagName,
          outline: cs.outlineStyle + ' ' + cs.outlineWidth, shadow: cs.boxShadow,
          focusVisible: el.matches(':focus-visible')};
}
"""


def _cnnviz_offset(page: Any) -> float:
    """Viewport width minus the widget's width, for picking a viewport for a cell width."""
    width = page.evaluate("() => window.innerWidth")
    got = page.evaluate(_JS_LAYOUT, 0)
    return float(width - got["width"])


def _resize_to_widget_width(page: Any, widget_width: int) -> dict[str, Any]:
    offset = _cnnviz_offset(page)
    page.set_viewport_size({"width": int(widget_width + offset), "height": 1000})
    page.wait_for_timeout(300)  # ResizeObserver, then layout
    return page.evaluate(_JS_LAYOUT, 0)


def _set_lab_theme(page: Any, theme: str) -> None:
    name = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}[theme]
    page.evaluate(
        "(name) => window.jupyterapp.commands.execute('apputils:change-theme', {theme: name})", name
    )
    page.wait_for_selector(f'body[data-jp-theme-name="{name}"]', state="attached", timeout=30_000)
    page.wait_for_timeout(400)


def _shoot_widget(page: Any, name: str, folder: Path) -> Path:
    return save_shot(page.locator(".cnnviz").first, name, folder)


def test_jupyterlab_reads_well_at_every_width_and_theme(page, open_notebook, artifacts) -> None:
    open_notebook(page, [DIGITS + "\nexplorer", "print('the next cell')"])
    folder = artifacts.dir
    fe.wait_panel(page, "conv2d", timeout_ms=READY_MS)

    # ~1400 px: side by side, every type written out, nothing sticks out.
    wide = _resize_to_widget_width(page, 1400)
    assert 1350 <= wide["width"] <= 1450, wide
    assert "is-narrow" not in wide["classes"], wide
    assert "is-compact" not in wide["classes"], wide
    assert wide["typesShown"] == wide["rowsShown"] == len(rows(page)), wide
    assert wide["typesCut"] == [], wide
    assert wide["namesCut"] == 0, wide
    assert not wide["overflowX"], wide
    assert not wide["listOverflowX"], wide
    assert wide["splitterShown"], wide
    for theme in ("light", "dark"):
        _set_lab_theme(page, theme)
        _shoot_widget(page, f"lab-{theme}-1400.png", folder)
    # The graph, in the list's place, gets the list's column (not squeezed to its content).
    toggle = page.locator(".cnnviz [data-role=graph-toggle]")
    if toggle.count():
        toggle.click()
        page.locator(".cnnviz [data-graph-node]").first.wait_for(timeout=READY_MS)
        graph_width = page.evaluate(
            "() => document.querySelector('.cnnviz [data-graph-node]').closest('.cnnviz-body > *').getBoundingClientRect().width"
        )
        assert graph_width >= 0.3 * wide["width"], (graph_width, wide["width"])
        _shoot_widget(page, "lab-dark-1400-graph.png", folder)
        toggle.click()

    # The weights tab: kernels separated by a visible line, in both themes.
    page.locator('.cnnviz [role=tab][data-view="weights"]').click()
    fe.wait_panel(page, "conv2d", view="weights", timeout_ms=READY_MS)
    for theme in ("dark", "light"):
        _set_lab_theme(page, theme)
        grid = page.evaluate(_JS_KERNEL_GRID)
        assert grid is not None
        assert grid["bg"] not in ("rgba(0, 0, 0, 0)", "transparent", grid["pageBg"]), grid
        assert grid["outlineStyle"] == "solid", grid
        # The frame is as wide as the gaps between kernels at the zoom drawn.
        assert (
            abs(float(grid["outline"].rstrip("px")) - max(1, grid["scale"] * grid["gap"])) < 0.01
        ), grid
        _shoot_widget(page, f"lab-{theme}-1400-weights.png", folder)
    page.locator('.cnnviz [role=tab][data-view="activations"]').click()
    fe.wait_panel(page, "conv2d", view="activations", timeout_ms=READY_MS)

    # ~700 px: still side by side, compact (the Type column gives way first, names stay).
    narrow = _resize_to_widget_width(page, 700)
    assert 660 <= narrow["width"] <= 740, narrow
    assert "is-compact" in narrow["classes"], narrow
    assert "is-narrow" not in narrow["classes"], narrow
    assert not narrow["overflowX"], narrow
    assert not narrow["listOverflowX"], narrow
    for theme in ("light", "dark"):
        _set_lab_theme(page, theme)
        _shoot_widget(page, f"lab-{theme}-700.png", folder)
    _set_lab_theme(page, "light")
    assert page.e2e_page_errors == [], page.e2e_page_errors


def test_jupyterlab_keyboard_reaches_everything_with_visible_focus(page, open_notebook) -> None:
    open_notebook(page, [DIGITS + "\nexplorer", "print('the next cell')"])
    fe.wait_panel(page, "conv2d", timeout_ms=READY_MS)
    active_cell = "() => window.jupyterapp.shell.currentWidget.content.activeCellIndex"
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:enter-command-mode')")

    # Tab order: search box -> layer list -> splitter -> samples -> tabs.
    search = page.locator(".cnnviz [data-role=layer-search]")
    search.focus()
    seen = []
    for _ in range(4):
        page.keyboard.press("Tab")
        seen.append(page.evaluate(_JS_FOCUS_OUTLINE))
    assert [s["role"] or s["dataRole"] for s in seen][:2] == ["tree", "separator"], seen
    assert seen[2]["tag"] == "BUTTON", seen  # the pressed sample
    assert seen[3]["role"] == "tab", seen
    for s in seen:
        assert s["focusVisible"], s
        assert s["outline"].startswith("solid"), s

    # The layer list: arrows move the selection (and the panel), not the notebook's cells.
    # (Focus inside a cell makes that cell the active one: count from there.)
    page.locator(".cnnviz [role=tree]").focus()
    cell_before = page.evaluate(active_cell)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    fe.wait_panel(page, "conv2d_1", timeout_ms=READY_MS)
    assert page.evaluate(active_cell) == cell_before
    # Typing starts a search; Escape clears it and leaves the notebook alone.
    page.keyboard.type("pool")
    assert search.input_value() == "pool"
    assert [r["layer"] for r in rows(page) if not r["hidden"]] == [
        "max_pooling2d",
        "max_pooling2d_1",
    ]
    page.keyboard.press("Escape")
    assert search.input_value() == ""
    assert page.evaluate("() => !!document.querySelector('.jp-Notebook.jp-mod-commandMode')")
    assert [r["layer"] for r in rows(page) if r["selected"] == "true"] == ["conv2d_1"]

    # Tabs: arrows switch the view.
    page.locator('.cnnviz [role=tab][aria-selected="true"]').focus()
    page.keyboard.press("ArrowRight")
    fe.wait_panel(page, "conv2d_1", view="weights", timeout_ms=READY_MS)
    assert page.evaluate(_JS_FOCUS_OUTLINE)["focusVisible"]
    # Samples: one tab stop, arrows pick.
    page.locator('.cnnviz [data-role=sample] [aria-pressed="true"]').focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "() => document.querySelector('.cnnviz [data-role=sample] [aria-pressed=\"true\"]').dataset.index === '1'"
    )
    # The splitter: arrows widen the list.
    before = page.evaluate(_JS_LAYOUT, 0)["paneWidth"]
    page.locator(".cnnviz [data-role=splitter]").focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    after = page.evaluate(_JS_LAYOUT, 0)["paneWidth"]
    assert after > before + 30, (before, after)
    assert page.evaluate(active_cell) == cell_before
    assert page.e2e_page_errors == [], page.e2e_page_errors


def test_jupyterlab_side_panel_layout(page, open_notebook, artifacts) -> None:
    open_notebook(
        page,
        [DIGITS + "\npanel = explorer.sidecar(title='cnnviz side panel')"],
    )
    root = page.locator("#jp-right-stack .cnnviz")
    root.wait_for(state="visible", timeout=READY_MS)
    page.wait_for_selector(
        '#jp-right-stack [data-panel][data-layer="conv2d"][data-state="ready"]', timeout=READY_MS
    )
    layout = page.evaluate(_JS_LAYOUT, 0)
    assert "is-narrow" in layout["classes"], layout  # stacked: list above the panel
    # Nothing scrolls sideways, and the short names are whole.
    assert not layout["overflowX"], layout
    assert not layout["listOverflowX"], layout
    labels = page.locator("#jp-right-stack .cnnviz-label")
    cut = labels.evaluate_all(
        "(ls) => ls.filter(l => l.scrollWidth > l.clientWidth + 1).map(l => l.textContent)"
    )
    assert set(cut) <= {EVIL}, cut
    assert not layout["splitterShown"], layout
    page.locator(f"#jp-right-stack [data-layer={json.dumps('conv2d_1')}]:not([data-panel])").click()
    page.wait_for_selector(
        '#jp-right-stack [data-panel][data-layer="conv2d_1"][data-state="ready"]', timeout=READY_MS
    )
    for theme in ("light", "dark"):
        _set_lab_theme(page, theme)
        save_shot(page, f"lab-{theme}-sidecar.png", artifacts.dir)
    _set_lab_theme(page, "light")


EFFICIENTNET = """
from cnnviz_widget import LayerExplorer
from cnnviz_widget.imagenet import demo

model, images, preprocess, names = demo()
explorer = LayerExplorer(model, images[:2], preprocess=preprocess, class_names=names)
explorer
"""


def test_jupyterlab_144_layers_are_readable_and_searchable(page, open_notebook, artifacts) -> None:
    open_notebook(page, [EFFICIENTNET])
    folder = artifacts.dir
    first = page.wait_for_selector('.cnnviz [data-panel][data-state="ready"]', timeout=READY_MS)
    selected = first.get_attribute("data-layer")
    all_rows = rows(page)
    assert len(all_rows) == 144
    # Full names on hover, whatever the cell shows.
    assert all(r["title"] == r["layer"] for r in all_rows)
    wide = _resize_to_widget_width(page, 1400)
    assert wide["typesCut"] == [], wide  # "DepthwiseConv2D", "BatchNormalization" in full
    _shoot_widget(page, "lab-light-1400-efficientnet.png", folder)

    # Search: by name or type, case-insensitive; the selection stays selected.
    search = page.locator(".cnnviz [data-role=layer-search]")
    search.fill("DepthWise")
    shown = [r for r in rows(page) if not r["hidden"]]
    assert len(shown) == 48, len(shown)  # 16 blocks x (conv, bn, relu6)
    assert all("depthwise" in r["layer"] for r in shown)
    count = page.locator(".cnnviz [data-role=search-count]").inner_text()
    assert count == "48 of 144", count
    _shoot_widget(page, "lab-light-1400-efficientnet-search.png", folder)
    search.fill("batchnormalization")
    assert len([r for r in rows(page) if not r["hidden"]]) == 49  # every BatchNormalization
    assert [r["layer"] for r in rows(page) if r["selected"] == "true"] == [selected]
    search.press("Escape")
    assert search.input_value() == ""
    assert len([r for r in rows(page) if not r["hidden"]]) == 144
    assert [r["layer"] for r in rows(page) if r["selected"] == "true"] == [selected]

    # A narrower cell (900 px) cuts the long names; dragging the split gives them room.
    narrow = _resize_to_widget_width(page, 900)
    assert narrow["namesCut"] > 0, narrow
    handle = page.locator(".cnnviz [data-role=splitter]")
    box = handle.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(box["x"] + 260, box["y"] + 40, steps=8)
    page.mouse.up()
    dragged = page.evaluate(_JS_LAYOUT, 0)
    assert dragged["paneWidth"] > narrow["paneWidth"] + 150, (narrow, dragged)
    assert dragged["namesCut"] == 0, dragged
    assert not dragged["overflowX"], dragged
    assert not dragged["listOverflowX"], dragged
    _shoot_widget(page, "lab-light-900-efficientnet-dragged.png", folder)
    _set_lab_theme(page, "dark")
    _shoot_widget(page, "lab-dark-900-efficientnet-dragged.png", folder)
    _set_lab_theme(page, "light")

    # A layer of the big model answers a click (the cache of the first forward pass).
    row_locator(page, "blocks_5_project_conv").click()
    fe.wait_panel(page, "blocks_5_project_conv", timeout_ms=READY_MS)
    assert page.e2e_page_errors == [], page.e2e_page_errors
