"""Executing a notebook twice gives the same numbers: every printed output and every figure.

One notebook that trains a network (seeded data order, initialisation and augmentation) is run
twice in fresh kernels; its text outputs and PNG figures must be identical once what may
legitimately differ (durations, object addresses, random HTML ids) is masked. The data builds'
determinism is tested in test_data.py.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import execute  # noqa: E402

NOTEBOOK = ROOT / "notebooks" / "2_deep_metric_learning" / "05_version_identification.ipynb"
# What may differ between runs: durations, object addresses, pandas Styler's random table ids.
VOLATILE = re.compile(r"\d+(?:\.\d+)?\s*(?:ms|s|min)\b|0x[0-9a-f]{6,}|T_[0-9a-f]{5}(?=[\s_\"])")


def outputs(path: Path) -> list[tuple[int, str, str]]:
    """Execute the notebook in a fresh kernel; return (cell, kind, content) for every output."""
    found = []
    for index, cell in enumerate(execute.execute(path).cells):
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                found.append((index, "stream", VOLATILE.sub("<volatile>", output.text)))
            for kind in ("text/plain", "text/html", "image/png"):
                if kind in output.get("data", {}):
                    found.append((index, kind, VOLATILE.sub("<volatile>", output.data[kind])))
    return found


def test_a_training_notebook_gives_the_same_outputs_twice():
    first, second = outputs(NOTEBOOK), outputs(NOTEBOOK)
    assert sum(kind == "image/png" for _, kind, _ in first) >= 2
    assert any(re.search(r"\d\.\d{3}", text) for _, kind, text in first if kind != "image/png")
    differing = [(a[:2], a[2][:200], b[2][:200]) for a, b in zip(first, second, strict=True) if a != b]
    assert not differing, differing[:3]
