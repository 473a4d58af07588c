"""The offline site (``make html``) and slides (``make slides``) from executed notebooks.

    python tools/build_site.py html       --output-dir build/html       build/executed/**/*.ipynb
    python tools/build_site.py instructor --output-dir build/instructor build/executed/**/*.ipynb
    python tools/build_site.py slides     --output-dir build/slides     build/executed/**/*.ipynb

Each notebook becomes one page, mirroring the notebooks' folders, beside an ``index.html`` that
lists them in syllabus order; ``slides`` writes one reveal.js deck per lecture instead
(``tools/decks.py`` says what a slide shows). Pages are titled by their notebook and link to the previous and next
notebook and to the index. ``html`` is the students' site: each solution is folded behind a
"Show solution" control, closed by default (kept in the page, so a reader who is stuck can still
open it, but nobody reads it by scrolling past the exercise); ``instructor`` shows them open.
MathJax, reveal.js, require.js and jQuery are copied under
``OUTPUT/assets`` from ``tools/site/node_modules`` (``make install`` fills it with npm, from the
pinned ``tools/site/package-lock.json``), so the pages load nothing from the network: open
``index.html`` from disk or serve the folder with ``python -m http.server``.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.filters import markdown2html
from nbconvert.preprocessors import TagRemovePreprocessor

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))

import decks  # noqa: E402
from stamp import title_and_summary  # noqa: E402

VENDOR = TOOLS / "site" / "node_modules"
TEMPLATES = TOOLS / "site" / "templates"
# What the pages need from each npm package, as (source under VENDOR, target under assets/).
ASSETS = [
    ("mathjax/MathJax.js", "mathjax/MathJax.js"),
    ("mathjax/config", "mathjax/config"),
    ("mathjax/extensions", "mathjax/extensions"),
    ("mathjax/jax/element", "mathjax/jax/element"),
    ("mathjax/jax/input/TeX", "mathjax/jax/input/TeX"),
    ("mathjax/jax/output/CommonHTML", "mathjax/jax/output/CommonHTML"),
    ("mathjax/fonts/HTML-CSS/TeX/woff", "mathjax/fonts/HTML-CSS/TeX/woff"),
    ("mathjax/LICENSE", "mathjax/LICENSE"),
    ("reveal.js/dist", "reveal.js/dist"),
    ("reveal.js/plugin/notes", "reveal.js/plugin/notes"),
    ("reveal.js/LICENSE", "reveal.js/LICENSE"),
    ("requirejs/require.js", "require.js"),
    ("jquery/dist/jquery.min.js", "jquery.min.js"),
]
KINDS = {"html": ".html", "instructor": ".html", "slides": ".slides.html"}
MAKE_TARGETS = {"html": "html", "instructor": "html-instructor", "slides": "slides"}


def copy_assets(output_dir: Path) -> Path:
    """Copy the scripts, styles and fonts the pages use into ``output_dir/assets``."""
    missing = [source for source, _ in ASSETS if not (VENDOR / source).exists()]
    if missing:
        raise SystemExit(
            f"The site's offline assets are missing ({', '.join(missing)}). Install them with "
            "`npm ci --prefix tools/site` (Node.js and npm needed; `make install` does it when npm is found).")
    assets = output_dir / "assets"
    for source, target in ASSETS:
        origin, destination = VENDOR / source, assets / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, destination, dirs_exist_ok=True)
        else:
            shutil.copy2(origin, destination)
    return assets


def exporter(assets: str) -> HTMLExporter:
    """An nbconvert exporter whose pages take every script from ``assets`` (a relative URL)."""
    page = HTMLExporter(template_name="course-lab", extra_template_basedirs=[str(TEMPLATES)],
                        mathjax_url=f"{assets}/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe",
                        require_js_url=f"{assets}/require.js", jquery_url=f"{assets}/jquery.min.js")
    # The Colab badge is an image on the web; the index links to Colab instead.
    page.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={"badge"}), enabled=True)
    return page


def page_path(notebook: Path, source_root: Path, output_dir: Path, kind: str) -> Path:
    """Where a notebook's page goes: its path under ``source_root``, mirrored, with the kind's suffix."""
    relative = notebook.resolve().relative_to(source_root.resolve())
    return (output_dir / relative).with_suffix(KINDS[kind])


def write_page(notebook: Path, target: Path, kind: str, assets: Path, nav: dict | None = None) -> None:
    """Convert one executed notebook into a page at ``target``, titled by the notebook,
    with ``nav`` (previous / index / next links) on pages."""
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = Path(os.path.relpath(assets, target.parent)).as_posix()
    title, _ = title_and_summary(notebook)
    resources = {"metadata": {"name": re.sub(r"[`*_]", "", title)}, "course_nav": nav,
                 "fold_solutions": kind == "html"}
    body, _ = exporter(prefix).from_notebook_node(nbformat.read(notebook, as_version=4), resources)
    target.write_text(body)


def navigation(pages: list[tuple[Path, Path]], output_dir: Path) -> list[dict]:
    """For each page: relative links to the previous and next page (with titles) and the index."""
    def link(position: int, page: Path) -> dict | None:
        if not 0 <= position < len(pages):
            return None
        notebook, other = pages[position]
        return {"href": Path(os.path.relpath(other, page.parent)).as_posix(),
                "title": html.escape(re.sub(r"[`*_]", "", title_and_summary(notebook)[0]))}

    return [{"previous": link(i - 1, page), "next": link(i + 1, page),
             "index": Path(os.path.relpath(output_dir / "index.html", page.parent)).as_posix()}
            for i, (_, page) in enumerate(pages)]


def inline_markdown(text: str) -> str:
    """One line of markdown as HTML, without the paragraph around it (maths left to MathJax)."""
    return re.sub(r"^<p>|</p>$", "", markdown2html(text).strip())


def series_name(page: Path, output_dir: Path) -> str:
    """The series a page belongs to, from its folder: ``2_deep_metric_learning`` -> ``2 Deep metric learning``."""
    folder = page.parent.relative_to(output_dir).as_posix()
    if folder == ".":
        return "Start here"
    number, _, words = folder.partition("_")
    return f"{number} {words.replace('_', ' ').capitalize()}"


def index_html(pages: list[tuple[Path, Path]], output_dir: Path, kind: str) -> str:
    """The index page: the pages by series, each titled and summarised from its notebook."""
    entries = []
    for notebook, page in pages:
        title, summary = title_and_summary(notebook)
        entries.append((series_name(page, output_dir), page.relative_to(output_dir).as_posix(),
                        inline_markdown(title), markdown2html(summary)))
    return index_page(entries, kind)


def index_page(entries: list[tuple[str, str, str, str]], kind: str) -> str:
    """An index of (series, link, title HTML, summary HTML) entries, grouped by series."""
    items, series = [], None
    for group, link, title, summary in entries:
        if group != series:
            series = group
            items.append(f"</ol><h2>{html.escape(series)}</h2><ol>")
        items.append(f'<li><a href="{html.escape(link)}">{title}</a>{summary}</li>')
    heading = {"slides": "lecture decks", "html": "executed notebooks",
               "instructor": "executed notebooks, solutions shown (instructors' copy)"}[kind]
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Metric Learning for MIR: {heading}</title>
<script type="text/x-mathjax-config">
  MathJax.Hub.Config({{tex2jax: {{inlineMath: [["$", "$"]], processEscapes: true}}, messageStyle: "none"}});
</script>
<script src="assets/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"></script>
<style>
  body {{ font-family: system-ui, sans-serif; max-width: 46rem; margin: 3rem auto; padding: 0 1rem;
         color: #222; line-height: 1.5; }}
  h1 {{ font-size: 1.8rem; margin-bottom: 0.2rem; }}
  h2 {{ font-size: 1.2rem; margin: 2rem 0 0; color: #444; }}
  ol {{ padding-left: 1.4rem; }}
  li {{ margin: 0.9rem 0; }}
  li a {{ font-weight: 600; color: #0072b2; text-decoration: none; }}
  li p {{ margin: 0.2rem 0 0; color: #555; }}
</style>
</head>
<body>
<h1>Metric Learning for Music Information Retrieval</h1>
<p>The course's {heading}, built offline with <code>make {MAKE_TARGETS[kind]}</code>: every page works without a
network connection.</p>
<ol>
{chr(10).join(items)}
</ol>
</body>
</html>
"""


def build(notebooks: list[Path], source_root: Path, output_dir: Path, kind: str) -> list[Path]:
    """Write every notebook's page, the assets and ``index.html`` under ``output_dir``; return the pages."""
    if kind not in KINDS:
        raise ValueError(f"Unknown kind {kind!r}: use one of {sorted(KINDS)}.")
    assets = copy_assets(output_dir)
    if kind == "slides":
        return build_decks(notebooks, source_root, output_dir, assets)
    pages = [(notebook, page_path(notebook, source_root, output_dir, kind)) for notebook in sorted(notebooks)]
    links = navigation(pages, output_dir)
    for (notebook, target), nav in zip(pages, links, strict=True):
        write_page(notebook, target, kind, assets, nav)
        print(f"{notebook} -> {target}")
    (output_dir / "index.html").write_text(index_html(pages, output_dir, kind))
    return [page for _, page in pages]


def build_decks(notebooks: list[Path], source_root: Path, output_dir: Path, assets: Path) -> list[Path]:
    """One deck per lecture (``tools/decks.py``) and an index of them; return the decks."""
    entries, written = [], []
    for folder, paths in decks.lectures(notebooks, source_root).items():
        title = decks.LECTURES[folder]
        slides = decks.lecture_slides(title, paths)
        for path in paths:
            for problem in decks.missing_visuals(nbformat.read(path, as_version=4)):
                print(f"warning: {path}: {problem}", file=sys.stderr)
        target = output_dir / f"{folder}.slides.html"
        target.write_text(decks.deck_html(title, slides, Path(os.path.relpath(assets, output_dir)).as_posix()))
        print(f"{len(paths)} notebooks, {len(slides)} slides -> {target}")
        names = ", ".join(inline_markdown(title_and_summary(path)[0]) for path in paths)
        entries.append(("Lecture decks", target.name, html.escape(title), f"<p>{len(slides)} slides: {names}</p>"))
        written.append(target)
    (output_dir / "index.html").write_text(index_page(entries, "slides"))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument("notebooks", nargs="+", type=Path, help="executed notebooks (make run)")
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--source-root", type=Path, default=Path("build/executed"),
                        help="the folder the notebooks' paths are mirrored from")
    args = parser.parse_args(argv)
    build(args.notebooks, args.source_root, args.output_dir, args.kind)
    return 0


if __name__ == "__main__":
    sys.exit(main())
