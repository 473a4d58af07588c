"""Every notebook follows the course template (DESIGN.md section 4) and carries no outputs."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import stamp  # noqa: E402

NOTEBOOKS = stamp.notebook_paths()
SECTIONS = ("learning objectives", "prerequisites", "run time", "exercise", "pitfalls",
            "things to try next", "references")


def test_the_course_has_its_folders_and_notebooks():
    for folder in ("1_foundations", "2_deep_metric_learning", "3_variations"):
        assert (ROOT / "notebooks" / folder).is_dir()
    assert (ROOT / "notebooks" / "00_welcome.ipynb") in NOTEBOOKS


def test_notebooks_and_readme_are_stamped():
    """Badge, setup cell and syllabus are exactly what tools/stamp.py writes; no outputs."""
    stale = [p.relative_to(ROOT).as_posix() for p in NOTEBOOKS if p.read_text() != stamp.stamp(p)]
    assert not stale, f"run `make stamp`: {stale}"
    assert (ROOT / "README.md").read_text() == stamp.stamped_readme(), "run `make stamp`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_notebook_anatomy(path: Path):
    nb = nbformat.read(path, as_version=4)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown").lower()
    missing = [s for s in SECTIONS if s not in markdown]
    assert not missing, f"{path.name} lacks sections {missing}"
    assert re.search(r"^# \S", nb.cells[1].source, flags=re.M), "the cell after the badge holds the title"
    tags = [set(c.metadata.get("tags", [])) for c in nb.cells]
    assert sum("parameters" in t for t in tags) == 1, "exactly one cell tagged 'parameters'"
    assert any("solution" in t for t in tags), "exercises need a reference solution cell tagged 'solution'"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "utils.exercises" in code or "from utils import exercises" in code, "exercises need a checker"
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "outputs committed"


def test_setup_cell_is_identical_everywhere():
    setups = {tuple(c.source for c in nbformat.read(p, as_version=4).cells if "setup" in c.metadata.get("tags", []))
              for p in NOTEBOOKS}
    assert setups == {(stamp.SETUP_SOURCE,)}


def test_setup_cell_runs_outside_colab(capsys):
    """Outside Colab the setup cell only imports, seeds and prints versions (no install)."""
    source = stamp.SETUP_SOURCE.replace("%matplotlib inline", "")
    assert "google.colab" not in sys.modules
    exec(compile(source, "setup-cell", "exec"), {})
    assert "torch" in capsys.readouterr().out


def simulated_colab(tmp_path, monkeypatch, failing: str = ""):
    """A fresh (simulated) Colab runtime: ``(commands run, the clone's path, a function that runs the
    setup cell)``; a command whose text contains ``failing`` exits with status 100."""
    import subprocess
    import types

    clone, commands = tmp_path / "course", []

    def fake_run(command, **options):
        commands.append(command)
        if "clone" in command:
            clone.mkdir()
        return subprocess.CompletedProcess(command, 100 if failing and failing in str(command) else 0)

    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr(sys, "path", list(sys.path))
    source = stamp.SETUP_SOURCE.replace("%matplotlib inline", "").replace(stamp.CLONE_DIR, str(clone))
    return commands, clone, lambda: exec(compile(source, "setup-cell", "exec"), {})


def test_setup_cell_on_colab_installs_once(tmp_path, monkeypatch, capsys):
    """On a (simulated) fresh Colab runtime the cell installs FluidSynth, clones and installs the
    course once; run again, it installs nothing; either way the notebook's imports then work."""
    commands, clone, run_cell = simulated_colab(tmp_path, monkeypatch)
    for _ in range(2):
        run_cell()
    assert len(commands) == 4 and (clone / ".installed").exists()
    assert "libfluidsynth3" in commands[0] and "fluid-soundfont-gm musescore-general-soundfont-small" in commands[1]
    assert f"https://github.com/{stamp.REPOSITORY}" in commands[2]
    assert commands[3][-2:] == ["-e", str(clone)]
    printed = capsys.readouterr().out
    assert "torch" in printed and "Skipped" not in printed


def test_setup_cell_on_colab_says_what_it_skips_without_the_soundfonts(tmp_path, monkeypatch, capsys):
    """Where apt-get cannot install the extra SoundFonts, the cell says so and installs the rest."""
    commands, clone, run_cell = simulated_colab(tmp_path, monkeypatch, failing="soundfont")
    run_cell()
    assert (clone / ".installed").exists() and "Skipped: the two other SoundFonts" in capsys.readouterr().out
