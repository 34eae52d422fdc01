"""blocktxn (BIP152; Core's BlockTransactions): the transactions a getblocktxn asked for."""

from __future__ import annotations

from typing import Any

import pytest
from msg_tables import Layout, check_cuts, check_over_cap, check_wire, golden

from pantheon import limits
from pantheon.primitives import BlockTxn

BLOCK = "e7d465f955e94a93c55202168d35ab09a23014c8815f9f9c1e88bf6b6ad8ae0d"
# Bitcoin Core 0.13.99 regtest, the coinbase asked for by tests/msg/test_getblocktxn.py's REGTEST:
# jnewbery/bitcoin-wireshark test/blocktxn.pcap @7243bf8f; golden-vectors.json.
REGTEST = Layout((
    ("block_hash", BLOCK),
    ("transactions count: 1", "01"),
    ("[0] version: 1", "01000000"),
    ("[0] input count", "01"),
    ("[0] prev_txid: none (coinbase)", "00" * 32),
    ("[0] prev_index", "ffffffff"),
    ("[0] script_sig length", "03"),
    ("[0] script_sig: height 70", "024601"),
    ("[0] sequence", "ffffffff"),
    ("[0] output count", "01"),
    ("[0] value: 12.5 BTC", "807c814a00000000"),
    ("[0] script_pubkey length", "01"),
    ("[0] script_pubkey: OP_TRUE", "51"),
    ("[0] locktime", "00000000"),
))
# Five testnet3 transactions (one segwit): chaintope/bitcoinrb spec/bitcoin/message/block_txn_spec.rb:7
# @4069b531; golden-vectors.json. Each transaction is one row; test_tx.py has a transaction's fields.
TESTNET_PAYLOAD = golden("blocktxn", "block_txn_spec.rb:7")[0]
_ENDS = [33, 634, 2785, 3179, 3696, 3920]
TESTNET = Layout((
    ("block_hash", TESTNET_PAYLOAD[:32].hex()),
    ("transactions count: 5", "05"),
    *((f"[{n}] transaction", TESTNET_PAYLOAD[_ENDS[n] : _ENDS[n + 1]].hex()) for n in range(5)),
))


def test_basic(wire_impl: Any) -> None:
    assert limits.MAX_PAYLOAD["blocktxn"] == limits.MAX_MESSAGE_SIZE  # no structural bound below it
    value = wire_impl.module.decode_blocktxn(TESTNET_PAYLOAD)
    assert [tx.size for tx in value.transactions] == [601, 2151, 394, 517, 224]


def test_wire(wire_impl: Any) -> None:
    decode_tx = wire_impl.module.decode_tx
    assert REGTEST.payload in golden("blocktxn", "blocktxn.pcap") and TESTNET.payload == TESTNET_PAYLOAD
    check_wire(wire_impl.module, "blocktxn", BlockTxn(bytes.fromhex(BLOCK), [decode_tx(REGTEST.payload[33:])]), REGTEST)
    testnet = BlockTxn(TESTNET_PAYLOAD[:32], [decode_tx(bytes.fromhex(hex_text)) for _, hex_text in TESTNET.rows[2:]])
    check_wire(wire_impl.module, "blocktxn", testnet, TESTNET)


@pytest.mark.parametrize("layout", [REGTEST, TESTNET], ids=["regtest", "testnet"])
def test_wire_errors(layout: Layout, wire_impl: Any) -> None:
    check_cuts(wire_impl.module, "blocktxn", layout)
    ceiling = limits.MAX_MESSAGE_SIZE_CEILING
    check_over_cap(wire_impl.module, "blocktxn", bytes.fromhex(BLOCK), ceiling + 1, "blocktxn.transactions", ceiling)
