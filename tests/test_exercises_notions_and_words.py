"""The checkers of notebooks 3.1 and 3.2 accept right answers and reject a battery of wrong ones."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from test_exercises import battery_cases

from utils.evaluate import triplet_accuracy
from utils.exercises import WrongAnswer
from utils.exercises import notions_and_words as ex


def _masked(f_x, f_y, mask):
    return np.linalg.norm(mask * (f_x - f_y), axis=1)


def _masked_in_place(f_x, f_y, mask):
    f_x -= f_y  # the difference, computed in the caller's array
    return np.linalg.norm(mask * f_x, axis=1)


@functools.cache
def _leakage_data():
    """Three notions' subspaces that differ, and triplets for each notion."""
    rng = np.random.default_rng(0)
    masked = rng.normal(size=(60, 3, 4)) * np.array([1.0, 2.0, 0.5])[None, :, None]
    masked[:, 1, :2] += np.repeat(np.arange(6), 10)[:, None]  # subspace 1 knows a 6-class notion
    triplets = [rng.integers(0, 60, size=(80, 3)) for _ in range(3)]
    labels = np.repeat(np.arange(6), 10)
    triplets[1] = np.array([[a, rng.choice(np.flatnonzero(labels == labels[a])), rng.choice(np.flatnonzero(labels != labels[a]))]
                            for a in rng.integers(0, 60, 80)])
    return masked, triplets


def _right_leakage(masked, triplets):
    return np.array([[triplet_accuracy(masked[:, r], t) for t in triplets] for r in range(masked.shape[1])])


@functools.wraps(ex.check_leakage_matrix)
def check_leakage(make_matrix):
    """check_leakage_matrix on the test data, the answer made from them."""
    masked, triplets = _leakage_data()
    return ex.check_leakage_matrix(make_matrix(masked, triplets), masked, triplets)


def _cosine(audio, classes):
    classes = classes / np.linalg.norm(classes, axis=1, keepdims=True)
    return (audio @ classes.T).argmax(1)


def _cosine_in_place(audio, classes):
    classes /= np.linalg.norm(classes, axis=1, keepdims=True)
    return (audio @ classes.T).argmax(1)


def _harmonic(s, u):
    return 0.0 if s + u == 0 else 2 * s * u / (s + u)


BATTERY = {
    ex.check_masked_distance: [
        ("squared", lambda f_x, f_y, mask: (((f_x - f_y) * mask) ** 2).sum(1), "squared"),
        ("mask on the square", lambda f_x, f_y, mask: np.sqrt((mask * (f_x - f_y) ** 2).sum(1)), "not its square"),
        ("mask squared", lambda f_x, f_y, mask: np.linalg.norm(mask**2 * (f_x - f_y), axis=1), "once"),
        ("mask ignored", lambda f_x, f_y, mask: np.linalg.norm(f_x - f_y, axis=1), "ignored"),
        ("L1 norm", lambda f_x, f_y, mask: np.abs(mask * (f_x - f_y)).sum(1), "L1"),
        ("one norm for all", lambda f_x, f_y, mask: np.linalg.norm(mask * (f_x - f_y)), "shape"),
        ("wrong axis", lambda f_x, f_y, mask: np.linalg.norm(mask * (f_x - f_y), axis=0), "axis=1"),
        ("a list", lambda f_x, f_y, mask: [float(np.linalg.norm(mask * (x - y))) for x, y in zip(f_x, f_y, strict=True)],
         "NumPy array"),
        ("difference in place", _masked_in_place, "in place"),
    ],
    check_leakage: [
        ("transposed", lambda m, t: _right_leakage(m, t).T, "swapped"),
        ("a list of lists", lambda m, t: _right_leakage(m, t).tolist(), "NumPy array"),
        ("errors, not accuracies", lambda m, t: 1 - _right_leakage(m, t), "orders right"),
        ("one mask for every row", lambda m, t: np.tile(_right_leakage(m, t)[0], (3, 1)), "every row is the same"),
        ("diagonal only", lambda m, t: np.diag(np.diag(_right_leakage(m, t))), "off-diagonal"),
        ("chance level", lambda m, t: np.full((3, 3), 0.5), "chance level"),
        ("off by 0.1", lambda m, t: _right_leakage(m, t) + 0.1, "differ"),
        ("one row", lambda m, t: np.zeros(3), "matrix"),
    ],
    ex.check_zero_shot_predict: [
        ("dot product", lambda audio, classes: (audio @ classes.T).argmax(1), "long class vectors"),
        ("Euclidean", lambda audio, classes: np.linalg.norm(audio[:, None] - classes[None], axis=2).argmin(1),
         "Euclidean"),
        ("least similar", lambda audio, classes: _cosine(audio, -classes), "least similar"),
        ("argmax over clips", lambda audio, classes: (audio @ classes.T).argmax(0), "axis=1"),
        ("the first class for all", lambda audio, classes: np.zeros(len(audio), dtype=int), "same class"),
        ("a few clips", lambda audio, classes: _cosine(audio, classes)[:3], "one class index per clip"),
        ("normalises in place", _cosine_in_place, "in place"),
    ],
    ex.check_harmonic_mean: [
        ("arithmetic", lambda s, u: (s + u) / 2, "arithmetic"),
        ("zero division", lambda s, u: 2 * s * u / (s + u), "divides by zero"),
        ("geometric", lambda s, u: (s * u) ** 0.5, "geometric"),
        ("product", lambda s, u: s * u, "equal accuracies"),
        ("factor 2 forgotten", lambda s, u: 0.0 if s + u == 0 else s * u / (s + u), "equal accuracies"),
        ("minimum", min, "smaller accuracy"),
        ("NaN at zero", lambda s, u: np.float64(2 * s * u) / np.float64(s + u), "return 0"),
    ],
}


def test_right_answers_pass(capsys):
    assert ex.check_masked_distance(_masked)
    assert check_leakage(_right_leakage)
    assert ex.check_zero_shot_predict(_cosine)
    assert ex.check_harmonic_mean(_harmonic)
    assert capsys.readouterr().out.count("✓") == 4


def test_stubs_are_not_attempted(capsys):
    def stub(*args):
        ...

    for checker in (ex.check_masked_distance, ex.check_zero_shot_predict, ex.check_harmonic_mean):
        assert checker(stub) is False
    assert ex.check_leakage_matrix(..., np.zeros((3, 2, 1)), []) is False
    assert capsys.readouterr().out.count("Not attempted") == 4


@pytest.mark.parametrize(("checker", "wrong", "hint"), battery_cases(BATTERY))
@pytest.mark.filterwarnings("ignore:invalid value", "ignore:divide by zero")
def test_wrong_answers_are_rejected_with_a_hint(checker, wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        checker(wrong)


def test_the_leakage_test_data_are_not_symmetric_or_constant():
    expected = _right_leakage(*_leakage_data())
    assert not np.allclose(expected, expected.T)
    assert np.ptp(expected, axis=0).min() > 0.01
