"""The welcome notebook's checker: accepts a right precision@1, rejects a battery of mistakes."""

from __future__ import annotations

import numpy as np
import pytest
from test_exercises import battery_cases

from utils.exercises import WrongAnswer
from utils.exercises.welcome import check_precision_at_1


def _distances(embeddings):
    embeddings = np.asarray(embeddings, dtype=float)
    return np.linalg.norm(embeddings[:, None] - embeddings[None], axis=-1)


def _precision_at_1(embeddings, labels, groups, mask="group", nearest=True):
    labels, groups = np.asarray(labels), np.asarray(groups)
    distances = _distances(embeddings)
    if mask == "group":
        distances[groups[:, None] == groups[None, :]] = np.inf if nearest else -np.inf
    elif mask == "self":
        np.fill_diagonal(distances, np.inf)
    found = distances.argmin(axis=1) if nearest else distances.argmax(axis=1)
    return float(np.mean(labels[found] == labels))


def _in_place(embeddings, labels, groups):
    embeddings -= embeddings.mean(axis=0)  # centring in place: the caller's array changes
    return _precision_at_1(embeddings, labels, groups)


def _hits(embeddings, labels, groups):
    distances = _distances(embeddings)
    distances[groups[:, None] == groups[None, :]] = np.inf
    return labels[distances.argmin(axis=1)] == labels


BATTERY = {
    check_precision_at_1: [
        ("only the diagonal masked", lambda e, y, g: _precision_at_1(e, y, g, mask="self"), "near-duplicate"),
        ("nothing masked", lambda e, y, g: _precision_at_1(e, y, g, mask=None), "itself"),
        ("farthest neighbour", lambda e, y, g: _precision_at_1(e, y, g, nearest=False), "smallest distance"),
        ("chance level", lambda e, y, g: 0.25, "chance level"),
        ("count of hits", lambda e, y, g: float(_hits(e, y, g).sum()), "fraction"),
        ("per-item hits", lambda e, y, g: _hits(e, y, g), "one number"),
        ("centred in place", _in_place, "in place"),
    ],
}


def test_right_answer_passes(capsys):
    assert check_precision_at_1(_precision_at_1) is True
    assert "✓" in capsys.readouterr().out


def test_the_stub_is_not_attempted():
    def stub(embeddings, labels, groups):
        return ...

    assert check_precision_at_1(stub) is False


@pytest.mark.parametrize(("checker", "wrong", "hint"), battery_cases(BATTERY))
def test_wrong_answers_are_rejected_with_a_hint(checker, wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        checker(wrong)


def test_a_forgotten_return_gets_a_hint():
    def forgot_return(embeddings, labels, groups):  # the stub ends in `return ...`: None is a slip
        _precision_at_1(embeddings, labels, groups)

    with pytest.raises(WrongAnswer, match="forget `return`"):
        check_precision_at_1(forgot_return)
