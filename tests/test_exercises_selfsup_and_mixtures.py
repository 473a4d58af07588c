"""Checkers of notebooks 3.4 (self-supervised) and 3.5 (mixtures and solos): right answers pass,
stubs are "not attempted", typical mistakes get their hint, and the reference measures are right."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from utils.augment import shift_bins
from utils.exercises import WrongAnswer
from utils.exercises import selfsup_and_mixtures as ex


def _roll_shift(x, shifts):
    return torch.stack([torch.roll(item, int(s), dims=0) for item, s in zip(x, shifts, strict=True)])


def test_shift_bins_checker():
    assert ex.check_shift_bins(shift_bins)
    assert ex.check_shift_bins(lambda x, shifts: shift_bins(x, shifts).numpy())  # numpy answers too
    assert ex.check_shift_bins(lambda x, shifts: ...) is False
    assert ex.check_shift_bins(None) is False
    with pytest.raises(WrongAnswer, match="wraps"):
        ex.check_shift_bins(_roll_shift)
    with pytest.raises(WrongAnswer, match="wrong way"):
        ex.check_shift_bins(lambda x, shifts: shift_bins(x, -shifts))


def test_alignment_and_uniformity_by_hand():
    z1 = np.array([[1.0, 0.0], [0.0, 2.0]])
    z2 = np.array([[0.0, 3.0], [0.0, 1.0]])
    assert ex.alignment(z1, z2) == pytest.approx(1.0)  # |(1,0)-(0,1)|^2 = 2, then 0: mean 1
    assert ex.uniformity(z1) == pytest.approx(-4.0)  # one pair at squared distance 2
    assert ex.uniformity(np.ones((5, 3))) == pytest.approx(0.0)  # collapse


def test_uniformity_matches_wang_and_isola_torch_code():
    z = torch.nn.functional.normalize(torch.randn(30, 6, generator=torch.Generator().manual_seed(0)), dim=1)
    reference = torch.pdist(z, p=2).pow(2).mul(-2).exp().mean().log().item()  # their paper's code
    assert ex.uniformity(z.numpy()) == pytest.approx(reference, rel=1e-5)


def test_alignment_uniformity_checker():
    def right(z1, z2):
        return ex.alignment(z1, z2), ex.uniformity(z1)

    def unnormalised(z1, z2):
        return float(np.mean(np.sum((z1 - z2) ** 2, axis=1))), ex.uniformity(z1)

    assert ex.check_alignment_uniformity(right)
    assert ex.check_alignment_uniformity(lambda z1, z2: ...) is False
    with pytest.raises(WrongAnswer, match="normalise"):
        ex.check_alignment_uniformity(unnormalised)
    with pytest.raises(WrongAnswer, match="uniformity"):
        ex.check_alignment_uniformity(lambda z1, z2: (ex.alignment(z1, z2), ex.uniformity(z2)))


def test_average_precision_checker():
    def right(similarity, relevant):
        return np.mean([average_precision_score(r, s) for r, s in zip(relevant, similarity, strict=True)])

    assert ex.check_average_precision(right)
    assert ex.check_average_precision(lambda s, r: ...) is False
    with pytest.raises(WrongAnswer, match="decreasing"):
        ex.check_average_precision(lambda s, r: right(-s, r))
    with pytest.raises(WrongAnswer, match="expected"):
        ex.check_average_precision(lambda s, r: 0.5)


def test_per_voice_map_by_hand_and_checker():
    mixtures = np.eye(3)
    solos = np.repeat(np.eye(3)[:, None], 4, axis=1)  # every voice points at its own mixture
    solos[:, 3] = np.roll(np.eye(3), 1, axis=0)  # the bass points at the next item's mixture
    result = ex.per_voice_map(solos, mixtures)
    assert result["soprano"] == result["alto"] == result["tenor"] == pytest.approx(1.0)
    assert result["bass"] == pytest.approx(1 / 3)  # own mixture behind one, tied with another: rank 3
    assert ex.check_per_voice_map(result, solos, mixtures)
    assert ex.check_per_voice_map(..., solos, mixtures) is False
    with pytest.raises(WrongAnswer, match="bass"):
        ex.check_per_voice_map({**result, "bass": 1.0}, solos, mixtures)
    with pytest.raises(WrongAnswer, match="keys"):
        ex.check_per_voice_map({"S": 1.0}, solos, mixtures)
    with pytest.raises(ValueError):
        ex.per_voice_map(solos[:, :2], mixtures)
