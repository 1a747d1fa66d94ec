"""RLlib across workers (issue 30 item 4): the docs' ``module:id`` and ``register_env`` examples
train with two env runners, ``driftrec train --engine rllib --workers 2`` writes the built-in
trainer's run folder and resumes, the item-wise ``RLModule`` is the SB3 policy's architecture,
the NEXT_STEP adapter's semantics, and the bad inputs of this area (an executable register).

One local Ray session serves the whole module (``ray_session``); the Ray tests are slow (each
builds an algorithm with two worker processes) and CI runs them.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray", reason="pip install driftrec[rllib]")

import driftrec.envs  # noqa: F401  (registers the ids)
from driftrec.agents.itemwise_policy import (
    CandidateEncoder,
    ItemwisePolicy,
    sequential_terms,
)
from driftrec.agents.rllib_module import (
    ItemwiseRLModule,
    scores_to_slate,
    slate_to_scores,
)
from driftrec.cli.main import main
from driftrec.envs.interface import top_k
from driftrec.envs.next_step import NextStepAutoreset

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"
SMALL = {"encoder": "hashing", "num_candidates": 20, "slate_size": 3}
N, F, K = 20, 14, 3


@pytest.fixture(scope="module")
def ray_session():
    """One local Ray (2 logical CPUs, no dashboard) for every Ray test of this module."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             ignore_reinit_error=True)
    yield ray
    ray.shutdown()


def doc_example(name: str) -> dict:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    named = {b.splitlines()[0].removeprefix("# example: "): b for b in blocks}
    namespace = {"__name__": "__main__"}
    exec(compile(named[name], f"{DOC.name}:{name}", "exec"), namespace)  # noqa: S102
    return namespace


def module(slate_size=K, obs_shape=(N * F,), n=N, **config) -> ItemwiseRLModule:
    return ItemwiseRLModule(
        observation_space=gym.spaces.Box(-1.0, 1.0, obs_shape, np.float32),
        action_space=gym.spaces.Box(-1.0, 1.0, (n,), np.float32),
        model_config={"slate_size": slate_size, **config})


# --- the RLModule ------------------------------------------------------------------------------


def test_itemwise_module_has_the_sb3_item_wise_policys_parameters():
    """Same torch modules, same shapes: one per-candidate MLP each for actor and critic, a score
    per candidate, the pooled critic (2h -> h) and the value."""
    torch.manual_seed(0)
    sb3 = ItemwisePolicy(gym.spaces.Box(-1.0, 1.0, (N, F), np.float32),
                         gym.spaces.MultiDiscrete([N] * K), lambda _: 3e-4)
    rl = module()
    assert isinstance(rl.pi_encoder, CandidateEncoder)
    assert sorted(tuple(p.shape) for p in rl.parameters()) == sorted(
        tuple(p.shape) for p in sb3.parameters())
    assert sum(p.numel() for p in rl.parameters()) == 2 * (15 * 64 + 65 * 64) + 65 + (
        128 * 64 + 64) + 65  # two MLPs F->64->64, score 64->1, critic 128->64, value 64->1


def test_sampled_scores_decode_to_the_slate_whose_exact_logp_they_carry():
    torch.manual_seed(3)
    rl = module()
    logits = rl.forward_exploration({"obs": torch.randn(4, N * F)})["action_dist_inputs"]
    dist = rl.get_exploration_action_dist_cls().from_logits(logits)
    scores = dist.sample()
    slate = scores_to_slate(scores, K)
    assert torch.equal(torch.from_numpy(top_k(scores.numpy(), K)), slate)  # what the env shows
    assert torch.allclose(dist.logp(scores), sequential_terms(logits, slate)[0])
    assert sorted(scores[0].tolist())[-K:] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert float(dist.kl(dist).abs().max()) == 0.0


def test_slate_to_scores_puts_the_slate_best_first_and_the_rest_at_minus_one():
    scores = slate_to_scores(torch.tensor([[4, 0, 2]]), 5)
    assert scores[0].tolist() == pytest.approx([2 / 3, -1.0, 1 / 3, -1.0, 1.0])


def test_uniform_logits_give_the_log_of_one_over_the_ordered_slates():
    """log pi(slate) = -log(N (N-1) (N-2)) = -log 6840 for N=20, K=3 when every score is equal."""
    dist = module().get_train_action_dist_cls().from_logits(torch.zeros(1, N))
    scores = slate_to_scores(torch.tensor([[7, 1, 19]]), N)
    assert float(dist.logp(scores)) == pytest.approx(-np.log(6840.0))


# --- NEXT_STEP adapter -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def native():
    """One small native vector env (sessions of at most 5 steps) for the adapter tests."""
    from driftrec.envs import DriftRecVectorEnv

    return DriftRecVectorEnv(4, "news", max_steps=5, **SMALL)


def test_next_step_adapter_returns_the_last_observation_then_a_fresh_user(native):
    from driftrec.envs.rank import RankVectorWrapper

    env = NextStepAutoreset(RankVectorWrapper(native))
    rng = np.random.default_rng(0)
    env.reset(seed=1)
    ended_before = np.zeros(4, dtype=bool)
    resets = 0
    for _ in range(12):
        obs, reward, terminated, truncated, info = env.step(rng.uniform(-1, 1, (4, N)))
        ended = terminated | truncated
        assert "final_obs" not in info
        assert np.array_equal(env.reset_rows, ended_before)
        table = obs.reshape(4, N, F)
        rows = np.flatnonzero(ended_before)
        resets += rows.size
        assert (reward[rows] == 0).all() and not ended[rows].any()
        assert (table[rows, :, 5] == 0).all()  # shown_recent: a fresh user has seen no slate
        assert (table[rows, :, 9] == 0).all()  # log_step: the fresh user's step 0
        assert (table[ended, 0, 9] > 0).all()  # a departing user's last observation
        ended_before = ended
    assert env.autoreset_mode == gym.vector.AutoresetMode.NEXT_STEP
    assert resets == 8  # seeded: 8 departures in 12 steps of 4 users with 5-step sessions


# --- Ray: the docs' examples and the CLI -------------------------------------------------------


@pytest.mark.slow
def test_doc_rllib_module_id_trains_default_ppo_with_two_runners(ray_session):
    result = doc_example("rllib-module-id")["result"]
    # 2 iterations x 128 env-steps; the remote runners' metrics reach the driver asynchronously,
    # so on a loaded machine the second iteration's count can arrive one report late (seen: 128).
    assert result["env_runners"]["num_env_steps_sampled_lifetime"] in (128, 256)
    assert np.isfinite(result["learners"]["default_policy"]["policy_loss"])


@pytest.mark.slow
@pytest.mark.parametrize("env_id", ["driftrec/ShoppingRank-v0"])  # News: the docs example
def test_default_ppo_trains_on_the_other_rank_ids_by_module_id(ray_session, env_id):
    from ray.rllib.algorithms.ppo import PPOConfig

    algo = (PPOConfig()
            .environment("driftrec.envs:" + env_id, env_config=SMALL)
            .env_runners(num_env_runners=0, rollout_fragment_length=16)
            .training(train_batch_size_per_learner=16, minibatch_size=16, num_epochs=1)
            .build_algo())
    try:
        result = algo.train()
    finally:
        algo.stop()
    assert result["env_runners"]["num_env_steps_sampled_lifetime"] == 16
    assert np.isfinite(result["learners"]["default_policy"]["policy_loss"])


@pytest.mark.slow
def test_doc_rllib_register_env_trains_the_itemwise_module_on_vector_runners(ray_session):
    namespace = doc_example("rllib-register-env")
    result = namespace["result"]
    assert namespace["config"].rl_module_spec.module_class is ItemwiseRLModule
    # 2 runners x 8 users x 8 steps; a runner ends its fragment on a whole vector step, and the
    # NEXT_STEP reset rows are not env-steps, so it may sample up to 7 more each.
    assert 128 <= result["env_runners"]["num_env_steps_sampled"] < 128 + 2 * 8
    assert np.isfinite(result["learners"]["default_policy"]["vf_loss"])


@pytest.mark.slow
def test_rllib_checkpoint_restores_the_learner_and_every_runner(ray_session, tmp_path):
    """Loading into an algorithm that trained past the checkpoint restores its weights on the
    learner and on the runners (whose weights look newer than the checkpoint's)."""
    from driftrec.cli.rllib_training import RLlibPPO, build_config

    algo = build_config("news", 4, 1, 0, "hashing", 4, **{
        k: v for k, v in SMALL.items() if k != "encoder"}).build_algo()
    try:
        agent = RLlibPPO(algo)
        saved = {k: v.clone() for k, v in algo.get_module().state_dict().items()}
        agent.save(tmp_path / "checkpoint-4.pt")
        algo.train()
        trained = {k: v.clone() for k, v in algo.get_module().state_dict().items()}
        agent.load(tmp_path / "checkpoint-4.pt")
        local = algo.get_module().state_dict()
        remote = algo.env_runner_group.foreach_env_runner(
            lambda r: {k: v.clone() for k, v in r.module.state_dict().items()},
            local_env_runner=False)[0]
    finally:
        algo.stop()
    assert any(not torch.equal(saved[k], trained[k]) for k in saved)
    assert all(torch.equal(saved[k], local[k]) and torch.equal(saved[k], remote[k])
               for k in saved)


TRAIN = ["train", "--agent", "ppo", "--scenario", "news", "--engine", "rllib", "--workers", "2",
         "--users", "4", "--log-every", "4", "--checkpoint-every", "4", "--encoder", "hashing",
         "--eval-users", "4", "--eval-steps", "3"]


@pytest.mark.slow
def test_cli_rllib_two_workers_writes_the_run_folder_and_resumes(ray_session, tmp_path,
                                                                 capsys):
    out = tmp_path / "run"
    assert main([*TRAIN, "--steps", "8", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint-8.pt", "checkpoint.json", "config.json", "eval.json", "learning_curve.png",
        "log.csv"]
    assert main([*TRAIN, "--steps", "12", "--out", str(out), "--resume"]) == 0
    rows = list(csv.DictReader((out / "log.csv").open()))
    assert [r["step"] for r in rows] == ["4", "8", "12"]
    assert all(float(r["env_steps"]) >= 16 for r in rows)  # 4 users x 4 steps per iteration
    assert json.loads((out / "checkpoint.json").read_text())["file"] == "checkpoint-12.pt"
    settings = json.loads((out / "config.json").read_text())["settings"]
    assert (settings["engine"], settings["workers"]) == ("rllib", 2)
    evaluation = json.loads((out / "eval.json").read_text())
    assert (evaluation["engine"], evaluation["trained_steps"]) == ("rllib", 12)
    other = [*TRAIN, "--steps", "12", "--out", str(out), "--resume"]
    other[other.index("--workers") + 1] = "1"
    assert main(other) == 2
    assert "workers was 2, now 1" in capsys.readouterr().err


# --- bad inputs (the register of this area) ----------------------------------------------------


@pytest.mark.parametrize("kwargs, match", [
    ({"slate_size": None}, r"model_config\['slate_size'\] = K, an int in \[1, N=20\]; got None"),
    ({"slate_size": 0}, r"an int in \[1, N=20\]; got 0"),
    ({"slate_size": 21}, r"an int in \[1, N=20\]; got 21"),
    ({"slate_size": True}, r"an int in \[1, N=20\]; got True"),
    ({"slate_size": 2.0}, r"an int in \[1, N=20\]; got 2.0"),
    ({"obs_shape": (N * F + 1,)}, r"N=20 per-candidate rows, shape \(N, F\) or \(N\*F,\)"),
    ({"obs_shape": (N + 1, F)}, r"N=20 per-candidate rows"),
    ({"net_arch": ()}, r"net_arch must be a non-empty tuple of positive widths, got \(\)"),
    ({"net_arch": (64, 0)}, r"net_arch must be a non-empty tuple of positive widths"),
])
def test_itemwise_module_rejects_bad_configs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        module(**kwargs)


@pytest.mark.parametrize("action_space", [
    gym.spaces.Discrete(N), gym.spaces.MultiDiscrete([N] * K),
    gym.spaces.Box(-1.0, 1.0, (2, N), np.float32)])
def test_itemwise_module_needs_a_box_score_action(action_space):
    with pytest.raises(ValueError, match=r"needs a Box\(N\) score action \(a \*Rank-v0 id\)"):
        ItemwiseRLModule(observation_space=gym.spaces.Box(-1.0, 1.0, (N * F,), np.float32),
                         action_space=action_space, model_config={"slate_size": K})


def test_itemwise_module_needs_a_box_observation():
    with pytest.raises(ValueError, match=r"needs a Box observation of N=20 per-candidate rows"):
        ItemwiseRLModule(observation_space=gym.spaces.Discrete(3),
                         action_space=gym.spaces.Box(-1.0, 1.0, (N,), np.float32),
                         model_config={"slate_size": K})


def test_plackett_luce_scores_have_no_reparameterised_sample():
    dist = module().get_train_action_dist_cls().from_logits(torch.zeros(1, N))
    with pytest.raises(NotImplementedError, match="no reparameterised sample"):
        dist.rsample()


@pytest.mark.parametrize("make, error, match", [
    (lambda env: gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync"), TypeError,
     r"wraps driftrec's native vector env .* got SyncVectorEnv"),
    (lambda env: gym.wrappers.vector.RecordEpisodeStatistics(env), TypeError,
     r"cannot present new users through RecordEpisodeStatistics"),
    (lambda env: NextStepAutoreset(env), ValueError,
     r"expects a SAME_STEP env; got autoreset_mode .*NEXT_STEP"),
])
def test_next_step_adapter_rejects_envs_it_cannot_drive(native, make, error, match):
    with pytest.raises(error, match=match):
        NextStepAutoreset(make(native))


TRAIN_BAD = ["train", "--agent", "ppo", "--scenario", "news", "--steps", "4", "--encoder",
             "hashing"]


@pytest.mark.parametrize("extra, match", [
    (["--workers", "2"], r"--workers 2 applies to --engine rllib"),
    (["--engine", "rllib", "--agent", "linucb"], (r"--engine rllib trains --agent ppo .*got "
                                                 r"--agent 'linucb'")),
    (["--engine", "rllib", "--users", "5", "--workers", "2"],
     r"--users 5 does not split over --workers 2; expected a multiple of 2"),
    (["--engine", "rllib", "--eval-every", "100"], (r"--eval-every is not supported with "
                                                   r"--engine rllib")),
])
def test_cli_rejects_bad_engine_options_before_touching_the_folder(extra, match, tmp_path,
                                                                   capsys):
    out = tmp_path / "run"
    assert main([*TRAIN_BAD, *extra, "--out", str(out)]) == 2
    assert re.search(match, capsys.readouterr().err)
    assert not out.exists()


@pytest.mark.parametrize("extra, match", [
    (["--engine", "ray"], (r"argument --engine: invalid choice: 'ray' \(choose from "
                          r"'?builtin'?, '?rllib'?\)")),
    (["--engine", "rllib", "--workers", "0"], r"argument --workers: .*0"),
    (["--engine", "rllib", "--workers", "two"], r"argument --workers: .*two"),
])
def test_cli_rejects_bad_engine_values(extra, match, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([*TRAIN_BAD, *extra, "--out", str(tmp_path / "run")])
    assert re.search(match, capsys.readouterr().err)


def test_cli_engine_rllib_without_ray_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    assert main([*TRAIN_BAD, "--engine", "rllib", "--out", str(tmp_path / "run")]) == 2
    assert re.search(r"--engine rllib needs Ray RLlib, which is not installed .*install it with "
                     r"`pip install driftrec\[rllib\]`", capsys.readouterr().err)


@pytest.mark.parametrize("saved, extra, match", [
    ({}, ["--engine", "rllib"], ("trained with --engine builtin; now --engine rllib (resume it "
                                "with --engine builtin)")),
    ({"engine": "rllib", "workers": 2}, [], ("trained with --engine rllib --workers 2; now "
                                            "--engine builtin (resume it with --engine rllib "
                                            "--workers 2)")),
])
def test_cli_resume_with_the_other_engine_names_the_runs_engine(saved, extra, match, tmp_path,
                                                                capsys):
    out = tmp_path / "run"
    out.mkdir()
    settings = {"agent": "ppo", "scenario": "news", "users": 64, "seed": 0, "encoder": "hashing",
                **saved}
    (out / "config.json").write_text(json.dumps(
        {"command": ["driftrec", "train"], "run_id": "r1", "settings": settings}))
    assert main([*TRAIN_BAD, *extra, "--out", str(out), "--resume"]) == 2
    assert match in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["config.json"]


def test_rllib_checkpoint_load_rejects_a_builtin_checkpoint(tmp_path):
    from driftrec.cli.rllib_training import RLlibPPO

    path = tmp_path / "checkpoint-4.pt"
    torch.save({"policy": {}}, path)
    with pytest.raises(ValueError, match=r"is not an RLlib checkpoint of driftrec train"):
        RLlibPPO(algo=None).load(path)


@pytest.mark.parametrize("argv, match", [
    (["--timesteps", "0"], (r"--timesteps, --envs and --train-batch must be positive; got 0, 8, "
                           r"1000")),
    (["--envs", "-1"], r"must be positive; got 2000, -1, 1000"),
    (["--train-batch", "0"], r"must be positive; got 2000, 8, 0"),
    (["--routes", "tune"], r"argument --routes: invalid choice: 'tune'"),
])
def test_throughput_benchmark_rejects_bad_arguments_before_starting_ray(argv, match, capsys):
    from driftrec.benchmarks.rllib_throughput import main as bench

    with pytest.raises(SystemExit, match="2"):
        bench(argv)
    assert re.search(match, capsys.readouterr().err)

