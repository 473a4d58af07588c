"""utils.samplers: P x K batches, with replacement for small classes, deterministic."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from utils.samplers import PKSampler

# 6 classes: four of 10 items, one of 3 (fewer than k) and one of 1.
LABELS = np.array([c for c, size in enumerate([10, 10, 10, 10, 3, 1]) for _ in range(size)])


def test_batches_hold_p_classes_with_k_items_each():
    sampler = PKSampler(LABELS, p=3, k=4, num_batches=50, seed=1)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 50
    for batch in batches:
        assert len(batch) == 12
        classes = LABELS[batch]
        assert sorted(Counter(classes).values()) == [4, 4, 4]
        assert all(len(set(classes[i : i + 4])) == 1 for i in range(0, 12, 4))  # class blocks


def test_items_are_drawn_without_replacement_unless_the_class_is_too_small():
    for batch in PKSampler(LABELS, p=6, k=4, num_batches=30):
        for block in np.reshape(batch, (6, 4)):
            size = np.sum(LABELS == LABELS[block[0]])
            if size >= 4:
                assert len(set(block)) == 4
            else:
                assert set(block) <= set(np.flatnonzero(LABELS == LABELS[block[0]]))


def test_every_class_and_item_is_used():
    used = {i for batch in PKSampler(LABELS, p=2, k=2, num_batches=400) for i in batch}
    assert used == set(range(len(LABELS)))


def test_same_seed_same_batches_and_epochs_differ():
    first, second = PKSampler(LABELS, 2, 3, seed=7), PKSampler(LABELS, 2, 3, seed=7)
    assert list(first) == list(second)
    assert list(first) == list(first)  # iterating again repeats the epoch
    first.set_epoch(1)
    assert list(first) != list(second)
    assert list(PKSampler(LABELS, 2, 3, seed=8)) != list(second)


def test_default_number_of_batches_is_about_one_pass():
    assert len(PKSampler(LABELS, p=2, k=4)) == len(LABELS) // 8
    assert len(PKSampler(LABELS[:5], p=1, k=8)) == 1


def test_works_as_a_dataloader_batch_sampler_with_any_hashable_labels():
    names = np.array(["violin", "flute", "organ"])[LABELS % 3]
    dataset = TensorDataset(torch.arange(len(LABELS)), torch.as_tensor(LABELS))
    loader = DataLoader(dataset, batch_sampler=PKSampler(names, p=2, k=3, num_batches=4))
    batches = list(loader)
    assert len(batches) == 4 and all(len(items) == 6 for items, _ in batches)
    for items, _ in batches:
        assert len(set(names[items.numpy()])) == 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"p": 7, "k": 2}, "only 6 classes"),
        ({"p": 0, "k": 2}, "p must be a positive integer"),
        ({"p": 2, "k": 1.5}, "k must be a positive integer"),
        ({"p": 2, "k": 2, "num_batches": 0}, "num_batches"),
    ],
)
def test_bad_settings_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PKSampler(LABELS, **kwargs)
    with pytest.raises(ValueError, match="1-D"):
        PKSampler(LABELS.reshape(2, -1), p=2, k=2)
