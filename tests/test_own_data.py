"""The notebooks that accept ``DATA = "folder:..."`` / ``"nsynth:..."`` run end to end on generated
folders (tools/demo_music.py: 12 synthetic instruments in mixed formats), and on them turn the
prose's claims into reports (the prose describes the default data)."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import demo_music  # noqa: E402
from execute import execute  # noqa: E402
from seeded import with_data  # noqa: E402

#: The notebooks whose parameters cell has a ``DATA`` line for any source.
WITH_DATA = [
    "1_foundations/01_distances_and_retrieval.ipynb",
    "1_foundations/02_mahalanobis_from_labels.ipynb",
    "2_deep_metric_learning/01_siamese_and_triplet_networks.ipynb",
    "2_deep_metric_learning/03_beyond_triplets.ipynb",
    "2_deep_metric_learning/04_few_shot_and_scale.ipynb",
]
REPORTED = "(the prose's claim, asserted on the default data;"


@pytest.fixture(scope="module")
def own_data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("own-data")
    return {"folder": demo_music.write_music_folder(root / "music"),
            "nsynth": demo_music.write_nsynth_split(root / "nsynth")}


def outputs(nb: nbformat.NotebookNode) -> str:
    return "\n".join(output.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                     for output in cell.get("outputs", []))


@pytest.mark.parametrize("layout", ["folder", "nsynth"])
@pytest.mark.parametrize("notebook", WITH_DATA)
def test_a_notebook_runs_on_your_own_music(notebook, layout, own_data, tmp_path):
    source = ROOT / "notebooks" / notebook
    nb = with_data(nbformat.read(source, as_version=4), f"{layout}:{own_data[layout]}", notebook)
    copy = tmp_path / source.name
    nbformat.write(nb, copy)
    executed = execute(copy)
    printed = outputs(executed)
    assert REPORTED in printed, "on other data the prose's claims are reported, not asserted"


def test_with_data_needs_a_data_line():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("SEED = 0", metadata={"tags": ["parameters"]})])
    with pytest.raises(ValueError, match="DATA"):
        with_data(nb, "folder:/x")
    nb.cells[0].source = 'SEED = 0\nDATA = "gm_notes"   # or "folder:/path"'
    assert with_data(nb, "folder:/x").cells[0].source == "SEED = 0\nDATA = 'folder:/x'   # or \"folder:/path\""
