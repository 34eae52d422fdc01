"""Initial sync against bcoin: one bcoin 1.0.2 mines 5,000 regtest blocks (1,000 with
--quick) with a wallet transaction in every 10th once coinbases mature; then, in the same run and
from the same source, a fresh bcoin and a fresh Pantheon each sync the whole chain.

Each syncer is its own process, timed from its dial to the source's tip, with its peak RSS
(VmHWM) when done, and (for `--plots`) its height sampled over time on the same clock. Pantheon
runs as `pantheon-gevent` would (compiled twin when built, its process's allocator and garbage
collector tuned as `pantheon-gevent` tunes them, LevelDB datadir, scripts verified by Core's
interpreter with 2 worker processes, whose memory is not in its RSS), with bcoin's regtest
activation heights (`--testactivationheight`). bcoin keeps its chain in memory (`--memory=true`),
which counts in its RSS. Needs bcoin in tests/bcoin.

    python -m benchmarks sync [--quick]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from benchmarks.common import Figure, Series

BLOCKS, QUICK_BLOCKS = 5_000, 1_000
TX_EVERY = 10


def run(quick: bool) -> list[Figure | Series]:
    from benchmarks.bcoin_sync import BcoinNode, sync_from
    from helpers.bcoin import BCOIN

    if not BCOIN.exists():
        return [Figure("sync vs bcoin (bcoin not installed: npm ci --prefix tests/bcoin)", 0, "s", "run", False)]
    blocks = QUICK_BLOCKS if quick else BLOCKS
    with tempfile.TemporaryDirectory(prefix="pantheon-bench-sync-") as work:
        workdir = Path(work)
        source = BcoinNode(workdir / "source").start()
        try:
            chain = source.build_chain(blocks, tx_every=TX_EVERY)
            bcoin_curve: list[tuple[float, int]] = []
            bcoin_seconds, bcoin_rss, _ = sync_from(source, workdir / "bcoin-syncer", curve=bcoin_curve)
            ours = pantheon_sync(workdir / "pantheon", source.p2p_port, chain.tip)
        finally:
            source.stop()
    label = f"{blocks:,} blocks, {len(chain.txids):,} txs"
    return [
        Figure(f"sync {label}: Pantheon", ours["seconds"], "s", "< bcoin's time", ours["seconds"] < bcoin_seconds,
               "bcoin", bcoin_seconds),
        Figure("sync rate: Pantheon", blocks / ours["seconds"], "blocks/s", "> bcoin's", ours["seconds"] < bcoin_seconds,
               "bcoin", blocks / bcoin_seconds),
        Figure("sync peak RSS: Pantheon", ours["peak_rss_kib"] / 1024, "MiB", "reported", True,
               "bcoin", bcoin_rss / 1024),
        *(Series("sync_curve", f"Initial sync of {label} from one bcoin 1.0.2", name, "seconds since the dial",
                 "height", tuple(map(tuple, curve)))
          for name, curve in (("Pantheon", ours["curve"]), ("bcoin 1.0.2", bcoin_curve))),
    ]


def pantheon_sync(datadir: Path, port: int, tip: str, node_args: Sequence[str] = ()) -> dict[str, Any]:
    """A fresh Pantheon (its own process, `node_args` added to its options) syncing from the
    peer at `port` until its tip is `tip`: seconds, peak RSS (KiB), CPU seconds from the dial
    to the tip (its script workers' included, as bcoin's are) and of its own process alone, the
    machine's core-seconds left idle meanwhile (None without /proc/stat), whether scripts were
    verified, how many blocks' scripts -assumevalid skipped, the height curve."""
    output = subprocess.run([sys.executable, "-m", "benchmarks.bench_sync", str(datadir), str(port), tip, *node_args],
                            check=True, capture_output=True, text=True, timeout=3600).stdout
    return json.loads(output.strip().splitlines()[-1])


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _idle_core_seconds() -> float | None:
    """Core-seconds every CPU of the machine has spent idle (or waiting on I/O) since boot."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except FileNotFoundError:
        return None
    return (int(fields[4]) + int(fields[5])) / os.sysconf("SC_CLK_TCK")  # idle, iowait


def _child(datadir: str, port: str, tip: str, *node_args: str) -> None:
    """In the syncing process: start a node with no peers, then dial the source and time the sync."""
    import gevent

    import benchmarks.bcoin_sync  # noqa: F401 (puts tests/ on the path for helpers.bcoin)
    from helpers.bcoin import BCOIN_RULE_ARGS, tree_cpu_seconds
    from pantheon.allocator import keep_freed_memory
    from pantheon.collector import collect_less_often
    from pantheon.config import load_config
    from pantheon.hashing import hash_to_hex
    from pantheon.node import Node

    args = ["--datadir", datadir, "--network", "regtest", "--port", "0", "--bind", "127.0.0.1", "--server", "0",
            "--dnsseed", "0", "--listen", "0", "--loglevel", "warning", *BCOIN_RULE_ARGS, *node_args]
    keep_freed_memory()  # the process tuned as pantheon-gevent tunes its own
    node = Node(load_config(args)).start()
    collect_less_often()
    curve = []
    try:
        started = time.perf_counter()
        cpu_at_dial = _cpu_seconds(resource.RUSAGE_SELF)
        tree_cpu_at_dial = tree_cpu_seconds(os.getpid())
        idle_at_dial = _idle_core_seconds()
        node.add_peer("127.0.0.1", int(port))
        while hash_to_hex(node.chain.tip) != tip:
            curve.append((time.perf_counter() - started, node.chain.height))
            gevent.sleep(0.01)
        curve.append((time.perf_counter() - started, node.chain.height))
        seconds = time.perf_counter() - started
        # At the tip, as bcoin's are read: the flush when the node stops is not the sync's.
        main_cpu = _cpu_seconds(resource.RUSAGE_SELF) - cpu_at_dial
        cpu = tree_cpu_seconds(os.getpid()) - tree_cpu_at_dial
        idle_now = _idle_core_seconds()
        idle = None if idle_now is None or idle_at_dial is None else idle_now - idle_at_dial
        scripts = node.chain.scripts_verified
        skipped = node.scripts.skipped if node.scripts is not None else 0
    finally:
        node.stop()
    peak = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith("VmHWM:"))
    print(json.dumps({"seconds": seconds, "peak_rss_kib": peak, "cpu_seconds": cpu, "main_cpu_seconds": main_cpu,
                      "idle_core_seconds": idle, "scripts_verified": scripts,
                      "assumevalid_skipped": skipped, "curve": curve}))


if __name__ == "__main__":
    _child(*sys.argv[1:])
