"""chain/blockfilter.py: BIP158's basic filter and BIP157's header chain, on every row of
BIP158's testnet-19.json (the filter bytes and the filter header, from the row's previous header)."""

from __future__ import annotations

import pytest
from helpers.vectors import BIP158

from pantheon.chain import blockfilter
from pantheon.protocol import BASIC_FILTER
from pantheon.wire import decode_block


@pytest.mark.parametrize("row", BIP158, ids=[f"{row[0]}" for row in BIP158])
def test_vectors(row):
    height, block_hash, raw, spent, previous, expected_filter, expected_header, _ = row
    block = decode_block(bytes.fromhex(raw))
    assert block.hash == bytes.fromhex(block_hash)[::-1]
    encoded = blockfilter.basic_filter(block, [bytes.fromhex(script) for script in spent])
    assert encoded.hex() == expected_filter
    header = blockfilter.filter_header(blockfilter.filter_hash(encoded), bytes.fromhex(previous)[::-1])
    assert header[::-1].hex() == expected_header
    if height == 0:
        assert bytes.fromhex(previous) == blockfilter.GENESIS_PREVIOUS_HEADER
    for script in blockfilter.basic_filter_elements(block, [bytes.fromhex(s) for s in spent]):
        assert blockfilter.match_any(block.hash, encoded, [script])


def test_exclusions():
    row = next(row for row in BIP158 if row[0] == 926485)  # an OP_RETURN output
    block = decode_block(bytes.fromhex(row[2]))
    scripts = [o.script_pubkey for tx in block.transactions for o in tx.outputs]
    assert any(s[:1] == b"\x6a" for s in scripts)
    elements = blockfilter.basic_filter_elements(block, [b"", b"\x51"])
    assert all(s and s[0] != 0x6A for s in elements) and b"\x51" in elements and b"" not in elements


def test_filter_type_names():
    assert blockfilter.filter_type_by_name("basic") == BASIC_FILTER
    assert blockfilter.filter_type_by_name("extended") is None
