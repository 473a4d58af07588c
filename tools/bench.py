"""`make bench`: the course's benchmarks, in one table, saved as build/bench.json.

- every notebook executed headless (warm data cache): wall time and peak memory of its kernel;
- building the datasets from scratch into a temporary directory;
- tools/bench_losses.py and tools/bench_evaluate.py: our losses, miners and evaluation against
  pytorch-metric-learning on the same inputs (ratios measured side by side; evaluation at 10k and
  100k items);
- tools/bench_search.py: approximate (FAISS HNSW) against exact nearest-neighbour search.

It ends with a summary table; build/bench.json holds every row.

    python tools/bench.py                  # everything
    python tools/bench.py --only notebooks # or: data, losses, evaluate, search
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import stamp  # noqa: E402

#: Runs a command and prints the peak memory (kB) of its largest descendant: each measurement's own.
_PEAK = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)")


def measure(command: list[str]) -> dict:
    """Run a command; its wall time (s), peak memory of its largest process (GB), exit code."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _PEAK, *command], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    peak = int(done.stderr.strip().splitlines()[-1]) / 2**20
    if done.returncode:
        print(done.stdout[-2000:], done.stderr[-2000:], sep="\n")
    return {"seconds": round(seconds, 1), "peak_gb": round(peak, 2), "ok": done.returncode == 0,
            "output": done.stdout[-4000:]}


def bench_notebooks() -> dict:
    """Each notebook in its own process, so peak memory is its own (ru_maxrss of the children)."""
    results = {}
    with tempfile.TemporaryDirectory() as out:
        for notebook in stamp.notebook_paths():
            name = notebook.relative_to(ROOT).as_posix()
            results[name] = measure([sys.executable, "tools/execute.py", "--output-dir", out, name])
            print(f"{results[name]['seconds']:7.1f} s {results[name]['peak_gb']:5.2f} GB  {name}", flush=True)
    return results


def bench_data() -> dict:
    with tempfile.TemporaryDirectory() as cache:
        result = measure([sys.executable, "-m", "utils.data", "build", "--cache-dir", cache])
        result["load"] = measure([sys.executable, "-c",
                                  "import time; t = time.perf_counter(); from utils.data import load_gm_notes, "
                                  f"load_chorales; load_gm_notes({cache!r}); load_chorales({cache!r}); "
                                  "print(f'{time.perf_counter() - t:.2f}')"])
    print(f"data: build {result['seconds']} s, load {result['load']['output'].strip()} s", flush=True)
    return result


def bench_script(script: str, *options: str) -> dict:
    """Run one of the tools/bench_*.py scripts; its rows (written with --json) and its own measures."""
    with tempfile.TemporaryDirectory() as out:
        rows = Path(out) / "rows.json"
        result = measure([sys.executable, f"tools/{script}", *options, "--json", str(rows)])
        result["rows"] = json.loads(rows.read_text()) if rows.exists() else None
    print(result["output"], flush=True)
    return result


SUITES = {
    "notebooks": bench_notebooks,
    "data": bench_data,
    "losses": lambda: bench_script("bench_losses.py"),
    "evaluate": lambda: bench_script("bench_evaluate.py", "--large"),
    "search": lambda: bench_script("bench_search.py"),
}


def summary(results: dict) -> str:
    """The headline numbers of every suite that ran, as a markdown table."""
    lines = ["| measure | value |", "|---|---|"]
    if "notebooks" in results:
        runs = results["notebooks"]
        lines += [f"| {name.removeprefix('notebooks/')} | {r['seconds']:.0f} s, {r['peak_gb']:.2f} GB |"
                  for name, r in runs.items()]
        lines.append(f"| all notebooks | {sum(r['seconds'] for r in runs.values()):.0f} s, "
                     f"peak {max(r['peak_gb'] for r in runs.values()):.2f} GB |")
    if "data" in results:
        data = results["data"]
        lines.append(f"| datasets from scratch / load | {data['seconds']:.0f} s ({data['peak_gb']:.2f} GB) / "
                     f"{data['load']['output'].strip()} s |")
    for row in (results.get("losses", {}).get("rows") or []):
        if row["pml_ms"] is not None:
            lines.append(f"| {row['case']}, batch {row['batch']}: PML / ours | {row['pml_ms']:.2f} / "
                         f"{row['ours_ms']:.2f} ms = {row['speedup']:.2f}x |")
    for row in (results.get("evaluate", {}).get("rows") or []):
        full = f"{row['ratio_full']:.1f}x (k=None), " if "ratio_full" in row else ""
        lines.append(f"| evaluation {row['items']:,} x {row['dims']}: AccuracyCalculator / ours | {full}"
                     f"{row['ratio_at_r']:.1f}x (k=max_bin_count, ours {row['ours_at_r_s']:.1f} s) |")
    search = results.get("search", {}).get("rows")
    if search:
        for row in search["hnsw"]:
            lines.append(f"| HNSW efSearch {row['efSearch']} vs exact, {search['items']:,} items | recall@10 "
                         f"{row['recall']:.3f}, {row['speedup']:.1f}x faster |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=SUITES, action="append", help="run only these suites")
    args = parser.parse_args(argv)
    results = {name: SUITES[name]() for name in args.only or SUITES}
    print(summary(results))
    out = ROOT / "build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"saved {out.relative_to(ROOT)}")
    failed = [name for name, r in results.items() if not all(
        v.get("ok", True) for v in (r.values() if name == "notebooks" else [r]))]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
