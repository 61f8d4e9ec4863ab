"""The Weights view: kernel grids, dense matrices, histograms and the untrained baseline.

Kernels are set by hand (``set_weights``) on real Keras layers, read back with
``layer_weights`` and drawn; each tile's pixels are predicted with matplotlib's own
``Normalize`` and colour map on the layer's shared symmetric scale.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from matplotlib import colormaps
from matplotlib.colors import Normalize
from PIL import Image

import cnnviz_widget
from cnnviz_widget.methods.weights import (
    bias_values,
    resolve_baseline,
    untrained_copy,
    weight_histogram,
)
from cnnviz_widget.render import GAP, NAN_RGB, filter_detail, kernel_grid_picture, matrix_picture
from cnnviz_widget.views import Session
from cnnviz_widget.views.weights import weights_details


def weights_view(model, layer, *, baseline=None, **options):
    """The Weights tab's details for ``model`` (through the public session, as the tab)."""
    return weights_details(Session.of(model, baseline=baseline), layer, **options)


def _decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def _mpl_rgb(values: np.ndarray, vmax: float, cmap: str = "RdBu_r") -> np.ndarray:
    """What matplotlib draws for ``values`` with ``imshow(..., vmin=-vmax, vmax=vmax)``."""
    norm = Normalize(vmin=-vmax, vmax=vmax, clip=True)(np.atleast_1d(np.float32(values)))
    rgb = (colormaps[cmap](norm)[..., :3] * 255 + 0.5).astype(np.uint8)
    return rgb.reshape(*np.shape(values), 3)


def _lut(index: int, cmap: str = "RdBu_r") -> np.ndarray:
    return (np.asarray(colormaps[cmap](index))[:3] * 255 + 0.5).astype(np.uint8)


def _tile(pixels: np.ndarray, meta: dict, index: int) -> np.ndarray:
    r, c = divmod(index, meta["cols"])
    th, tw, gap = meta["tile_height"], meta["tile_width"], meta["gap"]
    return pixels[r * (th + gap) : r * (th + gap) + th, c * (tw + gap) : c * (tw + gap) + tw]


def _weights_bytes(model) -> list[bytes]:
    return [np.asarray(w).tobytes() for w in model.get_weights()]


@pytest.fixture
def conv32(keras):
    """Conv2D(32, 3) on 2 input channels with a ramp kernel: every weight known."""
    model = keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            keras.layers.Conv2D(32, 3, name="conv"),
            keras.layers.MaxPooling2D(name="pool"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(10, name="dense"),
        ],
        name="conv32",
    )
    ramp = ((np.arange(3 * 3 * 2 * 32, dtype=np.float32) - 300.25) / 250).reshape(3, 3, 2, 32)
    bias = np.linspace(-1, 1, 32, dtype=np.float32)
    model.get_layer("conv").set_weights([ramp, bias])
    return model, ramp, bias


# --------------------------------------------------------------------- kernel grids
def test_kernel_grid_of_32_filters_is_2x16_with_matplotlib_colours(conv32):
    model, ramp, _ = conv32
    kernel, _bias = cnnviz_widget.layer_weights(model, "conv")
    np.testing.assert_array_equal(kernel, ramp)  # (kh, kw, in, out), no transposes
    vmax = float(np.abs(ramp).max())
    for channel in (0, 1):
        picture = kernel_grid_picture(kernel, in_channel=channel)
        meta, pixels = picture.meta, _decode(picture.png)
        assert meta["kind"] == "kernels"
        assert (meta["rows"], meta["cols"], meta["channels"]) == (2, 16, 32)
        assert meta["cell"] == 10
        assert (meta["tile_height"], meta["tile_width"]) == (30, 30)
        assert pixels.shape == (2 * 30 + GAP, 16 * 30 + 15 * GAP, 4)
        assert (meta["height"], meta["width"]) == pixels.shape[:2]
        assert meta["vmin"] == -meta["vmax"] == pytest.approx(-vmax)
        assert meta["tile_output_channel"] == list(range(32))
        expected = _mpl_rgb(ramp[:, :, channel, :], meta["vmax"])  # (3, 3, 32, 3)
        for f in range(32):
            tile = _tile(pixels, meta, f)
            want = np.repeat(np.repeat(expected[:, :, f], 10, axis=0), 10, axis=1)
            np.testing.assert_array_equal(tile[..., :3], want)
            assert (tile[..., 3] == 255).all()
        # The gap between tiles is transparent.
        assert (pixels[30, :, 3] == 0).all()
        assert (pixels[:, 30, 3] == 0).all()
    json.dumps(meta)
    assert "32 filters" in picture.caption
    assert "input channel 1 of 2" in picture.caption


def test_single_weights_land_in_the_predicted_tile_and_cell():
    kernel = np.zeros((3, 3, 2, 32), np.float32)
    kernel[2, 0, 1, 17] = 1.0  # the largest |w|: the scale is +-1
    kernel[0, 1, 0, 5] = -0.5
    top, middle, quarter = _lut(255), _lut(128), _lut(64)

    one = kernel_grid_picture(kernel, in_channel=1)
    pixels = _decode(one.png)
    for f in range(32):
        tile = _tile(pixels, one.meta, f)[..., :3].reshape(3, 10, 3, 10, 3)
        for i in range(3):
            for j in range(3):
                want = top if (f, i, j) == (17, 2, 0) else middle
                assert (tile[i, :, j] == want).all(), (f, i, j)

    zero = kernel_grid_picture(kernel, in_channel=0)
    tile = _tile(_decode(zero.png), zero.meta, 5)[..., :3]
    assert (tile[0:10, 10:20] == quarter).all()  # -0.5 on +-1 is a quarter up the map
    assert zero.meta["vmax"] == 1.0


@pytest.mark.parametrize(
    ("filters", "rows", "cols"),
    [(1, 1, 1), (3, 1, 3), (16, 1, 16), (32, 2, 16), (64, 4, 16), (100, 7, 16), (512, 32, 16)],
)
def test_kernel_grid_layout(filters, rows, cols):
    kernel = np.random.default_rng(0).normal(size=(3, 3, 2, filters)).astype(np.float32)
    meta = kernel_grid_picture(kernel, depthwise=True).meta  # one tile per (in, multiplier)
    assert meta["channels"] == 2 * filters
    kernel = kernel[:, :, :1]
    meta = kernel_grid_picture(kernel).meta
    assert (meta["rows"], meta["cols"]) == (rows, cols)
    assert max(meta["width"], meta["height"]) <= 1024
    assert meta["height"] == rows * meta["tile_height"] + (rows - 1) * meta["gap"]
    assert meta["width"] == cols * meta["tile_width"] + (cols - 1) * meta["gap"]
    wide = kernel_grid_picture(kernel, gap=3).meta
    assert wide["gap"] == 3
    assert wide["width"] == cols * wide["tile_width"] + (cols - 1) * 3


def test_one_filter_on_several_inputs_is_tiled_per_input_channel():
    meta = kernel_grid_picture(np.ones((3, 3, 4, 1), np.float32)).meta
    assert (meta["tiles"], meta["channels"], meta["tile_output_channel"]) == (
        "input_channels",
        4,
        [0, 0, 0, 0],
    )


def test_one_scale_is_shared_by_all_tiles_and_can_be_given():
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(3, 3, 3, 8)).astype(np.float32)
    kernel[..., 0] *= 10  # one loud filter sets the scale for the quiet ones too
    vmax = float(np.abs(kernel).max())
    picture = kernel_grid_picture(kernel, in_channel=2)
    assert picture.meta["vmax"] == pytest.approx(vmax)
    pixels = _decode(picture.png)
    for f in range(8):
        want = _mpl_rgb(kernel[:, :, 2, f], vmax)
        got = _tile(pixels, picture.meta, f)[::10, ::10, :3]
        np.testing.assert_array_equal(got, want)
    # Half the weights on the first kernel's scale: colours of the halved values.
    half = kernel_grid_picture(kernel / 2, in_channel=2, vmax=vmax)
    got = _tile(_decode(half.png), half.meta, 3)[::10, ::10, :3]
    np.testing.assert_array_equal(got, _mpl_rgb(kernel[:, :, 2, 3] / 2, vmax))
    colorbar = picture.meta["colorbar"]
    assert len(colorbar["colors"]) == 11
    assert colorbar["vmin"] == -colorbar["vmax"] == pytest.approx(-vmax)
    assert colorbar["colors"][0] == "#{:02x}{:02x}{:02x}".format(*_lut(0))
    assert colorbar["colors"][-1] == "#{:02x}{:02x}{:02x}".format(*_lut(255))


def test_rgb_rendering_of_a_first_layer(keras):
    model = keras.Sequential([keras.Input((5, 5, 3)), keras.layers.Conv2D(4, 2, name="rgb")])
    rng = np.random.default_rng(2)
    kernel = rng.choice(np.float32([-0.5, 0.0, 0.5]), size=(2, 2, 3, 4))
    kernel[0, 0, 0, 0] = 0.5
    model.get_layer("rgb").set_weights([kernel, np.zeros(4, np.float32)])
    k, _ = cnnviz_widget.layer_weights(model, "rgb")
    picture = kernel_grid_picture(k, rgb=True)
    meta = picture.meta
    assert meta["tiles"] == "rgb"
    assert meta["tiles"] == "rgb"
    assert (meta["rows"], meta["cols"]) == (1, 4)
    pixels = _decode(picture.png)
    levels = {-0.5: 0, 0.0: 128, 0.5: 255}  # [-vmax, vmax] -> [0, 255], rounded
    for f in range(4):
        tile = _tile(pixels, meta, f)[:: meta["cell"], :: meta["cell"], :3]
        want = np.vectorize(levels.get)(kernel[..., f]).astype(np.uint8)
        np.testing.assert_array_equal(tile, want)
    with pytest.raises(ValueError, match="3 input channels"):
        kernel_grid_picture(np.zeros((3, 3, 2, 4), np.float32), rgb=True)


def test_depthwise_kernel_has_one_tile_per_input_channel(keras):
    model = keras.Sequential(
        [keras.Input((6, 6, 5)), keras.layers.DepthwiseConv2D(3, use_bias=False, name="dw")]
    )
    kernel = np.zeros((3, 3, 5, 1), np.float32)
    kernel[1, 2, 3, 0] = 2.0
    kernel[0, 0, 0, 0] = -2.0
    model.get_layer("dw").set_weights([kernel])
    k, bias = cnnviz_widget.layer_weights(model, "dw")
    assert k.shape == (3, 3, 5, 1)
    assert bias is None
    for depthwise in (False, True):  # (kh, kw, in, 1) is tiled per channel either way
        picture = kernel_grid_picture(k, depthwise=depthwise)
        meta, pixels = picture.meta, _decode(picture.png)
        assert (meta["rows"], meta["cols"], meta["channels"]) == (1, 5, 5)
        for c in range(5):
            tile = _tile(pixels, meta, c)[::10, ::10, :3]
            np.testing.assert_array_equal(tile, _mpl_rgb(kernel[:, :, c, 0], 2.0))
    view = weights_view(model, "dw")
    assert view["depthwise"]
    assert view["trained"].meta["tiles"] == "depthwise"
    assert view["bias"] is None


def test_depth_multiplier_tiles_follow_keras_output_channels(keras):
    model = keras.Sequential(
        [keras.Input((5, 5, 3)), keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="dw")]
    )
    kernel = np.zeros((3, 3, 3, 2), np.float32)
    kernel[1, 1, 2, 1] = 1.0  # input channel 2, multiplier 1
    model.get_layer("dw").set_weights([kernel, np.zeros(6, np.float32)])
    k, _ = cnnviz_widget.layer_weights(model, "dw")
    picture = kernel_grid_picture(k, depthwise=True)
    assert picture.meta["channels"] == 6
    assert picture.meta["tile_output_channel"] == list(range(6))
    pixels = _decode(picture.png)
    top = _lut(255)
    lit = [f for f in range(6) if (_tile(pixels, picture.meta, f)[..., :3] == top).all(-1).any()]
    # Keras really puts that filter's output in channel 2 * 2 + 1.
    x = np.zeros((1, 5, 5, 3), np.float32)
    x[0, 2, 2, 2] = 1.0
    out = cnnviz_widget.activations(model, x, "dw")["dw"][0]
    assert lit == [int(np.argmax(np.abs(out).sum(axis=(0, 1))))] == [5]
    detail = filter_detail(k, None, 5, depthwise=True)
    assert detail["output_channel"] == 5
    assert detail["values"][1][1] == 1.0


def test_conv1d_and_nan_kernels():
    kernel = np.random.default_rng(3).normal(size=(5, 2, 4)).astype(np.float32)
    meta = kernel_grid_picture(kernel).meta
    assert (meta["rows"], meta["cols"], meta["tile_height"] // meta["cell"]) == (1, 4, 1)
    kernel[0, 0, 1] = np.nan
    picture = kernel_grid_picture(kernel)
    assert any("NaN" in w for w in picture.warnings)
    assert (_tile(_decode(picture.png), picture.meta, 1)[0, 0, :3] == NAN_RGB).all()


# ------------------------------------------------------------------------- dense
def test_dense_kernel_is_a_block_mean_matrix_with_its_true_shape(keras):
    model = keras.Sequential([keras.Input((1030,)), keras.layers.Dense(10, name="fc")])
    i, j = np.meshgrid(np.arange(1030), np.arange(10), indexing="ij")
    kernel = ((i - 515) / 1024 + (j - 4.5) / 8).astype(np.float32)  # exact in float32
    model.get_layer("fc").set_weights([kernel, np.arange(10, dtype=np.float32)])
    k, bias = cnnviz_widget.layer_weights(model, "fc")
    np.testing.assert_array_equal(k, kernel)
    picture = kernel_grid_picture(k)
    meta = picture.meta
    assert meta["kind"] == "matrix"
    assert meta["true_shape"] == [1030, 10]
    assert meta["downsample_axes"] == [3, 1]
    assert meta["shown_shape"] == [344, 10]
    assert max(meta["width"], meta["height"]) <= 512
    assert "1030 × 10" in picture.caption
    vmax = float(np.abs(kernel).max())
    assert meta["vmax"] == pytest.approx(vmax)
    means = np.array([kernel[3 * r : 3 * r + 3].astype(np.float64).mean(0) for r in range(344)])
    pixels = _decode(picture.png)
    drawn = pixels[:: meta["cell_height"], :: meta["cell_width"], :3]
    np.testing.assert_array_equal(drawn, _mpl_rgb(means.astype(np.float32), vmax))
    assert (pixels[..., 3] == 255).all()
    # The last block holds one row only: its mean is that row.
    np.testing.assert_array_equal(drawn[-1], _mpl_rgb(kernel[-1], vmax))
    detail = filter_detail(k, bias, 7)
    assert detail["kind"] == "column"
    assert detail["bias"] == 7.0
    assert len(detail["values"]) == 1030
    np.testing.assert_allclose(detail["values"], kernel[:, 7], rtol=1e-3)


def test_small_dense_matrix_is_enlarged_not_downsampled():
    kernel = np.random.default_rng(4).normal(size=(64, 10)).astype(np.float32)
    picture = matrix_picture(kernel)
    meta = picture.meta
    assert meta["downsample"] == 1
    assert (meta["cell_height"], meta["cell_width"]) == (4, 12)
    drawn = _decode(picture.png)[::4, ::12, :3]
    np.testing.assert_array_equal(drawn, _mpl_rgb(kernel, float(np.abs(kernel).max())))


# ------------------------------------------------------------- numbers and stats
def test_histogram_counts_and_moments_equal_numpy():
    rng = np.random.default_rng(5)
    trained = rng.normal(0.02, 0.1, size=(3, 3, 16, 32)).astype(np.float32)
    baseline = rng.uniform(-0.2, 0.2, size=(3, 3, 16, 32)).astype(np.float32)
    h = weight_histogram(trained, baseline, bins=40)
    json.dumps(h)
    both = np.concatenate([trained.ravel(), baseline.ravel()]).astype(np.float64)
    edges = np.linspace(both.min(), both.max(), 41)
    np.testing.assert_allclose(h["edges"], edges, rtol=0, atol=1e-12)
    for key, values in (("trained", trained), ("baseline", baseline)):
        x = values.astype(np.float64).ravel()
        counts, _ = np.histogram(x, bins=np.asarray(h["edges"]))
        assert h[key]["counts"] == counts.tolist()
        assert sum(h[key]["counts"]) == x.size == h[key]["count"]
        assert h[key]["mean"] == pytest.approx(np.mean(x), rel=1e-12)
        assert h[key]["std"] == pytest.approx(np.std(x), rel=1e-12)
    alone = weight_histogram(trained, bins=10)
    assert alone["baseline"] is None
    assert len(alone["edges"]) == 11
    with_nan = trained.copy()
    with_nan[0, 0, 0, 0] = np.nan
    assert weight_histogram(with_nan)["trained"]["nonfinite"] == 1
    # A kernel and its bias together.
    joint = weight_histogram((trained, np.ones(32, np.float32)))
    assert joint["trained"]["count"] == trained.size + 32


def test_bias_values_and_filter_detail_numbers(conv32):
    model, ramp, bias = conv32
    kernel, b = cnnviz_widget.layer_weights(model, "conv")
    listed = bias_values(b)
    assert listed["count"] == 32
    assert not listed["truncated"]
    np.testing.assert_allclose(listed["values"], bias, rtol=1e-3, atol=1e-12)
    assert bias_values(None) is None
    detail = filter_detail(kernel, b, 17, in_channel=1)
    json.dumps(detail)
    assert detail["shape"] == [3, 3]
    assert detail["output_channel"] == 17
    np.testing.assert_allclose(detail["values"], ramp[:, :, 1, 17], rtol=1e-3)
    assert detail["bias"] == pytest.approx(bias[17], rel=1e-3)
    vmax = float(np.abs(ramp).max())
    assert detail["vmax"] == pytest.approx(vmax)
    want = _mpl_rgb(ramp[2, 0, 1, 17], vmax)
    assert detail["colors"][2][0] == "#{:02x}{:02x}{:02x}".format(*want)
    norm = np.sqrt(np.sum(ramp[..., 17].astype(np.float64) ** 2))
    assert detail["norm"] == pytest.approx(norm, rel=1e-3)
    with pytest.raises(ValueError, match="in_channel"):
        filter_detail(kernel, b, 0, in_channel=2)


# ---------------------------------------------------------------- the baseline
def test_untrained_copy_is_fresh_same_shaped_and_leaves_the_model_alone(conv32):
    model, _, _ = conv32
    before = _weights_bytes(model)
    copy = untrained_copy(model)
    assert untrained_copy(model) is copy  # built once
    assert copy is not model
    assert copy.built
    names = [i.name for i in cnnviz_widget.list_layers(model)]
    assert [i.name for i in cnnviz_widget.list_layers(copy)] == names
    for name in ("conv", "dense"):
        k, _ = cnnviz_widget.layer_weights(model, name)
        k0, _ = cnnviz_widget.layer_weights(copy, name)
        assert k0.shape == k.shape
        assert not np.array_equal(k0, k)
    assert _weights_bytes(model) == before


def test_untrained_copy_of_a_nested_vgg(nested_vgg):
    before = _weights_bytes(nested_vgg)
    copy = untrained_copy(nested_vgg)
    infos = cnnviz_widget.list_layers(nested_vgg)
    assert [i.name for i in cnnviz_widget.list_layers(copy)] == [i.name for i in infos]
    assert copy.get_layer("vgg16") is not nested_vgg.get_layer("vgg16")
    checked = 0
    for info in infos:
        if info.kind not in ("conv", "dense"):
            continue
        k, _ = cnnviz_widget.layer_weights(nested_vgg, info.name)
        k0, _ = cnnviz_widget.layer_weights(copy, info.name)
        assert k0.shape == k.shape
        assert not np.array_equal(k0, k), info.name
        checked += 1
    assert checked == 14  # 13 convolutions inside vgg16, one dense outside
    assert _weights_bytes(nested_vgg) == before
    view = weights_view(nested_vgg, "vgg16/block1_conv1", baseline="untrained", rgb=True)
    assert view["rgb_available"]
    assert view["baseline"] is not None
    assert view["trained"].meta["vmax"] == view["baseline"].meta["vmax"] == view["vmax"]


def test_untrained_copy_of_a_functional_model_keeps_every_name(keras):
    inner_in = keras.Input((8, 8, 4), name="inner_image")
    inner = keras.Model(
        inner_in, keras.layers.Conv2D(4, 3, padding="same", name="ic")(inner_in), name="inner"
    )
    stem = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, padding="same", name="sc")],
        name="stem",
    )
    x = keras.Input((8, 8, 1), name="image")
    y = keras.layers.GlobalAveragePooling2D(name="gap")(inner(stem(x)))
    model = keras.Model(x, keras.layers.Dense(3, name="out")(y), name="outer")
    before = _weights_bytes(model)
    copy = untrained_copy(model)
    names = [i.name for i in cnnviz_widget.list_layers(model)]
    assert [i.name for i in cnnviz_widget.list_layers(copy)] == names
    assert {"image", "stem/sc", "inner/inner_image", "inner/ic", "out"} <= set(names)
    for name in ("stem/sc", "inner/ic", "out"):
        k, _ = cnnviz_widget.layer_weights(model, name)
        k0, _ = cnnviz_widget.layer_weights(copy, name)
        assert k0.shape == k.shape, name
        assert not np.array_equal(k0, k), name
    assert _weights_bytes(model) == before


def test_resolve_baseline(keras, conv32):
    model, _, _ = conv32
    assert resolve_baseline(model, None) is None
    assert resolve_baseline(model, "untrained") is untrained_copy(model)
    with pytest.raises(ValueError, match="untrained"):
        resolve_baseline(model, "random")
    checkpoint = keras.models.clone_model(model)
    assert resolve_baseline(model, checkpoint) is checkpoint

    wider = keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            keras.layers.Conv2D(16, 3, name="conv"),
            keras.layers.MaxPooling2D(name="pool"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(10, name="dense"),
        ]
    )
    with pytest.raises(ValueError, match="'conv'"):
        resolve_baseline(model, wider)
    renamed = keras.Sequential(
        [keras.Input((6, 6, 2)), keras.layers.Conv2D(32, 3, name="first_conv")]
    )
    with pytest.raises(ValueError, match="'first_conv'"):
        resolve_baseline(model, renamed)


def test_weights_view_against_a_checkpoint_shares_scale_and_bins(keras, conv32):
    model, ramp, _ = conv32
    checkpoint = keras.models.clone_model(model)
    small = ramp / 4
    checkpoint.get_layer("conv").set_weights([small, np.zeros(32, np.float32)])
    view = weights_view(model, "conv", baseline=checkpoint, in_channel=1)
    vmax = float(np.abs(ramp).max())
    assert view["vmax"] == pytest.approx(vmax)
    assert view["trained"].meta["vmax"] == view["baseline"].meta["vmax"] == view["vmax"]
    got = _tile(_decode(view["baseline"].png), view["baseline"].meta, 4)[::10, ::10, :3]
    np.testing.assert_array_equal(got, _mpl_rgb(small[:, :, 1, 4], view["vmax"]))
    h = view["histogram"]
    assert sum(h["trained"]["counts"]) == sum(h["baseline"]["counts"]) == ramp.size
    assert h["baseline"]["mean"] == pytest.approx(np.mean(small.astype(np.float64)), rel=1e-6)
    assert view["bias"]["count"] == 32
    assert view["baseline_bias"]["values"] == [0.0] * 32
    assert view["kernel_shape"] == [3, 3, 2, 32]
    assert view["in_channels"] == 2
    assert not view["rgb_available"]


def test_a_layer_without_weights_is_a_value_error(conv32):
    model, _, _ = conv32
    with pytest.raises(ValueError, match="no weights"):
        cnnviz_widget.layer_weights(model, "pool")
    with pytest.raises(ValueError, match="no weights"):
        weights_view(model, "flat", baseline="untrained")
