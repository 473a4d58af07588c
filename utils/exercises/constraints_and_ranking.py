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

from collections.abc import Callable, Sequence

import numpy as np

from utils.evaluate import average_precision, binary_ndcg_at_k, triplet_accuracy
from utils.exercises import call_on_copies, check, returned_none, seed_hint, stub_or_function


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


def _listener_hint(function: Callable, triplets: np.ndarray, noise: float) -> str | None:
    """A hint unless ``function`` flips about ``noise`` of ``triplets``' rows, on a copy."""
    got, changed = call_on_copies(function, {"triplets": triplets, "noise": noise, "seed": 0})
    if (hint := returned_none(got, "listener") or changed) is not None:
        return hint
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
    return None


def check_noisy_listener(listener: Callable | None) -> bool:
    """The reader's ``listener(triplets, noise, seed) -> answered triplets``.

    Each row (a, b, c) must come back, in a copy, as (a, b, c) ("b is closer") or, with
    probability ``noise`` and independently of the other rows, as (a, c, b); the same seed gives
    the same answers, another seed other ones.
    """
    example, triplets = _example_triplets(2_000), _example_triplets()

    def verdict(function: Callable) -> str | None:
        for noise in (0.0, 0.3, 1.0):
            if (hint := _listener_hint(function, triplets, noise)) is not None:
                return hint
        return seed_hint(lambda seed: function(triplets.copy(), 0.3, seed))

    return check(stub_or_function(listener, example, 0.1, 0, none_is_stub=False), verdict,
                 "your listener errs at the rate you ask for, at random, reproducibly, on a copy.")


def triplet_test_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Clustered embeddings (330, 4) and triplets (a, p, n) of them, 200 of which are ties.

    Ten clusters of 30 points; each triplet's anchor and positive share a cluster and its negative
    comes from another, so that a right answer is far from chance (0.5) and from its complement.
    Rows 300..329 copy rows 0..29 as other items, for the tied triplets (a, p, copy of p).
    """
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), 30)
    points = rng.normal(size=(10, 4))[labels] + 0.6 * rng.normal(size=(300, 4))
    points = np.concatenate([points, points[:30]])
    anchors = rng.integers(0, 300, 3000)
    positives = labels[anchors] * 30 + (anchors % 30 + rng.integers(1, 30, 3000)) % 30
    negatives = (labels[anchors] * 30 + rng.integers(30, 300, 3000)) % 300
    tied_anchors = rng.integers(0, 30, 200)
    tied_positives = (tied_anchors + rng.integers(1, 30, 200)) % 30
    triplets = np.concatenate([np.column_stack([anchors, positives, negatives]),
                               np.column_stack([tied_anchors, tied_positives, tied_positives + 300])])
    return points, triplets


def _triplet_distances(points: np.ndarray, triplets: np.ndarray) -> tuple[np.ndarray, ...]:
    a, p, n = (points[triplets[:, i]] for i in range(3))
    return np.linalg.norm(a - p, axis=1), np.linalg.norm(a - n, axis=1), np.linalg.norm(p - n, axis=1)


def triplet_accuracy_hint(function: Callable, points: np.ndarray, triplets: np.ndarray) -> str | None:
    """None when ``function(points, triplets)`` is the triplet accuracy (ties as errors), else a hint."""
    got, changed = call_on_copies(function, {"embeddings": points, "triplets": triplets})
    got = _as_float(got, "accuracy")
    if isinstance(got, str) or changed:
        return got if isinstance(got, str) else changed
    to_positive, to_negative, between = _triplet_distances(points, triplets)
    if np.isclose(got, triplet_accuracy(points, triplets), atol=1e-9):
        return None
    if not 0 <= got <= 1:
        return "an accuracy is a fraction in [0, 1]: the mean over triplets, not a count."
    mistakes = {
        "you count the triplets where the negative is closer: an anchor should be closer to the positive.":
            (to_negative < to_positive, to_negative <= to_positive),
        "a tie d(a, p) == d(a, n) counts as an error: use <, not <=.": (to_positive <= to_negative,),
        "both distances are measured from the anchor (column 0): d(a, p) against d(a, n), not d(p, n).":
            (to_positive < between, to_negative < between),
    }
    for hint, variants in mistakes.items():
        if any(np.isclose(got, np.mean(variant), atol=1e-9) for variant in variants):
            return hint
    if np.isclose(got, 0.5):
        return "0.5 is the chance level: count the triplets with d(a, p) < d(a, n), as a fraction."
    return "your accuracy differs from the fraction of triplets with d(a, p) < d(a, n) on clustered test data."


def check_triplet_accuracy(accuracy: Callable | None) -> bool:
    """The reader's ``accuracy(embeddings, triplets) -> float`` against the course's.

    Clustered embeddings (:func:`triplet_test_data`), with duplicated rows so that ties (which
    count as errors) occur.
    """
    points, triplets = triplet_test_data()
    return check(stub_or_function(accuracy, points, triplets[:10], none_is_stub=False),
                 lambda function: triplet_accuracy_hint(function, points, triplets),
                 "matches utils.evaluate.triplet_accuracy, ties included.")


def _random_relevance_lists(seed: int = 0) -> list[np.ndarray]:
    """Ranked 0/1 relevance lists of various lengths, each with at least one relevant item."""
    rng = np.random.default_rng(seed)
    lists = [rng.random(length) < rate for length in (1, 5, 17, 60) for rate in (0.1, 0.5, 0.9)]
    lists = [np.append(rel, True) if not rel.any() else rel for rel in lists]
    return [rel.astype(int) for rel in lists] + [np.array([0, 0, 0, 1]), np.array([1, 0, 0, 0])]


def _list_verdict(function: Callable, cases: Sequence[tuple], name: str, reference: Callable,
                  mistakes: dict[str, Callable]) -> str | None:
    """Run ``function`` on each case (a relevance list first); None if it matches ``reference``.

    Otherwise the hint of the first of ``mistakes`` (hint -> wrong function of the same case)
    whose values it matches on every case, or None for the caller's generic hint.
    """
    got = []
    for case in cases:
        value, changed = call_on_copies(function, dict(zip(("relevance", "k"), case, strict=False)))
        value = _as_float(value, name)
        if isinstance(value, str) or changed:
            return value if isinstance(value, str) else changed
        got.append(value)
    got = np.array(got)
    if not np.isfinite(got).all():
        return "some values are infinite or NaN: ranks start at 1 (the first result), and log2(1 + 1) = 1."
    if np.allclose(got, [reference(*case) for case in cases], atol=1e-9):
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        for hint, wrong in mistakes.items():
            if np.allclose(got, [wrong(*case) for case in cases], atol=1e-9):
                return hint
    return ""


def _precision_at_each_rank(relevance: np.ndarray) -> np.ndarray:
    return np.cumsum(relevance) / np.arange(1, len(relevance) + 1)


_AP_MISTAKES = {
    "average the precision only at the ranks of the relevant items, not at every rank.":
        lambda rel: _precision_at_each_rank(rel).mean(),
    "divide the sum of the precisions at the relevant ranks by the number of relevant items, not the list length.":
        lambda rel: (_precision_at_each_rank(rel) * rel).sum() / len(rel),
    "the list is in ranked order: index 0 is rank 1, the best result.":
        lambda rel: float(average_precision(rel[::-1][None, :])[0]),
    "that is the fraction of relevant items in the list (the chance level of a random ranking).":
        lambda rel: rel.mean(),
    "that is the R-precision (precision at rank R); AP averages the precision at each relevant item's rank.":
        lambda rel: rel[: rel.sum()].mean(),
}


def check_average_precision(average_precision_of: Callable | None) -> bool:
    """The reader's ``average_precision_of(relevance) -> float`` for one ranked 0/1 list."""
    cases = [(relevance,) for relevance in _random_relevance_lists()]

    def verdict(function: Callable) -> str | None:
        hint = _list_verdict(function, cases, "average_precision_of",
                             lambda rel: float(average_precision(rel[None, :])[0]), _AP_MISTAKES)
        return hint or (None if hint is None else
                        "average the precision at the rank of each relevant item (ranks start at 1).")

    return check(stub_or_function(average_precision_of, np.array([1, 0, 1]), none_is_stub=False), verdict,
                 "matches utils.evaluate.average_precision.")


def _dcg(relevance: np.ndarray, k: int) -> float:
    top = relevance[:k]
    return float((top / np.log2(np.arange(2, len(top) + 2))).sum())


_NDCG_MISTAKES = {
    "divide by the DCG@k of the ideal order (all relevant items first), so that a perfect ranking scores 1.":
        _dcg,
    "only the top k results count: DCG@k sums over ranks 1..k.":
        lambda rel, k: _dcg(rel, len(rel)) / _dcg(np.sort(rel)[::-1], len(rel)),
    "the ideal ranking is cut at k too: its DCG@k counts at most k relevant items.":
        lambda rel, k: _dcg(rel, k) / _dcg(np.ones(int(rel.sum())), len(rel)),
    "off by one: the top k results are ranks 1..k, relevance[:k].":
        lambda rel, k: _dcg(rel, k + 1) / _dcg(np.sort(rel)[::-1], k + 1),
}


def check_ndcg_at_k(ndcg_at_k: Callable | None) -> bool:
    """The reader's ``ndcg_at_k(relevance, k) -> float`` (binary gains, log2 discount)."""
    cases = [(relevance, k) for relevance in _random_relevance_lists(1) for k in (1, 3, 10)]

    def verdict(function: Callable) -> str | None:
        hint = _list_verdict(function, cases, "ndcg_at_k",
                             lambda rel, k: float(binary_ndcg_at_k(rel[None, :], k)[0]), _NDCG_MISTAKES)
        return hint or (None if hint is None else
                        "DCG@k = sum of rel_i / log2(i + 1) over ranks i = 1..k, divided by the DCG@k of the "
                        "ideal order (all relevant items first).")

    return check(stub_or_function(ndcg_at_k, np.array([1, 0, 1]), 2, none_is_stub=False), verdict,
                 "matches utils.evaluate.binary_ndcg_at_k.")
