"""The chain generator (`tools/chaingen.py`) on a short chain: the same seed gives the same bytes,
every output type is spent, and every block connects in a fresh Pantheon chain state with Core's
interpreter verifying every script; one corrupted signature makes its block fail."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from helpers.chain import read_chain

from pantheon import wire
from pantheon.chain import scripts
from pantheon.chain.chainstate import Chainstate
from pantheon.chain.miner import mine
from pantheon.chain.scripts import ChainScriptChecks
from pantheon.chain.validation import BlockRejected
from pantheon.hashing import WITNESS_COMMITMENT_PREFIX, expected_witness_commitment, merkle_root
from pantheon.params import REGTEST
from pantheon.primitives import Block, BlockHeader, Tx, TxIn, TxOut
from pantheon.store import Store
from tools.chaingen import KINDS, PREAMBLE, ChainSpec, cached_chain, write_chain

pytestmark = pytest.mark.skipif(not scripts.AVAILABLE, reason=scripts.UNAVAILABLE_REASON or "no kernel")

SPEC = ChainSpec(blocks=20, txs=50, seed=7)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def chain_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cached_chain(SPEC, tmp_path_factory.mktemp("chaingen"))


def _kind_of_spend(txin: TxIn) -> str:
    """Which output type an input spends, from its shape alone."""
    witness = txin.witness
    if not witness:
        return "p2pkh"
    if len(witness) == 1:
        return "p2tr"
    if len(witness) == 4:
        return "p2wsh_2of3"
    if len(witness) == 3:
        return "p2tr_script"
    return "p2sh_p2wpkh" if txin.script_sig else "p2wpkh"


def test_the_same_seed_gives_the_same_bytes_and_another_seed_others(chain_file: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.blk"
    # The documented command, signing in two processes: the same bytes as one. In a process of
    # its own: the generator forks its signers, and a fork of this one, which holds threads and
    # greenlets other tests left, can leave the pool's close spinning.
    done = subprocess.run([sys.executable, "-m", "tools.chaingen", "--blocks", str(SPEC.blocks), "--txs",
                           str(SPEC.txs), "--seed", str(SPEC.seed), "--workers", "2", "--out", str(again)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert again.read_bytes() == chain_file.read_bytes()
    assert f": {PREAMBLE + 1 + SPEC.blocks:,} blocks, " in done.stderr
    other = tmp_path / "other.blk"
    counts = write_chain(ChainSpec(2, 10, 8, tail=3), other, workers=1)
    assert counts["blocks"] == PREAMBLE + 1 + 2 + 3  # the tail: coinbase-only blocks after the spends
    assert other.read_bytes()[:200_000] != chain_file.read_bytes()[:200_000]


def test_every_block_connects_with_scripts_verified_and_every_kind_is_spent(chain_file: Path, tmp_path: Path) -> None:
    blocks = read_chain(wire.decode_block, chain_file)[1:]
    dense = blocks[PREAMBLE + 1:]
    assert [len(block.transactions) - 1 for block in dense] == [SPEC.txs] * SPEC.blocks
    spent = Counter(_kind_of_spend(txin) for block in dense for tx in block.transactions[1:] for txin in tx.inputs)
    assert set(spent) == set(KINDS)
    created = sum(len(tx.outputs) for block in dense for tx in block.transactions[1:])
    assert created - sum(spent.values()) > SPEC.blocks * SPEC.txs  # fan-out: the UTXO set grows
    store = Store.open(tmp_path / "node")
    checks = ChainScriptChecks(scripts.ScriptVerifier(workers=0), REGTEST, None, lambda: 0)
    try:
        state = Chainstate(store, REGTEST, script_verifier=checks.block)
        for block in blocks:
            state.accept_block(block)
        assert state.height == len(blocks)
        assert checks.skipped == 0
    finally:
        checks.verifier.close()
        store.close()


def _corrupted(block: Block) -> Block:
    """`block` with the last byte of its second tx's first signature flipped, re-committed and
    re-mined, so only the signature is wrong."""
    coinbase, victim, *rest = block.transactions
    txin = victim.inputs[0]
    if txin.witness:
        signature = txin.witness[0] if txin.witness[0] else txin.witness[1]
        witness = tuple(item if item != signature else signature[:-2] + bytes((signature[-2] ^ 1,)) + signature[-1:]
                        for item in txin.witness)
        txin = TxIn(txin.prev_txid, txin.prev_index, txin.script_sig, txin.sequence, witness)
    else:
        script_sig = bytearray(txin.script_sig)
        script_sig[txin.script_sig[0] - 1] ^= 1  # the signature's last byte before the hash type
        txin = TxIn(txin.prev_txid, txin.prev_index, bytes(script_sig), txin.sequence)
    victim = Tx(victim.version, [txin, *victim.inputs[1:]], victim.outputs, victim.locktime)
    txs = [victim, *rest]
    commitment = WITNESS_COMMITMENT_PREFIX + expected_witness_commitment(
        [bytes(32), *(tx.wtxid for tx in txs)], bytes(32))
    coinbase = Tx(coinbase.version, coinbase.inputs, [coinbase.outputs[0], TxOut(0, commitment)], coinbase.locktime)
    header = block.header
    root = merkle_root([tx.txid for tx in (coinbase, *txs)])[0]
    return mine(Block(BlockHeader(header.version, header.prev_block, root, header.timestamp, header.bits, 0),
                      (coinbase, *txs)))


def test_a_corrupted_signature_fails_its_block(chain_file: Path, tmp_path: Path) -> None:
    blocks = read_chain(wire.decode_block, chain_file)[1:]
    store = Store.open(tmp_path / "node")
    checks = ChainScriptChecks(scripts.ScriptVerifier(workers=0), REGTEST, None, lambda: 0)
    try:
        state = Chainstate(store, REGTEST, script_verifier=checks.block)
        for block in blocks[:PREAMBLE + 1]:
            state.accept_block(block)
        bad = _corrupted(blocks[PREAMBLE + 1])
        with pytest.raises(BlockRejected, match="block-script-verify-flag-failed"):
            state.accept_block(bad)
        assert state.height == PREAMBLE + 1
    finally:
        checks.verifier.close()
        store.close()
