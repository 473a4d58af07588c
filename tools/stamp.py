"""Stamp the common parts of every notebook, and the README's syllabus, so they never drift.

Every notebook gets, from this one script:

- a first markdown cell (tagged ``badge``) with the Open-in-Colab badge for its own path;
- the common setup cell (tagged ``setup``), identical everywhere;
- no outputs and no execution counts (outputs are never committed);
- every heading at the start of a markdown cell of its own (a cell that holds one further down is
  split there);
- slide metadata for RISE (presenting a notebook from JupyterLab), by the rule the lecture decks of
  ``make slides`` follow (``tools/slide_plan.py``), so both show the same slides: headings that open
  a slide are ``slide``/``subslide``, a code cell tagged ``slide`` or ``slide-code`` is shown
  (``-``), other prose is ``notes``, everything else ``skip``; and RISE's settings (:data:`RISE_SETTINGS`: a theme that
  loads no web font, slide numbers, a scroll bar for a slide longer than the screen);
- the ``## References`` section, which ends the notebook: each of its ``- [key] ...`` lines
  rewritten to the line of ``REFERENCES.md`` with that key, so the notebooks cite from that one file
  and never drift from it (``- [key]`` alone is enough; an unknown key is an error).

The README's syllabus table (between ``<!-- syllabus:start -->`` and ``<!-- syllabus:end -->``) is
rebuilt from the notebooks' titles and first sentences. The repository slug comes from
``utils.course.REPOSITORY``, the one place it is set.

Usage::

    python tools/stamp.py                 # rewrite every notebook and the README in place
    python tools/stamp.py NOTEBOOK ...    # only these notebooks (not the README)
    python tools/stamp.py --check         # exit 1, listing what would change (make lint, the tests)
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import slide_plan  # noqa: E402

from utils.course import BRANCH, REPOSITORY  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"
REFERENCES = ROOT / "REFERENCES.md"
CLONE_DIR = "/content/metric-learning-for-mir"

SETUP_SOURCE = f'''\
# Common setup, stamped by tools/stamp.py (identical in every notebook; edit the script, not this cell).
# On Google Colab it installs FluidSynth, two more SoundFonts and the course package once; elsewhere
# it only imports, seeds and reports versions.
import os
import subprocess
import sys

if "google.colab" in sys.modules:
    if not os.path.exists("{CLONE_DIR}/.installed"):
        subprocess.run("apt-get -qq install -y libfluidsynth3 > /dev/null", shell=True, check=True)
        if subprocess.run("apt-get -qq install -y fluid-soundfont-gm musescore-general-soundfont-small "
                          "> /dev/null", shell=True).returncode:
            print("Skipped: the two other SoundFonts (FluidR3_GM, MuseScore General) did not install; "
                  "the sections that change the sample set say what they skip.")
        if not os.path.isdir("{CLONE_DIR}"):
            subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", "{BRANCH}",
                            "https://github.com/{REPOSITORY}", "{CLONE_DIR}"], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "{CLONE_DIR}"], check=True)
        open("{CLONE_DIR}/.installed", "w").close()
    sys.path.insert(0, "{CLONE_DIR}")
%matplotlib inline
from utils.course import setup

setup(seed=0)'''


def colab_url(notebook: Path) -> str:
    """The Colab address of a notebook of this repository."""
    relative = notebook.resolve().relative_to(ROOT).as_posix()
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/{relative}"


def badge_markdown(notebook: Path) -> str:
    """The Open-in-Colab badge of a notebook, as markdown."""
    image = "https://colab.research.google.com/assets/colab-badge.svg"
    return f"[![Open In Colab]({image})]({colab_url(notebook)})"


def notebook_paths() -> list[Path]:
    """Every course notebook, in syllabus order."""
    return sorted(p for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _tagged(cell: dict, tag: str) -> bool:
    return tag in cell.get("metadata", {}).get("tags", [])


def _put(cells: list, tag: str, cell, position: int) -> None:
    """Replace the cell tagged ``tag`` by ``cell``, or insert it at ``position``."""
    cell.metadata["tags"] = [tag]
    for i, existing in enumerate(cells):
        if _tagged(existing, tag):
            cell.id = existing.get("id", cell.id)
            cells[i] = cell
            return
    cells.insert(position, cell)


# RISE's default theme ("simple") imports two web fonts from a font CDN; "white" uses the fonts it ships.
RISE_SETTINGS = {"theme": "white", "slideNumber": "c/t", "scroll": True}

REFERENCES_HEADING = re.compile(r"^## References[ \t]*$", flags=re.M)
CITATION = re.compile(r"^- \[([^\]\s]+)\](?=\s|$)")


def reference_lines(path: Path = REFERENCES) -> dict[str, str]:
    """Every entry of REFERENCES.md by key: the exact ``- [key] ...`` line a notebook cites."""
    lines: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = CITATION.match(line)
        if match and match.group(1) in lines:
            raise ValueError(f"{path.name} has two entries [{match.group(1)}].")
        if match:
            lines[match.group(1)] = line.rstrip()
    return lines


def cite(section: str, references: dict[str, str], notebook: str) -> str:
    """A References section with each ``- [key] ...`` entry, wrapped or not, replaced by the line
    of REFERENCES.md for that key; ``notebook`` names the notebook in the error on an unknown key."""
    lines: list[str] = []
    in_entry = False
    for line in section.split("\n"):
        if in_entry and line.startswith((" ", "\t")) and line.strip():
            continue  # the rest of a wrapped entry
        match = CITATION.match(line)
        in_entry = match is not None
        if match and match.group(1) not in references:
            raise ValueError(f"{notebook} cites [{match.group(1)}], which is not in {REFERENCES.name}.")
        lines.append(references[match.group(1)] if match else line)
    return "\n".join(lines)


def stamp_references(cells: list, notebook: str) -> None:
    """Cite the References section's entries from REFERENCES.md."""
    references = reference_lines()
    for cell in cells:
        if cell.cell_type == "markdown" and REFERENCES_HEADING.match(cell.source):
            cell.source = cite(cell.source, references, notebook)


def stamp(notebook: Path) -> str:
    """The stamped JSON text of a notebook (badge, setup cell, references, no outputs)."""
    nb = nbformat.read(notebook, as_version=4)
    _put(nb.cells, "badge", nbformat.v4.new_markdown_cell(badge_markdown(notebook)), 0)
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    _put(nb.cells, "setup", nbformat.v4.new_code_cell(SETUP_SOURCE), first_code)
    nb.cells = slide_plan.split_at_headings(nb.cells)
    stamp_references(nb.cells, notebook.resolve().relative_to(ROOT).as_posix())
    for cell, slide_type in zip(nb.cells, slide_plan.rise_slide_types(nb.cells), strict=True):
        cell.metadata["slideshow"] = {"slide_type": slide_type}
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    nb.metadata.pop("jupytext", None)
    nb.metadata["rise"] = RISE_SETTINGS
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata.setdefault("language_info", {"name": "python"})
    return nbformat.writes(nb) + "\n"


def title_and_summary(notebook: Path) -> tuple[str, str]:
    """The notebook's title (first ``#`` heading) and the first sentence after it."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        match = re.search(r"^# (.+)$", cell.source, flags=re.M) if cell.cell_type == "markdown" else None
        if match:
            rest = cell.source[match.end():].strip().split("\n\n")[0].replace("\n", " ")
            sentence = re.split(r"(?<=[.!?])\s", rest, maxsplit=1)[0]
            return match.group(1).strip(), sentence
    raise ValueError(f"{notebook} has no '# Title' heading in a markdown cell.")


def syllabus_table() -> str:
    """The README's syllabus: one row per notebook, with its badge."""
    rows = ["| Notebook | What you will learn | Colab |", "|---|---|---|"]
    for notebook in notebook_paths():
        title, summary = title_and_summary(notebook)
        relative = notebook.relative_to(ROOT).as_posix()
        rows.append(f"| [{title}]({relative}) | {summary} | {badge_markdown(notebook)} |")
    return "\n".join(rows)


def stamped_readme() -> str:
    """The README with its syllabus table rebuilt."""
    text = README.read_text()
    start, end = "<!-- syllabus:start -->", "<!-- syllabus:end -->"
    if start not in text or end not in text:
        raise ValueError(f"README.md needs the markers {start} and {end} around the syllabus table.")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{syllabus_table()}\n{end}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="only these notebooks")
    parser.add_argument("--check", action="store_true", help="only report what would change")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or notebook_paths()
    targets = {path: stamp(path) for path in paths}
    if not args.notebooks:
        targets[README] = stamped_readme()
    stale = [path for path, text in targets.items() if path.read_text() != text]
    for path in stale:
        if args.check:
            print(f"not stamped: {path.relative_to(ROOT)} (run `python tools/stamp.py`)")
        else:
            path.write_text(targets[path])
            print(f"stamped {path.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
