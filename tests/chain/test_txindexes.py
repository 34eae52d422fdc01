"""chain/txindex.py and chain/txospenderindex.py on bcoin's 471-block regtest chain (real wallet
spends): both indexes equal maps recomputed here from the blocks alone, after connects, after a
reorganisation onto a competing block that mines one of the stale transactions again (the
indexes keep the stale blocks until the next connect, as Core's), after a crash (the store closed
without a flush, before and during such a rewind) and after a background build of a datadir made
without them."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import pytest
from helpers.chain import block_on, read_chain

from pantheon import wire
from pantheon.chain.chainstate import BCOIN_REGTEST, Chainstate
from pantheon.chain.txindex import TxIndex
from pantheon.chain.txospenderindex import TxoSpenderIndex
from pantheon.primitives import Block, Tx
from pantheon.store import Store

BLOCKS = read_chain(wire.decode_block)
FORK_HEIGHT = 450


@pytest.fixture(autouse=True)
def quiet_chainstate(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, "pantheon.chain.chainstate")  # "script checks are off"


def open_chain(datadir: Path, with_indexes: bool = True,
               **options: int) -> tuple[Store, Chainstate, TxIndex, TxoSpenderIndex]:
    store = Store.open(datadir)
    txs, spenders = TxIndex(store), TxoSpenderIndex(store)
    chain = Chainstate(store, BCOIN_REGTEST, indexes=[txs, spenders] if with_indexes else [], **options)
    return store, chain, txs, spenders


Found = tuple[bytes, bytes]


def expected(blocks: list[Block]) -> tuple[dict[bytes, Found], dict[tuple[bytes, int], Found]]:
    """txid -> (block hash, tx bytes) and outpoint -> (spender's txid, its block hash) of a chain
    from genesis, whose coinbase is left out as Core leaves it out."""
    txs: dict[bytes, Found] = {}
    spenders: dict[tuple[bytes, int], Found] = {}
    for block in blocks[1:]:
        for position, tx in enumerate(block.transactions):
            txs[tx.txid] = (block.hash, tx.serialize())
            for txin in tx.inputs if position else ():
                spenders[(txin.prev_txid, txin.prev_index)] = (tx.txid, block.hash)
    return txs, spenders


def assert_indexes_match(txs: TxIndex, spenders: TxoSpenderIndex, chain: list[Block], stale: list[Block] = ()) -> None:
    assert txs.synced and spenders.synced
    assert txs.best_height == spenders.best_height == len(chain) - 1
    want_txs, want_spenders = expected(chain)
    for txid, (block_hash, raw) in want_txs.items():
        found = txs.find(txid)
        assert found is not None and found[1] == block_hash and found[0].serialize() == raw
    for (txid, index), (spender, block_hash) in want_spenders.items():
        found_spender = spenders.find_spender(txid, index)
        assert found_spender is not None and (found_spender.tx.txid, found_spender.block_hash) == (spender, block_hash)
    assert txs.find(chain[0].transactions[0].txid) is None  # genesis's coinbase
    for block in [*chain, *stale]:
        for tx in block.transactions:
            if tx.txid not in want_txs and block is not chain[0]:
                assert txs.find(tx.txid) is None  # a stale block's, removed
            for index in range(len(tx.outputs)):
                if (tx.txid, index) not in want_spenders:
                    assert spenders.find_spender(tx.txid, index) is None
            for txin in tx.inputs:
                if (txin.prev_txid, txin.prev_index) not in want_spenders:
                    assert spenders.find_spender(txin.prev_txid, txin.prev_index) is None


def remined_tx() -> Tx:
    """A transaction of the block at FORK_HEIGHT spending only coins made below it."""
    made = {tx.txid for block in BLOCKS[:FORK_HEIGHT] for tx in block.transactions}
    return next(tx for tx in BLOCKS[FORK_HEIGHT].transactions[1:] if all(i.prev_txid in made for i in tx.inputs))


def reorganise(chain: Chainstate, txs: TxIndex, spenders: TxoSpenderIndex) -> Block:
    """Invalidate the block at FORK_HEIGHT and connect a competitor mining one of its
    transactions again; returns the competitor."""
    chain.invalidate_block(BLOCKS[FORK_HEIGHT].hash)
    assert chain.height == FORK_HEIGHT - 1
    stale_tx = BLOCKS[460].transactions[1]
    assert txs.best_height == spenders.best_height == 471 and txs.synced  # kept until the next block, as Core
    assert txs.find(stale_tx.txid) is not None
    competitor = block_on(BLOCKS[FORK_HEIGHT - 1].header, FORK_HEIGHT, BCOIN_REGTEST, [remined_tx()], extra=b"fork")
    chain.accept_block(competitor)
    assert chain.tip == competitor.hash
    return competitor


def test_follow_the_chain_block_by_block(tmp_path: Path) -> None:
    store, chain, txs, spenders = open_chain(tmp_path)
    assert txs.synced and txs.best_height == 0  # genesis, at once
    for block in BLOCKS[1:]:
        chain.accept_block(block)
    assert_indexes_match(txs, spenders, BLOCKS)
    assert txs.info() == spenders.info() == {"synced": True, "best_block_height": 471}
    store.close()


def test_a_reorganisation_rewinds_at_the_next_block(tmp_path: Path) -> None:
    store, chain, txs, spenders = open_chain(tmp_path)
    for block in BLOCKS[1:]:
        chain.accept_block(block)
    competitor = reorganise(chain, txs, spenders)
    assert_indexes_match(txs, spenders, [*BLOCKS[:FORK_HEIGHT], competitor], BLOCKS[FORK_HEIGHT:])
    found = txs.find(remined_tx().txid)
    assert found is not None and found[1] == competitor.hash  # its new position, not removed
    store.close()
    store, chain, txs, spenders = open_chain(tmp_path)  # what was written is the same
    assert_indexes_match(txs, spenders, [*BLOCKS[:FORK_HEIGHT], competitor], BLOCKS[FORK_HEIGHT:])
    store.close()


@pytest.mark.parametrize("flush_every", [7, 1_000])
def test_a_crash_leaves_the_indexes_with_the_chain(tmp_path: Path, flush_every: int) -> None:
    store, chain, txs, spenders = open_chain(tmp_path, flush_every=flush_every)
    for block in BLOCKS[1:300]:
        chain.accept_block(block)
    assert_indexes_match(txs, spenders, BLOCKS[:300])  # pending records are read too
    store.close()  # no flush: what reached the store is the last batch, for all of them
    store, chain, txs, spenders = open_chain(tmp_path)  # reconnects the stored blocks, the indexes with it
    assert_indexes_match(txs, spenders, BLOCKS[:300])
    store.close()


def test_a_crash_before_the_rewind_is_finished_by_the_build(tmp_path: Path) -> None:
    store, chain, txs, spenders = open_chain(tmp_path)
    for block in BLOCKS[1:]:
        chain.accept_block(block)
    chain.invalidate_block(BLOCKS[FORK_HEIGHT].hash)
    store.close()  # the indexes' tips are still the stale block's
    store, chain, txs, spenders = open_chain(tmp_path)
    assert not txs.synced and not spenders.synced
    txs.build(contextlib.nullcontext())
    spenders.build(contextlib.nullcontext())
    assert_indexes_match(txs, spenders, BLOCKS[:FORK_HEIGHT], BLOCKS[FORK_HEIGHT:])
    store.close()


def test_background_build_of_an_existing_datadir(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store, chain, _, _ = open_chain(tmp_path, with_indexes=False)
    for block in BLOCKS[1:]:
        chain.accept_block(block)
    chain.close()
    store.close()
    store, chain, txs, spenders = open_chain(tmp_path)
    assert not txs.synced and txs.best_height == -1
    assert spenders.info() == {"synced": False, "best_block_height": 0}
    caplog.set_level(logging.INFO, "pantheon.chain.txindex")
    txs.build(contextlib.nullcontext())
    spenders.build(contextlib.nullcontext())
    assert "Syncing txindex with block chain from height 0" in caplog.text
    assert "txindex is enabled at height 471" in caplog.text
    assert_indexes_match(txs, spenders, BLOCKS)
    store.close()


def test_a_tip_unknown_to_the_block_index_clears_the_records(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.namespace("txindex").put(b"tip", b"\x07" * 32 + (5).to_bytes(4, "big"))
        store.namespace("txindex").put(BLOCKS[1].transactions[0].txid[:8] + bytes(12), b"")  # another chain's
    store, chain, txs, _ = open_chain(tmp_path)
    assert txs.synced and txs.best_height == 0
    assert list(store.namespace("txindex").iterator(include_value=False)) == [b"tip"]
    store.close()
