"""cmpctblock (BIP152; btcd has none, Core's HeaderAndShortIDs): a header, a nonce, the short ids
of the transactions left out, and the transactions sent whole at their differential indexes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from msg_tables import Layout, check_cuts, check_error, check_over_cap, check_wire, golden, header_rows

from pantheon import errors, limits
from pantheon.primitives import BlockHeader, CmpctBlock, PrefilledTx

VECTORS = Path(__file__).parent.parent / "vectors"
COINBASE = (
    "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff04016b0101ffffffff01"
    "00f2052a0100000023210307394f288a38051c2725751bed89452ed160dd5cfb80eeca3308e7dce200d9bcac00000000"
)
# Bitcoin Core 0.13.99 regtest, a block of its coinbase only: jnewbery/bitcoin-wireshark
# test/cmpctblock.pcap @7243bf8f; golden-vectors.json.
REGTEST = Layout((
    *header_rows(bytes.fromhex(
        "0000002097ee31cb0d9cc3e068bf18f1acbddce9cdb7fcce2ca66c9e928ce17545201f5ffe1f8d91d363ea15c0ada48464d2"
        "425e7487da71e5c3044eb07e4a39e233039c254c5958ffff7f2003000000"
    )),
    ("nonce", "09587a994afbb327"),
    ("short_ids count: 0", "00"),
    ("prefilled count: 1", "01"),
    ("prefilled[0] index gap: 0 (index 0)", "00"),
    ("prefilled[0] tx: the coinbase", COINBASE),
))
# Mainnet block 426884, 408 short ids and the coinbase: bcoin test/data/compact426884.raw @0c18028c
# (tests/vectors/messages/payloads/cmpctblock_426884.payload.bin; golden-vectors.json).
BCOIN_426884 = (VECTORS / "messages" / "payloads" / "cmpctblock_426884.payload.bin").read_bytes()
_IDS_END = 91 + 408 * 6
MAINNET = Layout((
    *header_rows(BCOIN_426884[:80]),
    ("nonce", BCOIN_426884[80:88].hex()),
    ("short_ids count: 408", BCOIN_426884[88:91].hex()),
    *((f"short_ids[{n}]", BCOIN_426884[91 + 6 * n : 97 + 6 * n].hex()) for n in range(408)),
    ("prefilled count: 1", BCOIN_426884[_IDS_END : _IDS_END + 1].hex()),
    ("prefilled[0] index gap: 0", BCOIN_426884[_IDS_END + 1 : _IDS_END + 2].hex()),
    ("prefilled[0] tx: the coinbase", BCOIN_426884[_IDS_END + 2 :].hex()),
))
# Built here and checked by the spec: three prefilled transactions at indexes 0, 2 and 5.
GAPS = Layout((
    *REGTEST.rows[:7],
    ("short_ids count: 1", "01"),
    ("short_ids[0]", "0102030405ff"),
    ("prefilled count: 3", "03"),
    ("prefilled[0] index gap: 0 (index 0)", "00"), ("prefilled[0] tx", COINBASE),
    ("prefilled[1] index gap: 1 (index 2)", "01"), ("prefilled[1] tx", COINBASE),
    ("prefilled[2] index gap: 2 (index 5)", "02"), ("prefilled[2] tx", COINBASE),
))


def value_of(layout: Layout, short_ids: list[bytes], indexes: list[int], module: Any) -> CmpctBlock:
    payload = layout.payload
    coinbase = module.decode_tx(bytes.fromhex(COINBASE))
    return CmpctBlock(BlockHeader.from_bytes(payload[:80]), int.from_bytes(payload[80:88], "little"), short_ids,
                      [PrefilledTx(index, coinbase) for index in indexes])


def test_basic(wire_impl: Any) -> None:
    assert limits.MAX_PAYLOAD["cmpctblock"] == limits.MAX_MESSAGE_SIZE  # no structural bound below it
    assert limits.MAX_BIP152_INDEX == 0xFFFF  # Core's uint16_t indexes
    value = wire_impl.module.decode_cmpctblock(BCOIN_426884)
    block = wire_impl.module.decode_block((VECTORS / "blocks" / "block_426884.bin").read_bytes())
    assert value.header == block.header and value.prefilled == (PrefilledTx(0, block.transactions[0]),)
    # BIP152: each short id is SipHash-2-4 of a txid, keyed by SHA256(header || nonce), cut to 6 bytes.
    key = hashlib.sha256(BCOIN_426884[:88]).digest()[:16]
    k0, k1 = int.from_bytes(key[:8], "little"), int.from_bytes(key[8:], "little")
    assert [wire_impl.module.siphash24(k0, k1, tx.txid).to_bytes(8, "little")[:6]
            for tx in block.transactions[1:]] == list(value.short_ids)


@pytest.mark.parametrize(("layout", "short_ids", "indexes"), [
    (REGTEST, [], [0]), (GAPS, [bytes.fromhex("0102030405ff")], [0, 2, 5]),
], ids=["regtest", "gaps"])
def test_wire(layout: Layout, short_ids: list[bytes], indexes: list[int], wire_impl: Any) -> None:
    check_wire(wire_impl.module, "cmpctblock", value_of(layout, short_ids, indexes, wire_impl.module), layout)


def test_wire_mainnet(wire_impl: Any) -> None:
    assert REGTEST.payload in golden("cmpctblock", "cmpctblock.pcap")
    assert MAINNET.payload == BCOIN_426884 and BCOIN_426884 in golden("cmpctblock", "compact426884.raw")
    value = wire_impl.module.decode_cmpctblock(BCOIN_426884)
    check_wire(wire_impl.module, "cmpctblock", value, MAINNET)


@pytest.mark.parametrize("layout", [REGTEST, GAPS, MAINNET], ids=["regtest", "gaps", "mainnet"])
def test_wire_errors(layout: Layout, wire_impl: Any) -> None:
    check_cuts(wire_impl.module, "cmpctblock", layout)


def test_wire_errors_caps_and_indexes(wire_impl: Any) -> None:
    module, head = wire_impl.module, REGTEST.payload[:88]
    ceiling = limits.MAX_MESSAGE_SIZE_CEILING
    check_over_cap(module, "cmpctblock", head, ceiling + 1, "cmpctblock.short_ids", ceiling)
    check_over_cap(module, "cmpctblock", head + b"\x00", 0x10001, "cmpctblock.prefilled", 0x10000)
    check_error(module, "cmpctblock", head + b"\x00\x01\xfe\x00\x00\x01\x00" + bytes.fromhex(COINBASE), errors.InvalidValue,
                "cmpctblock.prefilled: differential index overflows 16 bits")
    coinbase = module.decode_tx(bytes.fromhex(COINBASE))
    backwards = CmpctBlock(BlockHeader.from_bytes(head[:80]), 0, (), (PrefilledTx(2, coinbase), PrefilledTx(1, coinbase)))
    with pytest.raises(errors.InvalidValue, match="^cmpctblock.prefilled: indexes must increase and fit 16 bits$"):
        module.encode_cmpctblock(backwards)
