"""One source for the kernel <-> browser protocol.

The fixture ``js/src/fixtures/protocol.json`` holds the lists both sides share and real
messages of every kind and view, recorded from a real explorer on the bundled digits CNN.
The vitest suite (``js/src/protocol.test.ts``) parses those messages with the frontend's
own code and checks its own lists against the fixture's.  Here the fixture is checked
against what the kernel sends now: the lists exactly, the messages field by field (names
and value types), so a field added, renamed or dropped on the Python side fails until the
fixture is written again, and then the TypeScript side must read it.

Write it again with ``CNNVIZ_WRITE_FIXTURES=1 .venv/bin/python -m pytest tests/test_protocol.py``.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import pathlib
import threading
import typing

import pytest

from cnnviz_widget import LayerExplorer, _protocol
from cnnviz_widget.data import default_model
from cnnviz_widget.explorer import LayerExplorer as Explorer
from cnnviz_widget.views import VIEWS

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "js" / "src" / "fixtures" / "protocol.json"


def _record(explorer: Explorer) -> tuple[list[dict], threading.Condition]:
    messages: list[dict] = []
    cond = threading.Condition()

    def send(content, buffers=None):
        entry = dict(content)
        if buffers:
            entry["$buffers"] = [base64.b64encode(bytes(b)).decode("ascii") for b in buffers]
        with cond:
            messages.append(entry)
            cond.notify_all()

    explorer.send = send  # type: ignore[method-assign]
    return messages, cond


def _wait_final(messages: list[dict], cond: threading.Condition, request_id: int) -> dict:
    def done() -> dict | None:
        for m in messages:
            final = m["type"] == "error" or (m["type"] == "result" and m["final"])
            if m.get("id") == request_id and final:
                return m
        return None

    with cond:
        assert cond.wait_for(lambda: done() is not None, timeout=120)
    found = done()
    assert found is not None
    return found


def build_fixture() -> dict:
    from cnnviz_widget.data import digits

    model, images, names = default_model()
    explorer = LayerExplorer(model, images[:3], class_names=names, dataset=digits(64)[0])
    messages, cond = _record(explorer)
    recorded: dict[str, dict] = {}
    try:
        selections = [
            ("activations", "conv2d", {}),
            ("activations_dense", "dense", {}),
            ("weights", "conv2d_1", {"channel": 3}),
            ("weights_dense", "dense", {}),
            ("gradcam", "conv2d_1", {"channel": 2, "sanity": True}),
            ("saliency", "conv2d_1", {}),
            ("saliency_integrated", "conv2d_1", {"saliency_method": "integrated"}),
            ("filters", "conv2d", {}),
            ("examples", "conv2d_1", {"channel": 3}),
            ("error", "max_pooling2d", {}),  # no weights: the panel shows an error
        ]
        views = {
            "error": "weights",
            "weights_dense": "weights",
            "activations_dense": "activations",
            "saliency_integrated": "saliency",
        }
        for key, layer, options in selections:
            with explorer.hold_trait_notifications():
                explorer.view = views.get(key, key)
                explorer.layer = layer
            for name, value in options.items():
                setattr(explorer, name, value)
            if key == "activations":  # what the explorer drew first: ask as the browser does
                explorer._on_message(explorer, {"type": _protocol.REFRESH}, [])
            final = _wait_final(messages, cond, explorer._latest)
            recorded[key] = final
            if key in ("filters", "gradcam"):  # they stream: partial grids, the heatmap first
                progress = [
                    m
                    for m in messages
                    if m.get("id") == final["id"] and m["type"] == "result" and not m["final"]
                ]
                assert progress, f"the {key} tab sends a picture before its final result"
                recorded[f"{key}_progress"] = progress[0]
        # A "pending" goes to a request not answered at once: one held at the forward pass.
        from cnnviz_widget import explorer as explorer_module

        delay, explorer_module.PENDING_AFTER_S = explorer_module.PENDING_AFTER_S, 0.0
        try:
            with explorer.session._pass_lock, explorer.hold_trait_notifications():
                explorer.view, explorer.layer, explorer.sample = "activations", "conv2d", 2
        finally:
            explorer_module.PENDING_AFTER_S = delay
        recorded["pending"] = next(
            m for m in messages if m["type"] == "pending" and m["id"] == explorer._latest
        )
        _wait_final(messages, cond, explorer._latest)
        before = len(messages)
        explorer.set_state({"sample": 7})  # from the browser: out of range, rolled back
        recorded["rejected"] = next(m for m in messages[before:] if m["type"] == "rejected")
        assert explorer.sample != 7
    finally:
        explorer.close()
    return {"lists": _protocol.shared_lists(), "messages": recorded}


def _shape(value: typing.Any) -> typing.Any:
    """Field names and value types, for comparing messages whose numbers may differ."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__


@pytest.fixture(scope="module")
def fresh() -> dict:
    return json.loads(json.dumps(build_fixture()))


def test_fixture_is_current(fresh):
    if os.environ.get("CNNVIZ_WRITE_FIXTURES") == "1":
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        FIXTURE.write_text(json.dumps(fresh, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    committed = json.loads(FIXTURE.read_text(encoding="utf-8"))
    hint = "write it again: CNNVIZ_WRITE_FIXTURES=1 pytest tests/test_protocol.py"
    assert committed["lists"] == fresh["lists"], f"the shared lists changed; {hint}"
    assert sorted(committed["messages"]) == sorted(fresh["messages"]), hint
    for key, message in fresh["messages"].items():
        assert _shape(committed["messages"][key]) == _shape(message), f"{key}: {hint}"


def test_fixture_covers_every_message_kind_and_view(fresh):
    messages = fresh["messages"].values()
    kinds = {m["type"] for m in messages}
    assert kinds == set(_protocol.MESSAGE_KINDS) - {_protocol.REFRESH}  # refresh is sent by JS
    assert {m["view"] for m in messages if m["type"] == "result"} == set(VIEWS)


def test_shared_lists_come_from_their_definitions():
    from cnnviz_widget._layers import Kind
    from cnnviz_widget.methods.gradcam import METHODS
    from cnnviz_widget.render import WARNING_CODES

    lists = _protocol.shared_lists()
    assert lists["views"] == list(VIEWS)
    assert lists["cam_methods"] == list(METHODS)
    assert lists["layer_kinds"] == list(typing.get_args(Kind))
    assert set(lists["warning_codes"]) == set(WARNING_CODES)


def test_synced_traits_are_exactly_the_explorers():
    synced = {
        name
        for name in Explorer.class_trait_names(sync=True)
        if not name.startswith("_") and name not in ("layout", "tabbable", "tooltip")
    }
    assert synced == set(_protocol.SYNCED_TRAITS)


def test_every_warning_code_used_in_the_package_is_declared():
    """Every ``Note("code", ...)`` in the source names a declared code (and a declared code
    nothing raises is dead)."""
    from cnnviz_widget.render import WARNING_CODES

    used = set()
    for path in (ROOT / "cnnviz_widget").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "Note"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                used.add(node.args[0].value)
    assert used == set(WARNING_CODES)


def test_the_package_has_no_import_cycles():
    """Module-level imports inside ``cnnviz_widget`` form no cycle (function-level imports,
    used to keep frameworks and the widget lazy, are not counted)."""
    package = ROOT / "cnnviz_widget"
    graph: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        is_package = parts[-1] == "__init__"
        edges: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.If):  # `if TYPE_CHECKING:` blocks are not imports at run time
                continue
            if isinstance(node, ast.ImportFrom) and node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, node.module] if node.module else base)
                edges.add(target)
                for alias in node.names:
                    edges.add(f"{target}.{alias.name}")
        graph[module] = edges
    known = set(graph)
    graph = {m: {e for e in edges if e in known and e != m} for m, edges in graph.items()}

    def parent_packages(module: str) -> set[str]:
        parts = module.split(".")
        return {".".join(parts[:i]) for i in range(1, len(parts))} & known

    # Importing a submodule first imports its parent packages.
    for module in list(graph):
        graph[module] |= {p for e in graph[module] for p in parent_packages(e)} - {module}
        graph[module] -= parent_packages(module)
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
