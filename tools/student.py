"""Student copies of the notebooks (``make student``): solution cells removed, exercise stubs kept.

    python tools/student.py --output-dir build/student notebooks/**/*.ipynb
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def without_solutions(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook minus every cell tagged ``solution``."""
    nb.cells = [c for c in nb.cells if "solution" not in c.metadata.get("tags", [])]
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--output-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    for path in args.notebooks:
        target = args.output_dir / path.resolve().relative_to(ROOT / "notebooks")
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(without_solutions(nbformat.read(path, as_version=4)), target)
        print(f"{path} -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
