"""Core's control RPCs (`rpc/server.cpp`, `rpc/node.cpp`): help, stopping, uptime."""

from __future__ import annotations

import time
from typing import Any

import gevent

from pantheon.net.peer import PeerState
from pantheon.protocol import PROTOCOL_VERSION
from pantheon.rpc.network import RPC_INTERFACE_VERSION
from pantheon.rpc.arguments import int_arg
from pantheon.rpc.errors import RPC_INVALID_PARAMETER, RpcError
from pantheon.rpc.registry import HIDDEN, RpcGroup, rpc_method
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
    def stop(self, wait: Any = None) -> str:
        """Stop the node (after this reply is sent). `wait`: Core's test-only milliseconds to wait
        before answering."""
        if wait is not None:
            gevent.sleep(int_arg(wait, "wait") / 1000)
        gevent.spawn_later(0.1, self.context.shutdown)
        return "Pantheon server stopping"

    @rpc_method(regtest_only=True, category=HIDDEN)
    def setmocktime(self, timestamp: Any) -> None:
        """Set the node's clock to `timestamp` (UNIX seconds; 0: back to real time), for tests."""
        try:
            self.node.clock.set_mock(int_arg(timestamp, "timestamp"))
        except ValueError as error:
            raise RpcError(RPC_INVALID_PARAMETER, str(error)) from None

    @rpc_method
    def uptime(self) -> int:
        """Seconds since the node started."""
        return int(time.time() - self.node.started_at)

    @rpc_method
    def getinfo(self) -> dict[str, Any]:
        """bcoin's and old Core's summary, kept for tools that still ask for it."""
        node = self.node
        chain = node.chain
        return {"version": RPC_INTERFACE_VERSION, "protocolversion": PROTOCOL_VERSION, "blocks": chain.height,
                "connections": len(node.peers(PeerState.CONNECTED)),
                "difficulty": difficulty(chain.headers.header(chain.tip).bits),
                "testnet": node.network.name != "main", "relayfee": amount(node.mempool.min_relay_fee),
                "errors": "\n".join(warnings(node))}
