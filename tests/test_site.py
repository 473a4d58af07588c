"""The offline site and slides (``make html``, ``make slides``): built from an executed notebook,
checked to reference nothing on the network, and rendered in headless Chromium.

Needs Chromium and the site's npm assets (``tests/browser.py``). Every slide of the lecture decks is
checked in tests/test_decks.py.
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import build_site  # noqa: E402
import execute  # noqa: E402
from browser import assert_not_blank, chromium, require_browser  # noqa: E402

NOTEBOOK = ROOT / "notebooks" / "00_welcome.ipynb"
# Elements whose src/href the browser fetches (an <a href> is only a link a reader may follow).
FETCHED = re.compile(r"<(?:script|link|img|iframe|source|audio|video|embed)\b[^>]*?\b(?:src|href)=\"([^\"]*)\"")
REMOTE_IN_CODE = re.compile(r"(?:url\(|import\(|from\s)\s*['\"]?(?:https?:)?//", re.I)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """The welcome notebook executed once, then built as a site and as slides."""
    require_browser()
    root = tmp_path_factory.mktemp("site")
    executed = execute.write(execute.execute(NOTEBOOK), NOTEBOOK, root / "executed")
    return {kind: build_site.build([executed], root / "executed", root / kind, kind)[0]
            for kind in build_site.KINDS}


def visible_text(page: Path) -> str:
    """A page's text with the markup (and syntax highlighting) stripped."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def cell_lines(tag: str) -> list[str]:
    """The code lines found only in the notebook's cells tagged ``tag`` (not, say, in the stub)."""
    cells = nbformat.read(NOTEBOOK, as_version=4).cells

    def lines(tagged: bool) -> set[str]:
        return {line.strip() for cell in cells if cell.cell_type == "code"
                and (tag in cell.metadata.get("tags", [])) == tagged
                for line in cell.source.splitlines() if len(line.strip()) > 12}

    others = lines(False)
    return sorted(line for line in lines(True) - others if not any(line in other for other in others))


def _pages(built: dict[str, Path]) -> list[Path]:
    return [path for page in built.values() for path in (page, page.parent / "index.html")]


def test_pages_fetch_nothing_from_the_network(built):
    for page in _pages(built):
        text = page.read_text()
        remote = [url for url in FETCHED.findall(text) if re.match(r"(https?:)?//", url)]
        assert not remote, (page.name, remote[:5])
        assert not REMOTE_IN_CODE.search(text), page.name


def test_every_local_reference_exists(built):
    for page in _pages(built):
        local = [url for url in FETCHED.findall(page.read_text()) if not re.match(r"(https?:|data:|//)", url)]
        assert local or page.name == "index.html"
        for url in local:
            assert (page.parent / url.split("?")[0].split("#")[0]).exists(), (page.name, url)


def test_index_links_every_page(built):
    for page in built.values():
        index = (page.parent / "index.html").read_text()
        assert f'href="{page.name}"' in index
        assert "0 Welcome" in index


def test_styles_import_nothing_from_the_network(built):
    for page in _pages(built):
        for url in FETCHED.findall(page.read_text()):
            path = page.parent / url.split("?")[0]
            if path.suffix == ".css":
                remote = re.findall(r"@import\s+url\(\s*['\"]?(?:https?:)?//[^)]*\)", path.read_text())
                assert not remote, (page.name, url, remote)


def test_pages_are_titled_and_linked(built):
    for kind, page in built.items():
        title = "Lecture 1: Foundations" if kind == "slides" else "0 Welcome"
        text = page.read_text()
        assert re.search(rf"<title>{title}[^<]*</title>", text), (kind, re.findall(r"<title>.*?</title>", text))
        if kind != "slides":
            assert re.search(r'<a (?=[^>]*href="index.html")(?=[^>]*rel="index")', text)  # no previous, no next


def test_the_navigation_links_previous_and_next(tmp_path):
    pages = [(ROOT / "notebooks" / "00_welcome.ipynb", tmp_path / "00_welcome.html"),
             (ROOT / "notebooks" / "1_foundations" / "01_distances_and_retrieval.ipynb",
              tmp_path / "1_foundations" / "01_distances_and_retrieval.html")]
    first, second = build_site.navigation(pages, tmp_path)
    assert first["previous"] is None and first["next"]["href"] == "1_foundations/01_distances_and_retrieval.html"
    assert second["previous"]["href"] == "../00_welcome.html" and second["index"] == "../index.html"
    assert second["previous"]["title"].startswith("0 Welcome") and second["next"] is None


def test_students_site_folds_solutions_and_instructors_site_shows_them(built, tmp_path):
    folded = built["html"].read_text()
    shown = built["instructor"].read_text()
    solutions = sum("solution" in cell.metadata.get("tags", []) for cell in nbformat.read(NOTEBOOK, 4).cells)
    assert solutions and len(re.findall(r'<details class="course-solution">\s*<summary>Show solution</summary>', folded)) == solutions
    assert not re.search(r'<details[^>]*course-solution[^>]*open|<details open[^>]*course-solution', folded)
    assert '<details class="course-solution"' not in shown
    assert all(line in visible_text(built["instructor"]) for line in cell_lines("solution"))
    dom = chromium(built["html"].as_uri(), "--dump-dom", profile=tmp_path / "profile")
    folds = re.findall(r'<details[^>]*class="course-solution"[^>]*>', dom)
    assert len(folds) == solutions and not [tag for tag in folds if " open" in tag]


def test_site_renders_with_maths_figures_and_sound(built, tmp_path):
    page = built["html"]
    dom = chromium(page.as_uri(), "--dump-dom", profile=tmp_path / "profile")
    assert dom.count("mjx-chtml") >= 3, "MathJax did not typeset the page's maths"
    assert "Math input error" not in dom and "MathJax_Processing" not in dom
    assert dom.count("<audio") >= 3 and len(re.findall(r'<img[^>]*src="data:image/png', dom)) >= 3
    assert 'tags="badge"' not in dom and "colab-badge.svg" not in dom
    for name in (page.name, "index.html"):
        shot = tmp_path / f"{name}.png"
        chromium((page.parent / name).as_uri(), f"--screenshot={shot}", profile=tmp_path / "profile")
        assert_not_blank(shot)


def test_deck_renders_without_setup_or_solutions(built, tmp_path):
    deck = built["slides"]
    dom = chromium(deck.as_uri(), "--dump-dom", profile=tmp_path / "profile")
    reveal = re.search(r'<div class="(reveal [^"]*)"', dom)
    assert reveal and "ready" in reveal.group(1).split(), "reveal.js did not start"
    assert re.search(r'<body[^>]*data-navigation="linear"', dom), "-> would skip the vertical sub-slides"
    assert re.search(r'class="slide-number"', dom), "no slide numbers"
    assert dom.count("<section") >= 8 and dom.count("mjx-chtml") >= 3
    text = visible_text(deck)
    for tag in ("setup", "parameters", "solution"):
        lines = cell_lines(tag)
        assert lines and not [line for line in lines if line in text], f"a {tag} cell is shown in the deck"
    assert all(line in visible_text(built["html"]) for line in cell_lines("solution"))
    shot = tmp_path / "deck.png"
    chromium(deck.as_uri(), f"--screenshot={shot}", profile=tmp_path / "profile")
    assert_not_blank(shot)
