"""Numbers ready for JSON: rounded floats, ``None`` for NaN and Inf."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Significant digits of the numbers handed to the panel.
DIGITS = 4


def num(value: Any, digits: int | None = DIGITS) -> float | None:
    """A JSON-able float (``None`` for NaN/Inf), rounded to ``digits`` significant digits."""
    v = float(value)
    if not math.isfinite(v):
        return None
    if digits is None or v == 0.0:
        return v
    return float(f"{v:.{digits}g}")


def nested(values: np.ndarray, digits: int | None = DIGITS) -> Any:
    """An array as nested lists of rounded floats (``None`` for non-finite values)."""
    if values.ndim == 0:
        return num(values, digits)
    return [nested(v, digits) for v in values]
