"""Copies of notebooks with another ``SEED`` in their parameters cell (``make test-seeds``), the
papermill convention: the line ``SEED = ...`` of the cell tagged ``parameters`` is replaced.

    python tools/seeded.py --output-dir build/seeds notebooks/00_welcome.ipynb ... --seeds 1 2

writes ``build/seeds/seed-1/00_welcome.ipynb`` etc. (paths mirrored under notebooks/), which
``pytest --nbval-lax`` then executes: every claim must hold whatever ``SEED`` the reader sets.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SEED_LINE = re.compile(r"^SEED = \d+(?P<comment>\s*#.*)?$", re.MULTILINE)
DATA_LINE = re.compile(r"^DATA = [\"'][^\"']*[\"'](?P<comment>\s*#.*)?$", re.MULTILINE)


def _set_parameter(nb: nbformat.NotebookNode, line: re.Pattern, value: str, what: str,
                   name: str) -> nbformat.NotebookNode:
    """``nb`` with the one ``line`` of its parameters cell set to ``value`` (its comment kept)."""
    cells = [cell for cell in nb.cells if "parameters" in cell.metadata.get("tags", [])]
    if len(cells) != 1 or len(line.findall(cells[0].source)) != 1:
        raise ValueError(f"{name} needs exactly one parameters cell with one line {what}.")
    cells[0].source = line.sub(lambda m: f"{value}{m['comment'] or ''}", cells[0].source)
    return nb


def with_seed(nb: nbformat.NotebookNode, seed: int, name: str = "notebook") -> nbformat.NotebookNode:
    """``nb`` with ``SEED = seed`` in its parameters cell (a ``ValueError`` if it has no such line)."""
    return _set_parameter(nb, SEED_LINE, f"SEED = {seed}", "'SEED = <int>'", name)


def with_data(nb: nbformat.NotebookNode, spec: str, name: str = "notebook") -> nbformat.NotebookNode:
    """``nb`` with ``DATA = spec`` in its parameters cell (a ``ValueError`` if it has no such line)."""
    return _set_parameter(nb, DATA_LINE, f"DATA = {spec!r}", "'DATA = \"...\"'", name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--seeds", nargs="+", type=int, required=True)
    args = parser.parse_args(argv)
    for seed in args.seeds:
        for path in args.notebooks:
            nb = with_seed(nbformat.read(path, as_version=4), seed, str(path))
            target = args.output_dir / f"seed-{seed}" / path.resolve().relative_to(ROOT / "notebooks")
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, target)
    print(f"{len(args.notebooks)} notebooks x seeds {args.seeds} under {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
