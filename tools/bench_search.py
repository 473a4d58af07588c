"""Approximate against exact nearest-neighbour search at catalogue scale (FAISS HNSW vs a flat index).

    python tools/bench_search.py                   # 100k x 64 catalogue, 1,000 queries, k = 10
    python tools/bench_search.py --items 1000000 --json build/search.json

Both indexes search the same clustered float32 points; recall@k is the share of the exact k nearest
neighbours that the approximate search returns. Times are per query, one thread each.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import faiss
import numpy as np
from bench_evaluate import problem


def timed_search(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    """Milliseconds per query, and the neighbours' indices (queries x k)."""
    start = time.perf_counter()
    _, neighbours = index.search(queries, k)
    return (time.perf_counter() - start) * 1e3 / len(queries), neighbours


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    """Share of the exact neighbours found, averaged over queries."""
    return float(np.mean([len(set(f) & set(e)) / len(e) for f, e in zip(found, exact, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--dims", type=int, default=64)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--efforts", type=int, nargs="+", default=[16, 32, 64, 128], help="HNSW efSearch")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    points, _ = problem(args.items + args.queries, args.dims, n_classes=1_000)
    catalogue, queries = points[:args.items], points[args.items:]

    exact_index = faiss.IndexFlatL2(args.dims)
    exact_index.add(catalogue)
    exact_ms, exact = timed_search(exact_index, queries, args.k)
    start = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(args.dims, 32)
    hnsw.add(catalogue)
    build_s = time.perf_counter() - start
    print(f"{args.items} x {args.dims}, {args.queries} queries, k = {args.k}, one thread")
    print(f"exact (IndexFlatL2): {exact_ms:.3f} ms per query; HNSW built in {build_s:.1f} s")
    print(f"{'efSearch':>8} {'ms/query':>9} {'recall@k':>9} {'speed-up':>9}")
    rows = []
    for effort in args.efforts:
        hnsw.hnsw.efSearch = effort
        ms, found = timed_search(hnsw, queries, args.k)
        rows.append({"efSearch": effort, "ms_per_query": round(ms, 4), "recall": round(recall(found, exact), 4),
                     "speedup": round(exact_ms / ms, 1)})
        print(f"{effort:>8} {ms:>9.3f} {rows[-1]['recall']:>9.3f} {exact_ms / ms:>8.1f}x")
    if args.json:
        args.json.write_text(json.dumps({"items": args.items, "dims": args.dims, "exact_ms_per_query": exact_ms,
                                         "hnsw_build_s": build_s, "hnsw": rows}, indent=1))


if __name__ == "__main__":
    main()
