"""Counter-based randomness: every draw is a pure function of integer keys.

Why: a native vector env that draws all users from one sequential generator makes user ``i``'s
trajectory depend on how many users stand before it (B) and on what they did. Here a draw is

    uniform = H(seed, user_key, step, stream, draw_index) / 2**24

with ``H`` a 32-bit integer hash (a lowbias32-style finaliser, chained over the keys), so user
``i``'s draws depend only on the seed, its key and its own step counter. The user key is itself a
hash of (slot index, number of users that slot has held), so a replacement user in the same slot
gets fresh randomness that does not depend on B either.

The hash is computed in int64 with 32-bit masks and multipliers below 2**31, so no intermediate
reaches 2**63 (no reliance on signed overflow). Shared-world randomness (the per-step
candidate pool, the trending topic) is keyed by (seed, global step) only.

Stream ids (``STREAM_*``) keep independent uses of the same (user, step) apart.
"""

from __future__ import annotations

import math

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


def mix(*keys: int | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """Chain-hash integer keys (ints or int tensors, broadcast together) into one 32-bit key:
    ``h ← hash32(h ^ key)`` per key. Leading int keys are folded in Python (cheap); each tensor
    key costs one vectorised hash."""
    h: int | torch.Tensor = hash32_int(_GOLDEN)
    for key in keys:
        if isinstance(key, torch.Tensor):
            k = key.to(dtype=torch.int64) & MASK32
            h = hash32(k ^ h)
        elif isinstance(h, torch.Tensor):
            h = hash32(h ^ (int(key) & MASK32))
        else:
            h = hash32_int(h ^ (int(key) & MASK32))
    if isinstance(h, torch.Tensor):
        return h
    return torch.tensor(h, dtype=torch.int64, device=device)


def mix_int(*keys: int) -> int:
    """``mix`` of plain ints, as a Python int (for seeding a ``torch.Generator``)."""
    h = hash32_int(_GOLDEN)
    for key in keys:
        h = hash32_int(h ^ (int(key) & MASK32))
    return h


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


def uniform(key: torch.Tensor, n: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(..., n) uniforms in the open interval (0, 1), 24-bit resolution (exact in float32)."""
    return (bits(key, n) >> 8).to(dtype).add_(0.5).mul_(1.0 / 16777216.0)


def normal(key: torch.Tensor, n: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(..., n) standard normals from n counter-based uniforms (inverse CDF)."""
    return normal_from_uniforms(uniform(key, n), n, dtype)


def normal_from_uniforms(
    u: torch.Tensor, n: int, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """(..., n) standard normals from the first n of (..., >= n) uniforms in (0, 1), by the
    inverse CDF ``sqrt(2) · erfinv(2u − 1)``: one draw per normal, and ``erfinv`` has a single
    (scalar) CPU kernel, so a value does not depend on where it sits in the batch. With 24-bit
    uniforms the tails reach ±5.4σ; ``2u − 1`` is exact in float32."""
    z = u[..., :n].to(torch.float32).mul(2.0).sub_(1.0).erfinv_().mul_(math.sqrt(2.0))
    return z.to(dtype)


def user_keys(seed: int, slots: torch.Tensor, generations: torch.Tensor) -> torch.Tensor:
    """(B,) user keys from slot indices and how many users each slot has held before."""
    return mix(seed, STREAM_USER_KEY, slots, generations, device=slots.device)


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
