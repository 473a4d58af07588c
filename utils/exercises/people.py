"""Checkers for the exercises of notebooks/3_variations/06_similarity_from_people.ipynb:
:func:`check_cosine_co_listening`, :func:`check_others_majority`.

Reference answers are :func:`utils.people.co_listening` and :func:`utils.people.majority_agreement`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from utils.exercises import call_on_copies, check, stub_or_function
from utils.people import co_listening, majority_agreement


def _listening_counts() -> np.ndarray:
    """Counts (users, items) with a hit, unequal listen counts and an item nobody played (the last)."""
    rng = np.random.default_rng(3)
    counts = rng.poisson(rng.uniform(0.2, 2.0, size=(1, 7)), size=(12, 7))
    counts[:, 0] += rng.poisson(6.0, size=12)  # a hit
    counts[:, -1] = 0  # nobody played it
    counts[0, 1] = 0
    return counts


def check_cosine_co_listening(cosine_co_listening: Callable | None) -> bool:
    """The reader's ``cosine_co_listening(counts)``: for counts (users, items), the (items, items)
    cosine similarity of the columns, zero on the diagonal and for items nobody played."""
    counts = _listening_counts()
    expected = co_listening(counts)

    def verdict(function: Callable) -> str | None:
        got, in_place = call_on_copies(function, {"counts": counts})
        if in_place:
            return in_place
        if got is None:
            return "your function returned None: did you forget `return`?"
        got = np.asarray(got, dtype=float)
        if got.shape == (len(counts), len(counts)):
            return "this is a users-by-users matrix: compare the columns (items) of counts, counts.T @ counts."
        if got.shape != expected.shape:
            return f"expected one similarity per pair of items, shape {expected.shape}, got {got.shape}."
        if np.isnan(got).any():
            return "an item nobody played has a zero norm: give it similarity 0 instead of dividing by 0 (NaN)."
        if np.allclose(got, expected, atol=1e-8):
            return None
        off = ~np.eye(len(expected), dtype=bool)
        if np.allclose(got[off], got[off].flat[0]):
            return "every pair of items gets the same similarity: compute it from the counts' columns."
        if np.allclose(got[off], -expected[off], atol=1e-8):
            return "check the sign: items played by the same people should be more similar, not less."
        if np.allclose(got[off], expected[off], atol=1e-8):
            return "an item is not its own neighbour: set the diagonal to 0."
        raw = counts.T @ counts.astype(float)
        if np.allclose(got[off], raw[off]):
            return ("these are raw co-listening counts, which favour the hits: divide by the norms of the two "
                    "items' columns (cosine).")
        listens = counts.sum(axis=0).astype(float)
        totals = np.outer(listens, listens)
        by_totals = np.divide(raw, totals, out=np.zeros_like(raw), where=totals > 0)
        if np.allclose(got[off], by_totals[off]) or np.allclose(got[off], np.sqrt(by_totals[off])):
            return "the cosine divides by the Euclidean norms of the columns, sqrt(C_ii C_jj), not by listen totals."
        if np.allclose(got[off], co_listening((counts > 0).astype(float))[off]):
            return "you kept only whether a user played an item: use the counts themselves."
        return "some similarities differ from r_i . r_j / (||r_i|| ||r_j||) for columns r_i, r_j of counts."

    cosine_co_listening = stub_or_function(cosine_co_listening, counts.copy(), none_is_stub=True)
    return check(cosine_co_listening, verdict,
                 "cosine co-listening asks whether the same people play two items, not how many play both.")


def _panel_answers() -> np.ndarray:
    """Answers (5 raters, questions): 4 others per rater, so tied votes happen."""
    rng = np.random.default_rng(4)
    answers = rng.random((5, 60)) < np.linspace(0.2, 0.8, 60)
    answers[:, :4] = np.array([True, True, False, False, True])[:, None]  # the others of raters 0, 1, 4 tie
    return answers


def check_others_majority(others_majority: Callable | None) -> bool:
    """The reader's ``others_majority(answers)``: for bool answers (raters, questions), the share of
    questions on which the majority of the *other* raters agrees with each rater (ties count 1/2)."""
    answers = _panel_answers()
    expected = majority_agreement(answers)

    def verdict(function: Callable) -> str | None:
        got, in_place = call_on_copies(function, {"answers": answers})
        if in_place:
            return in_place
        if got is None:
            return "your function returned None: did you forget `return`?"
        got = np.asarray(got, dtype=float)
        if got.shape != expected.shape:
            return f"expected one agreement per rater, shape {expected.shape}, got {got.shape}."
        if np.allclose(got, expected):
            return None
        with_self = np.where(answers, answers.mean(axis=0) > 0.5, answers.mean(axis=0) < 0.5).mean(axis=1)
        if np.allclose(got, with_self):
            return "the rater is voting on their own answer: count only the other raters' votes."
        votes = answers.sum(axis=0) - answers
        others = len(answers) - 1
        for tie, word in ((0.0, "never"), (1.0, "always")):
            majority = np.where(2 * votes > others, 1.0, np.where(2 * votes < others, 0.0, tie))
            if np.allclose(got, np.where(answers, majority, 1 - majority).mean(axis=1)):
                return f"a tied vote {word} agrees in your answer: count it one half."
        pairwise = (answers[:, None, :] == answers[None, :, :]).mean(axis=2)
        if np.allclose(got, (pairwise.sum(axis=1) - 1) / others):
            return "this is the mean agreement with each other rater, not with the majority of the others."
        return "some raters' agreement with the majority of the others differs."

    others_majority = stub_or_function(others_majority, answers.copy(), none_is_stub=True)
    return check(others_majority, verdict,
                 "the others' majority is the best a metric shared by everyone can do for a rater it does not know.")
