"""``driftrec bench``'s run: a suite into a results folder (resumable), its table and plots.

Shared by the built-in catalog's ``bench`` and the real-data ``bench --dataset`` (``realdata``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .options import CLIError


def run_bench(config: Any, out_dir: Path, argv: Sequence[str],
              extra_config: dict[str, Any] | None = None, env_factory: Any = None,
              scenario_configs: dict[str, Any] | None = None, resume: bool = False) -> int:
    """Run a suite (with ``resume``: only the runs the interrupted one in ``out_dir`` did not
    finish), write the results folder and plots, print the table."""
    from tqdm.auto import tqdm

    from . import plots, report
    from .runner import run_suite, total_steps

    store, completed = _bench_store(config, out_dir, argv, extra_config, resume)
    print(f"driftrec bench → {out_dir}", file=sys.stderr)
    try:
        with tqdm(total=total_steps(config, scenario_configs), unit="step", desc="bench",
                  dynamic_ncols=True, file=sys.stderr, mininterval=0.5) as bar:
            suite = run_suite(config, progress=bar.update, on_status=bar.set_postfix_str,
                              env_factory=env_factory, completed=completed,
                              on_result=store.write)
    except KeyboardInterrupt:
        print(f"{len(completed) + store.written} finished runs are kept in {store.dir}; "
              "continue with the same command and --resume", file=sys.stderr)
        raise
    results = report.build_results(suite, ["driftrec", *argv], extra_config)
    report.write_results(out_dir, results)
    pngs = plots.plot_run(results, out_dir)
    sys.stdout.write(report.text_table(results["summary"]))
    kept = f" ({suite.resumed} kept from the interrupted run)" if suite.resumed else ""
    print(f"\n{len(suite.runs)} runs{kept} in {suite.seconds:.1f}s; wrote results.json, "
          f"results.csv, results.md, {', '.join(p.name for p in pngs)} to {out_dir}",
          file=sys.stderr)
    return 0


def _bench_store(config: Any, out_dir: Path, argv: Sequence[str],
                 extra_config: dict[str, Any] | None, resume: bool) -> tuple[Any, dict[Any, Any]]:
    """The per-run file store of this bench and, with ``resume``, the runs it already finished.

    A new bench records its settings and a fresh run id in config.json; ``--resume`` must ask for
    the same settings and keeps only files carrying that id."""
    from driftrec.encoders.io import atomic_write_json

    from . import runfolder
    from .runner import grid

    settings = runfolder.json_normal({**config.to_dict(), **(extra_config or {})})
    runfolder.check_inside(out_dir, out_dir / runfolder.RUNS_DIR)  # written into below
    if not resume:
        run_id = runfolder.new_run_id()
        atomic_write_json(out_dir / runfolder.CONFIG_FILE,
                          {"command": ["driftrec", *argv], "run_id": run_id, "config": settings})
        return runfolder.RunStore(out_dir, run_id, config.users), {}
    saved, run_id = runfolder.read_config(out_dir, "config", "bench")
    runfolder.settings_diff(saved, settings, sorted(set(saved) | set(settings)), out_dir)
    if run_id is None:
        raise CLIError(f"{out_dir / runfolder.CONFIG_FILE} has no run_id; expected the "
                       "config.json of a `driftrec bench` run")
    store = runfolder.RunStore(out_dir, run_id, config.users)
    cells = grid(config)
    completed, notes = store.load(cells)
    for note in notes:
        print(f"driftrec bench: {note}", file=sys.stderr)
    print(f"driftrec bench: resuming {out_dir}: {len(completed)} of {len(cells)} runs finished, "
          f"{len(cells) - len(completed)} to do", file=sys.stderr)
    return store, completed
