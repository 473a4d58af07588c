"""Recipes that several notebooks share: labelled feature splits ready for torch, and the standard
evaluation of an embedding on held-out items.

Series 2 and 3 train small encoders on the course datasets again and again; the preparation
(features, training-split standardisation, integer labels) and the evaluation (retrieval on
held-out classes with same-source items excluded) are the same each time, so they live here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from utils.data import Dataset
from utils.evaluate import retrieval_report
from utils.features import Standardizer


@dataclass
class LabelledSplit:
    """One split of a dataset, ready for training or evaluation.

    Attributes
    ----------
    x : float32 tensor (n, ...) of standardised features.
    y : int64 tensor (n,) of label codes, shared by all splits: the training split's classes first
        (0 .. n_train_classes - 1, sorted by name), then classes unseen in training.
    labels : (n,) array of the label names.
    rows : (n,) row numbers in the dataset (index into ``dataset.meta`` and ``dataset.audio``).
    groups : (n,) same-source group ids, for excluding near-duplicates from retrieval.
    """

    x: torch.Tensor
    y: torch.Tensor
    labels: np.ndarray
    rows: np.ndarray
    groups: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def classes(self) -> np.ndarray:
        """The label codes present in this split."""
        return np.unique(self.y.numpy())

    def dataset(self) -> torch.utils.data.TensorDataset:
        """The ``(x, y)`` pairs as a TensorDataset, for a DataLoader or ``utils.train.train``."""
        return torch.utils.data.TensorDataset(self.x, self.y)


def labelled_splits(dataset: Dataset, kind: str = "logmel", label: str = "instrument", *,
                    split_column: str = "split", group_column: str | None = "group",
                    splits: tuple[str, ...] = ("train", "valid", "test")) -> dict[str, LabelledSplit]:
    """Features of ``dataset`` cut into splits, standardised with training statistics only.

    Parameters
    ----------
    dataset : a course dataset (``load_gm_notes()``, ``load_chorales()``).
    kind : a feature kind of ``dataset.features`` ("logmel", "cqt", "chroma", "mfcc_stats").
    label : the meta column that defines classes.
    split_column : the meta column holding split names; the first of ``splits`` is the training split.
    group_column : the meta column of same-source groups (``None``: every item its own group).
    """
    meta = dataset.meta
    for column in (label, split_column, group_column):
        if column is not None and column not in meta.columns:
            raise ValueError(f"{dataset.name} has no meta column {column!r}; columns: {list(meta.columns)}")
    features = dataset.features(kind)
    rows = {name: dataset.split(name, split_column) for name in splits}
    scaler = Standardizer(feature_axis=1).fit(features[rows[splits[0]]])
    groups = meta[group_column].to_numpy() if group_column else np.arange(len(meta))
    names = meta[label].to_numpy()
    seen = np.unique(names[rows[splits[0]]])
    unseen = np.setdiff1d(np.unique(names[np.concatenate(list(rows.values()))]), seen)
    code_of = {name: code for code, name in enumerate([*seen, *unseen])}
    result = {}
    for name, split_rows in rows.items():
        codes = np.array([code_of[n] for n in names[split_rows]], dtype=np.int64)
        result[name] = LabelledSplit(
            x=torch.from_numpy(scaler.transform(features[split_rows])),
            y=torch.from_numpy(codes),
            labels=names[split_rows],
            rows=split_rows,
            groups=groups[split_rows],
        )
    return result


def heldout_report(embeddings: np.ndarray, split: LabelledSplit, metric: str = "euclidean",
                   ks: tuple[int, ...] = (10,)) -> dict[str, float]:
    """Retrieval measures of ``embeddings`` (n, d) of a held-out ``split``: each item queries the
    others, never itself nor its near-duplicates (same group)."""
    if len(embeddings) != len(split):
        raise ValueError(f"{len(embeddings)} embeddings for a split of {len(split)} items.")
    return retrieval_report(embeddings, split.labels, groups=split.groups, metric=metric, ks=ks)
