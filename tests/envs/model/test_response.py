import torch
from driftrec.envs.config import ResponseConfig
from driftrec.envs.model.response import respond


def _respond(cfg, consumed=(True, True, False)):
    n = len(consumed)
    return respond(
        consumed=torch.tensor(consumed),
        quality=torch.tensor([0.9, 0.1, 0.9][:n]),
        appeal=torch.tensor([0.5, 0.9, 0.5][:n]),
        cost=torch.tensor([10.0, 10.0, 10.0][:n]),
        match=torch.tensor([0.5, 0.0, 0.5][:n]),
        bored=torch.zeros(n),
        price_sensitivity=torch.ones(n),
        uniforms=torch.full((n, 3), 0.5),
        config=cfg,
    )


def test_quality_drives_rating_and_nothing_consumed_gives_zeros():
    r = _respond(ResponseConfig(rating_noise=0.0))
    assert r.rating[0] > r.rating[1] >= 1.0
    assert r.rating[2] == 0 and r.engagement[2] == 0 and r.completion[2] == 0
    assert bool((r.completion[:2] > 0).all() and (r.completion <= 1).all())
    assert torch.allclose(r.engagement, r.completion * 10.0)


def test_purchase_funnel_revenue_is_price_times_purchase():
    r = _respond(ResponseConfig(purchase_enabled=True, price_reference=10.0))
    # P(buy) = sigmoid(-1 + 2q + 2m): 0.90 for (q, m) = (0.9, 0.5), 0.31 for (0.1, 0.0); u = 0.5
    assert r.purchased.tolist() == [True, False, False]
    assert r.revenue.tolist() == [10.0, 0.0, 0.0]
