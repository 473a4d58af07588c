"""Real NSynth data for readers who are online: the original tutorial's feature tables, and
NSynth's own json/wav layout.

Nothing here is needed by the course's default notebooks (they use the rendered GM notes of
:mod:`utils.data`); these loaders let a reader swap real data in. Downloads happen only on an
explicit request (``download=True``) and are checked against pinned SHA-256 digests.

- :func:`load_tutorial_tables`: ``nsynth_{train,valid,test}.csv`` of the ISMIR 2020 tutorial
  (github.com/bmcfee/ismir2020-metric-learning, files at the repository root), 1000/200/200 rows:
  index = source file path, columns mfcc_00..mfcc_19, chroma_00..chroma_11, f0, instrument.
  ``GMNotes.tutorial_table()`` produces the same layout from the rendered notes.
- :func:`load_nsynth`: a split of NSynth (Engel et al., 2017) unpacked from its
  ``nsynth-<split>.jsonwav.tar.gz`` archive: ``examples.json`` and ``audio/<note_str>.wav``.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from utils.features import TUTORIAL_COLUMNS

#: Commit of the original tutorial's repository that the tables are pinned to.
TUTORIAL_COMMIT = "77aaed566de835277a4cf5b21a9dc5b568daa94c"
TUTORIAL_URL = "https://raw.githubusercontent.com/bmcfee/ismir2020-metric-learning/{commit}/{name}"
#: Per split: SHA-256 of the CSV file and its number of rows.
TUTORIAL_TABLES = {
    "train": ("328536b785e31142ed978900d0c229607304098eede1c2fa23e5a8d27139af77", 1000),
    "valid": ("c5154216d17cf47912a9b58ea0284e1f8a5ade4d4077dc76c8133e737bdff832", 200),
    "test": ("2576d43c256496ff1b9bed097064f10412bea116fe04b87ec570269b45c39aaa", 200),
}
#: Where NSynth's json/wav archives are published (about 0.3 GB for the test split).
NSYNTH_URL = "http://download.magenta.tensorflow.org/datasets/nsynth/nsynth-{split}.jsonwav.tar.gz"


def _tables_directory(cache_dir: str | os.PathLike | None) -> Path:
    from utils.data.cache import default_cache_root

    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_root()
    return root / "nsynth_tutorial"


def _fetch(url: str, timeout: float = 60.0) -> bytes:
    """The bytes at ``url`` (tests replace this function: they never use the network)."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def _table_name(split: str) -> str:
    return f"nsynth_{split}.csv"


def download_tutorial_tables(cache_dir: str | os.PathLike | None = None) -> Path:
    """Download the tutorial's three tables into ``<cache root>/nsynth_tutorial`` (checked).

    Raises
    ------
    ValueError if a download does not have the pinned SHA-256 (nothing is written then).
    """
    directory = _tables_directory(cache_dir)
    directory.mkdir(parents=True, exist_ok=True)
    for split, (sha256, _) in TUTORIAL_TABLES.items():
        url = TUTORIAL_URL.format(commit=TUTORIAL_COMMIT, name=_table_name(split))
        try:
            data = _fetch(url)
        except OSError as error:
            raise ConnectionError(f"could not download {url}: {error}") from error
        found = hashlib.sha256(data).hexdigest()
        if found != sha256:
            raise ValueError(
                f"{url} has SHA-256 {found}, expected {sha256}: the download is incomplete or the "
                "file changed. Nothing was saved; try again later."
            )
        staging = directory / f".{_table_name(split)}-{uuid.uuid4().hex}"
        staging.write_bytes(data)
        os.replace(staging, directory / _table_name(split))
    return directory


def load_tutorial_tables(cache_dir: str | os.PathLike | None = None,
                         download: bool = False) -> dict[str, pd.DataFrame]:
    """The original tutorial's NSynth feature tables, by split ("train", "valid", "test").

    Parameters
    ----------
    cache_dir : cache root (default: ``$ML4MIR_DATA`` or ``data/cache``).
    download : download the tables (about 0.8 MB) if they are not cached or fail their check.

    Returns
    -------
    dict of DataFrames indexed by NSynth file path, columns mfcc_00..mfcc_19 (MFCC means),
    chroma_00..chroma_11 (CQT chroma means), f0 (Hz) and instrument (NSynth family).
    """
    directory = _tables_directory(cache_dir)
    problems = _table_problems(directory)
    if problems and download:
        download_tutorial_tables(cache_dir)
        problems = _table_problems(directory)
    if problems:
        raise FileNotFoundError(
            f"The tutorial's NSynth tables are not usable in {directory} ({'; '.join(problems)}). "
            "Download them once with load_tutorial_tables(download=True) (needs the internet), or "
            "use the offline stand-in utils.data.load_gm_notes().tutorial_table()."
        )
    return {split: _read_table(directory / _table_name(split), rows)
            for split, (_, rows) in TUTORIAL_TABLES.items()}


def _table_problems(directory: Path) -> list[str]:
    problems = []
    for split, (sha256, _) in TUTORIAL_TABLES.items():
        path = directory / _table_name(split)
        if not path.is_file():
            problems.append(f"{path.name} is missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
            problems.append(f"{path.name} does not match its pinned SHA-256")
    return problems


def _read_table(path: Path, rows: int) -> pd.DataFrame:
    table = pd.read_csv(path, index_col=0)
    if list(table.columns) != TUTORIAL_COLUMNS or len(table) != rows:
        raise ValueError(f"{path} does not have the tutorial's layout ({rows} rows, columns "
                         f"{TUTORIAL_COLUMNS[0]}..{TUTORIAL_COLUMNS[-1]})")
    return table


@dataclass(repr=False)
class NSynthNotes:
    """Notes of one NSynth split.

    Attributes
    ----------
    audio : (n, samples) float32 in [-1, 1).
    sample_rate : Hz (16000 in NSynth).
    meta : note_str, instrument (id), instrument_str, family, source, pitch, velocity, qualities
        (comma-separated quality names), group (same instrument and pitch).
    root : the split's directory.
    """

    audio: np.ndarray
    sample_rate: int
    meta: pd.DataFrame
    root: Path

    def __len__(self) -> int:
        return len(self.audio)

    def __repr__(self) -> str:
        return f"NSynthNotes({len(self)} notes at {self.sample_rate} Hz from {self.root})"


def load_nsynth(root: str | os.PathLike, families: list[str] | None = None,
                max_notes: int | None = None, seconds: float | None = None) -> NSynthNotes:
    """Read one split of NSynth in its json/wav layout (e.g. an unpacked ``nsynth-test``).

    Parameters
    ----------
    root : directory holding ``examples.json`` and ``audio/``; download and unpack an archive from
        :data:`NSYNTH_URL` first (NSynth: CC BY 4.0, Engel et al. 2017).
    families : keep only these instrument families (e.g. ["brass", "reed"]).
    max_notes : keep the first ``max_notes`` notes (sorted by note_str) after filtering.
    seconds : crop or zero-pad every note to this length (default: the length of the first).

    Returns
    -------
    NSynthNotes, rows sorted by note_str.
    """
    import soundfile

    root = Path(root).expanduser()
    index = root / "examples.json"
    if not index.is_file():
        raise FileNotFoundError(
            f"{index} not found: root must be an unpacked NSynth split (examples.json and audio/), "
            f"e.g. from {NSYNTH_URL.format(split='test')}"
        )
    examples = json.loads(index.read_text())
    meta = pd.DataFrame.from_dict(examples, orient="index").sort_index()
    if families is not None:
        unknown = sorted(set(families) - set(meta.instrument_family_str))
        if unknown:
            raise ValueError(f"unknown families {unknown}; present: {sorted(set(meta.instrument_family_str))}")
        meta = meta[meta.instrument_family_str.isin(families)]
    meta = meta.iloc[:max_notes].reset_index(drop=True)
    if meta.empty:
        raise ValueError(f"no notes selected from {index}")
    clips = []
    sample_rate = int(meta.sample_rate.iloc[0])
    length = None if seconds is None else int(round(seconds * sample_rate))
    for note in meta.note_str:
        path = root / "audio" / f"{note}.wav"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is listed in examples.json but missing")
        clip, rate = soundfile.read(path, dtype="float32", always_2d=True)
        if rate != sample_rate:
            raise ValueError(f"{path} has sample rate {rate}, expected {sample_rate}")
        length = length or len(clip)
        clips.append(np.pad(clip.mean(axis=1)[:length], (0, max(0, length - len(clip)))))
    frame = pd.DataFrame({
        "note_str": meta.note_str, "instrument": meta.instrument.astype(int),
        "instrument_str": meta.instrument_str, "family": meta.instrument_family_str,
        "source": meta.instrument_source_str, "pitch": meta.pitch.astype(int),
        "velocity": meta.velocity.astype(int),
        "qualities": [",".join(q) for q in meta.qualities_str],
    })
    frame["group"] = frame.groupby(["instrument", "pitch"], sort=True).ngroup()
    return NSynthNotes(audio=np.stack(clips).astype(np.float32), sample_rate=sample_rate,
                       meta=frame, root=root)
