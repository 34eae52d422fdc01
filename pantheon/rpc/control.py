"""Core's control RPCs (`rpc/server.cpp`, `rpc/node.cpp`): help, stopping, uptime."""

from __future__ import annotations

import time
from typing import Any

import gevent

from pantheon.net.peer import PeerState
from pantheon.protocol import PROTOCOL_VERSION
from pantheon.rpc.network import client_version
from pantheon.rpc.registry import RpcGroup, rpc_method
from pantheon.rpc.results import amount, difficulty, warnings

__all__ = ["ControlRpc"]


class ControlRpc(RpcGroup):
    category = "control"

    @rpc_method
    def help(self, command: Any = None) -> str:
        """Every method by category, or one method's usage and description."""
        table = self.context.table
        assert table is not None, "the method table is set when it is built"
        if command is None:
            return table.overview()
        method = table.methods.get(str(command))
        return method.help if method is not None else f"help: unknown command: {command}"

    @rpc_method
    def stop(self) -> str:
        """Stop the node (after this reply is sent)."""
        gevent.spawn_later(0.1, self.context.shutdown)
        return "Pantheon server stopping"

    @rpc_method
    def uptime(self) -> int:
        """Seconds since the node started."""
        return int(time.time() - self.node.started_at)

    @rpc_method
    def getinfo(self) -> dict[str, Any]:
        """bcoin's and old Core's summary, kept for tools that still ask for it."""
        node = self.node
        chain = node.chain
        return {"version": client_version(), "protocolversion": PROTOCOL_VERSION, "blocks": chain.height,
                "connections": len(node.peers(PeerState.CONNECTED)),
                "difficulty": difficulty(chain.headers.header(chain.tip).bits),
                "testnet": node.network.name != "main", "relayfee": amount(node.mempool.min_relay_fee),
                "errors": warnings(node)}
