import torch
from driftrec.envs import rng


def test_hash32_stays_in_32_bits_and_is_deterministic():
    x = torch.tensor([0, 1, 2**32 - 1, 123456789], dtype=torch.int64)
    h = rng.hash32(x)
    assert bool(((h >= 0) & (h < 2**32)).all())
    assert torch.equal(h, rng.hash32(x.clone()))
    assert len(set(h.tolist())) == 4


def test_uniforms_are_open_unit_interval_with_uniform_moments():
    u = rng.uniform(rng.mix(7, torch.arange(2000)), 50)
    assert u.shape == (2000, 50)
    assert float(u.min()) > 0 and float(u.max()) < 1
    assert abs(float(u.mean()) - 0.5) < 0.005
    assert abs(float(u.var()) - 1 / 12) < 0.002


def test_normals_have_unit_moments():
    z = rng.normal(rng.mix(3, torch.arange(2000)), 64)
    assert abs(float(z.mean())) < 0.01
    assert abs(float(z.std()) - 1.0) < 0.01


def test_draws_depend_only_on_keys_not_on_batch_composition():
    keys = rng.mix(1, torch.arange(10), 5)
    small = rng.uniform(keys[:3], 4)
    large = rng.uniform(keys, 4)
    assert torch.equal(small, large[:3])


def test_user_keys_differ_by_slot_and_generation():
    k0 = rng.user_keys(0, torch.arange(4), torch.zeros(4, dtype=torch.int64))
    k1 = rng.user_keys(0, torch.arange(4), torch.ones(4, dtype=torch.int64))
    assert len(set(k0.tolist()) | set(k1.tolist())) == 8
