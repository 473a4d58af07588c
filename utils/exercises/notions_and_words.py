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
from utils.exercises import call_on_copies, check, not_an_array, returned_none, stub_or_function


def _masked_mistakes(f_x: np.ndarray, f_y: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """Hint -> distances of the common mistakes of the masked distance."""
    difference = f_x - f_y
    return {
        "these are squared distances: take the square root.": np.linalg.norm(mask * difference, axis=1) ** 2,
        "the mask multiplies the difference (m * (f_x - f_y)), not its square.":
            np.linalg.norm(np.sqrt(mask) * difference, axis=1),
        "multiply the difference by the mask once, not by its square.": np.linalg.norm(mask**2 * difference, axis=1),
        "the mask is ignored: multiply the difference by it, coordinate by coordinate.":
            np.linalg.norm(difference, axis=1),
        "that is the L1 norm (sum of absolute values): the distance is the Euclidean (L2) norm.":
            np.abs(mask * difference).sum(axis=1),
    }


def check_masked_distance(masked_distance: Callable | None) -> bool:
    """The reader's ``masked_distance(f_x, f_y, mask)``: rows of :math:`\\lVert m \\odot (f_x - f_y)\\rVert_2`.

    ``f_x``, ``f_y`` are (n, D) arrays of embeddings, ``mask`` a non-negative (D,) array with some
    zeros and some entries above 1; the answer is an (n,) NumPy array.
    """
    rng = np.random.default_rng(0)
    f_x, f_y = rng.normal(size=(2, 20, 6))
    mask = np.abs(rng.normal(size=6)) * (rng.random(6) < 0.7)

    def verdict(function: Callable) -> str | None:
        got, changed = call_on_copies(function, {"f_x": f_x, "f_y": f_y, "mask": mask})
        if (hint := returned_none(got) or not_an_array(got, "the distances") or changed) is not None:
            return hint
        got = np.asarray(got, dtype=float)
        expected = np.linalg.norm(mask * (f_x - f_y), axis=1)
        if got.shape != expected.shape:
            return (f"expected one distance per row, shape {expected.shape}, got {got.shape}: take the norm "
                    "over the coordinates (axis=1).")
        if np.allclose(got, expected, atol=1e-5):
            return None
        for hint, wrong in _masked_mistakes(f_x, f_y, mask).items():
            if np.allclose(got, wrong):
                return hint
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


def _leakage_hint(got: np.ndarray, expected: np.ndarray) -> str:
    """The hint for a leakage matrix that differs from ``expected``."""
    if np.allclose(got, expected.T, atol=1e-6):
        return "rows and columns are swapped: row r is the subspace of mask r, column c the triplets of notion c."
    if np.allclose(got, 1 - expected, atol=1e-6):
        return "each entry is the fraction of triplets the subspace orders right, d(a, p) < d(a, n), not wrong."
    if any(np.allclose(got, np.tile(row, (len(expected), 1)), atol=1e-6) for row in expected):
        return "every row is the same: row r must use mask r's subspace, masked_embeddings[:, r]."
    if np.allclose(got, np.diag(np.diag(expected)), atol=1e-6):
        return "the off-diagonal entries are accuracies too: mask r's subspace on notion c's triplets."
    if np.allclose(got, 0.5):
        return "0.5 is the chance level of a triplet: compute each subspace's accuracy on each notion's triplets."
    return "some entries differ from utils.evaluate.triplet_accuracy(masked_embeddings[:, r], triplets[c])."


def check_leakage_matrix(matrix: np.ndarray | None, masked_embeddings: np.ndarray,
                         triplets: Sequence[np.ndarray]) -> bool:
    """The reader's (n_notions, n_notions) matrix: subspace of notion r (row) on triplets of notion c (column)."""
    def verdict(answer) -> str | None:
        if (hint := not_an_array(answer, "the matrix")) is not None:
            return hint
        got = np.asarray(answer, dtype=float)
        expected = leakage_matrix(masked_embeddings, triplets)
        if got.shape != expected.shape:
            return f"expected a {expected.shape} matrix (one row per mask, one column per notion), got {got.shape}."
        return None if np.allclose(got, expected, atol=1e-6) else _leakage_hint(got, expected)

    return check(matrix, verdict,
                 "the diagonal is each notion's own accuracy; the off-diagonal shows what else a subspace knows.")


def _zero_shot_mistakes(audio: np.ndarray, classes: np.ndarray) -> dict[str, np.ndarray]:
    """Hint -> predictions of the common mistakes of zero-shot prediction."""
    unit = classes / np.linalg.norm(classes, axis=1, keepdims=True)
    distances = np.linalg.norm(audio[:, None] - classes[None], axis=2)
    return {
        "a plain dot product favours long class vectors: normalise them (cosine similarity).":
            (audio @ classes.T).argmax(1),
        "Euclidean distance between unnormalised vectors is not the cosine: normalise first.": distances.argmin(1),
        "that is the least similar class: take the argmax of the cosine similarity.": (audio @ unit.T).argmin(1),
    }


def check_zero_shot_predict(zero_shot_predict: Callable | None) -> bool:
    """The reader's ``zero_shot_predict(audio_embeddings, class_embeddings)``: index of the most
    cosine-similar class of each clip, an (n,) int array."""
    rng = np.random.default_rng(1)
    audio = rng.normal(size=(40, 8))
    classes = rng.normal(size=(5, 8)) * rng.uniform(0.2, 5.0, size=(5, 1))  # unequal norms

    def verdict(function: Callable) -> str | None:
        got, changed = call_on_copies(function, {"audio_embeddings": audio, "class_embeddings": classes})
        if (hint := returned_none(got) or changed) is not None:
            return hint
        got = np.asarray(got)
        unit = classes / np.linalg.norm(classes, axis=1, keepdims=True)
        expected = (audio @ unit.T).argmax(1)
        if got.shape != expected.shape:
            return (f"expected one class index per clip, shape {expected.shape}, got {got.shape}: the argmax "
                    "over the classes (axis=1).")
        if np.array_equal(got, expected):
            return None
        for hint, wrong in _zero_shot_mistakes(audio, classes).items():
            if np.array_equal(got, wrong):
                return hint
        if len(np.unique(got)) == 1:
            return "every clip gets the same class: compare each clip with every class embedding."
        return "some clips get another class than the most cosine-similar one."

    zero_shot_predict = stub_or_function(zero_shot_predict, audio, classes, none_is_stub=True)
    return check(zero_shot_predict, verdict,
                 "zero-shot classification is nearest-neighbour search among the class names' embeddings.")


def _harmonic_hint(function: Callable, seen: float, unseen: float, got: float) -> str:
    """The hint for a wrong ``harmonic_mean(seen, unseen) = got``."""
    if np.isclose(got, (seen + unseen) / 2):
        return f"harmonic_mean({seen}, {unseen}) = {got:.3f} is the arithmetic mean."
    if np.isclose(got, np.sqrt(seen * unseen)):
        return "that is the geometric mean: the harmonic mean is the reciprocal of the mean of the reciprocals."
    if np.isclose(got, min(seen, unseen)) and seen != unseen:
        return "that is the smaller accuracy: the harmonic mean lies between it and the arithmetic mean."
    if not np.isclose(float(function(0.5, 0.5)), 0.5):
        return "the mean of two equal accuracies must be that accuracy: check harmonic_mean(0.5, 0.5)."
    return f"harmonic_mean({seen}, {unseen}) = {got} is not the harmonic mean of the two accuracies."


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
            if (hint := returned_none(got)) is not None:
                return hint
            if not np.isfinite(got):
                return f"harmonic_mean({seen}, {unseen}) is {got}: return 0 when both are 0."
            if not np.isclose(got, expected(seen, unseen)):
                return _harmonic_hint(function, seen, unseen, float(got))
        return None

    harmonic_mean = stub_or_function(harmonic_mean, 0.8, 0.4, none_is_stub=True)
    return check(harmonic_mean, verdict,
                 "the harmonic mean is high only when both accuracies are: a model blind to unseen classes scores 0.")
