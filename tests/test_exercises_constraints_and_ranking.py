"""The checkers of notebooks 1.3 and 1.4 accept right answers and reject wrong ones with a hint."""

from __future__ import annotations

import numpy as np
import pytest

from utils.exercises import WrongAnswer
from utils.exercises import constraints_and_ranking as ex


def _listener(triplets, noise, seed):
    flip = np.random.default_rng(seed).random(len(triplets)) < noise
    answered = triplets.copy()
    answered[flip, 1:] = triplets[flip, 2:0:-1]
    return answered


def _triplet_accuracy(points, triplets):
    a, p, n = (points[triplets[:, i]] for i in range(3))
    return np.mean(np.linalg.norm(a - p, axis=1) < np.linalg.norm(a - n, axis=1))


def _average_precision(relevance):
    hits = np.flatnonzero(relevance)
    return np.mean(np.arange(1, len(hits) + 1) / (hits + 1))


def _ndcg_at_k(relevance, k):
    discounts = 1 / np.log2(np.arange(2, k + 2))
    top = relevance[:k]
    ideal = discounts[: min(k, relevance.sum())].sum()
    return (top * discounts[: len(top)]).sum() / ideal


def test_right_answers_pass(capsys):
    assert ex.check_noisy_listener(_listener) is True
    assert ex.check_triplet_accuracy(_triplet_accuracy) is True
    assert ex.check_average_precision(_average_precision) is True
    assert ex.check_ndcg_at_k(_ndcg_at_k) is True
    assert capsys.readouterr().out.count("✓") == 4


@pytest.mark.parametrize("checker", [ex.check_noisy_listener, ex.check_triplet_accuracy,
                                     ex.check_average_precision, ex.check_ndcg_at_k])
@pytest.mark.parametrize("stub", [None, ..., lambda *args: ...])
def test_stubs_are_not_attempted(checker, stub, capsys):
    assert checker(stub) is False
    assert "Not attempted" in capsys.readouterr().out


def _swap_all_rows_of(triplets):
    return triplets[:, [0, 2, 1]]


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda t, noise, seed: None, "return"),
    (lambda t, noise, seed: _swap_all_rows_of(t), "expected about"),
    (lambda t, noise, seed: _listener(t, noise / 2, seed), "expected about"),
    (lambda t, noise, seed: t[:, ::-1], "anchors"),
    (lambda t, noise, seed: np.column_stack([t[:, 0], t[:, 1], t[:, 1]]), "swapped"),
    (lambda t, noise, seed: _listener(t, noise, None), "same seed"),
    (lambda t, noise, seed: t[:-1], "shape"),
])
def test_wrong_listeners_get_hints(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        ex.check_noisy_listener(wrong)


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda x, t: 1 - _triplet_accuracy(x, t), "negative is closer"),
    (lambda x, t: np.mean(np.linalg.norm(x[t[:, 0]] - x[t[:, 1]], axis=1)
                          <= np.linalg.norm(x[t[:, 0]] - x[t[:, 2]], axis=1)), "tie"),
    (lambda x, t: None, "return"),
    (lambda x, t: np.zeros(3), "one number"),
])
def test_wrong_triplet_accuracies_get_hints(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        ex.check_triplet_accuracy(wrong)


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda rel: np.mean(np.cumsum(rel) / np.arange(1, len(rel) + 1)), "expected"),
    (lambda rel: np.mean(np.arange(1, rel.sum() + 1) / np.flatnonzero(rel).clip(1)), "ranks start at 1"),
    (lambda rel: None, "return"),
])
def test_wrong_average_precisions_get_hints(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        ex.check_average_precision(wrong)


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda rel, k: (rel[:k] / np.log2(np.arange(2, len(rel[:k]) + 2))).sum(), "ideal order"),
    (lambda rel, k: _ndcg_at_k(rel, len(rel)), "expected"),
    (lambda rel, k: None, "return"),
])
def test_wrong_ndcgs_get_hints(wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        ex.check_ndcg_at_k(wrong)
