"""getblocktxn (BIP152; Core's BlockTransactionsRequest): a block hash and the differential
indexes of the transactions wanted, returned as absolute ones."""

from __future__ import annotations

from typing import Any

import pytest
from msg_tables import Layout, check_cuts, check_error, check_over_cap, check_wire, golden

from pantheon import errors, limits
from pantheon.primitives import BlockTxnRequest

# A testnet3 block: chaintope/bitcoinrb spec/bitcoin/message/get_block_txn_spec.rb:7 @4069b531;
# golden-vectors.json.
TESTNET = Layout((
    ("block_hash", "ca8fb932735c229005040eeefed540f36dfab54c68acd92e54ad69c200000000"),
    ("indexes count: 5", "05"),
    ("[0] gap 5: index 5", "05"),
    ("[1] gap 0: index 6", "00"),
    ("[2] gap 0: index 7", "00"),
    ("[3] gap 0: index 8", "00"),
    ("[4] gap 0: index 9", "00"),
))
TESTNET_VALUE = BlockTxnRequest(bytes.fromhex(TESTNET.rows[0][1]), (5, 6, 7, 8, 9))
# Bitcoin Core 0.13.99 regtest: jnewbery/bitcoin-wireshark test/getblocktxn.pcap @7243bf8f.
REGTEST = Layout((
    ("block_hash", "e7d465f955e94a93c55202168d35ab09a23014c8815f9f9c1e88bf6b6ad8ae0d"),
    ("indexes count: 1", "01"),
    ("[0] gap 0: index 0", "00"),
))
REGTEST_VALUE = BlockTxnRequest(bytes.fromhex(REGTEST.rows[0][1]), (0,))


def test_basic(wire_impl: Any) -> None:
    assert limits.MAX_PAYLOAD["getblocktxn"] == 32 + 5 + 0x10000 * 3  # a bound: gaps are mostly 1 byte
    every = BlockTxnRequest(b"\xff" * 32, tuple(range(0x10000)))
    payload = wire_impl.module.encode_getblocktxn(every)
    assert len(payload) == 32 + 5 + 0x10000
    assert wire_impl.module.decode_getblocktxn(payload) == every
    last = BlockTxnRequest(bytes(32), (0xFFFF,))  # the largest gap: 3 bytes
    assert wire_impl.module.encode_getblocktxn(last) == bytes(32) + b"\x01\xfd\xff\xff"


@pytest.mark.parametrize(("value", "layout", "where"), [
    (TESTNET_VALUE, TESTNET, "get_block_txn_spec.rb:7"), (REGTEST_VALUE, REGTEST, "getblocktxn.pcap"),
], ids=["testnet", "regtest"])
def test_wire(value: BlockTxnRequest, layout: Layout, where: str, wire_impl: Any) -> None:
    assert layout.payload in golden("getblocktxn", where)
    check_wire(wire_impl.module, "getblocktxn", value, layout)


@pytest.mark.parametrize("layout", [TESTNET, REGTEST], ids=["testnet", "regtest"])
def test_wire_errors(layout: Layout, wire_impl: Any) -> None:
    check_cuts(wire_impl.module, "getblocktxn", layout)


def test_wire_errors_caps_and_indexes(wire_impl: Any) -> None:
    module, block_hash = wire_impl.module, bytes(32)
    check_over_cap(module, "getblocktxn", block_hash, 0x10001, "getblocktxn.indexes", 0x10000)
    check_error(module, "getblocktxn", block_hash + b"\x02\xfd\xff\xff\x00", errors.InvalidValue,
                "getblocktxn.indexes: differential index overflows 16 bits")  # 65535, then 65536
    with pytest.raises(errors.InvalidValue, match="^getblocktxn.indexes: indexes must increase and fit 16 bits$"):
        module.encode_getblocktxn(BlockTxnRequest(block_hash, (3, 3)))
