"""Calibrated scenarios whose calibration carries an item adapter run in the adapted space: the
engine's items are normalise(W e), its users come from the same map, the identity adapter
reproduces the plain calibrated env, the CLIs run such a file, and a bad adapter is an error
naming it. Calibration files are written by hand here (``save_adapter`` + the JSON fields
``driftrec calibrate`` writes) so W is known; the hashing encoder keeps it fast."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from driftrec.envs import calibration as ad
from driftrec.envs import make_scenario
from driftrec.envs.builder import build_engine, get_catalog
from driftrec.envs.sources.users import UserPool

SMALL = {"encoder": "hashing", "num_candidates": 20, "slate_size": 3}
PARAMETERS = {"interest_weight": 5.0, "drift_rate": 0.2, "drift_neutral_rating": 2.0}


def write_calibration(folder: Path, weight: np.ndarray | None, encoder: str, name: str = "p",
                      scenario: str = "video", residual: dict | None = None) -> Path:
    """A calibration file over ``scenario`` with PARAMETERS, carrying adapter ``weight``
    (None: no adapter) and ``residual`` {item id: δ} (None: none)."""
    meta: dict = {}
    if weight is not None:
        fit = ad.AdapterFit(weight=np.asarray(weight, np.float32), parameters={},
                            residual=None if residual is None
                            else np.stack(list(residual.values())))
        meta["adapter"] = ad.save_adapter(folder / f"{name}.adapter.npz", fit, encoder,
                                          item_ids=None if residual is None else list(residual))
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"format": "driftrec-calibration", "version": 1,
                                "scenario": scenario, "parameters": PARAMETERS,
                                "fitted": list(PARAMETERS), "meta": meta}))
    return path


def random_weight(k: int, d: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(k, d)).astype(np.float32)


@pytest.fixture
def adapter_file(tmp_path, catalog) -> tuple[Path, np.ndarray]:
    w = random_weight(8, catalog.dim)
    return write_calibration(tmp_path, w, catalog.encoder_name), w


def test_the_scenario_names_its_adapter_and_keeps_the_calibrated_parameters(adapter_file) -> None:
    path, _ = adapter_file
    config = make_scenario(str(path))
    assert config.adapter == str(path.resolve())
    assert (config.user_model.choice.interest_weight, config.user_model.drift.neutral_rating) == (
        5.0, 2.0)
    assert make_scenario("video").adapter == ""


def test_gym_make_runs_on_the_adapted_catalog_and_persona_pool(adapter_file, catalog) -> None:
    path, w = adapter_file
    env = gym.make("driftrec/Video-v0", scenario=str(path), catalog=catalog, **SMALL)
    obs, _ = env.reset(seed=3)
    rewards = []
    for _ in range(4):
        obs, reward, *_ = env.step(env.action_space.sample())
        rewards.append(reward)
    assert np.isfinite(rewards).all()
    engine = env.unwrapped.engine
    want = ad.adapted_embeddings(w, catalog.embeddings)
    np.testing.assert_array_equal(engine.embeddings.numpy(), want)
    np.testing.assert_array_equal(env.unwrapped.catalog.ids, catalog.ids)
    # personas: profile texts encoded by the catalog's encoder, then mapped
    texts = list(engine.user_pool.texts)
    raw = get_catalog_encoder(catalog).encode(texts)
    np.testing.assert_allclose(engine.pool_profiles.numpy(), ad.adapted_embeddings(w, raw),
                               atol=1e-6)
    assert engine.pool_interests.shape == (len(texts), 8)
    # the agent's "same" view is the simulator's (adapted) space
    assert obs["candidate_embeddings"].shape[-1] == 8
    env.close()


def get_catalog_encoder(catalog):
    from driftrec.envs.builder import get_encoder

    return get_encoder("hashing", catalog.dim)


def test_make_vec_and_make_vector_env_run(adapter_file, catalog) -> None:
    from driftrec.cli.runner import make_vector_env

    path, w = adapter_file
    want = ad.adapted_embeddings(w, catalog.embeddings)
    envs = [gym.make_vec("driftrec/Video-v0", num_envs=3, vectorization_mode="vector_entry_point",
                         scenario=str(path), catalog=catalog, **SMALL),
            make_vector_env(str(path), 3, catalog=catalog, **SMALL)]
    for env in envs:
        env.reset(seed=0)
        for _ in range(3):
            _, reward, *_ = env.step(env.action_space.sample())
        assert reward.shape == (3,)
        np.testing.assert_array_equal(env.unwrapped.engine.embeddings.numpy(), want)
        env.close()


def rollout(scenario: str, catalog, steps: int = 6) -> list:
    env = gym.make_vec("driftrec/Video-v0", num_envs=4, vectorization_mode="vector_entry_point",
                       scenario=scenario, catalog=catalog, **SMALL)
    env.action_space.seed(7)
    obs, _ = env.reset(seed=11)
    out = [obs["candidate_embeddings"]]
    for _ in range(steps):
        obs, reward, term, trunc, info = env.step(env.action_space.sample())
        out += [obs["candidate_embeddings"], reward, info["item"], term, trunc]
    env.close()
    return out


def test_the_identity_adapter_reproduces_the_plain_calibrated_env(tmp_path, catalog) -> None:
    adapted = write_calibration(tmp_path, np.eye(catalog.dim), catalog.encoder_name, "a")
    plain = write_calibration(tmp_path, None, catalog.encoder_name, "b")
    got, want = rollout(str(adapted), catalog), rollout(str(plain), catalog)
    assert len(got) == len(want) == 31
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_items_seen_in_fitting_get_their_residual_and_others_the_text_image(
    tmp_path, catalog
) -> None:
    w = random_weight(8, catalog.dim)
    g = np.random.default_rng(2)
    seen = {catalog.ids[3]: g.normal(size=8).astype(np.float32),
            catalog.ids[10]: g.normal(size=8).astype(np.float32), "not-in-catalog": np.ones(8)}
    path = write_calibration(tmp_path, w, catalog.encoder_name, residual=seen)
    engine = build_engine(str(path), 2, catalog, **SMALL)
    f = catalog.embeddings @ w.T
    f[3] += seen[catalog.ids[3]]
    f[10] += seen[catalog.ids[10]]
    want = f / np.linalg.norm(f, axis=1, keepdims=True)
    np.testing.assert_allclose(engine.embeddings.numpy(), want, atol=1e-5)
    assert not np.allclose(want[3], ad.adapted_embeddings(w, catalog.embeddings[3:4])[0])


def test_a_calibrated_adapter_with_residuals_runs_on_its_data_sets_catalog_and_users(
    tmp_path, hashing_encoder, movielens_files
) -> None:
    """``calibrate`` → file with W and δ → the env on the data set's own catalog and pool."""
    from driftrec.envs import calibration as cal
    from driftrec.envs.sources.datasets import build_setup, load_dataset

    root = movielens_files.write_100k(tmp_path / "ml", num_users=12, num_items=20)
    setup = build_setup(load_dataset("movielens", root), hashing_encoder)
    cfg = ad.AdapterConfig(dim=6, max_epochs=2, batch_users=4, residual_l2=0.1, progress=False)
    out = tmp_path / "p.json"
    cal.calibrate(setup, adapter=cfg, out=out)
    weight, residual, _ = cal.scenario_adapter(out)
    assert sorted(residual) == sorted(setup.catalog.ids)
    env = gym.make_vec("driftrec/Video-v0", num_envs=3, vectorization_mode="vector_entry_point",
                       scenario=str(out), catalog=setup.catalog, user_pool=setup.user_pool,
                       num_candidates=10, slate_size=3)
    env.reset(seed=0)
    _, reward, *_ = env.step(env.action_space.sample())
    engine = env.unwrapped.engine
    f = setup.catalog.embeddings @ weight.T + np.stack([residual[i] for i in setup.catalog.ids])
    np.testing.assert_allclose(engine.embeddings.numpy(),
                               f / np.linalg.norm(f, axis=1, keepdims=True), atol=1e-5)
    np.testing.assert_allclose(engine.pool_interests.numpy(),
                               ad.adapted_embeddings(weight, setup.user_pool.interests), atol=1e-6)
    assert reward.shape == (3,)
    env.close()


def test_a_real_data_user_pool_is_mapped_by_the_adapter(adapter_file, catalog) -> None:
    path, w = adapter_file
    g = np.random.default_rng(1)
    interests = g.normal(size=(5, catalog.dim)).astype(np.float32)
    pool = UserPool(interests=interests, profiles=interests.copy())
    engine = build_engine(str(path), 2, catalog, pool, **SMALL)
    np.testing.assert_allclose(engine.pool_interests.numpy(),
                               ad.adapted_embeddings(w, pool.interests), atol=1e-6)
    assert engine.pool_profiles.shape == (5, 8)


def test_bench_and_train_cli_run_a_calibration_with_an_adapter(tmp_path, capsys) -> None:
    from driftrec.cli.main import main

    builtin, _ = get_catalog("video", "hashing")
    path = write_calibration(tmp_path, random_weight(6, builtin.dim), builtin.encoder_name)
    out = tmp_path / "bench"
    assert main(["bench", "--quick", "--encoder", "hashing", "--scenarios", str(path),
                 "--agents", "random", "--seeds", "1", "--users", "4", "--steps", "3",
                 "--out", str(out)]) == 0
    runs = json.loads((out / "results.json").read_text())["runs"]
    assert {r["scenario"] for r in runs} == {str(path)}
    out = tmp_path / "train"
    assert main(["train", "--agent", "random", "--scenario", str(path), "--encoder", "hashing",
                 "--users", "4", "--eval-users", "4", "--eval-steps", "2", "--steps", "2",
                 "--out", str(out)]) == 0
    assert json.loads((out / "eval.json").read_text())["trained_steps"] == 2


# ------------------------------------------------------------------------------ bad inputs


def _swap_adapter(path: Path, catalog) -> None:
    np.savez(path.with_name("p.adapter.npz"), weight=random_weight(8, catalog.dim, seed=5))


def _delete_adapter(path: Path, catalog) -> None:
    path.with_name("p.adapter.npz").unlink()


@pytest.mark.parametrize(("damage", "match"), [
    (_swap_adapter, r"p\.json: adapter file .*p\.adapter\.npz has SHA-256 .*recalibrate"),
    (_delete_adapter, r"p\.json: adapter file .*p\.adapter\.npz does not exist"),
])
def test_an_adapter_damaged_after_the_scenario_was_resolved_fails_at_build(
    adapter_file, catalog, damage, match
) -> None:
    path, _ = adapter_file
    config = make_scenario(str(path))
    damage(path, catalog)
    with pytest.raises(ValueError, match=match):
        gym.make("driftrec/Video-v0", scenario=config, catalog=catalog, **SMALL)
    with pytest.raises(ValueError, match=match):
        make_scenario(str(path))


def test_an_adapter_of_another_encoder_is_refused(tmp_path, catalog) -> None:
    path = write_calibration(tmp_path, random_weight(4, 32), "hashing-32@v1")
    with pytest.raises(ValueError, match=r"maps 'hashing-32@v1' 32-d embeddings; the catalog is "
                                         r"encoded by 'hashing-64@v1' \(64-d\)"):
        build_engine(str(path), 2, catalog, **SMALL)


def test_two_adapters_in_a_chain_are_refused(tmp_path, catalog) -> None:
    inner = write_calibration(tmp_path, np.eye(catalog.dim), catalog.encoder_name, "inner")
    outer = write_calibration(tmp_path, np.eye(catalog.dim), catalog.encoder_name, "outer",
                              scenario=str(inner))
    with pytest.raises(ValueError, match=r"outer\.json and .*inner\.json both carry an item "
                                         r"adapter; expected at most one"):
        make_scenario(str(outer))


def test_an_adapter_in_the_inner_file_of_a_chain_is_used(tmp_path, catalog) -> None:
    inner = write_calibration(tmp_path, np.eye(catalog.dim), catalog.encoder_name, "inner")
    outer = write_calibration(tmp_path, None, catalog.encoder_name, "outer", scenario=str(inner))
    assert make_scenario(str(outer)).adapter == str(inner.resolve())


@pytest.mark.parametrize(("value", "error", "match"), [
    (3, TypeError, (r"ScenarioConfig\.adapter must be the path of a calibration file \(str\) "
                    r"or '', got 3")),
    ("nope.json", ValueError, r"scenario adapter 'nope\.json' is not a file"),
])
def test_a_bad_adapter_override_is_an_error(catalog, value, error, match) -> None:
    with pytest.raises(error, match=match):
        build_engine("video", 2, catalog, adapter=value, **SMALL)


def test_a_calibration_without_an_adapter_as_the_adapter_override_is_an_error(
    tmp_path, catalog
) -> None:
    plain = write_calibration(tmp_path, None, catalog.encoder_name)
    with pytest.raises(ValueError, match=r"p\.json carries no item adapter \(meta\.adapter\)"):
        build_engine("video", 2, catalog, adapter=str(plain), **SMALL)


def test_a_residual_without_one_id_per_row_is_refused() -> None:
    fit = ad.AdapterFit(weight=np.eye(3, dtype=np.float32), parameters={},
                        residual=np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match=r"3 item ids for 4 residual rows; expected one id per "
                                         r"fitted item"):
        ad.adapter_bytes(fit, "hashing-3@v1", item_ids=["a", "b", "c"])


def test_a_user_pool_of_another_dim_is_refused(adapter_file, catalog) -> None:
    path, _ = adapter_file
    pool = UserPool(interests=np.ones((2, 8), np.float32), profiles=np.ones((2, 8), np.float32))
    with pytest.raises(ValueError, match=r"user_pool\.interests has dim 8; the adapter maps the "
                                         r"encoder's 64-d space, so expected dim 64"):
        build_engine(str(path), 2, catalog, pool, **SMALL)


def test_agent_view_encoder_gives_the_agent_the_raw_text_embeddings(adapter_file, catalog) -> None:
    from driftrec.envs.builder import get_encoder

    path, _ = adapter_file
    engine = build_engine(str(path), 2, catalog, agent_view="encoder", agent_encoder="hashing",
                          **SMALL)
    raw = get_encoder("hashing").encode(list(catalog.texts))
    np.testing.assert_allclose(engine.item_embeddings, raw, atol=1e-6)
    assert engine.dim == 8


# ------------------------------------------------------------------------------ the register
# Each case damages one input of an adapter scenario and names the error it must give; the
# table is the bad-input register of this area (rows printed by `pytest -s -k register`).


def _npz(**fields) -> bytes:
    import io

    base = {"format": np.array(ad.ADAPTER_FORMAT), "version": np.array(ad.ADAPTER_VERSION),
            "weight": np.eye(8, 64, dtype=np.float32), "encoder": np.array("hashing-64@v1")}
    buf = io.BytesIO()
    np.savez(buf, **{**base, **fields})
    return buf.getvalue()


def _crafted(tmp_path: Path, data: bytes, **ref) -> Path:
    """A calibration file whose adapter file holds ``data``, referenced with its true hash
    (the reference's fields overridable by ``ref``)."""
    import hashlib

    (tmp_path / "p.adapter.npz").write_bytes(data)
    reference = {"file": "p.adapter.npz", "sha256": hashlib.sha256(data).hexdigest(), "dim": 8,
                 "input_dim": 64, "encoder": "hashing-64@v1", **ref}
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"format": "driftrec-calibration", "version": 1,
                                "scenario": "video", "parameters": PARAMETERS,
                                "fitted": list(PARAMETERS), "meta": {"adapter": reference}}))
    return path


def _build(path, catalog, **kw):
    return build_engine(str(path), 2, catalog, **{**SMALL, **kw})


BAD = {
    "float64 weight": (lambda t, c: _build(_crafted(t, _npz(weight=np.eye(8, 64))), c),
                       r"weight has shape \(8, 64\) and dtype float64; expected a finite float32"),
    "NaN in weight": (lambda t, c: _build(_crafted(t, _npz(weight=np.full((8, 64), np.nan,
                                                                          np.float32))), c),
                      r"expected a finite float32 \(k, d\) matrix"),
    "not an npz": (lambda t, c: _build(_crafted(t, b"hello"), c),
                   r"p\.adapter\.npz is not a driftrec adapter"),
    "npz without weight": (lambda t, c: _build(_crafted(t, _npz(weight=None)), c),
                           r"is not a driftrec adapter .*expected an npz with format, version"),
    "wrong format tag": (lambda t, c: _build(_crafted(t, _npz(format=np.array("other"))), c),
                         r"is 'other' version 1; expected 'driftrec-adapter' version 1"),
    "reference dim 9 for an 8-row W": (lambda t, c: _build(_crafted(t, _npz(), dim=9), c),
                                       (r"maps 'hashing-64@v1' 64-d to 8-d; the calibration "
                                        r"file expects 'hashing-64@v1' 64-d to 9-d")),
    "reference names another encoder": (
        lambda t, c: _build(_crafted(t, _npz(), encoder="minilm"), c),
        r"the calibration file expects 'minilm' 64-d to 8-d"),
    "sha256 not a string": (lambda t, c: _build(_crafted(t, _npz(), sha256=5), c),
                            r"the calibration file expects 5…"),
    "file name with a folder": (lambda t, c: _build(_crafted(t, _npz(), file="../x.npz"), c),
                                r"meta\.adapter\.file '\.\./x\.npz' is not a file name"),
    "empty file name": (lambda t, c: _build(_crafted(t, _npz(), file=""), c),
                        r"meta\.adapter\.file '' is not a file name"),
    "reference lacks sha256": (lambda t, c: _build(_crafted(t, _npz(), sha256=None), c),
                               r"has SHA-256 .*expects None"),
    "NaN residual": (lambda t, c: _build(_crafted(t, _npz(residual=np.full((2, 8), np.nan),
                                                          item_ids=np.array(["a", "b"]))), c),
                     r"residual has shape \(2, 8\) for 2 item ids; expected finite \(2, 8\)"),
    "duplicate residual ids": (
        lambda t, c: _build(_crafted(t, _npz(residual=np.zeros((2, 8)),
                                             item_ids=np.array(["a", "a"]))), c),
        r"one per distinct id"),
    "residual of another k": (
        lambda t, c: _build(_crafted(t, _npz(residual=np.zeros((2, 5)),
                                             item_ids=np.array(["a", "b"]))), c),
        r"residual has shape \(2, 5\) for 2 item ids; expected finite \(2, 8\) rows"),
    "adapter override is a folder": (lambda t, c: _build("video", c, adapter=str(t)),
                                     r"scenario adapter '.*' is not a file"),
    "adapter override is the npz": (
        lambda t, c: _build("video", c,
                            adapter=str(_crafted(t, _npz()).with_name("p.adapter.npz"))),
        r"p\.adapter\.npz: not UTF-8 text"),
    "adapter override is not a calibration": (
        lambda t, c: (t / "x.json").write_text("{}") and _build("video", c,
                                                                adapter=str(t / "x.json")),
        r"x\.json: not a driftrec calibration file"),
    "encoder override other than the calibration's": (
        lambda t, c: _build(_crafted(t, _npz()), None, encoder="hashing"),
        (r"maps 'hashing-64@v1' 64-d embeddings; the catalog is encoded by 'hashing-256@v1' "
         r"\(256-d\)")),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_register_of_bad_adapter_inputs(tmp_path, catalog, case) -> None:
    make, match = BAD[case]
    with pytest.raises(ValueError, match=match) as info:
        make(tmp_path, catalog)
    message = str(info.value).replace(str(tmp_path), "<tmp>")
    print(f"| adapter-env | {case} | {info.type.__name__}: {message[:200]} |")


def test_bench_and_train_on_a_swapped_adapter_are_one_line_errors(tmp_path, capsys) -> None:
    from driftrec.cli.main import main

    builtin, _ = get_catalog("video", "hashing")
    path = write_calibration(tmp_path, random_weight(6, builtin.dim), builtin.encoder_name)
    np.savez(path.with_name("p.adapter.npz"), weight=random_weight(6, builtin.dim, seed=1))
    for argv in (["bench", "--quick", "--encoder", "hashing", "--scenarios", str(path),
                  "--agents", "random", "--out", str(tmp_path / "b")],
                 ["train", "--agent", "random", "--scenario", str(path), "--encoder", "hashing",
                  "--steps", "2", "--out", str(tmp_path / "t")]):
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1
        assert "p.adapter.npz has SHA-256" in err and "(the adapter was replaced or damaged" in err


def test_calibrate_with_an_adapter_then_bench_the_data_set_with_it(
    tmp_path, movielens_files, capsys
) -> None:
    """``driftrec calibrate --adapter-dim`` then ``bench --dataset --calibration``: the data
    set's own catalog and users, run in the adapted space."""
    from driftrec.cli.main import main

    root = movielens_files.write_100k(tmp_path / "ml", num_users=12, num_items=20)
    params = tmp_path / "p.json"
    common = ["--dataset", "movielens", "--data-dir", str(root), "--encoder", "hashing"]
    assert main(["calibrate", *common, "--out", str(params), "--adapter-dim", "4"]) == 0
    out = tmp_path / "bench"
    assert main(["bench", *common, "--quick", "--calibration", str(params), "--agents", "random",
                 "--out", str(out)]) == 0
    assert {r["scenario"] for r in json.loads((out / "results.json").read_text())["runs"]} == {
        "movielens"}
