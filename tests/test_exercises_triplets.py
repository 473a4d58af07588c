"""The checkers of notebooks 2.1 and 2.2 accept right answers, reject wrong ones with a hint and
remind stubs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_exercises import battery_cases

from utils.exercises import WrongAnswer
from utils.exercises import triplets as ex


def _distances(embeddings):
    embeddings = np.asarray(embeddings, dtype=float)
    return np.linalg.norm(embeddings[:, None] - embeddings[None], axis=-1)


def triplet_accuracy(embeddings, triplets, strict=True):
    distances = _distances(embeddings)
    a, p, n = np.asarray(triplets).T
    closer = distances[a, p] < distances[a, n] if strict else distances[a, p] <= distances[a, n]
    return float(closer.mean())


def sample_triplets(labels, groups, n_triplets, seed, exclude_groups=True, pick="random"):
    """A right sampler; ``pick="first"`` takes the first allowed positive and negative instead."""
    labels, groups = np.asarray(labels), np.asarray(groups)
    rng = np.random.default_rng(seed)
    same_group = groups[:, None] == groups[None] if exclude_groups else np.eye(len(labels), dtype=bool)
    positive = (labels[:, None] == labels[None]) & ~same_group

    def draw(allowed):
        return allowed[0] if pick == "first" else rng.choice(allowed)

    anchors = rng.choice(np.flatnonzero(positive.any(1)), n_triplets)
    positives = np.array([draw(np.flatnonzero(positive[a])) for a in anchors])
    negatives = np.array([rng.choice(np.flatnonzero(labels != labels[a])) for a in anchors])
    if pick == "first negative":
        negatives = np.array([np.flatnonzero(labels != labels[a])[0] for a in anchors])
    return np.stack([anchors, positives, negatives], axis=1)


def _next_class_negatives(labels, groups, n_triplets, seed):
    triplets = sample_triplets(labels, groups, n_triplets, seed)
    labels = np.asarray(labels)
    following = (labels[triplets[:, 0]] + 1) % (labels.max() + 1)  # always the next class
    triplets[:, 2] = [np.random.default_rng(seed + i).choice(np.flatnonzero(labels == c))
                      for i, c in enumerate(following)]
    return triplets


def _anchors_in_order(labels, groups, n_triplets, seed):
    triplets = sample_triplets(labels, groups, n_triplets, seed)
    order = np.argsort(triplets[:, 0], kind="stable")
    return triplets[order]


def _sampler_shuffling_in_place(labels, groups, n_triplets, seed):
    triplets = sample_triplets(labels, groups, n_triplets, seed)
    np.random.default_rng(seed).shuffle(groups)  # a "random" grouping, on the caller's array
    return triplets


def semihard_triplets(embeddings, labels, margin, normalize=True):
    x = F.normalize(embeddings, dim=1) if normalize else embeddings
    distances = torch.cdist(x, x)
    same = labels[:, None] == labels[None]
    positive = same & ~torch.eye(len(labels), dtype=torch.bool)
    gap = distances[:, None, :] - distances[:, :, None]  # [a, p, n] = d(a, n) - d(a, p)
    valid = positive[:, :, None] & ~same[:, None, :]
    return torch.nonzero(valid & (gap > 0) & (gap <= margin), as_tuple=True)


def _count(p, k):
    return p * k * (k - 1) * (p - 1) * k


def _normalising_in_place(embeddings, labels, margin):
    embeddings /= embeddings.norm(dim=1, keepdim=True)
    return semihard_triplets(embeddings, labels, margin, normalize=False)


def _semihard(**mistake):
    def mine(embeddings, labels, margin):
        found = ex.semihard_variant(embeddings, labels, margin, **mistake)
        return tuple(torch.tensor(column) for column in zip(*sorted(found), strict=True))

    return mine


BATTERY = {
    ex.check_triplet_accuracy: [
        ("ties as right", lambda e, t: triplet_accuracy(e, t, strict=False), "tie"),
        ("negative closer", lambda e, t: 1 - triplet_accuracy(e, t), "negative is closer"),
        ("d(p, n) for d(a, n)", lambda e, t: float(np.mean(_distances(e)[t[:, 0], t[:, 1]] < _distances(e)[t[:, 1], t[:, 2]])),
         "from the anchor"),
        ("chance level", lambda e, t: 0.5, "chance level"),
        ("per-triplet array", lambda e, t: _distances(e)[t[:, 0], t[:, 1]], "one number"),
        ("forgotten return", lambda e, t: None, "forget `return`"),
    ],
    ex.check_heldout_triplets: [
        ("near-duplicate positives", lambda *args: sample_triplets(*args, exclude_groups=False), "near-duplicates"),
        ("unseeded", lambda labels, groups, n, seed: sample_triplets(labels, groups, n, None), "same seed"),
        ("first allowed positive", lambda *args: sample_triplets(*args, pick="first"), "same positive"),
        ("first other-label negative", lambda *args: sample_triplets(*args, pick="first negative"), "same negative"),
        ("negatives from the next class", _next_class_negatives, "one other class"),
        ("the same anchor", lambda *args: np.repeat(sample_triplets(*args)[:1], args[2], axis=0), "distinct anchors"),
        ("anchors sorted, seed ignored", lambda labels, groups, n, seed: _anchors_in_order(labels, groups, n, 0),
         "different seeds"),
        ("shuffles groups in place", _sampler_shuffling_in_place, "in place"),
        ("float array", lambda *args: sample_triplets(*args).astype(float), "int array"),
    ],
    ex.check_triplet_count: [
        ("K positives", lambda p, k: p * k * k * (p - 1) * k, "K - 1 per anchor"),
        ("P - 1 negatives", lambda p, k: p * k * (k - 1) * (p - 1), r"\(P - 1\) K per anchor"),
        ("halved", lambda p, k: _count(p, k) // 2, "ordered"),
        ("negatives of any label", lambda p, k: p * k * (k - 1) * (p * k - 1), "another label"),
        ("every ordered triple", lambda p, k: (p * k) ** 3, "every ordered triple"),
        ("off by one", lambda p, k: _count(p, k) + 1, "count the anchors"),
        ("forgotten return", lambda p, k: None, "forget `return`"),
    ],
    ex.check_semihard_miner: [
        ("unnormalised", lambda e, y, m: semihard_triplets(e, y, m, normalize=False), "normalise"),
        ("all inside the margin", _semihard(above_positive=False), "semi-hard ones also need"),
        ("anchor as its own positive", _semihard(self_positive=True), "never the anchor itself"),
        ("negatives of any label", _semihard(any_negative=True), "another label"),
        ("gap reversed", _semihard(reversed_gap=True), "farther than the positive"),
        ("squared distances", _semihard(squared=True), "not squared"),
        ("normalises in place", _normalising_in_place, "in place"),
        ("forgotten return", lambda e, y, m: None, "three index tensors"),
    ],
}


@pytest.mark.parametrize(("checker", "wrong", "hint"), battery_cases(BATTERY))
def test_wrong_answers_are_rejected_with_a_hint(checker, wrong, hint):
    with pytest.raises(WrongAnswer, match=hint):
        checker(wrong)


def test_stubs_are_not_attempted(capsys):
    def stub(*args):
        return ...

    for checker in (ex.check_triplet_accuracy, ex.check_heldout_triplets, ex.check_triplet_count,
                    ex.check_semihard_miner):
        assert checker(None) is False
        assert checker(stub) is False
    assert "Not attempted" in capsys.readouterr().out


def test_right_answers_pass():
    assert ex.check_triplet_accuracy(triplet_accuracy)
    assert ex.check_heldout_triplets(sample_triplets)
    assert ex.check_triplet_count(_count)
    assert ex.check_semihard_miner(semihard_triplets)


def test_the_semihard_variant_without_mistakes_is_the_miner():
    embeddings = torch.randn(20, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    labels = torch.arange(5).repeat_interleave(4)
    found = ex.semihard_variant(embeddings, labels, 0.2)
    assert found and found == set(zip(*(c.tolist() for c in semihard_triplets(embeddings, labels, 0.2)), strict=True))


