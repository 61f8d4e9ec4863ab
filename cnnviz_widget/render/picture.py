"""A drawn picture: PNG bytes, what the browser needs to lay it out, caption, warnings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Picture:
    """A PNG with what the browser needs to lay it out and what the caption says."""

    png: bytes
    meta: dict[str, Any]
    caption: str
    warnings: list[str] = field(default_factory=list)
