"""Retrieval and classification measures for embeddings, with query and same-source exclusion.

Every notebook that scores a space (before and after learning a metric, or after training a
network) calls :func:`retrieval_report`; the measures it reports are also exposed one by one so a
notebook can compute them on a toy ranking by hand and check the package agrees.

Conventions
-----------
Distances
    Smaller is closer: ``"euclidean"``, ``"cosine"`` (one minus the cosine similarity) or a
    callable ``metric(queries, gallery) -> distances`` taking float32 arrays of shapes ``(B, D)``
    and ``(N, D)`` and returning ``(B, N)``. A learned Mahalanobis metric ``M = L.T @ L`` is the
    Euclidean distance between ``embeddings @ L.T``: transform, then use ``"euclidean"``.
    Distances are computed in float32 for blocks of query rows (``chunk_size`` rows at a time), so
    memory stays O(chunk_size x gallery size) and 100k items never need an N x N matrix.
Queries and gallery
    With no ``gallery``, every item queries all the others and never retrieves itself. ``groups``
    marks same-source items (one note at several velocities, one excerpt's own renderings): a query
    neither retrieves nor is credited for an item of its own group.
Relevance
    An item is relevant to a query when their labels are equal. A query left with no relevant item
    has every measure undefined (NaN); :func:`retrieval_report` leaves it out and counts it, as
    pytorch-metric-learning's ``AccuracyCalculator`` leaves out its "lone" queries.
Ties
    A relevant item at the same distance as irrelevant ones is ranked after them (pessimistic), so
    a collapsed space (all points equal) scores as badly as it deserves whatever the order of the
    data. Ties among relevant items change no measure. :func:`nearest_neighbours` breaks ties by
    item index (a stable sort by distance, then index).

With ``r_1 < r_2 < ... < r_R`` the 1-based ranks of a query's ``R`` relevant items:

========================  =====================================================================
precision@k               ``#{i: r_i <= k} / k``
hit_rate@k                ``1 if r_1 <= k else 0``: the deep-metric-learning "Recall@K"
recall@k                  ``#{i: r_i <= k} / R``: the information-retrieval recall
average precision (AP)    ``(1/R) sum_i i / r_i``; mAP is its mean over queries
MAP@R                     ``(1/R) sum_{i: r_i <= R} i / r_i`` (Musgrave et al., ECCV 2020)
R-precision               ``#{i: r_i <= R} / R``
reciprocal rank (RR)      ``1 / r_1``; MRR is its mean
MR1                       the mean of ``r_1`` (version identification; lower is better)
nDCG@k                    ``sum_{r_i <= k} 1/log2(r_i + 1)`` over its best possible value
========================  =====================================================================

These are the definitions of ``AccuracyCalculator`` (``precision_at_1``, ``r_precision``,
``mean_average_precision_at_r``, ``mean_average_precision`` with ``k=None``,
``mean_reciprocal_rank``); the tests check the two agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike

from utils.checks import check_int, check_number

Metric = str | Callable[[np.ndarray, np.ndarray], ArrayLike]

#: The metrics known by name.
METRICS = ("euclidean", "cosine")

#: Distance-matrix entries per block when ``chunk_size`` is not given (a 64 MB float32 block;
#: with its masks and sorted copy, about 200 MB at the peak).
CHUNK_ELEMENTS = 2**24


# ---------------------------------------------------------------------------------------------
# Checking inputs


def _to_numpy(values: ArrayLike) -> np.ndarray:
    """An array from a NumPy array, a list or a torch tensor (detached, on the CPU)."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def _real(values: ArrayLike, name: str) -> np.ndarray:
    """``values`` as an array of real numbers (bool, integers or floats), else a ``TypeError``."""
    array = _to_numpy(values)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; got dtype {array.dtype}.")
    return array


def check_embeddings(values: ArrayLike, name: str = "embeddings") -> np.ndarray:
    """``values`` (array, list or torch tensor) as a finite float32 matrix ``(n_items, n_dims)``.

    Raises a ``TypeError`` or ``ValueError`` that says what is wrong (non-numbers, not 2-D,
    empty, NaN or inf with the first bad row).
    """
    array = _real(values, name)
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_items, n_dims); got shape {array.shape}. Use x[None, :] for "
            "a single embedding or x[:, None] for a single feature."
        )
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}).")
    array = array.astype(np.float32)
    bad_rows = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if len(bad_rows):
        raise ValueError(
            f"{name} has NaN or infinite values (or values beyond float32) in {len(bad_rows)} "
            f"rows, the first being row {bad_rows[0]}: fix or drop them before evaluating."
        )
    return array


def _as_vector(values: ArrayLike, length: int, name: str, rows_of: str) -> np.ndarray:
    """``values`` as a 1-D array of ``length`` entries (one per row of ``rows_of``)."""
    array = _to_numpy(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one entry per item); got shape {array.shape}.")
    if len(array) != length:
        raise ValueError(
            f"{name} has {len(array)} entries but {rows_of} has {length} rows: one per item."
        )
    return array


def _row_numbers(values: ArrayLike, n_items: int, name: str) -> np.ndarray:
    """``values`` as a non-empty 1-D int64 array of row numbers in ``[0, n_items)``."""
    rows = _to_numpy(values)
    if rows.ndim != 1 or rows.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of row numbers; got shape {rows.shape}.")
    if rows.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer row numbers; got dtype {rows.dtype}.")
    if ((rows < 0) | (rows >= n_items)).any():
        raise ValueError(f"{name} must hold row numbers in [0, {n_items}).")
    return rows.astype(np.int64)


def _check_metric(metric: Metric) -> None:
    if callable(metric):
        return
    if not isinstance(metric, str):
        raise TypeError(f"metric must be a name or a callable; got {type(metric).__name__}.")
    if metric not in METRICS:
        raise ValueError(
            f"Unknown metric {metric!r}: use one of {METRICS} or a callable "
            "metric(queries, gallery) -> (n_queries, n_gallery) distances."
        )


def _codes(labels: np.ndarray) -> np.ndarray:
    """Integer codes ``0 .. n_distinct - 1`` for an array of labels (of any sortable type)."""
    return np.unique(labels, return_inverse=True)[1].reshape(-1)


def _encode(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes for two arrays of labels, equal codes for equal labels across both."""
    codes = _codes(np.concatenate([first, second]))
    return codes[: len(first)], codes[len(first) :]


# ---------------------------------------------------------------------------------------------
# Distances


def _prepare(queries: np.ndarray, gallery: np.ndarray, metric: Metric) -> tuple[np.ndarray, np.ndarray]:
    """Queries and gallery rewritten so that one matrix product gives their distances.

    Euclidean: ``[q, |q|^2, 1] . [-2 g, 1, |g|^2] = |q - g|^2``, after centring both on the
    gallery mean (which changes no distance and shrinks float32 rounding). Cosine:
    ``[q/|q|, 1] . [-g/|g|, 1] = 1 - cos(q, g)``. A callable metric gets them unchanged.
    """
    if metric == "euclidean":
        centre = gallery.mean(axis=0)
        queries, gallery = queries - centre, gallery - centre
        return _with_columns(queries, _squares(queries), 1), _with_columns(-2 * gallery, 1, _squares(gallery))
    if metric == "cosine":
        return _with_columns(_unit_rows(queries, "queries"), 1), _with_columns(-_unit_rows(gallery, "gallery"), 1)
    return queries, gallery


def _squares(x: np.ndarray) -> np.ndarray:
    """Squared norm of each row."""
    return np.einsum("ij,ij->i", x, x)


def _with_columns(x: np.ndarray, *columns: np.ndarray | float) -> np.ndarray:
    """``x`` (n, D) with columns appended, each a vector (n,) or a constant."""
    extra = [np.broadcast_to(np.asarray(column, dtype=x.dtype), (len(x),)) for column in columns]
    return np.column_stack([x, *extra])


def _unit_rows(x: np.ndarray, name: str) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    zero = np.flatnonzero(norms[:, 0] == 0)
    if len(zero):
        raise ValueError(
            f"The cosine metric is undefined for all-zero vectors; {name} row {zero[0]} "
            f"({len(zero)} rows in all) is zero."
        )
    return x / norms


def _distance_block(queries: np.ndarray, gallery: np.ndarray, metric: Metric) -> np.ndarray:
    """Distances ``(B, N)`` between :func:`_prepare`'d queries and gallery, in a new array.

    Euclidean ones are squared and, for near-duplicates, may be slightly negative from rounding
    (which changes no ranking; :func:`_finish` clips them).
    """
    if metric in METRICS:
        return queries @ gallery.T
    block = _to_numpy(metric(queries, gallery))
    expected = (len(queries), len(gallery))
    if block.shape != expected:
        raise ValueError(f"The metric returned shape {block.shape}; expected {expected}.")
    if not np.isfinite(block).all():
        raise ValueError("The metric returned NaN or infinite distances.")
    return np.array(block, dtype=block.dtype if block.dtype.kind == "f" else np.float64)


def _finish(distances: np.ndarray, metric: Metric) -> np.ndarray:
    """Distances proper from :func:`_distance_block`'s (clipped at 0, square roots for Euclidean)."""
    if metric == "euclidean":
        return np.sqrt(np.maximum(distances, 0))
    return np.maximum(distances, 0) if metric == "cosine" else distances


def pairwise_distances(a: ArrayLike, b: ArrayLike | None = None, metric: Metric = "euclidean") -> np.ndarray:
    """All distances between the rows of ``a`` ``(n_a, D)`` and ``b`` ``(n_b, D)``.

    With ``b`` omitted, the distances within ``a``, with an exact zero diagonal. Returns a float
    array ``(n_a, n_b)``; meant for plots of a few thousand items (it is not chunked).
    """
    _check_metric(metric)
    first = check_embeddings(a, "a")
    second = first if b is None else check_embeddings(b, "b")
    if first.shape[1] != second.shape[1]:
        raise ValueError(f"a has {first.shape[1]} dimensions but b has {second.shape[1]}.")
    distances = _finish(_distance_block(*_prepare(first, second, metric), metric), metric)
    if b is None:
        np.fill_diagonal(distances, 0)
    return distances


# ---------------------------------------------------------------------------------------------
# Searching in blocks of queries


@dataclass(frozen=True)
class _Search:
    """A validated search: prepared queries and gallery, and who may not retrieve whom."""

    queries: np.ndarray
    gallery: np.ndarray
    metric: Metric
    query_positions: np.ndarray | None  # each query's row in the gallery (leave-one-out)
    query_groups: np.ndarray | None
    gallery_groups: np.ndarray | None

    def blocks(self, chunk_size: int | None) -> Iterator[tuple[slice, np.ndarray]]:
        """``(rows, distances (B, N))`` for consecutive blocks of queries, excluded items at inf."""
        size = chunk_size or max(1, CHUNK_ELEMENTS // len(self.gallery))
        size = check_int(size, "chunk_size")
        for start in range(0, len(self.queries), size):
            rows = slice(start, start + size)
            distances = _distance_block(self.queries[rows], self.gallery, self.metric)
            if self.query_groups is not None:
                np.putmask(distances, self.query_groups[rows, None] == self.gallery_groups, np.inf)
            if self.query_positions is not None:
                positions = self.query_positions[rows]
                distances[np.arange(len(positions)), positions] = np.inf
            yield rows, distances


def _search(
    embeddings: ArrayLike,
    gallery: ArrayLike | None,
    groups: ArrayLike | None,
    gallery_groups: ArrayLike | None,
    metric: Metric,
    query_positions: np.ndarray | None = None,
) -> _Search:
    """Check the inputs shared by every search and build the :class:`_Search`.

    With no gallery, the queries are the rows ``query_positions`` (default: all) of ``embeddings``
    and the gallery is ``embeddings`` itself.
    """
    _check_metric(metric)
    items = check_embeddings(embeddings, "embeddings")
    item_groups = None if groups is None else _as_vector(groups, len(items), "groups", "embeddings")
    if gallery is None:
        if gallery_groups is not None:
            raise ValueError("gallery_groups needs a gallery; without one, groups covers every item.")
        positions = np.arange(len(items)) if query_positions is None else query_positions
        queries, reference = items[positions], items
        if item_groups is not None:
            item_groups, gallery_groups = item_groups[positions], item_groups
    else:
        positions = None
        queries, reference = items, check_embeddings(gallery, "gallery")
        if reference.shape[1] != queries.shape[1]:
            raise ValueError(
                f"embeddings have {queries.shape[1]} dimensions but the gallery has "
                f"{reference.shape[1]}: both must live in the same space."
            )
        if (item_groups is None) != (gallery_groups is None):
            raise ValueError("With a gallery, pass both groups and gallery_groups, or neither.")
        if gallery_groups is not None:
            gallery_groups = _as_vector(gallery_groups, len(reference), "gallery_groups", "gallery")
    if item_groups is not None:
        item_groups, gallery_groups = _encode(item_groups, gallery_groups)
    prepared_queries, prepared_gallery = _prepare(queries, reference, metric)
    return _Search(prepared_queries, prepared_gallery, metric, positions, item_groups, gallery_groups)


# ---------------------------------------------------------------------------------------------
# Ranks of the relevant items: everything the retrieval measures need


@dataclass(frozen=True)
class RelevantRanks:
    """Where each query's relevant items land in its ranking.

    Attributes
    ----------
    query : ndarray, shape (n_found,)
        The query each entry belongs to, non-decreasing.
    rank : ndarray, shape (n_found,)
        1-based rank of a relevant item in its query's ranking, increasing within a query.
    n_relevant : ndarray, shape (n_queries,)
        Relevant items per query, found in the ranking or not (a truncated list may miss some).
    """

    query: np.ndarray
    rank: np.ndarray
    n_relevant: np.ndarray

    @classmethod
    def from_ranked_relevance(
        cls, ranked_relevance: ArrayLike, n_relevant: ArrayLike | None = None
    ) -> RelevantRanks:
        """From 0/1 relevance in ranked order: ``(n_queries, list_length)`` or one list ``(L,)``.

        ``n_relevant`` (one per query) counts relevant items missing from truncated lists; by
        default, the relevant items in each list.
        """
        relevance = _to_numpy(ranked_relevance)
        relevance = relevance[None, :] if relevance.ndim == 1 else relevance
        if relevance.ndim != 2:
            raise ValueError(f"ranked_relevance must be 1-D or 2-D; got shape {relevance.shape}.")
        if not np.isin(relevance, (0, 1)).all():
            raise ValueError("ranked_relevance must hold 0/1 values; for graded relevance use ndcg_at_k.")
        query, column = np.nonzero(relevance)
        found = relevance.sum(axis=1).astype(np.int64)
        if n_relevant is None:
            counts = found
        else:
            counts = np.atleast_1d(_to_numpy(n_relevant)).astype(np.int64)
            if counts.shape != found.shape or (counts < found).any():
                raise ValueError(
                    f"n_relevant must give one count per query ({len(found)}), each at least the "
                    "number of relevant items in that query's list."
                )
        return cls(query.astype(np.int64), column.astype(np.int64) + 1, counts)

    @property
    def n_queries(self) -> int:
        return len(self.n_relevant)

    @property
    def has_relevant(self) -> np.ndarray:
        """Queries with at least one relevant item, for which every measure is defined."""
        return self.n_relevant > 0

    @property
    def hit(self) -> np.ndarray:
        """1-based position of each entry among its query's relevant items (the ``i`` in ``r_i``)."""
        counts = np.bincount(self.query, minlength=self.n_queries)
        starts = np.cumsum(counts) - counts
        return np.arange(len(self.query)) - starts[self.query] + 1

    def per_query(self, values: ArrayLike, denominator: ArrayLike) -> np.ndarray:
        """Sum ``values`` (one per entry) per query and divide; NaN for queries with nothing to find."""
        totals = np.bincount(self.query, weights=values, minlength=self.n_queries)
        undefined = np.full(self.n_queries, np.nan)
        return np.divide(totals, denominator, out=undefined, where=self.has_relevant)

    def subset(self, keep: np.ndarray) -> RelevantRanks:
        """The ranks of the queries where ``keep`` (bool, one per query) holds, renumbered."""
        new_index = np.cumsum(keep) - 1
        entries = keep[self.query]
        return RelevantRanks(new_index[self.query[entries]], self.rank[entries], self.n_relevant[keep])


Ranking = RelevantRanks | ArrayLike


def _as_ranks(ranking: Ranking) -> RelevantRanks:
    return ranking if isinstance(ranking, RelevantRanks) else RelevantRanks.from_ranked_relevance(ranking)


def relevant_ranks(
    embeddings: ArrayLike,
    labels: ArrayLike,
    gallery: ArrayLike | None = None,
    gallery_labels: ArrayLike | None = None,
    groups: ArrayLike | None = None,
    gallery_groups: ArrayLike | None = None,
    metric: Metric = "euclidean",
    chunk_size: int | None = None,
    depth: int | None = None,
) -> RelevantRanks:
    """Rank the gallery for every query and keep the ranks of its relevant items.

    Parameters
    ----------
    embeddings : array (n_queries, D)
        The queries; with no gallery, also the items searched (leave one out).
    labels : array (n_queries,)
        Relevance: an item is relevant to a query with the same label.
    gallery, gallery_labels : array (n_gallery, D) and (n_gallery,), optional
        A separate set to search; every query's label must occur in it.
    groups, gallery_groups : array (n_queries,) and (n_gallery,), optional
        Same-source ids: items sharing the query's group are neither retrieved nor relevant.
    metric : "euclidean", "cosine" or callable
        See the module's conventions.
    chunk_size : int, optional
        Queries per block (default: about 16M distances per block).
    depth : int, optional
        Rank only the first ``max(depth, R_max)`` results of each query, ``R_max`` being the most
        relevant items any query has: enough for precision@k (``k <= depth``), R-precision and
        MAP@R, not for mAP, MRR or MR1, and faster on a large gallery (one ``torch.topk`` per
        block instead of a sort). Default: rank everything.

    Returns
    -------
    RelevantRanks
        Ranks among the candidates (gallery minus excluded items), ties counted pessimistically;
        with ``depth``, only those within it (``n_relevant`` still counts every relevant item).
    """
    search = _search(embeddings, gallery, groups, gallery_groups, metric)
    query_labels = _as_vector(labels, len(search.queries), "labels", "embeddings")
    if gallery is None:
        if gallery_labels is not None:
            raise ValueError("gallery_labels was given without a gallery.")
        query_codes = gallery_codes = _codes(query_labels)
    else:
        if gallery_labels is None:
            raise ValueError("A gallery needs gallery_labels (one per gallery item).")
        reference_labels = _as_vector(gallery_labels, len(search.gallery), "gallery_labels", "gallery")
        _check_labels_in_gallery(query_labels, reference_labels)
        query_codes, gallery_codes = _encode(query_labels, reference_labels)

    if depth is not None:
        return _top_relevant_ranks(search, query_codes, gallery_codes, check_int(depth, "depth"), chunk_size)
    queries, ranks, n_relevant = [], [], []
    for rows, distances in search.blocks(chunk_size):
        relevant = query_codes[rows, None] == gallery_codes[None, :]
        relevant &= distances < np.inf  # excluded items lie at infinity
        block_queries, block_ranks, counts = _ranks_in_block(distances, relevant)
        queries.append(block_queries + rows.start)
        ranks.append(block_ranks)
        n_relevant.append(counts)
    return RelevantRanks(np.concatenate(queries), np.concatenate(ranks), np.concatenate(n_relevant))


def _top_relevant_ranks(
    search: _Search, query_codes: np.ndarray, gallery_codes: np.ndarray, depth: int, chunk_size: int | None
) -> RelevantRanks:
    """:func:`relevant_ranks` truncated to the first ``max(depth, R_max)`` results of each query."""
    n_relevant = _relevant_counts(search, query_codes, gallery_codes)
    depth = min(max(depth, int(n_relevant.max(initial=0))), len(search.gallery))
    queries, ranks = [], []
    for rows, distances in search.blocks(chunk_size):
        block_queries, block_ranks = _top_ranks_in_block(distances, query_codes[rows], gallery_codes, depth)
        queries.append(block_queries + rows.start)
        ranks.append(block_ranks)
    return RelevantRanks(np.concatenate(queries), np.concatenate(ranks), n_relevant)


def _relevant_counts(search: _Search, query_codes: np.ndarray, gallery_codes: np.ndarray) -> np.ndarray:
    """Relevant candidates of each query, counted without ranking: gallery items of its label,
    less those of its own group (itself included) or, with no groups, itself when it is in the gallery."""
    n_codes = int(max(query_codes.max(), gallery_codes.max())) + 1
    counts = np.bincount(gallery_codes, minlength=n_codes)[query_codes]
    if search.query_groups is not None:
        gallery_pairs = search.gallery_groups.astype(np.int64) * n_codes + gallery_codes
        pairs, pair_counts = np.unique(gallery_pairs, return_counts=True)
        query_pairs = search.query_groups.astype(np.int64) * n_codes + query_codes
        where = np.minimum(np.searchsorted(pairs, query_pairs), len(pairs) - 1)
        return counts - np.where(pairs[where] == query_pairs, pair_counts[where], 0)
    return counts - 1 if search.query_positions is not None else counts


def _top_ranks_in_block(
    distances: np.ndarray, query_codes: np.ndarray, gallery_codes: np.ndarray, depth: int
) -> tuple[np.ndarray, np.ndarray]:
    """Block rows and ranks (at most ``depth``) of the relevant items among each row's first results.

    ``torch.topk`` finds the ``depth`` nearest candidates (and one more, to see ties across the
    cut); at equal distance irrelevant items come first, as in :func:`_ranks_in_block`, including
    those tied at the cut but left out of the list.
    """
    found = min(depth + 1, distances.shape[1])
    values, columns = (t.numpy() for t in torch.topk(torch.from_numpy(distances), found, dim=1,
                                                     largest=False, sorted=False))
    relevant = (gallery_codes[columns] == query_codes[:, None]) & (values < np.inf)
    order = np.lexsort((relevant, values))  # by distance, then irrelevant before relevant
    after_cut = np.take_along_axis(values, order[:, depth:], axis=1)  # empty if the gallery is all found
    relevant, values = (np.take_along_axis(a, order[:, :depth], axis=1) for a in (relevant, values))
    ranks = np.tile(np.arange(1, depth + 1), (len(values), 1))
    last = values[:, -1:]
    at_cut = relevant & (values == last)
    cut = np.flatnonzero(at_cut.any(axis=1) & (after_cut == last).any(axis=1))
    if len(cut):  # irrelevant items at the cut's distance that topk left out go before these
        irrelevant = gallery_codes[None, :] != query_codes[cut, None]
        tied = np.count_nonzero((distances[cut] == last[cut]) & irrelevant, axis=1)
        listed = np.count_nonzero((values[cut] == last[cut]) & ~relevant[cut], axis=1)
        ranks[cut] += at_cut[cut] * (tied - listed)[:, None]
    keep = relevant & (ranks <= depth)
    return np.nonzero(keep)[0], ranks[keep]


def _check_labels_in_gallery(query_labels: np.ndarray, gallery_labels: np.ndarray) -> None:
    missing = np.setdiff1d(query_labels, gallery_labels)
    if len(missing):
        raise ValueError(
            f"{len(missing)} query labels never occur in the gallery (e.g. {list(missing[:5])}): "
            "those queries have nothing to retrieve; drop them or add their class to the gallery."
        )


def _ranks_in_block(
    distances: np.ndarray, relevant: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ranks of the relevant items in a block of queries.

    The rank of a query's ``i``-th closest relevant item is ``i`` plus the number of irrelevant
    candidates no farther than it: one sort of the irrelevant distances per row, then a binary
    search per relevant item; no argsort of the whole block. ``distances`` (excluded items at
    infinity) is overwritten.

    Returns
    -------
    rows, ranks : int arrays (n_found,)
        Block row and 1-based rank of every relevant item, ranks increasing within a row.
    counts : int array (B,)
        Relevant items per row.
    """
    counts = np.count_nonzero(relevant, axis=1)
    relevant_distances = np.compress(relevant.ravel(), distances.ravel())  # row after row
    np.putmask(distances, relevant, np.inf)
    distances.sort(axis=1)
    ends = np.cumsum(counts)
    ranks = [
        np.searchsorted(irrelevant, np.sort(relevant_distances[end - count : end]), side="right")
        + np.arange(1, count + 1)
        for irrelevant, count, end in zip(distances, counts, ends, strict=True)
    ]
    rows = np.repeat(np.arange(len(counts)), counts)
    return rows, np.concatenate(ranks).astype(np.int64), counts


# ---------------------------------------------------------------------------------------------
# The measures, per query: a RelevantRanks or 0/1 relevance in ranked order


def precision_at_k(ranking: Ranking, k: int) -> np.ndarray:
    """Precision@k per query: the fraction of the first ``k`` results that are relevant."""
    ranks = _as_ranks(ranking)
    k = check_int(k, "k")
    return ranks.per_query(ranks.rank <= k, k)


def hit_rate_at_k(ranking: Ranking, k: int) -> np.ndarray:
    """1 where a relevant item is among the first ``k`` results: deep metric learning's Recall@K."""
    ranks = _as_ranks(ranking)
    k = check_int(k, "k")
    return np.minimum(ranks.per_query(ranks.rank <= k, 1), 1)


def recall_at_k(ranking: Ranking, k: int) -> np.ndarray:
    """Recall@k per query (information retrieval): the fraction of relevant items in the first ``k``."""
    ranks = _as_ranks(ranking)
    k = check_int(k, "k")
    return ranks.per_query(ranks.rank <= k, ranks.n_relevant)


def average_precision(ranking: Ranking) -> np.ndarray:
    """Average precision per query: precision at each relevant item's rank, averaged over all ``R``."""
    ranks = _as_ranks(ranking)
    return ranks.per_query(ranks.hit / ranks.rank, ranks.n_relevant)


def map_at_r(ranking: Ranking) -> np.ndarray:
    """MAP@R per query (Musgrave et al. 2020): average precision over the first ``R`` results only."""
    ranks = _as_ranks(ranking)
    within_r = ranks.rank <= ranks.n_relevant[ranks.query]
    return ranks.per_query(within_r * ranks.hit / ranks.rank, ranks.n_relevant)


def r_precision(ranking: Ranking) -> np.ndarray:
    """R-precision per query: the fraction of the first ``R`` results that are relevant."""
    ranks = _as_ranks(ranking)
    return ranks.per_query(ranks.rank <= ranks.n_relevant[ranks.query], ranks.n_relevant)


def first_relevant_rank(ranking: Ranking) -> np.ndarray:
    """1-based rank of each query's first relevant item (inf if a truncated list misses them all)."""
    ranks = _as_ranks(ranking)
    first = np.where(ranks.has_relevant, np.inf, np.nan)
    is_first = ranks.hit == 1
    first[ranks.query[is_first]] = ranks.rank[is_first]
    return first


def reciprocal_rank(ranking: Ranking) -> np.ndarray:
    """Reciprocal rank per query, ``1 / first_relevant_rank``; MRR is its mean."""
    return 1 / first_relevant_rank(ranking)


def mean_rank_first_relevant(ranking: Ranking) -> float:
    """MR1, the mean rank of the first relevant item over queries with one (lower is better)."""
    return float(np.nanmean(first_relevant_rank(ranking)))


def _discounts(length: int) -> np.ndarray:
    """``1 / log2(rank + 1)`` for ranks ``1 .. length``."""
    return 1 / np.log2(np.arange(2, length + 2))


def binary_ndcg_at_k(ranking: Ranking, k: int) -> np.ndarray:
    """nDCG@k per query for 0/1 relevance: DCG of the first ``k`` results over the best possible."""
    ranks = _as_ranks(ranking)
    k = check_int(k, "k")
    discounts = _discounts(k)
    within_k = ranks.rank <= k
    gains = np.where(within_k, discounts[np.minimum(ranks.rank, k) - 1], 0)
    ideal = np.concatenate([[0], np.cumsum(discounts)])[np.minimum(ranks.n_relevant, k)]
    return ranks.per_query(gains, ideal)


def ndcg_at_k(relevance: ArrayLike, scores: ArrayLike | None = None, k: int | None = None) -> np.ndarray:
    """nDCG@k per query for graded relevance, as scikit-learn's ``ndcg_score`` (linear gains).

    Parameters
    ----------
    relevance : array (n_queries, n_items) or (n_items,)
        Non-negative graded relevance of each item to each query.
    scores : array like ``relevance``, optional
        Higher is better (pass ``-distances``); ties broken by item index. Without scores,
        ``relevance`` is taken to be in ranked order already.
    k : int, optional
        Only the first ``k`` results count (default: all).

    Returns
    -------
    ndarray (n_queries,)
        In [0, 1]; 0 for a query with no relevant item (scikit-learn's convention).
    """
    gains = _real(relevance, "relevance").astype(np.float64)
    gains = gains[None, :] if gains.ndim == 1 else gains
    if gains.ndim != 2 or gains.size == 0:
        raise ValueError(f"relevance must be a non-empty 1-D or 2-D array; got shape {gains.shape}.")
    if (gains < 0).any() or not np.isfinite(gains).all():
        raise ValueError("relevance must be finite and non-negative.")
    if scores is not None:
        order_by = _real(scores, "scores")
        order_by = order_by[None, :] if order_by.ndim == 1 else order_by
        if order_by.shape != gains.shape:
            raise ValueError(f"scores has shape {order_by.shape} but relevance {gains.shape}.")
        if np.isnan(order_by).any():
            raise ValueError("scores has NaN values, which cannot be ranked: fix or drop them first.")
        gains = np.take_along_axis(gains, np.argsort(-order_by, axis=1, kind="stable"), axis=1)
    k = gains.shape[1] if k is None else min(check_int(k, "k"), gains.shape[1])
    discounts = _discounts(k)
    dcg = gains[:, :k] @ discounts
    ideal = -np.sort(-gains, axis=1)[:, :k] @ discounts
    return np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0)


# ---------------------------------------------------------------------------------------------
# The report


def retrieval_report(
    embeddings: ArrayLike,
    labels: ArrayLike,
    gallery: ArrayLike | None = None,
    gallery_labels: ArrayLike | None = None,
    groups: ArrayLike | None = None,
    gallery_groups: ArrayLike | None = None,
    metric: Metric = "euclidean",
    ks: Sequence[int] = (1, 10),
    chunk_size: int | None = None,
    full_ranking: bool = True,
) -> dict[str, float]:
    """The retrieval measures of an embedding, averaged over queries.

    Arguments as :func:`relevant_ranks`; ``ks`` adds ``precision@k``, ``hit_rate@k``,
    ``recall@k`` and ``ndcg@k`` for each ``k``. ``full_ranking=False`` ranks only the first
    results of each query, as many as R-precision, MAP@R and the ``@k`` measures need (like
    ``AccuracyCalculator(k="max_bin_count")``): 2.4x faster than the full ranking on 100k items,
    without ``map``, ``mrr`` and ``mr1``.

    Returns
    -------
    dict
        ``precision@1``, ``r_precision``, ``map@r``, ``map``, ``mrr``, ``mr1`` and the ``@k``
        measures, averaged over the queries with at least one relevant item (``n_queries``);
        ``n_without_relevant`` counts the others, left out.

    Examples
    --------
    >>> points = [[0.0], [1.0], [3.0], [6.0]]
    >>> report = retrieval_report(points, ["a", "a", "b", "b"], ks=())
    >>> report["precision@1"], round(report["map"], 3)  # item 2 is as far from 0 as from 3
    (0.75, 0.833)
    """
    ks = tuple(check_int(k, "each of ks") for k in ks)
    if not isinstance(full_ranking, bool | np.bool_):
        raise TypeError(f"full_ranking must be True or False, not {full_ranking!r}.")
    depth = None if full_ranking else max(ks, default=1)
    ranks = relevant_ranks(
        embeddings, labels, gallery, gallery_labels, groups, gallery_groups, metric, chunk_size, depth
    )
    answered = ranks.subset(ranks.has_relevant)
    if answered.n_queries == 0:
        raise ValueError("No query has a relevant item: every label is a singleton (or excluded by groups).")

    def mean(values: np.ndarray) -> float:
        return float(values.mean())

    report = {
        "precision@1": mean(precision_at_k(answered, 1)),
        "r_precision": mean(r_precision(answered)),
        "map@r": mean(map_at_r(answered)),
    }
    if full_ranking:
        report |= {
            "map": mean(average_precision(answered)),
            "mrr": mean(reciprocal_rank(answered)),
            "mr1": mean_rank_first_relevant(answered),
        }
    for k in ks:
        report[f"precision@{k}"] = mean(precision_at_k(answered, k))
        report[f"hit_rate@{k}"] = mean(hit_rate_at_k(answered, k))
        report[f"recall@{k}"] = mean(recall_at_k(answered, k))
        report[f"ndcg@{k}"] = mean(binary_ndcg_at_k(answered, k))
    report["n_queries"] = answered.n_queries
    report["n_without_relevant"] = ranks.n_queries - answered.n_queries
    return report


# ---------------------------------------------------------------------------------------------
# Uncertainty over queries


def paired_bootstrap(
    scores_a: ArrayLike, scores_b: ArrayLike, *, confidence: float = 0.95, n_resamples: int = 2000,
    seed: int = 0, chunk: int = 256,
) -> tuple[float, float, float]:
    """Mean of ``scores_a - scores_b`` over queries and its paired bootstrap percentile interval.

    The queries are resampled with replacement ``n_resamples`` times (the same queries for both
    methods: paired), and the interval is the central ``confidence`` range of the resampled means
    (Efron & Tibshirani 1993). Resamples are drawn ``chunk`` at a time (bounded memory) from
    ``numpy.random.default_rng(seed)``: the same draws as one resample after another.

    Parameters
    ----------
    scores_a, scores_b : arrays (n_queries,) of finite per-query scores of two methods.

    Returns
    -------
    (mean difference, low, high)

    Examples
    --------
    >>> mean, low, high = paired_bootstrap([1.0, 0.5, 1.0, 1.0], [0.0, 0.5, 0.0, 1.0])
    >>> mean, low <= mean <= high
    (0.5, True)
    """
    a, b = _real(scores_a, "scores_a"), _real(scores_b, "scores_b")
    if a.ndim != 1 or a.shape != b.shape or len(a) < 2:
        raise ValueError(f"scores_a and scores_b must be 1-D with one score per query (at least 2 queries) "
                         f"each; got shapes {a.shape} and {b.shape}.")
    if not 0 < check_number(confidence, "confidence", strict=True) < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    n_resamples, chunk = check_int(n_resamples, "n_resamples"), check_int(chunk, "chunk")
    differences = (a - b).astype(np.float64)
    if not np.isfinite(differences).all():
        raise ValueError("scores_a and scores_b must be finite: drop the queries with nothing to find "
                         "(NaN scores) first, as utils.protocol.compare_queries does.")
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    means = np.concatenate([
        differences[rng.integers(0, len(differences), size=(min(chunk, n_resamples - start), len(differences)))].mean(axis=1)
        for start in range(0, n_resamples, chunk)
    ])
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(differences.mean()), float(low), float(high)


# ---------------------------------------------------------------------------------------------
# Neighbours, classification, triplets, clusters


def nearest_neighbours(
    embeddings: ArrayLike,
    query_indices: ArrayLike | None = None,
    k: int = 5,
    metric: Metric = "euclidean",
    groups: ArrayLike | None = None,
    chunk_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest items of each query item, never itself nor (with ``groups``) its group.

    Parameters
    ----------
    embeddings : array (n_items, D)
    query_indices : int array (n_queries,), optional
        Rows of ``embeddings`` to query (default: all).
    k : int
        Neighbours per query.
    metric, groups, chunk_size
        As in :func:`relevant_ranks`.

    Returns
    -------
    indices : int array (n_queries, k)
        Neighbours, nearest first; ties broken by index.
    distances : float array (n_queries, k)
    """
    k = check_int(k, "k")
    n_items = len(_to_numpy(embeddings))
    positions = (
        np.arange(n_items) if query_indices is None else _row_numbers(query_indices, n_items, "query_indices")
    )
    search = _search(embeddings, None, groups, None, metric, query_positions=positions)
    indices, distances = [], []
    for _, block in search.blocks(chunk_size):
        block_indices, block_distances = _k_smallest(block, k)
        indices.append(block_indices)
        distances.append(_finish(block_distances, metric))
    distances = np.concatenate(distances)
    if np.isinf(distances).any():
        raise ValueError(f"Some queries have fewer than k={k} candidates once self and group are excluded.")
    return np.concatenate(indices), distances


def _k_smallest(distances: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the ``k`` smallest entries per row, by (distance, index)."""
    k = min(k, distances.shape[1])
    candidates = np.sort(np.argpartition(distances, k - 1, axis=1)[:, :k], axis=1)
    order = np.argsort(np.take_along_axis(distances, candidates, axis=1), axis=1, kind="stable")
    indices = np.take_along_axis(candidates, order, axis=1)
    kth = np.take_along_axis(distances, indices[:, -1:], axis=1)
    straddled = np.flatnonzero((distances <= kth).sum(axis=1) > k)  # ties cut by the partition
    indices[straddled] = np.argsort(distances[straddled], axis=1, kind="stable")[:, :k]
    return indices, np.take_along_axis(distances, indices, axis=1)


def knn_accuracy(
    embeddings: ArrayLike,
    labels: ArrayLike,
    k: int = 1,
    groups: ArrayLike | None = None,
    metric: Metric = "euclidean",
) -> float:
    """Leave-one-out k-nearest-neighbour classification accuracy.

    Each item gets the majority label of its ``k`` nearest other items (outside its group); a tied
    vote goes to the tied label whose member is nearest.
    """
    target = _as_vector(labels, len(_to_numpy(embeddings)), "labels", "embeddings")
    codes = _codes(target)
    neighbours, _ = nearest_neighbours(embeddings, None, k, metric, groups)
    votes = codes[neighbours]
    support = (votes[:, :, None] == votes[:, None, :]).sum(axis=2)
    winner = np.argmax(support == support.max(axis=1, keepdims=True), axis=1)
    predicted = votes[np.arange(len(votes)), winner]
    return float((predicted == codes).mean())


def _paired_distances(a: np.ndarray, b: np.ndarray, metric: Metric, block: int = 512) -> np.ndarray:
    """Distance between each row of ``a`` and the same row of ``b``."""
    if metric == "euclidean":
        return np.linalg.norm(a - b, axis=1)
    if metric == "cosine":
        return np.maximum(1 - np.einsum("ij,ij->i", _unit_rows(a, "a"), _unit_rows(b, "b")), 0)
    return np.concatenate(
        [np.diagonal(_distance_block(a[s : s + block], b[s : s + block], metric)) for s in range(0, len(a), block)]
    )


def triplet_accuracy(embeddings: ArrayLike, triplets: ArrayLike, metric: Metric = "euclidean") -> float:
    """Fraction of triplets ``(anchor, positive, negative)`` with ``d(a, p) < d(a, n)``.

    ``triplets`` is an int array ``(n_triplets, 3)`` of rows of ``embeddings``. A tie,
    ``d(a, p) == d(a, n)``, counts as an error: a collapsed space scores 0, not 0.5 or 1.
    """
    _check_metric(metric)
    points = check_embeddings(embeddings)
    index = _to_numpy(triplets)
    if index.ndim != 2 or index.shape[1] != 3 or len(index) == 0:
        raise ValueError(f"triplets must be an int array (n_triplets, 3); got shape {index.shape}.")
    if index.dtype.kind not in "iu" or index.min() < 0 or index.max() >= len(points):
        raise ValueError(f"triplets must hold row numbers in [0, {len(points)}).")
    anchors, positives, negatives = (points[index[:, column]] for column in range(3))
    positive = _paired_distances(anchors, positives, metric)
    negative = _paired_distances(anchors, negatives, metric)
    return float((positive < negative).mean())


def cluster_scores(embeddings: ArrayLike, labels: ArrayLike, seed: int = 0) -> dict[str, float]:
    """NMI and AMI between the labels and k-means clusters (k = number of labels).

    k-means is scikit-learn's (``n_init=10``, ``random_state=seed``); NMI uses the arithmetic
    mean normalisation, as ``AccuracyCalculator`` does.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_mutual_info_score, normalized_mutual_info_score

    points = check_embeddings(embeddings)
    target = _as_vector(labels, len(points), "labels", "embeddings")
    n_clusters = len(np.unique(target))
    if n_clusters > len(points):
        raise ValueError("More distinct labels than items: cannot cluster.")
    clusters = KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit_predict(points)
    return {
        "nmi": float(normalized_mutual_info_score(target, clusters)),
        "ami": float(adjusted_mutual_info_score(target, clusters)),
    }
