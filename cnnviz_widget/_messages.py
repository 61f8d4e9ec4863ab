"""Error messages the panel may show, with a code and their values, so the browser can say
them in the interface's language (``js/src/errorStrings.ts``), as ``Note`` does for warnings.

A raise site keeps its English text and adds the code::

    raise ValueError(Message("no_channel", f"{layer!r} has no channel {c}.", layer=..., channel=c))

``str(error)`` stays that English text.  The explorer sends ``code`` and ``params`` beside the
text (``_protocol.error`` and ``_protocol.rejected``); any other exception (a framework's own,
a bug) goes as text only, and the panel words it as a failure around that text.
"""

from __future__ import annotations

from typing import Any

#: Every code and the values it carries.  The browser's translations are checked against
#: this list by the protocol fixture tests (``js/src/protocol.test.ts``).
ERROR_CODES: dict[str, tuple[str, ...]] = {
    # a value from the browser or from Python that the explorer refuses (``rejected``)
    "unknown_layer": ("layer", "close"),
    "unknown_layer_list": ("layer", "known"),
    "unknown_layer_none": ("layer",),
    "unknown_view": ("value", "views"),
    "sample_range": ("max", "value"),
    "sample_no_images": ("value",),
    "cam_method": ("value", "methods"),
    "saliency_method": ("value", "methods"),
    "class_index_range": ("max", "value"),
    "in_channel_range": ("layer", "max", "value"),
    "in_channel_negative": ("value",),
    "channel_negative": ("value",),
    "channel_range": ("layer", "max", "value"),
    "filter_count_range": ("max", "value"),
    "lang": ("value", "langs"),
    # what a view cannot draw for the selection (``error``)
    "no_images": (),
    "not_called": ("layer",),
    "no_channel": ("layer", "channel"),
    "weights_channel": ("layer", "max", "value"),
    "no_weights": ("layer", "type"),
    "cam_not_spatial": ("layer", "type", "shape"),
    "cam_no_maps": (),
    "not_image_input": ("shape",),
    "not_class_scores": ("shape",),
    "filters_layer": ("layer", "type", "shape"),
    "examples_layer": ("layer", "type", "shape"),
    "examples_channel": ("max", "value"),
    "no_dataset": (),
    "empty_dataset": (),
    "dataset_changed": ("rows",),
}


class Message(str):
    """An error message in English that also carries a code and its values."""

    code: str
    params: dict[str, str | int | float]

    def __new__(cls, code: str, text: str, **params: Any) -> Message:
        if ERROR_CODES.get(code) != tuple(params):
            raise ValueError(f"error code {code!r} with {sorted(params)} is not in ERROR_CODES")
        message = super().__new__(cls, text)
        message.code = code
        message.params = {name: _plain(value) for name, value in params.items()}
        return message

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "params": dict(self.params)}


def _plain(value: Any) -> str | int | float:
    """A value as the browser shows it: numbers stay numbers, anything else is its text."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return value


def message_of(error: BaseException) -> str:
    """The text the panel shows for ``error``, a ``Message`` when the raise site gave one."""
    arg = error.args[0] if error.args else None
    if isinstance(arg, Message):
        return arg
    message = getattr(error, "message", None)  # UnknownLayerError keeps its text here
    if isinstance(message, Message):
        return message
    text = str(arg) if isinstance(error, KeyError) and error.args else str(error)
    return text or type(error).__name__


def codes_of(message: str) -> dict[str, Any]:
    """``code`` and ``params`` for a message dict, or nothing for plain text."""
    return message.to_json() if isinstance(message, Message) else {}
