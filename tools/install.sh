#!/usr/bin/env bash
# `make install`: set up the course in the active Python environment (venv, conda env or Colab).
# 1. the system FluidSynth library (apt-get, brew or conda), 2. a CPU build of torch unless a
# suitable torch is already installed (Colab's, say), 3. this package with its dev extras,
# 4. where npm is found, the offline site's scripts and fonts (reveal.js, MathJax) for make html/slides,
# 5. where apt-get can, two more General MIDI SoundFonts (FluidR3_GM, MuseScore General) for soundfont=.
set -euo pipefail
PYTHON=${PYTHON:-python3}
TORCH_RANGE=$(sed -n 's/^ *"\(torch[<>=][^"]*\)",$/\1/p' pyproject.toml)
TORCH_CPU_INDEX=${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}

have_fluidsynth() {
  "$PYTHON" -c 'import ctypes.util, sys; sys.exit(0 if ctypes.util.find_library("fluidsynth") else 1)'
}

install_fluidsynth() {
  if [ -n "${CONDA_PREFIX:-}" ] && command -v conda >/dev/null; then
    conda install -y -c conda-forge fluidsynth
  elif command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq libfluidsynth3
  elif command -v apt-get >/dev/null && command -v sudo >/dev/null; then
    sudo apt-get update -qq && sudo apt-get install -y -qq libfluidsynth3
  elif command -v brew >/dev/null; then
    brew install fluid-synth
  else
    cat >&2 <<'MSG'
FluidSynth's library is missing and this script cannot install it here. Install it, then rerun:
  Debian/Ubuntu/Colab: sudo apt-get install libfluidsynth3
  macOS (Homebrew):    brew install fluid-synth
  conda:               conda install -c conda-forge fluidsynth
MSG
    exit 1
  fi
}

torch_ok() {
  "$PYTHON" - "$TORCH_RANGE" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
from packaging.requirements import Requirement
try:
    installed = version("torch")
except PackageNotFoundError:
    sys.exit(1)
sys.exit(0 if Requirement(sys.argv[1]).specifier.contains(installed, prereleases=True) else 1)
PY
}

have_fluidsynth || install_fluidsynth
have_fluidsynth || { echo "FluidSynth was installed but Python cannot find it (ctypes.util.find_library)." >&2; exit 1; }

if torch_ok; then
  echo "Keeping the installed torch $("$PYTHON" -c 'import torch; print(torch.__version__)')."
else
  echo "Installing a CPU build of $TORCH_RANGE (set TORCH_CPU_INDEX to change where from)."
  # --isolated: only that index, whatever pip.conf adds. Fallbacks where that index is out of
  # reach: the release the course is tested with (a local CPU wheel on some machines), then
  # whatever the package index offers in the range.
  "$PYTHON" -m pip install --isolated --retries 0 --timeout 20 --index-url "$TORCH_CPU_INDEX" "$TORCH_RANGE" \
    || "$PYTHON" -m pip install "torch==2.13.*" \
    || "$PYTHON" -m pip install "$TORCH_RANGE"
fi

install_soundfonts() {
  local packages="fluid-soundfont-gm musescore-general-soundfont-small" sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  if command -v apt-get >/dev/null && { [ -z "$sudo" ] || command -v sudo >/dev/null; }; then
    { $sudo apt-get install -y -qq $packages >/dev/null 2>&1 \
        || { $sudo apt-get update -qq && $sudo apt-get install -y -qq $packages >/dev/null; }; } \
      || echo "apt-get could not install $packages: the notebooks then skip their other-SoundFont sections." >&2
  else
    echo "No apt-get here: the other SoundFonts (FluidR3_GM, MuseScore General) are skipped; the course's own (TimGM6mb) needs none."
  fi
}

"$PYTHON" -m pip install -e ".[dev]"
install_soundfonts
if command -v npm >/dev/null; then
  npm ci --prefix tools/site --no-audit --no-fund --loglevel=error \
    || echo "npm could not install the site's assets: make html and make slides need them (npm ci --prefix tools/site)." >&2
else
  echo "npm not found: make html and make slides need it once (npm ci --prefix tools/site); the rest works without."
fi
"$PYTHON" -c "import utils, torch, fluidsynth; print('ml4mir', utils.__version__, 'with torch', torch.__version__, 'is ready.')"
