"""Fixtures of the node tests: `make_node` starts whole nodes in the test's directory, `raw_client`
dials them with a bare socket."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.node import FAST, settings
from helpers.p2p import RawClient
from pantheon import wire
from pantheon.chain import scripts
from pantheon.node import Node
from pantheon.service import NodeService


@pytest.fixture
def make_node(tmp_path: Path) -> Iterator[Callable[..., Node]]:
    """`make_node(name, *flags, rpc=False, **Node options)`: a started regtest node on loopback
    (`helpers.node.settings`, `FAST` tuning unless given, scripts checked inline), run as `pantheon-gevent`
    runs it (a NodeService: JSON-RPC and metrics when the flags ask), stopped after the test."""
    services: list[NodeService] = []

    def make(name: str, *extra: str, rpc: bool = False, **options: Any) -> Node:
        service = NodeService(settings(tmp_path / name, *extra, rpc=rpc), **{"tuning": FAST, "script_workers": 0,
                                                                              **options}).start()
        services.append(service)
        return service.node

    yield make
    for service in services:
        service.stop()


@pytest.fixture
def rpc_node(make_node: Callable[..., Node]) -> Node:
    """A node with JSON-RPC for user `u`, password `p` (`helpers.node.proxy`), scripts checked
    when the kernel is there."""
    return make_node("rpc", "--rpcuser", "u", "--rpcpassword", "p", rpc=True, verify_scripts=scripts.AVAILABLE)


@pytest.fixture
def raw_client() -> Iterator[Callable[[Node], RawClient]]:
    """Raw sockets to a node (closed after the test), for the bad input a real node never sends."""
    clients: list[RawClient] = []

    def dial(node: Node, services: int = 0) -> RawClient:
        client = RawClient(node.manager.address[1], wire)
        clients.append(client)
        client.handshake(services=services)
        return client

    yield dial
    for client in clients:
        client.close()
