"""Script vocabulary (`pantheon.chain.script`): the GetOp loop and each output-shape predicate on
real scripts, each predicate beside a look-alike one byte or one length away that must fail it.

Real scripts come from `vectors/tx/mainnet_txs_by_type.json` (six mainnet spends, one per type:
the outputs they spend, their scriptSigs and outputs), and P2A from Bitcoin Core's functional test
framework (`test_framework/script_util.py`: `PAY_TO_ANCHOR = CScript([OP_1, bytes.fromhex("4e73")])`,
`ANCHOR_ADDRESS = "bcrt1pfeesnyr2tx"`). The opcode values are Core's `script.h`, typed here a
second time on purpose."""

from __future__ import annotations

from typing import Callable

import pytest
from helpers.vectors import TYPED_TXS

from pantheon import params, wire
from pantheon.chain import script
from pantheon.chain.addresses import script_to_address
from pantheon.primitives import Tx

_TYPED = {entry["type"]: entry for entry in TYPED_TXS}


def _spent(kind: str) -> bytes:
    """The scriptPubKey the vector's input spends."""
    return bytes.fromhex(_TYPED[kind]["spent_output"]["script_pubkey_hex"])


def _tx(kind: str) -> Tx:
    return wire.decode_tx(bytes.fromhex(_TYPED[kind]["hex"]))


P2PKH = _spent("P2PKH")
P2SH = _spent("multisig P2SH")
P2SH_P2WPKH = _spent("P2SH-P2WPKH")
P2WPKH = _spent("native P2WPKH")
P2WSH = _spent("P2WSH")
P2TR = _spent("P2TR key-path")
OP_RETURN_OUTPUT = _tx("P2TR key-path").outputs[0].script_pubkey  # "I like Schnorr sigs and I cannot lie..."
P2PKH_SCRIPT_SIG = _tx("P2PKH").inputs[0].script_sig  # <signature> <public key>
MULTISIG_SCRIPT_SIG = _tx("multisig P2SH").inputs[0].script_sig  # OP_0 <sig> <sig> <2-of-3 redeem script>
P2A = bytes.fromhex("51024e73")

Predicate = Callable[[bytes], bool]
PREDICATES: list[Predicate] = [
    script.is_p2pkh, script.is_p2sh, script.is_p2wpkh, script.is_p2wsh, script.is_p2tr, script.is_p2a]


@pytest.mark.parametrize(("real", "holds"), [
    (P2PKH, script.is_p2pkh), (P2SH, script.is_p2sh), (P2SH_P2WPKH, script.is_p2sh), (P2WPKH, script.is_p2wpkh),
    (P2WSH, script.is_p2wsh), (P2TR, script.is_p2tr), (P2A, script.is_p2a),
], ids=["p2pkh", "p2sh", "p2sh-p2wpkh", "p2wpkh", "p2wsh", "p2tr", "p2a"])
def test_each_real_output_has_exactly_its_shape(real: bytes, holds: Predicate) -> None:
    assert [predicate for predicate in PREDICATES if predicate(real)] == [holds]


@pytest.mark.parametrize(("look_alike", "fails"), [
    (P2PKH[:-2] + b"\x87\xac", script.is_p2pkh),  # OP_EQUAL where OP_EQUALVERIFY stands
    (P2PKH[:2] + b"\x13" + P2PKH[4:], script.is_p2pkh),  # a 19-byte hash
    (P2PKH + b"\x61", script.is_p2pkh),  # one opcode more
    (P2SH[:-1] + b"\x88", script.is_p2sh),  # OP_EQUALVERIFY where OP_EQUAL stands
    (P2SH[:1] + b"\x4c" + P2SH[1:], script.is_p2sh),  # the hash pushed with OP_PUSHDATA1: BIP16 wants the direct push
    (b"\x51" + P2WPKH[1:], script.is_p2wpkh),  # version 1, not 0
    (P2WPKH[:1] + b"\x15" + P2WPKH[2:] + b"\x00", script.is_p2wpkh),  # a 21-byte program
    (P2TR, script.is_p2wsh),  # 32 bytes, but version 1
    (b"\x00" + P2TR[1:], script.is_p2tr),  # 32 bytes, but version 0
    (b"\x52" + P2TR[1:], script.is_p2tr),  # version 2
    (P2A[:-1] + b"\x74", script.is_p2a),  # another 2-byte program
    (b"\x00" + P2A[1:], script.is_p2a),  # version 0
    (P2A + b"\x00", script.is_p2a),
])
def test_a_look_alike_fails(look_alike: bytes, fails: Predicate) -> None:
    assert not fails(look_alike)


def test_p2a_is_cores_pay_to_anchor() -> None:
    assert script_to_address(P2A, params.REGTEST) == "bcrt1pfeesnyr2tx"


@pytest.mark.parametrize(("real", "version", "size"), [
    (P2WPKH, 0, 20), (P2WSH, 0, 32), (P2TR, 1, 32), (P2A, 1, 2),
    (_tx("P2SH-P2WPKH").inputs[0].script_sig[1:], 0, 20),  # the redeem script a P2SH-P2WPKH spend pushes
])
def test_witness_program_gives_version_and_program(real: bytes, version: int, size: int) -> None:
    assert script.witness_program(real) == (version, real[2:]) and len(real[2:]) == size


@pytest.mark.parametrize("look_alike", [
    P2PKH, P2SH,
    b"\x4f" + P2WPKH[1:],  # OP_1NEGATE is no version
    b"\x50" + P2WPKH[1:],  # nor is OP_RESERVED
    b"\x00\x01\x01",  # a 1-byte program
    b"\x00\x29" + b"\x01" * 41,  # a 41-byte program
    P2WPKH + b"\x00",  # the push does not end the script
    P2WPKH[:1] + b"\x4c" + P2WPKH[1:],  # a program pushed with OP_PUSHDATA1
    b"",
])
def test_witness_program_refuses_look_alikes(look_alike: bytes) -> None:
    assert script.witness_program(look_alike) is None


def test_witness_programs_reach_version_16_and_40_bytes() -> None:
    assert script.witness_program(b"\x60\x28" + b"\x01" * 40) == (16, b"\x01" * 40)
    assert script.witness_program(b"\x60\x02\x01\x02") == (16, b"\x01\x02")


def test_unspendable_is_op_return_first_or_oversize() -> None:
    assert script.is_unspendable(OP_RETURN_OUTPUT)
    assert not script.is_unspendable(b"\x51" + OP_RETURN_OUTPUT)  # OP_RETURN later only fails when run
    assert script.is_unspendable(b"\x51" * (script.MAX_SCRIPT_SIZE + 1))
    assert not script.is_unspendable(b"\x51" * script.MAX_SCRIPT_SIZE)
    assert not any(map(script.is_unspendable, (b"", P2PKH, P2TR, P2A)))


@pytest.mark.parametrize("push_only", [
    P2PKH_SCRIPT_SIG, MULTISIG_SCRIPT_SIG, b"", b"\x4f", b"\x50", b"\x60",  # OP_1NEGATE, OP_RESERVED, OP_16
    b"\x4d\x01\x00\xac", b"\x4e\x01\x00\x00\x00\xac",  # PUSHDATA2/4: the 0xac is data
])
def test_push_only_scripts(push_only: bytes) -> None:
    assert script.is_push_only(push_only)


@pytest.mark.parametrize("look_alike", [
    P2PKH_SCRIPT_SIG + b"\x61",  # OP_NOP, the first opcode above OP_16
    P2PKH_SCRIPT_SIG[:-1],  # the key's push truncated
    P2PKH,  # a scriptPubKey: OP_DUP ...
])
def test_not_push_only(look_alike: bytes) -> None:
    assert not script.is_push_only(look_alike)


def test_script_ops_reads_a_real_p2sh_multisig_spend() -> None:
    ops = list(script.script_ops(MULTISIG_SCRIPT_SIG))
    assert [(opcode, len(data) if data is not None else None) for opcode, data in ops] == [
        (0x00, 0), (0x48, 72), (0x48, 72), (0x4C, 105)]  # OP_0, two signatures, PUSHDATA1 redeem script
    redeem = ops[-1][1]
    assert redeem is not None
    assert [(opcode, data is not None) for opcode, data in script.script_ops(redeem)] == [  # 2 <3 keys> 3 CHECKMULTISIG
        (0x52, False), (0x21, True), (0x21, True), (0x21, True), (0x53, False), (0xAE, False)]


def test_script_ops_decodes_each_push_width() -> None:
    assert list(script.script_ops(b"\x4c\x02\xaa\xbb\x4d\x01\x00\xcc\x4e\x00\x00\x00\x00\x76")) == [
        (0x4C, b"\xaa\xbb"), (0x4D, b"\xcc"), (0x4E, b""), (0x76, None)]


def test_a_cut_inside_any_push_is_malformed() -> None:
    """Every prefix of a real scriptSig either ends between two operations or raises."""
    boundaries = {0, 1 + 72, 1 + 72 + 1 + 33}  # after <signature>, after <public key>
    assert len(P2PKH_SCRIPT_SIG) == 1 + 72 + 1 + 33
    for cut in range(len(P2PKH_SCRIPT_SIG) + 1):
        if cut in boundaries:
            assert len(list(script.script_ops(P2PKH_SCRIPT_SIG[:cut]))) == sorted(boundaries).index(cut)
        else:
            with pytest.raises(script.MalformedScript):
                list(script.script_ops(P2PKH_SCRIPT_SIG[:cut]))
    for truncated in (b"\x4c", b"\x4d\x01", b"\x4e\x01\x00\x00"):  # the length field itself cut
        with pytest.raises(script.MalformedScript):
            list(script.script_ops(truncated))


def test_small_numbers_and_their_opcodes() -> None:
    assert [script.encode_op_n(n) for n in range(17)] == [0x00, *range(0x51, 0x61)]
    assert [script.decode_op_n(script.encode_op_n(n)) for n in range(17)] == list(range(17))
    for bad in (-1, 17):
        with pytest.raises(ValueError):
            script.encode_op_n(bad)
    for bad in (0x4F, 0x50, 0x61):  # OP_1NEGATE, OP_RESERVED, OP_NOP
        with pytest.raises(ValueError):
            script.decode_op_n(bad)


#: Core's script.h `opcodetype` values for the names Pantheon uses.
CORE_OPCODES = {
    "OP_0": 0x00, "OP_PUSHDATA1": 0x4C, "OP_PUSHDATA2": 0x4D, "OP_PUSHDATA4": 0x4E, "OP_1NEGATE": 0x4F,
    "OP_RESERVED": 0x50, **{f"OP_{n}": 0x50 + n for n in range(1, 17)}, "OP_NOP": 0x61, "OP_RETURN": 0x6A,
    "OP_DUP": 0x76, "OP_EQUAL": 0x87, "OP_EQUALVERIFY": 0x88, "OP_HASH160": 0xA9, "OP_CHECKSIG": 0xAC,
    "OP_CHECKSIGVERIFY": 0xAD, "OP_CHECKMULTISIG": 0xAE, "OP_CHECKMULTISIGVERIFY": 0xAF, "OP_NOP10": 0xB9,
    "OP_CHECKSIGADD": 0xBA, "OP_INVALIDOPCODE": 0xFF,
}


def test_opcode_values_are_cores() -> None:
    assert {name: getattr(script, name) for name in script.__all__ if name.startswith("OP_")} == CORE_OPCODES


def test_script_limits_are_cores() -> None:
    limits = (script.MAX_SCRIPT_SIZE, script.MAX_SCRIPT_ELEMENT_SIZE, script.MAX_PUBKEYS_PER_MULTISIG)
    assert limits == (10_000, 520, 20)
    assert script.MAX_OPCODE == script.OP_NOP10


@pytest.mark.parametrize(("hex_script", "valid"), [
    ("", True), ("51b9", True), ("ba", False),  # OP_NOP10 is the last opcode defined outside tapscript
    ("4d0802" + "00" * 520, True), ("4d0902" + "00" * 521, False),  # a push of 520 bytes at most
    ("4c05" + "00" * 4, False),  # a truncated push
])
def test_has_valid_ops_is_cores(hex_script: str, valid: bool) -> None:
    assert script.has_valid_ops(bytes.fromhex(hex_script)) is valid


def test_op_success_is_bip342s() -> None:
    success = [opcode for opcode in range(256) if script.is_op_success(opcode)]
    assert success == [80, 98, 126, 127, 128, 129, 131, 132, 133, 134, 137, 138, 141, 142, 149, 150, 151, 152,
                       153, *range(187, 255)]
