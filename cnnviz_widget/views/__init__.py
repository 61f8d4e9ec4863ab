"""The explorer's tabs: one module per view, each a small declaration (``VIEW``).

A view receives a public :class:`Session` (adapter, inputs, display images, caches,
cancellation, progress) and a :class:`Request`, and returns a :class:`ViewResult`.  It
never sees the explorer, and never imports a framework.  Adding a tab means adding one
module here (and its name to ``VIEWS``) and one TypeScript view (``docs/architecture.md``).
"""

from __future__ import annotations

from . import activations, examples, filters, gradcam, saliency, weights
from ._base import Request, View, ViewResult
from .session import Session

#: Every view, in tab order.
VIEWS: dict[str, View] = {
    view.name: view
    for view in (
        activations.VIEW,
        weights.VIEW,
        gradcam.VIEW,
        saliency.VIEW,
        filters.VIEW,
        examples.VIEW,
    )
}

__all__ = ["VIEWS", "Request", "Session", "View", "ViewResult"]
