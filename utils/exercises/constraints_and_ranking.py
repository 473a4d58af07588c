"""Checkers for notebooks 1.3 and 1.4 (notebooks/1_foundations/03_side_information.ipynb and
notebooks/1_foundations/04_learning_to_rank.ipynb).

- :func:`check_noisy_listener` (1.3): a simulated listener that answers "is a closer to b than
  to c?" and gets each answer wrong with probability ``noise``.
- :func:`check_triplet_accuracy` (1.3): the fraction of triplets a space orders correctly,
  compared with :func:`utils.evaluate.triplet_accuracy`.
- :func:`check_average_precision` (1.4): average precision of one ranked relevance list,
  compared with :func:`utils.evaluate.average_precision`.
- :func:`check_ndcg_at_k` (1.4): binary nDCG@k of one ranked relevance list, compared with
  :func:`utils.evaluate.binary_ndcg_at_k`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from utils.evaluate import average_precision, binary_ndcg_at_k, triplet_accuracy
from utils.exercises import check, stub_or_function


def _as_float(got, name: str) -> float | str:
    """The reader's result as a float, or a hint saying what is wrong."""
    if got is None:
        return f"{name} returned None: did you forget `return`?"
    array = np.asarray(got, dtype=float)
    if array.size != 1:
        return f"{name} should return one number; got an array of shape {array.shape}."
    return float(array.ravel()[0])


def _example_triplets(n: int = 20_000, seed: int = 0) -> np.ndarray:
    """Random (anchor, closer, farther) triplets of 3 distinct rows out of 1000, shape (n, 3)."""
    rng = np.random.default_rng(seed)
    anchors = rng.integers(0, 1000, n)
    offsets = np.column_stack([rng.integers(1, 500, n), rng.integers(500, 1000, n)])
    return np.column_stack([anchors, (anchors[:, None] + offsets) % 1000])


def check_noisy_listener(listener: Callable | None) -> bool:
    """The reader's ``listener(triplets, noise, seed) -> answered triplets``.

    Each row (a, b, c) must come back as (a, b, c) ("b is closer") or, with probability ``noise``
    and independently of the other rows, as (a, c, b); the same seed gives the same answers.
    """
    example = _example_triplets(2_000)

    def verdict(function: Callable) -> str | None:
        triplets = _example_triplets()
        for noise in (0.0, 0.3, 1.0):
            got = function(triplets.copy(), noise, 0)
            if got is None:
                return "listener returned None: did you forget `return`?"
            got = np.asarray(got)
            if got.shape != triplets.shape:
                return f"listener should return an array of shape {triplets.shape}; got {got.shape}."
            if not np.array_equal(got[:, 0], triplets[:, 0]):
                return "the anchors (first column) changed: only the order of b and c may flip."
            kept = np.all(got == triplets, axis=1)
            flipped = np.all(got == triplets[:, [0, 2, 1]], axis=1)
            if not np.all(kept | flipped):
                return "each answer must be the triplet itself or it with columns 1 and 2 swapped."
            if abs(flipped.mean() - noise) > 0.02:
                return f"with noise={noise}, {flipped.mean():.1%} of answers flipped; expected about {noise:.0%}."
        if not np.array_equal(function(triplets.copy(), 0.3, 0), function(triplets.copy(), 0.3, 0)):
            return "the same seed should give the same answers: draw from np.random.default_rng(seed)."
        return None

    return check(stub_or_function(listener, example, 0.1, 0, none_is_stub=False), verdict,
                 "your listener errs at the rate you ask for, and reproducibly.")


def check_triplet_accuracy(accuracy: Callable | None) -> bool:
    """The reader's ``accuracy(embeddings, triplets) -> float`` against the course's.

    Random embeddings with some duplicated rows, so that ties (which count as errors) occur.
    """
    rng = np.random.default_rng(0)
    points = rng.normal(size=(1000, 5))
    points[900:] = points[:100]
    triplets = _example_triplets(5_000)
    triplets[:200, 2] = triplets[:200, 1] + np.where(triplets[:200, 1] < 100, 900, 0)

    def verdict(function: Callable) -> str | None:
        got = _as_float(function(points, triplets), "accuracy")
        if isinstance(got, str):
            return got
        expected = triplet_accuracy(points, triplets)
        if np.isclose(got, 1 - expected, atol=1e-9):
            return "you count the triplets where the negative is closer: an anchor should be closer to the positive."
        if not np.isclose(got, expected, atol=1e-9):
            return f"got {got:.4f}, expected {expected:.4f} (a tie d(a, p) == d(a, n) counts as an error)."
        return None

    return check(stub_or_function(accuracy, points, triplets[:10], none_is_stub=False), verdict,
                 "matches utils.evaluate.triplet_accuracy, ties included.")


def _random_relevance_lists(seed: int = 0) -> list[np.ndarray]:
    """Ranked 0/1 relevance lists of various lengths, each with at least one relevant item."""
    rng = np.random.default_rng(seed)
    lists = [rng.random(length) < rate for length in (1, 5, 17, 60) for rate in (0.1, 0.5, 0.9)]
    lists = [np.append(rel, True) if not rel.any() else rel for rel in lists]
    return [rel.astype(int) for rel in lists] + [np.array([0, 0, 0, 1]), np.array([1, 0, 0, 0])]


def check_average_precision(average_precision_of: Callable | None) -> bool:
    """The reader's ``average_precision_of(relevance) -> float`` for one ranked 0/1 list."""

    def verdict(function: Callable) -> str | None:
        for relevance in _random_relevance_lists():
            got = _as_float(function(relevance.copy()), "average_precision_of")
            if isinstance(got, str):
                return got
            expected = float(average_precision(relevance[None, :])[0])
            if not np.isclose(got, expected, atol=1e-9):
                return (f"for relevance {relevance.tolist()[:12]}{'...' if len(relevance) > 12 else ''}, got "
                        f"{got:.4f}, expected {expected:.4f}: average the precision at the rank of each "
                        "relevant item (ranks start at 1).")
        return None

    return check(stub_or_function(average_precision_of, np.array([1, 0, 1]), none_is_stub=False), verdict,
                 "matches utils.evaluate.average_precision.")


def check_ndcg_at_k(ndcg_at_k: Callable | None) -> bool:
    """The reader's ``ndcg_at_k(relevance, k) -> float`` (binary gains, log2 discount)."""

    def verdict(function: Callable) -> str | None:
        for relevance in _random_relevance_lists(1):
            for k in (1, 3, 10):
                got = _as_float(function(relevance.copy(), k), "ndcg_at_k")
                if isinstance(got, str):
                    return got
                expected = float(binary_ndcg_at_k(relevance[None, :], k)[0])
                if not np.isclose(got, expected, atol=1e-9):
                    return (f"for relevance {relevance.tolist()[:12]} and k={k}, got {got:.4f}, expected "
                            f"{expected:.4f}: DCG@k = sum of rel_i / log2(i + 1) over ranks i = 1..k, "
                            "divided by the DCG@k of the ideal order (all relevant items first).")
        return None

    return check(stub_or_function(ndcg_at_k, np.array([1, 0, 1]), 2, none_is_stub=False), verdict,
                 "matches utils.evaluate.binary_ndcg_at_k.")
