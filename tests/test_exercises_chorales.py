"""The chorale notebooks' checkers accept right answers, reject wrong ones and skip stubs."""

from __future__ import annotations

import numpy as np
import pytest

from utils.exercises import WrongAnswer
from utils.exercises import chorales as ex


def stub(*_args):
    return ...


def stub_body(*_args):
    ...  # a stub whose body is left as `...` returns None


# --- right answers, written as a reader would -------------------------------------------------


def oti(profile_a, profile_b):
    return int(np.argmax([profile_a @ np.roll(profile_b, s) for s in range(12)]))


def mr1(distances, labels):
    distances = np.array(distances, dtype=float)
    np.fill_diagonal(distances, np.inf)
    order = np.argsort(distances, axis=1)
    hits = labels[order] == labels[:, None]
    return float(np.mean(hits.argmax(axis=1) + 1))


def partner_ranks(similarity):
    order = np.argsort(-similarity, axis=1)
    return np.argmax(order == np.arange(len(similarity))[:, None], axis=1) + 1


def transpose_roll(roll, semitones):
    moved = np.zeros_like(roll)
    for pitch in range(len(roll)):
        if 0 <= pitch + semitones < len(roll):
            moved[pitch + semitones] = roll[pitch]
    return moved


# --- wrong answers ----------------------------------------------------------------------------


def oti_wrong_direction(profile_a, profile_b):
    return oti(profile_b, profile_a)


def mr1_with_self(distances, labels):
    order = np.argsort(distances, axis=1)
    return float(np.mean((labels[order] == labels[:, None]).argmax(axis=1) + 1))


def mr1_from_zero(distances, labels):
    return mr1(distances, labels) - 1


def partner_ranks_from_zero(similarity):
    return partner_ranks(similarity) - 1


def partner_ranks_ascending(similarity):
    return partner_ranks(-similarity)


def transpose_roll_wrapping(roll, semitones):
    return np.roll(roll, semitones, axis=0)


def transpose_roll_down(roll, semitones):
    return transpose_roll(roll, -semitones)


CHECKERS = {
    ex.check_optimal_transposition_index: (oti, [oti_wrong_direction, lambda a, b: 0]),
    ex.check_mean_rank_first_relevant: (mr1, [mr1_with_self, mr1_from_zero]),
    ex.check_partner_ranks: (partner_ranks, [partner_ranks_from_zero, partner_ranks_ascending,
                                             lambda s: np.ones(len(s)), lambda s: np.ones(3)]),
    ex.check_transpose_roll: (transpose_roll, [transpose_roll_wrapping, transpose_roll_down, lambda r, s: r]),
}


@pytest.mark.parametrize("checker", CHECKERS, ids=lambda c: c.__name__)
def test_right_answer_passes(checker, capsys):
    assert checker(CHECKERS[checker][0]) is True
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("checker", "wrong"),
    [(checker, wrong) for checker, (_, wrongs) in CHECKERS.items() for wrong in wrongs],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_wrong_answer_raises(checker, wrong):
    with pytest.raises(WrongAnswer):
        checker(wrong)


@pytest.mark.parametrize("checker", CHECKERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("answer", [None, ..., stub, stub_body])
def test_stub_is_not_attempted(checker, answer, capsys):
    assert checker(answer) is False
    assert "Not attempted" in capsys.readouterr().out


def test_hints_name_the_mistake():
    with pytest.raises(WrongAnswer, match="itself"):
        ex.check_mean_rank_first_relevant(mr1_with_self)
    with pytest.raises(WrongAnswer, match="wraps"):
        ex.check_transpose_roll(transpose_roll_wrapping)
    with pytest.raises(WrongAnswer, match="opposite"):
        ex.check_optimal_transposition_index(oti_wrong_direction)
    with pytest.raises(WrongAnswer, match="start at 1"):
        ex.check_partner_ranks(partner_ranks_from_zero)


def test_reference_transposition_drops_notes_leaving_the_range():
    roll = np.eye(4)
    np.testing.assert_array_equal(ex.transpose_roll_reference(roll, 1), np.eye(4, k=-1))
    np.testing.assert_array_equal(ex.transpose_roll_reference(roll, -1), np.eye(4, k=1))
    assert not ex.transpose_roll_reference(roll, 9).any()
