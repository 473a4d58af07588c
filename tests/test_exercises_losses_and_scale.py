"""The checkers of notebooks 2.3 and 2.4 accept right answers and reject wrong ones with a hint."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_exercises import battery_cases

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


def _supcon_variant(**mistake):
    return lambda e, y, t: torch.tensor(ex.supcon_variant(e, y, t, **mistake))


def _supcon_normalising_in_place(embeddings, labels, temperature):
    embeddings /= embeddings.norm(dim=1, keepdim=True)
    return supcon(embeddings, labels, temperature)


def _arcface_variant(**mistake):
    def loss(e, y, p, margin, scale):
        return torch.tensor(ex.arcface_variant(e, y, p, math.radians(margin), scale, **mistake))

    return loss


def _arcface_normalising_in_place(e, y, proxies, margin, scale):
    proxies /= proxies.norm(dim=1, keepdim=True)
    return arcface(e, y, proxies, margin, scale)


def _prototypes_doubled_in_place(c):
    c *= 2
    return c, -(c**2).sum(1) / 4


def _farthest_cells(catalogue, queries, centroids, cell_of_item, k, n_probe):
    return ex.ivf_reference(catalogue, queries, centroids, cell_of_item, k, n_probe, nearest_cells=False)


def _ivf_sorting_in_place(catalogue, queries, centroids, cell_of_item, k, n_probe):
    found = ivf_search(catalogue, queries, centroids, cell_of_item, k, n_probe)
    cell_of_item.sort()  # "tidying up" the caller's cell assignment
    return found


BATTERY = {
    ex.check_supcon: [
        ("InfoNCE", lambda e, y, t: NTXentLoss(t)(e, y), "InfoNCE"),
        ("positives out of the denominator", _supcon_variant(positives_in_denominator=False), "positives included"),
        ("anchor in the denominator", _supcon_variant(anchor_in_denominator=True), "anchor itself out"),
        ("anchors without positives as zeros", supcon_over_all_anchors, "without a positive"),
        ("sum over positives", _supcon_variant(mean_over_positives=False), "do not sum"),
        ("unnormalised", _supcon_variant(normalise=False), "normalise"),
        ("temperature multiplied", lambda e, y, t: supcon(e, y, 1 / t), "do not multiply"),
        ("normalises in place", _supcon_normalising_in_place, "in place"),
        ("an array", lambda e, y, t: torch.zeros(3), "one number"),
    ],
    ex.check_arcface: [
        ("degrees as radians", lambda *args: arcface(*args, convert=False), "degrees"),
        ("no fold beyond π - m", lambda *args: arcface(*args, fold=False), "π - m"),
        ("margin on every class", _arcface_variant(every_class=True), "only the target"),
        ("CosFace", _arcface_variant(on_cosine=True), "CosFace"),
        ("proxies unnormalised", _arcface_variant(normalise_proxies=False), "proxies too"),
        ("no scale", lambda e, y, p, m, s: arcface(e, y, p, m, 1.0), "scale"),
        ("θ - m", lambda e, y, p, m, s: torch.tensor(ex.arcface_variant(e, y, p, -math.radians(m), s, fold=False)),
         "θ \\+ m, not θ - m"),
        ("normalises proxies in place", _arcface_normalising_in_place, "in place"),
        ("an array", lambda *args: torch.zeros(3), "one number"),
    ],
    ex.check_prototype_layer: [
        ("half", lambda c: (c, -(c**2).sum(1) / 2), "half"),
        ("signs flipped", lambda c: (-2 * c, (c**2).sum(1)), "sign is flipped"),
        ("no bias", lambda c: (2 * c, np.zeros(len(c))), "does not cancel"),
        ("bias sign", lambda c: (2 * c, (c**2).sum(1)), "penalised"),
        ("bias halved", lambda c: (2 * c, -(c**2).sum(1) / 2), "bias is not"),
        ("bias as a column", lambda c: (2 * c, -(c**2).sum(1)[:, None]), "shape"),
        ("a list", lambda c: [2 * c, -(c**2).sum(1)], "tuple"),
        ("doubles in place", _prototypes_doubled_in_place, "in place"),
    ],
    ex.check_ivf_search: [
        ("every item searched", lambda *args: ivf_search(*args, restrict=False), "still search every item"),
        ("unordered", lambda *args: ivf_search(*args, order=False), "wrong order"),
        ("one cell too many", lambda c, q, cen, cell, k, n: ivf_search(c, q, cen, cell, k, n + 1), "some neighbours differ"),
        ("farthest cells", _farthest_cells, "farthest"),
        ("k + 1 results", lambda c, q, cen, cell, k, n: ivf_search(c, q, cen, cell, k + 1, n), "shape"),
        ("sorts the cells in place", _ivf_sorting_in_place, "in place"),
    ],
}


def test_right_answers_pass(capsys):
    assert ex.check_supcon(supcon) is True
    assert ex.check_arcface(arcface) is True
    assert ex.check_prototype_layer(lambda c: (2 * c, -(c**2).sum(1))) is True
    assert ex.check_prototype_layer(lambda c: (torch.as_tensor(2 * c), torch.as_tensor(-(c**2).sum(1)) + 7))
    assert ex.check_ivf_search(ivf_search) is True
    assert capsys.readouterr().out.count("✓") == 5


@pytest.mark.parametrize(("checker", "wrong", "hint"), battery_cases(BATTERY))
def test_wrong_answers_are_rejected_with_a_hint(checker, wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        checker(wrong)


def test_the_variants_without_mistakes_are_the_losses():
    embeddings, labels = ex._loss_batches()[1]
    assert ex.supcon_variant(embeddings, labels, 0.3) == pytest.approx(supcon(embeddings, labels, 0.3).item())
    proxies = torch.randn(9, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert ex.arcface_variant(embeddings, labels, proxies, 0.5, 16.0) == pytest.approx(
        arcface(embeddings, labels, proxies, math.degrees(0.5), 16.0).item())


def test_ivf_reference_is_exact_with_every_cell():
    rng = np.random.default_rng(0)
    catalogue, queries = rng.normal(size=(200, 3)), rng.normal(size=(7, 3))
    cells = rng.integers(0, 4, 200)
    found = ex.ivf_reference(catalogue, queries, catalogue[:4], cells, k=6, n_probe=4)
    exact = np.argsort(((queries[:, None] - catalogue[None]) ** 2).sum(-1), axis=1)[:, :6]
    np.testing.assert_array_equal(found, exact)
