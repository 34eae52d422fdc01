"""Bitcoin Core's -reindex and -reindex-chainstate: rebuild what the store holds from the blocks on
disk, the way forward when the store is damaged.

-reindex-chainstate keeps the block index and where each block lies, and wipes the UTXO set, its
tip, the undo records (rev files included) and the transaction counts: opening the chain state
then connects the best chain again from genesis, each block read from its blk file and checked
as Core's ConnectBlock does.

-reindex wipes the block index and the block positions too, then `import_block_files` reads
every blk file in order: each block is checked as a received one is and indexed where it lies
(one that comes before its parent waits for it), and the best chain is connected file by file.
Blocks an older datadir kept inside the store are first appended to a blk file, so a reindex loses
none. What the files do not hold (a pruned node's old blocks, a partial record a crash cut) comes
from peers, as in any sync.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict

from pantheon import wire
from pantheon.chain.blockfiles import BlockFiles, BlockPosition
from pantheon.chain.chainstate import Chainstate
from pantheon.chain.headers import HeaderRejected
from pantheon.chain.validation import BlockRejected
from pantheon.errors import ProtocolError
from pantheon.hashing import hash_to_hex
from pantheon.store import Store

__all__ = ["CHAINSTATE_NAMESPACES", "BLOCK_INDEX_NAMESPACES", "wipe", "import_block_files"]

log = logging.getLogger("pantheon.chain.reindex")

#: What -reindex-chainstate rebuilds (store.py's key schema).
CHAINSTATE_NAMESPACES = ("utxo", "tip", "undo", "chaintx")
#: What -reindex rebuilds as well (Core wipes its optional indexes too).
BLOCK_INDEX_NAMESPACES = ("block_index", "blocks", "blockfilter", "txindex", "txospenderindex")


def wipe(store: Store, magic: bytes, *, keep_block_index: bool) -> None:
    """Empty what the reindex rebuilds, before the chain state is opened (a damaged index never
    has to load): the chain state's namespaces and the rev files, and with `keep_block_index`
    False the index and the block positions as well."""
    files = BlockFiles(store, magic)
    names = CHAINSTATE_NAMESPACES
    if not keep_block_index:
        kept_in_store = [raw for _, raw in files.stored_records()]
        for raw in kept_in_store:
            files.append_block(raw)
        if kept_in_store:
            log.info("wrote %d blocks kept in the store to the blk files before reindexing", len(kept_in_store))
        names += BLOCK_INDEX_NAMESPACES
    log.info("Wiping LevelDB in %s (%s)", store.path, ", ".join(names))
    for name in names:
        store.clear(name)
    files.delete_undo_files()


def import_block_files(chain: Chainstate) -> int:
    """-reindex: index every block of the blk files, connecting the best chain after each file;
    returns how many blocks were indexed. A block that fails its checks is logged and marked
    invalid, as a received one would be."""
    waiting: defaultdict[bytes, list[BlockPosition]] = defaultdict(list)  # parent hash -> children
    indexed = 0
    started = time.monotonic()
    current_file = None
    for position, raw in chain.files.records():
        if position.file != current_file:
            if current_file is not None:
                _activate(chain)
            current_file = position.file
            log.info("Reindexing block file blk%05d.dat...", current_file)
        ready = [(position, raw)]
        while ready:
            here, data = ready.pop()
            block_hash = _index(chain, here, data, waiting)
            if block_hash is not None:
                indexed += 1
                ready.extend((child, chain.files.read_at(child)) for child in waiting.pop(block_hash, ()))
    _activate(chain)
    orphans = sum(map(len, waiting.values()))
    if orphans:
        log.info("%d blocks in the blk files have no parent there; peers will send the chain they need", orphans)
    log.info("Loaded %d blocks from external file in %dms", indexed, (time.monotonic() - started) * 1000)
    log.info("Reindexing finished")
    return indexed


def _index(chain: Chainstate, position: BlockPosition, raw: bytes,
           waiting: defaultdict[bytes, list[BlockPosition]]) -> bytes | None:
    """Index one block found at `position`; its hash once indexed (or known already), None if it
    waits for its parent or is refused."""
    try:
        block = wire.decode_block(raw)
    except ProtocolError as error:
        log.warning("blk%05d.dat at %d: not a block (%s)", position.file, position.offset, error)
        return None
    if block.header.prev_block not in chain.headers and block.hash != chain.headers.anchor:
        waiting[block.header.prev_block].append(position)
        return None
    try:
        chain.index_stored_block(block, position)
    except (HeaderRejected, BlockRejected) as error:
        log.warning("block %s in blk%05d.dat refused: %s", hash_to_hex(block.hash), position.file, error)
        return None
    return block.hash


def _activate(chain: Chainstate) -> None:
    try:
        chain.activate_best_chain()
    except BlockRejected:
        pass  # logged and marked invalid by the chain state; the tip is the best valid chain here
