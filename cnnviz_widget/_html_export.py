"""A standalone HTML page of an explorer: the widget's own frontend over saved results.

The page needs no kernel and no network: the bundled ESM and CSS are inlined, and a small
stand-in for the anywidget model answers selections from results computed at export time
(the feature maps of every layer for the current sample, plus the view on screen).
"""

from __future__ import annotations

import base64
import html
import json
import pathlib
from typing import TYPE_CHECKING, Any

from . import _protocol as protocol
from .views import Request

if TYPE_CHECKING:
    from .explorer import LayerExplorer

_LOADER = """
const read = (id) => JSON.parse(document.getElementById(id).textContent);
const toView = (text) => {
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  return new DataView(bytes.buffer);
};
// Binary values were saved as {"$b64": "..."}: turn them back into DataViews.
const revive = (value) => {
  if (Array.isArray(value)) return value.map(revive);
  if (value && typeof value === "object") {
    if (typeof value.$b64 === "string") return toView(value.$b64);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v)]));
  }
  return value;
};
const state = revive(read("cnnviz-state"));
const results = revive(read("cnnviz-results"));
const listeners = new Map();
const emit = (event, ...args) => (listeners.get(event) ?? []).slice().forEach((f) => f(...args));
let nextId = 1;
const answer = () => {
  const key = `${state.layer}|${state.view}|${state.sample}`;
  const id = nextId++;
  const base = { id, layer: state.layer, view: state.view, sample: state.sample };
  const saved = results[key];
  // A saved result answers only the options it was computed with (class, method, channel...).
  const options = saved ? saved.content.options ?? {} : {};
  const same = Object.keys(options).every((name) => state[name] === options[name]);
  if (saved && same) emit("msg:custom", { ...saved.content, ...base }, saved.pngs);
  else emit("msg:custom", { ...base, type: "error",
    message: "This page was saved without a kernel; this view was not included." });
};
const model = {
  get: (key) => state[key],
  set: (key, value) => { state[key] = value; emit(`change:${key}`); },
  save_changes: () => answer(),
  on: (event, callback) => listeners.set(event, [...(listeners.get(event) ?? []), callback]),
  off: (event, callback) => listeners.set(event,
    (listeners.get(event) ?? []).filter((f) => callback && f !== callback)),
  send: (message) => { if (message && message.type === "refresh") answer(); },
};
const source = new Blob([ESM], { type: "text/javascript" });
const widget = (await import(URL.createObjectURL(source))).default;
const definition = typeof widget === "function" ? await widget() : widget;
await definition.initialize?.({ model });
await definition.render({ model, el: document.getElementById("cnnviz-root") });
"""


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$b64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _script_json(value: Any) -> str:
    # Any "<" inside a <script> can end it or switch the HTML parser into an escaped state
    # ("</script", "<!--"); "\u003c" is the same character in a JSON string.
    return json.dumps(_jsonable(value)).replace("<", "\\u003c")


def _saved_results(explorer: LayerExplorer) -> dict[str, Any]:
    """Results by selection key: every layer's feature maps, and the view on screen."""
    session = explorer.session
    results: dict[str, Any] = {}
    if session.n_samples:
        for info in session.layers:
            request = Request(0, info.name, "activations", explorer.sample)
            try:
                result = session.compute(request)
            except Exception:  # a layer that cannot be drawn stays "not included"
                continue
            content, pngs = protocol.result(request, result)
            key = protocol.selection_key(request.layer, request.view, request.sample)
            results[key] = {"content": content, "pngs": pngs}
    snapshot = dict(explorer.snapshot)
    if snapshot.get("type") == protocol.RESULT:
        key = protocol.selection_key(snapshot["layer"], snapshot["view"], snapshot["sample"])
        content = {k: v for k, v in snapshot.items() if k != "pngs"}
        results[key] = {"content": content, "pngs": snapshot["pngs"]}
    return results


def standalone_html(explorer: LayerExplorer, title: str | None = None) -> str:
    """The explorer as one self-contained HTML document (string)."""
    static = pathlib.Path(__file__).parent / "static"
    esm = (static / "widget.js").read_text(encoding="utf-8")
    css = (static / "widget.css").read_text(encoding="utf-8")
    state = {name: getattr(explorer, name) for name in protocol.SYNCED_TRAITS}
    title = title or f"cnnviz: {explorer.model_name}"
    results = _script_json(_saved_results(explorer))
    loader = f"const ESM = {json.dumps(esm).replace('<', chr(92) + 'u003c')};\n{_LOADER}"
    return f"""<!doctype html>
<html lang="{html.escape(explorer.lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
body {{ margin: 16px; background: var(--jp-layout-color0, #fff); }}
@media (prefers-color-scheme: dark) {{
  :root {{ --jp-layout-color0: #111; --jp-layout-color1: #1e1e1e; --jp-layout-color2: #2a2a2a;
    --jp-ui-font-color0: #fff; --jp-ui-font-color1: #e6e6e6; --jp-ui-font-color2: #b0b0b0;
    --jp-border-color1: #555; --jp-border-color2: #3a3a3a; }}
}}
{css}
</style>
</head>
<body>
<div id="cnnviz-root"></div>
<script type="application/json" id="cnnviz-state">{_script_json(state)}</script>
<script type="application/json" id="cnnviz-results">{results}</script>
<script type="module">
{loader}
</script>
</body>
</html>
"""
