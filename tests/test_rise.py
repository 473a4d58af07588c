"""Presenting from JupyterLab: RISE (jupyterlab-rise) shows the lecture deck's slides, in its order.

A Jupyter server with the RISE extension serves copies of three notebooks; headless Chromium opens
each one's slideshow (``/rise/<notebook>``) with every other host unresolvable, and the headings of
its slides (skipped cells and speaker notes aside) must be the headings of the deck's slides
(tools/decks.py) for the same notebook.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import decks  # noqa: E402
from browser import REQUIRED, chromium, require_browser  # noqa: E402

NOTEBOOKS = ("00_welcome.ipynb", "2_deep_metric_learning/01_siamese_and_triplet_networks.ipynb",
             "3_variations/06_similarity_from_people.ipynb")  # a title with objectives; ### slides; Parts


class SlideHeadings(HTMLParser):
    """The first visible heading of each slide of a RISE page (a reveal.js ``section`` in a stack)."""

    VOID = {"br", "img", "input", "meta", "link", "hr", "area", "base", "col", "embed", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[tuple[str, bool]] = []  # (tag, hidden)
        self.slides: list[str] = []
        self.reading: int | None = None  # depth of the heading being read

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.VOID:
            return
        classes = (dict(attrs).get("class") or "").split()
        hidden = bool(self.open and self.open[-1][1]) or "reveal-skip" in classes or (
            tag == "aside" and "notes" in classes)
        self.open.append((tag, hidden))
        if tag == "section" and sum(name == "section" for name, _ in self.open) == 2:
            self.slides.append("")
        if tag in ("h1", "h2", "h3") and not hidden and self.slides and not self.slides[-1]:
            self.reading = len(self.open)

    def handle_endtag(self, tag: str) -> None:
        while self.open and tag not in self.VOID:
            name, _ = self.open.pop()
            if self.reading and len(self.open) < self.reading:
                self.reading = None
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.reading:
            self.slides[-1] += data


@pytest.fixture(scope="module")
def rise_server(tmp_path_factory):
    """``(url, folder)`` of a Jupyter server with RISE over a folder of notebook copies."""
    require_browser()
    if shutil.which("jupyter") is None or not _importable("jupyterlab_rise"):
        (pytest.fail if REQUIRED else pytest.skip)("jupyterlab-rise is not installed (make install)")
    folder = tmp_path_factory.mktemp("rise")
    for name in NOTEBOOKS:
        shutil.copy(ROOT / "notebooks" / name, folder / Path(name).name)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "server", "--allow-root", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", "--ServerApp.token=", "--ServerApp.password=",
         f"--ServerApp.root_dir={folder}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{url}/api/status", server)
        yield url, folder
    finally:
        server.terminate()
        server.wait(timeout=30)


def _importable(module: str) -> bool:
    return subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode == 0


def _wait_for(url: str, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the Jupyter server exited ({server.returncode})")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"the Jupyter server did not answer {url} in {seconds} s")


@pytest.mark.parametrize("name", NOTEBOOKS, ids=lambda name: Path(name).stem)
def test_rise_presents_the_slides_of_the_deck(rise_server, name, tmp_path):
    url, folder = rise_server
    dom = chromium(f"{url}/rise/{Path(name).name}", "--dump-dom", profile=tmp_path / "profile",
                   size="1280,720", budget_ms=30000, local_server=True)
    parser = SlideHeadings()
    parser.feed(dom)
    shown = [heading.rstrip("¶").strip() for heading in parser.slides]
    notebook = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    assert shown == [slide.heading for slide in decks.notebook_slides(notebook, "")]
    assert "reveal-skip" in dom and 'class="notes"' in dom  # the skipped cells hidden, the notes aside
    remote = re.findall(r"""@import url\(['"]?(?:https?:)?//[^)]*|<link[^>]*href="(?:https?:)?//(?!127\.0\.0\.1)[^"]*""", dom)
    assert not remote, remote  # no web font or style from elsewhere (the default theme imports two)
