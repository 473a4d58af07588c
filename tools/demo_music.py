"""Small folders of generated audio to try (and test) the notebooks' ``DATA`` on: a folder of "your
own music" in mixed formats, and a split in NSynth's json/wav layout.

    python tools/demo_music.py folder /tmp/my-music     # then DATA = "folder:/tmp/my-music"
    python tools/demo_music.py nsynth /tmp/nsynth-mini  # then DATA = "nsynth:/tmp/nsynth-mini"

Twelve synthetic "instruments" (six spectra x two envelopes) play notes at several pitches; files
cycle through wav (16 kHz), flac (22.05 kHz), ogg and mp3 (44.1 kHz, stereo) so that decoding,
resampling and down-mixing are exercised. Deterministic: the same files every time.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

#: Relative amplitude of harmonic h (1, 2, ...) for each spectrum; "bell" has inharmonic partials.
SPECTRA = {
    "flute": lambda h: np.where(h == 1, 1.0, 0.1 / h),
    "clarinet": lambda h: np.where(h % 2 == 1, 1.0 / h, 0.02),
    "brass": lambda h: 1.0 / h ** 0.7,
    "string": lambda h: 1.0 / h,
    "organ": lambda h: np.where(np.isin(h, (1, 2, 4, 8)), 1.0, 0.0),
    "bell": lambda h: 1.0 / h,
}
ENVELOPES = ("plucked", "bowed")
LABELS = tuple(f"{spectrum}_{envelope}" for spectrum in SPECTRA for envelope in ENVELOPES)
FORMATS = (("wav", 16000, 1), ("flac", 22050, 1), ("ogg", 44100, 2), ("mp3", 44100, 2))
PITCHES = (45, 50, 55, 57, 60, 64, 67, 72)  # MIDI notes of each label's files


def note(label: str, pitch: int, rate: int, seconds: float = 1.5) -> np.ndarray:
    """One note of a synthetic instrument: (samples,) float32 in [-0.5, 0.5]."""
    spectrum, envelope = label.rsplit("_", 1)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    harmonics = np.arange(1, 13)
    ratios = harmonics * (1 + 0.03 * harmonics) if spectrum == "bell" else harmonics
    amplitudes = SPECTRA[spectrum](harmonics) * (ratios * f0 < rate / 2)
    wave = (amplitudes[:, None] * np.sin(2 * np.pi * f0 * ratios[:, None] * t)).sum(axis=0)
    shape = np.exp(-4 * t) if envelope == "plucked" else np.minimum(1.0, t / 0.3) * (t < seconds - 0.2)
    audio = wave * shape
    return (0.5 * audio / np.abs(audio).max()).astype(np.float32)


def write_music_folder(root: str | Path) -> Path:
    """12 labels x 8 files (one sub-folder per label), mixed formats and rates; returns ``root``."""
    import soundfile

    root = Path(root)
    for label in LABELS:
        (root / label).mkdir(parents=True, exist_ok=True)
        for index, pitch in enumerate(PITCHES):
            suffix, rate, channels = FORMATS[index % len(FORMATS)]
            audio = note(label, pitch, rate)
            audio = np.stack([audio] * channels, axis=1) if channels > 1 else audio
            soundfile.write(root / label / f"{label}-{pitch:03d}.{suffix}", audio, rate)
    return root


def write_nsynth_split(root: str | Path, velocities: tuple[int, ...] = (50, 100)) -> Path:
    """The same instruments in NSynth's layout (examples.json, audio/<note_str>.wav, 16 kHz int16),
    two velocities of every note (near-duplicates); returns ``root``."""
    import soundfile

    root = Path(root)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    examples = {}
    for number, label in enumerate(LABELS):
        family, envelope = label.rsplit("_", 1)
        instrument_str = f"{family}_{'acoustic' if envelope == 'plucked' else 'synthetic'}_{number:03d}"
        for pitch in PITCHES:
            for velocity in velocities:
                note_str = f"{instrument_str}-{pitch:03d}-{velocity:03d}"
                audio = note(label, pitch, 16000, seconds=2.0) * velocity / 127
                soundfile.write(root / "audio" / f"{note_str}.wav", audio, 16000, subtype="PCM_16")
                examples[note_str] = {
                    "note_str": note_str, "instrument": number, "instrument_str": instrument_str,
                    "instrument_family": list(SPECTRA).index(family), "instrument_family_str": family,
                    "instrument_source": int(envelope != "plucked"),
                    "instrument_source_str": instrument_str.split("_")[1], "pitch": pitch,
                    "velocity": velocity, "sample_rate": 16000, "qualities": [0] * 10, "qualities_str": [],
                }
    (root / "examples.json").write_text(json.dumps(examples, indent=1))
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("layout", choices=("folder", "nsynth"))
    parser.add_argument("root", type=Path)
    args = parser.parse_args(argv)
    root = (write_music_folder if args.layout == "folder" else write_nsynth_split)(args.root)
    print(f'Wrote {args.root}: set DATA = "{args.layout}:{root.resolve()}" in a notebook\'s parameters cell.')
    return 0


if __name__ == "__main__":
    sys.exit(main())
