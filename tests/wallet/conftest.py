"""Fixtures of the wallet tests: `start_node` runs whole regtest nodes as `pantheon-gevent` does
(a NodeService: JSON-RPC for user `u`, password `p`, wallets unless -disablewallet), in a datadir
that may be started again after a stop."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers.node import FAST, settings
from pantheon.service import NodeService


@pytest.fixture
def start_node(tmp_path: Path) -> Iterator[Callable[..., NodeService]]:
    """`start_node(name, *flags)`: a started service on `tmp_path / name`, stopped after the test."""
    services: list[NodeService] = []

    def start(name: str, *extra: str) -> NodeService:
        config = settings(tmp_path / name, "--rpcuser", "u", "--rpcpassword", "p", "-keypool=3", *extra, rpc=True)
        service = NodeService(config, tuning=FAST, script_workers=0).start()
        services.append(service)
        return service

    yield start
    for service in services:
        service.stop()
