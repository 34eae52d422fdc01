"""BIP157/158 compact block filters: building them in the compiled core against the pure twin,
and serving them to a peer.

Rows:
- GCS build: `gcs_encode` of every block's basic-filter elements, compiled against the pure twin
  in the same run (target >= 10x), on two inputs: the 10 testnet3 blocks of BIP158's vectors
  (tests/vectors/bip158) and the 471 blocks of bcoin's regtest chain with real wallet spends
  (tests/vectors/chains; the elements from its blocks and the scripts they spend);
- GCS match: `gcs_match_any` of 10 scripts against each of those 471 filters, compiled and pure;
- serving: a node with -blockfilterindex -peerblockfilters holding 1,001 blocks of bench_chain's
  generated chain (10,000 spends among them) answers one getcfilters for blocks 1..1,000 to a
  loopback peer: ms from sending the request to the 1,000th cfilter received, against the index
  lookups alone (the same range read from the store).
The connect cost of the index is in `python -m benchmarks chain` (connect with -blockfilterindex).
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

import gevent

from benchmarks.common import Figure, seconds_per_call

_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(_ROOT / "tests"))  # the vectors, the bcoin chain, the raw peer

from helpers.chain import read_chain  # noqa: E402
from helpers.node import FAST, settings  # noqa: E402
from helpers.p2p import RawClient  # noqa: E402
from helpers.vectors import BIP158  # noqa: E402

from benchmarks.bench_chain import generate  # noqa: E402
from pantheon import _wire, _wire_py, wire  # noqa: E402
from pantheon.chain.blockfilter import basic_filter_elements  # noqa: E402
from pantheon.node import Node  # noqa: E402
from pantheon.primitives import Block, CFRequest  # noqa: E402
from pantheon.protocol import BASIC_FILTER, BASIC_FILTER_M, BASIC_FILTER_P  # noqa: E402

SERVED = 1_000
TARGET_RATIO = 10.0


def _vector_sets() -> list[tuple[bytes, set[bytes]]]:
    sets = []
    for row in BIP158:
        block = wire.decode_block(bytes.fromhex(row[2]))
        sets.append((block.hash[:16], basic_filter_elements(block, [bytes.fromhex(s) for s in row[3]])))
    return sets


def _chain_sets(blocks: list[Block]) -> list[tuple[bytes, set[bytes]]]:
    """Each block's key and elements, the spent scripts found by walking the chain."""
    scripts: dict[tuple[bytes, int], bytes] = {}
    sets = []
    for block in blocks:
        spent = []
        for position, tx in enumerate(block.transactions):
            if position:
                spent += [scripts.pop((txin.prev_txid, txin.prev_index)) for txin in tx.inputs]
            for index, txout in enumerate(tx.outputs):
                scripts[(tx.txid, index)] = txout.script_pubkey
        sets.append((block.hash[:16], basic_filter_elements(block, spent)))
    return sets


def _build_rows(name: str, sets: list[tuple[bytes, set[bytes]]], quick: bool) -> list[Figure]:
    def build(module: object) -> None:
        for key, elements in sets:
            module.gcs_encode(key, elements, BASIC_FILTER_P, BASIC_FILTER_M)  # type: ignore[attr-defined]

    timing = {"repeat": 2 if quick else 5, "min_time": 0.05 if quick else 0.2}
    compiled = seconds_per_call(lambda: build(_wire), **timing)
    pure = seconds_per_call(lambda: build(_wire_py), **timing)
    elements = sum(len(e) for _, e in sets)
    return [Figure(f"GCS build, {name} ({len(sets)} filters, {elements:,} elements), compiled",
                   len(sets) / compiled, "filters/s", f">= {TARGET_RATIO:.0f}x pure", pure / compiled >= TARGET_RATIO,
                   "pure twin", len(sets) / pure)]


def _match_rows(sets: list[tuple[bytes, set[bytes]]], quick: bool) -> list[Figure]:
    queries = [bytes([i]) * 22 for i in range(10)]
    filters = [(key, _wire.gcs_encode(key, elements, BASIC_FILTER_P, BASIC_FILTER_M)) for key, elements in sets]

    def match(module: object) -> None:
        for key, encoded in filters:
            module.gcs_match_any(key, encoded, queries, BASIC_FILTER_P, BASIC_FILTER_M)  # type: ignore[attr-defined]

    timing = {"repeat": 2 if quick else 5, "min_time": 0.05 if quick else 0.2}
    compiled = seconds_per_call(lambda: match(_wire), **timing)
    pure = seconds_per_call(lambda: match(_wire_py), **timing)
    return [Figure(f"GCS match of 10 scripts, bcoin chain ({len(filters)} filters), compiled",
                   len(filters) / compiled, "filters/s", f">= {TARGET_RATIO:.0f}x pure",
                   pure / compiled >= TARGET_RATIO, "pure twin", len(filters) / pure)]


def _serving_rows(quick: bool) -> list[Figure]:
    work = Path(tempfile.mkdtemp(prefix="pantheon-bench-filters-"))
    logging.getLogger("pantheon").setLevel(logging.ERROR)
    node = Node(settings(work, "--blockfilterindex", "--peerblockfilters"), tuning=FAST, verify_scripts=False)
    try:
        for block in generate(SERVED + 1, 2_000 if quick else 10_000):
            node.process_block(block)
        node.start()
        chain, index = node.chain, node.filter_index
        assert index is not None and index.synced
        stop = chain.headers.ancestor(chain.tip, SERVED)
        lookups = seconds_per_call(lambda: index.lookup_range(1, stop), repeat=3, min_time=0.05)
        client = RawClient(node.manager.address[1], wire)
        client.handshake()
        best = float("inf")
        for _ in range(2 if quick else 5):
            started = time.perf_counter()
            client.send("getcfilters", wire.encode_getcfilters(CFRequest(BASIC_FILTER, 1, stop)))
            for _ in range(SERVED):
                client.receive("cfilter")
            best = min(best, time.perf_counter() - started)
            client.received.clear()
        client.close()
        size = sum(len(entry.filter) for _, entry in index.lookup_range(1, stop) or [])
        return [Figure(f"serve getcfilters for {SERVED:,} blocks ({size:,} filter bytes) to a loopback peer",
                       1000 * best, "ms", "report", True, "index lookups alone", 1000 * lookups)]
    finally:
        node.stop()
        gevent.sleep(0)
        logging.getLogger("pantheon").setLevel(logging.NOTSET)
        shutil.rmtree(work, ignore_errors=True)


def run(quick: bool) -> list[Figure]:
    chain_sets = _chain_sets(read_chain(wire.decode_block))
    return [*_build_rows("BIP158 testnet vectors", _vector_sets(), quick),
            *_build_rows("bcoin regtest chain", chain_sets, quick),
            *_match_rows(chain_sets, quick),
            *_serving_rows(quick)]
