"""The chorale notebooks' checkers accept right answers, reject wrong ones and skip stubs."""

from __future__ import annotations

import numpy as np
import pytest
from test_exercises import battery_cases

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
    return (similarity >= np.diag(similarity)[:, None]).sum(axis=1)


def partner_ranks_with_a_loop(similarity):
    return np.array([np.sum(row >= row[i]) for i, row in enumerate(similarity)])


def transpose_roll(roll, semitones):
    moved = np.zeros_like(roll)
    for pitch in range(len(roll)):
        if 0 <= pitch + semitones < len(roll):
            moved[pitch + semitones] = roll[pitch]
    return moved


# --- wrong answers ----------------------------------------------------------------------------


def _first_relevant_ranks(distances, labels, descending=False):
    distances = np.array(distances, dtype=float)
    np.fill_diagonal(distances, -np.inf if descending else np.inf)
    order = np.argsort(-distances if descending else distances, axis=1)[:, :-1]
    return (labels[order] == labels[:, None]).argmax(axis=1) + 1


def mr1_with_self(distances, labels):
    order = np.argsort(distances, axis=1)
    return float(np.mean((labels[order] == labels[:, None]).argmax(axis=1) + 1))


def mr1_in_place(distances, labels):
    np.fill_diagonal(distances, np.inf)  # on the caller's matrix
    return mr1(distances, labels)


def oti_in_place(profile_a, profile_b):
    profile_b /= profile_b.sum()  # "normalise" the caller's profile
    return oti(profile_a, profile_b)


def partner_ranks_in_place(similarity):
    similarity -= similarity.max()
    return partner_ranks(similarity)


def transpose_roll_in_place(roll, semitones):
    moved = transpose_roll(roll, semitones)
    roll[:] = moved
    return roll


def transpose_roll_keeping_old_notes(roll, semitones):
    moved = roll.copy()
    for pitch in range(len(roll)):
        if 0 <= pitch + semitones < len(roll):
            moved[pitch + semitones] = roll[pitch]
    return moved


BATTERY = {
    ex.check_optimal_transposition_index: [
        ("wrong direction", lambda a, b: oti(b, a), "opposite direction"),
        ("argmin", lambda a, b: int(np.argmin([a @ np.roll(b, s) for s in range(12)])), "largest"),
        ("shifts 1..12", lambda a, b: oti(a, b) + 1, "off by one"),
        ("the best score", lambda a, b: max(a @ np.roll(b, s) for s in range(12)), "not the scores"),
        ("always 0", lambda a, b: 0, "for every pair"),
        ("normalises in place", oti_in_place, "in place"),
    ],
    ex.check_mean_rank_first_relevant: [
        ("the query itself", mr1_with_self, "itself"),
        ("ranks from 0", lambda d, y: mr1(d, y) - 1, "ranks start at 1"),
        ("median", lambda d, y: float(np.median(_first_relevant_ranks(d, y))), "not their median"),
        ("MRR", lambda d, y: float(np.mean(1 / _first_relevant_ranks(d, y))), "reciprocal"),
        ("farthest first", lambda d, y: float(np.mean(_first_relevant_ranks(d, y, descending=True))),
         "increasing distance"),
        ("diagonal filled in place", mr1_in_place, "in place"),
    ],
    ex.check_partner_ranks: [
        ("ranks from 0", lambda s: partner_ranks(s) - 1, "start at 1"),
        ("ascending", lambda s: partner_ranks(-s), "decreasing"),
        ("ties for the partner", lambda s: (s > np.diag(s)[:, None]).sum(axis=1) + 1, "count ties against"),
        ("ties broken by sorting", lambda s: np.argmax(np.argsort(-s, axis=1, kind="stable")
                                                       == np.arange(len(s))[:, None], axis=1) + 1, "breaks ties"),
        ("columns for rows", lambda s: (s >= np.diag(s)[None, :]).sum(axis=0), "row i is query i"),
        ("all first", lambda s: np.ones(len(s)), "some ranks differ"),
        ("three ranks", lambda s: np.ones(3), "shape"),
        ("shifted in place", partner_ranks_in_place, "in place"),
    ],
    ex.check_transpose_roll: [
        ("np.roll", lambda r, s: np.roll(r, s, axis=0), "wraps"),
        ("downwards", lambda r, s: transpose_roll(r, -s), "larger row indices"),
        ("along time", lambda r, s: transpose_roll(r.T, s).T, "time frames"),
        ("old notes kept", transpose_roll_keeping_old_notes, "silent"),
        ("identity", lambda r, s: r, "different roll"),
        ("edits the roll in place", transpose_roll_in_place, "in place"),
    ],
}


@pytest.mark.parametrize(("checker", "wrong", "hint"), battery_cases(BATTERY))
def test_wrong_answers_are_rejected_with_a_hint(checker, wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        checker(wrong)


def test_right_answers_pass(capsys):
    for checker, right in [(ex.check_optimal_transposition_index, oti), (ex.check_mean_rank_first_relevant, mr1),
                           (ex.check_partner_ranks, partner_ranks), (ex.check_partner_ranks, partner_ranks_with_a_loop),
                           (ex.check_transpose_roll, transpose_roll)]:
        assert checker(right) is True
    assert capsys.readouterr().out.count("✓") == 5


@pytest.mark.parametrize("checker", BATTERY, ids=lambda c: c.__name__)
@pytest.mark.parametrize("answer", [None, ..., stub, stub_body])
def test_stub_is_not_attempted(checker, answer, capsys):
    assert checker(answer) is False
    assert "Not attempted" in capsys.readouterr().out


def test_the_tie_rule_matters_on_the_test_similarity():
    similarity = ex.tied_similarity()
    optimistic = (similarity > np.diag(similarity)[:, None]).sum(axis=1) + 1
    assert (optimistic != ex.partner_ranks_reference(similarity)).sum() >= 5


def test_reference_transposition_drops_notes_leaving_the_range():
    roll = np.eye(4)
    np.testing.assert_array_equal(ex.transpose_roll_reference(roll, 1), np.eye(4, k=-1))
    np.testing.assert_array_equal(ex.transpose_roll_reference(roll, -1), np.eye(4, k=1))
    assert not ex.transpose_roll_reference(roll, 9).any()
