"""utils.models and utils.train: shapes, invariances, a training run that learns, repeatability."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from utils import losses, miners, models
from utils.course import seed_everything
from utils.samplers import PKSampler
from utils.train import History, embed, load_model, save_model, train


def test_conv_encoder_maps_spectrograms_to_unit_embeddings():
    model = models.ConvEncoder(n_bins=64, embedding_size=16, channels=(4, 8))
    embeddings = model(torch.randn(3, 64, 40))
    assert embeddings.shape == (3, 16)
    torch.testing.assert_close(embeddings.norm(dim=1), torch.ones(3))
    assert (
        models.ConvEncoder(normalize=False, channels=(4,))(torch.randn(2, 64, 9)).norm(dim=1).std()
        > 0
    )


@pytest.mark.parametrize("training", [False, True])
def test_pitch_invariant_encoder_ignores_transpositions_of_chroma(training):
    torch.manual_seed(0)
    model = models.ConvEncoder(
        n_bins=12, embedding_size=8, channels=(4, 8), pitch_invariant=True
    ).train(training)
    chroma = torch.rand(4, 12, 32)
    transposed = torch.roll(chroma, shifts=5, dims=1)
    torch.testing.assert_close(model(transposed), model(chroma), atol=1e-5, rtol=0)
    plain = models.ConvEncoder(n_bins=12, embedding_size=8, channels=(4, 8)).train(training)
    assert not torch.allclose(plain(transposed), plain(chroma), atol=1e-3)


def test_encoders_reject_wrong_shapes():
    with pytest.raises(ValueError, match="n_bins=64"):
        models.ConvEncoder()(torch.randn(2, 32, 40))
    with pytest.raises(ValueError, match="frames>=8"):
        models.ConvEncoder()(torch.randn(2, 64, 4))
    with pytest.raises(ValueError, match="too few"):
        models.ConvEncoder(n_bins=4, channels=(4, 8, 16))
    with pytest.raises(ValueError, match=r"\(batch, 5\)"):
        models.MLPEncoder(5, 3)(torch.randn(2, 4))


def test_mlp_encoder_and_parameter_count():
    linear = models.MLPEncoder(5, 3, hidden=(), normalize=False)
    assert models.count_parameters(linear) == 5 * 3 + 3
    mlp = models.MLPEncoder(5, 3, hidden=(7,))
    assert models.count_parameters(mlp) == (5 * 7 + 7) + (7 * 3 + 3)
    assert mlp(torch.randn(4, 5)).shape == (4, 3)
    mlp.layers[0].weight.requires_grad_(False)
    assert models.count_parameters(mlp) == 7 + 7 * 3 + 3
    assert models.count_parameters(mlp, trainable_only=False) == (5 * 7 + 7) + (7 * 3 + 3)


def toy_problem(n: int = 128, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes told apart by the first of 8 features, hidden among 7 noisy ones."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    features = 2 * torch.randn(n, 8, generator=generator)
    features[:, 0] = 2.0 * labels - 1 + 0.3 * torch.randn(n, generator=generator)
    return features, labels


def nearest_neighbour_accuracy(model, features, labels) -> float:
    embeddings = torch.as_tensor(embed(model, features))
    distances = torch.cdist(embeddings, embeddings).fill_diagonal_(float("inf"))
    return (labels[distances.argmin(1)] == labels).float().mean().item()


def run(epochs: int = 4, loss_fn: nn.Module | None = None, **kwargs) -> tuple[nn.Module, History]:
    features, labels = toy_problem()
    seed_everything(0)
    model = models.MLPEncoder(8, 4, hidden=(16,))
    history = train(
        model,
        loss_fn or losses.TripletMarginLoss(margin=0.2),
        (TensorDataset(features, labels), PKSampler(labels.numpy(), p=2, k=16)),
        epochs=epochs,
        lr=0.01,
        eval_fn=lambda m: {"1-nn accuracy": nearest_neighbour_accuracy(m, features, labels)},
        progress=False,
        **kwargs,
    )
    return model, history


def test_training_reduces_the_loss_and_records_its_history():
    model, history = run(epochs=8, miner=miners.BatchHardMiner())
    assert len(history.loss) == 8 * 4 and history.steps_per_epoch == [4] * 8
    assert history.epoch_loss[-1] < 0.5 * history.epoch_loss[0]
    accuracy = history.metric("1-nn accuracy")
    assert accuracy[0] < 0.7 and accuracy[-1] > 0.95
    assert history.mined == [32] * 32  # batch-hard: one triplet per anchor
    assert len(history.active_fraction) == 32 and all(0 <= f <= 1 for f in history.active_fraction)
    assert history.wall_time > 0 and not model.training


def test_same_seed_gives_identical_histories():
    first = run(epochs=2, miner=miners.DistanceWeightedMiner())[1]
    second = run(epochs=2, miner=miners.DistanceWeightedMiner())[1]
    assert first == second and first.epoch_seconds != []


def test_loss_parameters_are_trained_even_with_a_given_optimizer():
    loss_fn = losses.ProxyAnchorLoss(num_classes=2, embedding_size=4)
    before = loss_fn.proxies.detach().clone()
    features, labels = toy_problem()
    seed_everything(0)
    model = models.MLPEncoder(8, 4)
    loader = DataLoader(TensorDataset(features, labels), batch_size=32, shuffle=True)
    history = train(
        model,
        loss_fn,
        loader,
        epochs=2,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        progress=False,
    )
    assert not torch.equal(loss_fn.proxies.detach(), before)
    assert history.epoch_loss[-1] < history.epoch_loss[0]
    assert history.active_fraction == [] and history.mined == []


def test_embed_is_batched_without_gradients_and_restores_the_mode():
    model = models.MLPEncoder(8, 4).train()
    features = np.random.default_rng(0).normal(size=(10, 8))
    embeddings = embed(model, features, batch_size=3)
    assert (
        isinstance(embeddings, np.ndarray)
        and embeddings.dtype == np.float32
        and embeddings.shape == (10, 4)
    )
    assert model.training
    model.eval()
    with torch.no_grad():
        expected = model(torch.as_tensor(features, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(embeddings, expected, atol=1e-6)


def test_save_and_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = models.ConvEncoder(n_bins=16, embedding_size=8, channels=(4,)).eval()
    path = save_model(model, tmp_path / "models" / "encoder.pt")
    assert path.exists() and list(path.parent.iterdir()) == [path]
    torch.manual_seed(1)
    copy = load_model(models.ConvEncoder(n_bins=16, embedding_size=8, channels=(4,)), path).eval()
    x = torch.randn(2, 16, 12)
    torch.testing.assert_close(copy(x), model(x), atol=0, rtol=0)
    torch.load(path, weights_only=True)  # plain tensors only


def test_bad_training_arguments_raise():
    model = models.MLPEncoder(8, 4)
    with pytest.raises(TypeError, match="DataLoader"):
        train(model, losses.TripletMarginLoss(), [1, 2, 3], epochs=1, progress=False)
    with pytest.raises(ValueError, match="epochs"):
        train(
            model, losses.TripletMarginLoss(), DataLoader(TensorDataset(*toy_problem())), epochs=0
        )


def test_train_pairs_aligns_two_views():
    """A two-tower model trained with CrossModalInfoNCE pairs each item with its other view."""
    from utils.losses import CrossModalInfoNCE
    from utils.train import TwoTower, train_pairs

    generator = torch.Generator().manual_seed(0)
    a = torch.randn(128, 6, generator=generator)
    b = a @ torch.randn(6, 6, generator=generator) + 0.05 * torch.randn(128, 6, generator=generator)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(a, b), batch_size=32)
    model = TwoTower(models.MLPEncoder(6, 8, hidden=(16,)), models.MLPEncoder(6, 8, hidden=(16,)))
    history = train_pairs(model, CrossModalInfoNCE(temperature=0.1), loader, epochs=40, lr=1e-2,
                          seed=0, progress=False)
    assert np.mean(history.loss[-4:]) < 0.5 * np.mean(history.loss[:4])
    with torch.no_grad():
        za, zb = model(a, b)
    assert (torch.cdist(za, zb).argmin(dim=1) == torch.arange(128)).float().mean() > 0.8
    with pytest.raises(TypeError, match="DataLoader"):
        train_pairs(model, CrossModalInfoNCE(), (a, b))
