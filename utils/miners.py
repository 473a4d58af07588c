"""Triplet miners: which (anchor, positive, negative) triplets of a batch a loss should see.

Used by the notebooks of series 2 on mining (random vs batch-hard vs semi-hard vs
distance-weighted). Each miner is called as ``miner(embeddings, labels)``, like those of
pytorch-metric-learning (PML), and returns ``(anchors, positives, negatives)``: three LongTensors
of batch positions, with ``labels[a] == labels[p]``, ``a != p`` and ``labels[a] != labels[n]``,
ready for ``loss_fn(embeddings, labels, indices_tuple)`` (:mod:`utils.losses`).

Miners work on L2-normalised embeddings (Euclidean distances in [0, 2]), as PML's default
distance does, and never propagate gradients. The tests check that BatchHardMiner and
TripletMarginMiner return the same triplets as PML's, and that DistanceWeightedMiner draws its
negatives from the same distribution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from utils.losses import all_triplets, check_embeddings, label_masks, pairwise_distances

Triplets = tuple[Tensor, Tensor, Tensor]


class TripletMiner(nn.Module):
    """Base class: checks the batch, normalises, mines without gradients."""

    def forward(self, embeddings: Tensor, labels: Tensor) -> Triplets:
        labels = check_embeddings(embeddings, labels)
        with torch.no_grad():
            return self.mine(F.normalize(embeddings.detach(), dim=1), labels)

    def mine(self, x: Tensor, labels: Tensor) -> Triplets:
        """Triplets of normalised embeddings ``x`` (batch, dim) (implemented by each miner)."""
        raise NotImplementedError


class BatchHardMiner(TripletMiner):
    r"""Batch-hard mining (Hermans, Beyer & Leibe 2017), PML's ``BatchHardMiner``.

    One triplet per anchor a that has a positive and a negative in the batch: its farthest
    positive and its closest negative,

    .. math:: p^*(a) = \arg\max_{p: y_p = y_a, p \ne a} d_{ap}, \qquad
              n^*(a) = \arg\min_{n: y_n \ne y_a} d_{an}.
    """

    def mine(self, x, labels):
        distances = pairwise_distances(x)
        positive, negative = label_masks(labels)
        hardest_positive = distances.masked_fill(~positive, -torch.inf).argmax(1)
        hardest_negative = distances.masked_fill(~negative, torch.inf).argmin(1)
        anchors = torch.nonzero(positive.any(1) & negative.any(1)).squeeze(1)
        return anchors, hardest_positive[anchors], hardest_negative[anchors]


class TripletMarginMiner(TripletMiner):
    r"""Triplets selected by their margin :math:`d_{an} - d_{ap}`, PML's ``TripletMarginMiner``.

    ===============  ============================================  ==============================
    type_of_triplets  condition on :math:`\mu = d_{an} - d_{ap}`   meaning
    ===============  ============================================  ==============================
    ``"all"``        :math:`\mu \le m`                              violates the margin
    ``"hard"``       :math:`\mu \le 0`                              negative closer than positive
    ``"semihard"``   :math:`0 < \mu \le m`                          inside the margin (FaceNet)
    ``"easy"``       :math:`\mu > m`                                already satisfied
    ===============  ============================================  ==============================

    Parameters
    ----------
    margin : float
        m (PML default 0.2); match it to the loss's margin.
    type_of_triplets : {"all", "hard", "semihard", "easy"}
    """

    TYPES = ("all", "hard", "semihard", "easy")

    def __init__(self, margin: float = 0.2, type_of_triplets: str = "all"):
        super().__init__()
        if not margin >= 0:
            raise ValueError(f"margin must be non-negative, got {margin}")
        if type_of_triplets not in self.TYPES:
            raise ValueError(
                f"type_of_triplets must be one of {self.TYPES}, got {type_of_triplets!r}"
            )
        self.margin, self.type_of_triplets = margin, type_of_triplets

    def mine(self, x, labels):
        anchors, positives, negatives = all_triplets(labels)
        distances = pairwise_distances(x)
        triplet_margin = distances[anchors, negatives] - distances[anchors, positives]
        keep = {
            "all": triplet_margin <= self.margin,
            "hard": triplet_margin <= 0,
            "semihard": (triplet_margin > 0) & (triplet_margin <= self.margin),
            "easy": triplet_margin > self.margin,
        }[self.type_of_triplets]
        return anchors[keep], positives[keep], negatives[keep]


class SamplingMiner(TripletMiner):
    """Base class: every positive pair (a, p), with one negative drawn from a distribution.

    Subclasses give :meth:`negative_probabilities`; anchors with no negative of non-zero
    probability are skipped. Draws use torch's global random generator (seed it for repeatable
    triplets).
    """

    def negative_probabilities(self, x: Tensor, labels: Tensor) -> Tensor:
        """(batch, batch) probability of drawing n as the negative of anchor a (rows sum to 1 or 0)."""
        raise NotImplementedError

    def mine(self, x, labels):
        probabilities = self.negative_probabilities(x, labels)
        anchors, positives = label_masks(labels)[0].nonzero(as_tuple=True)
        has_negative = probabilities[anchors].sum(1) > 0
        anchors, positives = anchors[has_negative], positives[has_negative]
        if len(anchors) == 0:
            return anchors, positives, anchors.clone()
        negatives = torch.multinomial(probabilities[anchors], 1).squeeze(1)
        return anchors, positives, negatives


class RandomTripletMiner(SamplingMiner):
    """Random triplets, the baseline: each positive pair with a negative drawn uniformly."""

    def negative_probabilities(self, x, labels):
        negative = label_masks(labels)[1].to(x.dtype)
        return negative / negative.sum(1, keepdim=True).clamp_min(1)


class DistanceWeightedMiner(SamplingMiner):
    r"""Distance-weighted sampling (Wu, Manmatha, Smola & Krähenbühl, ICCV 2017), as in PML.

    On the unit sphere in :math:`\mathbb{R}^D` the distances between random points have density
    :math:`q(d) \propto d^{D-2} (1 - d^2/4)^{(D-3)/2}`, concentrated near :math:`\sqrt 2`. To
    sample negatives uniformly in distance instead, each negative n of anchor a is drawn with
    probability proportional to :math:`1 / q(\max(d_{an}, \text{cutoff}))`, and never when
    :math:`d_{an} \ge` ``nonzero_loss_cutoff`` (it would give no loss).

    Unlike PML, which draws random positives (as many per anchor as its class has members),
    every positive pair is used once, as in the paper; the negatives follow the same distribution
    (checked by the tests).

    Parameters
    ----------
    cutoff : float
        Distances below it are raised to it, to bound the weights (PML default 0.5).
    nonzero_loss_cutoff : float
        Negatives at least this far are never drawn (PML default 1.4).
    """

    def __init__(self, cutoff: float = 0.5, nonzero_loss_cutoff: float = 1.4):
        super().__init__()
        if not 0 < cutoff < nonzero_loss_cutoff:
            raise ValueError(
                f"need 0 < cutoff < nonzero_loss_cutoff, got cutoff={cutoff}, nonzero_loss_cutoff={nonzero_loss_cutoff}"
            )
        self.cutoff, self.nonzero_loss_cutoff = float(cutoff), float(nonzero_loss_cutoff)

    def negative_probabilities(self, x, labels):
        dim = x.shape[1]
        distances = pairwise_distances(x).clamp_min(self.cutoff)
        log_inverse_density = (2.0 - dim) * distances.log() - (dim - 3) / 2 * torch.log(
            1 - distances**2 / 4
        )
        allowed = (
            label_masks(labels)[1]
            & (distances < self.nonzero_loss_cutoff)
            & torch.isfinite(log_inverse_density)
        )
        probabilities = torch.softmax(log_inverse_density.masked_fill(~allowed, -torch.inf), dim=1)
        return torch.where(allowed.any(1, keepdim=True), probabilities, 0)
