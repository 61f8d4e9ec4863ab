"""Every notebook's source (notebooks/*.py, jupytext percent scripts) runs top to bottom on a
real kernel, and the committed .ipynb beside each has the script's cells."""

from __future__ import annotations

import pathlib

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = pathlib.Path(__file__).parents[1] / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("*.py"))


def cells(notebook: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source) for cell in notebook.cells]


def test_every_notebook_has_a_source():
    assert {p.stem for p in SOURCES} == {p.stem for p in NOTEBOOKS.glob("*.ipynb")}
    assert "quickstart" in {p.stem for p in SOURCES}  # what `make demo` opens


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_committed_notebook_matches_its_source(source):
    """The .ipynb is regenerated from the script, so a cell edited in one and not the other
    fails here: run scripts/make_notebooks.py."""
    script = jupytext.read(source, fmt="py:percent")
    committed = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    assert cells(committed) == cells(script)
    assert script.metadata["kernelspec"]["name"] == "python3"
    assert committed.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebook_runs(source, tmp_path):
    notebook = jupytext.read(source, fmt="py:percent")
    assert len(notebook.cells) > 1, "not read as a percent script"
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute(cwd=str(source.parent))
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    # The explorer cell shows the widget, whose saved state carries the first image.
    widget_state = (
        notebook.metadata.get("widgets", {})
        .get("application/vnd.jupyter.widget-state+json", {})
        .get("state", {})
    )
    explorers = [s for s in widget_state.values() if "snapshot" in s.get("state", {})]
    if "LayerExplorer(" in "".join(c.source for c in notebook.cells):
        assert explorers, "no LayerExplorer in the saved widget state"


def test_saved_widget_state_carries_frontend_and_images(tmp_path):
    """A notebook saved after running shows the explorer without a kernel: its widget state
    holds the frontend code and the last images, and the output has a PNG fallback."""
    import base64

    from nbformat.v4 import new_code_cell, new_notebook

    notebook = new_notebook(
        cells=[
            new_code_cell(
                "from cnnviz_widget import LayerExplorer\n"
                "from cnnviz_widget.data import default_model\n"
                "model, images, names = default_model(4)\n"
                "LayerExplorer(model, images, class_names=names)"
            )
        ]
    )
    NotebookClient(notebook, timeout=600, kernel_name="python3").execute(cwd=str(tmp_path))
    path = tmp_path / "saved.ipynb"
    nbformat.write(notebook, path)
    saved = nbformat.read(path, as_version=4)

    state = saved.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    (explorer,) = [s for s in state.values() if "snapshot" in s.get("state", {})]
    assert "cnnviz" in explorer["state"]["_esm"]  # the bundled frontend itself
    assert ".cnnviz" in explorer["state"]["_css"]
    assert explorer["state"]["layer"] == "conv2d"
    buffers = {tuple(b["path"]): base64.b64decode(b["data"]) for b in explorer["buffers"]}
    png = buffers[("snapshot", "pngs", 0)]
    assert png.startswith(b"\x89PNG")
    assert buffers[("samples", 0, "thumbnail")].startswith(b"\x89PNG")

    (output,) = saved.cells[0].outputs
    assert "application/vnd.jupyter.widget-view+json" in output["data"]
    assert base64.b64decode(output["data"]["image/png"]) == png
