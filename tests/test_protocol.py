"""The evidence protocol: seeds run in parallel processes give the numbers of a sequential run,
comparisons give verdicts only on consistent evidence, the bootstrap equals a brute-force one, and
examples are picked by rule."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from utils import protocol
from utils.evaluate import average_precision, paired_bootstrap, relevant_ranks
from utils.plots import seed_dots


def noisy_draws(seed: int) -> dict[str, float]:
    """A training run's stand-in: uses every seeded generator the course uses."""
    return {"torch": float(torch.randn(3).sum()), "numpy": float(np.random.rand()),
            "python": random.random(), "seed": seed}


def test_seeds_for_gives_disjoint_sets_per_seed():
    assert protocol.seeds_for(0) == [0, 1, 2, 3, 4]
    assert not set(protocol.seeds_for(1)) & set(protocol.seeds_for(2))
    with pytest.raises(ValueError, match="seed"):
        protocol.seeds_for(-1)


def test_parallel_seeds_equal_sequential_ones_and_leave_the_caller_alone():
    seeds = [3, 1, 4]
    torch.manual_seed(123)
    before = torch.rand(1), np.random.get_state()[1][:3].copy()
    torch.manual_seed(123)
    sequential = protocol.run_seeds(noisy_draws, seeds, workers=1, progress=False)
    assert torch.equal(torch.rand(1), before[0])  # the caller's torch stream went on untouched
    parallel = protocol.run_seeds(noisy_draws, seeds, workers=2, progress=False)
    assert parallel == sequential  # same numbers whoever runs them, in seed order
    assert [run["seed"] for run in parallel] == seeds
    assert len({run["torch"] for run in parallel}) == 3  # and the seeds do differ


def test_run_seeds_rejects_bad_input(monkeypatch):
    with pytest.raises(ValueError, match="seeds is empty"):
        protocol.run_seeds(noisy_draws, [])
    with pytest.raises(ValueError, match="each seed"):
        protocol.run_seeds(noisy_draws, [1.5])
    monkeypatch.setenv(protocol.WORKERS_VARIABLE, "two")
    with pytest.raises(ValueError, match="ML4MIR_WORKERS"):
        protocol.default_workers()
    monkeypatch.setenv(protocol.WORKERS_VARIABLE, "1")
    assert protocol.default_workers() == 1


def test_seed_comparisons_call_only_consistent_differences():
    frame = protocol.seed_frame([{"a": 0.5, "b": 0.4, "c": 0.45}, {"a": 0.6, "b": 0.5, "c": 0.65},
                                 {"a": 0.55, "b": 0.5, "c": 0.5}], seeds=[0, 1, 2])
    better = protocol.compare_seeds(frame, "a", "b")
    assert better.verdict == "better" and better.low == pytest.approx(0.05) and better.exceeds(0.04)
    assert not better.exceeds(0.06)
    assert protocol.compare_seeds(frame, "b", "a").verdict == "worse"
    unclear = protocol.compare_seeds(frame, "a", "c")  # +0.05, -0.05, +0.05: not on every seed
    assert unclear.verdict == "no clear difference" and unclear.within(0.06) and not unclear.within(0.05)
    assert protocol.compare_seeds(frame, "b", "a", higher_is_better=False).verdict == "better"
    assert "no clear difference between a and c" in str(unclear)
    summary = protocol.seed_summary(frame)
    assert summary.loc["a", "mean"] == pytest.approx(0.55) and summary.loc["a", "n"] == 3
    assert summary.loc["a", "sd"] == pytest.approx(0.05)
    table = protocol.verdict_table([better, unclear])
    assert list(table.verdict) == ["better", "no clear difference"]
    with pytest.raises(KeyError, match="columns"):
        protocol.compare_seeds(frame, "a", "z")
    with pytest.raises(ValueError, match="at least 2 seeds"):
        protocol.compare_seeds(frame.iloc[:1], "a", "b")


def brute_force_bootstrap(a, b, n_resamples, seed, confidence=0.95):
    rng = np.random.default_rng(seed)
    means = []
    for _ in range(n_resamples):
        picked = rng.integers(0, len(a), size=len(a))
        means.append(np.mean([a[i] - b[i] for i in picked]))
    tail = (1 - confidence) / 2 * 100
    return np.mean(np.subtract(a, b)), *np.percentile(means, [tail, 100 - tail])


@pytest.mark.parametrize("chunk", [1, 7, 256, 5000])
def test_paired_bootstrap_equals_brute_force(chunk):
    rng = np.random.default_rng(1)
    a, b = rng.random(60), rng.random(60) * 0.8
    expected = brute_force_bootstrap(a, b, 500, seed=5)
    assert paired_bootstrap(a, b, n_resamples=500, seed=5, chunk=chunk) == pytest.approx(expected, abs=1e-12)


def test_paired_bootstrap_agrees_with_scipy_and_is_paired():
    rng = np.random.default_rng(2)
    shared = rng.random(400)  # a query's difficulty, common to both methods
    a, b = shared + 0.02 + 0.05 * rng.standard_normal(400), shared
    mean, low, high = paired_bootstrap(a, b, n_resamples=4000, seed=0)
    reference = stats.bootstrap((a, b), lambda x, y: np.mean(x - y), paired=True, vectorized=False,
                                n_resamples=4000, method="percentile", random_state=0).confidence_interval
    assert low == pytest.approx(reference.low, abs=0.002) and high == pytest.approx(reference.high, abs=0.002)
    assert low > 0  # paired: the shared difficulty cancels, the small gain is seen
    unpaired = stats.bootstrap((a,), np.mean, n_resamples=2000, random_state=0).confidence_interval
    assert high - low < (unpaired.high - unpaired.low) / 3


def test_paired_bootstrap_rejects_bad_input():
    with pytest.raises(ValueError, match="one score per query"):
        paired_bootstrap([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="finite"):
        paired_bootstrap([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="confidence"):
        paired_bootstrap([1.0, 2.0], [1.0, 2.0], confidence=1.0)


def test_compare_queries_leaves_out_queries_with_nothing_to_find():
    a = np.array([1.0, 1.0, np.nan, 1.0, 0.9, 1.0])
    b = np.array([0.0, 0.1, 0.5, np.nan, 0.0, 0.2])
    comparison = protocol.compare_queries(a, b, "learned", "raw")
    assert comparison.verdict == "better" and "4 queries" in comparison.evidence
    assert comparison.difference == pytest.approx(np.mean([1.0, 0.9, 0.9, 0.8]))
    same = protocol.compare_queries(a, a)
    assert same.verdict == "no clear difference" and same.difference == 0


def test_query_scores_are_per_query_and_exclude_near_duplicates():
    points = np.array([[0.0], [0.1], [1.0], [1.1], [5.0]])
    labels, groups = ["a", "a", "b", "b", "a"], [0, 0, 1, 2, 3]
    scores = protocol.query_scores(points, labels, groups=groups, measure="average_precision")
    ranks = relevant_ranks(points, labels, groups=groups)
    np.testing.assert_array_equal(scores, average_precision(ranks))
    assert scores[1] < 1  # its same-group twin is neither retrieved nor credited
    assert scores[2] == 1.0
    with pytest.raises(ValueError, match="unknown measure"):
        protocol.query_scores(points, labels, measure="accuracy")


def test_examples_are_picked_by_rule():
    scores = np.array([0.9, np.nan, 0.1, 0.5, 0.3, 0.7, 0.0, 1.0, 0.6])
    picked = protocol.pick_examples(scores)
    assert picked["median"] == 3  # 0.5 is the median of the 8 scores
    assert scores[picked["success"]] >= 0.9 and scores[picked["failure"]] <= 0.1
    assert 1 not in picked.values()
    assert protocol.pick_examples(np.zeros(8)) == {"median": 3, "success": 6, "failure": 1}  # ties: by position
    with pytest.raises(ValueError, match="at least 4"):
        protocol.pick_examples([0.1, np.nan, 0.2])


def test_seed_dots_draws_every_seed_and_the_baselines():
    frame = pd.DataFrame({"random": [0.3, 0.32, 0.31], "batch-hard": [0.4, 0.41, 0.38]}, index=[0, 1, 2])
    ax = seed_dots(frame, baselines={"chance": 0.08, "raw": 0.2}, measure="MAP@R")
    assert sum(len(c.get_offsets()) for c in ax.collections if hasattr(c, "get_offsets")) >= 6
    assert [t.get_text() for t in ax.get_xticklabels()] == ["random", "batch-hard"]
    assert {t.get_text() for t in ax.texts} == {"chance", "raw"}
    with pytest.raises(ValueError, match="empty"):
        seed_dots(pd.DataFrame())
