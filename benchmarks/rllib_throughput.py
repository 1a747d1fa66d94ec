"""RLlib sampling throughput on NewsRank with 1 and 2 env runners, and the time to build the algo.

Two routes, each with ``num_env_runners`` = 1 and 2 (Ray worker processes, one logical CPU each):

- ``module:id``: the textbook call, ``PPOConfig().environment("driftrec.envs:driftrec/
  NewsRank-v0")`` with RLlib's default module (MLP encoder, Gaussian scores); each runner steps
  ``--envs`` single envs through Gymnasium's ``SyncVectorEnv``;
- ``native vector``: what ``driftrec train --engine rllib`` runs: each runner steps one native
  vector env of ``--envs`` users (``gym_env_vectorize_mode="vector_entry_point"``,
  ``NextStepAutoreset``) with the item-wise ``RLModule``.

``build_s`` is ``config.build_algo()`` (worker processes started, envs and modules built; Ray
itself already running). Sampling: every remote runner samples ``--timesteps`` env-steps at once
(``EnvRunner.sample(num_timesteps=...)``, exploration on, module inference included, no
learning) after one warm-up call; ``steps_per_s`` = env-steps of all runners / wall seconds, and
``runner_cpu_s`` adds the CPU seconds (``time.process_time``) the runners spent sampling, and
``steps_per_runner_cpu_s`` divides by it: on a machine busy with other work (see
``load_average_1min``) the wall figure of 2 runners cannot show their scaling, the CPU figure
shows what each step costs. Training: ``TRAIN_ITERATIONS`` timed ``algo.train()`` calls (batch
``--train-batch``, minibatch 256, 4 epochs; after a warm-up call), ``train_steps_per_s`` =
env-steps sampled / wall seconds, updates included. Torch runs one
thread per process. Results are printed and written atomically with the configuration, versions
and git commit:

    python -m driftrec.benchmarks.rllib_throughput --out benchmarks/results/rllib.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ENV_ID = "driftrec/NewsRank-v0"
#: Timed ``algo.train()`` calls per configuration (after one warm-up call).
TRAIN_ITERATIONS = 2


def _config(route: str, runners: int, envs: int, encoder: str) -> Any:
    from driftrec.envs import make_scenario
    from ray.rllib.algorithms.ppo import PPOConfig

    if route == "module:id":
        return (PPOConfig()
                .environment("driftrec.envs:" + ENV_ID, env_config={"encoder": encoder})
                .env_runners(num_env_runners=runners, num_envs_per_env_runner=envs))
    from driftrec.agents.rllib_module import ItemwiseRLModule
    from driftrec.cli.rllib_training import ENV_NAME, env_creator
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.tune import register_env

    register_env(ENV_NAME, env_creator)
    return (PPOConfig()
            .environment(ENV_NAME, env_config={"scenario": "news", "encoder": encoder})
            .env_runners(num_env_runners=runners, num_envs_per_env_runner=envs,
                         gym_env_vectorize_mode="vector_entry_point")
            .rl_module(rl_module_spec=RLModuleSpec(
                module_class=ItemwiseRLModule,
                model_config={"slate_size": make_scenario("news").slate_size})))


def _sample(runner: Any, timesteps: int) -> tuple[int, float]:
    """Env-steps sampled and CPU seconds spent, inside one env runner process."""
    import torch

    torch.set_num_threads(1)
    cpu = time.process_time()
    episodes = runner.sample(num_timesteps=timesteps, explore=True)
    return sum(len(e) for e in episodes), time.process_time() - cpu


def measure(route: str, runners: int, envs: int, timesteps: int, encoder: str,
            train_batch: int) -> dict[str, Any]:
    config = _config(route, runners, envs, encoder).training(
        train_batch_size_per_learner=train_batch, minibatch_size=min(256, train_batch),
        num_epochs=4)
    start = time.perf_counter()
    algo = config.build_algo()
    build = time.perf_counter() - start
    try:
        group = algo.env_runner_group
        group.foreach_env_runner(lambda r: _sample(r, envs), local_env_runner=False)  # warm-up
        start = time.perf_counter()
        parts = group.foreach_env_runner(lambda r: _sample(r, timesteps), local_env_runner=False)
        wall = time.perf_counter() - start
        algo.train()  # warm-up
        start = time.perf_counter()
        trained = sum(int(algo.train()["env_runners"]["num_env_steps_sampled"])
                      for _ in range(TRAIN_ITERATIONS))
        train_wall = time.perf_counter() - start
    finally:
        algo.stop()
    steps = sum(p[0] for p in parts)
    return {"route": route, "env_runners": runners, "envs_per_runner": envs, "build_s": build,
            "env_steps": steps, "sample_s": wall, "steps_per_s": steps / wall,
            "runner_cpu_s": sum(p[1] for p in parts),
            "steps_per_runner_cpu_s": steps / max(sum(p[1] for p in parts), 1e-9),
            "load_average_1min": os.getloadavg()[0],
            "train_env_steps": trained, "train_s": train_wall,
            "train_steps_per_s": trained / train_wall}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--timesteps", type=int, default=2000,
                        help="env-steps each runner samples per measurement (default 2000)")
    parser.add_argument("--envs", type=int, default=8,
                        help="envs (users) per env runner (default 8)")
    parser.add_argument("--train-batch", type=int, default=1000,
                        help="train_batch_size_per_learner of the timed training iterations "
                             "(minibatch 256, 4 epochs; default 1000)")
    parser.add_argument("--encoder", default="minilm", help="catalog encoder (default minilm)")
    parser.add_argument("--routes", nargs="+", default=["module:id", "native vector"],
                        choices=["module:id", "native vector"])
    parser.add_argument("--out", type=Path, default=None, help="results JSON (optional)")
    args = parser.parse_args(argv)
    if min(args.timesteps, args.envs, args.train_batch) < 1:
        parser.error(f"--timesteps, --envs and --train-batch must be positive; got "
                     f"{args.timesteps}, {args.envs}, {args.train_batch}")
    import ray
    import torch

    torch.set_num_threads(1)
    cpu0 = time.process_time()
    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray_init = time.perf_counter() - start
    rows = []
    try:
        for route in args.routes:
            for runners in (1, 2):
                rows.append(measure(route, runners, args.envs, args.timesteps, args.encoder,
                                    args.train_batch))
                r = rows[-1]
                print(f"{route:14s} runners={runners} build {r['build_s']:5.1f} s  "
                      f"{r['steps_per_s']:8.0f} env-steps/s  ({r['env_steps']} steps, runner "
                      f"CPU {r['runner_cpu_s']:.1f} s, {r['steps_per_runner_cpu_s']:.0f} per "
                      f"CPU-s; load {r['load_average_1min']:.1f}); training "
                      f"{r['train_steps_per_s']:.0f} env-steps/s", flush=True)
    finally:
        ray.shutdown()
    if args.out is not None:
        from driftrec.cli.report import versions
        from driftrec.encoders.io import atomic_write_json

        atomic_write_json(args.out, {
            "benchmark": "rllib_throughput",
            "command": " ".join(["python -m driftrec.benchmarks.rllib_throughput",
                                 *(argv if argv is not None else sys.argv[1:])]),
            "config": {"env_id": ENV_ID, "timesteps": args.timesteps, "envs": args.envs,
                       "train_batch": args.train_batch, "train_iterations": TRAIN_ITERATIONS,
                       "encoder": args.encoder, "ray_num_cpus": 2, "threads": 1},
            "environment": {**versions(), "ray": ray.__version__},
            "ray_init_s": ray_init, "driver_cpu_s": time.process_time() - cpu0, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
