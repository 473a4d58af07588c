"""The course datasets: built offline from installed packages, cached, deterministic.

Two datasets, both rendered with FluidSynth from the General MIDI SoundFont that ships inside
``pretty_midi`` (TimGM6mb.sf2):

- :func:`load_gm_notes`: an NSynth-like set of single notes (60 GM programs in 12 families, pitches
  in each instrument's range, 4 velocities), with held-out instruments and a split by pitch.
- :func:`load_chorales`: Bach chorale excerpts from the ``music21`` corpus, each rendered in several
  versions (ensemble of GM programs, tempo, transposition), with per-voice stems and piano rolls
  aligned with the audio frames.

Each dataset is built on first use into ``<cache root>/<name>-<parameter digest>/`` and loaded
from there afterwards. The cache root is ``cache_dir``, else the environment variable
``ML4MIR_DATA``, else ``data/cache`` in the repository (``~/.cache/ml4mir`` outside a checkout).
A cache is written atomically (a temporary directory renamed into place) with a manifest (format
version, parameters, size and SHA-256 of every file); a truncated, corrupted or stale cache is
reported and rebuilt, never used. Features (:meth:`Dataset.features`) are cached the same way.

Command line: ``python -m utils.data build [NAME ...] [--cache-dir DIR]``.

Rendering notes (see FIELD-NOTES.md): reverb and chorus are off; audio is written as float (no
dither) and stored as 16-bit PCM with one fixed gain per dataset (no per-clip normalisation, so
velocity is heard as loudness). A synthesizer is created afresh for every program (GM notes) or
piece (chorales), so each clip depends only on the build parameters, never on the worker count.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import io
import json
import os
import shutil
import sys
import time
import uuid
import warnings
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from utils import features as F
from utils.features import HOP_LENGTH, SAMPLE_RATE, Standardizer, standardize
from utils.nsynth import download_tutorial_tables, load_nsynth, load_tutorial_tables

__all__ = [
    "DATASETS", "Chorales", "Dataset", "GMNotes", "StaleCacheWarning", "chorale_names",
    "default_cache_root", "download_tutorial_tables", "load", "load_chorales", "load_gm_notes",
    "load_nsynth", "load_tutorial_tables", "main", "Standardizer", "standardize",
]

#: Version of the cache layout and of the rendering recipe; a change makes old caches stale.
FORMAT_VERSION = 5
#: Version of the feature recipes in :mod:`utils.features`; a change makes cached features stale.
FEATURE_VERSION = 2
#: Environment variable that sets the cache root.
CACHE_ENV = "ML4MIR_DATA"
MANIFEST = "manifest.json"
#: FluidSynth renders in blocks of this many samples; events fall on block boundaries.
BLOCK = 64
#: A rendered note whose peak stays below this (float full scale 1.0) is silence.
SILENCE = 1e-4


class StaleCacheWarning(UserWarning):
    """A cache was found truncated, corrupted or stale, and is being rebuilt."""


class ReadOnlyCacheWarning(UserWarning):
    """A feature was computed but could not be stored: the cache is on a read-only path."""


class CacheError(Exception):
    """A cached file does not match its manifest."""


# --------------------------------------------------------------------------------------------
# Paths and SoundFonts


def default_cache_root() -> Path:
    """``$ML4MIR_DATA`` if set, else ``data/cache`` in the repository checkout, else
    ``~/.cache/ml4mir``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    repository = Path(__file__).resolve().parents[1]
    if (repository / "pyproject.toml").exists() and (repository / "data").is_dir():
        return repository / "data" / "cache"
    return Path.home() / ".cache" / "ml4mir"


def _cache_root(cache_dir: str | os.PathLike | None) -> Path:
    return Path(cache_dir).expanduser() if cache_dir is not None else default_cache_root()


def _writable_root(cache_dir: str | os.PathLike | None) -> Path:
    """The cache root, checked writable: only building needs that (a complete cache loads from a
    read-only path)."""
    root = _cache_root(cache_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".write-test-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise PermissionError(
            f"The cache directory {root} is not writable ({error.strerror or error}), and the "
            f"dataset must be built there (missing, stale or incomplete). Build it elsewhere: pass "
            f"cache_dir= (or --cache-dir) a writable directory, or set the environment variable "
            f"{CACHE_ENV}."
        ) from error
    return root


def default_soundfont() -> Path:
    """The General MIDI SoundFont shipped with pretty_midi (TimGM6mb.sf2, GPL-2, Tim Brechbill)."""
    import pretty_midi

    return Path(pretty_midi.__file__).resolve().parent / "TimGM6mb.sf2"


def check_soundfont(path: str | os.PathLike | None) -> Path:
    """Resolve a SoundFont path (``None``: the default) and check that it is a SoundFont 2 file."""
    resolved = default_soundfont() if path is None else Path(path).expanduser().resolve()
    if not resolved.is_file():
        raise FileNotFoundError(
            f"SoundFont {resolved} does not exist. Pass the path of a .sf2 file, e.g. Debian's "
            "/usr/share/sounds/sf2/FluidR3_GM.sf2 (apt-get install fluid-soundfont-gm), or "
            "soundfont=None for the default TimGM6mb."
        )
    with open(resolved, "rb") as handle:
        header = handle.read(12)
    if header[:4] != b"RIFF" or header[8:12] != b"sfbk":
        raise ValueError(f"{resolved} is not a SoundFont 2 file (no RIFF 'sfbk' header).")
    return resolved


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# FluidSynth rendering

FLUIDSYNTH_HELP = """\
FluidSynth is needed to render the course datasets, but it could not be loaded ({error}).
Install the FluidSynth library and its Python binding (pyfluidsynth):
  Debian/Ubuntu:  sudo apt-get install -y fluidsynth        (provides libfluidsynth3)
  Google Colab:   !apt-get install -y fluidsynth            (the notebooks' setup cell does this)
  macOS:          brew install fluid-synth
  conda:          conda install -c conda-forge fluidsynth pyfluidsynth
then, outside conda:  pip install pyfluidsynth"""


def import_fluidsynth():
    """Import pyfluidsynth, or raise ImportError saying how to install FluidSynth."""
    try:
        import fluidsynth
    except (ImportError, OSError) as error:
        raise ImportError(FLUIDSYNTH_HELP.format(error=error)) from error
    return fluidsynth


class Renderer:
    """A FluidSynth synthesizer for offline rendering: reverb and chorus off, float output, mono.

    Parameters
    ----------
    soundfont : path of a checked SoundFont.
    gain : FluidSynth master gain (the fixed gain of a dataset).
    """

    def __init__(self, soundfont: Path, gain: float):
        import ctypes

        fluidsynth = import_fluidsynth()
        self._synth = fluidsynth.Synth(
            gain=gain, samplerate=SAMPLE_RATE,
            **{"synth.reverb.active": 0, "synth.chorus.active": 0},
        )
        self._sfid = self._synth.sfload(str(soundfont))
        if self._sfid < 0:
            raise ValueError(f"FluidSynth could not load the SoundFont {soundfont}")
        self._write = fluidsynth._fl.fluid_synth_write_float
        self._write.argtypes = [ctypes.c_void_p, ctypes.c_int] + [ctypes.c_void_p, ctypes.c_int,
                                                                   ctypes.c_int] * 2
        self._write.restype = ctypes.c_int
        # The first note after creation differs in its first block: render one and discard it.
        self.render(0, [(0, True, 60, 100), (BLOCK * 4, False, 60, 0)], BLOCK * 8)

    def _samples(self, n: int) -> np.ndarray:
        stereo = np.empty((n, 2), dtype=np.float32)
        pointer = stereo.ctypes.data
        self._write(self._synth.synth, n, pointer, 0, 2, pointer, 1, 2)
        return stereo.mean(axis=1)

    def render(self, program: int, events: Sequence[tuple[int, bool, int, int]],
               n_samples: int) -> np.ndarray:
        """Render one GM program playing ``events``, then silence every voice.

        Parameters
        ----------
        program : GM program 0..127 (bank 0).
        events : (sample, is_note_on, pitch, velocity) sorted by sample, samples multiples of
            :data:`BLOCK` (note-offs before note-ons at the same sample).
        n_samples : length of the output (multiple of :data:`BLOCK`).

        Returns
        -------
        (n_samples,) float32 mono audio (mean of the two channels).
        """
        synth = self._synth
        synth.program_select(0, self._sfid, 0, program)
        out = np.empty(n_samples, dtype=np.float32)
        position = 0
        for sample, is_on, pitch, velocity in events:
            if sample > position:
                out[position:sample] = self._samples(sample - position)
                position = sample
            if is_on:
                synth.noteon(0, pitch, velocity)
            else:
                synth.noteoff(0, pitch)
        out[position:] = self._samples(n_samples - position)
        synth.all_sounds_off(-1)
        self._samples(BLOCK)
        return out

    def note(self, program: int, pitch: int, velocity: int, on_samples: int,
             n_samples: int, primer_samples: int = 32 * BLOCK) -> np.ndarray:
        """One note held for ``on_samples`` then released, ``n_samples`` long.

        A short primer of the same note first sets the synthesizer's voice state, so that the
        result does not depend on what was rendered before (checked bitwise on all 128 programs).
        """
        self.render(program, [(0, True, pitch, velocity)], primer_samples)
        return self.render(
            program, [(0, True, pitch, velocity), (on_samples, False, pitch, 0)], n_samples
        )

    def sounds(self, program: int, pitch: int) -> bool:
        """Whether ``program`` has a sample at ``pitch`` (a 48 ms probe at velocity 100)."""
        probe = self.render(program, [(0, True, pitch, 100)], 12 * BLOCK)
        return bool(np.abs(probe).max() > SILENCE)

    def close(self) -> None:
        self._synth.delete()


def _to_pcm(audio: np.ndarray, what: str) -> np.ndarray:
    """Float audio in [-1, 1) to 16-bit PCM; raises if the fixed gain made it clip."""
    peak = float(np.abs(audio).max(initial=0.0))
    if peak >= 1.0:
        raise RuntimeError(f"{what} clips (peak {peak:.3f}); lower the dataset's fixed gain")
    return np.round(audio * 32768.0).astype(np.int16)


def _from_pcm(pcm: np.ndarray) -> np.ndarray:
    audio = pcm.astype(np.float32)
    audio *= np.float32(1.0 / 32768.0)
    return audio


def _map(function: Callable, tasks: list, workers: int, progress: bool, desc: str) -> list:
    """``[function(t) for t in tasks]`` in ``workers`` spawned processes, with a progress bar.

    Spawn, not fork: a forked child of a process that has created a FluidSynth synth deadlocks.
    """
    from tqdm.auto import tqdm

    bar = functools.partial(tqdm, total=len(tasks), desc=desc, disable=not progress, leave=True)
    if workers <= 1 or len(tasks) <= 1:
        return [function(task) for task in bar(tasks)]
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(bar(pool.map(function, tasks)))


# --------------------------------------------------------------------------------------------
# The cache: manifest, atomic writes, verified loads


def _digest(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]


def _write_array(directory: Path, name: str, array: np.ndarray) -> None:
    with open(directory / name, "wb") as handle:
        np.save(handle, np.ascontiguousarray(array), allow_pickle=False)


def _checksum(buffer: bytes | bytearray) -> str:
    """CRC-32 of a cache file (fast enough to check on every load; not a security measure)."""
    return f"{zlib.crc32(buffer) & 0xFFFFFFFF:08x}"


def _file_entry(path: Path) -> dict:
    return {"bytes": path.stat().st_size, "crc32": _checksum(path.read_bytes())}


def _read_verified(directory: Path, name: str, entry: dict) -> bytearray:
    """The bytes of a cache file, after checking its size and checksum against ``entry``."""
    path = directory / name
    if not path.is_file():
        raise CacheError(f"{name} is missing")
    size = path.stat().st_size
    if size != entry["bytes"]:
        raise CacheError(f"{name} is truncated or extended ({size} bytes, expected {entry['bytes']})")
    buffer = bytearray(size)
    with open(path, "rb") as handle:
        view, done = memoryview(buffer), 0
        while done < size and (count := handle.readinto(view[done:])):
            done += count
    if done != size or _checksum(buffer) != entry["crc32"]:
        raise CacheError(f"{name} is corrupted (checksum mismatch)")
    return buffer


def _array_from_buffer(buffer: bytearray) -> np.ndarray:
    """The array of an ``.npy`` file's bytes, without copying them."""
    fmt = np.lib.format
    stream = io.BytesIO(bytes(memoryview(buffer)[:1 << 16]))
    try:
        version = fmt.read_magic(stream)
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran_order, dtype = read_header(stream)
        count = int(np.prod(shape))
        array = np.frombuffer(buffer, dtype=dtype, count=count, offset=stream.tell())
    except ValueError as error:
        raise CacheError(f"not a valid .npy file ({error})") from error
    return array.reshape(shape, order="F" if fortran_order else "C")


def _read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST
    if not path.is_file():
        raise CacheError("the manifest is missing")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CacheError(f"the manifest is unreadable ({error})") from error


def _check_manifest(manifest: dict, name: str, params: dict) -> None:
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CacheError(
            f"it has format version {manifest.get('format_version')}, this code writes {FORMAT_VERSION}"
        )
    if manifest.get("dataset") != name or manifest.get("params") != params:
        raise CacheError("its parameters differ from the requested ones")
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(entry, dict) and {"bytes", "crc32"} <= set(entry) for entry in files.values()
    ):
        raise CacheError("its manifest does not list its files' sizes and checksums")


def _publish(staging: Path, target: Path) -> None:
    """Move a fully written ``staging`` directory to ``target``, replacing any old one."""
    trash = target.with_name(f".trash-{target.name}-{uuid.uuid4().hex}")
    if target.exists():
        os.replace(target, trash)
    os.replace(staging, target)
    shutil.rmtree(trash, ignore_errors=True)


def _build_into_cache(name: str, params: dict, directory: Path,
                      write_files: Callable[[Path], dict]) -> None:
    """Run ``write_files(staging)`` (returns extra manifest info), add the manifest, publish."""
    staging = directory.with_name(f".building-{directory.name}-{uuid.uuid4().hex}")
    staging.mkdir(parents=True)
    try:
        info = write_files(staging)
        files = {path.name: _file_entry(path) for path in sorted(staging.iterdir())}
        manifest = {"format_version": FORMAT_VERSION, "dataset": name, "params": params,
                    "files": files, "info": info}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        _publish(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _load_or_build(name: str, params: dict, cache_dir: str | os.PathLike | None, rebuild: bool,
                   write_files: Callable[[Path], dict],
                   read_files: Callable[[Path, dict], Any]) -> Any:
    """Load a verified cache of ``name`` built with ``params``, building it first if needed
    (loading writes nothing: a complete cache on a read-only path loads)."""
    directory = _cache_root(cache_dir) / f"{name}-{_digest(params)}"
    if not rebuild and directory.exists():
        try:
            manifest = _read_manifest(directory)
            _check_manifest(manifest, name, params)
            return read_files(directory, manifest)
        except (CacheError, KeyError) as problem:
            reason = f"its manifest lacks {problem}" if isinstance(problem, KeyError) else problem
            warnings.warn(
                f"The cached {name} in {directory} cannot be used: {reason}. Rebuilding it.",
                StaleCacheWarning, stacklevel=3,
            )
    _writable_root(cache_dir)
    start = time.perf_counter()
    print(f"Building {name} into {directory} (once; later loads read the cache)...", file=sys.stderr)
    _build_into_cache(name, params, directory, write_files)
    print(f"Built {name} in {time.perf_counter() - start:.1f} s.", file=sys.stderr)
    return read_files(directory, _read_manifest(directory))


# --------------------------------------------------------------------------------------------
# Datasets


def _restore_dtypes(meta: pd.DataFrame, dtypes: dict[str, str]) -> pd.DataFrame:
    for column, dtype in dtypes.items():
        if dtype.startswith(("int", "float", "bool")):
            meta[column] = meta[column].astype(dtype)
        else:
            meta[column] = meta[column].astype(str)
    return meta


def _write_meta(directory: Path, meta: pd.DataFrame) -> dict[str, str]:
    meta.to_csv(directory / "meta.csv", index=False)
    return {column: str(dtype) for column, dtype in meta.dtypes.items()}


def _read_meta(directory: Path, manifest: dict) -> pd.DataFrame:
    data = _read_verified(directory, "meta.csv", manifest["files"]["meta.csv"])
    meta = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    return _restore_dtypes(meta, manifest["info"]["meta_dtypes"])


#: Feature kinds and the function computing each from a (n, samples) batch.
FEATURE_KINDS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "logmel": F.logmel,
    "mfcc_stats": F.mfcc_stats,
    "chroma": F.chroma,
    "cqt": F.cqt,
}
_FEATURE_PARAMS = {
    "feature_version": FEATURE_VERSION, "sample_rate": SAMPLE_RATE, "n_fft": F.N_FFT,
    "hop_length": HOP_LENGTH, "n_mels": F.N_MELS, "n_mfcc": F.N_MFCC, "top_db": F.TOP_DB,
    "cqt_bins": F.CQT_BINS, "cqt_fmin": F.CQT_FMIN,
}
#: Clips per batch when computing features (bounds memory).
_FEATURE_BATCH = 256


@dataclass(repr=False)
class Dataset:
    """A rendered course dataset.

    Attributes
    ----------
    name : registry name ("gm_notes" or "chorales").
    audio : (n, samples) float32 clips in [-1, 1), fixed length, one fixed gain per dataset.
    sample_rate : Hz (16000).
    meta : one row per clip (RangeIndex aligned with ``audio``): labels and splits.
    cache_dir : the dataset's own cache directory.
    params : the build parameters.
    """

    name: str
    audio: np.ndarray
    sample_rate: int
    meta: pd.DataFrame
    cache_dir: Path
    params: dict
    _audio_checksum: str = field(default="", repr=False)

    def __len__(self) -> int:
        return len(self.audio)

    def __repr__(self) -> str:
        seconds = self.audio.shape[1] / self.sample_rate
        return (f"{type(self).__name__}({len(self)} clips of {seconds:.2f} s at {self.sample_rate} Hz, "
                f"meta columns {list(self.meta.columns)}, cache {self.cache_dir})")

    def split(self, name: str, column: str = "split") -> np.ndarray:
        """Row indices of the clips whose ``column`` equals ``name`` (e.g. "train")."""
        if column not in self.meta.columns:
            raise ValueError(f"{self.name} has no meta column {column!r}; columns: {list(self.meta.columns)}")
        values = self.meta[column]
        if name not in set(values):
            raise ValueError(f"no clip has {column} == {name!r}; values: {sorted(set(values))}")
        return np.flatnonzero(values.to_numpy() == name)

    def _feature_sources(self) -> dict[str, Callable[[], np.ndarray]]:
        return {"audio": lambda: self.audio}

    def features(self, kind: str, source: str = "audio") -> np.ndarray:
        """Features of every clip, computed once and cached beside the audio.

        Parameters
        ----------
        kind : "logmel" (n, N_MELS, frames) dB; "mfcc_stats" (n, 80) means and standard deviations
            of 20 MFCCs and their deltas; "chroma" (n, 12, frames); "cqt" (n, 84, frames) dB.
            dB values are relative to 1.0 and floored 80 dB below each clip's own maximum.
        source : "audio" (the clips); chorales also accept "stems" (features get a voice axis
            after the item axis).

        Returns
        -------
        float32 array, first axis aligned with ``meta``.
        """
        if kind not in FEATURE_KINDS:
            raise ValueError(f"unknown feature kind {kind!r}; choose from {sorted(FEATURE_KINDS)}")
        sources = self._feature_sources()
        if source not in sources:
            raise ValueError(f"unknown source {source!r} for {self.name}; choose from {sorted(sources)}")
        key = kind if source == "audio" else f"{kind}-{source}"
        params = dict(_FEATURE_PARAMS, kind=kind, source=source, audio_checksum=self._audio_checksum)
        if kind == "mfcc_stats":
            compute = lambda: _batched(F.mfcc_stats_from_logmel, self.features("logmel", source), kind, 2)
        else:
            compute = lambda: _batched(FEATURE_KINDS[kind], sources[source](), kind)
        return self._cached_feature(key, params, compute)

    def precompute(self, kinds: Sequence[str] = tuple(FEATURE_KINDS)) -> None:
        """Compute and cache the feature ``kinds``, and whatever else the notebooks read."""
        for kind in kinds:
            self.features(kind)

    def feature_names(self, kind: str) -> list[str]:
        """Column names of a tabular feature kind ("mfcc_stats")."""
        if kind != "mfcc_stats":
            raise ValueError(f"{kind!r} is not tabular; feature_names is defined for 'mfcc_stats'")
        return F.mfcc_stats_names()

    def _cached_feature(self, key: str, params: dict, compute: Callable[[], np.ndarray]) -> np.ndarray:
        directory = self.cache_dir / "features"
        try:
            manifest = json.loads((directory / f"{key}.json").read_text())
            if manifest.get("params") != params:
                raise CacheError("it was computed with other parameters or from other audio")
            return _array_from_buffer(_read_verified(directory, f"{key}.npy", manifest["file"]))
        except FileNotFoundError:
            pass
        except (CacheError, json.JSONDecodeError, KeyError) as problem:
            warnings.warn(f"The cached feature {key!r} of {self.name} cannot be used: {problem}. "
                          "Recomputing it.", StaleCacheWarning, stacklevel=3)
        with threadpool_limits(1):  # the same bits whoever computes them (and faster on small blocks)
            values = np.ascontiguousarray(compute(), dtype=np.float32)
        try:
            self._store_feature(directory, key, params, values)
        except OSError as error:
            warnings.warn(f"The feature {key!r} of {self.name} was computed but cannot be cached in "
                          f"{directory} ({error.strerror or error}): it will be computed again next "
                          f"time. Run `python -m utils.data build` where the cache is writable to "
                          f"keep it.", ReadOnlyCacheWarning, stacklevel=3)
        return values

    @staticmethod
    def _store_feature(directory: Path, key: str, params: dict, values: np.ndarray) -> None:
        directory.mkdir(exist_ok=True)
        staging = directory / f".{key}-{uuid.uuid4().hex}.npy"
        try:
            _write_array(directory, staging.name, values)
            entry = _file_entry(staging)
            os.replace(staging, directory / f"{key}.npy")
        finally:
            staging.unlink(missing_ok=True)
        _atomic_write_text(directory / f"{key}.json", json.dumps({"params": params, "file": entry}))


def _atomic_write_text(path: Path, text: str) -> None:
    staging = path.with_name(f".{path.name}-{uuid.uuid4().hex}")
    staging.write_text(text)
    os.replace(staging, path)


def _batched(function: Callable[[np.ndarray], np.ndarray], items: np.ndarray, desc: str,
             item_ndim: int = 1) -> np.ndarray:
    """``function`` of batches of items, each the last ``item_ndim`` axes of ``items`` (leading
    axes, e.g. items and voices, are flattened then restored), with a progress bar."""
    from tqdm.auto import tqdm

    lead = items.shape[:items.ndim - item_ndim]
    flat = items.reshape((-1,) + items.shape[items.ndim - item_ndim:])
    starts = range(0, len(flat), _FEATURE_BATCH)
    parts = [function(flat[s:s + _FEATURE_BATCH]) for s in tqdm(starts, desc=desc, leave=False)]
    values = np.concatenate(parts)
    return values.reshape(lead + values.shape[1:])


# --------------------------------------------------------------------------------------------
# GM notes

#: NSynth-like families: GM programs, natural MIDI range (low, high) of each, and the program
#: held out as an unseen instrument (test split). 12 families x 5 programs.
GM_FAMILIES: dict[str, dict[int, tuple[int, int]]] = {
    "keyboard": {0: (36, 96), 4: (36, 96), 6: (41, 89), 7: (41, 89), 2: (36, 96)},
    "mallet": {8: (60, 96), 11: (53, 89), 12: (45, 96), 13: (65, 96), 9: (67, 100)},
    "organ": {16: (36, 96), 17: (36, 96), 19: (36, 96), 20: (36, 89), 18: (36, 96)},
    "guitar": {24: (40, 84), 25: (40, 84), 27: (40, 84), 29: (40, 84), 26: (40, 84)},
    "bass": {32: (28, 60), 33: (28, 60), 34: (28, 60), 38: (28, 60), 35: (28, 60)},
    "string": {40: (55, 96), 42: (36, 76), 43: (28, 60), 48: (36, 96), 41: (48, 84)},
    "brass": {56: (55, 84), 57: (40, 72), 58: (28, 58), 61: (36, 84), 60: (41, 77)},
    "reed": {64: (56, 87), 66: (44, 76), 68: (58, 91), 70: (34, 72), 71: (50, 91)},
    "flute": {72: (74, 102), 73: (60, 96), 74: (60, 91), 75: (55, 91), 79: (60, 91)},
    "vocal": {52: (48, 79), 53: (48, 79), 54: (48, 79), 85: (48, 84), 91: (48, 84)},
    "synth_lead": {80: (48, 96), 81: (48, 96), 82: (48, 96), 84: (48, 96), 83: (48, 96)},
    "synth_pad": {88: (36, 84), 89: (36, 84), 90: (36, 84), 94: (36, 84), 92: (36, 84)},
}
#: The unseen instruments: the last program listed in each family (test split).
GM_HELD_OUT = tuple(list(programs)[-1] for programs in GM_FAMILIES.values())
#: The validation instruments: the second-to-last program of each family, unseen in training too, so
#: that every choice (epochs, temperature, margin, the example shown) is made on classes the model
#: never learned from, and the test instruments are read once, at the end.
GM_VALIDATION = tuple(list(programs)[-2] for programs in GM_FAMILIES.values())
GM_FAMILY_OF = {program: family for family, programs in GM_FAMILIES.items() for program in programs}
GM_RANGE = {program: span for programs in GM_FAMILIES.values() for program, span in programs.items()}
#: Fixed FluidSynth gain of the GM notes (no per-clip normalisation; loudest notes peak near 0.6).
GM_GAIN = 1.0
#: Programs rendered by one synthesizer (notes do not depend on it: each note is primed).
_GM_CHUNK = 5


@dataclass(frozen=True)
class GMNotesParams:
    """Build parameters of :func:`load_gm_notes`.

    programs : GM programs to render (default: all 60 of :data:`GM_FAMILIES`).
    pitch_step : pitches are the multiples of ``pitch_step`` inside each program's range
        (default 3: C, D#, F#, A in every octave).
    velocities : MIDI velocities of each pitch (soft < 64 <= loud).
    note_seconds : note-on duration; clip_seconds : clip length (note plus release).
    soundfont : a SoundFont 2 file (default None: TimGM6mb from pretty_midi).
    seed : seed of the seen-class validation split (``seen_split``).
    """

    programs: tuple[int, ...] = tuple(GM_RANGE)
    pitch_step: int = 3
    velocities: tuple[int, ...] = (40, 60, 90, 120)
    note_seconds: float = 1.0
    clip_seconds: float = 1.28
    soundfont: str | None = None
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "programs", tuple(int(p) for p in self.programs))
        object.__setattr__(self, "velocities", tuple(int(v) for v in self.velocities))
        unknown = sorted(set(self.programs) - set(GM_RANGE))
        if unknown or not self.programs or len(set(self.programs)) != len(self.programs):
            raise ValueError(f"programs must be distinct programs of GM_FAMILIES; got {self.programs} "
                             f"(not in the catalogue: {unknown}); choose from {sorted(GM_RANGE)}")
        if not all(1 <= v <= 127 for v in self.velocities) or not self.velocities:
            raise ValueError(f"velocities must be MIDI velocities 1..127, got {self.velocities}")
        if not 1 <= self.pitch_step <= 24:
            raise ValueError(f"pitch_step must be 1..24 semitones, got {self.pitch_step}")
        if not 0 < self.note_seconds < self.clip_seconds <= 10:
            raise ValueError("need 0 < note_seconds < clip_seconds <= 10 "
                             f"(got {self.note_seconds}, {self.clip_seconds})")


def _chunks(items: Sequence, size: int) -> list[tuple]:
    """Consecutive chunks of ``size`` items: a fixed function of the items, not of the workers."""
    return [tuple(items[i:i + size]) for i in range(0, len(items), size)]


def _blocks(seconds: float) -> int:
    """Samples in ``seconds``, rounded to whole FluidSynth blocks."""
    return int(round(seconds * SAMPLE_RATE / BLOCK)) * BLOCK


def _unit_hash(*parts: object) -> float:
    """A stable pseudo-random number in [0, 1) from ``parts`` (for splits that never shift)."""
    text = "/".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big") / 2.0**64


def _gm_pitches(program: int, step: int) -> list[int]:
    low, high = GM_RANGE[program]
    return [pitch for pitch in range(low, high + 1) if pitch % step == 0]


def _render_gm_programs(task: tuple) -> list[tuple[np.ndarray, np.ndarray]]:
    """Worker: every (pitch, velocity) note of some programs; PCM and float peaks per program."""
    soundfont, programs, pitch_step, velocities, on_samples, n_samples = task
    renderer = Renderer(Path(soundfont), GM_GAIN)
    results = []
    for program in programs:
        audio = np.stack([renderer.note(program, pitch, velocity, on_samples, n_samples)
                          for pitch in _gm_pitches(program, pitch_step) for velocity in velocities])
        results.append((_to_pcm(audio, f"GM program {program}"), np.abs(audio).max(axis=1)))
    renderer.close()
    return results


def _gm_meta(notes: list[tuple[int, int, int]], params: GMNotesParams) -> pd.DataFrame:
    import pretty_midi

    meta = pd.DataFrame(notes, columns=["program", "pitch", "velocity"])
    meta.insert(1, "instrument", [pretty_midi.program_to_instrument_name(p) for p in meta.program])
    meta.insert(2, "family", meta.program.map(GM_FAMILY_OF))
    meta["group"] = meta.groupby(["program", "pitch"], sort=True).ngroup()
    held_out, validation = meta.program.isin(GM_HELD_OUT), meta.program.isin(GM_VALIDATION)
    meta["split"] = np.where(held_out, "test", np.where(validation, "valid", "train"))
    is_valid = np.array([_unit_hash("gm-valid", params.seed, p, q) < 0.2
                         for p, q in zip(meta.program, meta.pitch, strict=True)])
    meta["seen_split"] = np.where(meta.split != "train", "none", np.where(is_valid, "valid", "train"))
    meta["pitch_split"] = np.where((meta.pitch // params.pitch_step) % 4 == 3, "test", "train")
    meta["register"] = pd.cut(meta.pitch, [-1, 47, 71, 127], labels=["low", "mid", "high"]).astype(str)
    meta["dynamics"] = np.where(meta.velocity < 64, "soft", "loud")
    return meta


def _build_gm_notes(params: GMNotesParams, soundfont: Path, workers: int, progress: bool,
                    staging: Path) -> dict:
    on_samples, n_samples = _blocks(params.note_seconds), _blocks(params.clip_seconds)
    chunks = _chunks(params.programs, _GM_CHUNK)
    tasks = [(str(soundfont), chunk, params.pitch_step, params.velocities, on_samples, n_samples)
             for chunk in chunks]
    results = _map(_render_gm_programs, tasks, workers, progress, "gm_notes: programs")
    notes, pcm, silent = [], [], []
    velocities = params.velocities
    for program, (audio, peaks) in zip(params.programs, sum(results, []), strict=True):
        pitches = _gm_pitches(program, params.pitch_step)
        sounding = peaks.reshape(len(pitches), len(velocities)).min(axis=1) > SILENCE
        silent += [f"{program}:{pitch}" for pitch, ok in zip(pitches, sounding, strict=True) if not ok]
        keep = np.repeat(sounding, len(velocities))
        notes += [(program, pitch, velocity) for pitch in np.array(pitches)[sounding].tolist()
                  for velocity in velocities]
        pcm.append(audio[keep])
    if not notes:
        raise ValueError("no note sounds with these parameters; widen the programs or pitches")
    _write_array(staging, "audio.npy", np.concatenate(pcm))
    meta = _gm_meta(notes, params)
    return {"meta_dtypes": _write_meta(staging, meta), "silent_program_pitches": silent,
            "soundfont": str(soundfont), "fluidsynth": _fluidsynth_version()}


def _fluidsynth_version() -> str:
    import ctypes

    fluidsynth = import_fluidsynth()
    numbers = [ctypes.c_int(), ctypes.c_int(), ctypes.c_int()]
    fluidsynth._fl.fluid_version(*[ctypes.byref(n) for n in numbers])
    return ".".join(str(n.value) for n in numbers)


@dataclass(repr=False)
class GMNotes(Dataset):
    """Single notes of GM instruments (an NSynth-like set); see :func:`load_gm_notes`."""

    def precompute(self, kinds: Sequence[str] = tuple(FEATURE_KINDS)) -> None:
        super().precompute(kinds)
        self.tutorial_table()

    def tutorial_table(self, split: str | None = None) -> pd.DataFrame:
        """Features in the layout of the original tutorial's NSynth tables.

        Columns mfcc_00..mfcc_19 and chroma_00..chroma_11 (means over frames), f0 (Hz, dominant
        frequency between C1 and C6) and instrument (the family, as in NSynth), indexed by a path
        like ``train/brass_056-060-090.wav`` (split/family_program-pitch-velocity), so
        :func:`load_tutorial_tables`' real tables can be swapped in. ``split`` selects rows.
        """
        params = dict(_FEATURE_PARAMS, kind="tutorial", audio_checksum=self._audio_checksum)
        values = self._cached_feature("tutorial", params, lambda: _batched(
            F.tutorial_features, self.audio, "tutorial features"))
        meta = self.meta
        index = [f"{s}/{f}_{p:03d}-{q:03d}-{v:03d}.wav" for s, f, p, q, v in
                 zip(meta.split, meta.family, meta.program, meta.pitch, meta.velocity, strict=True)]
        frame = pd.DataFrame(values.astype(np.float64), columns=F.TUTORIAL_COLUMNS[:-1], index=index)
        frame["instrument"] = meta.family.to_numpy()
        return frame if split is None else frame.iloc[self.split(split)]


def _read_audio_dataset(cls: type[Dataset], name: str, params: dict):
    def read(directory: Path, manifest: dict) -> Dataset:
        entry = manifest["files"]["audio.npy"]
        pcm = _array_from_buffer(_read_verified(directory, "audio.npy", entry))
        meta = _read_meta(directory, manifest)
        if len(meta) != len(pcm):
            raise CacheError("meta.csv and audio.npy disagree on the number of clips")
        return cls(name=name, audio=_from_pcm(pcm), sample_rate=SAMPLE_RATE, meta=meta,
                   cache_dir=directory, params=params, _audio_checksum=entry["crc32"])
    return read


def _manifest_params(params: Any, soundfont: Path) -> dict:
    values = dataclasses.asdict(params)
    values = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
    values["soundfont"] = None  # identified by its content, wherever it lies
    values["soundfont_sha256"] = _sha256_file(soundfont)
    return values


def _make_params(cls: type, what: str, kwargs: dict):
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(kwargs) - set(names))
    if unknown:
        raise TypeError(f"unknown parameter(s) {unknown} for {what}; valid: {names}")
    return cls(**kwargs)


def load_gm_notes(cache_dir: str | os.PathLike | None = None, *, rebuild: bool = False,
                  workers: int | None = None, progress: bool = True, **params: Any) -> GMNotes:
    """Single GM notes rendered with FluidSynth: an NSynth-like dataset (built once, then cached).

    Parameters
    ----------
    cache_dir : cache root (default: ``$ML4MIR_DATA`` or ``data/cache``).
    rebuild : build even if a valid cache exists.
    workers : rendering processes (default: 2 in Jupyter and on the command line, else 1: spawned
        workers re-import the main script); the result does not depend on it.
    progress : show progress bars.
    **params : fields of :class:`GMNotesParams` (programs, pitch_step, velocities, note_seconds,
        clip_seconds, soundfont, seed).

    Returns
    -------
    GMNotes with ``audio`` (n, 20480) float32 (1.28 s: 1 s note then release) and ``meta`` columns
    program, instrument, family, pitch, velocity, group (same program and pitch: near-duplicates),
    split (train/valid/test, class-disjoint: test = the held-out instruments :data:`GM_HELD_OUT`,
    valid = the validation instruments :data:`GM_VALIDATION`, train = the 36 others), seen_split
    (for closed-set classification of the training instruments: train/valid = 20% of their
    (program, pitch) groups; "none" outside the training split), pitch_split (train/test: every fourth pitch of the
    grid is test), register (low < 48 <= mid < 72 <= high), dynamics (soft < 64 <= loud).
    Only (program, pitch) pairs where the preset sounds at every velocity are kept.
    """
    settings = _make_params(GMNotesParams, "load_gm_notes", params)
    soundfont = check_soundfont(settings.soundfont)
    manifest_params = _manifest_params(settings, soundfont)
    workers = _default_workers(workers)
    return _load_or_build(
        "gm_notes", manifest_params, cache_dir, rebuild,
        lambda staging: _build_gm_notes(settings, soundfont, workers, progress, staging),
        _read_audio_dataset(GMNotes, "gm_notes", manifest_params),
    )


def _spawn_is_safe() -> bool:
    """Whether spawned workers can start: they re-import the main script, so only an interactive
    session (Jupyter, REPL) or this module's command line is known to be safe."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return not hasattr(main, "__file__") or (spec is not None and spec.name == "utils.data")


def _default_workers(workers: int | None) -> int:
    """``workers``, or by default 2 processes where that is safe (else 1: in this process)."""
    if workers is None:
        return max(1, min(2, os.cpu_count() or 1)) if _spawn_is_safe() else 1
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    return workers


# --------------------------------------------------------------------------------------------
# Chorales

#: Ensembles (GM programs for soprano, alto, tenor, bass); each version of an excerpt uses a
#: different one.
CHORALE_ENSEMBLES: dict[str, tuple[int, int, int, int]] = {
    "strings": (40, 41, 42, 43),
    "woodwinds": (73, 68, 71, 70),
    "brass": (56, 60, 57, 58),
    "organ": (19, 19, 19, 19),
    "choir": (52, 53, 53, 52),
    "piano": (0, 0, 0, 0),
    "guitars": (24, 25, 24, 32),
    "synths": (80, 81, 81, 38),
    "recorders": (74, 74, 74, 70),
    "mixed": (40, 71, 60, 42),
}
VOICES = ("soprano", "alto", "tenor", "bass")
#: Fixed FluidSynth gain of the chorale stems (mixtures of four voices stay below full scale).
CHORALE_GAIN = 0.6
CHORALE_VELOCITY = 90
#: Chorales rendered by one synthesizer (a fixed chunking keeps builds deterministic).
_CHORALE_CHUNK = 8
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@dataclass(frozen=True)
class ChoralesParams:
    """Build parameters of :func:`load_chorales`.

    n_pieces : chorales drawn (seeded order) from the music21 corpus; None: all of them.
        Those that fail to parse or lack SATB parts are skipped (listed in the manifest).
    pieces : explicit corpus names (e.g. ("bach/bwv26.6",)); overrides n_pieces.
    excerpts_per_piece : excerpts per chorale, starting on bar lines, evenly spread.
    excerpt_quarters : excerpt length in quarter notes (8: two 4/4 bars).
    versions : renderings per excerpt, each a different ensemble, tempo and transposition.
    tempo_range : (low, high) tempo in quarter notes per minute; transpose_range : semitones.
    clip_seconds : fixed clip length (the excerpt at the slowest tempo plus release fits).
    soundfont, seed : as for the GM notes.
    """

    n_pieces: int | None = 200
    pieces: tuple[str, ...] | None = None
    excerpts_per_piece: int = 1
    excerpt_quarters: float = 8.0
    versions: int = 3
    tempo_range: tuple[int, int] = (126, 168)
    transpose_range: tuple[int, int] = (-5, 6)
    clip_seconds: float = 4.0
    soundfont: str | None = None
    seed: int = 0

    def __post_init__(self):
        if self.pieces is not None:
            object.__setattr__(self, "pieces", tuple(str(p) for p in self.pieces))
            if not self.pieces:
                raise ValueError("pieces must name at least one chorale")
        object.__setattr__(self, "tempo_range", tuple(int(t) for t in self.tempo_range))
        object.__setattr__(self, "transpose_range", tuple(int(t) for t in self.transpose_range))
        if self.n_pieces is not None and self.n_pieces < 1:
            raise ValueError(f"n_pieces must be >= 1 or None (all), got {self.n_pieces}")
        if not 1 <= self.versions <= len(CHORALE_ENSEMBLES):
            raise ValueError(f"versions must be 1..{len(CHORALE_ENSEMBLES)}, got {self.versions}")
        if self.excerpts_per_piece < 1 or self.excerpt_quarters <= 0:
            raise ValueError("excerpts_per_piece must be >= 1 and excerpt_quarters > 0")
        low, high = self.tempo_range
        if not 20 <= low <= high <= 400:
            raise ValueError(f"tempo_range must be (low, high) with 20 <= low <= high <= 400, got {self.tempo_range}")
        if self.transpose_range[0] > self.transpose_range[1] or max(map(abs, self.transpose_range)) > 12:
            raise ValueError(f"transpose_range must be (low, high) within -12..12, got {self.transpose_range}")
        if self.excerpt_quarters * 60.0 / low > self.clip_seconds:
            raise ValueError(
                f"an excerpt of {self.excerpt_quarters} quarters at {low} bpm is longer than "
                f"clip_seconds={self.clip_seconds}; raise the tempo or the clip length"
            )


def chorale_names() -> list[str]:
    """Corpus names of the Bach chorales in music21 (e.g. "bach/bwv269"), sorted, each once
    (the Riemenschneider numbering that music21 iterates lists some chorales twice)."""
    from music21 import corpus

    return sorted(set(corpus.chorales.Iterator(returnType="filename")))


def _satb_parts(score) -> list | None:
    """The soprano, alto, tenor and bass parts, selected by name (some chorales add instruments);
    four unnamed parts (Humdrum sources) are taken top to bottom. None if that fails."""
    found = {}
    for part in score.parts:
        name = (part.partName or "").strip().lower()
        for voice in VOICES:
            if name.startswith(voice) and voice not in found:
                found[voice] = part
    if len(found) == 4:
        return [found[v] for v in VOICES]
    if len(score.parts) == 4 and not any(part.partName for part in score.parts):
        return list(score.parts)
    return None


def _part_notes(part) -> np.ndarray:
    """(notes, 3) float array of onset and end (quarter notes) and MIDI pitch, ties merged."""
    notes: list[list[float]] = []
    open_notes: dict[int, int] = {}
    for element in part.flatten().notes:
        if element.quarterLength <= 0:
            continue
        onset = float(element.offset)
        end = onset + float(element.quarterLength)
        tie = element.tie.type if element.tie is not None else None
        for pitch in element.pitches:
            midi = int(round(pitch.ps))
            if tie in ("stop", "continue") and midi in open_notes:
                notes[open_notes[midi]][1] = end
            else:
                open_notes[midi] = len(notes)
                notes.append([onset, end, midi])
    return np.array(notes, dtype=float).reshape(-1, 3)


#: Krumhansl-Kessler key profiles (major, minor), tonic first.
_KEY_PROFILES = {
    "major": np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]),
    "minor": np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]),
}


def _piece_key(voices: list[np.ndarray], margin: float = 0.15) -> tuple[int, str]:
    """Tonic pitch class and mode of a chorale.

    Every key is scored by the correlation of its Krumhansl-Kessler profile with the piece's
    duration-weighted pitch-class histogram. A chorale normally ends on its tonic, so the best key
    on the final bass note wins unless another key scores ``margin`` higher (as after a Phrygian
    close on the dominant). Key signatures are not used: many chorales are notated in Dorian.
    """
    notes = np.concatenate(voices)
    histogram = np.bincount(notes[:, 2].astype(int) % 12, weights=notes[:, 1] - notes[:, 0],
                            minlength=12)
    scores = {(tonic, mode): np.corrcoef(np.roll(profile, tonic), histogram)[0, 1]
              for mode, profile in _KEY_PROFILES.items() for tonic in range(12)}
    bass = voices[3]
    final = int(bass[np.argmax(bass[:, 0]), 2]) % 12
    on_final = max(((final, mode) for mode in _KEY_PROFILES), key=scores.get)
    best = max(scores, key=scores.get)
    return on_final if scores[on_final] >= scores[best] - margin else best


def _excerpt_starts(measure_starts: list[float], end: float, length: float, count: int) -> list[float]:
    candidates = [s for s in measure_starts if s + length <= end]
    if not candidates:
        return []
    positions = np.linspace(0, len(candidates) - 1, count + 2)[1:-1] if count < len(candidates) \
        else np.arange(len(candidates))
    return sorted({candidates[int(round(p))] for p in positions})


def _version_plans(params: ChoralesParams, piece: str, excerpt: int, voices: list[np.ndarray],
                   sounding: dict[int, np.ndarray]) -> list[dict]:
    """Ensemble, tempo and transposition of each version: seeded by piece and excerpt, with
    ensembles that sound at every note (some presets have silent pitches)."""
    seed = int(_unit_hash("chorale-version", params.seed, piece, excerpt) * 2**63)
    rng = np.random.default_rng(seed)
    names = list(CHORALE_ENSEMBLES)
    plans = []
    for name in rng.permutation(names):
        transpose = int(rng.integers(params.transpose_range[0], params.transpose_range[1] + 1))
        tempo = int(rng.integers(params.tempo_range[0], params.tempo_range[1] + 1))
        programs = CHORALE_ENSEMBLES[name]
        if all(sounding[p][np.clip(v[:, 2].astype(int) + transpose, 0, 127)].all()
               for p, v in zip(programs, voices, strict=True)):
            plans.append({"ensemble": str(name), "programs": programs, "tempo": tempo,
                          "transpose": transpose})
        if len(plans) == params.versions:
            return plans
    raise ValueError(f"{piece}: fewer than {params.versions} ensembles sound at all its pitches")


def _render_chorales(task: tuple) -> list[dict | str]:
    """Worker: parse and render some chorales with one synthesizer (see :func:`_render_chorale`)."""
    pieces, params, soundfont, sounding = task
    renderer = Renderer(Path(soundfont), CHORALE_GAIN)
    results = [_render_chorale(piece, params, renderer, sounding) for piece in pieces]
    renderer.close()
    return results


def _render_chorale(piece: str, params: ChoralesParams, renderer: Renderer,
                    sounding: dict[int, np.ndarray]) -> dict | str:
    """Parse one chorale and render all versions of its excerpts (stems and rolls).

    Returns a dict of arrays and meta rows, or a string saying why the piece was skipped.
    """
    from music21 import corpus

    try:
        score = corpus.parse(piece)
    except Exception as error:  # music21 raises many exception types on bad files
        return f"{piece}: does not parse ({type(error).__name__}: {error})"
    parts = _satb_parts(score)
    if parts is None:
        return f"{piece}: no soprano, alto, tenor and bass parts"
    voices = [_part_notes(part) for part in parts]
    tonic, mode = _piece_key(voices)
    measure_starts = [float(m.offset) for m in parts[0].getElementsByClass("Measure")]
    end = max(float(v[:, 1].max()) for v in voices if len(v))
    starts = _excerpt_starts(measure_starts, end, params.excerpt_quarters, params.excerpts_per_piece)
    if not starts:
        return f"{piece}: shorter than one excerpt"
    n_samples = _blocks(params.clip_seconds)
    n_frames = F.n_frames(n_samples)
    stems, rolls, rows = [], [], []
    for number, start in enumerate(starts):
        window = [_window(v, start, start + params.excerpt_quarters) for v in voices]
        for version, plan in enumerate(_version_plans(params, piece, number, window, sounding)):
            seconds_per_quarter = 60.0 / plan["tempo"]
            for notes, program in zip(window, plan["programs"], strict=True):
                onsets = _to_block_samples(notes[:, 0] * seconds_per_quarter)
                ends = _to_block_samples(notes[:, 1] * seconds_per_quarter)
                pitches = notes[:, 2].astype(int) + plan["transpose"]
                events = sorted([(int(s), True, int(p), CHORALE_VELOCITY) for s, p in zip(onsets, pitches, strict=True)]
                                + [(int(s), False, int(p), 0) for s, p in zip(ends, pitches, strict=True)],
                                key=lambda e: (e[0], e[1]))
                stems.append(renderer.render(program, events, n_samples))
                rolls.append(F.piano_roll(onsets / SAMPLE_RATE, ends / SAMPLE_RATE, pitches, n_frames))
            rows.append({"piece": piece.split("/")[-1], "excerpt_in_piece": number,
                         "start_quarter": start, "version": version, "ensemble": plan["ensemble"],
                         "programs": ",".join(map(str, plan["programs"])), "tempo": plan["tempo"],
                         "transpose": plan["transpose"],
                         "key": PITCH_NAMES[(tonic + plan["transpose"]) % 12], "mode": mode,
                         "original_key": PITCH_NAMES[tonic]})
    shape = (len(rows), 4)
    return {"stems": _to_pcm(np.stack(stems), piece).reshape(shape + (n_samples,)),
            "rolls": np.stack(rolls).reshape(shape + (128, n_frames)), "rows": rows}


def _window(notes: np.ndarray, start: float, stop: float) -> np.ndarray:
    """Notes sounding in [start, stop) quarters, clipped to it, times relative to ``start``."""
    inside = notes[(notes[:, 0] < stop) & (notes[:, 1] > start)].copy()
    inside[:, :2] = np.clip(inside[:, :2], start, stop) - start
    return inside


def _to_block_samples(seconds: np.ndarray) -> np.ndarray:
    return (np.round(seconds * SAMPLE_RATE / BLOCK) * BLOCK).astype(int)


def _sounding_table(soundfont: Path) -> dict[int, np.ndarray]:
    """For each ensemble program: (128,) bool, whether the preset sounds at each pitch."""
    renderer = Renderer(soundfont, CHORALE_GAIN)
    programs = sorted({p for ensemble in CHORALE_ENSEMBLES.values() for p in ensemble})
    table = {p: np.array([renderer.sounds(p, pitch) for pitch in range(128)]) for p in programs}
    renderer.close()
    return table


def _chorale_candidates(params: ChoralesParams) -> list[str]:
    available = chorale_names()
    if params.pieces is not None:
        unknown = sorted(set(params.pieces) - set(available))
        if unknown:
            raise ValueError(f"unknown chorale(s) {unknown}; names look like {available[:3]} "
                             "(see utils.data.chorale_names())")
        return list(params.pieces)
    order = np.random.default_rng(params.seed).permutation(len(available))
    return [available[i] for i in order[: params.n_pieces]]


def _build_chorales(params: ChoralesParams, soundfont: Path, workers: int, progress: bool,
                    staging: Path) -> dict:
    sounding = _sounding_table(soundfont)
    tasks = [(chunk, params, str(soundfont), sounding)
             for chunk in _chunks(_chorale_candidates(params), _CHORALE_CHUNK)]
    results = sum(_map(_render_chorales, tasks, workers, progress, "chorales: pieces"), [])
    skipped = [r for r in results if isinstance(r, str)]
    rendered = [r for r in results if not isinstance(r, str)]
    if not rendered:
        raise ValueError(f"no chorale could be rendered: {skipped}")
    _write_array(staging, "stems.npy", np.concatenate([r["stems"] for r in rendered]))
    _write_array(staging, "voice_rolls.npy", np.concatenate([r["rolls"] for r in rendered]))
    meta = pd.DataFrame([row for r in rendered for row in r["rows"]])
    meta.insert(1, "excerpt", meta.groupby(["piece", "excerpt_in_piece"], sort=False).ngroup())
    split_value = np.array([_unit_hash("chorale-split", params.seed, p) for p in meta.piece])
    meta["split"] = np.where(split_value < 0.15, "test", np.where(split_value < 0.3, "valid", "train"))
    return {"meta_dtypes": _write_meta(staging, meta), "skipped": skipped,
            "soundfont": str(soundfont), "fluidsynth": _fluidsynth_version()}


@dataclass(repr=False)
class Chorales(Dataset):
    """Bach chorale excerpts in several renderings; see :func:`load_chorales`.

    Extra attributes
    ----------------
    voice_rolls : (n, 4, 128, frames) uint8 0/1 piano roll of each voice (S, A, T, B), aligned with
        the frames of the rendered audio (frame t centred on sample t * HOP_LENGTH).
    piano_roll : (n, 128, frames) float32 0/1, the union of the voices.
    stems : (n, 4, samples) float32, each voice alone; ``audio`` is exactly their sum.
    """

    voice_rolls: np.ndarray = field(default=None, repr=False)
    _stems_pcm: np.ndarray = field(default=None, repr=False)

    @functools.cached_property
    def piano_roll(self) -> np.ndarray:
        return self.voice_rolls.max(axis=1).astype(np.float32)

    @functools.cached_property
    def stems(self) -> np.ndarray:
        return _from_pcm(self._stems_pcm)

    def _feature_sources(self) -> dict[str, Callable[[], np.ndarray]]:
        return {"audio": lambda: self.audio, "stems": lambda: self.stems}

    def precompute(self, kinds: Sequence[str] = tuple(FEATURE_KINDS)) -> None:
        super().precompute(kinds)
        if "logmel" in kinds:
            self.features("logmel", source="stems")


def _read_chorales(params: dict):
    def read(directory: Path, manifest: dict) -> Chorales:
        files = manifest["files"]
        stems = _array_from_buffer(_read_verified(directory, "stems.npy", files["stems.npy"]))
        rolls = _array_from_buffer(_read_verified(directory, "voice_rolls.npy", files["voice_rolls.npy"]))
        meta = _read_meta(directory, manifest)
        if not len(meta) == len(stems) == len(rolls):
            raise CacheError("meta.csv, stems.npy and voice_rolls.npy disagree on the number of clips")
        mixture = stems[:, 0].astype(np.float32)
        for voice in range(1, stems.shape[1]):
            mixture += stems[:, voice]
        mixture *= np.float32(1.0 / 32768.0)
        return Chorales(name="chorales", audio=mixture, sample_rate=SAMPLE_RATE, meta=meta,
                        cache_dir=directory, params=params, _audio_checksum=files["stems.npy"]["crc32"],
                        voice_rolls=rolls, _stems_pcm=stems)
    return read


def load_chorales(cache_dir: str | os.PathLike | None = None, *, rebuild: bool = False,
                  workers: int | None = None, progress: bool = True, **params: Any) -> Chorales:
    """Bach chorale excerpts from the music21 corpus, rendered in several versions with stems
    and aligned piano rolls (built once, then cached).

    Parameters
    ----------
    cache_dir, rebuild, workers, progress : as for :func:`load_gm_notes`.
    **params : fields of :class:`ChoralesParams` (n_pieces, pieces, excerpts_per_piece,
        excerpt_quarters, versions, tempo_range, transpose_range, clip_seconds, soundfont, seed).

    Returns
    -------
    Chorales with ``audio`` (n, 64000) float32 (4 s mixtures, exactly ``stems.sum(axis=1)``),
    ``stems`` (n, 4, 64000), ``piano_roll`` (n, 128, 126), ``voice_rolls`` (n, 4, 128, 126) and
    ``meta`` columns piece (e.g. "bwv26.6"), excerpt (global id: the same music in every version),
    excerpt_in_piece, start_quarter, version, ensemble, programs (S,A,T,B GM programs), tempo (bpm),
    transpose (semitones), key (tonic of this rendering), mode, original_key, split (by piece:
    test and valid pieces are never in train).
    """
    settings = _make_params(ChoralesParams, "load_chorales", params)
    soundfont = check_soundfont(settings.soundfont)
    manifest_params = _manifest_params(settings, soundfont)
    workers = _default_workers(workers)
    return _load_or_build(
        "chorales", manifest_params, cache_dir, rebuild,
        lambda staging: _build_chorales(settings, soundfont, workers, progress, staging),
        _read_chorales(manifest_params),
    )


# --------------------------------------------------------------------------------------------
# Registry and command line

#: The course datasets by name.
DATASETS: dict[str, Callable[..., Dataset]] = {"gm_notes": load_gm_notes, "chorales": load_chorales}


def load(name: str, cache_dir: str | os.PathLike | None = None, **kwargs: Any) -> Dataset:
    """Load a course dataset by its registry name (see :data:`DATASETS`)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose from {sorted(DATASETS)}")
    return DATASETS[name](cache_dir, **kwargs)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m utils.data",
                                     description="Build and cache the course datasets.")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build (or verify) datasets in the cache")
    build.add_argument("names", nargs="*", metavar="NAME",
                       help=f"datasets to build (default: all): {', '.join(DATASETS)}")
    build.add_argument("--cache-dir", default=None,
                       help=f"cache root (default: ${CACHE_ENV} or data/cache)")
    build.add_argument("--rebuild", action="store_true", help="rebuild even if the cache is valid")
    build.add_argument("--workers", type=int, default=None, help="rendering processes (default 2)")
    build.add_argument("--features", nargs="*", default=list(FEATURE_KINDS), metavar="KIND",
                       help="features to precompute (default: all: " + " ".join(FEATURE_KINDS) + ")")
    return parser


def main(argv: Iterable[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(None if argv is None else list(argv))
    names = args.names or list(DATASETS)
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        parser.error(f"unknown dataset(s) {unknown}; choose from {list(DATASETS)}")
    bad_kinds = [k for k in args.features if k not in FEATURE_KINDS]
    if bad_kinds:
        parser.error(f"unknown feature kind(s) {bad_kinds}; choose from {list(FEATURE_KINDS)}")
    for name in names:
        start = time.perf_counter()
        dataset = DATASETS[name](args.cache_dir, rebuild=args.rebuild, workers=args.workers)
        dataset.precompute(args.features)
        print(f"{name}: {len(dataset)} clips, ready in {time.perf_counter() - start:.1f} s "
              f"({dataset.cache_dir})")
    return 0


if __name__ == "__main__":
    # Run the imported module's main, so that spawned workers pickle utils.data, not __main__.
    from utils.data import main as _main

    sys.exit(_main())
