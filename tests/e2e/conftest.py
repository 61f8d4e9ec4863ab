# ruff: noqa: E501  (JavaScript run in the page is kept readable, not wrapped)
"""End-to-end harness: a real JupyterLab server driven by Debian's Chromium through Playwright.

Fixtures
--------
``jupyter_server`` (session)
    Starts ``python -m jupyter lab`` (this interpreter, so the venv's) on a free 127.0.0.1 port
    with a random token, ``--no-browser``, a temporary root directory, and temporary
    config/data/runtime/settings/workspaces directories, so nothing from the user's own Jupyter
    set-up leaks in and nothing is left behind.  News, update checks and the PyPI extension
    manager are off, so the server never reaches the network.  The server's log goes to
    ``.e2e-artifacts/jupyter-server.log``.  The whole process group is killed at the end (and any
    kernel still alive, since kernels run in their own sessions).
``browser`` (session)
    Chromium from ``/usr/bin/chromium`` (override with ``CNNVIZ_E2E_CHROMIUM``), headless,
    with the flags that work offline.  Never ``playwright install``.
``page`` (function)
    A fresh browser context and page.  Console messages, page errors and dialogs are recorded
    (``page.e2e_console``, ``page.e2e_page_errors``, ``page.e2e_dialogs``; dialogs are
    dismissed).  On failure a screenshot, the console log and the page HTML are written to
    ``.e2e-artifacts/<test>/``; with ``CNNVIZ_E2E_ARTIFACTS=always`` they are written for every
    test.  The kernels the test started are shut down afterwards.
``open_notebook`` (function)
    ``open_notebook(page, cells, theme="light"|"dark", name=None) -> page``: writes a notebook
    of those code cells, opens it in a fresh, reset workspace, waits for the kernel, runs all
    cells, waits until every cell has run and its outputs are in the page, and raises with the
    traceback if a cell failed.
``kernel_execute`` (function)
    ``kernel_execute(page, code) -> str``: run code in the open notebook's kernel, outside the
    cells, and return what it printed (e.g. to ask the widget object what it thinks).
``artifacts`` (function)
    ``artifacts.screenshot(page, name)`` / ``artifacts.path(name)``: save things on demand.

The kernel imports ``cnnviz_widget`` from this checkout (the repository root is put first on
the kernel's ``PYTHONPATH``), so the tests exercise the working tree and its built
``cnnviz_widget/static/``.  Set ``CNNVIZ_E2E_USE_INSTALLED=1`` to test the installed package
instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _frontends import free_port, isolated_env, kill_tree  # one copy of the server helpers

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = REPO_ROOT / ".e2e-artifacts"
CHROMIUM = os.environ.get("CNNVIZ_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Timeouts (milliseconds unless named _S).  Generous: the machines running these are small, and
# the first cell of a test imports TensorFlow in a fresh kernel.
SERVER_START_S = 90
APP_LOAD_MS = 60_000
KERNEL_IDLE_MS = 120_000
RUN_CELLS_MS = 240_000
OUTPUTS_MS = 60_000

THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Everything under tests/e2e is an e2e test, marked or not (``-m "not e2e"`` skips it)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    # Keep each phase's report on the item so fixtures can see whether the test failed.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# --------------------------------------------------------------------------------------------
# the server


@dataclass
class JupyterServer:
    url: str  # http://127.0.0.1:PORT
    token: str
    root_dir: Path
    settings_dir: Path
    log_path: Path
    proc: subprocess.Popen[bytes]

    def api(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        """Call the server's REST API with the token; returns the decoded JSON (or None)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def lab_url(self, notebook: str, workspace: str) -> str:
        # A fresh workspace, reset: no layout or open documents carry over between tests.
        return f"{self.url}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={self.token}"

    def kernel_ids(self) -> set[str]:
        try:
            return {k["id"] for k in self.api("GET", "/api/kernels")}
        except (urllib.error.URLError, OSError):
            return set()

    def shutdown_kernels(self, keep: frozenset[str] | set[str] = frozenset()) -> None:
        for kid in self.kernel_ids() - set(keep):
            with contextlib.suppress(urllib.error.URLError, OSError):
                self.api("DELETE", f"/api/kernels/{kid}", timeout=60)

    def log_tail(self, n: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])


@pytest.fixture(scope="session")
def jupyter_server() -> Iterator[JupyterServer]:
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="cnnviz-e2e-"))
    root = tmp / "root"
    root.mkdir()
    # Every user directory (config, data, settings, HOME) under tmp: no news, no update
    # check, no extension manager, no build check, the tests' default settings.
    env = isolated_env(tmp / "env")
    settings_dir = Path(env["JUPYTERLAB_SETTINGS_DIR"])

    token = secrets.token_hex(24)
    log_path = ARTIFACTS_DIR / "jupyter-server.log"
    proc: subprocess.Popen[bytes] | None = None
    server: JupyterServer | None = None
    last_error = ""
    try:
        for _attempt in range(3):  # a free port can be taken between probing and binding
            port = free_port()
            with open(log_path, "wb") as log:  # the child keeps its own copy of the fd
                proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "jupyter",
                        "lab",
                        "--no-browser",
                        "--ServerApp.ip=127.0.0.1",
                        f"--ServerApp.port={port}",
                        "--ServerApp.port_retries=0",
                        f"--IdentityProvider.token={token}",
                        f"--ServerApp.root_dir={root}",
                        "--ServerApp.terminals_enabled=False",
                        *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
                    ],
                    cwd=root,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # its own process group, killed as one at the end
                )
            url = f"http://127.0.0.1:{port}"
            candidate = JupyterServer(url, token, root, settings_dir, log_path, proc)
            deadline = time.monotonic() + SERVER_START_S
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    candidate.api("GET", "/api/status", timeout=5)
                    server = candidate
                    break
                except (urllib.error.URLError, OSError, ValueError):
                    time.sleep(0.2)
            if server is not None:
                break
            last_error = candidate.log_tail()
            kill_tree(proc)
            proc = None
        if server is None:
            raise RuntimeError(f"JupyterLab did not start; server log tail:\n{last_error}")
        yield server
    finally:
        if server is not None:
            server.shutdown_kernels()
        if proc is not None:
            kill_tree(proc)
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# the browser


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_instance):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    b = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield b
    b.close()


def _safe_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1])[:120]


@dataclass
class Artifacts:
    """Writes screenshots and logs under ``.e2e-artifacts/<test>/``."""

    dir: Path
    saved: list[Path] = field(default_factory=list)

    def path(self, name: str) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        p = self.dir / name
        self.saved.append(p)
        return p

    def screenshot(self, page, name: str = "page.png", **kwargs) -> Path:
        p = self.path(name if name.endswith(".png") else f"{name}.png")
        page.screenshot(path=str(p), **kwargs)
        return p

    def dump_page(self, page, prefix: str = "") -> None:
        with contextlib.suppress(Exception):
            self.screenshot(page, f"{prefix}screenshot.png")
        with contextlib.suppress(Exception):
            self.path(f"{prefix}page.html").write_text(page.content())
        lines = [f"[{m['type']}] {m['text']}" for m in getattr(page, "e2e_console", [])]
        lines += [f"[pageerror] {e}" for e in getattr(page, "e2e_page_errors", [])]
        lines += [f"[dialog] {d}" for d in getattr(page, "e2e_dialogs", [])]
        self.path(f"{prefix}console.log").write_text("\n".join(lines) + "\n")


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Artifacts:
    d = ARTIFACTS_DIR / _safe_name(request.node.nodeid)
    shutil.rmtree(d, ignore_errors=True)
    return Artifacts(d)


@pytest.fixture
def page(browser, jupyter_server: JupyterServer, artifacts: Artifacts, request):
    kernels_before = jupyter_server.kernel_ids()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    pg = context.new_page()
    pg.e2e_console = []
    pg.e2e_page_errors = []
    pg.e2e_dialogs = []
    pg.on("console", lambda m: pg.e2e_console.append({"type": m.type, "text": m.text}))
    pg.on("pageerror", lambda e: pg.e2e_page_errors.append(str(e)))

    def _on_dialog(d) -> None:
        pg.e2e_dialogs.append(f"{d.type}: {d.message}")
        with contextlib.suppress(Exception):
            d.dismiss()

    pg.on("dialog", _on_dialog)
    try:
        yield pg
    finally:
        rep = getattr(request.node, "rep_call", None)
        failed = rep is None or rep.failed  # no call report: setup or the call itself blew up
        if failed or os.environ.get("CNNVIZ_E2E_ARTIFACTS") == "always":
            artifacts.dump_page(pg)
            with contextlib.suppress(Exception):
                artifacts.path("server.log").write_text(jupyter_server.log_tail(400))
        with contextlib.suppress(Exception):
            context.close()
        jupyter_server.shutdown_kernels(keep=kernels_before)


# --------------------------------------------------------------------------------------------
# notebooks


class CellError(AssertionError):
    pass


# JavaScript run in the page; `window.jupyterapp` exists because of expose_app_in_browser.
_JS_NOTEBOOK = """
() => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return null;
  const w = app.shell.currentWidget;
  return (w && w.content && w.sessionContext) ? w : null;
}
"""

_JS_KERNEL_IDLE = f"""
() => {{
  const w = ({_JS_NOTEBOOK})();
  if (!w) return false;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  return !!(w.sessionContext.isReady && k && k.status === 'idle' && k.connectionStatus === 'connected');
}}
"""

# Done when the kernel is idle and every code cell has an execution count, or a cell has an
# error output (Run All stops at the first error).
_JS_RUN_DONE = f"""
() => {{
  const w = ({_JS_NOTEBOOK})();
  if (!w) return false;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  if (!k || k.status !== 'idle') return false;
  const cells = w.content.widgets.filter(c => c.model.type === 'code');
  const errored = cells.some(c => {{
    const o = c.model.outputs; for (let i = 0; i < o.length; i++) if (o.get(i).type === 'error') return true;
    return false;
  }});
  return errored || cells.every(c => c.model.executionCount !== null);
}}
"""

_JS_CELL_REPORT = f"""
() => {{
  const w = ({_JS_NOTEBOOK})();
  return w.content.widgets.filter(c => c.model.type === 'code').map(c => {{
    const outs = [];
    const o = c.model.outputs;
    for (let i = 0; i < o.length; i++) outs.push(o.get(i).toJSON());
    const rendered = c.node.querySelectorAll('.jp-OutputArea-output').length;
    return {{count: c.model.executionCount, outputs: outs, rendered}};
  }});
}}
"""

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _write_notebook(path: Path, cells: list[str]) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nbformat.write(nb, str(path))


def _set_theme(server: JupyterServer, theme: str) -> None:
    if theme not in THEMES:
        raise ValueError(f"theme must be one of {sorted(THEMES)}, got {theme!r}")
    server.api(
        "PUT",
        "/lab/api/settings/@jupyterlab/apputils-extension:themes",
        {"raw": json.dumps({"theme": THEMES[theme]})},
    )


def run_all_cells(page, timeout_ms: int = RUN_CELLS_MS) -> list[dict[str, Any]]:
    """Run every cell of the current notebook and wait for them; raise if a cell failed."""
    page.wait_for_function(_JS_KERNEL_IDLE, timeout=KERNEL_IDLE_MS, polling=100)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(_JS_RUN_DONE, timeout=timeout_ms, polling=100)
    report = page.evaluate(_JS_CELL_REPORT)
    for i, cell in enumerate(report):
        for out in cell["outputs"]:
            if out.get("output_type") == "error":
                tb = _ANSI.sub("", "\n".join(out.get("traceback", [])))
                raise CellError(f"cell {i} raised {out.get('ename')}: {out.get('evalue')}\n{tb}")
    # Outputs reach the DOM after the model: wait until each cell shows all of its outputs.
    page.wait_for_function(
        f"""() => ({_JS_CELL_REPORT})().every(c => c.rendered >= c.outputs.length)""",
        timeout=OUTPUTS_MS,
        polling=100,
    )
    return report


@pytest.fixture
def open_notebook(jupyter_server: JupyterServer) -> Callable[..., Any]:
    def _open(page, cells: list[str], theme: str = "light", name: str | None = None):
        name = name or f"e2e-{uuid.uuid4().hex[:10]}"
        _write_notebook(jupyter_server.root_dir / f"{name}.ipynb", cells)
        _set_theme(jupyter_server, theme)
        page.goto(jupyter_server.lab_url(f"{name}.ipynb", workspace=f"ws-{uuid.uuid4().hex[:10]}"))
        page.wait_for_function(
            "() => !!(window.jupyterapp && window.jupyterapp.shell)", timeout=APP_LOAD_MS
        )
        page.wait_for_selector(
            f'body[data-jp-theme-name="{THEMES[theme]}"]', state="attached", timeout=APP_LOAD_MS
        )
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=APP_LOAD_MS)
        page.wait_for_function(
            f"() => {{ const w = ({_JS_NOTEBOOK})(); return !!w && w.context.path.endsWith({json.dumps(name + '.ipynb')}); }}",
            timeout=APP_LOAD_MS,
        )
        # The file browser opens in a reset workspace: fold it away, the notebook gets the room.
        page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
        page.e2e_cells = run_all_cells(page)
        return page

    return _open


_JS_KERNEL_EXECUTE = f"""
async ([code, timeoutMs]) => {{
  const w = ({_JS_NOTEBOOK})();
  const kernel = w.sessionContext.session.kernel;
  const future = kernel.requestExecute({{code, silent: false, store_history: false}}, true);
  const out = [];
  let error = null;
  future.onIOPub = (msg) => {{
    const t = msg.header.msg_type;
    if (t === 'stream') out.push(msg.content.text);
    else if (t === 'execute_result') out.push(msg.content.data['text/plain'] + '\\n');
    else if (t === 'error') error = msg.content.ename + ': ' + msg.content.evalue;
  }};
  let timer;
  const timeout = new Promise((_, reject) => {{
    timer = setTimeout(() => reject(new Error('kernel_execute timed out after ' + timeoutMs + ' ms')), timeoutMs);
  }});
  try {{ await Promise.race([future.done, timeout]); }} finally {{ clearTimeout(timer); }}
  return {{out: out.join(''), error}};
}}
"""


def _kernel_execute(page, code: str, timeout_ms: int = 60_000) -> str:
    """Run ``code`` in the open notebook's kernel (not as a cell); return what it printed.

    Shell messages are handled in order, so by the time this returns the kernel has also
    handled every widget message the browser sent before it.
    """
    result = page.evaluate(_JS_KERNEL_EXECUTE, [code, timeout_ms])
    if result["error"]:
        raise CellError(f"kernel code failed: {result['error']}\n--- code ---\n{code}")
    return str(result["out"])


@pytest.fixture
def kernel_execute() -> Callable[..., str]:
    """``kernel_execute(page, code, timeout_ms=60_000) -> str`` (see ``_kernel_execute``)."""
    return _kernel_execute
