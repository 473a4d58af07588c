"""GM notes (:func:`load_gm_notes`): an NSynth-like set of single notes, 60 GM programs in 12
families, pitches in each instrument's range, 4 velocities, class-disjoint splits (36 training, 12
validation, 12 test instruments) and a split by pitch."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from utils.data.cache import _load_or_build, _write_array, _write_meta
from utils.data.dataset import (
    FEATURE_KINDS,
    Dataset,
    _make_params,
    _manifest_params,
    _read_audio_dataset,
)
from utils.data.render import (
    SILENCE,
    Renderer,
    _blocks,
    _chunks,
    _default_workers,
    _fluidsynth_version,
    _map,
    _to_pcm,
    _unit_hash,
    check_soundfont,
    quiet_import,
)

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
    soundfont : a SoundFont 2 file, or a name of :data:`~utils.data.render.SOUNDFONTS` ("FluidR3_GM",
        "MuseScore_General"; default None: TimGM6mb from pretty_midi).
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
    pretty_midi = quiet_import("pretty_midi")
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


@dataclass(repr=False)
class GMNotes(Dataset):
    """Single notes of GM instruments (an NSynth-like set); see :func:`load_gm_notes`."""

    label = "instrument"

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
        meta = self.meta
        frame = super().tutorial_table()
        frame.index = [f"{s}/{f}_{p:03d}-{q:03d}-{v:03d}.wav" for s, f, p, q, v in
                       zip(meta.split, meta.family, meta.program, meta.pitch, meta.velocity, strict=True)]
        frame["instrument"] = meta.family.to_numpy()
        return frame if split is None else frame.iloc[self.split(split)]


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
