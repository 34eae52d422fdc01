"""Context-free block validation (`pantheon.chain.validation`) on both wire twins.

Every real block in tests/vectors/blocks (and the blk-file chain 0..438) passes at its height on
its network; for each rule, a hand-mutated copy of a real block, re-encoded and decoded by the twin,
fails with exactly Core's reason, and only the BLOCK_MUTATED ones say `mutated`.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any, Sequence

import pytest

from helpers.vectors import BLOCKS
from pantheon import hashing, params
from pantheon.chain import validation
from pantheon.chain.validation import BlockRejected, TxRejected
from pantheon.primitives import Block, BlockHeader, Tx, TxIn, TxOut

VECTORS = Path(__file__).parents[1] / "vectors" / "blocks"
MAIN = params.MAIN
PRE_SEGWIT = 300_025  # block_300025: 461 txs (odd), BIP34, no witness
SEGWIT = 482_683  # block_482683: 12 txs, segwit with a commitment


def network_of(entry: dict[str, Any]) -> params.Network:
    return params.MAIN if entry["network"] == "mainnet" else params.network(entry["network"])


@cache
def raw_block(name: str) -> bytes:
    return (VECTORS / name).read_bytes()


def load(wire_impl: Any, height: int) -> Block:
    block: Block = wire_impl.module.decode_block(raw_block(f"block_{height}.bin"))
    return block


def rebuild(wire_impl: Any, block: Block, txs: Sequence[Tx], root: bytes | None = None) -> Block:
    """`block` with `txs` (merkle root recomputed unless given), through the twin's codec."""
    header = block.header
    if root is None:
        root = hashing.merkle_root([tx.txid for tx in txs])[0]
    new_header = BlockHeader(header.version, header.prev_block, root, header.timestamp, header.bits, header.nonce)
    decoded: Block = wire_impl.module.decode_block(wire_impl.module.encode_block(Block(new_header, tuple(txs))))
    return decoded


def edit(tx: Tx, inputs: Sequence[TxIn] | None = None, outputs: Sequence[TxOut] | None = None) -> Tx:
    return Tx(tx.version, tx.inputs if inputs is None else inputs, tx.outputs if outputs is None else outputs,
              tx.locktime)


def recommit(txs: list[Tx]) -> list[Tx]:
    """The coinbase's witness commitment recomputed for `txs` (so a later rule is reached)."""
    coinbase = txs[0]
    (reserved,) = coinbase.inputs[0].witness
    commitment = hashing.expected_witness_commitment([tx.wtxid for tx in txs], reserved)
    outputs = [
        replace(out, script_pubkey=hashing.WITNESS_COMMITMENT_PREFIX + commitment)
        if hashing.witness_commitment([out.script_pubkey]) is not None else out
        for out in coinbase.outputs
    ]
    return [edit(coinbase, outputs=outputs), *txs[1:]]


def rejects(block: Block, height: int, reason: str, *, mutated: bool = False,
            network: params.Network = MAIN) -> None:
    with pytest.raises(BlockRejected) as caught:
        validation.validate_block(block, height, network)
    assert caught.value.reason == reason
    assert caught.value.mutated is mutated
    assert caught.value.block_hash == block.hash


# --- real blocks pass --------------------------------------------------------------------


@pytest.mark.parametrize("entry", BLOCKS, ids=lambda entry: entry["file"])
def test_real_blocks_pass(wire_impl: Any, entry: dict[str, Any]) -> None:
    block = wire_impl.module.decode_block(raw_block(entry["file"]))
    validation.validate_block(block, entry["height"], network_of(entry))


def test_mainnet_chain_0_to_438_passes(wire_impl: Any) -> None:
    data = raw_block("chain_0_to_438.blk")
    pos = height = 0
    while pos < len(data):
        magic, size = struct.unpack_from("<4sI", data, pos)
        assert magic == MAIN.magic_bytes
        validation.validate_block(wire_impl.module.decode_block(data[pos + 8 : pos + 8 + size]), height, MAIN)
        pos += 8 + size
        height += 1
    assert height == 439


def test_block_without_witness_or_commitment_passes_under_segwit(wire_impl: Any) -> None:
    """No commitment is fine under segwit as long as no tx has a witness."""
    validation.validate_block(load(wire_impl, PRE_SEGWIT), PRE_SEGWIT, replace(MAIN, segwit_height=0))


def test_commitment_without_reserved_value_fails_under_segwit(wire_impl: Any) -> None:
    """block_481815 (9 blocks before activation) already commits but has no reserved value."""
    rejects(load(wire_impl, 481_815), 481_815, "bad-witness-nonce-size", mutated=True,
            network=replace(MAIN, segwit_height=481_815))


# --- merkle root and CVE-2012-2459 -------------------------------------------------------


def test_wrong_merkle_root_is_mutated(wire_impl: Any) -> None:
    block = load(wire_impl, PRE_SEGWIT)
    rejects(rebuild(wire_impl, block, block.transactions, root=bytes(32)), PRE_SEGWIT, "bad-txnmrklroot",
            mutated=True)


def test_duplicated_last_tx_keeps_the_root_and_is_mutated(wire_impl: Any) -> None:
    block = load(wire_impl, PRE_SEGWIT)
    assert len(block.transactions) % 2 == 1
    txs = [*block.transactions, block.transactions[-1]]
    forged = rebuild(wire_impl, block, txs)
    assert forged.header == block.header  # same header, same hash: the real block must stay valid
    rejects(forged, PRE_SEGWIT, "bad-txns-duplicate", mutated=True)
    validation.validate_block(block, PRE_SEGWIT, MAIN)


# --- size and coinbase placement ---------------------------------------------------------


def test_stripped_size_over_1mb(wire_impl: Any) -> None:
    block = load(wire_impl, 481_815)
    filler = Tx(1, [TxIn(b"\x11" * 32, 0, b"\x51")], [TxOut(0, b"\x6a" + bytes(5_000))], 0)
    rejects(rebuild(wire_impl, block, [*block.transactions, filler]), 481_815, "bad-blk-length")


def test_no_transactions(wire_impl: Any) -> None:
    block = load(wire_impl, PRE_SEGWIT)
    rejects(rebuild(wire_impl, block, []), PRE_SEGWIT, "bad-blk-length")


def test_weight_over_4m_with_witness(wire_impl: Any) -> None:
    block = load(wire_impl, SEGWIT)
    txs = list(block.transactions)
    index = next(i for i, tx in enumerate(txs) if i and tx.has_witness)
    first, *rest = txs[index].inputs
    txs[index] = edit(txs[index], inputs=[replace(first, witness=(*first.witness, bytes(3_990_000))), *rest])
    forged = rebuild(wire_impl, block, recommit(txs))
    validation.check_block(forged)  # stripped size is unchanged: only the weight fails
    rejects(forged, SEGWIT, "bad-blk-weight")


def test_coinbase_missing(wire_impl: Any) -> None:
    block = load(wire_impl, PRE_SEGWIT)
    rejects(rebuild(wire_impl, block, block.transactions[1:]), PRE_SEGWIT, "bad-cb-missing")


def test_no_coinbase_with_a_64_byte_tx_is_mutated(wire_impl: Any) -> None:
    """Core's IsBlockMutated: a 64-byte tx could be an inner merkle node, so the header stays valid."""
    block = load(wire_impl, PRE_SEGWIT)
    tiny = Tx(1, [TxIn(b"\x11" * 32, 0, b"\x51" * 4)], [TxOut(0, b"")], 0)
    assert tiny.stripped_size == 64
    rejects(rebuild(wire_impl, block, [*block.transactions[1:], tiny]), PRE_SEGWIT, "bad-cb-missing", mutated=True)


def test_two_coinbases(wire_impl: Any) -> None:
    block = load(wire_impl, PRE_SEGWIT)
    coinbase = block.transactions[0]
    second = edit(coinbase, inputs=[replace(coinbase.inputs[0], script_sig=coinbase.inputs[0].script_sig + b"\x00")])
    rejects(rebuild(wire_impl, block, [coinbase, second, *block.transactions[1:]]), PRE_SEGWIT, "bad-cb-multiple")


@pytest.mark.parametrize("size", [1, 101])
def test_coinbase_script_length(wire_impl: Any, size: int) -> None:
    block = load(wire_impl, PRE_SEGWIT)
    coinbase = block.transactions[0]
    script = (coinbase.inputs[0].script_sig + bytes(100))[:size]
    txs = [edit(coinbase, inputs=[replace(coinbase.inputs[0], script_sig=script)]), *block.transactions[1:]]
    rejects(rebuild(wire_impl, block, txs), PRE_SEGWIT, "bad-cb-length")


# --- CheckTransaction --------------------------------------------------------------------


def with_tx(wire_impl: Any, block: Block, index: int, tx: Tx) -> Block:
    txs = list(block.transactions)
    txs[index] = tx
    return rebuild(wire_impl, block, txs)


@pytest.mark.parametrize(
    ("value", "reason"),
    [(-1, "bad-txns-vout-negative"), (validation.MAX_MONEY + 1, "bad-txns-vout-toolarge")],
)
def test_output_value_range(wire_impl: Any, value: int, reason: str) -> None:
    block = load(wire_impl, PRE_SEGWIT)
    tx = block.transactions[1]
    forged = with_tx(wire_impl, block, 1, edit(tx, outputs=[replace(tx.outputs[0], value=value), *tx.outputs[1:]]))
    rejects(forged, PRE_SEGWIT, reason)


def test_output_total_over_21m(wire_impl: Any) -> None:
    block = load(wire_impl, PRE_SEGWIT)
    tx = block.transactions[1]
    outputs = [replace(tx.outputs[0], value=validation.MAX_MONEY), replace(tx.outputs[0], value=1)]
    validation.check_transaction(edit(tx, outputs=outputs[:1]))  # exactly 21M BTC is allowed
    rejects(with_tx(wire_impl, block, 1, edit(tx, outputs=outputs)), PRE_SEGWIT, "bad-txns-txouttotal-toolarge")


def test_duplicate_input_cve_2018_17144(wire_impl: Any) -> None:
    block = load(wire_impl, PRE_SEGWIT)
    tx = block.transactions[1]
    forged = with_tx(wire_impl, block, 1, edit(tx, inputs=[*tx.inputs, tx.inputs[0]]))
    rejects(forged, PRE_SEGWIT, "bad-txns-inputs-duplicate")


def test_null_prevout_outside_the_coinbase(wire_impl: Any) -> None:
    block = load(wire_impl, PRE_SEGWIT)
    tx = block.transactions[1]
    null = TxIn(bytes(32), 0xFFFF_FFFF, b"\x51\x51")
    rejects(with_tx(wire_impl, block, 1, edit(tx, inputs=[*tx.inputs, null])), PRE_SEGWIT, "bad-txns-prevout-null")


def test_no_outputs(wire_impl: Any) -> None:
    block = load(wire_impl, PRE_SEGWIT)
    rejects(with_tx(wire_impl, block, 1, edit(block.transactions[1], outputs=[])), PRE_SEGWIT,
            "bad-txns-vout-empty")


def test_no_inputs() -> None:
    """Not through the codec: a tx with no inputs reads as a segwit marker on the wire (as in Core)."""
    tx = Tx(1, [], [TxOut(1, b"\x51")], 0)
    with pytest.raises(TxRejected, match="bad-txns-vin-empty") as caught:
        validation.check_transaction(tx)
    assert caught.value.txid == tx.txid


def test_oversize_tx() -> None:
    """Unreachable inside a block (bad-blk-length comes first), so checked on its own."""
    tx = Tx(1, [TxIn(b"\x11" * 32, 0, bytes(1_000_000))], [TxOut(1, b"\x51")], 0)
    with pytest.raises(TxRejected) as caught:
        validation.check_transaction(tx)
    assert caught.value.reason == "bad-txns-oversize"


# --- sigops ------------------------------------------------------------------------------


def test_legacy_sigops_over_the_limit(wire_impl: Any) -> None:
    block = load(wire_impl, PRE_SEGWIT)
    tx = block.transactions[1]
    checksigs = b"\xac" * (validation.MAX_BLOCK_SIGOPS_COST // 4)
    forged = with_tx(wire_impl, block, 1, edit(tx, inputs=[replace(tx.inputs[0], script_sig=checksigs),
                                                           *tx.inputs[1:]]))
    rejects(forged, PRE_SEGWIT, "bad-blk-sigops")


@pytest.mark.parametrize(
    ("script", "count"),
    [
        (b"", 0),
        (bytes.fromhex("76a914") + b"\xac" * 20 + bytes.fromhex("88ac"), 1),  # P2PKH: the hash is data
        (b"\x52\x21" + bytes(33) + b"\x21" + bytes(33) + b"\x52\xae", 20),  # fAccurate=false: 20, not 2
        (b"\xad\xaf", 21),
        (b"\x4c\x02\xac\xac\xac", 1),  # PUSHDATA1 skips two
        (b"\x4d\x01\x00\xac\xac", 1),  # PUSHDATA2
        (b"\x4e\x01\x00\x00\x00\xac\xac", 1),  # PUSHDATA4
        (b"\xac\x05\xac\xac", 1),  # a truncated push ends the count
        (b"\xac\x4d\x01", 1),  # a truncated PUSHDATA2 length too
    ],
)
def test_legacy_sigop_count(script: bytes, count: int) -> None:
    assert validation.legacy_sigop_count(script) == count


def test_a_transactions_count_is_its_scripts_counts(wire_impl: Any) -> None:
    """GetLegacySigOpCount counted over the Tx is the sum of its scripts' GetSigOpCount."""
    for tx in load(wire_impl, 481_829).transactions:
        scripts = [txin.script_sig for txin in tx.inputs] + [txout.script_pubkey for txout in tx.outputs]
        assert validation.tx_legacy_sigop_count(tx) == sum(map(validation.legacy_sigop_count, scripts))


def test_a_transactions_legacy_sigops_are_counted_once(wire_impl: Any) -> None:
    """Kept in the Tx (a block's checks, its connect and the mempool all ask); a decoded or a
    built transaction starts uncounted, and equality ignores the count."""
    tx = next(tx for tx in load(wire_impl, 481_829).transactions if validation.tx_legacy_sigop_count(tx) > 1)
    fresh = wire_impl.module.decode_tx(tx.serialize())
    built = Tx(tx.version, tx.inputs, tx.outputs, tx.locktime)
    assert fresh.legacy_sigops is None and built.legacy_sigops is None
    assert tx.legacy_sigops == validation.tx_legacy_sigop_count(fresh) == fresh.legacy_sigops > 1
    fresh.legacy_sigops = 0  # what the count would read, were the kept value stale
    assert validation.tx_legacy_sigop_count(fresh) == 0 and fresh == built


# --- BIP34 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("height", "script"),
    [(1, "51"), (16, "60"), (17, "0111"), (127, "017f"), (128, "028000"), (227_931, "035b7a03"),
     (8_388_608, "0400008000")],
)
def test_bip34_height_script(height: int, script: str) -> None:
    assert validation.bip34_height_script(height).hex() == script


def test_wrong_bip34_height(wire_impl: Any) -> None:
    block = load(wire_impl, PRE_SEGWIT)
    rejects(block, PRE_SEGWIT + 1, "bad-cb-height")
    validation.validate_block(block, PRE_SEGWIT, MAIN)
    validation.validate_block(block, MAIN.bip34_height - 1, MAIN)  # not enforced below the height


def test_bip34_on_testnet3_uses_its_height(wire_impl: Any) -> None:
    block = wire_impl.module.decode_block(raw_block("testnet3_block_21066.bin"))
    validation.validate_block(block, 21_066, params.TESTNET3)
    rejects(block, 21_111, "bad-cb-height", network=params.TESTNET3)


# --- BIP141 witness commitment -----------------------------------------------------------


@pytest.mark.parametrize("stack", [(bytes(31),), (bytes(32), b"")])
def test_witness_reserved_value_size(wire_impl: Any, stack: tuple[bytes, ...]) -> None:
    block = load(wire_impl, SEGWIT)
    coinbase = block.transactions[0]
    txs = [edit(coinbase, inputs=[replace(coinbase.inputs[0], witness=stack)]), *block.transactions[1:]]
    rejects(rebuild(wire_impl, block, txs), SEGWIT, "bad-witness-nonce-size", mutated=True)


def test_corrupt_witness_commitment(wire_impl: Any) -> None:
    block = load(wire_impl, SEGWIT)
    coinbase = block.transactions[0]
    outputs = [
        replace(out, script_pubkey=out.script_pubkey[:-1] + bytes((out.script_pubkey[-1] ^ 1,)))
        if hashing.witness_commitment([out.script_pubkey]) is not None else out
        for out in coinbase.outputs
    ]
    txs = [edit(coinbase, outputs=outputs), *block.transactions[1:]]
    rejects(rebuild(wire_impl, block, txs), SEGWIT, "bad-witness-merkle-match", mutated=True)


def test_witness_without_commitment(wire_impl: Any) -> None:
    block = load(wire_impl, SEGWIT)
    coinbase = block.transactions[0]
    outputs = [out for out in coinbase.outputs if hashing.witness_commitment([out.script_pubkey]) is None]
    txs = [edit(coinbase, outputs=outputs), *block.transactions[1:]]
    rejects(rebuild(wire_impl, block, txs), SEGWIT, "unexpected-witness", mutated=True)


def test_witness_before_segwit_activation(wire_impl: Any) -> None:
    block = load(wire_impl, SEGWIT)
    rejects(block, SEGWIT, "unexpected-witness", mutated=True, network=replace(MAIN, segwit_height=SEGWIT + 1))


def test_validation_does_not_load_construct_or_the_spec() -> None:
    """STYLE.md: construct and pantheon.spec stay off the chain's import path."""
    code = ("import sys, pantheon.chain.validation; "
            "print(sorted(m for m in sys.modules if m.startswith(('construct', 'pantheon.spec'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
