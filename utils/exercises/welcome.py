"""Checkers for the welcome notebook (notebooks/00_welcome.ipynb)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from utils.evaluate import retrieval_report
from utils.exercises import call_on_copies, check, returned_none, stub_or_function


def clustered_items(n_classes: int = 4, per_class: int = 16, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Embeddings (n, 5) of noisy class clusters, their labels, and groups of two near-duplicates.

    Clusters overlap, so that precision@1 is far both from chance and from 1.
    """
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_classes), per_class)
    embeddings = 1.2 * rng.normal(size=(n_classes, 5))[labels] + rng.normal(size=(len(labels), 5))
    embeddings[1::2] = embeddings[::2] + 1e-3  # each group: two near-duplicates
    return embeddings, labels, np.arange(len(labels)) // 2


def _nearest_label_agreement(embeddings: np.ndarray, labels: np.ndarray, mask: np.ndarray, nearest: bool) -> float:
    distances = np.linalg.norm(embeddings[:, None] - embeddings[None], axis=-1)
    distances[mask] = np.inf if nearest else -np.inf
    found = distances.argmin(1) if nearest else distances.argmax(1)
    return float(np.mean(labels[found] == labels))


def check_precision_at_1(precision_at_1: Callable | None) -> bool:
    """The reader's ``precision_at_1(embeddings, labels, groups)`` against utils.evaluate.

    It must leave out the query itself and every item of the query's group.
    """
    embeddings, labels, groups = clustered_items()

    def verdict(function: Callable) -> str | None:
        got, changed = call_on_copies(function, {"embeddings": embeddings, "labels": labels, "groups": groups})
        if (hint := returned_none(got) or changed) is not None:
            return hint
        if np.size(got) != 1:
            return f"return one number, the fraction of items whose neighbour shares their label; got shape {np.shape(got)}."
        got = float(np.asarray(got).ravel()[0])
        expected = retrieval_report(embeddings, labels, groups=groups, ks=())["precision@1"]
        if np.isclose(got, expected, atol=1e-9):
            return None
        if np.isclose(got, 1.0):
            return ("every item finds a neighbour with its label: the query itself or its near-duplicate "
                    "still counts; mask out every item of the query's group (np.inf) before the argmin.")
        if got > 1:
            return "precision@1 is a fraction in [0, 1]: the mean of the hits, not their count."
        same_group = groups[:, None] == groups[None, :]
        if np.isclose(got, _nearest_label_agreement(embeddings, labels, same_group, nearest=False)):
            return "that is the farthest item: the nearest neighbour has the smallest distance (argmin)."
        if np.isclose(got, np.mean(labels[:, None] == labels[None, :])):
            return "that is the chance level (the fraction of same-label pairs): compare each label with its nearest neighbour's."
        return "your value differs from utils.evaluate.retrieval_report's precision@1 on clustered test data."

    precision_at_1 = stub_or_function(precision_at_1, np.zeros((2, 1)), [0, 0], [0, 1], none_is_stub=False)
    return check(precision_at_1, verdict, "precision@1 agrees with utils.evaluate.retrieval_report.")
