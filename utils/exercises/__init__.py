"""Checkers that give feedback on a reader's answers to the notebooks' exercises.

One module per topic (``welcome``, ``distances``, ``mahalanobis``, ``constraints_and_ranking``,
``triplets``, ``losses_and_scale``, ``chorales``, ``notions_and_words``, ``selfsup_and_mixtures``);
each checker is called with the reader's answer and

- prints a reminder and returns ``False`` when the exercise is not attempted yet (the answer is
  ``None`` or ``...``, as the stubs leave it; a function answer goes through
  :func:`stub_or_function` first), so that "Run all" goes on;
- prints ``✓`` and a word of explanation, and returns ``True``, when the answer is right;
- raises :class:`WrongAnswer` with a hint when it is not.

Every exercise has a reference solution cell (tagged ``solution``) that calls the same checker, and
the test suite executes it: each exercise is proven solvable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


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
        result = function(*probe)
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
