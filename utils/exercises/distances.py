"""Checkers for notebook 1.1, distances and retrieval (notebooks/1_foundations/01_distances_and_retrieval.ipynb).

- :func:`check_angular_distances`: the angle between two vectors, a metric where cosine distance
  is not.
- :func:`check_reciprocal_ranks`: the reciprocal rank of each query from its ranked relevance,
  compared with :func:`utils.evaluate.reciprocal_rank`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from utils.evaluate import reciprocal_rank
from utils.exercises import call_on_copies, check, stub_or_function


def _as_array(got, name: str, shape: tuple[int, ...]) -> np.ndarray | str:
    """The reader's result as a float array of ``shape``, or a hint saying what is wrong."""
    if got is None:
        return f"{name} returned None: did you forget `return`?"
    array = np.asarray(got, dtype=float)
    if array.shape != shape:
        return f"{name} should return an array of shape {shape}; got shape {array.shape}."
    return array


def reference_angular_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle between each row of ``a`` ``(n_a, D)`` and each row of ``b`` ``(n_b, D)``, over pi.

    Returns ``(n_a, n_b)`` values in [0, 1]: 0 for the same direction, 1 for opposite ones.
    """
    unit_a = a / np.linalg.norm(a, axis=1, keepdims=True)
    unit_b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.arccos(np.clip(unit_a @ unit_b.T, -1, 1)) / np.pi


def _triangle_violations(distances: np.ndarray, tolerance: float = 1e-9) -> int:
    """Ordered triples ``(i, j, k)`` with ``d(i, k) > d(i, j) + d(j, k)`` in a square matrix."""
    return int((distances[:, None, :] > distances[:, :, None] + distances[None, :, :] + tolerance).sum())


def _angle_mistakes(expected: np.ndarray) -> dict[str, np.ndarray]:
    """Plausible wrong answers computed from the right ``expected`` angles (over pi), and their hints."""
    angle = np.pi * expected
    return {
        "this is the cosine distance 1 - cos(angle); the angular distance is the angle itself.": 1 - np.cos(angle),
        "this is the cosine similarity, larger for closer vectors: take its arccos, the angle.": np.cos(angle),
        "right angle, wrong unit: divide the angle (radians) by pi so that distances lie in [0, 1].": angle,
        "right angle, wrong unit: degrees; divide the angle in radians by pi so that distances lie in [0, 1].":
            np.degrees(angle),
        "this is the squared angle: the angle itself (over pi) is the metric.": expected**2,
    }


def check_angular_distances(angular_distances: Callable | None) -> bool:
    """The reader's ``angular_distances(a, b) -> (n_a, n_b)`` against the reference.

    Random vectors, a few of them parallel or opposite to others (where rounding puts the cosine
    just outside [-1, 1]); the answer must match and satisfy the triangle inequality.
    """
    rng = np.random.default_rng(0)
    points = rng.normal(size=(40, 6))
    points[30:] = points[:10] * rng.uniform(0.1, 10, size=(10, 1)) * np.repeat([1, -1], 5)[:, None]
    expected = reference_angular_distances(points, points[:25])

    def verdict(function: Callable) -> str | None:
        got, changed = call_on_copies(function, {"a": points, "b": points[:25]})
        got = _as_array(got, "angular_distances", (40, 25))
        if isinstance(got, str) or changed:
            return got if isinstance(got, str) else changed
        if np.isnan(got).any():
            return "some distances are NaN: clip the cosine to [-1, 1] before np.arccos (rounding pushes it out)."
        for hint, wrong in _angle_mistakes(expected).items():
            if np.allclose(got, wrong, rtol=1e-4, atol=1e-4):
                return hint
        if not np.allclose(got, expected, atol=1e-6):
            worst = np.unravel_index(np.abs(got - expected).argmax(), got.shape)
            return (f"the distance between a[{worst[0]}] and b[{worst[1]}] is off ({got[worst]:.4f}): normalise "
                    "the rows, take all dot products, clip, arccos, divide by pi.")
        square = function(points.copy(), points.copy())
        if _triangle_violations(np.asarray(square, dtype=float), tolerance=1e-6):
            return "your distances break the triangle inequality on some triples."
        return None

    answer = stub_or_function(angular_distances, np.ones((1, 2)), np.ones((1, 2)), none_is_stub=False)
    return check(answer, verdict, "angular distances agree with the reference and satisfy the triangle inequality.")


def check_reciprocal_ranks(reciprocal_ranks: Callable | None) -> bool:
    """The reader's ``reciprocal_ranks(ranked_relevance) -> (n_queries,)`` against utils.evaluate.

    ``ranked_relevance`` is a 0/1 array ``(n_queries, list_length)`` in ranked order, each row
    with at least one relevant item.
    """
    rng = np.random.default_rng(0)
    relevance = (rng.random((50, 30)) < 0.15).astype(int)
    relevance[np.arange(50), rng.integers(0, 30, size=50)] = 1  # a relevant item in every row
    relevance[0, 0] = 1
    expected = reciprocal_rank(relevance)
    first_index = relevance.argmax(axis=1)
    last_index = relevance.shape[1] - 1 - relevance[:, ::-1].argmax(axis=1)

    def verdict(function: Callable) -> str | None:
        got, changed = call_on_copies(function, {"relevance": relevance})
        if got is not None and np.ndim(got) == 0:
            return "return one reciprocal rank per query, shape (n_queries,); MRR is their mean."
        got = _as_array(got, "reciprocal_ranks", (50,))
        if isinstance(got, str) or changed:
            return got if isinstance(got, str) else changed
        if not np.isfinite(got).all():
            return "some values are infinite or NaN: ranks start at 1 (the first result), not 0."
        if np.allclose(got[first_index > 0], 1 / first_index[first_index > 0]):
            return "off by one: the first result has rank 1, so its reciprocal rank is 1."
        if np.allclose(got, 1 / (last_index + 1)):
            return "that is the rank of the last relevant item: the reciprocal rank uses the first one."
        if np.allclose(got, first_index + 1):
            return "that is the rank itself: the reciprocal rank is 1 / rank."
        if not np.allclose(got, expected):
            query = int(np.abs(got - expected).argmax())
            return (f"query {query}'s reciprocal rank is off ({got[query]:.4f}): find the index of its first "
                    "relevant item, add 1 for the rank, and invert.")
        return None

    answer = stub_or_function(reciprocal_ranks, np.ones((1, 2)), none_is_stub=False)
    return check(answer, verdict, "reciprocal ranks agree with utils.evaluate.reciprocal_rank.")
