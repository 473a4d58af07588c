"""Chorales (:func:`load_chorales`): Bach chorale excerpts from the ``music21`` corpus, each rendered
in several versions (ensemble of GM programs, tempo, transposition), with per-voice stems and piano
rolls aligned with the audio frames; split by piece."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from utils import features as F
from utils.data.cache import (
    CacheError,
    _array_from_buffer,
    _load_or_build,
    _read_meta,
    _read_verified,
    _write_array,
    _write_meta,
)
from utils.data.dataset import FEATURE_KINDS, Dataset, _make_params, _manifest_params
from utils.data.render import (
    Renderer,
    _blocks,
    _chunks,
    _default_workers,
    _fluidsynth_version,
    _from_pcm,
    _map,
    _to_block_samples,
    _to_pcm,
    _unit_hash,
    check_soundfont,
)
from utils.features import SAMPLE_RATE

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

    label = "piece"

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
