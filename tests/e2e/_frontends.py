# ruff: noqa: E501  (JavaScript run in the page is kept readable, not wrapped)
"""Servers for the front ends besides the JupyterLab of ``conftest.py``: Notebook 7, Voila and
marimo (and a token-less JupyterLab for the latency benchmark).

Each server runs from this interpreter (so the venv's packages and the editable
``cnnviz_widget`` with its built ``static/``), on a free ``127.0.0.1`` port, token-less, with
no browser launch, in its own process group, with every config/data/runtime directory (and
``HOME``) in a temporary directory, so nothing of the user's set-up leaks in and nothing
reaches the network (no news, no update checks).  ``serve(...)`` is a context manager that
always kills the whole group (kernels included) on the way out, and raises with the server's
log tail when it does not come up in time.

Also here: the page-side helpers every front end shares (find the explorer's root even inside
a shadow root, click a layer, wait for the panel), so the tests and the benchmark drive the
widget the same way.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120

# Default settings for the JupyterLab-based front ends (Lab, Notebook 7, Voila's page).
SETTING_OVERRIDES: dict[str, dict[str, Any]] = {
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2))


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def isolated_env(tmp: Path) -> dict[str, str]:
    """Environment for a server whose every user directory lives under ``tmp``."""
    dirs = {
        name: tmp / name
        for name in ("config", "data", "runtime", "ipython", "home", "lab-settings", "lab-ws")
    }
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    _write_json(
        dirs["config"] / "jupyter_server_config.json",
        {
            "LabApp": {
                "news_url": None,
                "check_for_updates_class": "jupyterlab.handlers.announcements.NeverCheckForUpdate",
                "extension_manager": "readonly",
                "expose_app_in_browser": True,  # window.jupyterapp, for the tests' checks
            },
            "ServerApp": {"open_browser": False},
        },
    )
    _write_json(dirs["config"] / "labconfig" / "default_setting_overrides.json", SETTING_OVERRIDES)
    _write_json(
        dirs["config"] / "labconfig" / "page_config.json",
        {
            "disabledExtensions": {"@jupyterlab/extensionmanager-extension": True},
            "buildCheck": False,
            "buildAvailable": False,
        },
    )
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        JUPYTERLAB_SETTINGS_DIR=str(dirs["lab-settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(dirs["lab-ws"]),
        IPYTHONDIR=str(dirs["ipython"]),
        HOME=str(dirs["home"]),
        XDG_CONFIG_HOME=str(dirs["home"] / ".config"),
        XDG_CACHE_HOME=str(dirs["home"] / ".cache"),
        XDG_STATE_HOME=str(dirs["home"] / ".local" / "state"),
        JUPYTER_PLATFORM_DIRS="1",
        MARIMO_SKIP_UPDATE_CHECK="1",
        MPLBACKEND="Agg",
        KERAS_BACKEND=os.environ.get("KERAS_BACKEND", "tensorflow"),
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONUNBUFFERED="1",
    )
    env.pop("JUPYTER_PATH", None)
    env.pop("JUPYTER_CONFIG_PATH", None)
    if not os.environ.get("CNNVIZ_E2E_USE_INSTALLED"):
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
        )
    return env


@dataclass
class Server:
    kind: str
    url: str  # http://127.0.0.1:PORT
    root: Path
    log_path: Path
    proc: subprocess.Popen[bytes]

    def log_tail(self, n: int = 80) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL what is left of it (kernels too)."""
    try:
        import psutil

        descendants = psutil.Process(proc.pid).children(recursive=True)
    except Exception:
        descendants = []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    # Jupyter kernels run in sessions of their own, out of the group's reach.
    for p in descendants:
        with contextlib.suppress(Exception):
            if p.is_running():
                p.kill()


def _argv(kind: str, port: int, root: Path, target: str | None) -> list[str]:
    py = sys.executable
    jupyter_common = [
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        # Token-less on 127.0.0.1, for a test or a benchmark run on one machine.
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.terminals_enabled=False",
        *(["--allow-root"] if _is_root() else []),
    ]
    if kind == "lab":
        return [py, "-m", "jupyter", "lab", *jupyter_common, "--LabApp.expose_app_in_browser=True"]
    if kind == "notebook":
        return [
            py,
            "-m",
            "jupyter",
            "notebook",
            *jupyter_common,
            "--JupyterNotebookApp.expose_app_in_browser=True",
        ]
    if kind == "voila":
        if target is None:
            raise ValueError("voila serves one notebook: pass it as target")
        return [
            py,
            "-m",
            "voila",
            target,
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            "--Voila.port_retries=0",
            f"--Voila.root_dir={root}",
            "--show_tracebacks=True",
            # The teaching app: outputs only, the code cells' sources are not sent.
            "--strip_sources=True",
        ]
    if kind == "marimo":
        if target is None:
            raise ValueError("marimo runs one app: pass it as target")
        return [
            py,
            "-m",
            "marimo",
            "run",
            target,
            "--headless",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-token",
            "--no-sandbox",
        ]
    raise ValueError(f"unknown front end {kind!r}")


def _ready_path(kind: str, target: str | None) -> str:
    # A page that answers once the server can serve the app.
    return {"lab": "/api/status", "notebook": "/api/status"}.get(kind, "/")


def start(
    kind: str,
    root: Path,
    log_path: Path,
    *,
    target: str | None = None,
    env: dict[str, str] | None = None,
    timeout_s: float = START_TIMEOUT_S,
) -> Server:
    """Start a ``kind`` server ("lab", "notebook", "voila", "marimo") serving ``root``."""
    if env is None:
        env = isolated_env(Path(tempfile.mkdtemp(prefix=f"cnnviz-{kind}-")))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    last = ""
    for _attempt in range(3):  # a port taken between free_port() and bind: try another
        port = free_port()
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                _argv(kind, port, root, target),
                cwd=root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        server = Server(kind, f"http://127.0.0.1:{port}", root, log_path, proc)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(server.url + _ready_path(kind, target), timeout=5):
                    return server
            except urllib.error.HTTPError:
                return server  # it answers (a 403/404 for "/" still means it is up)
            except (urllib.error.URLError, OSError, ValueError):
                time.sleep(0.25)
        last = server.log_tail()
        kill_tree(proc)
    raise RuntimeError(f"{kind} did not start within {timeout_s:.0f} s; log tail:\n{last}")


@contextlib.contextmanager
def serve(
    kind: str,
    root: Path,
    log_path: Path,
    *,
    target: str | None = None,
    env: dict[str, str] | None = None,
    timeout_s: float = START_TIMEOUT_S,
) -> Iterator[Server]:
    """``start`` as a context manager: the server's process group is always killed after."""
    server = start(kind, root, log_path, target=target, env=env, timeout_s=timeout_s)
    try:
        yield server
    finally:
        kill_tree(server.proc)


# ------------------------------------------------------------------------------ documents


def write_notebook(path: Path, cells: Sequence[str], markdown: Sequence[str] = ()) -> Path:
    """A notebook of ``markdown`` cells followed by ``cells`` (code), for the ipykernel."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_markdown_cell(m) for m in markdown]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in cells]
    nbformat.write(nb, str(path))
    return path


def write_marimo_app(path: Path, body: str, output: str) -> Path:
    """A marimo app of one cell: ``body`` runs, then ``output`` is the cell's last expression."""
    code = textwrap.indent(textwrap.dedent(body).strip() + "\n" + output.strip(), "    ")
    path.write_text(
        "import marimo\n\n"
        "app = marimo.App()\n\n\n"
        "@app.cell\n"
        "def _():\n"
        f"{code}\n"
        "    return\n\n\n"
        'if __name__ == "__main__":\n'
        "    app.run()\n"
    )
    return path


# ------------------------------------------------------------------- page-side helpers
# Every helper finds the explorer's root (`.cnnviz`) through open shadow roots too (marimo
# renders anywidgets inside one), and takes an index when a page holds several explorers.

JS_ROOT = """
const cnnvizRoots = () => {
  const out = [];
  const walk = (node) => {
    for (const el of node.querySelectorAll('*')) {
      if (el.classList && el.classList.contains('cnnviz')) out.push(el);
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return out;
};
"""

JS_PANEL_STATE = (
    "(index) => {"
    + JS_ROOT
    + """
  const root = cnnvizRoots()[index || 0];
  if (!root) return null;
  const p = root.querySelector('[data-panel]');
  if (!p) return null;
  const img = p.querySelector('img[data-rows]');
  const err = root.querySelector('[data-role="error"]:not([hidden])');
  const loading = p.querySelector('[data-role="loading"]');
  return {
    layer: p.getAttribute('data-layer'), view: p.getAttribute('data-view'),
    state: p.getAttribute('data-state'),
    rows: img ? img.getAttribute('data-rows') : null, cols: img ? img.getAttribute('data-cols') : null,
    kind: img ? img.getAttribute('data-kind') : null,
    error: err ? err.textContent : null,
    overlay: !!(loading && !loading.hidden && loading.getClientRects().length > 0),
  };
}"""
)

# Click a layer row (inside the page: no Playwright round trip) and resolve, measured with
# performance.now() from just before the click, when the panel shows that layer ready.
JS_CLICK_AND_TIME = (
    "([layer, index, timeoutMs]) => {"
    + JS_ROOT
    + """
  const root = cnnvizRoots()[index || 0];
  const panel = root.querySelector('[data-panel]');
  const row = Array.from(root.querySelectorAll('[data-layer]:not([data-panel])'))
    .find(r => r.getAttribute('data-layer') === layer);
  if (!row) return Promise.resolve({error: 'no row ' + layer});
  return new Promise((resolve) => {
    let observer = null;
    const done = (out) => { if (observer) observer.disconnect(); clearTimeout(timer); resolve(out); };
    const check = () => {
      const s = panel.getAttribute('data-state');
      if (panel.getAttribute('data-layer') !== layer) return;
      if (s === 'ready') done({ms: performance.now() - t0});
      else if (s === 'error') done({error: (root.querySelector('[data-role="error"]') || panel).textContent});
    };
    const timer = setTimeout(() => done({error: 'timeout', state: panel.getAttribute('data-state')}), timeoutMs);
    observer = new MutationObserver(check);
    observer.observe(panel, {attributes: true, attributeFilter: ['data-state', 'data-layer']});
    const t0 = performance.now();
    row.click();
    check();  // a cached picture is drawn synchronously inside the click
  });
}"""
)


def panel_state(page: Any, index: int = 0) -> dict[str, Any] | None:
    return page.evaluate(JS_PANEL_STATE, index)


def wait_panel(
    page: Any,
    layer: str,
    *,
    view: str | None = None,
    index: int = 0,
    timeout_ms: int = 90_000,
) -> dict[str, Any]:
    """Wait until explorer ``index`` shows ``layer`` (and ``view``) ready; fail at once on error."""
    handle = page.wait_for_function(
        "([layer, view, index]) => { const s = ("
        + JS_PANEL_STATE
        + """)(index);
             if (!s || s.layer !== layer || (view && s.view !== view)) return false;
             if (s.state === 'error') return {error: s.error};
             return s.state === 'ready' ? s : false; }""",
        arg=[layer, view, index],
        timeout=timeout_ms,
        polling=50,
    )
    state = handle.json_value()
    if "error" in state and state.get("state") != "ready":
        raise AssertionError(f"panel for {layer!r} is in error: {state['error']!r}")
    return state


def click_and_time(page: Any, layer: str, index: int = 0, timeout_ms: int = 120_000) -> float:
    """Click ``layer``'s row inside the page; milliseconds until its panel is ready."""
    out = page.evaluate(JS_CLICK_AND_TIME, [layer, index, timeout_ms])
    if "error" in out:
        raise AssertionError(f"clicking {layer!r}: {out}")
    return float(out["ms"])
