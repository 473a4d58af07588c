"""Lecture decks (``make slides``): one offline reveal.js deck per lecture, from the executed notebooks.

The notebooks are the only source, so decks and notebooks cannot drift. Which cells make which slide
follows ``tools/slide_plan.py``, from the notebook's source alone (the same rule RISE follows in
JupyterLab); what a slide shows is:

- a title slide per notebook: its title and first sentence (the learning objectives go to the notes);
- a slide per taught ``##`` section, and per ``###`` subsection with a cell tagged ``slide``: the
  heading, the lead of its prose (the first sentence, or the bold start of each item of a list), the
  prose's first display equation, and the first figure, audio players or table of its cell tagged
  ``slide``, else what that cell printed (with ``slide-code``: the cell's code up to its first blank
  line above it); without such a cell, the first markdown table of its prose. Visuals are scaled
  to fit the 1280x720 frame, never scrolled;
- the section's whole prose goes to the speaker notes (``S`` opens the presenter view).

:func:`missing_visuals` lists, for an executed notebook, tagged cells that showed nothing and
sections that drew in an untagged cell and show nothing (``make slides`` prints them; the deck test
fails on them).

Presenting: → and Space walk every slide in order, slide numbers show ``current/total``, and an
audio player gives the keyboard back once clicked.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import slide_plan
from nbconvert.filters import markdown2html
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

WIDTH, HEIGHT = 1280, 720
LECTURES = {"1_foundations": "Lecture 1: Foundations",
            "2_deep_metric_learning": "Lecture 2: Deep metric learning for core MIR tasks",
            "3_variations": "Lecture 3: Variations across domains and modalities"}
OPENS_THE_FIRST = "00_welcome.ipynb"  # the welcome notebook opens lecture 1
DISPLAY_MATH = re.compile(r"\$\$.+?\$\$", re.S)
MARKDOWN_TABLE = re.compile(r"^\|.*\|[ \t]*\n\|[ :|-]+\|[ \t]*\n(?:\|.*\|[ \t]*(?:\n|$))*", re.M)


@dataclass
class Slide:
    """One slide: a heading, the few lines shown under it, and the story for the speaker notes."""

    heading: str
    level: int = 2
    lead: str = ""                      # markdown
    equation: str = ""                  # a display equation, $$...$$
    visual: str = ""                    # HTML of one output
    notes: list[str] = field(default_factory=list)  # markdown


def output_visual(output: nbformat.NotebookNode) -> str | None:
    """An output's HTML if it is a figure, audio players or a table, else ``None``."""
    data = output.get("data", {})
    if "image/png" in data:
        return f'<img src="data:image/png;base64,{data["image/png"].strip()}" alt="figure">'
    if "image/svg+xml" in data:
        return data["image/svg+xml"]
    markup = data.get("text/html", "")
    return markup if "<audio" in markup or "<table" in markup else None


def lead(prose: str) -> str:
    """The few words a slide shows of its prose: the first sentence, or each list item's bold start."""
    for block in re.split(r"\n\s*\n", prose.strip()):
        block = block.strip()
        if not block or block.startswith(("$$", "|", "```", "<", "!")):
            continue
        items = re.findall(r"^(?:[-*]|\d+\.) +(.+(?:\n(?! *(?:[-*]|\d+\.) ).+)*)", block, re.M)
        if items:
            return "\n".join(f"- {_item_lead(item)}" for item in items[:6])
        return _first_sentence(block.replace("\n", " "))
    return ""


def _item_lead(item: str) -> str:
    bold = re.match(r"\*\*(.+?)\*\*", item.strip())
    return f"**{bold.group(1)}**" if bold else _first_sentence(item.replace("\n", " "))


def _first_sentence(text: str) -> str:
    """Up to the first full stop that ends a sentence (not one inside maths or code)."""
    depth, code = 0, False
    for i, char in enumerate(text):
        if char == "$":
            depth ^= 1
        elif char == "`":
            code = not code
        elif char in ".!?" and not depth and not code and (i + 1 == len(text) or text[i + 1] == " "):
            if not re.search(r"\b(e\.g|i\.e|vs|et al|cf|Fig)$", text[:i]):
                return text[:i + 1]
    return text


def notebook_slides(notebook: nbformat.NotebookNode, subtitle: str) -> list[Slide]:
    """The slides of one executed notebook (roles by ``slide_plan``); ``subtitle`` goes on its title."""
    cells = slide_plan.split_at_headings(notebook.cells)
    slides: list[Slide] = []
    for cell, role in zip(cells, slide_plan.roles(cells), strict=True):
        found = slide_plan.heading(cell)
        prose = cell.source.partition("\n")[2] if found else cell.source
        if role in slide_plan.OPENS_A_SLIDE:
            slides.append(Slide(found[1], level=slide_plan.OPENS_A_SLIDE[role]))
            if role == "title":
                slides[-1].lead = f"{_first_sentence(_first_paragraph(prose))}\n\n*{subtitle}*"
                slides[-1].notes.append(prose)
            else:
                _add_prose(slides[-1], prose)
        elif role == "notes" and found:
            slides[-1].notes.append(f"**{found[1]}**\n\n{prose}")
        elif role == "notes":
            _add_prose(slides[-1], prose)
        elif role == "shown":
            slides[-1].visual = shown_html(cell)
    for slide in slides:
        table = None if slide.visual or slide.level == 1 else MARKDOWN_TABLE.search("\n\n".join(slide.notes))
        slide.visual = markdown2html(table.group(0)) if table else slide.visual
    return slides


def shown_html(cell: nbformat.NotebookNode) -> str:
    """What a shown cell puts on its slide: its first figure, audio players or table, else what it printed;
    with the tag ``slide-code``, its code up to the first blank line above that."""
    visuals = [visual for visual in map(output_visual, cell.get("outputs", [])) if visual]
    text = printed(cell)
    shown = visuals[0] if visuals else (f'<pre class="deck-output">{html.escape(text)}</pre>' if text else "")
    if "slide-code" not in slide_plan.tags(cell):
        return shown
    first_lines = cell.source.strip().split("\n\n")[0]
    code = highlight(first_lines, PythonLexer(), HtmlFormatter(noclasses=True, nowrap=True))
    return f'<pre class="deck-code">{code}</pre>{shown}'


def printed(cell: nbformat.NotebookNode) -> str:
    """What a code cell printed (standard output) and the text of its result, without progress bars."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            parts.append(output.get("text", ""))
        elif output.get("output_type") == "execute_result":
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts).strip()


def missing_visuals(notebook: nbformat.NotebookNode) -> list[str]:
    """What an executed notebook's slides lack: a cell tagged to be shown that shows nothing, or a taught
    (sub)section that draws a figure, audio players or a table in an untagged cell and shows none."""
    cells = slide_plan.split_at_headings(notebook.cells)
    problems, taught = [], False
    sections: list[tuple[str, list]] = []  # (heading, [(index, cell, role)]) of the taught sections
    for i, (cell, role) in enumerate(zip(cells, slide_plan.roles(cells), strict=True)):
        found = slide_plan.heading(cell)
        if found:
            taught = role == "slide" or (found[0] == 3 and taught)
            if taught:
                sections.append((found[1], []))
        elif taught:
            sections[-1][1].append((i, cell, role))
    for title, members in sections:
        shown = [i for i, _, role in members if role == "shown"]
        problems += [f"'{title}': cell {i} is tagged `slide` but shows nothing (no figure, audio, table or text)"
                     for i in shown if not shown_html(cells[i])]
        drawn = [i for i, cell, _ in members if cell.cell_type == "code" and any(map(output_visual, cell.outputs))
                 and not slide_plan.tags(cell) & slide_plan.HIDDEN_TAGS]
        if drawn and not shown:
            problems.append(f"'{title}' shows nothing, though cell {drawn[0]} draws: tag it `slide` "
                            "(or `no-slide` to keep it off)")
    return problems


def _first_paragraph(prose: str) -> str:
    return prose.strip().split("\n\n")[0].replace("\n", " ")


def _add_prose(slide: Slide, prose: str) -> None:
    """Prose of a slide's section: all of it to the notes, its lead and first equation on the slide."""
    if not prose.strip():
        return
    slide.notes.append(prose)
    if slide.level > 1:
        slide.lead = slide.lead or lead(prose)
        if not slide.equation:
            match = DISPLAY_MATH.search(prose)
            slide.equation = match.group(0) if match else ""


def render_slide(slide: Slide) -> str:
    """A ``<section>``: heading, then the body the deck scales to fit, then the speaker notes."""
    tag = "h1" if slide.level == 1 else "h2"
    body = "".join(part for part in (
        f'<div class="deck-lead">{markdown2html(slide.lead)}</div>' if slide.lead else "",
        f'<div class="deck-equation">{html.escape(slide.equation)}</div>' if slide.equation else "",
        f'<div class="deck-visual">{slide.visual}</div>' if slide.visual else ""))
    notes = markdown2html("\n\n".join(slide.notes))
    kind = "deck-title" if slide.level == 1 else "deck-content"
    return (f'<section class="{kind}"><{tag}>{_inline(slide.heading)}</{tag}>'
            f'<div class="deck-body">{body}</div><aside class="notes">{notes}</aside></section>')


def _inline(markdown: str) -> str:
    return re.sub(r"^<p>|</p>$", "", markdown2html(markdown).strip())


def lecture_slides(title: str, notebooks: list[Path]) -> list[Slide]:
    """A lecture's slides: its title slide listing the notebooks, then each notebook's slides."""
    from stamp import title_and_summary

    contents = "\n".join(f"- {title_and_summary(path)[0]}" for path in notebooks)
    slides = [Slide(title.partition(": ")[2] or title, level=1,
                    lead=f"Metric Learning for Music Information Retrieval, {title.partition(':')[0]}\n\n{contents}",
                    notes=["Press **S** for the speaker notes (and a timer); **→** or **Space** walks every "
                           "slide in order, **Esc** shows them all."])]
    for position, path in enumerate(notebooks, start=1):
        notebook = nbformat.read(path, as_version=4)
        slides += notebook_slides(notebook, f"{title.partition(':')[0]}, notebook {position} of {len(notebooks)}")
    return slides


def deck_html(title: str, slides: list[Slide], assets: str) -> str:
    """A whole deck, every script, style and font from ``assets`` (a relative URL)."""
    sections = "\n".join(map(render_slide, slides))
    return DECK_TEMPLATE.format(title=html.escape(title), assets=assets, sections=sections,
                                width=WIDTH, height=HEIGHT)


def lectures(notebooks: list[Path], source_root: Path) -> dict[str, list[Path]]:
    """The executed notebooks by lecture (syllabus order), the welcome opening the first."""
    by_lecture: dict[str, list[Path]] = {folder: [] for folder in LECTURES}
    for path in sorted(notebooks):
        relative = path.resolve().relative_to(source_root.resolve())
        folder = relative.parts[0] if len(relative.parts) > 1 else "1_foundations"
        if folder not in by_lecture:
            raise ValueError(f"{path} is in no lecture's folder ({', '.join(LECTURES)}).")
        if relative.name == OPENS_THE_FIRST and len(relative.parts) == 1:
            by_lecture[folder].insert(0, path)
        else:
            by_lecture[folder].append(path)
    return {folder: paths for folder, paths in by_lecture.items() if paths}


DECK_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/reveal.js/dist/reset.css">
<link rel="stylesheet" href="{assets}/reveal.js/dist/reveal.css">
<link rel="stylesheet" href="{assets}/reveal.js/dist/theme/white.css">
<style id="deck-fit">
  .reveal {{ font-size: 30px; }}
  .reveal .slides section {{ text-align: left; height: {height}px; box-sizing: border-box; padding: 8px 0; }}
  .reveal h1 {{ font-size: 2.0em; margin-top: 3em; }}
  .reveal h2 {{ font-size: 1.45em; margin-bottom: 0.4em; }}
  .reveal h1, .reveal h2 {{ text-transform: none; line-height: 1.15; }}
  .reveal p, .reveal li {{ line-height: 1.3; }}
  .reveal ul {{ display: block; margin-left: 1em; }}
  .deck-body {{ transform-origin: top left; }}
  .deck-lead p {{ margin: 0 0 0.5em; }}
  .deck-equation {{ text-align: center; margin: 0.3em 0; }}
  .deck-visual {{ text-align: center; font-size: 0.55em; }}
  .deck-visual img {{ max-height: 470px; max-width: 100%; margin: 0; }}
  .deck-visual table {{ margin: 0 auto; border-collapse: collapse; }}
  .deck-visual th, .deck-visual td {{ padding: 0.15em 0.5em; border-bottom: 1px solid #ddd; }}
  .deck-visual audio {{ height: 32px; width: 220px; }}
  .deck-visual pre {{ font-size: 0.8em; white-space: pre-wrap !important; overflow: visible !important;
                     width: auto !important; }}  /* a long line wraps, never cut */
  .deck-visual pre.deck-code, .deck-visual pre.deck-output {{ display: block; text-align: left; font-size: 1.1em;
                     margin: 0.3em 0; padding: 0.4em 0.6em; background: #f6f8fa; box-shadow: none; }}
  .deck-visual pre.deck-output {{ background: none; border-left: 3px solid #ccc; }}
</style>
<script type="text/x-mathjax-config">
  MathJax.Hub.Config({{tex2jax: {{inlineMath: [["$", "$"]], displayMath: [["$$", "$$"]], processEscapes: true,
                                 ignoreClass: "notes"}},
                      messageStyle: "none", "CommonHTML": {{linebreaks: {{automatic: true}}}}}});
</script>
<script src="{assets}/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"></script>
</head>
<body>
<div class="reveal"><div class="slides">
{sections}
</div></div>
<script src="{assets}/reveal.js/dist/reveal.js"></script>
<script src="{assets}/reveal.js/plugin/notes/notes.js"></script>
<script>
// Scale a slide's body (lead, equation, visual) down until it fits under its heading: no scrolling.
function fitSlide(section) {{
  var body = section && section.querySelector(".deck-body");
  if (!body) {{ return; }}
  body.style.transform = "";
  body.style.marginBottom = "";
  var room = {height} - body.offsetTop - 16, width = section.clientWidth;
  var scale = Math.min(1, room / body.scrollHeight, width / body.scrollWidth);
  if (scale < 1) {{
    var shift = (width - scale * Math.max(width, body.scrollWidth)) / 2;
    body.style.transform = "translateX(" + shift + "px) scale(" + scale + ")";
    body.style.marginBottom = (-(1 - scale) * body.scrollHeight) + "px";
  }}
}}
function fitCurrent() {{ fitSlide(Reveal.getCurrentSlide()); }}
Reveal.initialize({{width: {width}, height: {height}, margin: 0.04, center: false, hash: true,
                   slideNumber: "c/t", navigationMode: "linear", transition: "none",
                   plugins: [RevealNotes]}});
Reveal.on("ready", function () {{
  document.body.dataset.navigation = Reveal.getConfig().navigationMode;
  MathJax.Hub.Queue(fitCurrent, function () {{ document.body.dataset.typeset = "done"; }});
}});
Reveal.on("slidechanged", fitCurrent);
// An audio player gives the keyboard back once clicked, so Space and the arrows still advance.
["play", "click", "focus"].forEach(function (type) {{
  document.addEventListener(type, function (event) {{
    if (event.target && event.target.tagName === "AUDIO") {{ event.target.blur(); }}
  }}, true);
}});
</script>
</body>
</html>
"""
