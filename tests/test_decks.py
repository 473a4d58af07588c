"""The lecture decks (``make slides``, tools/decks.py): what a slide shows, and that every slide fits.

The rules run on small notebooks built here. In the browser (tests/browser.py), a probe
(tests/deck_probe.js) visits every slide at 1280x720 and 1920x1080 and reports whatever lies outside
the frame or cuts a code line; it is shown to catch an overflowing slide when the deck's fitting is
switched off. ``make test-decks`` runs the same probe on the decks of every executed notebook
(``ML4MIR_DECKS=build/slides``).
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import build_site  # noqa: E402
import decks  # noqa: E402
from browser import chromium, require_browser  # noqa: E402

PROBE = (Path(__file__).parent / "deck_probe.js").read_text()
PRESENTER_PROBE = (Path(__file__).parent / "presenter_probe.js").read_text()
SIZES = ("1280,720", "1920,1080")
FULL_DECKS = os.environ.get("ML4MIR_DECKS")  # build/slides, built from the notebooks in build/executed


def png() -> str:
    """A small figure, base64 PNG."""
    figure, axes = plt.subplots(figsize=(4, 3))
    axes.plot([0, 1], [1, 0])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=60)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def figure_cell(tags=()) -> nbformat.NotebookNode:
    cell = new_code_cell("plot()", metadata={"tags": list(tags)})
    cell.outputs = [new_output("display_data", data={"image/png": png(), "text/plain": "<Figure>"})]
    return cell


def html_cell(markup: str, tags=()) -> nbformat.NotebookNode:
    cell = new_code_cell("show()", metadata={"tags": list(tags)})
    cell.outputs = [new_output("display_data", data={"text/html": markup, "text/plain": "<HTML>"})]
    return cell


def lesson() -> nbformat.NotebookNode:
    """A notebook with every kind of section the rules distinguish."""
    table = "<table><tr><td>MAP</td><td>0.5</td></tr></table>"
    return new_notebook(cells=[
        new_markdown_cell("[badge]", metadata={"tags": ["badge"]}),
        new_markdown_cell("# 9.9 A lesson\n\nWe learn a metric, e.g. a Mahalanobis one. Then we listen."),
        new_code_cell("import os", metadata={"tags": ["setup"]}),
        new_markdown_cell("## Learning objectives\n\n- learn a metric"),
        new_code_cell("SEED = 0", metadata={"tags": ["parameters"]}),
        new_markdown_cell("## The idea\n\nA metric $d$ compares two notes. More prose for the notes.\n\n"
                          "$$d(x, y) = \\|L(x - y)\\|$$\n\nAnd a last paragraph."),
        html_cell(table),
        figure_cell(tags=["slide"]),
        new_markdown_cell("### A detail without a figure\n\nOnly words here."),
        new_markdown_cell("## Results\n\nThe table says it."),
        figure_cell(),
        html_cell(table, tags=["slide"]),
        figure_cell(tags=["no-slide"]),
        new_markdown_cell("### Listen\n\nPlayers."),
        html_cell('<table><tr><td><audio controls src="data:audio/wav;base64,"></audio></td></tr></table>',
                  tags=["slide"]),
        new_markdown_cell("## Exercises\n\n**Exercise 1.** Do it."),
        figure_cell(tags=["solution"]),
        figure_cell(),
        new_markdown_cell("## Pitfalls\n\n- **Tuning on test.** Long story.\n- **Duplicates.** Another one.\n\n"
                          "| pitfall | cure |\n|---|---|\n| tuning on test | validation |"),
        new_markdown_cell("## References\n\n- [key] A paper."),
    ])


def test_a_notebook_gives_title_then_one_slide_per_section_it_teaches():
    slides = decks.notebook_slides(lesson(), "Lecture 9, notebook 1 of 1")
    assert [slide.heading for slide in slides] == ["9.9 A lesson", "The idea", "Results", "Listen", "Pitfalls"]
    title, idea, results, listen, pitfalls = slides
    assert title.level == 1 and "e.g. a Mahalanobis one." in title.lead and "Then" not in title.lead
    assert "learn a metric" in "".join(title.notes) and not title.visual
    assert idea.lead == "A metric $d$ compares two notes." and idea.equation == "$$d(x, y) = \\|L(x - y)\\|$$"
    assert idea.visual.startswith("<img") and "Only words here." in "\n".join(idea.notes)  # the tagged cell's
    assert "last paragraph" in "\n".join(idea.notes)
    assert "<table>" in results.visual  # the tagged cell's, not the figure above it
    assert "<audio" in listen.visual and listen.level == 3
    assert pitfalls.lead == "- **Tuning on test.**\n- **Duplicates.**" and "Long story." in "\n".join(pitfalls.notes)
    assert "<table>" in pitfalls.visual and "validation" in pitfalls.visual  # its prose's table: nothing drawn


def test_setup_parameters_solutions_and_notebook_only_sections_stay_off_the_slides():
    slides = decks.notebook_slides(lesson(), "")
    shown = " ".join(slide.heading + slide.lead + slide.visual for slide in slides)
    assert "Exercise" not in shown and "References" not in shown and "SEED" not in shown
    visuals = [slide.visual for slide in slides if slide.visual.startswith("<img")]
    assert len(visuals) == 1  # the idea's: not the no-slide, solution or exercise figures


def test_missing_visuals_names_a_tagged_cell_that_shows_nothing_and_a_section_that_hides_its_figure():
    assert decks.missing_visuals(lesson()) == []
    notebook = lesson()
    notebook.cells[7].metadata.tags = []  # the idea's figure, untagged
    notebook.cells[14].outputs = []       # the tagged audio players, gone
    assert decks.missing_visuals(notebook) == [
        "'The idea' shows nothing, though cell 6 draws: tag it `slide` (or `no-slide` to keep it off)",
        "'Listen': cell 14 is tagged `slide` but shows nothing (no figure, audio, table or text)"]


def test_a_slide_code_cell_shows_its_first_lines_and_a_slide_cell_what_it_printed():
    cell = new_code_cell("def f(x):\n    return 2 * x\n\n\nprint(f(2))", metadata={"tags": ["slide-code"]})
    cell.outputs = [new_output("stream", name="stdout", text="4\n")]
    shown = decks.shown_html(cell)
    assert shown.startswith('<pre class="deck-code">') and "return" in shown and "print" not in shown
    assert shown.endswith('<pre class="deck-output">4</pre>')
    cell.outputs.append(figure_cell().outputs[0])
    assert decks.shown_html(cell).endswith('alt="figure">')  # a figure rather than the text
    cell.outputs = [new_output("stream", name="stderr", text="50%|#####"), new_output("stream", text="4\n")]
    cell.metadata.tags = ["slide"]
    assert decks.shown_html(cell) == '<pre class="deck-output">4</pre>'  # printed text, not a progress bar
    notebook = lesson()
    notebook.cells[7] = cell
    cell.outputs, cell.metadata.tags = [], ["slide-code"]
    assert decks.missing_visuals(notebook) == []  # code alone is something to show


def test_the_lead_is_a_sentence_or_the_bold_starts_of_a_list():
    assert decks.lead("Two sentences, i.e. more. Second one.") == "Two sentences, i.e. more."
    assert decks.lead("Maths $a. b$ stays whole. Next.") == "Maths $a. b$ stays whole."
    assert decks.lead("$$x$$\n\n| a |\n\nWords after.") == "Words after."
    assert decks.lead("- plain item. More.\n- **Bold.** Rest") == "- plain item.\n- **Bold.**"


def test_lectures_follow_the_folders_and_the_welcome_opens_the_first(tmp_path):
    paths = [tmp_path / "3_variations" / "01_a.ipynb", tmp_path / "1_foundations" / "01_b.ipynb",
             tmp_path / "00_welcome.ipynb"]
    assert decks.lectures(paths, tmp_path) == {"1_foundations": [paths[2], paths[1]], "3_variations": [paths[0]]}
    with pytest.raises(ValueError, match="no lecture"):
        decks.lectures([tmp_path / "elsewhere" / "x.ipynb"], tmp_path)


def probe(deck: Path, size: str, profile: Path, *, fit: bool = True) -> dict:
    """Run the probe on a copy of ``deck`` beside it; ``fit=False`` switches the deck's fitting (its
    script and its style) off."""
    unfit = 'fitSlide = function () {};\ndocument.getElementById("deck-fit").remove();\n'
    script = PROBE if fit else unfit + PROBE
    copy = deck.with_name(deck.stem + ".probe.html")
    copy.write_text(deck.read_text().replace("</body>", f"<script>{script}</script></body>"))
    try:
        dom = chromium(copy.as_uri(), "--dump-dom", profile=profile, size=size, budget_ms=60000)
    finally:
        copy.unlink()  # leave the presenter's build/slides as make slides wrote it
    found = re.search(r'<pre id="course-probe">(.*?)</pre>', dom, re.S)
    assert found, "the probe did not report: reveal.js or MathJax did not start"
    return json.loads(html.unescape(found.group(1)))


def overflowing(report: dict) -> list[dict]:
    return [slide for slide in report["slides"] if slide["problems"]]


@pytest.fixture(scope="module")
def lesson_deck(tmp_path_factory) -> Path:
    """A one-notebook lecture with slides too tall, too wide and with code too long for the frame."""
    require_browser()
    root = tmp_path_factory.mktemp("decks")
    notebook = lesson()
    wide = "<table><tr>" + "".join(f"<td>column {i}</td>" for i in range(40)) + "</tr></table>"
    tall = "<table>" + "".join(f"<tr><td>row {i}</td></tr>" for i in range(40)) + "</table>"
    long_code = ('<table><tr><td><pre style="width: 600px; white-space: pre; overflow: hidden">'
                 + "x = 1; " * 80 + "</pre></td></tr></table>")
    notebook.cells[9:9] = [new_markdown_cell("## A tall table\n\nIt is tall."), html_cell(tall, tags=["slide"]),
                           new_markdown_cell("## A wide table\n\nIt is wide."), html_cell(wide, tags=["slide"]),
                           new_markdown_cell("## Long code\n\nIt is long."), html_cell(long_code, tags=["slide"])]
    (root / "executed" / "1_foundations").mkdir(parents=True)
    nbformat.write(notebook, root / "executed" / "1_foundations" / "01_lesson.ipynb")
    return build_site.build([root / "executed" / "1_foundations" / "01_lesson.ipynb"], root / "executed",
                            root / "slides", "slides")[0]


def test_the_probe_catches_what_the_fitting_prevents(lesson_deck, tmp_path):
    unfitted = overflowing(probe(lesson_deck, "1280,720", tmp_path / "profile", fit=False))
    problems = {slide["heading"]: " ".join(slide["problems"]) for slide in unfitted}
    assert "below" in problems["A tall table"] and "outside" in problems["A wide table"]
    assert "cut code" in problems["Long code"]
    for size in SIZES:
        report = probe(lesson_deck, size, tmp_path / "profile")
        assert report["total"] == len(report["slides"]) == 9 and not overflowing(report), overflowing(report)
        scales = {slide["heading"]: slide["scale"] for slide in report["slides"]}
        assert scales["A tall table"] < 0.9 and scales["A wide table"] < 0.9 and scales["The idea"] == 1


def test_the_deck_has_notes_numbers_linear_navigation_and_a_title(lesson_deck, tmp_path):
    text = lesson_deck.read_text()
    assert "<title>Lecture 1: Foundations</title>" in text and text.count('<aside class="notes">') == 9
    assert "plugin/notes/notes.js" in text and "RevealNotes" in text
    dom = chromium(lesson_deck.as_uri(), "--dump-dom", profile=tmp_path / "profile", size="1280,720")
    assert re.search(r'<body[^>]*data-navigation="linear"', dom) and 'class="slide-number"' in dom
    notes_plugin = (lesson_deck.parent / "assets" / "reveal.js" / "plugin" / "notes" / "notes.js").read_text()
    assert not re.search(r"""(?:src=|href=|url\()\s*['"]?(?:https?:)?//""", notes_plugin)  # presenter view offline


def test_the_presenter_view_opens_offline_and_follows_the_deck(lesson_deck, tmp_path):
    """"S" opens the speaker view from file:// with no network: it connects, shows the current
    slide's notes (after a move to the second slide), runs its timer and loads both previews."""
    copy = lesson_deck.with_name(lesson_deck.stem + ".presenter.html")
    copy.write_text(lesson_deck.read_text().replace("</body>", f"<script>{PRESENTER_PROBE}</script></body>"))
    try:
        dom = chromium(copy.as_uri(), "--disable-popup-blocking", "--dump-dom", profile=tmp_path / "profile",
                       size="1280,720", budget_ms=30000)
    finally:
        copy.unlink()
    found = re.search(r'<pre id="course-presenter-probe">(.*?)</pre>', dom, re.S)
    assert found, "the presenter probe did not report"
    report = json.loads(html.unescape(found.group(1)))
    assert report["opened"] and report["status"] == "connected", report
    assert report["notesOfSecondSlide"] and report["previews"] == 2, report
    assert report["timer"] != "00:00:00", report
    notes = re.findall(r'<aside class="notes">(.*?)</aside>', lesson_deck.read_text(), re.S)
    assert notes[0] != notes[1]  # so following the deck shows in the notes


@pytest.mark.skipif(not FULL_DECKS, reason="set ML4MIR_DECKS=build/slides (make test-decks)")
@pytest.mark.parametrize("size", SIZES)
def test_every_slide_of_every_lecture_deck_fits(size, tmp_path):
    require_browser()
    deck_paths = sorted(Path(FULL_DECKS).glob("*.slides.html"))
    assert [path.name for path in deck_paths] == [f"{folder}.slides.html" for folder in decks.LECTURES]
    for deck in deck_paths:
        report = probe(deck, size, tmp_path / "profile")
        assert 30 <= report["total"] <= 60, (deck.name, report["total"])
        assert report["total"] == 1 + rise_slides(deck.name.removesuffix(".slides.html")), deck.name
        assert not overflowing(report), (deck.name, overflowing(report)[:5])
        tiny = [(slide["heading"], slide["scale"]) for slide in report["slides"] if slide["scale"] < 0.5]
        assert not tiny, (deck.name, "scaled below half: show less on these slides", tiny)
        for url in build_site_fetched(deck):
            assert (deck.parent / url).resolve().is_relative_to(deck.parent.resolve()), (deck.name, url)


@pytest.mark.skipif(not FULL_DECKS, reason="set ML4MIR_DECKS=build/slides (make test-decks)")
def test_every_executed_notebook_shows_what_its_slide_tags_promise():
    executed = sorted((Path(FULL_DECKS).parent / "executed").rglob("*.ipynb"))
    assert len(executed) == len(list((ROOT / "notebooks").rglob("*.ipynb")))
    problems = {str(path): decks.missing_visuals(nbformat.read(path, as_version=4)) for path in executed}
    assert not {path: found for path, found in problems.items() if found}


def rise_slides(folder: str) -> int:
    """How many slides RISE shows of a lecture's committed notebooks (their stamped metadata)."""
    paths = [*(ROOT / "notebooks" / folder).glob("*.ipynb"),
             *([ROOT / "notebooks" / decks.OPENS_THE_FIRST] if folder == "1_foundations" else [])]
    return sum(cell.metadata["slideshow"]["slide_type"] in ("slide", "subslide")
               for path in paths for cell in nbformat.read(path, as_version=4).cells)


def build_site_fetched(deck: Path) -> list[str]:
    """The local URLs a deck fetches (scripts, styles), without query or fragment."""
    fetched = re.findall(r'<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]*)"', deck.read_text())
    assert not [url for url in fetched if re.match(r"(https?:)?//", url)], deck.name
    return [url.split("?")[0].split("#")[0] for url in fetched if not url.startswith("data:")]
