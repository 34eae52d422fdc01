"""merkleblock (BIP37; btcd msgmerkleblock_test.go): a header and the partial merkle tree of the
transactions that matched the peer's filter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from msg_tables import Layout, check_cuts, check_over_cap, check_wire, golden, header_rows

from pantheon import limits
from pantheon.primitives import BlockHeader, MerkleBlock

VECTORS = Path(__file__).parent.parent / "vectors"
# Mainnet block 300025, 461 transactions, 10 hashes: bcoin test/data/merkle300025.raw @0c18028c
# (tests/vectors/messages/payloads/merkleblock_300025.payload.bin; golden-vectors.json).
BCOIN_300025 = (VECTORS / "messages" / "payloads" / "merkleblock_300025.payload.bin").read_bytes()


def _layout(payload: bytes, flags: str) -> Layout:
    count = payload[84]
    hashes = [(f"hashes[{n}]", payload[85 + 32 * n : 117 + 32 * n].hex()) for n in range(count)]
    return Layout((
        *header_rows(payload[:80]),
        (f"total_transactions: {int.from_bytes(payload[80:84], 'little')}", payload[80:84].hex()),
        ("hashes count", f"{count:02x}"),
        *hashes,
        ("flags length", f"{len(flags) // 2:02x}"),
        ("flags: the tree's bits, depth first", flags),
    ))


BCOIN = _layout(BCOIN_300025, "f57a00")
# A testnet3 block of 37 transactions, 9 hashes: chaintope/bitcoinrb
# spec/bitcoin/message/merkle_block_spec.rb:37 @4069b531; golden-vectors.json.
BITCOINRB = _layout(golden("merkleblock", "merkle_block_spec.rb:37")[0], "5f1f00")


def value_of(layout: Layout) -> MerkleBlock:
    payload = layout.payload
    hashes = [bytes.fromhex(hex_text) for name, hex_text in layout.rows if name.startswith("hashes[")]
    return MerkleBlock(BlockHeader.from_bytes(payload[:80]), int.from_bytes(payload[80:84], "little"), hashes,
                       bytes.fromhex(layout.rows[-1][1]))


def test_basic(wire_impl: Any) -> None:
    assert limits.MAX_PAYLOAD["merkleblock"] == limits.MAX_MESSAGE_SIZE  # no structural bound below it
    value = wire_impl.module.decode_merkleblock(BCOIN_300025)
    assert value.header.hash == BlockHeader.from_bytes((VECTORS / "blocks" / "block_300025.bin").read_bytes()[:80]).hash
    assert (value.total_transactions, len(value.hashes), value.flags) == (461, 10, b"\xf5\x7a\x00")


@pytest.mark.parametrize("layout", [BCOIN, BITCOINRB], ids=["bcoin-300025", "bitcoinrb"])
def test_wire(layout: Layout, wire_impl: Any) -> None:
    assert layout.payload in golden("merkleblock", "")
    check_wire(wire_impl.module, "merkleblock", value_of(layout), layout)


@pytest.mark.parametrize("layout", [BCOIN, BITCOINRB], ids=["bcoin-300025", "bitcoinrb"])
def test_wire_errors(layout: Layout, wire_impl: Any) -> None:
    module, payload = wire_impl.module, layout.payload
    check_cuts(module, "merkleblock", layout)
    ceiling = limits.MAX_MESSAGE_SIZE_CEILING
    check_over_cap(module, "merkleblock", payload[:84], ceiling + 1, "merkleblock.hashes", ceiling)
    check_over_cap(module, "merkleblock", payload[: layout.start("flags length")], ceiling + 1, "merkleblock.flags", ceiling)
