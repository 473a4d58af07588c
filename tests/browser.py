"""Headless Chromium for the tests of the offline site and the lecture decks (not a test module).

Needs Chromium (``make install-browser``) and the site's npm assets (``make install`` with npm);
tests that need them are skipped without them, unless ``ML4MIR_REQUIRE_BROWSER=1`` (set by CI)
turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import build_site  # noqa: E402

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
REQUIRED = os.environ.get("ML4MIR_REQUIRE_BROWSER") == "1"


def require_browser() -> None:
    """Skip (or, under ``ML4MIR_REQUIRE_BROWSER=1``, fail) without Chromium or the npm assets."""
    missing = None
    if CHROMIUM is None:
        missing = "Chromium not found (make install-browser)"
    elif not (build_site.VENDOR / "reveal.js").exists():
        missing = "the site's npm assets are missing (npm ci --prefix tools/site)"
    if missing:
        (pytest.fail if REQUIRED else pytest.skip)(missing)


def chromium(url: str, *options: str, profile: Path, size: str = "1280,900", budget_ms: int = 20000,
             local_server: bool = False) -> str:
    """Load ``url`` in headless Chromium with every host name unresolvable (but ``127.0.0.1`` with
    ``local_server``); return what it printed."""
    hosts = "MAP * ~NOTFOUND" + (", EXCLUDE 127.0.0.1" if local_server else "")
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", f"--host-resolver-rules={hosts}",
               f"--virtual-time-budget={budget_ms}", f"--window-size={size}", *options, url]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True).stdout


def assert_not_blank(png: Path) -> None:
    """A screenshot shows something: enough pixels differ from its most common colour."""
    pixels = matplotlib.image.imread(png)[..., :3].reshape(-1, 3)
    colours, counts = np.unique((pixels * 255).round().astype(np.uint8), axis=0, return_counts=True)
    background_share = counts.max() / len(pixels)
    assert background_share < 0.995 and len(colours) > 16, (png, background_share, len(colours))
