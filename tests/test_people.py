"""Tests of utils.people (listening and panel simulators) and the checkers of utils.exercises.people."""

import numpy as np
import pandas as pd
import pytest

from utils.exercises import WrongAnswer
from utils.exercises.people import check_cosine_co_listening, check_others_majority
from utils.people import (
    agreement_matrix,
    attribute_differences,
    co_listening,
    co_listening_triplets,
    majority_agreement,
    metric_agreement,
    ordered_triplets,
    random_triplets,
    simulate_listening,
    simulate_panel,
)


def _items(n=40):
    rng = np.random.default_rng(0)
    return pd.DataFrame({"family": rng.choice(list("abcd"), n), "register": rng.choice(["lo", "hi"], n),
                         "pitch": rng.integers(40, 80, n)})


# --- listening --------------------------------------------------------------------------------------

def test_listening_shapes_and_seeding():
    items = _items()
    log = simulate_listening(items, ["family", "register"], n_users=30, listens_per_user=20, seed=1)
    assert log.counts.shape == (30, 40) and (log.counts.sum(axis=1) == 20).all()
    assert np.isclose(log.popularity.sum(), 1) and log.listeners.shape == (40,)
    again = simulate_listening(items, ["family", "register"], n_users=30, listens_per_user=20, seed=1)
    other = simulate_listening(items, ["family", "register"], n_users=30, listens_per_user=20, seed=2)
    assert np.array_equal(log.counts, again.counts) and not np.array_equal(log.counts, other.counts)


def test_popularity_weight_raises_popular_items_counts():
    items = _items()
    kwargs = dict(n_users=200, listens_per_user=50, seed=0)
    flat = simulate_listening(items, ["family"], popularity_weight=0.0, **kwargs)
    steep = simulate_listening(items, ["family"], popularity_weight=2.0, **kwargs)
    top = np.argsort(-steep.popularity)[:4]  # same permutation: same seed, drawn first
    assert np.array_equal(flat.popularity, steep.popularity)
    assert steep.counts[:, top].sum() > 2 * flat.counts[:, top].sum()


def test_listening_bad_inputs():
    items = _items()
    with pytest.raises(ValueError, match="exploration"):
        simulate_listening(items, ["family"], exploration=1.5)
    with pytest.raises(ValueError, match="concentration"):
        simulate_listening(items, ["family"], concentration=0)
    with pytest.raises((ValueError, KeyError), match="colour"):
        simulate_listening(items, ["colour"])
    with pytest.raises((ValueError, TypeError), match="n_users"):
        simulate_listening(items, ["family"], n_users=2.5)


def test_co_listening_cosine_and_counts():
    counts = np.array([[3, 0, 1, 0], [0, 2, 2, 0], [1, 1, 0, 0]])
    raw = co_listening(counts, normalise="count")
    assert raw.shape == (4, 4) and np.allclose(np.diag(raw), 0) and raw[0, 2] == 3
    cosine = co_listening(counts)
    assert np.allclose(cosine, cosine.T) and np.allclose(np.diag(cosine), 0)
    assert cosine.max() <= 1 + 1e-12 and np.allclose(cosine[:, 3], 0)  # nobody played item 3
    # unit self-similarity: an item against a copy of itself (other=) has cosine 1
    assert np.allclose(np.diag(co_listening(counts[:, :3], counts[:, :3].copy())), 1)
    # cosine ignores how often an item is played: scaling a column changes nothing
    scaled = counts * np.array([10, 1, 1, 1])
    assert np.allclose(co_listening(scaled), cosine)
    with pytest.raises(ValueError, match="normalise"):
        co_listening(counts, normalise="jaccard")
    with pytest.raises(ValueError, match="negative"):
        co_listening(-counts)
    with pytest.raises(ValueError, match="same users"):
        co_listening(counts, counts[:2])


def test_co_listening_triplets():
    log = simulate_listening(_items(), ["family"], n_users=50, listens_per_user=30, seed=0)
    similarity = co_listening(log.counts)
    triplets = co_listening_triplets(similarity, 200, top_k=5, seed=0)
    assert triplets.shape == (200, 3) and triplets.dtype == np.int64
    a, p, n = triplets.T
    assert (a != p).all() and (a != n).all()
    assert (similarity[a, p] >= similarity[a, n]).all()
    assert np.array_equal(triplets, co_listening_triplets(similarity, 200, top_k=5, seed=0))
    assert not np.array_equal(triplets, co_listening_triplets(similarity, 200, top_k=5, seed=1))
    with pytest.raises(ValueError, match="top_k"):
        co_listening_triplets(similarity, 10, top_k=39)
    with pytest.raises(ValueError, match="square"):
        co_listening_triplets(similarity[:5], 10)
    with pytest.raises(ValueError, match="positive similarity"):
        co_listening_triplets(np.zeros((6, 6)), 10, top_k=2)


# --- panels -----------------------------------------------------------------------------------------

def test_attribute_differences():
    items = _items()
    diff = attribute_differences(items, ["family", "pitch"], np.array([0, 1]), np.array([0, 2]))
    assert diff.shape == (2, 2) and (diff[0] == 0).all()
    assert diff[1, 0] == float(items.family[1] != items.family[2])
    with pytest.raises(ValueError, match="first"):
        attribute_differences(items, ["family"], np.array([0, 99]), np.array([0, 1]))
    with pytest.raises(ValueError, match="same length"):
        attribute_differences(items, ["family"], np.array([0, 1]), np.array([0]))
    with pytest.raises(KeyError, match="scales"):
        attribute_differences(items, ["family"], np.array([0]), np.array([1]), scales={"tempo": 1.0})


def test_panel_shapes_seeding_and_bad_inputs():
    panel = simulate_panel(6, ["family", "pitch"], seed=0)
    assert panel.weights.shape == (6, 2) and np.allclose(panel.weights.sum(axis=1), 1)
    assert panel.noise.shape == (6,) and ((panel.noise >= 0.05) & (panel.noise <= 0.3)).all()
    assert np.array_equal(panel.weights, simulate_panel(6, ["family", "pitch"], seed=0).weights)
    assert not np.array_equal(panel.weights, simulate_panel(6, ["family", "pitch"], seed=1).weights)
    with pytest.raises(ValueError, match="attributes"):
        simulate_panel(3, [])
    with pytest.raises(ValueError, match="noise"):
        simulate_panel(3, ["family"], noise=(0.3, 0.1))
    with pytest.raises(ValueError, match="noise"):
        simulate_panel(3, ["family"], noise=(0.1,))
    with pytest.raises(ValueError, match="raters"):
        panel.answer(_items(), np.array([[0, 1, 2]]), 9)


def test_noiseless_rater_agrees_with_own_metric_and_noise_gives_chance():
    items = _items(60)
    triplets = random_triplets(np.arange(60), 3000, seed=0)
    careful = simulate_panel(1, ["pitch"], noise=(1e-4, 1e-4), seed=0)
    answers = careful.answer(items, triplets, 0, seed=0)
    points = (items.pitch.to_numpy() / np.std(items.pitch.to_numpy()))[:, None]
    a, b, c = triplets.T
    decided = np.abs(points[a, 0] - points[b, 0]) != np.abs(points[a, 0] - points[c, 0])
    assert metric_agreement(points, triplets[decided], answers[decided]) == 1.0
    careless = simulate_panel(1, ["pitch"], noise=(1e3, 1e3), seed=0)
    noisy = careless.answer(items, triplets, 0, seed=0)
    assert abs(metric_agreement(points, triplets, noisy) - 0.5) < 0.05
    assert not np.array_equal(noisy, careless.answer(items, triplets, 0, seed=1))


def test_random_and_ordered_triplets():
    rows = np.arange(10, 30)
    triplets = random_triplets(rows, 500, seed=0)
    assert triplets.shape == (500, 3) and np.isin(triplets, rows).all()
    assert (triplets[:, 0] != triplets[:, 1]).all() and (triplets[:, 1] != triplets[:, 2]).all()
    assert np.array_equal(triplets, random_triplets(rows, 500, seed=0))
    assert not np.array_equal(triplets, random_triplets(rows, 500, seed=1))
    with pytest.raises(ValueError, match="rows"):
        random_triplets(np.array([1, 1, 2]), 5)
    answers = np.array([True, False])
    original = np.array([[0, 1, 2], [3, 4, 5]])
    assert ordered_triplets(original, answers).tolist() == [[0, 1, 2], [3, 5, 4]]
    assert original.tolist() == [[0, 1, 2], [3, 4, 5]]  # not modified in place
    with pytest.raises(ValueError, match="first_closer"):
        ordered_triplets(original, np.array([1, 0]))


def test_metric_agreement_bad_inputs():
    points = np.zeros((5, 2))
    with pytest.raises(ValueError, match="first_closer"):
        metric_agreement(points, np.array([[0, 1, 2]]), np.array([1]))


def test_agreement_and_majority():
    answers = np.array([[True, True, False, False], [True, True, False, True], [True, False, False, False]])
    matrix = agreement_matrix(answers)
    assert matrix.shape == (3, 3) and np.allclose(np.diag(matrix), 1) and np.allclose(matrix, matrix.T)
    assert np.isclose(matrix[0, 1], 0.75)
    majority = majority_agreement(answers)
    assert majority.shape == (3,) and ((majority >= 0) & (majority <= 1)).all()
    # rater 0's two others: agree, tie (one half), agree, tie
    assert np.isclose(majority[0], np.mean([1, 0.5, 1, 0.5]))
    with pytest.raises(ValueError, match="answers"):
        majority_agreement(answers[:1])
    with pytest.raises(ValueError, match="answers"):
        agreement_matrix(answers.astype(int))


# --- checkers: the reference passes, plausible wrong answers are rejected with a hint -----------------

def _reference_cosine(counts):
    return co_listening(counts)


def _raw_counts(counts):
    similarity = counts.T @ counts.astype(float)
    np.fill_diagonal(similarity, 0)
    return similarity


def _unit_diagonal(counts):
    similarity = co_listening(counts)
    np.fill_diagonal(similarity, 1)
    return similarity


def _users_axis(counts):
    return co_listening(counts.T)


def _binary(counts):
    return co_listening((counts > 0).astype(float))


def _nan_for_silent(counts):
    counts = counts.astype(float)
    norms = np.linalg.norm(counts, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        similarity = counts.T @ counts / np.outer(norms, norms)
    np.fill_diagonal(similarity, 0)
    return similarity


def _in_place_cosine(counts):
    counts[counts > 0] = 1
    return co_listening(counts)


def _negated(counts):
    return -co_listening(counts)


def _constant(counts):
    return np.zeros((counts.shape[1], counts.shape[1]))


def _by_totals(counts):
    raw = counts.T @ counts.astype(float)
    totals = np.outer(counts.sum(axis=0), counts.sum(axis=0)).astype(float)
    similarity = np.divide(raw, totals, out=np.zeros_like(raw), where=totals > 0)
    np.fill_diagonal(similarity, 0)
    return similarity


COSINE_WRONG = [_raw_counts, _unit_diagonal, _users_axis, _binary, _nan_for_silent, _in_place_cosine,
                _negated, _constant, _by_totals]


def _reference_majority(answers):
    return majority_agreement(answers)


def _with_self(answers):
    mean = answers.mean(axis=0)
    return np.where(answers, mean > 0.5, mean < 0.5).mean(axis=1)


def _ties_agree(answers):
    votes, others = answers.sum(axis=0) - answers, len(answers) - 1
    majority = np.where(2 * votes >= others, 1.0, 0.0)
    return np.where(answers, majority, 1 - majority).mean(axis=1)


def _ties_never(answers):
    votes, others = answers.sum(axis=0) - answers, len(answers) - 1
    majority = np.where(2 * votes > others, 1.0, np.where(2 * votes < others, 0.0, 0.0))
    return np.where(answers, majority, 1 - majority).mean(axis=1)


def _pairwise_mean(answers):
    pairwise = (answers[:, None, :] == answers[None, :, :]).mean(axis=2)
    return (pairwise.sum(axis=1) - 1) / (len(answers) - 1)


def _wrong_axis(answers):
    return majority_agreement(answers.T) if answers.shape[1] >= 2 else None


def _in_place_majority(answers):
    answers[0] = ~answers[0]
    return majority_agreement(answers)


def _disagreement(answers):
    return 1 - majority_agreement(answers)


def _constant_half(answers):
    return np.full(len(answers), 0.5)


MAJORITY_WRONG = [_with_self, _ties_agree, _ties_never, _pairwise_mean, _wrong_axis, _in_place_majority,
                  _disagreement, _constant_half]


@pytest.mark.parametrize(("checker", "reference"), [(check_cosine_co_listening, _reference_cosine),
                                                    (check_others_majority, _reference_majority)])
def test_checkers_accept_reference_and_placeholder(checker, reference, capsys):
    assert checker(reference) is True
    assert checker(...) is False
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", COSINE_WRONG)
def test_cosine_checker_rejects(wrong):
    with pytest.raises(WrongAnswer, match="Not quite") as error:
        check_cosine_co_listening(wrong)
    assert "some similarities differ" not in str(error.value), "a plausible mistake deserves a specific hint"


@pytest.mark.parametrize("wrong", MAJORITY_WRONG)
def test_majority_checker_rejects(wrong):
    with pytest.raises(WrongAnswer, match="Not quite"):
        check_others_majority(wrong)
