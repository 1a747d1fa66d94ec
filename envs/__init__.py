"""driftrec.envs."""
