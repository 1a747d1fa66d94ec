"""Counter-based randomness: every draw is a pure function of integer keys.

Why: a native vector env that draws all users from one sequential generator makes user ``i``'s
trajectory depend on how many users stand before it (B) and on what they did. Here a draw is

    uniform = H(seed, user_key, step, stream, draw_index) / 2**24

with ``H`` a 32-bit integer hash (Wellons' "lowbias32" finaliser, chained over the keys), so user
``i``'s draws depend only on the seed, its key and its own step counter. The user key is itself a
hash of (slot index, number of users that slot has held), so a replacement user in the same slot
gets fresh randomness that does not depend on B either.

The hash is computed in int64 with 32-bit masks; products are split into 16-bit halves so no
intermediate exceeds 2**49 (no reliance on signed overflow). Shared-world randomness (the per-step
candidate pool, the trending topic) is keyed by (seed, global step) only.

Stream ids (``STREAM_*``) keep independent uses of the same (user, step) apart.
"""

from __future__ import annotations

import torch

MASK32 = 0xFFFFFFFF
_GOLDEN = 0x9E3779B9

# Stream ids: one per independent use of randomness.
STREAM_INIT = 1  # new-user draws: persona index, heterogeneity, interest noise
STREAM_STEP = 2  # per-step user draws: choice, response noise, churn hazard
STREAM_EXOGENOUS = 3  # per-step exogenous random walk (low-rank normals)
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
    """lowbias32 finaliser on int64 tensors holding values in [0, 2**32)."""
    x = x & MASK32
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    x = x ^ (x >> 16)
    return x


def _as_key(value: int | torch.Tensor, device: torch.device | str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.to(device=device, dtype=torch.int64) & MASK32
    return torch.tensor(int(value) & MASK32, dtype=torch.int64, device=device)


def mix(*keys: int | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """Chain-hash integer keys (ints or int tensors, broadcast together) into one 32-bit key."""
    h = torch.tensor(_GOLDEN, dtype=torch.int64, device=device)
    for key in keys:
        h = hash32(h ^ hash32(_as_key(key, device) + _GOLDEN))
    return h


def mix_int(*keys: int) -> int:
    """``mix`` for plain ints, returning a Python int (for seeding a ``torch.Generator``)."""
    return int(mix(*keys).item())


def bits(key: torch.Tensor, n: int) -> torch.Tensor:
    """(..., n) independent 32-bit integers from a key tensor (...,): hash of (key, draw index)."""
    idx = hash32(torch.arange(n, dtype=torch.int64, device=key.device) * _GOLDEN + 1)
    return hash32(key.unsqueeze(-1) ^ idx)


def uniform(key: torch.Tensor, n: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(..., n) uniforms in the open interval (0, 1), 24-bit resolution (exact in float32)."""
    return ((bits(key, n) >> 8).to(dtype) + 0.5) * (1.0 / 16777216.0)


def normal(key: torch.Tensor, n: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(..., n) standard normals by Box-Muller from 2n counter-based uniforms."""
    m = (n + 1) // 2
    u = uniform(key, 2 * m, dtype=torch.float64)
    r = torch.sqrt(-2.0 * torch.log(u[..., :m]))
    theta = (2.0 * torch.pi) * u[..., m:]
    z = torch.cat([r * torch.cos(theta), r * torch.sin(theta)], dim=-1)
    return z[..., :n].to(dtype)


def user_keys(seed: int, slots: torch.Tensor, generations: torch.Tensor) -> torch.Tensor:
    """(B,) user keys from slot indices and how many users each slot has held before."""
    return mix(seed, STREAM_USER_KEY, slots, generations, device=slots.device)


def generator(*keys: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` seeded by the hash of ``keys`` (for shared-world draws)."""
    gen = torch.Generator(device=device)
    gen.manual_seed(mix_int(*keys))
    return gen
