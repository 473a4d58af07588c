"""Checkers for the notebooks on losses beyond triplets and on few-shot learning and search at scale
(notebooks/2_deep_metric_learning/03_beyond_triplets.ipynb and 04_few_shot_and_scale.ipynb).

Each checker takes the reader's function, runs it on small random inputs and compares it with a
reference: :mod:`utils.losses` for the losses, a short reference written here otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from utils.exercises import check, stub_or_function
from utils.losses import ArcFaceLoss, NTXentLoss, SupConLoss


def _as_float(value: Any) -> float | None:
    """A scalar answer (tensor, array or number) as a float; None if it is not one."""
    if isinstance(value, torch.Tensor):
        return float(value.detach()) if value.numel() == 1 else None
    try:
        return float(np.asarray(value).item())
    except (TypeError, ValueError):
        return None


def _loss_batches(seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Random (embeddings, labels) batches, with some classes of one item (anchors without positive)."""
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for size, dim, n_classes in ((12, 3, 4), (30, 8, 9), (64, 16, 20)):
        embeddings = torch.randn(size, dim, generator=generator, dtype=torch.float64)
        labels = torch.randint(0, n_classes, (size,), generator=generator)
        batches.append((embeddings, labels))
    return batches


# ---------------------------------------------------------------------------------------------
# 2.3 Beyond triplets
# ---------------------------------------------------------------------------------------------


def check_supcon(function: Callable | None) -> bool:
    """The reader's ``supcon(embeddings, labels, temperature)`` against utils.losses.SupConLoss.

    ``embeddings`` is a float tensor (batch, dim), ``labels`` an int tensor (batch,); the answer is
    a scalar tensor. Anchors without a positive are left out of the mean.
    """
    batches = _loss_batches()

    def verdict(function: Callable) -> str | None:
        for temperature in (0.1, 0.5):
            for embeddings, labels in batches:
                got = _as_float(function(embeddings, labels, temperature))
                if got is None:
                    return "return one number (a scalar tensor): the loss averaged over anchors."
                expected = SupConLoss(temperature)(embeddings, labels).item()
                if np.isclose(got, expected, rtol=1e-4):
                    continue
                if np.isclose(got, NTXentLoss(temperature)(embeddings, labels).item(), rtol=1e-4):
                    return ("that is InfoNCE (NT-Xent): in SupCon the other positives stay in the "
                            "denominator, which sums over every item but the anchor.")
                return (f"expected {expected:.4f} for a batch of {len(labels)} at τ = {temperature}, "
                        f"got {got:.4f}. Did you normalise the embeddings, exclude the anchor itself "
                        "from the denominator, and skip anchors without positives?")
        return None

    probe = batches[0]
    function = stub_or_function(function, *probe, 0.1, none_is_stub=True)
    return check(function, verdict, "supcon agrees with utils.losses.SupConLoss.")


def _arcface_variant(embeddings: torch.Tensor, labels: torch.Tensor, proxies: torch.Tensor,
                     margin_radians: float, scale: float, fold: bool) -> float:
    """ArcFace with the margin in radians; ``fold=False`` forgets the rule for theta > pi - m."""
    cosines = F.normalize(embeddings, dim=1) @ F.normalize(proxies, dim=1).T
    target = cosines.gather(1, labels[:, None])
    angle = target.clamp(-1, 1).acos()
    widened = torch.cos(angle + margin_radians)
    if fold:
        widened = torch.where(angle <= math.pi - margin_radians, widened,
                              target - margin_radians * math.sin(margin_radians))
    logits = scale * cosines.scatter(1, labels[:, None], widened)
    return F.cross_entropy(logits, labels).item()


def check_arcface(function: Callable | None) -> bool:
    """The reader's ``arcface(embeddings, labels, proxies, margin_degrees, scale)`` against
    utils.losses.ArcFaceLoss (whose proxies are set to ``proxies``, shape (classes, dim))."""
    generator = torch.Generator().manual_seed(1)
    embeddings = torch.randn(40, 3, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 5, (40,), generator=generator)
    proxies = torch.randn(5, 3, generator=generator, dtype=torch.float64)

    def verdict(function: Callable) -> str | None:
        for margin, scale in ((28.6, 64.0), (60.0, 8.0)):
            got = _as_float(function(embeddings, labels, proxies, margin, scale))
            if got is None:
                return "return one number (a scalar tensor): the cross-entropy averaged over the batch."
            reference = ArcFaceLoss(5, 3, margin=margin, scale=scale).double()
            with torch.no_grad():
                reference.proxies.copy_(proxies)
            expected = reference(embeddings, labels).item()
            if np.isclose(got, expected, rtol=1e-4):
                continue
            radians = math.radians(margin)
            if any(np.isclose(got, _arcface_variant(embeddings, labels, proxies, margin, scale, fold), rtol=1e-4)
                   for fold in (True, False)):
                return f"the margin is in degrees: convert it, m = radians({margin}) = {radians:.3f}."
            if np.isclose(got, _arcface_variant(embeddings, labels, proxies, radians, scale, False), rtol=1e-4):
                return ("right where θ + m <= π; beyond, cos(θ + m) rises again: use cos θ - m sin m "
                        "when θ > π - m.")
            return (f"expected {expected:.4f} with margin {margin}° and scale {scale}, got {got:.4f}. "
                    "Only the target class's logit gets the margin; all logits are multiplied by the scale.")
        return None

    function = stub_or_function(function, embeddings, labels, proxies, 28.6, 64.0, none_is_stub=True)
    return check(function, verdict, "arcface agrees with utils.losses.ArcFaceLoss.")


# ---------------------------------------------------------------------------------------------
# 2.4 Few-shot learning and search at scale
# ---------------------------------------------------------------------------------------------


def check_prototype_layer(function: Callable | None) -> bool:
    """The reader's ``prototype_layer(prototypes) -> (weights, bias)`` of shapes (k, d) and (k,):
    a linear layer whose softmax equals the prototypical network's, softmax(-||x - c_k||^2)."""
    rng = np.random.default_rng(2)
    prototypes = rng.normal(size=(5, 4))
    queries = rng.normal(size=(30, 4))
    target = -((queries[:, None, :] - prototypes[None]) ** 2).sum(-1)

    def log_softmax(logits: np.ndarray) -> np.ndarray:
        shifted = logits - logits.max(1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(1, keepdims=True))

    def verdict(function: Callable) -> str | None:
        answer = function(prototypes)
        if not (isinstance(answer, tuple) and len(answer) == 2):
            return "return a tuple (weights, bias)."
        weights, bias = (np.asarray(part.detach() if isinstance(part, torch.Tensor) else part, dtype=float)
                         for part in answer)
        if weights.shape != prototypes.shape or bias.shape != (len(prototypes),):
            return f"weights must have shape {prototypes.shape} and bias ({len(prototypes)},); got {weights.shape} and {bias.shape}."
        logits = queries @ weights.T + bias
        if np.allclose(log_softmax(logits), log_softmax(target), atol=1e-6):
            return None
        if np.allclose(log_softmax(2 * logits), log_softmax(target), atol=1e-6):
            return "your logits are half of what they should be: expand -||x - c||^2 = -||x||^2 + 2 c.x - ||c||^2."
        return ("the softmax differs from softmax(-||x - c_k||^2): expand the square; the term in "
                "||x||^2 is the same for every class and cancels in the softmax.")

    function = stub_or_function(function, prototypes, none_is_stub=True)
    return check(function, verdict, "a prototypical network is a linear classifier: W = 2C, b = -||c||².")


def ivf_reference(catalogue: np.ndarray, queries: np.ndarray, centroids: np.ndarray,
                  cell_of_item: np.ndarray, k: int, n_probe: int) -> np.ndarray:
    """Inverted-file search: the ``k`` nearest items (Euclidean) among those of the ``n_probe``
    cells whose centroids are nearest to each query; int array (n_queries, k), nearest first."""
    def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None]

    probed_cells = np.argsort(squared_distances(queries, centroids), axis=1)[:, :n_probe]
    distances = squared_distances(queries, catalogue)
    probed = (cell_of_item[None, :, None] == probed_cells[:, None, :]).any(2)
    return np.argsort(np.where(probed, distances, np.inf), axis=1, kind="stable")[:, :k]


def check_ivf_search(function: Callable | None) -> bool:
    """The reader's ``ivf_search(catalogue, queries, centroids, cell_of_item, k, n_probe)`` against
    :func:`ivf_reference`, with one probed cell and with all of them (then it is exact search)."""
    rng = np.random.default_rng(3)
    catalogue = rng.normal(size=(1500, 6))
    queries = rng.normal(size=(25, 6))
    centroids = catalogue[rng.choice(len(catalogue), 12, replace=False)]
    cell_of_item = ((catalogue[:, None, :] - centroids[None]) ** 2).sum(-1).argmin(1)
    arguments = (catalogue, queries, centroids, cell_of_item)
    exact = ivf_reference(*arguments, 5, len(centroids))

    def verdict(function: Callable) -> str | None:
        for n_probe in (len(centroids), 1, 3):
            got = function(*arguments, 5, n_probe)
            got = np.asarray(got.detach() if isinstance(got, torch.Tensor) else got)
            if got.shape != (len(queries), 5):
                return f"return an int array (n_queries, k) = ({len(queries)}, 5); got shape {got.shape}."
            expected = ivf_reference(*arguments, 5, n_probe)
            if np.array_equal(got, expected):
                continue
            if np.array_equal(np.sort(got, 1), np.sort(expected, 1)):
                return "the right items, in the wrong order: sort them nearest first."
            if n_probe == len(centroids):
                return "with every cell probed, the result must be the exact k nearest items, nearest first."
            if np.array_equal(got, exact):
                return f"with n_probe = {n_probe} you still search every item: keep only the items of the probed cells."
            return (f"with n_probe = {n_probe}, some neighbours differ: probe the n_probe cells whose "
                    "centroids are nearest to the query, then rank only their items.")
        return None

    function = stub_or_function(function, *arguments, 5, 1, none_is_stub=True)
    return check(function, verdict, "ivf_search agrees with the reference, and is exact when every cell is probed.")
