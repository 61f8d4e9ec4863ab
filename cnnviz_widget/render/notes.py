"""Warnings that carry a code and numbers, so the browser can say them in any language."""

from __future__ import annotations

from typing import Any

import numpy as np

#: Every warning code and the numbers it carries.  The browser's translations
#: (``js/src/captions.ts``) are checked against this list by the protocol fixture tests.
WARNING_CODES: dict[str, tuple[str, ...]] = {
    "nan": ("n",),
    "inf": ("n",),
    "constant_channels": ("n", "of"),
    "equal_values": (),
    "zero_cam": ("layer",),
    "nonfinite_patterns": ("n",),
    "nonfinite_images": ("n",),
    "zero_weights": (),
    "clipped_weights": ("scale",),
}


class Note(str):
    """A warning in English that also carries a code and its numbers, so the browser can
    say it in the interface's language (``js/src/captions.ts``)."""

    code: str
    params: dict[str, Any]

    def __new__(cls, code: str, text: str, **params: Any) -> Note:
        if WARNING_CODES.get(code) != tuple(params):
            raise ValueError(f"warning code {code!r} with {sorted(params)} is not in WARNING_CODES")
        note = super().__new__(cls, text)
        note.code, note.params = code, params
        return note

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, **self.params}


def note_codes(warnings: list[str]) -> list[dict[str, Any] | None]:
    """The codes of ``warnings`` for the browser (None for a plain string)."""
    return [w.to_json() if isinstance(w, Note) else None for w in warnings]


def value_warnings(x: np.ndarray) -> list[str]:
    warnings: list[str] = []
    if x.size == 0 or (np.isfinite(x.min()) and np.isfinite(x.max())):  # NaN, inf show here
        return warnings
    n_nan = int(np.isnan(x).sum())
    n_inf = int(np.isinf(x).sum())
    if n_nan:
        warnings.append(Note("nan", f"{n_nan:,} NaN values (drawn in magenta)", n=n_nan))
    if n_inf:
        warnings.append(Note("inf", f"{n_inf:,} infinite values (drawn in magenta)", n=n_inf))
    return warnings
