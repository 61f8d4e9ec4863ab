"""The static figures of ``cnnviz_widget.plot``: what is drawn is the numbers a user would check.

The references come from Keras itself where one exists: feature maps from the tutorials'
``keras.Model(model.inputs, layer.output)``, kernels from ``layer.get_weights()``, class
probabilities from ``model.predict``; histograms are checked against ``np.histogram``.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

import cnnviz_widget
from cnnviz_widget import plot
from cnnviz_widget.data import DIGIT_NAMES
from cnnviz_widget.methods.maximize import maximize_filters
from cnnviz_widget.methods.weights import untrained_copy
from cnnviz_widget.render import GAP, pattern_display


@pytest.fixture(scope="module")
def model(keras):
    from cnnviz_widget.data import digits_cnn

    return digits_cnn()


@pytest.fixture(scope="module")
def image():
    from cnnviz_widget.data import digits

    return digits(3)[0][2]  # a "2", (28, 28, 1) float32 in [0, 1]


@pytest.fixture(scope="module")
def untrained(model):
    return untrained_copy(model)


def _images(fig: Figure) -> list:
    return [im for ax in fig.axes for im in ax.images]


def _tile(grid: np.ndarray, i: int, cols: int, h: int, w: int) -> np.ndarray:
    r, c = divmod(i, cols)
    return grid[r * (h + GAP) : r * (h + GAP) + h, c * (w + GAP) : c * (w + GAP) + w]


def _min_max(x: np.ndarray) -> np.ndarray:
    span = x.max() - x.min()
    return (x - x.min()) / span if span > 0 else np.zeros_like(x)


def _titles(fig: Figure) -> str:
    texts = [ax.get_title() for ax in fig.axes]
    if fig._suptitle is not None:
        texts.append(fig._suptitle.get_text())
    return " | ".join(texts)


@pytest.mark.parametrize(
    ("layer", "rows", "cols", "side"), [("conv2d", 4, 8, 26), ("conv2d_1", 8, 8, 11)]
)
def test_feature_maps_are_the_tutorial_maps_as_a_mosaic(
    keras, model, image, layer, rows, cols, side
):
    fig = plot.feature_maps(model, image, layer)

    assert isinstance(fig, Figure)
    assert len(fig.axes) == 1
    (drawn,) = _images(fig)
    grid = np.asarray(drawn.get_array().filled(np.nan))
    assert grid.shape == (rows * side + (rows - 1) * GAP, cols * side + (cols - 1) * GAP)
    # The package's own picture, exactly...
    maps = cnnviz_widget.activations(model, image, [layer])[layer][0]
    np.testing.assert_array_equal(grid, cnnviz_widget.mosaic(maps, gap=GAP, fill=np.nan))
    # ...and each tile is the tutorial's feature map, min-max scaled on its own.
    reference = keras.Model(model.inputs, model.get_layer(layer).output)([image[None]])[0]
    reference = np.asarray(reference)
    for i in range(rows * cols):
        tile = _tile(grid, i, cols, side, side)
        np.testing.assert_allclose(tile, _min_max(reference[..., i]), atol=1e-5)
    assert drawn.get_clim() == (0.0, 1.0)
    assert drawn.get_cmap().name.startswith("viridis")
    title = fig.axes[0].get_title()
    assert layer in title
    assert f"{side} × {side} × {rows * cols}" in title
    assert f"{rows} × {cols}" in title


def test_feature_maps_of_a_dense_layer_are_a_strip_of_values(model, image):
    fig = plot.feature_maps(model, image, "dense")

    strips = [im for im in fig.axes[0].images]
    assert len(strips) == 1
    values = cnnviz_widget.activations(model, image, ["dense"])["dense"]
    np.testing.assert_array_equal(strips[0].get_array(), values.reshape(1, -1))


def test_kernels_share_one_symmetric_scale_with_the_untrained_copy(model, untrained):
    trained_kernel = model.get_layer("conv2d").get_weights()[0]
    untrained_kernel = untrained.get_layer("conv2d").get_weights()[0]

    fig = plot.kernels(model, "conv2d", baseline=untrained)

    images = _images(fig)
    assert len(images) == 2
    assert len(fig.axes) == 3  # two panels and one colour bar
    vmax = max(np.abs(trained_kernel).max(), np.abs(untrained_kernel).max())
    for drawn in images:
        low, high = drawn.get_clim()
        assert low == -high
        assert high == pytest.approx(vmax, rel=1e-6)
    assert images[0].get_clim() == images[1].get_clim()
    # 32 filters as 2 x 16 tiles of 3 x 3; tile i is filter i at input channel 0.
    for drawn, kernel in zip(images, (trained_kernel, untrained_kernel), strict=True):
        grid = np.asarray(drawn.get_array().filled(np.nan))
        assert grid.shape == (2 * 3 + GAP, 16 * 3 + 15 * GAP)
        for i in range(32):
            np.testing.assert_array_equal(_tile(grid, i, 16, 3, 3), kernel[:, :, 0, i])
    assert "trained" in images[0].axes.get_title()
    assert "untrained" in images[1].axes.get_title()


def test_kernels_alone_pick_the_input_channel(model):
    kernel = model.get_layer("conv2d_1").get_weights()[0]  # (3, 3, 32, 64)

    fig = plot.kernels(model, "conv2d_1", in_channel=5)

    (drawn,) = _images(fig)
    assert drawn.get_clim() == pytest.approx((-np.abs(kernel).max(), np.abs(kernel).max()))
    grid = np.asarray(drawn.get_array().filled(np.nan))
    assert grid.shape == (4 * 3 + 3 * GAP, 16 * 3 + 15 * GAP)  # 64 filters: 4 x 16
    for i in (0, 17, 63):
        np.testing.assert_array_equal(_tile(grid, i, 16, 3, 3), kernel[:, :, 5, i])
    assert "input channel 5 of 32" in drawn.axes.get_title()


def test_kernels_of_a_layer_without_weights_say_so(model):
    with pytest.raises(ValueError, match="weights"):
        plot.kernels(model, "max_pooling2d")


def test_weight_histograms_share_their_bins(model, untrained):
    trained_kernel = model.get_layer("conv2d").get_weights()[0].ravel()
    untrained_kernel = untrained.get_layer("conv2d").get_weights()[0].ravel()
    both = np.concatenate([trained_kernel, untrained_kernel]).astype(np.float64)
    edges = np.linspace(both.min(), both.max(), 31)

    fig = plot.weight_histograms(model, "conv2d", baseline=untrained, bins=30)

    (ax,) = fig.axes
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == 2
    for container, values in zip(bars, (trained_kernel, untrained_kernel), strict=True):
        expected, _ = np.histogram(values.astype(np.float64), bins=edges)
        heights = [patch.get_height() for patch in container.patches]
        lefts = [patch.get_x() for patch in container.patches]
        np.testing.assert_array_equal(heights, expected)
        np.testing.assert_allclose(lefts, edges[:-1])
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    for label, values in zip(legend, (trained_kernel, untrained_kernel), strict=True):
        values = values.astype(np.float64)
        assert f"mean {values.mean():+.4f}" in label
        assert f"std {values.std():.4f}" in label
    assert legend[0].startswith("trained")
    assert legend[1].startswith("untrained")


def test_grad_cam_draws_the_package_map_over_the_image(model, image):
    probabilities = model.predict(image[None], verbose=0)[0]
    top = int(np.argmax(probabilities))

    fig = plot.grad_cam(model, image, class_names=DIGIT_NAMES)

    assert len(fig.axes) == 2
    left, right = fig.axes
    assert len(left.images) == 1
    assert len(right.images) == 2
    np.testing.assert_array_equal(left.images[0].get_array(), image[..., 0])
    heat = right.images[1]
    np.testing.assert_array_equal(heat.get_array(), cnnviz_widget.grad_cam(model, image)[0])
    assert heat.get_cmap().name == "jet"
    assert heat.get_alpha() == pytest.approx(0.5)
    assert heat.get_extent() == right.images[0].get_extent()
    assert f"{DIGIT_NAMES[top]} (p = {probabilities[top]:.2f})" in _titles(fig)


def test_grad_cam_of_another_class_and_method(model, image):
    probabilities = model.predict(image[None], verbose=0)[0]

    fig = plot.grad_cam(model, image, class_index=7, method="layercam", layer="conv2d_1")

    expected = cnnviz_widget.grad_cam(model, image, "conv2d_1", 7, method="layercam")[0]
    np.testing.assert_array_equal(fig.axes[1].images[1].get_array(), expected)
    titles = _titles(fig)
    assert f"class 7 (p = {probabilities[7]:.2f})" in titles
    assert "Layer-CAM" in titles
    assert "conv2d_1" in titles


def test_saliency_draws_the_package_map(model, image):
    probabilities = model.predict(image[None], verbose=0)[0]
    top = int(np.argmax(probabilities))

    fig = plot.saliency(model, image, class_names=DIGIT_NAMES)

    images = _images(fig)
    assert len(images) == 2
    assert len(fig.axes) == 3  # image, map, colour bar
    np.testing.assert_array_equal(images[1].get_array(), cnnviz_widget.saliency(model, image)[0])
    assert images[1].get_clim() == (0.0, 1.0)
    assert f"{DIGIT_NAMES[top]} (p = {probabilities[top]:.2f})" in _titles(fig)


def test_filter_patterns_draw_one_tile_per_filter(model):
    fig = plot.filter_patterns(model, "conv2d", range(16), steps=3)

    assert len(fig.axes) == 16  # 2 x 8
    tiles = _images(fig)
    assert len(tiles) == 16
    patterns = maximize_filters(model, "conv2d", list(range(16)), steps=3)
    shown = pattern_display(patterns, (0.0, 1.0))
    for i, tile in enumerate(tiles):
        np.testing.assert_array_equal(tile.get_array(), shown[i])
        assert tile.axes.get_title() == str(i)


def test_filter_patterns_hide_unused_axes(model):
    filters = [3, 9, 40, 41, 42, 50, 60, 61, 62, 63]
    fig = plot.filter_patterns(model, "conv2d_1", filters, steps=2)

    tiles = _images(fig)
    assert [t.axes.get_title() for t in tiles] == [str(f) for f in filters]
    assert len(fig.axes) == 16  # 10 filters: 2 x 8, the last 6 axes hidden
    assert [ax.axison for ax in fig.axes] == [True] * 10 + [False] * 6


def test_figures_are_not_left_open_in_pyplot(model, image):
    before = plt.get_fignums()
    plot.feature_maps(model, image, "conv2d")
    plot.kernels(model, "conv2d")
    assert plt.get_fignums() == before


def test_one_image_at_a_time(model, image):
    with pytest.raises(ValueError, match="one image"):
        plot.feature_maps(model, np.stack([image, image]), "conv2d")
    with pytest.raises(ValueError, match="one image"):
        plot.grad_cam(model, np.stack([image, image]))
