"""The dataset registry and the command line: ``python -m utils.data build [NAME ...] [--cache-dir DIR]``."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from utils.data.cache import CACHE_ENV
from utils.data.chorales import load_chorales
from utils.data.dataset import FEATURE_KINDS, Dataset
from utils.data.gm_notes import load_gm_notes

#: The course datasets by name.
DATASETS: dict[str, Callable[..., Dataset]] = {"gm_notes": load_gm_notes, "chorales": load_chorales}


def load(name: str, cache_dir: str | os.PathLike | None = None, **kwargs: Any) -> Dataset:
    """Load a course dataset by its registry name (see :data:`DATASETS`)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose from {sorted(DATASETS)}")
    return DATASETS[name](cache_dir, **kwargs)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m utils.data",
                                     description="Build and cache the course datasets.")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build (or verify) datasets in the cache")
    build.add_argument("names", nargs="*", metavar="NAME",
                       help=f"datasets to build (default: all): {', '.join(DATASETS)}")
    build.add_argument("--cache-dir", default=None,
                       help=f"cache root (default: ${CACHE_ENV} or data/cache)")
    build.add_argument("--rebuild", action="store_true", help="rebuild even if the cache is valid")
    build.add_argument("--workers", type=int, default=None, help="rendering processes (default 2)")
    build.add_argument("--features", nargs="*", default=list(FEATURE_KINDS), metavar="KIND",
                       help="features to precompute (default: all: " + " ".join(FEATURE_KINDS) + ")")
    return parser


def main(argv: Iterable[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(None if argv is None else list(argv))
    names = args.names or list(DATASETS)
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        parser.error(f"unknown dataset(s) {unknown}; choose from {list(DATASETS)}")
    bad_kinds = [k for k in args.features if k not in FEATURE_KINDS]
    if bad_kinds:
        parser.error(f"unknown feature kind(s) {bad_kinds}; choose from {list(FEATURE_KINDS)}")
    for name in names:
        start = time.perf_counter()
        dataset = DATASETS[name](args.cache_dir, rebuild=args.rebuild, workers=args.workers)
        dataset.precompute(args.features)
        print(f"{name}: {len(dataset)} clips, ready in {time.perf_counter() - start:.1f} s "
              f"({dataset.cache_dir})")
    return 0
