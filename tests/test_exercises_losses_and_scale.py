"""The checkers of notebooks 2.3 and 2.4 accept right answers and reject wrong ones with a hint."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from utils.exercises import WrongAnswer
from utils.exercises import losses_and_scale as ex
from utils.losses import NTXentLoss


def supcon(embeddings, labels, temperature):
    x = F.normalize(embeddings, dim=1)
    others = ~torch.eye(len(labels), dtype=torch.bool)
    logits = (x @ x.T / temperature).masked_fill(~others, -torch.inf)
    log_probability = logits - logits.logsumexp(dim=1, keepdim=True)
    positive = (labels[:, None] == labels[None, :]) & others
    per_anchor = -log_probability.masked_fill(~positive, 0).sum(1) / positive.sum(1).clamp_min(1)
    return per_anchor[positive.any(1)].mean()


def supcon_over_all_anchors(embeddings, labels, temperature):
    """Wrong: anchors without positives count as zero losses in the mean."""
    x = F.normalize(embeddings, dim=1)
    others = ~torch.eye(len(labels), dtype=torch.bool)
    logits = (x @ x.T / temperature).masked_fill(~others, -torch.inf)
    log_probability = logits - logits.logsumexp(dim=1, keepdim=True)
    positive = (labels[:, None] == labels[None, :]) & others
    return (-log_probability.masked_fill(~positive, 0).sum(1) / positive.sum(1).clamp_min(1)).mean()


def arcface(embeddings, labels, proxies, margin_degrees, scale, *, convert=True, fold=True):
    cosines = F.normalize(embeddings, dim=1) @ F.normalize(proxies, dim=1).T
    margin = math.radians(margin_degrees) if convert else margin_degrees
    target = cosines.gather(1, labels[:, None])
    angle = target.clamp(-1, 1).acos()
    widened = torch.cos(angle + margin)
    if fold:
        widened = torch.where(angle <= math.pi - margin, widened, target - margin * math.sin(margin))
    return F.cross_entropy(scale * cosines.scatter(1, labels[:, None], widened), labels)


def ivf_search(catalogue, queries, centroids, cell_of_item, k, n_probe, *, restrict=True, order=True):
    results = []
    for query in queries:
        cells = np.argsort(((centroids - query) ** 2).sum(1))[:n_probe]
        candidates = np.flatnonzero(np.isin(cell_of_item, cells)) if restrict else np.arange(len(catalogue))
        distances = ((catalogue[candidates] - query) ** 2).sum(1)
        nearest = candidates[np.argsort(distances)[:k]]
        results.append(nearest if order else np.sort(nearest))
    return np.array(results)


def test_stubs_are_not_attempted(capsys):
    def stub(*args):
        ...

    for checker in (ex.check_supcon, ex.check_arcface, ex.check_prototype_layer, ex.check_ivf_search):
        assert checker(stub) is False
        assert checker(...) is False
    assert "Not attempted" in capsys.readouterr().out


def test_supcon_right_and_wrong():
    assert ex.check_supcon(supcon) is True
    with pytest.raises(WrongAnswer, match="InfoNCE"):
        ex.check_supcon(lambda e, y, t: NTXentLoss(t)(e, y))
    with pytest.raises(WrongAnswer, match="expected"):
        ex.check_supcon(supcon_over_all_anchors)
    with pytest.raises(WrongAnswer, match="one number"):
        ex.check_supcon(lambda e, y, t: torch.zeros(3))


def test_arcface_right_and_wrong():
    assert ex.check_arcface(arcface) is True
    with pytest.raises(WrongAnswer, match="degrees"):
        ex.check_arcface(lambda *args: arcface(*args, convert=False))
    with pytest.raises(WrongAnswer, match="π - m"):
        ex.check_arcface(lambda *args: arcface(*args, fold=False))
    with pytest.raises(WrongAnswer, match="expected"):
        ex.check_arcface(lambda e, y, p, m, s: arcface(e, y, p, m, 1.0))


def test_prototype_layer_right_and_wrong():
    assert ex.check_prototype_layer(lambda c: (2 * c, -(c**2).sum(1))) is True
    assert ex.check_prototype_layer(lambda c: (torch.as_tensor(2 * c), torch.as_tensor(-(c**2).sum(1)) + 7))
    with pytest.raises(WrongAnswer, match="half"):
        ex.check_prototype_layer(lambda c: (c, -(c**2).sum(1) / 2))
    with pytest.raises(WrongAnswer, match="expand the square"):
        ex.check_prototype_layer(lambda c: (2 * c, (c**2).sum(1)))
    with pytest.raises(WrongAnswer, match="shape"):
        ex.check_prototype_layer(lambda c: (2 * c, -(c**2).sum(1)[:, None]))


def test_ivf_search_right_and_wrong():
    assert ex.check_ivf_search(ivf_search) is True
    with pytest.raises(WrongAnswer, match="still search every item"):
        ex.check_ivf_search(lambda *args: ivf_search(*args, restrict=False))
    with pytest.raises(WrongAnswer, match="wrong order"):
        ex.check_ivf_search(lambda *args: ivf_search(*args, order=False))
    with pytest.raises(WrongAnswer, match="some neighbours differ"):
        ex.check_ivf_search(lambda c, q, cen, cell, k, n: ivf_search(c, q, cen, cell, k, n + 1))


def test_ivf_reference_is_exact_with_every_cell():
    rng = np.random.default_rng(0)
    catalogue, queries = rng.normal(size=(200, 3)), rng.normal(size=(7, 3))
    cells = rng.integers(0, 4, 200)
    found = ex.ivf_reference(catalogue, queries, catalogue[:4], cells, k=6, n_probe=4)
    exact = np.argsort(((queries[:, None] - catalogue[None]) ** 2).sum(-1), axis=1)[:, :6]
    np.testing.assert_array_equal(found, exact)
