"""A node as a running service: the `Node`, its wallets (unless `disablewallet`), the JSON-RPC
server (with `server`), the Prometheus exporter (with `metrics_port`) and the status page (with `statusport`) its
configuration asks for. `pantheon-gevent` runs one;
an embedder that wants only the node uses `Node` and pulls in neither server.

It never monkey-patches and never installs signal handlers (`cli.py` does both); its `stop` is
what the `stop` RPC and the signals call, and what `-stopatheight` calls once a block at that
height is connected.
"""

from __future__ import annotations

from typing import Any

import gevent

from pantheon.primitives import Block
from pantheon.config import NodeConfig
from pantheon.lifecycle import Lifecycle
from pantheon.metrics import NodeMetrics
from pantheon.node import Node
from pantheon.rpc import node_methods
from pantheon.rpc.server import RpcAuth, RpcServer
from pantheon.status import StatusPage, StatusServer
from pantheon.wallet.manager import WalletManager

__all__ = ["NodeService"]


class NodeService(Lifecycle):
    """`start()`, `serve_forever()`, `stop(timeout)`, or `with NodeService(config) as service:`
    (lifecycle.py). Keyword options are the `Node`'s (tuning, verify_scripts, script_workers,
    resolver)."""

    def __init__(self, config: NodeConfig, **node_options: Any) -> None:
        super().__init__()
        self.config = config
        self.node = Node(config, **node_options)
        self.rpc: RpcServer | None = None
        self.metrics: NodeMetrics | None = None
        self.status: StatusServer | None = None
        #: the wallets (None under -disablewallet)
        self.wallets: WalletManager | None = None
        self._status_cookie: RpcAuth | None = None  # the cookie written for the status page alone
        if config.stopatheight:
            self.node.events.block_connected.subscribe(self._stop_at_height)

    def _stop_at_height(self, block: Block, height: int) -> None:
        """Core's -stopatheight: shut down (cleanly, as `stop` does) once the chain is that high."""
        if height >= self.config.stopatheight:
            gevent.spawn(self.stop)

    def _start(self) -> None:
        """Start the node, then the servers the configuration asks for. If a server cannot
        start (its port taken, say), everything started is stopped again."""
        config = self.config
        self.node.start()
        try:
            if not config.disablewallet:
                self.wallets = WalletManager(self.node, keypool=config.keypool)
                self.wallets.start(config.wallet)
            auth = RpcAuth(config.rpcuser, config.rpcpassword, cookie_dir=self.node.datadir)
            if config.server:
                self.rpc = RpcServer(node_methods(self.node, self.stop, self.wallets), auth, host=config.rpcbind,
                                     port=config.rpcport, threads=config.rpcthreads,
                                     idle_timeout=config.rpcservertimeout).start()
            if config.metrics_port is not None:
                self.metrics = NodeMetrics(self.node)
                self.metrics.serve(config.rpcbind, config.metrics_port)
            if config.statusport is not None:
                if config.statusauth and not config.server:
                    auth.write_cookie()  # no RPC server writes it, and the page's viewers may use it
                    self._status_cookie = auth
                page = StatusPage(self.node, auth=auth if config.statusauth else None)
                self.status = StatusServer(page, config.statusbind, config.statusport).start()
        except BaseException:
            self.stop()
            raise

    def _stop(self, timeout: float) -> None:
        """Stop the servers (no new calls), then the node."""
        if self.rpc is not None:
            self.rpc.stop(timeout=min(timeout, 2.0))
        if self.metrics is not None:
            self.metrics.stop(timeout=min(timeout, 1.0))
        if self.status is not None:
            self.status.stop(timeout=min(timeout, 1.0))
        if self._status_cookie is not None:
            self._status_cookie.remove_cookie()
        if self.wallets is not None:
            self.wallets.stop()
        self.node.stop(timeout)
