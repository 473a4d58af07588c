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
from utils.exercises import call_on_copies, check, returned_none, stub_or_function, to_numpy

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


def shift_variant(x: np.ndarray, shifts: np.ndarray, *, fill: str = "item", axis: int = 1) -> np.ndarray:
    """Each item of ``x`` (batch, bins, frames) moved by its shift along ``axis`` (1: bins), the
    vacated rows filled with the item's minimum (``fill="item"``, as utils.augment.shift_bins),
    the batch's (``"batch"``) or zeros (``"zero"``): the right answer and two mistakes."""
    floors = {"item": x.min(axis=(1, 2)), "batch": np.full(len(x), x.min()), "zero": np.zeros(len(x))}[fill]
    moved = np.empty_like(x)
    for i, (item, shift) in enumerate(zip(x, np.asarray(shifts), strict=True)):
        rolled = np.roll(item, int(shift), axis=axis - 1)
        vacated = np.arange(item.shape[axis - 1])
        vacated = (vacated < shift) | (vacated >= item.shape[axis - 1] + shift)
        rolled[vacated if axis == 1 else (slice(None), vacated)] = floors[i]
        moved[i] = rolled
    return moved


def _shift_mistakes(x: np.ndarray, shifts: np.ndarray) -> dict[str, np.ndarray]:
    """Hint -> result of the common mistakes of the pitch shift."""
    return {
        "the rows move the wrong way: a positive shift should move energy to higher bins.": shift_variant(x, -shifts),
        "np.roll wraps the top bins around to the bottom: fill the vacated bins with the clip's minimum.":
            np.stack([np.roll(item, int(s), axis=0) for item, s in zip(x, shifts, strict=True)]),
        "the vacated bins take the clip's minimum (silence in dB), not 0.": shift_variant(x, shifts, fill="zero"),
        "the vacated bins take each clip's own minimum, not the batch's.": shift_variant(x, shifts, fill="batch"),
        "the bins are axis 1 (the rows); axis 2 is time.": shift_variant(x, shifts, axis=2),
        "each item has its own shift: shifts[i] moves item i.": shift_variant(x, np.full_like(shifts, shifts[0])),
    }


def check_shift_bins(function: Callable | None) -> bool:
    """The reader's ``shift(x, shifts)`` on (batch, bins, frames) against utils.augment.shift_bins.

    The items have different floors (minima), so that the floor of the batch, or 0, is not one.
    """
    generator = torch.Generator().manual_seed(0)
    x = -80 * torch.rand(4, 12, 5, generator=generator) + torch.tensor([0.0, -10.0, 5.0, -3.0])[:, None, None]
    shifts = torch.tensor([3, -2, 0, 1])

    def verdict(shift: Callable) -> str | None:
        got, changed = call_on_copies(shift, {"x": x, "shifts": shifts})
        if (hint := returned_none(got) or changed) is not None:
            return hint
        got = to_numpy(got)
        if got.shape != tuple(x.shape):
            return f"expected shape {tuple(x.shape)} (the input's), got {got.shape}."
        if np.allclose(got, shift_bins(x, shifts).numpy(), atol=1e-5):
            return None
        for hint, wrong in _shift_mistakes(x.numpy(), shifts.numpy()).items():
            if np.allclose(got, wrong, atol=1e-5):
                return hint
        return "the shifted bins differ from utils.augment.shift_bins (vacated bins take each clip's minimum)."

    function = stub_or_function(function, x, shifts, none_is_stub=True)
    return check(function, verdict, "your pitch shift agrees with utils.augment.shift_bins.")


def uniformity_variant(z: ArrayLike, *, normalise: bool = True, squared: bool = True, with_self: bool = False,
                       log: bool = True, t: float = 2.0) -> float:
    """:func:`uniformity` with the defaults, or what a common mistake gives: no normalisation,
    unsquared distances, the pairs i = j included, no log, another t."""
    x = _unit_rows(z) if normalise else np.asarray(z, dtype=np.float64)
    distances = np.linalg.norm(x[:, None] - x[None], axis=-1)
    pairs = distances[np.triu_indices(len(x), k=0 if with_self else 1)]
    mean = np.mean(np.exp(-t * pairs ** (2 if squared else 1)))
    return float(np.log(mean) if log else mean)


_UNIFORMITY_MISTAKES = {
    "uniformity uses squared distances, exp(-2 |z_i - z_j|^2).": {"squared": False},
    "uniformity averages over pairs i < j: leave out i = j, whose distance is 0.": {"with_self": True},
    "uniformity is the log of the mean of exp(-2 |z_i - z_j|^2).": {"log": False},
    "normalise the rows to unit length before the uniformity too.": {"normalise": False},
    "uniformity uses t = 2: exp(-2 |z_i - z_j|^2).": {"t": 1.0},
}


def _measures_hint(got: tuple[float, float], z1: np.ndarray, z2: np.ndarray) -> str | None:
    """None when (alignment, uniformity) ``got`` is right on z1, z2, else a hint."""
    got_alignment, got_uniformity = got
    a, b = _unit_rows(z1), _unit_rows(z2)
    if np.isclose(got_alignment, uniformity(z1), rtol=1e-4) and np.isclose(got_uniformity, alignment(z1, z2), rtol=1e-4):
        return "return the pair in the order (alignment, uniformity)."
    if not np.isclose(got_alignment, alignment(z1, z2), rtol=1e-4):
        if np.isclose(got_alignment, np.mean(np.sum((z1 - z2) ** 2, axis=1)), rtol=1e-4):
            return "normalise the rows to unit length first (the losses compare directions, not lengths)."
        if np.isclose(got_alignment, np.mean(np.linalg.norm(a - b, axis=1)), rtol=1e-4):
            return "alignment is the mean squared distance |z1_i - z2_i|^2 between the two views."
        return "alignment is the mean over items of |z1_i - z2_i|^2, on unit rows."
    if np.isclose(got_uniformity, uniformity(z1), rtol=1e-4):
        return None
    if np.isclose(got_uniformity, uniformity(z2), rtol=1e-4):
        return "the uniformity asked for is z1's."
    for hint, variant in _UNIFORMITY_MISTAKES.items():
        if np.isclose(got_uniformity, uniformity_variant(z1, **variant), rtol=1e-4):
            return hint
    return "uniformity is the log of the mean of exp(-2 |z_i - z_j|^2) over pairs i < j of z1's unit rows."


def check_alignment_uniformity(function: Callable | None) -> bool:
    """The reader's ``measures(z1, z2) -> (alignment, uniformity of z1)`` against this module's."""
    rng = np.random.default_rng(0)
    z1 = 3 * rng.normal(size=(40, 8))
    z2 = z1 + rng.normal(size=(40, 8))

    def verdict(measures: Callable) -> str | None:
        got, changed = call_on_copies(measures, {"z1": z1, "z2": z2})
        if got is None or len(got) != 2:
            return "return a pair (alignment, uniformity)."
        return changed or _measures_hint(tuple(float(value) for value in got), z1, z2)

    function = stub_or_function(function, z1, z2, none_is_stub=True)
    return check(function, verdict, "alignment and uniformity agree with Wang & Isola's definitions.")


def mean_ap_variant(similarity: np.ndarray, relevant: np.ndarray, *, decreasing: bool = True,
                    over_relevant: bool = True, at_hits: bool = True, rows_are_queries: bool = True) -> float:
    """Mean average precision of ``similarity`` (queries, gallery) with the defaults, or what a
    common mistake gives: increasing order, dividing by the gallery size, averaging the precision
    at every rank, ranking along the wrong axis."""
    if not rows_are_queries:
        similarity, relevant = similarity.T, relevant.T
    order = np.argsort(-similarity if decreasing else similarity, axis=1, kind="stable")
    hits = np.take_along_axis(relevant, order, axis=1)
    precision = np.cumsum(hits, axis=1) / np.arange(1, hits.shape[1] + 1)
    total = (precision * hits).sum(axis=1) if at_hits else precision.sum(axis=1)
    return float(np.mean(total / (hits.sum(axis=1) if over_relevant else hits.shape[1])))


_MEAN_AP_MISTAKES = {
    "a larger similarity means closer: rank the gallery by decreasing similarity.": {"decreasing": False},
    "divide each query's sum of precisions by its number of relevant items R, not by the gallery size.":
        {"over_relevant": False},
    "average the precision only at the ranks of the relevant items, not at every rank.": {"at_hits": False},
    "each row is a query: rank the gallery along axis 1.": {"rows_are_queries": False},
}


def check_average_precision(function: Callable | None) -> bool:
    """The reader's ``mean_ap(similarity, relevant)`` (queries x gallery) against scikit-learn."""
    rng = np.random.default_rng(0)
    similarity = rng.normal(size=(12, 20))
    relevant = rng.random((12, 20)) < 0.2
    relevant[np.arange(12), rng.integers(0, 20, 12)] = True  # every query has a relevant item
    relevant[rng.integers(0, 12, 20), np.arange(20)] = True  # and every gallery item a query: axes differ
    expected = float(np.mean([average_precision_score(r, s) for r, s in zip(relevant, similarity, strict=True)]))

    def verdict(mean_ap: Callable) -> str | None:
        got, changed = call_on_copies(mean_ap, {"similarity": similarity, "relevant": relevant})
        if (hint := returned_none(got) or changed) is not None:
            return hint
        if np.size(got) != 1:
            return f"return one number, the mean over queries; got shape {np.shape(got)}."
        got = float(np.asarray(got).ravel()[0])
        if not np.isfinite(got):
            return "your value is infinite or NaN: ranks start at 1, and every query has a relevant item."
        if np.isclose(got, expected, atol=1e-6):
            return None
        for hint, variant in _MEAN_AP_MISTAKES.items():
            if np.isclose(got, mean_ap_variant(similarity, relevant, **variant), atol=1e-6):
                return hint
        if np.isclose(got, relevant.mean(), atol=1e-6):
            return "that is the fraction of relevant items, the chance level: rank the gallery by similarity."
        return ("your MAP differs from scikit-learn's average_precision_score averaged over queries: "
                "AP = (1/R) sum of i / r_i over the ranks r_i of the relevant items.")

    function = stub_or_function(function, similarity, relevant, none_is_stub=True)
    return check(function, verdict, "your mean average precision agrees with scikit-learn's.")


def per_voice_map(solo_embeddings: ArrayLike, mixture_embeddings: ArrayLike, metric: str = "cosine") -> dict[str, float]:
    """Mean average precision of each voice's solos retrieving their own mixture (cosine by default).

    Parameters
    ----------
    solo_embeddings : (n, 4, dim) embeddings of the soprano, alto, tenor and bass stems of n items.
    mixture_embeddings : (n, dim) embeddings of the n mixtures (the gallery).
    metric : the distance of :func:`utils.evaluate.retrieval_report`.
    """
    solos, mixtures = np.asarray(solo_embeddings), np.asarray(mixture_embeddings)
    if solos.ndim != 3 or solos.shape[1] != len(VOICES) or len(solos) != len(mixtures):
        raise ValueError(f"expected solos (n, 4, dim) and mixtures (n, dim), got {solos.shape} and {mixtures.shape}")
    items = np.arange(len(mixtures))
    return {
        voice: retrieval_report(solos[:, v], items, gallery=mixtures, gallery_labels=items,
                                metric=metric, ks=())["map"]
        for v, voice in enumerate(VOICES)
    }


def _per_voice_mistakes(solos: np.ndarray, mixtures: np.ndarray) -> dict[str, dict[str, float]]:
    """Hint -> {voice: MAP} of the common mistakes."""
    items = np.arange(len(mixtures))
    pooled = retrieval_report(solos.reshape(-1, solos.shape[-1]), np.repeat(items, len(VOICES)), gallery=mixtures,
                              gallery_labels=items, metric="cosine", ks=())["map"]
    return {
        "use the cosine distance, as the joint space is compared by angle.": per_voice_map(solos, mixtures, "euclidean"),
        "the queries are the voice's solos and the gallery the mixtures, not the other way round.":
            {voice: retrieval_report(mixtures, items, gallery=solos[:, v], gallery_labels=items, metric="cosine",
                                     ks=())["map"] for v, voice in enumerate(VOICES)},
        "each voice separately: query with that voice's solos only, not all voices pooled.":
            dict.fromkeys(VOICES, pooled),
    }


def check_per_voice_map(answer: dict | None, solo_embeddings: ArrayLike, mixture_embeddings: ArrayLike) -> bool:
    """The reader's ``{voice: MAP}`` for the given embeddings against :func:`per_voice_map`."""
    solos, mixtures = np.asarray(solo_embeddings), np.asarray(mixture_embeddings)
    expected = per_voice_map(solos, mixtures)

    def agrees(got: dict, reference: dict) -> bool:
        return all(np.isclose(float(got[v]), reference[v], atol=1e-3) for v in VOICES)

    def verdict(got: dict) -> str | None:
        if not isinstance(got, dict) or set(got) != set(VOICES):
            return f"give a dict with the keys {list(VOICES)}."
        if agrees(got, expected):
            return None
        if agrees({v: float(got[v]) / 100 for v in VOICES}, expected):
            return "give MAPs as fractions in [0, 1], not percentages."
        if np.allclose(sorted(float(got[v]) for v in VOICES), sorted(expected.values()), atol=1e-3):
            return "right values, wrong voices: the stems' voice axis is in the order soprano, alto, tenor, bass."
        for hint, wrong in _per_voice_mistakes(solos, mixtures).items():
            if agrees(got, wrong):
                return hint
        wrong = next(v for v in VOICES if not np.isclose(float(got[v]), expected[v], atol=1e-3))
        return (f"{wrong}: your MAP differs. Query with the voice's solos only, search the mixtures, relevant = "
                "the same item, cosine distance.")

    return check(answer, verdict, "per-voice MAP agrees with utils.evaluate.retrieval_report.")
