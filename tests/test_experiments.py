"""The shared recipes: splits standardised on training rows only, label codes shared by splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from utils.data import Dataset
from utils.experiments import heldout_report, labelled_splits


class _Toy(Dataset):
    def features(self, kind: str) -> np.ndarray:
        return self._features


@pytest.fixture
def toy() -> _Toy:
    rng = np.random.default_rng(0)
    meta = pd.DataFrame({
        "instrument": ["a", "b", "a", "b", "c", "c", "a", "d"],
        "split": ["train", "train", "train", "train", "test", "test", "valid", "test"],
        "group": [0, 1, 2, 3, 4, 4, 5, 6],
    })
    dataset = _Toy("toy", np.zeros((8, 10), np.float32), 16000, meta, cache_dir=None, params={})
    dataset._features = rng.normal(3.0, 2.0, size=(8, 4, 5))
    return dataset


def test_standardised_with_training_statistics_only(toy):
    splits = labelled_splits(toy)
    train = splits["train"].x.numpy()
    np.testing.assert_allclose(train.mean(axis=(0, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(train.std(axis=(0, 2)), 1, atol=1e-5)
    assert abs(splits["test"].x.numpy().mean()) > 1e-3  # test rows did not shape the statistics


def test_codes_are_shared_and_unseen_classes_come_last(toy):
    splits = labelled_splits(toy)
    assert splits["train"].y.tolist() == [0, 1, 0, 1]
    assert splits["valid"].y.tolist() == [0]
    assert splits["test"].y.tolist() == [2, 2, 3] and list(splits["test"].labels) == ["c", "c", "d"]
    assert splits["test"].rows.tolist() == [4, 5, 7] and splits["test"].groups.tolist() == [4, 4, 6]


def test_unknown_column_and_wrong_length_are_refused(toy):
    with pytest.raises(ValueError, match="no meta column 'family'"):
        labelled_splits(toy, label="family")
    with pytest.raises(ValueError, match="3 embeddings for a split of 4"):
        heldout_report(np.zeros((3, 2)), labelled_splits(toy)["train"])
