"""Checkers for the exercises of series 3 on notions and words.

- notebooks/3_variations/01_disentangled_similarity.ipynb: :func:`check_masked_distance`,
  :func:`check_leakage_matrix`.
- notebooks/3_variations/02_audio_and_words.ipynb: :func:`check_zero_shot_predict`,
  :func:`check_harmonic_mean`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from utils.evaluate import triplet_accuracy
from utils.exercises import check, stub_or_function


def check_masked_distance(masked_distance: Callable | None) -> bool:
    """The reader's ``masked_distance(f_x, f_y, mask)``: rows of :math:`\\lVert m \\odot (f_x - f_y)\\rVert_2`.

    ``f_x``, ``f_y`` are (n, D) arrays of embeddings, ``mask`` a non-negative (D,) array; the answer
    is an (n,) array.
    """
    rng = np.random.default_rng(0)
    f_x, f_y = rng.normal(size=(2, 20, 6))
    mask = np.abs(rng.normal(size=6)) * (rng.random(6) < 0.7)

    def verdict(function: Callable) -> str | None:
        got = function(f_x, f_y, mask)
        if got is None:
            return "your function returned None: did you forget `return`?"
        got = np.asarray(got, dtype=float)
        difference = mask * (f_x - f_y)
        expected = np.linalg.norm(difference, axis=1)
        if got.shape != expected.shape:
            return f"expected one distance per row, shape {expected.shape}, got {got.shape}."
        if np.allclose(got, expected, atol=1e-5):
            return None
        if np.allclose(got, expected**2):
            return "these are squared distances: take the square root."
        if np.allclose(got, np.linalg.norm(np.sqrt(mask) * (f_x - f_y), axis=1)):
            return "the mask multiplies the difference (m * (f_x - f_y)), not its square."
        if np.allclose(got, np.linalg.norm(f_x - f_y, axis=1)):
            return "the mask is ignored: multiply the difference by it, coordinate by coordinate."
        return "the distances differ from ||mask * (f_x - f_y)||, row by row."

    masked_distance = stub_or_function(masked_distance, f_x, f_y, mask, none_is_stub=True)
    return check(masked_distance, verdict,
                 "a masked distance is a Euclidean distance in the subspace the mask selects (and scales).")


def leakage_matrix(masked_embeddings: np.ndarray, triplets: Sequence[np.ndarray]) -> np.ndarray:
    """Triplet accuracy of each notion's subspace (rows) on each notion's triplets (columns).

    ``masked_embeddings`` is (n, n_notions, D); ``triplets[c]`` an int array (n_triplets, 3).
    """
    masked_embeddings = np.asarray(masked_embeddings)
    return np.array([[triplet_accuracy(masked_embeddings[:, row], notion_triplets) for notion_triplets in triplets]
                     for row in range(masked_embeddings.shape[1])])


def check_leakage_matrix(matrix: np.ndarray | None, masked_embeddings: np.ndarray,
                         triplets: Sequence[np.ndarray]) -> bool:
    """The reader's (n_notions, n_notions) matrix: subspace of notion r (row) on triplets of notion c (column)."""
    def verdict(answer) -> str | None:
        got = np.asarray(answer, dtype=float)
        expected = leakage_matrix(masked_embeddings, triplets)
        if got.shape != expected.shape:
            return f"expected a {expected.shape} matrix (one row per mask, one column per notion), got {got.shape}."
        if np.allclose(got, expected, atol=1e-6):
            return None
        if np.allclose(got, expected.T, atol=1e-6):
            return "rows and columns are swapped: row r is the subspace of mask r, column c the triplets of notion c."
        return "some entries differ from utils.evaluate.triplet_accuracy(masked_embeddings[:, r], triplets[c])."

    return check(matrix, verdict,
                 "the diagonal is each notion's own accuracy; the off-diagonal shows what else a subspace knows.")


def check_zero_shot_predict(zero_shot_predict: Callable | None) -> bool:
    """The reader's ``zero_shot_predict(audio_embeddings, class_embeddings)``: index of the most
    cosine-similar class of each clip, an (n,) int array."""
    rng = np.random.default_rng(1)
    audio = rng.normal(size=(40, 8))
    classes = rng.normal(size=(5, 8)) * rng.uniform(0.2, 5.0, size=(5, 1))  # unequal norms

    def verdict(function: Callable) -> str | None:
        got = function(audio, classes)
        if got is None:
            return "your function returned None: did you forget `return`?"
        got = np.asarray(got)
        unit = classes / np.linalg.norm(classes, axis=1, keepdims=True)
        expected = (audio @ unit.T).argmax(1)
        if got.shape != expected.shape:
            return f"expected one class index per clip, shape {expected.shape}, got {got.shape}."
        if np.array_equal(got, expected):
            return None
        if np.array_equal(got, (audio @ classes.T).argmax(1)):
            return "a plain dot product favours long class vectors: normalise them (cosine similarity)."
        distances = np.linalg.norm(audio[:, None] - classes[None], axis=2)
        if np.array_equal(got, distances.argmin(1)):
            return "Euclidean distance between unnormalised vectors is not the cosine: normalise first."
        return "some clips get another class than the most cosine-similar one."

    zero_shot_predict = stub_or_function(zero_shot_predict, audio, classes, none_is_stub=True)
    return check(zero_shot_predict, verdict,
                 "zero-shot classification is nearest-neighbour search among the class names' embeddings.")


def check_harmonic_mean(harmonic_mean: Callable | None) -> bool:
    """The reader's ``harmonic_mean(seen, unseen)`` of two accuracies in [0, 1] (0 when both are 0)."""
    cases = [(0.8, 0.4), (0.5, 0.5), (0.9, 0.0), (0.0, 0.0), (0.3, 0.6)]

    def expected(seen: float, unseen: float) -> float:
        return 0.0 if seen + unseen == 0 else 2 * seen * unseen / (seen + unseen)

    def verdict(function: Callable) -> str | None:
        for seen, unseen in cases:
            try:
                got = function(seen, unseen)
            except ZeroDivisionError:
                return f"harmonic_mean({seen}, {unseen}) divides by zero: return 0 when both are 0."
            if got is None:
                return "your function returned None: did you forget `return`?"
            if np.isclose(got, expected(seen, unseen)):
                continue
            if np.isclose(got, (seen + unseen) / 2):
                return f"harmonic_mean({seen}, {unseen}) = {got:.3f} is the arithmetic mean."
            return f"harmonic_mean({seen}, {unseen}) should be {expected(seen, unseen):.3f}, got {got}."
        return None

    harmonic_mean = stub_or_function(harmonic_mean, 0.8, 0.4, none_is_stub=True)
    return check(harmonic_mean, verdict,
                 "the harmonic mean is high only when both accuracies are: a model blind to unseen classes scores 0.")
