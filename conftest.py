"""Shared test set-up (the root, so it sees notebooks/ too): no network, a time table per notebook,
headless plots."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import matplotlib
import pytest

from utils.course import block_network

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parent
_notebook_seconds: dict[str, float] = defaultdict(float)
_notebook_failed: set[str] = set()


def pytest_configure(config: pytest.Config) -> None:
    """Refuse every connection outside loopback, here and in the notebooks' kernels; there, also make
    deprecations caused by course code errors (see utils.course.setup)."""
    os.environ["ML4MIR_OFFLINE"] = "1"  # inherited by kernels: utils.course.setup() blocks there
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["ML4MIR_STRICT_WARNINGS"] = "1"  # kernels: deprecations caused by course code are errors
    os.environ["MPLBACKEND"] = "Agg"
    block_network()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[path] += report.duration
        if report.failed:
            _notebook_failed.add(path)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Print (and save to build/notebook_times.json) the wall time of every notebook executed."""
    if not _notebook_seconds:
        return
    write = terminalreporter.write_line
    terminalreporter.section("wall time per notebook")
    width = max(len(p) for p in _notebook_seconds)
    for path, seconds in _notebook_seconds.items():
        status = "FAILED" if path in _notebook_failed else "ok"
        write(f"{path:<{width}}  {seconds:7.1f} s  {status}")
    write(f"{'total':<{width}}  {sum(_notebook_seconds.values()):7.1f} s")
    out = ROOT / "build" / "notebook_times.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(_notebook_seconds, indent=1) + "\n")
