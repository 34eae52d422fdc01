"""Fixtures of the wire tests: each real block and raw transaction with the spec's parse of it."""

from __future__ import annotations

from typing import Any

import pytest

from helpers.vectors import BLOCKS, RAW_TXS, VECTORS
from pantheon import spec


def _vector(command: str, folder: str, entry: dict[str, Any]) -> tuple[dict[str, Any], bytes, Any]:
    data = (VECTORS / folder / entry["file"]).read_bytes()
    return entry, data, spec.parse_payload(command, data)


@pytest.fixture(scope="module", params=BLOCKS, ids=lambda entry: entry["file"])
def block_vector(request: pytest.FixtureRequest) -> tuple[dict[str, Any], bytes, Any]:
    """(blocks/index.json entry, the block's bytes, the spec's parse), once per module."""
    return _vector("block", "blocks", request.param)


@pytest.fixture(scope="module", params=RAW_TXS, ids=lambda entry: entry["file"])
def tx_vector(request: pytest.FixtureRequest) -> tuple[dict[str, Any], bytes, Any]:
    """(tx/raw_txs_index.json entry, the transaction's bytes, the spec's parse), once per module."""
    return _vector("tx", "tx", request.param)
