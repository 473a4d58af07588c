r"""Mahalanobis metric learners written for teaching: LDA, NCA, LMNN, MMC, ITML, MLR, triplets.

Every learner finds a linear map :math:`L` (``components_``, shape (n_components, n_features)),
which defines the Mahalanobis distance

.. math:: d_M(x, x')^2 = (x - x')^\top M (x - x') = \lVert Lx - Lx' \rVert^2, \qquad M = L^\top L \succeq 0.

Each is a scikit-learn transformer: ``transform(X) = X @ components_.T``, so that Euclidean
nearest neighbours after it use :math:`d_M`. The course's canonical pipeline is::

    make_pipeline(StandardScaler(), LMNN(), KNeighborsClassifier(n_neighbors=1))

=======================  ==============================  ==========================================
learner                  supervision                     method
=======================  ==============================  ==========================================
``LDA``                  labels                          scikit-learn's LinearDiscriminantAnalysis
``NCA``                  labels                          stochastic 1-NN, L-BFGS, torch autograd
``LMNN``                 labels (target neighbours)      pull + impostor hinge, L-BFGS
``MMC``                  similar/dissimilar pairs        scale-free ratio, L-BFGS
``ITML``                 similar/dissimilar pairs        LogDet divergence, Bregman projections
``RelativeComparisons``  triplets (a closer to p, n)     diagonal metric, linear SVM
``MLR``                  labels as relevance (ranking)   structural SVM, AP/nDCG/MRR oracle
=======================  ==============================  ==========================================

Pair and triplet learners have ``fit_pairs`` / ``fit_triplets`` for explicit constraints and a
``fit(X, y)`` that samples them from labels with :func:`sample_pairs` / :func:`sample_triplets`.
Defaults are tuned for standardised features. metric-learn, the usual reference library, is not
used: version 0.7.0 fails with scikit-learn >= 1.8.

Used by the notebooks of series 1 (Foundations).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y

from utils.checks import check_int

Objective = Callable[[torch.Tensor], torch.Tensor]


# ----------------------------------------------------------------------------------------------
# Input validation
# ----------------------------------------------------------------------------------------------


def _check_X(X) -> np.ndarray:
    """X as a finite float64 array of shape (n_samples, n_features), n_samples >= 2."""
    return check_array(X, dtype=np.float64, ensure_min_samples=2)


def _check_labelled(X, y) -> tuple[np.ndarray, np.ndarray]:
    """X (n_samples, n_features) float64 and y encoded as class indices 0..n_classes-1."""
    X, y = check_X_y(X, y, dtype=np.float64, ensure_min_samples=2, y_numeric=False)
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"y has a single class ({classes[0]!r}); metric learning from labels needs at least "
            "2 classes."
        )
    return X, codes


def _check_n_components(n_components: int | None, largest: int, why: str) -> int:
    """n_components, or ``largest`` when None; a ValueError when outside 1..largest."""
    if n_components is None:
        return largest
    if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)):
        raise ValueError(f"n_components must be an integer or None, got {n_components!r}.")
    if not 1 <= n_components <= largest:
        raise ValueError(
            f"n_components must be between 1 and {largest} ({why}), got {n_components}."
        )
    return int(n_components)


def _check_index_array(array, width: int, n_samples: int, name: str) -> np.ndarray:
    """An integer array of shape (m, width), m >= 1, with entries in 0..n_samples-1."""
    array = np.asarray(array)
    if array.ndim != 2 or array.shape[1] != width or len(array) == 0:
        raise ValueError(f"{name} must have shape (m, {width}) with m >= 1, got {array.shape}.")
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integer row indices of X, got dtype {array.dtype}.")
    if array.min() < 0 or array.max() >= n_samples:
        raise ValueError(
            f"{name} holds indices outside 0..{n_samples - 1} (X has {n_samples} rows)."
        )
    return array.astype(np.intp)


def _check_pairs(pairs, same, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (m, 2) of row indices and their labels ``same`` (m,) bool, both kinds present."""
    pairs = _check_index_array(pairs, 2, n_samples, "pairs")
    same = np.asarray(same)
    if same.shape != (len(pairs),) or same.dtype != bool:
        raise ValueError(
            f"same must be a boolean array of shape ({len(pairs)},), one flag per pair, got "
            f"dtype {same.dtype} and shape {same.shape}."
        )
    if same.all() or not same.any():
        raise ValueError("pairs must include both similar (same=True) and dissimilar pairs.")
    return pairs, same


# ----------------------------------------------------------------------------------------------
# Sampling constraints from labels
# ----------------------------------------------------------------------------------------------


def _encode_labels(y) -> np.ndarray:
    """Labels as class indices 0..n_classes-1, shape (n_samples,); at least 2 classes."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, one label per sample, got shape {y.shape}.")
    codes = np.unique(y, return_inverse=True)[1].ravel()
    if codes.max(initial=0) < 1:
        raise ValueError("sampling constraints from labels needs at least 2 classes.")
    return codes


def _same_class_partners(codes: np.ndarray, anchors: np.ndarray, rng) -> np.ndarray:
    """For each anchor, a uniformly drawn other member of its class (the class needs 2 members).

    Vectorised: rows sorted by class, each partner is an offset into the anchor's class block
    that skips the anchor itself.
    """
    by_class = np.argsort(codes, kind="stable")
    counts = np.bincount(codes)
    starts = np.cumsum(counts) - counts
    rank_in_class = np.empty_like(by_class)
    rank_in_class[by_class] = np.arange(len(codes)) - starts[codes[by_class]]
    c = codes[anchors]
    offset = rng.integers(0, counts[c] - 1)
    offset += offset >= rank_in_class[anchors]
    return by_class[starts[c] + offset]


def _other_class_partners(codes: np.ndarray, anchors: np.ndarray, rng) -> np.ndarray:
    """For each anchor, a uniformly drawn row of another class (an offset that skips its block)."""
    by_class = np.argsort(codes, kind="stable")
    counts = np.bincount(codes)
    starts = np.cumsum(counts) - counts
    c = codes[anchors]
    offset = rng.integers(0, len(codes) - counts[c])
    return by_class[offset + (offset >= starts[c]) * counts[c]]


def _anchors_with_class_mates(codes: np.ndarray, n: int, rng) -> np.ndarray:
    """n rows drawn uniformly, with replacement, among those whose class has 2 or more members."""
    usable = np.flatnonzero(np.bincount(codes)[codes] >= 2)
    if len(usable) == 0:
        raise ValueError("every class has a single member: there is no similar pair to sample.")
    return rng.choice(usable, size=n)


def sample_pairs(y, n_pairs: int, random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sample similar (same label) and dissimilar pairs, half each, uniformly with replacement.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels, at least 2 classes.
    n_pairs : int
        Number of pairs: ``n_pairs // 2`` similar ones, the rest dissimilar.
    random_state : int
        Seed; the same seed gives the same pairs.

    Returns
    -------
    pairs : ndarray of shape (n_pairs, 2), int
        Row indices.
    same : ndarray of shape (n_pairs,), bool
        True for similar pairs (the first ``n_pairs // 2``).
    """
    codes = _encode_labels(y)
    n_pairs = check_int(n_pairs, "n_pairs")
    rng = np.random.default_rng(random_state)
    n_similar = n_pairs // 2
    anchors = _anchors_with_class_mates(codes, n_similar, rng)
    similar = np.column_stack([anchors, _same_class_partners(codes, anchors, rng)])
    anchors = rng.choice(len(codes), size=n_pairs - n_similar)
    dissimilar = np.column_stack([anchors, _other_class_partners(codes, anchors, rng)])
    return np.concatenate([similar, dissimilar]), np.arange(n_pairs) < n_similar


def sample_triplets(y, n_triplets: int, random_state: int = 0) -> np.ndarray:
    """Sample triplets (anchor, positive of its label, negative of another), uniformly with replacement.

    Returns
    -------
    triplets : ndarray of shape (n_triplets, 3), int
        Row indices; the anchor should be closer to the positive than to the negative.
    """
    codes = _encode_labels(y)
    rng = np.random.default_rng(random_state)
    anchors = _anchors_with_class_mates(codes, check_int(n_triplets, "n_triplets"), rng)
    positives = _same_class_partners(codes, anchors, rng)
    return np.column_stack([anchors, positives, _other_class_partners(codes, anchors, rng)])


def _default_n_constraints(n_constraints: int | None, y) -> int:
    """The number of pairs/triplets to sample from labels: 20 n_classes^2 unless given (metric-learn's rule)."""
    if n_constraints is not None:
        if n_constraints < 2:
            raise ValueError(f"n_constraints must be at least 2, got {n_constraints}.")
        return int(n_constraints)
    return 20 * len(np.unique(y)) ** 2


# ----------------------------------------------------------------------------------------------
# Shared numerics
# ----------------------------------------------------------------------------------------------


def _squared_distances(Z: torch.Tensor) -> torch.Tensor:
    """All squared Euclidean distances ||z_i - z_j||^2, shape (n, n) (in place: not for autograd)."""
    squared_norms = (Z * Z).sum(1)
    distances = torch.addmm(squared_norms, Z, Z.T, alpha=-2)
    distances += squared_norms[:, None]
    return distances.clamp_min_(0)


def _initial_components(init, X: np.ndarray, n_components: int) -> np.ndarray:
    """The starting L, shape (n_components, n_features).

    ``"auto"`` is the identity when no reduction is asked for, else ``"pca"`` (the top principal
    axes, which keep most of the Euclidean geometry); an array is used as it is.
    """
    n_features = X.shape[1]
    if isinstance(init, str) and init == "auto":
        init = "identity" if n_components == n_features else "pca"
    if isinstance(init, str) and init == "identity":
        return np.eye(n_components, n_features)
    if isinstance(init, str) and init == "pca":
        return PCA(n_components=n_components, svd_solver="full").fit(X).components_
    if isinstance(init, str):
        raise ValueError(f"init must be 'auto', 'identity', 'pca' or an array, got {init!r}.")
    init = np.asarray(init, dtype=np.float64)
    if init.shape != (n_components, n_features):
        raise ValueError(
            f"init must have shape (n_components, n_features) = ({n_components}, {n_features}), "
            f"got {init.shape}."
        )
    return init.copy()


def _minimize_lbfgs(
    objective: Objective, x0: np.ndarray, max_iter: int, tol: float, bounds=None
) -> tuple[np.ndarray, list[float], int, bool]:
    """Minimise ``objective`` (a torch function of a tensor shaped like x0) with L-BFGS-B.

    scipy's L-BFGS-B does the optimisation; torch autograd gives the gradient.

    Returns
    -------
    solution : ndarray shaped like x0
    loss_curve : list of float
        The objective at x0, then after each iteration (length n_iter + 1).
    n_iter : int
    converged : bool
        False when max_iter stopped the optimiser.
    """

    def value_and_gradient(flat: np.ndarray) -> tuple[float, np.ndarray]:
        x = torch.tensor(flat.reshape(x0.shape), dtype=torch.float64, requires_grad=True)
        loss = objective(x)
        (gradient,) = torch.autograd.grad(loss, x)
        return loss.item(), gradient.numpy().ravel()

    loss_curve = [value_and_gradient(x0.ravel())[0]]

    def record(intermediate_result) -> None:
        loss_curve.append(float(intermediate_result.fun))

    result = minimize(
        value_and_gradient,
        x0.ravel(),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        tol=tol,
        callback=record,
        options={"maxiter": max_iter},
    )
    return result.x.reshape(x0.shape), loss_curve, int(result.nit), result.nit < max_iter


def _components_from_metric(M: np.ndarray, n_components: int) -> np.ndarray:
    """The L with L^T L = M (restricted to M's n_components largest eigenvalues), rows by decreasing eigenvalue."""
    eigenvalues, eigenvectors = np.linalg.eigh((M + M.T) / 2)
    top = np.argsort(eigenvalues)[::-1][:n_components]
    return np.sqrt(np.clip(eigenvalues[top], 0, None))[:, None] * eigenvectors[:, top].T


# ----------------------------------------------------------------------------------------------
# The common interface
# ----------------------------------------------------------------------------------------------


class _MahalanobisLearner(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Shared by every learner: transform with L and expose M = L^T L."""

    def transform(self, X) -> np.ndarray:
        """Map X (n_samples, n_features) to X @ L.T, shape (n_samples, n_components)."""
        check_is_fitted(self, "components_")
        X = check_array(X, dtype=np.float64)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input (those it was fitted on)."
            )
        return X @ self.components_.T

    def get_mahalanobis_matrix(self) -> np.ndarray:
        """M = L^T L, shape (n_features, n_features), symmetric positive semi-definite."""
        check_is_fitted(self, "components_")
        return self.components_.T @ self.components_

    @property
    def _n_features_out(self) -> int:
        return self.components_.shape[0]

    def _store(self, components: np.ndarray) -> None:
        self.components_ = components
        self.n_features_in_ = components.shape[1]


class _GradientLearner(_MahalanobisLearner):
    """A learner that minimises an objective of L with L-BFGS from an ``init``."""

    def _optimise(self, objective: Objective, X: np.ndarray, n_components: int) -> None:
        L0 = _initial_components(self.init, X, n_components)
        L, self.loss_curve_, self.n_iter_, self.converged_ = _minimize_lbfgs(
            objective, L0, self.max_iter, self.tol
        )
        self._store(L)


# ----------------------------------------------------------------------------------------------
# LDA
# ----------------------------------------------------------------------------------------------


class _PairLearner:
    """Pair-constraint learners: ``fit(X, y)`` samples pairs from labels, then ``fit_pairs``."""

    def fit(self, X, y):
        """Fit on pairs sampled from labels y (n_samples,) with :func:`sample_pairs`."""
        X, codes = _check_labelled(X, y)
        n_pairs = _default_n_constraints(self.n_constraints, codes)
        return self.fit_pairs(X, *sample_pairs(codes, n_pairs, self.random_state))


class LDA(_MahalanobisLearner):
    """Fisher's linear discriminant analysis, scikit-learn's, seen as a Mahalanobis learner.

    ``components_ = scalings_[:, :n_components].T`` of a fitted
    :class:`~sklearn.discriminant_analysis.LinearDiscriminantAnalysis` (svd solver): directions
    that maximise between-class over within-class variance, scaled so the within-class covariance
    is the identity. ``transform`` differs from scikit-learn's only by a shift (scikit-learn
    subtracts the mean), so all distances are the same.

    Parameters
    ----------
    n_components : int or None
        At most min(n_classes - 1, n_features); None takes that maximum.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
    lda_ : LinearDiscriminantAnalysis
        The fitted scikit-learn model.
    """

    def __init__(self, n_components: int | None = None):
        self.n_components = n_components

    def fit(self, X, y) -> LDA:
        """Fit on X (n_samples, n_features) with labels y (n_samples,)."""
        X, codes = _check_labelled(X, y)
        largest = min(codes.max(), X.shape[1])
        n_components = _check_n_components(
            self.n_components, largest, "LDA gives at most n_classes - 1 directions"
        )
        self.lda_ = LinearDiscriminantAnalysis(n_components=n_components).fit(X, codes)
        self._store(self.lda_.scalings_[:, :n_components].T.copy())
        return self


# ----------------------------------------------------------------------------------------------
# NCA
# ----------------------------------------------------------------------------------------------


def _nca_loss(L: torch.Tensor, X: torch.Tensor, same_class: torch.Tensor) -> torch.Tensor:
    """Expected leave-one-out error of the stochastic 1-NN classifier, 1 - mean_i p_i.

    The logits are -||z_i - z_j||^2 = 2 z_i.z_j - ||z_j||^2 - ||z_i||^2 (z = Lx) without the last
    term, which is the same for a whole row and so cancels in the row's softmax.
    """
    Z = X @ L.T
    logits = torch.addmm((Z * Z).sum(1), Z, Z.T, beta=-1, alpha=2)
    logits.diagonal().fill_(-torch.inf)  # p_ii = 0
    p = torch.softmax(logits, dim=1)  # p_ij, each row sums to 1
    return 1 - (p * same_class).sum(1).mean()


class NCA(_GradientLearner):
    r"""Neighbourhood Components Analysis (Goldberger, Roweis, Hinton & Salakhutdinov, NeurIPS 2004).

    Each point :math:`i` picks a neighbour :math:`j` at random with probability

    .. math:: p_{ij} = \frac{\exp(-\lVert Lx_i - Lx_j\rVert^2)}
              {\sum_{k \ne i} \exp(-\lVert Lx_i - Lx_k\rVert^2)}, \qquad p_{ii} = 0,

    and takes its label; it is right with probability :math:`p_i = \sum_{j: y_j = y_i} p_{ij}`.
    NCA minimises the expected leave-one-out error of this stochastic 1-NN classifier,

    .. math:: \mathcal{L}(L) = 1 - \frac{1}{n} \sum_i p_i ,

    with L-BFGS, the gradient from torch autograd (float64). This is scikit-learn's
    NeighborhoodComponentsAnalysis objective, which maximises :math:`\sum_i p_i = n(1 - \mathcal{L})`.
    Memory and time per iteration: O(n^2) and O(n^2 n_components).

    Parameters
    ----------
    n_components : int or None
        Output dimension, 1..n_features; None keeps n_features.
    init : {"auto", "identity", "pca"} or ndarray of shape (n_components, n_features)
        Starting L; "auto" is the identity without reduction, else PCA.
    max_iter : int
        Most L-BFGS iterations.
    tol : float
        L-BFGS stops when the relative decrease of the loss or the largest gradient entry is below.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        L.
    loss_curve_ : list of float
        The loss at init, then after each iteration.
    n_iter_ : int
    converged_ : bool
    """

    def __init__(
        self,
        n_components: int | None = None,
        init: str | np.ndarray = "auto",
        max_iter: int = 50,
        tol: float = 1e-5,
    ):
        self.n_components = n_components
        self.init = init
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y) -> NCA:
        """Fit on X (n_samples, n_features) with labels y (n_samples,)."""
        X, codes = _check_labelled(X, y)
        n_components = _check_n_components(self.n_components, X.shape[1], "n_features")
        X_t, codes_t = torch.tensor(X), torch.from_numpy(codes)
        same_class = (codes_t[:, None] == codes_t[None, :]).double()
        self._optimise(lambda L: _nca_loss(L, X_t, same_class), X, n_components)
        return self


# ----------------------------------------------------------------------------------------------
# LMNN
# ----------------------------------------------------------------------------------------------


def _target_neighbors(X: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """Each row's k nearest same-class rows in Euclidean distance, shape (n_samples, k), int."""
    counts = np.bincount(codes)
    if counts.min() <= k:
        raise ValueError(
            f"every class needs more than k={k} members to have k target neighbours; the smallest "
            f"class has {counts.min()}. Lower k or drop tiny classes."
        )
    targets = np.empty((len(X), k), dtype=np.intp)
    for c in range(len(counts)):
        members = np.flatnonzero(codes == c)
        neighbours = NearestNeighbors(n_neighbors=k).fit(X[members]).kneighbors()[1]
        targets[members] = members[neighbours]
    return targets


def _active_triplets(
    distances: torch.Tensor, targets: torch.Tensor, different_class: torch.Tensor, margin: float
) -> Iterator[torch.Tensor]:
    """For each target column c, active[i, l]: is triplet (i, targets[i, c], l) inside the margin?

    It is when l has another label and ``d(i, l) < d(i, targets[i, c]) + margin`` (its hinge is
    positive). Yields k boolean masks of shape (n, n), one per column to keep memory at O(n^2).
    """
    target_distances = distances.gather(1, targets)
    for column in range(targets.shape[1]):
        yield different_class & (distances < target_distances[:, column, None] + margin)


def _pair_scatter(X: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """C = sum_ij W_ij (x_i - x_j)(x_i - x_j)^T, shape (n_features, n_features), for W (n, n).

    Then sum_ij W_ij ||L(x_i - x_j)||^2 = tr(L C L^T): a weighted sum of all pair distances in
    O(n^2 n_features) without forming the pairs, as X^T diag(W 1 + W^T 1) X - X^T (W + W^T) X.
    """
    degree = weights.sum(0) + weights.sum(1)
    cross = X.T @ (weights @ X)  # sum_ij W_ij x_i x_j^T
    return X.T @ (degree[:, None] * X) - cross - cross.T


def _lmnn_scatter(
    X: torch.Tensor,
    distances: torch.Tensor,
    targets: torch.Tensor,
    different_class: torch.Tensor,
    push_weight: float,
    margin: float,
) -> tuple[torch.Tensor, int]:
    """C (n_features, n_features) and n_active: LMNN loss = tr(L C L^T) + mu margin n_active.

    With the active triplets fixed, target pair (i, j) weighs (1 - mu) for the pull plus mu per
    active triplet it is in, and impostor pair (i, l) weighs -mu per active triplet it is in.
    """
    target_weights = torch.full(targets.shape, 1 - push_weight, dtype=X.dtype)
    impostor_counts = torch.zeros(distances.shape, dtype=torch.int32)
    masks = _active_triplets(distances, targets, different_class, margin)
    for column, active in enumerate(masks):
        target_weights[:, column] += push_weight * active.sum(1, dtype=torch.int32).to(X.dtype)
        impostor_counts += active
    target_differences = X[:, None, :] - X[targets]  # (n, k, n_features)
    pull = torch.einsum("ik,ikd,ike->de", target_weights, target_differences, target_differences)
    push = _pair_scatter(X, impostor_counts.to(X.dtype))
    return pull - push_weight * push, int(impostor_counts.sum())


def _lmnn_loss(
    L: torch.Tensor,
    X: torch.Tensor,
    targets: torch.Tensor,
    different_class: torch.Tensor,
    push_weight: float,
    margin: float,
) -> torch.Tensor:
    """(1 - mu) sum of target distances + mu sum of impostor hinges (see :class:`LMNN`)."""
    with torch.no_grad():
        distances = _squared_distances(X @ L.T)
        scatter, n_active = _lmnn_scatter(
            X, distances, targets, different_class, push_weight, margin
        )
    return ((L @ scatter) * L).sum() + push_weight * margin * n_active


def count_impostors(X, y, k: int = 3, L=None, margin: float = 1.0) -> int:
    r"""Number of active impostor triplets of LMNN under the map L (identity when None).

    A triplet :math:`(i, j, l)`, with :math:`j` one of the k target neighbours of :math:`i`
    (its nearest same-label points in the *input* space) and :math:`y_l \ne y_i`, is active when
    :math:`\lVert L(x_i - x_l)\rVert^2 < \lVert L(x_i - x_j)\rVert^2 + \text{margin}`.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    k : int
        Target neighbours per point.
    L : array-like of shape (n_components, n_features) or None
    margin : float
        margin=0 counts only points strictly closer than a target neighbour.
    """
    X, codes = _check_labelled(X, y)
    L = np.eye(X.shape[1]) if L is None else np.asarray(L, dtype=np.float64)
    if L.ndim != 2 or L.shape[1] != X.shape[1]:
        raise ValueError(f"L must have shape (n_components, {X.shape[1]}), got {L.shape}.")
    codes_t = torch.from_numpy(codes)
    distances = _squared_distances(torch.from_numpy(X @ L.T))
    targets = torch.from_numpy(_target_neighbors(X, codes, k))
    masks = _active_triplets(distances, targets, codes_t[:, None] != codes_t[None, :], margin)
    return sum(int(active.sum(dtype=torch.int64)) for active in masks)


class LMNN(_GradientLearner):
    r"""Large Margin Nearest Neighbour (Weinberger & Saul, JMLR 2009).

    Each point :math:`i` has k *target neighbours* :math:`j \rightsquigarrow i`, its nearest
    same-label points in the input space, fixed before learning. With
    :math:`D_{ij} = \lVert L(x_i - x_j)\rVert^2`, LMNN pulls target neighbours in and pushes
    *impostors* (other labels) out of a margin around them:

    .. math:: \mathcal{L}(L) = (1 - \mu) \sum_{i, j \rightsquigarrow i} D_{ij}
              + \mu \sum_{i, j \rightsquigarrow i} \sum_{l: y_l \ne y_i}
              [\text{margin} + D_{ij} - D_{il}]_+ .

    Vectorised: for a fixed set of active triplets the loss is
    :math:`\sum_{ij} W_{ij} D_{ij} + \text{const} = \mathrm{tr}(L C L^\top) + \text{const}`,
    with pair weights W (n, n) counted from the active set and
    :math:`C = \sum_{ij} W_{ij} (x_i - x_j)(x_i - x_j)^\top`, so the (sub)gradient is
    :math:`2 L C`. L-BFGS on this piecewise-quadratic loss (as in PyLMNN). Memory and time per
    iteration: O(n^2) and O(n^2 (k + n_features)).

    Parameters
    ----------
    n_components : int or None
        Output dimension, 1..n_features; None keeps n_features.
    k : int
        Target neighbours per point; every class needs more than k members.
    push_weight : float
        :math:`\mu` in [0, 1], the weight of the impostor term.
    margin : float
        Margin in squared distance units (suits standardised features).
    init, max_iter, tol
        As in :class:`NCA`.

    Attributes
    ----------
    components_, loss_curve_, n_iter_, converged_
        As in :class:`NCA`.
    targets_ : ndarray of shape (n_samples, k)
        Target neighbours of the training points.
    """

    def __init__(
        self,
        n_components: int | None = None,
        k: int = 3,
        push_weight: float = 0.5,
        margin: float = 1.0,
        init: str | np.ndarray = "auto",
        max_iter: int = 50,
        tol: float = 1e-5,
    ):
        self.n_components = n_components
        self.k = k
        self.push_weight = push_weight
        self.margin = margin
        self.init = init
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y) -> LMNN:
        """Fit on X (n_samples, n_features) with labels y (n_samples,)."""
        X, codes = _check_labelled(X, y)
        n_components = _check_n_components(self.n_components, X.shape[1], "n_features")
        if not 0 <= self.push_weight <= 1:
            raise ValueError(f"push_weight must be in [0, 1], got {self.push_weight}.")
        self.targets_ = _target_neighbors(X, codes, self.k)
        X_t, codes_t = torch.tensor(X), torch.from_numpy(codes)
        different_class = codes_t[:, None] != codes_t[None, :]
        targets = torch.from_numpy(self.targets_)
        objective = lambda L: _lmnn_loss(
            L, X_t, targets, different_class, self.push_weight, self.margin
        )
        self._optimise(objective, X, n_components)
        return self

    def impostor_count(self, X, y, margin: float | None = None) -> int:
        """:func:`count_impostors` of (X, y) under the learned map, with this model's k.

        ``margin`` defaults to the model's: the count of active triplets. Note that LMNN may
        shrink the space, which makes a fixed margin relatively wider; ``margin=0`` counts the
        impostors that actually come closer than a target neighbour.
        """
        check_is_fitted(self, "components_")
        margin = self.margin if margin is None else margin
        return count_impostors(X, y, k=self.k, L=self.components_, margin=margin)


# ----------------------------------------------------------------------------------------------
# MMC
# ----------------------------------------------------------------------------------------------


def _pair_differences(X: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """x_i - x_j for each pair (i, j), shape (m, n_features)."""
    return X[pairs[:, 0]] - X[pairs[:, 1]]


def _mmc_loss(L: torch.Tensor, similar: torch.Tensor, dissimilar: torch.Tensor) -> torch.Tensor:
    """-log sum_D d_M + 1/2 log sum_S d_M^2: scale-free, so the optimum's scale is free."""
    spread = (dissimilar @ L.T).square().sum(1).clamp_min(1e-300).sqrt().sum()
    compactness = (similar @ L.T).square().sum()
    return -spread.log() + 0.5 * compactness.log()


class MMC(_PairLearner, _GradientLearner):
    r"""Mahalanobis Metric for Clustering (Xing, Ng, Jordan & Russell, NeurIPS 2002).

    Spread the dissimilar pairs :math:`\mathcal{D}` apart while keeping the similar pairs
    :math:`\mathcal{S}` together:

    .. math:: \max_{M \succeq 0} \sum_{(i,j) \in \mathcal{D}} d_M(x_i, x_j)
              \quad \text{s.t.} \quad \sum_{(i,j) \in \mathcal{S}} d_M(x_i, x_j)^2 \le 1 .

    With :math:`M = L^\top L` (PSD by construction), scaling L by s scales the objective by s
    and the constraint by s^2, so the constraint is active at the optimum and the problem is the
    scale-free maximisation of :math:`\sum_\mathcal{D} d_M / (\sum_\mathcal{S} d_M^2)^{1/2}`.
    We minimise minus its logarithm with L-BFGS, then rescale L so that the constraint holds with
    equality. (Xing et al. alternate gradient steps with projections onto the constraint and the
    PSD cone; the problem is the same.) Only the ratio of distances matters to a nearest-neighbour
    classifier; the absolute scale of the result is small.

    Pitfall: the optimum is often nearly low-rank (a few directions that spread the classes'
    centres apart), which suits clustering but can make k-NN worse than Euclidean (it does on
    scikit-learn's digits).

    Parameters
    ----------
    n_components : int or None
        Output dimension, 1..n_features; None keeps n_features.
    n_constraints : int or None
        Pairs that ``fit(X, y)`` samples (half similar); None: 20 n_classes^2.
    init, max_iter, tol
        As in :class:`NCA`.
    random_state : int
        Seed of the pair sampling.

    Attributes
    ----------
    components_, loss_curve_, n_iter_, converged_
        As in :class:`NCA`.
    """

    def __init__(
        self,
        n_components: int | None = None,
        n_constraints: int | None = None,
        init: str | np.ndarray = "auto",
        max_iter: int = 200,
        tol: float = 1e-6,
        random_state: int = 0,
    ):
        self.n_components = n_components
        self.n_constraints = n_constraints
        self.init = init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def fit_pairs(self, X, pairs, same) -> MMC:
        """Fit on explicit pairs (m, 2) of row indices of X, ``same`` (m,) True when similar."""
        X = _check_X(X)
        pairs, same = _check_pairs(pairs, same, len(X))
        n_components = _check_n_components(self.n_components, X.shape[1], "n_features")
        differences = _pair_differences(X, pairs)
        similar, dissimilar = (
            torch.from_numpy(differences[same]),
            torch.from_numpy(differences[~same]),
        )
        self._optimise(lambda L: _mmc_loss(L, similar, dissimilar), X, n_components)
        compactness = np.square(similar.numpy() @ self.components_.T).sum()
        self.components_ = self.components_ / np.sqrt(compactness)
        return self


# ----------------------------------------------------------------------------------------------
# ITML
# ----------------------------------------------------------------------------------------------


def _logdet_divergence(A: np.ndarray) -> float:
    """D_ld(A, I) = tr(A) - log det(A) - d for a positive definite A (d, d)."""
    return float(np.trace(A) - np.linalg.slogdet(A)[1] - len(A))


class ITML(_PairLearner, _MahalanobisLearner):
    r"""Information-Theoretic Metric Learning (Davis, Kulis, Jain, Sra & Dhillon, ICML 2007).

    Stay as close as possible to the Euclidean metric, in LogDet divergence, while similar pairs
    come within u and dissimilar pairs go beyond l (squared distances):

    .. math:: \min_{M \succ 0,\ \xi} D_{\ell d}(M, I) + \gamma D_{\ell d}(\mathrm{diag}\,\xi,
              \mathrm{diag}\,\xi_0) \quad \text{s.t.} \quad d_M(i, j)^2 \le \xi_{ij}\ (\mathcal{S}),
              \quad d_M(i, j)^2 \ge \xi_{ij}\ (\mathcal{D}),

    with :math:`D_{\ell d}(A, B) = \mathrm{tr}(AB^{-1}) - \log\det(AB^{-1}) - d` and slack targets
    :math:`\xi_0` = u (similar), l (dissimilar). Solved as in the paper by cyclic Bregman
    projections: each step projects onto one constraint with the rank-one update
    :math:`M \leftarrow M + \beta M v v^\top M`, :math:`v = x_i - x_j`, which keeps M positive
    definite; a sweep visits every constraint. Stops when the dual variables change by less than
    ``tol`` (relative, L1) over a sweep. Each step is O(n_features^2), in a Python loop.

    Parameters
    ----------
    n_components : int or None
        Rank kept from M (largest eigenvalues), 1..n_features; None keeps the full M.
    gamma : float
        Slack trade-off; larger enforces the constraints more strictly.
    bounds : (u, l) or None
        Distance bounds; None: 5th and 95th percentiles of the squared Euclidean distances between
        the constrained points.
    n_constraints : int or None
        Pairs that ``fit(X, y)`` samples (half similar); None: 20 n_classes^2.
    max_iter : int
        Most sweeps.
    tol : float
    random_state : int
        Seed of the pair sampling.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
    metric_ : ndarray of shape (n_features, n_features)
        The full learned M (``get_mahalanobis_matrix`` gives its truncation to n_components).
    bounds_ : ndarray of shape (2,)
        (u, l) used.
    loss_curve_ : list of float
        The objective after each sweep.
    n_iter_ : int
        Sweeps done.
    converged_ : bool
    """

    def __init__(
        self,
        n_components: int | None = None,
        gamma: float = 1.0,
        bounds: tuple[float, float] | None = None,
        n_constraints: int | None = None,
        max_iter: int = 100,
        tol: float = 1e-3,
        random_state: int = 0,
    ):
        self.n_components = n_components
        self.gamma = gamma
        self.bounds = bounds
        self.n_constraints = n_constraints
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def fit_pairs(self, X, pairs, same) -> ITML:
        """Fit on explicit pairs (m, 2) of row indices of X, ``same`` (m,) True when similar."""
        X = _check_X(X)
        pairs, same = _check_pairs(pairs, same, len(X))
        n_components = _check_n_components(self.n_components, X.shape[1], "n_features")
        if self.gamma <= 0:
            raise ValueError(f"gamma must be positive, got {self.gamma}.")
        self.bounds_ = self._bounds(X, pairs)
        differences = _pair_differences(X, pairs)
        keep = np.any(differences != 0, axis=1)  # a pair of identical points constrains nothing
        self.metric_ = self._bregman_projections(differences[keep], same[keep])
        self._store(_components_from_metric(self.metric_, n_components))
        return self

    def _bounds(self, X: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """(u, l): given, or percentiles 5 and 95 of squared distances among constrained points."""
        if self.bounds is not None:
            u, l = self.bounds
            if not 0 < u < l:
                raise ValueError(f"bounds (u, l) need 0 < u < l, got {self.bounds}.")
            return np.array([u, l], dtype=np.float64)
        points = torch.from_numpy(X[np.unique(pairs)[:1000]])
        distances = _squared_distances(points).numpy()
        return np.percentile(distances[np.triu_indices(len(points), 1)], [5, 95])

    def _bregman_projections(self, differences: np.ndarray, same: np.ndarray) -> np.ndarray:
        """Algorithm 1 of Davis et al. (2007) as in their released code: M (n_features, n_features).

        Per constraint: alpha = min(lambda, delta gamma/(gamma+1) (1/p - 1/xi)),
        beta = delta alpha / (1 - delta alpha p), 1/xi += delta alpha / gamma, lambda -= alpha,
        M += beta M v v^T M, with p = v^T M v and delta = +1 (similar) or -1 (dissimilar).
        """
        u, l = self.bounds_
        sign = np.where(same, 1.0, -1.0)  # delta: +1 similar (d <= u), -1 dissimilar (d >= l)
        slack_targets = np.where(same, u, l)
        slack = slack_targets.copy()  # xi
        duals = np.zeros(len(differences))  # lambda
        M = np.eye(differences.shape[1])
        step = self.gamma / (self.gamma + 1)
        self.loss_curve_, self.n_iter_, self.converged_ = [], 0, False
        while self.n_iter_ < self.max_iter and not self.converged_:
            self.n_iter_ += 1
            previous_duals = duals.copy()
            for c, v in enumerate(differences):
                Mv = M @ v
                p = v @ Mv
                alpha = min(duals[c], sign[c] * step * (1 / p - 1 / slack[c]))
                if alpha == 0:  # satisfied and inactive: nothing moves
                    continue
                beta = sign[c] * alpha / (1 - sign[c] * alpha * p)
                slack[c] = 1 / (1 / slack[c] + sign[c] * alpha / self.gamma)
                duals[c] -= alpha
                M += beta * np.outer(Mv, Mv)
            ratio = slack / slack_targets
            self.loss_curve_.append(
                _logdet_divergence(M) + self.gamma * float(np.sum(ratio - np.log(ratio) - 1))
            )
            change = np.abs(duals - previous_duals).sum()
            total = np.abs(duals).sum() + np.abs(previous_duals).sum()
            self.converged_ = total == 0 or change / total < self.tol
        return M


# ----------------------------------------------------------------------------------------------
# Relative comparisons
# ----------------------------------------------------------------------------------------------


class RelativeComparisons(_MahalanobisLearner):
    r"""Learning a distance metric from relative comparisons (Schultz & Joachims, NeurIPS 2003).

    A triplet (a, p, n) says "a is closer to p than to n". For a diagonal metric
    :math:`M = \mathrm{diag}(w)`, :math:`w \ge 0`, the squared distance
    :math:`\sum_f w_f (x_f - x'_f)^2` is linear in w, so each triplet is a linear constraint
    :math:`w^\top z_t \ge 1 - \xi_t` with :math:`z_t = (x_a - x_n)^{\odot 2} - (x_a - x_p)^{\odot 2}`,
    and learning w is a linear SVM without bias, restricted to :math:`w \ge 0`:

    .. math:: \min_{w \ge 0} \tfrac12 \lVert w \rVert^2 + C \sum_t \max(0, 1 - w^\top z_t)^2 .

    The squared hinge (the L2-loss SVM) keeps the objective smooth, so L-BFGS-B with bounds
    solves it exactly; Schultz & Joachims used the plain hinge with SVM-light.

    Parameters
    ----------
    n_components : int or None
        Number of features kept (those of largest weight); None keeps all.
    C : float
        Weight of the triplet loss against the regulariser.
    n_constraints : int or None
        Triplets that ``fit(X, y)`` samples with :func:`sample_triplets`; None: 20 n_classes^2.
    max_iter, tol
        Of L-BFGS-B.
    random_state : int
        Seed of the triplet sampling.

    Attributes
    ----------
    weights_ : ndarray of shape (n_features,)
        w, the diagonal of M.
    components_ : ndarray of shape (n_components, n_features)
        Rows of diag(sqrt(w)), largest weights first.
    loss_curve_, n_iter_, converged_
        As in :class:`NCA`.
    """

    def __init__(
        self,
        n_components: int | None = None,
        C: float = 1.0,
        n_constraints: int | None = None,
        max_iter: int = 500,
        tol: float = 1e-8,
        random_state: int = 0,
    ):
        self.n_components = n_components
        self.C = C
        self.n_constraints = n_constraints
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def fit(self, X, y) -> RelativeComparisons:
        """Fit on triplets sampled from labels y (n_samples,) with :func:`sample_triplets`."""
        X, codes = _check_labelled(X, y)
        n_triplets = _default_n_constraints(self.n_constraints, codes)
        return self.fit_triplets(X, sample_triplets(codes, n_triplets, self.random_state))

    def fit_triplets(self, X, triplets) -> RelativeComparisons:
        """Fit on triplets (m, 3) of row indices of X: (anchor, closer, farther)."""
        X = _check_X(X)
        triplets = _check_index_array(triplets, 3, len(X), "triplets")
        n_components = _check_n_components(self.n_components, X.shape[1], "n_features")
        anchors, closer, farther = X[triplets[:, 0]], X[triplets[:, 1]], X[triplets[:, 2]]
        z = torch.from_numpy((anchors - farther) ** 2 - (anchors - closer) ** 2)
        objective = lambda w: 0.5 * (w @ w) + self.C * (1 - z @ w).clamp_min(0).square().sum()
        w0 = np.ones(X.shape[1])
        bounds = [(0, None)] * X.shape[1]
        self.weights_, self.loss_curve_, self.n_iter_, self.converged_ = _minimize_lbfgs(
            objective, w0, self.max_iter, self.tol, bounds
        )
        top = np.argsort(self.weights_, kind="stable")[::-1][:n_components]
        self._store(np.diag(np.sqrt(self.weights_))[top])
        return self


# ----------------------------------------------------------------------------------------------
# MLR
# ----------------------------------------------------------------------------------------------


RANKING_MEASURES = ("ap", "ndcg", "mrr")


def _swap_costs(measure: str, n_relevant: int, n_irrelevant: int) -> np.ndarray:
    r"""h[i, j]: how much the measure drops when the j-th irrelevant item passes the i-th relevant.

    Every measure here scores the i-th relevant item by a gain g(i, c) that depends on its rank
    among relevant items, i, and the number c of irrelevant items ranked above it; so
    :math:`1 - \text{measure} = \sum_{(i, j) \text{ swapped}} h_{ij}` with
    :math:`h_{ij} = g(i, j - 1) - g(i, j)` (1-based). Shape (n_relevant, n_irrelevant).

    - AP: :math:`g = i / (|P| (i + c))`, precision at the item's rank over |P|.
    - nDCG: :math:`g = 1 / (\mathrm{IDCG} \log_2(1 + i + c))`.
    - MRR: :math:`g = [i = 1] / (1 + c)`.
    """
    i = np.arange(1, n_relevant + 1, dtype=np.float64)[:, None]
    c = np.arange(n_irrelevant + 1, dtype=np.float64)[None, :]
    if measure == "ap":
        gain = i / (n_relevant * (i + c))
    elif measure == "ndcg":
        ideal = np.sum(1 / np.log2(1 + i))
        gain = 1 / (ideal * np.log2(1 + i + c))
    else:
        gain = (i == 1) / (1 + c)
    return gain[:, :-1] - gain[:, 1:]


def _ranking_oracle(
    relevant_distances: np.ndarray, irrelevant_distances: np.ndarray, swap_costs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""Most violated rankings of a batch of queries (Yue et al. 2007, for any :func:`_swap_costs`).

    For one query with relevant distances sorted ascending (i = 1..P) and irrelevant ones
    (j = 1..N), a ranking that keeps each group in that order is set by k_j, the number of
    relevant items ranked above irrelevant item j. Its violation

    .. math:: \sum_j \sum_{i > k_j} \big[h_{ij} + \tfrac{2}{PN} (d_i - d_j)\big]

    separates over j: column j adds its total minus its smallest prefix sum (k_j = the prefix
    length, 0 when no prefix is negative). The best k_j are non-decreasing in j, since h_ij
    decreases and d_j increases with j (Yue et al.'s argument), so a ranking attains this sum.
    O(B P N) time and memory.

    Parameters
    ----------
    relevant_distances : (B, P), each row sorted ascending
    irrelevant_distances : (B, N), each row sorted ascending
    swap_costs : (P, N)

    Returns
    -------
    violation : (B,), xi of each query, >= 0
    loss : (B,), 1 - measure of each most violated ranking
    relevant_weights, irrelevant_weights : (B, P), (B, N)
        With ``violation = loss + sum of weights * distances``.
    """
    B, P = relevant_distances.shape
    N = irrelevant_distances.shape[1]
    scale = 2 / (P * N)
    # prefix[:, j, k - 1] = sum_{i <= k} [h_ij + scale (d_i - d_j)] for k = 1..P, i.e.
    # cumulated costs + scale (cumulated relevant distances - k d_j); k last, contiguous
    cost_prefix = np.zeros((N, P + 1))  # cost_prefix[j, k] = sum_{i <= k} h_ij
    cost_prefix[:, 1:] = np.cumsum(swap_costs, axis=0).T
    relevant_prefix = np.cumsum(relevant_distances, axis=1)  # (B, P)
    k_range = np.arange(1, P + 1)
    prefix = cost_prefix[:, 1:] + scale * (
        relevant_prefix[:, None, :] - k_range * irrelevant_distances[:, :, None]
    )
    shortest = prefix.argmin(axis=2)
    smallest = np.minimum(np.take_along_axis(prefix, shortest[:, :, None], axis=2)[:, :, 0], 0)
    k = np.where(smallest < 0, shortest + 1, 0)  # (B, N)
    violation = (prefix[:, :, -1] - smallest).sum(1)
    loss = (cost_prefix[:, -1] - cost_prefix[np.arange(N), k]).sum(1)
    k_counts = np.bincount((k + (P + 1) * np.arange(B)[:, None]).ravel(), minlength=B * (P + 1))
    irrelevant_above = np.cumsum(k_counts.reshape(B, P + 1), axis=1)[:, :P]  # #{j : k_j < i}
    return violation, loss, scale * irrelevant_above, -scale * (P - k)


def _mlr_weights(
    distances: np.ndarray, codes: np.ndarray, measure: str, chunk_size: float = 4e6
) -> tuple[np.ndarray, float]:
    """Pair weights W (n, n) and total loss so that sum_q xi_q = total loss + sum(W * D).

    Each point is a query; its class mates are relevant. Queries of one class share P and N and
    are batched (in chunks of about ``chunk_size`` oracle entries).
    """
    weights = np.zeros_like(distances)
    total_loss = 0.0
    for c in np.unique(codes):
        members, others = np.flatnonzero(codes == c), np.flatnonzero(codes != c)
        if len(members) < 2:
            continue
        swap_costs = _swap_costs(measure, len(members) - 1, len(others))
        n_chunks = int(np.ceil(len(members) * swap_costs.size / chunk_size))
        for queries in np.array_split(members, n_chunks):
            relevant = distances[np.ix_(queries, members)]
            relevant[queries[:, None] == members[None, :]] = -np.inf  # the query itself sorts first
            relevant_order = members[np.argsort(relevant, axis=1)[:, 1:]]
            irrelevant_order = others[np.argsort(distances[np.ix_(queries, others)], axis=1)]
            rows = queries[:, None]
            _, loss, relevant_weights, irrelevant_weights = _ranking_oracle(
                distances[rows, relevant_order], distances[rows, irrelevant_order], swap_costs
            )
            weights[rows, relevant_order] = relevant_weights
            weights[rows, irrelevant_order] = irrelevant_weights
            total_loss += loss.sum()
    return weights, total_loss


def _mlr_loss(
    L: torch.Tensor, X: torch.Tensor, codes: np.ndarray, measure: str, C: float
) -> torch.Tensor:
    """||L||_F^2 + C mean_q xi_q (see :class:`MLR`); xi_q = loss + tr(L C L^T) given the oracle."""
    with torch.no_grad():
        distances = _squared_distances(X @ L.T).numpy()
        weights, total_loss = _mlr_weights(distances, codes, measure)
        scatter = _pair_scatter(X, torch.from_numpy(weights))
    violations = total_loss + ((L @ scatter) * L).sum()
    return (L * L).sum() + C * violations / len(X)


class MLR(_GradientLearner):
    r"""Metric Learning to Rank (McFee & Lanckriet, ICML 2010).

    Every training point q is a query; the points of its class are relevant (P), the others not
    (N). Ranking the others by increasing :math:`d_M(q, \cdot)` should score well on a ranking
    measure (AP, nDCG or MRR). MLR is a structural SVM over rankings y:

    .. math:: \min_{M \succeq 0} \mathrm{tr}(M) + \frac{C}{n} \sum_q \xi_q, \qquad
              \xi_q = \max_y \Big[\Delta(y^*_q, y) + \langle M, \psi(q, y) - \psi(q, y^*_q)\rangle\Big],

    with :math:`\Delta = 1 - \text{measure}(y)`, :math:`y^*_q` a perfect ranking,
    :math:`\psi(q, y) = \sum_{i \in P, j \in N} y_{ij} (\phi_{qi} - \phi_{qj}) / (|P||N|)`,
    :math:`\phi_{qx} = -(q - x)(q - x)^\top` and :math:`y_{ij} = \pm 1` as i precedes j or not.
    Since :math:`\langle M, \phi_{qx}\rangle = -d_M(q, x)^2`, :math:`\xi_q` sums, over the pairs
    the ranking y swaps (j above i), the measure's loss plus :math:`2 (d_{qi}^2 - d_{qj}^2)/(|P||N|)`;
    the most violated y comes from the separation oracle of Yue, Finley, Radlinski & Joachims
    (SIGIR 2007), here written for AP, nDCG and MRR alike (as Chakrabarti et al., KDD 2008).

    Variant: with :math:`M = L^\top L`, :math:`\mathrm{tr}(M) = \lVert L\rVert_F^2`, and the
    objective (averaged per-query slacks, whose optimum equals the 1-slack form of the paper) is
    minimised over L by L-BFGS, the oracle's ranking giving the subgradient, rather than by the
    paper's cutting planes. Time per iteration O(n^3 / n_classes) (the oracle), memory O(n^2):
    meant for hundreds of points.

    Parameters
    ----------
    n_components : int or None
        Output dimension, 1..n_features; None keeps n_features.
    measure : {"ap", "ndcg", "mrr"}
        Ranking measure to optimise.
    C : float
        Weight of the ranking loss against tr(M).
    init, max_iter, tol
        As in :class:`NCA`.

    Attributes
    ----------
    components_, loss_curve_, n_iter_, converged_
        As in :class:`NCA`.
    """

    def __init__(
        self,
        n_components: int | None = None,
        measure: str = "ap",
        C: float = 100.0,
        init: str | np.ndarray = "auto",
        max_iter: int = 100,
        tol: float = 1e-5,
    ):
        self.n_components = n_components
        self.measure = measure
        self.C = C
        self.init = init
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y) -> MLR:
        """Fit on X (n_samples, n_features); points with the same label y are relevant to each other."""
        X, codes = _check_labelled(X, y)
        n_components = _check_n_components(self.n_components, X.shape[1], "n_features")
        if self.measure not in RANKING_MEASURES:
            raise ValueError(f"measure must be one of {RANKING_MEASURES}, got {self.measure!r}.")
        X_t = torch.tensor(X)
        self._optimise(lambda L: _mlr_loss(L, X_t, codes, self.measure, self.C), X, n_components)
        return self
