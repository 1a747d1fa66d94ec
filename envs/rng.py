"""Counter-based randomness: every draw is a pure function of integer keys.

Why: a native vector env that draws all users from one sequential generator makes user ``i``'s
trajectory depend on how many users stand before it (B) and on what they did. Here a draw is

    uniform = (2 · (H(seed, user_key, step, stream, draw_index) >> 9) + 1) / 2**24

with ``H`` a 32-bit integer hash (a lowbias32-style finaliser, chained over the keys), so user
``i``'s draws depend only on the seed, its key and its own step counter. The user key is itself a
hash of (slot index, number of users that slot has held), so a replacement user in the same slot
gets fresh randomness that does not depend on B either.

Every uniform lies strictly inside (0, 1) in float32 and float64 alike (``uniform_from_bits``),
so every transform of one (inverse-CDF normals, logistic noise, ``log(u)``, ``log(1 − u)``) is
finite. The seed enters through ``seed_keys``: three 32-bit keys hashed from the whole integer
(``numpy.random.SeedSequence``), one for the user keys, one for the users' draws and one for the
shared world, so seeds that differ in any bit, however large, give different streams (two
seeds collide with probability about 2**-64).

The hash is computed in int64 with 32-bit masks and multipliers below 2**31, so no intermediate
reaches 2**63 (no reliance on signed overflow). Shared-world randomness (the per-step
candidate pool, the trending topic) is keyed by (seed, global step) only.

Stream ids (``STREAM_*``) keep independent uses of the same (user, step) apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

MASK32 = 0xFFFFFFFF
_GOLDEN = 0x9E3779B9
_C1, _C2 = 0x7FEB352D, 0x5BD1E995  # odd multipliers < 2**31

# Stream ids: one per independent use of randomness.
STREAM_INIT = 1  # new-user draws: persona index, heterogeneity, interest noise
STREAM_STEP = 2  # per-step user draws: choice, response noise, churn hazard
STREAM_POOL = 4  # per-step candidate pool (shared by the batch)
STREAM_TREND = 5  # trending topic of a period (shared by the batch)
STREAM_AGENT_VIEW = 6  # fixed noise on the agent's item embeddings
STREAM_USER_KEY = 7  # user key from (slot, generation)
STREAM_SYNTH_PERSONA = 8  # synthetic persona pool when no persona texts are available


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    """``(x * c) mod 2**32`` for ``x`` in [0, 2**32), without int64 overflow."""
    lo = x * (c & 0xFFFF)
    hi = ((x * (c >> 16)) & 0xFFFF) << 16
    return (lo + hi) & MASK32


def hash32(x: torch.Tensor) -> torch.Tensor:
    """32-bit integer hash on int64 tensors holding values in [0, 2**32).

    The xorshift-multiply structure of Wellons' lowbias32 with both multipliers below 2**31 (the
    second is MurmurHash2's), so ``x * c < 2**63`` and one int64 multiply per round is exact —
    half the tensor ops of a split multiply, with the same avalanche quality in our tests.
    """
    x = x & MASK32  # a new tensor: the rounds below work in place on it
    x.bitwise_xor_(x >> 16)
    x.mul_(_C1).bitwise_and_(MASK32)
    x.bitwise_xor_(x >> 15)
    x.mul_(_C2).bitwise_and_(MASK32)
    return x.bitwise_xor_(x >> 16)


def hash32_int(x: int) -> int:
    """``hash32`` for a Python int (no tensor ops: used to fold the scalar keys cheaply)."""
    x &= MASK32
    x ^= x >> 16
    x = (x * _C1) & MASK32
    x ^= x >> 15
    x = (x * _C2) & MASK32
    x ^= x >> 16
    return x


def limbs(key: int) -> list[int]:
    """The 32-bit limbs of a non-negative int, least significant first (one limb below 2**32).

    Why: masking a key to 32 bits would make ``key`` and ``key + 2**32`` the same key; folding
    every limb keeps them apart (an int key below 2**32 folds exactly as a single limb).
    """
    key = int(key)
    if key < 0:
        raise ValueError(f"hash keys must be non-negative ints, got {key}")
    out = [key & MASK32]
    while key > MASK32:
        key >>= 32
        out.append(key & MASK32)
    return out


def mix(*keys: int | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """Chain-hash integer keys (ints or int tensors, broadcast together) into one 32-bit key:
    ``h ← hash32(h ^ key)`` per key (per 32-bit limb of an int key; tensor keys are taken
    mod 2**32). Leading int keys are folded in Python (cheap); each tensor key costs one
    vectorised hash."""
    h: int | torch.Tensor = hash32_int(_GOLDEN)
    for key in keys:
        if isinstance(key, torch.Tensor):
            k = key.to(dtype=torch.int64) & MASK32
            h = hash32(k ^ h)
            continue
        for limb in limbs(key):
            h = hash32(h ^ limb) if isinstance(h, torch.Tensor) else hash32_int(h ^ limb)
    if isinstance(h, torch.Tensor):
        return h
    return torch.tensor(h, dtype=torch.int64, device=device)


def mix_int(*keys: int) -> int:
    """``mix`` of plain ints, as a Python int (for seeding a ``torch.Generator``)."""
    h = hash32_int(_GOLDEN)
    for key in keys:
        for limb in limbs(key):
            h = hash32_int(h ^ limb)
    return h


@dataclass(frozen=True)
class SeedKeys:
    """The 32-bit keys that a seed contributes to the hash chains (see ``seed_keys``)."""

    users: int  # user keys from (slot, generation): ``user_keys``
    draws: int  # the users' arrival and per-step draws (STREAM_INIT, STREAM_STEP)
    world: int  # shared-world draws: candidate pools, trending topics


def seed_keys(seed: int) -> SeedKeys:
    """Three 32-bit keys hashed from every bit of ``seed`` (``numpy.random.SeedSequence``).

    Why three and not one: each chain folds its seed key into a 32-bit state, so with a single
    hashed key two of 100,000 seeds would more likely than not replay each other (birthday
    bound). With the user keys and the users' draws keyed separately, two seeds give the same
    user streams only if both keys collide (or every user's keys do), about 2**-64 per pair.
    ``seed`` must be a non-negative int (the envs check it first, with Gymnasium's error type).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    users, draws, world = np.random.SeedSequence(int(seed)).generate_state(3, np.uint32)
    return SeedKeys(users=int(users), draws=int(draws), world=int(world))


_INDEX_HASH: dict[tuple[int, str], torch.Tensor] = {}


def _index_hash(n: int, device: torch.device) -> torch.Tensor:
    """hash32 of the draw indices 0..n-1 (memoised per (n, device): a pure function)."""
    key = (n, str(device))
    if key not in _INDEX_HASH:
        idx = torch.arange(n, dtype=torch.int64, device=device)
        _INDEX_HASH[key] = hash32(_mul32(idx, _GOLDEN) + 1)
    return _INDEX_HASH[key]


def bits(key: torch.Tensor, n: int) -> torch.Tensor:
    """(..., n) independent 32-bit integers from a key tensor (...,): hash of (key, draw index)."""
    return hash32(key.unsqueeze(-1) ^ _index_hash(n, key.device))


def uniform_from_bits(x: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Uniforms strictly inside (0, 1) from 32-bit integers ``x`` (int64 tensor): the midpoints
    ``(2k + 1) / 2**24`` of 2**23 equal cells, ``k = x >> 9``, so every value lies in
    [2**-24, 1 − 2**-24].

    Why 23 bits and not 24: a float32 significand holds 24 bits, so ``2k + 1 < 2**24`` and the
    product by 2**-24 are exact and the largest value 1 − 2**-24 is representable. Midpoints of
    2**24 cells (``(k + 0.5) / 2**24``) need 25 bits: the top one, 1 − 2**-25, rounded to exactly
    1.0 in float32, which the inverse-CDF normal and ``log(1 − u)`` turn into infinity (issue 29:
    about one user in 10**6 user-steps went NaN). The grid is symmetric (``u`` and ``1 − u`` are
    both on it) and the same in float32 and float64. ``(x >> 8) | 1`` is ``2 (x >> 9) + 1``.
    """
    return ((x >> 8) | 1).to(dtype).mul_(2.0**-24)


def uniform(key: torch.Tensor, n: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(..., n) uniforms strictly inside (0, 1), 23-bit resolution (``uniform_from_bits``)."""
    return uniform_from_bits(bits(key, n), dtype)


def normal(key: torch.Tensor, n: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(..., n) standard normals from n counter-based uniforms (inverse CDF)."""
    return normal_from_uniforms(uniform(key, n), n, dtype)


def normal_from_uniforms(
    u: torch.Tensor, n: int, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """(..., n) standard normals from the first n of (..., >= n) uniforms in (0, 1), by the
    inverse CDF ``sqrt(2) · erfinv(2u − 1)``: one draw per normal, and ``erfinv`` has a single
    (scalar) CPU kernel, so a value does not depend on where it sits in the batch. With the
    uniforms of ``uniform_from_bits``, ``2u − 1`` is exact in float32 and at most 1 − 2**-23 in
    magnitude, so every normal is finite: the tails reach ±5.29σ."""
    z = u[..., :n].to(torch.float32).mul(2.0).sub_(1.0).erfinv_().mul_(math.sqrt(2.0))
    return z.to(dtype)


def user_keys(seed_key: int, slots: torch.Tensor, generations: torch.Tensor) -> torch.Tensor:
    """(B,) user keys from slot indices and how many users each slot has held before;
    ``seed_key``: ``seed_keys(seed).users``."""
    return mix(seed_key, STREAM_USER_KEY, slots, generations, device=slots.device)


def generator(*keys: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` seeded by the hash of ``keys`` (for shared-world draws)."""
    gen = torch.Generator(device=device)
    gen.manual_seed(mix_int(*keys))
    return gen


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Logistic function as ``1 / (1 + exp(-x))``.

    Why not ``torch.sigmoid``: on CPU its vectorised kernel and its scalar tail loop round
    differently (about 4% of values differ in the last bit), so a user's numbers would depend on
    where it sits in a batch of B — breaking batch-size invariance to the bit. ``exp``, ``+`` and
    ``/`` give identical results on both paths.
    """
    return 1.0 / (1.0 + torch.exp(-x))
