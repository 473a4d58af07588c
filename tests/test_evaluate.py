"""utils.evaluate against hand-computed rankings, scikit-learn and pytorch-metric-learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pytorch_metric_learning.distances import CosineSimilarity, LpDistance
from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
from pytorch_metric_learning.utils.inference import CustomKNN
from scipy.spatial.distance import cdist
from sklearn.cluster import KMeans
from sklearn.metrics import average_precision_score, ndcg_score
from sklearn.neighbors import KNeighborsClassifier

from utils import evaluate as ev

PML_NAMES = {
    "precision@1": "precision_at_1",
    "r_precision": "r_precision",
    "map@r": "mean_average_precision_at_r",
    "map": "mean_average_precision",
    "mrr": "mean_reciprocal_rank",
}


def clustered(n_items: int = 300, n_dims: int = 8, n_classes: int = 12, seed: int = 0):
    """Float32 points around class centres (unequal class sizes), so the measures are mid-range."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n_items)
    centres = rng.normal(size=(n_classes, n_dims))
    points = centres[labels] + 0.8 * rng.normal(size=(n_items, n_dims))
    return points.astype(np.float32), labels


def pml_accuracy(query, query_labels, reference=None, reference_labels=None, distance=None):
    calculator = AccuracyCalculator(
        include=tuple(PML_NAMES.values()),
        k=None,  # k = every reference item: full mAP and MRR
        knn_func=CustomKNN(distance or LpDistance(normalize_embeddings=False)),
        device=torch.device("cpu"),
    )
    return calculator.get_accuracy(query, query_labels, reference, reference_labels)


def assert_matches_pml(ours: dict, theirs: dict) -> None:
    for our_name, their_name in PML_NAMES.items():
        assert ours[our_name] == pytest.approx(theirs[their_name], abs=1e-6), our_name


# --- pytorch-metric-learning's AccuracyCalculator -------------------------------------------


def test_leave_one_out_matches_accuracy_calculator():
    points, labels = clustered()
    labels[0] = 99  # a singleton: a "lone" query that both leave out
    ours = ev.retrieval_report(points, labels)
    assert_matches_pml(ours, pml_accuracy(points, labels))
    assert ours["n_queries"] == len(points) - 1
    assert ours["n_without_relevant"] == 1
    assert 0.2 < ours["map@r"] < 0.9  # the data is neither trivial nor hopeless


def test_cosine_matches_accuracy_calculator():
    points, labels = clustered(seed=1)
    ours = ev.retrieval_report(points, labels, metric="cosine")
    assert_matches_pml(ours, pml_accuracy(points, labels, distance=CosineSimilarity()))


def test_separate_gallery_matches_accuracy_calculator():
    points, labels = clustered(n_items=330, seed=2)
    queries, query_labels = points[:80], labels[:80]
    gallery, gallery_labels = points[80:], labels[80:]
    ours = ev.retrieval_report(queries, query_labels, gallery, gallery_labels)
    assert_matches_pml(ours, pml_accuracy(queries, query_labels, gallery, gallery_labels))
    assert ours["n_queries"] == 80


def test_cluster_scores_match_accuracy_calculator_with_the_same_kmeans():
    points, labels = clustered(n_items=150, n_classes=5, seed=3)

    def kmeans(x, n_clusters):
        fitted = KMeans(n_clusters=n_clusters, n_init=10, random_state=0).fit_predict(x.numpy())
        return torch.as_tensor(fitted)

    calculator = AccuracyCalculator(include=("NMI", "AMI"), kmeans_func=kmeans, device=torch.device("cpu"))
    theirs = calculator.get_accuracy(points, labels)
    ours = ev.cluster_scores(points, labels, seed=0)
    assert ours["nmi"] == pytest.approx(theirs["NMI"], abs=1e-9)
    assert ours["ami"] == pytest.approx(theirs["AMI"], abs=1e-9)


def test_cluster_scores_are_perfect_on_separated_blobs():
    labels = np.repeat([0, 1, 2], 20)
    points = 100.0 * labels[:, None] + np.random.default_rng(0).normal(size=(60, 2))
    assert ev.cluster_scores(points, labels) == {"nmi": pytest.approx(1.0), "ami": pytest.approx(1.0)}


# --- measures on hand-computed rankings -------------------------------------------------------

# Query 0: relevant at ranks 1, 3, 6 (R = 3). Query 1: relevant at ranks 3, 5 (R = 2).
RANKED = np.array([[1, 0, 1, 0, 0, 1], [0, 0, 1, 0, 1, 0]])


@pytest.mark.parametrize(
    ("measure", "expected"),
    [
        (lambda r: ev.precision_at_k(r, 1), [1, 0]),
        (lambda r: ev.precision_at_k(r, 3), [2 / 3, 1 / 3]),
        (lambda r: ev.hit_rate_at_k(r, 1), [1, 0]),
        (lambda r: ev.hit_rate_at_k(r, 3), [1, 1]),
        (lambda r: ev.recall_at_k(r, 3), [2 / 3, 1 / 2]),
        (lambda r: ev.recall_at_k(r, 5), [2 / 3, 1]),
        (ev.average_precision, [(1 + 2 / 3 + 3 / 6) / 3, (1 / 3 + 2 / 5) / 2]),
        (ev.map_at_r, [(1 + 2 / 3) / 3, 0]),
        (ev.r_precision, [2 / 3, 0]),
        (ev.reciprocal_rank, [1, 1 / 3]),
        (ev.first_relevant_rank, [1, 3]),
        (lambda r: ev.binary_ndcg_at_k(r, 3), [(1 + 1 / 2) / (1 + 1 / np.log2(3) + 1 / 2), (1 / 2) / (1 + 1 / np.log2(3))]),
    ],
)
def test_measures_on_a_hand_computed_ranking(measure, expected):
    np.testing.assert_allclose(measure(RANKED), expected)


def test_mean_rank_first_relevant():
    assert ev.mean_rank_first_relevant(RANKED) == 2.0


def test_truncated_lists_count_the_relevant_items_they_miss():
    ranks = ev.RelevantRanks.from_ranked_relevance([[1, 0, 0], [0, 0, 0], [0, 0, 0]], n_relevant=[4, 2, 0])
    np.testing.assert_allclose(ev.average_precision(ranks), [1 / 4, 0, np.nan])
    np.testing.assert_allclose(ev.recall_at_k(ranks, 3), [1 / 4, 0, np.nan])
    np.testing.assert_allclose(ev.first_relevant_rank(ranks), [1, np.inf, np.nan])
    np.testing.assert_allclose(ev.reciprocal_rank(ranks), [1, 0, np.nan])


def test_report_on_points_on_a_line():
    # 0 and 1 are "a", 3 and 6 are "b"; item 3 is as far from 0 ("a") as from 6 ("b"): the tie
    # goes against it, so its relevant item ranks 3rd.
    report = ev.retrieval_report([[0.0], [1.0], [3.0], [6.0]], ["a", "a", "b", "b"], ks=(2,))
    assert report["precision@1"] == 0.75
    assert report["map"] == pytest.approx((1 + 1 + 1 / 3 + 1) / 4)
    assert report["mr1"] == pytest.approx((1 + 1 + 3 + 1) / 4)
    assert report["precision@2"] == pytest.approx(3 / 8)
    assert report["hit_rate@2"] == 0.75


def test_groups_remove_same_source_items_from_ranking_and_relevance():
    # Item 1 is item 0 at another velocity (same group): without groups it is an easy match.
    points = [[0.0], [0.1], [5.0], [2.0]]
    labels = ["a", "a", "a", "b"]
    plain = ev.relevant_ranks(points, labels)
    grouped = ev.relevant_ranks(points, labels, groups=["s", "s", "t", "u"])
    assert plain.rank[plain.query == 0].tolist() == [1, 3]
    assert grouped.rank[grouped.query == 0].tolist() == [2]
    assert grouped.n_relevant.tolist() == [1, 1, 2, 0]


def test_collapsed_embedding_scores_badly_whatever_the_order():
    labels = np.array(["a", "a", "b", "b", "b"])
    collapsed = np.zeros((5, 3))
    report = ev.retrieval_report(collapsed, labels)
    # "a" queries: 3 tied irrelevant items first, rank 4; "b" queries: ranks 3 and 4.
    assert report["map"] == pytest.approx((2 * (1 / 4) + 3 * (1 / 3 + 2 / 4) / 2) / 5)
    assert report["precision@1"] == 0
    shuffled = np.random.default_rng(0).permutation(5)
    assert ev.retrieval_report(collapsed[shuffled], labels[shuffled]) == pytest.approx(report)


# --- scikit-learn ---------------------------------------------------------------------------


def test_average_precision_matches_scikit_learn():
    rng = np.random.default_rng(4)
    relevance = rng.random((20, 50)) < 0.2
    relevance[:, 0] = True
    scores = rng.random((20, 50))
    ranked = np.take_along_axis(relevance, np.argsort(-scores, axis=1), axis=1)
    expected = [average_precision_score(r, s) for r, s in zip(relevance, scores, strict=True)]
    np.testing.assert_allclose(ev.average_precision(ranked), expected)


@pytest.mark.parametrize("k", [None, 1, 5])
def test_graded_ndcg_matches_scikit_learn(k):
    rng = np.random.default_rng(5)
    relevance = rng.integers(0, 4, (15, 30))
    scores = rng.random((15, 30))
    per_query = ev.ndcg_at_k(relevance, scores, k)
    assert per_query.mean() == pytest.approx(ndcg_score(relevance, scores, k=k))


def test_binary_ndcg_matches_graded_ndcg_and_scikit_learn():
    rng = np.random.default_rng(6)
    relevance = (rng.random((10, 40)) < 0.3).astype(int)
    relevance[:, 5] = 1
    scores = rng.random((10, 40))
    ranked = np.take_along_axis(relevance, np.argsort(-scores, axis=1), axis=1)
    np.testing.assert_allclose(ev.binary_ndcg_at_k(ranked, 7), ev.ndcg_at_k(ranked, k=7))
    assert ev.binary_ndcg_at_k(ranked, 7).mean() == pytest.approx(ndcg_score(relevance, scores, k=7))


# --- groups, chunks and metrics -----------------------------------------------------------------


def integer_points(n_pairs: int, n_dims: int, n_classes: int, seed: int):
    """Small-integer points whose mean is exactly 0: float32 distances are then exact, whatever
    the order of summation, and ties are frequent."""
    rng = np.random.default_rng(seed)
    half = rng.integers(-3, 4, (n_pairs, n_dims))
    points = np.concatenate([half, -half]).astype(np.float32)
    return points, rng.integers(0, n_classes, 2 * n_pairs), rng.integers(0, n_pairs, 2 * n_pairs)


def brute_force_ranked_relevance(points, labels, groups):
    """Each query's 0/1 relevance in ranked order, by a full sort (own group excluded, ties
    between a relevant and an irrelevant item resolved against the relevant one)."""
    distances = cdist(points, points)
    rows = []
    for query in range(len(points)):
        candidates = np.flatnonzero(groups != groups[query])
        relevant = labels[candidates] == labels[query]
        ranked = relevant[np.lexsort((relevant, distances[query, candidates]))]
        rows.append(np.pad(ranked, (0, len(points) - len(ranked))))
    return np.array(rows)


def assert_same_ranks(ours: ev.RelevantRanks, reference: ev.RelevantRanks) -> None:
    for field in ("query", "rank", "n_relevant"):
        np.testing.assert_array_equal(getattr(ours, field), getattr(reference, field), err_msg=field)


def test_groups_and_ties_match_a_brute_force_ranking():
    points, labels, groups = integer_points(100, 3, 6, seed=7)
    ranked = brute_force_ranked_relevance(points.astype(np.float64), labels, groups)
    ours = ev.relevant_ranks(points, labels, groups=groups)
    assert_same_ranks(ours, ev.RelevantRanks.from_ranked_relevance(ranked))


def test_groups_with_a_gallery():
    points, labels = clustered(n_items=120, seed=8)
    groups = np.arange(120) // 2
    whole = ev.relevant_ranks(points, labels, groups=groups)
    split = ev.relevant_ranks(points, labels, gallery=points, gallery_labels=labels, groups=groups, gallery_groups=groups)
    assert_same_ranks(split, whole)


def test_chunked_equals_unchunked():
    # Exact distances: float32 rounding in a matrix product depends on the block's shape.
    points, labels, groups = integer_points(1500, 16, 30, seed=9)
    whole = ev.relevant_ranks(points, labels, groups=groups)
    chunked = ev.relevant_ranks(points, labels, groups=groups, chunk_size=97)
    assert_same_ranks(chunked, whole)


# --- ranking only the first results (full_ranking=False, depth) ---------------------------------

AT_R = ("precision@1", "r_precision", "map@r")


@pytest.mark.parametrize("depth", [1, 5, 40])
def test_depth_keeps_the_first_ranks_of_the_full_ranking(depth):
    points, labels, groups = integer_points(150, 2, 5, seed=11)  # tie-heavy: ties at the cut too
    whole = ev.relevant_ranks(points, labels, groups=groups)
    top = ev.relevant_ranks(points, labels, groups=groups, depth=depth, chunk_size=37)
    cut = max(depth, whole.n_relevant.max())
    assert_same_ranks(top, ev.RelevantRanks(whole.query[whole.rank <= cut], whole.rank[whole.rank <= cut],
                                            whole.n_relevant))


@pytest.mark.parametrize("seed", range(6))
def test_first_results_only_give_the_same_measures(seed):
    rng = np.random.default_rng(seed)
    points, labels, groups = integer_points(60, int(rng.integers(1, 4)), int(rng.integers(2, 9)), seed)
    setting = [{}, {"groups": groups}, {"gallery": points[::-1], "gallery_labels": labels[::-1]},
               {"metric": "cosine"}][seed % 4]
    points = points + 0.5 if setting.get("metric") == "cosine" else points  # no zero vectors
    full = ev.retrieval_report(points, labels, ks=(1, 3, 7), **setting)
    top = ev.retrieval_report(points, labels, ks=(1, 3, 7), full_ranking=False, **setting)
    assert set(full) - set(top) == {"map", "mrr", "mr1"}
    assert top == pytest.approx({name: full[name] for name in top}, abs=1e-12)


def test_first_results_only_match_accuracy_calculator_with_max_bin_count():
    points, labels = clustered(n_items=400, seed=12)
    ours = ev.retrieval_report(points, labels, full_ranking=False)
    theirs = AccuracyCalculator(include=tuple(PML_NAMES[name] for name in AT_R), k="max_bin_count",
                                knn_func=CustomKNN(LpDistance(normalize_embeddings=False)),
                                device=torch.device("cpu")).get_accuracy(points, labels)
    for name in AT_R:
        assert ours[name] == pytest.approx(theirs[PML_NAMES[name]], abs=1e-6), name


def test_a_callable_metric_gives_the_same_report_as_its_name():
    points, labels = clustered(seed=10)
    by_name = ev.retrieval_report(points, labels, metric="euclidean")
    by_callable = ev.retrieval_report(points, labels, metric=lambda q, g: cdist(q, g, "sqeuclidean"))
    assert by_callable == pytest.approx(by_name, abs=1e-9)


def test_torch_tensors_are_accepted():
    points, labels = clustered(seed=11)
    tensor = torch.from_numpy(points).requires_grad_()
    assert ev.retrieval_report(tensor, torch.from_numpy(labels)) == ev.retrieval_report(points, labels)


def test_pairwise_distances():
    points, _ = clustered(n_items=40, seed=12)
    np.testing.assert_allclose(ev.pairwise_distances(points), cdist(points, points), atol=1e-4)
    np.testing.assert_allclose(
        ev.pairwise_distances(points[:5], points, "cosine"), cdist(points[:5], points, "cosine"), atol=1e-5
    )


# --- neighbours, kNN, triplets ------------------------------------------------------------------


def test_nearest_neighbours_match_a_full_sort():
    points, _ = clustered(n_items=150, seed=13)
    groups = np.arange(150) // 3
    queries = np.array([0, 7, 149])
    indices, distances = ev.nearest_neighbours(points, queries, k=6, groups=groups, chunk_size=2)
    full = cdist(points[queries], points)
    full[groups[queries, None] == groups[None, :]] = np.inf
    expected = np.argsort(full, axis=1, kind="stable")[:, :6]
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_allclose(distances, np.take_along_axis(full, expected, axis=1), rtol=1e-4)


def test_nearest_neighbours_break_ties_by_index():
    points = [[0.0], [1.0], [1.0], [1.0], [5.0]]
    indices, distances = ev.nearest_neighbours(points, [0, 1, 3], k=2)
    assert indices.tolist() == [[1, 2], [2, 3], [1, 2]]
    np.testing.assert_allclose(distances, [[1, 1], [0, 0], [0, 0]], atol=1e-6)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_knn_accuracy_matches_scikit_learn(k):
    rng = np.random.default_rng(14)
    labels = np.repeat([0, 1], 60)
    points = rng.normal(size=(120, 4)) + 1.2 * labels[:, None]
    # scikit-learn's kneighbors() without X leaves each item out; two labels, odd k: no tied vote.
    fitted = KNeighborsClassifier(n_neighbors=k, algorithm="brute").fit(points, labels)
    majority = labels[fitted.kneighbors(return_distance=False)].mean(axis=1) > 0.5
    assert ev.knn_accuracy(points, labels, k=k) == pytest.approx(np.mean(majority == labels))


def test_knn_vote_ties_go_to_the_nearest_label():
    # Item 0's two neighbours are 1 ("b", nearer) and 2 ("a"): a 1-1 tie, won by "b".
    points = [[0.0], [1.0], [-2.0], [10.0]]
    labels = ["a", "b", "a", "b"]
    neighbours, _ = ev.nearest_neighbours(points, [0], k=2)
    assert neighbours.tolist() == [[1, 2]]
    assert ev.knn_accuracy(points[:3], labels[:3], k=2) == pytest.approx(1 / 3)


def test_triplet_accuracy_counts_ties_as_errors():
    points = [[0.0], [1.0], [2.0], [1.0]]
    triplets = [[0, 1, 2], [0, 1, 3], [0, 2, 1]]  # right, tie, wrong
    assert ev.triplet_accuracy(points, triplets) == pytest.approx(1 / 3)
    assert ev.triplet_accuracy(np.zeros((4, 2)), triplets) == 0


def test_triplet_accuracy_with_each_metric():
    points, _ = clustered(n_items=60, seed=15)
    triplets = np.random.default_rng(15).integers(0, 60, (500, 3))
    a, p, n = (points[triplets[:, i]] for i in range(3))
    for metric in ("euclidean", "cosine"):
        expected = np.mean(
            np.diagonal(cdist(a, p, metric)) < np.diagonal(cdist(a, n, metric))
        )
        assert ev.triplet_accuracy(points, triplets, metric) == pytest.approx(expected)
    manhattan = lambda q, g: cdist(q, g, "cityblock")
    expected = np.mean(np.abs(a - p).sum(1) < np.abs(a - n).sum(1))
    assert ev.triplet_accuracy(points, triplets, manhattan) == pytest.approx(expected)


# --- bad input ------------------------------------------------------------------------------------

POINTS, LABELS = clustered(n_items=30, seed=16)


def with_value(row: int, value: float) -> np.ndarray:
    broken = POINTS.copy()
    broken[row, 0] = value
    return broken


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: ev.retrieval_report(with_value(3, np.nan), LABELS), ValueError, "row 3"),
        (lambda: ev.retrieval_report(with_value(5, np.inf), LABELS), ValueError, "NaN or infinite"),
        (lambda: ev.retrieval_report(POINTS, LABELS[:-1]), ValueError, "29 entries"),
        (lambda: ev.retrieval_report(POINTS[:, 0], LABELS), ValueError, "2-D"),
        (lambda: ev.retrieval_report(np.zeros((0, 4)), []), ValueError, "empty"),
        (lambda: ev.retrieval_report(POINTS, LABELS[:, None]), ValueError, "1-D"),
        (lambda: ev.retrieval_report(POINTS.astype(str), LABELS), TypeError, "real numbers"),
        (lambda: ev.retrieval_report(POINTS, LABELS, metric="manhattan"), ValueError, "Unknown metric"),
        (lambda: ev.retrieval_report(POINTS, LABELS, metric=3), TypeError, "metric"),
        (lambda: ev.retrieval_report(POINTS, LABELS, metric=lambda q, g: q @ g[:2].T), ValueError, "shape"),
        (lambda: ev.retrieval_report(POINTS, LABELS, POINTS, LABELS + 100), ValueError, "never occur"),
        (lambda: ev.retrieval_report(POINTS, LABELS, POINTS[:, :3], LABELS), ValueError, "dimensions"),
        (lambda: ev.retrieval_report(POINTS, LABELS, POINTS), ValueError, "gallery_labels"),
        (lambda: ev.retrieval_report(POINTS, np.arange(30)), ValueError, "No query"),
        (lambda: ev.retrieval_report(POINTS, LABELS, ks=(0,)), ValueError, "positive integer"),
        (lambda: ev.retrieval_report(POINTS, LABELS, groups=LABELS[:5]), ValueError, "groups"),
        (lambda: ev.retrieval_report(np.zeros((4, 2)), [0, 0, 1, 1], metric="cosine"), ValueError, "zero"),
        (lambda: ev.nearest_neighbours(POINTS, [0], k=30), ValueError, "fewer than k"),
        (lambda: ev.nearest_neighbours(POINTS, [30], k=3), ValueError, "query_indices"),
        (lambda: ev.triplet_accuracy(POINTS, [[0, 1]]), ValueError, "n_triplets, 3"),
        (lambda: ev.average_precision([[0, 2, 1]]), ValueError, "0/1"),
        (lambda: ev.ndcg_at_k([[1, 0]], [[0.5, 0.2, 0.1]]), ValueError, "shape"),
    ],
)
def test_bad_input_is_explained(call, error, message):
    with pytest.raises(error, match=message):
        call()
