"""One status snapshot: the node's sync, peers, traffic, mempool and bans as a JSON-ready dict,
the one shape the page draws and scripts read (`status.json`). It only reads: building it never
changes the node and never yields, so it sees one consistent moment."""

from __future__ import annotations

import time
from bisect import bisect_right
from typing import TYPE_CHECKING, Any

from pantheon.protocol import service_names
from pantheon.status.history import TRAFFIC_MINUTES, StatusHistory

if TYPE_CHECKING:
    from pantheon.net.peer import Peer
    from pantheon.node import Node

__all__ = ["build_snapshot", "FEE_RATE_BUCKETS"]

#: Lower bounds (sat/vB) of the mempool's fee-rate histogram bars, as mempool explorers draw them.
FEE_RATE_BUCKETS = (0, 1, 2, 3, 5, 8, 10, 15, 20, 30, 50, 100, 200, 500, 1000)


def build_snapshot(node: Node, history: StatusHistory) -> dict[str, Any]:
    """Everything the page shows, read now; times are Unix seconds, sizes bytes, rates per second."""
    now = time.time()
    monotonic_now = time.monotonic()
    status = node.sync_status()
    rate = history.rate()
    remaining = status.target - status.height
    return {
        "time": now,
        "network": node.network.name,
        "user_agent": node.user_agent,
        "sync": {
            "height": status.height, "headers": status.headers, "target": status.target,
            "progress": status.progress, "initial_block_download": status.initial_block_download,
            "blocks_per_second": rate, "eta_seconds": remaining / rate if remaining > 0 and rate > 0 else None,
            "blocks_in_flight": node.blocks_in_flight(),
            "curve": [[now - (monotonic_now - at), height] for at, height in history.curve],
        },
        "peers": [_peer(peer, node.clock()) for peer in node.peers()],
        "traffic": _traffic(history),
        "mempool": _mempool(node),
        "bans": [{"address": entry.address, "created": entry.created, "until": entry.until}
                 for entry in node.bans()],
        "discouraged": node.discouraged_count,
    }


def _peer(peer: Peer, now: float) -> dict[str, Any]:
    """One row of the peers table; `now` on the node's clock, which the peer's times are on."""
    remote = peer.remote
    services = remote.services if remote else 0
    host, port = peer.address[:2]
    return {
        "id": peer.id, "address": f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}",
        "direction": "inbound" if peer.inbound else "outbound", "connection_type": peer.connection_type,
        "state": peer.state.value, "transport": peer.transport_protocol,
        "user_agent": (remote.user_agent or "") if remote else "", "version": remote.version if remote else 0,
        "services": service_names(services), "ping": peer.ping_time,
        "bytes_sent": peer.counters["bytes sent"], "bytes_received": peer.counters["bytes received"],
        "connected_seconds": max(now - peer.connected_at, 0.0),
        "misbehaviour": peer.counters["misbehaving"],
    }


def _traffic(history: StatusHistory) -> dict[str, Any]:
    commands = [{"command": command, **sizes} for command, sizes in history.traffic().items()]
    commands.sort(key=lambda entry: entry["sent"] + entry["received"], reverse=True)
    return {"window_seconds": TRAFFIC_MINUTES * 60, "commands": commands,
            "sent": sum(entry["sent"] for entry in commands),
            "received": sum(entry["received"] for entry in commands)}


def _mempool(node: Node) -> dict[str, Any]:
    info = node.mempool.info()
    counts = [0] * len(FEE_RATE_BUCKETS)
    sizes = [0] * len(FEE_RATE_BUCKETS)
    for entry in node.mempool:
        index = max(bisect_right(FEE_RATE_BUCKETS, entry.fee_rate) - 1, 0)  # a negative delta: the lowest bar
        counts[index] += 1
        sizes[index] += entry.vsize
    return {"count": info.size, "bytes": info.bytes, "usage": info.usage, "max_usage": info.max_usage,
            "min_fee_rate": info.min_fee_rate,
            "histogram": [{"from": low, "count": count, "vsize": size}
                          for low, count, size in zip(FEE_RATE_BUCKETS, counts, sizes)]}
