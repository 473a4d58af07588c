"""Checkers for the two chorale notebooks:
notebooks/2_deep_metric_learning/05_version_identification.ipynb (version identification) and
notebooks/3_variations/03_audio_and_scores.ipynb (audio-score cross-modal retrieval).

Each checker takes the reader's function, runs it on random inputs and compares it with a reference
(:mod:`utils.evaluate` where it has one); see :func:`utils.exercises.check` for the protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from utils.evaluate import first_relevant_rank, relevant_ranks, retrieval_report
from utils.exercises import check, stub_or_function


def _returned_none(value: Any) -> str | None:
    return "your function returned None: did you forget `return`?" if value is None else None


# ---------------------------------------------------------------------------------------------
# 2.5 Version identification


def optimal_transposition_index(profile_a: np.ndarray, profile_b: np.ndarray) -> int:
    """The shift ``s`` in 0..11 maximising ``profile_a @ np.roll(profile_b, s)`` (Serrà et al. 2008)."""
    shifted = np.stack([np.roll(profile_b, shift) for shift in range(12)])
    return int(np.argmax(shifted @ profile_a))


def check_optimal_transposition_index(function: Callable | None) -> bool:
    """The reader's ``oti(profile_a, profile_b) -> int`` on random 12-bin chroma profiles.

    It must return the circular shift of ``profile_b`` (``np.roll(profile_b, s)``, s in 0..11) that
    best matches ``profile_a`` by dot product.
    """
    rng = np.random.default_rng(0)
    profiles = rng.random((20, 12))
    shifts = rng.integers(0, 12, size=20)

    def verdict(oti: Callable) -> str | None:
        for profile, shift in zip(profiles, shifts, strict=True):
            transposed = np.roll(profile, -shift)  # profile == np.roll(transposed, shift)
            got = oti(profile, transposed)
            if (hint := _returned_none(got)) is not None:
                return hint
            if int(got) != shift and int(got) % 12 == (-shift) % 12:
                return "you found the shift in the opposite direction: roll profile_b, not profile_a."
            if int(got) != shift:
                return (f"profile_a is profile_b rolled by {shift}, so expected {shift}, got {got}; "
                        "return the argmax over the 12 shifts of profile_a @ np.roll(profile_b, s).")
        noisy_a, noisy_b = rng.random(12), rng.random(12)
        if int(oti(noisy_a, noisy_b)) != optimal_transposition_index(noisy_a, noisy_b):
            return "on unrelated profiles your shift is not the one with the largest dot product."
        return None

    function = stub_or_function(function, np.ones(12), np.ones(12), none_is_stub=True)
    return check(function, verdict, "your OTI finds the transposition between two chroma profiles.")


def check_mean_rank_first_relevant(function: Callable | None) -> bool:
    """The reader's ``mr1(distances, labels) -> float`` against ``utils.evaluate.retrieval_report``.

    ``distances`` is an (n, n) matrix; each item queries the others (never itself) and MR1 is the
    mean over queries of the 1-based rank of the first item with the query's label.
    """
    rng = np.random.default_rng(1)
    embeddings = rng.normal(size=(40, 3))
    labels = np.repeat(np.arange(10), 4)
    distances = np.linalg.norm(embeddings[:, None] - embeddings[None], axis=-1)
    expected = retrieval_report(embeddings, labels, ks=())["mr1"]

    def verdict(mr1: Callable) -> str | None:
        got = mr1(distances.copy(), labels.copy())
        if (hint := _returned_none(got)) is not None:
            return hint
        if np.isclose(float(got), 1.0) and not np.isclose(expected, 1.0):
            return "the query retrieves itself at rank 1: set the diagonal to +inf before ranking."
        if not np.isclose(float(got), expected, atol=1e-6):
            return f"expected MR1 = {expected:.4f} on random data, got {float(got):.4f} (ranks start at 1)."
        return None

    function = stub_or_function(function, np.zeros((2, 2)), np.zeros(2), none_is_stub=True)
    return check(function, verdict, f"MR1 agrees with utils.evaluate ({expected:.3f} on the test data).")


# ---------------------------------------------------------------------------------------------
# 3.3 Audio and scores


def partner_ranks_reference(similarity: np.ndarray) -> np.ndarray:
    """1-based rank of gallery item ``i`` for query ``i`` under ``similarity`` (n, n), larger is
    closer; ties counted pessimistically, as :mod:`utils.evaluate` does."""
    partner = np.diag(similarity)
    return (similarity >= partner[:, None]).sum(axis=1)


def check_partner_ranks(function: Callable | None) -> bool:
    """The reader's ``partner_ranks(similarity) -> (n,) ranks`` against ``utils.evaluate``.

    ``similarity[i, j]`` scores query ``i`` against gallery item ``j`` (larger is closer) and the
    partner of query ``i`` is gallery item ``i``.
    """
    rng = np.random.default_rng(2)
    queries, gallery = rng.normal(size=(30, 4)), rng.normal(size=(30, 4))
    similarity = -np.linalg.norm(queries[:, None] - gallery[None], axis=-1)
    ids = np.arange(30)
    expected = first_relevant_rank(relevant_ranks(queries, ids, gallery=gallery, gallery_labels=ids))

    def verdict(partner_ranks: Callable) -> str | None:
        got = partner_ranks(similarity.copy())
        if (hint := _returned_none(got)) is not None:
            return hint
        got = np.asarray(got)
        if got.shape != expected.shape:
            return f"return one rank per query, shape {expected.shape}; got shape {got.shape}."
        if np.array_equal(got + 1, expected):
            return "ranks start at 1 (the partner ranked first has rank 1), not 0."
        if np.array_equal(got, len(ids) + 1 - expected):
            return "larger similarity means closer: sort in decreasing order of similarity."
        if not np.array_equal(got, expected):
            return "some ranks differ from utils.evaluate.first_relevant_rank on random data."
        return None

    function = stub_or_function(function, np.eye(2), none_is_stub=True)
    return check(function, verdict, "the partner ranks agree with utils.evaluate.first_relevant_rank.")


def transpose_roll_reference(roll: np.ndarray, semitones: int) -> np.ndarray:
    """``roll`` (..., pitches, frames) moved up by ``semitones`` (down if negative), zero-filled."""
    moved = np.zeros_like(roll)
    n_pitches = roll.shape[-2]
    if abs(semitones) < n_pitches:
        source = slice(max(0, -semitones), n_pitches - max(0, semitones))
        target = slice(max(0, semitones), n_pitches - max(0, -semitones))
        moved[..., target, :] = roll[..., source, :]
    return moved


def check_transpose_roll(function: Callable | None) -> bool:
    """The reader's ``transpose_roll(roll, semitones)`` on random (pitches, frames) piano rolls.

    Notes move up by ``semitones`` (down if negative); notes leaving the range are dropped, no
    pitch wraps around (a piano roll is not circular, unlike chroma).
    """
    rng = np.random.default_rng(3)
    roll = (rng.random((24, 10)) < 0.2).astype(np.float32)

    def verdict(transpose_roll: Callable) -> str | None:
        for semitones in (0, 3, -5, 30):
            got = transpose_roll(roll.copy(), semitones)
            if (hint := _returned_none(got)) is not None:
                return hint
            got = np.asarray(got)
            if got.shape != roll.shape:
                return f"keep the roll's shape {roll.shape}; got {got.shape}."
            if np.array_equal(got, transpose_roll_reference(roll, semitones)):
                continue
            if np.array_equal(got, np.roll(roll, semitones, axis=0)):
                return "np.roll wraps the top notes around to the bottom: fill with zeros instead."
            if np.array_equal(got, transpose_roll_reference(roll, -semitones)):
                return "row 0 is the lowest pitch: moving up means moving to larger row indices."
            return f"transposing by {semitones} semitones gives a different roll than expected."
        return None

    function = stub_or_function(function, np.zeros((2, 2)), 0, none_is_stub=True)
    return check(function, verdict, "your transposition moves every note and drops those leaving the range.")
