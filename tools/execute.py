"""Execute notebooks headless (``make run``), and export them as a site or slides (``make html/slides``).

    python tools/execute.py --output-dir build/executed notebooks/00_welcome.ipynb ...
    python tools/execute.py --output-dir build/html --to html notebooks/*.ipynb
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter, SlidesExporter

ROOT = Path(__file__).resolve().parents[1]
EXPORTERS = {"html": HTMLExporter, "slides": SlidesExporter}


def execute(path: Path, timeout: int = 900) -> nbformat.NotebookNode:
    """Run every cell of a notebook in its own folder; raise on the first failing cell."""
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def write(nb: nbformat.NotebookNode, source: Path, output_dir: Path, to: str) -> Path:
    """Write an executed notebook as ipynb, html or reveal.js slides, mirroring notebooks/."""
    relative = source.resolve().relative_to(ROOT / "notebooks")
    target = output_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if to == "notebook":
        nbformat.write(nb, target)
        return target
    body, _ = EXPORTERS[to]().from_notebook_node(nb)
    suffix = ".slides.html" if to == "slides" else ".html"
    target = target.with_name(target.stem + suffix)
    target.write_text(body)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--to", choices=["notebook", *EXPORTERS], default="notebook")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        start = time.perf_counter()
        target = write(execute(path), path, args.output_dir, args.to)
        print(f"{time.perf_counter() - start:6.1f} s  {path} -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
