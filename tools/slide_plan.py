"""What each notebook cell is on the slides, decided from the notebook's source alone.

One rule, which the lecture decks follow (``tools/decks.py``, ``make slides``) and ``tools/stamp.py``
writes into the ``slideshow`` metadata that RISE reads, so a deck and a JupyterLab slideshow of the
same notebooks show the same slides in the same order:

- every heading starts a markdown cell (``split_at_headings``; the stamp splits cells so);
- ``#`` opens the notebook's title slide; the learning objectives go to its speaker notes;
- ``##`` opens a slide, except the sections the reader works through alone (:data:`NOTEBOOK_ONLY`:
  learning objectives, exercises, things to try, references), which stay off the slides;
- a code cell tagged ``slide`` shows its output on its section's slide, one tagged ``slide-code``
  its code (up to its first blank line) and its output; one such cell a slide;
- ``###`` opens a slide when its subsection has such a cell, else its prose joins the speaker notes
  of the slide before it;
- other prose is speaker notes; other code cells, and cells tagged ``no-slide``, ``badge``,
  ``setup``, ``parameters`` or ``solution``, are not shown (run the notebook before presenting it).

Roles of a cell: ``title``, ``slide``, ``subslide`` (it opens a slide: its heading, and its prose
shortened), ``shown`` (its output is the slide's visual), ``notes`` and ``skip``.
"""

from __future__ import annotations

import re

import nbformat

NOTEBOOK_ONLY = re.compile(r"^(Learning objectives|Exercises?\b|Things to try|References)", re.I)
OBJECTIVES = re.compile(r"^Learning objectives", re.I)
HIDDEN_TAGS = frozenset({"badge", "setup", "parameters", "solution", "no-slide"})
SHOWN_TAGS = frozenset({"slide", "slide-code"})  # its output; its code's first lines and its output
HEADING = re.compile(r"^(#{1,3}) +(.+?)\s*$", re.M)
FENCE = re.compile(r"^```.*?^```", re.M | re.S)  # a fenced code block: its "# comment" lines are no headings
OPENS_A_SLIDE = {"title": 1, "slide": 2, "subslide": 3}  # role -> heading level
RISE_SLIDE_TYPE = {"title": "slide", "slide": "slide", "subslide": "subslide", "shown": "-",
                   "notes": "notes", "skip": "skip"}


def tags(cell: dict) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def heading(cell: dict) -> tuple[int, str] | None:
    """``(level, text)`` of the heading a markdown cell starts with, else ``None``."""
    match = HEADING.match(cell.source) if cell.cell_type == "markdown" else None
    return (len(match.group(1)), match.group(2)) if match else None


def split_at_headings(cells: list) -> list:
    """The cells with every markdown cell cut before each heading it holds past its start; every
    piece keeps the cell's metadata, the first its id, the others get ``<id>-<n>``."""
    result = []
    for cell in cells:
        bounds = sorted({0, *_heading_starts(cell.source)}) if cell.cell_type == "markdown" else [0]
        if len(bounds) == 1:
            result.append(cell)
            continue
        for n, (start, end) in enumerate(zip(bounds, [*bounds[1:], len(cell.source)], strict=True)):
            piece = nbformat.from_dict(dict(cell))  # a copy: tags (a solution's, say) hold for every piece
            piece.source = cell.source[start:end].strip("\n")
            if n:
                piece.id = f"{cell.get('id', 'cell')}-{n}"[:64]
            result.append(piece)
    return result


def _heading_starts(source: str) -> list[int]:
    """Where the headings of a markdown text start, outside fenced code blocks."""
    fenced = [match.span() for match in FENCE.finditer(source)]
    return [match.start() for match in HEADING.finditer(source)
            if not any(start <= match.start() < end for start, end in fenced)]


def roles(cells: list) -> list[str]:
    """The role of every cell (cells split at headings). Raises ``ValueError``, naming the cell, for a
    ``slide``/``slide-code`` tag the rule cannot honour (off any slide, or a second on one slide)."""
    result, section, shown = [], "before", False
    for i, cell in enumerate(cells):
        if cell.cell_type == "markdown" and any(start > 0 for start in _heading_starts(cell.source)):
            raise ValueError(f"cell {i} holds a heading past its start: split the cells (split_at_headings).")
        role, section = _role(cells, i, section)
        if role in OPENS_A_SLIDE:
            shown = False
        elif role == "shown":
            if shown:
                raise ValueError(f"cell {i} is a second cell tagged `slide` or `slide-code` on one slide: "
                                 "untag one of them.")
            shown = True
        elif tags(cell) & SHOWN_TAGS and not tags(cell) & HIDDEN_TAGS:
            raise ValueError(f"cell {i} is tagged `slide` or `slide-code` but its section is not on the "
                             "slides: untag it.")
        result.append(role)
    return result


def _role(cells: list, i: int, section: str) -> tuple[str, str]:
    """The role of cell ``i`` and the section that follows it: before, title, taught or alone."""
    cell = cells[i]
    if tags(cell) & HIDDEN_TAGS:
        return "skip", section
    found = heading(cell)
    if found is None:
        if cell.cell_type == "code":
            return ("shown" if tags(cell) & SHOWN_TAGS and section == "taught" else "skip"), section
        return ("notes" if section in ("title", "taught") else "skip"), section
    level, text = found
    if level == 1:
        return "title", "title"
    if level == 2 and OBJECTIVES.match(text) and section == "title":
        return "notes", "title"
    if level == 2:
        return ("skip", "alone") if NOTEBOOK_ONLY.match(text) else ("slide", "taught")
    if section != "taught":
        return ("notes" if section == "title" else "skip"), section
    return ("subslide" if _shows_something(cells, i) else "notes"), section


def _shows_something(cells: list, start: int) -> bool:
    """Whether the subsection opened at ``cells[start]`` has a code cell tagged to be shown."""
    for cell in cells[start + 1:]:
        if heading(cell):
            return False
        if cell.cell_type == "code" and tags(cell) & SHOWN_TAGS and not tags(cell) & HIDDEN_TAGS:
            return True
    return False


def rise_slide_types(cells: list) -> list[str]:
    """The ``slideshow.slide_type`` RISE reads, for every cell (cells split at headings)."""
    return [RISE_SLIDE_TYPE[role] for role in roles(cells)]
