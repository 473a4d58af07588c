"""Checkers for the notebooks on Siamese and triplet networks and on mining and sampling
(notebooks/2_deep_metric_learning/01_siamese_and_triplet_networks.ipynb and
02_mining_and_sampling.ipynb).

Each checker takes the reader's function, runs it on small random inputs and compares it with
its twin in the package (:mod:`utils.evaluate`, :mod:`utils.miners`, :mod:`utils.losses`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from utils.evaluate import triplet_accuracy
from utils.exercises import check, stub_or_function
from utils.losses import all_triplets
from utils.miners import TripletMarginMiner


def _as_int_array(values: Any) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values)


# ---------------------------------------------------------------------------------------------
# 2.1 Siamese and triplet networks
# ---------------------------------------------------------------------------------------------


def check_triplet_accuracy(function: Callable | None) -> bool:
    """The reader's ``triplet_accuracy(embeddings, triplets)`` against utils.evaluate.

    ``embeddings`` is an array (n, d), ``triplets`` an int array (n_triplets, 3) of rows
    (anchor, positive, negative); the answer is the fraction with d(a, p) < d(a, n), a tie
    counting as an error (a collapsed space must score 0).
    """
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(40, 4))
    triplets = np.array([rng.choice(40, size=3, replace=False) for _ in range(300)])
    collapsed = np.ones_like(embeddings)

    def verdict(function: Callable) -> str | None:
        got = function(embeddings, triplets)
        if got is None:
            return "your function returned None: did you forget `return`?"
        expected = triplet_accuracy(embeddings, triplets)
        if not np.isclose(float(got), expected):
            if np.isclose(float(got), 1 - expected):
                return "you count the triplets where the negative is closer; count d(a, p) < d(a, n)."
            return f"expected {expected:.3f} on random data, got {float(got):.3f}."
        on_collapse = float(function(collapsed, triplets))
        if not np.isclose(on_collapse, 0.0):
            return (f"on a collapsed space (all points equal) you give {on_collapse:.2f}: a tie "
                    "d(a, p) == d(a, n) must count as an error (use <, not <=).")
        return None

    function = stub_or_function(function, embeddings, triplets, none_is_stub=False)
    return check(function, verdict, "triplet accuracy agrees with utils.evaluate.triplet_accuracy, "
                                     "and a collapsed space scores 0.")


def check_heldout_triplets(function: Callable | None) -> bool:
    """The reader's ``sample_triplets(labels, groups, n_triplets, seed)`` -> int array (n, 3).

    Each row (a, p, n) must have labels[a] == labels[p], groups[a] != groups[p] (so a != p and
    no near-duplicate positive) and labels[n] != labels[a]; the rows must be random (many
    distinct anchors) and repeatable (same seed, same triplets).
    """
    labels = np.repeat(np.arange(6), 20)
    groups = np.arange(len(labels)) // 4  # near-duplicates come in groups of four
    n_triplets = 500

    def verdict(function: Callable) -> str | None:
        triplets = _as_int_array(function(labels, groups, n_triplets, 0))
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
        if len(np.unique(a)) < len(labels) // 2:
            return f"only {len(np.unique(a))} distinct anchors in {n_triplets} triplets: draw them at random."
        again = _as_int_array(function(labels, groups, n_triplets, 0))
        if not np.array_equal(triplets, again):
            return "two calls with the same seed gave different triplets: use np.random.default_rng(seed)."
        return None

    function = stub_or_function(function, labels, groups, n_triplets, 0, none_is_stub=False)
    return check(function, verdict, "valid held-out triplets: same label, another group, another class.")


# ---------------------------------------------------------------------------------------------
# 2.2 Mining and sampling
# ---------------------------------------------------------------------------------------------


def check_triplet_count(function: Callable | None) -> bool:
    """The reader's ``n_triplets(p, k)``: the number of valid triplets of a P x K batch."""
    shapes = [(2, 2), (3, 2), (8, 4), (5, 7), (16, 4)]

    def verdict(function: Callable) -> str | None:
        for p, k in shapes:
            labels = torch.arange(p).repeat_interleave(k)
            expected = len(all_triplets(labels)[0])
            got = function(p, k)
            if got is None:
                return "your function returned None: did you forget `return`?"
            if int(got) != expected:
                return (f"for P = {p}, K = {k} there are {expected} triplets, you say {got}: count the "
                        "anchors, then the positives of each (not itself), then the negatives.")
        return None

    function = stub_or_function(function, 2, 2, none_is_stub=False)
    return check(function, verdict, "the number of triplets of a P x K batch is P K (K - 1) (P - 1) K.")


def check_semihard_miner(function: Callable | None) -> bool:
    """The reader's ``semihard_triplets(embeddings, labels, margin)`` against utils.miners.

    It returns (anchors, positives, negatives), LongTensors (or arrays), of the triplets with
    0 < d(a, n) - d(a, p) <= margin on L2-normalised embeddings; the order does not matter.
    """
    generator = torch.Generator().manual_seed(0)
    embeddings = torch.randn(24, 3, generator=generator, dtype=torch.float64) * 3
    labels = torch.arange(6).repeat_interleave(4)
    margin = 0.3

    def as_set(triplets) -> set[tuple[int, int, int]]:
        columns = [_as_int_array(index).ravel() for index in triplets]
        return set(zip(*(c.tolist() for c in columns), strict=True))

    def verdict(function: Callable) -> str | None:
        got = function(embeddings.clone(), labels.clone(), margin)
        if got is None or len(got) != 3:
            return "return three index tensors (anchors, positives, negatives)."
        got = as_set(got)
        expected = as_set(TripletMarginMiner(margin, "semihard")(embeddings, labels))
        if got == expected:
            return None
        unnormalised = as_set(TripletMarginMiner(margin, "semihard").mine(embeddings, labels))
        if got == unnormalised:
            return "L2-normalise the embeddings first (torch.nn.functional.normalize), as the loss does."
        hard = as_set(TripletMarginMiner(margin, "all")(embeddings, labels))
        if got == hard:
            return "these are all triplets inside the margin; semi-hard ones also need d(a, n) > d(a, p)."
        return (f"expected {len(expected)} semi-hard triplets, you give {len(got)}, "
                f"{len(got & expected)} of them right.")

    function = stub_or_function(function, embeddings.clone(), labels.clone(), margin, none_is_stub=False)
    return check(function, verdict, "your semi-hard triplets are utils.miners.TripletMarginMiner's.")
