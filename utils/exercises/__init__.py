"""Checkers that give feedback on a reader's answers to the notebooks' exercises.

One module per topic (``welcome``, ``distances``, ``mahalanobis``, ``constraints_and_ranking``,
``triplets``, ``losses_and_scale``, ``chorales``, ``notions_and_words``, ``selfsup_and_mixtures``,
``people``);
each checker is called with the reader's answer and

- prints a reminder and returns ``False`` when the exercise is not attempted yet (the answer is
  ``None`` or ``...``, as the stubs leave it; a function answer goes through
  :func:`stub_or_function` first), so that "Run all" goes on;
- prints ``✓`` and a word of explanation, and returns ``True``, when the answer is right;
- raises :class:`WrongAnswer` with a hint when it is not.

Test data are built so that degenerate answers cannot pass (structured labels, ties where a tie
rule matters); :func:`call_on_copies` catches answers that modify their inputs and
:func:`seed_hint` answers that ignore or misuse their seed. Hints name the concept a wrong answer
misses; they never print the expected value.

Every exercise has a reference solution cell (tagged ``solution``) that calls the same checker, and
the test suite executes it: each exercise is proven solvable.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch


class WrongAnswer(AssertionError):
    """The reader's answer is not right yet; the message is a hint."""


def not_attempted(answer: Any) -> bool:
    """True when ``answer`` is a stub's placeholder (``None`` or ``...``)."""
    return answer is None or answer is Ellipsis


def stub_or_function(function: Any, *probe: Any, none_is_stub: bool) -> Any:
    """``None`` when ``function`` is still the notebook's unfilled stub, else ``function`` itself.

    The stub is recognised by what ``function(*probe)`` returns: ``...``, or also ``None`` when
    ``none_is_stub``. Choose that by how the notebook writes the stub: a bare ``...`` body returns
    None (``none_is_stub=True``); one ending in ``return ...`` cannot, so there a None means the
    reader forgot ``return`` and the verdict should say so (``none_is_stub=False``).

    A function that raises on the probe is an attempt, not a stub: it is returned as it is, and the
    verdict runs it on the real cases, where the reader sees the exception itself. Placeholders and
    other non-callables are returned unchanged, for :func:`check` to handle.
    """
    if not callable(function):
        return function
    try:
        result = function(*copy.deepcopy(probe))  # copies: a probe must not let an answer edit test data
    except Exception:  # an attempt: its error shows when the verdict runs it on the real cases
        return function
    if result is Ellipsis or (none_is_stub and result is None):
        return None
    return function


def check(answer: Any, verdict: Callable[[Any], str | None], success: str) -> bool:
    """Run ``verdict(answer)``: it returns ``None`` when right, else a hint.

    Returns ``False`` if the answer is a placeholder, ``True`` if right; raises ``WrongAnswer``.
    """
    if not_attempted(answer):
        print("Not attempted yet: replace the `...` with your answer and run the cell again.")
        return False
    hint = verdict(answer)
    if hint is not None:
        raise WrongAnswer(f"Not quite: {hint}")
    print(f"✓ {success}")
    return True


def returned_none(value: Any, name: str = "your function") -> str | None:
    """The hint for a forgotten ``return``, or None."""
    return f"{name} returned None: did you forget `return`?" if value is None else None


def to_numpy(value: Any) -> np.ndarray:
    """A tensor, array or sequence as a NumPy array."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def not_an_array(value: Any, name: str) -> str | None:
    """The hint for a list or tuple given where a NumPy array is asked for, or None."""
    if not isinstance(value, list | tuple):
        return None
    return f"{name} should be a NumPy array, not a {type(value).__name__}: wrap it in np.array(...)."


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and bool(torch.equal(a, b))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    return bool(a == b)


def call_on_copies(function: Callable, arguments: dict[str, Any]) -> tuple[Any, str | None]:
    """``function(**arguments)`` called positionally on copies, and a hint if it modified one in place.

    The caller's arrays stay untouched either way; the hint names the first argument changed.
    """
    copies = {name: copy.deepcopy(value) for name, value in arguments.items()}
    result = function(*copies.values())
    for name, value in arguments.items():
        if not _same(value, copies[name]):
            return result, (f"your function changes its argument `{name}` in place, so the caller's data "
                            f"change too: work on a copy (`{name}.copy()`, `np.array({name})` or `.clone()`).")
    return result, None


def seed_hint(draw: Callable[[int], Any], seeds: Sequence[int] = (0, 1)) -> str | None:
    """A hint unless ``draw(seed)`` repeats for one seed and differs between ``seeds``."""
    first = to_numpy(draw(seeds[0]))
    if not np.array_equal(first, to_numpy(draw(seeds[0]))):
        return "two calls with the same seed gave different answers: draw from np.random.default_rng(seed)."
    if all(np.array_equal(first, to_numpy(draw(seed))) for seed in seeds[1:]):
        return ("different seeds give the same answers: the choice must be random, drawn from "
                "np.random.default_rng(seed), not a fixed rule.")
    return None
