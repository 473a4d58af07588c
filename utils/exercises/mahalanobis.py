"""Checkers for notebook 1.2, learning a Mahalanobis metric from labels
(notebooks/1_foundations/02_mahalanobis_from_labels.ipynb).

- :func:`check_nca_dimensions`: held-out 1-NN accuracy of NCA for several output dimensions; the
  checker refits NCA at the reader's best and worst dimensions and compares.
- :func:`check_impostor_count`: LMNN's count of active impostor triplets written in NumPy,
  compared with :func:`utils.linear.count_impostors` on random data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from utils.exercises import call_on_copies, check, returned_none, stub_or_function
from utils.linear import NCA, count_impostors

# ---------------------------------------------------------------------------------------------
# Exercise 1: NCA's output dimension
# ---------------------------------------------------------------------------------------------


def nca_held_out_accuracy(
    n_components: int,
    train: tuple[np.ndarray, np.ndarray],
    held_out: tuple[np.ndarray, np.ndarray],
    max_iter: int = 50,
) -> float:
    """1-NN accuracy on ``held_out`` of StandardScaler -> NCA(n_components) -> 1-NN fitted on ``train``.

    ``train`` and ``held_out`` are pairs (features (n, d), labels (n,)) of raw (unscaled) features.
    """
    pipeline = make_pipeline(StandardScaler(), NCA(n_components=n_components, max_iter=max_iter),
                             KNeighborsClassifier(n_neighbors=1))
    return float(pipeline.fit(*train).score(*held_out))


def check_nca_dimensions(
    accuracies: Sequence[float] | None,
    dimensions: Sequence[int],
    train: tuple[np.ndarray, np.ndarray],
    held_out: tuple[np.ndarray, np.ndarray],
    max_iter: int = 50,
    tolerance: float = 0.02,
) -> bool:
    """The reader's held-out 1-NN accuracies of NCA, one per output dimension in ``dimensions``.

    The curve needs one accuracy (a fraction) per dimension; the checker refits NCA
    (:func:`nca_held_out_accuracy`) at the reader's best and worst dimensions (two fits, not all,
    to keep the notebook fast), and each must agree within ``tolerance``.
    """
    n_features = np.shape(train[0])[1]
    dimensions = [int(d) for d in dimensions]
    if not dimensions or min(dimensions) < 1 or max(dimensions) > n_features:
        raise ValueError(f"dimensions must be output sizes between 1 and {n_features}; got {dimensions}.")

    def verdict(answer: Sequence[float]) -> str | None:
        values = np.asarray(answer, dtype=float).ravel()
        if (hint := _curve_shape_hint(values, dimensions)) is not None:
            return hint
        for position in dict.fromkeys((int(values.argmax()), int(values.argmin()))):
            d = dimensions[position]
            if abs(values[position] - nca_held_out_accuracy(d, train, held_out, max_iter)) > tolerance:
                return (f"at d = {d}, NCA(n_components={d}, max_iter={max_iter}) fitted on the training notes "
                        f"and scored on the held-out notes disagrees with your {values[position]:.3f}: each "
                        "value must be the held-out 1-NN accuracy of a pipeline fitted at its own dimension.")
        return None

    return check(accuracies, verdict,
                 "one accuracy per dimension, and refits of NCA agree at your best and worst ones.")


def _curve_shape_hint(values: np.ndarray, dimensions: list[int]) -> str | None:
    """A hint when an accuracy curve is malformed before any refit: length, range, constant, 1.0."""
    if len(values) != len(dimensions):
        return (f"give one accuracy per dimension in {dimensions} ({len(dimensions)} values); "
                f"got {len(values)}.")
    if not np.isfinite(values).all():
        return "some accuracies are NaN or infinite."
    if values.min() < 0 or values.max() > 1:
        if values.max() <= 100:
            return "give accuracies as fractions in [0, 1], not percentages."
        return "accuracies are fractions in [0, 1]."
    if np.isclose(values.max(), 1.0):
        return ("an accuracy of 1.0 means each note found itself: score the pipeline on the "
                "held-out notes, not on the training notes.")
    if len(values) > 1 and np.ptp(values) == 0:
        return ("every dimension gets the same accuracy: fit a new pipeline with "
                "NCA(n_components=d) for each d before scoring it.")
    return None


# ---------------------------------------------------------------------------------------------
# Exercise 2: LMNN's impostors
# ---------------------------------------------------------------------------------------------


def impostor_count_variant(
    X: np.ndarray,
    y: np.ndarray,
    k: int,
    L: np.ndarray,
    margin: float,
    *,
    include_self: bool = False,
    targets_after_map: bool = False,
    count_pairs: bool = False,
    any_label: bool = False,
    unsquared: bool = False,
) -> int:
    """LMNN's active impostor triplets, or the count that a common mistake gives.

    With every flag False this is :func:`utils.linear.count_impostors`: triplets (i, j, l) with j
    one of the k nearest same-label points of i in the input space (not i itself),
    ``y_l != y_i`` and ``||L(x_i - x_l)||^2 < ||L(x_i - x_j)||^2 + margin``. The flags make the
    mistakes: i as its own target neighbour, targets chosen after the map, counting (i, l) pairs
    instead of triplets, impostors of any label, distances after the map not squared.
    """
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    mapped = X @ np.asarray(L, dtype=float).T
    distances = cdist(mapped, mapped, "euclidean" if unsquared else "sqeuclidean")
    target_space = mapped if targets_after_map else X
    same_label = y[:, None] == y[None, :]
    to_same = np.where(same_label, cdist(target_space, target_space, "sqeuclidean"), np.inf)
    if not include_self:
        np.fill_diagonal(to_same, np.inf)
    targets = np.argsort(to_same, axis=1, kind="stable")[:, :k]
    to_targets = np.take_along_axis(distances, targets, axis=1)
    candidates = np.ones_like(same_label) if any_label else ~same_label
    active = candidates[:, None, :] & (distances[:, None, :] < to_targets[:, :, None] + margin)
    return int(active.any(axis=1).sum() if count_pairs else active.sum())


_MISTAKES = {
    "include_self": "each point is its own nearest same-label point: leave i out of its target neighbours.",
    "targets_after_map": "target neighbours are fixed in the input space (on X), before the map L.",
    "count_pairs": "count triplets (i, j, l), one per target neighbour j, not impostor pairs (i, l).",
    "any_label": "an impostor has another label than i (y_l != y_i).",
    "unsquared": "the margin is added to squared distances: compare ||L(x_i - x_l)||^2 with ||L(x_i - x_j)||^2 + margin.",
}


def check_impostor_count(count_impostors_answer: Callable | None) -> bool:
    """The reader's ``count_impostors(X, y, k, L, margin) -> int`` against utils.linear.count_impostors.

    Random points in 5 dimensions, 3 labels, several k, margins and maps L (square and
    rectangular).
    """
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    y = rng.integers(0, 3, size=60)
    cases = [(3, np.eye(5), 1.0), (1, rng.normal(size=(3, 5)), 0.0), (2, rng.normal(size=(5, 5)), 0.5)]

    def verdict(function: Callable) -> str | None:
        for k, L, margin in cases:
            got, changed = call_on_copies(function, {"X": X, "y": y, "k": k, "L": L, "margin": margin})
            if (hint := returned_none(got) or changed) is not None:
                return hint
            if np.ndim(got) != 0:
                return f"return one number, the count of active triplets; got an array of shape {np.shape(got)}."
            if got == count_impostors(X, y, k=k, L=L, margin=margin):
                continue
            for mistake, hint in _MISTAKES.items():
                if got == impostor_count_variant(X, y, k, L, margin, **{mistake: True}):
                    return hint
            if margin > 0 and got == count_impostors(X, y, k=k, L=L, margin=0):
                return "add the margin: l is active when d(i, l) < d(i, j) + margin."
            return (f"with k={k}, margin={margin} and an L of shape {L.shape} your count ({got}) is off: "
                    "targets among the same label in X, squared distances after L, one count per (i, j, l).")
        return None

    probe = (np.eye(4), np.array([0, 0, 1, 1]), 1, np.eye(4), 1.0)
    answer = stub_or_function(count_impostors_answer, *probe, none_is_stub=False)
    return check(answer, verdict, "your impostor count agrees with utils.linear.count_impostors.")
