"""The checkers of notebook 1.1 accept right answers and reject a battery of wrong ones with a hint."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from test_exercises import battery_cases

from utils.evaluate import RelevantRanks, reciprocal_rank
from utils.exercises import WrongAnswer
from utils.exercises import distances as ex


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _angular(a, b):
    cosine = 1 - cdist(a, b, "cosine")
    return np.arccos(np.clip(cosine, -1, 1)) / np.pi


def _angular_normalising_in_place(a, b):
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    return _angular(a, b)


def _reciprocal_ranks(relevance):
    return 1 / (np.asarray(relevance).argmax(axis=1) + 1)


def _reciprocal_ranks_in_place(relevance):
    relevance[:, -1] = 1  # "make sure every row has a relevant item", on the caller's array
    return _reciprocal_ranks(relevance)


BATTERY = {
    ex.check_angular_distances: [
        ("cosine distance", lambda a, b: cdist(a, b, "cosine"), "cosine distance"),
        ("cosine similarity", lambda a, b: _unit(a) @ _unit(b).T, "cosine similarity"),
        ("radians", lambda a, b: np.pi * _angular(a, b), "divide the angle"),
        ("degrees", lambda a, b: 180 * _angular(a, b), "degrees"),
        ("squared angle", lambda a, b: _angular(a, b) ** 2, "squared angle"),
        ("no clipping", lambda a, b: np.arccos(_unit(a) @ _unit(b).T) / np.pi, "clip"),
        ("transposed", lambda a, b: _angular(a, b).T, "shape"),
        ("forgotten return", lambda a, b: None, "return"),
        ("Euclidean", lambda a, b: cdist(a, b), "normalise the rows"),
        ("normalised in place", _angular_normalising_in_place, "in place"),
    ],
    ex.check_reciprocal_ranks: [
        ("ranks from 0", lambda r: 1 / np.asarray(r).argmax(axis=1), "ranks start at 1"),
        ("off by one", lambda r: 1 / np.maximum(np.asarray(r).argmax(axis=1), 1), "off by one"),
        ("MRR instead", lambda r: float(np.mean(_reciprocal_ranks(r))), "one reciprocal rank per query"),
        ("last relevant item", lambda r: 1 / (r.shape[1] - np.asarray(r)[:, ::-1].argmax(axis=1)), "last relevant"),
        ("the rank, not its inverse", lambda r: np.asarray(r).argmax(axis=1) + 1.0, "1 / rank"),
        ("fraction relevant", lambda r: np.asarray(r).mean(axis=1), "first relevant"),
        ("one query short", lambda r: _reciprocal_ranks(r)[:-1], "shape"),
        ("forgotten return", lambda r: None, "return"),
        ("edits the relevance", _reciprocal_ranks_in_place, "in place"),
    ],
}


def test_reference_angular_distance_on_hand_computed_angles():
    a = np.array([[1.0, 0.0]])
    b = np.array([[2.0, 0.0], [0.0, 3.0], [-1.0, 0.0], [1.0, 1.0]])
    np.testing.assert_allclose(ex.reference_angular_distances(a, b), [[0, 0.5, 1, 0.25]], atol=1e-12)


def test_right_answers_pass(capsys):
    assert ex.check_angular_distances(_angular) is True
    assert ex.check_reciprocal_ranks(_reciprocal_ranks) is True
    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize("checker", BATTERY)
@pytest.mark.parametrize("stub", [None, ..., lambda *args: ...])
def test_stubs_are_not_attempted(checker, stub, capsys):
    assert checker(stub) is False
    assert "Not attempted" in capsys.readouterr().out


@pytest.mark.parametrize(("checker", "wrong", "hint"), battery_cases(BATTERY))
@pytest.mark.filterwarnings("ignore:invalid value encountered in arccos", "ignore:divide by zero")
def test_wrong_answers_are_rejected_with_a_hint(checker, wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        checker(wrong)


def test_reciprocal_ranks_reference_agrees_with_a_hand_computed_case():
    relevance = np.array([[0, 0, 1, 1], [1, 0, 0, 0], [0, 1, 0, 1]])
    np.testing.assert_allclose(reciprocal_rank(RelevantRanks.from_ranked_relevance(relevance)), [1 / 3, 1, 1 / 2])
    np.testing.assert_allclose(_reciprocal_ranks(relevance), [1 / 3, 1, 1 / 2])
