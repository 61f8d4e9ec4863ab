"""What a view is: a declaration, a request in, a result out.

A view module (one per tab) defines ``VIEW = View(name, options, per_layer, render)``; the
registry in ``views/__init__.py`` lists them in tab order.  ``render(session, request)``
computes through the public :class:`~cnnviz_widget.views.session.Session` and returns a
:class:`ViewResult`: pictures (PNG bytes with their layout), a caption, warnings and
view-specific numbers.  See ``docs/architecture.md`` ("Adding a view").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..render import Picture

if TYPE_CHECKING:
    from .session import Session


@dataclass(frozen=True)
class Request:
    """One selection to compute: a fresh, increasing ``id`` and what is selected."""

    id: int
    layer: str
    view: str
    sample: int
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, name: str) -> Any:
        return dict(self.options)[name]


@dataclass
class ViewResult:
    """Pictures (by role, in buffer order), caption, warnings and numbers of one view."""

    pictures: list[tuple[str, Picture]]
    caption: str
    warnings: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return sum(len(p.png) for _, p in self.pictures)


Render = Callable[["Session", Request], ViewResult]


@dataclass(frozen=True)
class View:
    """A tab: its name, the traits it depends on besides layer and sample, and its renderer.

    ``per_layer=False`` (saliency) means the result does not depend on the selected layer,
    so switching layers reuses it.
    """

    name: str
    options: tuple[str, ...]
    render: Render
    per_layer: bool = True
