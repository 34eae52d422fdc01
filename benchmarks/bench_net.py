"""Scale: one `NetworkManager` with thousands of loopback inbound peers.

The manager listens on 127.0.0.1 in this process with its inbound and total limits raised; a
second process (`benchmarks/net_clients.py`, gevent greenlets on raw sockets) opens the
connections and speaks the real handshake (version, verack) and answers pings. Both raise
RLIMIT_NOFILE to the hard limit; if it is too low for the count, the count is scaled down and
the row says so. Figures:
- handshakes/s: from the client's go to the manager's last verack, for all connections; the
  baseline is the same with a tenth of the connections, to show how it scales;
- RSS per connected peer: the manager process's RSS after all are connected and idle minus
  before they connected, divided by the count (target ≤ 20 KB); with `--plots`, the RSS growth
  against connected peers, sampled `RSS_SAMPLES` times as the handshakes complete;
- ping latency with every peer connected: `Peer.ping()` on all peers at once, p99 and p50 of
  the round trips the peers measured (Core's `ping` RPC does the same); then one peer pinged
  alone, 50 times in a row, while the others stay connected and idle (its p50);
- where a peer's bytes go: a round of `BREAKDOWN` peers under tracemalloc, the snapshot taken
  idle minus the one before they connected, per peer, by the source line that allocated
  (greenlet stacks are saved through Python's allocator, so they show at the line that
  switched). The known-inventory table is made on first inventory, so an idle peer has none;
  the bytes one `InventorySet(PeerConfig().known_inventory)` allocates are shown beside.
Each round is bounded (~2 minutes in all); the client process is killed in a finally block.

Measured on the 2-core dev machine (compiled twin, 5,000 peers): 2,370 handshakes/s, 16 KB RSS
per idle peer (276 KB before the table was made lazily and the handler became the reader),
p99 ping 421 ms with all 5,000 pinged at once, 0.14 ms for one peer alone. Of the 12.6 KB
traced per peer: the reader greenlet's saved stack 3.4 KB, the Greenlet object and its pool
entry 1.9 KB, the FrameDecoder 1.8 KB plus its own caps table 0.8 KB, the send deque 0.7 KB,
the Peer 0.35 KB, the peer's version message 0.2 KB. The other ~3.4 KB of RSS is untraced
C memory (libev's per-descriptor arrays) and allocator slack; socket buffers are kernel memory.
"""

from __future__ import annotations

import gc
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import gevent
import gevent.event
import gevent.subprocess

from benchmarks.common import Figure, Series
from pantheon import wire
from pantheon.net.manager import ManagerConfig, NetworkManager
from pantheon.net.peer import BUILTIN_HANDLERS, PeerConfig, PeerState

FULL = 5_000
QUICK = 500
ROUND_TIMEOUT = 35.0  # seconds for one round: connect, idle, ping
RSS_TARGET = 20 * 1024
CLIENTS = Path(__file__).with_name("net_clients.py")
FD_SPARE = 64  # descriptors besides the peers' (listener, pipes, libraries)
SINGLE_PINGS = 50
BREAKDOWN = 500  # peers in the tracemalloc round
BREAKDOWN_LINES = 8  # source lines shown
RSS_SAMPLES = 25  # points of the RSS-against-peers curve
BACKLOG = 4096  # the listener's backlog (the kernel caps it at net.core.somaxconn)


def _raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _allocated(make) -> int:
    """Bytes allocated (through Python's allocators) by one `make()`."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = make()  # noqa: F841 (alive while measured)
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Round:
    """One manager, `count` client connections: what was measured."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.connected = 0
        self.seconds = float("nan")
        self.rss_per_peer = float("nan")
        self.pings: list[float] = []
        self.single: list[float] = []  # one peer pinged alone, the others idle
        self.rss_before = 0
        self.rss_curve: list[tuple[float, float]] = []  # (peers connected, MiB above rss_before)
        self.traced: list[tracemalloc.StatisticDiff] = []  # with trace=True: by source line
        self.note = ""

    @property
    def handshakes_per_second(self) -> float:
        return self.connected / self.seconds if self.connected else 0.0


def _round(count: int, measure: bool, trace: bool = False) -> Round:
    result = Round(count)
    all_connected = gevent.event.Event()

    def on_verack(peer, frame) -> None:  # the built-in, and a count of completed handshakes
        BUILTIN_HANDLERS["verack"](peer, frame)
        if peer.state is PeerState.CONNECTED:
            result.connected += 1
            if measure and result.connected % max(count // RSS_SAMPLES, 1) == 0:
                result.rss_curve.append((result.connected, (_rss() - result.rss_before) / 2**20))
            if result.connected >= count:
                all_connected.set()

    config = ManagerConfig(
        listen=("127.0.0.1", 0), max_inbound=count, max_connections=count + 8, backlog=BACKLOG
    )
    manager = NetworkManager(config, handlers={"verack": on_verack})
    client = None
    deadline = time.monotonic() + ROUND_TIMEOUT
    try:
        manager.start()
        host, port = manager.address
        client = gevent.subprocess.Popen(
            [sys.executable, str(CLIENTS), host, str(port), str(count)],
            stdin=gevent.subprocess.PIPE, stdout=gevent.subprocess.PIPE, text=True,
        )
        ready = client.stdout.readline().split()
        if not ready or ready[0] != "ready":
            raise RuntimeError(f"client process did not start: {ready}")
        gc.collect()
        gevent.sleep(0.2)
        if trace:
            tracemalloc.start()
            traced_before = tracemalloc.take_snapshot()
        rss_before = result.rss_before = _rss()
        started = time.monotonic()
        client.stdin.write("go\n")
        client.stdin.flush()
        all_connected.wait(max(deadline - time.monotonic(), 0))
        result.seconds = time.monotonic() - started
        if result.connected < count:
            result.note = f"only {result.connected} of {count} connected"
            return result
        if not measure:
            return result
        # Idle: let the first pings (sent as each handshake ends) and their pongs settle.
        gevent.sleep(1.0)
        gc.collect()
        result.rss_per_peer = (_rss() - rss_before) / count
        if trace:
            result.traced = tracemalloc.take_snapshot().compare_to(traced_before, "lineno")
            return result
        peers = manager.peers(PeerState.CONNECTED)
        for peer in peers:
            peer.ping_time = None
        pinged = [peer for peer in peers if peer.ping()]
        while time.monotonic() < deadline:
            if all(peer.ping_time is not None for peer in pinged):
                break
            gevent.sleep(0.01)
        result.pings = [peer.ping_time for peer in pinged if peer.ping_time is not None]
        if len(result.pings) < count:
            result.note = f"{len(result.pings)} of {count} pongs ({len(pinged)} pinged) in time"
            return result
        one = peers[len(peers) // 2]
        for _ in range(SINGLE_PINGS):
            one.ping_time = None
            if not one.ping():
                break
            while one.ping_time is None and time.monotonic() < deadline:
                gevent.sleep(0.001)
            if one.ping_time is not None:
                result.single.append(one.ping_time)
        return result
    finally:
        tracemalloc.stop()
        if client is not None:
            client.kill()
            client.wait(timeout=5)
        manager.stop(timeout=5)


def run(quick: bool) -> list[Figure | Series]:
    wanted = QUICK if quick else FULL
    limit = _raise_fd_limit()
    count = min(wanted, max(limit - FD_SPARE, 0))
    scaled = "" if count == wanted else f" (scaled down from {wanted}: RLIMIT_NOFILE hard limit {limit})"
    small = _round(max(count // 10, 1), measure=False)
    main = _round(count, measure=True)
    traced = _round(min(count, BREAKDOWN), measure=True, trace=True)
    table = _allocated(lambda: wire.InventorySet(PeerConfig().known_inventory))
    label = f"{count:,} loopback peers{scaled}"
    note = f" ({main.note})" if main.note else ""
    figures: list[Figure | Series] = [
        Series("rss_by_peers", "One NetworkManager: RSS as loopback peers connect", "RSS above the idle manager",
               "peers connected", "MiB", ((0, 0.0), *main.rss_curve)),
        Figure(
            f"handshakes/s, {label}{note}", main.handshakes_per_second, "handshakes/s", "report",
            main.connected == count, f"{small.count:,} peers", small.handshakes_per_second,
        ),
        Figure(
            f"RSS per connected peer, {label}", main.rss_per_peer / 1024, "KB", "<= 20 KB",
            main.rss_per_peer <= RSS_TARGET,
        ),
        Figure(
            f"  traced by Python's allocators, {traced.count:,} idle peers",
            sum(stat.size_diff for stat in traced.traced) / traced.count / 1024, "KB", "report", True,
        ),
    ]
    for stat in traced.traced[:BREAKDOWN_LINES]:
        frame = stat.traceback[0]
        figures.append(Figure(
            f"    {Path(frame.filename).name}:{frame.lineno}", stat.size_diff / traced.count / 1024, "KB",
            "report", True, "blocks/peer", stat.count_diff / traced.count,
        ))
    figures.append(Figure(
        f"  a known-inventory table once inventory arrives ({PeerConfig().known_inventory:,} entries)",
        table / 1024, "KB", "report", True,
    ))
    if main.pings:
        figures.append(Figure(
            f"ping all peers: p99 round trip, {label}{note}", _percentile(main.pings, 0.99) * 1000, "ms",
            "report", len(main.pings) == count, "p50", _percentile(main.pings, 0.50) * 1000,
        ))
    if main.single:
        figures.append(Figure(
            f"one peer's ping, the others idle: p50 of {len(main.single)}, {label}",
            _percentile(main.single, 0.50) * 1000, "ms", "report", True,
        ))
    return figures
