"""The explorer's request handling: messages, supersession, caching, errors."""

from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest
from PIL import Image

from cnnviz_widget import LayerExplorer, activations, mosaic
from cnnviz_widget.render import GAP
from cnnviz_widget.views import Request
from cnnviz_widget.views.session import Session


class Recorder:
    """Collects what the explorer sends to the browser."""

    def __init__(self, explorer):
        self.messages = []
        self.explorer = explorer
        self._cond = threading.Condition()
        explorer.send = self._send

    def _send(self, content, buffers=None):
        with self._cond:
            self.messages.append((content, list(buffers or [])))
            self._cond.notify_all()

    def wait_for(self, kind, request_id, timeout=120):
        """Wait until a message of ``kind`` for ``request_id`` arrived (not a speed check)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for content, buffers in self.messages:
                    if content["type"] == kind and content["id"] == request_id:
                        return content, buffers
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {kind} for request {request_id}: {self.messages}")
                self._cond.wait(left)

    def of_type(self, kind):
        return [c for c, _ in self.messages if c["type"] == kind]


def _layer_by_layer(model, x):
    """Each layer's output of a Sequential model, its layers called one after another by
    Keras itself (not through the adapter whose recordings the tests check)."""
    outputs = {}
    for layer in model.layers:
        x = layer(x)
        outputs[layer.name] = np.asarray(x)
    return outputs


@pytest.fixture
def explorer(seq_with_input, digits_like):
    widget = LayerExplorer(seq_with_input, digits_like)
    yield widget
    widget.close()


def _latest_request(recorder):
    """The id of the explorer's newest request (a quick answer comes without ``pending``)."""
    return recorder.explorer._latest


def test_initial_state(explorer, seq_with_input):
    assert explorer.layer == "conv_a"  # the first convolution
    assert [row["name"] for row in explorer.layers] == [
        "conv_a",
        "pool_a",
        "conv_b",
        "flat",
        "probs",
    ]
    assert len(explorer.samples) == 3
    thumb = Image.open(io.BytesIO(explorer.samples[0]["thumbnail"]))
    assert thumb.size == (28, 28)
    snap = explorer.snapshot
    assert snap["type"] == "result"
    assert snap["layer"] == "conv_a"
    assert Image.open(io.BytesIO(snap["pngs"][0])).size == (8 * 26 + 7 * GAP, 1 * 26)


def test_selection_yields_one_image_message_of_the_right_size(
    explorer, seq_with_input, digits_like
):
    recorder = Recorder(explorer)
    explorer.layer = "conv_b"
    content, buffers = recorder.wait_for("result", _latest_request(recorder))
    assert content["layer"] == "conv_b"
    assert len(buffers) == 1
    image = np.asarray(Image.open(io.BytesIO(buffers[0])).convert("RGBA"))
    # 16 channels of 11 x 11: a 2 x 8 mosaic with one-pixel gaps.
    assert image.shape[:2] == (2 * 11 + GAP, 8 * 11 + 7 * GAP)
    assert content["images"][0]["rows"] == 2
    assert content["images"][0]["cols"] == 8
    # The tiles hold this sample's activations, scaled per tile like mosaic() does.
    act = activations(seq_with_input, digits_like[0], "conv_b")["conv_b"][0]
    grid = mosaic(act, gap=GAP)
    from matplotlib import colormaps

    want = colormaps["viridis"].resampled(254)(grid)[..., :3] * 255
    opaque = image[..., 3] == 255
    assert np.abs(image[..., :3][opaque].astype(float) - want[opaque]).max() <= 0.51
    assert explorer.snapshot["layer"] == "conv_b"
    assert explorer.snapshot["pngs"] == buffers


def test_stale_requests_are_dropped(explorer):
    recorder = Recorder(explorer)
    # Hold the forward pass so requests pile up while the worker is busy.
    with explorer.session._pass_lock:
        explorer.sample = 1  # not cached yet: the worker blocks on the lock
        for name in ["pool_a", "conv_b", "flat", "probs", "conv_a", "conv_b"]:
            explorer.layer = name
    last = _latest_request(recorder)
    content, _ = recorder.wait_for("result", last)
    assert (content["layer"], content["sample"]) == ("conv_b", 1)
    time.sleep(0.2)  # let a wrongly sent older result arrive, if there were one
    results = recorder.of_type("result")
    assert [r["id"] for r in results] == [last]
    # A "pending" goes only to a request still unanswered after a moment, and before its answer.
    kinds = [(c["type"], c["id"]) for c, _ in recorder.messages]
    assert {i for t, i in kinds if t == "pending"} <= {last}
    if ("pending", last) in kinds:
        assert kinds.index(("pending", last)) < kinds.index(("result", last))


def test_pending_goes_only_to_answers_that_take_a_while(explorer, monkeypatch):
    from cnnviz_widget import explorer as explorer_module

    recorder = Recorder(explorer)
    # An answer within the delay goes alone: no "pending" frame before it.
    monkeypatch.setattr(explorer_module, "PENDING_AFTER_S", 10.0)
    explorer.layer = "pool_a"
    quick = _latest_request(recorder)
    recorder.wait_for("result", quick)
    # One that is still being computed after the delay is announced, before its answer.
    monkeypatch.setattr(explorer_module, "PENDING_AFTER_S", 0.01)
    with explorer.session._pass_lock:  # the forward pass of a new sample waits here
        explorer.sample = 2
        slow = _latest_request(recorder)
        recorder.wait_for("pending", slow)
    recorder.wait_for("result", slow)
    kinds = [(c["type"], c["id"]) for c, _ in recorder.messages]
    assert ("pending", quick) not in kinds
    assert kinds.index(("pending", slow)) < kinds.index(("result", slow))


def test_feature_maps_of_a_passed_sample_are_answered_at_once_even_while_a_pass_runs(explorer):
    recorder = Recorder(explorer)
    # The forward-pass lock is held, as by the worker passing another sample forward: the
    # feature maps of sample 0, whose activations are cached, still come back before the
    # assignment returns, on this thread.
    with explorer.session._pass_lock:
        explorer.layer = "pool_a"
        (result,) = recorder.of_type("result")
    assert (result["layer"], result["id"]) == ("pool_a", explorer._latest)
    assert recorder.of_type("pending") == []


def test_one_forward_pass_per_sample_serves_every_layer(explorer, monkeypatch):
    recorder = Recorder(explorer)
    passes = []
    original = explorer.session.adapter.activations

    def counting(inputs, names):
        passes.append(len(names))
        return original(inputs, names)

    def counting_recorded(inputs, names):
        passes.append(len(names))
        return original_recorded(inputs, names)

    original_recorded = explorer.session.adapter.recorded_activations
    monkeypatch.setattr(explorer.session.adapter, "activations", counting)
    monkeypatch.setattr(explorer.session.adapter, "recorded_activations", counting_recorded)
    explorer.sample = 2
    recorder.wait_for("result", _latest_request(recorder))
    for name in ["pool_a", "conv_b", "flat", "probs"]:
        explorer.layer = name
        recorder.wait_for("result", _latest_request(recorder))
    assert passes == [5]  # one pass, all five layers


def test_a_new_sample_is_drawn_from_its_pass_and_kept_afterwards(
    explorer, digits_like, monkeypatch
):
    # The picture of a new sample's layer is drawn from the pass's recording (only that
    # layer converted); the worker keeps every layer in the cache once the picture is sent.
    session = explorer.session
    assert session.activation_cache.get(0) is not None  # the first picture's, kept at once
    recorder = Recorder(explorer)
    checked = threading.Event()
    settle = session.settle

    def settle_when_checked(**kwargs):
        checked.wait(120)
        return settle(**kwargs)

    monkeypatch.setattr(session, "settle", settle_when_checked)
    explorer.sample = 1
    _, (png,) = recorder.wait_for("result", _latest_request(recorder))
    assert session.activation_cache.get(1) is None
    assert session.is_passed(1)
    explorer.layer = "conv_b"  # another layer of the recorded sample: answered at once
    quick = recorder.messages[-1][0]
    assert (quick["type"], quick["layer"]) == ("result", "conv_b")
    checked.set()
    deadline = time.monotonic() + 120  # not a speed check: the worker settles when idle
    while session.activation_cache.get(1) is None:
        assert time.monotonic() < deadline, "the worker never kept sample 1's outputs"
        time.sleep(0.01)
    assert session._recording is None
    expected = activations(explorer.model, digits_like[1:2], ["conv_a", "conv_b", "probs"])
    for name, value in expected.items():
        np.testing.assert_allclose(session.activation_cache.get(1)[name], value, atol=1e-6)
    sample = Image.open(io.BytesIO(png))
    assert sample.size == (8 * 26 + 7 * GAP, 1 * 26)


def test_keeping_a_sample_yields_to_a_request_and_resumes(seq_with_input, digits_like):
    # The worker keeps a new sample's outputs layer by layer and stops when a request comes
    # (``stop``); the next call goes on from there, converting nothing twice.
    session = Session.of(seq_with_input, digits_like)
    layers = [info.name for info in session.layers]
    session.layer_output(1, "conv_a")  # a new sample: its pass is recorded, one layer read
    _, recording = session._recording
    converted = []
    convert = recording._convert
    recording._convert = lambda value: converted.append(1) or convert(value)
    asked = iter([False, False, True])
    assert session.settle(stop=lambda: next(asked)) is False  # a request came after two
    assert len(converted) == 2
    assert session.activation_cache.get(1) is None
    assert session.is_passed(1)
    assert session.settle(stop=lambda: False) is True
    assert len(converted) == len(layers) - 1  # conv_a was read for the picture already
    assert session._recording is None
    expected = _layer_by_layer(seq_with_input, digits_like[1:2])
    kept = session.activation_cache.get(1)
    assert list(kept) == layers
    for name in layers:
        np.testing.assert_allclose(kept[name], expected[name], atol=1e-6, err_msg=name)


def test_a_click_while_the_worker_keeps_a_sample_is_not_held_up_by_it(explorer, monkeypatch):
    # The worker's copy of a new sample's outputs stops for the next request: the next
    # sample is answered before the rest of sample 1's layers are copied (an order, not a
    # time: the first copy waits until sample 2 is asked for).
    from cnnviz_widget.adapters.base import Recording

    session = explorer.session
    adapter = session.adapter
    recorded = adapter.recorded_activations
    copying, go_on, converted, copied = threading.Event(), threading.Event(), [], []
    recordings = []

    def held(inputs, names):
        recording = recorded(inputs, names)
        recordings.append(recording)
        if len(recordings) > 1:  # only sample 1's recording is held
            return recording

        def convert(raw):
            converted.append(1)
            if len(converted) > 1:  # the first is the picture's layer, the rest are kept
                if len(converted) == 2:  # the first copy waits until sample 2 is asked for
                    copying.set()
                    go_on.wait(120)
                copied.append(1)
            return recording._convert(raw)

        return Recording(recording._raw, convert)

    monkeypatch.setattr(adapter, "recorded_activations", held)
    recorder = Recorder(explorer)
    explorer.layer = "conv_a"
    explorer.sample = 1
    recorder.wait_for("result", _latest_request(recorder))
    assert copying.wait(120), "the worker never began keeping sample 1's outputs"
    explorer.sample = 2  # while one of sample 1's layers is being copied
    go_on.set()  # that layer's copy ends; the worker then serves sample 2
    content, _ = recorder.wait_for("result", _latest_request(recorder))
    assert content["sample"] == 2
    assert len(copied) == 1  # sample 1's other layers were not copied first
    assert session.activation_cache.get(1) is None  # dropped: passed again if asked for


def test_a_new_sample_drops_a_sample_not_kept_yet(seq_with_input, digits_like):
    # Clicks faster than the worker's idle time: the next sample's pass does not wait for a
    # numpy copy of every layer of the one before (that sample is passed again if asked).
    session = Session.of(seq_with_input, digits_like)
    session.layer_output(1, "conv_a")
    _, first = session._recording
    session.layer_output(2, "conv_a")
    assert len(first._done) == 1  # only the layer drawn: nothing converted for keeping
    assert session._recording[0] == 2
    assert session.activation_cache.get(1) is None
    assert not session.is_passed(1)
    np.testing.assert_allclose(
        session.layer_output(1, "conv_b"),
        _layer_by_layer(seq_with_input, digits_like[1:2])["conv_b"][0],
        atol=1e-6,
    )


def test_a_dropped_samples_outputs_are_freed_before_the_next_pass(
    seq_with_input, digits_like, monkeypatch
):
    # The next sample's pass reuses the memory of the outputs it drops: nothing may hold
    # them over that pass (held, the first such pass on EfficientNet-Lite0 faulted in as much
    # memory again, 160-200 ms instead of 35).
    import weakref

    session = Session.of(seq_with_input, digits_like)
    session.layer_output(1, "conv_a")
    dropped = weakref.ref(session._recording[1])
    recorded = session.adapter.recorded_activations
    alive_during_pass = []

    def checking(inputs, names):
        alive_during_pass.append(dropped() is not None)
        return recorded(inputs, names)

    monkeypatch.setattr(session.adapter, "recorded_activations", checking)
    session.layer_output(2, "conv_a")
    assert alive_during_pass == [False]
    assert session._recording[0] == 2


def test_a_sample_whose_outputs_cannot_be_kept_holds_up_no_other(explorer, monkeypatch):
    # One layer of sample 1 fails to become numpy (as a layer with an output numpy cannot
    # take would): its picture of another layer is still drawn, keeping the rest fails (the
    # worker logs it) and forgets the recording, sample 2 is drawn, and sample 1 is passed
    # again.
    from cnnviz_widget.adapters.base import Recording

    session = explorer.session
    expected = {
        i: activations(explorer.model, session.inputs[0][i : i + 1], ["conv_b"]) for i in (1, 2)
    }
    adapter = session.adapter
    recorded = adapter.recorded_activations
    passes = []

    def failing_for_sample_1(inputs, names):
        recording = recorded(inputs, names)
        passes.append(float(inputs[0].sum()))
        if len(passes) > 1:
            return recording

        def convert(raw):
            if raw is broken:
                raise TypeError("no numpy for this output")
            return recording._convert(raw)

        broken = recording._raw["probs"]
        return Recording(recording._raw, convert)

    monkeypatch.setattr(adapter, "recorded_activations", failing_for_sample_1)
    np.testing.assert_allclose(session.layer_output(1, "conv_b"), expected[1]["conv_b"][0])
    with pytest.raises(TypeError, match="no numpy"):
        session.settle(stop=lambda: False)  # as the worker calls it when idle
    assert not session.is_passed(1)  # forgotten: its next use passes it again
    assert session.activation_cache.get(1) is None
    np.testing.assert_allclose(session.layer_output(2, "conv_b"), expected[2]["conv_b"][0])
    np.testing.assert_allclose(session.layer_output(1, "conv_b"), expected[1]["conv_b"][0])
    assert len(passes) == 3


def test_python_side_selection_and_refresh(explorer):
    recorder = Recorder(explorer)
    explorer.layer = "probs"
    content, _ = recorder.wait_for("result", _latest_request(recorder))
    assert content["images"][0]["kind"] == "strip"
    explorer._on_message(explorer, {"type": "refresh"}, [])
    again, buffers = recorder.wait_for("result", _latest_request(recorder))
    assert again["layer"] == "probs"
    assert len(buffers) == 1


def test_bad_selection_is_refused_and_widget_keeps_working(explorer):
    with pytest.raises(KeyError, match="conv_a"):
        explorer.layer = "conv_c"
    with pytest.raises(ValueError, match="between 0 and 2"):
        explorer.sample = 3
    with pytest.raises(ValueError, match="view"):
        explorer.view = "nonsense"
    assert explorer.layer == "conv_a"
    recorder = Recorder(explorer)
    explorer.layer = "pool_a"
    assert recorder.wait_for("result", _latest_request(recorder))[0]["layer"] == "pool_a"


def test_errors_reach_the_panel_and_the_worker_survives(seq_with_input):
    widget = LayerExplorer(seq_with_input)  # no images: feature maps cannot be drawn
    assert widget.snapshot["type"] == "error"
    assert "No images" in widget.snapshot["message"]
    recorder = Recorder(widget)
    widget.layer = "conv_b"
    content, _ = recorder.wait_for("error", _latest_request(recorder))
    assert "No images" in content["message"]
    widget.layer = "pool_a"
    assert recorder.wait_for("error", _latest_request(recorder))[0]["layer"] == "pool_a"
    widget.close()


def test_wrong_images_raise_before_computing(seq_with_input):
    with pytest.raises(ValueError, match=r"\(28, 28, 1\).*\(2, 27, 28, 1\)"):
        LayerExplorer(seq_with_input, np.zeros((2, 27, 28, 1)))
    with pytest.raises(TypeError, match="Keras"):
        LayerExplorer("not a model", np.zeros((2, 28, 28, 1)))


def test_nested_layer_selection(nested_vgg):
    images = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
    widget = LayerExplorer(nested_vgg, images, layer="vgg16/block2_conv1")
    assert widget.snapshot["layer"] == "vgg16/block2_conv1"
    assert widget.snapshot["images"][0]["true_shape"] == [16, 16, 128]
    assert widget.snapshot["images"][0]["cols"] == 16
    widget.close()


def test_user_model_unchanged(seq_with_input, digits_like):
    before = [w.copy() for w in seq_with_input.get_weights()]
    out = seq_with_input.predict(digits_like, verbose=0)
    widget = LayerExplorer(seq_with_input, digits_like)
    recorder = Recorder(widget)
    widget.layer = "probs"
    recorder.wait_for("result", _latest_request(recorder))
    widget.close()
    assert all(
        np.array_equal(a, b) for a, b in zip(before, seq_with_input.get_weights(), strict=True)
    )
    np.testing.assert_array_equal(seq_with_input.predict(digits_like, verbose=0), out)


def test_close_stops_running_work(seq_with_input, digits_like):
    widget = LayerExplorer(seq_with_input, digits_like)
    request = widget._new_request()
    assert not widget._is_stale(request)
    widget.close()
    assert widget._is_stale(request)  # Score-CAM and filter ascent check this between steps


def test_refresh_after_the_weights_change(keras, digits_like):
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3, name="conv")], name="retrain"
    )
    widget = LayerExplorer(model, digits_like)
    recorder = Recorder(widget)
    before = widget.snapshot["pngs"][0]
    kernel, bias = model.get_layer("conv").get_weights()
    model.get_layer("conv").set_weights([-kernel, bias + 1.0])
    widget.refresh()
    _content, buffers = recorder.wait_for("result", _latest_request(recorder))
    assert buffers[0] != before
    expected = activations(model, digits_like[0], "conv")["conv"][0]
    np.testing.assert_allclose(widget.feature_maps("conv"), expected, atol=1e-5)
    widget.close()


class Wire:
    """Every comm message the explorer sends, in order: ``(method, state or content)``."""

    def __init__(self, explorer):
        self.messages = []
        self._cond = threading.Condition()
        explorer._send = self._send

    def _send(self, msg, buffers=None):
        with self._cond:
            body = msg.get("content") if msg["method"] == "custom" else msg.get("state")
            self.messages.append((msg["method"], body))
            self._cond.notify_all()

    def wait_until(self, predicate, timeout=120):
        """Wait until ``predicate(messages)`` holds (not a speed check)."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.messages), timeout):
                raise AssertionError(f"not seen in {timeout} s: {self.messages}")

    def snapshots(self):
        return [
            state for method, state in self.messages if method == "update" and "snapshot" in state
        ]


def _kinds(messages):
    """The messages as ``("custom", type)``, ``("update", keys)`` or ``("echo_update", state)``."""
    out = []
    for method, body in messages:
        if method == "custom":
            out.append(("custom", body["type"]))
        elif method == "echo_update":
            out.append(("echo_update", body))
        else:
            out.append((method, tuple(sorted(body))))
    return out


def test_a_picture_at_hand_leaves_before_the_echo_of_the_click(explorer, monkeypatch):
    import cnnviz_widget.explorer as explorer_module

    monkeypatch.setattr(explorer_module, "SNAPSHOT_AFTER_S", 0)  # the snapshot at once, too
    wire = Wire(explorer)
    explorer.set_state({"layer": "conv_b"})  # the sample was passed: drawn on this thread
    assert _kinds(wire.messages) == [
        ("custom", "result"),
        ("update", ("snapshot",)),
        ("echo_update", {"layer": "conv_b"}),
    ]
    assert wire.messages[0][1]["layer"] == "conv_b"


def test_the_echo_of_a_refused_choice_carries_the_value_that_stands(explorer):
    wire = Wire(explorer)
    explorer.set_state({"layer": "no_such_layer"})
    assert explorer.layer == "conv_a"
    kinds = _kinds(wire.messages)
    assert kinds[0] == ("update", ("layer",))
    assert wire.messages[0][1] == {"layer": "conv_a"}
    assert kinds[1] == ("custom", "rejected")
    # Exactly one echo, the last message: the browser that sent the value waits for it.
    assert kinds[2:] == [("echo_update", {"layer": "conv_a"})]


def test_traits_that_choose_no_picture_are_echoed_by_ipywidgets_first(explorer):
    wire = Wire(explorer)
    explorer.set_state({"lang": "ko"})
    assert _kinds(wire.messages)[0] == ("echo_update", {"lang": "ko"})
    assert [m for m, _ in wire.messages].count("echo_update") == 1


def test_every_choice_of_a_view_is_echoed_after_it_is_handled(explorer):
    from cnnviz_widget.views import VIEWS

    chosen = {"layer", "view", "sample", *{o for v in VIEWS.values() for o in v.options}}
    late = {name for name in explorer.keys if explorer.trait_metadata(name, "echo_update") is False}
    assert late == chosen


def test_no_echo_when_ipywidgets_echoes_nothing(explorer, monkeypatch):
    from ipywidgets.widgets import widget as ipywidget

    monkeypatch.setattr(ipywidget, "JUPYTER_WIDGETS_ECHO", False)
    wire = Wire(explorer)
    explorer.set_state({"layer": "conv_b"})
    assert "echo_update" not in [m for m, _ in wire.messages]


def test_the_snapshot_follows_a_burst_of_answers_once(explorer, monkeypatch):
    import cnnviz_widget.explorer as explorer_module

    # Long enough that the three quick answers below come within it on any machine.
    monkeypatch.setattr(explorer_module, "SNAPSHOT_AFTER_S", 2.0)
    wire = Wire(explorer)
    for layer in ("conv_b", "pool_a", "flat"):
        explorer.set_state({"layer": layer})
    assert wire.snapshots() == []  # not in the answers' way
    wire.wait_until(lambda messages: any(m == "update" and "snapshot" in s for m, s in messages))
    time.sleep(0.2)
    (snapshot,) = wire.snapshots()
    assert snapshot["snapshot"]["layer"] == "flat" == explorer.snapshot["layer"]
    results = [
        i for i, (m, b) in enumerate(wire.messages) if m == "custom" and b["type"] == "result"
    ]
    assert len(results) == 3
    assert wire.messages.index(("update", snapshot)) > max(results)


def test_a_closed_explorer_syncs_no_snapshot(seq_with_input, digits_like, monkeypatch):
    import cnnviz_widget.explorer as explorer_module

    monkeypatch.setattr(explorer_module, "SNAPSHOT_AFTER_S", 0.2)
    widget = LayerExplorer(seq_with_input, digits_like)
    wire = Wire(widget)
    widget.set_state({"layer": "conv_b"})
    assert ("custom", "result") in _kinds(wire.messages)
    widget.close()
    time.sleep(0.5)
    assert wire.snapshots() == []


def _drawn(session, layer, sample):
    return session.result_cache.get(("activations", layer, sample, ())) is not None


def test_drawing_ahead_takes_the_nearest_layers_first_and_passes_nothing(
    seq_with_input, digits_like
):
    session = Session.of(seq_with_input, digits_like)
    assert session.draw_ahead(0, "pool_a", 2) == []  # sample 0 not passed: no pass for it
    assert session.activation_cache.get(0) is None
    assert not session.is_passed(0)
    session.layer_output(0, "conv_a")
    session.settle()
    # conv_a, pool_a, conv_b, flat, probs: one on each side of pool_a, the earlier first.
    assert session.draw_ahead(0, "pool_a", 2) == ["conv_a", "conv_b"]
    assert session.draw_ahead(0, "pool_a", 3) == ["flat"]  # drawn before: not again
    assert not _drawn(session, "probs", 0)
    assert not _drawn(session, "pool_a", 0)
    asked = iter([False, True])
    assert session.draw_ahead(0, "probs", 8, stop=lambda: next(asked)) == ["pool_a"]
    assert session.draw_ahead(0, "no_such_layer", 8) == []


def test_a_picture_drawn_ahead_is_the_one_drawn_on_the_click(seq_with_input, digits_like):
    ahead = Session.of(seq_with_input, digits_like)
    ahead.layer_output(1, "conv_a")
    ahead.settle()
    assert ahead.draw_ahead(1, "conv_a", 4) == ["pool_a", "conv_b", "flat", "probs"]
    fresh = Session.of(seq_with_input, digits_like)
    for layer in ("pool_a", "conv_b", "flat", "probs"):
        request = Request(1, layer, "activations", 1)
        got, want = ahead.compute(request), fresh.compute(request)
        assert [p.png for _, p in got.pictures] == [p.png for _, p in want.pictures], layer


def test_after_a_click_the_worker_draws_the_next_layers_and_the_next_click_uses_them(
    explorer, monkeypatch
):
    import cnnviz_widget.views.activations as activations_view

    session = explorer.session
    recorder = Recorder(explorer)
    explorer.layer = "pool_a"  # answered at once from sample 0's outputs
    recorder.wait_for("result", _latest_request(recorder))
    deadline = time.monotonic() + 120
    while not all(_drawn(session, n, 0) for n in ("conv_a", "conv_b", "flat", "probs")):
        assert time.monotonic() < deadline, "the worker drew nothing ahead"
        time.sleep(0.05)
    drawn = []
    draw = activations_view.feature_map_picture
    monkeypatch.setattr(
        activations_view, "feature_map_picture", lambda a: drawn.append(a.shape) or draw(a)
    )
    explorer.layer = "conv_b"
    content, _ = recorder.wait_for("result", _latest_request(recorder))
    assert content["layer"] == "conv_b"
    assert drawn == []  # from the picture drawn ahead


def test_nothing_is_drawn_ahead_for_views_that_cost_a_pass(explorer):
    explorer.view = "gradcam"
    assert explorer._draw_ahead() == []
    explorer.view = "activations"
    assert explorer._draw_ahead() == ["pool_a", "conv_b", "flat", "probs"]


# --------------------------------------------------------------------------------------
# Found by probing (stop 26).


def test_a_refused_constructor_argument_leaves_no_explorer_behind(seq_with_input, digits_like):
    import gc

    import ipywidgets

    def alive():
        gc.collect()
        return {id(o) for o in gc.get_objects() if isinstance(o, LayerExplorer)}

    before, widgets = alive(), set(ipywidgets.widgets.widget._instances)
    for kwargs, words in (({"lang": "fr"}, "lang must be one of"), ({"view": "nope"}, "view")):
        with pytest.raises(ValueError, match=words):
            LayerExplorer(seq_with_input, digits_like, **kwargs)
    assert set(ipywidgets.widgets.widget._instances) == widgets  # no open comm, no model held
    assert alive() <= before  # other tests' explorers may still be about; none of these is


def test_channel_is_refused_beyond_the_layers_channels(explorer):
    with pytest.raises(ValueError, match=r"a channel of 'conv_a' \(0\.\.7\), got 8") as error:
        explorer.channel = 8  # conv_a has 8 filters
    assert error.value.args[0].code == "channel_range"
    assert explorer.channel == -1
    explorer.channel = 7
    explorer.layer = "conv_b"  # a new layer resets it, then 16 channels are there
    assert explorer.channel == -1
    explorer.channel = 15
    with pytest.raises(ValueError, match=r"\(0\.\.15\)"):
        explorer.channel = 16
    assert explorer.channel == 15


def test_class_index_is_checked_against_the_models_classes_not_the_names(
    seq_with_input, digits_like
):
    for names in (list("abc"), [str(i) for i in range(12)]):
        with pytest.raises(
            ValueError,
            match=rf"class_names has {len(names)} names, but the "
            r"model has 10 classes",
        ):
            LayerExplorer(seq_with_input, digits_like, class_names=names)
    widget = LayerExplorer(seq_with_input, digits_like, class_names=[str(i) for i in range(10)])
    widget.class_index = 9
    with pytest.raises(ValueError, match=r"0\.\.9, got 10"):
        widget.class_index = 10
    assert widget.class_index == 9
    widget.close()


@pytest.mark.parametrize(
    ("trait", "value"),
    [
        ("layer", 2),
        ("layer", None),
        ("view", 3),
        ("sample", 1.5),
        ("sample", "1"),
        ("lang", 1),
        ("class_index", "2"),
        ("sanity", "yes"),
        ("filter_count", "16"),
    ],
)
def test_a_value_of_the_wrong_type_is_a_value_error_and_the_old_value_stays(explorer, trait, value):
    old = getattr(explorer, trait)
    with pytest.raises(ValueError, match=rf"The '{trait}' trait of a LayerExplorer instance"):
        setattr(explorer, trait, value)
    assert getattr(explorer, trait) == old
