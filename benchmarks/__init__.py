"""Pantheon's benchmarks: `python -m benchmarks` prints every figure beside a baseline measured in
the same run. Performance targets live here, never in timed unit tests."""
