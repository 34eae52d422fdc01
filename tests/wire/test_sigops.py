"""Signature-operation counts (Core's GetSigOpCount and GetLegacySigOpCount), run against both twins
(`wire_impl`).

References: the cases of Core's sigopcount_tests (a 1-of-2 multisig counts 2 accurately and 20
otherwise), pushes of every width that hide sigop bytes, truncated pushes ending the count as
Core's GetOp failing ends its loop; then the compiled twin against the pure one on every script
of the real blocks and on random scripts.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pantheon import _wire_py
from pantheon.primitives import Tx, TxIn, TxOut

KEY = b"\x21" + bytes(33)  # a push of a 33-byte key
MULTISIG_1_OF_2 = b"\x51" + KEY + KEY + b"\x52\xae"  # OP_1 <key> <key> OP_2 OP_CHECKMULTISIG


@pytest.mark.parametrize(("script", "inaccurate", "accurate"), [
    (b"", 0, 0),
    (bytes.fromhex("76a914") + b"\xac" * 20 + bytes.fromhex("88ac"), 1, 1),  # P2PKH: the pushed hash is data
    (MULTISIG_1_OF_2, 20, 2),  # Core's sigopcount_tests
    (KEY + b"\x60\xaf", 20, 16),  # OP_16 just before CHECKMULTISIGVERIFY
    (b"\x60" + KEY + b"\xaf", 20, 20),  # OP_16, but a push between: 20 either way
    (b"\x00\xae", 20, 20),  # OP_0 states no count: 20 either way
    (b"\x63\xac\x68" + MULTISIG_1_OF_2, 21, 3),  # OP_IF OP_CHECKSIG OP_ENDIF, then the multisig
    (b"\xad\xaf", 21, 21),  # CHECKSIGVERIFY, then CHECKMULTISIGVERIFY after a non-number
    (b"\x4c\x02\xac\xac\xac", 1, 1),  # PUSHDATA1 hides two
    (b"\x4d\x01\x00\xac\xac", 1, 1),  # PUSHDATA2
    (b"\x4e\x01\x00\x00\x00\xac\xac", 1, 1),  # PUSHDATA4
    (b"\xac\x05\xac\xac", 1, 1),  # a truncated direct push ends the count
    (b"\xac\x4d\x01", 1, 1),  # a truncated PUSHDATA2 length too
    (b"\xac\x4e\xff\xff\xff\xff\xac", 1, 1),  # a PUSHDATA4 of 4 GB past the end
])
def test_core_counts(wire_impl: Any, script: bytes, inaccurate: int, accurate: int) -> None:
    count = wire_impl.module.script_sigops
    assert count(script) == count(script, False) == inaccurate
    assert count(script, True) == count(bytearray(script), accurate=True) == accurate


def test_a_transactions_legacy_count_is_its_scripts(wire_impl: Any) -> None:
    """Every scriptSig and every scriptPubKey, counted inaccurately; the coinbase's too."""
    tx = Tx(2, [TxIn(bytes(32), 0xFFFF_FFFF, b"\x03\x01\x02\x03" + b"\xac", 0)],
            [TxOut(1, MULTISIG_1_OF_2), TxOut(2, bytes.fromhex("76a914") + bytes(20) + bytes.fromhex("88ac"))], 0)
    assert wire_impl.module.tx_legacy_sigops(tx) == 1 + 20 + 1


@pytest.mark.parametrize("bad", [None, "ac", 172])
def test_what_is_not_a_script_or_a_tx(wire_impl: Any, bad: Any) -> None:
    with pytest.raises(TypeError):
        wire_impl.module.script_sigops(bad)
    with pytest.raises(TypeError, match="expected Tx"):
        wire_impl.module.tx_legacy_sigops(bad)


@pytest.mark.compiled
def test_twins_agree_on_real_blocks(block_vector: tuple[dict[str, Any], bytes, Any]) -> None:
    from pantheon import _wire

    _, data, _ = block_vector
    block = _wire.decode_block(data)
    for tx in block.transactions:
        assert _wire.tx_legacy_sigops(tx) == _wire_py.tx_legacy_sigops(tx)
        for script in [txin.script_sig for txin in tx.inputs] + [txout.script_pubkey for txout in tx.outputs]:
            for accurate in (False, True):
                assert _wire.script_sigops(script, accurate) == _wire_py.script_sigops(script, accurate)


@pytest.mark.compiled
@given(st.lists(st.sampled_from([b"\xac", b"\xad", b"\xae", b"\xaf", b"\x51", b"\x60", b"\x00", b"\x4c\x01",
                                 b"\x4d\x02\x00", b"\x4e\x03\x00\x00\x00", b"\x02"]) | st.binary(max_size=3),
                max_size=40).map(b"".join), st.booleans())
def test_twins_agree_on_random_scripts(script: bytes, accurate: bool) -> None:
    """Scripts drawn from sigop opcodes, small numbers and pushes of every width (some truncated)
    as often as from random bytes."""
    from pantheon import _wire

    assert _wire.script_sigops(script, accurate) == _wire_py.script_sigops(script, accurate)
