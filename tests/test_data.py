"""utils.data: tiny builds of the course datasets, their caches, labels, errors and command line."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from utils import data
from utils import features as F
from utils.data import cache, render
from utils.data import gm_notes as gm_module

#: 4 programs (glockenspiel, 9, is a held-out instrument), C's only, 2 velocities: 32 notes.
TINY_GM = {"programs": (0, 40, 56, 9), "pitch_step": 12, "velocities": (40, 120)}
TINY_CHORALES = {"pieces": ("bach/bwv269", "bach/bwv347"), "versions": 3}


#: The repository checkout (the working directory of the subprocesses below).
ROOT = Path(__file__).resolve().parents[1]

QUIET = {"progress": False, "workers": 1}


def gm(cache_dir, **overrides):
    return data.load_gm_notes(cache_dir, **{**QUIET, **TINY_GM, **overrides})


def chorales(cache_dir, **overrides):
    return data.load_chorales(cache_dir, **{**QUIET, **TINY_CHORALES, **overrides})


@pytest.fixture(scope="module")
def gm_notes(tmp_path_factory):
    return gm(tmp_path_factory.mktemp("gm"))


@pytest.fixture(scope="module")
def chorale_set(tmp_path_factory):
    return chorales(tmp_path_factory.mktemp("chorales"))


# ---------------------------------------------------------------------------------------------
# GM notes


def test_gm_notes_arrays_and_labels(gm_notes):
    meta = gm_notes.meta
    assert gm_notes.audio.dtype == np.float32 and gm_notes.sample_rate == 16000
    assert gm_notes.audio.shape == (len(meta), 20480)
    assert isinstance(meta.index, pd.RangeIndex)
    expected = [(p, q, v) for p in TINY_GM["programs"] for q in gm_module._gm_pitches(p, 12)
                for v in TINY_GM["velocities"]]
    assert list(zip(meta.program, meta.pitch, meta.velocity, strict=True)) == expected
    assert (meta.family == meta.program.map(data.GM_FAMILY_OF)).all()
    assert meta.instrument[meta.program == 40].unique().tolist() == ["Violin"]
    assert (meta.dynamics == np.where(meta.velocity < 64, "soft", "loud")).all()
    assert set(meta.register[meta.pitch == 36]) == {"low"} and set(meta.register[meta.pitch == 84]) == {"high"}
    # Every clip sounds, and velocity is heard as loudness (no per-clip normalisation).
    peaks = np.abs(gm_notes.audio).max(axis=1)
    assert peaks.min() > 100 * data.SILENCE and peaks.max() < 1
    loud, soft = peaks[meta.velocity == 120], peaks[meta.velocity == 40]
    assert (loud > 2 * soft).all()


def test_gm_groups_and_splits(gm_notes):
    meta = gm_notes.meta
    pairs = meta.groupby("group")[["program", "pitch"]].nunique()
    assert (pairs == 1).all().all() and meta.group.nunique() == len(meta) // 2
    test_programs = set(meta.program[meta.split == "test"])
    assert test_programs == {9} and test_programs <= set(data.GM_HELD_OUT)
    assert not test_programs & set(meta.program[meta.split != "test"])
    # A (program, pitch) group never straddles train and validation.
    assert (meta.groupby("group").split.nunique() == 1).all()
    assert (meta.groupby("pitch").pitch_split.nunique() == 1).all()
    assert set(meta.pitch_split) == {"train", "test"}


def test_gm_validation_instruments_are_class_disjoint():
    # One validation and one test instrument per family, never seen in training: choices made on
    # validation never peek at the test instruments, nor at classes the model learned from.
    notes = [(program, pitch, 100) for program in data.GM_RANGE for pitch in (60, 63)]
    meta = gm_module._gm_meta(notes, data.GMNotesParams())
    programs = {name: set(meta.program[meta.split == name]) for name in ("train", "valid", "test")}
    assert programs["test"] == set(data.GM_HELD_OUT) and programs["valid"] == set(data.GM_VALIDATION)
    assert len(programs["train"]) == 36 and not programs["train"] & (programs["valid"] | programs["test"])
    for family in data.GM_FAMILIES:
        in_family = meta[meta.family == family]
        assert in_family.groupby("split").program.nunique().to_dict() == {"test": 1, "train": 3, "valid": 1}
    # Closed-set classification of the training instruments has its own held-out notes.
    assert set(meta.seen_split[meta.split == "train"]) == {"train", "valid"}
    assert set(meta.seen_split[meta.split != "train"]) == {"none"}
    assert (meta.groupby("group").seen_split.nunique() == 1).all()


def test_gm_build_is_deterministic_and_independent_of_workers(gm_notes, tmp_path, monkeypatch):
    monkeypatch.setattr(gm_module, "_GM_CHUNK", 1)  # one task per program, in two spawned processes
    again = gm(tmp_path / "two", workers=2)
    np.testing.assert_array_equal(again.audio, gm_notes.audio)
    pd.testing.assert_frame_equal(again.meta, gm_notes.meta)


def test_a_note_does_not_depend_on_the_others(gm_notes, tmp_path):
    alone = gm(tmp_path, programs=(40,), velocities=(120,))
    row = alone.meta.index[alone.meta.pitch == 72][0]
    same = gm_notes.meta.index[(gm_notes.meta.program == 40) & (gm_notes.meta.pitch == 72)
                               & (gm_notes.meta.velocity == 120)][0]
    np.testing.assert_array_equal(alone.audio[row], gm_notes.audio[same])


def test_silent_presets_are_dropped(tmp_path, monkeypatch):
    # The baritone sax (67) has no sample above MIDI 79 in TimGM6mb; only its sounding pitches stay.
    monkeypatch.setitem(data.GM_RANGE, 67, (72, 90))
    monkeypatch.setitem(data.GM_FAMILY_OF, 67, "reed")
    notes = gm(tmp_path, programs=(67,), pitch_step=6)
    assert notes.meta.pitch.tolist() == [72, 72, 78, 78]
    manifest = json.loads((notes.cache_dir / data.MANIFEST).read_text())
    assert manifest["info"]["silent_program_pitches"] == ["67:84", "67:90"]


# ---------------------------------------------------------------------------------------------
# Cache


def test_cache_hit_is_fast_and_identical(gm_notes, monkeypatch):
    def no_build(*args, **kwargs):
        raise AssertionError("a valid cache was rebuilt")

    monkeypatch.setattr(cache, "_build_into_cache", no_build)
    start = time.perf_counter()
    loaded = gm(gm_notes.cache_dir.parent)
    assert time.perf_counter() - start < 1.0
    np.testing.assert_array_equal(loaded.audio, gm_notes.audio)
    pd.testing.assert_frame_equal(loaded.meta, gm_notes.meta)


def _truncate(directory):
    path = directory / "audio.npy"
    path.write_bytes(path.read_bytes()[:-1000])


def _flip_bytes(directory):
    path = directory / "audio.npy"
    raw = bytearray(path.read_bytes())
    raw[5000:5004] = bytes(255 - b for b in raw[5000:5004])
    path.write_bytes(bytes(raw))


def _edit_manifest(key, value):
    def edit(directory):
        manifest = json.loads((directory / data.MANIFEST).read_text())
        manifest[key] = value if key != "params" else {**manifest["params"], "pitch_step": 7}
        (directory / data.MANIFEST).write_text(json.dumps(manifest))
    return edit


def _corrupt_meta(directory):
    path = directory / "meta.csv"
    path.write_text(path.read_text().replace("Violin", "Vi0lin"))  # same size


def _delete_manifest(directory):
    (directory / data.MANIFEST).unlink()


@pytest.mark.parametrize("damage, reason", [
    (_truncate, "truncated"),
    (_flip_bytes, "corrupted"),
    (_corrupt_meta, "corrupted"),
    (_edit_manifest("format_version", 0), "format version"),
    (_edit_manifest("params", None), "parameters differ"),
    (_edit_manifest("files", None), "sizes and checksums"),
    (_delete_manifest, "manifest is missing"),
])
def test_damaged_cache_is_rebuilt_with_a_message(gm_notes, tmp_path, damage, reason):
    built = gm(tmp_path)
    damage(built.cache_dir)
    with pytest.warns(data.StaleCacheWarning, match=reason):
        rebuilt = gm(tmp_path)
    np.testing.assert_array_equal(rebuilt.audio, gm_notes.audio)
    pd.testing.assert_frame_equal(rebuilt.meta, gm_notes.meta)
    assert not list(tmp_path.glob(".*")), "temporary directories were left behind"


def test_features_are_cached_and_checked(tmp_path):
    notes = gm(tmp_path, programs=(0,))
    logmel = notes.features("logmel")
    with threadpool_limits(1):  # as the cache computes them
        np.testing.assert_array_equal(logmel, F.logmel(notes.audio))
    assert logmel.shape == (len(notes), F.N_MELS, 41) and logmel.dtype == np.float32
    stats = notes.features("mfcc_stats")
    np.testing.assert_allclose(stats, F.mfcc_stats(notes.audio), rtol=1e-5, atol=1e-4)
    assert notes.feature_names("mfcc_stats") == F.mfcc_stats_names()
    path = notes.cache_dir / "features" / "logmel.npy"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.warns(data.StaleCacheWarning, match="logmel"):
        np.testing.assert_array_equal(notes.features("logmel"), logmel)
    assert gm(tmp_path, programs=(0,)).features("logmel").flags.writeable


def test_features_are_computed_on_one_thread_whatever_the_caller_allows(tmp_path, monkeypatch):
    """BLAS threads change the last bits of a feature (and every fit downstream): a cache built by
    `make data` (all cores) must hold what a notebook's kernel (one thread) would have computed."""
    seen = []
    original = F.tutorial_features
    monkeypatch.setattr(F, "tutorial_features", lambda audio: seen.append(threadpool_info()) or original(audio))
    with threadpool_limits(2):
        gm(tmp_path, programs=(0,)).tutorial_table()
    assert seen and all(pool["num_threads"] == 1 for pools in seen for pool in pools)


def test_tutorial_table_has_the_original_layout(gm_notes):
    table = gm_notes.tutorial_table()
    assert list(table.columns) == F.TUTORIAL_COLUMNS and len(table) == len(gm_notes)
    assert table.index[0] == "train/keyboard_000-036-040.wav"
    assert set(table.instrument) == set(gm_notes.meta.family)
    assert len(gm_notes.tutorial_table("test")) == (gm_notes.meta.split == "test").sum()


# ---------------------------------------------------------------------------------------------
# Chorales


def test_chorale_arrays(chorale_set):
    n = len(chorale_set.meta)
    assert n == 2 * 3  # two pieces, one excerpt each, three versions
    assert chorale_set.audio.shape == (n, 64000) and chorale_set.stems.shape == (n, 4, 64000)
    assert chorale_set.piano_roll.shape == (n, 128, F.n_frames(64000))
    assert chorale_set.voice_rolls.shape == (n, 4, 128, F.n_frames(64000))
    # The mixture is exactly the sum of the stems.
    np.testing.assert_array_equal(chorale_set.audio, chorale_set.stems.sum(axis=1))
    assert np.abs(chorale_set.audio).max() < 1


def test_chorale_labels(chorale_set):
    meta = chorale_set.meta
    assert set(meta.piece) == {"bwv269", "bwv347"}
    assert (meta.groupby("excerpt").piece.nunique() == 1).all()
    assert (meta.groupby("excerpt").ensemble.nunique() == 3).all()  # versions differ
    assert (meta.groupby("piece").split.nunique() == 1).all()
    names = data.PITCH_NAMES
    shifted = [names[(names.index(k) + t) % 12] for k, t in zip(meta.original_key, meta["transpose"], strict=True)]
    assert meta.key.tolist() == shifted
    assert set(meta["mode"]) <= {"major", "minor"}
    low, high = data.ChoralesParams().tempo_range
    assert meta.tempo.between(low, high).all()


def test_chorale_rolls_follow_the_transposition(chorale_set):
    meta, rolls = chorale_set.meta, chorale_set.piano_roll
    for _, rows in meta.groupby("excerpt"):
        pitch_sets = [set(np.flatnonzero(rolls[i].any(axis=1)) - t)
                      for i, t in zip(rows.index, rows["transpose"], strict=True)]
        assert all(s == pitch_sets[0] for s in pitch_sets)


def test_chorale_rolls_are_aligned_with_the_audio(chorale_set):
    # Where a voice's roll is on, its stem sounds; after the last note ends, it soon falls silent.
    stems = chorale_set.stems
    frames = F.n_frames(stems.shape[-1])
    padded = np.pad(stems, [(0, 0), (0, 0), (F.HOP_LENGTH // 2, F.HOP_LENGTH)])
    energy = np.stack([np.abs(padded[..., t * F.HOP_LENGTH: t * F.HOP_LENGTH + F.HOP_LENGTH]).max(-1)
                       for t in range(frames)], axis=-1)
    active = chorale_set.voice_rolls.any(axis=2)
    assert (energy[active] > 1e-3).all()
    first_silent = active.shape[-1] - np.argmax(active[..., ::-1], axis=-1)
    assert (first_silent < frames).all()
    onset = np.argmax(active, axis=-1)
    assert (onset == 0).all()  # every voice sounds from the excerpt's first beat


def test_chorale_build_is_deterministic(chorale_set, tmp_path):
    again = chorales(tmp_path)
    np.testing.assert_array_equal(again.stems, chorale_set.stems)
    np.testing.assert_array_equal(again.voice_rolls, chorale_set.voice_rolls)
    pd.testing.assert_frame_equal(again.meta, chorale_set.meta)


def test_chorale_stem_features(chorale_set):
    logmel = chorale_set.features("logmel", source="stems")
    assert logmel.shape == (len(chorale_set), 4, F.N_MELS, F.n_frames(64000))
    np.testing.assert_allclose(logmel[1, 2], F.logmel(chorale_set.stems[1, 2][None])[0], atol=1e-4)
    with pytest.raises(ValueError, match="unknown source 'voices'"):
        chorale_set.features("logmel", source="voices")


def test_precompute_caches_what_the_notebooks_read(tmp_path):
    chorale_set = chorales(tmp_path, pieces=TINY_CHORALES["pieces"][:1], versions=1)
    chorale_set.precompute(["logmel"])
    cached = {path.name for path in (chorale_set.cache_dir / "features").glob("*.npy")}
    assert cached == {"logmel.npy", "logmel-stems.npy"}


def test_gm_notes_have_no_stems(gm_notes):
    with pytest.raises(ValueError, match="unknown source 'stems' for gm_notes"):
        gm_notes.features("logmel", source="stems")


# ---------------------------------------------------------------------------------------------
# Bad input


def test_unknown_names_and_parameters(tmp_path):
    with pytest.raises(TypeError, match="unknown parameter.*n_notes"):
        data.load_gm_notes(tmp_path, n_notes=3)
    with pytest.raises(ValueError, match="programs"):
        data.load_gm_notes(tmp_path, programs=(3,))
    with pytest.raises(ValueError, match="velocities"):
        data.load_gm_notes(tmp_path, velocities=(0, 200))
    with pytest.raises(ValueError, match="unknown dataset 'nsynth'"):
        data.load("nsynth", tmp_path)
    with pytest.raises(ValueError, match="unknown chorale"):
        data.load_chorales(tmp_path, pieces=("bach/bwv0",))
    with pytest.raises(ValueError, match="longer than clip_seconds"):
        data.load_chorales(tmp_path, tempo_range=(40, 60))


def test_unknown_feature_kind(gm_notes):
    with pytest.raises(ValueError, match="unknown feature kind 'mfcc'"):
        gm_notes.features("mfcc")
    with pytest.raises(ValueError, match="not tabular"):
        gm_notes.feature_names("logmel")


def test_bad_soundfonts(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.load_gm_notes(tmp_path, soundfont=tmp_path / "missing.sf2")
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt ")
    with pytest.raises(ValueError, match="not a SoundFont"):
        data.load_gm_notes(tmp_path, soundfont=fake)


def test_named_soundfonts(monkeypatch, tmp_path):
    monkeypatch.setitem(render.SOUNDFONTS, "Elsewhere", (str(tmp_path / "gone.sf2"), "some-package"))
    assert "Elsewhere" not in data.available_soundfonts()
    with pytest.raises(FileNotFoundError, match="Elsewhere is not installed.*apt-get install some-package"):
        data.check_soundfont("Elsewhere")
    for name in data.available_soundfonts():  # those make install put here: SoundFont 2 or 3 files
        assert data.check_soundfont(name) == Path(render.SOUNDFONTS[name][0]).resolve()


@pytest.mark.skipif("FluidR3_GM" not in data.available_soundfonts(), reason="apt-get install fluid-soundfont-gm")
def test_another_named_soundfont_renders_other_recordings(gm_notes, tmp_path):
    other = gm(tmp_path, soundfont="FluidR3_GM")
    assert other.meta.equals(gm_notes.meta) and other.cache_dir != gm_notes.cache_dir
    assert not np.allclose(other.audio, gm_notes.audio, atol=1e-2)


def test_another_soundfont_is_a_different_dataset(gm_notes, tmp_path):
    copy = tmp_path / "copy.sf2"
    copy.write_bytes(data.default_soundfont().read_bytes())
    same_font = gm(gm_notes.cache_dir.parent, soundfont=str(copy))
    assert same_font.cache_dir == gm_notes.cache_dir  # identified by content, not by path


def test_unwritable_cache_directory(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(PermissionError, match="not writable.*Build it elsewhere.*ML4MIR_DATA"):
        gm(blocker / "cache")


READ_ONLY_LOAD = """
import json, sys, warnings
import numpy as np
from utils import data
cache, tiny = sys.argv[1], json.loads(sys.argv[2])
quiet = {"progress": False, "workers": 1}
notes = data.load_gm_notes(cache, **quiet, **tiny)
logmel = notes.features("logmel")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    notes.features("chroma")
assert [w.category for w in caught] == [data.ReadOnlyCacheWarning], [str(w.message) for w in caught]
try:
    data.load_gm_notes(cache, **quiet, **{**tiny, "velocities": [40]})
except PermissionError as error:
    assert "Build it elsewhere" in str(error), error
else:
    raise AssertionError("building into a read-only cache did not raise")
print(len(notes), float(np.abs(logmel).sum()))
"""


def _last_line(stdout: str) -> str:
    """The script's own result, its last line (a library may print before it)."""
    return stdout.strip().splitlines()[-1]


def _read_only_command(directory, script, *arguments):
    """Run ``script`` with ``directory`` truly read-only: a read-only bind mount (root, who ignores
    permission bits) or ``chmod a-w`` (anyone else); ``None`` where neither is possible."""
    import shutil

    python = [sys.executable, "-c", script, *arguments]
    if os.geteuid() != 0:
        subprocess.run(["chmod", "-R", "a-w", str(directory)], check=True)
        return python
    if shutil.which("unshare") is None:
        return None
    probe = subprocess.run(["unshare", "-m", "mount", "--bind", "-o", "ro", str(directory), str(directory)],
                           capture_output=True)
    if probe.returncode != 0:
        return None
    import shlex

    return ["unshare", "-m", "sh", "-c", f"mount --bind -o ro {shlex.quote(str(directory))} "
            f"{shlex.quote(str(directory))} && exec {shlex.join(python)}"]


def test_a_complete_cache_loads_from_a_read_only_path(tmp_path):
    cache = tmp_path / "cache"
    notes = gm(cache)
    expected = f"{len(notes)} {float(np.abs(notes.features('logmel')).sum())}"
    before = sorted(str(path) for path in cache.rglob("*"))
    command = _read_only_command(cache, READ_ONLY_LOAD, str(cache), json.dumps(TINY_GM))
    if command is None:
        pytest.skip("cannot make a directory read-only here (root without mount namespaces)")
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                                cwd=str(ROOT))
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(cache)], check=True)
    assert result.returncode == 0, result.stderr
    assert _last_line(result.stdout).split() == expected.split()
    assert sorted(str(path) for path in cache.rglob("*")) == before  # nothing written


CONCURRENT_LOAD = """
import json, sys
import numpy as np
from utils import data
notes = data.load_gm_notes(sys.argv[1], progress=False, workers=1, **json.loads(sys.argv[2]))
print(len(notes), int(np.abs(notes.audio).sum() * 1000), float(np.abs(notes.features("logmel")).sum()))
"""


def test_two_processes_building_and_loading_one_cache_agree(tmp_path, gm_notes):
    cache = tmp_path / "cache"
    command = [sys.executable, "-c", CONCURRENT_LOAD, str(cache), json.dumps(TINY_GM)]
    cwd = str(ROOT)
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
            for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err for _, err in outputs]
    builds = sum(err.count("Building gm_notes") for _, err in outputs)
    assert builds == 1, "the process that waited for the other's build should load it, not rebuild"
    lines = [_last_line(stdout) for stdout, _ in outputs]
    assert lines[0] == lines[1]
    assert lines[0].split()[:2] == [str(len(gm_notes)), str(int(np.abs(gm_notes.audio).sum() * 1000))]
    assert [path.name for path in cache.iterdir() if path.name.startswith(".")] == []  # no staging left
    reloaded = gm(cache)
    np.testing.assert_array_equal(reloaded.audio, gm_notes.audio)


def test_missing_fluidsynth_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "fluidsynth", None)
    with pytest.raises(ImportError) as error:
        render.import_fluidsynth()
    for hint in ("apt-get install", "brew install fluid-synth", "conda install", "Colab"):
        assert hint in str(error.value)


def test_cache_root_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path))
    assert data.default_cache_root() == tmp_path
    monkeypatch.delenv(data.CACHE_ENV)
    assert data.default_cache_root().parts[-2:] == ("data", "cache")


# ---------------------------------------------------------------------------------------------
# Command line


def test_cli_help():
    done = subprocess.run([sys.executable, "-m", "utils.data", "build", "--help"],
                          capture_output=True, text=True, check=True)
    assert "--cache-dir" in done.stdout and "gm_notes" in done.stdout


def test_cli_builds_into_the_cache_dir(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(data.DATASETS, "gm_notes", functools.partial(data.load_gm_notes, **TINY_GM))
    assert data.main(["build", "gm_notes", "--cache-dir", str(tmp_path), "--features", "logmel"]) == 0
    assert "gm_notes: 32 clips" in capsys.readouterr().out
    (directory,) = tmp_path.glob("gm_notes-*")
    assert {path.name for path in (directory / "features").glob("*.npy")} == {"logmel.npy", "tutorial.npy"}
    with pytest.raises(SystemExit):
        data.main(["build", "nsynth"])


def test_the_synthesiser_imports_quietly_even_where_ci_is_set():
    """pyfluidsynth (imported by pretty_midi too) prints where it found its library when ``CI`` is set;
    that line must not reach the notebooks' outputs (or the slides that show what a cell printed)."""
    script = "from utils.data import render; render.default_soundfont(); render.import_fluidsynth()"
    environment = {**os.environ, "CI": "1"}
    result = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True,
                            check=True)
    assert result.stdout == "", result.stdout
