"""Checkers for the notebooks on Siamese and triplet networks and on mining and sampling
(notebooks/2_deep_metric_learning/01_siamese_and_triplet_networks.ipynb and
02_mining_and_sampling.ipynb).

Each checker takes the reader's function, runs it on small random inputs and compares it with
its twin in the package (:mod:`utils.evaluate`, :mod:`utils.miners`, :mod:`utils.losses`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from utils.exercises import (
    call_on_copies,
    check,
    returned_none,
    seed_hint,
    stub_or_function,
    to_numpy,
)
from utils.exercises.constraints_and_ranking import triplet_accuracy_hint, triplet_test_data
from utils.losses import all_triplets
from utils.miners import TripletMarginMiner

# ---------------------------------------------------------------------------------------------
# 2.1 Siamese and triplet networks
# ---------------------------------------------------------------------------------------------


def check_triplet_accuracy(function: Callable | None) -> bool:
    """The reader's ``triplet_accuracy(embeddings, triplets)`` against utils.evaluate.

    ``embeddings`` is an array (n, d), ``triplets`` an int array (n_triplets, 3) of rows
    (anchor, positive, negative); the answer is the fraction with d(a, p) < d(a, n), a tie
    counting as an error (a collapsed space must score 0). Clustered test data with ties
    (:func:`utils.exercises.constraints_and_ranking.triplet_test_data`).
    """
    embeddings, triplets = triplet_test_data(seed=1)
    collapsed = np.ones_like(embeddings)

    def verdict(function: Callable) -> str | None:
        if (hint := triplet_accuracy_hint(function, embeddings, triplets)) is not None:
            return hint
        on_collapse = float(function(collapsed, triplets))
        if not np.isclose(on_collapse, 0.0):
            return (f"on a collapsed space (all points equal) you give {on_collapse:.2f}: a tie "
                    "d(a, p) == d(a, n) must count as an error (use <, not <=).")
        return None

    function = stub_or_function(function, embeddings, triplets, none_is_stub=False)
    return check(function, verdict, "triplet accuracy agrees with utils.evaluate.triplet_accuracy, "
                                     "and a collapsed space scores 0.")


def _fixed_per_anchor(anchors: np.ndarray, chosen: np.ndarray) -> float:
    """Among anchors drawn more than once, the fraction that always get the same ``chosen`` item."""
    repeated = [a for a, count in zip(*np.unique(anchors, return_counts=True), strict=True) if count > 1]
    return float(np.mean([len(np.unique(chosen[anchors == a])) == 1 for a in repeated]))


def _triplet_rows_hint(triplets: np.ndarray, labels: np.ndarray, groups: np.ndarray, n_triplets: int) -> str | None:
    """A hint when some row breaks the rules of a held-out triplet, or None."""
    if triplets.shape != (n_triplets, 3) or triplets.dtype.kind not in "iu":
        return f"expected an int array of shape ({n_triplets}, 3), got {triplets.dtype} {triplets.shape}."
    if triplets.min() < 0 or triplets.max() >= len(labels):
        return "the triplets must hold item indices 0 .. len(labels) - 1."
    a, p, n = triplets.T
    if (labels[a] != labels[p]).any():
        return "some positives do not share the anchor's label."
    if (labels[n] == labels[a]).any():
        return "some negatives share the anchor's label."
    if (a == p).any():
        return "some positives are the anchor itself."
    if (groups[a] == groups[p]).any():
        return "some positives are near-duplicates of the anchor (same group): exclude them."
    return None


def _triplet_randomness_hint(triplets: np.ndarray, labels: np.ndarray) -> str | None:
    """A hint when anchors, positives or negatives follow a fixed rule instead of random draws."""
    a, p, n = triplets.T
    if len(np.unique(a)) < len(labels) // 2:
        return f"only {len(np.unique(a))} distinct anchors in {len(a)} triplets: draw them at random."
    if _fixed_per_anchor(a, p) > 0.5:
        return "each anchor always gets the same positive: draw the positive at random among the allowed ones."
    if _fixed_per_anchor(a, n) > 0.5:
        return "each anchor always gets the same negative: draw the negative at random among the other labels."
    if min(len(np.unique(labels[n[labels[a] == c]])) for c in np.unique(labels)) < 2:
        return "the negatives of a class all come from one other class: draw them among every other label."
    return None


def check_heldout_triplets(function: Callable | None) -> bool:
    """The reader's ``sample_triplets(labels, groups, n_triplets, seed)`` -> int array (n, 3).

    Each row (a, p, n) must have labels[a] == labels[p], groups[a] != groups[p] (so a != p and
    no near-duplicate positive) and labels[n] != labels[a]; anchors, positives and negatives must
    be random draws (many distinct anchors, several positives and negatives per anchor), repeatable
    (same seed, same triplets) and different for another seed; the inputs stay unchanged.
    """
    labels = np.repeat(np.arange(6), 20)
    groups = np.arange(len(labels)) // 4  # near-duplicates come in groups of four
    n_triplets = 500

    def verdict(function: Callable) -> str | None:
        got, changed = call_on_copies(function, {"labels": labels, "groups": groups, "n_triplets": n_triplets,
                                                 "seed": 0})
        if (hint := returned_none(got) or changed) is not None:
            return hint
        triplets = to_numpy(got)
        hint = (_triplet_rows_hint(triplets, labels, groups, n_triplets)
                or _triplet_randomness_hint(triplets, labels))
        return hint or seed_hint(lambda seed: function(labels.copy(), groups.copy(), n_triplets, seed))

    function = stub_or_function(function, labels, groups, n_triplets, 0, none_is_stub=False)
    return check(function, verdict, "valid held-out triplets: same label, another group, another class, at random.")


# ---------------------------------------------------------------------------------------------
# 2.2 Mining and sampling
# ---------------------------------------------------------------------------------------------


_COUNT_MISTAKES = {
    "a positive is another item of the anchor's class: K - 1 per anchor, not K.":
        lambda p, k: p * k * k * (p - 1) * k,
    "every item of the other P - 1 classes is a negative: (P - 1) K per anchor, not P - 1.":
        lambda p, k: p * k * (k - 1) * (p - 1),
    "triplets are ordered: (a, p, n) and (p, a, n) are two triplets, so do not halve the count.":
        lambda p, k: p * k * (k - 1) * (p - 1) * k // 2,
    "a negative has another label than the anchor: the K - 1 other items of its class are not negatives.":
        lambda p, k: p * k * (k - 1) * (p * k - 1),
    "that counts every ordered triple of items: a triplet needs a positive of the anchor's label and a negative of another.":
        lambda p, k: (p * k) ** 3,
}


def check_triplet_count(function: Callable | None) -> bool:
    """The reader's ``n_triplets(p, k)``: the number of valid triplets of a P x K batch."""
    shapes = [(2, 2), (3, 2), (8, 4), (5, 7), (16, 4)]

    def verdict(function: Callable) -> str | None:
        got = [function(p, k) for p, k in shapes]
        if (hint := returned_none(next((value for value in got if value is None), 0))) is not None:
            return hint
        got = [int(value) for value in got]
        expected = [len(all_triplets(torch.arange(p).repeat_interleave(k))[0]) for p, k in shapes]
        if got == expected:
            return None
        for hint, wrong in _COUNT_MISTAKES.items():
            if got == [wrong(p, k) for p, k in shapes]:
                return hint
        p, k = next(shape for shape, value, right in zip(shapes, got, expected, strict=True) if value != right)
        return (f"for P = {p}, K = {k} your count is off: count the anchors, then the positives of each "
                "(not itself), then the negatives of each.")

    function = stub_or_function(function, 2, 2, none_is_stub=False)
    return check(function, verdict, "the number of triplets of a P x K batch is P K (K - 1) (P - 1) K.")


def semihard_variant(embeddings: torch.Tensor, labels: torch.Tensor, margin: float, *, normalise: bool = True,
                     above_positive: bool = True, self_positive: bool = False, any_negative: bool = False,
                     reversed_gap: bool = False, squared: bool = False) -> set[tuple[int, int, int]]:
    """Semi-hard triplets (a, p, n) as a set, or those a common mistake gives.

    With the defaults: ``0 < d(a, n) - d(a, p) <= margin`` on L2-normalised embeddings, p another
    item of a's label, n of another label. The flags make the mistakes: no normalisation, no lower
    bound (every triplet inside the margin), a as its own positive, negatives of any label, the gap
    the other way round, squared distances.
    """
    x = torch.nn.functional.normalize(embeddings, dim=1) if normalise else embeddings
    distances = torch.cdist(x, x) ** (2 if squared else 1)
    same = labels[:, None] == labels[None, :]
    positive = same if self_positive else same & ~torch.eye(len(labels), dtype=torch.bool)
    negative = ~torch.eye(len(labels), dtype=torch.bool) if any_negative else ~same
    gap = distances[:, None, :] - distances[:, :, None]  # [a, p, n] = d(a, n) - d(a, p)
    if reversed_gap:
        gap = -gap
    inside = (gap <= margin) & ((gap > 0) if above_positive else torch.ones_like(gap, dtype=torch.bool))
    return _as_set(torch.nonzero(positive[:, :, None] & negative[:, None, :] & inside, as_tuple=True))


def _as_set(triplets) -> set[tuple[int, int, int]]:
    columns = [to_numpy(index).ravel() for index in triplets]
    return set(zip(*(c.tolist() for c in columns), strict=True))


_SEMIHARD_MISTAKES = {
    "normalise": "L2-normalise the embeddings first (torch.nn.functional.normalize), as the loss does.",
    "above_positive": "these are all triplets inside the margin; semi-hard ones also need d(a, n) > d(a, p).",
    "self_positive": "a positive is another item of the anchor's class, never the anchor itself.",
    "any_negative": "a negative has another label than the anchor.",
    "reversed_gap": "the gap is d(a, n) - d(a, p): a semi-hard negative is farther than the positive, within the margin.",
    "squared": "the margin applies to distances, not squared distances (torch.cdist, no square).",
}


def check_semihard_miner(function: Callable | None) -> bool:
    """The reader's ``semihard_triplets(embeddings, labels, margin)`` against utils.miners.

    It returns (anchors, positives, negatives), LongTensors (or arrays), of the triplets with
    0 < d(a, n) - d(a, p) <= margin on L2-normalised embeddings; the order does not matter.
    """
    generator = torch.Generator().manual_seed(0)
    embeddings = torch.randn(24, 3, generator=generator, dtype=torch.float64) * 3
    labels = torch.arange(6).repeat_interleave(4)
    margin = 0.3

    def verdict(function: Callable) -> str | None:
        got, changed = call_on_copies(function, {"embeddings": embeddings, "labels": labels, "margin": margin})
        if got is None or len(got) != 3:
            return "return three index tensors (anchors, positives, negatives)."
        if changed:
            return changed
        got = _as_set(got)
        expected = _as_set(TripletMarginMiner(margin, "semihard")(embeddings, labels))
        if got == expected:
            return None
        for flag, hint in _SEMIHARD_MISTAKES.items():
            default = flag in ("normalise", "above_positive")
            if got == semihard_variant(embeddings, labels, margin, **{flag: not default}):
                return hint
        return (f"your {len(got)} triplets are not the semi-hard ones: p of the anchor's label (not itself), n of "
                "another, 0 < d(a, n) - d(a, p) <= margin on normalised embeddings.")

    function = stub_or_function(function, embeddings.clone(), labels.clone(), margin, none_is_stub=False)
    return check(function, verdict, "your semi-hard triplets are utils.miners.TripletMarginMiner's.")
