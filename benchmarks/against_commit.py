"""This checkout's vector env against an earlier commit's, side by side in one run.

A figure from another day is no baseline: the shared machine's speed moves 2-3x from day to
day (and the machine itself changes). So a target stated against the code of a given day (issue
#23: "B = 4,096 no slower than today", "B = 64: 200,000 user-steps/s" when that day's code did
36,000) is checked by running that day's code beside this one: the commit's tree is extracted
with ``git archive`` into a temporary folder (nothing else is written) and each side steps B
users in a worker process of its own (``peer_loops/driftrec_at.py``), in alternating timed
blocks as ``peers.py`` runs them (``run_group``). Reported per B and backend: medians over
repeats of CPU and wall seconds a step, and ``speedup_cpu``, the median over repeats of the
commit's CPU time of a block over this checkout's in the same repeat (paired, so that the
machine's drift between repeats cancels).

    python -m driftrec.benchmarks.against_commit --commit a755c55 --batches 64,4096 \\
        --backends torch,fast-blas

The commit's side runs its own default backend (an older tree may know no other). Results go
to ``benchmarks/results/against_commit.json`` (atomically, with the command, both commits and
the load average).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from driftrec.benchmarks.peers import (
    BACKENDS,
    Job,
    add_run_arguments,
    check_run_arguments,
    name_list,
    positive_ints,
    run_group,
    timing_row,
)
from driftrec.cli.report import versions
from driftrec.encoders.io import atomic_write_json

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "against_commit.json"
WORKER = "driftrec_at.py"
VECTOR_NK = (100, 10)
OURS, THEIRS = "driftrec", "driftrec@commit"  # worker keys (a failure of either is an error)
# The backends this checkout's side may run (the vector env's; ``-lean`` is single-user only).
VECTOR_BACKENDS = tuple(b for b in BACKENDS if not b.endswith("-lean"))


def resolve_commit(commit: str) -> str:
    """The full hash of ``commit`` in this checkout's repository, or a ``ValueError`` naming
    it (an unknown name, or no repository here)."""
    done = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise ValueError(
            f"--commit {commit}: not a commit of the repository at {REPO}; expected a hash, tag "
            "or branch name that `git rev-parse` knows"
        )
    return done.stdout.strip()


def extract_tree(commit: str, into: Path) -> Path:
    """The commit's files as the package ``into/driftrec`` (``git archive``: the working tree
    and the repository are left as they are). Returns ``into``, the folder to import it from."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", commit],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into / "driftrec", filter="data")
    return into


def measure(args: argparse.Namespace, tree: Path) -> list[dict[str, Any]]:
    """Per B: the commit's default and each of this checkout's backends, alternating blocks."""
    n, k = VECTOR_NK
    rows = []
    for b in args.batches:
        common = (str(b), str(n), str(k), str(args.seed), str(args.items))
        jobs = [
            Job(THEIRS, sys.executable, (WORKER, str(tree), *common, "default"), ("default",)),
            Job(OURS, sys.executable, (WORKER, "-", *common, ",".join(args.backends)),
                tuple(args.backends)),
        ]  # fmt: skip
        times, _ = run_group(jobs, args.repeats, args.budget_s, args.timeout_s, {})
        theirs = times[(THEIRS, "default")]
        rows.append({"side": "commit", "backend": "default", "B": b, "N": n, "K": k,
                     **timing_row(theirs, b)})  # fmt: skip
        for backend in args.backends:
            ours = times[(OURS, backend)]
            speedup = statistics.median(t / o for t, o in zip(theirs["cpu"], ours["cpu"]))
            rows.append({"side": "checkout", "backend": backend, "B": b, "N": n, "K": k,
                         **timing_row(ours, b), "speedup_cpu": speedup})  # fmt: skip
        for row in rows[-1 - len(args.backends) :]:
            gain = f"  {row['speedup_cpu']:.2f}x the commit" if "speedup_cpu" in row else ""
            print(
                f"B={b:<5} {row['side']:<8} {row['backend']:<9} {row['cpu_us'] / 1e3:9.3f} "
                f"CPU-ms {row['cpu_per_s']:>12,.0f} user-steps/s by CPU{gain}",
                flush=True,
            )
    return rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--commit", required=True,
                        help="the earlier commit (hash, tag or branch) to run beside this "
                        "checkout")  # fmt: skip
    parser.add_argument(
        "--batches",
        type=positive_ints("batch sizes", "64,4096"),
        default=[64, 4096],
        help="B list at N=100, K=10 (default 64,4096)",
    )
    parser.add_argument("--backends", type=name_list(VECTOR_BACKENDS), default=["torch"],
                        help="this checkout's backends (default torch, the vector env's "
                        "default)")  # fmt: skip
    add_run_arguments(parser, budget_s=2.0, items_help="catalog size M", output=RESULTS)
    args = parser.parse_args(argv)
    check_run_arguments(parser, args)
    try:
        args.commit_hash = resolve_commit(args.commit)
    except ValueError as err:
        parser.error(str(err))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="driftrec-commit-") as tmp:
        rows = measure(args, extract_tree(args.commit_hash, Path(tmp)))
    result = {
        "benchmark": "against_commit",
        "command": " ".join(["python -m driftrec.benchmarks.against_commit",
                             *(argv if argv is not None else sys.argv[1:])]),
        "commit": args.commit_hash,
        "config": {"batches": args.batches, "N_K": VECTOR_NK, "backends": args.backends,
                   "repeats": args.repeats, "budget_s": args.budget_s, "items": args.items,
                   "seed": args.seed, "threads": 1,
                   "statistic": "median over repeats of alternating blocks (order rotated each "
                   "repeat); speedup_cpu = median over repeats of the commit's CPU seconds a "
                   "step over this checkout's in the same repeat"},
        "environment": {**versions(), "machine": platform.machine(),
                        "processor": platform.processor(), "cpu_count": os.cpu_count(),
                        "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "rows": rows,
    }  # fmt: skip
    atomic_write_json(args.output, result)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
