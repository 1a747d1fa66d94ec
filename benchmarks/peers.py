"""driftrec beside RecSim and SARDINE: steps per second of one user, in one run on one machine.

Each simulator runs in a worker process of its own interpreter: the peers (RecSim's
``interest_evolution`` at (N, K) = (10, 2) and (100, 10); SARDINE's ``SlateTopK-Bored-v0``,
1,000 items, K = 10) in the peer interpreter given by ``--peer-python`` (a scratch virtual
environment: the peers are never dependencies of driftrec), driftrec in this one. The worker
scripts live in ``benchmarks/peer_loops/``; a peer's imports only the peer. Every worker steps
whole sessions (a reset when one ends) with random distinct slates drawn up front.

The workers of one (N, K) run side by side and the driver alternates timed blocks between them
(the order rotates each repeat, so a shared machine's drift falls on all alike); a figure is
the median over repeats of a block's seconds per step, by wall clock and by CPU
(``time.process_time`` in the worker). On a shared machine the CPU figures are the comparable
ones, and the load average is recorded before and after.

driftrec is measured through ``gym.make("driftrec/Video-v0")`` (built-in catalog) on each
backend at (N, K) = (10, 2), (100, 10), (1000, 10), and as the vector env of B users at
N = 100, K = 10 (synthetic catalog, d = 384). Each of its steps is also reported as a multiple
of its floor: the slate *gather* (B×K item embeddings copied into a buffer) plus the utility
*product* that scores every user against a new pool (the torch engine's own operands, divided
by the pool lifetime; by the engine's ``similarity_product`` and by ``numpy.matmul``, the
cheaper of the two, since at one user a torch call's fixed cost exceeds the arithmetic), all
timed in the same blocks, as in ``throughput.py``.

SARDINE scores only the K shown items, with 10-dimensional item embeddings (its ``num_topics``);
driftrec scores all N candidates in the encoder's d = 384. So beside SARDINE the benchmark also
runs driftrec at equal N and K in a low-dimensional space driftrec really uses (``--low-dims``,
default 10 and 64): the item adapter's, here a fixed random linear map of the catalog's
embeddings through the calibrated scenarios' route (``peer_loops/driftrec_loop.py``
``low_dim_world``). Those rows carry ``d`` and ``space`` and answer what the speed is at equal
dimension; the rows at d = 384 are the default simulator's.

    python -m driftrec.benchmarks.peers --peer-python /tmp/peers-venv/bin/python
    python -m driftrec.benchmarks.peers            # driftrec only: the peers reported skipped

Results go to ``benchmarks/results/peers.json`` (atomically, with the command, the commit, the
versions on both sides and the load average).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftrec.cli.report import versions
from driftrec.encoders.io import atomic_write_json

RESULTS = Path(__file__).resolve().parent / "results" / "peers.json"
LOOPS = Path(__file__).resolve().parent / "peer_loops"
SIMULATORS = ("driftrec", "recsim", "sardine")
# peer -> (worker script, the (N, K) it is measured at, its name in the results)
PEERS = {
    "recsim": ("recsim_interest_evolution.py", ((10, 2), (100, 10)),
               "RecSim interest_evolution"),
    "sardine": ("sardine_slatetopk_bored.py", ((1000, 10),), "SARDINE SlateTopK-Bored-v0"),
}  # fmt: skip
SINGLE = ((10, 2), (100, 10), (1000, 10))
LOW_DIMS = (10, 64)  # driftrec's extra rows beside SARDINE: adapter dimensions (``--low-dims``)
# the single-user paths compared with the peers
LOW_DIM_BACKENDS = ("fast", "fast-lean", "fast-gram", "fast-gram-lean")
BATCHES = (1, 64, 1024, 4096)
VECTOR_NK = (100, 10)
BACKENDS = ("fast", "fast-lean", "fast-blas", "fast-gram", "fast-gram-lean", "torch")  # paths:
# throughput.path_options
FLOOR = ("gather", "product", "product_np")
# One thread everywhere: the peers and the fast path are single-threaded, and the machine is
# shared; TensorFlow's start-up chatter is silenced (RecSim imports it through gin.tf).
WORKER_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "NUMBA_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}  # fmt: skip
MAX_CALLS = 20_000


class WorkerFailed(RuntimeError):
    """A worker ended before it was ready (its interpreter lacks the simulator, or it broke)."""


@dataclass(frozen=True)
class Job:
    """One worker: who it measures, the interpreter and arguments, the functions it serves."""

    simulator: str
    python: str
    argv: tuple[str, ...]
    fns: tuple[str, ...]


class Worker:
    """A running worker process (the protocol of ``peer_loops/_serve.py``)."""

    def __init__(self, job: Job, timeout_s: float) -> None:
        self.job = job
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by close())
        self._proc = subprocess.Popen(
            [job.python, str(LOOPS / job.argv[0]), *job.argv[1:]],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True,
            cwd=LOOPS, env={**os.environ, **WORKER_ENV},
        )  # fmt: skip
        self.meta = self._read(timeout_s).get("meta", {})

    def _read(self, timeout_s: float) -> dict[str, Any]:
        line = self._proc.stdout.readline() if self._proc.stdout else ""
        if not line:
            self._proc.wait(timeout=timeout_s)
            self._stderr.seek(0)
            tail = [x for x in self._stderr.read().splitlines() if x.strip()][-1:] or ["-"]
            self.close()
            raise WorkerFailed(
                f"{' '.join(self.job.argv)} under {self.job.python} exited with code "
                f"{self._proc.returncode} before it was ready: {tail[0].strip()}"
            )
        return json.loads(line)

    def block(self, name: str, calls: int) -> tuple[float, float]:
        """Seconds per call (wall, CPU) of ``calls`` consecutive calls of ``name``."""
        assert self._proc.stdin is not None
        self._proc.stdin.write(f"{name} {calls}\n")
        self._proc.stdin.flush()
        out = self._read(timeout_s=60)
        return out["wall_s"] / calls, out["cpu_s"] / calls

    def close(self) -> None:
        if self._proc.stdin and not self._proc.stdin.closed:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._stderr.close()


def _calls_for(worker: Worker, name: str, budget_s: float) -> int:
    """Calls per block so that a block lasts about ``budget_s`` of wall time (doubling from one
    call until a trial block takes a tenth of the budget, then scaling)."""
    calls = 1
    while True:
        wall, _ = worker.block(name, calls)
        if wall * calls >= budget_s / 10 or calls >= MAX_CALLS:
            return int(min(MAX_CALLS, max(1, round(budget_s / max(wall, 1e-9)))))
        calls *= 2


def run_group(
    jobs: list[Job], repeats: int, budget_s: float, timeout_s: float, skipped: dict[str, str]
) -> tuple[dict[tuple[str, str], dict[str, list[float]]], dict[str, dict]]:
    """Alternating timed blocks of every function of every worker of one group: per (simulator,
    function) the per-repeat seconds per call, wall and CPU; the workers' meta. A peer whose
    worker fails to start is recorded in ``skipped``; driftrec's failure is an error."""
    workers, metas = [], {}
    try:
        for job in jobs:
            try:
                workers.append(Worker(job, timeout_s))
                metas[job.simulator] = workers[-1].meta
            except WorkerFailed as err:
                if job.simulator.startswith("driftrec"):
                    raise
                skipped[job.simulator] = str(err)
        slots = [(w, name) for w in workers for name in w.job.fns]
        if not slots:  # every worker of the group was skipped
            return {}, metas
        calls = {(w.job.simulator, name): _calls_for(w, name, budget_s) for w, name in slots}
        times: dict[tuple[str, str], dict[str, list[float]]] = {
            key: {"wall": [], "cpu": [], "calls": [count]} for key, count in calls.items()
        }
        for r in range(repeats):
            for w, name in slots[r % len(slots) :] + slots[: r % len(slots)]:
                key = (w.job.simulator, name)
                wall, cpu = w.block(name, calls[key])
                times[key]["wall"].append(wall)
                times[key]["cpu"].append(cpu)
    finally:
        for w in workers:
            w.close()
    return times, metas


def timing_row(t: dict[str, list[float]], per: float = 1.0) -> dict[str, Any]:
    """Medians (µs per step) and rates (per second, ``per`` steps of users per call)."""
    wall, cpu = statistics.median(t["wall"]), statistics.median(t["cpu"])
    return {"wall_us": wall * 1e6, "cpu_us": cpu * 1e6, "per_s": per / wall, "cpu_per_s": per / cpu,
            "wall_us_range": [min(t["wall"]) * 1e6, max(t["wall"]) * 1e6],
            "calls": t["calls"][0]}  # fmt: skip


def _floor_multiples(times: dict, name: str, lifetime: int, sim: str = "driftrec"
                     ) -> dict[str, float]:
    """The step as a multiple of gather + (the cheaper) product / lifetime, median over repeats,
    by CPU and by wall (each repeat's step against the same repeat's floor); ``sim``: the
    driftrec worker's key (``low_dim_key`` for a low-dimensional one)."""
    step, gather, product, product_np = (times[(sim, x)] for x in (name, *FLOOR))
    out = {}
    for clock in ("cpu", "wall"):
        products = zip(product[clock], product_np[clock])
        floors = [g + min(p) / lifetime for g, p in zip(gather[clock], products)]
        out[f"floor_us_{clock}"] = statistics.median(floors) * 1e6
        out[f"floor_multiple_{clock}"] = statistics.median(
            s / f for s, f in zip(step[clock], floors)
        )
    return out


def _driftrec_rows(times: dict, meta: dict, backends: list[str], sim: str = "driftrec",
                   **where: int) -> list[dict]:  # fmt: skip
    per = float(where.get("B", 1))
    space = {"d": meta["d"], **({"space": meta["space"]} if "space" in meta else {})}
    rows = []
    for backend in backends:
        row = {"simulator": "driftrec", "path": backend, **where, **space,
               **timing_row(times[(sim, backend)], per)}  # fmt: skip
        row.update(_floor_multiples(times, backend, meta["pool_lifetime"], sim))
        row.update({f"{x}_cpu_us": timing_row(times[(sim, x)])["cpu_us"] for x in FLOOR})
        rows.append(row)
    return rows


def low_dim_key(dim: int) -> str:
    """The worker key of driftrec in a ``dim``-dimensional adapted space."""
    return f"driftrec@d{dim}"


def single_jobs(
    n: int,
    k: int,
    simulators: list[str],
    backends: list[str],
    peer_python: str | None,
    seed: int,
    skipped: dict[str, str],
    encoder: str | None = None,
    low_dims: tuple[int, ...] = (),
) -> list[Job]:
    """The workers of one single-user (N, K): driftrec's, each selected peer measured there and,
    where SARDINE is, driftrec in each of ``low_dims`` (on ``LOW_DIM_BACKENDS``)."""
    jobs = []
    if "driftrec" in simulators:
        argv = ("driftrec_loop.py", "single", str(n), str(k), str(seed), ",".join(backends))
        argv += (encoder,) if encoder else ()
        jobs.append(Job("driftrec", sys.executable, argv, (*backends, *FLOOR)))
        low = [b for b in backends if b in LOW_DIM_BACKENDS]
        if low and "sardine" in simulators and (n, k) in PEERS["sardine"][1]:
            for dim in low_dims:
                argv = ("driftrec_loop.py", "single", str(n), str(k), str(seed), ",".join(low),
                        encoder or "-", str(dim))  # fmt: skip
                jobs.append(Job(low_dim_key(dim), sys.executable, argv, (*low, *FLOOR)))
    for peer, (script, configs, _) in PEERS.items():
        if peer in simulators and (n, k) in configs and peer not in skipped:
            if peer_python is None:
                skipped[peer] = "no peer interpreter given (--peer-python PATH)"
            elif not Path(peer_python).exists():
                skipped[peer] = f"peer interpreter {peer_python} does not exist"
            else:
                jobs.append(Job(peer, peer_python, (script, str(n), str(k), str(seed)), ("step",)))
    return jobs


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every group in turn (each single-user (N, K), then each B); rows as they are measured."""
    skipped = {p: "not selected (--simulators)" for p in PEERS if p not in args.simulators}
    single, vector, peer_meta, driftrec_meta = [], [], {}, {}
    for n, k in args.single:
        start = len(single)
        jobs = single_jobs(n, k, args.simulators, args.backends, args.peer_python, args.seed,
                           skipped, args.encoder, tuple(args.low_dims))  # fmt: skip
        times, metas = run_group(jobs, args.repeats, args.budget_s, args.timeout_s, skipped)
        ours = [job.simulator for job in jobs if job.simulator.startswith("driftrec")]
        for sim, meta in metas.items():
            (driftrec_meta if sim in ours else peer_meta).setdefault(sim, meta)
        for job in jobs:
            if job.simulator in ours and job.simulator in metas:
                paths = [b for b in args.backends if b in job.fns]
                single += _driftrec_rows(times, metas[job.simulator], paths, job.simulator,
                                         N=n, K=k)  # fmt: skip
        for sim in metas.keys() - set(ours):
            single.append({"simulator": PEERS[sim][2], "path": None, "N": n, "K": k,
                           **timing_row(times[(sim, "step")])})  # fmt: skip
        _print_rows(single[start:])
    if "driftrec" in args.simulators:
        n, k = VECTOR_NK
        for b in args.batches:
            argv = ("driftrec_loop.py", "vector", str(b), str(n), str(k), str(args.seed),
                    ",".join(args.backends), str(args.items))  # fmt: skip
            job = Job("driftrec", sys.executable, argv, (*args.backends, *FLOOR))
            times, metas = run_group([job], args.repeats, args.budget_s, args.timeout_s, skipped)
            vector += _driftrec_rows(times, metas["driftrec"], args.backends, B=b, N=n, K=k)
            _print_rows(vector[-len(args.backends) :])
    return {"single_user": single, "vector": vector, "comparison": compare(single),
            "peers": {p: ({"status": "skipped", "reason": skipped[p]} if p in skipped
                          else {"status": "measured", **peer_meta[p]})
                      for p in PEERS if p in skipped or p in peer_meta},
            "driftrec_worker": driftrec_meta.get("driftrec")}  # fmt: skip


def compare(single: list[dict]) -> list[dict]:
    """driftrec's single-user fast paths (``fast`` and ``fast-gram``, the default observation;
    with ``-lean``, without candidate embeddings), in each embedding dimension d measured, against
    each peer at equal N and K."""
    ours = [r for r in single if r["path"] in LOW_DIM_BACKENDS]
    return [
        {"N": r["N"], "K": r["K"], "peer": r["simulator"], "path": o["path"], "d": o.get("d"),
         "driftrec_over_peer_cpu": o["cpu_per_s"] / r["cpu_per_s"],
         "driftrec_over_peer_wall": o["per_s"] / r["per_s"]}
        for r in single if r["path"] is None
        for o in ours if (o["N"], o["K"]) == (r["N"], r["K"])
    ]  # fmt: skip


def _print_rows(rows: list[dict]) -> None:
    for r in rows:
        where = f"B={r['B']:<5}" if "B" in r else "one user"
        where += f" d={r['d']:<4}" if "d" in r else ""
        floor = f" floor x{r['floor_multiple_cpu']:.2f}" if "floor_multiple_cpu" in r else ""
        print(f"{r['simulator'][:28]:<28} {r['path'] or '':<14} {where} N={r['N']:<5} "
              f"K={r['K']:<3} {r['cpu_us']:>10.1f} CPU-us {r['wall_us']:>10.1f} wall-us "
              f"{r['cpu_per_s']:>12,.0f}/s by CPU{floor}", flush=True)  # fmt: skip


def _pairs(text: str) -> list[tuple[int, int]]:
    try:
        pairs = [tuple(int(v) for v in item.split("x")) for item in text.split(",")]
    except ValueError:
        pairs = []
    if not pairs or any(len(p) != 2 or min(p) < 1 or p[1] > p[0] for p in pairs):
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a list of NxK; expected e.g. 10x2,100x10 with 1 <= K <= N"
        )
    return pairs  # type: ignore[return-value]


def name_list(allowed: tuple[str, ...]) -> Any:
    def parse(text: str) -> list[str]:
        names = [x for x in text.split(",") if x]
        bad = [x for x in names if x not in allowed]
        if bad or not names:
            raise argparse.ArgumentTypeError(
                f"unknown name(s) {bad or [text]} in '{text}'; expected a comma list of "
                f"{', '.join(allowed)}"
            )
        return names

    return parse


def positive_ints(what: str, example: str, none_ok: bool = False) -> Any:
    """A parser of a comma list of positive integers (``--batches``, ``--low-dims``; with
    ``none_ok`` the word ``none`` is the empty list)."""

    def parse(text: str) -> list[int]:
        if none_ok and text == "none":
            return []
        try:
            values = [int(x) for x in text.split(",")]
        except ValueError:
            values = [0]
        if min(values) < 1:
            raise argparse.ArgumentTypeError(
                f"'{text}' is not a list of {what}; expected positive integers, e.g. {example}"
                + (", or none" if none_ok else "")
            )
        return values

    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--peer-python", default=None,
                        help="the interpreter of the scratch environment holding recsim and "
                        "sardine-rec (e.g. /tmp/peers-venv/bin/python); without it, or if it "
                        "does not exist, the peers are reported skipped")  # fmt: skip
    parser.add_argument("--simulators", type=name_list(SIMULATORS), default=list(SIMULATORS))
    parser.add_argument("--backends", type=name_list(BACKENDS), default=list(BACKENDS))
    parser.add_argument(
        "--single",
        type=_pairs,
        default=list(SINGLE),
        help="single-user NxK list (default 10x2,100x10,1000x10)",
    )
    parser.add_argument(
        "--batches",
        type=positive_ints("batch sizes", "1,64"),
        default=list(BATCHES),
        help="vector-env B list at N=100, K=10 (default 1,64,1024,4096)",
    )
    parser.add_argument(
        "--low-dims", type=positive_ints("dimensions", "10,64", none_ok=True),
        default=list(LOW_DIMS),
        help="driftrec beside SARDINE (N=1000, K=10) also in these adapter dimensions: the "
        "catalog mapped by a fixed random linear map (default 10,64: SARDINE's 10 topics and "
        "a calibration's --adapter-dim 64; 'none' for no such rows)",
    )  # fmt: skip
    parser.add_argument("--encoder", default=None,
                        help="the single-user env's encoder (default: the env's own; 'hashing' "
                        "skips the language model, e.g. in tests)")  # fmt: skip
    add_run_arguments(parser, budget_s=0.25, items_help="vector-env catalog size M", output=RESULTS)
    args = parser.parse_args(argv)
    check_run_arguments(parser, args)
    if args.peer_python is not None and Path(args.peer_python).is_dir():
        parser.error(f"--peer-python {args.peer_python} is a directory; expected the peer "
                     "environment's interpreter, e.g. /tmp/peers-venv/bin/python")  # fmt: skip
    return args


def add_run_arguments(
    parser: argparse.ArgumentParser, *, budget_s: float, items_help: str, output: Path
) -> None:
    """The options of a run of alternating blocks (this benchmark's and ``against_commit``'s):
    --repeats, --budget-s, --items, --seed, --timeout-s, --output."""
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--budget-s", type=float, default=budget_s, help="wall seconds a block")
    parser.add_argument("--items", type=int, default=5000, help=items_help)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout-s", type=float, default=300.0,
                        help="seconds a worker may take to exit once it has failed")  # fmt: skip
    parser.add_argument("--output", type=Path, default=output)


def check_run_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``add_run_arguments``' values: positive numbers and an existing output folder, or the
    parser's error naming them."""
    bad = {name: getattr(args, name) for name in ("repeats", "items", "budget_s", "timeout_s")
           if not getattr(args, name) > 0}  # fmt: skip
    if bad:
        given = ", ".join(f"--{name.replace('_', '-')}={value}" for name, value in bad.items())
        parser.error(f"{given}: expected a positive number")
    if not args.output.parent.is_dir():
        parser.error(f"--output {args.output}: folder {args.output.parent} does not exist")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_before = os.getloadavg()
    results = measure(args)
    result = {
        "benchmark": "peers",
        "command": " ".join(["python -m driftrec.benchmarks.peers",
                             *(argv if argv is not None else sys.argv[1:])]),
        "config": {"repeats": args.repeats, "budget_s": args.budget_s, "seed": args.seed,
                   "single": args.single, "batches": args.batches, "vector_N_K": VECTOR_NK,
                   "items": args.items, "backends": args.backends, "encoder": args.encoder,
                   "low_dims": args.low_dims,
                   "simulators": args.simulators, "peer_python": args.peer_python,
                   "threads": 1, "policy": "random distinct slates, whole sessions",
                   "statistic": "median over repeats of alternating blocks (order rotated each "
                   "repeat); wall and CPU (time.process_time) per step; floor_multiple = median "
                   "of per-repeat step / (gather + min(product, product_np) / pool_lifetime)"},
        "environment": {**versions(), "machine": platform.machine(),
                        "processor": platform.processor(), "cpu_count": os.cpu_count(),
                        "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        **results,
    }  # fmt: skip
    atomic_write_json(args.output, result)
    for c in result["comparison"]:
        print(f"N={c['N']}, K={c['K']}: driftrec {c['path']} (d={c['d']}) / {c['peer']} = "
              f"{c['driftrec_over_peer_cpu']:.2f}x by CPU, "
              f"{c['driftrec_over_peer_wall']:.2f}x by wall")  # fmt: skip
    for peer, info in result["peers"].items():
        if info["status"] == "skipped":
            print(f"{peer}: skipped ({info['reason']})")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
