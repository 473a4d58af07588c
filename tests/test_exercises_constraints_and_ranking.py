"""The checkers of notebooks 1.3 and 1.4 accept right answers and reject a battery of wrong ones."""

from __future__ import annotations

import numpy as np
import pytest
from test_exercises import battery_cases

from utils.evaluate import triplet_accuracy
from utils.exercises import WrongAnswer
from utils.exercises import constraints_and_ranking as ex


def _listener(triplets, noise, seed):
    flip = np.random.default_rng(seed).random(len(triplets)) < noise
    answered = triplets.copy()
    answered[flip, 1:] = triplets[flip, 2:0:-1]
    return answered


def _listener_in_place(triplets, noise, seed):
    flip = np.random.default_rng(seed).random(len(triplets)) < noise
    triplets[flip, 1:] = triplets[flip, 2:0:-1]  # the caller's triplets are flipped too
    return triplets


def _listener_first_rows(triplets, noise, seed):
    answered = triplets.copy()
    flip = np.arange(len(triplets)) < round(noise * len(triplets))  # the right rate, no randomness
    answered[flip, 1:] = triplets[flip, 2:0:-1]
    return answered


def _listener_unseeded(triplets, noise, seed):
    return _listener(triplets, noise, None)


def _distances(x, t):
    a, p, n = (x[t[:, i]] for i in range(3))
    return np.linalg.norm(a - p, axis=1), np.linalg.norm(a - n, axis=1), np.linalg.norm(p - n, axis=1)


def _triplet_accuracy(points, triplets):
    to_positive, to_negative, _ = _distances(points, triplets)
    return np.mean(to_positive < to_negative)


def _average_precision(relevance):
    hits = np.flatnonzero(relevance)
    return np.mean(np.arange(1, len(hits) + 1) / (hits + 1))


def _precisions(relevance):
    return np.cumsum(relevance) / np.arange(1, len(relevance) + 1)


def _average_precision_sorting_in_place(relevance):
    value = _average_precision(relevance)
    relevance[::-1].sort()  # "the ideal order", computed on the caller's list
    return value


def _dcg(relevance, k):
    top = relevance[:k]
    return (top / np.log2(np.arange(2, len(top) + 2))).sum()


def _ndcg_at_k(relevance, k):
    return _dcg(relevance, k) / _dcg(np.sort(relevance)[::-1], k)


def _ndcg_sorting_in_place(relevance, k):
    dcg = _dcg(relevance, k)
    relevance[::-1].sort()
    return dcg / _dcg(relevance, k)


BATTERY = {
    ex.check_noisy_listener: [
        ("forgotten return", lambda t, noise, seed: None, "return"),
        ("every row swapped", lambda t, noise, seed: t[:, [0, 2, 1]], "expected about"),
        ("half the noise", lambda t, noise, seed: _listener(t, noise / 2, seed), "expected about"),
        ("probability 1 - noise", lambda t, noise, seed: _listener(t, 1 - noise, seed), "expected about"),
        ("columns reversed", lambda t, noise, seed: t[:, ::-1], "anchors"),
        ("b copied over c", lambda t, noise, seed: np.column_stack([t[:, 0], t[:, 1], t[:, 1]]), "swapped"),
        ("unseeded", _listener_unseeded, "same seed"),
        ("the first rows, no randomness", _listener_first_rows, "different seeds"),
        ("flips in place", _listener_in_place, "in place"),
        ("one row short", lambda t, noise, seed: t[:-1], "shape"),
    ],
    ex.check_triplet_accuracy: [
        ("negative closer", lambda x, t: 1 - _triplet_accuracy(x, t), "negative is closer"),
        ("negative closer, strictly", lambda x, t: np.mean(_distances(x, t)[1] < _distances(x, t)[0]),
         "negative is closer"),
        ("ties as right", lambda x, t: np.mean(_distances(x, t)[0] <= _distances(x, t)[1]), "tie"),
        ("d(p, n) for d(a, n)", lambda x, t: np.mean(_distances(x, t)[0] < _distances(x, t)[2]), "from the anchor"),
        ("chance level", lambda x, t: 0.5, "chance level"),
        ("count, not fraction", lambda x, t: float(np.sum(_distances(x, t)[0] < _distances(x, t)[1])), "not a count"),
        ("forgotten return", lambda x, t: None, "return"),
        ("per-triplet array", lambda x, t: np.zeros(3), "one number"),
    ],
    ex.check_average_precision: [
        ("precision at every rank", lambda rel: _precisions(rel).mean(), "only at the ranks"),
        ("over the list length", lambda rel: (_precisions(rel) * rel).sum() / len(rel), "number of relevant"),
        ("ranks from 0", lambda rel: np.mean(np.arange(1, rel.sum() + 1) / np.flatnonzero(rel)), "ranks start at 1"),
        ("reversed list", lambda rel: _average_precision(rel[::-1]), "index 0 is rank 1"),
        ("fraction relevant", lambda rel: rel.mean(), "chance level"),
        ("R-precision", lambda rel: rel[: rel.sum()].mean(), "R-precision"),
        ("sorts in place", _average_precision_sorting_in_place, "in place"),
        ("forgotten return", lambda rel: None, "return"),
    ],
    ex.check_ndcg_at_k: [
        ("DCG, not normalised", _dcg, "ideal order"),
        ("k ignored", lambda rel, k: _ndcg_at_k(rel, len(rel)), "top k"),
        ("ideal not cut at k", lambda rel, k: _dcg(rel, k) / _dcg(np.ones(rel.sum()), len(rel)), "cut at k"),
        ("top k + 1", lambda rel, k: _ndcg_at_k(rel, k + 1), "off by one"),
        ("log2(r) discount", lambda rel, k: (rel[:k] / np.log2(np.arange(1, len(rel[:k]) + 1))).sum(), "log2"),
        ("sorts in place", _ndcg_sorting_in_place, "in place"),
        ("forgotten return", lambda rel, k: None, "return"),
    ],
}


def test_right_answers_pass(capsys):
    assert ex.check_noisy_listener(_listener) is True
    assert ex.check_triplet_accuracy(_triplet_accuracy) is True
    assert ex.check_average_precision(_average_precision) is True
    assert ex.check_ndcg_at_k(_ndcg_at_k) is True
    assert capsys.readouterr().out.count("✓") == 4


@pytest.mark.parametrize("checker", BATTERY)
@pytest.mark.parametrize("stub", [None, ..., lambda *args: ...])
def test_stubs_are_not_attempted(checker, stub, capsys):
    assert checker(stub) is False
    assert "Not attempted" in capsys.readouterr().out


@pytest.mark.parametrize(("checker", "wrong", "hint"), battery_cases(BATTERY))
@pytest.mark.filterwarnings("ignore:divide by zero", "ignore:invalid value")
def test_wrong_answers_are_rejected_with_a_hint(checker, wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        checker(wrong)


def test_the_triplet_test_data_have_ties_and_are_far_from_chance():
    points, triplets = ex.triplet_test_data()
    to_positive, to_negative, _ = _distances(points, triplets)
    assert (to_positive == to_negative).sum() >= 100
    assert 0.65 < triplet_accuracy(points, triplets) < 0.9
