"""Deep metric learning losses, written to be read and checked against pytorch-metric-learning.

Used by the notebooks of series 2 (Siamese and triplet networks, mining, modern losses) and
series 3 (audio-text, audio-score and mixture-solo embeddings).

Every loss but :class:`CrossModalInfoNCE` is a ``torch.nn.Module`` called as in
pytorch-metric-learning (PML)::

    loss = loss_fn(embeddings, labels, indices_tuple=None)

with ``embeddings`` of shape (batch, dim), integer ``labels`` of shape (batch,) and an optional
``indices_tuple`` from a miner: ``(anchors, positives, negatives)`` triplets or
``(anchors1, positives, anchors2, negatives)`` pairs, each a LongTensor of batch positions.
Without it a loss uses every valid pair or triplet of the batch.

Defaults and reductions are PML's (version 2.9), and the tests check values and gradients against
PML in float64:

==========================  =======================================  ==============================
loss                        defaults                                 reduction (PML reducer)
==========================  =======================================  ==============================
``ContrastiveLoss``         pos_margin=0, neg_margin=1               mean over non-zero pairs, for
                                                                     positives and negatives apart
``TripletMarginLoss``       margin=0.05                              mean over non-zero triplets
``NTXentLoss``              temperature=0.07                         mean over positive pairs
``SupConLoss``              temperature=0.1                          mean over non-zero anchors
``ProxyNCALoss``            softmax_scale=1, proxies ~ N(0, 1)       mean over the batch
``ProxyAnchorLoss``         margin=0.1, alpha=32, Kaiming proxies    sum / number of proxies
``NormalizedSoftmaxLoss``   temperature=0.05, proxies ~ N(0, 1)      mean over the batch
``ArcFaceLoss``             margin=28.6 (degrees), scale=64          mean over the batch
``CrossModalInfoNCE``       temperature=0.07 (not in PML)            mean of both directions
==========================  =======================================  ==============================

Embeddings are L2-normalised inside every loss (PML's default distances do the same), so the
Euclidean distances lie in [0, 2] and the cosine similarities in [-1, 1]. Losses with learnable
class vectors keep them in a parameter ``proxies`` of shape (num_classes, embedding_size): give
``loss_fn.parameters()`` to the optimiser (:func:`utils.train.train` does).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

IndicesTuple = Sequence[Tensor]

# ---------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------


def check_embeddings(
    embeddings: Tensor, labels: Tensor | Sequence[int] | None = None
) -> Tensor | None:
    """Check a batch of embeddings (and labels); return the labels as a LongTensor on its device.

    Raises ``TypeError``/``ValueError`` naming the problem: not a floating-point tensor, not 2-D,
    not finite, labels not 1-D integers, or a different number of labels and embeddings.
    """
    if not isinstance(embeddings, Tensor) or not embeddings.is_floating_point():
        raise TypeError(
            f"embeddings must be a floating-point torch.Tensor, got {type(embeddings).__name__}"
            + (f" of dtype {embeddings.dtype}" if isinstance(embeddings, Tensor) else "")
        )
    if embeddings.ndim != 2:
        raise ValueError(
            f"embeddings must have shape (batch, dim), got shape {tuple(embeddings.shape)}; "
            "use x.reshape(len(x), -1) or x[None] for a single embedding"
        )
    if embeddings.numel() == 0:
        raise ValueError(f"embeddings are empty (shape {tuple(embeddings.shape)}): a batch needs items")
    if not torch.isfinite(embeddings).all():
        raise ValueError(
            "embeddings contain NaN or infinite values (check the model's inputs and learning rate)"
        )
    if labels is None:
        return None
    labels = _as_label_tensor(labels, embeddings.device)
    if labels.is_floating_point() or labels.dtype == torch.bool or labels.is_complex():
        raise TypeError(f"labels must be integers, got dtype {labels.dtype}")
    if labels.ndim != 1 or len(labels) != len(embeddings):
        raise ValueError(
            f"labels must have shape (batch,) = ({len(embeddings)},) to match the embeddings, "
            f"got shape {tuple(labels.shape)}"
        )
    return labels.long()


def _as_label_tensor(labels: Tensor | Sequence[int], device: torch.device) -> Tensor:
    """``labels`` as a tensor on ``device``; a ``TypeError`` for names or other non-numbers."""
    try:
        return torch.as_tensor(labels, device=device)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(
            "labels must be integers (class codes); map names to codes with "
            f"np.unique(names, return_inverse=True)[1] ({error})"
        ) from error


def check_indices_tuple(indices_tuple: IndicesTuple, batch_size: int) -> None:
    """Check a miner's output: 3 (triplets) or 4 (pairs) 1-D integer tensors of batch positions."""
    if not isinstance(indices_tuple, (tuple, list)) or len(indices_tuple) not in (3, 4):
        raise ValueError(
            "indices_tuple must be (anchors, positives, negatives) or "
            "(anchors1, positives, anchors2, negatives), as a miner returns"
        )
    for index in indices_tuple:
        if not isinstance(index, Tensor) or index.ndim != 1 or index.is_floating_point():
            raise ValueError("each entry of indices_tuple must be a 1-D integer tensor")
        if len(index) and (index.min() < 0 or index.max() >= batch_size):
            raise ValueError(f"indices_tuple refers to positions outside the batch of {batch_size}")
    lengths = [len(index) for index in indices_tuple]
    same_lengths = (
        len(set(lengths)) == 1
        if len(lengths) == 3
        else lengths[0] == lengths[1] and lengths[2] == lengths[3]
    )
    if not same_lengths:
        raise ValueError(f"indices_tuple entries have inconsistent lengths {lengths}")


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{name} must be positive, got {value}")


def _check_non_negative(**values: float) -> None:
    for name, value in values.items():
        if not value >= 0:
            raise ValueError(f"{name} must be non-negative, got {value}")


# ---------------------------------------------------------------------------------------------
# Distances, pairs and triplets (shared with utils.miners)
# ---------------------------------------------------------------------------------------------


def pairwise_distances(x: Tensor, y: Tensor | None = None) -> Tensor:
    r"""Euclidean distances between the rows of ``x`` (n, d) and ``y`` (m, d, default ``x``): (n, m).

    Uses :math:`\|x - y\|^2 = \|x\|^2 + \|y\|^2 - 2 x^\top y` (one matrix product), as
    ``torch.cdist`` does on large inputs: the cancellation makes distances near zero accurate to
    about :math:`\sqrt{\epsilon}\,\|x\|` only. Squared distances are clipped at
    :math:`10^{-30}`, again as ``torch.cdist`` does, so that a zero distance (an item and
    itself, or a duplicate) has a zero gradient rather than NaN.
    """
    reference = x if y is None else y
    squared = torch.addmm((reference * reference).sum(1), x, reference.T, alpha=-2)
    squared = squared + (x * x).sum(1, keepdim=True)
    if y is None:
        squared.fill_diagonal_(0)
    return squared.clamp_min(1e-30).sqrt()


def distances_of_pairs(x: Tensor, *pairs: tuple[Tensor, Tensor]) -> list[Tensor]:
    """Distances ``||x[first[i]] - x[second[i]]||`` for each ``(first, second)`` in ``pairs``.

    A few pairs (a mined batch) are computed row by row, O(n_pairs * dim); many pairs are read
    from the (n, n) distance matrix, one matrix product.
    """
    if sum(len(first) for first, _ in pairs) * 8 <= len(x) ** 2:
        return [torch.linalg.vector_norm(x[first] - x[second], dim=1) for first, second in pairs]
    matrix = pairwise_distances(x)
    return [matrix[first, second] for first, second in pairs]


def label_masks(labels: Tensor) -> tuple[Tensor, Tensor]:
    """Boolean (n, n) masks of positive pairs (same label, i != j) and negative pairs."""
    same = labels[:, None] == labels[None, :]
    positive = same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return positive, ~same


def pair_counts(
    indices_tuple: IndicesTuple | None, labels: Tensor, dtype: torch.dtype
) -> tuple[Tensor, Tensor]:
    """How often each pair (i, j) is used as a positive and as a negative pair: two (n, n).

    Without a miner every valid pair is used once; a miner's triplets (a, p, n) use (a, p) and
    (a, n) once per triplet, so a pair may count several times, as in PML.
    """
    if indices_tuple is None:
        return tuple(mask.to(dtype) for mask in label_masks(labels))
    anchors1, positives, anchors2, negatives = as_pairs(indices_tuple, labels)
    counts = []
    for first, second in ((anchors1, positives), (anchors2, negatives)):
        count = torch.zeros(len(labels), len(labels), dtype=dtype, device=labels.device)
        ones = torch.ones(len(first), dtype=dtype, device=labels.device)
        counts.append(count.index_put_((first, second), ones, accumulate=True))
    return counts[0], counts[1]


def all_pairs(labels: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Every positive pair (anchors1, positives) and negative pair (anchors2, negatives)."""
    positive, negative = label_masks(labels)
    return (*positive.nonzero(as_tuple=True), *negative.nonzero(as_tuple=True))


def all_triplets(labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Every valid triplet (a, p, n): labels[a] == labels[p], a != p, labels[a] != labels[n].

    Sorted by anchor, then positive, then negative; memory is proportional to the number of
    triplets (no (n, n, n) tensor).
    """
    positive, negative = label_masks(labels)
    anchors, positives = positive.nonzero(as_tuple=True)
    negatives_sorted_by_anchor = negative.nonzero(as_tuple=True)[1]
    negatives_per_anchor = negative.sum(1)
    first_negative_of_anchor = negatives_per_anchor.cumsum(0) - negatives_per_anchor
    # Each positive pair (a, p) is repeated once per negative of a ...
    triplets_per_pair = negatives_per_anchor[anchors]
    pair = torch.repeat_interleave(
        torch.arange(len(anchors), device=labels.device), triplets_per_pair
    )
    # ... and its j-th copy takes the j-th negative of a.
    first_triplet_of_pair = triplets_per_pair.cumsum(0) - triplets_per_pair
    rank = torch.arange(len(pair), device=labels.device) - first_triplet_of_pair[pair]
    a = anchors[pair]
    return a, positives[pair], negatives_sorted_by_anchor[first_negative_of_anchor[a] + rank]


def as_pairs(
    indices_tuple: IndicesTuple | None, labels: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(anchors1, positives, anchors2, negatives): all pairs, or those of a miner's output.

    Triplets (a, p, n) give the positive pairs (a, p) and the negative pairs (a, n), as in PML.
    """
    if indices_tuple is None:
        return all_pairs(labels)
    if len(indices_tuple) == 4:
        return tuple(indices_tuple)
    anchors, positives, negatives = indices_tuple
    return anchors, positives, anchors, negatives


def as_triplets(
    indices_tuple: IndicesTuple | None, labels: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """(anchors, positives, negatives): all triplets, or those of a miner's output.

    Pairs become triplets by joining each positive pair to each negative pair of the same anchor.
    """
    if indices_tuple is None:
        return all_triplets(labels)
    if len(indices_tuple) == 3:
        return tuple(indices_tuple)
    anchors1, positives, anchors2, negatives = indices_tuple
    pos, neg = torch.where(anchors1[:, None] == anchors2[None, :])
    return anchors1[pos], positives[pos], negatives[neg]


def miner_weights(
    indices_tuple: IndicesTuple | None, batch_size: int, like: Tensor, anchors_only: bool = False
) -> Tensor:
    """Weight of each batch item for classification-style losses, as in PML: (batch,).

    How often an item appears in the miner's output (only as an anchor if ``anchors_only``, as
    PML's ProxyNCA counts), divided by the largest count (0 if never); all ones without a miner
    (or when it found nothing).
    """
    weights = torch.ones(batch_size, dtype=like.dtype, device=like.device)
    if indices_tuple is None or all(len(index) == 0 for index in indices_tuple):
        return weights
    if anchors_only:
        indices_tuple = indices_tuple[::2] if len(indices_tuple) == 4 else indices_tuple[:1]
    counts = torch.bincount(torch.cat(list(indices_tuple)), minlength=batch_size).to(like.dtype)
    return counts / counts.max()


def _mean_of_non_zero(losses: Tensor, counts: Tensor | None = None) -> Tensor:
    """Mean of the strictly positive entries (PML's AvgNonZeroReducer); 0 if there are none.

    With ``counts``, each entry counts that many times (0: ignored).
    """
    if counts is None:
        return losses.sum() / (losses > 0).sum().clamp_min(1)
    return (counts * losses).sum() / torch.where(losses > 0, counts, 0).sum().clamp_min(1)


def _log_one_plus_sum_exp(values: Tensor, mask: Tensor, dim: int) -> Tensor:
    r""":math:`\log(1 + \sum_{j \in mask} e^{v_j})` along ``dim`` (0 where the mask is empty)."""
    masked = values.masked_fill(~mask, -math.inf)
    return torch.logsumexp(
        torch.cat([masked, torch.zeros_like(masked.narrow(dim, 0, 1))], dim), dim
    )


def _grouped_logsumexp(values: Tensor, groups: Tensor, n_groups: int) -> Tensor:
    r""":math:`\log \sum_{j: groups_j = g} e^{v_j}` for each group g: (n_groups,); -inf if empty."""
    maxima = values.new_full((n_groups,), -math.inf)
    maxima = maxima.scatter_reduce(0, groups, values, "amax").detach()
    sums = values.new_zeros(n_groups).index_add(0, groups, torch.exp(values - maxima[groups]))
    return torch.where(sums > 0, sums, 1).log() + maxima


# ---------------------------------------------------------------------------------------------
# Pair and triplet losses
# ---------------------------------------------------------------------------------------------


class MetricLoss(nn.Module):
    """Base class: checks ``(embeddings, labels, indices_tuple)`` and calls :meth:`compute`.

    After a call, :attr:`active_fraction` gives the fraction of the pairs or triplets used that
    had a positive loss (pair and triplet losses; ``None`` for the others).
    """

    _last_losses: tuple[tuple[Tensor, Tensor | None], ...] = ()

    def forward(
        self, embeddings: Tensor, labels: Tensor, indices_tuple: IndicesTuple | None = None
    ) -> Tensor:
        labels = check_embeddings(embeddings, labels)
        self.check_batch(embeddings, labels)
        if indices_tuple is not None:
            check_indices_tuple(indices_tuple, len(labels))
            indices_tuple = tuple(index.to(labels.device).long() for index in indices_tuple)
        return self.compute(embeddings, labels, indices_tuple)

    def check_batch(self, embeddings: Tensor, labels: Tensor) -> None:
        """Loss-specific checks of a batch, beyond shapes and finiteness (none by default)."""

    def compute(
        self, embeddings: Tensor, labels: Tensor, indices_tuple: IndicesTuple | None
    ) -> Tensor:
        """The loss of checked inputs (implemented by each loss)."""
        raise NotImplementedError

    @property
    def active_fraction(self) -> float | None:
        """Fraction of the last call's pairs or triplets with a positive loss (computed on demand)."""
        if not self._last_losses:
            return None
        active = total = 0.0
        for losses, counts in self._last_losses:
            counts = torch.ones_like(losses) if counts is None else counts
            active += torch.where(losses > 0, counts, 0).sum().item()
            total += counts.sum().item()
        return active / total if total else 0.0

    def _keep_for_active_fraction(self, *losses_and_counts: tuple[Tensor, Tensor | None]) -> None:
        self._last_losses = tuple((losses.detach(), counts) for losses, counts in losses_and_counts)


class ContrastiveLoss(MetricLoss):
    r"""Contrastive loss (Hadsell, Chopra & LeCun, CVPR 2006), PML's ``ContrastiveLoss``.

    With :math:`d_{ij}` the Euclidean distance of the L2-normalised embeddings,

    .. math:: L = \operatorname{mean}_{>0}\, [d_{ap} - m_+]_+ \;+\;
              \operatorname{mean}_{>0}\, [m_- - d_{an}]_+

    over positive pairs (a, p) and negative pairs (a, n), each mean over the non-zero terms.

    Parameters
    ----------
    pos_margin : float
        Positive pairs closer than this cost nothing (PML default 0).
    neg_margin : float
        Negative pairs farther than this cost nothing (PML default 1; at most 2 on the sphere).
    normalize : bool
        L2-normalise the embeddings first (PML's default distance does).
    """

    def __init__(self, pos_margin: float = 0.0, neg_margin: float = 1.0, normalize: bool = True):
        super().__init__()
        _check_non_negative(pos_margin=pos_margin, neg_margin=neg_margin)
        self.pos_margin, self.neg_margin, self.normalize = pos_margin, neg_margin, normalize

    def compute(self, embeddings, labels, indices_tuple):
        x = F.normalize(embeddings, dim=1) if self.normalize else embeddings
        positive_counts, negative_counts = pair_counts(indices_tuple, labels, x.dtype)
        distances = pairwise_distances(x)
        positive_losses = F.relu(distances - self.pos_margin)  # used where positive_counts > 0
        negative_losses = F.relu(self.neg_margin - distances)  # used where negative_counts > 0
        self._keep_for_active_fraction(
            (positive_losses, positive_counts), (negative_losses, negative_counts)
        )
        return _mean_of_non_zero(positive_losses, positive_counts) + _mean_of_non_zero(
            negative_losses, negative_counts
        )


class TripletMarginLoss(MetricLoss):
    r"""Triplet margin loss (Weinberger & Saul 2009; Schroff et al., FaceNet, CVPR 2015).

    .. math:: L = \operatorname{mean}_{>0}\, [d_{ap} - d_{an} + m]_+

    over triplets (anchor, positive, negative), averaged over the triplets with a non-zero loss
    (PML's ``AvgNonZeroReducer``), on L2-normalised embeddings. With ``smooth_loss`` the hinge
    becomes :math:`\log(1 + e^{d_{ap} - d_{an} + m})` (the soft margin of Hermans et al. 2017).

    Parameters
    ----------
    margin : float
        Required gap between negative and positive distances (PML default 0.05: small, since
        distances of unit vectors lie in [0, 2]; FaceNet used 0.2 on squared distances).
    smooth_loss : bool
        Soft-plus instead of the hinge.
    normalize : bool
        L2-normalise the embeddings first (PML's default distance does).
    """

    def __init__(self, margin: float = 0.05, smooth_loss: bool = False, normalize: bool = True):
        super().__init__()
        _check_non_negative(margin=margin)
        self.margin, self.smooth_loss, self.normalize = margin, smooth_loss, normalize

    def compute(self, embeddings, labels, indices_tuple):
        x = F.normalize(embeddings, dim=1) if self.normalize else embeddings
        anchors, positives, negatives = as_triplets(indices_tuple, labels)
        anchor_positive, anchor_negative = distances_of_pairs(
            x, (anchors, positives), (anchors, negatives)
        )
        violation = anchor_positive - anchor_negative + self.margin
        losses = F.softplus(violation) if self.smooth_loss else F.relu(violation)
        self._keep_for_active_fraction((losses, None))
        return _mean_of_non_zero(losses)


class NTXentLoss(MetricLoss):
    r"""NT-Xent / InfoNCE (Oord et al. 2018; SimCLR, Chen et al., ICML 2020), PML's ``NTXentLoss``.

    For each positive pair (a, p), with cosine similarities :math:`s` and negatives N(a) of a,

    .. math:: \ell_{ap} = -\log \frac{e^{s_{ap}/\tau}}{e^{s_{ap}/\tau} + \sum_{n \in N(a)} e^{s_{an}/\tau}}
              = \log\Big(e^{s_{ap}/\tau} + \sum_{n \in N(a)} e^{s_{an}/\tau}\Big) - s_{ap}/\tau,

    averaged over positive pairs; the sum over negatives is computed once per anchor, in log
    space (``logsumexp``), so that no exponential overflows. For SimCLR, give the two augmented views of item i the label i:
    each view is then the other's only positive and every other view a negative.

    Parameters
    ----------
    temperature : float
        :math:`\tau` (PML default 0.07); smaller values focus on the hardest negatives.
    """

    def __init__(self, temperature: float = 0.07):
        super().__init__()
        _check_positive(temperature=temperature)
        self.temperature = temperature

    def compute(self, embeddings, labels, indices_tuple):
        x = F.normalize(embeddings, dim=1)
        anchors1, positives, anchors2, negatives = as_pairs(indices_tuple, labels)
        if len(anchors1) == 0 or len(anchors2) == 0:
            return 0 * embeddings.sum()
        logits = x @ x.T / self.temperature  # one matrix product beats gathering pairs of rows
        positive_logits, negative_logits = logits[anchors1, positives], logits[anchors2, negatives]
        log_sum_negatives = _grouped_logsumexp(negative_logits, anchors2, len(x))
        return (
            torch.logaddexp(positive_logits, log_sum_negatives[anchors1]) - positive_logits
        ).mean()


class SupConLoss(MetricLoss):
    r"""Supervised contrastive loss (Khosla et al., NeurIPS 2020), PML's ``SupConLoss``.

    For each anchor a with positives P(a), with cosine similarities :math:`s` over temperature,

    .. math:: \ell_a = -\frac{1}{|P(a)|} \sum_{p \in P(a)}
              \log \frac{e^{s_{ap}/\tau}}{\sum_{j \in P(a) \cup N(a)} e^{s_{aj}/\tau}},

    averaged over the anchors with a non-zero loss. Unlike :class:`NTXentLoss`, the other
    positives stay in the denominator.

    Parameters
    ----------
    temperature : float
        :math:`\tau` (PML default 0.1).
    """

    def __init__(self, temperature: float = 0.1):
        super().__init__()
        _check_positive(temperature=temperature)
        self.temperature = temperature

    def compute(self, embeddings, labels, indices_tuple):
        x = F.normalize(embeddings, dim=1)
        positive, negative = (counts > 0 for counts in pair_counts(indices_tuple, labels, x.dtype))
        if not (positive.any() and negative.any()):
            return 0 * embeddings.sum()
        has_positive = positive.any(1)
        positive, negative = positive[has_positive], negative[has_positive]
        logits = x[has_positive] @ x.T / self.temperature
        log_probability = logits - torch.logsumexp(
            logits.masked_fill(~(positive | negative), -math.inf), 1, keepdim=True
        )
        losses = -(log_probability * positive).sum(1) / positive.sum(1)
        return _mean_of_non_zero(losses)


class CrossModalInfoNCE(nn.Module):
    r"""Symmetric InfoNCE for paired batches of two modalities (CLIP, Radford et al. 2021).

    Called as ``loss(a, b)`` where rows ``a[i]`` and ``b[i]`` are a positive pair (a clip and its
    caption, score or solo) and every other row of the other modality is a negative. With
    :math:`S_{ij} = \cos(a_i, b_j) / \tau`,

    .. math:: L = \tfrac12 \big[\operatorname{CE}(S, I) + \operatorname{CE}(S^\top, I)\big],

    the mean cross-entropy of finding the partner in each direction. It equals the mean of PML's
    ``NTXentLoss(a, labels, ref_emb=b, ref_labels=labels)`` and its mirror with
    ``labels = arange(batch)``.

    Parameters
    ----------
    temperature : float
        :math:`\tau` (0.07, CLIP's initial value).
    """

    def __init__(self, temperature: float = 0.07):
        super().__init__()
        _check_positive(temperature=temperature)
        self.temperature = temperature

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        check_embeddings(a)
        check_embeddings(b)
        if a.shape != b.shape:
            raise ValueError(
                f"a and b must be paired batches of the same shape (batch, dim), got {tuple(a.shape)} and "
                f"{tuple(b.shape)}; project both modalities to the same embedding size"
            )
        logits = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / self.temperature
        targets = torch.arange(len(a), device=a.device)
        return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


# ---------------------------------------------------------------------------------------------
# Proxy and classification losses
# ---------------------------------------------------------------------------------------------


class ProxyLoss(MetricLoss):
    """Base class of losses with one learnable vector per class, ``proxies`` (classes, dim)."""

    def __init__(self, num_classes: int, embedding_size: int):
        super().__init__()
        for name, value in {"num_classes": num_classes, "embedding_size": embedding_size}.items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.num_classes, self.embedding_size = num_classes, embedding_size
        self.proxies = nn.Parameter(torch.empty(num_classes, embedding_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the proxies from N(0, 1), as PML does."""
        nn.init.normal_(self.proxies)

    def check_batch(self, embeddings: Tensor, labels: Tensor) -> None:
        """Check the embedding size and that every label has a proxy."""
        if embeddings.shape[1] != self.embedding_size:
            raise ValueError(
                f"embeddings have {embeddings.shape[1]} dimensions, the proxies {self.embedding_size}"
            )
        if len(labels) and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(
                f"labels must lie in [0, {self.num_classes}) for {self.num_classes} classes, got "
                f"[{labels.min().item()}, {labels.max().item()}]; map them with np.unique(..., return_inverse=True)"
            )

    def cosine(self, embeddings: Tensor) -> Tensor:
        """Cosine similarity of each embedding to each proxy: (batch, num_classes)."""
        proxies = self.proxies.to(embeddings.dtype)
        return F.normalize(embeddings, dim=1) @ F.normalize(proxies, dim=1).T

    def predict(self, embeddings: Tensor) -> Tensor:
        """The class of the nearest proxy (largest cosine) for each embedding: (batch,)."""
        return self.cosine(embeddings).argmax(1)


class ProxyNCALoss(ProxyLoss):
    r"""Proxy-NCA (Movshovitz-Attias et al., ICCV 2017), PML's ``ProxyNCALoss``.

    NCA with one proxy :math:`p_c` per class in place of the other items: with normalised
    embeddings and proxies,

    .. math:: \ell_i = -\log \frac{e^{-s \|x_i - p_{y_i}\|^2}}{\sum_c e^{-s \|x_i - p_c\|^2}},

    weighted by :func:`miner_weights` (counting anchors only, as PML does) and averaged over
    the batch.

    Parameters
    ----------
    num_classes, embedding_size : int
        Shape of ``proxies``.
    softmax_scale : float
        :math:`s` (PML default 1; larger values sharpen the softmax).
    """

    def __init__(self, num_classes: int, embedding_size: int, softmax_scale: float = 1.0):
        super().__init__(num_classes, embedding_size)
        _check_positive(softmax_scale=softmax_scale)
        self.softmax_scale = softmax_scale

    def compute(self, embeddings, labels, indices_tuple):
        squared_distances = 2 - 2 * self.cosine(embeddings)  # ||x - p||^2 for unit vectors
        losses = F.cross_entropy(-self.softmax_scale * squared_distances, labels, reduction="none")
        return (
            losses * miner_weights(indices_tuple, len(labels), embeddings, anchors_only=True)
        ).mean()


class ProxyAnchorLoss(ProxyLoss):
    r"""Proxy-Anchor loss (Kim et al., CVPR 2020), PML's ``ProxyAnchorLoss``.

    Each proxy is an anchor pulling its class's embeddings X⁺(c) and pushing the others X⁻(c):

    .. math:: L = \frac{1}{|C^+|} \sum_{c \in C^+} \log\Big(1 + \sum_{x \in X^+(c)} e^{-\alpha(\cos(x, p_c) - \delta)}\Big)
              + \frac{1}{C} \sum_{c} \log\Big(1 + \sum_{x \in X^-(c)} e^{\alpha(\cos(x, p_c) + \delta)}\Big),

    with :math:`C^+` the classes present in the batch. A miner's weights w (see
    :func:`miner_weights`) enter each exponent as :math:`w - 1`.

    Parameters
    ----------
    num_classes, embedding_size : int
        Shape of ``proxies`` (initialised with Kaiming-normal, fan-out, as in PML).
    margin : float
        :math:`\delta` (PML default 0.1).
    alpha : float
        :math:`\alpha`, the scale (PML default 32).
    """

    def __init__(
        self, num_classes: int, embedding_size: int, margin: float = 0.1, alpha: float = 32.0
    ):
        super().__init__(num_classes, embedding_size)
        _check_non_negative(margin=margin)
        _check_positive(alpha=alpha)
        self.margin, self.alpha = margin, alpha

    def reset_parameters(self) -> None:
        """Kaiming-normal proxies (fan-out), as in PML."""
        nn.init.kaiming_normal_(self.proxies, mode="fan_out")

    def compute(self, embeddings, labels, indices_tuple):
        cosine = self.cosine(embeddings)
        log_weights = miner_weights(indices_tuple, len(labels), embeddings)[:, None] - 1
        is_positive = F.one_hot(labels, self.num_classes).bool()
        pull = _log_one_plus_sum_exp(
            -self.alpha * (cosine - self.margin) + log_weights, is_positive, dim=0
        )
        push = _log_one_plus_sum_exp(
            self.alpha * (cosine + self.margin) + log_weights, ~is_positive, dim=0
        )
        classes_present = is_positive.any(0).sum().clamp_min(1)
        return pull.sum() / classes_present + push.sum() / self.num_classes


class NormalizedSoftmaxLoss(ProxyLoss):
    r"""Normalised softmax (NormFace, Wang et al. 2017; Zhai & Wu, BMVC 2019), PML's loss.

    Cross-entropy on cosine logits: :math:`\ell_i = -\log \operatorname{softmax}_c(\cos(x_i, p_c) / \tau)_{y_i}`,
    weighted by :func:`miner_weights` and averaged over the batch.

    Parameters
    ----------
    num_classes, embedding_size : int
        Shape of ``proxies`` (PML's ``W`` is its transpose).
    temperature : float
        :math:`\tau` (PML default 0.05).
    """

    def __init__(self, num_classes: int, embedding_size: int, temperature: float = 0.05):
        super().__init__(num_classes, embedding_size)
        _check_positive(temperature=temperature)
        self.temperature = temperature

    def compute(self, embeddings, labels, indices_tuple):
        losses = F.cross_entropy(
            self.cosine(embeddings) / self.temperature, labels, reduction="none"
        )
        return (losses * miner_weights(indices_tuple, len(labels), embeddings)).mean()


class ArcFaceLoss(ProxyLoss):
    r"""Additive angular margin loss, ArcFace (Deng et al., CVPR 2019), PML's ``ArcFaceLoss``.

    With :math:`\theta_{ic}` the angle between embedding i and proxy c, the target logit gets an
    angular margin m:

    .. math:: \ell_i = -\log \frac{e^{s \cos(\theta_{iy_i} + m)}}{e^{s \cos(\theta_{iy_i} + m)} + \sum_{c \ne y_i} e^{s \cos\theta_{ic}}},

    where :math:`\cos(\theta + m)` is replaced by :math:`\cos\theta - m \sin m` once
    :math:`\theta > \pi - m`, so the logit keeps decreasing with the angle. Weighted by
    :func:`miner_weights` and averaged over the batch.

    Parameters
    ----------
    num_classes, embedding_size : int
        Shape of ``proxies`` (PML's ``W`` is its transpose).
    margin : float
        m in **degrees**, as in PML (default 28.6 degrees, i.e. 0.5 radians).
    scale : float
        s (PML default 64).
    """

    def __init__(
        self, num_classes: int, embedding_size: int, margin: float = 28.6, scale: float = 64.0
    ):
        super().__init__(num_classes, embedding_size)
        _check_non_negative(margin=margin)
        _check_positive(scale=scale)
        if margin >= 180:
            raise ValueError(f"margin is in degrees and must be below 180, got {margin}")
        self.margin, self.scale = margin, scale

    def compute(self, embeddings, labels, indices_tuple):
        cosine = self.cosine(embeddings)
        margin = math.radians(self.margin)
        target_cosine = cosine.gather(1, labels[:, None])
        angle = torch.acos(target_cosine.clamp(-1, 1))
        target_logit = torch.where(
            angle <= math.pi - margin,
            torch.cos(angle + margin),
            target_cosine - margin * math.sin(margin),
        )
        logits = cosine.scatter(1, labels[:, None], target_logit) * self.scale
        losses = F.cross_entropy(logits, labels, reduction="none")
        return (losses * miner_weights(indices_tuple, len(labels), embeddings)).mean()
