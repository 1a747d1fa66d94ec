import pytest
import torch
from driftrec.envs import rng
from driftrec.envs.model.response import logistic_noise


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


# The 32-bit patterns at the edges of the stream: all zeros, all ones, the patterns whose top
# 24 bits are all ones (they gave exactly 1.0 in float32 before issue 29's fix), the boundaries
# of the low 9 bits that the uniform discards, and the sign bit.
EXTREME_BITS = [
    0x00000000, 0x00000001, 0x000000FF, 0x000001FF, 0x00000200, 0x7FFFFFFF, 0x80000000,
    0xFFFFFDFF, 0xFFFFFE00, 0xFFFFFEFF, 0xFFFFFF00, 0xFFFFFF7F, 0xFFFFFFFE, 0xFFFFFFFF,
]  # fmt: skip


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_uniforms_of_extreme_bits_lie_strictly_inside_the_unit_interval(dtype):
    u = rng.uniform_from_bits(torch.tensor(EXTREME_BITS, dtype=torch.int64), dtype)
    assert u.dtype == dtype
    # (2k + 1) / 2**24 with k = bits >> 9: all ones gives 1 - 2**-24, all zeros 2**-24.
    assert u[0].item() == u[4].item() - 2**-23 == 2**-24
    assert u[-1].item() == u[-4].item() == 1 - 2**-24
    assert u[7].item() == 1 - 3 * 2**-24
    assert u[6].item() == 0.5 + 2**-24
    assert float(u.min()) > 0.0 and float(u.max()) < 1.0


def test_every_uniform_of_the_grid_is_exact_symmetric_and_finite_under_every_transform():
    # All 2**23 cells, each through its lowest and highest 32-bit pattern.
    cells = torch.arange(2**23, dtype=torch.int64) << 9
    u = rng.uniform_from_bits(cells)
    assert torch.equal(u, rng.uniform_from_bits(cells | 0x1FF))
    assert torch.equal(u.double(), rng.uniform_from_bits(cells, torch.float64))  # exact in f32
    assert torch.equal(u + u.flip(0), torch.ones_like(u))  # symmetric grid: u and 1 - u
    assert float(u.min()) == 2**-24 and float(u.max()) == 1 - 2**-24
    z = rng.normal_from_uniforms(u.unsqueeze(0), u.numel())[0]
    for values in (z, logistic_noise(u), torch.log(u), torch.log1p(-u)):
        assert bool(torch.isfinite(values).all())
    assert torch.equal(z, -z.flip(0))
    # sqrt(2) erfinv(1 - 2**-23): the largest normal the stream can give.
    assert float(z.max()) == pytest.approx(5.2947, abs=1e-4)


def test_normals_and_logistic_noise_of_extreme_bits_are_finite():
    u = rng.uniform_from_bits(torch.tensor([EXTREME_BITS], dtype=torch.int64))
    z = rng.normal_from_uniforms(u, len(EXTREME_BITS))
    assert bool(torch.isfinite(z).all()) and bool(torch.isfinite(logistic_noise(u)).all())
    assert z[0, 0].item() == -z[0, -1].item() == pytest.approx(-5.2947, abs=1e-4)


def test_uniform_is_the_map_of_the_stream_bits():
    keys = rng.mix(5, torch.arange(7))
    assert torch.equal(rng.uniform(keys, 3), rng.uniform_from_bits(rng.bits(keys, 3)))


def test_int_keys_fold_every_32_bit_limb():
    assert rng.limbs(5) == [5]
    assert rng.limbs(2**32) == [0, 1]
    assert rng.limbs(2**70 + 3) == [3, 0, 64]
    hashes = {rng.mix_int(k, 9) for k in (0, 2**32, 2**64, 2**70, 2**32 + 1)}
    assert len(hashes) == 5
    assert rng.mix_int(7, 9) == int(rng.mix(7, 9))  # below 2**32 a key is one limb, as before


@pytest.mark.parametrize("key", [-1, -(2**40)])
def test_negative_int_keys_are_rejected(key):
    with pytest.raises(ValueError, match=rf"hash keys must be non-negative ints, got {key}"):
        rng.mix_int(key)


def test_seed_keys_differ_for_seeds_that_share_their_low_32_bits():
    seeds = [0, 1, 2**32, 2**32 + 1, 2**64, 2**70, 2**128 + 7]
    keys = [rng.seed_keys(s) for s in seeds]
    assert len({(k.users, k.draws, k.world) for k in keys}) == len(seeds)
    assert rng.seed_keys(2**70) == rng.seed_keys(2**70)  # deterministic
    assert all(0 <= v < 2**32 for k in keys for v in (k.users, k.draws, k.world))


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3"])
def test_seed_keys_reject_what_is_not_a_non_negative_int(seed):
    with pytest.raises(ValueError, match=r"seed must be a non-negative int, got"):
        rng.seed_keys(seed)
