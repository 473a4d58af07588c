"""utils.augment: each spectrogram augmentation against a hand-computed case, seeding, views."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from utils.augment import (
    SpectrogramAugment,
    TwoViews,
    add_noise,
    random_crop,
    random_filter,
    random_gain,
    random_shift,
    shift_bins,
)


def _batch(n: int = 6, bins: int = 8, frames: int = 10, seed: int = 0) -> torch.Tensor:
    return -80 * torch.rand(n, bins, frames, generator=torch.Generator().manual_seed(seed))


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_shift_bins_matches_a_hand_shifted_array():
    x = torch.arange(2 * 5 * 3, dtype=torch.float32).reshape(2, 5, 3)
    shifted = shift_bins(x, torch.tensor([2, -1]))
    expected = x.clone()
    expected[0, 2:], expected[0, :2] = x[0, :3], x[0].min()
    expected[1, :4], expected[1, 4:] = x[1, 1:], x[1].min()
    torch.testing.assert_close(shifted, expected)


def test_shift_by_zero_is_the_identity_and_the_input_is_untouched():
    x = _batch()
    before = x.clone()
    torch.testing.assert_close(shift_bins(x, torch.zeros(len(x), dtype=torch.long)), x)
    random_shift(x, 3, _generator())
    torch.testing.assert_close(x, before)


def test_random_crop_takes_consecutive_frames_of_each_item():
    x = torch.arange(10, dtype=torch.float32).repeat(4, 3, 1)  # value = frame number
    crops = random_crop(x, 4, _generator())
    assert crops.shape == (4, 3, 4)
    starts = crops[:, 0, 0]
    torch.testing.assert_close(crops, starts.view(4, 1, 1) + torch.arange(4.0).view(1, 1, 4).expand(4, 3, 4))
    assert ((starts >= 0) & (starts <= 6)).all()


def test_gain_adds_one_constant_per_item_within_range():
    x = _batch()
    difference = random_gain(x, 6.0, _generator()) - x
    per_item = difference[:, :1, :1]
    torch.testing.assert_close(difference, per_item.expand_as(x))
    assert per_item.abs().max() <= 6.0 and per_item.std() > 0


def test_filter_is_a_curve_over_bins_the_same_in_every_frame():
    x = _batch()
    difference = random_filter(x, 6.0, _generator()) - x
    torch.testing.assert_close(difference, difference[:, :, :1].expand_as(x))
    assert difference.abs().max() <= 2 * 6.0


def test_noise_at_high_snr_barely_changes_loud_bins_and_raises_the_floor():
    x = torch.full((3, 4, 50), -100.0)
    x[:, 0] = 0.0  # one loud band, mean power 1/4
    noisy = add_noise(x, (20.0, 20.0), _generator())
    assert (noisy[:, 0] - x[:, 0]).abs().max() < 0.2
    floor_db = 10 * np.log10(0.25 * 10 ** (-20 / 10))  # mean noise power in dB: -26 dB
    assert abs(10 * torch.log10(torch.pow(10.0, noisy[:, 1:] / 10).mean()).item() - floor_db) < 1.0


def test_same_seed_same_views_different_seed_different_views():
    x = _batch()
    augment = SpectrogramAugment(crop_frames=8)
    torch.testing.assert_close(augment(x, _generator(1)), augment(x, _generator(1)))
    assert not torch.equal(augment(x, _generator(1)), augment(x, _generator(2)))


def test_probability_zero_only_crops():
    x = _batch()
    view = SpectrogramAugment(crop_frames=None, p=0.0)(x, _generator())
    torch.testing.assert_close(view, x)


def test_two_views_differ_and_are_transformed():
    x = _batch(n=5)
    collate = TwoViews(SpectrogramAugment(crop_frames=6), seed=0, transform=lambda v: v - 1000)
    view_1, view_2 = collate([(clip,) for clip in x])
    assert view_1.shape == view_2.shape == (5, 8, 6)
    assert view_1.max() < -900 and not torch.equal(view_1, view_2)
    again = TwoViews(SpectrogramAugment(crop_frames=6), seed=0, transform=lambda v: v - 1000)([*x])
    torch.testing.assert_close(again[0], view_1)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_values_are_refused_wherever_they_are(bad):
    for position in [(0, 0, 0), (5, 7, 9), (2, 3, 4)]:
        x = _batch()
        x[position] = bad
        with pytest.raises(ValueError, match="NaN or infinite"):
            random_gain(x, 3.0, _generator())


def test_noise_fluctuations_are_exponential():
    x = torch.full((4, 16, 500), -100.0)
    x[:, 0] = 0.0  # the mean power is 1/16, so the noise power at 0 dB SNR is 1/16 per bin
    noisy = add_noise(x, (0.0, 0.0), _generator())
    fluctuation = 16 * torch.pow(10.0, noisy[:, 1:] / 10).flatten().double()  # Exp(1): mean 1, variance 1
    assert abs(fluctuation.mean().item() - 1) < 0.02 and abs(fluctuation.var().item() - 1) < 0.05
    assert fluctuation.min() >= 0 and torch.isfinite(noisy).all()


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: random_crop(_batch(), 11, _generator()), ValueError),
        (lambda: random_gain(_batch()[0], 3.0, _generator()), ValueError),
        (lambda: random_gain(torch.zeros(2, 3, 4, dtype=torch.long), 3.0, _generator()), TypeError),
        (lambda: shift_bins(_batch(), torch.zeros(2, dtype=torch.long)), ValueError),
        (lambda: add_noise(_batch(), (30.0, 10.0), _generator()), ValueError),
        (lambda: SpectrogramAugment(p=1.5), ValueError),
    ],
)
def test_bad_input_is_refused(call, error):
    with pytest.raises(error):
        call()
