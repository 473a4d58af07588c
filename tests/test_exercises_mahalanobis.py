"""The checkers of notebook 1.2 accept right answers and reject wrong ones with a useful hint."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from test_exercises import battery_cases

from utils.exercises import WrongAnswer
from utils.exercises import mahalanobis as ex
from utils.linear import count_impostors

# --- Exercise 2: impostor count --------------------------------------------------------------

def _impostors(X, y, k, L, margin):
    """A reader's loop-free answer: targets in the input space, then the hinge's active set."""
    distances = cdist(X @ L.T, X @ L.T, "sqeuclidean")
    same = y[:, None] == y[None, :]
    to_same = np.where(same & ~np.eye(len(y), dtype=bool), cdist(X, X), np.inf)
    targets = np.argsort(to_same, axis=1)[:, :k]
    to_targets = np.take_along_axis(distances, targets, axis=1)
    return int((~same[:, None, :] & (distances[:, None, :] < to_targets[:, :, None] + margin)).sum())


def _impostors_with_loops(X, y, k, L, margin):
    """The same count with explicit loops, as a careful beginner would write it."""
    Z = X @ L.T
    total = 0
    for i in range(len(X)):
        mates = [j for j in range(len(X)) if y[j] == y[i] and j != i]
        mates.sort(key=lambda j: np.sum((X[i] - X[j]) ** 2))
        for j in mates[:k]:
            reach = np.sum((Z[i] - Z[j]) ** 2) + margin
            total += sum(y[l] != y[i] and np.sum((Z[i] - Z[l]) ** 2) < reach for l in range(len(X)))
    return total


@pytest.mark.parametrize("seed", [0, 1])
def test_variant_without_mistakes_is_utils_count_impostors(seed):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(50, 4)), rng.integers(0, 3, size=50)
    for k, L, margin in [(3, None, 1.0), (2, rng.normal(size=(2, 4)), 0.0), (1, rng.normal(size=(4, 4)), 0.3)]:
        L_or_identity = np.eye(4) if L is None else L
        assert ex.impostor_count_variant(X, y, k, L_or_identity, margin) == count_impostors(X, y, k=k, L=L, margin=margin)


def test_impostor_count_on_a_hand_computed_line():
    # a at 0 and 1, b at 1.5 and 4, k = 1, margin 2 (squared distances): the a's each have one
    # impostor (1.5: 2.25 < 1 + 2 and 0.25 < 1 + 2), the b at 1.5 has two (its target is 6.25 away)
    X, y = np.array([[0.0], [1.0], [1.5], [4.0]]), np.array([0, 0, 1, 1])
    assert ex.impostor_count_variant(X, y, 1, np.eye(1), 2.0) == count_impostors(X, y, k=1, margin=2.0) == 4


@pytest.mark.parametrize("answer", [_impostors, _impostors_with_loops])
def test_impostor_count_right_answers_pass(answer, capsys):
    assert ex.check_impostor_count(answer) is True
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("stub", [None, ..., lambda X, y, k, L, margin: ...])
def test_impostor_count_not_attempted(stub, capsys):
    assert ex.check_impostor_count(stub) is False
    assert "Not attempted" in capsys.readouterr().out


# --- Exercise 1: NCA's output dimension ------------------------------------------------------

DIMENSIONS = (1, 2, 4)
N_CLASSES = 4


@functools.cache
def _split_data():
    """Four classes that differ in 2 of 6 features, the others noise; raw scales differ."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(N_CLASSES), 30)
    centres = rng.normal(scale=2.0, size=(4, 2))
    X = rng.normal(size=(120, 6)) * np.array([1, 1, 5, 5, 5, 5])
    X[:, :2] += centres[labels]
    order = rng.permutation(120)
    train, held_out = order[:80], order[80:]
    return (X[train], labels[train]), (X[held_out], labels[held_out])


@pytest.fixture(scope="module")
def split_data():
    return _split_data()


@pytest.fixture(scope="module")
def right_curve(split_data):
    return [ex.nca_held_out_accuracy(d, *split_data, max_iter=5) for d in DIMENSIONS]


def _check(curve, split_data):
    return ex.check_nca_dimensions(curve, DIMENSIONS, *split_data, max_iter=5)


def test_nca_dimensions_right_answer_passes(right_curve, split_data, capsys):
    assert 0.25 < max(right_curve) < 1
    assert _check(right_curve, split_data) is True
    assert "✓" in capsys.readouterr().out


def test_nca_dimensions_within_tolerance_passes(right_curve, split_data):
    assert _check(np.array(right_curve) - 0.01, split_data) is True


def test_nca_dimensions_not_attempted(split_data, capsys):
    assert _check(..., split_data) is False
    assert "Not attempted" in capsys.readouterr().out


def test_nca_dimensions_rejects_impossible_dimensions(split_data):
    with pytest.raises(ValueError, match="between 1 and 6"):
        ex.check_nca_dimensions([0.5], [7], *split_data)


@functools.cache
def _right_curve():
    return tuple(ex.nca_held_out_accuracy(d, *_split_data(), max_iter=5) for d in DIMENSIONS)


@functools.wraps(ex.check_nca_dimensions)
def check_nca_curve(make_curve):
    """check_nca_dimensions on the test split, the answer made from the right curve."""
    return ex.check_nca_dimensions(make_curve(list(_right_curve())), DIMENSIONS, *_split_data(), max_iter=5)


def _made_up(curve):
    """The issue's example: the best value right, the others invented."""
    best = int(np.argmax(curve))
    return [value if i == best else 0.0 for i, value in enumerate(curve)]


def _impostors_centring_in_place(X, y, k, L, margin):
    X -= X.mean(axis=0)  # distances do not change, but the caller's X does
    return _impostors(X, y, k, L, margin)


def _variant(**mistake):
    return lambda X, y, k, L, margin: ex.impostor_count_variant(X, y, k, L, margin, **mistake)


BATTERY = {
    check_nca_curve: [
        ("one value short", lambda curve: curve[:-1], "one accuracy per dimension"),
        ("percentages", lambda curve: [100 * a for a in curve], "percentages"),
        ("scored on the training notes", lambda curve: [1.0] * len(curve), "training notes"),
        ("made-up curve, best value right", _made_up, "its own dimension"),
        ("every value 0.1 low", lambda curve: [a - 0.1 for a in curve], "its own dimension"),
        ("reversed order", lambda curve: curve[::-1], "its own dimension"),
        ("chance level everywhere", lambda curve: [1 / N_CLASSES] * len(curve), "same accuracy"),
        ("NaN", lambda curve: [np.nan] * len(curve), "NaN"),
    ],
    ex.check_impostor_count: [
        ("i its own target", _variant(include_self=True), "its own"),
        ("targets after the map", _variant(targets_after_map=True), "input space"),
        ("pairs, not triplets", _variant(count_pairs=True), "not impostor pairs"),
        ("impostors of any label", _variant(any_label=True), "another label"),
        ("distances not squared", _variant(unsquared=True), "squared distances"),
        ("margin forgotten", lambda X, y, k, L, margin: _impostors(X, y, k, L, 0.0), "add the margin"),
        ("forgotten return", lambda X, y, k, L, margin: None, "return"),
        ("an array", lambda X, y, k, L, margin: np.zeros(3), "one number"),
        ("off by one", lambda X, y, k, L, margin: _impostors(X, y, k, L, margin) + 1, "one count per"),
        ("centres X in place", _impostors_centring_in_place, "in place"),
    ],
}


@pytest.mark.parametrize(("checker", "wrong", "hint"), battery_cases(BATTERY))
def test_wrong_answers_are_rejected_with_a_hint(checker, wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        checker(wrong)
