"""Checkers that give feedback on a reader's answers to the notebooks' exercises.

One module per series (``welcome``, ``foundations``, ``deep``, ``variations``); each checker is
called with the reader's answer and

- prints a reminder and returns ``False`` when the exercise is not attempted yet (the answer is
  ``None`` or ``...``, as the stubs leave it), so that "Run all" goes on;
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
