"""The :class:`Dataset` every loader returns: audio, meta, splits and cached features."""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from utils import features as F
from utils.data.cache import (
    FEATURE_VERSION,
    CacheError,
    ReadOnlyCacheWarning,
    StaleCacheWarning,
    _array_from_buffer,
    _atomic_write_text,
    _file_entry,
    _read_meta,
    _read_verified,
    _sha256_file,
    _write_array,
)
from utils.data.render import _from_pcm
from utils.features import HOP_LENGTH, SAMPLE_RATE

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
    label : (class attribute) the meta column whose values are the classes ("instrument" for the
        GM notes, "label" for a folder of your own audio).
    """

    label: ClassVar[str] = "label"

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

    def tutorial_table(self, split: str | None = None) -> pd.DataFrame:
        """Features in the layout of the original tutorial's NSynth tables, for any clips.

        Columns mfcc_00..mfcc_19 and chroma_00..chroma_11 (means over frames) and f0 (Hz, dominant
        frequency between C1 and C6) (:func:`utils.features.tutorial_features`), one row per clip
        in ``meta``'s order, indexed by ``meta.path`` where it exists. ``split`` selects rows.
        """
        params = dict(_FEATURE_PARAMS, kind="tutorial", audio_checksum=self._audio_checksum)
        values = self._cached_feature("tutorial", params, lambda: _batched(
            F.tutorial_features, self.audio, "tutorial features"))
        index = self.meta["path"].to_numpy() if "path" in self.meta else None
        frame = pd.DataFrame(values.astype(np.float64), columns=F.TUTORIAL_COLUMNS[:-1], index=index)
        return frame if split is None else frame.iloc[self.split(split)]

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
