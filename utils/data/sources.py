"""What a notebook's ``DATA`` parameter names: the course's GM notes, the same notes from another
SoundFont, a folder of your own audio, or a local NSynth split.

    DATA = "gm_notes"                  # the default: the course's notes (TimGM6mb)
    DATA = "gm_notes:FluidR3_GM"       # the same notes from another sample set (a SoundFont name or path)
    DATA = "folder:/path/to/music"     # any folder of audio files, labelled by sub-folder or labels.csv
    DATA = "nsynth:/path/to/nsynth-test"  # an unpacked NSynth split (examples.json and audio/)

Every source gives a :class:`~utils.data.Dataset` with ``meta`` columns ``split`` (class-disjoint
train/valid/test) and ``group`` (near-duplicates), its classes in the column ``dataset.label``.
The notebooks' prose describes the default data: elsewhere its claims are reported, not asserted
(:func:`utils.course.claims_for`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from utils.course import DEFAULT_DATA
from utils.data.dataset import Dataset
from utils.data.folders import load_audio_folder
from utils.data.gm_notes import load_gm_notes
from utils.data.nsynth import NSYNTH_URL

#: The prefixes a ``DATA`` string may start with.
SOURCES = ("gm_notes", "folder", "nsynth")


def parse_data(spec: str) -> tuple[str, str]:
    """``"folder:/music"`` -> ``("folder", "/music")``; ``"gm_notes"`` -> ``("gm_notes", "")``."""
    if not isinstance(spec, str):
        raise TypeError(f"DATA must be a string such as 'gm_notes' or 'folder:/path/to/music', not {spec!r}.")
    source, _, argument = spec.partition(":")
    if source not in SOURCES:
        raise ValueError(f"DATA = {spec!r} names no source. Use 'gm_notes' (the default), "
                         f"'gm_notes:<SoundFont>', 'folder:/path/to/music' or 'nsynth:/path/to/split'.")
    if source in ("folder", "nsynth") and not argument:
        raise ValueError(f"DATA = {spec!r} lacks its path: write '{source}:/path/to/it'.")
    return source, argument


def is_default(spec: str) -> bool:
    """Whether ``spec`` names the data the notebooks' prose describes."""
    return parse_data(spec) == (DEFAULT_DATA, "")


def load_data(spec: str = DEFAULT_DATA, *, cache_dir: str | os.PathLike | None = None,
              progress: bool = True) -> Dataset:
    """The dataset ``spec`` names (see the module docstring); built once, then cached."""
    source, argument = parse_data(spec)
    if source == "gm_notes":
        return load_gm_notes(cache_dir, progress=progress, soundfont=argument or None)
    if source == "folder":
        return load_audio_folder(argument, cache_dir=cache_dir)
    return load_nsynth_folder(argument, cache_dir=cache_dir)


def load_nsynth_folder(root: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None,
                       clip_seconds: float = 1.28) -> Dataset:
    """An unpacked NSynth split (``examples.json`` and ``audio/``) as a folder dataset.

    Classes (``label``) are NSynth's instruments (``instrument_str``), split class-disjointly;
    ``group`` is the instrument and pitch (velocities of one note are near-duplicates); ``family``,
    ``source``, ``pitch`` and ``velocity`` are kept as attributes. Notes are cut to the first
    ``clip_seconds`` (NSynth's are 4 s; the course's GM notes 1.28 s).
    """
    root = Path(root).expanduser()
    index = root / "examples.json"
    if not index.is_file():
        raise FileNotFoundError(f"{index} not found: an NSynth split is a folder holding examples.json and "
                                f"audio/, e.g. {NSYNTH_URL.format(split='test')} unpacked.")
    examples = pd.DataFrame.from_dict(json.loads(index.read_text()), orient="index").sort_index()
    labels = pd.DataFrame({
        "path": "audio/" + examples.index + ".wav",
        "label": examples.instrument_str,
        "group": examples.instrument_str + "-" + examples.pitch.astype(int).map("{:03d}".format),
        "family": examples.instrument_family_str,
        "source": examples.instrument_source_str,
        "pitch": examples.pitch.astype(int),
        "velocity": examples.velocity.astype(int),
    })
    return load_audio_folder(root, cache_dir=cache_dir, labels_csv=labels, clip_seconds=clip_seconds)
