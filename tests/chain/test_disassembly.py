"""Script disassembly (`pantheon.chain.disassembly`) against the strings Bitcoin Core prints: the
cases of Core's functional test rpc_decodescript.py (decodescript and decoderawtransaction on
real mainnet transactions and hand-crafted look-alikes), plus Core's number and opcode rules."""

from __future__ import annotations

from typing import Any

import pytest

from helpers.decodescript import P2PKH_SPEND, P2PKH_SPEND_SCRIPT_SIG_ASM
from pantheon.chain.disassembly import script_to_asm

SIGNATURE = ("304502207fa7a6d1e0ee81132a269ad84e68d695483745cde8b541e3bf630749894e342a022100c1f7ab20e13e22fb"
             "95281a870f3dcf38d782e53023ee313d741ad0cfbc0c509001")
PUBKEY = "03b0da749730dc9b4b1f4a14d6902877a92541f5368778853d9c4a0cb7802dcfb2"
PUBKEY_HASH = "5dd1d3a048119c27b28293056724d9522f26d945"

# Source of every hex string here and its expected asm: Bitcoin Core's test/functional/rpc_decodescript.py.
# Mainnet: a P2PKH spend (helpers/decodescript.py, shared with the node's RPC test), and the
# scriptSig of a 2-of-3 P2SH multisig spend (OP_0 <sig> <sig> <redeem script via OP_PUSHDATA1>).
MULTISIG_SCRIPT_SIG = (
    "00483045022100ae3b4e589dfc9d48cb82d41008dc5fa6a86f94d5c54f9935531924602730ab8002202f88cf464414c4ed9fa11b773c"
    "5ee944f66e9b05cc1e51d97abc22ce098937ea01483045022100b44883be035600e9328a01b66c7d8439b74db64187e76b99a68f7893"
    "b701d5380220225bf286493e4c4adcf928c40f785422572eb232f84a0b83b0dea823c3a19c75014c695221020743d44be989540d27b1"
    "b4bbbcfd17721c337cb6bc9af20eb8a32520b393532f2102c0120a1dda9e51a938d39ddd9fe0ebc45ea97e1d27a7cbd671d5431416d3"
    "dd87210213820eb3d5f509d7438c9eeecb4157b2f595105e7cd564b3cdbb9ead3da41eed53ae")
MULTISIG_SCRIPT_SIG_ASM = (
    "0 3045022100ae3b4e589dfc9d48cb82d41008dc5fa6a86f94d5c54f9935531924602730ab8002202f88cf464414c4ed9fa11b773c5e"
    "e944f66e9b05cc1e51d97abc22ce098937ea[ALL] 3045022100b44883be035600e9328a01b66c7d8439b74db64187e76b99a68f7893"
    "b701d5380220225bf286493e4c4adcf928c40f785422572eb232f84a0b83b0dea823c3a19c75[ALL] 5221020743d44be989540d27b1"
    "b4bbbcfd17721c337cb6bc9af20eb8a32520b393532f2102c0120a1dda9e51a938d39ddd9fe0ebc45ea97e1d27a7cbd671d5431416d3"
    "dd87210213820eb3d5f509d7438c9eeecb4157b2f595105e7cd564b3cdbb9ead3da41eed53ae")


@pytest.mark.parametrize(("script", "asm"), [
    # decodescript: scriptPubKey-style, so signatures are never decoded
    ("48" + SIGNATURE, SIGNATURE),
    ("48" + SIGNATURE + "21" + PUBKEY, f"{SIGNATURE} {PUBKEY}"),
    ("00" + "48" + SIGNATURE + "48" + SIGNATURE, f"0 {SIGNATURE} {SIGNATURE}"),
    ("76a914" + PUBKEY_HASH + "88ac", f"OP_DUP OP_HASH160 {PUBKEY_HASH} OP_EQUALVERIFY OP_CHECKSIG"),
    ("52" + ("21" + PUBKEY) * 3 + "53ae", f"2 {PUBKEY} {PUBKEY} {PUBKEY} 3 OP_CHECKMULTISIG"),
    ("a914" + PUBKEY_HASH + "87", f"OP_HASH160 {PUBKEY_HASH} OP_EQUAL"),
    ("6a" + "48" + SIGNATURE, f"OP_RETURN {SIGNATURE}"),
    ("63" + "21" + PUBKEY + "ad670320a107b17568" + "21" + PUBKEY + "ac",
     f"OP_IF {PUBKEY} OP_CHECKSIGVERIFY OP_ELSE 500000 OP_CHECKLOCKTIMEVERIFY OP_DROP OP_ENDIF {PUBKEY} OP_CHECKSIG"),
    ("0014" + PUBKEY_HASH, f"0 {PUBKEY_HASH}"),
    ("5120" + "01" * 32, "1 " + "01" * 32),
    ("6a09300602010002010001", "OP_RETURN 300602010002010001"),
    # numbers: pushes of up to 4 bytes as CScriptNum, minimal or not
    ("4f", "-1"), ("0181", "-1"), ("0180", "0"), ("0100", "0"), ("0480969800", "10000000"),
    ("04ffffff7f", "2147483647"), ("04ffffffff", "-2147483647"), ("0500e1f50500", "00e1f50500"),
    ("4c0107", "7"), ("4d0100ff", "-127"),
    # names
    ("50 b0 b1 b2 b9 ba bb fe ff 7e 89".replace(" ", ""),
     "OP_RESERVED OP_NOP1 OP_CHECKLOCKTIMEVERIFY OP_CHECKSEQUENCEVERIFY OP_NOP10 OP_CHECKSIGADD OP_UNKNOWN "
     "OP_UNKNOWN OP_INVALIDOPCODE OP_CAT OP_RESERVED1"),
    ("5a60", "10 16"),
    # a push running past the end
    ("4c", "[error]"), ("51" + "4c05" + "00", "1 [error]"), ("", ""),
])
def test_scripts_read_as_core_prints_them(script: str, asm: str) -> None:
    assert script_to_asm(bytes.fromhex(script)) == asm


def scriptsig_asm(script: str) -> str:
    return script_to_asm(bytes.fromhex(script), decode_signatures=True)


def test_script_sigs_show_the_signature_hash_type() -> None:
    der = SIGNATURE[:-2]
    assert scriptsig_asm("48" + SIGNATURE) == der + "[ALL]"
    assert scriptsig_asm("48" + der + "82") == der + "[NONE|ANYONECANPAY]"
    assert scriptsig_asm("48" + der + "03") == der + "[SINGLE]"
    assert scriptsig_asm("00" + "48" + SIGNATURE + "48" + der + "82") == f"0 {der}[ALL] {der}[NONE|ANYONECANPAY]"
    assert scriptsig_asm(MULTISIG_SCRIPT_SIG) == MULTISIG_SCRIPT_SIG_ASM
    # Core's crafted 20 bytes are a strictly DER, SIGHASH_ALL signature; spendable, so decoded
    crafted = "3011020701010101010101020601010101010101"
    assert scriptsig_asm("14" + crafted) == crafted[:-2] + "[ALL]"


@pytest.mark.parametrize(("script", "why"), [
    ("48" + SIGNATURE[:-2] + "04", "hash type 4 is not defined"),
    ("48" + SIGNATURE[:-2] + "00", "hash type 0 is not defined"),
    ("48" + "31" + SIGNATURE[2:], "not a DER sequence"),
    ("48" + SIGNATURE[:2] + "43" + SIGNATURE[4:], "the sequence length is wrong"),
    ("48" + SIGNATURE[:6] + "00" + SIGNATURE[8:], "R has a zero length, so the lengths do not add up"),
    ("48" + SIGNATURE[:8] + "80" + SIGNATURE[10:], "R is negative"),
    ("49" + "3046" + "0221" + "00" + SIGNATURE[8:], "R has a needless leading zero"),
    ("48" + SIGNATURE[:6] + "45" + SIGNATURE[8:], "R's length runs past the end"),
    ("48" + SIGNATURE[:72] + "03" + SIGNATURE[74:], "S is not marked as an integer"),
    ("48" + SIGNATURE[:76] + "80" + SIGNATURE[78:], "S is negative"),
    ("48" + SIGNATURE[:78] + "41" + SIGNATURE[80:], "S has a needless leading zero"),
    ("6a" + "48" + SIGNATURE, "an unspendable script is never decoded"),
    ("6a14" + "3011020701010101010101020601010101010101", "Core's crafted look-alike behind OP_RETURN"),
])
def test_look_alikes_are_left_as_hex(script: str, why: str) -> None:
    assert "[" not in scriptsig_asm(script), why
    assert scriptsig_asm(script).endswith(script[-20:])  # the push shown whole, its last byte included


def test_a_mainnet_p2pkh_spend(wire_impl: Any) -> None:
    tx = wire_impl.module.decode_tx(bytes.fromhex(P2PKH_SPEND))
    assert script_to_asm(tx.inputs[0].script_sig, decode_signatures=True) == P2PKH_SPEND_SCRIPT_SIG_ASM
    assert script_to_asm(tx.outputs[0].script_pubkey) == (
        "OP_DUP OP_HASH160 eb6c6e0cdb2d256a32d97b8df1fc75d1920d9bca OP_EQUALVERIFY OP_CHECKSIG")
