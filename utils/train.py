"""One short training loop for deep metric learning, plus embedding and saving helpers.

Used by every training notebook of series 2 and 3::

    history = train(model, TripletMarginLoss(0.2), (dataset, PKSampler(labels, p=8, k=4)),
                    epochs=5, lr=1e-3, miner=BatchHardMiner(), eval_fn=evaluate)
    embeddings = embed(model, features)

Each step embeds a batch ``(x, labels)``, optionally mines triplets, computes
``loss_fn(embeddings, labels, indices_tuple)`` and takes an optimiser step. The run is seeded
(same seed, same history), uses CUDA when available and the CPU otherwise, and shows a progress
bar (``tqdm.auto``: a widget in notebooks, text elsewhere).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from utils.checks import check_int, check_number
from utils.course import seed_everything


@dataclass
class History:
    """What a training run recorded.

    Attributes
    ----------
    loss : list of float
        Loss of every step.
    steps_per_epoch : list of int
        Steps of each epoch (to group ``loss`` by epoch).
    metrics : list of dict
        ``eval_fn(model)`` after each epoch (empty without ``eval_fn``).
    active_fraction : list of float
        Per step, for pair and triplet losses: fraction of the mined triplets (or of all valid
        triplets or pairs of the batch, without a miner) that have a positive loss.
    mined : list of int
        Per step, with a miner: number of triplets it returned.
    epoch_seconds : list of float
        Wall time of each epoch (ignored when comparing histories).
    """

    loss: list[float] = field(default_factory=list)
    steps_per_epoch: list[int] = field(default_factory=list)
    metrics: list[dict[str, float]] = field(default_factory=list)
    active_fraction: list[float] = field(default_factory=list)
    mined: list[int] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list, compare=False)

    @property
    def epoch_loss(self) -> list[float]:
        """Mean loss of each epoch."""
        ends = np.cumsum(self.steps_per_epoch)
        return [
            float(np.mean(self.loss[end - steps : end]))
            for end, steps in zip(ends, self.steps_per_epoch, strict=True)
        ]

    @property
    def wall_time(self) -> float:
        """Total training time in seconds."""
        return float(sum(self.epoch_seconds))

    def metric(self, name: str) -> list[float]:
        """One evaluation metric across epochs."""
        return [metrics[name] for metrics in self.metrics]


def default_device() -> torch.device:
    """CUDA when available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train(
    model: nn.Module,
    loss_fn: nn.Module,
    data: DataLoader | tuple[Dataset, object],
    *,
    epochs: int = 10,
    lr: float = 1e-3,
    miner: nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    eval_fn: Callable[[nn.Module], dict[str, float] | float] | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
    progress: bool = True,
) -> History:
    """Train ``model`` in place on batches ``(x, labels)``; return the :class:`History`.

    Parameters
    ----------
    model : nn.Module
        Maps a batch ``x`` to embeddings (batch, dim).
    loss_fn : nn.Module
        Called as ``loss_fn(embeddings, labels, indices_tuple)`` (see :mod:`utils.losses`); its
        parameters (proxies) are trained too.
    data : DataLoader or (Dataset, batch sampler)
        A loader of ``(x, labels)`` batches, or a dataset and a batch sampler such as
        :class:`utils.samplers.PKSampler` (its ``set_epoch`` is called each epoch).
    epochs, lr : int, float
        Passes over ``data``; learning rate of the default Adam optimiser.
    miner : nn.Module, optional
        Called as ``miner(embeddings, labels)`` to choose the triplets (see :mod:`utils.miners`).
    optimizer : torch.optim.Optimizer, optional
        Default ``Adam(model and loss parameters, lr)``; loss parameters it lacks are added.
    eval_fn : callable, optional
        ``eval_fn(model) -> dict of metrics (or one float)`` after each epoch, in eval mode
        without gradients.
    device : str or torch.device, optional
        Default CUDA when available, else the CPU; model and loss are moved there.
    seed : int
        Seeds Python, NumPy and torch first (:func:`utils.course.seed_everything`, which also
        asks torch for deterministic algorithms), so two runs from the same model state agree.
    progress : bool
        Show a progress bar.
    """
    loader = data if isinstance(data, DataLoader) else _loader_from(data)
    history = History()

    def step(batch: tuple[Tensor, Tensor], device: torch.device) -> Tensor:
        x, labels = (t.to(device) for t in batch)
        embeddings = model(x)
        indices_tuple = miner(embeddings, labels) if miner is not None else None
        if indices_tuple is not None:
            history.mined.append(len(indices_tuple[0]))
        return loss_fn(embeddings, labels, indices_tuple)

    return _fit(model, loss_fn, loader, step, history, epochs=epochs, lr=lr, optimizer=optimizer,
                eval_fn=eval_fn, device=device, seed=seed, progress=progress)


class TwoTower(nn.Module):
    """Two encoders trained jointly on paired batches: one per modality or domain.

    ``forward(a, b)`` returns ``(encoder_a(a), encoder_b(b))``; row i of ``a`` and of ``b`` are a
    positive pair (audio and its score, a solo and its mixture, a clip and its words).
    """

    def __init__(self, encoder_a: nn.Module, encoder_b: nn.Module):
        super().__init__()
        _check_modules(encoder_a=encoder_a, encoder_b=encoder_b)
        self.encoder_a = encoder_a
        self.encoder_b = encoder_b

    def forward(self, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        return self.encoder_a(a), self.encoder_b(b)


def train_pairs(
    model: TwoTower,
    loss_fn: nn.Module,
    loader: DataLoader,
    *,
    epochs: int = 10,
    lr: float = 1e-3,
    optimizer: torch.optim.Optimizer | None = None,
    eval_fn: Callable[[nn.Module], dict[str, float] | float] | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
    progress: bool = True,
) -> History:
    """Train a :class:`TwoTower` in place on batches of pairs ``(a, b)``; return the :class:`History`.

    ``loss_fn(embeddings_a, embeddings_b)`` scores the batch, e.g.
    :class:`utils.losses.CrossModalInfoNCE`. Other arguments as in :func:`train`.
    """
    if not isinstance(loader, DataLoader):
        raise TypeError("loader must be a DataLoader of (a, b) pairs")

    def step(batch: tuple[Tensor, Tensor], device: torch.device) -> Tensor:
        a, b = (t.to(device) for t in batch)
        return loss_fn(*model(a, b))

    return _fit(model, loss_fn, loader, step, History(), epochs=epochs, lr=lr, optimizer=optimizer,
                eval_fn=eval_fn, device=device, seed=seed, progress=progress)


def _fit(model: nn.Module, loss_fn: nn.Module, loader: DataLoader,
         step: Callable[[tuple, torch.device], Tensor], history: History, *, epochs: int, lr: float,
         optimizer: torch.optim.Optimizer | None, eval_fn: Callable | None,
         device: str | torch.device | None, seed: int, progress: bool) -> History:
    """The loop shared by :func:`train` and :func:`train_pairs`: ``step(batch, device)`` gives a
    batch's loss; records loss, active fraction, metrics and time in ``history``."""
    check_int(epochs, "epochs")
    check_number(lr, "lr", strict=True)
    _check_modules(model=model, loss_fn=loss_fn)
    device = torch.device(device) if device is not None else default_device()
    seed_everything(seed)
    model.to(device)
    loss_fn.to(device)
    optimizer = _with_loss_parameters(
        optimizer or torch.optim.Adam(model.parameters(), lr=lr), loss_fn
    )
    bar = tqdm(total=epochs * len(loader), disable=not progress, desc="training", unit="step")
    for epoch in range(epochs):
        start, steps = time.perf_counter(), 0
        _set_epoch(loader, epoch)
        model.train()
        for batch in loader:
            loss = step(batch, device)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.loss.append(loss.item())
            if getattr(loss_fn, "active_fraction", None) is not None:
                history.active_fraction.append(loss_fn.active_fraction)
            steps += 1
            bar.update()
            bar.set_postfix(epoch=epoch + 1, loss=f"{history.loss[-1]:.4f}")
        history.steps_per_epoch.append(steps)
        if eval_fn is not None:
            history.metrics.append(_evaluate(model, eval_fn))
        history.epoch_seconds.append(time.perf_counter() - start)
    bar.close()
    model.eval()
    return history


def _check_modules(**modules: object) -> None:
    """A ``TypeError`` naming the first argument that is not a ``torch.nn.Module``."""
    for name, module in modules.items():
        if not isinstance(module, nn.Module):
            raise TypeError(f"{name} must be a torch.nn.Module, got {type(module).__name__}; "
                            "wrap a function in a small nn.Module whose forward calls it")


def _loader_from(data: tuple[Dataset, object]) -> DataLoader:
    if not (isinstance(data, tuple) and len(data) == 2):
        raise TypeError("data must be a DataLoader or a (dataset, batch_sampler) tuple")
    dataset, batch_sampler = data
    return DataLoader(dataset, batch_sampler=batch_sampler)


def _set_epoch(loader: DataLoader, epoch: int) -> None:
    for sampler in (loader.batch_sampler, loader.sampler):
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)


def _with_loss_parameters(
    optimizer: torch.optim.Optimizer, loss_fn: nn.Module
) -> torch.optim.Optimizer:
    """Add the loss's parameters (proxies) the optimiser does not have yet."""
    known = {id(p) for group in optimizer.param_groups for p in group["params"]}
    missing = [p for p in loss_fn.parameters() if id(p) not in known]
    if missing:
        optimizer.add_param_group({"params": missing})
    return optimizer


def _evaluate(model: nn.Module, eval_fn: Callable) -> dict[str, float]:
    model.eval()
    with torch.no_grad():
        result = eval_fn(model)
    model.train()
    return (
        {name: float(value) for name, value in result.items()}
        if isinstance(result, dict)
        else {"metric": float(result)}
    )


def embed(
    model: nn.Module,
    x: np.ndarray | Tensor,
    batch_size: int = 256,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Embeddings of ``x`` (n, ...) as a float32 array (n, dim): eval mode, no gradients, batched.

    Runs on ``device`` (default: where the model's parameters are) and restores the model's
    training mode afterwards.
    """
    check_int(batch_size, "batch_size")
    x = torch.as_tensor(x, dtype=torch.float32)
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"x must hold at least one item (n, ...), got shape {tuple(x.shape)}")
    if device is None:
        device = next(model.parameters(), torch.empty(0)).device
    model.to(device)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        chunks = [model(batch.to(device)).float().cpu() for batch in x.split(batch_size)]
    model.train(was_training)
    return torch.cat(chunks).numpy()


def save_model(model: nn.Module, path: str | Path) -> Path:
    """Save the model's weights (``state_dict``) atomically: a temporary file, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(handle)
    try:
        torch.save(model.state_dict(), temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def load_model(
    model: nn.Module, path: str | Path, device: str | torch.device | None = None
) -> nn.Module:
    """Load weights saved by :func:`save_model` into ``model`` (weights only: no code runs)."""
    state = torch.load(path, map_location=device or "cpu", weights_only=True)
    model.load_state_dict(state)
    return model
