"""Filter patterns by gradient ascent, checked with activations computed by Keras itself.

Every activation below comes from ``keras.Model(inputs, layer.output)`` on the returned
images, not from the adapter that drove the ascent.  The decorrelated (``1 / f``) steps,
jitter and blur are always on, so these tests show that the regularised ascent still climbs.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from cnnviz_widget.methods import Cancelled
from cnnviz_widget.methods.maximize import maximize_filter, maximize_filters
from cnnviz_widget.render import GAP, grid_shape, pattern_picture


def _vgg_small(keras, name="vgg_small"):
    """Three VGG blocks (3x3 convs, ReLU, max pooling) on 32x32x3, randomly initialised."""
    x = keras.Input((32, 32, 3), name="image")
    h = x
    for block, width in ((1, 16), (2, 32), (3, 64)):
        for i in (1, 2):
            h = keras.layers.Conv2D(
                width, 3, padding="same", activation="relu", name=f"block{block}_conv{i}"
            )(h)
        h = keras.layers.MaxPooling2D(name=f"block{block}_pool")(h)
    return keras.Model(x, h, name=name)


@pytest.fixture(scope="module")
def digits(keras):
    from cnnviz_widget.data import digits_cnn

    return digits_cnn()


@pytest.fixture(scope="module")
def vgg(keras):
    keras.utils.set_random_seed(3)
    return _vgg_small(keras)


@pytest.fixture(scope="module")
def nested_classifier(keras):
    """A Sequential around another VGG-style model, so its layers are ``vgg_small/...``."""
    keras.utils.set_random_seed(4)
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            _vgg_small(keras),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(10, activation="softmax", name="probs"),
        ],
        name="classifier",
    )


def _probe(keras, model, layer):
    """``images -> (N, channels)`` mean activation per filter, straight from Keras."""
    if "/" in layer:  # an inner layer: probe the sub-model, which gets the images unchanged
        outer, inner = layer.split("/")
        model, layer = model.get_layer(outer), inner
    sub = keras.Model(model.inputs[0], model.get_layer(layer).output)

    def mean_activation(images):
        out = np.asarray(sub(images, training=False))
        return out.mean(axis=tuple(range(1, out.ndim - 1))) if out.ndim > 2 else out

    return mean_activation


# Which filters, and the margin each layer's filters reach over 8 random uniform images:
# - the trained digits CNN's deeper layers respond to strokes that uniform noise never
#   draws, so their patterns beat random images many times over (3x asked);
# - a first conv layer, and a bias-free randomly initialised ReLU network, are (close to)
#   positively homogeneous in the input: in the [0, 1] box the best input is at most about
#   twice as bright as a uniform image (mean 0.5), so no image at all beats random ones by
#   3x on every filter (the digits CNN's first layer: 1.9x for filters whose best input is
#   plain white; the random VGG's weakest filters here: 1.45x).  There the test asks for
#   1.4x (1.3x) and, above all, a margin of 10 standard deviations of the random images'
#   activation over the best of them: the spatial mean over many positions barely varies
#   between random images, so random search does not get near.
# Filters that no input in range wakes (dead ReLUs: 31 of the trained dense layer's 100
# units never fire on digits either; a few of the random VGG's) are left out.
CASES = [
    ("digits", "conv2d", [0, 2, 3, 4, 6, 7], 1.4),
    ("digits", "conv2d_1", [0, 1, 2, 4, 5, 6], 3.0),
    ("digits", "dense", [0, 2, 4, 5], 3.0),  # units that fire on digits (31 of 100 never do)
    ("vgg", "block2_conv1", [0, 1, 3, 5, 6, 7], 1.3),
    ("vgg", "block3_conv2", [0, 2, 4, 10, 33, 63], 1.3),
    ("nested_classifier", "vgg_small/block2_conv1", [1, 2, 4, 8], 1.3),
]


@pytest.mark.parametrize(("model_name", "layer", "filters", "ratio"), CASES)
def test_patterns_raise_the_filters_activation_far_above_random_images(
    request, keras, model_name, layer, filters, ratio
):
    model = request.getfixturevalue(model_name)
    patterns = maximize_filters(model, layer, filters)
    start = maximize_filters(model, layer, filters, steps=0)
    shape = patterns.shape[1:]
    random_images = np.random.default_rng(5).random((8, *shape), dtype=np.float32)

    activation = _probe(keras, model, layer)
    picked = np.arange(len(filters))
    ours = activation(patterns)[picked, filters]
    on_start = activation(start)[picked, filters]
    on_random = activation(random_images)[:, filters]
    best_random, spread = on_random.max(axis=0), on_random.std(axis=0)

    assert patterns.shape == (len(filters), *shape)
    assert (ours > 1.5 * on_start).all(), (ours, on_start)
    assert (ours > ratio * best_random).all(), (ours, best_random)
    assert (ours > best_random + 10 * spread).all(), (ours, best_random, spread)


def test_same_seed_same_patterns_other_seed_other_patterns(digits):
    first = maximize_filters(digits, "conv2d_1", [3, 7], steps=8, seed=11)
    again = maximize_filters(digits, "conv2d_1", [3, 7], steps=8, seed=11)
    other = maximize_filters(digits, "conv2d_1", [3, 7], steps=8, seed=12)
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 0.1


def test_a_filters_pattern_does_not_depend_on_the_rest_of_the_batch(vgg):
    # Each filter draws from its own generator, seeded by (seed, filter index), and samples
    # of a batch are independent in inference mode.  On this CPU the results are bitwise
    # equal; the tolerance allows for kernels that sum in another order per batch size.
    batch = maximize_filters(vgg, "block2_conv1", [4, 9, 17, 30], steps=10)
    other_batch = maximize_filters(vgg, "block2_conv1", [30, 2, 9], steps=10)
    alone = maximize_filter(vgg, "block2_conv1", 9, steps=10)
    np.testing.assert_allclose(other_batch[2], batch[1], atol=1e-4)
    np.testing.assert_allclose(other_batch[0], batch[3], atol=1e-4)
    np.testing.assert_allclose(alone, batch[1], atol=1e-4)


def test_maximize_filter_is_one_model_input(digits):
    pattern = maximize_filter(digits, "conv2d", 4, steps=3)
    assert pattern.shape == (28, 28, 1)
    assert pattern.dtype == np.float32
    np.testing.assert_array_equal(pattern, maximize_filters(digits, "conv2d", [4], steps=3)[0])


def test_a_cancelled_run_stops_within_one_step(digits):
    steps_seen = []

    def on_step(step, images, values):
        steps_seen.append(step)
        assert images.shape == (3, 28, 28, 1)
        assert values.shape == (3,)
        assert not images.flags.writeable  # handed over without a copy

    with pytest.raises(Cancelled):
        maximize_filters(
            digits,
            "conv2d_1",
            [0, 1, 2],
            steps=30,
            should_stop=lambda: len(steps_seen) >= 3,
            on_step=on_step,
        )
    assert steps_seen == [1, 2, 3]


def test_stopping_before_the_first_step_runs_no_step(digits):
    seen = []
    with pytest.raises(Cancelled):
        maximize_filters(digits, "conv2d", [0], should_stop=lambda: True, on_step=seen.append)
    assert seen == []


def test_on_step_values_climb(digits):
    values = {}
    result = maximize_filters(
        digits, "conv2d_1", [0, 4, 5], on_step=lambda step, x, v: values.update({step: v})
    )
    assert sorted(values) == list(range(1, 31))
    assert (values[30] > 2 * values[1]).all(), (values[1], values[30])
    assert result.flags.writeable


@pytest.mark.parametrize("input_range", [None, (-1.0, 1.0), (0.0, 255.0)])
def test_patterns_stay_in_the_input_range(vgg, input_range):
    lo, hi = input_range or (0.0, 1.0)
    patterns = maximize_filters(vgg, "block1_conv2", [0, 1, 2], steps=6, input_range=input_range)
    assert patterns.dtype == np.float32
    assert patterns.min() >= lo
    assert patterns.max() <= hi
    assert patterns.max() - patterns.min() > 0.1 * (hi - lo)  # not stuck at the grey start


def test_size_follows_the_model(keras, vgg):
    x = keras.Input((None, None, 3))
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv_a")(x)
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv_b")(h)
    fully_convolutional = keras.Model(x, h)
    patterns = maximize_filters(fully_convolutional, "conv_b", [0, 3], steps=3, size=(40, 24))
    assert patterns.shape == (2, 40, 24, 3)
    with pytest.raises(ValueError, match="size"):
        maximize_filters(fully_convolutional, "conv_b", [0], steps=1)
    with pytest.raises(ValueError, match="fixed at 32"):
        maximize_filters(vgg, "block1_conv1", [0], steps=1, size=(64, 64))
    assert maximize_filters(vgg, "block1_conv1", [0], steps=1, size=(32, 32)).shape[1:3] == (
        32,
        32,
    )


def test_bad_requests_say_what_is_wrong(digits):
    with pytest.raises(ValueError, match="out of range: the layer 'conv2d' has filters 0 to 31"):
        maximize_filters(digits, "conv2d", [3, 32], steps=1)
    with pytest.raises(KeyError, match="conv2d_1"):
        maximize_filters(digits, "conv2d_9", [0], steps=1)
    with pytest.raises(ValueError, match="non-empty"):
        maximize_filters(digits, "conv2d", [], steps=1)
    with pytest.raises(ValueError, match="input_range"):
        maximize_filters(digits, "conv2d", [0], steps=1, input_range=(1, 0))


# ------------------------------------------------------------------------------ pictures
def _decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


@pytest.mark.parametrize("k", [1, 3, 8, 16, 32, 64, 100])
def test_pattern_picture_layout(k):
    h, w = 5, 7
    images = np.random.default_rng(0).random((k, h, w, 3), dtype=np.float32)
    picture = pattern_picture(images, filter_indices=range(k), step=12, steps=30)
    rows, cols = grid_shape(k)
    height, width = rows * h + (rows - 1) * GAP, cols * w + (cols - 1) * GAP
    pixels = _decode(picture.png)
    assert pixels.shape == (height, width, 4)
    meta = picture.meta
    assert (meta["rows"], meta["cols"], meta["width"], meta["height"]) == (
        rows,
        cols,
        width,
        height,
    )
    assert meta["kind"] == "patterns"
    assert (meta["step"], meta["steps"], meta["true_shape"]) == (12, 30, [h, w, 3])
    assert (meta["tile_width"], meta["tile_height"], meta["downsample"]) == (w, h, 1)
    assert picture.caption.startswith(f"{k} filter{'s' if k > 1 else ''} · step 12/30")
    if cols > 1:
        assert (pixels[:, w, 3] == 0).all()  # the gap after the first column is transparent
    assert (pixels[:h, :w, 3] == 255).all()


def test_a_big_grid_is_downsampled_to_the_atlas_bound():
    images = np.zeros((64, 224, 224, 3), np.float32)
    picture = pattern_picture(
        images, filter_indices=range(64), true_shape=(224, 224, 3), step=1, steps=30
    )
    assert max(picture.meta["width"], picture.meta["height"]) <= 1024
    assert picture.meta["downsample"] > 1
    assert picture.meta["true_shape"] == [224, 224, 3]
    assert "tiles shown at" in picture.caption


def test_tiles_are_stretched_on_their_own_as_the_lessons_deprocess():
    # Tile 0: grey, mean 0.5 and std 0.1 (checkerboard of 0.4 / 0.6): mean +- 3 std fill the
    # range, so 0.6 -> 0.5 + 0.1 / 0.6 = 2/3 -> 170, 0.4 -> 1/3 -> 85.  Tile 1: the same
    # pattern darker and at a fifth of the contrast draws the same.  Tile 2: flat white (its
    # best input is plain white) is drawn white, not mid-grey.
    board = np.where(np.indices((4, 4)).sum(axis=0) % 2 == 0, 1.0, -1.0)[..., None]
    images = np.stack([0.5 + 0.1 * board, 0.2 + 0.02 * board, np.ones((4, 4, 1))])
    pixels = _decode(pattern_picture(images, filter_indices=[0, 1, 2], step=1, steps=1).png)
    expected = np.where(board[..., 0] > 0, 170, 85)
    for tile in (0, 1):
        rgb = pixels[:, tile * (4 + GAP) : tile * (4 + GAP) + 4, :3]
        assert (rgb == expected[..., None]).all()
    assert (pixels[:, 2 * (4 + GAP) :, :3] == 255).all()


def test_colour_patterns_keep_their_colours():
    # Top half red (1, 0, 0), bottom half green (0, 1, 0): one mean (1/3) and one std
    # (sqrt(2) / 3) over all three channels, so 1 -> 0.5 + (2/3) / (2 * sqrt(2)) = 0.736 ->
    # 188 and 0 -> 0.5 - (1/3) / (2 * sqrt(2)) = 0.382 -> 97.
    image = np.zeros((1, 4, 4, 3), np.float32)
    image[0, :2, :, 0] = 1.0
    image[0, 2:, :, 1] = 1.0
    pixels = _decode(pattern_picture(image, filter_indices=[5], step=3, steps=30).png)
    assert (pixels[:2, :, :3] == [188, 97, 97]).all()
    assert (pixels[2:, :, :3] == [97, 188, 97]).all()
