"""Budget ends sessions; quality refills it (other mechanisms off)."""

import torch
from driftrec.envs.config import BudgetConfig
from driftrec.envs.model.budget import churn, hazard, update_budget


def test_budget_formula_spends_and_refills():
    cfg = BudgetConfig(step_cost=1.0, spend_rate=1.0, refill_rate=2.0, refill_threshold=0.3)
    b = update_budget(
        torch.tensor([50.0, 50.0]),
        cost=torch.tensor([10.0, 10.0]),
        completion=torch.tensor([0.5, 0.5]),
        quality=torch.tensor([0.9, 0.1]),
        consumed=torch.tensor([True, True]),
        config=cfg,
    )
    # 50 - 1 + 5 * (2 * 0.6 - 1) = 50; clickbait: 50 - 1 + 5 * (0 - 1) = 44
    assert b.tolist() == [50.0, 44.0]


def test_hazard_is_zero_when_disabled_and_grows_with_dissatisfaction():
    on = BudgetConfig(hazard_rate=0.2)
    s = torch.tensor([0.8, -0.8])
    hz = hazard(s, on)
    assert hz[1] > hz[0]
    assert hazard(s, BudgetConfig(hazard_enabled=False)).tolist() == [0.0, 0.0]
    assert churn(torch.tensor([-1.0, 5.0]), s, torch.tensor([0.99, 0.99]), on).tolist() == [
        True,
        False,
    ]


def _session(h, catalog, want_quality: bool):
    engine = h.make_engine(
        catalog,
        **{**h.ISOLATED, "budget_enabled": True},
        slate_size=1,
        num_candidates=60,
        no_click_utility=-50.0,
        max_steps=200,
        budget_initial=30.0,
    )
    budgets, ended = [], None
    for t in range(200):
        q = engine.quality[engine.world.pool_ids]
        pos = torch.argmax(q if want_quality else -q).view(1, 1)
        res = engine.step(pos, autoreset=False)
        budgets.append(float(res.info["budget"][0]))
        if bool(res.terminated[0]):
            ended = t
            break
    return budgets, ended


def test_low_quality_consumption_exhausts_budget_and_ends_session(h, catalog):
    budgets, ended = _session(h, catalog, want_quality=False)
    assert ended is not None and ended < 40
    assert budgets[-1] <= 0


def test_high_quality_consumption_refills_budget(h, catalog):
    budgets, ended = _session(h, catalog, want_quality=True)
    assert ended is None
    assert max(budgets) > 30.0
