"""Signature messages (`pantheon.chain.sighash`): BIP143's own example, and BIP340's tagged hash.
Every message kind (legacy, BIP143, BIP341 key and script path) is also signed and checked by
Core's interpreter in tests/tools/test_chaingen.py, and the key path in tests/chain/test_scripts.py."""

from __future__ import annotations

import hashlib

from pantheon import wire
from pantheon.chain.sighash import PrecomputedTx, segwit_v0_sighash, tagged_hash

# BIP143, "Native P2WPKH": the unsigned tx (version 1; input 0 P2PK, input 1 P2WPKH; two P2PKH
# outputs; locktime 17), the second input's script code (P2PKH of its key hash) and amount (6 BTC).
BIP143_TX = bytes.fromhex(
    "0100000002fff7f7881a8099afa6940d42d1e7f6362bec38171ea3edf433541db4e4ad969f0000000000eeffffff"
    "ef51e1b804cc89d182d279655c3aa89e815b1b309fe287d9b2b55d57b90ec68a0100000000ffffffff02202cb206"
    "000000001976a9148280b37df378db99f66f85c95a783a76ac7a6d5988ac9093510d000000001976a9143bde42db"
    "ee7e4dbe6a21b2d50ce2f0167faa815988ac11000000")
BIP143_SCRIPT_CODE = bytes.fromhex("76a9141d0f172a0ecb48aee1be1f2687d2963ae33f71a188ac")
BIP143_AMOUNT = 600_000_000


def test_bip143_native_p2wpkh_example() -> None:
    pre = PrecomputedTx(wire.decode_tx(BIP143_TX))
    assert pre.hash_prevouts.hex() == "96b827c8483d4e9b96712b6713a7b68d6e8003a781feba36c31143470b4efd37"
    assert pre.hash_sequence.hex() == "52b0a642eea2fb7ae638c36f6252b6750293dbe574a806984b8e4d8548339a3b"
    assert pre.hash_outputs.hex() == "863ef3e1a92afbfdb97f31ad0fc7683ee943e9abcf2501590ff8f6551f47e5e5"
    assert segwit_v0_sighash(pre, 1, BIP143_SCRIPT_CODE, BIP143_AMOUNT).hex() == (
        "c37af31116d1b27caf68aae9e3ac82f1477929014d5b917657d0eb49478cb670")


def test_tagged_hash_is_bip340s() -> None:
    tag = hashlib.sha256(b"TapLeaf").digest()
    assert tagged_hash("TapLeaf", b"data") == hashlib.sha256(tag + tag + b"data").digest()
