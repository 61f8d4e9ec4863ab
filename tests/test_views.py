"""The explorer's weights, Grad-CAM and saliency tabs, end to end in Python."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from cnnviz_widget import LayerExplorer
from cnnviz_widget.data import default_model
from cnnviz_widget.views import VIEWS, Request


@pytest.fixture(scope="module")
def digits():
    return default_model(6)


@pytest.fixture
def explorer(digits):
    model, images, names = digits
    widget = LayerExplorer(model, images, class_names=names)
    widget.send = lambda content, buffers=None: None  # no browser here
    yield widget
    widget.close()


def _serve(explorer):
    """Run the current selection through the same path the worker uses."""
    explorer._serve(explorer._new_request(), send=False)
    snapshot = explorer.snapshot
    assert snapshot["type"] == "result", snapshot.get("message")
    roles = [image["role"] for image in snapshot["images"]]
    return snapshot, dict(zip(roles, snapshot["pngs"], strict=True))


def _size(png):
    return Image.open(io.BytesIO(png)).size


def test_weights_tab_trained_beside_untrained(explorer, digits):
    model = digits[0]
    before = [w.copy() for w in model.get_weights()]
    explorer.view = "weights"
    snapshot, pngs = _serve(explorer)
    assert set(pngs) == {"trained", "baseline"}
    kernel = model.get_layer("conv2d").kernel.numpy()
    meta = snapshot["images"][0]
    assert (meta["rows"], meta["cols"]) == (2, 16)  # 32 filters
    assert _size(pngs["trained"]) == _size(pngs["baseline"])
    data = snapshot["data"]
    histogram = data["histogram"]
    counts, _ = np.histogram(kernel.ravel(), bins=np.asarray(histogram["edges"]))
    assert histogram["trained"]["counts"] == counts.tolist()
    assert histogram["trained"]["mean"] == pytest.approx(float(kernel.mean()), rel=1e-3)
    assert histogram["baseline"] is not None
    assert data["vmax"] >= float(np.abs(kernel).max()) - 1e-6
    # The linked view: one filter's numbers and its feature map for this sample.
    explorer.channel = 3
    snapshot, pngs = _serve(explorer)
    values = np.array(snapshot["data"]["filter"]["values"], dtype=float)
    np.testing.assert_allclose(values, kernel[:, :, 0, 3], rtol=1e-3, atol=1e-4)
    assert _size(pngs["feature_map"]) == (26, 26)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))


def test_weights_tab_says_when_a_layer_has_none(explorer):
    explorer.view = "weights"
    explorer.layer = "max_pooling2d"
    explorer._serve(explorer._new_request(), send=False)
    assert explorer.snapshot["type"] == "error"
    assert "no weights" in explorer.snapshot["message"]


def test_gradcam_tab_predictions_heatmap_and_class_switch(explorer, digits):
    model, images, names = digits
    explorer.layer = "conv2d_1"
    explorer.view = "gradcam"
    snapshot, pngs = _serve(explorer)
    assert _size(pngs["heatmap"]) == (28, 28) == _size(pngs["image"])
    probabilities = model.predict(images[:1], verbose=0)[0]
    expected = np.argsort(-probabilities)[:5]
    predictions = snapshot["data"]["predictions"]
    assert [p["index"] for p in predictions] == expected.tolist()
    assert [p["name"] for p in predictions] == [names[i] for i in expected]
    np.testing.assert_allclose(
        [p["probability"] for p in predictions], probabilities[expected], rtol=1e-4, atol=1e-6
    )
    assert snapshot["data"]["class_index"] == int(expected[0])
    weights = [c["weight"] for c in snapshot["data"]["channel_weights"]]
    assert weights == sorted(weights, reverse=True)
    explorer.class_index = int(expected[1])
    switched, _ = _serve(explorer)
    assert switched["data"]["class_index"] == int(expected[1])
    for method in ("gradcam++", "layercam", "scorecam"):
        explorer.cam_method = method
        assert _serve(explorer)[0]["data"]["method"] == method


def test_gradcam_on_a_dense_layer_is_an_error_and_the_widget_goes_on(explorer):
    explorer.view = "gradcam"
    explorer.layer = "dense"
    explorer._serve(explorer._new_request(), send=False)
    assert explorer.snapshot["type"] == "error"
    assert "(None, 100)" in explorer.snapshot["message"]
    explorer.layer = "conv2d"
    assert _serve(explorer)[0]["layer"] == "conv2d"


def test_saliency_tab_gradients_smoothgrad_and_integrated_gradients(explorer):
    import cnnviz_widget as cv
    from cnnviz_widget.methods import min_max

    explorer.view = "saliency"
    _plain, pngs = _serve(explorer)
    assert _size(pngs["heatmap"]) == (28, 28)
    explorer.saliency_method = "smoothgrad"
    smooth, smooth_pngs = _serve(explorer)
    assert smooth["data"]["method"] == "smoothgrad"
    assert smooth_pngs["heatmap"] != pngs["heatmap"]
    explorer.saliency_method = "integrated"
    integrated, integrated_pngs = _serve(explorer)
    assert integrated["data"]["method"] == "integrated"
    # The map is |integrated gradients| summed over channels, min-max scaled, in jet.
    image = explorer.session.sample_inputs(explorer.sample)
    attributions = cv.integrated_gradients(explorer.model, image, steps=50)
    expected = min_max(np.abs(attributions).sum(axis=-1))[0]
    from cnnviz_widget.render import colorize

    drawn = np.asarray(Image.open(io.BytesIO(integrated_pngs["heatmap"])).convert("RGB"))
    np.testing.assert_array_equal(drawn, colorize(expected, "jet"))
    completeness = integrated["data"]["completeness"]
    assert abs(completeness["gap"]) < 0.05 * abs(completeness["sum"])
    with pytest.raises(ValueError, match="saliency_method must be one of"):
        explorer.saliency_method = "magic"


def test_gradcam_tab_sends_the_heatmap_first_then_its_faithfulness(explorer):
    from cnnviz_widget.methods.trust import faithfulness

    sent = []
    explorer.send = lambda content, buffers=None: sent.append(content)
    explorer.layer = "conv2d_1"
    explorer.view = "gradcam"
    deadline = __import__("time").monotonic() + 60
    latest = explorer._latest
    while not any(m.get("id") == latest and m.get("final") for m in sent):
        assert __import__("time").monotonic() < deadline
        __import__("time").sleep(0.02)
    results = [m for m in sent if m.get("id") == latest and m["type"] == "result"]
    assert [m["final"] for m in results] == [False, True]
    assert results[0]["data"]["faithfulness"] is None  # the heatmap did not wait
    readout = results[1]["data"]["faithfulness"]
    # The deletion curve of the map at layer resolution, by the public function.
    import cnnviz_widget as cv

    image = explorer.session.sample_inputs(explorer.sample)
    raw = cv.grad_cam(
        explorer.model, image, "conv2d_1", readout["class_index"], upsample=False, normalize=False
    )
    deletion = faithfulness(explorer.model, image, raw, readout["class_index"], steps=20)
    np.testing.assert_allclose(readout["deletion"]["map"]["scores"], deletion.scores[0], atol=1e-6)
    assert readout["deletion"]["map"]["auc"] < readout["deletion"]["random"]["auc"]


def test_options_of_another_tab_do_not_start_requests(explorer):
    sent = []
    explorer.send = lambda content, buffers=None: sent.append(content)
    explorer.view = "activations"
    sent.clear()
    explorer.cam_method = "layercam"
    explorer.saliency_method = "smoothgrad"
    explorer.sanity = True
    assert sent == []


def test_save_html_is_standalone_and_escapes_model_text(explorer, tmp_path):
    path = explorer.save_html(tmp_path / "explorer.html")
    text = path.read_text()
    assert '<script type="module">' in text
    assert not re.search(r"(src|href)=[\"']?https?:", text)  # nothing fetched from outside
    for layer in explorer.layers:
        assert layer["name"] in text
    # Every layer's feature maps for the current sample travel with the page.
    assert text.count("|activations|0") == len(explorer.layers)


def _recording(explorer):
    import threading

    messages, changed = [], threading.Condition()

    def send(content, buffers=None):
        with changed:
            messages.append(content)
            changed.notify_all()

    def wait(predicate, timeout=120):
        with changed:
            assert changed.wait_for(lambda: any(predicate(m) for m in messages), timeout)

    explorer.send = send
    return messages, wait


def test_filters_tab_streams_patterns_then_the_final_grid(explorer):
    messages, wait = _recording(explorer)
    explorer.layer = "conv2d_1"
    explorer.view = "filters"
    request_id = explorer._latest
    wait(lambda m: m["id"] == request_id and m["type"] == "result" and m["final"])
    results = [m for m in messages if m["id"] == request_id and m["type"] == "result"]
    steps = [m["images"][0]["step"] for m in results]
    assert len(results) > 2
    assert steps == sorted(steps)
    assert steps[-1] == 30
    assert [m["final"] for m in results] == [False] * (len(results) - 1) + [True]
    final = results[-1]
    grid = final["images"][0]
    assert (grid["rows"], grid["cols"]) == (2, 8)  # the first 16 filters
    assert final["data"]["filters"] == list(range(16))
    assert final["data"]["channels"] == 64
    explorer.filter_count = 32
    wait(lambda m: m["id"] == explorer._latest and m["type"] == "result" and m["final"])
    assert messages[-1]["data"]["filters"] == list(range(32))


def test_selecting_another_layer_stops_the_ascent(explorer):
    messages, wait = _recording(explorer)
    explorer.layer = "conv2d_1"
    explorer.view = "filters"
    first = explorer._latest
    wait(lambda m: m["id"] == first and m["type"] == "result")  # the ascent is under way
    explorer.layer = "conv2d"
    second = explorer._latest
    wait(lambda m: m["id"] == second and m["type"] == "result" and m["final"])
    switched = next(i for i, m in enumerate(messages) if m["id"] == second)
    late = [m for m in messages[switched:] if m["id"] == first]
    assert len(late) <= 1  # at most the step that was already being drawn
    assert not any(m["id"] == first and m.get("final") for m in messages)


def test_saliency_tab_makes_one_pass_for_map_and_predictions(explorer, monkeypatch):
    calls = []
    adapter = explorer.session.adapter
    for name in ("logits", "class_gradients", "activations"):
        original = getattr(adapter, name)

        def counting(*args, _name=name, _original=original, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(adapter, name, counting)
    # Called directly (not through trait changes) so the worker thread adds no calls.
    request = Request(
        0, explorer.layer, "saliency", 2, (("class_index", -1), ("saliency_method", "gradients"))
    )
    result = VIEWS["saliency"].render(explorer.session, request)
    assert calls == ["class_gradients"]
    assert len(result.data["predictions"]) == 5


def test_gradcam_sanity_check_draws_the_map_of_the_untrained_copy(explorer):
    import scipy.stats

    import cnnviz_widget as cv
    from cnnviz_widget.methods.weights import untrained_copy

    weights = [w.copy() for w in explorer.model.get_weights()]
    explorer.layer = "conv2d_1"
    explorer.view = "gradcam"
    explorer.sanity = True
    content, pngs = _serve(explorer)
    assert "sanity" in pngs
    image = explorer.session.sample_inputs(explorer.sample)
    chosen = content["data"]["class_index"]
    trained = cv.grad_cam(explorer.model, image, "conv2d_1", chosen)[0]
    untrained = cv.grad_cam(untrained_copy(explorer.model), image, "conv2d_1", chosen)[0]
    expected = scipy.stats.spearmanr(trained.ravel(), untrained.ravel()).statistic
    assert content["data"]["sanity"]["rank_correlation"] == pytest.approx(expected, abs=1e-6)
    for before, after in zip(weights, explorer.model.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)  # the user's model is untouched


def test_examples_tab_finds_the_images_that_excite_the_channel_most():
    import time

    import cnnviz_widget as cv
    from cnnviz_widget.data import digits

    model, images, _names = default_model()
    dataset = digits(600)[0]
    widget = LayerExplorer(model, images[:2], dataset=dataset, layer="conv2d_1", view="examples")
    sent = []
    widget.send = lambda content, buffers=None: sent.append(content)
    try:
        assert widget.snapshot["type"] == "result", widget.snapshot.get("message")
        data = widget.snapshot["data"]
        reference = cv.top_activations(model, dataset, "conv2d_1", k=9)
        assert data["indices"] == [int(i) for i in reference.indices[0]]
        np.testing.assert_allclose(data["values"], reference.values[0], rtol=1e-5)
        assert (data["done"], data["total"]) == (600, 600)
        widget.channel = 5  # another channel of the same scan: no second pass
        latest = widget._latest
        deadline = time.monotonic() + 60
        while not any(m.get("id") == latest and m.get("final") for m in sent):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        final = next(m for m in sent if m.get("id") == latest and m.get("final"))
        assert final["data"]["indices"] == [int(i) for i in reference.indices[5]]
        assert len([m for m in sent if m.get("id") == latest and m["type"] == "result"]) == 1
    finally:
        widget.close()
    bare = LayerExplorer(model, images[:2], view="examples")
    try:
        assert bare.snapshot["type"] == "error"
        assert "dataset=" in bare.snapshot["message"]
    finally:
        bare.close()
