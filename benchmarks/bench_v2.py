"""BIP324 v2 against v1, on loopback, in the same run: two `NetworkManager`s in this process,
one listening and one dialing, both with -v2transport on (v2) or both off (v1), everything
else equal. Rows (v2's figure, v1's as the baseline):
  - small messages/s: the dialer sends pings (32 bytes on v1, 29 on v2) in batches of `BATCH`
    and the listener answers each with a pong (the built-in handler); both ways are counted,
    from the first ping queued to the last pong read. Target: v2 costs at most 1.5x v1 per
    message, so its rate is at least 1/1.5 of v1's;
  - MB/s of blocks: 1 MB `block` payloads (random bytes: the managers frame and count them,
    no node validates them), at most `BLOCK_WINDOW` in flight. Target: at most 1.2x per MB.
    Beside it, the minor page faults per MB in the best round: v2 makes two more 1 MB
    temporaries per block than v1 (a plaintext to seal, a packet to open), which glibc's default
    thresholds hand back to the kernel at each free and fault in again (~900 faults/MB, and v2
    at 0.75x v1); this process first tunes the allocator as `pantheon-gevent` does at start
    (`pantheon/allocator.py`), so the figure is the node's;
  - handshake: from `add_peer` to the dialer's verack (TCP connect, version and verack, and on
    v2 the key exchange, garbage and version packets), the median of `HANDSHAKES`. Reported.
Each throughput figure is the best of `REPEAT` rounds, v1 and v2 taking turns, so a burst of
load on the machine hurts both alike. Both ends share one gevent hub and one core: a figure is
the whole cost of a message, its sending and its reading.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from typing import Callable, TypeVar

import gevent
import gevent.event

from benchmarks.common import Figure
from pantheon import params
from pantheon.allocator import keep_freed_memory
from pantheon.frames import Frame
from pantheon.net.manager import ManagerConfig, NetworkManager
from pantheon.net.peer import Peer, PeerConfig, PeerState

BATCH = 500  # pings queued at once: well under the send queue's pause
SMALL = {False: 20_000, True: 4_000}  # pings per round, by --quick
BLOCK = os.urandom(1_000_000)
BLOCK_WINDOW = 3  # blocks in flight: their bytes stay under the send limit (1 MB + the largest message)
BLOCKS = {False: 100, True: 12}
HANDSHAKES = {False: 40, True: 10}
REPEAT = {False: 7, True: 1}
SMALL_TARGET = 1.5
BLOCK_TARGET = 1.2
TIMEOUT = 60.0
Result = TypeVar("Result", float, tuple[float, float])


class _Counter:
    """Messages of one command read by a manager's peers; `wait_for(n)` until n have arrived."""

    def __init__(self) -> None:
        self.count = 0
        self._target = 0
        self._reached = gevent.event.Event()

    def handler(self, peer: Peer, frame: Frame) -> None:
        self.count += 1
        if self.count >= self._target:
            self._reached.set()

    def wait_for(self, target: int) -> None:
        self._target = target
        if self.count < target:
            self._reached.clear()
            if not self._reached.wait(TIMEOUT):
                raise RuntimeError(f"only {self.count} of {target} messages arrived in {TIMEOUT} s")


class _Pair:
    """A listener and a dialer, both speaking v2 or both v1."""

    def __init__(self, v2: bool) -> None:
        peer = PeerConfig(network=params.REGTEST, v2transport=v2)
        self.pongs = _Counter()
        self.blocks = _Counter()
        self.listener = NetworkManager(ManagerConfig(peer=peer, listen=("127.0.0.1", 0)),
                                       handlers={"block": self.blocks.handler}).start()
        self.dialer = NetworkManager(ManagerConfig(peer=peer, max_manual=HANDSHAKES[False] + 1),
                                     handlers={"pong": self.pongs.handler}).start()
        self.v2 = v2

    def connect(self) -> tuple[Peer, float]:
        """A new connection, handshake done; with the seconds from dialing to the verack."""
        started = time.perf_counter()
        peer = self.dialer.add_peer(*self.listener.address)
        assert peer is not None
        deadline = time.monotonic() + TIMEOUT
        while peer.state is not PeerState.CONNECTED:
            if time.monotonic() > deadline or peer.state is PeerState.DISCONNECTED:
                raise RuntimeError(f"handshake failed: {peer.state}")
            gevent.sleep(0.0005)
        elapsed = time.perf_counter() - started
        assert peer.transport_protocol == ("v2" if self.v2 else "v1")
        return peer, elapsed

    def stop(self) -> None:
        self.dialer.stop(timeout=5)
        self.listener.stop(timeout=5)


def _small_rate(pair: _Pair, peer: Peer, count: int) -> float:
    """Messages per second (pings and pongs) over `peer`."""
    gevent.sleep(0.2)  # the handshake's own ping and pong, and the post-verack messages, settle
    nonce = (1).to_bytes(8, "little")
    started = time.perf_counter()
    sent = 0
    while sent < count:
        batch = min(BATCH, count - sent)
        target = pair.pongs.count + batch
        for _ in range(batch):
            peer.send("ping", nonce)
        pair.pongs.wait_for(target)
        sent += batch
    return 2 * count / (time.perf_counter() - started)


def _block_rate(pair: _Pair, peer: Peer, count: int) -> tuple[float, float]:
    """MB per second of 1 MB `block` messages over `peer`, and this process's minor page faults
    per MB meanwhile (memory the allocator took back from the kernel and touched again)."""
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    started = time.perf_counter()
    first = pair.blocks.count
    for sent in range(count):
        pair.blocks.wait_for(first + max(sent + 1 - BLOCK_WINDOW, 0))
        peer.send("block", BLOCK)
    pair.blocks.wait_for(first + count)
    megabytes = count * len(BLOCK) / 1e6
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    return megabytes / (time.perf_counter() - started), faults / megabytes


def _best(measure: Callable[[_Pair, Peer], Result], pairs: dict[bool, tuple[_Pair, Peer]], repeat: int) -> dict[bool, Result]:
    """The best of `repeat` rounds each (the highest rate, with what it came with), v1 and v2
    taking turns."""
    results: dict[bool, list[Result]] = {False: [], True: []}
    for _ in range(repeat):
        for v2 in (False, True):
            results[v2].append(measure(*pairs[v2]))
    return {v2: max(found) for v2, found in results.items()}


def run(quick: bool) -> list[Figure]:
    keep_freed_memory()  # as pantheon-gevent does before its node starts
    pairs: dict[bool, _Pair] = {}
    try:
        handshakes: dict[bool, list[float]] = {False: [], True: []}
        for v2 in (False, True):
            pairs[v2] = _Pair(v2)
        for _ in range(HANDSHAKES[quick]):
            for v2 in (False, True):
                peer, seconds = pairs[v2].connect()
                handshakes[v2].append(seconds)
                peer.close("benchmark: next handshake")
        connected = {v2: (pair, pair.connect()[0]) for v2, pair in pairs.items()}
        small = _best(lambda pair, peer: _small_rate(pair, peer, SMALL[quick]), connected, REPEAT[quick])
        blocks = _best(lambda pair, peer: _block_rate(pair, peer, BLOCKS[quick]), connected, REPEAT[quick])
    finally:
        for pair in pairs.values():
            pair.stop()
    median = {v2: statistics.median(times) * 1000 for v2, times in handshakes.items()}
    return [
        Figure("v2 small messages (ping/pong) over loopback", small[True], "msgs/s",
               f"v1/v2 <= {SMALL_TARGET}x", small[False] / small[True] <= SMALL_TARGET, "v1", small[False]),
        Figure("v2 1 MB block messages over loopback", blocks[True][0], "MB/s",
               f"v1/v2 <= {BLOCK_TARGET}x", blocks[False][0] / blocks[True][0] <= BLOCK_TARGET, "v1", blocks[False][0]),
        Figure("  minor page faults per MB in that round", blocks[True][1], "faults/MB", "report", True,
               "v1", blocks[False][1]),
        Figure(f"v2 handshake (connect to verack), median of {HANDSHAKES[quick]}", median[True], "ms",
               "report", True, "v1", median[False]),
    ]
