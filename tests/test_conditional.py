"""Conditional similarity networks: masked embeddings, the per-notion loss, evaluation triplets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from utils.conditional import ConditionalSimilarityNetwork, ConditionalTripletLoss, notion_triplets
from utils.losses import TripletMarginLoss
from utils.miners import BatchHardMiner


def _network(learn_masks: bool = True) -> ConditionalSimilarityNetwork:
    torch.manual_seed(0)
    return ConditionalSimilarityNetwork(torch.nn.Linear(5, 4), 4, 3, learn_masks=learn_masks)


def test_forward_masks_the_encoder_output_per_notion():
    network, x = _network(), torch.randn(6, 5)
    masked = network(x)
    assert masked.shape == (6, 3, 4)
    expected = network.encoder(x)[:, None, :] * torch.relu(network.raw_masks)
    torch.testing.assert_close(masked, expected)
    assert (network.masks >= 0).all() and (network.masks == 0).any()  # normal(0.9, 0.7): some negative


def test_masked_distance_is_a_diagonal_mahalanobis_distance():
    network, x = _network(), torch.randn(2, 5)
    with torch.no_grad():
        masked, plain = network(x), network.encoder(x)
        for c in range(3):
            metric = torch.diag(network.masks[c] ** 2)
            difference = plain[0] - plain[1]
            expected = torch.sqrt(difference @ metric @ difference)
            torch.testing.assert_close(torch.linalg.norm(masked[0, c] - masked[1, c]), expected)


def test_frozen_masks_are_ones_and_give_no_penalty():
    network = _network(learn_masks=False)
    assert not network.raw_masks.requires_grad
    assert torch.equal(network.masks, torch.ones(3, 4))
    assert network.mask_l1().item() == 0.0 and _network().mask_l1().item() > 0


def test_loss_is_the_mean_of_notion_losses_plus_penalty():
    network, x = _network(), torch.randn(8, 5)
    labels = torch.tensor([[0, 0, 1], [0, 1, 1], [1, 0, 0], [1, 1, 0], [0, 0, 0], [1, 1, 1], [0, 1, 0], [1, 0, 1]])
    base = TripletMarginLoss(0.2, normalize=False)
    masked = network(x)
    expected = torch.stack([base(masked[:, c], labels[:, c]) for c in range(3)]).mean()
    torch.testing.assert_close(ConditionalTripletLoss(base)(masked, labels), expected)
    with_penalty = ConditionalTripletLoss(base, network.mask_l1, 0.5)(masked, labels)
    torch.testing.assert_close(with_penalty, expected + 0.5 * network.masks.mean())
    miner = BatchHardMiner()
    mined = torch.stack([base(masked[:, c], labels[:, c], miner(masked[:, c], labels[:, c])) for c in range(3)]).mean()
    torch.testing.assert_close(ConditionalTripletLoss(base, miner=miner)(masked, labels), mined)


def test_loss_gradients_reach_masks_and_encoder():
    network = _network()
    labels = torch.tensor([[0, 0, 1], [0, 1, 1], [1, 0, 0], [1, 1, 0]] * 2)
    ConditionalTripletLoss(TripletMarginLoss(1.0, normalize=False))(network(torch.randn(8, 5)), labels).backward()
    assert network.raw_masks.grad.abs().sum() > 0 and network.encoder.weight.grad.abs().sum() > 0


def test_loss_rejects_bad_input():
    loss = ConditionalTripletLoss(TripletMarginLoss())
    with pytest.raises(ValueError, match="n_notions"):
        loss(torch.randn(4, 3, 2), torch.zeros(4, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="miner"):
        loss(torch.randn(4, 3, 2), torch.zeros(4, 3, dtype=torch.long), (torch.zeros(1), torch.zeros(1), torch.zeros(1)))
    with pytest.raises(ValueError, match="penalty_weight"):
        ConditionalTripletLoss(TripletMarginLoss(), penalty_weight=-1)
    with pytest.raises(ValueError, match="n_notions"):
        ConditionalSimilarityNetwork(torch.nn.Identity(), 4, 0)


def test_notion_triplets_respect_labels_and_groups():
    labels = np.array(list("aabbccaabb"))
    groups = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 5])
    triplets = notion_triplets(labels, groups, 500, seed=1)
    a, p, n = triplets.T
    assert triplets.shape == (500, 3) and triplets.dtype == np.int64
    assert (labels[a] == labels[p]).all() and (groups[a] != groups[p]).all() and (labels[a] != labels[n]).all()
    assert not np.isin(a, [4, 5]).any()  # the c's are all in one group: no positive from another
    assert np.array_equal(triplets, notion_triplets(labels, groups, 500, seed=1))
    assert len(np.unique(n)) > 5  # negatives spread over every other label


def test_notion_triplets_reject_bad_input():
    with pytest.raises(ValueError, match="same length"):
        notion_triplets(np.zeros(3), np.zeros(4), 5)
    with pytest.raises(ValueError, match="no anchor"):
        notion_triplets(np.array([0, 0, 1]), np.array([0, 0, 1]), 5)
    with pytest.raises(ValueError, match="n_triplets"):
        notion_triplets(np.array([0, 0, 1]), np.array([0, 1, 2]), 0)
