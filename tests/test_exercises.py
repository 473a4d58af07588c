"""The checker protocol: placeholders are reminded, right answers pass, wrong ones get a hint."""

from __future__ import annotations

import pytest

from utils.exercises import WrongAnswer, check, stub_or_function


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


# --- stub_or_function: is the reader's function still the notebook's stub? --------------------


def _returns_ellipsis(x):
    return ...


def _bare_body(x):
    ...  # a stub whose body is left as `...` returns None


def _halves(x):
    return x / 2


def _half_written(x):
    return x / undefined_name  # noqa: F821 - the reader's slip


@pytest.mark.parametrize("none_is_stub", [True, False])
def test_a_stub_returning_ellipsis_is_not_attempted(none_is_stub):
    assert stub_or_function(_returns_ellipsis, 1.0, none_is_stub=none_is_stub) is None


def test_a_returned_none_is_a_stub_only_when_asked():
    assert stub_or_function(_bare_body, 1.0, none_is_stub=True) is None
    assert stub_or_function(_bare_body, 1.0, none_is_stub=False) is _bare_body


@pytest.mark.parametrize("none_is_stub", [True, False])
def test_a_finished_function_passes_through_and_sees_the_probe(none_is_stub):
    seen = []

    def halves(*args):
        seen.append(args)
        return _halves(*args)

    assert stub_or_function(halves, 4.0, none_is_stub=none_is_stub) is halves
    assert seen == [(4.0,)]


@pytest.mark.parametrize("none_is_stub", [True, False])
def test_a_function_raising_on_the_probe_is_an_attempt(none_is_stub):
    assert stub_or_function(_half_written, 1.0, none_is_stub=none_is_stub) is _half_written


def test_the_error_of_a_raising_function_reaches_the_reader():
    answer = stub_or_function(_half_written, 1.0, none_is_stub=True)
    with pytest.raises(NameError, match="undefined_name"):
        check(answer, lambda function: _is_forty_two(function(84.0)), "right")


@pytest.mark.parametrize("answer", [None, ..., 42])
def test_non_callables_are_left_to_check(answer):
    assert stub_or_function(answer, 1.0, none_is_stub=True) is answer


def test_stub_or_function_feeds_check(capsys):
    assert check(stub_or_function(_returns_ellipsis, 1.0, none_is_stub=False), _is_forty_two, "right") is False
    assert "Not attempted" in capsys.readouterr().out
    assert check(stub_or_function(lambda x: 42, 1.0, none_is_stub=False), lambda f: _is_forty_two(f(0)), "right")
    with pytest.raises(WrongAnswer, match="got None"):
        check(stub_or_function(_bare_body, 1.0, none_is_stub=False), lambda f: _is_forty_two(f(0)), "right")
