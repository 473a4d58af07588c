"""Audio and symbolic features shared by the course: log-mel, MFCC statistics, chroma, CQT, piano
rolls, and standardisation fitted on training rows only.

Every function takes a batch of clips, ``audio`` of shape (n, samples) at :data:`SAMPLE_RATE`, and
computes each clip's dB scale on its own: ``librosa.power_to_db`` applied to a whole batch floors
every clip at 80 dB below the *batch* maximum, which changes quiet clips by up to 17 dB.
Here ``10 log10(power)`` is relative to a fixed reference (1.0, so loudness is kept: a soft note
is darker than a loud one) and floored at ``top_db`` below *that clip's* maximum, exactly what
``librosa.power_to_db(S_clip, ref=1.0, top_db=80)`` gives clip by clip.

Used by ``utils.data`` (cached dataset features) and by every notebook that shows a spectrogram.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np

from utils.checks import check_int

#: Sample rate of every course clip (Hz).
SAMPLE_RATE = 16000
#: STFT window length (samples): 64 ms.
N_FFT = 1024
#: Hop between frames (samples): 32 ms, i.e. 31.25 frames per second.
HOP_LENGTH = 512
#: Mel bands of the course log-mel spectrogram.
N_MELS = 64
#: Number of MFCCs summarised by :func:`mfcc_stats`.
N_MFCC = 20
#: CQT: lowest frequency (C1, Hz), bins per octave, number of bins (7 octaves: C1 to B7).
CQT_FMIN = 32.703195662574764
CQT_BINS_PER_OCTAVE = 12
CQT_BINS = 84
#: Dynamic range kept below each clip's maximum (dB).
TOP_DB = 80.0
#: Power floor before the logarithm (-100 dB).
AMIN = 1e-10


def n_frames(n_samples: int, hop_length: int = HOP_LENGTH) -> int:
    """Frames of a centred STFT (librosa's convention) of ``n_samples`` samples."""
    return 1 + n_samples // hop_length


def frame_times(n_frames_: int, sr: int = SAMPLE_RATE, hop_length: int = HOP_LENGTH) -> np.ndarray:
    """Centre time (s) of each frame: frame ``t`` is centred on sample ``t * hop_length``."""
    return np.arange(n_frames_) * hop_length / sr


def _check_finite(values: np.ndarray, name: str) -> np.ndarray:
    """``values`` (a numeric array) unchanged, after checking it is non-empty and finite."""
    if values.size == 0:
        raise ValueError(f"{name} is empty (shape {values.shape})")
    if not np.isfinite(values).all():
        raise ValueError(f"{name} has NaN or infinite values: fix or drop those rows first")
    return values


def _as_batch(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.dtype.kind not in "biuf":
        raise TypeError(f"audio must hold real-valued samples, got dtype {audio.dtype}")
    if audio.ndim != 2:
        raise ValueError(
            f"audio must have shape (n_clips, n_samples), got {audio.shape}; "
            "use audio[None] for a single clip"
        )
    return _check_finite(np.asarray(audio, dtype=np.float32), "audio")


def power_to_db_per_clip(power: np.ndarray, top_db: float = TOP_DB) -> np.ndarray:
    """``10 log10(power)`` (reference 1.0), floored at ``top_db`` below each clip's maximum.

    Parameters
    ----------
    power : (n, ...) array of non-negative powers, one clip per row.
    top_db : dynamic range kept below each clip's own maximum (dB).

    Returns
    -------
    (n, ...) float32 array in dB; equal to ``librosa.power_to_db(power[i], ref=1.0, top_db=top_db)``
    for each clip ``i``.
    """
    power = _check_finite(np.asarray(power), "power")
    if (power < 0).any():
        raise ValueError("power must be non-negative (squared magnitudes); got negative values")
    db = 10.0 * np.log10(np.maximum(power, AMIN))
    floor = db.reshape(len(db), -1).max(axis=1) - top_db
    return np.maximum(db, floor.reshape((-1,) + (1,) * (db.ndim - 1))).astype(np.float32)


def mel_power(audio: np.ndarray, sr: int = SAMPLE_RATE, n_mels: int = N_MELS,
              n_fft: int = N_FFT, hop_length: int = HOP_LENGTH) -> np.ndarray:
    """Mel power spectrogram, (n, n_mels, frames) float32 (no dB)."""
    import librosa

    return librosa.feature.melspectrogram(
        y=_as_batch(audio), sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels
    ).astype(np.float32)


def logmel(audio: np.ndarray, sr: int = SAMPLE_RATE, n_mels: int = N_MELS,
           n_fft: int = N_FFT, hop_length: int = HOP_LENGTH, top_db: float = TOP_DB) -> np.ndarray:
    """Log-mel spectrogram in dB (reference 1.0, floored per clip), (n, n_mels, frames) float32."""
    return power_to_db_per_clip(mel_power(audio, sr, n_mels, n_fft, hop_length), top_db)


def mfcc_from_logmel(db: np.ndarray, n_mfcc: int = N_MFCC) -> np.ndarray:
    """MFCCs of log-mel spectrograms: DCT-II (orthonormal) over the mel axis.

    Parameters
    ----------
    db : (n, n_mels, frames) log-mel spectrograms in dB (e.g. from :func:`logmel`).

    Returns
    -------
    (n, n_mfcc, frames) float32.
    """
    import scipy.fft

    db = np.asarray(db)
    if db.ndim != 3:
        raise ValueError(f"db must have shape (n, n_mels, frames), got {db.shape}; use db[None] for one clip")
    if check_int(n_mfcc, "n_mfcc") > db.shape[1]:
        raise ValueError(f"n_mfcc = {n_mfcc} is more than the {db.shape[1]} mel bands of db")
    return scipy.fft.dct(db, type=2, norm="ortho", axis=1)[:, :n_mfcc].astype(np.float32)


def mfcc(audio: np.ndarray, sr: int = SAMPLE_RATE, n_mfcc: int = N_MFCC) -> np.ndarray:
    """MFCCs of the per-clip log-mel spectrogram, (n, n_mfcc, frames) float32."""
    return mfcc_from_logmel(logmel(audio, sr), n_mfcc)


def mfcc_stats_from_logmel(db: np.ndarray, n_mfcc: int = N_MFCC) -> np.ndarray:
    """Clip summary of log-mel spectrograms (n, n_mels, frames): see :func:`mfcc_stats`."""
    import librosa

    coefficients = mfcc_from_logmel(db, n_mfcc)
    frames = coefficients.shape[-1]
    if frames < 3:
        raise ValueError(f"MFCC deltas need at least 3 frames, got {frames}")
    width = min(9, frames if frames % 2 else frames - 1)
    deltas = librosa.feature.delta(coefficients, width=width, axis=-1)
    parts = [coefficients.mean(-1), coefficients.std(-1), deltas.mean(-1), deltas.std(-1)]
    return np.concatenate(parts, axis=1).astype(np.float32)


def mfcc_stats(audio: np.ndarray, sr: int = SAMPLE_RATE, n_mfcc: int = N_MFCC) -> np.ndarray:
    """Clip summary: mean and standard deviation over frames of the MFCCs and of their deltas.

    Returns
    -------
    (n, 4 * n_mfcc) float32: [mfcc means, mfcc stds, delta means, delta stds]; names from
    :func:`mfcc_stats_names`.
    """
    return mfcc_stats_from_logmel(logmel(audio, sr), n_mfcc)


def mfcc_stats_names(n_mfcc: int = N_MFCC) -> list[str]:
    """Column names of :func:`mfcc_stats`, e.g. ``mfcc_mean_00``, ``delta_std_19``."""
    return [f"{what}_{stat}_{i:02d}" for what in ("mfcc", "delta") for stat in ("mean", "std")
            for i in range(n_mfcc)]


def chroma(audio: np.ndarray, sr: int = SAMPLE_RATE, n_fft: int = N_FFT,
           hop_length: int = HOP_LENGTH) -> np.ndarray:
    """STFT chroma, each frame scaled to maximum 1, (n, 12, frames) float32 (C, C#, ..., B)."""
    import librosa

    return librosa.feature.chroma_stft(
        y=_as_batch(audio), sr=sr, n_fft=n_fft, hop_length=hop_length
    ).astype(np.float32)


@contextlib.contextmanager
def _quiet_downsampling():
    """Silence librosa's CQT warning that the top octaves of a short clip, downsampled octave by
    octave, are shorter than its FFT (harmless for the low bins it affects)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="n_fft=.* is too large")
        yield


def cqt(audio: np.ndarray, sr: int = SAMPLE_RATE, hop_length: int = HOP_LENGTH,
        top_db: float = TOP_DB) -> np.ndarray:
    """Log-magnitude constant-Q transform (C1 to B7, semitone bins), dB floored per clip.

    Returns
    -------
    (n, CQT_BINS, frames) float32 in dB (reference 1.0).
    """
    import librosa

    with _quiet_downsampling():
        magnitude = np.abs(librosa.cqt(
            _as_batch(audio), sr=sr, hop_length=hop_length, fmin=CQT_FMIN, n_bins=CQT_BINS,
            bins_per_octave=CQT_BINS_PER_OCTAVE,
        ))
    return power_to_db_per_clip(magnitude**2, top_db)


def piano_roll(onsets: np.ndarray, offsets: np.ndarray, pitches: np.ndarray, n_frames_: int,
               sr: int = SAMPLE_RATE, hop_length: int = HOP_LENGTH) -> np.ndarray:
    """Binary piano roll aligned with the audio frames.

    Frame ``t`` (centred on sample ``t * hop_length``) is on for a pitch when a note of that pitch
    sounds at that instant: ``onset <= t * hop_length / sr < offset``.

    Parameters
    ----------
    onsets, offsets : (notes,) note start and end times in seconds.
    pitches : (notes,) MIDI pitches, 0..127.
    n_frames_ : number of frames of the roll.

    Returns
    -------
    (128, n_frames_) uint8 array of 0/1.
    """
    onsets, offsets, pitches = (np.asarray(values) for values in (onsets, offsets, pitches))
    if not onsets.shape == offsets.shape == pitches.shape or onsets.ndim != 1:
        raise ValueError(f"onsets, offsets and pitches must be 1-D of the same length (one entry per note), "
                         f"got shapes {onsets.shape}, {offsets.shape}, {pitches.shape}")
    if pitches.dtype.kind not in "iuf" or (pitches % 1 != 0).any() or ((pitches < 0) | (pitches > 127)).any():
        raise ValueError(f"pitches must be whole MIDI pitches 0..127, got {pitches.dtype} {pitches[:5]}")
    roll = np.zeros((128, n_frames_), dtype=np.uint8)
    times = frame_times(n_frames_, sr, hop_length)
    start = np.searchsorted(times, onsets.astype(float), side="left")
    stop = np.searchsorted(times, offsets.astype(float), side="left")
    for pitch, first, last in zip(pitches.astype(int), start, stop, strict=True):
        roll[pitch, first:last] = 1
    return roll


def dominant_frequency(audio: np.ndarray, sr: int = SAMPLE_RATE, n_fft: int = 2048,
                       fmin: float = 32.703195662574764, fmax: float = 1046.5022612023945) -> np.ndarray:
    """The original tutorial's "f0": the STFT bin of largest mean power between C1 and C6 (Hz).

    Returns
    -------
    (n,) float64 frequencies in Hz (resolution ``sr / n_fft``).
    """
    import librosa

    power = np.mean(np.abs(librosa.stft(_as_batch(audio), n_fft=n_fft)) ** 2, axis=-1)
    freqs = np.fft.rfftfreq(n_fft, d=1.0 / sr)
    power[:, (freqs < fmin) | (freqs > fmax)] = -1.0
    return freqs[np.argmax(power, axis=1)]


#: Columns of the original tutorial's NSynth tables (after the file-path index).
TUTORIAL_COLUMNS = (
    [f"mfcc_{i:02d}" for i in range(20)] + [f"chroma_{i:02d}" for i in range(12)] + ["f0", "instrument"]
)


def tutorial_features(audio: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """The original ISMIR 2020 tutorial's clip features, per clip, at ``sr``.

    Its recipe: librosa's default MFCCs (20, 128 mel bands, 2048-point FFT) averaged over frames,
    CQT chroma from C1 over 6 octaves averaged over frames, and the dominant frequency between C1
    and C6. The tutorial resampled NSynth to 22,050 Hz first; the course keeps 16 kHz.

    Returns
    -------
    (n, 33) float64: mfcc_00..mfcc_19, chroma_00..chroma_11, f0 (Hz).
    """
    import librosa

    audio = _as_batch(audio)
    mel = librosa.feature.melspectrogram(y=audio, sr=sr, n_fft=2048, hop_length=512, n_mels=128)
    coefficients = mfcc_from_logmel(power_to_db_per_clip(mel), 20)
    with _quiet_downsampling():
        chroma_means = librosa.feature.chroma_cqt(
            y=audio, sr=sr, n_octaves=6, fmin=CQT_FMIN, hop_length=512
        ).mean(axis=-1)
    return np.concatenate(
        [coefficients.mean(-1), chroma_means, dominant_frequency(audio, sr)[:, None]], axis=1
    ).astype(np.float64)


class Standardizer:
    """Zero mean and unit variance per feature, with statistics from training rows only.

    ``feature_axis`` names the axis that holds the features (1 by default): for a table (n, d) the
    statistics are per column; for a spectrogram batch (n, bands, frames) they are per band, over
    items and frames. Features with zero variance are only centred.

    Examples
    --------
    >>> scaler = Standardizer().fit(x[train])       # never on validation or test rows
    >>> x_scaled = scaler.transform(x)
    """

    def __init__(self, feature_axis: int = 1):
        self.feature_axis = feature_axis
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def _reduce_axes(self, x: np.ndarray) -> tuple[int, ...]:
        if x.ndim < 2:
            raise ValueError(f"expected an array of shape (n, d, ...), got shape {x.shape}")
        axis = self.feature_axis % x.ndim
        if axis == 0:
            raise ValueError("feature_axis must not be the item axis 0")
        return tuple(i for i in range(x.ndim) if i != axis)

    def fit(self, train: np.ndarray) -> Standardizer:
        """Learn per-feature mean and standard deviation from the training rows ``train``."""
        train = np.asarray(train, dtype=np.float64)
        axes = self._reduce_axes(train)
        if train.shape[0] == 0:
            raise ValueError("cannot fit a Standardizer on zero training rows")
        _check_finite(train, "train")
        self.mean_ = train.mean(axis=axes, keepdims=True)
        std = train.std(axis=axes, keepdims=True)
        self.scale_ = np.where(std > 0, std, 1.0)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Standardise ``x`` with the training statistics (float32, same shape)."""
        if self.mean_ is None:
            raise RuntimeError("call fit(train) before transform")
        x = np.asarray(x)
        axis = self.feature_axis % self.mean_.ndim
        if x.ndim != self.mean_.ndim or x.shape[axis] != self.mean_.shape[axis]:
            raise ValueError(
                f"x has shape {x.shape}; the Standardizer was fitted on {self.mean_.ndim}-d "
                f"features with {self.mean_.shape[axis]} features on axis {axis}"
            )
        return ((x - self.mean_) / self.scale_).astype(np.float32)

    def fit_transform(self, train: np.ndarray) -> np.ndarray:
        """Fit on ``train`` and return it standardised."""
        return self.fit(train).transform(train)


def standardize(train: np.ndarray, *others: np.ndarray, feature_axis: int = 1) -> tuple[np.ndarray, ...]:
    """Standardise ``train`` and every array of ``others`` with statistics of ``train`` alone.

    Returns
    -------
    A tuple ``(train_scaled, *others_scaled)`` of float32 arrays.
    """
    scaler = Standardizer(feature_axis).fit(train)
    return tuple(scaler.transform(x) for x in (train, *others))

