"""Class-balanced batches for deep metric learning: P classes x K items each.

Used by the notebooks of series 2 and 3 that train with pair, triplet or proxy losses: a batch of
random items may hold no positive pair at all, a P x K batch always holds P * K * (K - 1)
of them (Hermans, Beyer & Leibe 2017).

>>> sampler = PKSampler(labels, p=8, k=4)                      # doctest: +SKIP
>>> loader = DataLoader(dataset, batch_sampler=sampler)        # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from utils.checks import check_int


class PKSampler:
    """A batch sampler of P distinct classes with K items each, deterministic given the seed.

    Each batch draws ``p`` classes uniformly without replacement, then ``k`` items of each class:
    without replacement when the class has at least ``k`` items, with replacement otherwise.
    Batches list the ``k`` items of each class one after the other.

    Epoch ``e`` (set by :meth:`set_epoch`, as with torch's ``DistributedSampler``; the training
    loop of :mod:`utils.train` calls it) draws from a generator seeded with ``(seed, e)``, so
    epochs differ from each other and a run can be repeated exactly.

    Parameters
    ----------
    labels : sequence of hashable, shape (n_items,)
        The class of each item of the dataset (integers, strings, ...).
    p : int
        Classes per batch (at most the number of classes).
    k : int
        Items per class (k >= 2 for positive pairs).
    num_batches : int, optional
        Batches per epoch; default ``n_items // (p * k)`` (at least 1), about one pass.
    seed : int
        Seed of the random draws.
    """

    def __init__(
        self,
        labels: Sequence | np.ndarray,
        p: int,
        k: int,
        num_batches: int | None = None,
        seed: int = 0,
    ):
        labels = np.asarray(labels)
        if labels.ndim != 1 or len(labels) == 0:
            raise ValueError(f"labels must be a non-empty 1-D sequence, got shape {labels.shape}")
        classes, class_of_item = np.unique(labels, return_inverse=True)
        p, k = check_int(p, "p"), check_int(k, "k")
        if p > len(classes):
            raise ValueError(
                f"p = {p} classes per batch, but the labels have only {len(classes)} classes"
            )
        if num_batches is None:
            num_batches = max(1, len(labels) // (p * k))
        self.items_of_class = [np.flatnonzero(class_of_item == c) for c in range(len(classes))]
        self.p, self.k, self.num_batches, self.seed = p, k, check_int(num_batches, "num_batches"), seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose batches the next iteration yields."""
        self.epoch = check_int(epoch, "epoch", minimum=0)

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        for _ in range(self.num_batches):
            classes = rng.choice(len(self.items_of_class), size=self.p, replace=False)
            yield [int(i) for c in classes for i in self._draw_items(rng, self.items_of_class[c])]

    def _draw_items(self, rng: np.random.Generator, items: np.ndarray) -> np.ndarray:
        return rng.choice(items, size=self.k, replace=len(items) < self.k)
