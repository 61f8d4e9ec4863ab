"""Feature maps: the selected layer's output for the sample, as a mosaic or a strip."""

from __future__ import annotations

from ..render import feature_map_picture
from ._base import Request, View, ViewResult
from .session import Session


def render(session: Session, request: Request) -> ViewResult:
    activation = session.layer_output(request.sample, request.layer)
    picture = feature_map_picture(activation)
    return ViewResult([("main", picture)], picture.caption, picture.warnings)


VIEW = View("activations", (), render)
