"""driftrec.agents."""
