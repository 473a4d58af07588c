"""utils.data.nsynth on small fixtures in the real formats (no network: the fetch is replaced)."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pandas as pd
import pytest
import soundfile

from utils import data
from utils.data import nsynth
from utils.features import TUTORIAL_COLUMNS


def fixture_table(split: str, rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(len(split))
    index = [f"{split}/brass_acoustic_{i:03d}-060-100.wav" for i in range(rows)]
    table = pd.DataFrame(rng.normal(size=(rows, 33)), index=index, columns=TUTORIAL_COLUMNS[:-1])
    table["instrument"] = ["brass", "reed", "flute"][:rows]
    return table


@pytest.fixture
def served(monkeypatch):
    """Fixture tables in the tutorial's CSV format, served by a fake fetch; their digests pinned."""
    tables = {split: fixture_table(split, 3) for split in nsynth.TUTORIAL_TABLES}
    payloads = {split: table.to_csv().encode() for split, table in tables.items()}
    monkeypatch.setattr(nsynth, "TUTORIAL_TABLES", {
        split: (hashlib.sha256(raw).hexdigest(), 3) for split, raw in payloads.items()})
    requested = []

    def fetch(url, timeout=60.0):
        requested.append(url)
        split = url.rsplit("nsynth_", 1)[1].removesuffix(".csv")
        return payloads[split]

    monkeypatch.setattr(nsynth, "_fetch", fetch)
    return tables, payloads, requested


def test_tables_are_downloaded_only_on_request(served, tmp_path):
    tables, _, requested = served
    with pytest.raises(FileNotFoundError, match="download=True"):
        data.load_tutorial_tables(tmp_path)
    assert requested == []
    loaded = data.load_tutorial_tables(tmp_path, download=True)
    assert requested == [
        f"https://raw.githubusercontent.com/bmcfee/ismir2020-metric-learning/{nsynth.TUTORIAL_COMMIT}/"
        f"nsynth_{split}.csv" for split in ("train", "valid", "test")]
    for split, table in tables.items():
        pd.testing.assert_frame_equal(loaded[split], table)
    data.load_tutorial_tables(tmp_path)  # now cached: no download
    assert len(requested) == 3


def test_a_download_with_the_wrong_checksum_is_refused(served, tmp_path, monkeypatch):
    monkeypatch.setattr(nsynth, "_fetch", lambda url, timeout=60.0: b"<html>rate limited</html>")
    with pytest.raises(ValueError, match="SHA-256"):
        data.load_tutorial_tables(tmp_path, download=True)
    assert not list((tmp_path / "nsynth_tutorial").iterdir())


def test_a_damaged_cached_table_is_detected(served, tmp_path):
    data.load_tutorial_tables(tmp_path, download=True)
    path = tmp_path / "nsynth_tutorial" / "nsynth_valid.csv"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(FileNotFoundError, match="nsynth_valid.csv does not match"):
        data.load_tutorial_tables(tmp_path)
    assert len(data.load_tutorial_tables(tmp_path, download=True)["valid"]) == 3


def test_pinned_tables():
    assert {split: rows for split, (_, rows) in nsynth.TUTORIAL_TABLES.items()} == {
        "train": 1000, "valid": 200, "test": 200}
    assert nsynth.TUTORIAL_TABLES["train"][0].startswith("328536b7")
    # The GM notes' stand-in has the same layout, so the two can be swapped.
    assert list(fixture_table("train", 3).columns) == TUTORIAL_COLUMNS


def write_nsynth_split(root, notes: dict[str, tuple[str, int]], seconds: float = 0.5) -> dict:
    """An NSynth split in its json/wav layout: examples.json and audio/<note_str>.wav (int16)."""
    (root / "audio").mkdir(parents=True)
    examples, clips = {}, {}
    for number, (note_str, (family, pitch)) in enumerate(notes.items()):
        instrument_str = note_str.rsplit("-", 2)[0]
        examples[note_str] = {
            "note": number, "note_str": note_str, "instrument": number // 2,
            "instrument_str": instrument_str, "instrument_family": 0,
            "instrument_family_str": family, "instrument_source": 0,
            "instrument_source_str": instrument_str.split("_")[1], "pitch": pitch,
            "velocity": 100, "sample_rate": 16000, "qualities": [0] * 10,
            "qualities_str": ["bright"] if number % 2 else [],
        }
        t = np.arange(int(seconds * 16000)) / 16000
        clip = np.round(0.3 * np.sin(2 * np.pi * 440 * 2 ** ((pitch - 69) / 12) * t) * 32767).astype(np.int16)
        soundfile.write(root / "audio" / f"{note_str}.wav", clip, 16000, subtype="PCM_16")
        clips[note_str] = clip
    (root / "examples.json").write_text(json.dumps(examples))
    return clips


NOTES = {"brass_acoustic_006-060-100": ("brass", 60), "brass_acoustic_006-062-100": ("brass", 62),
         "reed_acoustic_011-060-100": ("reed", 60)}


def test_nsynth_json_wav_layout(tmp_path):
    clips = write_nsynth_split(tmp_path, NOTES)
    notes = data.load_nsynth(tmp_path)
    assert notes.audio.shape == (3, 8000) and notes.audio.dtype == np.float32
    assert notes.meta.note_str.tolist() == sorted(NOTES)
    for row, note_str in enumerate(notes.meta.note_str):
        np.testing.assert_allclose(notes.audio[row], clips[note_str] / 32768, atol=1e-6)
    assert notes.meta.family.tolist() == ["brass", "brass", "reed"]
    assert notes.meta.pitch.tolist() == [60, 62, 60]
    assert notes.meta.group.nunique() == 3 and notes.meta.qualities.tolist() == ["", "bright", ""]
    reed = data.load_nsynth(tmp_path, families=["reed"], seconds=1.0)
    assert reed.audio.shape == (1, 16000) and not reed.audio[0, 8000:].any()
    assert len(data.load_nsynth(tmp_path, max_notes=2)) == 2


def test_nsynth_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="examples.json"):
        data.load_nsynth(tmp_path)
    write_nsynth_split(tmp_path, NOTES)
    with pytest.raises(ValueError, match="unknown families"):
        data.load_nsynth(tmp_path, families=["kazoo"])
    (tmp_path / "audio" / "reed_acoustic_011-060-100.wav").unlink()
    with pytest.raises(FileNotFoundError, match="missing"):
        data.load_nsynth(tmp_path)


def test_fixture_csv_round_trip_matches_the_real_format():
    raw = fixture_table("valid", 2).to_csv()
    assert raw.splitlines()[0] == "," + ",".join(TUTORIAL_COLUMNS)
    assert list(pd.read_csv(io.StringIO(raw), index_col=0).columns) == TUTORIAL_COLUMNS
