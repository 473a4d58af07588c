"""Checkers (and the reference measures they use) for two notebooks of series 3:

- notebooks/3_variations/04_self_supervised.ipynb: a pitch shift on spectrogram bins, and the
  alignment and uniformity of an embedding (Wang & Isola, ICML 2020);
- notebooks/3_variations/05_mixtures_and_solos.ipynb: average precision from a similarity matrix,
  and the mean average precision of solo-to-mixture retrieval for each voice.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score

from utils.augment import shift_bins
from utils.evaluate import retrieval_report
from utils.exercises import check, stub_or_function

#: Voice names of the chorale stems, in the order of the stems' voice axis.
VOICES = ("soprano", "alto", "tenor", "bass")


def _unit_rows(z: ArrayLike) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"embeddings must have shape (n, dim), got {z.shape}")
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def alignment(z1: ArrayLike, z2: ArrayLike) -> float:
    """Mean squared distance between L2-normalised positive pairs, rows ``z1[i]``, ``z2[i]``
    (n, dim): 0 when the two views of every item embed at the same point."""
    a, b = _unit_rows(z1), _unit_rows(z2)
    if a.shape != b.shape:
        raise ValueError(f"z1 and z2 must be paired (same shape), got {a.shape} and {b.shape}")
    return float(np.mean(np.sum((a - b) ** 2, axis=1)))


def uniformity(z: ArrayLike, t: float = 2.0) -> float:
    """``log`` of the mean of ``exp(-t |z_i - z_j|^2)`` over pairs i < j of L2-normalised rows of
    ``z`` (n, dim): lower is more uniform on the sphere (about -3.9 at best for t = 2 in high
    dimension, 0 when every item collapses to one point)."""
    x = _unit_rows(z)
    squared = np.maximum(2 - 2 * x @ x.T, 0)[np.triu_indices(len(x), k=1)]
    return float(np.log(np.mean(np.exp(-t * squared))))


def _as_numpy(result) -> np.ndarray:
    if isinstance(result, torch.Tensor):
        return result.detach().cpu().numpy()
    return np.asarray(result)


def check_shift_bins(function: Callable | None) -> bool:
    """The reader's ``shift(x, shifts)`` on (batch, bins, frames) against utils.augment.shift_bins."""
    x = -80 * torch.rand(4, 12, 5, generator=torch.Generator().manual_seed(0))
    shifts = torch.tensor([3, -2, 0, 1])

    def verdict(shift: Callable) -> str | None:
        got = shift(x.clone(), shifts.clone())
        if got is None:
            return "your function returned None: did you forget `return`?"
        got = _as_numpy(got)
        if got.shape != tuple(x.shape):
            return f"expected shape {tuple(x.shape)} (the input's), got {got.shape}."
        expected = shift_bins(x, shifts).numpy()
        if np.allclose(got, shift_bins(x, -shifts).numpy()):
            return "the rows move the wrong way: a positive shift should move energy to higher bins."
        rolled = np.stack([np.roll(item, int(s), axis=0) for item, s in zip(x.numpy(), shifts.numpy(), strict=True)])
        if np.allclose(got, rolled):
            return "np.roll wraps the top bins around to the bottom: fill the vacated bins with the clip's minimum."
        if not np.allclose(got, expected, atol=1e-5):
            return "the shifted bins differ from utils.augment.shift_bins (vacated bins take each clip's minimum)."
        return None

    function = stub_or_function(function, x, shifts, none_is_stub=True)
    return check(function, verdict, "your pitch shift agrees with utils.augment.shift_bins.")


def check_alignment_uniformity(function: Callable | None) -> bool:
    """The reader's ``measures(z1, z2) -> (alignment, uniformity of z1)`` against this module's."""
    rng = np.random.default_rng(0)
    z1 = 3 * rng.normal(size=(40, 8))
    z2 = z1 + rng.normal(size=(40, 8))

    def verdict(measures: Callable) -> str | None:
        got = measures(z1.copy(), z2.copy())
        if got is None or len(got) != 2:
            return "return a pair (alignment, uniformity)."
        got_alignment, got_uniformity = (float(value) for value in got)
        raw_alignment = float(np.mean(np.sum((z1 - z2) ** 2, axis=1)))
        if np.isclose(got_alignment, raw_alignment) and not np.isclose(raw_alignment, alignment(z1, z2)):
            return "normalise the rows to unit length first (the losses compare directions, not lengths)."
        if not np.isclose(got_alignment, alignment(z1, z2), rtol=1e-4):
            return f"alignment should be {alignment(z1, z2):.4f}, the mean of |z1_i - z2_i|^2 over items; got {got_alignment:.4f}."
        if not np.isclose(got_uniformity, uniformity(z1), rtol=1e-4):
            return (f"uniformity should be {uniformity(z1):.4f}: log of the mean of exp(-2 |z_i - z_j|^2) over "
                    f"pairs i < j of z1 (not i = j); got {got_uniformity:.4f}.")
        return None

    function = stub_or_function(function, z1, z2, none_is_stub=True)
    return check(function, verdict, "alignment and uniformity agree with Wang & Isola's definitions.")


def check_average_precision(function: Callable | None) -> bool:
    """The reader's ``mean_ap(similarity, relevant)`` (queries x gallery) against scikit-learn."""
    rng = np.random.default_rng(0)
    similarity = rng.normal(size=(12, 20))
    relevant = rng.random((12, 20)) < 0.2
    relevant[np.arange(12), rng.integers(0, 20, 12)] = True  # every query has a relevant item
    expected = float(np.mean([average_precision_score(r, s) for r, s in zip(relevant, similarity, strict=True)]))

    def verdict(mean_ap: Callable) -> str | None:
        got = mean_ap(similarity.copy(), relevant.copy())
        if got is None:
            return "your function returned None: did you forget `return`?"
        reversed_order = float(np.mean([average_precision_score(r, -s) for r, s in zip(relevant, similarity, strict=True)]))
        if np.isclose(float(got), reversed_order):
            return "a larger similarity means closer: rank the gallery by decreasing similarity."
        if not np.isclose(float(got), expected, atol=1e-6):
            return f"expected {expected:.4f} (scikit-learn's average_precision_score, averaged over queries), got {float(got):.4f}."
        return None

    function = stub_or_function(function, similarity, relevant, none_is_stub=True)
    return check(function, verdict, "your mean average precision agrees with scikit-learn's.")


def per_voice_map(solo_embeddings: ArrayLike, mixture_embeddings: ArrayLike) -> dict[str, float]:
    """Mean average precision of each voice's solos retrieving their own mixture (cosine).

    Parameters
    ----------
    solo_embeddings : (n, 4, dim) embeddings of the soprano, alto, tenor and bass stems of n items.
    mixture_embeddings : (n, dim) embeddings of the n mixtures (the gallery).
    """
    solos, mixtures = np.asarray(solo_embeddings), np.asarray(mixture_embeddings)
    if solos.ndim != 3 or solos.shape[1] != len(VOICES) or len(solos) != len(mixtures):
        raise ValueError(f"expected solos (n, 4, dim) and mixtures (n, dim), got {solos.shape} and {mixtures.shape}")
    items = np.arange(len(mixtures))
    return {
        voice: retrieval_report(solos[:, v], items, gallery=mixtures, gallery_labels=items,
                                metric="cosine", ks=())["map"]
        for v, voice in enumerate(VOICES)
    }


def check_per_voice_map(answer: dict | None, solo_embeddings: ArrayLike, mixture_embeddings: ArrayLike) -> bool:
    """The reader's ``{voice: MAP}`` for the given embeddings against :func:`per_voice_map`."""
    expected = per_voice_map(solo_embeddings, mixture_embeddings)

    def verdict(got: dict) -> str | None:
        if not isinstance(got, dict) or set(got) != set(VOICES):
            return f"give a dict with the keys {list(VOICES)}."
        wrong = [v for v in VOICES if not np.isclose(float(got[v]), expected[v], atol=1e-3)]
        if wrong:
            return (f"{wrong[0]}: expected {expected[wrong[0]]:.3f}, got {float(got[wrong[0]]):.3f}. Query with the "
                    "voice's solos only, search the mixtures, relevant = the same item, cosine distance.")
        return None

    easiest = max(expected, key=expected.get)
    return check(answer, verdict, f"per-voice MAP agrees; the {easiest} is the easiest voice to find.")
