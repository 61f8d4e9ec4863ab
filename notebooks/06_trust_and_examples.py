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
# # Which digits excite a channel, and how far to trust a heatmap
#
# Two questions a single picture cannot answer, on the bundled digits CNN:
#
# 1. A feature map shows what a channel does with **one** image. Which images of a whole
#    dataset excite it **most**? That tells what the channel has learned to detect.
# 2. A heatmap says where the evidence for a class lies. Is it **faithful** to the model
#    (removing those pixels really changes its mind), and does it depend on what the model
#    **learned** at all?

# %%
import matplotlib.pyplot as plt
import numpy as np

from cnnviz_widget import (
    LayerExplorer,
    faithfulness,
    grad_cam,
    integrated_gradients,
    plot,
    top_activations,
)
from cnnviz_widget.data import DIGIT_NAMES, digits, digits_cnn
from cnnviz_widget.methods.trust import rank_correlation
from cnnviz_widget.methods.weights import untrained_copy

model = digits_cnn()
dataset, labels = digits(None)  # the 1,000 held-out digits
images = dataset[:8]

# %% [markdown]
# ## Which digits most excite each channel of the second conv layer
#
# `top_activations` scores every image of the dataset for every channel of a layer (the mean
# of the channel's map) in one forward pass per batch, keeping only the best `k` per channel:
# memory stays one batch plus `channels x k` numbers, however big the dataset. (Given a Dask
# client, `client=`, the same call spreads the batches over a cluster.)

# %%
top = top_activations(model, dataset, "conv2d_1", k=8)
print(top.indices.shape, "= (channels, k)")
fig, axes = plt.subplots(6, 8, figsize=(8, 6.4))
for row, channel in enumerate(range(6)):
    for col in range(8):
        ax = axes[row, col]
        ax.imshow(dataset[top.indices[channel, col], ..., 0], cmap="gray")
        ax.set_xticks([])
        ax.set_yticks([])
        if col == 0:
            ax.set_ylabel(f"ch {channel}")
        ax.set_title(f"{labels[top.indices[channel, col]]}", fontsize="small")
fig.suptitle("conv2d_1: the 8 digits that excite channels 0-5 most (label above each)")
plt.show()

# %% [markdown]
# The grid reads like a dictionary of what the layer detects: channels 2 and 3 fire most
# on 0s (closed round strokes), channels 1 and 5 on 3s and 5s (curves that open to the
# left). Next to them, the same channels' feature maps for one digit, and the kernels that
# make them:

# %%
plot.feature_maps(model, images[0], "conv2d_1")
plt.show()
plot.kernels(model, "conv2d_1", baseline="untrained")
plt.show()

# %% [markdown]
# In the explorer, the **Examples** tab shows the same for the selected layer and channel,
# with the channel's map over each image, streamed while it scans:

# %%
LayerExplorer(
    model, images, class_names=DIGIT_NAMES, dataset=dataset, layer="conv2d_1", view="examples"
)

# %% [markdown]
# ## How far to trust a heatmap
#
# **Deletion and insertion** (Petsiuk, Das and Saenko, *RISE*, BMVC 2018): rank the pixels by
# the map, then remove them most-important first and watch the probability of the class fall
# (deletion), or start from a black image and put them back (insertion). A faithful map makes
# the probability fall fast (a **low** deletion AUC) and rise fast (a **high** insertion AUC).
# The yardstick is a random map of the same size: a map no better than it explains nothing.

# %%
image = images[:1]
cam = grad_cam(model, image, "conv2d_1", upsample=False, normalize=False)
chance = np.random.default_rng(0).random(cam.shape)
curves = {
    (metric, name): faithfulness(model, image, m, metric=metric, steps=20)
    for metric in ("deletion", "insertion")
    for name, m in (("Grad-CAM", cam), ("random", chance))
}
fig, axes = plt.subplots(1, 2, figsize=(9, 3))
for ax, metric in zip(axes, ("deletion", "insertion"), strict=True):
    for name, style in (("Grad-CAM", "-"), ("random", "--")):
        result = curves[metric, name]
        ax.plot(result.fractions, result.scores[0], style, label=f"{name} (AUC {result.auc[0]:.2f})")
    ax.set_xlabel("fraction of pixels " + ("removed" if metric == "deletion" else "restored"))
    ax.set_ylabel("probability of the class")
    ax.set_title(metric)
    ax.legend()
plt.show()

# %% [markdown]
# **Integrated gradients** (Sundararajan, Taly and Yan, ICML 2017) attribute the class score to
# pixels along a straight path from a black image: the attributions add up to
# score(image) - score(black) (*completeness*), so they are in units of the score.

# %%
attributions = integrated_gradients(model, image, steps=50)
print(f"sum of attributions {attributions.sum():.3f}")
plt.figure(figsize=(2.5, 2.5))
plt.imshow(np.abs(attributions[0, ..., 0]), cmap="jet")
plt.title("|integrated gradients|")
plt.axis("off")
plt.show()

# %% [markdown]
# **A sanity check** (Adebayo et al., *Sanity Checks for Saliency Maps*, NeurIPS 2018): the
# same map on an untrained copy of the network. If the two look alike (a rank correlation
# near 1), the map shows the image more than what the model learned. Grad-CAM passes here;
# the Grad-CAM tab's *sanity check* switch draws the two side by side.

# %%
twin = untrained_copy(model)
trained, untrained = grad_cam(model, image, "conv2d_1"), grad_cam(twin, image, "conv2d_1")
print(f"rank correlation, trained vs untrained: {rank_correlation(trained, untrained):.2f}")
fig, axes = plt.subplots(1, 2, figsize=(5, 2.5))
for ax, cam_map, title in zip(axes, (trained, untrained), ("trained", "untrained"), strict=True):
    ax.imshow(cam_map[0], cmap="jet")
    ax.set_title(title)
    ax.axis("off")
plt.show()

# %% [markdown]
# The explorer puts all three beside the heatmap: the Grad-CAM tab's read-out (deletion and
# insertion AUC of the map and of a random map, with their curves), its sanity switch, and
# integrated gradients in the Saliency tab. `docs/trust.md` says more about reading them.

# %%
LayerExplorer(model, images, class_names=DIGIT_NAMES, layer="conv2d_1", view="gradcam")
