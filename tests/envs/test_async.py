"""Gymnasium's async vector env over driftrec ids, with the platform's default start method.

Issue 29: ``gym.make_vec(id, num_envs=4, vectorization_mode="async")`` never returned on Linux:
the parent had run torch's OpenMP thread pool (building its first env does), the workers were
forked, and their first parallel torch operation waited forever at an OpenMP barrier. The run
happens in a subprocess with a timeout, so a regression fails instead of hanging the suite.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, multiprocessing, time
    import gymnasium as gym
    import numpy as np
    import torch

    # Start the parent's OpenMP pool, as any real parent has by the time it builds the workers.
    torch.set_num_threads(2)
    float(torch.ones(1 << 22).sum())

    import driftrec.envs
    from driftrec.encoders import load_encoder
    from driftrec.envs import Catalog

    topics = ["cooking recipe pasta", "football goal match", "space rocket orbit"]
    records = [
        {"id": f"i{i}", "title": f"{topics[i % 3]} {i}", "description": topics[i % 3],
         "category": topics[i % 3].split()[0], "quality": 0.5, "cost": 5.0, "popularity": 0.5}
        for i in range(3000)
    ]
    catalog = Catalog.from_records(records, encoder=load_encoder("hashing", dim=64), domain="x")
    start = time.perf_counter()
    env = gym.make_vec(
        "driftrec/Video-v0", num_envs=4, vectorization_mode="async", catalog=catalog,
        encoder="hashing", num_candidates=20, slate_size=3,
    )
    build_s = time.perf_counter() - start
    obs, _ = env.reset(seed=0)
    obs, reward, terminated, truncated, _ = env.step(np.tile(np.array([0, 1, 2]), (4, 1)))
    print(json.dumps({
        "build_s": build_s, "start_method": multiprocessing.get_start_method(),
        "steps": obs["step"].ravel().tolist(), "rewards_finite": bool(np.isfinite(reward).all()),
        "parent_threads": torch.get_num_threads(),
    }))
    env.close()
    """
)


TIMEOUT_S = 240  # the build takes seconds; a hang is what this catches


def run_script(script: str, cache_dir: str) -> tuple[int, str, str]:
    """Run ``script`` in a new session; on timeout kill its whole process group (a hung run
    leaves forked workers behind) and fail."""
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "DRIFTREC_CACHE_DIR": cache_dir}, start_new_session=True,
    ) as proc:  # fmt: skip
        try:
            out, err = proc.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail(f"async make_vec did not build, reset and step within {TIMEOUT_S} s")
    return proc.returncode, out, err


def test_async_make_vec_builds_resets_and_steps_with_the_default_start_method(tmp_path):
    code, out, err = run_script(SCRIPT, str(tmp_path))
    assert code == 0, err[-3000:]
    result = json.loads(out.strip().splitlines()[-1])
    assert result["steps"] == [1, 1, 1, 1]  # every worker stepped its user once
    assert result["rewards_finite"] is True
    assert result["parent_threads"] == 2  # only the forked workers drop to one thread
    print(f"async build: {result['build_s']:.1f} s ({result['start_method']})")
