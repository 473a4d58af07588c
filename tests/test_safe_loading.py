"""Nothing a user might download is unpickled: weights load with torch's weights-only loader, arrays
without pickle, and no code of the course calls a pickle-based loader."""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import pytest
import torch

from utils import models
from utils.train import load_model, save_model

ROOT = Path(__file__).resolve().parents[1]
UNSAFE = re.compile(r"allow_pickle\s*=\s*True|weights_only\s*=\s*False|pickle\.loads?\(|read_pickle\(|joblib\.load\(")


class Payload:
    """An object whose unpickling would run a command (touch a file)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_checkpoint_carrying_code_is_refused_and_the_code_never_runs(tmp_path):
    model = models.MLPEncoder(4, 2)
    marker = tmp_path / "code-ran"
    state = {**model.state_dict(), "extra": Payload(marker)}
    torch.save(state, tmp_path / "evil.pt")
    with pytest.raises(pickle.UnpicklingError, match="[Ww]eights only load failed"):
        load_model(models.MLPEncoder(4, 2), tmp_path / "evil.pt")
    assert not marker.exists()


def test_saved_weights_are_plain_tensors(tmp_path):
    path = save_model(models.MLPEncoder(4, 2), tmp_path / "m.pt")
    state = torch.load(path, weights_only=True)
    assert state and all(isinstance(value, torch.Tensor) for value in state.values())


def _sources() -> list[Path]:
    folders = ("utils", "tools", "notebooks")
    return [p for folder in folders for p in (ROOT / folder).rglob("*") if p.suffix in {".py", ".ipynb"}
            and ".ipynb_checkpoints" not in p.parts and "node_modules" not in p.parts]


def test_no_course_code_uses_a_pickle_based_loader():
    sources = _sources()
    assert len(sources) > 30
    offenders = [p.relative_to(ROOT) for p in sources if UNSAFE.search(p.read_text())]
    assert not offenders, offenders
    loads = [(p.relative_to(ROOT), call) for p in sources
             for call in re.findall(r"torch\.load\([^)]*\)", p.read_text()) if "weights_only=True" not in call]
    assert not loads, loads
