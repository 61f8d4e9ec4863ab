"""Writes each teaching notebook, executed, from its percent script in notebooks/.

    python scripts/make_notebooks.py                 # run every notebooks/*.py, write its .ipynb
    python scripts/make_notebooks.py 03_grad_cam     # only the notebooks whose name has this
    python scripts/make_notebooks.py --no-execute    # write the cells only, no outputs

The source of a notebook is ``notebooks/NAME.py`` (jupytext percent format: ``# %%`` starts a
code cell, ``# %% [markdown]`` a markdown one); edit that, never the .ipynb.  Each script is
run top to bottom (nbclient) and saved beside it as ``NAME.ipynb`` with its outputs and widget
state, so GitHub and nbviewer show the figures and the explorer's last picture without a
kernel.  CI (tests/test_notebooks.py) runs the scripts again from scratch and checks that the
committed .ipynb have the scripts' cells.  Keep each under about a minute on two cores: a
notebook teaches one thing, with small step counts and a few images.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import time

import jupytext
import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[1] / "notebooks"
#: These draw photographs and photo-like textures: saved as PNG their figures would weigh
#: about 400 KB each (5 MB a notebook), as JPEG a fifth of that.
JPEG_FIGURES = {"03_grad_cam_imagenet", "04_filter_patterns", "05_pytorch"}
#: TensorFlow's C++ start-up notices (absl log lines), printed to the kernel's stderr before
#: any Python code can silence them; they say nothing about the lesson.
STARTUP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
    r"STDERR|[IWE]\d{4} \S+ +\d+ [\w.]+:\d+\] .*)$"
)


def sources() -> list[pathlib.Path]:
    """The notebooks' percent scripts, ``notebooks/*.py``, by name."""
    return sorted(ROOT.glob("*.py"))


def build(source: pathlib.Path) -> nbformat.NotebookNode:
    """The notebook of the percent script ``source``, without outputs."""
    notebook = jupytext.read(source, fmt="py:percent")
    # How the script was written says nothing to a reader of the .ipynb; without it the
    # .ipynb is what it was before the scripts existed (and jupytext sees no pairing).
    notebook.metadata.pop("jupytext", None)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata.setdefault("language_info", {"name": "python"})  # nbclient fills it in
    return notebook


def execute(notebook: nbformat.NotebookNode, *, jpeg: bool = False) -> float:
    """Run ``notebook`` in place as CI does; returns the seconds it took.

    nbclient keeps the widget state (its default ``store_widget_state=True``): the saved
    notebook carries the explorer's frontend and last images.
    """
    from nbclient import NotebookClient

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        record_timing=False,  # no timestamps in the saved cells: rerunning changes less
        resources={"metadata": {"path": str(ROOT)}},
        extra_arguments=["--InlineBackend.figure_formats=jpeg"] if jpeg else [],
    )
    start = time.perf_counter()
    client.execute(cwd=str(ROOT))
    took = time.perf_counter() - start
    drop_startup_noise(notebook)
    return took


def drop_startup_noise(notebook: nbformat.NotebookNode) -> None:
    """Remove stderr outputs made only of TensorFlow's start-up log lines."""
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs = [
            output
            for output in cell.outputs
            if not (
                output.output_type == "stream"
                and output.name == "stderr"
                and all(
                    STARTUP_NOISE.match(line) for line in output.text.splitlines() if line.strip()
                )
            )
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("only", nargs="*", help="write only notebooks whose name has this")
    parser.add_argument(
        "--no-execute", action="store_true", help="write the cells without running them"
    )
    args = parser.parse_args()
    for source in sources():
        if args.only and not any(part in source.name for part in args.only):
            continue
        notebook = build(source)
        took = ""
        if not args.no_execute:
            took = f" (ran in {execute(notebook, jpeg=source.stem in JPEG_FIGURES):.1f} s)"
        nbformat.validate(notebook)
        target = source.with_suffix(".ipynb")
        nbformat.write(notebook, target)
        print(f"wrote {target}{took}")


if __name__ == "__main__":
    main()
