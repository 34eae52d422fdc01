"""chain/filterindex.py on bcoin's 471-block regtest chain (real wallet spends): the records equal
filters recomputed here from the blocks and the spent scripts found by walking the chain (not the
chain state's undo data), the header chain links from genesis, and the index follows connects,
disconnects, deferred flushes, reopening and a background build with a reorganisation under it."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import pytest
from helpers.chain import read_chain

from pantheon import wire
from pantheon.chain import blockfilter
from pantheon.chain.chainstate import BCOIN_REGTEST, Chainstate
from pantheon.chain.filterindex import INDEX_NAME, BlockFilterIndex
from pantheon.primitives import Block
from pantheon.store import Store

BLOCKS = read_chain(wire.decode_block)


@pytest.fixture(autouse=True)
def quiet_chainstate(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, "pantheon.chain.chainstate")  # "script checks are off"


def expected_records(blocks: list[Block]) -> dict[bytes, tuple[bytes, bytes]]:
    """block hash -> (filter header, filter), recomputed from the blocks alone."""
    scripts: dict[tuple[bytes, int], bytes] = {}
    records = {}
    previous = blockfilter.GENESIS_PREVIOUS_HEADER
    for block in blocks:
        spent = []
        for tx in block.transactions:
            if tx is not block.transactions[0]:
                spent += [scripts.pop((txin.prev_txid, txin.prev_index)) for txin in tx.inputs]
            for index, txout in enumerate(tx.outputs):
                scripts[(tx.txid, index)] = txout.script_pubkey
        encoded = blockfilter.basic_filter(block, spent)
        previous = blockfilter.filter_header(blockfilter.filter_hash(encoded), previous)
        records[block.hash] = (previous, encoded)
    return records


EXPECTED = expected_records(BLOCKS)


def assert_index_matches(index: BlockFilterIndex, chain: Chainstate) -> None:
    assert index.synced and index.best_height == chain.height
    for height in range(chain.height + 1):
        block_hash = chain.headers.ancestor(chain.tip, height)
        entry = index.lookup(block_hash)
        assert entry is not None, height
        assert (entry.header, entry.filter) == EXPECTED[block_hash], height
        assert entry.filter_hash == blockfilter.filter_hash(entry.filter)


def open_chain(datadir: Path, with_index: bool = True, **options: int) -> tuple[Store, Chainstate, BlockFilterIndex | None]:
    store = Store.open(datadir)
    index = BlockFilterIndex(store) if with_index else None
    return store, Chainstate(store, BCOIN_REGTEST, indexes=[] if index is None else [index], **options), index


def test_follows_the_chain_block_by_block(tmp_path: Path) -> None:
    store, chain, index = open_chain(tmp_path)
    assert index is not None and index.synced and index.best_height == 0  # genesis, at once
    for block in BLOCKS[1:]:
        chain.accept_block(block)
    assert_index_matches(index, chain)
    assert index.info() == {"synced": True, "best_block_height": 471}
    chain.close()
    store.close()


def test_disconnect_moves_the_tip_back_and_keeps_the_record(tmp_path: Path) -> None:
    store, chain, index = open_chain(tmp_path)
    assert index is not None
    for block in BLOCKS[1:]:
        chain.accept_block(block)
    for _ in range(30):
        chain.disconnect_tip()
    assert index.best_height == 441
    assert index.lookup(BLOCKS[450].hash) is None  # above the index's tip
    store.close()
    with Store.open(tmp_path) as reopened:  # the disconnects were written with the chain's tip
        assert reopened.namespace("blockfilter").get(b"tip") == reopened.namespace("tip").get(b"tip")
        assert reopened.namespace("blockfilter").get(b"b" + BLOCKS[450].hash) is not None  # kept, as Core keeps stale blocks
    store, chain, index = open_chain(tmp_path)  # opening reconnects the best chain, the index with it
    assert index is not None
    assert_index_matches(index, chain)
    store.close()


@pytest.mark.parametrize("flush_every", [7, 1_000])
def test_deferred_flushes_write_the_index_with_the_chain(tmp_path: Path, flush_every: int) -> None:
    store, chain, index = open_chain(tmp_path, flush_every=flush_every)
    assert index is not None
    for block in BLOCKS[1:300]:
        chain.accept_block(block)
    assert_index_matches(index, chain)  # pending records are read too
    store.close()  # no flush: what reached the store is the last batch, for both
    store, chain, index = open_chain(tmp_path)
    assert index is not None
    assert index.best_height == chain.height and index.synced  # reopening reconnected the rest
    assert_index_matches(index, chain)
    store.close()


def test_background_build_of_an_existing_datadir(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store, chain, _ = open_chain(tmp_path, with_index=False)
    for block in BLOCKS[1:]:
        chain.accept_block(block)
    chain.close()
    store.close()
    store, chain, index = open_chain(tmp_path)
    assert index is not None and not index.synced and index.best_height == -1
    assert index.info() == {"synced": False, "best_block_height": 0}
    caplog.set_level(logging.INFO, "pantheon.chain.filterindex")
    index.build(contextlib.nullcontext())
    assert_index_matches(index, chain)
    assert f"Syncing {INDEX_NAME} with block chain from height 0" in caplog.text
    assert f"{INDEX_NAME} is enabled at height 471" in caplog.text
    chain.accept_block(BLOCKS[-1])  # known: nothing changes
    store.close()


def test_build_rewinds_to_the_chain_after_a_reorganisation(tmp_path: Path) -> None:
    store, chain, _ = open_chain(tmp_path, with_index=False)
    for block in BLOCKS[1:]:
        chain.accept_block(block)
    chain.close()
    store.close()
    store, chain, index = open_chain(tmp_path)
    assert index is not None
    for _ in range(200):
        assert not index._step(chain)
    assert index.best_height == 199
    for _ in range(300):  # the chain falls below the index
        chain.disconnect_tip()
    assert not index._step(chain) and index.best_height == 171  # back to the chain's tip
    chain.activate_best_chain()
    index.build(contextlib.nullcontext())
    assert_index_matches(index, chain)
    store.close()


def test_lookup_range(tmp_path: Path) -> None:
    store, chain, index = open_chain(tmp_path)
    assert index is not None
    for block in BLOCKS[1:]:
        chain.accept_block(block)
    found = index.lookup_range(5, BLOCKS[20].hash)
    assert found is not None and [h for h, _ in found] == [b.hash for b in BLOCKS[5:21]]
    assert index.lookup_range(0, BLOCKS[0].hash) == [(BLOCKS[0].hash, index.lookup(BLOCKS[0].hash))]
    for _ in range(10):
        chain.disconnect_tip()
    assert index.lookup_range(455, BLOCKS[465].hash) is None  # beyond the index's tip
    assert index.lookup(b"\x01" * 32) is None
    store.close()


def test_a_tip_unknown_to_the_block_index_rebuilds(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with Store.open(tmp_path) as store:
        store.namespace("blockfilter").put(b"tip", b"\x07" * 32 + (5).to_bytes(4, "big"))
    caplog.set_level(logging.WARNING, "pantheon.chain.filterindex")
    store, chain, index = open_chain(tmp_path)
    assert index is not None and index.synced and index.best_height == 0
    assert "its tip is not in the block index" in caplog.text
    store.close()


def test_a_pruned_block_stops_the_build_with_an_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store, chain, _ = open_chain(tmp_path, with_index=False, prune_target=0, block_file_size=20_000)
    for block in BLOCKS[1:]:
        chain.accept_block(block)
    assert chain.prune(150) is not None
    chain.close()
    store.close()
    store, chain, index = open_chain(tmp_path, prune_target=0, block_file_size=20_000)
    assert index is not None
    caplog.set_level(logging.ERROR, "pantheon.chain.filterindex")
    index.build(contextlib.nullcontext())
    assert not index.synced and index.best_height == -1  # genesis's file went too
    assert "basic block filter index cannot index the block at height 0: no data for block" in caplog.text
    assert "restart with -reindex" in caplog.text
    store.close()
