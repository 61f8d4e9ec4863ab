"""Errors and refusals the panel shows carry a code and values (``ERROR_CODES``), so the
browser can say them in Korean too (``js/src/errorStrings.ts``; its tests check that every
code of ``ERROR_CODES`` is translated there).  Here: each message the panel can get from the
explorer, for Keras and torch, arrives with its code, the values that code names, and the
English text unchanged.
"""

from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest
from test_bad_input import FRAMEWORKS, _keras_model, _torch_model

import cnnviz_widget
from cnnviz_widget import LayerExplorer
from cnnviz_widget._messages import ERROR_CODES, Message, message_of


@pytest.fixture(params=FRAMEWORKS)
def explorer(request):
    rng = np.random.default_rng(0)
    if request.param == "keras":
        widget = LayerExplorer(_keras_model(), rng.random((3, 12, 12, 1), np.float32))
    else:
        import torch

        images = torch.from_numpy(rng.random((3, 1, 12, 12), np.float32))
        widget = LayerExplorer(_torch_model(), images)
    sent: list[dict] = []
    widget.send = lambda content, buffers=None: sent.append(content)
    yield widget, sent
    widget.close()


def _coded(message: dict, code: str) -> None:
    assert message.get("code") == code, message
    assert sorted(message["params"]) == sorted(ERROR_CODES[code])
    assert isinstance(message["message"], str)
    assert message["message"]


REFUSALS = [
    ("layer", "nope", "unknown_layer_list"),
    ("layer", "conv_", "unknown_layer"),
    ("view", "pictures", "unknown_view"),
    ("sample", 7, "sample_range"),
    ("class_index", 99, "class_index_range"),
    ("in_channel", 5, "in_channel_range"),
    ("channel", -4, "channel_range"),
    ("channel", 99, "channel_range"),
    ("filter_count", 0, "filter_count_range"),
    ("lang", "fr", "lang"),
    ("cam_method", "magic", "cam_method"),
    ("saliency_method", "magic", "saliency_method"),
]


@pytest.mark.parametrize(("trait", "value", "code"), REFUSALS)
def test_a_refused_value_from_the_browser_comes_with_its_code(explorer, trait, value, code):
    widget, sent = explorer
    before = getattr(widget, trait)
    widget.set_state({trait: value})
    assert getattr(widget, trait) == before  # rolled back
    (refusal,) = [m for m in sent if m["type"] == "rejected"]
    _coded(refusal, code)
    assert str(value) in refusal["message"]


@pytest.mark.parametrize(
    ("layer", "view", "code"),
    [("pool", "weights", "no_weights"), ("dense", "gradcam", "cam_not_spatial")],
)
def test_what_a_view_cannot_draw_comes_with_its_code(explorer, layer, view, code):
    widget, _ = explorer
    with widget.hold_trait_notifications():
        widget.layer, widget.view = layer, view
    widget._serve(widget._new_request(), send=False)
    _coded(widget.snapshot, code)
    assert repr(layer) in widget.snapshot["message"]


def test_examples_without_a_dataset_say_how_to_give_one(explorer):
    widget, _ = explorer
    widget.view = "examples"
    widget._serve(widget._new_request(), send=False)
    _coded(widget.snapshot, "no_dataset")
    assert "dataset=" in widget.snapshot["message"]


def test_a_message_is_its_english_text_and_checks_its_code():
    message = Message("no_channel", "'c' has no channel 9.", layer="'c'", channel=9)
    assert message == "'c' has no channel 9."
    assert str(ValueError(message)) == "'c' has no channel 9."
    assert message_of(ValueError(message)) is message
    assert message.to_json() == {"code": "no_channel", "params": {"layer": "'c'", "channel": 9}}
    with pytest.raises(ValueError, match="not in ERROR_CODES"):
        Message("no_channel", "text", layer="'c'")  # a value missing
    with pytest.raises(ValueError, match="not in ERROR_CODES"):
        Message("made_up", "text")


def test_a_plain_error_goes_as_text_only():
    assert message_of(RuntimeError("OOM")) == "OOM"
    assert not isinstance(message_of(RuntimeError("OOM")), Message)
    assert message_of(KeyError("k")) == "k"


def test_every_code_is_raised_somewhere_and_every_raised_code_is_listed():
    """Codes nobody raises would be translations of nothing; unlisted ones fail at run time."""
    used: set[str] = set()
    root = pathlib.Path(cnnviz_widget.__file__).parent
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "Message"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                used.add(node.args[0].value)
    assert used == set(ERROR_CODES)
