"""The slide rule (tools/slide_plan.py) that the lecture decks and RISE share, from sources alone."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import decks  # noqa: E402
import slide_plan  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))


def code(source: str = "draw()", tags=()) -> nbformat.NotebookNode:
    return new_code_cell(source, metadata={"tags": list(tags)})


def outline() -> list[nbformat.NotebookNode]:
    return [
        new_markdown_cell("[badge]", metadata={"tags": ["badge"]}),
        new_markdown_cell("# 9.9 A lesson\n\nFirst words.\n\n## Learning objectives\n\n- one"),
        code("SEED = 0", tags=["parameters"]),
        code("import numpy"),
        new_markdown_cell("## The idea\n\nWords."),
        code("prepare()"),
        new_markdown_cell("More words."),
        code(tags=["slide"]),
        new_markdown_cell("### A detail\n\nNo figure tagged here."),
        code(),
        new_markdown_cell("### A figure\n\nTagged below."),
        code(tags=["slide-code"]),
        new_markdown_cell("## Exercises\n\nDo it.\n\n### Exercise 1\n\nThis one."),
        code(tags=["solution"]),
        new_markdown_cell("## Pitfalls\n\n- **One.**"),
    ]


def test_every_heading_starts_a_cell_and_the_first_piece_keeps_the_id():
    cells = slide_plan.split_at_headings(outline())
    assert [slide_plan.heading(cell) for cell in cells if cell.cell_type == "markdown"] == [
        None, (1, "9.9 A lesson"), (2, "Learning objectives"), (2, "The idea"), None, (3, "A detail"),
        (3, "A figure"), (2, "Exercises"), (3, "Exercise 1"), (2, "Pitfalls")]
    assert cells[1].source == "# 9.9 A lesson\n\nFirst words." and cells[2].id == f"{cells[1].id}-1"
    assert slide_plan.split_at_headings(cells) == cells  # stamping twice changes nothing
    fenced = new_markdown_cell("Run this:\n\n```python\n# a comment, not a heading\nx = 1\n```\n\nThen look.")
    assert slide_plan.split_at_headings([fenced]) == [fenced] and slide_plan.roles([fenced]) == ["skip"]
    solution = new_markdown_cell("Because.\n\n### Why\n\nMore.", metadata={"tags": ["solution"]})
    assert [piece.metadata.tags for piece in slide_plan.split_at_headings([solution])] == [["solution"]] * 2


def test_each_cell_has_the_role_the_rule_gives_it():
    cells = slide_plan.split_at_headings(outline())
    assert slide_plan.roles(cells) == [
        "skip", "title", "notes", "skip", "skip",            # badge, title, objectives, parameters, code
        "slide", "skip", "notes", "shown",                   # ## The idea: only the tagged cell shows
        "notes", "skip",                                     # ### without a tagged cell: its prose is notes
        "subslide", "shown",                                 # ### with one (here slide-code) opens a slide
        "skip", "skip", "skip",                              # exercises and a solution
        "slide"]
    assert slide_plan.rise_slide_types(cells)[:6] == ["skip", "slide", "notes", "skip", "skip", "slide"]
    assert slide_plan.rise_slide_types(cells)[8] == "-"


@pytest.mark.parametrize("change, message", [
    (lambda cells: cells.insert(6, code(tags=["slide"])), "second cell tagged `slide`"),
    (lambda cells: cells[-2].metadata.update(tags=["slide"]), "not on the slides"),
    (lambda cells: cells[3].metadata.update(tags=["slide"]), "not on the slides"),
])
def test_a_slide_tag_the_rule_cannot_honour_is_an_error_naming_the_cell(change, message):
    cells = outline()
    change(cells)
    with pytest.raises(ValueError, match=message):
        slide_plan.roles(slide_plan.split_at_headings(cells))


def test_unsplit_cells_are_refused():
    with pytest.raises(ValueError, match="split the cells"):
        slide_plan.roles(outline())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_rise_shows_the_slides_of_the_deck(path):
    """The stamped metadata RISE reads opens exactly the deck's slides, in its order."""
    notebook = nbformat.read(path, as_version=4)
    opened = [slide_plan.heading(cell)[1] for cell in notebook.cells
              if cell.metadata["slideshow"]["slide_type"] in ("slide", "subslide")]
    assert opened == [slide.heading for slide in decks.notebook_slides(notebook, "")]
    shown = sum(cell.metadata["slideshow"]["slide_type"] == "-" for cell in notebook.cells)
    assert shown >= len(opened) // 2, "fewer than half the slides show a figure, audio or table"
