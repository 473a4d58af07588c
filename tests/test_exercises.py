"""The checker protocol: placeholders are reminded, right answers pass, wrong ones get a hint."""

from __future__ import annotations

import pytest

from utils.exercises import WrongAnswer, check


def _is_forty_two(answer):
    return None if answer == 42 else f"expected the answer to everything, got {answer!r}"


def test_placeholders_are_not_attempted(capsys):
    assert check(None, _is_forty_two, "right") is False
    assert check(..., _is_forty_two, "right") is False
    assert "Not attempted" in capsys.readouterr().out


def test_right_answer_passes(capsys):
    assert check(42, _is_forty_two, "right") is True
    assert "✓ right" in capsys.readouterr().out


def test_wrong_answer_raises_a_hint():
    with pytest.raises(WrongAnswer, match="answer to everything"):
        check(41, _is_forty_two, "right")
