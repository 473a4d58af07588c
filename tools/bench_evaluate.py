"""Time utils.evaluate against pytorch-metric-learning's AccuracyCalculator on the same problem.

    python tools/bench_evaluate.py                 # 10k x 64, 100 classes: times and the ratios
    python tools/bench_evaluate.py --large         # and 100k x 128, 1,000 classes
    python tools/bench_evaluate.py --large --json build/evaluate.json

AccuracyCalculator gets an explicit brute-force KNN (CustomKNN(LpDistance)), as in the tests. Each
mode is timed against ours doing the same work: k=None (every item ranked: what full mAP and MRR
need) against ``retrieval_report``, and k="max_bin_count" (enough for P@1, R-precision and MAP@R
alone) against ``retrieval_report(full_ranking=False)``. At 100k items only the second pair runs
(k=None would hold 100k x 100k neighbours); AccuracyCalculator's KNN then runs in batches of
4,096 queries.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch
from pytorch_metric_learning.distances import LpDistance
from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
from pytorch_metric_learning.utils.inference import CustomKNN

from utils.evaluate import retrieval_report

FULL = ("precision_at_1", "r_precision", "mean_average_precision_at_r", "mean_average_precision", "mean_reciprocal_rank")
AT_R = ("precision_at_1", "r_precision", "mean_average_precision_at_r")


def problem(n_items: int, n_dims: int, n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Float32 points around class centres, and their labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n_items)
    centres = rng.normal(size=(n_classes, n_dims))
    return (centres[labels] + rng.normal(size=(n_items, n_dims))).astype(np.float32), labels


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def time_ours(points: np.ndarray, labels: np.ndarray, full_ranking: bool) -> tuple[float, dict]:
    start = time.perf_counter()
    report = retrieval_report(points, labels, full_ranking=full_ranking)
    return time.perf_counter() - start, report


def time_accuracy_calculator(points: np.ndarray, labels: np.ndarray, include: tuple, k,
                             batch_size: int | None = None) -> tuple[float, dict]:
    calculator = AccuracyCalculator(
        include=include,
        k=k,
        knn_func=CustomKNN(LpDistance(normalize_embeddings=False), batch_size=batch_size),
        device=torch.device("cpu"),
    )
    start = time.perf_counter()
    accuracy = calculator.get_accuracy(points, labels)
    return time.perf_counter() - start, accuracy


def compare(n_items: int, n_dims: int, n_classes: int, full: bool) -> dict:
    """Ours against AccuracyCalculator on one problem; ``full`` adds the full rankings (small sizes)."""
    points, labels = problem(n_items, n_dims, n_classes)
    row = {"items": n_items, "dims": n_dims, "classes": n_classes}
    ours_at_r, report = time_ours(points, labels, full_ranking=False)
    print(f"retrieval_report(full_ranking=False)  {n_items} x {n_dims}: {ours_at_r:7.2f} s")
    at_r, accuracy_at_r = time_accuracy_calculator(points, labels, AT_R, "max_bin_count",
                                                   batch_size=None if full else 4096)
    row.update(ours_at_r_s=ours_at_r, at_r_s=at_r, ratio_at_r=at_r / ours_at_r,
               gap=abs(report["map@r"] - accuracy_at_r["mean_average_precision_at_r"]))
    print(f"AccuracyCalculator k=max_bin_count (P@1, R-prec, MAP@R): {at_r:7.2f} s")
    if full:
        ours, report = time_ours(points, labels, full_ranking=True)
        print(f"retrieval_report (every item ranked):                {ours:7.2f} s")
        seconds, accuracy = time_accuracy_calculator(points, labels, FULL, None)
        row.update(ours_s=ours, full_s=seconds, ratio_full=seconds / ours,
                   gap=max(row["gap"], abs(report["map"] - accuracy["mean_average_precision"])))
        print(f"AccuracyCalculator k=None (+ full mAP, MRR):             {seconds:7.2f} s")
    row["peak_gb"] = peak_rss_gb()
    ratios = f"{row['ratio_full']:.1f}x with k=None, " if full else ""
    print(f"largest difference in mAP / MAP@R: {row['gap']:.1e}; ratio (AccuracyCalculator / ours): "
          f"{ratios}{row['ratio_at_r']:.1f}x with k=max_bin_count; peak RSS {row['peak_gb']:.2f} GB")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--dims", type=int, default=64)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--large", action="store_true", help="also compare at 100k x 128, 1,000 classes")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    print(f"threads: torch {torch.get_num_threads()}")
    rows = [compare(args.items, args.dims, args.classes, full=True)]
    if args.large:
        rows.append(compare(100_000, 128, 1_000, full=False))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
