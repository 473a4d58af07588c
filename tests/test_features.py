"""utils.features against librosa, scikit-learn and hand-computed cases."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from utils import features as F

SR = F.SAMPLE_RATE


def tone(frequency: float, seconds: float = 1.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


@pytest.fixture(scope="module")
def clips() -> np.ndarray:
    """A loud tone, a very quiet tone (70 dB lower) and noise: (3, 16000)."""
    noise = np.random.default_rng(0).normal(0, 0.1, SR).astype(np.float32)
    return np.stack([tone(440), tone(440, amplitude=0.5 * 10 ** (-70 / 20)), noise])


def test_logmel_is_per_clip_power_to_db(clips):
    db = F.logmel(clips)
    for clip, values in zip(clips, db, strict=True):
        power = librosa.feature.melspectrogram(y=clip, sr=SR, n_fft=F.N_FFT, hop_length=F.HOP_LENGTH,
                                               n_mels=F.N_MELS)
        np.testing.assert_allclose(values, librosa.power_to_db(power, ref=1.0, top_db=80), atol=1e-3)
    assert db.shape == (3, F.N_MELS, F.n_frames(SR)) and db.dtype == np.float32
    # The trap it avoids: power_to_db on the whole batch floors the quiet clip at the batch maximum.
    batch = librosa.power_to_db(F.mel_power(clips), ref=1.0, top_db=80)
    assert np.abs(batch[1] - db[1]).max() > 10


def test_logmel_keeps_loudness(clips):
    db = F.logmel(clips[:2])
    assert db[0].max() - db[1].max() == pytest.approx(70, abs=0.5)


def test_shapes_and_dtypes(clips):
    frames = F.n_frames(clips.shape[1])
    assert F.chroma(clips).shape == (3, 12, frames)
    assert F.cqt(clips).shape == (3, F.CQT_BINS, frames)
    stats = F.mfcc_stats(clips)
    assert stats.shape == (3, 4 * F.N_MFCC) and stats.dtype == np.float32
    assert len(F.mfcc_stats_names()) == stats.shape[1] == len(set(F.mfcc_stats_names()))
    assert librosa.stft(clips[0], n_fft=F.N_FFT, hop_length=F.HOP_LENGTH).shape[1] == frames
    with pytest.raises(ValueError, match="n_clips, n_samples"):
        F.logmel(clips[0])


def test_mfcc_matches_librosa(clips):
    db = F.logmel(clips)
    expected = np.stack([librosa.feature.mfcc(S=d, n_mfcc=F.N_MFCC) for d in db])
    np.testing.assert_allclose(F.mfcc_from_logmel(db), expected, rtol=1e-4, atol=1e-3)


def test_mfcc_stats_are_means_and_stds(clips):
    coefficients = F.mfcc(clips)
    deltas = librosa.feature.delta(coefficients, axis=-1)
    expected = np.concatenate([coefficients.mean(-1), coefficients.std(-1), deltas.mean(-1),
                               deltas.std(-1)], axis=1)
    np.testing.assert_allclose(F.mfcc_stats(clips), expected, rtol=1e-5, atol=1e-4)


def test_chroma_and_cqt_find_the_pitch():
    a4 = tone(440)[None]
    assert F.chroma(a4).mean(-1).argmax() == 9  # A
    # CQT bin k is C1 * 2 ** (k / 12); A4 is 45 semitones above C1.
    assert F.cqt(a4).mean(-1).argmax() == 45


def test_piano_roll_by_hand():
    # Frame t is centred at t * 512 / 16000 s = 32 ms * t.
    roll = F.piano_roll(onsets=[0.0, 0.1], offsets=[0.064, 0.2], pitches=[60, 64], n_frames_=10)
    assert roll.shape == (128, 10) and roll.dtype == np.uint8
    np.testing.assert_array_equal(np.flatnonzero(roll[60]), [0, 1])  # 0 and 32 ms (< 64 ms)
    np.testing.assert_array_equal(np.flatnonzero(roll[64]), [4, 5, 6])  # 128, 160, 192 ms
    assert roll.sum() == 5


def test_dominant_frequency_and_tutorial_features():
    clips = np.stack([tone(440), tone(110)])
    np.testing.assert_allclose(F.dominant_frequency(clips), [440, 110], atol=SR / 2048)
    values = F.tutorial_features(clips)
    assert values.shape == (2, 33) and len(F.TUTORIAL_COLUMNS) == 34
    assert values[0, 20:32].argmax() == 9 and values[1, 20:32].argmax() == 9  # chroma of A
    mel = librosa.feature.melspectrogram(y=clips[0], sr=SR, n_fft=2048, hop_length=512, n_mels=128)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=80), n_mfcc=20).mean(-1)
    np.testing.assert_allclose(values[0, :20], mfcc, rtol=1e-4, atol=1e-3)


def test_standardizer_uses_training_rows_only():
    rng = np.random.default_rng(0)
    train, test = rng.normal(3, 2, (50, 4)), rng.normal(10, 5, (20, 4))
    train[:, 3] = 1.0  # constant: centred, not divided by zero
    scaled_train, scaled_test = F.standardize(train, test)
    reference = StandardScaler().fit(train)
    np.testing.assert_allclose(scaled_train, reference.transform(train), atol=1e-5)
    np.testing.assert_allclose(scaled_test, reference.transform(test), atol=1e-5)
    assert scaled_test.mean() > 1  # the test rows were not used: they stay shifted


def test_standardizer_per_band_for_spectrograms():
    x = np.random.default_rng(1).normal(size=(6, 3, 5)) * np.array([1, 10, 100])[:, None]
    scaled = F.Standardizer().fit_transform(x)
    np.testing.assert_allclose(scaled.mean(axis=(0, 2)), 0, atol=1e-6)
    np.testing.assert_allclose(scaled.std(axis=(0, 2)), 1, atol=1e-5)


def test_standardizer_errors():
    scaler = F.Standardizer()
    with pytest.raises(RuntimeError, match="fit"):
        scaler.transform(np.ones((2, 3)))
    scaler.fit(np.random.default_rng(0).normal(size=(5, 3)))
    with pytest.raises(ValueError, match="3 features"):
        scaler.transform(np.ones((2, 4)))
    with pytest.raises(ValueError, match="item axis"):
        F.Standardizer(feature_axis=0).fit(np.ones((2, 3)))
    with pytest.raises(ValueError, match="zero training rows"):
        F.Standardizer().fit(np.ones((0, 3)))
