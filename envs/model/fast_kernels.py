"""The fast path's numba kernels (``fast.kernels()`` imports them on first use). Their on-disk
cache is the driftrec cache dir's ``numba`` folder (``jit``), whichever way this module is
imported: numba's default would write beside the sources.

Each kernel loops over users and runs the same scalar code on each user's own rows, so a user's
numbers do not depend on B or on its slot. The equations are the reference step's
(``envs/model/reference.py``); comments name the mechanism each block implements.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from driftrec.encoders.cache_dir import resolve_cache_dir

from .. import rng
from .fast import (
    F_BETA,
    F_BORED,
    F_BUDGET,
    F_DRIFT,
    F_NOCLICK,
    F_PRICE,
    F_SATISF,
    I_DONE,
    I_GEN,
    I_KEY,
    I_PERSONA,
    I_STEPS,
    O_BEST,
    O_BOREDOM,
    O_BUDGET,
    O_CHOSEN,
    O_COMPLETE,
    O_DRIFT,
    O_ENGAGE,
    O_ITEM,
    O_PURCHASED,
    O_RATING,
    O_REGRET,
    O_REVENUE,
    O_REWARD,
    O_SATISF,
    O_TERM,
    O_TRUNC,
    P,
)  # fmt: skip
from .satiation import SATIATION_FLOOR

MASK32 = rng.MASK32
C1, C2 = rng._C1, rng._C2
TWO_M24 = 2.0**-24

# Parameter offsets (``fast.P``), frozen into the compiled code.
P_CHOICE, P_TAU, P_APPEAL = P["choice_model"], P["temperature"], P["appeal_weight"]
P_DRIFT, P_SAT, P_WALK, P_TREND = P["drift_on"], P["sat_on"], P["walk_on"], P["trend_on"]
P_CB, P_RB, P_PUR, P_BUD, P_HAZ = P["c_bias"], P["r_bias"], P["p_on"], P["b_on"], P["h_on"]
P_REWARD, P_MAXSTEPS = P["reward_kind"], P["max_steps"]
P_NOISE, P_NC_MEAN, P_NC_STD = P["noise_scale"], P["no_click_mean"], P["no_click_std"]
P_SPREAD, P_BASE, P_BMAX = P["s_beta"], P["v_beta"], P["b_max"]
# The reference's satiation floor (satiation.py): float32's smallest normal, as float32.
SAT_FLOOR = np.float32(SATIATION_FLOOR)



def jit(**options):
    """``numba.njit(cache=True, nogil=True, **options)`` cached under
    ``resolve_cache_dir() / "numba"``: numba fixes a function's cache folder when it is
    decorated, so the folder is set around the decoration only (other numba users keep theirs)."""

    def decorate(fn):
        before = numba.config.CACHE_DIR
        numba.config.CACHE_DIR = str(resolve_cache_dir() / "numba")
        try:
            return numba.njit(cache=True, nogil=True, **options)(fn)
        finally:
            numba.config.CACHE_DIR = before

    return decorate


njit_cached = jit()
FAST_SUM = {"reassoc", "contract"}  # vectorised reductions: their order depends on the length
SCORE_BLOCK = 8  # users scored together (``score``)
WALK_USERS = 16  # users whose walk is one product on ``backend="fast-blas"`` (``step_all``)


@njit_cached
def hash32(x):
    """``rng.hash32`` on one int64 in [0, 2**32) (products stay below 2**63)."""
    x = x & MASK32
    x ^= x >> 16
    x = (x * C1) & MASK32
    x ^= x >> 15
    x = (x * C2) & MASK32
    return x ^ (x >> 16)


@njit_cached
def uniforms(key, index_hash, n, out):
    """``rng.uniform(key, n)`` into ``out[:n]``: the same (2k + 1) / 2**24 grid, bit for bit."""
    for i in range(n):
        out[i] = float((hash32(key ^ index_hash[i]) >> 8) | 1) * TWO_M24


@njit_cached
def ndtri(p):
    """The standard normal quantile of ``p`` in (0, 1), float64 to ~1e-16 relative: Wichura's
    AS241 (1988), as Python's ``statistics.NormalDist.inv_cdf``. A rational function in the
    centre (85% of draws) and a log and a square root in the tails: a quarter of the cost of
    inverting the error function by a Newton step (``erf`` and ``exp`` per draw)."""
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        num = (((((((2.5090809287301226727e3 * r + 3.3430575583588128105e4) * r
                    + 6.7265770927008700853e4) * r + 4.5921953931549871457e4) * r
                  + 1.3731693765509461125e4) * r + 1.9715909503065514427e3) * r
                + 1.3314166789178437745e2) * r + 3.3871328727963666080e0) * q
        den = (((((((5.2264952788528545610e3 * r + 2.8729085735721942674e4) * r
                    + 3.9307895800092710610e4) * r + 2.1213794301586595867e4) * r
                  + 5.3941960214247511077e3) * r + 6.8718700749205790830e2) * r
                + 4.2313330701600911252e1) * r + 1.0)
        return num / den
    r = math.sqrt(-math.log(p if q <= 0.0 else 1.0 - p))
    if r <= 5.0:
        r -= 1.6
        num = (((((((7.74545014278341407640e-4 * r + 2.27238449892691845833e-2) * r
                    + 2.41780725177450611770e-1) * r + 1.27045825245236838258e0) * r
                  + 3.64784832476320460504e0) * r + 5.76949722146069140550e0) * r
                + 4.63033784615654529590e0) * r + 1.42343711074968357734e0)
        den = (((((((1.05075007164441684324e-9 * r + 5.47593808499534494600e-4) * r
                    + 1.51986665636164571966e-2) * r + 1.48103976427480074590e-1) * r
                  + 6.89767334985100004550e-1) * r + 1.67638483018380384940e0) * r
                + 2.05319162663775882187e0) * r + 1.0)
    else:
        r -= 5.0
        num = (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r
                    + 1.24266094738807843860e-3) * r + 2.65321895265761230930e-2) * r
                  + 2.96560571828504891230e-1) * r + 1.78482653991729133580e0) * r
                + 5.46378491116411436990e0) * r + 6.65790464350110377720e0)
        den = (((((((2.04426310338993978564e-15 * r + 1.42151175831644588870e-7) * r
                    + 1.84631831751005468180e-5) * r + 7.86869131145613259100e-4) * r
                  + 1.48753612908506148525e-2) * r + 1.36929880922735805310e-1) * r
                + 5.99832206555887937690e-1) * r + 1.0)
    x = num / den
    return -x if q < 0.0 else x


@njit_cached
def normal(u):
    """``rng.normal_from_uniforms`` of one uniform, rounded to float32 as the engine's are."""
    return np.float64(np.float32(ndtri(u)))


@njit_cached
def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


@njit_cached
def logistic(u):
    """Standard logistic noise from a uniform in (0, 1) (``response.logistic_noise``)."""
    return math.log(u) - math.log1p(-u)


@jit(fastmath=FAST_SUM)
def dot(a, b):
    """float32 inner product, vectorised: its summation order depends on the length only."""
    acc = np.float32(0.0)
    for i in range(a.shape[0]):
        acc += a[i] * b[i]
    return acc


@jit(fastmath=FAST_SUM)
def dot2(a, b, e):
    """(<a, e>, <b, e>) in one pass over ``e`` (float32, vectorised; order depends on length)."""
    x = np.float32(0.0)
    y = np.float32(0.0)
    for i in range(e.shape[0]):
        x += a[i] * e[i]
        y += b[i] * e[i]
    return x, y


@jit(fastmath=FAST_SUM)
def dot64(a, b):
    """float64 inner product of two rows, vectorised (its order depends on the length only)."""
    acc = 0.0
    for i in range(a.shape[0]):
        acc += np.float64(a[i]) * np.float64(b[i])
    return acc


@jit(fastmath=FAST_SUM)
def add_and_square(y, tau, x):
    """y += τ x (the trend; τ = 0 adds nothing), returning Σ y² (vectorised, as ``dot64``)."""
    acc = 0.0
    for i in range(y.shape[0]):
        v = y[i] + tau * x[i]
        y[i] = v
        acc += v * v
    return acc


@jit(fastmath=FAST_SUM)
def store_scaled(u, y, scale, u0):
    """u = float32(y · scale) (the renormalised interest), returning <u, u_0> in float64."""
    acc = 0.0
    for i in range(u.shape[0]):
        u[i] = y[i] * scale
        acc += np.float64(u[i]) * np.float64(u0[i])
    return acc


@jit(fastmath={"contract"})
def axpy(y, a, x):
    """y += a · x over one row (a vectorised loop of its own: the walk and the interest noise
    add r and k rows per user)."""
    for i in range(y.shape[0]):
        y[i] += a * x[i]


@jit(fastmath={"contract"})
def add_rows(y, coef, rows):
    """y += Σ_i coef[i] rows[i], four rows per pass over y (a quarter of the loads and stores of
    one ``axpy`` per row: the catalog-score updates of ``backend="fast-gram"``)."""
    n, r = y.shape[0], rows.shape[0]
    i = 0
    while i + 4 <= r:
        c0, c1, c2, c3 = coef[i], coef[i + 1], coef[i + 2], coef[i + 3]
        g0, g1, g2, g3 = rows[i], rows[i + 1], rows[i + 2], rows[i + 3]
        for m in range(n):
            y[m] += c0 * g0[m] + c1 * g1[m] + c2 * g2[m] + c3 * g3[m]
        i += 4
    while i < r:
        axpy(y, coef[i], rows[i])
        i += 1


@njit_cached
def twist(st, k):
    """Regenerate word ``k`` of the Mersenne Twister's state (its words k, k + 1, k + 397)."""
    y = (st[k] & 0x80000000) | (st[k + 1 if k < 623 else 0] & 0x7FFFFFFF)
    v = st[k + 397 if k < 227 else k - 227] ^ (y >> 1)
    if y & 1:
        v ^= 0x9908B0DF
    st[k] = v


@njit_cached
def randperm_prefix(seed, m, out, scratch, swaps):
    """``out[:n]`` = the first n entries of ``torch.randperm(m, generator=g)`` for ``g`` a CPU
    ``torch.Generator`` seeded with ``seed`` (< 2**32): the Mersenne Twister 19937 as torch seeds
    it, and the first n swaps of torch's Fisher-Yates (later swaps never move the first n
    entries). ``scratch`` (m,) holds arange(m) and is left so; ``swaps`` (n,) is workspace."""
    n = out.shape[0]
    # Each word is regenerated ("twisted") just before it is drawn, in order: twisting word k
    # reads words k + 1 (not yet twisted) and k + 397 mod 624 (twisted already iff k >= 227),
    # exactly what torch's whole in-place regeneration of 624 words reads, so the numbers are
    # the same and no word is twisted that is not drawn. Below 228 outputs, words past n + 397
    # are never read, so only those are seeded.
    st = np.empty(624, dtype=np.int64)
    st[0] = seed & MASK32
    for j in range(1, min(n + 397, 624)):
        prev = st[j - 1]
        st[j] = (1812433253 * (prev ^ (prev >> 30)) + j) & MASK32
    # The n tempered words first, then the swaps: two simple loops instead of one that
    # interleaves them run ~25% faster (docs/performance.md).
    for i in range(n):
        twist(st, i % 624)
        y = st[i % 624]
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        swaps[i] = y ^ (y >> 18)
    for i in range(n):
        z = i + swaps[i] % (m - i) if i < m - 1 else i
        swaps[i] = z
        t = scratch[z]
        scratch[z] = scratch[i]
        scratch[i] = t
        out[i] = t
    # Back to arange(m): only positions i and swaps[i] (i < n) were touched.
    for i in range(n):
        scratch[i] = i
        scratch[swaps[i]] = swaps[i]


@njit_cached
def arrive(rows, prefix_user, prefix_init, index_hash, pool_interests, noise_basis, par, ivec,
           fvec, u, s, u0, hist_ids, hist_resp, g_persona, g_noise, cu, cs):  # fmt: skip
    """New users in slots ``rows`` (generation already advanced): the user key of (slot,
    generation), then ``users.draw_new_users`` from that key's counter-based draws. On
    ``backend="fast-gram"`` (``cu`` has columns) also their catalog scores: cu = E u_0 from the
    persona's and the noise directions' score rows (``g_persona``, ``g_noise``), cs = E s = 0."""
    k, d = noise_basis.shape[0], u.shape[1]
    p = pool_interests.shape[0]
    draws = np.empty(k + 8)
    z = np.empty(k + 7)
    x = np.empty(d)
    coef = np.empty(k)  # the noise directions' coefficients, shared by x and E u_0
    scale = par[P_NOISE] / math.sqrt(k) if k else 0.0
    for b in rows:
        key = hash32(hash32(prefix_user ^ (b & MASK32)) ^ (ivec[b, I_GEN] & MASK32))
        ivec[b, I_KEY] = key
        uniforms(hash32(prefix_init ^ key), index_hash, k + 8, draws)
        for i in range(k + 7):
            z[i] = normal(draws[i])
        persona = min(int(draws[k + 7] * p), p - 1)
        # interest: normalise(persona's + noise in the top-k principal directions)
        for j in range(d):
            x[j] = pool_interests[persona, j]
        if scale > 0.0:
            for i in range(k):
                coef[i] = np.float64(np.float32(z[i] * scale))
                axpy(x, coef[i], noise_basis[i])
        norm = max(math.sqrt(dot64(x, x)), 1e-12)
        for j in range(d):
            u0[b, j] = x[j] / norm
            u[b, j] = u0[b, j]
            s[b, j] = 0.0
        if cu.shape[1]:
            # E u_0 = (E p + Σ_i c_i E n_i) / |x|: the same coefficients as x, applied to rows of
            # M catalog scores instead of d coordinates
            cub, csb, gp = cu[b], cs[b], g_persona[persona]
            for m in range(cub.shape[0]):
                cub[m] = gp[m]
            if scale > 0.0:
                add_rows(cub, coef, g_noise)
            inv = 1.0 / norm
            for m in range(cub.shape[0]):
                cub[m] *= inv
                csb[m] = 0.0
        # heterogeneity: mean-one lognormal factors (normals k..k+5, k+3 the additive no-click)
        for c, col in enumerate((F_BETA, F_DRIFT, F_BORED, F_PRICE, F_BUDGET)):
            sp = par[P_SPREAD + c]
            h = z[k + (c if c < 3 else c + 1)]
            fvec[b, col] = np.float32(math.exp(h * sp - 0.5 * sp * sp) * par[P_BASE + c])
        fvec[b, F_BUDGET] = min(fvec[b, F_BUDGET], par[P_BMAX])
        fvec[b, F_NOCLICK] = np.float32(par[P_NC_MEAN] + par[P_NC_STD] * z[k + 3])
        fvec[b, F_SATISF] = 0.0
        ivec[b, I_PERSONA] = persona
        ivec[b, I_STEPS] = 0
        ivec[b, I_DONE] = 0
        hist_ids[b, :] = -1
        hist_resp[b, :, :] = 0.0


@njit_cached
def step_key(prefix_step, ivec, b):
    """The key of user ``b``'s draws at its current step (``rng.py``'s step stream)."""
    return hash32(hash32(prefix_step ^ (ivec[b, I_KEY] & MASK32)) ^ (ivec[b, I_STEPS] & MASK32))


@jit(inline="always")  # inlined into the scoring loops (numba's IR), not a call per candidate
def candidate_utility(appeal, beta, bored, x, y, sat):
    """One candidate's utility (``utility``): v = γ a_j + β <u, e_j> − λ max(0, <s, e_j>), given
    γ a_j (``appeal``), x = <u, e_j>, y = <s, e_j> (read only with satiation on, ``sat``). The
    one formula the three ways of scoring share; they differ in how x and y are computed."""
    v = appeal + beta * x
    if sat:
        v -= bored * max(0.0, np.float64(y))
    return v


@njit_cached
def score(ids, emb, items, par, fvec, u, s, su, ss, util):
    """Utility of every candidate for every user (``utility``):
    v_j = γ a_j + β <u, e_j> − λ max(0, <s, e_j>); keeps the inner products for the step."""
    sat = par[P_SAT] > 0.0
    gamma = par[P_APPEAL]
    bsz = u.shape[0]
    # Blocks of SCORE_BLOCK users against every candidate: their rows stay in L1 while each
    # candidate's row is read once per block (not once per user). Each (user, candidate) value
    # is the same ``dot`` call whatever the blocking, so this changes speed, not numbers.
    for b0 in range(0, bsz, SCORE_BLOCK):
        for j in range(ids.shape[0]):
            e = emb[ids[j]]
            appeal = gamma * items[ids[j], 1]
            for b in range(b0, min(b0 + SCORE_BLOCK, bsz)):
                if sat:
                    x, y = dot2(u[b], s[b], e)
                    ss[b, j] = y
                else:
                    x, y = dot(u[b], e), np.float32(0.0)
                su[b, j] = x
                util[b, j] = candidate_utility(appeal, fvec[b, F_BETA], fvec[b, F_BORED], x, y,
                                               sat)  # fmt: skip


@njit_cached
def score_blas(ids, emb, items, par, fvec, u, s, su, ss, util, rows, pool, prod):
    """``score`` with the inner products from BLAS (``backend="fast-blas"``): today's candidate
    rows are gathered once into ``pool`` (N, d), then users go in blocks of R = len(rows) / 2,
    their u rows over their s rows in ``rows`` (2R, d), zero rows padding the last block, one
    (2R, d)·(d, N) product each into ``prod``. Every call has the same shape whatever B and a
    user always sits at row slot % R, so its numbers do not depend on B; they differ from
    ``score``'s in the last float32 bits (another summation order)."""
    sat = par[P_SAT] > 0.0
    gamma = par[P_APPEAL]
    n, bsz, r = ids.shape[0], u.shape[0], rows.shape[0] // 2
    appeal = np.empty(n)
    for j in range(n):
        pool[j, :] = emb[ids[j]]
        appeal[j] = gamma * items[ids[j], 1]
    for b0 in range(0, bsz, r):
        m = min(r, bsz - b0)
        for i in range(r):
            if i < m:
                rows[i, :] = u[b0 + i]
                rows[r + i, :] = s[b0 + i]
            else:
                rows[i, :] = 0.0
                rows[r + i, :] = 0.0
        np.dot(rows, pool.T, prod)
        for i in range(m):
            b = b0 + i
            for j in range(n):
                x, y = prod[i, j], prod[r + i, j]
                if sat:
                    ss[b, j] = y
                su[b, j] = x
                util[b, j] = candidate_utility(appeal[j], fvec[b, F_BETA], fvec[b, F_BORED], x,
                                               y, sat)  # fmt: skip


@njit_cached
def score_gram(ids, items, par, fvec, cu, cs, su, ss, util):
    """``score`` read from the users' catalog scores (``backend="fast-gram"``): <u, e_j> and
    <s, e_j> are entries of cu = E u and cs = E s, which ``step_all`` keeps up to date, so a pool
    costs N reads instead of N dot products of length d. Rounded to float32 as ``score``'s are."""
    sat = par[P_SAT] > 0.0
    gamma = par[P_APPEAL]
    for b in range(cu.shape[0]):
        for j in range(ids.shape[0]):
            i = ids[j]
            x = np.float32(cu[b, i])
            y = np.float32(cs[b, i]) if sat else np.float32(0.0)
            if sat:
                ss[b, j] = y
            su[b, j] = x
            util[b, j] = candidate_utility(gamma * items[i, 1], fvec[b, F_BETA],
                                           fvec[b, F_BORED], x, y, sat)  # fmt: skip


@njit_cached
def score_any(ids, emb, items, par, fvec, u, s, su, ss, util, rows, pool, prod, cu, cs):
    """``score_gram`` if the path keeps catalog scores (``cu`` has columns), ``score_blas`` if it
    has BLAS blocks (``rows`` not empty), else ``score``."""
    if cu.shape[1]:
        score_gram(ids, items, par, fvec, cu, cs, su, ss, util)
    elif rows.shape[0]:
        score_blas(ids, emb, items, par, fvec, u, s, su, ss, util, rows, pool, prod)
    else:
        score(ids, emb, items, par, fvec, u, s, su, ss, util)


@njit_cached
def step_all(slate, autoreset, pool_seed, trend_row, prefix_step, prefix_user, prefix_init,
             index_hash, emb, items, pool_interests, noise_basis, walk_basis, centroids,
             pos_eff, exam, par, ids, scratch, swaps, ivec, fvec, u, s, u0, su, ss, util,
             hist_ids, hist_resp, out, clicks, slate_util, fin_rows, fin_ints, fin_resp, rows,
             pool, prod, gram, g_walk, g_trend, g_persona, g_noise, cu, cs):
    """A whole env step in one call (one dispatch). Every user advances in place: choice,
    response, reward, drift and exogenous drift, satiation, budget and churn, history (the
    reference step's mechanisms, in its order; ``trend_row`` the current topic's centroid row or
    -1). Then the world draws the next pool (``pool_seed``); with ``autoreset``, users who left
    are saved to ``fin_*`` (slot; history ids, persona, steps; history responses: their last
    observation) and replaced; every user is scored against the new pool. Returns how many
    users left and were replaced. ``rows``, ``pool``, ``prod``: ``score_blas``' workspace (empty
    on ``backend="fast"``, which scores by ``score``). ``gram`` (M, M) = E Eᵀ, ``g_walk``,
    ``g_trend``, ``g_persona``, ``g_noise`` (the bases' rows times Eᵀ) and the users' catalog
    scores ``cu`` = E u, ``cs`` = E s: ``backend="fast-gram"``'s (no columns elsewhere); the
    drift and satiation updates are applied to them too, by the same coefficients."""
    trend = centroids[max(trend_row, 0)]
    bsz, kk = slate.shape
    d, r = u.shape[1], walk_basis.shape[0]
    model = int(par[P_CHOICE])
    tau = par[P_TAU]
    nc = 1 if model == 0 else kk
    walk = par[P_WALK] > 0.0 and r > 0
    sat = par[P_SAT] > 0.0
    trend_on = par[P_TREND] > 0.0 and trend_row >= 0
    nd = nc + 4 + (r if walk else 0)
    uni = np.empty(nd)
    sv = np.empty(kk)
    cum = np.empty(kk)
    raw = np.empty(kk, dtype=np.bool_)
    unew = np.empty(d)
    wz = np.empty(r)  # the walk's coefficients σ z_i
    keep = cu.shape[1] > 0  # fast-gram: E u and E s follow u and s
    hmax = hist_ids.shape[1]
    # fast-blas: the walk's Σ_i z_i σ U_i of R users at a time, one (R, r)·(r, d) float32 product
    # (zero rows pad the last block, so the shape and a user's row never depend on B).
    wr = WALK_USERS if walk and rows.shape[0] else 0
    wcoef = np.zeros((wr, r), dtype=np.float32)
    wvec = np.empty((wr, d), dtype=np.float32)
    wuni = np.empty((wr, nd))  # the block's uniforms, drawn once
    for b in range(bsz):
        if wr and b % wr == 0:
            for i in range(wr):
                if b + i < bsz:
                    uniforms(step_key(prefix_step, ivec, b + i), index_hash, nd, wuni[i])
                    for q in range(r):
                        wcoef[i, q] = np.float32(normal(wuni[i, nc + 4 + q]) * par[P_WALK + 1])
                else:
                    wcoef[i, :] = 0.0
            np.dot(wcoef, walk_basis, wvec)
        if wr:
            uni[:] = wuni[b % wr]
        else:
            uniforms(step_key(prefix_step, ivec, b), index_hash, nd, uni)
        v0 = fvec[b, F_NOCLICK]
        best_all = -np.inf
        for j in range(ids.shape[0]):
            best_all = max(best_all, np.float64(util[b, j]))
        best_slate = -np.inf
        for i in range(kk):
            sv[i] = np.float32(util[b, slate[b, i]] + pos_eff[i])
            slate_util[b, i] = sv[i]
            best_slate = max(best_slate, sv[i])
        # choice (choice.py): mnl by inverse CDF, cascade / independent by examination
        chosen = -1
        if model == 0:
            top = v0 / tau
            for i in range(kk):
                top = max(top, sv[i] / tau)
            total = 0.0
            for i in range(kk):
                total += math.exp(sv[i] / tau - top)
                cum[i] = total
            total += math.exp(v0 / tau - top)
            idx = 0
            for i in range(kk):
                if cum[i] < uni[0] * total:
                    idx += 1
            chosen = idx if idx < kk else -1
            for i in range(kk):
                clicks[b, i] = i == chosen
        else:
            best_v = -np.inf
            for i in range(kk):
                raw[i] = uni[i] < exam[i] * sigmoid((sv[i] - v0) / tau)
                if raw[i] and ((model == 1 and chosen < 0) or (model == 2 and sv[i] > best_v)):
                    best_v = sv[i]
                    chosen = i
            for i in range(kk):
                clicks[b, i] = raw[i] if model == 2 else i == chosen
        consumed = chosen >= 0
        pos = slate[b, chosen if consumed else 0]
        item = ids[pos]
        q, appeal, cost = items[item, 0], items[item, 1], items[item, 2]
        match = np.float64(su[b, pos])
        bored = max(0.0, np.float64(ss[b, pos])) if sat else 0.0
        top_bored = max(0.0, np.float64(ss[b, slate[b, 0]])) if sat else 0.0
        # response (response.py)
        f = sigmoid(par[P_CB] + par[P_CB + 1] * appeal + par[P_CB + 2] * q + par[P_CB + 3] * match
                    - par[P_CB + 4] * bored + par[P_CB + 5] * logistic(uni[nc]))  # fmt: skip
        rr = 1.0 + 4.0 * sigmoid(
            par[P_RB]
            + par[P_RB + 1] * q
            + par[P_RB + 2] * match
            - par[P_RB + 3] * bored
            + par[P_RB + 4] * logistic(uni[nc + 1])
        )
        rating = min(max(np.rint(rr), 1.0), 5.0) if consumed else 0.0
        purchased = False
        if par[P_PUR] > 0.0:
            logit = (
                par[P_PUR + 1]
                + par[P_PUR + 2] * q
                + par[P_PUR + 3] * match
                - fvec[b, F_PRICE] * math.log(max(cost, 1e-6) / par[P_PUR + 4])
            )
            purchased = consumed and uni[nc + 2] < sigmoid(logit)
            completion = 1.0 if purchased else 0.0
            engagement = completion
            revenue = completion * cost
        else:
            completion = f if consumed else 0.0
            engagement = completion * cost
            revenue = 0.0
        n_clicks = 0.0
        for i in range(kk):
            if clicks[b, i]:
                n_clicks += 1.0
        kind = int(par[P_REWARD])
        if kind == 0:
            reward = engagement
        elif kind == 1:
            reward = n_clicks
        elif kind == 2:
            reward = revenue
        elif kind == 3:
            reward = rating
        else:
            reward = (
                par[P_REWARD + 1] * engagement
                + par[P_REWARD + 2] * n_clicks
                + par[P_REWARD + 3] * revenue
                + par[P_REWARD + 4] * rating
            )
        # drift + exogenous (drift.py, exogenous.py): u <- normalise(u + a e + σ z U_r + τ c)
        a = 0.0
        if par[P_DRIFT] > 0.0 and consumed:
            a = fvec[b, F_DRIFT] * (rating - par[P_DRIFT + 1]) * 0.5
        e = emb[item]
        moved = a != 0.0 or walk or trend_on
        scale = 1.0
        if moved:
            if wr:
                w = wvec[b % wr]
                for j in range(d):
                    unew[j] = (u[b, j] + a * e[j]) + w[j]
            else:
                for j in range(d):
                    unew[j] = u[b, j] + a * e[j]
                if walk:
                    for i in range(r):
                        wz[i] = normal(uni[nc + 4 + i]) * par[P_WALK + 1]
                        axpy(unew, wz[i], walk_basis[i])
            strength = par[P_TREND + 1] if trend_on else 0.0
            scale = 1.0 / max(math.sqrt(add_and_square(unew, strength, trend)), 1e-12)
            if keep:  # E u <- (E u + a E e + Σ σ z_i E U_i + τ E c) · scale
                cub = cu[b]
                if a != 0.0:
                    axpy(cub, a, gram[item])
                if walk:
                    add_rows(cub, wz, g_walk)
                if trend_on:
                    axpy(cub, strength, g_trend[trend_row])
                for m in range(cub.shape[0]):
                    cub[m] *= scale
        # satiation (satiation.py): s <- decay s + rate e, |s_j| below the floor -> 0
        if sat:
            add = par[P_SAT + 2] if consumed else 0.0
            for j in range(d):
                sj = np.float32(par[P_SAT + 1] * s[b, j] + add * e[j])
                s[b, j] = sj if abs(sj) >= SAT_FLOOR else np.float32(0.0)
            if keep:  # E s <- decay E s + rate E e, with the same floor
                csb, g, consumed_row = cs[b], gram[item], add != 0.0
                for m in range(csb.shape[0]):
                    cm = par[P_SAT + 1] * csb[m]
                    if consumed_row:  # the Gram row is read (from the M × M table) only then
                        cm += add * g[m]
                    csb[m] = cm if abs(cm) >= SAT_FLOOR else 0.0
        # budget, running satisfaction, churn (budget.py)
        budget = fvec[b, F_BUDGET]
        if par[P_BUD] > 0.0:
            used = cost * completion if consumed else 0.0
            gain = par[P_BUD + 3] * max(q - par[P_BUD + 4], 0.0)
            budget = min(budget - par[P_BUD + 1] + used * (gain - par[P_BUD + 2]), par[P_BUD + 5])
        satisfaction = fvec[b, F_SATISF]
        if consumed:
            sm = par[P_HAZ + 4]
            satisfaction = sm * satisfaction + (1.0 - sm) * (rating - 3.0) * 0.5
        hazard = 0.0
        if par[P_HAZ] > 0.0:
            hazard = par[P_HAZ + 1] * sigmoid(par[P_HAZ + 3] * (par[P_HAZ + 2] - satisfaction))
        terminated = uni[nc + 3] < hazard or (par[P_BUD] > 0.0 and budget <= 0.0)
        steps = ivec[b, I_STEPS] + 1
        truncated = steps >= par[P_MAXSTEPS] and not terminated
        # history: the consumed item and its (completion, rating / 5) enter first
        if consumed and hmax > 0:
            for i in range(hmax - 1, 0, -1):
                hist_ids[b, i] = hist_ids[b, i - 1]
                hist_resp[b, i, 0] = hist_resp[b, i - 1, 0]
                hist_resp[b, i, 1] = hist_resp[b, i - 1, 1]
            hist_ids[b, 0] = item
            hist_resp[b, 0, 0] = completion
            hist_resp[b, 0, 1] = rating * 0.2
        fvec[b, F_BUDGET] = budget
        fvec[b, F_SATISF] = satisfaction
        ivec[b, I_STEPS] = steps
        ivec[b, I_DONE] = 1 if (terminated or truncated) else 0
        # the interest's new rows (after satiation, which reads e only) and cos(u, u_0) in one pass
        cos = store_scaled(u[b], unew, scale, u0[b]) if moved else dot64(u[b], u0[b])
        best = np.float64(np.float32(best_all + pos_eff[0]))
        o = out[b]
        o[O_REWARD] = reward
        o[O_TERM] = 1.0 if terminated else 0.0
        o[O_TRUNC] = 1.0 if truncated else 0.0
        o[O_CHOSEN] = chosen
        o[O_ITEM] = item if consumed else -1
        o[O_ENGAGE], o[O_COMPLETE], o[O_RATING] = engagement, completion, rating
        o[O_PURCHASED] = 1.0 if purchased else 0.0
        o[O_REVENUE] = revenue
        o[O_BEST], o[O_REGRET] = best, best - best_slate
        o[O_DRIFT] = cos
        o[O_BOREDOM] = bored if consumed else top_bored
        o[O_BUDGET], o[O_SATISF] = budget, satisfaction
    # the world advances: the next pool, arrivals in the slots of users who left, scores
    randperm_prefix(pool_seed, scratch.shape[0], ids, scratch, swaps)
    n_fin = 0
    if autoreset:
        h = hist_ids.shape[1]
        for b in range(bsz):
            if ivec[b, I_DONE]:
                fin_rows[n_fin] = b
                fin_ints[n_fin, :h] = hist_ids[b]
                fin_ints[n_fin, h] = ivec[b, I_PERSONA]
                fin_ints[n_fin, h + 1] = ivec[b, I_STEPS]
                fin_resp[n_fin] = hist_resp[b]
                ivec[b, I_GEN] += 1
                n_fin += 1
        if n_fin:
            arrive(fin_rows[:n_fin], prefix_user, prefix_init, index_hash, pool_interests,
                   noise_basis, par, ivec, fvec, u, s, u0, hist_ids, hist_resp, g_persona,
                   g_noise, cu, cs)  # fmt: skip
    score_any(ids, emb, items, par, fvec, u, s, su, ss, util, rows, pool, prod, cu, cs)
    return n_fin


@njit_cached
def slate_ok(slate, n):
    """Whether a (K,) int64 slate holds K distinct positions in [0, n): the common case, checked
    without numpy's per-call overhead (anything else goes to ``validation.validate_slate``,
    which raises the env's errors)."""
    k = slate.shape[0]
    for i in range(k):
        if slate[i] < 0 or slate[i] >= n:
            return False
        for j in range(i):
            if slate[j] == slate[i]:
                return False
    return True


@njit_cached
def slates_ok(slates, n):
    """``slate_ok`` for every row of a (B, K) int64 array."""
    for b in range(slates.shape[0]):
        if not slate_ok(slates[b], n):
            return False
    return True
