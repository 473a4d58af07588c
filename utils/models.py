"""Small encoders that map features to embeddings, sized to train in seconds on a laptop CPU.

Used by the notebooks of series 2 (instrument embeddings from log-mel spectrograms) and series 3
(version identification from chroma/CQT, cross-modal projections from tabular features).

- :class:`ConvEncoder`: a small 2-D CNN on (batch, n_bins, frames) log-mel, CQT or chroma inputs;
  with ``pitch_invariant=True`` its output does not change when the input is transposed
  (circularly shifted in frequency).
- :class:`MLPEncoder`: a multilayer perceptron on (batch, in_features) features.
- :class:`L2Normalize`: projects embeddings onto the unit sphere.
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from utils.checks import check_int


def _check_sizes(**sizes: int | tuple[int, ...]) -> None:
    """A ``ValueError`` unless every size (or every entry of a tuple of sizes) is a positive int."""
    for name, value in sizes.items():
        for size in value if isinstance(value, tuple) else (value,):
            check_int(size, f"each of {name}" if isinstance(value, tuple) else name)


def _check_input(x: Tensor, model: nn.Module, shape_ok: bool, expected: str) -> None:
    """A ``TypeError`` unless ``x`` is a floating-point tensor the model's weights can take (float64
    only for float64 weights), a ``ValueError`` unless ``shape_ok``, naming the ``expected`` shape."""
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating-point torch.Tensor of shape {expected}, got "
                        f"{x.dtype if isinstance(x, Tensor) else type(x).__name__}")
    dtype = next(model.parameters()).dtype
    if x.dtype == torch.float64 != dtype:
        raise TypeError(f"x is float64 but the encoder's weights are {dtype}: convert with x.to({dtype}) "
                        "(torch.from_numpy keeps NumPy's float64)")
    if not shape_ok:
        raise ValueError(f"expected input of shape {expected}, got {tuple(x.shape)}")


class L2Normalize(nn.Module):
    """Divide each row by its Euclidean norm: (batch, dim) -> (batch, dim) of unit vectors."""

    def __init__(self, dim: int = 1, eps: float = 1e-12):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x: Tensor) -> Tensor:
        return F.normalize(x, dim=self.dim, eps=self.eps)


class ConvBlock(nn.Module):
    """3 x 3 convolution, batch normalisation, ReLU, then max-pooling by ``pool`` (freq, time).

    With ``circular_frequency`` the frequency axis is padded circularly (bin -1 next to bin 0,
    as the 12 pitch classes of chroma are), so the block commutes with circular shifts in
    frequency; time is zero-padded.
    """

    def __init__(
        self, in_channels: int, out_channels: int, pool: tuple[int, int], circular_frequency: bool
    ):
        super().__init__()
        self.circular_frequency = circular_frequency
        padding = (0, 1) if circular_frequency else (1, 1)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=padding, bias=False)
        self.norm = nn.BatchNorm2d(out_channels)
        self.pool = nn.MaxPool2d(pool)

    def forward(self, x: Tensor) -> Tensor:
        if self.circular_frequency:
            x = torch.cat([x[:, :, -1:], x, x[:, :, :1]], dim=2)
        return self.pool(F.relu(self.norm(self.conv(x))))


class ConvEncoder(nn.Module):
    """A small CNN: (batch, n_bins, frames) spectrogram-like input -> (batch, embedding_size).

    ``len(channels)`` blocks of conv 3x3 + batch norm + ReLU + max-pool, then a mean over time
    (any number of frames >= 2 ** len(channels) works) and a linear layer.

    - Default: each block halves frequency and time; the final frequency bins are flattened, so
      the embedding knows *where* in frequency the energy is (timbre, register).
    - ``pitch_invariant=True`` (for chroma or CQT, version identification): frequency is padded
      circularly and never pooled, then max-pooled over all bins. Circularly shifting the input
      in frequency (a transposition, for chroma) leaves the embedding unchanged; for CQT, where
      a transposition is a linear shift, the invariance is approximate (edges).

    Parameters
    ----------
    n_bins : int
        Frequency bins of the input (64 log-mel bands, 12 chroma bins, 84 CQT bins...).
    embedding_size : int
        Output dimension.
    channels : tuple of int
        Output channels of each convolutional block.
    normalize : bool
        L2-normalise the embeddings.
    pitch_invariant : bool
        Invariance to circular shifts in frequency (see above).
    """

    def __init__(
        self,
        n_bins: int = 64,
        embedding_size: int = 64,
        channels: tuple[int, ...] = (16, 32, 64),
        normalize: bool = True,
        pitch_invariant: bool = False,
    ):
        super().__init__()
        if len(channels) == 0:
            raise ValueError("channels needs at least one block, e.g. (16, 32, 64)")
        _check_sizes(n_bins=n_bins, embedding_size=embedding_size, channels=tuple(channels))
        frequency_pool = 1 if pitch_invariant else 2
        if n_bins < frequency_pool ** len(channels):
            raise ValueError(
                f"n_bins = {n_bins} is too few for {len(channels)} blocks that halve frequency; use fewer channels"
            )
        self.n_bins, self.pitch_invariant = n_bins, pitch_invariant
        self.min_frames = 2 ** len(channels)
        widths = (1, *channels)
        self.blocks = nn.Sequential(
            *(ConvBlock(i, o, (frequency_pool, 2), pitch_invariant) for i, o in pairwise(widths))
        )
        features = (
            channels[-1] if pitch_invariant else channels[-1] * (n_bins // 2 ** len(channels))
        )
        self.head = nn.Linear(features, embedding_size)
        self.normalize = L2Normalize() if normalize else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        _check_input(x, self, x.ndim == 3 and x.shape[1] == self.n_bins and x.shape[2] >= self.min_frames,
                     f"(batch, n_bins={self.n_bins}, frames>={self.min_frames})")
        maps = self.blocks(x[:, None]).mean(dim=3)  # (batch, channels, frequency): mean over time
        pooled = maps.amax(dim=2) if self.pitch_invariant else maps.flatten(1)
        return self.normalize(self.head(pooled))


class MLPEncoder(nn.Module):
    """A multilayer perceptron: (batch, in_features) -> (batch, embedding_size).

    Linear + ReLU for each hidden width, then a linear layer (and L2 normalisation).

    Parameters
    ----------
    in_features : int
        Input dimension.
    embedding_size : int
        Output dimension.
    hidden : tuple of int
        Widths of the hidden layers (``()`` for a linear map, a learned Mahalanobis metric).
    normalize : bool
        L2-normalise the embeddings.
    """

    def __init__(
        self,
        in_features: int,
        embedding_size: int,
        hidden: tuple[int, ...] = (128,),
        normalize: bool = True,
    ):
        super().__init__()
        _check_sizes(in_features=in_features, embedding_size=embedding_size, hidden=tuple(hidden))
        widths = (in_features, *hidden)
        layers: list[nn.Module] = []
        for width_in, width_out in pairwise(widths):
            layers += [nn.Linear(width_in, width_out), nn.ReLU()]
        layers.append(nn.Linear(widths[-1], embedding_size))
        if normalize:
            layers.append(L2Normalize())
        self.layers = nn.Sequential(*layers)
        self.in_features = in_features

    def forward(self, x: Tensor) -> Tensor:
        _check_input(x, self, x.ndim == 2 and x.shape[1] == self.in_features, f"(batch, {self.in_features})")
        return self.layers(x)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) scalar parameters of a model."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
