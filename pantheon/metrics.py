"""Prometheus metrics for a node (`--metrics-port`), in the exposition format prometheus_client
writes, on a gevent WSGI server of its own.

Counters that must survive peers coming and going (messages and bytes by command and direction,
misbehaviour by reason, blocks connected, their connect time) are updated as the node's events
(`node.events`) arrive;
everything that is a state (peers by direction and state, bans, sync height and target, mempool
size and bytes) is read from the node when scraped, by a custom collector, so it can never drift
from the truth. Each node has its own registry: two nodes in one process (tests, embedding) do not
share series.
"""

from __future__ import annotations

import logging
import re
from collections import Counter as Tally
from typing import TYPE_CHECKING, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pantheon.httpserver import HttpServer
from pantheon.net.peer import Peer, PeerState, Transition

if TYPE_CHECKING:
    from pantheon.node import Node

__all__ = ["NodeMetrics", "reason_label"]

log = logging.getLogger("pantheon.metrics")
SCRAPERS = 8  # scrapes served at once
_VARYING = re.compile(r"[0-9a-fA-F]{16,}|\d+")


def reason_label(reason: str) -> str:
    """A misbehaviour reason without what varies (hashes, numbers), so the label set stays small:
    "misbehaving: invalid block 00ab..: bad-cb-amount" -> "invalid block"."""
    text = _VARYING.sub("", reason.removeprefix("misbehaving: ")).split(":")[0]
    return " ".join(text.split()) or "unspecified"


class NodeMetrics(Collector):
    """A node's metrics: attach with `NodeMetrics(node)`, serve with `serve(host, port)`."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.registry = CollectorRegistry(auto_describe=True)
        self.messages = Counter("pantheon_messages", "P2P messages by direction and command",
                                ["direction", "command"], registry=self.registry)
        self.bytes = Counter("pantheon_bytes", "P2P bytes (header included) by direction and command",
                             ["direction", "command"], registry=self.registry)
        self.misbehaviour = Counter("pantheon_misbehaviour", "Peers disconnected for misbehaving, by reason",
                                    ["reason"], registry=self.registry)
        self.disconnects = Counter("pantheon_disconnects", "Peers disconnected, misbehaving or not",
                                   ["direction"], registry=self.registry)
        self.blocks_connected = Counter("pantheon_blocks_connected", "Blocks connected to the chain",
                                        registry=self.registry)
        self.connect_seconds = Histogram("pantheon_block_connect_seconds", "Time to check and connect a block",
                                         registry=self.registry,
                                         buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.blocks_received = Counter("pantheon_blocks_received", "New blocks received from peers, by how "
                                       "(compact: rebuilt from a BIP152 cmpctblock; full: a block message)",
                                       ["how"], registry=self.registry)
        self.compact_missing = Histogram("pantheon_compact_block_missing_transactions",
                                         "Transactions asked for (getblocktxn) per block rebuilt from a cmpctblock",
                                         registry=self.registry, buckets=(0, 1, 2, 5, 10, 20, 50, 100, 500, 1000))
        self.compact_bytes_saved = Counter("pantheon_compact_block_bytes_saved",
                                           "Block bytes not sent thanks to compact blocks (block size less the "
                                           "cmpctblock and blocktxn payloads)", registry=self.registry)
        self.registry.register(self)
        events = node.events
        self._unsubscribe = [
            events.message.subscribe(self._traffic),
            events.peer_changed.subscribe(self._peer_changed),
            events.block_connected.subscribe(lambda block, height: self.blocks_connected.inc()),
            events.block_processed.subscribe(self.connect_seconds.observe),
            events.block_received.subscribe(self._block_received),
        ]
        self._server: HttpServer | None = None

    def _traffic(self, direction: str, command: str, size: int) -> None:
        self.messages.labels(direction, command).inc()
        self.bytes.labels(direction, command).inc(size)

    def _block_received(self, how: str, missing: int, saved: int) -> None:
        self.blocks_received.labels(how).inc()
        if how == "compact":
            self.compact_missing.observe(missing)
            self.compact_bytes_saved.inc(max(saved, 0))

    def _peer_changed(self, peer: Peer, transition: Transition) -> None:
        if transition.new is PeerState.BANNED:
            self.misbehaviour.labels(reason_label(transition.reason)).inc()
        if transition.new in (PeerState.DISCONNECTED, PeerState.BANNED):
            self.disconnects.labels("inbound" if peer.inbound else "outbound").inc()

    def describe(self) -> Iterator[Metric]:
        return iter(())  # the collected families vary with the node's state: nothing to pre-declare

    def collect(self) -> Iterator[Metric]:
        node = self.node
        peers = GaugeMetricFamily("pantheon_peers", "Open peer connections by direction and state",
                                  labels=["direction", "state"])
        tally: Tally[tuple[str, str]] = Tally(
            ("inbound" if peer.inbound else "outbound", peer.state.value) for peer in node.peers())
        for direction in ("inbound", "outbound"):
            for state in (PeerState.CONNECTING, PeerState.HANDSHAKE, PeerState.CONNECTED):
                peers.add_metric([direction, state.value], tally[(direction, state.value)])
        yield peers
        transports = GaugeMetricFamily("pantheon_peers_by_transport",
                                       "Open peer connections by transport (v1, v2 = BIP324, detecting)",
                                       labels=["transport"])
        by_transport: Tally[str] = Tally(peer.transport_protocol for peer in node.peers())
        for transport in ("v1", "v2", "detecting"):
            transports.add_metric([transport], by_transport[transport])
        yield transports
        yield GaugeMetricFamily("pantheon_bans", "Addresses and subnets banned", value=len(node.bans()))
        yield GaugeMetricFamily("pantheon_discouraged", "Addresses discouraged (in memory)",
                                value=node.discouraged_count)
        status = node.sync_status()
        yield GaugeMetricFamily("pantheon_sync_height", "Height of the connected chain", value=status.height)
        yield GaugeMetricFamily("pantheon_sync_target", "Best height known from headers and peers",
                                value=status.target)
        yield GaugeMetricFamily("pantheon_headers_height", "Height of the best header", value=status.headers)
        yield GaugeMetricFamily("pantheon_blocks_in_flight", "Blocks requested and not yet received",
                                value=node.blocks_in_flight())
        info = node.mempool.info()
        yield GaugeMetricFamily("pantheon_mempool_transactions", "Transactions in the mempool", value=info.size)
        yield GaugeMetricFamily("pantheon_mempool_bytes", "Virtual size of the mempool's transactions",
                                value=info.bytes)
        yield GaugeMetricFamily("pantheon_mempool_usage_bytes", "Estimated memory the mempool uses",
                                value=info.usage)

    def serve(self, host: str, port: int) -> tuple[str, int]:
        """Serve `/metrics` (any path, as prometheus_client's app does); returns the address."""
        self._server = HttpServer(make_wsgi_app(self.registry), host, port, connections=SCRAPERS, log=log)
        address = self._server.start()
        log.info("metrics on http://%s:%d/metrics", *address)
        return address

    def stop(self, timeout: float = 1.0) -> None:
        """Stop serving and stop observing the node."""
        if self._server is not None:
            self._server.stop(timeout=timeout)
            self._server = None
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
