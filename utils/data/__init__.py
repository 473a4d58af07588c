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
version, parameters, size and CRC-32 of every file); a truncated, corrupted or stale cache is
reported and rebuilt, never used. Features (:meth:`Dataset.features`) are cached the same way.

Command line: ``python -m utils.data build [NAME ...] [--cache-dir DIR]``.

One module per concern: :mod:`~utils.data.cache` (manifest, checksums, atomic publish, verified
and read-only loads), :mod:`~utils.data.render` (FluidSynth), :mod:`~utils.data.dataset` (the
:class:`Dataset` API), :mod:`~utils.data.gm_notes`, :mod:`~utils.data.chorales`,
:mod:`~utils.data.nsynth` (real NSynth data and the original tutorial's tables),
:mod:`~utils.data.folders` (your own music: any folder of audio files),
:mod:`~utils.data.sources` (what a notebook's ``DATA`` names: ``"gm_notes"``, ``"gm_notes:FluidR3_GM"``,
``"folder:/path"``, ``"nsynth:/path"``),
:mod:`~utils.data.cli` (the registry and the command line).
"""

from utils.data.cache import (
    CACHE_ENV,
    FEATURE_VERSION,
    FORMAT_VERSION,
    MANIFEST,
    CacheError,
    ReadOnlyCacheWarning,
    StaleCacheWarning,
    default_cache_root,
)
from utils.data.chorales import (
    CHORALE_ENSEMBLES,
    PITCH_NAMES,
    VOICES,
    Chorales,
    ChoralesParams,
    chorale_names,
    load_chorales,
)
from utils.data.cli import DATASETS, load, main
from utils.data.dataset import FEATURE_KINDS, Dataset
from utils.data.folders import AudioFolder, AudioFolderError, load_audio_folder
from utils.data.gm_notes import (
    GM_FAMILIES,
    GM_FAMILY_OF,
    GM_HELD_OUT,
    GM_RANGE,
    GM_VALIDATION,
    GMNotes,
    GMNotesParams,
    load_gm_notes,
)
from utils.data.nsynth import download_tutorial_tables, load_nsynth, load_tutorial_tables
from utils.data.render import (
    BLOCK,
    SILENCE,
    SOUNDFONTS,
    available_soundfonts,
    check_soundfont,
    default_soundfont,
)
from utils.data.sources import DEFAULT_DATA, is_default, load_data, load_nsynth_folder, parse_data
from utils.features import Standardizer, standardize

__all__ = [
    "BLOCK", "CACHE_ENV", "CHORALE_ENSEMBLES", "DATASETS", "DEFAULT_DATA", "FEATURE_KINDS", "FEATURE_VERSION",
    "FORMAT_VERSION", "GM_FAMILIES", "GM_FAMILY_OF", "GM_HELD_OUT", "GM_RANGE", "GM_VALIDATION",
    "MANIFEST", "PITCH_NAMES", "SILENCE", "SOUNDFONTS", "VOICES", "AudioFolder", "AudioFolderError", "CacheError",
    "Chorales", "ChoralesParams", "Dataset", "GMNotes", "GMNotesParams", "ReadOnlyCacheWarning",
    "StaleCacheWarning", "Standardizer", "available_soundfonts", "check_soundfont", "chorale_names", "default_cache_root",
    "default_soundfont", "download_tutorial_tables", "is_default", "load", "load_audio_folder",
    "load_chorales", "load_data", "load_gm_notes", "load_nsynth", "load_nsynth_folder",
    "load_tutorial_tables", "main", "parse_data", "standardize",
]
