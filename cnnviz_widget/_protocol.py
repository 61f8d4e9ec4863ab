"""The kernel <-> browser protocol: every message is built here, every shared list named here.

The browser side (``js/src/protocol.ts``) is checked against this module, not against a
comment: ``tests/test_protocol.py`` writes ``js/src/fixtures/protocol.json`` (the shared
lists and real messages of every kind and view) and fails when the committed copy is out of
date; the vitest suite (``js/src/protocol.test.ts``) parses those messages with the
frontend's own code and checks its lists against the fixture.  ``docs/architecture.md``
describes the protocol in prose.

State lives in synced traits (``SYNCED_TRAITS``).  The browser changes the selection by
setting traits; every change of ``layer``/``view``/``sample`` or of an option the current
view depends on starts a request with a fresh, increasing id.  Pictures travel as custom
messages, one PNG per entry of ``images`` in ``buffers``::

    kernel -> browser
      {"type": "pending", "id": 7, "layer": "conv2d", "view": "activations", "sample": 0,
       "options": {}}
      {"type": "result",  "id": 7, "layer": ..., "view": ..., "sample": ..., "options": {...},
       "final": true, "images": [{"role": "main", "kind": "mosaic", ...}],
       "caption": "...", "warnings": [...], "warning_codes": [...], "data": {...}}
       + buffers = [png bytes, one per image]
      {"type": "error",   "id": 7, "layer": ..., "view": ..., "sample": ..., "options": {...},
       "message": "..."}
      {"type": "rejected", "trait": "sample", "value": 7, "message": "..."}

An error or a refusal whose text is a ``Message`` also carries ``"code"`` and ``"params"``
(``_messages.ERROR_CODES``), for the browser to say it in the interface's language.

    browser -> kernel
      {"type": "refresh"}   # compute the current selection again (a late view, a retry)

``snapshot`` holds the latest final result (its message plus ``pngs``) or the latest
error, so a saved notebook or exported HTML shows it without a kernel.
"""

from __future__ import annotations

import typing
from typing import Any

from ._layers import Kind
from ._messages import ERROR_CODES, codes_of
from .methods.gradcam import METHODS
from .render import WARNING_CODES, note_codes
from .views import VIEWS, Request, ViewResult
from .views.saliency import METHODS as SALIENCY_METHODS

PENDING = "pending"
RESULT = "result"
ERROR = "error"
#: A value set from the browser that failed validation; the trait keeps its old value.
REJECTED = "rejected"
REFRESH = "refresh"
MESSAGE_KINDS = (PENDING, RESULT, ERROR, REJECTED, REFRESH)

#: The traits the explorer syncs with the browser, and that a saved page carries.
SYNCED_TRAITS = (
    "layers",
    "samples",
    "layer",
    "view",
    "views",
    "sample",
    "lang",
    "model_name",
    "class_names",
    "class_index",
    "cam_method",
    "saliency_method",
    "sanity",
    "in_channel",
    "rgb",
    "channel",
    "filter_count",
    "snapshot",
    "graph",
)

#: What a picture's ``kind`` can be.
IMAGE_KINDS = ("mosaic", "strip", "image", "heatmap", "kernels", "matrix", "patterns")


def shared_lists() -> dict[str, Any]:
    """Every list both sides must agree on (the fixture's ``lists``)."""
    return {
        "message_kinds": list(MESSAGE_KINDS),
        "views": list(VIEWS),
        "view_options": {name: list(view.options) for name, view in VIEWS.items()},
        "layer_kinds": list(typing.get_args(Kind)),
        "cam_methods": list(METHODS),
        "saliency_methods": list(SALIENCY_METHODS),
        "warning_codes": {code: list(params) for code, params in WARNING_CODES.items()},
        "error_codes": {code: list(params) for code, params in ERROR_CODES.items()},
        "synced_traits": list(SYNCED_TRAITS),
        "image_kinds": list(IMAGE_KINDS),
    }


def _address(request: Request) -> dict[str, Any]:
    return {
        "id": request.id,
        "layer": request.layer,
        "view": request.view,
        "sample": request.sample,
        "options": dict(request.options),
    }


def pending(request: Request) -> dict[str, Any]:
    return {"type": PENDING, **_address(request)}


def result(
    request: Request, view_result: ViewResult, *, final: bool = True
) -> tuple[dict[str, Any], list[bytes]]:
    """The result message and its buffers (one PNG per entry of ``images``)."""
    content = {
        "type": RESULT,
        **_address(request),
        "final": final,
        "images": [{"role": role, **picture.meta} for role, picture in view_result.pictures],
        "caption": view_result.caption,
        "warnings": [str(w) for w in view_result.warnings],
        "warning_codes": note_codes(view_result.warnings),
        "data": view_result.data,
    }
    return content, [picture.png for _, picture in view_result.pictures]


def error(request: Request, message: str) -> dict[str, Any]:
    """An error for the panel: its English text, and its code and values when it has them
    (a ``Message``), which the browser says in the interface's language."""
    return {"type": ERROR, **_address(request), "message": str(message), **codes_of(message)}


def rejected(trait: str, value: Any, message: str) -> dict[str, Any]:
    return {
        "type": REJECTED,
        "trait": trait,
        "value": value,
        "message": str(message),
        **codes_of(message),
    }


def snapshot(content: dict[str, Any], buffers: list[bytes] | None = None) -> dict[str, Any]:
    """What the ``snapshot`` trait holds: a final message, with its PNGs when it has any."""
    return {**content, "pngs": list(buffers)} if buffers is not None else dict(content)


def selection_key(layer: str, view: str, sample: int) -> str:
    """How a saved page files results (``selectionKey`` in ``js/src/protocol.ts``)."""
    return f"{layer}|{view}|{sample}"
