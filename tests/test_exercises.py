"""The checker protocol: placeholders are reminded, right answers pass, wrong ones get a hint."""

from __future__ import annotations

import importlib
import inspect

import numpy as np
import pytest
import torch

from utils.exercises import (
    WrongAnswer,
    call_on_copies,
    check,
    not_an_array,
    seed_hint,
    stub_or_function,
)


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


# --- the batteries of wrong answers (issue 16) -------------------------------------------------
# Each tests/test_exercises_<topic>.py holds BATTERY = {checker: [(mistake, wrong answer, hint), ...]}:
# every wrong answer must be rejected with a hint matching ``hint`` (a regular expression) about
# the concept it gets wrong. A checker whose answer is a value, not a function, is wrapped in the
# test file (functools.wraps keeps the checker's name) so that its battery holds functions of the
# test data.

EXERCISE_MODULES = ("welcome", "distances", "mahalanobis", "constraints_and_ranking", "triplets",
                    "losses_and_scale", "chorales", "notions_and_words", "selfsup_and_mixtures")


def battery_cases(battery: dict) -> list:
    """pytest parameters (checker, wrong, hint) of a test file's BATTERY, with readable ids."""
    return [pytest.param(checker, wrong, hint, id=f"{checker.__name__}: {mistake}")
            for checker, entries in battery.items() for mistake, wrong, hint in entries]


def battery_counts() -> dict[str, int]:
    """Wrong answers tried per checker (``module.check_name``), over every test file's BATTERY."""
    counts: dict[str, int] = {}
    for topic in EXERCISE_MODULES:
        tests = importlib.import_module(f"test_exercises_{topic}")
        for checker, entries in tests.BATTERY.items():
            checker = inspect.unwrap(checker)
            counts[f"{checker.__module__.rsplit('.', 1)[-1]}.{checker.__name__}"] = len(entries)
    return counts


def test_every_checker_has_a_battery_of_at_least_four_wrong_answers():
    checkers = {f"{topic}.{name}" for topic in EXERCISE_MODULES
                for name, _ in inspect.getmembers(importlib.import_module(f"utils.exercises.{topic}"), inspect.isfunction)
                if name.startswith("check_")}
    counts = battery_counts()
    assert len(checkers) == 29
    assert {name: counts.get(name, 0) for name in checkers if counts.get(name, 0) < 4} == {}


# --- the shared guards: inputs changed in place, seeds, arrays -------------------------------


def test_call_on_copies_names_the_argument_changed_in_place():
    x, y = np.arange(4.0), torch.zeros(2)

    def centres_y(x, y):
        y += 1
        return x.sum()

    assert call_on_copies(lambda x, y: x.sum(), {"x": x, "y": y}) == (6.0, None)
    result, hint = call_on_copies(centres_y, {"x": x, "y": y})
    assert result == 6.0 and "`y` in place" in hint
    assert torch.equal(y, torch.zeros(2))  # the caller's data are untouched


def test_seed_hint_wants_the_same_answer_for_a_seed_and_another_for_another():
    assert seed_hint(lambda seed: np.random.default_rng(seed).random(5)) is None
    assert "same seed" in seed_hint(lambda seed: np.random.default_rng().random(5))
    assert "different seeds" in seed_hint(lambda seed: np.arange(5))


def test_not_an_array_refuses_lists_only():
    assert not_an_array(np.zeros(2), "x") is None and not_an_array(torch.zeros(2), "x") is None
    assert "not a list" in not_an_array([0.0, 1.0], "x")


def test_a_probe_cannot_edit_the_checkers_data():
    data = np.arange(3.0)

    def doubles_in_place(x):
        x *= 2
        return x

    assert stub_or_function(doubles_in_place, data, none_is_stub=True) is doubles_in_place
    np.testing.assert_array_equal(data, [0.0, 1.0, 2.0])
