"""Your own music (:func:`load_audio_folder`): any folder of audio files as a course dataset.

Labels come from the sub-folder names (``root/<label>/<file>``) or from a CSV beside the files
(``path`` and ``label`` columns, optional ``group`` and ``split``; any other column, such as
artist, key or pitch, is kept in ``meta`` as an attribute for neighbour tables). Every file is decoded, mixed to
mono, resampled to the course's 16 kHz and cut (or zero-padded) into fixed-length clips, then
cached like the GM notes (manifest, checksums, atomic publish; identified by the files' contents).
Every problem is found before anything is written, and named with its file: a half-built cache
never appears.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import librosa
import numpy as np
import pandas as pd

from utils.checks import check_int, check_number
from utils.data.cache import _load_or_build, _write_array, _write_meta
from utils.data.dataset import Dataset, _read_audio_dataset
from utils.data.render import SILENCE
from utils.features import SAMPLE_RATE

#: File name endings read as audio (decoded by libsndfile through ``soundfile``).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
#: Fractions of the labels (classes) in the validation and test splits (at least one label each).
SPLIT_FRACTIONS = {"valid": 0.2, "test": 0.2}


class AudioFolderError(ValueError):
    """A folder or one of its files cannot become a dataset; the message names the file."""


@dataclass(repr=False)
class AudioFolder(Dataset):
    """Clips of a folder of audio files; see :func:`load_audio_folder`."""


@dataclass(frozen=True)
class _Entry:
    path: str     # relative to the folder, with forward slashes
    label: str
    group: str
    split: str    # "" when the split is left to the label hash
    sha256: str
    attributes: tuple[tuple[str, str], ...] = ()  # further CSV columns: (name, value)


def load_audio_folder(path: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None,
                      labels_csv: str | os.PathLike | pd.DataFrame | None = None, clip_seconds: float = 1.28,
                      clips_per_file: int = 1, min_seconds: float | None = None,
                      rebuild: bool = False) -> AudioFolder:
    """A folder of audio files (wav, flac, ogg, mp3) as a course dataset (built once, then cached).

    Parameters
    ----------
    path : the folder. Labels are the names of its sub-folders (``path/<label>/.../<file>``),
        unless a CSV gives them.
    labels_csv : a CSV (or a DataFrame) with columns ``path`` (relative to ``path``) and ``label``,
        optional ``group`` (same-source items: excluded from each other's ground truth; default:
        the file) and ``split`` (train/valid/test); other columns are kept in ``meta`` (numbers as
        numbers). Default: ``path/labels.csv`` if it exists.
    clip_seconds : length of every clip; longer files are cut, shorter ones zero-padded.
    clips_per_file : consecutive clips taken from each file (they share its group).
    min_seconds : files shorter than this are refused (default: a quarter of a clip).
    cache_dir, rebuild : as for :func:`utils.data.load_gm_notes`.

    Returns
    -------
    AudioFolder with ``audio`` (n, clip samples) float32 at 16 kHz and ``meta`` columns path,
    label, group, clip_in_file (0, 1, ... within the file), start_seconds, split: class-disjoint unless the CSV
    gives one (about 20% of the labels valid, 20% test, by a hash of the label, so a label keeps
    its split when files are added), and ``features(kind)`` like every course dataset.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise AudioFolderError(f"{root} is not a folder. Pass the folder holding your audio files "
                               f"(one sub-folder per label, or a labels.csv beside them).")
    clip_seconds = check_number(clip_seconds, "clip_seconds", minimum=0.1)
    clips_per_file = check_int(clips_per_file, "clips_per_file")
    min_seconds = clip_seconds / 4 if min_seconds is None else check_number(min_seconds, "min_seconds", minimum=0.0)
    entries = _entries(root, labels_csv)
    params = {"files": [[e.path, e.label, e.group, e.split, e.sha256, *map(list, e.attributes)]
                        for e in entries],
              "clip_seconds": clip_seconds, "clips_per_file": clips_per_file, "min_seconds": min_seconds,
              "sample_rate": SAMPLE_RATE}
    return _load_or_build("audio_folder", params, cache_dir, rebuild,
                          lambda staging: _build(root, entries, params, staging),
                          _read_audio_dataset(AudioFolder, "audio_folder", params))


# --- the file list and its labels -----------------------------------------------------------------


def _entries(root: Path, labels_csv: str | os.PathLike | pd.DataFrame | None) -> list[_Entry]:
    if isinstance(labels_csv, pd.DataFrame):
        rows = _rows_from_table(root, labels_csv.astype(str), "labels_csv")
    else:
        csv = Path(labels_csv).expanduser() if labels_csv is not None else root / "labels.csv"
        if labels_csv is not None and not csv.is_file():
            raise AudioFolderError(f"labels_csv {csv} does not exist.")
        rows = (_rows_from_table(root, pd.read_csv(csv, dtype=str, keep_default_na=False), str(csv))
                if csv.is_file() else _rows_from_folders(root))
    entries = [_Entry(path, label, group or path, split, _sha256(root / path), attributes)
               for path, label, group, split, attributes in rows]
    _check_labels(entries, root)
    return entries


def _rows_from_folders(root: Path) -> list[tuple[str, str, str, str]]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise AudioFolderError(f"{root} holds no audio files ({', '.join(AUDIO_SUFFIXES)}).")
    loose = [p for p in files if p.parent == root]
    if loose:
        raise AudioFolderError(f"{loose[0]} lies directly in {root}, so it has no label: put each file in "
                               f"a sub-folder named after its label, or give a labels.csv.")
    return [(p.relative_to(root).as_posix(), p.relative_to(root).parts[0], "", "", ()) for p in files]


#: Columns of a labels table with a meaning of their own; any other column is an attribute.
_LABEL_COLUMNS = ("path", "label", "group", "split")


def _rows_from_table(root: Path, table: pd.DataFrame, source: str) -> list[tuple]:
    missing = {"path", "label"} - set(table.columns)
    if missing:
        raise AudioFolderError(f"{source} lacks the column(s) {sorted(missing)}; it needs path and label "
                               f"(optional: group, split). Columns found: {list(table.columns)}.")
    extra = [column for column in table.columns if column not in _LABEL_COLUMNS]
    reserved = sorted(set(extra) & {"clip_in_file", "start_seconds"})
    if reserved:
        raise AudioFolderError(f"{source} has the column(s) {reserved}, which the dataset computes itself: "
                               f"rename them.")
    rows = []
    for line, row in enumerate(table.to_dict("records"), start=2):
        if not (root / row["path"]).is_file():
            raise AudioFolderError(f"{source}, line {line}: {root / row['path']} does not exist.")
        if not row["label"]:
            raise AudioFolderError(f"{source}, line {line}: {row['path']} has an empty label.")
        split = row.get("split", "")
        if split not in ("", "train", "valid", "test"):
            raise AudioFolderError(f"{source}, line {line}: split {split!r} is not train, valid or test.")
        attributes = tuple((column, row[column]) for column in extra)
        rows.append((Path(row["path"]).as_posix(), row["label"], row.get("group", ""), split, attributes))
    if not rows:
        raise AudioFolderError(f"{source} lists no files.")
    return rows


def _check_labels(entries: list[_Entry], root: Path) -> None:
    counts = pd.Series([e.label for e in entries]).value_counts()
    if len(counts) < 3:
        raise AudioFolderError(f"{root} has {len(counts)} label(s) ({', '.join(counts.index)}): metric learning "
                               f"with class-disjoint train, validation and test splits needs at least 3.")
    single = [label for label, count in counts.items() if count < 2]
    if single:
        lonely = next(e.path for e in entries if e.label == single[0])
        raise AudioFolderError(f"label {single[0]!r} has a single file ({root / lonely}): as a query it would "
                               f"have nothing to find. Add another file of that label, or remove it.")


def _numbers_if_all_are(values: pd.Series) -> pd.Series:
    """``values`` as integers or floats if every one parses as a number, else unchanged (strings)."""
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().any():
        return values
    return numbers.astype(np.int64) if (numbers == numbers.round()).all() else numbers


def _midi_numbers(pitches: pd.Series) -> pd.Series:
    """A ``pitch`` column as MIDI note numbers: numbers stay, note names ("C4", "F#3", "Bb2") become numbers."""
    if pd.api.types.is_numeric_dtype(pitches):
        return pitches
    numbers = []
    for pitch in pitches:
        try:
            numbers.append(int(pitch) if str(pitch).isdigit() else librosa.note_to_midi(pitch))
        except librosa.util.exceptions.ParameterError:
            raise AudioFolderError(f"the pitch column holds {pitch!r}, neither a MIDI note number nor a note "
                                   "name like 'C4' or 'F#3': fix it, or rename the column (a `pitch` is read "
                                   "as a pitch).") from None
    return pd.Series(numbers, index=pitches.index, dtype=np.int64)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def class_disjoint_split(labels: list[str] | np.ndarray) -> dict[str, str]:
    """Label -> "train"/"valid"/"test": about 20% of the labels each for valid and test (at least
    one), chosen by a hash of the label (stable when labels are added)."""
    names = sorted(set(labels), key=lambda name: hashlib.sha256(name.encode()).hexdigest())
    counts = {split: max(1, round(fraction * len(names))) for split, fraction in SPLIT_FRACTIONS.items()}
    order = ["test"] * counts["test"] + ["valid"] * counts["valid"]
    return {name: order[i] if i < len(order) else "train" for i, name in enumerate(names)}


# --- decoding and the build -----------------------------------------------------------------------


def decode(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A file's audio as mono float32 at ``sample_rate`` (n_samples,); a clear error if unreadable."""
    import soundfile

    try:
        audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioFolderError(f"{path} cannot be read as audio ({error}). Convert it to wav or flac, "
                               f"or remove it.") from error
    mono = audio.mean(axis=1)
    if rate != sample_rate and len(mono):
        import soxr

        mono = soxr.resample(mono, rate, sample_rate, quality="HQ").astype(np.float32)
    return mono


def _clips(audio: np.ndarray, n_samples: int, count: int) -> list[tuple[int, np.ndarray]]:
    """Up to ``count`` consecutive clips (start sample, clip) of ``n_samples``; the last padded."""
    starts = range(0, max(1, len(audio) - n_samples // 4), n_samples)
    clips = []
    for start in list(starts)[:count]:
        clip = audio[start:start + n_samples]
        clips.append((start, np.pad(clip, (0, n_samples - len(clip)))))
    return clips


def _build(root: Path, entries: list[_Entry], params: dict[str, Any], staging: Path) -> dict:
    """Decode, check and cut every file (raising, before anything is written, on the first bad
    one), then write audio.npy and meta.csv."""
    n_samples = int(round(params["clip_seconds"] * SAMPLE_RATE))
    audio, rows = [], []
    for entry in entries:
        signal = decode(root / entry.path)
        seconds = len(signal) / SAMPLE_RATE
        if seconds < params["min_seconds"]:
            raise AudioFolderError(f"{root / entry.path} lasts {seconds:.2f} s, less than min_seconds = "
                                   f"{params['min_seconds']:.2f} s: remove it or lower min_seconds.")
        for index, (start, clip) in enumerate(_clips(signal, n_samples, params["clips_per_file"])):
            if np.abs(clip).max(initial=0.0) <= SILENCE:
                raise AudioFolderError(f"{root / entry.path} is silent from {start / SAMPLE_RATE:.2f} s "
                                       f"(peak below {SILENCE}): remove it, or trim its silence.")
            audio.append(clip)
            rows.append({"path": entry.path, "label": entry.label, "group": entry.group, "clip_in_file": index,
                         "start_seconds": round(start / SAMPLE_RATE, 3), "split": entry.split,
                         **dict(entry.attributes)})
    meta = pd.DataFrame(rows)
    for column, _ in entries[0].attributes:
        meta[column] = _numbers_if_all_are(meta[column])
    if "pitch" in meta:
        meta["pitch"] = _midi_numbers(meta["pitch"])
    if (meta["split"] == "").any():
        by_label = class_disjoint_split(meta["label"].to_numpy())
        meta["split"] = [split or by_label[label] for split, label in zip(meta["split"], meta["label"], strict=True)]
    pcm = np.round(np.clip(np.stack(audio), -1.0, 32767 / 32768) * 32768.0).astype(np.int16)
    _write_array(staging, "audio.npy", pcm)
    return {"meta_dtypes": _write_meta(staging, meta), "root": str(root)}
