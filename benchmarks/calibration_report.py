"""Calibrate the simulated user on a real data set and write the held-out report.

    python -m driftrec.benchmarks.calibration_report --data-dir ../shared/data/ml-100k

writes ``benchmarks/results/calibration_movielens.json``: the fitted parameters (usable as
scenario overrides), held-out next-item hit@10, NDCG@10 and MRR (ties broken at random, in
expectation) and mean log-likelihood for the calibrated model, the uncalibrated preset and a
popularity baseline, the command, configuration, package versions and git commit (so the figures trace back to what produced them). The data set itself is never
copied: only counts and the folder path are recorded.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from driftrec.cli.report import versions
from driftrec.encoders.io import atomic_write_json
from driftrec.envs.calibration import AdapterConfig, CalibrationConfig, calibrate
from driftrec.envs.sources.datasets import DATASETS, build_setup, load_dataset

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="movielens", choices=DATASETS)
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--encoder", default="minilm")
    parser.add_argument("--max-users", type=int, default=None)
    parser.add_argument("--max-items", type=int, default=None)
    parser.add_argument("--max-iter", type=int, default=CalibrationConfig.max_iter)
    parser.add_argument("--max-train-steps", type=int, default=CalibrationConfig.max_train_steps)
    parser.add_argument("--quadrature", type=int, default=CalibrationConfig.quadrature)
    parser.add_argument("--adapter-dim", type=int, default=None,
                        help="fit the behaviour-tuned item adapter (envs/calibration/) of this "
                             "dimension instead; it is written beside --out")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (the default keeps shared machines usable)")
    parser.add_argument("--out", type=Path, default=None,
                        help="results file (default benchmarks/results/calibration_<dataset>.json)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = args.out or RESULTS / f"calibration_{args.dataset}.json"

    t0 = time.perf_counter()
    dataset = load_dataset(args.dataset, args.data_dir, args.max_users, args.max_items)
    t_load = time.perf_counter() - t0
    setup = build_setup(dataset, args.encoder)
    t_setup = time.perf_counter() - t0 - t_load
    config = CalibrationConfig(max_iter=args.max_iter, max_train_steps=args.max_train_steps,
                               quadrature=args.quadrature)
    adapter = None if args.adapter_dim is None else AdapterConfig(dim=args.adapter_dim)
    result = calibrate(setup, config=config, adapter=adapter, out=out if adapter else None)
    wall = time.perf_counter() - t0
    record = result.to_json()
    record["command"] = ["python", "-m", "driftrec.benchmarks.calibration_report",
                         *(sys.argv[1:] if argv is None else argv)]
    record["timing_s"] = {"load": round(t_load, 2), "catalog_and_cohort": round(t_setup, 2),
                          "calibration_and_report": round(result.meta["wall_s"], 2),
                          "total": round(wall, 2)}
    record["versions"] = versions()
    atomic_write_json(out, record)

    width = max(len(k) for k in result.report)
    print(f"{args.dataset}: {result.meta['cohort_users']} users, "
          f"{result.meta['train_events']} held-in / {result.meta['eval_events']} held-out events")
    for name, metrics in result.report.items():
        k = config.hit_k
        print(f"  {name:<{width}}  hit@{k} {metrics[f'hit@{k}']:.4f}  "
              f"ndcg@{k} {metrics[f'ndcg@{k}']:.4f}  mrr {metrics['mrr']:.4f}  "
              f"loglik {metrics['loglik']:.4f}")
    print("  fitted: " + ", ".join(f"{k}={result.parameters[k]:.3f}" for k in result.fitted))
    print(f"wrote {out} ({wall:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
