"""The welcome notebook's checker: accepts a right precision@1, explains the classic mistake."""

from __future__ import annotations

import numpy as np
import pytest

from utils.exercises import WrongAnswer
from utils.exercises.welcome import check_precision_at_1


def _precision_at_1(embeddings, labels, groups, mask_groups=True):
    embeddings, labels, groups = map(np.asarray, (embeddings, labels, groups))
    distances = np.linalg.norm(embeddings[:, None] - embeddings[None], axis=-1)
    if mask_groups:
        distances[groups[:, None] == groups[None, :]] = np.inf
    else:
        np.fill_diagonal(distances, np.inf)
    return float(np.mean(labels[distances.argmin(axis=1)] == labels))


def test_right_answer_passes():
    assert check_precision_at_1(_precision_at_1) is True


def test_the_stub_is_not_attempted():
    def stub(embeddings, labels, groups):
        return ...

    assert check_precision_at_1(stub) is False


def test_forgetting_the_groups_gets_a_hint():
    with pytest.raises(WrongAnswer, match="group"):
        check_precision_at_1(lambda e, y, g: _precision_at_1(e, y, g, mask_groups=False))


def test_a_wrong_number_is_refused():
    with pytest.raises(WrongAnswer, match="expected about"):
        check_precision_at_1(lambda e, y, g: 0.999)


def test_a_forgotten_return_gets_a_hint():
    def forgot_return(embeddings, labels, groups):  # the stub ends in `return ...`: None is a slip
        _precision_at_1(embeddings, labels, groups)

    with pytest.raises(WrongAnswer, match="forget `return`"):
        check_precision_at_1(forgot_return)
