"""For benchmarks/bcoin_sync.py and bench_sync.py, which import helpers.bcoin's names by this name."""

from helpers.bcoin import BCOIN, BcoinNode, SyncRun, bcoin_sync_baseline, sync_from  # noqa: F401
