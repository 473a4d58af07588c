"""Execute notebooks headless into executed copies (``make run``; ``make html/slides`` start from them).

    python tools/execute.py --output-dir build/executed notebooks/00_welcome.ipynb ...

Progress bars are switched off (``TQDM_DISABLE``): in a static page they are only noise.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from unittest.mock import patch

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def execute(path: Path, timeout: int = 900) -> nbformat.NotebookNode:
    """Run every cell of a notebook in its own folder; raise on the first failing cell."""
    nb = nbformat.read(path, as_version=4)
    with patch.dict(os.environ, TQDM_DISABLE="1"):  # for the kernel, which inherits the environment
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def write(nb: nbformat.NotebookNode, source: Path, output_dir: Path) -> Path:
    """Write an executed notebook under ``output_dir``, mirroring its path under notebooks/."""
    target = output_dir / source.resolve().relative_to(ROOT / "notebooks")
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--output-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    for path in args.notebooks:
        start = time.perf_counter()
        target = write(execute(path), path, args.output_dir)
        print(f"{time.perf_counter() - start:6.1f} s  {path} -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
