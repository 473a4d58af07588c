"""FluidSynth rendering shared by the synthesised datasets: SoundFonts, a block-exact renderer,
16-bit PCM storage and the worker pool.

Rendering notes (see FIELD-NOTES.md): reverb and chorus are off; audio is written as float (no
dither) and stored as 16-bit PCM with one fixed gain per dataset (no per-clip normalisation, so
velocity is heard as loudness). A synthesizer is created afresh for every program (GM notes) or
piece (chorales), so each clip depends only on the build parameters, never on the worker count.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import io
import os
import sys
import types
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from utils.features import SAMPLE_RATE

#: FluidSynth renders in blocks of this many samples; events fall on block boundaries.
BLOCK = 64


#: A rendered note whose peak stays below this (float full scale 1.0) is silence.
SILENCE = 1e-4


def default_soundfont() -> Path:
    """The General MIDI SoundFont shipped with pretty_midi (TimGM6mb.sf2, GPL-2, Tim Brechbill)."""
    return Path(quiet_import("pretty_midi").__file__).resolve().parent / "TimGM6mb.sf2"


#: Other General MIDI SoundFonts known by name: (path, the Debian package that installs it; `make
#: install` does where apt-get can). Another sample set: the same notes, other recordings.
SOUNDFONTS: dict[str, tuple[str, str]] = {
    "FluidR3_GM": ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "fluid-soundfont-gm"),
    "MuseScore_General": ("/usr/share/sounds/sf3/MuseScore_General.sf3", "musescore-general-soundfont-small"),
}


def available_soundfonts() -> list[str]:
    """The names of :data:`SOUNDFONTS` installed here (notebooks skip what is missing)."""
    return [name for name, (path, _) in SOUNDFONTS.items() if Path(path).is_file()]


def check_soundfont(path: str | os.PathLike | None) -> Path:
    """Resolve a SoundFont (``None``: the default TimGM6mb; a name of :data:`SOUNDFONTS`; or a
    path) and check that it is a SoundFont 2 (or 3) file."""
    if isinstance(path, str) and path in SOUNDFONTS:
        known, package = SOUNDFONTS[path]
        if not Path(known).is_file():
            raise FileNotFoundError(f"The SoundFont {path} is not installed ({known} is missing). "
                                    f"Install it with `sudo apt-get install {package}` (make install does "
                                    f"where apt-get can), or use soundfont=None for the default TimGM6mb.")
        path = known
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


FLUIDSYNTH_HELP = """\
FluidSynth is needed to render the course datasets, but it could not be loaded ({error}).
Install the FluidSynth library and its Python binding (pyfluidsynth):
  Debian/Ubuntu:  sudo apt-get install -y fluidsynth        (provides libfluidsynth3)
  Google Colab:   !apt-get install -y fluidsynth            (the notebooks' setup cell does this)
  macOS:          brew install fluid-synth
  conda:          conda install -c conda-forge fluidsynth pyfluidsynth
then, outside conda:  pip install pyfluidsynth"""


def quiet_import(module: str) -> types.ModuleType:
    """Import a module whose import prints: pyfluidsynth (and pretty_midi, which imports it) print where
    they found the library when ``CI`` is set, into every notebook's output."""
    with contextlib.redirect_stdout(io.StringIO()):
        return importlib.import_module(module)


def import_fluidsynth():
    """Import pyfluidsynth, or raise ImportError saying how to install FluidSynth."""
    try:
        fluidsynth = quiet_import("fluidsynth")
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


def _fluidsynth_version() -> str:
    import ctypes

    fluidsynth = import_fluidsynth()
    numbers = [ctypes.c_int(), ctypes.c_int(), ctypes.c_int()]
    fluidsynth._fl.fluid_version(*[ctypes.byref(n) for n in numbers])
    return ".".join(str(n.value) for n in numbers)


def _spawn_is_safe() -> bool:
    """Whether spawned workers can start: they re-import the main script, so only an interactive
    session (Jupyter, REPL) or this module's command line is known to be safe."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return not hasattr(main, "__file__") or (spec is not None and spec.name in ("utils.data", "utils.data.__main__"))


def _default_workers(workers: int | None) -> int:
    """``workers``, or by default 2 processes where that is safe (else 1: in this process)."""
    if workers is None:
        return max(1, min(2, os.cpu_count() or 1)) if _spawn_is_safe() else 1
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    return workers


def _to_block_samples(seconds: np.ndarray) -> np.ndarray:
    return (np.round(seconds * SAMPLE_RATE / BLOCK) * BLOCK).astype(int)
