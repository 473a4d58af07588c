"""utils.data.load_audio_folder on folders of generated audio in mixed formats and sample rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile

from utils import data
from utils.data.folders import class_disjoint_split, decode

#: label -> fundamental (Hz): three "instruments" told apart by pitch and timbre.
TONES = {"low_sine": 110.0, "mid_square": 440.0, "high_saw": 1760.0, "bright_pulse": 880.0}
FORMATS = (("wav", 16000), ("flac", 22050), ("ogg", 44100), ("mp3", 44100))


def tone(label: str, seconds: float, rate: int, detune: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * TONES[label] * (1 + detune) * t
    shapes = {"low_sine": np.sin(phase), "mid_square": np.sign(np.sin(phase)),
              "high_saw": 2 * ((phase / (2 * np.pi)) % 1) - 1, "bright_pulse": (np.sin(phase) > 0.6) * 2.0 - 1}
    return (0.3 * shapes[label] * np.exp(-t)).astype(np.float32)


def write(path, audio, rate):
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), audio, rate)


@pytest.fixture
def music(tmp_path):
    """4 labels x 4 files, one per format and sample rate, 1.5 s each."""
    root = tmp_path / "music"
    for label in TONES:
        for index, (suffix, rate) in enumerate(FORMATS):
            write(root / label / f"take{index}.{suffix}", tone(label, 1.5, rate, detune=0.01 * index), rate)
    return root


def test_a_folder_becomes_a_course_dataset(music, tmp_path):
    folder = data.load_audio_folder(music, cache_dir=tmp_path / "cache", clips_per_file=2, clip_seconds=0.64)
    assert isinstance(folder, data.Dataset) and folder.sample_rate == 16000
    assert folder.audio.shape == (4 * 4 * 2, int(0.64 * 16000)) and folder.audio.dtype == np.float32
    meta = folder.meta
    assert {"path", "label", "group", "clip_in_file", "start_seconds", "split"} <= set(meta.columns)
    assert set(meta.label) == set(TONES) and (meta.groupby("group").size() == 2).all()
    splits = meta.groupby("label").split.agg(set)
    assert all(len(s) == 1 for s in splits)  # class-disjoint
    assert {next(iter(s)) for s in splits} == {"train", "valid", "test"}
    assert folder.features("logmel").shape[:2] == (len(folder), 64)
    # Decoded and resampled: every format gives the same tone at 16 kHz.
    takes = folder.audio[(meta.label == "low_sine").to_numpy() & (meta.clip_in_file == 0).to_numpy()]
    spectra = np.abs(np.fft.rfft(takes, axis=1))
    assert np.all(np.abs(spectra.argmax(axis=1) / takes.shape[1] * 16000 - 110) < 5)


def test_the_cache_is_identified_by_content(music, tmp_path):
    cache = tmp_path / "cache"
    first = data.load_audio_folder(music, cache_dir=cache)
    again = data.load_audio_folder(music, cache_dir=cache)
    assert again.cache_dir == first.cache_dir
    np.testing.assert_array_equal(again.audio, first.audio)
    write(music / "low_sine" / "take0.wav", tone("low_sine", 1.5, 16000, detune=0.05), 16000)
    changed = data.load_audio_folder(music, cache_dir=cache)
    assert changed.cache_dir != first.cache_dir
    assert not np.array_equal(changed.audio, first.audio)


def test_labels_groups_and_splits_from_a_csv(tmp_path):
    root = tmp_path / "flat"
    rows = []
    for label in TONES:
        for index in range(3):
            name = f"{label}-{index}.wav"
            write(root / name, tone(label, 1.0, 16000, detune=0.01 * index), 16000)
            rows.append({"path": name, "label": label, "group": f"{label}-session",
                         "split": "test" if label == "high_saw" else ""})
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    folder = data.load_audio_folder(root, cache_dir=tmp_path / "cache")
    assert set(folder.meta.group) == {f"{label}-session" for label in TONES}
    assert set(folder.meta.split[folder.meta.label == "high_saw"]) == {"test"}


def test_split_by_label_hash_is_stable_when_labels_are_added():
    few = class_disjoint_split([f"label{i}" for i in range(10)])
    more = class_disjoint_split([f"label{i}" for i in range(11)])
    assert sum(split == "test" for split in few.values()) == 2
    assert sum(few[name] != more[name] for name in few) <= 2


@pytest.mark.parametrize("damage, message", [
    (lambda root: (root / "low_sine" / "take0.wav").write_bytes(b"not audio at all"), "take0.wav cannot be read"),
    (lambda root: (root / "low_sine" / "take0.wav").write_bytes(b""), "take0.wav cannot be read"),
    (lambda root: write(root / "low_sine" / "take0.wav", np.zeros(16000, np.float32), 16000), "take0.wav is silent"),
    (lambda root: write(root / "low_sine" / "take0.wav", tone("low_sine", 0.1, 16000), 16000),
     "take0.wav lasts 0.10 s"),
])
def test_a_bad_file_is_named_and_nothing_is_cached(music, tmp_path, damage, message):
    damage(music)
    cache = tmp_path / "cache"
    with pytest.raises(data.AudioFolderError, match=message):
        data.load_audio_folder(music, cache_dir=cache)
    assert not cache.exists() or list(cache.iterdir()) == []


@pytest.mark.parametrize("make, message", [
    (lambda root: [write(root / "only" / f"{i}.wav", tone("low_sine", 1.0, 16000), 16000) for i in range(3)],
     "1 label"),
    (lambda root: [write(root / label / f"{i}.wav", tone(label, 1.0, 16000), 16000)
                   for label in ("low_sine", "mid_square", "high_saw") for i in range(2 if label != "high_saw" else 1)],
     "label 'high_saw' has a single file"),
    (lambda root: write(root / "loose.wav", tone("low_sine", 1.0, 16000), 16000), "has no label"),
    (lambda root: (root / "notes.txt").parent.mkdir(parents=True) or (root / "notes.txt").write_text("x"),
     "no audio files"),
])
def test_bad_folders_are_refused_with_a_reason(tmp_path, make, message):
    root = tmp_path / "bad"
    make(root)
    with pytest.raises(data.AudioFolderError, match=message):
        data.load_audio_folder(root, cache_dir=tmp_path / "cache")


def test_missing_folder_and_bad_csv(tmp_path, music):
    with pytest.raises(data.AudioFolderError, match="is not a folder"):
        data.load_audio_folder(tmp_path / "nowhere")
    pd.DataFrame({"path": ["low_sine/take0.wav"], "name": ["x"]}).to_csv(music / "labels.csv", index=False)
    with pytest.raises(data.AudioFolderError, match=r"lacks the column\(s\) \['label'\]"):
        data.load_audio_folder(music, cache_dir=tmp_path / "cache")
    pd.DataFrame({"path": ["low_sine/gone.wav"], "label": ["x"]}).to_csv(music / "labels.csv", index=False)
    with pytest.raises(data.AudioFolderError, match="gone.wav does not exist"):
        data.load_audio_folder(music, cache_dir=tmp_path / "cache")


def test_decode_mixes_to_mono_and_resamples(tmp_path):
    stereo = np.stack([tone("low_sine", 1.0, 44100), -tone("low_sine", 1.0, 44100)], axis=1)
    write(tmp_path / "stereo.flac", stereo, 44100)
    mono = decode(tmp_path / "stereo.flac")
    assert mono.shape == (16000,) and np.abs(mono).max() < 1e-3  # the channels cancel
