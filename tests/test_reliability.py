"""Defects found by probing as a demanding user would: re-run cells, big images, odd models,
values from the browser.  Each test failed before its fix."""

from __future__ import annotations

import gc
import io
import random
import time
import weakref

import numpy as np
import pytest
from PIL import Image

import cnnviz_widget as cv
from cnnviz_widget import LayerExplorer


def _silent(explorer):
    sent: list[tuple[dict, list]] = []
    explorer.send = lambda content, buffers=None: sent.append((content, buffers or []))
    return sent


def _wait(sent, predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for content, buffers in list(sent):
            if predicate(content):
                return content, buffers
        time.sleep(0.02)
    raise AssertionError(f"no such message; got {[c.get('type') for c, _ in sent]}")


def _final(explorer, sent):
    latest = explorer._latest
    return _wait(
        sent,
        lambda m: m.get("id") == latest and (m["type"] == "error" or m.get("final")),
    )


def _small_cnn(keras, size=(16, 16, 1), name=None):
    x = keras.Input(size)
    h = keras.layers.Conv2D(8, 3, activation="relu", name="c1")(x)
    h = keras.layers.Conv2D(8, 3, activation="relu", name="c2")(h)
    out = keras.layers.Dense(3, name="out")(keras.layers.GlobalAveragePooling2D()(h))
    return keras.Model(x, out, name=name)


# ------------------------------------------------------------------ 1. nothing leaks
def test_a_closed_explorer_its_caches_and_its_model_are_collected(keras):
    model = _small_cnn(keras)
    explorer = LayerExplorer(model, np.random.default_rng(0).random((2, 16, 16, 1)))
    sent = _silent(explorer)
    explorer.layer = "c2"  # starts the worker thread
    explorer.view = "gradcam"
    _final(explorer, sent)
    # This explorer's own worker (other tests' workers may be ending at the same time).
    worker = explorer._worker
    assert worker is not None
    assert worker.name == "cnnviz-worker"
    assert worker.is_alive()
    refs = [weakref.ref(explorer), weakref.ref(explorer.session), weakref.ref(model)]
    explorer.close()
    del explorer, sent, model
    # close() cancels what the worker still computes (the Grad-CAM tab's deletion curves run
    # after its heatmap is sent) and ends it; until its current step returns, the worker holds
    # the explorer, so the references are checked once it has ended.
    worker.join(timeout=10)
    assert not worker.is_alive()  # the worker thread ended with its explorer
    gc.collect()
    assert [r() for r in refs] == [None, None, None]


# ------------------------------------------------ 2. values from the browser are checked
@pytest.fixture
def explorer(keras):
    widget = LayerExplorer(_small_cnn(keras), np.random.default_rng(1).random((3, 16, 16, 1)))
    yield widget
    widget.close()


@pytest.mark.parametrize(
    ("state", "trait", "words"),
    [
        ({"sample": 7}, "sample", "between 0 and 2"),
        ({"layer": "c9"}, "layer", "no layer named 'c9'"),
        ({"view": "nonsense"}, "view", "Unknown view"),
        ({"in_channel": 4}, "in_channel", "in_channel"),
        ({"filter_count": 100000}, "filter_count", "between 1 and"),
        ({"cam_method": "magic"}, "cam_method", "cam_method must be one of"),
    ],
)
def test_a_bad_value_from_the_browser_keeps_the_old_one_and_says_why(explorer, state, trait, words):
    sent = _silent(explorer)
    explorer.layer = "c1"  # one input channel: in_channel 4 does not exist
    before = getattr(explorer, trait)
    explorer.set_state(state)  # the path every browser update takes
    assert getattr(explorer, trait) == before
    rejected = [c for c, _ in sent if c["type"] == "rejected"]
    assert len(rejected) == 1
    assert rejected[0]["trait"] == trait
    assert words in rejected[0]["message"]
    assert "\n" not in rejected[0]["message"]
    explorer.layer = "c2"  # and the explorer keeps working
    content, _ = _final(explorer, sent)
    assert (content["type"], content["layer"]) == ("result", "c2")


def test_the_same_checks_hold_from_python(explorer):
    with pytest.raises(ValueError, match="between 0 and 2"):
        explorer.sample = 7
    with pytest.raises(KeyError, match="c1"):
        explorer.layer = "c9"
    with pytest.raises(ValueError, match="in_channel"):
        explorer.in_channel = 5
    explorer.layer = explorer.layer_info("c2")  # a LayerInfo, as the constructor takes
    assert explorer.layer == "c2"


# ------------------------------------------------------ 3. memory bounded by a budget
def test_filter_patterns_climb_in_batches_within_the_memory_budget(keras):
    model = _small_cnn(keras)
    adapter = cv.adapters.adapter_for(model)
    from cnnviz_widget.methods.maximize import filters_per_batch, maximize_filters

    batches = []
    original = adapter.filter_gradients

    def counting(inputs, layer, filters, input_index=0):
        batches.append(len(filters))
        return original(inputs, layer, filters, input_index)

    together = maximize_filters(model, "c2", range(8), steps=4)
    per_image = 1 << 30 // filters_per_batch(adapter, (16, 16, 1))
    adapter.filter_gradients = counting
    try:
        streamed = []
        budget = 3 * per_image  # room for three images at a time
        chunked = maximize_filters(
            model,
            "c2",
            range(8),
            steps=4,
            memory_budget=budget,
            on_step=lambda step, images, values: streamed.append(images.copy()),
        )
    finally:
        del adapter.filter_gradients
    chunk = filters_per_batch(adapter, (16, 16, 1), budget)
    assert 1 <= chunk < 8
    assert max(batches) == chunk
    assert sum(batches) == 8 * 4  # every filter, every step, once
    np.testing.assert_allclose(chunked, together, rtol=1e-5, atol=1e-6)  # same patterns
    assert all(s.shape == (8, 16, 16, 1) for s in streamed)  # every call shows all tiles


def test_one_click_cannot_ask_for_unbounded_filters(explorer):
    with pytest.raises(ValueError, match="between 1 and 256"):
        explorer.filter_count = 512


def test_every_picture_sent_is_at_most_1024_pixels_a_side(keras):
    model = _small_cnn(keras, size=(2048, 2048, 1))
    image = np.random.default_rng(2).random((2048, 2048, 1), dtype=np.float32)
    widget = LayerExplorer(model, image, view="gradcam", layer="c2")
    try:
        assert widget.snapshot["type"] == "result"
        for meta, png in zip(widget.snapshot["images"], widget.snapshot["pngs"], strict=True):
            size = Image.open(io.BytesIO(png)).size
            assert max(size) <= 1024, (meta["role"], size)
            assert (meta["width"], meta["height"]) == size
            assert meta["true_shape"][:2] == [2048, 2048]
    finally:
        widget.close()


def test_smoothgrad_stops_when_a_newer_selection_arrives(keras):
    from cnnviz_widget.methods import Cancelled
    from cnnviz_widget.methods.saliency import saliency_details

    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(Cancelled):
        saliency_details(
            _small_cnn(keras),
            np.random.default_rng(3).random((64, 16, 16, 1)),
            smooth_samples=400,
            should_stop=stop,
        )
    assert len(calls) == 2  # it stopped at the second chunk, not after all 400 copies


def test_several_traits_changing_together_make_one_request(explorer):
    sent = _silent(explorer)
    explorer.view = "weights"
    explorer.channel = 2
    _final(explorer, sent)
    sent.clear()
    explorer.layer = "c2"  # resets channel and in_channel too
    time.sleep(0.3)
    ids = {c["id"] for c, _ in sent if c["type"] in ("pending", "result", "error")}
    assert len(ids) == 1


# ------------------------------------------ 4. odd models: right answers or clear words
def test_several_outputs_are_explained_through_the_first(keras):
    x = keras.Input((12, 12, 1))
    h = keras.layers.Conv2D(4, 3, name="conv")(x)
    pooled = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(x, [keras.layers.Dense(5)(pooled), keras.layers.Dense(2)(pooled)])
    images = np.random.default_rng(4).random((2, 12, 12, 1), dtype=np.float32)
    first = keras.Model(x, model.outputs[0])
    cam = cv.grad_cam(model, images, "conv", class_index=4, upsample=False, normalize=False)
    np.testing.assert_allclose(
        cam, cv.grad_cam(first, images, "conv", 4, upsample=False, normalize=False), atol=1e-6
    )
    with pytest.raises(ValueError, match="out of range: the model has classes 0 to 4"):
        cv.grad_cam(model, images, "conv", class_index=6)
    widget = LayerExplorer(model, images)
    try:
        with pytest.raises(ValueError, match=r"0\.\.4"):
            widget.class_index = 5
    finally:
        widget.close()


def test_a_dense_only_model_says_in_words_why_there_is_no_heatmap(keras):
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4), keras.layers.Dense(3)])
    x = np.random.default_rng(5).random((2, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="has none: every layer outputs a vector"):
        cv.grad_cam(model, x)
    with pytest.raises(ValueError, match=r"not an image but \(8,\) values per sample"):
        cv.saliency(model, x)
    widget = LayerExplorer(model, x, view="saliency")
    try:
        assert widget.snapshot["type"] == "error"
        assert "not an image" in widget.snapshot["message"]
    finally:
        widget.close()


@pytest.fixture(scope="module")
def two_images(keras):
    a = keras.Input((10, 10, 1), name="grey")
    b = keras.Input((10, 10, 3), name="colour")
    ca = keras.layers.Conv2D(2, 3, name="conv_grey")(a)
    cb = keras.layers.Conv2D(3, 3, activation="relu", name="conv_colour")(b)
    merged = keras.layers.Concatenate()(
        [keras.layers.GlobalAveragePooling2D()(ca), keras.layers.GlobalAveragePooling2D()(cb)]
    )
    return keras.Model([a, b], keras.layers.Dense(3)(merged))


def test_filter_patterns_climb_the_input_the_layer_depends_on(two_images):
    pattern = cv.maximize_filter(two_images, "conv_colour", 1, steps=5)
    assert pattern.shape == (10, 10, 3)  # the colour input, not the grey one
    assert float(pattern.std()) > 0.01  # it climbed (a zero gradient leaves the grey start)


def test_score_cam_masks_the_input_the_layer_depends_on(two_images):
    rng = np.random.default_rng(6)
    grey, colour = rng.random((1, 10, 10, 1), np.float32), rng.random((1, 10, 10, 3), np.float32)
    cam = cv.grad_cam(two_images, [grey, colour], "conv_colour", method="scorecam")
    # The definition, written out: each channel's upsampled, min-max scaled map masks the
    # colour image; its weight is the softmax over channels of the masked logits.
    from cnnviz_widget.methods import min_max, resize_maps

    maps = cv.activations(two_images, [grey, colour], "conv_colour")["conv_colour"][0]
    logits = two_images.predict([grey, colour], verbose=0)[0]
    top = int(np.argmax(logits))
    masks = min_max(resize_maps(np.moveaxis(maps, -1, 0), (10, 10)))
    masked = two_images.predict(
        [np.repeat(grey, len(masks), 0), colour * masks[..., None]], verbose=0
    )[:, top]
    weights = np.exp(masked - masked.max())
    weights /= weights.sum()
    expected = min_max(resize_maps(np.maximum((maps * weights).sum(-1), 0)[None], (10, 10)))
    np.testing.assert_allclose(cam, expected, atol=1e-4)


def test_an_open_input_size_gets_filter_patterns_at_the_images_size(keras):
    model = keras.Sequential(
        [
            keras.Input((None, None, 1)),
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2),
        ]
    )
    widget = LayerExplorer(model, np.random.default_rng(7).random((1, 20, 20, 1)))
    sent = _silent(widget)
    try:
        widget.layer = "conv"
        widget.view = "filters"
        content, _ = _final(widget, sent)
        assert content["type"] == "result", content.get("message")
        assert content["images"][0]["true_shape"][:2] == [20, 20]
    finally:
        widget.close()


def test_a_subclassed_model_gets_the_promised_type_error(keras):
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(2, 3)
            self.head = keras.layers.Dense(2)

        def call(self, x):
            return self.head(keras.ops.mean(self.conv(x), axis=(1, 2)))

    net = Net()
    net(np.zeros((1, 8, 8, 1), np.float32))
    with pytest.raises(TypeError, match=r"subclassed keras\.Model"):
        cv.list_layers(net)
    with pytest.raises(TypeError, match="functional API"):
        LayerExplorer(net, np.zeros((1, 8, 8, 1)))


def test_nan_in_the_images_is_a_warning_not_silent_zeros(explorer, keras):
    images = np.random.default_rng(8).random((2, 16, 16, 1))
    images[0, 3, 4, 0] = np.nan
    widget = LayerExplorer(_small_cnn(keras), images)
    try:
        codes = widget.snapshot["warning_codes"]
        assert {"code": "nonfinite_images", "n": 1} in codes
    finally:
        widget.close()


def test_the_small_ones(explorer, keras):
    model = _small_cnn(keras)
    with pytest.raises(ValueError, match="images must be a numeric array"):
        cv.activations(model, np.full((1, 16, 16, 1), "a"))
    with pytest.raises(TypeError, match="smooth_samples must be a whole number"):
        cv.saliency(model, np.zeros((1, 16, 16, 1)), smooth_samples=2.5)
    with pytest.raises(ValueError, match="different shapes"):
        cv.activations(model, [np.zeros((16, 16, 1)), np.zeros((15, 16, 1))])
    sent = _silent(explorer)
    explorer.layer = "c2"
    explorer.view = "weights"
    content, _ = _final(explorer, sent)
    assert content["type"] == "result"
    with pytest.raises(ValueError, match=r"channel must be -1 \(none\) or a channel of 'c2'"):
        explorer.channel = 99  # refused at once, not drawn as an error in the tab
    assert explorer.channel == -1
    state = random.getstate()
    from cnnviz_widget.methods.weights import untrained_copy

    untrained_copy(model)
    assert random.getstate() == state


def test_a_dropped_model_leaves_the_adapter_cache(keras):
    from cnnviz_widget import adapters

    model = _small_cnn(keras)
    cv.activations(model, np.zeros((1, 16, 16, 1), np.float32))
    key = id(model)
    assert key in adapters._recent
    del model
    gc.collect()
    assert key not in adapters._recent  # with it, its compiled functions and variables
