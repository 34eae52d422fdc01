"""Fixtures of the mempool and miner tests: a checked regtest chain, a mempool on it, `submit`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from helpers.chain import RegtestChain, relay
from helpers.clock import Clock
from pantheon.chain.mempool import Mempool
from pantheon.primitives import Tx


@pytest.fixture
def chain() -> RegtestChain:
    """Regtest genesis, every block connected checked (`helpers.chain.RegtestChain`)."""
    return RegtestChain()


@pytest.fixture
def pool(chain: RegtestChain, clock: Clock) -> Mempool:
    """A mempool on `chain`, on the test's clock."""
    return Mempool(chain, clock=clock)


@pytest.fixture
def submit(pool: Mempool, wire_impl: Any) -> Callable[[Tx], Tx]:
    """Accept through the twin; returns the relayed transaction."""

    def submit(tx: Tx) -> Tx:
        relayed = relay(wire_impl.module, tx)
        pool.accept(relayed)
        return relayed

    return submit
