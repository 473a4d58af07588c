"""Random audio augmentations for self-supervised learning, applied to batches of spectrograms.

Used by notebooks/3_variations/04_self_supervised.ipynb (contrastive learning in the style of
CLMR, Spijkervet & Burgoyne 2021, and COLA, Saeed et al. 2021), where every training step needs
two freshly augmented views of each clip. Augmenting the audio and recomputing the log-mel costs
about a millisecond per clip and view; the same ideas applied to the log-mel (or CQT) in dB cost
microseconds, because each audio transform has a simple effect there:

==============  ==========================================  =====================================
audio           effect on a dB spectrogram ``x[band, frame]``  function
==============  ==========================================  =====================================
crop in time    a random window of frames                   :func:`random_crop`
gain            ``x + g`` (g in dB, the same for every bin) :func:`random_gain`
filter (EQ)     ``x + H[band]``, a smooth curve in dB       :func:`random_filter`
additive noise  ``10 log10(10^(x/10) + noise power)``       :func:`add_noise`
pitch shift     rows moved up or down by ``s`` bins         :func:`shift_bins`
==============  ==========================================  =====================================

Pitch shift by shifting bins is exact on a CQT with 12 bins per octave (one bin, one semitone).
On the course's log-mel (64 Slaney mel bands, 0-8 kHz) it is only approximate: above 1 kHz the
mel scale is logarithmic and one band is about 0.83 semitone, but below 1 kHz it is linear (one
band is about 46 Hz, i.e. about 1.5 semitones at 500 Hz and 4 at 200 Hz), so a shift there moves
every harmonic by the same number of Hz rather than by the same ratio. For contrastive learning
the point is a view that sounds "higher or lower" but is the same instrument, which it is.

Every function takes ``x`` of shape (batch, bins, frames) in dB and a seeded
``torch.Generator``, draws one random parameter per item, and returns a new tensor (the input is
never modified). :class:`SpectrogramAugment` chains them, each applied to an item with a
probability; :class:`TwoViews` is a ``collate_fn`` that turns a batch of clips into two
independently augmented views, the positive pairs of SimCLR's NT-Xent loss.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from utils.checks import check_int, check_number


def _check_batch(x: Tensor) -> None:
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating-point torch.Tensor, got {type(x).__name__}")
    if x.ndim != 3:
        raise ValueError(
            f"x must have shape (batch, bins, frames), got {tuple(x.shape)}; use x[None] for one clip"
        )
    if x.numel() and not torch.isfinite(torch.stack(torch.aminmax(x))).all():  # NaN spreads to min and max
        raise ValueError("x has NaN or infinite values: spectrograms in dB must be floored (finite)")


def _check_snr(snr_db: tuple[float, float]) -> tuple[float, float]:
    """``snr_db`` as (low, high), after checking it is a pair of numbers with low <= high."""
    if not (isinstance(snr_db, (tuple, list)) and len(snr_db) == 2 and snr_db[0] <= snr_db[1]):
        raise ValueError(f"snr_db must be (low, high) with low <= high, got {snr_db!r}")
    return snr_db[0], snr_db[1]


def _uniform(generator: torch.Generator, n: int, low: float, high: float, like: Tensor) -> Tensor:
    """``n`` draws from U(low, high), shaped (n, 1, 1) to broadcast over bins and frames."""
    draws = torch.rand(n, generator=generator, dtype=like.dtype)
    return (low + (high - low) * draws).to(like.device).view(n, 1, 1)


def _from_db(x: Tensor) -> Tensor:
    """``10 ** (x / 10)`` (dB to power) as ``exp``, which torch vectorises better than ``pow``."""
    return torch.exp(x * (math.log(10) / 10))


def random_crop(x: Tensor, frames: int, generator: torch.Generator) -> Tensor:
    """A random window of ``frames`` consecutive frames of each item: (batch, bins, frames)."""
    _check_batch(x)
    n, bins, total = x.shape
    if not 1 <= frames <= total:
        raise ValueError(f"frames must be in [1, {total}] (the clips' length), got {frames}")
    starts = torch.randint(0, total - frames + 1, (n,), generator=generator).to(x.device)
    index = (starts[:, None] + torch.arange(frames, device=x.device))[:, None, :].expand(n, bins, frames)
    return torch.gather(x, 2, index)


def random_gain(x: Tensor, max_db: float, generator: torch.Generator) -> Tensor:
    """Add a gain drawn from U(-max_db, max_db) dB per item (the same to every bin)."""
    _check_batch(x)
    check_number(max_db, "max_db")
    return x + _uniform(generator, len(x), -max_db, max_db, x)


def random_filter(x: Tensor, max_db: float, generator: torch.Generator) -> Tensor:
    """A random equaliser per item: a spectral tilt plus one peak or notch, in dB.

    The curve over bins ``f`` (0 .. 1 from the lowest to the highest bin) is
    ``tilt * (f - 1/2) + peak * exp(-((f - centre) / 0.1)^2 / 2)`` with ``tilt`` and ``peak`` in
    U(-max_db, max_db) and ``centre`` in U(0, 1): a filter multiplies each frequency's power by
    ``|H(f)|^2``, which adds ``20 log10 |H(f)|`` to every frame of that band.
    """
    _check_batch(x)
    check_number(max_db, "max_db")
    n, bins = len(x), x.shape[1]
    position = torch.linspace(0, 1, bins, dtype=x.dtype, device=x.device).view(1, bins, 1)
    tilt = _uniform(generator, n, -max_db, max_db, x)
    peak = _uniform(generator, n, -max_db, max_db, x)
    centre = _uniform(generator, n, 0.0, 1.0, x)
    return x + tilt * (position - 0.5) + peak * torch.exp(-0.5 * ((position - centre) / 0.1) ** 2)


def add_noise(x: Tensor, snr_db: tuple[float, float], generator: torch.Generator) -> Tensor:
    """Add white noise at a signal-to-noise ratio drawn from U(*snr_db) dB per item.

    The noise power is the clip's mean power times ``10^(-snr/10)``, spread evenly over bins
    (white noise through area-normalised mel filters) with exponential fluctuations per bin and
    frame (the power of complex Gaussian noise); powers add, then go back to dB.
    """
    _check_batch(x)
    low, high = _check_snr(snr_db)
    power = _from_db(x)
    snr = _uniform(generator, len(x), low, high, x)
    noise_level = power.mean(dim=(1, 2), keepdim=True) * _from_db(-snr)
    # Exp(1) draws as -log(U), U ~ U(0, 1]: a few times faster than Tensor.exponential_ on the CPU
    uniform = 1 - torch.rand(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    return 10 * torch.log10(power - noise_level * torch.log(uniform))


def shift_bins(x: Tensor, shifts: Tensor) -> Tensor:
    """Move each item's rows up by ``shifts[i]`` bins (down when negative), a pitch shift.

    Bins shifted in from outside take the item's minimum (its floor, silence in dB).

    Parameters
    ----------
    x : (batch, bins, frames) spectrograms in dB, row 0 the lowest frequency.
    shifts : (batch,) integer shifts in bins.
    """
    _check_batch(x)
    shifts = torch.as_tensor(shifts, device=x.device)
    if shifts.shape != (len(x),) or shifts.is_floating_point():
        raise ValueError(f"shifts must be {len(x)} integers (one per item), got {tuple(shifts.shape)} {shifts.dtype}")
    n, bins, frames = x.shape
    source = torch.arange(bins, device=x.device)[None, :] - shifts[:, None]  # (batch, bins)
    inside = (source >= 0) & (source < bins)
    index = source.clamp(0, bins - 1)[:, :, None].expand(n, bins, frames)
    floor = x.amin(dim=(1, 2), keepdim=True)
    return torch.where(inside[:, :, None], torch.gather(x, 1, index), floor)


def random_shift(x: Tensor, max_bins: int, generator: torch.Generator) -> Tensor:
    """:func:`shift_bins` by an integer drawn uniformly from [-max_bins, max_bins] per item."""
    check_int(max_bins, "max_bins", minimum=0)
    shifts = torch.randint(-max_bins, max_bins + 1, (len(x),), generator=generator)
    return shift_bins(x, shifts)


@dataclass
class SpectrogramAugment:
    """A chain of random augmentations of dB spectrogram batches, seeded by the caller's generator.

    Applied in the order crop, pitch shift, filter, gain, noise (as CLMR's chain, minus polarity,
    delay and reverb); each of the last four to an item with probability ``p``, the crop always.

    Parameters
    ----------
    crop_frames : frames kept by the crop (``None``: no crop).
    max_shift_bins : pitch shift range in bins (see :func:`shift_bins`); 0 disables it.
    max_filter_db : range of the equaliser's tilt and peak (dB); 0 disables it.
    max_gain_db : gain range (dB); 0 disables it.
    snr_db : (low, high) signal-to-noise ratio range of the added noise (dB); None disables it.
    p : probability that each of shift, filter, gain and noise is applied to an item.

    Examples
    --------
    >>> augment = SpectrogramAugment(crop_frames=32)
    >>> view = augment(logmel_batch, torch.Generator().manual_seed(0))
    """

    crop_frames: int | None = None
    max_shift_bins: int = 2
    max_filter_db: float = 6.0
    max_gain_db: float = 6.0
    snr_db: tuple[float, float] | None = (10.0, 30.0)
    p: float = 0.8

    def __post_init__(self) -> None:
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"p must be a probability in [0, 1], got {self.p}")
        if self.crop_frames is not None:
            check_int(self.crop_frames, "crop_frames")
        check_int(self.max_shift_bins, "max_shift_bins", minimum=0)
        check_number(self.max_filter_db, "max_filter_db")
        check_number(self.max_gain_db, "max_gain_db")
        if self.snr_db is not None:
            _check_snr(self.snr_db)

    def transforms(self) -> list[Callable[[Tensor, torch.Generator], Tensor]]:
        """The enabled random transforms after the crop, in the order they are applied."""
        chosen = []
        if self.max_shift_bins:
            chosen.append(lambda x, g: random_shift(x, self.max_shift_bins, g))
        if self.max_filter_db:
            chosen.append(lambda x, g: random_filter(x, self.max_filter_db, g))
        if self.max_gain_db:
            chosen.append(lambda x, g: random_gain(x, self.max_gain_db, g))
        if self.snr_db is not None:
            chosen.append(lambda x, g: add_noise(x, self.snr_db, g))
        return chosen

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        _check_batch(x)
        if self.crop_frames is not None:
            x = random_crop(x, self.crop_frames, generator)
        for transform in self.transforms():
            applied = (torch.rand(len(x), generator=generator) < self.p).to(x.device)[:, None, None]
            x = torch.where(applied, transform(x, generator), x)
        return x


class TwoViews:
    """A ``collate_fn`` for SimCLR: a batch of clips -> (view_1, view_2), independently augmented.

    Rows ``view_1[i]`` and ``view_2[i]`` come from the same clip (a positive pair); every other
    row is a negative. Use with :class:`utils.train.TwoTower` (one shared encoder for both towers)
    and :func:`utils.train.train_pairs`.

    Parameters
    ----------
    augment : callable ``augment(x, generator) -> views`` on (batch, bins, frames) in dB, e.g. a
        :class:`SpectrogramAugment`.
    seed : seed of the generator that draws every augmentation (the run is repeatable).
    transform : applied to each view after augmenting, e.g. standardisation with training
        statistics.

    Examples
    --------
    >>> loader = DataLoader(TensorDataset(train_db), batch_size=128, shuffle=True,
    ...                     generator=torch.Generator().manual_seed(0), collate_fn=TwoViews(augment))
    """

    def __init__(self, augment: Callable[[Tensor, torch.Generator], Tensor], seed: int = 0,
                 transform: Callable[[Tensor], Tensor] | None = None):
        if not callable(augment) or not (transform is None or callable(transform)):
            raise TypeError("augment (and transform, if given) must be callables, e.g. a SpectrogramAugment")
        self.augment = augment
        self.transform = transform if transform is not None else (lambda x: x)
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, batch: list) -> tuple[Tensor, Tensor]:
        clips = torch.stack([item[0] if isinstance(item, (tuple, list)) else item for item in batch])
        return (self.transform(self.augment(clips, self.generator)),
                self.transform(self.augment(clips, self.generator)))
