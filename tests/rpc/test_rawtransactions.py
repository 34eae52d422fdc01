"""decodescript and createrawtransaction (`pantheon.rpc.rawtransactions`): decodescript against
the cases of Core's rpc_decodescript.py (its scripts, and the asm and types it expects for them),
with the P2SH and P2WSH addresses worked out independently by python-bitcoinlib's Hash160 and
base58; createrawtransaction decoded by python-bitcoinlib; Core's argument errors for both.
The group needs only a network from its node, so it is given a stand-in."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from typing import Any

import pytest
from bitcoin.base58 import CBase58Data
from bitcoin.core import CTransaction, Hash160

from pantheon.chain.addresses import bech32_encode, Encoding
from pantheon.chain.descriptors import add_checksum
from pantheon.params import REGTEST
from pantheon.rpc.errors import RpcError
from pantheon.rpc.rawtransactions import RawTransactionsRpc
from pantheon.rpc.registry import RpcContext

KEY = "03b0da749730dc9b4b1f4a14d6902877a92541f5368778853d9c4a0cb7802dcfb2"
UNCOMPRESSED = ("04b0da749730dc9b4b1f4a14d6902877a92541f5368778853d9c4a0cb7802dcfb25e01fc8fde47c96c98a4f3a8"
                "123e33a38a50cf9025cc8c4494a518f991792bb7")
KEY_HASH = "5dd1d3a048119c27b28293056724d9522f26d945"
P2SH_PREFIX = 0xC4  # regtest's base58 script-hash version


@pytest.fixture
def decodescript() -> Any:
    return RawTransactionsRpc(RpcContext(SimpleNamespace(network=REGTEST), lambda: None)).decodescript  # type: ignore[arg-type]


def p2sh_address(script_hex: str) -> str:
    return str(CBase58Data.from_bytes(Hash160(bytes.fromhex(script_hex)), P2SH_PREFIX))


def segwit_address(program: bytes) -> str:
    five_bit = []
    acc = bits = 0
    for byte in program:  # 8-bit groups to 5-bit ones, as BIP173 packs a program
        acc, bits = (acc << 8) | byte, bits + 8
        while bits >= 5:
            bits -= 5
            five_bit.append((acc >> bits) & 31)
    if bits:
        five_bit.append((acc << (5 - bits)) & 31)
    return bech32_encode("bcrt", [0, *five_bit], Encoding.BECH32)


def test_a_key_wraps_in_p2sh_and_p2wpkh(decodescript: Any) -> None:
    script = "21" + KEY + "ac"
    result = decodescript(script)
    wpkh = bytes.fromhex("0014") + Hash160(bytes.fromhex(KEY))
    assert result == {"asm": f"{KEY} OP_CHECKSIG", "desc": add_checksum(f"pk({KEY})"), "type": "pubkey",
                      "p2sh": p2sh_address(script),
                      "segwit": {"asm": f"0 {KEY_HASH}", "desc": add_checksum(f"addr({segwit_address(wpkh[2:])})"),
                                 "hex": wpkh.hex(), "address": segwit_address(wpkh[2:]), "type": "witness_v0_keyhash",
                                 "p2sh-segwit": p2sh_address(wpkh.hex())}}


def test_a_key_hash_and_a_multisig_wrap_in_segwit(decodescript: Any) -> None:
    pkh = decodescript(f"76a914{KEY_HASH}88ac")
    assert (pkh["type"], pkh["segwit"]["type"], pkh["segwit"]["asm"]) == ("pubkeyhash", "witness_v0_keyhash",
                                                                         f"0 {KEY_HASH}")
    assert "hex" not in pkh and pkh["address"] == "mp52VuXfTKhzYpuR3jLvPEYYUCWt84J7D5"
    multisig = "52" + ("21" + KEY) * 3 + "53ae"
    result = decodescript(multisig)
    program = hashlib.sha256(bytes.fromhex(multisig)).digest()
    assert (result["type"], result["asm"]) == ("multisig", f"2 {KEY} {KEY} {KEY} 3 OP_CHECKMULTISIG")
    assert result["segwit"]["type"] == "witness_v0_scripthash" and result["segwit"]["asm"] == f"0 {program.hex()}"
    assert result["segwit"]["address"] == segwit_address(program)
    assert result["segwit"]["desc"] == add_checksum(f"wsh(multi(2,{KEY},{KEY},{KEY}))")


def test_what_is_not_wrapped(decodescript: Any) -> None:
    p2sh = decodescript(f"a914{KEY_HASH}87")
    assert p2sh["type"] == "scripthash" and "p2sh" not in p2sh and "segwit" not in p2sh
    nulldata = decodescript("6a" + "48" + "30" * 72)
    assert nulldata["type"] == "nulldata" and "p2sh" not in nulldata
    for uncompressed in ("41" + UNCOMPRESSED + "ac", "52" + "21" + KEY + "41" + UNCOMPRESSED + "52ae"):
        result = decodescript(uncompressed)  # segwit cannot check an uncompressed key
        assert "p2sh" in result and "segwit" not in result
    for program in ("0014" + KEY_HASH, "0020" + "d8" * 32):  # a witness program nests in P2SH only
        result = decodescript(program)
        assert "p2sh" in result and "segwit" not in result
    taproot = decodescript("5120" + "01" * 32)
    assert taproot["type"] == "witness_v1_taproot" and "p2sh" not in taproot
    assert "p2sh" not in decodescript("50")  # OP_SUCCESS80 in tapscript: not wrapped
    assert "p2sh" not in decodescript("ba")  # OP_CHECKSIGADD


def test_a_nonstandard_script_and_the_empty_one(decodescript: Any) -> None:
    cltv = "63" + "21" + KEY + "ad670320a107b17568" + "21" + KEY + "ac"
    result = decodescript(cltv)
    assert result["type"] == "nonstandard"
    assert result["asm"] == (f"OP_IF {KEY} OP_CHECKSIGVERIFY OP_ELSE 500000 OP_CHECKLOCKTIMEVERIFY OP_DROP "
                             f"OP_ENDIF {KEY} OP_CHECKSIG")
    assert result["segwit"]["asm"] == "0 " + hashlib.sha256(bytes.fromhex(cltv)).hexdigest()
    empty = decodescript("")
    assert (empty["asm"], empty["desc"], empty["type"]) == ("", add_checksum("raw()"), "nonstandard")


def test_cores_argument_errors(decodescript: Any) -> None:
    with pytest.raises(RpcError) as caught:
        decodescript("zz")
    assert caught.value.to_json() == {"code": -8, "message": "argument must be hexadecimal string (not 'zz')"}
    with pytest.raises(RpcError) as caught:
        decodescript(5)
    assert caught.value.to_json()["code"] == -3


@pytest.fixture
def createrawtransaction() -> Any:
    return RawTransactionsRpc(RpcContext(SimpleNamespace(network=REGTEST), lambda: None)).createrawtransaction  # type: ignore[arg-type]


def test_createrawtransaction_builds_an_unsigned_transaction(createrawtransaction: Any) -> None:
    """Decoded independently by python-bitcoinlib."""
    address = segwit_address(bytes.fromhex(KEY_HASH))
    raw = createrawtransaction([{"txid": "11" * 32, "vout": 3}], {address: "0.5", "data": "cafe"}, 0)
    tx = CTransaction.deserialize(bytes.fromhex(raw))
    assert (tx.nVersion, tx.nLockTime, len(tx.vin), tx.vin[0].prevout.n, tx.vin[0].nSequence) == (2, 0, 1, 3,
                                                                                                  0xFFFFFFFD)
    assert [(out.nValue, bytes(out.scriptPubKey).hex()) for out in tx.vout] == [
        (50_000_000, "0014" + KEY_HASH), (0, "6a02cafe")]
    final = CTransaction.deserialize(bytes.fromhex(createrawtransaction([{"txid": "11" * 32, "vout": 0}], [], 7, False)))
    assert (final.nLockTime, final.vin[0].nSequence) == (7, 0xFFFFFFFE)  # non-final so the lock time counts


@pytest.mark.parametrize(("inputs", "outputs", "code", "message"), [
    ([{"txid": "11" * 32}], {}, -8, "Invalid parameter, missing vout key"),
    ([{"txid": "11" * 32, "vout": -1}], {}, -8, "Invalid parameter, vout cannot be negative"),
    ([{"txid": "zz", "vout": 0}], {}, -8, "txid must be of length 64 (not 2, for 'zz')"),
    ([], {"bcrt1qnotanaddress": 1}, -5, "Invalid Bitcoin address: bcrt1qnotanaddress"),
    ([], [{"data": "00"}, {"data": "01"}], -8, "Invalid parameter, duplicate key: data"),
    ([], {"data": "zz"}, -8, "Data must be hexadecimal string (not 'zz')"),
    ("x", {}, -3, None),
])
def test_createrawtransaction_errors_are_cores(createrawtransaction: Any, inputs: Any, outputs: Any, code: int,
                                               message: str | None) -> None:
    with pytest.raises(RpcError) as caught:
        createrawtransaction(inputs, outputs)
    assert caught.value.code == code and (message is None or caught.value.message == message)
