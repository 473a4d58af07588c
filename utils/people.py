"""Similarity from people, simulated: listening logs, co-listening, and panels of raters.

Used by notebooks/3_variations/06_similarity_from_people.ipynb. Real listening logs and rating
panels cannot ship with an offline course (they are personal data, and none exists for the
course's synthetic notes), so this module *simulates* them from stated, seeded models whose every
parameter is an argument; what a notebook concludes from them is conditional on these models.

Listening data (collaborative filtering as the target of a content metric, McFee, Barrington &
Lanckriet, ISMIR 2010 / TASLP 2012):

- :func:`simulate_listening`: a taste model. User :math:`u` has, for each attribute :math:`a`
  (family, register, dynamics...), a preference :math:`\\pi_{ua}` over its values, drawn from a
  Dirichlet; item :math:`i` has a popularity :math:`q_i` (Zipf, independent of the audio). Each
  listen of :math:`u` picks item :math:`i` with probability

  .. math:: p_{ui} = (1 - \\varepsilon)\\,
            \\frac{\\exp s_{ui}}{\\sum_j \\exp s_{uj}} + \\frac{\\varepsilon}{n},
            \\qquad s_{ui} = \\sum_a w_a \\log \\pi_{ua}(v_{ia}) + \\beta \\log q_i ,

  with :math:`\\varepsilon` the share of random listens (noise) and :math:`\\beta` the weight of
  popularity. Returns a :class:`ListeningLog` (user-by-item listen counts).
- :func:`co_listening`: item-to-item similarity from a log, raw co-listening counts
  :math:`C = R^\\top R` or their cosine normalisation :math:`C_{ij} / \\sqrt{C_{ii} C_{jj}}`.
- :func:`co_listening_triplets`: (anchor, co-listened item, other item) triplets from a
  similarity, to teach a metric (e.g. :class:`utils.linear.RelativeComparisons`).

Human judgements (Slaney, Weinberger & White, ISMIR 2008; Wolff & Weyde, ISMIR 2011; Stober &
Nürnberger, 2011; Lee et al., ICASSP 2020):

- :func:`simulate_panel`: raters with their own weighting of the attributes (Dirichlet around a
  population mean) and their own noise; :meth:`RaterPanel.answer` answers triplet questions
  "is ``b`` or ``c`` closer to ``a``?" as a Bradley-Terry-Luce (logistic) choice on the rater's
  perceived distance :math:`d_r(x, y) = \\sum_a w_{ra}\\, \\delta_a(x, y)`, with
  :math:`\\delta_a` from :func:`attribute_differences`.
- :func:`random_triplets` draws questions among some items; :func:`ordered_triplets` turns answers
  into (anchor, closer, farther) triplets for a learner; :func:`metric_agreement` scores a metric
  by how often it answers as a rater did.
- :func:`agreement_matrix`, :func:`majority_agreement`: how often raters agree, and how well the
  majority of the *other* raters predicts each one: the ceiling of any metric shared by everyone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from utils.checks import check_int, check_number

__all__ = [
    "ListeningLog",
    "RaterPanel",
    "agreement_matrix",
    "attribute_differences",
    "co_listening",
    "co_listening_triplets",
    "majority_agreement",
    "metric_agreement",
    "ordered_triplets",
    "random_triplets",
    "simulate_listening",
    "simulate_panel",
]


# --- checks ---------------------------------------------------------------------------------------


def _check_attributes(items: pd.DataFrame, attributes: Sequence[str]) -> list[str]:
    if not isinstance(items, pd.DataFrame):
        raise TypeError(f"items must be a pandas DataFrame with one column per attribute, got {type(items).__name__}.")
    attributes = [attributes] if isinstance(attributes, str) else list(attributes)
    if not attributes:
        raise ValueError("attributes is empty: name at least one column of items (e.g. 'family').")
    missing = [name for name in attributes if name not in items.columns]
    if missing:
        raise KeyError(f"attributes {missing} are not columns of items; columns: {list(items.columns)}")
    if len(items) < 2:
        raise ValueError(f"items needs at least 2 rows, got {len(items)}.")
    return attributes


def _check_weights(weights: Mapping[str, float] | Sequence[float] | None, attributes: list[str],
                   name: str) -> np.ndarray:
    """One non-negative weight per attribute, not all zero (default: all 1)."""
    if weights is None:
        return np.ones(len(attributes))
    if isinstance(weights, Mapping):
        unknown = sorted(set(weights) - set(attributes))
        if unknown:
            raise KeyError(f"{name} names {unknown}, which are not among the attributes {attributes}.")
        values = np.array([weights.get(a, 0.0) for a in attributes], dtype=float)
    else:
        values = np.asarray(weights, dtype=float)
        if values.shape != (len(attributes),):
            raise ValueError(f"{name} needs one weight per attribute ({len(attributes)}: {attributes}), "
                             f"got shape {values.shape}.")
    if not np.isfinite(values).all() or (values < 0).any() or values.sum() == 0:
        raise ValueError(f"{name} must be finite, non-negative and not all zero, got {values.tolist()}.")
    return values


def _check_matrix(values: ArrayLike, name: str, ndim: int = 2) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != ndim or array.size == 0:
        raise ValueError(f"{name} must be a non-empty {ndim}-D array, got shape {array.shape}.")
    if array.dtype.kind not in "biuf" or not np.isfinite(array).all():
        raise ValueError(f"{name} must hold finite numbers.")
    return array


def _check_triplets(triplets: ArrayLike, n_items: int) -> np.ndarray:
    index = np.asarray(triplets)
    if index.ndim != 2 or index.shape[1] != 3 or len(index) == 0:
        raise ValueError(f"triplets must be an int array (n_triplets, 3), got shape {index.shape}.")
    if index.dtype.kind not in "iu" or index.min() < 0 or index.max() >= n_items:
        raise ValueError(f"triplets must hold row numbers of items, in [0, {n_items}).")
    return index.astype(np.int64)


# --- listening logs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListeningLog:
    """A simulated listening log and the taste model that produced it.

    counts : int array (n_users, n_items), listens of each user to each item.
    popularity : array (n_items,), the items' popularity :math:`q_i` (sums to 1).
    preferences : {attribute: array (n_users, n_values)}, each user's :math:`\\pi_{ua}`.
    values : {attribute: array (n_values,)}, the values the columns of ``preferences`` refer to.
    """

    counts: np.ndarray
    popularity: np.ndarray
    preferences: dict[str, np.ndarray]
    values: dict[str, np.ndarray]

    @property
    def n_users(self) -> int:
        return self.counts.shape[0]

    @property
    def listeners(self) -> np.ndarray:
        """Users who listened to each item at least once, (n_items,)."""
        return (self.counts > 0).sum(axis=0)


def simulate_listening(items: pd.DataFrame, attributes: Sequence[str], *, n_users: int = 500,
                       listens_per_user: int = 100, taste_weights: Mapping[str, float] | Sequence[float] | None = None,
                       concentration: float = 0.3, popularity_weight: float = 1.0, zipf_exponent: float = 1.0,
                       exploration: float = 0.1, seed: int = 0) -> ListeningLog:
    """A listening log over ``items`` from the taste model of this module's docstring.

    Parameters
    ----------
    items : DataFrame, one row per item; the ``attributes`` columns are categorical (any values).
    attributes : the columns users have tastes about, e.g. ``("family", "register", "dynamics")``.
    n_users, listens_per_user : the log's size; each user's listens are drawn with replacement.
    taste_weights : :math:`w_a`, how much each attribute drives choices (default 1 each).
    concentration : Dirichlet parameter of every :math:`\\pi_{ua}`; small (0.3) gives picky users
        who love a few values, large (10) users who like everything about equally.
    popularity_weight : :math:`\\beta`; 0 makes popularity irrelevant.
    zipf_exponent : popularity of the item of popularity rank :math:`k` is proportional to
        :math:`k^{-s}`; ranks are a random permutation, independent of the audio.
    exploration : :math:`\\varepsilon`, the share of listens drawn uniformly at random (noise).
    seed : every random draw follows from it.
    """
    attributes = _check_attributes(items, attributes)
    weights = _check_weights(taste_weights, attributes, "taste_weights")
    n_users, listens = check_int(n_users, "n_users"), check_int(listens_per_user, "listens_per_user")
    concentration = check_number(concentration, "concentration", strict=True)
    beta = check_number(popularity_weight, "popularity_weight")
    zipf = check_number(zipf_exponent, "zipf_exponent")
    epsilon = check_number(exploration, "exploration")
    if epsilon > 1:
        raise ValueError(f"exploration is a probability, in [0, 1], got {exploration!r}")
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    n_items = len(items)
    ranks = rng.permutation(n_items) + 1
    popularity = ranks.astype(float) ** -zipf
    popularity /= popularity.sum()
    scores = np.tile(beta * np.log(popularity), (n_users, 1))
    preferences, values = {}, {}
    for attribute, weight in zip(attributes, weights, strict=True):
        codes, uniques = pd.factorize(items[attribute], sort=True)
        if (codes < 0).any():
            raise ValueError(f"items[{attribute!r}] has missing values; every item needs a value.")
        taste = rng.dirichlet(np.full(len(uniques), concentration), size=n_users)
        preferences[attribute], values[attribute] = taste, np.asarray(uniques)
        scores += weight * np.log(np.maximum(taste[:, codes], 1e-12))
    scores -= scores.max(axis=1, keepdims=True)
    chosen = np.exp(scores)
    probabilities = (1 - epsilon) * chosen / chosen.sum(axis=1, keepdims=True) + epsilon / n_items
    counts = np.stack([rng.multinomial(listens, p / p.sum()) for p in probabilities])
    return ListeningLog(counts, popularity, preferences, values)


def co_listening(counts: ArrayLike, other: ArrayLike | None = None, *, normalise: str = "cosine") -> np.ndarray:
    """Item-to-item similarity from listen counts (n_users, n_items): (n_items, n_items).

    ``normalise="count"`` gives :math:`C = R^\\top R`, the listens two items share (weighted by
    counts); ``"cosine"`` divides by the items' norms, :math:`C_{ij}/\\sqrt{C_{ii}C_{jj}}`, so a hit
    is not similar to everything just because everyone played it. With ``other`` (n_users, m),
    the similarity of each item of ``counts`` to each item of ``other`` (n_items, m), same users.
    An item of ``counts`` is never similar to itself: without ``other`` the diagonal is 0; an item
    nobody listened to has similarity 0 to everything.
    """
    if normalise not in ("count", "cosine"):
        raise ValueError(f"normalise must be 'count' or 'cosine', got {normalise!r}")
    first = _check_matrix(counts, "counts").astype(np.float64)
    second = first if other is None else _check_matrix(other, "other").astype(np.float64)
    if second.shape[0] != first.shape[0]:
        raise ValueError(f"counts and other need the same users (rows): {first.shape[0]} and {second.shape[0]}.")
    if (first < 0).any() or (second < 0).any():
        raise ValueError("listen counts cannot be negative.")
    similarity = first.T @ second
    if normalise == "cosine":
        norms = np.sqrt((first**2).sum(axis=0))[:, None] * np.sqrt((second**2).sum(axis=0))[None, :]
        similarity = np.divide(similarity, norms, out=np.zeros_like(similarity), where=norms > 0)
    if other is None:
        np.fill_diagonal(similarity, 0.0)
    return similarity


def co_listening_triplets(similarity: ArrayLike, n_triplets: int, *, top_k: int = 10, seed: int = 0) -> np.ndarray:
    """Triplets (anchor, positive, negative), int (n_triplets, 3), from an item similarity (n, n).

    The positive is one of the anchor's ``top_k`` most similar items, the negative any item
    outside them (and not the anchor); anchors are drawn uniformly among items with a positive
    similarity to something. Feed them to :meth:`utils.linear.RelativeComparisons.fit_triplets`.
    """
    similarity = _check_matrix(similarity, "similarity")
    n = similarity.shape[0]
    if similarity.shape != (n, n):
        raise ValueError(f"similarity must be square (n_items, n_items), got shape {similarity.shape}.")
    n_triplets = check_int(n_triplets, "n_triplets")
    top_k = check_int(top_k, "top_k")
    if top_k > n - 2:
        raise ValueError(f"top_k={top_k} leaves no negatives among {n} items; use top_k <= {n - 2}.")
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    scores = np.where(np.eye(n, dtype=bool), -np.inf, similarity)
    candidates = np.argpartition(-scores, top_k - 1, axis=1)[:, :top_k]
    top = np.take_along_axis(candidates, np.argsort(-np.take_along_axis(scores, candidates, axis=1), axis=1,
                                                    kind="stable"), axis=1)
    usable = np.flatnonzero(np.take_along_axis(scores, top[:, :1], axis=1)[:, 0] > 0)
    if len(usable) == 0:
        raise ValueError("no item has a positive similarity to any other: is the log empty?")
    anchors = rng.choice(usable, n_triplets)
    positives = top[anchors, rng.integers(0, top_k, n_triplets)]
    negatives = rng.integers(0, n, n_triplets)
    while True:  # redraw the negatives that fell on the anchor or among its top_k (rejection sampling)
        redraw = np.flatnonzero((negatives == anchors) | (top[anchors] == negatives[:, None]).any(axis=1))
        if len(redraw) == 0:
            break
        negatives[redraw] = rng.integers(0, n, len(redraw))
    return np.stack([anchors, positives, negatives], axis=1).astype(np.int64)


# --- panels of raters -----------------------------------------------------------------------------


def attribute_differences(items: pd.DataFrame, attributes: Sequence[str], first: ArrayLike, second: ArrayLike,
                          *, scales: Mapping[str, float] | None = None) -> np.ndarray:
    """Per-attribute differences :math:`\\delta_a` between items ``first[t]`` and ``second[t]``: (m, A).

    A numeric column gives :math:`|x - y| / s_a` (``scales[a]``, default the column's standard
    deviation); any other column gives 1 where the values differ, 0 where they are equal.
    """
    attributes = _check_attributes(items, attributes)
    rows = [np.asarray(first), np.asarray(second)]
    for name, index in zip(("first", "second"), rows, strict=True):
        if index.ndim != 1 or index.dtype.kind not in "iu" or (len(index) and (index.min() < 0 or index.max() >= len(items))):
            raise ValueError(f"{name} must be a 1-D int array of row numbers in [0, {len(items)}).")
    if len(rows[0]) != len(rows[1]):
        raise ValueError(f"first and second must have the same length, got {len(rows[0])} and {len(rows[1])}.")
    scales = dict(scales or {})
    unknown = sorted(set(scales) - set(attributes))
    if unknown:
        raise KeyError(f"scales names {unknown}, which are not among the attributes {attributes}.")
    columns = []
    for attribute in attributes:
        column = items[attribute].to_numpy()
        if pd.api.types.is_numeric_dtype(items[attribute]) and not pd.api.types.is_bool_dtype(items[attribute]):
            scale = check_number(scales.get(attribute, float(np.std(column))), f"the scale of {attribute!r}", strict=True)
            columns.append(np.abs(column[rows[0]].astype(float) - column[rows[1]].astype(float)) / scale)
        else:
            columns.append((column[rows[0]] != column[rows[1]]).astype(float))
    return np.stack(columns, axis=1)


@dataclass(frozen=True)
class RaterPanel:
    """Simulated raters: ``weights`` (n_raters, A), each row summing to 1, and ``noise`` (n_raters,)
    (the temperature :math:`\\tau_r` of each rater's logistic choice), over ``attributes``."""

    attributes: tuple[str, ...]
    weights: np.ndarray
    noise: np.ndarray

    @property
    def n_raters(self) -> int:
        return len(self.weights)

    def _rater_rows(self, raters: ArrayLike, n: int) -> np.ndarray:
        raters = np.asarray(raters)
        raters = np.full(n, raters) if raters.ndim == 0 else raters
        if raters.shape != (n,) or raters.dtype.kind not in "iu" or raters.min() < 0 or raters.max() >= self.n_raters:
            raise ValueError(f"raters must be one rater number in [0, {self.n_raters}) per triplet ({n}), or one for all.")
        return raters.astype(np.int64)

    def first_closer_probability(self, items: pd.DataFrame, triplets: ArrayLike, raters: ArrayLike,
                                 scales: Mapping[str, float] | None = None) -> np.ndarray:
        """Probability (m,) that rater ``raters[t]`` calls ``b`` closer to ``a`` than ``c`` for each
        triplet (a, b, c): :math:`\\sigma\\big((d_r(a, c) - d_r(a, b)) / \\tau_r\\big)`."""
        triplets = _check_triplets(triplets, len(items))
        raters = self._rater_rows(raters, len(triplets))
        to_b = attribute_differences(items, self.attributes, triplets[:, 0], triplets[:, 1], scales=scales)
        to_c = attribute_differences(items, self.attributes, triplets[:, 0], triplets[:, 2], scales=scales)
        margin = np.einsum("ta,ta->t", self.weights[raters], to_c - to_b) / self.noise[raters]
        return 1 / (1 + np.exp(-np.clip(margin, -50, 50)))

    def answer(self, items: pd.DataFrame, triplets: ArrayLike, raters: ArrayLike, *, seed: int = 0,
               scales: Mapping[str, float] | None = None) -> np.ndarray:
        """Each rater's answers, bool (m,): True where ``raters[t]`` says ``b`` is closer to ``a``
        than ``c`` for triplet ``triplets[t] = (a, b, c)``. ``raters`` is one rater number per
        triplet, or one for all; the draws follow from ``seed``."""
        probability = self.first_closer_probability(items, triplets, raters, scales)
        return np.random.default_rng(check_int(seed, "seed", minimum=0)).random(len(probability)) < probability


def simulate_panel(n_raters: int, attributes: Sequence[str], *,
                   mean_weights: Mapping[str, float] | Sequence[float] | None = None, concentration: float = 5.0,
                   noise: tuple[float, float] = (0.05, 0.3), seed: int = 0) -> RaterPanel:
    """A panel of ``n_raters`` simulated raters.

    Parameters
    ----------
    attributes : what they listen for, columns of the items' table (e.g. family, pitch, velocity).
    mean_weights : the population's average weighting (normalised to sum 1; default equal).
    concentration : each rater's weights are Dirichlet(``concentration`` x mean_weights): small
        (1) gives raters who disagree a lot, large (100) a panel of near-clones.
    noise : (low, high), each rater's temperature :math:`\\tau_r`, uniform in this range; 0.05
        is a careful rater, 0.5 on the scale of attribute differences a careless one.
    seed : every random draw follows from it.
    """
    attributes = [attributes] if isinstance(attributes, str) else list(attributes)
    if not attributes:
        raise ValueError("attributes is empty: name at least one attribute the raters listen for.")
    n_raters = check_int(n_raters, "n_raters")
    mean = _check_weights(mean_weights, attributes, "mean_weights")
    concentration = check_number(concentration, "concentration", strict=True)
    if len(noise) != 2:
        raise ValueError(f"noise must be a (low, high) pair, got {noise!r}")
    low, high = (check_number(value, "noise", strict=True) for value in noise)
    if low > high:
        raise ValueError(f"noise must be (low, high) with low <= high, got {noise!r}")
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    weights = rng.dirichlet(concentration * mean / mean.sum(), size=n_raters)
    return RaterPanel(tuple(attributes), weights, rng.uniform(low, high, n_raters))


def random_triplets(rows: ArrayLike, n_triplets: int, *, seed: int = 0) -> np.ndarray:
    """``n_triplets`` questions (a, b, c), int (n_triplets, 3), of three distinct items drawn
    uniformly from ``rows`` (row numbers, e.g. the test split's)."""
    rows = np.asarray(rows)
    if rows.ndim != 1 or rows.dtype.kind not in "iu" or len(np.unique(rows)) < 3:
        raise ValueError(f"rows must be a 1-D int array of at least 3 distinct row numbers, got shape {rows.shape}.")
    n_triplets = check_int(n_triplets, "n_triplets")
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    triplets = rng.integers(0, len(rows), (n_triplets, 3))
    while True:  # redraw the rows that repeat an item
        repeated = np.flatnonzero((triplets[:, 0] == triplets[:, 1]) | (triplets[:, 0] == triplets[:, 2])
                                  | (triplets[:, 1] == triplets[:, 2]))
        if len(repeated) == 0:
            return rows[triplets].astype(np.int64)
        triplets[repeated] = rng.integers(0, len(rows), (len(repeated), 3))


def metric_agreement(embeddings: ArrayLike, triplets: ArrayLike, first_closer: ArrayLike) -> float:
    """Share of triplets (a, b, c) on which a metric answers as a rater did: the Euclidean distance
    between ``embeddings`` rows says ``b`` is closer (``d(a, b) < d(a, c)``, a tie says ``c``)
    exactly where ``first_closer`` (bool (m,)) is True. 0.5 is chance."""
    points = _check_matrix(embeddings, "embeddings")
    triplets = _check_triplets(triplets, len(points))
    answers = np.asarray(first_closer)
    if answers.shape != (len(triplets),) or answers.dtype != bool:
        raise ValueError(f"first_closer must be bool, one answer per triplet ({len(triplets)}), got shape "
                         f"{answers.shape} ({answers.dtype}).")
    a, b, c = (points[triplets[:, i]] for i in range(3))
    says_first = np.linalg.norm(a - b, axis=1) < np.linalg.norm(a - c, axis=1)
    return float(np.mean(says_first == answers))


def ordered_triplets(triplets: ArrayLike, first_closer: ArrayLike) -> np.ndarray:
    """Triplets (a, b, c) rewritten as (anchor, closer, farther) from answers ``first_closer``
    (bool (m,): True where b was judged closer), the form metric learners take."""
    triplets = np.array(triplets)
    answers = np.asarray(first_closer)
    if triplets.ndim != 2 or triplets.shape[1] != 3 or answers.shape != (len(triplets),) or answers.dtype != bool:
        raise ValueError(f"triplets must be (m, 3) and first_closer bool (m,); got {triplets.shape} and "
                         f"{answers.shape} ({answers.dtype}).")
    swapped = ~answers
    triplets[swapped, 1:] = triplets[swapped, 2:0:-1]
    return triplets


def _check_answers(answers: ArrayLike) -> np.ndarray:
    answers = np.asarray(answers)
    if answers.ndim != 2 or answers.dtype != bool or answers.shape[0] < 2 or answers.shape[1] == 0:
        raise ValueError(f"answers must be bool (n_raters >= 2, n_triplets >= 1): every rater's answer to "
                         f"the same triplets; got {answers.shape} ({answers.dtype}).")
    return answers


def agreement_matrix(answers: ArrayLike) -> np.ndarray:
    """Share of common triplets on which raters ``r`` and ``s`` give the same answer, (R, R),
    from ``answers`` bool (R, m): every rater's answers to the same m triplets."""
    answers = _check_answers(answers).astype(float)
    return (answers @ answers.T + (1 - answers) @ (1 - answers).T) / answers.shape[1]


def majority_agreement(answers: ArrayLike) -> np.ndarray:
    """How well the majority of the *other* raters predicts each rater, (R,): the leave-one-out
    estimate of the best agreement one metric shared by everyone can reach. A tied vote counts
    one half. ``answers`` as in :func:`agreement_matrix`."""
    answers = _check_answers(answers)
    votes = answers.sum(axis=0)[None, :] - answers  # votes for "b closer" among the others
    others = answers.shape[0] - 1
    majority = np.where(2 * votes > others, 1.0, np.where(2 * votes < others, 0.0, 0.5))
    return np.mean(np.where(answers, majority, 1 - majority), axis=1)
