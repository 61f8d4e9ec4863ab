# ruff: noqa: E501  (JavaScript run in the page is kept readable, not wrapped)
"""Latency in the browser, measured against the floor: a real front end, timed in the page.

For each front end (JupyterLab, Notebook 7, Voila) a server is started (token-less, on a
free 127.0.0.1 port, from ``tests/e2e/_frontends.py``) and Chromium opens one notebook
holding three widgets:

- **echo**: the floor.  A minimal AnyWidget defined here: a click sets its ``ping`` trait,
  Python answers the change with ``self.send(..., buffers=[20 KB])``, the page marks it
  ``data-state="ready"`` when the bytes are in.  No widget can answer a click faster on this
  machine and this front end.
- the explorer on the bundled digits CNN (``cnnviz_widget.data.default_model(4)``);
- the explorer on the bundled EfficientNet-Lite0 (144 layers, 224 x 224 photos);
- a second explorer on the digits CNN that draws nothing ahead (``_draw_ahead_layers = 0``),
  so that a first view's picture is drawn on the click.

Every time is taken inside the page with ``performance.now()``, from just before the
element's ``click()`` to the mutation that sets the panel's (or the echo's)
``data-state="ready"``, observed with a MutationObserver; all of them the same way, each
after a 300 ms pause so that no answer still in flight competes with the next click.

Cases:

- echo round trip (median of ``--repeats`` after two warm-ups);
- digits CNN, first view of a layer: a layer not yet shown (the activations of the sample are
  in the kernel's cache from the first picture).  The explorer draws the feature maps of the
  8 layers nearest the selected one while it is idle (``DRAW_AHEAD_LAYERS``), which for this
  model is every layer: the picture is at hand in the kernel and sent, decoded, shown; target
  <= 1.2x the echo.  The same clicks on the explorer that draws nothing ahead are reported
  beside it (the picture drawn on the click, 1-2 ms in the kernel);
- a cached selection: back to a layer the browser already holds; target < 16 ms (a frame);
- EfficientNet-Lite0, first view of a layer of a sample already passed forward (as above);
- EfficientNet-Lite0, first view of a new sample: one forward pass recording all 144 layers
  and the picture; target <= 1.2x the echo + one forward pass, that pass timed in the kernel
  (``cnnviz_widget.activations(model, image, layers=all)``, median of 9) when the page asks,
  after the clicks (on a machine as quiet as for them, not while the page loads), each pass
  after the same 300 ms pause as each click.  Passes back to back (CPU caches and
  TensorFlow's threads warm, which no click finds) are also reported.

Run:  .venv/bin/python benchmarks/bench_browser_latency.py            (about 4 minutes)
      .venv/bin/python benchmarks/bench_browser_latency.py --frontends lab --repeats 9
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "e2e"))

import _frontends as fe  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
READY_MS = 240_000
ECHO_BYTES = 20 * 1024
SETTLE_MS = 300
MID_LAYER = "blocks_12_project_conv"

ECHO_CELL = f'''
import os
import anywidget
import traitlets


class Echo(anywidget.AnyWidget):
    """The floor: a trait set by a click, answered with a {ECHO_BYTES}-byte buffer."""

    _esm = """
    export default {{
      render({{ model, el }}) {{
        const button = document.createElement("button");
        button.textContent = "echo";
        button.dataset.role = "echo";
        el.dataset.echo = "";
        el.dataset.state = "idle";
        el.append(button);
        let n = 0;
        button.addEventListener("click", () => {{
          n += 1;
          el.dataset.state = "loading";
          model.set("ping", n);
          model.save_changes();
        }});
        model.on("msg:custom", (msg, buffers) => {{
          const b = buffers && buffers[0];
          const size = b ? b.byteLength : 0;
          if (msg.pong === n && size === {ECHO_BYTES}) el.dataset.state = "ready";
        }});
      }},
    }};
    """
    ping = traitlets.Int(0).tag(sync=True)

    @traitlets.observe("ping")
    def _pong(self, change):
        self.send({{"pong": change["new"]}}, buffers=[os.urandom({ECHO_BYTES})])


echo = Echo()
echo
'''

DIGITS_CELL = """
from cnnviz_widget import LayerExplorer
from cnnviz_widget.data import default_model

digits_model, digits_images, digits_names = default_model(4)
digits = LayerExplorer(digits_model, digits_images, class_names=digits_names)
digits
"""

BIG_CELL = '''
import statistics, time
import anywidget, traitlets
from IPython.display import display
import numpy as np
from cnnviz_widget import LayerExplorer, activations, list_layers
from cnnviz_widget.imagenet import demo

big_model, photos, big_preprocess, big_names = demo()
# Twelve samples (the four photos, their mirror images and upside down): eleven the explorer
# has not seen.
big_images = np.concatenate([photos, photos[:, :, ::-1], photos[:, ::-1]])
big = LayerExplorer(big_model, big_images, preprocess=big_preprocess, class_names=big_names)
all_layers = [info.name for info in list_layers(big_model)]
PAUSE_S = SETTLE_MS / 1000


class PassTimer(anywidget.AnyWidget):
    """The reference: one forward pass recording every layer, as the explorer runs it for a
    new sample, timed in the kernel when the page asks (after the clicks, on a machine as
    quiet as for them); on a sample the explorer has not seen (its cache is not touched)."""

    _esm = """
    export default {
      render({ model, el }) {
        const button = document.createElement("button");
        button.textContent = "time the pass";
        button.dataset.role = "time-pass";
        el.dataset.passTimer = "";
        el.append(button);
        button.addEventListener("click", () => {
          model.set("runs", model.get("runs") + 1);
          model.save_changes();
        });
        model.on("change:ms", () => {
          el.dataset.forwardHotMs = String(model.get("ms_hot"));
          el.dataset.forwardMs = String(model.get("ms"));
        });
      },
    };
    """
    runs = traitlets.Int(0).tag(sync=True)
    #: Median of 9 passes each after a pause as long as the one before each click.
    ms = traitlets.Float(0.0).tag(sync=True)
    #: Median of 9 passes back to back (caches and threads warm: no click gets this).
    ms_hot = traitlets.Float(0.0).tag(sync=True)

    @traitlets.observe("runs")
    def _time(self, change):
        image = big_images[11:12]
        activations(big_model, image, all_layers, preprocess=big_preprocess)  # warm

        def timed(pause):
            times = []
            for _ in range(9):
                time.sleep(pause)
                t0 = time.perf_counter()
                activations(big_model, image, all_layers, preprocess=big_preprocess)
                times.append((time.perf_counter() - t0) * 1000)
            return statistics.median(times)

        self.ms_hot = timed(0.0)
        self.ms = timed(PAUSE_S)


timer = PassTimer()
display(timer)
big
'''.replace("SETTLE_MS", str(SETTLE_MS))

COLD_CELL = """
# The same digits explorer, drawing nothing ahead: a first view's picture is drawn on the click.
digits_cold = LayerExplorer(digits_model, digits_images, class_names=digits_names)
digits_cold._draw_ahead_layers = 0
digits_cold
"""
COLD = 2  # its index among the page's explorers

# Click `selector` (inside explorer `index`'s root, or the echo's) and time until the watched
# element says ready, with `layer` when given. `mustLoad`: the click must not be answered
# synchronously (a first view), or the measurement is refused.
_JS_TIME = """
([kind, index, selector, layer, mustLoad, timeoutMs]) => {
  let root, target, watched;
  if (kind === 'echo') {
    root = document.querySelector('[data-echo]');
    target = root.querySelector('[data-role=echo]');
    watched = root;
  } else {
    root = document.querySelectorAll('.cnnviz')[index];
    target = root.querySelector(selector);
    watched = root.querySelector('[data-panel]');
  }
  if (!target) return Promise.resolve({error: 'nothing matches ' + selector});
  return new Promise((resolve) => {
    let observer = null;
    let sawLoading = false;
    const done = (out) => { if (observer) observer.disconnect(); clearTimeout(timer); resolve(out); };
    const check = () => {
      const s = watched.getAttribute('data-state');
      if (layer !== null && watched.getAttribute('data-layer') !== layer) return;
      if (s === 'loading') sawLoading = true;
      if (s === 'ready') done({ms: performance.now() - t0, sawLoading});
      else if (s === 'error') done({error: watched.textContent.slice(0, 300)});
    };
    const timer = setTimeout(() => done({error: 'timeout', state: watched.getAttribute('data-state')}), timeoutMs);
    observer = new MutationObserver(check);
    observer.observe(watched, {attributes: true, attributeFilter: ['data-state', 'data-layer']});
    const t0 = performance.now();
    target.click();
    if (!mustLoad) check();
    else sawLoading = watched.getAttribute('data-state') === 'loading';
  });
}
"""


def _time(
    page: Any, kind: str, index: int, selector: str, layer: str | None, must_load: bool
) -> float:
    # The previous answer's trailing traffic (echo updates, the snapshot trait) is over first,
    # so each time is the click's own and not a queue behind the one before.
    page.wait_for_timeout(SETTLE_MS)
    out = page.evaluate(_JS_TIME, [kind, index, selector, layer, must_load, READY_MS])
    if "error" in out:
        raise RuntimeError(f"{kind} {selector}: {out}")
    if must_load and not out["sawLoading"]:
        raise RuntimeError(f"{selector} was answered from the browser's store: not a first view")
    return float(out["ms"])


def _row(layer: str) -> str:
    return f"[data-layer={json.dumps(layer)}]:not([data-panel])"


def _sample(index: int) -> str:
    return f'[data-role=sample] button[data-index="{index}"]'


def _wait_ready(page: Any, index: int) -> str:
    page.wait_for_function(
        """(index) => { const r = document.querySelectorAll('.cnnviz')[index];
                        const p = r && r.querySelector('[data-panel]');
                        return !!p && p.getAttribute('data-state') === 'ready'; }""",
        arg=index,
        timeout=READY_MS,
        polling=100,
    )
    return str(
        page.evaluate(
            "(i) => document.querySelectorAll('.cnnviz')[i].querySelector('[data-panel]').getAttribute('data-layer')",
            index,
        )
    )


def _open(kind: str, server: fe.Server, page: Any) -> None:
    if kind == "voila":
        page.goto(server.url + "/", timeout=READY_MS)
    else:
        path = "/lab/tree/bench.ipynb" if kind == "lab" else "/notebooks/bench.ipynb"
        page.goto(server.url + path, timeout=READY_MS)
        page.wait_for_function(
            "() => !!(window.jupyterapp && window.jupyterapp.shell && window.jupyterapp.shell.currentWidget"
            " && window.jupyterapp.shell.currentWidget.sessionContext)",
            timeout=READY_MS,
        )
        page.wait_for_function(
            """() => { const w = window.jupyterapp.shell.currentWidget;
                       const k = w.sessionContext.session && w.sessionContext.session.kernel;
                       return !!(w.sessionContext.isReady && k && k.status === 'idle'); }""",
            timeout=READY_MS,
            polling=100,
        )
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_selector("[data-echo]", timeout=READY_MS)
    page.wait_for_function(
        "() => document.querySelectorAll('.cnnviz').length >= 3", timeout=READY_MS, polling=200
    )
    page.wait_for_selector("[data-pass-timer]", state="attached", timeout=READY_MS)


def _time_forward(page: Any) -> tuple[float, float]:
    """The reference pass timed in the kernel now, in ms: after a pause as long as before
    each click, and back to back (medians of 9)."""
    page.click("[data-role=time-pass]")
    page.wait_for_selector("[data-pass-timer][data-forward-ms]", timeout=READY_MS)
    paused, hot = (
        float(page.get_attribute("[data-pass-timer]", attribute) or "nan")
        for attribute in ("data-forward-ms", "data-forward-hot-ms")
    )
    return paused, hot


def measure(kind: str, browser: Any, repeats: int, workdir: Path) -> dict[str, Any]:
    root = workdir / kind
    root.mkdir(parents=True)
    fe.write_notebook(root / "bench.ipynb", [ECHO_CELL, DIGITS_CELL, BIG_CELL, COLD_CELL])
    env = fe.isolated_env(workdir / f"{kind}-env")
    log = workdir / f"{kind}-server.log"
    target = "bench.ipynb" if kind == "voila" else None
    t_start = time.monotonic()
    with fe.serve(kind, root, log, target=target, env=env) as server:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        try:
            _open(kind, server, page)
            digits_first = _wait_ready(page, 0)
            big_first = _wait_ready(page, 1)
            cold_first = _wait_ready(page, COLD)

            echo = []
            for i in range(repeats + 2):
                ms = _time(page, "echo", 0, "", None, must_load=False)
                if i >= 2:
                    echo.append(ms)

            # Digits: every layer not shown yet, once each (first views), then cached ones.
            layers = page.evaluate(
                "() => Array.from(document.querySelectorAll('.cnnviz')[0].querySelectorAll('[role=treeitem]')).map(r => r.dataset.layer)"
            )
            fresh = [name for name in layers if name != digits_first]
            digits_first_views = {
                name: _time(page, "explorer", 0, _row(name), name, must_load=True) for name in fresh
            }
            cold_first_views = {
                name: _time(page, "explorer", COLD, _row(name), name, must_load=True)
                for name in layers
                if name != cold_first
            }
            # Back and forth between two layers the browser holds (never the selected one,
            # whose click would change nothing).
            pair = fresh[:2]
            cached = [
                _time(page, "explorer", 0, _row(pair[i % 2]), pair[i % 2], must_load=False)
                for i in range(repeats)
            ]

            # EfficientNet: layers of sample 0 not shown yet (activations cached) ...
            big_layers = [
                "stem_relu6",
                "blocks_3_expand_conv",
                "blocks_8_depthwise_conv",
                MID_LAYER,
                "head_conv",
            ]
            big_layers = [name for name in big_layers if name != big_first]
            big_first_views = {
                name: _time(page, "explorer", 1, _row(name), name, must_load=True)
                for name in big_layers
            }
            big_pair = big_layers[:2]
            big_cached = [
                _time(page, "explorer", 1, _row(big_pair[i % 2]), big_pair[i % 2], must_load=False)
                for i in range(repeats)
            ]
            # ... and new samples: one forward pass each, then the picture, for a layer deep in
            # the network (a small mosaic) and for the stem (112 x 112 x 32, the biggest).
            new_sample = {}
            for layer, samples in ((MID_LAYER, range(1, 6)), ("stem_relu6", range(6, 11))):
                _time(page, "explorer", 1, _row(layer), layer, must_load=False)
                new_sample[layer] = [
                    _time(page, "explorer", 1, _sample(i), layer, must_load=True) for i in samples
                ]
            time.sleep(SETTLE_MS / 1000)
            forward, forward_hot = _time_forward(page)
        finally:
            context.close()
    return {
        "frontend": kind,
        "wall_s": time.monotonic() - t_start,
        "echo_ms": echo,
        "digits_first_view_ms": digits_first_views,
        "digits_cold_first_view_ms": cold_first_views,
        "digits_cached_ms": cached,
        "big_first_view_ms": big_first_views,
        "big_cached_ms": big_cached,
        "big_new_sample_ms": new_sample,
        "forward_pass_ms": forward,
        "forward_pass_hot_ms": forward_hot,
    }


def summarize(r: dict[str, Any]) -> list[tuple[str, float, str, str]]:
    med = statistics.median
    echo = med(r["echo_ms"])
    digits_first = med(r["digits_first_view_ms"].values())
    cold_first = med(r["digits_cold_first_view_ms"].values())
    cached = med(r["digits_cached_ms"])
    big_first = med(r["big_first_view_ms"].values())
    big_cached = med(r["big_cached_ms"])
    fwd = r["forward_pass_ms"]

    def verdict(ok: bool) -> str:
        return "yes" if ok else "NO"

    return [
        ("echo round trip, 20 KB buffer (the floor)", echo, "", ""),
        (
            f"digits CNN, first view of a layer, drawn ahead while idle (median of {len(r['digits_first_view_ms'])} layers; "
            f"max {max(r['digits_first_view_ms'].values()):.1f} ms)",
            digits_first,
            f"<= 1.2x echo = {1.2 * echo:.1f} ms ({digits_first / echo:.2f}x)",
            verdict(digits_first <= 1.2 * echo),
        ),
        (
            "digits CNN, first view of a layer, nothing drawn ahead: the picture drawn on the "
            f"click (median of {len(r['digits_cold_first_view_ms'])} layers)",
            cold_first,
            f"<= 1.2x echo = {1.2 * echo:.1f} ms ({cold_first / echo:.2f}x)",
            verdict(cold_first <= 1.2 * echo),
        ),
        ("digits CNN, cached selection", cached, "< 16 ms", verdict(cached < 16)),
        (
            "EfficientNet-Lite0, forward pass of all 144 layers in the kernel, back to back "
            "(median of 9; not the reference: no click finds caches this warm)",
            r["forward_pass_hot_ms"],
            "",
            "",
        ),
        (
            "EfficientNet-Lite0, forward pass of all 144 layers in the kernel, each after a "
            f"{SETTLE_MS} ms pause as every click (median of 9): the reference",
            fwd,
            "",
            "",
        ),
        (
            f"EfficientNet-Lite0, first view of a layer, sample already passed (median of "
            f"{len(r['big_first_view_ms'])}; max {max(r['big_first_view_ms'].values()):.1f} ms)",
            big_first,
            f"<= 1.2x echo + pass = {1.2 * echo + fwd:.1f} ms",
            verdict(big_first <= 1.2 * echo + fwd),
        ),
        *(
            (
                f"EfficientNet-Lite0, first view of a new sample: pass + picture of `{layer}` "
                f"(median of {len(times)})",
                med(times),
                f"<= 1.2x echo + pass = {1.2 * echo + fwd:.1f} ms",
                verdict(med(times) <= 1.2 * echo + fwd),
            )
            for layer, times in r["big_new_sample_ms"].items()
        ),
        ("EfficientNet-Lite0, cached selection", big_cached, "< 16 ms", verdict(big_cached < 16)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frontends", default="lab,notebook,voila")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the raw times here")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    results = []
    with tempfile.TemporaryDirectory(prefix="cnnviz-bench-") as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for kind in args.frontends.split(","):
                print(f"measuring {kind} ...", file=sys.stderr, flush=True)
                results.append(measure(kind.strip(), browser, args.repeats, Path(tmp)))
        finally:
            browser.close()

    import jupyterlab
    import notebook
    import voila

    print(
        f"Run of {time.strftime('%Y-%m-%dT%H:%M')}: {platform.platform()}, Python "
        f"{platform.python_version()}, Chromium headless, jupyterlab {jupyterlab.__version__}, "
        f"notebook {notebook.__version__}, voila {voila.__version__}; medians of "
        f"{args.repeats} unless said\n"
    )
    names = {"lab": "JupyterLab", "notebook": "Notebook 7", "voila": "Voila"}
    print("| front end | case | time | target | pass |")
    print("|---|---|---:|---|:-:|")
    for r in results:
        for case, ms, target, ok in summarize(r):
            print(
                f"| {names.get(r['frontend'], r['frontend'])} | {case} | {ms:.1f} ms | {target} | {ok} |"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
