"""bcoin→bcoin initial sync: the baseline the node's sync benchmark sets Pantheon against.

    python -m benchmarks.bcoin_sync [--blocks 5000] [--tx-every 10]

prints one run: a source bcoin 1.0.2 mines the chain (a wallet transaction in every
`tx-every`-th block once coinbases mature), a fresh bcoin (no wallet, not listening) dials it
and syncs; its time from the dial to the source's tip and its peak RSS (VmHWM) are the figures.

The node benchmark takes its bcoin tools from here, so both syncs use the same chain in the
same run: start a `BcoinNode`, `build_chain` on it, `sync_from(source, dir)` for bcoin's figures,
then let Pantheon sync from the same source. Not a `bench_` module (`python -m benchmarks`
does not run it): it needs bcoin in tests/bcoin and takes about a minute at 5,000 blocks.
Both bcoins keep their chain in memory (`--memory=true`: npm skips leveldown's native build),
which counts in their RSS.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))  # helpers.bcoin lives with the interop tests that use it most

from helpers.bcoin import BcoinNode, SyncResult, SyncRun, bcoin_sync_baseline, sync_from  # noqa: E402

__all__ = ["BcoinNode", "SyncResult", "SyncRun", "bcoin_sync_baseline", "sync_from"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bcoin_sync", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=5000, help="chain length (default 5000)")
    parser.add_argument("--tx-every", type=int, default=10, help="a wallet tx in every Nth block (default 10)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bcoin-sync-") as workdir:
        run = bcoin_sync_baseline(Path(workdir), args.blocks, args.tx_every)
    print(f"bcoin 1.0.2 -> bcoin 1.0.2 sync of {run.blocks:,} regtest blocks ({run.txs:,} wallet txs): "
          f"{run.sync_seconds:.2f} s ({run.blocks / run.sync_seconds:,.0f} blocks/s), "
          f"peak RSS {run.peak_rss_kib / 1024:.0f} MiB; chain built in {run.build_seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
