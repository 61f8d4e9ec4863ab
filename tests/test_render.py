"""Mosaic layout and drawing, checked against hand-built stacks and matplotlib itself."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib import colormaps
from PIL import Image

from cnnviz_widget import mosaic
from cnnviz_widget.render import GAP, NAN_RGB, feature_map_picture, note_codes
from cnnviz_widget.render.maps import normalize_tiles


def _decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


# Mosaics are palette PNGs of viridis resampled to 254 levels (two palette slots mark NaN
# and the gaps); matplotlib's own resampled map is the reference.
VIRIDIS_254 = colormaps["viridis"].resampled(254)


@pytest.mark.parametrize(
    ("channels", "rows", "cols"),
    [
        (1, 1, 1),
        (3, 1, 3),
        (8, 1, 8),
        (16, 2, 8),
        (32, 4, 8),
        (64, 8, 8),
        (100, 7, 16),
        (512, 32, 16),
    ],
)
def test_mosaic_layout(channels, rows, cols):
    h, w = 5, 7
    maps = np.random.default_rng(0).normal(size=(h, w, channels))
    grid = mosaic(maps)
    assert grid.shape == (rows * h, cols * w)
    with_gap = mosaic(maps, gap=2)
    assert with_gap.shape == (rows * h + (rows - 1) * 2, cols * w + (cols - 1) * 2)


def test_each_tile_is_min_max_scaled_on_its_own():
    # Channel k holds k * 10 + (0..11): same shape, different offsets and scales.
    base = np.arange(12, dtype=np.float64).reshape(3, 4)
    maps = np.stack([base * (k + 1) + 10 * k for k in range(16)], axis=-1)
    grid = mosaic(maps)
    expected_tile = base / 11.0
    for k in range(16):
        r, c = divmod(k, 8)
        np.testing.assert_allclose(
            grid[r * 3 : r * 3 + 3, c * 4 : c * 4 + 4], expected_tile, atol=1e-6
        )


def test_constant_tiles_are_zero_not_nan():
    maps = np.zeros((4, 4, 16))
    maps[..., 3] = 7.5
    grid = mosaic(maps)
    assert not np.isnan(grid).any()
    assert (grid == 0).all()


def test_a_nan_changes_only_its_own_channel():
    # Maps without NaN or inf take a shorter way through normalize_tiles: a NaN in one
    # channel sends the stack the long way, and every other channel comes out the same bits.
    rng = np.random.default_rng(3)
    maps = (rng.normal(size=(6, 5, 8)) * rng.uniform(0.01, 100, 8)).astype(np.float32)
    maps[..., 2] = 4.0  # a constant channel
    marked = maps.copy()
    marked[1, 1, 5] = np.nan
    plain, with_nan = normalize_tiles(maps), normalize_tiles(marked)
    others = [k for k in range(8) if k != 5]
    np.testing.assert_array_equal(plain[..., others], with_nan[..., others])
    assert (plain[..., 2] == 0).all()
    assert np.isnan(with_nan[1, 1, 5])
    finite = np.delete(marked[..., 5].ravel(), 1 * 5 + 1)
    lo, hi = finite.min(), finite.max()
    np.testing.assert_allclose(with_nan[0, 0, 5], (marked[0, 0, 5] - lo) / (hi - lo), rtol=1e-6)


def test_explicit_cols_and_bad_input():
    assert mosaic(np.ones((2, 2, 6)), cols=3).shape == (4, 6)
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        mosaic(np.ones((2, 2)))


def test_picture_pixels_equal_matplotlib_viridis_per_tile():
    rng = np.random.default_rng(1)
    maps = rng.normal(size=(6, 5, 32)).astype(np.float32)
    picture = feature_map_picture(maps)
    meta = picture.meta
    assert (meta["rows"], meta["cols"], meta["tile_height"], meta["tile_width"]) == (4, 8, 6, 5)
    pixels = _decode(picture.png)
    assert pixels.shape == (4 * 6 + 3 * GAP, 8 * 5 + 7 * GAP, 4)
    for k in (0, 9, 31):
        r, c = divmod(k, 8)
        tile = pixels[r * (6 + GAP) : r * (6 + GAP) + 6, c * (5 + GAP) : c * (5 + GAP) + 5, :3]
        channel = maps[..., k].astype(np.float64)
        scaled = (channel - channel.min()) / (channel.max() - channel.min())
        want = VIRIDIS_254(scaled)[..., :3] * 255
        assert np.abs(tile.astype(float) - want).max() <= 0.51
    # The separators are transparent, everything else opaque.
    assert (pixels[6, :, 3] == 0).all()
    assert (pixels[:6, 5, 3] == 0).all()
    assert (pixels[:6, :5, 3] == 255).all()


def test_nan_and_inf_are_drawn_marked_with_a_warning():
    maps = np.random.default_rng(2).normal(size=(4, 4, 2)).astype(np.float32)
    maps[1, 2, 0] = np.nan
    maps[0, 0, 1] = np.inf
    picture = feature_map_picture(maps)
    pixels = _decode(picture.png)
    assert tuple(pixels[1, 2, :3]) == NAN_RGB
    assert tuple(pixels[0, 4 + GAP, :3]) == NAN_RGB
    assert any("NaN" in w for w in picture.warnings)
    assert any("infinite" in w for w in picture.warnings)
    # The browser says them in other languages from their codes and numbers.
    assert note_codes(picture.warnings) == [{"code": "nan", "n": 1}, {"code": "inf", "n": 1}]


def test_constant_activations_warn():
    picture = feature_map_picture(np.zeros((4, 4, 8), np.float32))
    assert any("constant" in w for w in picture.warnings)


def test_dense_activation_draws_as_a_strip():
    values = np.linspace(-1, 1, 100, dtype=np.float32)
    picture = feature_map_picture(values)
    meta = picture.meta
    assert meta["kind"] == "strip"
    assert (meta["rows"], meta["cols"]) == (2, 64)
    pixels = _decode(picture.png)
    cell = meta["tile_width"]
    assert pixels.shape[:2] == (2 * cell, 64 * cell)
    # Lowest value darkest viridis colour, highest the brightest, one shared scale.
    np.testing.assert_allclose(
        pixels[0, 0, :3], np.array(colormaps["viridis"](0.0)[:3]) * 255, atol=1
    )
    last = 99 - 64
    np.testing.assert_allclose(
        pixels[cell, last * cell, :3], np.array(colormaps["viridis"](1.0)[:3]) * 255, atol=1
    )
    assert pixels[cell, (last + 1) * cell, 3] == 0  # unused cells are transparent
    assert "100 values" in picture.caption


def test_large_layer_is_a_bounded_downsampled_atlas_with_true_size():
    maps = np.random.default_rng(3).random((224, 224, 64), dtype=np.float32)
    picture = feature_map_picture(maps)
    meta = picture.meta
    assert max(meta["width"], meta["height"]) <= 1024
    assert meta["downsample"] == 2
    assert (meta["tile_height"], meta["tile_width"]) == (112, 112)
    assert meta["true_shape"] == [224, 224, 64]
    assert "224 × 224" in picture.caption
    assert "64 channels" in picture.caption
    # A downsampled tile is the block mean of the original, then scaled per tile.
    block = maps[:, :, 0].reshape(112, 2, 112, 2).mean(axis=(1, 3))
    scaled = (block - block.min()) / (block.max() - block.min())
    want = VIRIDIS_254(scaled)[..., :3] * 255
    assert np.abs(_decode(picture.png)[:112, :112, :3].astype(float) - want).max() <= 0.51
