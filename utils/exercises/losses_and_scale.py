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

from utils.exercises import call_on_copies, check, stub_or_function, to_numpy
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


def supcon_variant(embeddings: torch.Tensor, labels: torch.Tensor, temperature: float, *, normalise: bool = True,
                   anchor_in_denominator: bool = False, positives_in_denominator: bool = True,
                   skip_lonely: bool = True, mean_over_positives: bool = True) -> float:
    """SupCon (as utils.losses.SupConLoss with the defaults), or the value a common mistake gives.

    The flags make the mistakes: no normalisation, the anchor's own similarity left in the
    denominator, the positives taken out of it, anchors without positives counted as zeros, the
    sum over positives instead of their mean.
    """
    x = F.normalize(embeddings, dim=1) if normalise else embeddings
    itself = torch.eye(len(labels), dtype=torch.bool)
    positive = (labels[:, None] == labels[None, :]) & ~itself
    left_out = torch.zeros_like(itself) if anchor_in_denominator else itself.clone()
    if not positives_in_denominator:
        left_out |= positive
    logits = x @ x.T / temperature
    log_probability = logits - logits.masked_fill(left_out, -torch.inf).logsumexp(dim=1, keepdim=True)
    per_anchor = -log_probability.masked_fill(~positive, 0).sum(1)
    if mean_over_positives:
        per_anchor = per_anchor / positive.sum(1).clamp_min(1)
    return float(per_anchor[positive.any(1)].mean() if skip_lonely else per_anchor.mean())


_SUPCON_MISTAKES = {
    "normalise": "L2-normalise the embeddings first: the logits are cosine similarities over τ.",
    "anchor_in_denominator": "leave the anchor itself out of the denominator: it sums over every other item.",
    "positives_in_denominator": ("the other positives stay in SupCon's denominator: it sums over every item but the "
                                 "anchor, positives included, not over the negatives only."),
    "skip_lonely": "anchors without a positive have no loss: leave them out of the mean instead of counting zeros.",
    "mean_over_positives": "average over each anchor's positives (divide by their number), do not sum.",
}
_SUPCON_DEFAULT_TRUE = ("normalise", "positives_in_denominator", "skip_lonely", "mean_over_positives")


def _supcon_hint(got: float, embeddings: torch.Tensor, labels: torch.Tensor, temperature: float) -> str:
    """The hint for a SupCon value that differs from the reference on this batch."""
    def close(value: float) -> bool:
        return bool(np.isclose(got, value, rtol=1e-4))

    for flag, hint in _SUPCON_MISTAKES.items():
        if close(supcon_variant(embeddings, labels, temperature, **{flag: flag not in _SUPCON_DEFAULT_TRUE})):
            return hint
    if close(NTXentLoss(temperature)(embeddings, labels).item()):
        return ("that is InfoNCE (NT-Xent), one positive against the negatives: in SupCon the other "
                "positives stay in the denominator, which sums over every item but the anchor.")
    if close(SupConLoss(1 / temperature)(embeddings, labels).item()):
        return "divide the similarities by the temperature τ, do not multiply."
    return (f"your loss differs from SupCon's on a batch of {len(labels)} at τ = {temperature}: a log-softmax "
            "over every other item, averaged over each anchor's positives, then over anchors with a positive.")


def check_supcon(function: Callable | None) -> bool:
    """The reader's ``supcon(embeddings, labels, temperature)`` against utils.losses.SupConLoss.

    ``embeddings`` is a float tensor (batch, dim), ``labels`` an int tensor (batch,); the answer is
    a scalar tensor. Anchors without a positive are left out of the mean.
    """
    batches = _loss_batches()

    def verdict(function: Callable) -> str | None:
        for temperature in (0.1, 0.5):
            for embeddings, labels in batches:
                got, changed = call_on_copies(function, {"embeddings": embeddings, "labels": labels,
                                                         "temperature": temperature})
                got = _as_float(got)
                if got is None:
                    return "return one number (a scalar tensor): the loss averaged over anchors."
                if changed:
                    return changed
                if not np.isclose(got, SupConLoss(temperature)(embeddings, labels).item(), rtol=1e-4):
                    return _supcon_hint(got, embeddings, labels, temperature)
        return None

    probe = batches[0]
    function = stub_or_function(function, *probe, 0.1, none_is_stub=True)
    return check(function, verdict, "supcon agrees with utils.losses.SupConLoss.")


def arcface_variant(embeddings: torch.Tensor, labels: torch.Tensor, proxies: torch.Tensor, margin_radians: float,
                    scale: float, *, fold: bool = True, every_class: bool = False, on_cosine: bool = False,
                    normalise_proxies: bool = True) -> float:
    """ArcFace with the margin in radians, or what a common mistake gives.

    ``fold=False`` forgets the rule for theta > pi - m; ``every_class`` widens every angle, not only
    the target's; ``on_cosine`` subtracts the margin from the cosine (CosFace); without
    ``normalise_proxies`` the proxies keep their lengths.
    """
    proxies = F.normalize(proxies, dim=1) if normalise_proxies else proxies
    cosines = F.normalize(embeddings, dim=1) @ proxies.T
    angle = cosines.clamp(-1, 1).acos()
    widened = cosines - margin_radians if on_cosine else torch.cos(angle + margin_radians)
    if fold and not on_cosine:
        widened = torch.where(angle <= math.pi - margin_radians, widened,
                              cosines - margin_radians * math.sin(margin_radians))
    target = F.one_hot(labels, len(proxies)).bool()
    logits = scale * (widened if every_class else torch.where(target, widened, cosines))
    return F.cross_entropy(logits, labels).item()


_ARCFACE_MISTAKES = {
    "right where θ + m <= π; beyond, cos(θ + m) rises again: use cos θ - m sin m when θ > π - m.": {"fold": False},
    "only the target class's logit gets the margin; the other classes keep cos θ.": {"every_class": True},
    "ArcFace adds the margin to the angle, cos(θ + m), not to the cosine (that is CosFace).": {"on_cosine": True},
    "normalise the proxies too: the logits are cosines between unit vectors.": {"normalise_proxies": False},
}


def _arcface_hint(got: float, arguments: tuple, margin: float, scale: float) -> str:
    """The hint for an ArcFace value that differs from the reference, margin in degrees."""
    def close(radians: float, scale: float, **variant) -> bool:
        return bool(np.isclose(got, arcface_variant(*arguments, radians, scale, **variant), rtol=1e-4))

    radians = math.radians(margin)
    if close(margin, scale) or close(margin, scale, fold=False):
        return "the margin is given in degrees: convert it to radians first."
    for hint, variant in _ARCFACE_MISTAKES.items():
        if close(radians, scale, **variant):
            return hint
    if close(radians, 1.0):
        return "multiply all the logits by the scale before the cross-entropy."
    if close(-radians, scale, fold=False):
        return "the margin makes the target class harder: its angle grows to θ + m, not θ - m."
    return (f"your loss differs from ArcFace's with margin {margin}° and scale {scale}: only the target class's "
            "angle gets the margin; all logits are multiplied by the scale.")


def check_arcface(function: Callable | None) -> bool:
    """The reader's ``arcface(embeddings, labels, proxies, margin_degrees, scale)`` against
    utils.losses.ArcFaceLoss (whose proxies are set to ``proxies``, shape (classes, dim))."""
    generator = torch.Generator().manual_seed(1)
    embeddings = torch.randn(40, 3, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 5, (40,), generator=generator)
    proxies = 3 * torch.randn(5, 3, generator=generator, dtype=torch.float64)

    def verdict(function: Callable) -> str | None:
        for margin, scale in ((28.6, 64.0), (60.0, 8.0)):
            got, changed = call_on_copies(function, {"embeddings": embeddings, "labels": labels, "proxies": proxies,
                                                     "margin_degrees": margin, "scale": scale})
            got = _as_float(got)
            if got is None:
                return "return one number (a scalar tensor): the cross-entropy averaged over the batch."
            if changed:
                return changed
            reference = ArcFaceLoss(5, 3, margin=margin, scale=scale).double()
            with torch.no_grad():
                reference.proxies.copy_(proxies)
            if not np.isclose(got, reference(embeddings, labels).item(), rtol=1e-4):
                return _arcface_hint(got, (embeddings, labels, proxies), margin, scale)
        return None

    function = stub_or_function(function, embeddings, labels, proxies, 28.6, 64.0, none_is_stub=True)
    return check(function, verdict, "arcface agrees with utils.losses.ArcFaceLoss.")


# ---------------------------------------------------------------------------------------------
# 2.4 Few-shot learning and search at scale
# ---------------------------------------------------------------------------------------------


_PROTOTYPE_MISTAKES = {
    "your logits are half of what they should be: expand -||x - c||^2 = -||x||^2 + 2 c.x - ||c||^2.": 2,
    "your logits grow with the distance to the prototype: the sign is flipped, nearer must score higher.": -1,
}


def _prototype_bias_hint(bias: np.ndarray, squared_norms: np.ndarray) -> str:
    """The hint for right weights with a wrong bias."""
    if np.ptp(bias) < 1e-9:
        return ("the weights are right, the bias is missing: -||c_k||^2 differs from class to class, so it "
                "does not cancel in the softmax.")
    if np.ptp(bias - squared_norms) < 1e-9:
        return "the weights are right, the bias has the wrong sign: a far-away prototype must be penalised."
    return "the weights are right, the bias is not: expand -||x - c_k||^2 and keep the term without x."


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
        answer, changed = call_on_copies(function, {"prototypes": prototypes})
        if not (isinstance(answer, tuple) and len(answer) == 2):
            return "return a tuple (weights, bias)."
        if changed:
            return changed
        weights, bias = (np.asarray(to_numpy(part), dtype=float) for part in answer)
        if weights.shape != prototypes.shape or bias.shape != (len(prototypes),):
            return f"weights must have shape {prototypes.shape} and bias ({len(prototypes)},); got {weights.shape} and {bias.shape}."
        logits = queries @ weights.T + bias
        if np.allclose(log_softmax(logits), log_softmax(target), atol=1e-6):
            return None
        for hint, factor in _PROTOTYPE_MISTAKES.items():
            if np.allclose(log_softmax(factor * logits), log_softmax(target), atol=1e-6):
                return hint
        if np.allclose(log_softmax(queries @ weights.T), log_softmax(target + (prototypes**2).sum(1)), atol=1e-6):
            return _prototype_bias_hint(bias, (prototypes**2).sum(1))
        return ("the softmax differs from softmax(-||x - c_k||^2): expand the square; the term in "
                "||x||^2 is the same for every class and cancels in the softmax.")

    function = stub_or_function(function, prototypes, none_is_stub=True)
    return check(function, verdict, "a prototypical network is a linear classifier: W = 2C, b = -||c||².")


def ivf_reference(catalogue: np.ndarray, queries: np.ndarray, centroids: np.ndarray,
                  cell_of_item: np.ndarray, k: int, n_probe: int, nearest_cells: bool = True) -> np.ndarray:
    """Inverted-file search: the ``k`` nearest items (Euclidean) among those of the ``n_probe``
    cells whose centroids are nearest to each query (farthest if not ``nearest_cells``, a
    mistake); int array (n_queries, k), nearest first."""
    def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None]

    to_centroids = squared_distances(queries, centroids)
    probed_cells = np.argsort(to_centroids if nearest_cells else -to_centroids, axis=1)[:, :n_probe]
    distances = squared_distances(queries, catalogue)
    probed = (cell_of_item[None, :, None] == probed_cells[:, None, :]).any(2)
    return np.argsort(np.where(probed, distances, np.inf), axis=1, kind="stable")[:, :k]


IVF_ARGUMENTS = ("catalogue", "queries", "centroids", "cell_of_item", "k", "n_probe")


def _ivf_hint(got: np.ndarray, expected: np.ndarray, exact: np.ndarray, n_probe: int, n_cells: int,
              farthest: np.ndarray) -> str:
    """The hint for IVF results ``got`` that differ from the reference's ``expected``."""
    if np.array_equal(np.sort(got, 1), np.sort(expected, 1)):
        return "the right items, in the wrong order: sort them nearest first."
    if n_probe == n_cells:
        return "with every cell probed, the result must be the exact k nearest items, nearest first."
    if np.array_equal(got, exact):
        return f"with n_probe = {n_probe} you still search every item: keep only the items of the probed cells."
    if np.array_equal(got, farthest):
        return "you probe the cells whose centroids are farthest: probe the nearest ones (smallest distance)."
    return (f"with n_probe = {n_probe}, some neighbours differ: probe the n_probe cells whose "
            "centroids are nearest to the query, then rank only their items.")


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
            got, changed = call_on_copies(function, dict(zip(IVF_ARGUMENTS, (*arguments, 5, n_probe), strict=True)))
            got = to_numpy(got)
            if got.shape != (len(queries), 5):
                return f"return an int array (n_queries, k) = ({len(queries)}, 5); got shape {got.shape}."
            if changed:
                return changed
            expected = ivf_reference(*arguments, 5, n_probe)
            if not np.array_equal(got, expected):
                return _ivf_hint(got, expected, exact, n_probe, len(centroids),
                                 farthest=ivf_reference(*arguments, 5, n_probe, nearest_cells=False))
        return None

    function = stub_or_function(function, *arguments, 5, 1, none_is_stub=True)
    return check(function, verdict, "ivf_search agrees with the reference, and is exact when every cell is probed.")
