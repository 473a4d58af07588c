"""utils.data.load_audio_folder on folders of generated audio in mixed formats and sample rates."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from utils import data
from utils.data.folders import class_disjoint_split, decode

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import demo_music  # noqa: E402

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


def test_csv_columns_beyond_the_labels_become_attributes(music, tmp_path):
    rows = [{"path": f"{label}/take{i}.{suffix}", "label": label, "key": "C major" if i % 2 else "A minor",
             "tempo": str(100 + i)} for label in TONES for i, (suffix, _) in enumerate(FORMATS)]
    folder = data.load_audio_folder(music, cache_dir=tmp_path / "cache", labels_csv=pd.DataFrame(rows))
    assert folder.meta.tempo.dtype == np.int64 and folder.meta.tempo.tolist()[:4] == [100, 101, 102, 103]
    assert set(folder.meta.key) == {"C major", "A minor"}
    reloaded = data.load_audio_folder(music, cache_dir=tmp_path / "cache", labels_csv=pd.DataFrame(rows))
    pd.testing.assert_frame_equal(reloaded.meta, folder.meta)
    rows[0]["clip_in_file"] = "3"
    with pytest.raises(data.AudioFolderError, match="clip_in_file"):
        data.load_audio_folder(music, cache_dir=tmp_path / "cache", labels_csv=pd.DataFrame(rows))


def test_a_pitch_column_of_note_names_becomes_midi_numbers(music, tmp_path):
    rows = [{"path": f"{label}/take{i}.{suffix}", "label": label, "pitch": ["A2", "C#4", "Bb3", "108"][i]}
            for label in TONES for i, (suffix, _) in enumerate(FORMATS)]
    folder = data.load_audio_folder(music, cache_dir=tmp_path / "cache", labels_csv=pd.DataFrame(rows))
    assert folder.meta.pitch.dtype == np.int64 and folder.meta.pitch.tolist()[:4] == [45, 61, 58, 108]
    rows[5]["pitch"] = "middle C"
    with pytest.raises(data.AudioFolderError, match="'middle C', neither a MIDI note number nor a note name"):
        data.load_audio_folder(music, cache_dir=tmp_path / "cache", labels_csv=pd.DataFrame(rows))


def test_data_strings_name_a_source(music, tmp_path):
    folder = data.load_data(f"folder:{music}", cache_dir=tmp_path / "cache")
    assert isinstance(folder, data.AudioFolder) and folder.label == "label" and set(folder.meta.label) == set(TONES)
    assert data.GMNotes.label == "instrument" and data.parse_data("gm_notes:FluidR3_GM") == ("gm_notes", "FluidR3_GM")
    assert data.is_default("gm_notes") and not data.is_default(f"folder:{music}")
    for spec, message in [("folder", "lacks its path"), ("nsynth:", "lacks its path"), ("fodler:/x", "names no source")]:
        with pytest.raises(ValueError, match=message):
            data.load_data(spec)
    with pytest.raises(TypeError, match="string"):
        data.load_data(3)
    with pytest.raises(FileNotFoundError, match="examples.json"):
        data.load_data(f"nsynth:{music}")


def test_an_nsynth_split_is_a_folder_dataset_with_its_attributes(tmp_path):
    root = demo_music.write_nsynth_split(tmp_path / "nsynth")
    notes = data.load_data(f"nsynth:{root}", cache_dir=tmp_path / "cache")
    meta = notes.meta
    assert len(notes) == 12 * 8 * 2 and notes.audio.shape[1] == int(1.28 * 16000)
    assert {"family", "source", "pitch", "velocity"} <= set(meta.columns) and meta.pitch.dtype == np.int64
    assert (meta.groupby("group").velocity.nunique() == 2).all()  # velocities of a note are near-duplicates
    assert (meta.groupby("label").split.nunique() == 1).all() and set(meta.split) == {"train", "valid", "test"}


def test_claims_are_asserted_only_on_the_default_data(capsys):
    from utils.course import claims_for

    with pytest.raises(AssertionError):
        claims_for("gm_notes")("false", False)
    claims_for("folder:/music")("false", False)
    claims_for("folder:/music")("true", True)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("✗ false") and "not so on folder:/music" in printed[0]
    assert printed[1].startswith("✓ true") and "also so" in printed[1]
