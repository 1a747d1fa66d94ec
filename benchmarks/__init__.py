"""driftrec.benchmarks."""
