"""block (btcd msgblock_test.go): a header, then its transactions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from msg_tables import Layout, check_cuts, check_over_cap, check_wire

from pantheon import hashing, limits
from pantheon.primitives import Block, BlockHeader

# Mainnet block 170, the first with a payment (tests/vectors/blocks/block_170.bin, from btcd;
# see tests/vectors/blocks/index.json): each transaction is one row here, its fields are in
# tests/msg/test_tx.py.
BLOCK_170 = (Path(__file__).parent.parent / "vectors" / "blocks" / "block_170.bin").read_bytes()
LAYOUT = Layout((
    ("version: 1", "01000000"),
    ("prev_block: block 169", "55bd840a78798ad0da853f68974f3d183e2bd1db6a842c1feecf222a00000000"),
    ("merkle_root", "ff104ccb05421ab93e63f8c3ce5c2c2e9dbb37de2764b3a3175c8166562cac7d"),
    ("timestamp: 1231731025", "51b96a49"),
    ("bits: 0x1d00ffff", "ffff001d"),
    ("nonce: 1889418792", "283e9e70"),
    ("transaction count", "02"),
    ("[0] coinbase", BLOCK_170[81:215].hex()),
    ("[1] 10 BTC from Satoshi to Hal Finney", BLOCK_170[215:].hex()),
))


def test_basic(wire_impl: Any) -> None:
    assert limits.MAX_PAYLOAD["block"] == limits.MAX_MESSAGE_SIZE  # Core MAX_PROTOCOL_MESSAGE_LENGTH
    assert LAYOUT.payload == BLOCK_170
    block = wire_impl.module.decode_block(BLOCK_170)
    assert hashing.hash_to_hex(block.hash) == "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee"
    assert [tx.size for tx in block.transactions] == [134, 275]


def test_wire(wire_impl: Any) -> None:
    value = wire_impl.module.decode_block(BLOCK_170)
    transactions = tuple(wire_impl.module.decode_tx(bytes.fromhex(hex_text)) for _, hex_text in LAYOUT.rows[7:])
    check_wire(wire_impl.module, "block", Block(BlockHeader.from_bytes(BLOCK_170[:80]), transactions), LAYOUT)
    assert value.transactions == transactions


def test_wire_errors(wire_impl: Any) -> None:
    check_cuts(wire_impl.module, "block", LAYOUT)
    ceiling = limits.MAX_MESSAGE_SIZE_CEILING
    check_over_cap(wire_impl.module, "block", BLOCK_170[:80], ceiling + 1, "block.transactions", ceiling)
