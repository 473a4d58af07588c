"""utils.protocol.chance_scores: the chance row of a results table (used by notebooks 0 and 1.x)."""

import numpy as np

from utils.protocol import chance_scores


def test_chance_precision_at_1_matches_the_fraction_of_relevant_candidates():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, size=120)
    groups = np.arange(120) // 3
    candidates = groups[:, None] != groups[None, :]
    exact = (candidates & (labels[:, None] == labels[None, :])).sum(1) / candidates.sum(1)
    estimate = chance_scores(labels, groups=groups, measure="precision@1", n_draws=200)
    assert estimate.shape == (120,)
    assert abs(estimate.mean() - exact.mean()) < 0.02


def test_chance_scores_are_reproducible_and_below_a_perfect_ranking():
    labels = np.repeat(np.arange(4), 10)
    first = chance_scores(labels, measure="map@r", seed=3)
    np.testing.assert_array_equal(first, chance_scores(labels, measure="map@r", seed=3))
    assert 0 < first.mean() < 0.5
