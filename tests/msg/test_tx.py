"""tx (btcd msgtx_test.go): legacy and BIP144 segwit transactions, read as Core reads them."""

from __future__ import annotations

from typing import Any

from msg_tables import Layout, check_cuts, check_over_cap, check_wire

from pantheon import hashing, limits
from pantheon.primitives import Tx, TxIn, TxOut

# A mainnet P2WPKH spend, txid 00000000102d4e89...; rust-bitcoinkernel tests/test.rs:439
# @1e2ece2c (tests/vectors/tx/mainnet_txs_by_type.json, "native P2WPKH").
SIGNATURE = (
    "3045022100b1da3d290132155acd68dafee7c794e84922f364cf9acb1b65e806dc41bd702b02200af6003caf19"
    "a291488649be0396edb1274888beb5bb3a96e1d8e6f4903e0e7401"
)
PUBKEY = "0364b35b722e1e3590575994dad5c6c25b8b24d3777964a28cedea41bbaa297da5"
P2WPKH = Layout((
    ("version: 2", "02000000"),
    ("marker: an empty input vector", "00"),
    ("flag: 1, witness follows", "01"),
    ("input count", "01"),
    ("[0] prev_txid", "18cd99a3898c2b63da66ec9b7e1d15928453a0b3c2fa74fd7488304200000000"),
    ("[0] prev_index", "00000000"),
    ("[0] script_sig length", "00"),
    ("[0] sequence", "ffffffff"),
    ("output count", "01"),
    ("[0] value: 4893 sat", "1d13000000000000"),
    ("[0] script_pubkey length", "16"),
    ("[0] script_pubkey: OP_0 <20-byte key hash>", "0014f222ad02300df72ab7129602f279b47d83b453ca"),
    ("[0] witness item count", "02"),
    ("[0] witness[0] length", "48"),
    ("[0] witness[0]: DER signature + SIGHASH_ALL", SIGNATURE),
    ("[0] witness[1] length", "21"),
    ("[0] witness[1]: compressed public key", PUBKEY),
    ("locktime", "55d2d73d"),
))
P2WPKH_VALUE = Tx(
    2,
    [TxIn(bytes.fromhex("18cd99a3898c2b63da66ec9b7e1d15928453a0b3c2fa74fd7488304200000000"), 0, b"", 0xFFFF_FFFF,
          [bytes.fromhex(SIGNATURE), bytes.fromhex(PUBKEY)])],
    [TxOut(4893, bytes.fromhex("0014f222ad02300df72ab7129602f279b47d83b453ca"))],
    0x3DD7D255,
)
# Core's empty transaction: no inputs, then flag 0, read as an empty output vector.
EMPTY = Layout((("version: 1", "01000000"), ("input count", "00"), ("flags 0 / output count", "00"), ("locktime", "00000000")))


def test_basic(wire_impl: Any) -> None:
    assert limits.MAX_PAYLOAD["tx"] == limits.MAX_MESSAGE_SIZE  # no structural bound below it
    tx = wire_impl.module.decode_tx(P2WPKH.payload)
    assert hashing.hash_to_hex(tx.txid) == "00000000102d4e899ec7cc3656d91ab83aa8e95807dabb90fbe16a1a9e70b6ab"
    assert (tx.size, tx.stripped_size, tx.weight, tx.vsize) == (192, 82, 438, 110)


def test_wire(wire_impl: Any) -> None:
    check_wire(wire_impl.module, "tx", P2WPKH_VALUE, P2WPKH)
    check_wire(wire_impl.module, "tx", Tx(1, [], [], 0), EMPTY)


def test_wire_errors(wire_impl: Any) -> None:
    check_cuts(wire_impl.module, "tx", P2WPKH)
    ceiling = limits.MAX_MESSAGE_SIZE_CEILING  # Core's MAX_SIZE holds every count and length
    for row, field in (
        ("marker: an empty input vector", "tx.inputs"),  # where a legacy tx has its count
        ("input count", "tx.inputs"),
        ("[0] script_sig length", "tx.script_sig"),
        ("output count", "tx.outputs"),
        ("[0] script_pubkey length", "tx.script_pubkey"),
        ("[0] witness item count", "tx.witness"),
        ("[0] witness[0] length", "tx.witness_item"),
    ):
        prefix = P2WPKH.payload[: P2WPKH.start(row)]
        check_over_cap(wire_impl.module, "tx", prefix, ceiling + 1, field, ceiling)
