"""Checkers for the welcome notebook (notebooks/00_welcome.ipynb)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from utils.evaluate import retrieval_report
from utils.exercises import check, stub_or_function


def check_precision_at_1(precision_at_1: Callable | None) -> bool:
    """The reader's ``precision_at_1(embeddings, labels, groups)`` against utils.evaluate.

    It must leave out the query itself and every item of the query's group.
    """
    def verdict(function: Callable) -> str | None:
        rng = np.random.default_rng(0)
        embeddings = rng.normal(size=(60, 5))
        labels = rng.integers(0, 4, size=60)
        groups = np.arange(60) // 2
        embeddings[1::2] = embeddings[::2] + 1e-3  # each group: two near-duplicates
        expected = retrieval_report(embeddings, labels, groups=groups, ks=())["precision@1"]
        got = function(embeddings, labels, groups)
        if got is None:
            return "your function returned None: did you forget `return`?"
        got = float(got)
        if np.isclose(got, retrieval_report(embeddings, labels, ks=())["precision@1"]) and not np.isclose(got, expected):
            return "the near-duplicate in the query's own group still counts: mask out same-group items."
        if not np.isclose(got, expected, atol=0.02):
            return f"expected about {expected:.3f} on random data, got {float(got):.3f}."
        return None

    precision_at_1 = stub_or_function(precision_at_1, np.zeros((2, 1)), [0, 0], [0, 1], none_is_stub=False)
    return check(precision_at_1, verdict, "precision@1 agrees with utils.evaluate.retrieval_report.")
