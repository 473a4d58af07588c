"""Conditional similarity networks: one embedding, one learned mask per notion of similarity.

Used by notebooks/3_variations/01_disentangled_similarity.ipynb. Veit, Belongie & Karaletsos
(CVPR 2017) learn a single embedding :math:`f(x) \\in \\mathbb{R}^D` and, for each notion
:math:`c` (instrument family, pitch register, dynamics...), a non-negative mask
:math:`m_c \\in \\mathbb{R}^D_{\\ge 0}`; the distance under notion :math:`c` is

.. math:: d_c(x, y) = \\lVert m_c \\odot (f(x) - f(y)) \\rVert_2 .

Lee et al. (ICASSP 2020) use the same construction for multi-dimensional music similarity.

- :class:`ConditionalSimilarityNetwork`: an encoder and the masks; ``forward`` returns the masked
  embeddings of every notion, (batch, n_notions, D).
- :class:`ConditionalTripletLoss`: a triplet loss of :mod:`utils.losses` applied to each notion's
  masked embeddings with that notion's labels, plus an L1 penalty that makes the masks sparse.
- :func:`notion_triplets`: evaluation triplets for one notion, positives from other groups.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from utils.checks import check_int


class ConditionalSimilarityNetwork(nn.Module):
    """An encoder followed by one mask per notion: (batch, ...) -> (batch, n_notions, D).

    Parameters
    ----------
    encoder : nn.Module
        Maps a batch to embeddings (batch, D).
    embedding_size : int
        D, the encoder's output size.
    n_notions : int
        Number of notions (masks).
    learn_masks : bool
        False freezes every mask at 1: an unconditioned embedding that every notion shares.
    seed : int
        Seed of the mask initialisation, normal(0.9, 0.7) as in Veit et al.
    """

    def __init__(self, encoder: nn.Module, embedding_size: int, n_notions: int,
                 learn_masks: bool = True, seed: int = 0):
        super().__init__()
        if embedding_size < 1 or n_notions < 1:
            raise ValueError(f"need embedding_size >= 1 and n_notions >= 1, got {embedding_size}, {n_notions}")
        generator = torch.Generator().manual_seed(seed)
        initial = torch.normal(0.9, 0.7, (n_notions, embedding_size), generator=generator)
        self.encoder = encoder
        self.raw_masks = nn.Parameter(initial if learn_masks else torch.ones(n_notions, embedding_size),
                                      requires_grad=learn_masks)

    @property
    def masks(self) -> Tensor:
        """The non-negative masks, ReLU of the raw parameters: (n_notions, D)."""
        return F.relu(self.raw_masks)

    def forward(self, x: Tensor) -> Tensor:
        return self.encoder(x)[:, None, :] * self.masks

    def mask_l1(self) -> Tensor:
        """Mean absolute mask value (0 when the masks are frozen): the sparsity penalty."""
        return self.masks.abs().mean() if self.raw_masks.requires_grad else self.raw_masks.new_zeros(())


class ConditionalTripletLoss(nn.Module):
    """Mean over notions of ``base_loss(embeddings[:, c], labels[:, c])``, plus a penalty.

    Called as the losses of :mod:`utils.losses` are, so :func:`utils.train.train` trains with it:
    ``loss(embeddings, labels, indices_tuple=None)`` with embeddings (batch, n_notions, D) and
    labels (batch, n_notions) (a label code per notion). Each notion needs its own triplets, so
    the training loop's miner is not used: give ``miner`` here instead (every valid triplet of
    the batch without one).

    Parameters
    ----------
    base_loss : nn.Module
        A pair or triplet loss of :mod:`utils.losses`, e.g. ``TripletMarginLoss(0.2, normalize=False)``.
    penalty : callable, optional
        Returns a scalar tensor added with weight ``penalty_weight`` (e.g. ``network.mask_l1``).
    penalty_weight : float
        Weight of the penalty.
    miner : nn.Module, optional
        A miner of :mod:`utils.miners`, called on each notion's masked embeddings and labels.
    """

    def __init__(self, base_loss: nn.Module, penalty: Callable[[], Tensor] | None = None,
                 penalty_weight: float = 0.0, miner: nn.Module | None = None):
        super().__init__()
        if not penalty_weight >= 0:
            raise ValueError(f"penalty_weight must be >= 0, got {penalty_weight}")
        if not callable(base_loss) or not (penalty is None or callable(penalty)):
            raise TypeError("base_loss and penalty must be callables (a loss module; e.g. network.mask_l1)")
        self.base_loss, self.penalty, self.penalty_weight = base_loss, penalty, penalty_weight
        self.miner = miner

    def forward(self, embeddings: Tensor, labels: Tensor, indices_tuple: tuple | None = None) -> Tensor:
        if indices_tuple is not None:
            raise ValueError("ConditionalTripletLoss mines per notion: give the miner to it, not to train()")
        if embeddings.ndim != 3 or labels.shape != embeddings.shape[:2]:
            raise ValueError(
                "expected embeddings (batch, n_notions, D) and labels (batch, n_notions), got "
                f"{tuple(embeddings.shape)} and {tuple(labels.shape)}"
            )
        losses = [self._notion_loss(embeddings[:, c], labels[:, c]) for c in range(embeddings.shape[1])]
        total = torch.stack(losses).mean()
        if self.penalty is not None and self.penalty_weight > 0:
            total = total + self.penalty_weight * self.penalty()
        return total

    def _notion_loss(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        triplets = self.miner(embeddings, labels) if self.miner is not None else None
        return self.base_loss(embeddings, labels, triplets)


def notion_triplets(labels: np.ndarray, groups: np.ndarray, n_triplets: int, seed: int = 0) -> np.ndarray:
    """Random triplets (anchor, positive, negative) for one notion, as row numbers.

    The positive shares the anchor's label but not its group (no near-duplicate: same instrument
    and pitch), the negative has another label. Anchors are drawn uniformly among the items that
    have such a positive and a negative.

    Parameters
    ----------
    labels : (n,) labels of the notion (family, register, dynamics...).
    groups : (n,) same-source group ids.
    n_triplets : number of triplets, drawn with replacement.

    Returns
    -------
    (n_triplets, 3) int64 array.
    """
    labels, groups = np.asarray(labels), np.asarray(groups)
    if labels.shape != groups.shape or labels.ndim != 1:
        raise ValueError(f"labels and groups must be 1-D of the same length, got {labels.shape}, {groups.shape}")
    check_int(n_triplets, "n_triplets")
    same_label = labels[:, None] == labels[None, :]
    positive = same_label & (groups[:, None] != groups[None, :])
    negative = ~same_label
    anchors_ok = np.flatnonzero(positive.any(1) & negative.any(1))
    if len(anchors_ok) == 0:
        raise ValueError("no anchor has both a positive from another group and a negative")
    rng = np.random.default_rng(seed)
    anchors = rng.choice(anchors_ok, size=n_triplets)
    return np.column_stack([anchors, _pick(positive[anchors], rng), _pick(negative[anchors], rng)])


def _pick(candidates: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random True column of each row of a boolean matrix (every row has one)."""
    scores = rng.random(candidates.shape) * candidates
    return scores.argmax(1).astype(np.int64)
