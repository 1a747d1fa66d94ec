import pytest
from driftrec.envs import SCENARIOS, DriftConfig, make_scenario
from driftrec.envs.config import BudgetConfig, ChoiceConfig, ScenarioConfig


def test_presets_exist_with_their_rewards():
    assert {k: v.reward for k, v in SCENARIOS.items()} == {
        "video": "engagement",
        "news": "clicks",
        "shopping": "revenue",
    }


def test_overrides_by_scenario_field_prefixed_and_bare_mechanism_name():
    cfg = make_scenario(
        "news", slate_size=3, choice_model="independent", drift_enabled=False, walk_std=0.5
    )
    um = cfg.user_model
    assert (cfg.slate_size, um.choice.model, um.drift.enabled, um.exogenous.walk_std) == (
        3,
        "independent",
        False,
        0.5,
    )


def test_whole_mechanism_config_override():
    cfg = make_scenario("video", drift=DriftConfig(rate=0.5))
    assert cfg.user_model.drift.rate == 0.5


def test_unknown_scenario_raises():
    with pytest.raises(ValueError, match=r"unknown scenario 'movies'; expected one of"):
        make_scenario("movies")


def test_device_is_checked_against_this_machine():
    import torch

    assert make_scenario("video", device="cpu").device == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"ScenarioConfig.device: device 'cuda' asks for "
                                             r"CUDA, but CUDA is not available"):
            make_scenario("video", device="cuda")


def test_unknown_override_raises_listing_valid_keys():
    with pytest.raises(ValueError, match=r"unknown override 'slatesize'.*slate_size"):
        make_scenario("video", slatesize=3)


def test_ambiguous_bare_override_raises():
    with pytest.raises(ValueError, match=r"override 'enabled' is ambiguous; use one of: drift_"):
        make_scenario("video", enabled=False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"slate_size": 20, "num_candidates": 10},
            r"slate_size K=20 must be <= num_candidates N=10",
        ),
        ({"choice_model": "probit"}, r"ChoiceConfig.model must be one of .*'probit'"),
        ({"drift_rate": -0.1}, r"DriftConfig.rate must be >= 0, got -0.1"),
        ({"satiation_decay": 1.5}, r"SatiationConfig.decay must be in \[0, 1\], got 1.5"),
        ({"temperature": 0.0}, r"ChoiceConfig.temperature must be > 0"),
        ({"reward": "likes"}, r"reward must be one of"),
        ({"agent_view": "blurry"}, r"agent_view must be one of"),
        ({"walk_std": float("nan")}, r"ExogenousConfig.walk_std must be finite"),
        ({"pool_lifetime": 0}, r"ScenarioConfig.pool_lifetime must be >= 1, got 0"),
    ],
)
def test_invalid_config_values_raise_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_scenario("video", **kwargs)


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match=r"ScenarioConfig.slate_size must be an int, got 2.5"):
        ScenarioConfig(slate_size=2.5)
    with pytest.raises(TypeError, match=r"BudgetConfig.enabled must be a bool"):
        BudgetConfig(enabled=1)
    with pytest.raises(TypeError, match=r"ChoiceConfig.temperature must be a number"):
        ChoiceConfig(temperature="hot")
    with pytest.raises(TypeError, match=r"ScenarioConfig.pool_lifetime must be an int, got 2.0"):
        ScenarioConfig(pool_lifetime=2.0)
    with pytest.raises(TypeError, match=r"ScenarioConfig.oracle_info must be a bool"):
        ScenarioConfig(oracle_info="yes")


def test_video_myopic_oracle_loses_to_long_horizon_oracle(catalog):
    """The long-horizon structure of ``video`` (full check: benchmarks/video_horizon.py)."""
    from driftrec.benchmarks.video_horizon import long_horizon, myopic, run_cohort
    from driftrec.envs import DriftRecVectorEnv

    env = DriftRecVectorEnv(64, "video", catalog=catalog, encoder="hashing", num_candidates=60)
    short = run_cohort(env, myopic, seed=0, kappa=1.0)
    long = run_cohort(env, long_horizon, seed=0, kappa=1.0)
    assert long["return"] > 1.5 * short["return"]
    assert long["session_length"] > 2 * short["session_length"]
