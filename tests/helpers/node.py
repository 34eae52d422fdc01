"""Whole nodes in a test: their settings (regtest on loopback, `FAST` tuning) and an RPC proxy."""

from __future__ import annotations

from pathlib import Path

from bitcoin.rpc import RawProxy

from pantheon.config import NodeConfig, load_config
from pantheon.node import Node, NodeTuning

FAST = NodeTuning(tick=0.02, trickle_outbound=0.05, trickle_inbound=0.05, handshake_timeout=10)


def settings(datadir: Path, *extra: str, rpc: bool = False) -> NodeConfig:
    args = ["--datadir", str(datadir), "--network", "regtest", "--port", "0", "--bind", "127.0.0.1",
            "--dnsseed", "0", "--rpcport", "0", "--server", "1" if rpc else "0", *extra]
    return load_config(args)


def proxy(node: Node) -> RawProxy:
    """python-bitcoinlib's RawProxy to the node's JSON-RPC (started with --rpcuser u --rpcpassword p)."""
    assert node.rpc is not None
    host, port = node.rpc.address
    return RawProxy(service_url=f"http://u:p@{host}:{port}")
