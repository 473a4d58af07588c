"""The course's evidence protocol, written once (Musgrave, Belongie & Lim, *A metric learning reality
check*, ECCV 2020), and used by every notebook that draws a conclusion from a number.

1. **Splits.** Class-disjoint train / valid / test: the datasets' ``split`` column (GM notes: 36
   training instruments, 12 validation and 12 test instruments, one of each per family; chorales:
   held-out pieces), cut by :func:`utils.experiments.labelled_splits`. Near-duplicate groups (same
   program and pitch; same excerpt) never straddle splits and are excluded from each query's
   ground truth (``groups=``). Every choice is made on ``valid``; ``test`` is read once, at the end.
2. **Seeds.** A training-based comparison runs every method on :func:`seeds_for` (5 seeds by
   default), in parallel processes on both cores (:func:`run_seeds`), and shows each seed
   (:func:`utils.plots.seed_dots`, :func:`seed_summary`).
3. **Intervals.** An evaluation-only comparison gets a paired bootstrap interval over queries
   (:func:`compare_queries`, on :func:`query_scores`).
4. **Verdicts.** :class:`Comparison` calls a difference only when it holds on every seed, or when
   its interval excludes 0; otherwise its verdict is "no clear difference", which is a result too.
   ``claim(...)`` asserts verdicts, so a claim holds whatever ``SEED`` the reader sets.
5. **Examples by rule.** :func:`pick_examples` chooses the query to listen to (a median query, a
   typical success, a typical failure) on the validation split, never by hand.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from utils.checks import check_int, check_number
from utils.evaluate import (
    Metric,
    average_precision,
    map_at_r,
    paired_bootstrap,
    precision_at_k,
    r_precision,
    reciprocal_rank,
    relevant_ranks,
)

#: Training seeds per comparison (the reality check's minimum is several; 5 fit the time budget).
N_SEEDS = 5
#: Environment variable that sets the number of worker processes of :func:`run_seeds`.
WORKERS_VARIABLE = "ML4MIR_WORKERS"

VERDICTS = ("better", "worse", "no clear difference")


# --- seeds ----------------------------------------------------------------------------------------


def seeds_for(seed: int, n: int = N_SEEDS) -> list[int]:
    """The ``n`` training seeds of a notebook whose ``SEED`` is ``seed``: ``1000 * seed + i``.

    Different ``SEED`` values give disjoint sets of runs, so "it holds whatever SEED" means what it
    says.

    >>> seeds_for(0, 3), seeds_for(1, 3)
    ([0, 1, 2], [1000, 1001, 1002])
    """
    seed, n = check_int(seed, "seed", minimum=0), check_int(n, "n")
    return [1000 * seed + i for i in range(n)]


def default_workers() -> int:
    """Worker processes for :func:`run_seeds`: ``$ML4MIR_WORKERS``, else 2 (or 1 on one core)."""
    value = os.environ.get(WORKERS_VARIABLE)
    if value is not None:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{WORKERS_VARIABLE} must be a positive integer, got {value!r}.")
        return int(value)
    return max(1, min(2, os.cpu_count() or 1))


def _seeded_call(function: Callable[[int], Any], seed: int, threads: int) -> Any:
    """Run ``function(seed)`` seeded, on ``threads`` CPU threads (in a worker or in this process)."""
    import torch
    from threadpoolctl import threadpool_limits

    from utils.course import block_network, seed_everything

    if os.environ.get("ML4MIR_OFFLINE") == "1":
        block_network()
    torch.set_num_threads(threads)
    seed_everything(seed)
    with threadpool_limits(threads):
        return function(seed)


def _in_this_process(function: Callable[[int], Any], seed: int) -> Any:
    """:func:`_seeded_call` here, leaving this process's random states as they were."""
    import torch

    state = random.getstate(), np.random.get_state(), torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        try:
            return _seeded_call(function, seed, 1)
        finally:
            random.setstate(state[0])
            np.random.set_state(state[1])
            torch.set_num_threads(state[2])


def run_seeds(function: Callable[[int], Any], seeds: Sequence[int], *, workers: int | None = None,
              progress: bool = True, desc: str = "seeds") -> list[Any]:
    """``[function(seed) for seed in seeds]``, each run seeded, in parallel processes.

    Each run starts with :func:`utils.course.seed_everything` (``seed``) on one CPU thread, so its
    result depends on its seed only, not on the worker or the order: ``workers=1`` (in this
    process, its random state left as it was) gives the same numbers as 2 workers.

    Parameters
    ----------
    function : called as ``function(seed)``; defined in a notebook is fine (it travels by value,
        with the globals it uses: let it use tensors and arrays, not a whole dataset's audio).
    seeds : e.g. :func:`seeds_for` (``SEED``).
    workers : processes (default :func:`default_workers`: both cores); 1 runs here, in order.
    """
    seeds = [check_int(seed, "each seed", minimum=0) for seed in seeds]
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed, e.g. seeds_for(SEED).")
    workers = default_workers() if workers is None else check_int(workers, "workers")
    from tqdm.auto import tqdm

    bar = dict(total=len(seeds), desc=desc, disable=not progress, leave=False)
    if workers == 1 or len(seeds) == 1:
        return [_in_this_process(function, seed) for seed in tqdm(seeds, **bar)]
    from joblib import Parallel, delayed

    jobs = Parallel(n_jobs=min(workers, len(seeds)), backend="loky", return_as="generator")
    results = jobs(delayed(_seeded_call)(function, seed, 1) for seed in seeds)
    return list(tqdm(results, **bar))


def seed_frame(rows: Sequence[Mapping[str, float]], seeds: Sequence[int]) -> pd.DataFrame:
    """One row per seed (index ``seed``), one column per method or measure."""
    if len(rows) != len(seeds):
        raise ValueError(f"{len(rows)} results for {len(seeds)} seeds.")
    return pd.DataFrame(list(rows), index=pd.Index(list(seeds), name="seed"))


def seed_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per column of a :func:`seed_frame`: mean, sd (n - 1), min, max over seeds, and n."""
    numeric = frame.astype(float)
    return pd.DataFrame({"mean": numeric.mean(), "sd": numeric.std(ddof=1), "min": numeric.min(),
                         "max": numeric.max(), "n": numeric.count()})


# --- comparisons ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """The evidence on "``a`` versus ``b``" for a measure where higher is better.

    difference : mean of ``a - b`` (over seeds, or over queries).
    low, high : over seeds, the smallest and largest per-seed difference; over queries, the
        paired bootstrap interval.
    evidence : what the difference was measured over ("5 seeds", "95% interval over 300 queries").
    """

    a: str
    b: str
    difference: float
    low: float
    high: float
    evidence: str

    @property
    def verdict(self) -> str:
        """"better" (``a`` above ``b`` on every seed, or the interval above 0), "worse", or
        "no clear difference"."""
        if self.low > 0:
            return "better"
        if self.high < 0:
            return "worse"
        return "no clear difference"

    def exceeds(self, margin: float) -> bool:
        """Whether ``a`` beats ``b`` by more than ``margin`` on every seed (or the whole interval)."""
        return self.low > check_number(margin, "margin", minimum=-np.inf)

    def within(self, tolerance: float) -> bool:
        """Whether every seed's difference (or the whole interval) lies within ``± tolerance``."""
        tolerance = check_number(tolerance, "tolerance")
        return -tolerance < self.low and self.high < tolerance

    def __str__(self) -> str:
        words = {"better": f"{self.a} beats {self.b}", "worse": f"{self.b} beats {self.a}",
                 "no clear difference": f"no clear difference between {self.a} and {self.b}"}
        return (f"{self.a} - {self.b}: {self.difference:+.3f} [{self.low:+.3f}, {self.high:+.3f}] "
                f"({self.evidence}): {words[self.verdict]}")

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))


def compare_seeds(frame: pd.DataFrame, a: str, b: str, *, higher_is_better: bool = True) -> Comparison:
    """Compare columns ``a`` and ``b`` of a :func:`seed_frame`, paired by seed (same data, same
    initial weights): the range of the per-seed differences decides the verdict."""
    for name in (a, b):
        if name not in frame.columns:
            raise KeyError(f"{name!r} is not a column of the seed table; columns: {list(frame.columns)}")
    differences = (frame[a] - frame[b]).astype(float).dropna()
    if len(differences) < 2:
        raise ValueError(f"compare_seeds needs at least 2 seeds with both {a!r} and {b!r}; got {len(differences)}.")
    sign = 1.0 if higher_is_better else -1.0
    differences = sign * differences
    return Comparison(a, b, float(differences.mean()), float(differences.min()), float(differences.max()),
                      f"{len(differences)} seeds")


def compare_queries(scores_a: ArrayLike, scores_b: ArrayLike, a: str = "a", b: str = "b", *,
                    confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0,
                    higher_is_better: bool = True) -> Comparison:
    """Compare two methods by per-query scores on the same queries (:func:`query_scores`), with a
    paired bootstrap interval of the mean difference (:func:`utils.evaluate.paired_bootstrap`).
    Queries where either score is NaN (nothing to find) are left out."""
    first, second = np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)
    if first.shape != second.shape or first.ndim != 1:
        raise ValueError(f"scores_a and scores_b must be 1-D, one score per query each; got {first.shape} and {second.shape}.")
    keep = ~(np.isnan(first) | np.isnan(second))
    sign = 1.0 if higher_is_better else -1.0
    mean, low, high = paired_bootstrap(sign * first[keep], sign * second[keep], confidence=confidence,
                                       n_resamples=n_resamples, seed=seed)
    return Comparison(a, b, mean, low, high, f"a {confidence:.0%} interval over {int(keep.sum())} queries")


def verdict_table(comparisons: Sequence[Comparison]) -> pd.DataFrame:
    """Comparisons as a table: difference, its range or interval, the evidence, the verdict."""
    return pd.DataFrame([{"a": c.a, "b": c.b, "a - b": round(c.difference, 3), "low": round(c.low, 3),
                          "high": round(c.high, 3), "over": c.evidence, "verdict": c.verdict}
                         for c in comparisons])


# --- per-query scores and examples ----------------------------------------------------------------

_QUERY_MEASURES: dict[str, Callable] = {
    "average_precision": average_precision,
    "map@r": map_at_r,
    "r_precision": r_precision,
    "precision@1": lambda ranks: precision_at_k(ranks, 1),
    "reciprocal_rank": reciprocal_rank,
}


def query_scores(embeddings: ArrayLike, labels: ArrayLike, *, groups: ArrayLike | None = None,
                 measure: str = "map@r", metric: Metric = "euclidean", **search: Any) -> np.ndarray:
    """One score per query (n_queries,): ``measure`` of its ranking, NaN where it has nothing to
    find. Arguments as :func:`utils.evaluate.relevant_ranks` (``groups`` excludes near-duplicates:
    pass them, as the protocol requires)."""
    if measure not in _QUERY_MEASURES:
        raise ValueError(f"unknown measure {measure!r}; choose from {sorted(_QUERY_MEASURES)}")
    ranks = relevant_ranks(embeddings, labels, groups=groups, metric=metric, **search)
    return np.asarray(_QUERY_MEASURES[measure](ranks), dtype=float)


def pick_examples(scores: ArrayLike) -> dict[str, int]:
    """The queries to look at and listen to, chosen by rule from per-query scores (higher better):

    - ``"median"``: the query with the median score (the lower one of an even count);
    - ``"success"``: the median query of the best quarter (a typical success, not the best one);
    - ``"failure"``: the median query of the worst quarter (a typical failure, not the worst one).

    Ties are broken by position (a stable sort), NaN scores (nothing to find) are never chosen.
    Apply it to validation queries, so the test split stays unread.
    """
    values = np.asarray(scores, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"scores must be 1-D, one per query; got shape {values.shape}.")
    candidates = np.flatnonzero(~np.isnan(values))
    if len(candidates) < 4:
        raise ValueError(f"pick_examples needs at least 4 queries with a score, got {len(candidates)}.")
    order = candidates[np.argsort(values[candidates], kind="stable")]
    quarter = len(order) // 4
    return {"median": int(order[(len(order) - 1) // 2]), "success": int(order[len(order) - 1 - quarter // 2]),
            "failure": int(order[quarter // 2])}


def chance_scores(labels: ArrayLike, *, groups: ArrayLike | None = None, measure: str = "map@r",
                  n_draws: int = 10, seed: int = 0) -> np.ndarray:
    """Each query's expected score under a random ranking (the chance row of a results table), as
    :func:`query_scores` (n_queries,), estimated over ``n_draws`` random rankings.

    A random 1-D embedding ranks the other items of every query in a uniformly random order, so the
    same code path (``groups``, ``measure``) scores chance and the methods alike.
    """
    labels = np.asarray(labels)
    n_draws = check_int(n_draws, "n_draws")
    rng = np.random.default_rng(seed)
    draws = [query_scores(rng.normal(size=(len(labels), 1)), labels, groups=groups, measure=measure)
             for _ in range(n_draws)]
    return np.mean(draws, axis=0)
