"""For benchmarks/bench_chain.py, which imports `mine` by this name: helpers.chain's `block_on`."""

from helpers.chain import block_on as mine  # noqa: F401
