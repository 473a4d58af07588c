"""The checkers of notebook 1.1 accept right answers and reject wrong ones with a useful hint."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from utils.evaluate import RelevantRanks, reciprocal_rank
from utils.exercises import WrongAnswer
from utils.exercises import distances as ex


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _angular(a, b):
    cosine = 1 - cdist(a, b, "cosine")
    return np.arccos(np.clip(cosine, -1, 1)) / np.pi


def test_reference_angular_distance_on_hand_computed_angles():
    a = np.array([[1.0, 0.0]])
    b = np.array([[2.0, 0.0], [0.0, 3.0], [-1.0, 0.0], [1.0, 1.0]])
    np.testing.assert_allclose(ex.reference_angular_distances(a, b), [[0, 0.5, 1, 0.25]], atol=1e-12)


def test_angular_distances_right_answer_passes(capsys):
    assert ex.check_angular_distances(_angular) is True
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("stub", [None, ..., lambda a, b: ...])
def test_angular_distances_not_attempted(stub, capsys):
    assert ex.check_angular_distances(stub) is False
    assert "Not attempted" in capsys.readouterr().out


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda a, b: cdist(a, b, "cosine"), "cosine distance"),
    (lambda a, b: np.pi * _angular(a, b), "divide the angle"),
    (lambda a, b: np.arccos(_unit(a) @ _unit(b).T) / np.pi, "clip"),
    (lambda a, b: _angular(a, b).T, "shape"),
    (lambda a, b: None, "return"),
    (lambda a, b: cdist(a, b), "expected"),
])
@pytest.mark.filterwarnings("ignore:invalid value encountered in arccos")
def test_angular_distances_wrong_answers_get_hints(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        ex.check_angular_distances(wrong)


def _reciprocal_ranks(relevance):
    return 1 / (np.asarray(relevance).argmax(axis=1) + 1)


def test_reciprocal_ranks_reference_agrees_with_a_hand_computed_case():
    relevance = np.array([[0, 0, 1, 1], [1, 0, 0, 0], [0, 1, 0, 1]])
    np.testing.assert_allclose(reciprocal_rank(RelevantRanks.from_ranked_relevance(relevance)), [1 / 3, 1, 1 / 2])
    np.testing.assert_allclose(_reciprocal_ranks(relevance), [1 / 3, 1, 1 / 2])


def test_reciprocal_ranks_right_answer_passes(capsys):
    assert ex.check_reciprocal_ranks(_reciprocal_ranks) is True
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("stub", [None, ..., lambda relevance: ...])
def test_reciprocal_ranks_not_attempted(stub):
    assert ex.check_reciprocal_ranks(stub) is False


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda r: 1 / np.asarray(r).argmax(axis=1), "ranks start at 1"),
    (lambda r: 1 / np.maximum(np.asarray(r).argmax(axis=1), 1), "off by one"),
    (lambda r: float(np.mean(_reciprocal_ranks(r))), "one reciprocal rank per query"),
    (lambda r: np.asarray(r).mean(axis=1), "expected"),
    (lambda r: _reciprocal_ranks(r)[:-1], "shape"),
    (lambda r: None, "return"),
])
@pytest.mark.filterwarnings("ignore:divide by zero")
def test_reciprocal_ranks_wrong_answers_get_hints(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        ex.check_reciprocal_ranks(wrong)
