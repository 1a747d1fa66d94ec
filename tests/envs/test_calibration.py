"""Calibration: the likelihood is the engine's own choice model, the fit recovers the parameters
that generated simulator data, and a real-data run writes a parameter file usable as a preset.

Recovery tolerance: the maximum-likelihood estimate is asymptotically normal with covariance the
inverse observed information, so each parameter is checked at |estimate − truth| <= 4 standard
errors (computed by ``standard_errors`` from the Hessian), and the standard errors must be small
(< 15% of the true value) so the check has teeth. With a fixed seed the test is deterministic;
4 SE leaves room for the Gauss-Hermite approximation of the per-user spread (9 nodes) without
hiding a real bias (a 5-node quadrature, for instance, misses sigma by 5.5 SE and fails).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from driftrec.envs import calibration as cal
from driftrec.envs.calibration import raw_fit
from driftrec.envs.model.engine import Engine
from driftrec.envs.scenarios import make_scenario
from driftrec.envs.sources.catalog import Catalog
from driftrec.envs.sources.datasets import load_dataset
from driftrec.envs.sources.users import UserPool

TRUE = {
    "interest_weight": 3.0, "appeal_weight": 1.5, "drift_rate": 0.3, "satiation_decay": 0.6,
    "satiation_rate": 1.0, "no_click_utility": 0.5, "interest_spread": 0.5,
}


def random_catalog(m: int, d: int, seed: int) -> Catalog:
    g = np.random.default_rng(seed)
    e = g.normal(size=(m, d))
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    q = g.uniform(size=m)
    return Catalog(
        domain="custom", ids=tuple(f"i{j}" for j in range(m)), titles=tuple(f"t{j}" for j in range(m)),
        descriptions=("",) * m, texts=("",) * m, tags=((),) * m, categories=("a",),
        category_ids=np.zeros(m, np.int64), quality=q, appeal=q, clickbait=np.zeros(m, bool),
        cost=np.ones(m), popularity=np.ones(m), embeddings=e.astype(np.float32),
        encoder_name="random",
    )


def simulate(num_users: int, steps: int, truth: dict[str, float], seed: int = 3):
    """Engine rollout with random slates: N=20 candidates, K=5, M=60 items, d=8; no churn, no
    exogenous walk, no interest noise, per-user spread only on beta (what is integrated out)."""
    catalog = random_catalog(60, 8, 0)
    g = np.random.default_rng(1)
    pool = UserPool(interests=g.normal(size=(num_users, 8)).astype(np.float32),
                    profiles=np.zeros((num_users, 8), np.float32))
    config = make_scenario(
        "video", num_candidates=20, slate_size=5, max_steps=steps + 1, exogenous_enabled=False,
        budget_enabled=False, hazard_enabled=False, interest_noise=0.0, drift_spread=0.0,
        boredom_spread=0.0, no_click_std=0.0, budget_spread=0.0,
        **{cal.OVERRIDE_KEYS[k]: v for k, v in truth.items()},
    )
    engine = Engine(catalog, config, num_users, user_pool=pool)
    log, ref = cal.log_from_engine(engine, steps, seed=seed)
    world = cal.make_world(catalog.embeddings, catalog.appeal, catalog.popularity,
                           config.user_model, slate_size=5)
    return log, ref, world


def test_likelihood_equals_the_engines_choice_probabilities_along_its_trajectory() -> None:
    truth = dict(TRUE, interest_spread=0.0)
    log, ref, world = simulate(40, 25, truth)
    net = raw_fit.raw_model(world, truth, (), cal.CalibrationConfig())
    out = cal.replay(net, log, world.embeddings, world.appeal, (cal.TRAIN,), cal.CalibrationConfig())
    # The likelihood (reference functions, W = identity) vs the engine's own state, 25 steps of
    # drift and satiation: per-user summed log-probabilities agree to float32 rounding.
    np.testing.assert_allclose(out["users"].numpy(), ref["logp"].sum(axis=1), atol=1e-4)
    assert (log.items < 0).any() and (log.items >= 0).any()  # both outcomes occur


def test_calibration_recovers_the_simulators_parameters_within_4_standard_errors() -> None:
    torch.manual_seed(0)  # L-BFGS is deterministic; this only guards library internals
    log, _, world = simulate(160, 25, TRUE)  # 4000 slates
    cfg = cal.CalibrationConfig(batch_users=160, max_iter=30, progress=False)
    start = cal.model_parameters(make_scenario("video").user_model)
    est, ll = cal.fit(log, world, start, cal.PARAMETERS, cfg)
    se = cal.standard_errors(log, world, est, cal.PARAMETERS, cfg)
    assert ll["calibrated"] > ll["defaults"]
    for name, true in TRUE.items():
        assert se[name] < 0.15 * abs(true), (name, se[name])
        assert abs(est[name] - true) <= 4 * se[name], (name, est[name], true, se[name])


def test_calibrate_on_a_dataset_writes_a_parameter_file_usable_as_a_scenario(
    tmp_path: Path, hashing_encoder, movielens_files
) -> None:
    root = movielens_files.write_100k(tmp_path / "ml", num_users=12, num_items=20)
    d = load_dataset("movielens", root)
    out = tmp_path / "params.json"
    result = cal.calibrate(d, hashing_encoder, out=out,
                           config=cal.CalibrationConfig(max_iter=3, progress=False))
    saved = json.loads(out.read_text())
    assert saved["format"] == "driftrec-calibration" and saved["scenario"] == "video"
    assert set(saved["report"]) == {"calibrated", "defaults", "popularity"}
    # 12 users × 2 held-out items each; no-click utility is not identified from ratings alone
    assert all(r["events"] == 24 for r in saved["report"].values())
    assert "no_click_utility" not in result.fitted
    assert result.train_loglik["calibrated"] >= result.train_loglik["defaults"] - 1e-9
    scen = cal.calibrated_scenario(out, num_candidates=15)
    assert scen.user_model.choice.interest_weight == pytest.approx(
        result.parameters["interest_weight"])
    assert scen.user_model.satiation.decay == pytest.approx(result.parameters["satiation_decay"])
    assert scen.num_candidates == 15
    assert make_scenario(str(out), num_candidates=15) == scen  # a calibration file is a preset
    assert scen.user_model.choice.no_click_utility == make_scenario("video").user_model.choice \
        .no_click_utility


def test_a_foreign_json_file_is_not_a_calibration(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"parameters": {}}')
    with pytest.raises(ValueError, match=r"not a driftrec calibration file"):
        cal.load_calibration(path)


def _parameter_file(path: Path, scenario: str, **parameters: float) -> Path:
    path.write_text(json.dumps({
        "format": "driftrec-calibration", "version": cal.FORMAT_VERSION, "scenario": scenario,
        "parameters": parameters, "fitted": list(parameters),
    }))
    return path


def test_a_chain_of_calibration_files_applies_the_innermost_first(tmp_path: Path) -> None:
    inner = _parameter_file(tmp_path / "inner.json", "news", drift_rate=0.2, satiation_decay=0.5)
    outer = _parameter_file(tmp_path / "outer.json", str(inner), drift_rate=0.7)
    scen = make_scenario(outer, slate_size=3)
    model = scen.user_model
    assert (scen.name, model.drift.rate, model.satiation.decay, scen.slate_size) == (
        "news", 0.7, 0.5, 3)


@pytest.mark.parametrize("length", [1, 2, 3])
def test_a_cycle_of_calibration_files_is_an_error_not_a_recursion(
    tmp_path: Path, length: int
) -> None:
    files = [tmp_path / f"c{i}.json" for i in range(length)]
    for i, path in enumerate(files):
        _parameter_file(path, str(files[(i + 1) % length]), drift_rate=0.1)
    problem = ("names itself as its scenario" if length == 1
               else r"is part of a cycle of calibration files \(.*c0.json -> ")
    with pytest.raises(ValueError, match=rf"calibration file .*c0.json {problem}"):
        make_scenario(str(files[0]))


def test_a_calibration_file_applies_to_an_explicit_base(tmp_path: Path) -> None:
    path = _parameter_file(tmp_path / "p.json", "video", drift_rate=0.3)
    scen = cal.calibrated_scenario(path, base="shopping")
    assert (scen.name, scen.user_model.drift.rate) == ("shopping", 0.3)


def _write_mind(root: Path, click_every: int) -> Path:
    """A MIND folder: 10 news items, 8 users with a 6-item history and 12 impressions of 4
    shown items each; impression r of a user has a click iff r % click_every == 0."""
    root.mkdir(parents=True, exist_ok=True)
    cats = ("sports", "news", "lifestyle", "finance", "travel")
    news = [f"N{j}\t{cats[j % 5]}\tsub\tHeadline number {j} about {cats[j % 5]}\t"
            f"Abstract {j}.\thttps://x/{j}\t[]\t[]" for j in range(10)]
    (root / "news.tsv").write_text("\n".join(news) + "\n", encoding="utf-8")
    rows = []
    for u in range(8):
        history = " ".join(f"N{(u + k) % 10}" for k in range(6))
        for r in range(12):
            shown = [(u * 3 + r + k) % 10 for k in range(4)]
            clicked = 1 + (u + r) % 3 if r % click_every == 0 else -1
            imp = " ".join(f"N{j}-{int(k == clicked)}" for k, j in enumerate(shown))
            rows.append(f"{u * 100 + r}\tU{u}\t11/{10 + r}/2019 9:00:00 AM\t{history}\t{imp}")
    (root / "behaviors.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def test_mind_impressions_become_slates_with_no_click_steps(tmp_path: Path,
                                                           hashing_encoder) -> None:
    from driftrec.envs.sources.datasets import build_setup

    setup = build_setup(load_dataset("mind", _write_mind(tmp_path / "mind", 2)), hashing_encoder)
    cfg = cal.CalibrationConfig(warmup=3, progress=False)
    log = cal.log_from_impressions(setup, cfg)
    assert log.slates is not None and log.slates.shape[2] == 4
    live = log.phase != cal.PAD
    scored = np.isin(log.phase, (cal.TRAIN, cal.EVAL))
    assert ((log.phase == cal.WARMUP).sum(axis=1) <= 3).all()
    # every scored step is an impression: a click on a shown item, or a no-click (−1) step
    for b, t in zip(*np.nonzero(scored)):
        assert log.items[b, t] == -1 or log.items[b, t] in log.slates[b, t]
    no_click = scored & (log.items == -1)
    assert no_click.sum() > 0 and (scored & (log.items >= 0)).sum() > 0
    # phases run in order: warm-up, then held-in, then held-out, then padding
    for b in range(len(log)):
        ph = log.phase[b][live[b]]
        assert (np.diff(ph[ph != cal.GAP]) >= 0).all()
        assert (ph == cal.EVAL).any()


@pytest.mark.slow
def test_no_click_utility_is_fitted_from_impressions_and_tracks_the_click_rate(
    tmp_path: Path, hashing_encoder
) -> None:
    cfg = cal.CalibrationConfig(max_iter=15, progress=False, fit_spread=False)
    fitted = {}
    for name, every in (("clicky", 1), ("picky", 3)):
        d = load_dataset("mind", _write_mind(tmp_path / name, every))
        result = cal.calibrate(d, hashing_encoder, config=cfg)
        assert "no_click_utility" in result.fitted
        assert result.meta["candidates"] == "shown lists (impressions) + no click"
        assert result.train_loglik["calibrated"] >= result.train_loglik["defaults"] - 1e-9
        fitted[name] = result.parameters["no_click_utility"]
    # users who skip two impressions in three value "no click" more than users who always click
    assert fitted["picky"] > fitted["clicky"] + 0.5, fitted


def test_the_raw_space_likelihood_is_the_adapter_likelihood_with_w_the_identity() -> None:
    """One likelihood: the raw-space model (no W) and an adapter model whose W is a multiple of
    the identity (normalise(W e) = e) give the same value, with the spread integrated out."""
    log, _, world = simulate(20, 10, TRUE)
    cfg = cal.CalibrationConfig()
    raw = raw_fit.raw_model(world, TRUE, (), cfg)
    eye = cal.AdapterModel(np.eye(8, dtype=np.float32), world.model, fitted=(), start=TRUE,
                           positions=world.positions, quadrature=cfg.quadrature)
    with torch.no_grad():
        got = [float(cal.replay(net, log, world.embeddings, world.appeal, (cal.TRAIN,),
                                cfg)["loglik"]) for net in (raw, eye)]
    assert got[0] == pytest.approx(got[1], abs=1e-3)
    assert got[0] < -10.0  # 200 slates scored


def test_the_raw_space_fit_never_sees_held_out_events(
    tmp_path: Path, hashing_encoder, movielens_files
) -> None:
    from tests.envs.test_adapter import _perturb_heldout

    root = movielens_files.write_100k(tmp_path / "ml", num_users=12, num_items=20)
    cfg = cal.CalibrationConfig(max_iter=3, progress=False)
    first = cal.calibrate(load_dataset("movielens", root), hashing_encoder, config=cfg)
    _perturb_heldout(root)
    second = cal.calibrate(load_dataset("movielens", root), hashing_encoder, config=cfg)
    assert second.parameters == first.parameters
    assert second.report["calibrated"] != first.report["calibrated"]


def test_an_adapter_fit_scores_every_held_in_event_by_default(
    tmp_path: Path, hashing_encoder, movielens_files
) -> None:
    from driftrec.envs.sources.datasets import build_setup

    root = movielens_files.write_100k(tmp_path / "ml", num_users=12, num_items=20)
    setup = build_setup(load_dataset("movielens", root), hashing_encoder)
    log = cal.sequence_log(setup, cal.AdapterConfig())
    split = setup.split
    held_in = int((split.heldout_start - split.init_end).sum())
    # every held-in event is TRAIN or VALID (at most half of a user's held-in are VALID)
    assert log.count(cal.TRAIN) + log.count(cal.VALID) == held_in
    assert log.count(cal.GAP) == 0 and log.count(cal.EVAL) == 24
