"""The timing loop every simulator's worker shares (imported by the scripts beside it, which run
as plain files: this directory is their ``sys.path[0]``). It imports nothing but the standard
library, so a peer's interpreter needs only the peer.

Protocol (one JSON object a line on stdout, commands on stdin): the worker prints
``{"ready": true, "meta": {...}}`` once its simulator is built and warmed up; then each line
``NAME CALLS`` runs ``CALLS`` consecutive calls of the function ``NAME`` and prints
``{"name": ..., "calls": ..., "wall_s": ..., "cpu_s": ...}`` (totals for the block: wall by
``time.perf_counter``, CPU by ``time.process_time``, this process only). End of input ends it.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any


def slate_bank(rng: Any, n: int, k: int, size: int = 64) -> list[Any]:
    """``size`` random slates of ``k`` distinct positions in [0, n), drawn once up front so
    that the timed loop draws nothing."""
    return [rng.permutation(n)[:k] for _ in range(size)]


def session_stepper(step: Callable[[Any], bool], reset: Callable[[], None], bank: list) -> Any:
    """A call that shows the next slate of ``bank`` and resets when ``step`` says the session
    ended: whole sessions, as an agent sees them."""
    state = {"i": 0}

    def call() -> None:
        slate = bank[state["i"] % len(bank)]
        state["i"] += 1
        if step(slate):
            reset()

    return call


def serve(fns: dict[str, Callable[[], None]], meta: dict[str, Any], warmup: int = 20) -> None:
    """Warm each function up, announce readiness, then time blocks on request."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    print(json.dumps({"ready": True, "meta": meta}), flush=True)
    for line in sys.stdin:
        name, calls = line.split()
        fn, count = fns[name], int(calls)
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(count):
            fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(json.dumps({"name": name, "calls": count, "wall_s": wall, "cpu_s": cpu}), flush=True)


def serve_sessions(
    step: Callable[[Any], bool], reset: Callable[[], None], bank: list, meta: dict[str, Any]
) -> None:
    """``serve`` a single ``step`` function: whole sessions over the slates of ``bank``."""
    serve({"step": session_stepper(step, reset, bank)}, meta)


def versions(*packages: str) -> dict[str, str | None]:
    """The installed version of each of ``packages`` (None when its metadata is missing)."""
    from importlib import metadata

    out: dict[str, str | None] = {}
    for package in packages:
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = None
    return out
