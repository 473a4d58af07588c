"""The notebooks cite from REFERENCES.md, in one format, and the course is citable (CITATION.cff)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from utils.course import REPOSITORY

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import stamp  # noqa: E402

NOTEBOOKS = stamp.notebook_paths()

#: ``- [key] A. Author, B. Author. *Title.* Venue Year.`` with an optional ``<https://...>`` at the end.
ENTRY = re.compile(
    r"- \[(?P<key>[a-z]+(?P<year>\d{4})[a-z0-9]+)\] "
    r"(?P<authors>[^*&]+?)\. "
    r"\*(?P<title>[^*]+[.?!])\* "
    r"(?P<venue>[^<>*]*\b(?:1[89]|20)\d\d\b[^<>*]*)\."
    r"(?: <(?P<url>https://\S+)>)?"
)


def entries() -> list[re.Match]:
    """Every list item of REFERENCES.md, parsed: each must be in the one format."""
    lines = [line for line in stamp.REFERENCES.read_text().splitlines() if line.startswith("- ")]
    broken = [line for line in lines if not ENTRY.fullmatch(line)]
    assert not broken, f"not in the REFERENCES.md format: {broken}"
    return [ENTRY.fullmatch(line) for line in lines]


def references_cell(path: Path) -> str:
    """The source of the notebook's last cell, which must be its References section."""
    last = nbformat.read(path, as_version=4).cells[-1]
    assert last.cell_type == "markdown" and stamp.REFERENCES_HEADING.match(last.source), (
        f"{path.name}: the last cell is not a markdown cell starting with '## References'")
    return last.source


def cited_keys(path: Path) -> list[str]:
    """The keys a notebook's References cell cites, in its order."""
    return [m.group(1) for line in references_cell(path).splitlines() if (m := stamp.CITATION.match(line))]


def test_references_md_is_in_one_format_with_unique_sorted_keys():
    parsed = entries()
    keys = [m["key"] for m in parsed]
    assert len(keys) > 10
    assert len(set(keys)) == len(keys), "duplicate keys"
    assert keys == sorted(keys), "entries are not sorted by key"
    for m in parsed:
        assert m["key"].isascii()
        assert re.search(rf"\b{m['year']}\b", m["venue"]), f"[{m['key']}]: the key's year is not the venue's"
        assert " and " not in m["authors"], f"[{m['key']}]: authors are separated by commas"
    assert list(stamp.reference_lines()) == keys


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_notebook_ends_with_references_cited_from_the_file(path: Path):
    keys = cited_keys(path)
    assert keys, f"{path.name} cites no `- [key]` reference"
    assert len(set(keys)) == len(keys), f"{path.name} cites a work twice"
    known = stamp.reference_lines()
    assert not set(keys) - set(known), f"{path.name} cites keys not in REFERENCES.md"
    section = references_cell(path)
    assert all(known[k] in section.splitlines() for k in keys), f"{path.name}: run `make stamp`"
    others = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells[:-1])
    assert not stamp.REFERENCES_HEADING.search(others), f"{path.name} has a second References section"


def test_every_entry_is_cited_by_a_notebook():
    cited = {key for path in NOTEBOOKS for key in cited_keys(path)}
    uncited = sorted(set(stamp.reference_lines()) - cited)
    assert not uncited, f"REFERENCES.md entries no notebook cites: {uncited}"


def test_stamp_cites_from_the_file_and_rejects_unknown_keys():
    references = {"doe2020tag": "- [doe2020tag] J. Doe. *A title.* ICML 2020."}
    section = "## References\n\nIntro.\n\n- [doe2020tag] Doe (2020). A title,\n  wrapped. *ICML*.\n- [doe2020tag]"
    assert stamp.cite(section, references, "nb.ipynb") == (
        "## References\n\nIntro.\n\n" + "\n".join([references["doe2020tag"]] * 2))
    with pytest.raises(ValueError, match=r"nb\.ipynb.*nosuch2099key"):
        stamp.cite("## References\n\n- [nosuch2099key] Nobody.", references, "nb.ipynb")


def test_stamp_moves_references_into_a_cell_of_their_own():
    cells = [nbformat.v4.new_markdown_cell("## Pitfalls\n\n- One.\n\n## References\n\n- [mcfee2020tutorial]")]
    cells = stamp.slide_plan.split_at_headings(cells)  # as stamp.stamp does: every heading starts a cell
    stamp.stamp_references(cells, "nb.ipynb")
    assert [c.source for c in cells] == ["## Pitfalls\n\n- One.",
                                         "## References\n\n" + stamp.reference_lines()["mcfee2020tutorial"]]
    cells = stamp.slide_plan.split_at_headings(cells)
    stamp.stamp_references(cells, "nb.ipynb")
    assert len(cells) == 2, "stamping twice changes nothing"


def test_citation_cff():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    assert cff["type"] == "software"
    assert cff["title"] and cff["message"]
    assert cff["authors"] and all("name" in a or "family-names" in a for a in cff["authors"])
    assert cff["license"] == "MIT"
    assert cff["repository-code"] == f"https://github.com/{REPOSITORY}"
    assert cff["keywords"]
    tutorial = [r for r in cff["references"] if r["title"] == "Metric Learning for Music Information Retrieval"]
    assert len(tutorial) == 1
    assert [a["family-names"] for a in tutorial[0]["authors"]] == ["McFee", "Lee", "Nam"]
    assert [a["given-names"] for a in tutorial[0]["authors"]] == ["Brian", "Jongpil", "Juhan"]
    assert tutorial[0]["year"] == 2020 and "ISMIR 2020" in tutorial[0]["conference"]["name"]
    assert "tutorial" in str(tutorial[0]).lower()
