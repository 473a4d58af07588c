"""utils.losses: same values and gradients as pytorch-metric-learning (float64), and clear errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from pytorch_metric_learning import distances as pml_distances
from pytorch_metric_learning import losses as pml_losses
from pytorch_metric_learning import miners as pml_miners
from pytorch_metric_learning.utils import loss_and_miner_utils as pml_utils

from utils import losses

TOLERANCE = 1e-8
N_CLASSES = 5


def make_batch(seed: int = 0, n: int = 24, dim: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Float64 embeddings; labels with 4 classes of about 6 items and one singleton class."""
    generator = torch.Generator().manual_seed(seed)
    embeddings = torch.randn(n, dim, generator=generator, dtype=torch.float64)
    labels = torch.cat([torch.arange(n - 1) % (N_CLASSES - 1), torch.tensor([N_CLASSES - 1])])
    return embeddings, labels


MINED = {
    "all": lambda x, y: None,
    "batch-hard triplets": lambda x, y: pml_miners.BatchHardMiner()(x, y),
    "semihard triplets": lambda x, y: pml_miners.TripletMarginMiner(
        0.2, type_of_triplets="semihard"
    )(x, y),
    "multi-similarity pairs": lambda x, y: pml_miners.MultiSimilarityMiner(0.1)(x, y),
}

PAIR_AND_TRIPLET_LOSSES = {
    "triplet default": (losses.TripletMarginLoss, pml_losses.TripletMarginLoss, {}, {}),
    "triplet smooth": (
        losses.TripletMarginLoss,
        pml_losses.TripletMarginLoss,
        {"margin": 0.2, "smooth_loss": True},
        {"margin": 0.2, "smooth_loss": True},
    ),
    "triplet unnormalised": (
        losses.TripletMarginLoss,
        pml_losses.TripletMarginLoss,
        {"margin": 1.0, "normalize": False},
        {"margin": 1.0, "distance": pml_distances.LpDistance(normalize_embeddings=False)},
    ),
    "contrastive default": (losses.ContrastiveLoss, pml_losses.ContrastiveLoss, {}, {}),
    "contrastive margins": (
        losses.ContrastiveLoss,
        pml_losses.ContrastiveLoss,
        {"pos_margin": 0.3, "neg_margin": 1.2},
        {"pos_margin": 0.3, "neg_margin": 1.2},
    ),
    "ntxent default": (losses.NTXentLoss, pml_losses.NTXentLoss, {}, {}),
    "ntxent 0.5": (
        losses.NTXentLoss,
        pml_losses.NTXentLoss,
        {"temperature": 0.5},
        {"temperature": 0.5},
    ),
    "supcon default": (losses.SupConLoss, pml_losses.SupConLoss, {}, {}),
    "supcon 0.5": (
        losses.SupConLoss,
        pml_losses.SupConLoss,
        {"temperature": 0.5},
        {"temperature": 0.5},
    ),
}


def copy_proxies(ours, theirs):
    ours.proxies.data = theirs.proxies.data.clone()


def copy_transposed_weights(ours, theirs):
    ours.proxies.data = theirs.W.data.T.clone()


PROXY_LOSSES = {
    "proxy-nca": (losses.ProxyNCALoss, pml_losses.ProxyNCALoss, {}, copy_proxies),
    "proxy-nca scale 8": (
        losses.ProxyNCALoss,
        pml_losses.ProxyNCALoss,
        {"softmax_scale": 8.0},
        copy_proxies,
    ),
    "proxy-anchor": (losses.ProxyAnchorLoss, pml_losses.ProxyAnchorLoss, {}, copy_proxies),
    "proxy-anchor margin": (
        losses.ProxyAnchorLoss,
        pml_losses.ProxyAnchorLoss,
        {"margin": 0.3, "alpha": 8.0},
        copy_proxies,
    ),
    "normalized softmax": (
        losses.NormalizedSoftmaxLoss,
        pml_losses.NormalizedSoftmaxLoss,
        {},
        copy_transposed_weights,
    ),
    "arcface": (losses.ArcFaceLoss, pml_losses.ArcFaceLoss, {}, copy_transposed_weights),
    "arcface small": (
        losses.ArcFaceLoss,
        pml_losses.ArcFaceLoss,
        {"margin": 10.0, "scale": 16.0},
        copy_transposed_weights,
    ),
}


def value_and_gradients(loss_fn, embeddings, labels, indices_tuple):
    """Loss value, gradient wrt the embeddings and (if any) wrt the loss's parameters."""
    embeddings = embeddings.clone().requires_grad_(True)
    loss_fn.zero_grad()
    value = loss_fn(embeddings, labels, indices_tuple)
    value.backward()
    parameter_gradients = [p.grad.clone() for p in loss_fn.parameters()]
    return value.detach(), embeddings.grad, parameter_gradients


def assert_same(ours, theirs):
    value, gradient, parameter_gradients = ours
    their_value, their_gradient, their_parameter_gradients = theirs
    torch.testing.assert_close(value, their_value, atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(gradient, their_gradient, atol=TOLERANCE, rtol=0)
    for mine, their in zip(parameter_gradients, their_parameter_gradients, strict=True):
        torch.testing.assert_close(
            mine.reshape(their.shape) if mine.shape != their.shape else mine,
            their,
            atol=TOLERANCE,
            rtol=0,
        )


@pytest.mark.parametrize("mined", MINED)
@pytest.mark.parametrize("name", PAIR_AND_TRIPLET_LOSSES)
def test_pair_and_triplet_losses_match_pml(name, mined):
    ours_class, pml_class, our_kwargs, pml_kwargs = PAIR_AND_TRIPLET_LOSSES[name]
    embeddings, labels = make_batch(1)
    indices_tuple = MINED[mined](embeddings, labels)
    assert_same(
        value_and_gradients(ours_class(**our_kwargs), embeddings, labels, indices_tuple),
        value_and_gradients(pml_class(**pml_kwargs), embeddings, labels, indices_tuple),
    )


@pytest.mark.parametrize("mined", MINED)
@pytest.mark.parametrize("name", PROXY_LOSSES)
def test_proxy_losses_match_pml_including_proxy_gradients(name, mined):
    ours_class, pml_class, kwargs, copy = PROXY_LOSSES[name]
    embeddings, labels = make_batch(2)
    indices_tuple = MINED[mined](embeddings, labels)
    theirs = pml_class(num_classes=N_CLASSES, embedding_size=embeddings.shape[1], **kwargs).double()
    ours = ours_class(num_classes=N_CLASSES, embedding_size=embeddings.shape[1], **kwargs).double()
    copy(ours, theirs)
    our_result = value_and_gradients(ours, embeddings, labels, indices_tuple)
    their_result = value_and_gradients(theirs, embeddings, labels, indices_tuple)
    if hasattr(
        theirs, "W"
    ):  # PML keeps (embedding_size, num_classes); ours (num_classes, embedding_size)
        our_result = (*our_result[:2], [g.T for g in our_result[2]])
    assert_same(our_result, their_result)


def test_ntxent_for_simclr_matches_pml_self_supervised_wrapper():
    views, _ = make_batch(3, n=16)
    augmented = views + 0.1 * make_batch(4, n=16)[0]
    item = torch.arange(16)
    ours = losses.NTXentLoss(0.2)(torch.cat([views, augmented]), torch.cat([item, item]))
    theirs = pml_losses.SelfSupervisedLoss(pml_losses.NTXentLoss(0.2))(views, augmented)
    torch.testing.assert_close(ours, theirs, atol=TOLERANCE, rtol=0)


def test_cross_modal_infonce_is_symmetric_ntxent_with_reference_embeddings():
    audio, _ = make_batch(5, n=12)
    text, _ = make_batch(6, n=12)
    item = torch.arange(12)
    ntxent = pml_losses.NTXentLoss(0.1)
    # ref_labels must be another tensor: PML drops the diagonal when it is the same object
    pairs = {"labels": item, "ref_labels": item.clone()}
    expected = (ntxent(audio, ref_emb=text, **pairs) + ntxent(text, ref_emb=audio, **pairs)) / 2
    audio.requires_grad_(True)
    loss = losses.CrossModalInfoNCE(0.1)(audio, text)
    torch.testing.assert_close(loss, expected, atol=TOLERANCE, rtol=0)
    loss.backward()
    assert torch.isfinite(audio.grad).all() and audio.grad.abs().sum() > 0


def test_cross_modal_infonce_by_hand():
    # Perfectly aligned orthogonal pairs: each row's partner has similarity 1, the others 0.
    a = torch.eye(3, dtype=torch.float64)
    loss = losses.CrossModalInfoNCE(temperature=1.0)(a, a.clone())
    assert loss.item() == pytest.approx(-math.log(math.e / (math.e + 2)), abs=1e-12)


def test_all_triplets_equals_pml_in_order():
    _, labels = make_batch(0, n=30)
    ours = losses.all_triplets(labels)
    theirs = pml_utils.get_all_triplets_indices(labels)
    for mine, their in zip(ours, theirs, strict=True):
        assert torch.equal(mine, their)


def test_pairwise_distances_match_cdist_and_have_finite_gradients_at_zero():
    x, _ = make_batch(0, n=10)
    x = torch.cat([x, x[:2]]).requires_grad_(True)  # duplicated items, as a PK sampler may draw
    distances = losses.pairwise_distances(x)
    # near zero, the matrix-product formula is accurate to about sqrt(machine epsilon) only
    torch.testing.assert_close(distances, torch.cdist(x, x), atol=1e-6, rtol=0)
    assert torch.all(distances.diagonal() < 1e-12)
    distances.sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize(
    "loss_fn", [losses.TripletMarginLoss(), losses.ContrastiveLoss(pos_margin=0.0)]
)
def test_duplicated_items_give_finite_gradients(loss_fn):
    x, labels = make_batch(1, n=12)
    x = torch.cat([x, x[:3]]).requires_grad_(True)
    loss_fn(x, torch.cat([labels, labels[:3]])).backward()
    assert torch.isfinite(x.grad).all()


def test_active_fraction_counts_triplets_with_positive_loss():
    x, labels = make_batch(0)
    loss_fn = losses.TripletMarginLoss(margin=0.1)
    loss_fn(x, labels)
    a, p, n = losses.all_triplets(labels)
    xn = F.normalize(x, dim=1)
    by_hand = ((xn[a] - xn[p]).norm(dim=1) - (xn[a] - xn[n]).norm(dim=1) + 0.1 > 0).double().mean()
    assert loss_fn.active_fraction == pytest.approx(by_hand.item(), abs=1e-12)


def test_no_valid_triplets_gives_zero_loss_with_a_gradient():
    x = torch.randn(4, 3, requires_grad=True)
    loss = losses.TripletMarginLoss()(x, torch.zeros(4, dtype=torch.long))
    loss.backward()
    assert loss.item() == 0 and torch.equal(x.grad, torch.zeros_like(x))


def test_proxy_loss_accepts_other_dtype_and_trains_its_proxies():
    loss_fn = losses.ProxyAnchorLoss(N_CLASSES, 8)  # float32 proxies, float64 embeddings
    x, labels = make_batch(0)
    loss_fn(x, labels).backward()
    assert loss_fn.proxies.grad is not None and loss_fn.proxies.grad.abs().sum() > 0
    assert loss_fn.predict(x).shape == labels.shape


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------

ALL_LOSSES = [
    losses.ContrastiveLoss(),
    losses.TripletMarginLoss(),
    losses.NTXentLoss(),
    losses.SupConLoss(),
    losses.ProxyNCALoss(N_CLASSES, 8),
    losses.ProxyAnchorLoss(N_CLASSES, 8),
    losses.NormalizedSoftmaxLoss(N_CLASSES, 8),
    losses.ArcFaceLoss(N_CLASSES, 8),
]


@pytest.mark.parametrize("loss_fn", ALL_LOSSES, ids=lambda loss: type(loss).__name__)
def test_bad_batches_raise_clear_errors(loss_fn):
    x, labels = make_batch(0)
    with pytest.raises(ValueError, match="shape"):
        loss_fn(x[0], labels[:1])
    with pytest.raises(ValueError, match="labels must have shape"):
        loss_fn(x, labels[:-1])
    with pytest.raises(ValueError, match="NaN"):
        loss_fn(torch.full_like(x, float("nan")), labels)
    with pytest.raises(TypeError, match="integers"):
        loss_fn(x, labels.double())
    with pytest.raises(ValueError, match="indices_tuple"):
        loss_fn(x, labels, (torch.tensor([0]), torch.tensor([1])))
    with pytest.raises(ValueError, match="outside the batch"):
        loss_fn(x, labels, (torch.tensor([0]), torch.tensor([1]), torch.tensor([99])))


@pytest.mark.parametrize(
    "loss_class",
    [losses.ProxyNCALoss, losses.ProxyAnchorLoss, losses.NormalizedSoftmaxLoss, losses.ArcFaceLoss],
)
def test_proxy_losses_reject_labels_out_of_range_and_wrong_sizes(loss_class):
    x, labels = make_batch(0)
    loss_fn = loss_class(N_CLASSES, 8)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 5\)"):
        loss_fn(x, labels + 1)
    with pytest.raises(ValueError, match="labels must lie"):
        loss_fn(x, labels - 1)
    with pytest.raises(ValueError, match="dimensions"):
        loss_fn(x[:, :4], labels)
    with pytest.raises(ValueError, match="positive integer"):
        loss_class(0, 8)


@pytest.mark.parametrize(
    "make",
    [
        lambda: losses.TripletMarginLoss(margin=-0.1),
        lambda: losses.ContrastiveLoss(pos_margin=-0.1),
        lambda: losses.ContrastiveLoss(neg_margin=-1),
        lambda: losses.ProxyAnchorLoss(3, 4, margin=-0.1),
        lambda: losses.ArcFaceLoss(3, 4, margin=-1),
        lambda: losses.ArcFaceLoss(3, 4, margin=200),
        lambda: losses.NTXentLoss(temperature=0),
        lambda: losses.SupConLoss(temperature=-1),
        lambda: losses.CrossModalInfoNCE(temperature=0),
        lambda: losses.NormalizedSoftmaxLoss(3, 4, temperature=0),
        lambda: losses.ProxyNCALoss(3, 4, softmax_scale=0),
    ],
)
def test_bad_hyperparameters_raise_value_error(make):
    with pytest.raises(ValueError, match="must be"):
        make()


def test_cross_modal_infonce_rejects_unpaired_batches():
    with pytest.raises(ValueError, match="same shape"):
        losses.CrossModalInfoNCE()(torch.randn(4, 3), torch.randn(5, 3))
