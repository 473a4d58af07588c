"""Time utils.evaluate against pytorch-metric-learning's AccuracyCalculator on the same problem.

    python tools/bench_evaluate.py                 # 10k x 64, 100 classes: times and the ratio
    python tools/bench_evaluate.py --large         # and 100k x 128 with utils.evaluate alone

AccuracyCalculator gets an explicit brute-force KNN (CustomKNN(LpDistance)), as in the tests. It is
timed twice: with k=None (every item ranked: what full mAP and MRR need, and what
``retrieval_report`` always computes) and with k="max_bin_count" (enough for P@1, R-precision
and MAP@R alone).
"""

from __future__ import annotations

import argparse
import resource
import time

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


def time_ours(points: np.ndarray, labels: np.ndarray) -> tuple[float, dict]:
    start = time.perf_counter()
    report = retrieval_report(points, labels)
    return time.perf_counter() - start, report


def time_accuracy_calculator(points: np.ndarray, labels: np.ndarray, include: tuple, k) -> tuple[float, dict]:
    calculator = AccuracyCalculator(
        include=include,
        k=k,
        knn_func=CustomKNN(LpDistance(normalize_embeddings=False)),
        device=torch.device("cpu"),
    )
    start = time.perf_counter()
    accuracy = calculator.get_accuracy(points, labels)
    return time.perf_counter() - start, accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--dims", type=int, default=64)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--large", action="store_true", help="also time 100k x 128 (ours only)")
    args = parser.parse_args()
    print(f"threads: torch {torch.get_num_threads()}")

    points, labels = problem(args.items, args.dims, args.classes)
    ours, report = time_ours(points, labels)
    print(f"utils.evaluate.retrieval_report  {args.items} x {args.dims}: {ours:7.2f} s "
          f"(peak RSS so far {peak_rss_gb():.2f} GB)")
    at_r, accuracy_at_r = time_accuracy_calculator(points, labels, AT_R, "max_bin_count")
    print(f"AccuracyCalculator k=max_bin_count (P@1, R-prec, MAP@R): {at_r:7.2f} s")
    full, accuracy = time_accuracy_calculator(points, labels, FULL, None)
    print(f"AccuracyCalculator k=None (+ full mAP, MRR):             {full:7.2f} s "
          f"(peak RSS so far {peak_rss_gb():.2f} GB)")
    gap = max(abs(report["map"] - accuracy["mean_average_precision"]),
              abs(report["map@r"] - accuracy_at_r["mean_average_precision_at_r"]))
    print(f"largest difference in mAP / MAP@R: {gap:.1e}")
    print(f"ratio (AccuracyCalculator / ours): {full / ours:.1f}x with k=None, {at_r / ours:.1f}x with k=max_bin_count")

    if args.large:
        points, labels = problem(100_000, 128, 1_000)
        large, report = time_ours(points, labels)
        print(f"utils.evaluate.retrieval_report 100000 x 128: {large:7.1f} s "
              f"(peak RSS {peak_rss_gb():.2f} GB), MAP@R {report['map@r']:.3f}")


if __name__ == "__main__":
    main()
