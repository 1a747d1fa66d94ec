"""The adapter fit with and without the per-user spread of β (``AdapterConfig.fit_spread``) on
one data set: the adapter fit and its held-out report only, with the fidelity benchmark's setup
(``benchmarks/fidelity.py``: same cohort split, encoder, preset and adapter defaults) — a
~150-350 CPU-s check instead of the full benchmark's ~750.

    OMP_NUM_THREADS=1 python -m driftrec.benchmarks.adapter_spread \\
        --data-dir ../shared/data/ml-100k --spread --out /tmp/spread.json
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch
from driftrec.encoders.io import atomic_write_json
from driftrec.envs.calibration import AdapterConfig, evaluate_adapter, fit_adapter, sequence_log
from driftrec.envs.scenarios import make_scenario
from driftrec.envs.sources.datasets import DATASETS, build_setup, load_dataset


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="movielens", choices=DATASETS)
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--encoder", default="minilm")
    parser.add_argument("--spread", action="store_true", help="fit the per-user spread of β")
    parser.add_argument("--dim", type=int, default=AdapterConfig.dim)
    parser.add_argument("--max-epochs", type=int, default=AdapterConfig.max_epochs)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    setup = build_setup(load_dataset(args.dataset, args.data_dir, None), args.encoder)
    model = make_scenario(setup.dataset.domain).user_model
    cfg = AdapterConfig(dim=args.dim, max_epochs=args.max_epochs, fit_spread=args.spread,
                        progress=True)
    log, cat = sequence_log(setup, cfg), setup.catalog
    wall, cpu = time.perf_counter(), time.process_time()
    fit = fit_adapter(log, cat.embeddings, cat.appeal, model, cfg)
    timing = {"wall_s": round(time.perf_counter() - wall, 1),
              "cpu_s": round(time.process_time() - cpu, 1)}
    record = {"fit_spread": args.spread,
              "held_out": evaluate_adapter(fit, log, cat.embeddings, cat.appeal, model, cfg),
              "parameters": fit.parameters, "best_epoch": fit.best_epoch,
              "history": fit.history, "fit_timing": timing, "config": asdict(cfg)}
    atomic_write_json(args.out, record)
    print(json.dumps({k: record[k] for k in ("held_out", "parameters", "fit_timing")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
