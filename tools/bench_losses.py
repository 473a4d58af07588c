"""Benchmark utils.losses and utils.miners against pytorch-metric-learning (PML).

Times one training step's worth of work (mine, loss, backward) on the same random embeddings for
both libraries and prints a table with the speed-up (PML time / ours; above 1 means ours is
faster)::

    python tools/bench_losses.py                     # batch sizes 64, 256, 512; 128 dimensions
    python tools/bench_losses.py --batch-sizes 512 --repeats 50 --device cuda

Labels are P x K batches with K = 8 items per class (as a PKSampler gives). PML's NTXentLoss
builds a (positive pairs x negative pairs) matrix, cubic in the batch size: where it would exceed
``--max-pml-elements`` its row says so instead of exhausting the memory.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch
from pytorch_metric_learning import losses as pml_losses
from pytorch_metric_learning import miners as pml_miners

from utils import losses, miners

ITEMS_PER_CLASS = 8


def pml_ntxent_elements(batch_size: int) -> int:
    """Size of the matrix PML's NTXentLoss builds: positive pairs x negative pairs."""
    positive_pairs = batch_size * (ITEMS_PER_CLASS - 1)
    return positive_pairs * batch_size * (batch_size - ITEMS_PER_CLASS)


def cases(n_classes: int, dim: int) -> dict[str, tuple[Callable, Callable]]:
    """Benchmark name -> (make ours, make PML's): each a (miner or None, loss) pair."""

    def proxy(ours_class, pml_class):
        return (
            lambda: (None, ours_class(n_classes, dim)),
            lambda: (None, pml_class(n_classes, dim)),
        )

    return {
        "batch-hard triplet": (
            lambda: (miners.BatchHardMiner(), losses.TripletMarginLoss()),
            lambda: (pml_miners.BatchHardMiner(), pml_losses.TripletMarginLoss()),
        ),
        "semi-hard triplet": (
            lambda: (miners.TripletMarginMiner(0.2, "semihard"), losses.TripletMarginLoss(0.2)),
            lambda: (
                pml_miners.TripletMarginMiner(0.2, type_of_triplets="semihard"),
                pml_losses.TripletMarginLoss(0.2),
            ),
        ),
        "distance-weighted triplet": (
            lambda: (miners.DistanceWeightedMiner(), losses.TripletMarginLoss(0.2)),
            lambda: (pml_miners.DistanceWeightedMiner(), pml_losses.TripletMarginLoss(0.2)),
        ),
        "triplet, all triplets": (
            lambda: (None, losses.TripletMarginLoss()),
            lambda: (None, pml_losses.TripletMarginLoss()),
        ),
        "contrastive": (
            lambda: (None, losses.ContrastiveLoss()),
            lambda: (None, pml_losses.ContrastiveLoss()),
        ),
        "ntxent": (lambda: (None, losses.NTXentLoss()), lambda: (None, pml_losses.NTXentLoss())),
        "supcon": (lambda: (None, losses.SupConLoss()), lambda: (None, pml_losses.SupConLoss())),
        "proxy-nca": proxy(losses.ProxyNCALoss, pml_losses.ProxyNCALoss),
        "proxy-anchor": proxy(losses.ProxyAnchorLoss, pml_losses.ProxyAnchorLoss),
        "normalized softmax": proxy(losses.NormalizedSoftmaxLoss, pml_losses.NormalizedSoftmaxLoss),
        "arcface": proxy(losses.ArcFaceLoss, pml_losses.ArcFaceLoss),
    }


def make_step(miner, loss_fn, embeddings: torch.Tensor, labels: torch.Tensor) -> Callable[[], None]:
    """One step's worth of work: mine (if a miner is given), loss, backward."""

    def step():
        x = embeddings.detach().requires_grad_(True)
        indices_tuple = miner(x, labels) if miner is not None else None
        loss_fn(x, labels, indices_tuple).backward()
        if x.is_cuda:
            torch.cuda.synchronize()

    return step


def best_seconds(steps: list[Callable[[], None]], repeats: int) -> list[float]:
    """Shortest wall time of each step over ``repeats`` runs, after a warm-up.

    The steps alternate, so that a busy machine slows them alike, and the minimum (as ``timeit``
    advises) is the least disturbed by other processes.
    """
    times = [[] for _ in steps]
    for step in steps:
        step()
    for _ in range(repeats):
        for step, elapsed in zip(steps, times, strict=True):
            start = time.perf_counter()
            step()
            elapsed.append(time.perf_counter() - start)
    return [min(elapsed) for elapsed in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256, 512])
    parser.add_argument("--dim", type=int, default=128, help="embedding size")
    parser.add_argument("--repeats", type=int, default=20, help="timed steps per cell (best of)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's)"
    )
    parser.add_argument(
        "--max-pml-elements", type=float, default=5e7, help="skip PML's NTXent above this"
    )
    parser.add_argument("--only", nargs="+", default=None, help="names of the cases to run")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    rows = []
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads, dim {args.dim}"
    )
    print(f"{'case':<27} {'batch':>5} {'PML ms':>9} {'ours ms':>9} {'speed-up':>9}")
    for batch_size in args.batch_sizes:
        generator = torch.Generator().manual_seed(batch_size)
        embeddings = torch.randn(batch_size, args.dim, generator=generator).to(args.device)
        n_classes = batch_size // ITEMS_PER_CLASS
        labels = (torch.arange(batch_size) % n_classes).to(args.device)
        for name, (make_ours, make_pml) in cases(n_classes, args.dim).items():
            if args.only and name not in args.only:
                continue
            ours_miner, ours_loss = make_ours()
            ours_step = make_step(ours_miner, ours_loss.to(args.device), embeddings, labels)
            if name == "ntxent" and pml_ntxent_elements(batch_size) > args.max_pml_elements:
                (ours,) = best_seconds([ours_step], args.repeats)
                rows.append({"case": name, "batch": batch_size, "ours_ms": ours * 1e3, "pml_ms": None})
                gigabytes = pml_ntxent_elements(batch_size) * 4 / 1e9
                print(
                    f"{name:<27} {batch_size:>5} {'skipped':>9} {ours * 1e3:>9.2f}   PML needs >{gigabytes:.1f} GB"
                )
                continue
            pml_miner, pml_loss = make_pml()
            pml_step = make_step(pml_miner, pml_loss.to(args.device), embeddings, labels)
            ours, theirs = best_seconds([ours_step, pml_step], args.repeats)
            rows.append({"case": name, "batch": batch_size, "ours_ms": ours * 1e3, "pml_ms": theirs * 1e3,
                         "speedup": theirs / ours})
            print(
                f"{name:<27} {batch_size:>5} {theirs * 1e3:>9.2f} {ours * 1e3:>9.2f} {theirs / ours:>8.2f}x"
            )

    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
