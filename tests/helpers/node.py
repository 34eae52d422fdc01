"""Whole nodes in a test: their settings (regtest on loopback, `FAST` tuning), an RPC proxy, calls
through it and the error of a failing one, and links between them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
from bitcoin.rpc import JSONRPCError, RawProxy

from helpers.p2p import free_port
from helpers.waiting import NODE_WAIT, in_thread, wait_for
from pantheon.config import NodeConfig, load_config
from pantheon.net.peer import PeerState
from pantheon.node import Node, NodeTuning

FAST = NodeTuning(tick=0.02, trickle_outbound=0.05, trickle_inbound=0.05)


def settings(datadir: Path, *extra: str, rpc: bool = False) -> NodeConfig:
    """A regtest node on loopback that dials only what it is told (`-connect=0`, as Core's test
    framework starts bitcoind); with `rpc`, JSON-RPC on a free port (`node.config.rpcport`)."""
    args = ["--datadir", str(datadir), "--network", "regtest", "--port", "0", "--bind", "127.0.0.1",
            "--connect", "0", "--peertimeout", "10", "--rpcport", str(free_port()) if rpc else "0",
            "--server", "1" if rpc else "0", *extra]
    return load_config(args)


def rpc_url(node: Node) -> str:
    """The node's JSON-RPC URL, for a node started with --rpcuser u --rpcpassword p."""
    return f"http://u:p@{node.config.rpcbind}:{node.config.rpcport}"


def proxy(node: Node) -> RawProxy:
    """python-bitcoinlib's RawProxy to the node's JSON-RPC."""
    return RawProxy(service_url=rpc_url(node))


def rpc_call(node: Node, method: str, *args: Any) -> Any:
    """`method(*args)` over the node's JSON-RPC (from a thread: the node's hub keeps running)."""
    return in_thread(getattr(proxy(node), method), *args)


def rpc_error_of(node: Node, method: str, *args: Any) -> tuple[int, str]:
    """The (code, message) of the error `method(*args)` must answer with."""
    return rpc_call_error(lambda: getattr(proxy(node), method)(*args))
def rpc_call_error(call: Callable[[], Any]) -> tuple[int, str]:
    """(code, message) of the JSON-RPC error `call` (a proxy call, run off the hub) must raise."""
    with pytest.raises(JSONRPCError) as info:
        in_thread(call)
    return info.value.error["code"], info.value.error["message"]


def link(node: Node, to: Node) -> None:
    """`node` dials `to` and waits until that connection's handshake is done."""
    host, port = to.manager.address
    before = {peer.id for peer in node.peers()}
    node.add_peer(host, port)
    wait_for(lambda: any(p.state is PeerState.CONNECTED and p.id not in before for p in node.peers()), NODE_WAIT,
             what="handshake")
