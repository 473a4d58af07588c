"""Tests of utils.linear: references (scikit-learn), brute force on toy cases, optimality checks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris, load_wine
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.metrics import average_precision_score, ndcg_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier, NeighborhoodComponentsAnalysis
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from utils import linear
from utils.linear import (
    ITML,
    LDA,
    LMNN,
    MLR,
    MMC,
    NCA,
    RelativeComparisons,
    count_impostors,
    sample_pairs,
    sample_triplets,
)

LEARNERS = [LDA, NCA, LMNN, MMC, ITML, RelativeComparisons, MLR]


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def informative_plus_noise(n: int = 150, n_noise: int = 6, seed: int = 0):
    """3 classes separated in 2 dimensions, plus n_noise louder noise dimensions."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    informative = centres[y] + 0.5 * rng.standard_normal((n, 2))
    return np.hstack([informative, 2 * rng.standard_normal((n, n_noise))]), y


def squared_distances(Z: np.ndarray) -> np.ndarray:
    return ((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1)


def mean_average_precision(Z_queries, y_queries, Z_items, y_items) -> float:
    """Mean AP of queries ranking the items by Euclidean distance, from scikit-learn."""
    distances = ((Z_queries[:, None, :] - Z_items[None, :, :]) ** 2).sum(-1)
    relevant = y_items[None, :] == y_queries[:, None]
    return float(
        np.mean([average_precision_score(r, -d) for r, d in zip(relevant, distances, strict=True)])
    )


# ----------------------------------------------------------------------------------------------
# The common interface
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("Learner", LEARNERS)
def test_learner_is_a_deterministic_mahalanobis_transformer(Learner, wine):
    X, y = wine
    X, y = X[::2], y[::2]
    model = Learner().fit(X, y)
    L = model.components_
    assert L.shape[1] == X.shape[1] and 1 <= L.shape[0] <= X.shape[1]
    np.testing.assert_allclose(model.transform(X), X @ L.T)
    M = model.get_mahalanobis_matrix()
    np.testing.assert_allclose(M, L.T @ L)
    assert np.linalg.eigvalsh(M).min() >= -1e-10 * np.abs(M).max()
    again = clone(model).fit(X, y)
    np.testing.assert_array_equal(again.components_, L)
    assert len(model.get_feature_names_out()) == L.shape[0]


@pytest.mark.parametrize(
    "model",
    [LDA(), NCA(max_iter=5), LMNN(k=1, max_iter=2), MMC(max_iter=5), ITML(max_iter=3)]
    + [RelativeComparisons(max_iter=5), MLR(max_iter=2)],
    ids=lambda model: type(model).__name__,
)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_learner_passes_scikit_learn_estimator_checks(model):
    check_estimator(model)


@pytest.mark.parametrize("Learner", [NCA, LMNN, MMC, ITML, RelativeComparisons, MLR])
def test_n_components_reduces_the_output(Learner, wine):
    X, y = wine
    model = Learner(n_components=2).fit(X[::2], y[::2])
    assert model.components_.shape == (2, X.shape[1])
    assert model.transform(X).shape == (len(X), 2)


@pytest.mark.parametrize("Learner", LEARNERS)
def test_bad_input_raises_clear_value_errors(Learner, wine):
    X, y = wine
    X, y = X[y < 2][::2], y[y < 2][::2]
    with_nan = X.copy()
    with_nan[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Learner().fit(with_nan, y)
    with pytest.raises(ValueError, match="2D"):
        Learner().fit(X[:, 0], y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        Learner().fit(X, y[:-1])
    with pytest.raises(ValueError, match="single class"):
        Learner().fit(X[y == 0], y[y == 0])
    for n_components in (0, X.shape[1] + 1):
        with pytest.raises(ValueError, match="n_components"):
            Learner(n_components=n_components).fit(X, y)
    model = Learner().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.transform(X[:, :5])


def test_bad_constraints_raise_clear_value_errors(wine):
    X, _ = wine
    pairs = np.array([[0, 1], [2, 3]])
    with pytest.raises(ValueError, match="outside"):
        ITML().fit_pairs(X, pairs + len(X), np.array([True, False]))
    with pytest.raises(ValueError, match="boolean"):
        MMC().fit_pairs(X, pairs, np.array([1, 0]))
    with pytest.raises(ValueError, match="both"):
        MMC().fit_pairs(X, pairs, np.array([True, True]))
    with pytest.raises(ValueError, match=r"shape \(m, 3\)"):
        RelativeComparisons().fit_triplets(X, pairs)
    with pytest.raises(ValueError, match="init"):
        NCA(init="random").fit(X[:60], np.arange(60) % 2)
    with pytest.raises(ValueError, match="more than k=3 members"):
        LMNN().fit(X[:10], np.r_[np.zeros(7), np.ones(3)])
    with pytest.raises(ValueError, match="measure"):
        MLR(measure="auc").fit(X[:60], np.arange(60) % 2)


# ----------------------------------------------------------------------------------------------
# Sampling constraints
# ----------------------------------------------------------------------------------------------


def test_sampled_pairs_and_triplets_follow_the_labels_and_the_seed():
    y = np.repeat(["a", "b", "c", "d"], [2, 5, 9, 1])
    pairs, same = sample_pairs(y, 301, random_state=3)
    assert pairs.shape == (301, 2) and same.sum() == 150
    np.testing.assert_array_equal(y[pairs[:, 0]] == y[pairs[:, 1]], same)
    assert np.all(pairs[:, 0] != pairs[:, 1])
    triplets = sample_triplets(y, 200, random_state=3)
    assert np.all(y[triplets[:, 0]] == y[triplets[:, 1]])
    assert np.all(y[triplets[:, 0]] != y[triplets[:, 2]])
    assert np.all(triplets[:, 0] != triplets[:, 1])
    assert set(triplets[:, 0]).isdisjoint(np.flatnonzero(y == "d"))  # no class mate to pair with
    np.testing.assert_array_equal(sample_pairs(y, 301, random_state=3)[0], pairs)
    assert not np.array_equal(sample_pairs(y, 301, random_state=4)[0], pairs)


def test_sampled_partners_are_uniform():
    y = np.repeat([0, 1, 2], [3, 3, 4])
    anchors = np.zeros(30000, dtype=int)
    rng = np.random.default_rng(0)
    same = np.bincount(linear._same_class_partners(y, anchors, rng), minlength=10) / 30000
    other = np.bincount(linear._other_class_partners(y, anchors, rng), minlength=10) / 30000
    np.testing.assert_allclose(same, [0, 0.5, 0.5] + [0] * 7, atol=0.015)
    np.testing.assert_allclose(other, [0] * 3 + [1 / 7] * 7, atol=0.015)


# ----------------------------------------------------------------------------------------------
# LDA
# ----------------------------------------------------------------------------------------------


def test_lda_distances_match_scikit_learn(wine):
    X, y = wine
    ours = LDA().fit(X, y)
    reference = LinearDiscriminantAnalysis().fit(X, y)
    assert ours.components_.shape == (2, X.shape[1])
    np.testing.assert_allclose(
        squared_distances(ours.transform(X[:40])),
        squared_distances(reference.transform(X[:40])),
        rtol=1e-9,
        atol=1e-9,
    )


# ----------------------------------------------------------------------------------------------
# NCA
# ----------------------------------------------------------------------------------------------


def test_nca_loss_and_gradient_match_scikit_learn(wine):
    X, y = wine
    L = np.random.default_rng(0).standard_normal((5, X.shape[1])) * 0.3
    same_class = y[:, None] == y[None, :]
    reference = NeighborhoodComponentsAnalysis()
    reference.n_iter_ = 1  # skips its verbose header
    expected_sum, expected_gradient = reference._loss_grad_lbfgs(L.ravel(), X, same_class)
    L_t = torch.tensor(L, requires_grad=True)
    loss = linear._nca_loss(L_t, torch.from_numpy(X), torch.from_numpy(same_class).double())
    (gradient,) = torch.autograd.grad(loss, L_t)
    n = len(X)
    assert loss.item() == pytest.approx(1 - expected_sum / n, rel=1e-12)
    np.testing.assert_allclose(gradient.numpy().ravel(), -expected_gradient / n, rtol=1e-8)


def test_nca_gradient_passes_gradcheck(wine):
    X, y = wine
    X, y = torch.from_numpy(X[::6]), torch.from_numpy(y[::6])
    same_class = (y[:, None] == y[None, :]).double()
    L = (
        0.3
        * torch.randn(
            3, X.shape[1], dtype=torch.float64, generator=torch.Generator().manual_seed(0)
        )
    ).requires_grad_()
    assert torch.autograd.gradcheck(lambda L: linear._nca_loss(L, X, same_class), (L,))


def test_nca_matches_scikit_learn_fit(wine):
    X, y = wine
    train, test = np.arange(len(X)) % 3 != 0, np.arange(len(X)) % 3 == 0
    ours = NCA(init="identity").fit(X[train], y[train])
    reference = NeighborhoodComponentsAnalysis(init="identity").fit(X[train], y[train])

    def accuracy(model):
        knn = KNeighborsClassifier(1).fit(model.transform(X[train]), y[train])
        return knn.score(model.transform(X[test]), y[test])

    assert accuracy(ours) >= accuracy(reference) - 0.02
    same_class = torch.from_numpy(y[train][:, None] == y[train][None, :]).double()
    X_train = torch.from_numpy(X[train])
    loss = lambda model: float(
        linear._nca_loss(torch.from_numpy(model.components_), X_train, same_class)
    )
    assert loss(ours) <= loss(reference) + 1e-3
    assert ours.loss_curve_[-1] < ours.loss_curve_[0]
    assert len(ours.loss_curve_) == ours.n_iter_ + 1


# ----------------------------------------------------------------------------------------------
# LMNN
# ----------------------------------------------------------------------------------------------


def lmnn_brute_force(X, y, targets, L, push_weight=0.5, margin=1.0):
    """The LMNN loss and active triplet count by explicit loops over (i, j, l)."""
    D = squared_distances(X @ L.T)
    loss, n_active = 0.0, 0
    for i, j in itertools.product(range(len(X)), range(targets.shape[1])):
        t = targets[i, j]
        loss += (1 - push_weight) * D[i, t]
        for l in np.flatnonzero(y != y[i]):
            hinge = margin + D[i, t] - D[i, l]
            loss += push_weight * max(hinge, 0)
            n_active += hinge > 0
    return loss, n_active


def test_lmnn_loss_and_impostor_count_match_brute_force():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, 4)), rng.integers(0, 3, 30)
    L = rng.standard_normal((3, 4))
    targets = linear._target_neighbors(X, y, 2)
    expected_loss, expected_active = lmnn_brute_force(X, y, targets, L, push_weight=0.3)
    y_t = torch.from_numpy(y)
    L_t = torch.tensor(L, requires_grad=True)
    lmnn_loss = lambda L_t: linear._lmnn_loss(
        L_t, torch.from_numpy(X), torch.from_numpy(targets), y_t[:, None] != y_t[None, :], 0.3, 1.0
    )
    assert lmnn_loss(L_t).item() == pytest.approx(expected_loss, rel=1e-12)
    assert count_impostors(X, y, k=2, L=L) == expected_active
    assert torch.autograd.gradcheck(lmnn_loss, (L_t,), eps=1e-7, atol=1e-5)


def test_target_neighbors_are_nearest_class_mates():
    X, y = informative_plus_noise(40)
    targets = linear._target_neighbors(X, y, 3)
    D = squared_distances(X)
    for i in range(len(X)):
        mates = np.flatnonzero((y == y[i]) & (np.arange(len(X)) != i))
        np.testing.assert_array_equal(
            np.sort(targets[i]), np.sort(mates[np.argsort(D[i, mates])[:3]])
        )


@pytest.mark.parametrize("name", ["wine", "iris", "digits"])
def test_lmnn_knn_accuracy_is_not_below_euclidean(name):
    X, y = {"wine": load_wine, "iris": load_iris, "digits": load_digits}[name](return_X_y=True)
    if name == "digits":
        X, y = X[:450], y[:450]
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    accuracy = lambda *steps: cross_val_score(
        make_pipeline(StandardScaler(), *steps, KNeighborsClassifier(1)), X, y, cv=cv
    ).mean()
    assert accuracy(LMNN()) >= accuracy()


def test_lmnn_removes_impostors(wine):
    X, y = wine
    model = LMNN().fit(X, y)
    assert model.impostor_count(X, y, margin=0) < 0.3 * count_impostors(X, y, margin=0)
    assert model.loss_curve_[-1] < 0.5 * model.loss_curve_[0]


# ----------------------------------------------------------------------------------------------
# MMC
# ----------------------------------------------------------------------------------------------


def test_mmc_meets_its_constraint_and_is_optimal(wine):
    """Constraint active, M PSD, and the KKT conditions of Xing et al.'s convex problem hold.

    max g(M) = sum_D ||v||_M s.t. <A, M> <= 1 with A = sum_S v v^T, M PSD: at the optimum
    Z = lambda A - grad g(M) is PSD with <Z, M> = 0, where lambda = g(M) / 2 (g is
    1/2-homogeneous).
    """
    X, y = wine
    pairs, same = sample_pairs(y, 400, random_state=0)
    model = MMC().fit_pairs(X, pairs, same)
    M = model.get_mahalanobis_matrix()
    V = X[pairs[:, 0]] - X[pairs[:, 1]]
    similar, dissimilar = V[same], V[~same]
    A = similar.T @ similar
    assert np.sum(A * M) == pytest.approx(1, rel=1e-10)
    assert np.linalg.eigvalsh(M).min() >= -1e-12
    distances = np.sqrt(np.einsum("md,de,me->m", dissimilar, M, dissimilar))
    gradient = (dissimilar / (2 * distances[:, None])).T @ dissimilar
    Z = distances.sum() / 2 * A - gradient
    eigenvalues = np.linalg.eigvalsh(Z)
    assert eigenvalues.min() >= -1e-3 * np.abs(eigenvalues).max()
    assert abs(np.sum(Z * M)) <= 1e-6 * distances.sum()
    euclidean_ratio = np.sqrt((dissimilar**2).sum(1)).sum() / np.sqrt((similar**2).sum())
    assert distances.sum() > 1.5 * euclidean_ratio


# ----------------------------------------------------------------------------------------------
# ITML
# ----------------------------------------------------------------------------------------------


def itml_toy(noise: float = 1.0, n: int = 120, seed: int = 0):
    """Two tight classes 2 apart along feature 0; features 1-3 are noise of standard deviation noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = np.column_stack(
        [2 * y + 0.05 * rng.standard_normal(n), noise * rng.standard_normal((n, 3))]
    )
    return X, y


def test_itml_keeps_the_prior_when_constraints_already_hold():
    X, y = itml_toy(noise=0.1)
    pairs, same = sample_pairs(y, 100, random_state=0)
    distances = ((X[pairs[:, 0]] - X[pairs[:, 1]]) ** 2).sum(1)
    bounds = (distances[same].max() + 1, distances[~same].min() - 0.1)
    model = ITML(bounds=bounds).fit_pairs(X, pairs, same)
    np.testing.assert_array_equal(model.metric_, np.eye(X.shape[1]))
    assert model.n_iter_ == 1 and model.converged_


def test_itml_satisfies_feasible_constraints_and_stays_positive_definite():
    X, y = itml_toy()
    pairs, same = sample_pairs(y, 200, random_state=0)
    model = ITML(gamma=1e4, bounds=(1.0, 9.0)).fit_pairs(X, pairs, same)
    V = X[pairs[:, 0]] - X[pairs[:, 1]]

    def satisfied(M):
        distances = np.einsum("md,de,me->m", V, M, V)
        return np.where(same, distances <= 1.0 * 1.01, distances >= 9.0 * 0.99)

    assert satisfied(np.eye(X.shape[1])).mean() < 0.6
    assert satisfied(model.metric_).mean() >= 0.95
    assert np.linalg.eigvalsh(model.metric_).min() > 0
    assert model.converged_


def test_itml_default_bounds_are_distance_percentiles(wine):
    X, y = wine
    model = ITML(max_iter=2).fit(X, y)
    points = np.unique(sample_pairs(y, 20 * 3**2, random_state=0)[0])
    distances = squared_distances(X[points])[np.triu_indices(len(points), 1)]
    np.testing.assert_allclose(model.bounds_, np.percentile(distances, [5, 95]))


# ----------------------------------------------------------------------------------------------
# Relative comparisons
# ----------------------------------------------------------------------------------------------


def test_relative_comparisons_is_the_optimal_nonnegative_svm():
    """KKT of min_{w >= 0} 1/2 |w|^2 + C sum max(0, 1 - w.z)^2: grad_f = 0 where w_f > 0, >= 0 where 0."""
    X, y = informative_plus_noise()
    triplets = sample_triplets(y, 300, random_state=0)
    model = RelativeComparisons(C=0.1).fit_triplets(X, triplets)
    a, p, n = X[triplets[:, 0]], X[triplets[:, 1]], X[triplets[:, 2]]
    z = (a - n) ** 2 - (a - p) ** 2
    w = model.weights_
    gradient = w - 2 * 0.1 * (np.maximum(0, 1 - z @ w)[:, None] * z).sum(0)
    scale = np.abs(gradient).max() + np.abs(w).max()
    assert np.all(w >= 0)
    assert np.all(np.abs(gradient[w > 1e-8]) <= 1e-4 * scale)
    assert np.all(gradient[w <= 1e-8] >= -1e-4 * scale)


def test_relative_comparisons_learns_from_triplets():
    X, y = informative_plus_noise(300)
    train, test = np.arange(300) < 200, np.arange(300) >= 200
    model = RelativeComparisons().fit(X[train], y[train])

    def triplet_accuracy(Z, labels, seed):
        t = sample_triplets(labels, 2000, random_state=seed)
        closer = ((Z[t[:, 0]] - Z[t[:, 1]]) ** 2).sum(1)
        farther = ((Z[t[:, 0]] - Z[t[:, 2]]) ** 2).sum(1)
        return np.mean(closer < farther)

    assert triplet_accuracy(model.transform(X[train]), y[train], 0) >= 0.85
    euclidean = triplet_accuracy(X[test], y[test], 1)
    assert triplet_accuracy(model.transform(X[test]), y[test], 1) >= euclidean + 0.1
    assert np.argsort(model.weights_)[-2:].tolist() in ([0, 1], [1, 0])


# ----------------------------------------------------------------------------------------------
# MLR
# ----------------------------------------------------------------------------------------------


def ranking_measure(measure: str, relevant_in_order: np.ndarray) -> float:
    """AP, nDCG (binary gains) or MRR of a ranking given as relevance flags, from the definitions."""
    ranks = np.flatnonzero(relevant_in_order) + 1
    if measure == "ap":
        return float(np.mean(np.arange(1, len(ranks) + 1) / ranks))
    if measure == "ndcg":
        return float(
            np.sum(1 / np.log2(ranks + 1)) / np.sum(1 / np.log2(np.arange(2, len(ranks) + 2)))
        )
    return 1 / ranks[0]


def test_ranking_measures_match_scikit_learn():
    relevant = np.array([0, 1, 0, 0, 1, 1, 0, 1], dtype=bool)
    scores = -np.arange(len(relevant), dtype=float)
    assert ranking_measure("ap", relevant) == pytest.approx(
        average_precision_score(relevant, scores)
    )
    assert ranking_measure("ndcg", relevant) == pytest.approx(
        ndcg_score(relevant[None], scores[None])
    )
    assert ranking_measure("mrr", relevant) == 0.5


@pytest.mark.parametrize("measure", linear.RANKING_MEASURES)
def test_swap_costs_add_up_to_the_measure(measure):
    rng = np.random.default_rng(0)
    for _ in range(20):
        n_relevant, n_irrelevant = rng.integers(1, 6), rng.integers(1, 6)
        relevant = rng.permutation(np.r_[np.ones(n_relevant, bool), np.zeros(n_irrelevant, bool)])
        # swapped pairs: irrelevant item j (1-based) ranked above relevant item i
        relevant_rank = np.cumsum(relevant)[relevant]
        irrelevant_rank = np.cumsum(~relevant)[~relevant]
        above = np.flatnonzero(relevant)[:, None] > np.flatnonzero(~relevant)[None, :]
        h = linear._swap_costs(measure, n_relevant, n_irrelevant)
        swapped_cost = h[relevant_rank[:, None] - 1, irrelevant_rank[None, :] - 1][above].sum()
        assert 1 - swapped_cost == pytest.approx(ranking_measure(measure, relevant), abs=1e-12)


@pytest.mark.parametrize("measure", linear.RANKING_MEASURES)
def test_ranking_oracle_finds_the_most_violated_ranking(measure):
    """Against all orderings: max_y Delta(y) + <M, psi(y) - psi(y*)>, in distances."""
    rng = np.random.default_rng(1)
    for _ in range(15):
        n_relevant, n_irrelevant = rng.integers(1, 4), rng.integers(1, 5)
        relevant_d = np.sort(rng.random(n_relevant)) * rng.choice([0.1, 1, 10])
        irrelevant_d = np.sort(rng.random(n_irrelevant)) * rng.choice([0.1, 1, 10])
        h = linear._swap_costs(measure, n_relevant, n_irrelevant)
        violation, loss, w_relevant, w_irrelevant = linear._ranking_oracle(
            relevant_d[None], irrelevant_d[None], h
        )
        distances = np.r_[relevant_d, irrelevant_d]
        is_relevant = np.arange(len(distances)) < n_relevant
        best = -np.inf
        for order in itertools.permutations(range(len(distances))):
            position = np.argsort(order)
            swapped = position[:n_relevant, None] > position[None, n_relevant:]
            gaps = relevant_d[:, None] - irrelevant_d[None, :]
            value = 1 - ranking_measure(measure, is_relevant[list(order)])
            best = max(best, value + 2 * (swapped * gaps).sum() / (n_relevant * n_irrelevant))
        assert violation[0] == pytest.approx(best, abs=1e-12)
        assert loss[0] + w_relevant[0] @ relevant_d + w_irrelevant[
            0
        ] @ irrelevant_d == pytest.approx(violation[0], abs=1e-12)


def test_mlr_weights_reproduce_per_query_violations():
    X, y = informative_plus_noise(40)
    distances = squared_distances(X)
    weights, total_loss = linear._mlr_weights(distances, y, "ap", chunk_size=500)
    violations = total_loss + (weights * distances).sum(1)
    assert np.all(violations >= -1e-12) and violations.sum() > 0
    np.testing.assert_allclose(weights.sum(1), 0, atol=1e-12)  # +1 and -1 per swapped pair


@pytest.mark.parametrize("measure", linear.RANKING_MEASURES)
def test_mlr_improves_average_precision(measure):
    X, y = informative_plus_noise(150)
    train, test = np.arange(150) < 100, np.arange(150) >= 100
    model = MLR(measure=measure).fit(X[train], y[train])
    euclidean = mean_average_precision(X[test], y[test], X[train], y[train])
    learned = mean_average_precision(
        model.transform(X[test]), y[test], model.transform(X[train]), y[train]
    )
    assert learned >= euclidean + 0.15
