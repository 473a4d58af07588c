"""Checkers for the two chorale notebooks:
notebooks/2_deep_metric_learning/05_version_identification.ipynb (version identification) and
notebooks/3_variations/03_audio_and_scores.ipynb (audio-score cross-modal retrieval).

Each checker takes the reader's function, runs it on test inputs built so that the common
mistakes give other answers (clustered labels, ties where the tie rule matters) and compares it
with a reference (:mod:`utils.evaluate` where it has one); see :func:`utils.exercises.check`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from utils.evaluate import retrieval_report
from utils.exercises import call_on_copies, check, returned_none, stub_or_function, to_numpy

# ---------------------------------------------------------------------------------------------
# 2.5 Version identification


def optimal_transposition_index(profile_a: np.ndarray, profile_b: np.ndarray) -> int:
    """The shift ``s`` in 0..11 maximising ``profile_a @ np.roll(profile_b, s)`` (Serrà et al. 2008)."""
    shifted = np.stack([np.roll(profile_b, shift) for shift in range(12)])
    return int(np.argmax(shifted @ profile_a))


def _oti_hint(got: int, profile_a: np.ndarray, profile_b: np.ndarray) -> str:
    """The hint for a shift ``got`` that is not the OTI of the pair."""
    scores = np.stack([np.roll(profile_b, shift) for shift in range(12)]) @ profile_a
    if got == optimal_transposition_index(profile_b, profile_a):
        return "you found the shift in the opposite direction: roll profile_b, not profile_a."
    if got == int(np.argmin(scores)):
        return "that shift has the smallest dot product: the best match has the largest (argmax)."
    if got == int(np.argmax(scores)) + 1:
        return "off by one: the shifts are 0..11, and np.roll(profile_b, 0) is profile_b itself."
    return "return the argmax over the 12 shifts s of profile_a @ np.roll(profile_b, s)."


def check_optimal_transposition_index(function: Callable | None) -> bool:
    """The reader's ``oti(profile_a, profile_b) -> int`` on random 12-bin chroma profiles.

    It must return the circular shift of ``profile_b`` (``np.roll(profile_b, s)``, s in 0..11) that
    best matches ``profile_a`` by dot product, on transposed copies and on unrelated profiles.
    """
    rng = np.random.default_rng(0)
    profiles = rng.random((20, 12))
    pairs = [(profile, np.roll(profile, -shift)) for profile, shift in zip(profiles, rng.integers(0, 12, 20), strict=True)]
    pairs += list(zip(rng.random((20, 12)), 3 * rng.random((20, 12)), strict=True))

    def verdict(oti: Callable) -> str | None:
        shifts = []
        for profile_a, profile_b in pairs:
            got, changed = call_on_copies(oti, {"profile_a": profile_a, "profile_b": profile_b})
            if (hint := returned_none(got) or changed) is not None:
                return hint
            if np.ndim(got) != 0 or float(got) != int(got):
                return "return the shift, one integer in 0..11, not the scores or the best score."
            shifts.append(int(got))
        if len(set(shifts)) == 1:
            return f"you return {shifts[0]} for every pair: compare the 12 shifts of profile_b with profile_a."
        for got, (profile_a, profile_b) in zip(shifts, pairs, strict=True):
            if got != optimal_transposition_index(profile_a, profile_b):
                return _oti_hint(got, profile_a, profile_b)
        return None

    function = stub_or_function(function, np.ones(12), np.ones(12), none_is_stub=True)
    return check(function, verdict, "your OTI finds the transposition between two chroma profiles.")


def clustered_embeddings(n_labels: int = 10, per_label: int = 4, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings (n, 3) of noisy clusters of ``per_label`` items, and their labels.

    Many queries find an item of their label first, others do not: MR1, its median, the mean
    reciprocal rank and the mean rank of the last relevant item all differ.
    """
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_labels), per_label)
    return rng.normal(size=(n_labels, 3))[labels] + 0.4 * rng.normal(size=(len(labels), 3)), labels


def _ranks_of_relevant(distances: np.ndarray, labels: np.ndarray, descending: bool = False) -> np.ndarray:
    """1-based ranks (n, n - 1) of each query's other items, True where they share its label."""
    masked = np.array(distances, dtype=float)
    np.fill_diagonal(masked, -np.inf if descending else np.inf)
    order = np.argsort(-masked if descending else masked, axis=1, kind="stable")[:, :-1]
    return labels[order] == labels[:, None]


def _mr1_mistakes(distances: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Hint -> value of the common mistakes of MR1 on these distances."""
    hits = _ranks_of_relevant(distances, labels)
    first = hits.argmax(axis=1) + 1
    last = hits.shape[1] - hits[:, ::-1].argmax(axis=1)
    return {
        "ranks start at 1: the nearest other item has rank 1, not 0.": float(np.mean(first - 1)),
        "MR1 is the mean of the first relevant ranks, not their median.": float(np.median(first)),
        "MR1 is the mean rank itself, not the mean reciprocal rank (that is MRR).": float(np.mean(1 / first)),
        "that is the mean rank of the last relevant item: MR1 takes the first.": float(np.mean(last)),
        "rank by increasing distance: the nearest item comes first.":
            float(np.mean(_ranks_of_relevant(distances, labels, descending=True).argmax(axis=1) + 1)),
    }


def check_mean_rank_first_relevant(function: Callable | None) -> bool:
    """The reader's ``mr1(distances, labels) -> float`` against ``utils.evaluate.retrieval_report``.

    ``distances`` is an (n, n) matrix; each item queries the others (never itself) and MR1 is the
    mean over queries of the 1-based rank of the first item with the query's label.
    """
    embeddings, labels = clustered_embeddings()
    distances = np.linalg.norm(embeddings[:, None] - embeddings[None], axis=-1)
    expected = retrieval_report(embeddings, labels, ks=())["mr1"]

    def verdict(mr1: Callable) -> str | None:
        got, changed = call_on_copies(mr1, {"distances": distances, "labels": labels})
        if (hint := returned_none(got) or changed) is not None:
            return hint
        got = float(got)
        if np.isclose(got, expected, atol=1e-6):
            return None
        if np.isclose(got, 1.0):
            return "the query retrieves itself at rank 1: set the diagonal to +inf before ranking."
        for hint, value in _mr1_mistakes(distances, labels).items():
            if np.isclose(got, value, atol=1e-6):
                return hint
        return ("your MR1 differs from utils.evaluate's on clustered test data: the mean over queries of the "
                "1-based rank of the first other item with the query's label.")

    function = stub_or_function(function, np.zeros((2, 2)), np.zeros(2), none_is_stub=True)
    return check(function, verdict, "MR1 agrees with utils.evaluate.retrieval_report.")


# ---------------------------------------------------------------------------------------------
# 3.3 Audio and scores


def partner_ranks_reference(similarity: np.ndarray) -> np.ndarray:
    """1-based rank of gallery item ``i`` for query ``i`` under ``similarity`` (n, n), larger is
    closer; ties counted pessimistically, as :mod:`utils.evaluate` does."""
    partner = np.diag(similarity)
    return (similarity >= partner[:, None]).sum(axis=1)


def tied_similarity(n: int = 30, seed: int = 2) -> np.ndarray:
    """Minus the Euclidean distances (n, n) of random queries to random gallery items, rounded to
    one decimal so that many partners tie with other items, and the partners nearer than chance."""
    rng = np.random.default_rng(seed)
    gallery = rng.normal(size=(n, 4))
    queries = gallery + rng.normal(size=(n, 4))
    return -np.round(np.linalg.norm(queries[:, None] - gallery[None], axis=-1), 1)


def _partner_rank_mistakes(similarity: np.ndarray) -> dict[str, np.ndarray]:
    """Hint -> ranks of the common mistakes on ``similarity``."""
    n = len(similarity)
    by_order = np.argsort(-similarity, axis=1, kind="stable")
    return {
        "ranks start at 1 (the partner ranked first has rank 1), not 0.": partner_ranks_reference(similarity) - 1,
        "larger similarity means closer: rank in decreasing order of similarity.": partner_ranks_reference(-similarity),
        ("count ties against the partner: its rank is the number of items at least as similar (>=), "
         "not one more than those strictly more similar."):
            (similarity > np.diag(similarity)[:, None]).sum(axis=1) + 1,
        ("sorting breaks ties by position, neither for nor against the partner: count the items at least as "
         "similar as the partner instead."): np.argmax(by_order == np.arange(n)[:, None], axis=1) + 1,
        "row i is query i: compare each row with its own diagonal entry, not each column.":
            (similarity >= np.diag(similarity)[None, :]).sum(axis=0),
    }


def check_partner_ranks(function: Callable | None) -> bool:
    """The reader's ``partner_ranks(similarity) -> (n,) ranks`` against :func:`partner_ranks_reference`.

    ``similarity[i, j]`` scores query ``i`` against gallery item ``j`` (larger is closer) and the
    partner of query ``i`` is gallery item ``i``; the test matrix has ties
    (:func:`tied_similarity`), counted against the partner as the exercise states.
    """
    similarity = tied_similarity()
    expected = partner_ranks_reference(similarity)

    def verdict(partner_ranks: Callable) -> str | None:
        got, changed = call_on_copies(partner_ranks, {"similarity": similarity})
        if (hint := returned_none(got) or changed) is not None:
            return hint
        got = to_numpy(got)
        if got.shape != expected.shape:
            return f"return one rank per query, shape {expected.shape}; got shape {got.shape}."
        if np.array_equal(got, expected):
            return None
        for hint, ranks in _partner_rank_mistakes(similarity).items():
            if np.array_equal(got, ranks):
                return hint
        return "some ranks differ: the rank of partner i is the number of items j with similarity[i, j] >= similarity[i, i]."

    function = stub_or_function(function, np.eye(2), none_is_stub=True)
    return check(function, verdict, "the partner ranks agree with utils.evaluate's rule, ties counted against.")


def transpose_roll_reference(roll: np.ndarray, semitones: int) -> np.ndarray:
    """``roll`` (..., pitches, frames) moved up by ``semitones`` (down if negative), zero-filled."""
    moved = np.zeros_like(roll)
    n_pitches = roll.shape[-2]
    if abs(semitones) < n_pitches:
        source = slice(max(0, -semitones), n_pitches - max(0, semitones))
        target = slice(max(0, semitones), n_pitches - max(0, -semitones))
        moved[..., target, :] = roll[..., source, :]
    return moved


def _transpose_mistakes(roll: np.ndarray, semitones: int) -> dict[str, np.ndarray]:
    """Hint -> roll of the common mistakes of transposing ``roll`` (pitches, frames)."""
    kept = roll.copy()
    moved = transpose_roll_reference(roll, semitones)
    target = transpose_roll_reference(np.ones_like(roll), semitones) > 0
    kept[target] = moved[target]
    return {
        "np.roll wraps the top notes around to the bottom: fill with zeros instead.": np.roll(roll, semitones, axis=0),
        "row 0 is the lowest pitch: moving up means moving to larger row indices.":
            transpose_roll_reference(roll, -semitones),
        "the pitches are the rows (axis -2); the columns are time frames.": transpose_roll_reference(roll.T, semitones).T,
        "the rows your notes leave must become silent (zeros), not keep their old notes.": kept,
    }


def check_transpose_roll(function: Callable | None) -> bool:
    """The reader's ``transpose_roll(roll, semitones)`` on random (pitches, frames) piano rolls.

    Notes move up by ``semitones`` (down if negative); notes leaving the range are dropped, no
    pitch wraps around (a piano roll is not circular, unlike chroma); the input stays unchanged.
    """
    rng = np.random.default_rng(3)
    roll = (rng.random((24, 10)) < 0.2).astype(np.float32)

    def verdict(transpose_roll: Callable) -> str | None:
        for semitones in (0, 3, -5, 30):
            got, changed = call_on_copies(transpose_roll, {"roll": roll, "semitones": semitones})
            if (hint := returned_none(got) or changed) is not None:
                return hint
            got = np.asarray(got)
            if got.shape != roll.shape:
                return f"keep the roll's shape {roll.shape}; got {got.shape}."
            if np.array_equal(got, transpose_roll_reference(roll, semitones)):
                continue
            if semitones == 0:
                return "transposing by 0 semitones must give the roll back unchanged."
            for hint, wrong in _transpose_mistakes(roll, semitones).items():
                if np.array_equal(got, wrong):
                    return hint
            return f"transposing by {semitones} semitones gives a different roll than moving every row by {semitones}."
        return None

    function = stub_or_function(function, np.zeros((2, 2)), 0, none_is_stub=True)
    return check(function, verdict, "your transposition moves every note and drops those leaving the range.")
