"""The checkers of notebooks 2.1 and 2.2 accept right answers, reject wrong ones with a hint and
remind stubs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

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


def sample_triplets(labels, groups, n_triplets, seed, exclude_groups=True):
    labels, groups = np.asarray(labels), np.asarray(groups)
    rng = np.random.default_rng(seed)
    same_group = groups[:, None] == groups[None] if exclude_groups else np.eye(len(labels), dtype=bool)
    positive = (labels[:, None] == labels[None]) & ~same_group
    anchors = rng.choice(np.flatnonzero(positive.any(1)), n_triplets)
    positives = np.array([rng.choice(np.flatnonzero(positive[a])) for a in anchors])
    negatives = np.array([rng.choice(np.flatnonzero(labels != labels[a])) for a in anchors])
    return np.stack([anchors, positives, negatives], axis=1)


def semihard_triplets(embeddings, labels, margin, normalize=True):
    x = F.normalize(embeddings, dim=1) if normalize else embeddings
    distances = torch.cdist(x, x)
    same = labels[:, None] == labels[None]
    positive = same & ~torch.eye(len(labels), dtype=torch.bool)
    gap = distances[:, None, :] - distances[:, :, None]  # [a, p, n] = d(a, n) - d(a, p)
    valid = positive[:, :, None] & ~same[:, None, :]
    return torch.nonzero(valid & (gap > 0) & (gap <= margin), as_tuple=True)


def test_stubs_are_not_attempted(capsys):
    def stub(*args):
        return ...

    for checker in (ex.check_triplet_accuracy, ex.check_heldout_triplets, ex.check_triplet_count,
                    ex.check_semihard_miner):
        assert checker(None) is False
        assert checker(stub) is False
    assert "Not attempted" in capsys.readouterr().out


def test_a_forgotten_return_gets_a_hint():
    # these stubs end in `return ...`, so a None is a forgotten `return`, not the untouched stub
    with pytest.raises(WrongAnswer, match="forget `return`"):
        ex.check_triplet_accuracy(lambda e, t: None)
    with pytest.raises(WrongAnswer, match="forget `return`"):
        ex.check_triplet_count(lambda p, k: None)
    with pytest.raises(WrongAnswer, match="three index tensors"):
        ex.check_semihard_miner(lambda e, y, m: None)


def test_right_answers_pass():
    assert ex.check_triplet_accuracy(triplet_accuracy)
    assert ex.check_heldout_triplets(sample_triplets)
    assert ex.check_triplet_count(lambda p, k: p * k * (k - 1) * (p - 1) * k)
    assert ex.check_semihard_miner(semihard_triplets)


def test_ties_counted_as_right_are_rejected():
    with pytest.raises(WrongAnswer, match="tie"):
        ex.check_triplet_accuracy(lambda e, t: triplet_accuracy(e, t, strict=False))


def test_reversed_triplet_accuracy_is_rejected():
    with pytest.raises(WrongAnswer, match="negative is closer"):
        ex.check_triplet_accuracy(lambda e, t: 1 - triplet_accuracy(e, t))


def test_near_duplicate_positives_are_rejected():
    with pytest.raises(WrongAnswer, match="near-duplicates"):
        ex.check_heldout_triplets(lambda *args: sample_triplets(*args, exclude_groups=False))


def test_unseeded_triplets_are_rejected():
    with pytest.raises(WrongAnswer, match="same seed"):
        ex.check_heldout_triplets(lambda labels, groups, n, seed: sample_triplets(labels, groups, n, None))


def test_wrong_triplet_count_is_rejected():
    with pytest.raises(WrongAnswer, match="triplets"):
        ex.check_triplet_count(lambda p, k: p * k * (k - 1) * (p - 1))


def test_unnormalised_semihard_mining_is_rejected():
    with pytest.raises(WrongAnswer, match="normalise"):
        ex.check_semihard_miner(lambda e, y, m: semihard_triplets(e, y, m, normalize=False))


def test_margin_violators_are_not_semihard():
    with pytest.raises(WrongAnswer, match="semi-hard ones also need"):
        ex.check_semihard_miner(_violating)


def _violating(embeddings, labels, margin):
    x = F.normalize(embeddings, dim=1)
    distances = torch.cdist(x, x)
    same = labels[:, None] == labels[None]
    positive = same & ~torch.eye(len(labels), dtype=torch.bool)
    gap = distances[:, None, :] - distances[:, :, None]
    return torch.nonzero(positive[:, :, None] & ~same[:, None, :] & (gap <= margin), as_tuple=True)
