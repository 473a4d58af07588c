"""utils.miners: the same triplets as pytorch-metric-learning's miners, valid triplets, clear errors."""

from __future__ import annotations

import pytest
import torch
from pytorch_metric_learning import miners as pml_miners
from pytorch_metric_learning.miners import distance_weighted_miner as pml_distance_weighted

from utils import losses, miners


def make_batch(
    seed: int = 0, n: int = 32, dim: int = 8, n_classes: int = 4
) -> tuple[torch.Tensor, torch.Tensor]:
    """Float64 embeddings near their class centre (so that distances spread over [0, 2])."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % n_classes
    centres = torch.randn(n_classes, dim, generator=generator, dtype=torch.float64)
    return centres[labels] + 0.8 * torch.randn(
        n, dim, generator=generator, dtype=torch.float64
    ), labels


def as_set(triplets) -> set[tuple[int, int, int]]:
    return set(zip(*(index.tolist() for index in triplets), strict=True))


def assert_valid(triplets, labels):
    anchors, positives, negatives = triplets
    assert all(index.dtype == torch.long for index in triplets)
    assert len(anchors) == len(positives) == len(negatives)
    assert torch.all(labels[anchors] == labels[positives]) and torch.all(anchors != positives)
    assert torch.all(labels[anchors] != labels[negatives])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batch_hard_miner_matches_pml(seed):
    embeddings, labels = make_batch(seed)
    labels[-1] = 9  # an item without positives is no anchor
    ours = miners.BatchHardMiner()(embeddings, labels)
    assert_valid(ours, labels)
    assert as_set(ours) == as_set(pml_miners.BatchHardMiner()(embeddings, labels))
    assert len(ours[0]) == len(labels) - 1


@pytest.mark.parametrize("type_of_triplets", ["all", "hard", "semihard", "easy"])
@pytest.mark.parametrize("margin", [0.0, 0.1, 0.5])
def test_triplet_margin_miner_matches_pml(type_of_triplets, margin):
    embeddings, labels = make_batch(3)
    ours = miners.TripletMarginMiner(margin, type_of_triplets)(embeddings, labels)
    theirs = pml_miners.TripletMarginMiner(margin, type_of_triplets=type_of_triplets)(
        embeddings, labels
    )
    assert_valid(ours, labels)
    assert as_set(ours) == as_set(theirs)


def test_triplet_types_partition_all_triplets():
    embeddings, labels = make_batch(4)
    mined = {
        kind: as_set(miners.TripletMarginMiner(0.2, kind)(embeddings, labels))
        for kind in miners.TripletMarginMiner.TYPES
    }
    assert (
        mined["hard"] | mined["semihard"] == mined["all"] and not mined["hard"] & mined["semihard"]
    )
    assert mined["all"] | mined["easy"] == as_set(losses.all_triplets(labels))


def pml_negative_weights(embeddings, labels, monkeypatch) -> torch.Tensor:
    """The sampling weights PML's DistanceWeightedMiner computes internally."""
    captured = {}

    def capture(labels, ref_labels=None, t_per_anchor=None, weights=None):
        captured["weights"] = weights
        empty = torch.tensor([], dtype=torch.long)
        return empty, empty, empty

    monkeypatch.setattr(pml_distance_weighted.lmu, "get_random_triplet_indices", capture)
    pml_miners.DistanceWeightedMiner(cutoff=0.5, nonzero_loss_cutoff=1.4)(embeddings, labels)
    return torch.nan_to_num(captured["weights"], nan=0.0)


@pytest.mark.parametrize("dim", [4, 8, 32])
def test_distance_weighted_probabilities_match_pml(dim, monkeypatch):
    embeddings, labels = make_batch(5, dim=dim)
    ours = miners.DistanceWeightedMiner(0.5, 1.4).negative_probabilities(
        torch.nn.functional.normalize(embeddings, dim=1), labels
    )
    torch.testing.assert_close(
        ours, pml_negative_weights(embeddings, labels, monkeypatch), atol=1e-10, rtol=0
    )
    assert torch.all(ours[labels[:, None] == labels[None, :]] == 0)


def negative_frequencies(miner, embeddings, labels, draws: int) -> torch.Tensor:
    """(batch, batch) fraction of draws in which n was the negative of anchor a."""
    counts = torch.zeros(len(labels), len(labels), dtype=torch.float64)
    for _ in range(draws):
        anchors, _, negatives = miner(embeddings, labels)
        counts.index_put_(
            (anchors, negatives), torch.ones(len(anchors), dtype=torch.float64), accumulate=True
        )
    return counts / counts.sum(1, keepdim=True).clamp_min(1)


@pytest.mark.parametrize("miner_class", [miners.DistanceWeightedMiner, miners.RandomTripletMiner])
def test_sampled_negatives_follow_their_distribution(miner_class):
    torch.manual_seed(0)
    embeddings, labels = make_batch(6, n=16, dim=8)
    miner = miner_class()
    probabilities = miner.negative_probabilities(
        torch.nn.functional.normalize(embeddings, dim=1), labels
    )
    frequencies = negative_frequencies(miner, embeddings, labels, draws=600)
    # Each anchor with a drawable negative gets 3 draws per call (its 3 positives): 1,800 draws.
    total_variation = (frequencies - probabilities).abs().sum(1) / 2
    assert total_variation.max() < 0.05  # uniform vs distance-weighted differ by 0.9 here


def test_distance_weighted_miner_favours_close_negatives_and_skips_far_ones():
    torch.manual_seed(0)
    embeddings, labels = make_batch(7, n=16, dim=8)
    x = torch.nn.functional.normalize(embeddings, dim=1)
    probabilities = miners.DistanceWeightedMiner(0.5, 1.4).negative_probabilities(x, labels)
    distances = losses.pairwise_distances(x)
    assert torch.all(probabilities[distances >= 1.4] == 0)
    anchors, positives, negatives = miners.DistanceWeightedMiner()(embeddings, labels)
    assert_valid((anchors, positives, negatives), labels)
    assert torch.all(distances[anchors, negatives] < 1.4)


def test_random_triplet_miner_uses_each_positive_pair_once():
    torch.manual_seed(0)
    embeddings, labels = make_batch(8)
    triplets = miners.RandomTripletMiner()(embeddings, labels)
    assert_valid(triplets, labels)
    pairs = set(zip(triplets[0].tolist(), triplets[1].tolist(), strict=True))
    assert len(pairs) == len(triplets[0]) == int(losses.label_masks(labels)[0].sum())


@pytest.mark.parametrize(
    "miner",
    [
        miners.BatchHardMiner(),
        miners.TripletMarginMiner(),
        miners.DistanceWeightedMiner(),
        miners.RandomTripletMiner(),
    ],
    ids=lambda miner: type(miner).__name__,
)
def test_batches_without_triplets_give_empty_tuples_that_losses_accept(miner):
    embeddings = torch.randn(6, 4, requires_grad=True)
    labels = torch.zeros(6, dtype=torch.long)
    triplets = miner(embeddings, labels)
    assert all(len(index) == 0 and index.dtype == torch.long for index in triplets)
    loss = losses.TripletMarginLoss()(embeddings, labels, triplets)
    loss.backward()
    assert loss.item() == 0
    with pytest.raises(ValueError, match="shape"):
        miner(embeddings[0], labels[:1])
    with pytest.raises(ValueError, match="labels must have shape"):
        miner(embeddings, labels[:3])
    with pytest.raises(ValueError, match="NaN"):
        miner(torch.full((6, 4), float("nan")), labels)


def test_bad_miner_settings_raise_value_error():
    with pytest.raises(ValueError, match="type_of_triplets"):
        miners.TripletMarginMiner(0.2, "hardest")
    with pytest.raises(ValueError, match="margin"):
        miners.TripletMarginMiner(-0.1)
    with pytest.raises(ValueError, match="cutoff"):
        miners.DistanceWeightedMiner(cutoff=1.5, nonzero_loss_cutoff=1.4)


def test_mined_triplets_give_the_pml_loss():
    from pytorch_metric_learning import losses as pml_losses

    embeddings, labels = make_batch(9)
    ours = losses.TripletMarginLoss(0.2)(
        embeddings, labels, miners.TripletMarginMiner(0.2, "semihard")(embeddings, labels)
    )
    theirs = pml_losses.TripletMarginLoss(0.2)(
        embeddings,
        labels,
        pml_miners.TripletMarginMiner(0.2, type_of_triplets="semihard")(embeddings, labels),
    )
    torch.testing.assert_close(ours, theirs, atol=1e-10, rtol=0)
