"""Standardness policy (`pantheon.chain.policy`) on both wire twins: every `IsStandardTx` reject
reason with a transaction built to hit it, the edges just inside, dust thresholds, the output
types Core's `Solver` names, and the sigop-adjusted virtual size.

Policy reads a transaction alone, so the input here is a 50-coin P2WSH(OP_TRUE) outpoint that
exists nowhere (the mempool tests spend real ones, tests/test_chain_mempool.py). Every
transaction is encoded and decoded by the twin under test (`relay`) before it is judged."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from helpers.chain import P2WSH_TRUE, Prevout, relay, spend
from helpers.standard_outputs import KEY, P2A, P2PKH, P2SH, multisig

from pantheon.chain.policy import (
    check_standard_tx,
    dust_threshold,
    is_witness_standard,
    output_type,
    virtual_size,
)
from pantheon.chain.validation import TxRejected
from pantheon.primitives import OutPoint, Tx, TxIn, TxOut

COIN: Prevout = (OutPoint(b"\x01" * 32, 0), TxOut(50 * 100_000_000, P2WSH_TRUE))


def _with_output(script: bytes, value: int = 10_000) -> Callable[[], Tx]:
    return lambda: spend([COIN], [TxOut(value, script), TxOut(COIN[1].value - 100_000, P2WSH_TRUE)])


REJECTS: list[tuple[str, Callable[[], Tx]]] = [
    ("version", lambda: spend([COIN], version=4)),
    ("version", lambda: spend([COIN], version=0)),
    ("tx-size", lambda: Tx(2, [TxIn(COIN[0].txid, COIN[0].index, b"", 0xFFFF_FFFE, (b"\x00" * 400_000, b"\x51"))],
                           [TxOut(COIN[1].value - 500_000, P2WSH_TRUE)], 0)),  # witness bytes weigh too
    ("scriptsig-size", lambda: spend([COIN], script_sig=b"\x4d\x70\x06" + b"\x00" * 1_648)),
    ("scriptsig-not-pushonly", lambda: spend([COIN], script_sig=b"\x76")),
    ("scriptpubkey", _with_output(b"\x76\xac")),
    ("scriptpubkey", _with_output(b"\x00\x15" + b"\x01" * 21)),  # a v0 program of 21 bytes
    ("scriptpubkey", _with_output(multisig(1, 4))),
    ("scriptpubkey", _with_output(multisig(3, 2))),
    ("scriptpubkey", _with_output(b"\x6a\x76", 0)),  # OP_RETURN then a non-push: not nulldata
    ("dust", _with_output(P2WSH_TRUE, 329)),
    ("dust", _with_output(P2PKH, 545)),
]


@pytest.mark.parametrize(("reason", "build"), REJECTS, ids=[f"{i}-{reason}" for i, (reason, _) in enumerate(REJECTS)])
def test_each_standardness_reason(wire_impl: Any, reason: str, build: Callable[[], Tx]) -> None:
    tx = relay(wire_impl.module, build())
    with pytest.raises(TxRejected) as caught:
        check_standard_tx(tx)
    assert caught.value.reason == reason


def test_what_standardness_lets_through(wire_impl: Any) -> None:
    """The edges just inside: dust thresholds, an 83-byte OP_RETURN, a 3-key bare multisig, the
    standard and anchor types, and version 3."""
    outputs = [TxOut(330, P2WSH_TRUE), TxOut(546, P2PKH), TxOut(0, b"\x6a\x4c\x50" + b"\x00" * 80),
               TxOut(10_000, multisig(2, 3)), TxOut(240, P2A), TxOut(540, P2SH), TxOut(600, b"\x21" + KEY + b"\xac"),
               TxOut(330, b"\x51\x20" + b"\x01" * 32), TxOut(300, b"\x52\x02\x01\x02")]
    check_standard_tx(relay(wire_impl.module, spend([COIN], outputs + [TxOut(10**9, P2WSH_TRUE)])))
    check_standard_tx(relay(wire_impl.module, spend([COIN], version=3)))


@pytest.mark.parametrize(("script", "threshold"), [
    (P2PKH, 546), (bytes.fromhex("0014" + "11" * 20), 294), (P2WSH_TRUE, 330), (P2SH, 540),
    (b"\x6a\x01\x01", 0), (b"\x51" * 10_001, 0),  # OP_RETURN, and too big to spend: unspendable
])
def test_dust_thresholds_at_3_sat_per_vbyte(script: bytes, threshold: int) -> None:
    assert dust_threshold(TxOut(0, script)) == threshold


def test_op_return_outputs_share_the_datacarrier_bytes(wire_impl: Any) -> None:
    """Core 30: any number of OP_RETURN outputs, their scripts together within -datacarriersize
    (100,000 bytes by default; Core <= 29: one output of at most 83 bytes, "multi-op-return")."""
    two = relay(wire_impl.module, spend([COIN], [TxOut(0, b"\x6a\x01\x01"), TxOut(0, b"\x6a"),
                                                 TxOut(COIN[1].value - 10_000, P2WSH_TRUE)]))
    check_standard_tx(two, max_datacarrier_bytes=4)
    for refused in (3, None):
        with pytest.raises(TxRejected, match="datacarrier"):
            check_standard_tx(two, max_datacarrier_bytes=refused)
    big = relay(wire_impl.module, _with_output(b"\x6a\x4e" + (90_000).to_bytes(4, "little") + b"\x00" * 90_000, 0)())
    check_standard_tx(big)


def test_bare_multisig_can_be_refused() -> None:
    bare = _with_output(multisig(1, 1))()
    check_standard_tx(bare)
    with pytest.raises(TxRejected, match="bare-multisig"):
        check_standard_tx(bare, permit_bare_multisig=False)


UNCOMPRESSED_KEY = b"\x04" + b"\x33" * 64


@pytest.mark.parametrize(("script", "kind"), [
    (P2A, "anchor"),
    (P2SH, "scripthash"),
    (bytes.fromhex("0014" + "11" * 20), "witness_v0_keyhash"),
    (P2WSH_TRUE, "witness_v0_scripthash"),
    (b"\x51\x20" + b"\x01" * 32, "witness_v1_taproot"),
    (b"\x51\x14" + b"\x01" * 20, "witness_unknown"),  # v1, but not 32 bytes: not taproot
    (b"\x52\x02\x01\x02", "witness_unknown"),
    (b"\x00\x15" + b"\x01" * 21, "nonstandard"),  # v0 programs are 20 or 32 bytes
    (b"\x6a", "nulldata"),
    (b"\x6a\x4c\x50" + b"\x00" * 80, "nulldata"),
    (b"\x6a\x76", "nonstandard"),  # OP_RETURN then a non-push
    (P2PKH, "pubkeyhash"),
    (b"\x21" + KEY + b"\xac", "pubkey"),
    (b"\x41" + UNCOMPRESSED_KEY + b"\xac", "pubkey"),
    (b"\x21\x05" + b"\x33" * 32 + b"\xac", "nonstandard"),  # 0x05 announces no valid key
    (multisig(2, 3), "multisig:2:3"),
    (multisig(1, 1), "multisig:1:1"),
    (multisig(3, 2), "nonstandard"),  # more signatures than keys
    (b"\x52\x21" + KEY + b"\x52\xae", "nonstandard"),  # says two keys, names one
    (b"\x76\xac", "nonstandard"),
    (b"\x4c", "nonstandard"),  # a truncated push
    (b"", "nonstandard"),
])
def test_output_types_are_cores_solver_names(script: bytes, kind: str) -> None:
    assert output_type(script) == kind


@pytest.mark.parametrize(("weight", "sigop_cost", "vsize"), [
    (400, 0, 100), (401, 0, 101),  # rounded up to whole vbytes
    (400, 20, 100), (400, 21, 105),  # 20 bytes a sigop: counts once it outweighs the weight
])
def test_virtual_size_counts_sigops_at_20_bytes(weight: int, sigop_cost: int, vsize: int) -> None:
    assert virtual_size(weight, sigop_cost) == vsize


def _with_witness(*witness: bytes, script_sig: bytes = b"") -> Tx:
    return Tx(2, [TxIn(b"\x01" * 32, 0, script_sig, 0xFFFF_FFFE, witness)], [TxOut(1_000, P2WSH_TRUE)], 0)


TAPROOT = b"\x51\x20" + b"\x07" * 32


@pytest.mark.parametrize(("tx", "spent", "standard"), [
    (_with_witness(b"\x51"), P2WSH_TRUE, True),
    (_with_witness(b"\x00" * 80, b"\x51"), P2WSH_TRUE, True),
    (_with_witness(b"\x00" * 81, b"\x51"), P2WSH_TRUE, False),  # a P2WSH stack item over 80 bytes
    (_with_witness(*[b""] * 101, b"\x51"), P2WSH_TRUE, False),  # over 100 P2WSH stack items
    (_with_witness(b"f"), P2A, False),  # an anchor spent with a witness (malleable wtxid)
    (_with_witness(b"\x51"), P2PKH, False),  # a witness where no witness program is spent
    (_with_witness(b"\x51", script_sig=b"\x22" + P2WSH_TRUE), P2SH, True),  # P2SH-wrapped P2WSH
    (_with_witness(b"\x51", script_sig=b"\x01\x51"), P2SH, False),  # its redeem script no witness program
    (_with_witness(b"\x01" * 64), TAPROOT, True),  # key path
    (_with_witness(b"\x01" * 64, b"\x50annex"), TAPROOT, False),  # an annex
    (_with_witness(b"\x00" * 81, b"\x51", b"\xc0" + b"\x02" * 32), TAPROOT, False),  # a tapscript item over 80
    (_with_witness(b"\x00" * 81, b"\x51", b"\xc2" + b"\x02" * 32), TAPROOT, True),  # an unknown leaf version
])
def test_witness_standardness_is_cores(tx: Tx, spent: bytes, standard: bool) -> None:
    assert is_witness_standard(tx, [spent]) is standard
