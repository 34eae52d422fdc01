"""-reindex and -reindex-chainstate (chain/reindex.py) on a real LevelDB store and real blk files:
the rebuilt chain state is the one a from-scratch recomputation gives, whatever order the blocks
lie in the files, with what cannot be read skipped and nothing kept in the store lost."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from helpers.chain import Miner, recompute_utxo, snapshot
from pantheon import wire
from pantheon.chain import reindex
from pantheon.chain.blockfiles import BLOCKS_DIRNAME
from pantheon.chain.chainstate import Chainstate
from pantheon.params import REGTEST
from pantheon.primitives import Block, BlockHeader
from pantheon.store import Store

GENESIS = BlockHeader.from_bytes(REGTEST.genesis_block[:80])


@pytest.fixture(scope="module")
def blocks() -> list[Block]:
    miner = Miner(REGTEST, GENESIS)
    for _ in range(30):
        miner.block()
    return miner.blocks


def build(datadir: Path, blocks: list[Block]) -> tuple[bytes, dict[bytes, bytes]]:
    """A datadir with `blocks` connected and flushed; its tip and UTXO records."""
    with Store.open(datadir) as store:
        chain = Chainstate(store, REGTEST)
        for block in blocks:
            chain.accept_block(block)
        chain.close()
        return chain.tip, snapshot(store)


def reopen(datadir: Path, *, keep_block_index: bool) -> tuple[Chainstate, Store]:
    store = Store.open(datadir)
    reindex.wipe(store, REGTEST.magic_bytes, keep_block_index=keep_block_index)
    chain = Chainstate(store, REGTEST)
    if not keep_block_index:
        reindex.import_block_files(chain)
    return chain, store


@pytest.mark.parametrize("keep_block_index", [True, False], ids=["reindex-chainstate", "reindex"])
def test_a_reindex_rebuilds_the_same_chain_state(tmp_path: Path, blocks: list[Block], keep_block_index: bool,
                                                 caplog) -> None:
    tip, coins = build(tmp_path, blocks)
    assert coins == recompute_utxo(blocks)
    with caplog.at_level(logging.INFO, logger="pantheon.chain.reindex"):
        chain, store = reopen(tmp_path, keep_block_index=keep_block_index)
    try:
        assert (chain.tip, chain.height) == (tip, 30)
        chain.flush()
        assert snapshot(store) == coins
        assert chain.read_block(blocks[10].hash) == blocks[10] and chain.spent_coins(blocks[10].hash) == []  # its undo record, rewritten
        assert "Wiping LevelDB in" in caplog.text
        assert ("Reindexing finished" in caplog.text) is not keep_block_index
    finally:
        chain.close()
        store.close()


def test_reindex_takes_blocks_in_any_order_from_the_files(tmp_path: Path, blocks: list[Block]) -> None:
    """A block before its parent in the files waits for it (blocks arrive out of order in a sync)."""
    with Store.open(tmp_path) as store:
        Chainstate(store, REGTEST).close()  # genesis in blk00000.dat
    path = tmp_path / BLOCKS_DIRNAME / "blk00000.dat"
    with path.open("ab") as handle:
        for block in reversed(blocks):
            raw = wire.encode_block(block)
            handle.write(REGTEST.magic_bytes + len(raw).to_bytes(4, "little") + raw)
    chain, store = reopen(tmp_path, keep_block_index=False)
    try:
        assert (chain.tip, chain.height) == (blocks[-1].hash, 30)
        chain.flush()
        assert snapshot(store) == recompute_utxo(blocks)
    finally:
        chain.close()
        store.close()


def test_a_cut_record_ends_its_file_and_the_chain_stops_before_it(tmp_path: Path, blocks: list[Block],
                                                                    caplog) -> None:
    """A killed process can leave half a record at a file's end: the blocks before it are kept,
    the rest comes from peers."""
    build(tmp_path, blocks[:20])
    path = tmp_path / BLOCKS_DIRNAME / "blk00000.dat"
    raw = wire.encode_block(blocks[20])
    with path.open("ab") as handle:
        handle.write(REGTEST.magic_bytes + len(raw).to_bytes(4, "little") + raw[:50])
    with caplog.at_level(logging.WARNING):
        chain, store = reopen(tmp_path, keep_block_index=False)
    try:
        assert (chain.tip, chain.height) == (blocks[19].hash, 20)
        assert "blk00000.dat: no whole record at" in caplog.text
    finally:
        chain.close()
        store.close()


def test_a_block_failing_its_checks_is_refused_and_the_chain_ends_before_it(tmp_path: Path, blocks: list[Block],
                                                                           caplog) -> None:
    build(tmp_path, blocks[:10])
    path = tmp_path / BLOCKS_DIRNAME / "blk00000.dat"
    raw = bytearray(wire.encode_block(blocks[10]))
    raw[-5] ^= 0xFF  # inside the coinbase: the merkle root no longer matches
    with path.open("ab") as handle:
        handle.write(REGTEST.magic_bytes + len(raw).to_bytes(4, "little") + bytes(raw))
    with caplog.at_level(logging.WARNING, logger="pantheon.chain.reindex"):
        chain, store = reopen(tmp_path, keep_block_index=False)
    try:
        assert (chain.tip, chain.height) == (blocks[9].hash, 10)
        assert "refused: bad-txnmrklroot" in caplog.text
    finally:
        chain.close()
        store.close()


def test_blocks_an_older_datadir_kept_in_the_store_survive_a_reindex(tmp_path: Path, blocks: list[Block]) -> None:
    tip, coins = build(tmp_path, blocks[:5])
    with Store.open(tmp_path) as store:  # as datadirs written before the blk files kept them
        for block in blocks[:5]:
            store.namespace("blocks").put(block.hash, wire.encode_block(block))
    (tmp_path / BLOCKS_DIRNAME / "blk00000.dat").unlink()
    chain, store = reopen(tmp_path, keep_block_index=False)
    try:
        assert (chain.tip, chain.height) == (tip, 5)
        chain.flush()
        assert snapshot(store) == coins
    finally:
        chain.close()
        store.close()
