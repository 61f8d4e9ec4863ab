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
# # Filter patterns: what each filter is looking for
#
# Feature maps show how one image excites a filter. Turn the question round: **which
# image would excite this filter the most?** Nobody has that image, but the network can
# make it: start from a grey image with a little noise and repeatedly change the pixels
# in the direction that raises the filter's mean activation, the gradient of the
# activation with respect to the input. This is **gradient ascent** on the input, with
# the weights held fixed (training is gradient *descent* on the weights, with the input
# held fixed).

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from cnnviz_widget import plot
from cnnviz_widget.data import digits_cnn

model = digits_cnn()

# %% [markdown]
# ## By hand
#
# The whole idea in a few lines: a model that stops at the layer, a loss that is one
# filter's mean activation, its gradient with respect to the image, and a step along
# that gradient scaled to unit length (so the step size does not depend on how large the
# gradient happens to be), keeping pixels in [0, 1].

# %%
extractor = keras.Model(model.inputs, model.get_layer("conv2d_1").output)
filter_index = 0

rng = np.random.default_rng(0)
image = tf.Variable(0.5 + 0.05 * rng.uniform(-1, 1, (1, 28, 28, 1)).astype("float32"))
for step in range(60):
    with tf.GradientTape() as tape:
        maps = extractor([image])  # a list: one array per model input
        activation = tf.reduce_mean(maps[..., filter_index])
    gradient = tape.gradient(activation, image)
    gradient /= tf.norm(gradient) + 1e-8
    image.assign(tf.clip_by_value(image + 1.0 * gradient, 0.0, 1.0))

plt.figure(figsize=(2.5, 2.5))
plt.imshow(image[0, :, :, 0], cmap="gray")
plt.title(f"conv2d_1, filter {filter_index}\nmean activation {float(activation):.2f}")
plt.axis("off")
plt.show()

# %% [markdown]
# That works, but plain ascent likes pixel-level noise that no real image has.
# `cnnviz_widget.methods.maximize.maximize_filters` adds three well-known regularisers
# (as in Lucid and the Distill article "Feature Visualization"):
#
# - **jitter**: each step the image is shifted by a few random pixels first, so the
#   pattern cannot depend on exact pixel positions;
# - **decorrelated steps**: the gradient is reweighted by 1/frequency in the Fourier
#   domain, so smooth structure grows faster than pixel noise;
# - **blur**: every few steps, a light Gaussian blur.
#
# All filters of a request climb together in one batch, and each filter's random start
# depends only on `seed` and its index. `plot.filter_patterns` draws the result, each
# tile on its own scale (mean ± 3 std fill the range).
#
# ## The first layer
#
# Its 32 filters see 3 × 3 pixels each, so their best inputs are repeating textures made
# of their kernel: stripes at the orientation of the edge each one detects (compare
# with the kernels in `01_weights_trained_vs_untrained.ipynb`). A filter whose weights
# are mostly positive is best served by ink everywhere and shows plain white; a few
# settle on a single edge along the border of the image.

# %%
plot.filter_patterns(model, "conv2d", range(32), steps=40)

# %% [markdown]
# ## The second layer
#
# Each of its filters combines all 32 of the first, over a larger patch of the image:
# stripes of one width and orientation, curved strokes, corners and blobs.

# %%
plot.filter_patterns(model, "conv2d_1", range(32), steps=40)

# %% [markdown]
# ## The classes
#
# The same works for a dense unit. For the output layer, each unit is a class: the
# image the network would call most surely a 0, a 1, ... (Simonyan et al., 2013, call
# this a *class model*). They are not clean digits (nothing in the objective asks for
# a plausible image), but the loops of 0, 6, 8 and 9 and the bar of 1 are there.

# %%
plot.filter_patterns(model, "dense_1", range(10), steps=60)

# %% [markdown]
# ## An ImageNet network
#
# On a network trained on photos the patterns become textures and parts of objects.
# EfficientNet-Lite0 (real ImageNet weights, bundled, see
# `03_grad_cam_imagenet.ipynb`) takes 224 × 224 inputs in its own range,
# `(pixel - 127) / 128`, so the ascent is told that range (`input_range=`): black and
# white after `preprocess`. A middle block, eight filters, a few dozen steps:

# %%
from cnnviz_widget.imagenet import MEAN, STD, efficientnet_lite0

imagenet_model = efficientnet_lite0()
black_and_white = ((0 - MEAN) / STD, (255 - MEAN) / STD)
plot.filter_patterns(imagenet_model, "blocks_9_add", range(8), steps=30,
                     input_range=black_and_white, cols=4)

# %% [markdown]
# More steps give cleaner patterns; deeper layers give larger, more object-like ones, at
# the cost of more compute per step.
#
# ## In the explorer
#
# The **Filters** tab runs the same ascent for the selected layer and draws the
# patterns as they improve, every few steps; pick another layer on the left and it
# starts over (`explorer.filter_count` sets how many filters).

# %%
from cnnviz_widget import LayerExplorer
from cnnviz_widget.data import DIGIT_NAMES, digits

images, _ = digits(16)
explorer = LayerExplorer(model, images, class_names=DIGIT_NAMES, layer="conv2d_1",
                         view="filters")
explorer
