import numpy as np
import pytest
from driftrec.envs import DriftRecEnv, UserPool


def test_given_user_pool_sets_initial_interest_and_profile(catalog):
    d = catalog.embeddings.shape[1]
    target = catalog.embeddings[:4]
    pool = UserPool(interests=target, profiles=target * 0.5)
    env = DriftRecEnv(
        catalog=catalog, user_pool=pool, encoder="hashing", num_candidates=20, slate_size=3,
        heterogeneity_enabled=False,
    )  # fmt: skip
    obs, _ = env.reset(seed=0)
    st = env.engine.state
    p = int(st.persona[0])
    assert np.allclose(st.interest[0].numpy(), target[p], atol=1e-6)
    assert np.allclose(obs["profile_embedding"], target[p] * 0.5)
    assert obs["profile_embedding"].shape == (d,)


def test_user_pool_validation():
    with pytest.raises(ValueError, match=r"UserPool.profiles must be \(P, d_p\) with P=2"):
        UserPool(interests=np.ones((2, 4)), profiles=np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"zero row"):
        UserPool(interests=np.zeros((2, 4)), profiles=np.ones((2, 4)))


def test_user_pool_of_wrong_dimension_is_rejected(catalog):
    pool = UserPool(interests=np.ones((2, 5)), profiles=np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"user_pool.interests has dim 5; expected .* 64"):
        DriftRecEnv(catalog=catalog, user_pool=pool, encoder="hashing")


def test_persona_pool_is_used_for_builtin_domains(catalog):
    env = DriftRecEnv(catalog=catalog, encoder="hashing", num_candidates=20, slate_size=3)
    assert env.engine.user_pool.texts is not None
    assert len(env.engine.user_pool) == 256
