"""``driftrec train --agent ppo --engine rllib --workers N``: PPO by Ray RLlib across workers.

RLlib (new API stack) trains the item-wise actor-critic (``agents.rllib_module.ItemwiseRLModule``,
the SB3 agent's architecture) on the scenario's ``*Rank-v0`` id. Each of the N env runners (Ray
actors, ``env_runners(num_env_runners=N)``) steps one native vector env of ``--users / N`` users
(``num_envs_per_env_runner``, ``gym_env_vectorize_mode="vector_entry_point"``: the env creator
registered with ``ray.tune.register_env`` receives ``num_envs`` and returns the batched env, not N
copies of a single env). RLlib's runner assumes Gymnasium's NEXT_STEP autoreset, so the native
env goes through ``envs.next_step.NextStepAutoreset`` first.

The run folder is the built-in trainer's (``training``): ``config.json`` (settings plus
``engine`` and ``workers``, which a ``--resume`` must match), ``log.csv`` (one row per RLlib
iteration: window means per user-step of reward, CTR, engagement and departures over the
iteration's sampled user-steps, plus RLlib's losses and the user-steps sampled), the rotating
``checkpoint-<step>.pt`` + ``checkpoint.json`` pointer (the learner's state — module weights and
optimiser — as plain tensors), ``learning_curve.png``, and ``eval.json`` (held-out users of seed
``--seed``, the trained module acting greedily — top K of its scores — through
``runner.evaluate_agent``). A step is one batched step of all ``--users`` users; an iteration
samples ``min(32, --log-every, --steps)`` of them (RLlib's vector runners may overshoot by a few
user-steps, counted in ``env_steps``; when that does not divide ``--steps`` the last iteration
samples a whole one and the log counts it up to ``--steps``). Ctrl-C and ``--resume`` behave as
in the built-in trainer; the training users of a resumed run are drawn from ``seed +
TRAIN_SEED_OFFSET + step``. ``--device`` places the simulated users; RLlib's learner and the
runners' modules stay on the CPU. The Rank table's item log (logged ratings and take rates) is
env state, one per runner, as in any ``gym.make`` of a Rank id: it is not in the checkpoint, a
resumed run's runners and the evaluation start an empty log and fill it from the feedback they
see.

Ray: a local Ray with ``N`` logical CPUs is started (no dashboard), unless ``RAY_ADDRESS`` names a
running cluster (``ray start --head`` on one node, ``ray start --address=HEAD:6379`` on the
others), which ``ray.init()`` then joins — see docs/integrations.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from driftrec.encoders.io import atomic_write_json
from gymnasium.vector import VectorWrapper

from .runner import TRAIN_SEED_OFFSET, evaluate_agent, make_vector_env
from .training import (
    RESUME_KEYS,
    TrainLog,
    _Checkpoints,
    _deferred_sigint,
    _load_checkpoint,
    _resume_start,
    _settings,
    _Start,
    write_held_out,
)

INSTALL_HINT = "pip install driftrec[rllib]"
#: Batched steps per RLlib iteration at most (the SB3 agent's n_steps).
ITERATION_STEPS = 32
ENV_NAME = "driftrec-rank-vector"
#: RLlib's learner statistics copied into log.csv (result["learners"]["default_policy"][key]).
LEARNER_KEYS = ("policy_loss", "vf_loss", "entropy", "vf_explained_var")
STAT_KEYS = ("user_steps", "reward", "ctr", "engagement", "departures")


def import_ray() -> Any:
    """Ray, or the CLI error that says how to install it."""
    from .options import CLIError

    try:
        import ray
        from ray.rllib.algorithms.ppo import PPOConfig  # noqa: F401
    except ImportError as exc:
        raise CLIError(f"--engine rllib needs Ray RLlib, which is not installed ({exc}); "
                       f"install it with `{INSTALL_HINT}`") from None
    return ray


def check_args(args: argparse.Namespace) -> None:
    """The ``--engine``/``--workers`` checks, made before any folder is touched."""
    from .options import CLIError

    if args.resume and args.out:
        _check_resume_engine(args, Path(args.out))
    if args.engine != "rllib":
        if args.workers != 1:
            raise CLIError(f"--workers {args.workers} applies to --engine rllib (Ray env "
                           f"runners); the built-in engine trains in one process")
        return
    import_ray()
    if args.agent != "ppo":
        raise CLIError(f"--engine rllib trains --agent ppo (the item-wise actor-critic as an "
                       f"RLlib module); got --agent {args.agent!r}")
    if args.users % args.workers:
        raise CLIError(f"--users {args.users} does not split over --workers {args.workers}; "
                       f"expected a multiple of {args.workers} (each env runner steps "
                       f"--users / --workers users)")
    if getattr(args, "eval_every", None) is not None:
        raise CLIError("--eval-every is not supported with --engine rllib; eval.json holds the "
                       "held-out evaluation at the end")


def _check_resume_engine(args: argparse.Namespace, out: Path) -> None:
    """A ``--resume`` of a run folder (or of its ``seed-*`` runs) trained by the other engine is
    an error naming the engine: the checkpoints of the two engines are different files."""
    from .options import CLIError
    from .runfolder import CONFIG_FILE, read_json_object

    for config in [out / CONFIG_FILE, *sorted(out.glob(f"seed-*/{CONFIG_FILE}"))]:
        if not config.is_file():
            continue
        try:
            settings = read_json_object(config, "config.json").get("settings")
        except CLIError:
            continue  # the resume itself reports an unreadable config.json
        if not isinstance(settings, dict):
            continue
        engine = settings.get("engine", "builtin")
        if engine != args.engine:
            workers = f" --workers {settings.get('workers')}" if engine == "rllib" else ""
            raise CLIError(f"--resume: the run in {config.parent} was trained with --engine "
                           f"{engine}{workers}; now --engine {args.engine} (resume it with "
                           f"--engine {engine}{workers})")


def env_creator(config: Mapping[str, Any]) -> Any:
    """The env creator registered with ``ray.tune.register_env``: the scenario's Rank id as a
    native vector env with NEXT_STEP autoreset, and step statistics. ``config``: ``scenario``,
    ``num_envs`` (added by RLlib's runner) and scenario overrides."""
    from driftrec.envs.next_step import rank_vector_env

    config = dict(config)
    scenario, num_envs = config.pop("scenario"), config.pop("num_envs")
    return StepStats(rank_vector_env(scenario, num_envs, **config))


class StepStats(VectorWrapper):
    """Vector-env wrapper summing the log's per-user-step values between two ``pop`` calls;
    rows that RLlib files as a reset (NEXT_STEP) are not user-steps and are left out."""

    def __init__(self, env: Any) -> None:
        from driftrec.envs.next_step import NextStepAutoreset

        super().__init__(env)
        self._adapter = env
        while not isinstance(self._adapter, NextStepAutoreset):
            self._adapter = self._adapter.env
        self._sums = dict.fromkeys(STAT_KEYS, 0.0)

    def step(self, actions: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(actions)
        live = ~self._adapter.reset_rows
        s = self._sums
        s["user_steps"] += float(live.sum())
        s["reward"] += float(np.asarray(reward)[live].sum())
        s["ctr"] += float(np.asarray(info["clicks"], dtype=bool).any(axis=-1)[live].sum())
        s["engagement"] += float(np.asarray(info["engagement"])[live].sum())
        s["departures"] += float((np.asarray(terminated) | np.asarray(truncated))[live].sum())
        return obs, reward, terminated, truncated, info

    def pop(self) -> dict[str, float]:
        sums, self._sums = self._sums, dict.fromkeys(STAT_KEYS, 0.0)
        return sums


def _pop_stats(runner: Any) -> dict[str, float] | None:
    env = getattr(runner, "env", None)
    while env is not None and not isinstance(env, StepStats):
        env = getattr(env, "env", None)
    return None if env is None else env.pop()


def build_config(scenario: str, users: int, workers: int, seed: int, encoder: str,
                 iteration_steps: int = ITERATION_STEPS, **overrides: Any) -> Any:
    """RLlib's ``PPOConfig`` with the item-wise module on the native vector env, SB3-like
    hyper-parameters (batch = iteration_steps × users, minibatch 512, 4 epochs, clip 0.2)."""
    from driftrec.agents.rllib_module import ItemwiseRLModule
    from driftrec.envs import make_scenario
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.tune import register_env

    register_env(ENV_NAME, env_creator)
    k = int(overrides.get("slate_size", make_scenario(scenario).slate_size))
    batch = iteration_steps * users
    return (
        PPOConfig()
        .environment(ENV_NAME, env_config={"scenario": scenario, "encoder": encoder,
                                           **overrides})
        .env_runners(num_env_runners=workers, num_envs_per_env_runner=users // workers,
                     gym_env_vectorize_mode="vector_entry_point",
                     rollout_fragment_length=iteration_steps)
        .rl_module(rl_module_spec=RLModuleSpec(module_class=ItemwiseRLModule,
                                               model_config={"slate_size": k}))
        .training(train_batch_size_per_learner=batch, minibatch_size=min(512, batch),
                  num_epochs=4, lr=3e-4, clip_param=0.2, use_kl_loss=False, gamma=0.99,
                  lambda_=0.95, entropy_coeff=0.0, vf_loss_coeff=0.5)
        .debugging(seed=seed)
        .reporting(metrics_num_episodes_for_smoothing=1)
    )


def init_ray(workers: int) -> None:
    """Join ``RAY_ADDRESS``'s cluster when set, else start a local Ray with ``workers`` logical
    CPUs (one per env runner; more runners than free CPUs would wait forever for one)."""
    ray = import_ray()
    if ray.is_initialized():
        return
    if os.environ.get("RAY_ADDRESS"):
        ray.init(log_to_driver=False)
    else:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)


class RLlibPPO:
    """The trained algorithm as the trainer's checkpoint and evaluation need it: ``save``/``load``
    of the learner state, and ``act`` — the greedy slate (top K of the module's scores) for a
    batched Dict observation of the raw vector env, whose Rank table it builds as the Rank env
    does (``update`` logs each transition's feedback into it; nothing is learnt)."""

    name = "ppo"

    def __init__(self, algo: Any) -> None:
        self.algo = algo
        self.tables: Any = None

    def save(self, path: Path) -> None:
        state = _to_tensors(self.algo.learner_group.get_state())
        tmp = path.with_name(path.name + ".tmp")
        torch.save({"engine": "rllib", "learner_group": state}, tmp)
        os.replace(tmp, path)

    def load(self, path: Path) -> None:
        data = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(data, dict) or data.get("engine") != "rllib":
            raise ValueError(f"{path} is not an RLlib checkpoint of driftrec train; expected the "
                             "file a --engine rllib run wrote")
        self.algo.learner_group.set_state(data["learner_group"])
        # Without a weights_seq_no the runners take the weights whatever their own number
        # (sync_weights would skip a runner whose weights look newer than the checkpoint's).
        weights = {"rl_module": data["learner_group"]["learner"]["rl_module"]}
        self.algo.env_runner_group.foreach_env_runner(lambda runner: runner.set_state(weights))

    def start(self, env: Any) -> None:
        """Build Rank tables for ``env`` (a raw driftrec vector env), with an empty item log."""
        from driftrec.envs.rank import RankTables

        self.tables = RankTables(env, env.num_envs)

    def act(self, obs: Mapping[str, np.ndarray], info: Any = None) -> np.ndarray:
        from ray.rllib.core.columns import Columns

        core = self.tables
        if core.stats is None:
            core.start(None, obs)
        module = self.algo.get_module()
        rows = torch.from_numpy(core.features(obs))
        with torch.no_grad():
            logits = module.forward_inference({Columns.OBS: rows})[Columns.ACTION_DIST_INPUTS]
        return torch.topk(logits, module.slate_size, dim=-1).indices.numpy()

    def update(self, obs: Any, action: np.ndarray, reward: Any, next_obs: Any, terminated: Any,
               truncated: Any, info: dict[str, Any]) -> dict[str, float]:
        core = self.tables
        core.last_obs = obs
        core.record(np.asarray(action), info)
        if "_final_obs" in info:
            core.forget(np.flatnonzero(info["_final_obs"]))  # new users in those slots
        return {}


def _to_tensors(state: Any) -> Any:
    """The learner state with numpy arrays as tensors (``torch.load(weights_only=True)`` reads
    dicts, lists, numbers, strings and tensors only)."""
    if isinstance(state, Mapping):
        return {k: _to_tensors(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return [_to_tensors(v) for v in state]
    if isinstance(state, np.ndarray):
        return torch.from_numpy(np.array(state, copy=True))
    if isinstance(state, np.generic):
        return state.item()
    return state


def train_command(args: argparse.Namespace, out_dir: Path, argv: Sequence[str]) -> int:
    """``driftrec train --engine rllib``: see the module docstring."""
    from .plots import plot_learning_curve
    from .runfolder import CONFIG_FILE, check_inside, new_run_id, read_config, settings_diff

    check_args(args)
    settings = {**_settings(args), "engine": "rllib", "workers": args.workers}
    check_inside(out_dir, out_dir / "tensorboard")
    if args.resume:
        saved, _ = read_config(out_dir, "settings", "train")
        settings_diff(saved, settings, (*RESUME_KEYS, "engine", "workers"), out_dir)
        start = _resume_start(args, out_dir, settings)
    else:
        start = _Start(new_run_id())
    init_ray(args.workers)
    iteration = min(ITERATION_STEPS, args.log_every, args.steps)
    config = build_config(args.scenario, args.users, args.workers,
                          args.seed + TRAIN_SEED_OFFSET + start.step, args.encoder, iteration,
                          device=args.device)
    t_build = time.perf_counter()
    algo = config.build_algo()
    agent = RLlibPPO(algo)
    try:
        if start.file:
            _load_checkpoint(agent, out_dir, start)
    except BaseException:
        algo.stop()
        raise
    print(f"RLlib PPO built in {time.perf_counter() - t_build:.1f}s: {args.workers} env "
          f"runner(s) x {args.users // args.workers} users", file=sys.stderr)
    atomic_write_json(out_dir / CONFIG_FILE, {"command": ["driftrec", *argv],
                                              "run_id": start.run_id, "settings": settings})
    log = TrainLog(out_dir / "log.csv", out_dir / "tensorboard", start.columns, start.rows)
    t0 = time.perf_counter() - start.wall_seconds
    ckpts = _Checkpoints(out_dir, start.run_id, start.file, t0)
    try:
        step, interrupted = _train_iterations(algo, agent, args, log, ckpts, start.step,
                                              iteration)
        ckpts.save(agent, step)
        log.flush()
    finally:
        log.close()
        algo.stop()
    if log.rows:
        plot_learning_curve([r["step"] for r in log.rows],
                            [r.get("reward", np.nan) for r in log.rows],
                            out_dir / "learning_curve.png",
                            title=f"{args.agent} (RLlib, {args.workers} workers) on "
                                  f"{args.scenario}")
    if interrupted:
        print(f"interrupted at step {step}; checkpoint and log written to {out_dir} "
              "(continue with --resume)", file=sys.stderr)
        return 130
    return _evaluate(agent, args, out_dir, step, time.perf_counter() - t0)


def _train_iterations(algo: Any, agent: RLlibPPO, args: argparse.Namespace, log: TrainLog,
                      ckpts: _Checkpoints, step: int, iteration: int) -> tuple[int, bool]:
    from tqdm.auto import tqdm

    with _deferred_sigint() as flag, tqdm(
            total=args.steps, initial=step, unit="step", desc="train ppo (rllib)",
            dynamic_ncols=True, file=sys.stderr, mininterval=0.5) as bar:
        while step < args.steps:
            result = algo.train()
            sums = _sum_stats(algo.env_runner_group.foreach_env_runner(_pop_stats))
            done = min(iteration, args.steps - step)
            previous, step = step, step + done
            bar.update(done)
            n = max(sums["user_steps"], 1.0)
            learner = result.get("learners", {}).get("default_policy", {})
            log.append({"step": step, "wall_seconds": time.perf_counter() - ckpts.t0,
                        **{k: sums[k] / n for k in ("reward", "ctr", "engagement",
                                                    "departures")},
                        "env_steps": sums["user_steps"],
                        **{k: float(learner[k]) for k in LEARNER_KEYS if k in learner}})
            log.flush()
            bar.set_postfix(reward=f"{log.rows[-1]['reward']:.3g}")
            if step // args.checkpoint_every > previous // args.checkpoint_every \
                    and step < args.steps:
                ckpts.save(agent, step)
            if flag.requested:
                return step, True
    return step, False


def _sum_stats(parts: Sequence[dict[str, float] | None]) -> dict[str, float]:
    total = dict.fromkeys(STAT_KEYS, 0.0)
    for part in parts:
        for key, value in (part or {}).items():
            total[key] += value
    return total


def _evaluate(agent: RLlibPPO, args: argparse.Namespace, out_dir: Path, step: int,
              train_seconds: float) -> int:
    env = make_vector_env(args.scenario, args.eval_users, encoder=args.encoder,
                          device=args.device)
    try:
        agent.start(env)
        result = evaluate_agent(agent, env, steps=args.eval_steps, seed=args.seed, learn=True)
    finally:
        env.close()
    write_held_out(out_dir, args, step, train_seconds, result,
                   "held-out users (evaluation seed differs from the training seeds); the module "
                   "acts greedily and does not learn (the Rank features log item feedback, as a "
                   "deployed recommender would)",
                   extra={"engine": "rllib", "workers": args.workers},
                   how=f" with RLlib ({args.workers} env runners)")
    return 0
