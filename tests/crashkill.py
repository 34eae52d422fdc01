"""For benchmarks/bench_chain.py, which imports `kill_cycles` by this name from tests/."""

from helpers.crashkill import kill_cycles  # noqa: F401
