"""The checkers of notebooks 3.1 and 3.2 accept right answers and reject wrong ones with a hint."""

from __future__ import annotations

import numpy as np
import pytest

from utils.evaluate import triplet_accuracy
from utils.exercises import WrongAnswer
from utils.exercises import notions_and_words as ex


def test_masked_distance_right_and_wrong(capsys):
    assert ex.check_masked_distance(lambda f_x, f_y, mask: np.linalg.norm(mask * (f_x - f_y), axis=1))
    assert "✓" in capsys.readouterr().out
    with pytest.raises(WrongAnswer, match="squared"):
        ex.check_masked_distance(lambda f_x, f_y, mask: (((f_x - f_y) * mask) ** 2).sum(1))
    with pytest.raises(WrongAnswer, match="not its square"):
        ex.check_masked_distance(lambda f_x, f_y, mask: np.sqrt((mask * (f_x - f_y) ** 2).sum(1)))
    with pytest.raises(WrongAnswer, match="ignored"):
        ex.check_masked_distance(lambda f_x, f_y, mask: np.linalg.norm(f_x - f_y, axis=1))
    with pytest.raises(WrongAnswer, match="shape"):
        ex.check_masked_distance(lambda f_x, f_y, mask: np.linalg.norm(mask * (f_x - f_y)))


def test_stubs_are_not_attempted(capsys):
    def stub(*args):
        ...

    for checker in (ex.check_masked_distance, ex.check_zero_shot_predict, ex.check_harmonic_mean):
        assert checker(stub) is False
    assert ex.check_leakage_matrix(..., np.zeros((3, 2, 1)), []) is False
    assert capsys.readouterr().out.count("Not attempted") == 4


def test_leakage_matrix_right_transposed_and_wrong():
    rng = np.random.default_rng(0)
    masked = rng.normal(size=(30, 2, 4))
    triplets = [rng.integers(0, 30, size=(50, 3)), rng.integers(0, 30, size=(40, 3))]
    expected = [[triplet_accuracy(masked[:, r], t) for t in triplets] for r in range(2)]
    assert ex.check_leakage_matrix(np.array(expected), masked, triplets)
    assert not np.allclose(expected, np.transpose(expected))
    with pytest.raises(WrongAnswer, match="swapped"):
        ex.check_leakage_matrix(np.transpose(expected), masked, triplets)
    with pytest.raises(WrongAnswer, match="differ"):
        ex.check_leakage_matrix(np.array(expected) + 0.1, masked, triplets)
    with pytest.raises(WrongAnswer, match="matrix"):
        ex.check_leakage_matrix(np.zeros(2), masked, triplets)


def test_zero_shot_predict_right_and_wrong():
    def cosine(audio, classes):
        classes = classes / np.linalg.norm(classes, axis=1, keepdims=True)
        return (audio @ classes.T).argmax(1)

    assert ex.check_zero_shot_predict(cosine)
    with pytest.raises(WrongAnswer, match="long class vectors"):
        ex.check_zero_shot_predict(lambda audio, classes: (audio @ classes.T).argmax(1))
    with pytest.raises(WrongAnswer, match="Euclidean"):
        ex.check_zero_shot_predict(
            lambda audio, classes: np.linalg.norm(audio[:, None] - classes[None], axis=2).argmin(1))
    with pytest.raises(WrongAnswer, match="one class index per clip"):
        ex.check_zero_shot_predict(lambda audio, classes: cosine(audio, classes)[:3])


def test_harmonic_mean_right_and_wrong():
    assert ex.check_harmonic_mean(lambda s, u: 0.0 if s + u == 0 else 2 * s * u / (s + u))
    with pytest.raises(WrongAnswer, match="arithmetic"):
        ex.check_harmonic_mean(lambda s, u: (s + u) / 2)
    with pytest.raises(WrongAnswer, match="divides by zero"):
        ex.check_harmonic_mean(lambda s, u: 2 * s * u / (s + u))
    with pytest.raises(WrongAnswer, match="should be"):
        ex.check_harmonic_mean(lambda s, u: s * u)
