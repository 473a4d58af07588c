"""Checks of scalar arguments shared by the modules, each raising a ``ValueError`` that names the
argument, what it must be and what it got (NumPy integers and floats are accepted; bools are not).

Array checks stay with the module whose conventions they follow (:func:`utils.evaluate.check_embeddings`,
:func:`utils.losses.check_embeddings`).
"""

from __future__ import annotations

import math
import numbers


def check_int(value: int, name: str, minimum: int = 1) -> int:
    """``value`` as an int, after checking it is an integer >= ``minimum`` (default: positive)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        wanted = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {wanted}, got {value!r}")
    return int(value)


def check_number(value: float, name: str, minimum: float = 0.0, strict: bool = False) -> float:
    """``value`` as a float, after checking it is a finite real number >= ``minimum`` (> if ``strict``)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value < minimum
        or (strict and value == minimum)
    ):
        raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} {minimum}, got {value!r}")
    return float(value)
