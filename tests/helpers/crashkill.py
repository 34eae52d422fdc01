"""Crash safety, for real: the chain state's writer, SIGKILLed at random, and its checker."""

# A writer process connects (and disconnects and reconnects) the bcoin regtest chain while it is
# SIGKILLed at random moments; after each kill the store must open, its tip must be a fully
# connected block, the UTXO set must equal one recomputed from the stored blocks up to that tip, the
# block filter index (written in the same batches) must be at that tip with its filter-header chain
# linking back to genesis, and the transaction and spender indexes must hold exactly the records of
# the chain up to their own tips (which may still be a disconnected block: they rewind at the next
# block, as Core's) and, once built on reopening, of the chain up to its tip.
#
# Run as a script it is the writer: `python tests/helpers/crashkill.py DATADIR SEED CACHE_BYTES`
# prints `ready` once its imports are done, then opens the chain state (which reconnects what the
# last run stored but had not flushed) and loops until killed: accept every block of the chain, then
# disconnect a random number of blocks (up to 300) and reconnect them. `kill_cycles` is the killer
# and checker, used by tests/chain/test_crash.py (100 kills) and `python -m benchmarks chain` (500).

from __future__ import annotations

import contextlib
import logging
import random
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: put tests/ on the path, for helpers.chain
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.chain import read_chain, recompute_utxo, snapshot  # noqa: E402

from pantheon import wire  # noqa: E402
from pantheon.chain.blockfiles import BlockFiles  # noqa: E402
from pantheon.chain.chainstate import BCOIN_REGTEST, DEFAULT_FLUSH_BLOCKS, Chainstate  # noqa: E402
from pantheon.chain.filterindex import BlockFilterIndex  # noqa: E402
from pantheon.chain.txindex import TxIndex  # noqa: E402
from pantheon.chain.txospenderindex import TxoSpenderIndex  # noqa: E402
from pantheon.params import Network  # noqa: E402
from pantheon.primitives import Block  # noqa: E402
from pantheon.store import Store  # noqa: E402

NETWORK: Network = BCOIN_REGTEST
_TIP = struct.Struct(">32sI")  # the `t/tip` record (pantheon.chain.utxo), read here independently
#: A transaction's position in the tx indexes' keys: block height, offset and length in the block.
_TX_POSITION = struct.Struct(">III")
_TX_INDEXES = ("txindex", "txospenderindex")


@dataclass
class KillStats:
    kills: int
    seconds: float
    tip_heights: list[int]  # the flushed tip found after each kill
    check_seconds: float  # reopening and checking, summed


def writer(datadir: str, seed: int, cache_bytes: int) -> None:
    logging.getLogger("pantheon.chain.chainstate").setLevel(logging.ERROR)  # "script checks are off", per run
    rng = random.Random(seed)
    chain = read_chain(wire.decode_block)
    print("ready", flush=True)
    store = Store.open(datadir)
    # Half the runs write every block (the default), half defer up to 50 blocks per batch.
    flush_every = rng.choice([DEFAULT_FLUSH_BLOCKS, rng.randint(2, 50)])
    chainstate = Chainstate(store, NETWORK, cache_bytes=cache_bytes, flush_every=flush_every,
                            indexes=[BlockFilterIndex(store), TxIndex(store), TxoSpenderIndex(store)])
    while True:
        for block in chain[1:]:
            chainstate.accept_block(block)
        for _ in range(rng.randint(1, 300)):
            chainstate.disconnect_tip()
        chainstate.activate_best_chain()


def check_store(datadir: Path, genesis: bytes) -> int:
    """What a kill must leave: the flushed tip's blocks stored back to genesis, each with its
    undo record, the coins equal to a recomputation from those blocks, and the indexes with
    them. Returns the height."""
    with Store.open(datadir) as store:
        record = store.namespace("tip").get(b"tip")
        assert record is not None, "no tip marker"
        tip, height = _TIP.unpack(record)
        files = BlockFiles(store, NETWORK.magic_bytes)
        blocks = _blocks_to(files, tip, genesis)
        for block in blocks:
            assert files.read_undo(block.hash) is not None, "a connected block has no undo record"
        assert len(blocks) == height, f"the tip marker says height {height}, its chain has {len(blocks)} blocks"
        assert snapshot(store) == recompute_utxo(blocks), f"the UTXO set at height {height} differs"
        check_filter_index(store, record, [genesis, *(block.hash for block in blocks)])
        for name in _TX_INDEXES:
            index_tip = store.namespace(name).get(b"tip")
            assert index_tip is not None, f"the {name} has no tip"
            check_tx_index(store, name, _blocks_to(files, _TIP.unpack(index_tip)[0], genesis))
        indexes = [BlockFilterIndex(store), TxIndex(store), TxoSpenderIndex(store)]
        chainstate = Chainstate(store, NETWORK, indexes=indexes)  # reconnects what was stored beyond the tip
        assert chainstate.height >= height and chainstate.has_block(chainstate.tip)
        assert indexes[0].synced and indexes[0].best_height == chainstate.height
        for index in indexes[1:]:
            index.build(contextlib.nullcontext())  # rewinds a stale tip, if the kill left one
            assert index.synced and index.best_height == chainstate.height
        chainstate.close()
        for name in _TX_INDEXES:
            check_tx_index(store, name, _blocks_to(files, chainstate.tip, genesis))
    return height


def _blocks_to(files: BlockFiles, tip: bytes, genesis: bytes) -> list[Block]:
    """The stored blocks from genesis (excluded) up to `tip`."""
    blocks: list[Block] = []
    block_hash = tip
    while block_hash != genesis:
        raw = files.read_block(block_hash)
        assert raw is not None, f"tip's ancestor {block_hash[::-1].hex()} is not stored"
        block = wire.decode_block(raw)
        blocks.append(block)
        block_hash = block.header.prev_block
    blocks.reverse()
    return blocks


def check_tx_index(store: Store, name: str, blocks: list[Block]) -> None:
    """The index holds exactly the records of `blocks` (see pantheon.chain.txindex and
    txospenderindex): each transaction's, or each input's, key with its position, recomputed
    from the blocks' serialisations."""
    expected = set()
    for height, block in enumerate(blocks, start=1):
        offset = 80 + (1 if len(block.transactions) < 0xFD else 3)
        for position, tx in enumerate(block.transactions):
            size = len(tx.serialize())
            at = _TX_POSITION.pack(height, offset, size)
            offset += size
            if name == "txindex":
                expected.add(tx.txid[:8] + at)
            elif position:
                expected.update(txin.prev_txid[:8] + txin.prev_index.to_bytes(4, "big") + at for txin in tx.inputs)
    found = set(store.namespace(name).iterator(include_value=False)) - {b"tip"}
    assert found == expected, f"the {name} holds {len(found - expected)} records too many, lacks {len(expected - found)}"


def check_filter_index(store: Store, chain_tip: bytes, hashes: list[bytes]) -> None:
    """The index's tip record equals the chain's, and each block's record (filter header, filter
    hash, filter: see pantheon.chain.filterindex) hashes and links to its parent's, from genesis."""
    records = store.namespace("blockfilter")
    assert records.get(b"tip") == chain_tip, "the block filter index is not at the chain's tip"
    previous = bytes(32)
    for block_hash in hashes:
        record = records.get(b"b" + block_hash)
        assert record is not None, f"no filter for block {block_hash[::-1].hex()}"
        header, filter_hash, encoded = record[:32], record[32:64], record[64:]
        assert filter_hash == wire.double_sha256(encoded)
        assert header == wire.double_sha256(filter_hash + previous), "the filter-header chain is broken"
        previous = header


def kill_cycles(datadir: Path, kills: int, seed: int = 1, cache_bytes: int = 20_000,
                max_delay: float = 0.25) -> KillStats:
    """Start the writer, SIGKILL it after a random delay, check the store; `kills` times."""
    rng = random.Random(seed)
    genesis = NETWORK.genesis_block
    genesis_hash = wire.decode_block(genesis).hash
    started = time.perf_counter()
    heights = []
    checking = 0.0
    for kill in range(kills):
        child = subprocess.Popen([sys.executable, __file__, str(datadir), str(seed * 100_000 + kill), str(cache_bytes)],
                                 stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready", "the writer did not start"
            time.sleep(rng.uniform(0, max_delay))
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            child.wait()
            child.stdout.close()  # type: ignore[union-attr]
        assert child.returncode == -signal.SIGKILL, f"the writer exited by itself ({child.returncode})"
        check_started = time.perf_counter()
        heights.append(check_store(datadir, genesis_hash))
        checking += time.perf_counter() - check_started
    return KillStats(kills, time.perf_counter() - started, heights, checking)


if __name__ == "__main__":
    writer(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
