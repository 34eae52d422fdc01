"""The chain state (`pantheon.chain.chainstate`): connecting regtest blocks that spend earlier
outputs, what a crash costs, and the crash-kill soak.

The chain is generated here, deterministically: 5,000 regtest blocks (1,000 with --quick) whose
blocks from height 101 carry 50,000 transactions (10,000) between them, each spending one or two
outputs picked at random from every earlier unspent one (coinbases once mature) into two P2PKH-sized
outputs, with a 107-byte scriptSig like a real signature and key, which is not a valid one: this
measures the chain state without a script verifier (`python -m benchmarks scripts` measures that,
and `sync` both together). Blocks are written to a blk-framed file and each figure is taken
in a fresh child process reading it, so RSS and timings are its own. Rows:
- connect: blocks/s and tx/s through `Chainstate.accept_block` (header tree, context-free and
  contextual checks, storing the block, connecting it: by default one atomic batch per block)
  with the default 256 MB cache, again with a 1 MB cache (emptied every few blocks, reading coins
  back from LevelDB), and with Core-style deferred writes (one batch per 2,000 blocks); the
  baseline is the context-free checks alone (`check_block` + `check_block_at_height`);
- the same connect with the basic block filter index on (-blockfilterindex: each block's BIP158
  filter and header built and written in its batch), against the index off, both writing as the
  node does (deferred: the node writes hourly, when the cache is full and at close), best of two
  runs each, alternated (target: at most 10% slower); and with -txindex and -txospenderindex on
  together (each transaction's position and each spent outpoint's spender written in the
  block's batch; target: at most 15% slower);
- peak RSS of the connecting child (VmHWM; it reads the file whole and decodes one block at
  a time), against a child that only decodes them;
- kill-and-reopen: the child is SIGKILLed halfway, then the store is opened and the chain state
  reconnects what was stored but not yet written to the UTXO set (at most the block in
  progress): ms, against opening the cleanly closed store;
- crash soak: `tests/helpers/crashkill.kill_cycles` with 500 kills (50 with --quick), every check passing.
Full context-free validation of the mainnet vectors is `python -m benchmarks validation`.

Measured here (2-core EPYC shared with other jobs, Python 3.11, compiled twin, full run): 1,936
blocks/s and 21,297 tx/s with the 256 MB cache and one batch per block (context-free checks
alone: 8,275 blocks/s), 1,824 blocks/s with 1 MB, 2,207 blocks/s (1.14x) with one batch per 2,000
blocks; peak RSS 79.1 MB (decoding alone 45 MB); a kill at block 2,500 reopened in 52 ms with
nothing to reconnect (a clean reopen: 72 ms); 500 SIGKILLs in 126 s, every check passing; 4,341
coinbase-only blocks/s. Scripts are not run.
About a quarter of connecting is the header tree's regtest work rule (`_next_bits` walks back
over every min-difficulty header of the period, as Core's GetNextWorkRequired does).
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

from benchmarks.common import Figure

_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(_ROOT / "tests"))  # the regtest miner and the crash-kill harness

from helpers.chain import block_on  # noqa: E402
from helpers.crashkill import kill_cycles  # noqa: E402

from pantheon import wire  # noqa: E402
from pantheon.chain.chainstate import DEFAULT_FLUSH_BLOCKS, Chainstate  # noqa: E402
from pantheon.chain.contextual import block_subsidy  # noqa: E402
from pantheon.chain.filterindex import BlockFilterIndex  # noqa: E402
from pantheon.chain.txindex import TxIndex  # noqa: E402
from pantheon.chain.txospenderindex import TxoSpenderIndex  # noqa: E402
from pantheon.chain.utxo import UtxoSet  # noqa: E402
from pantheon.chain.validation import check_block, check_block_at_height  # noqa: E402
from pantheon.params import REGTEST  # noqa: E402
from pantheon.primitives import Block, BlockHeader, Tx, TxIn, TxOut  # noqa: E402
from pantheon.protocol import BLOCK_HEADER_SIZE  # noqa: E402
from pantheon.store import Store  # noqa: E402

FULL = (5_000, 50_000)
QUICK = (1_000, 10_000)
SOAK_KILLS = (500, 50)
MATURITY = 100
SMALL_CACHE = 1024 * 1024
#: The block filter index may cost at most this share of the connect rate.
INDEX_COST_TARGET = 0.10
#: -txindex and -txospenderindex together may cost at most this share of it.
TX_INDEXES_COST_TARGET = 0.15
#: Core-style deferred writes for comparison: the cache written once per this many blocks.
DEFERRED_FLUSH_BLOCKS = 2_000
_FRAME = struct.Struct("<4sI")
_SCRIPT_SIG = b"\x48" + b"\x30" * 72 + b"\x21" + b"\x02" * 33  # a signature push and a key push
#: DESIGN.md: bcoin synced 5,000 coinbase-only regtest blocks from bcoin in 1.8 s.
BCOIN_BLOCKS_PER_SECOND = 5_000 / 1.8


def generate(block_count: int, tx_count: int, seed: int = 6) -> list[Block]:
    """The benchmark's chain (see the module docstring), genesis excluded."""
    rng = random.Random(seed)
    spendable: list[tuple[bytes, int, int]] = []
    maturing: list[tuple[bytes, int]] = []
    parent = BlockHeader.from_bytes(REGTEST.genesis_block[:BLOCK_HEADER_SIZE])
    carrying = block_count - MATURITY
    blocks = []
    for height in range(1, block_count + 1):
        if height > MATURITY:
            txid, value = maturing[height - MATURITY - 1]
            spendable.append((txid, 0, value))
        share = 0 if height <= MATURITY else tx_count // carrying + ((height - MATURITY) <= tx_count % carrying)
        txs = [_spend(spendable, rng) for _ in range(share)]
        block = block_on(parent, height, REGTEST, txs)
        maturing.append((block.transactions[0].txid, block_subsidy(height, REGTEST)))
        blocks.append(block)
        parent = block.header
    return blocks


def _spend(spendable: list[tuple[bytes, int, int]], rng: random.Random) -> Tx:
    inputs = []
    for _ in range(2 if len(spendable) > 1_000 else 1):
        pick = rng.randrange(len(spendable))
        spendable[pick], spendable[-1] = spendable[-1], spendable[pick]
        inputs.append(spendable.pop())
    total = sum(value for _, _, value in inputs)
    values = (total // 2, total - total // 2)
    scripts = [b"\x76\xa9\x14" + rng.randbytes(20) + b"\x88\xac" for _ in values]
    tx = Tx(2, [TxIn(txid, index, _SCRIPT_SIG) for txid, index, _ in inputs],
            [TxOut(value, script) for value, script in zip(values, scripts)], 0)
    spendable.extend((tx.txid, index, value) for index, value in enumerate(values))
    return tx


def _write(blocks: list[Block], path: Path) -> None:
    with path.open("wb") as out:
        for block in blocks:
            raw = wire.encode_block(block)
            out.write(_FRAME.pack(REGTEST.magic_bytes, len(raw)) + raw)


# --- the child process ---------------------------------------------------------------------------

def _peak_rss() -> int:
    """This process's peak RSS in bytes: VmHWM, which starts afresh at exec (ru_maxrss keeps
    the parent's high-water mark across fork and exec on Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _frames(data: bytes) -> Iterator[bytes]:
    pos = 0
    while pos < len(data):
        _, size = _FRAME.unpack_from(data, pos)
        pos += _FRAME.size + size
        yield data[pos - size:pos]


def _child(mode: str, chain_file: str, datadir: str, cache_bytes: int, flush_every: int) -> None:
    """`connect`: decode and connect one block at a time (as a sync would), report seconds and
    peak RSS; `connect-index`: the same with the block filter index; `connect-txindexes`: with
    -txindex and -txospenderindex; `decode`: only decode them, one at a time."""
    data = Path(chain_file).read_bytes()
    started = time.perf_counter()
    if mode.startswith("connect"):
        with Store.open(datadir) as store:
            indexes = {"connect": [], "connect-index": [BlockFilterIndex(store)],
                       "connect-txindexes": [TxIndex(store), TxoSpenderIndex(store)]}[mode]
            chainstate = Chainstate(store, REGTEST, cache_bytes=cache_bytes, flush_every=flush_every,
                                    indexes=indexes)
            for height, raw in enumerate(_frames(data), start=1):
                chainstate.accept_block(wire.decode_block(raw))
                if height % 100 == 0:
                    print(f"height {height}", flush=True)
            chainstate.close()
    else:
        for raw in _frames(data):
            wire.decode_block(raw)
    elapsed = time.perf_counter() - started
    peak = _peak_rss()
    print(json.dumps({"seconds": elapsed, "rss": peak}), flush=True)


def _spawn(mode: str, chain_file: Path, datadir: Path, cache_bytes: int,
           flush_every: int = DEFAULT_FLUSH_BLOCKS) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "benchmarks.bench_chain", mode, str(chain_file), str(datadir), str(cache_bytes),
               str(flush_every)]
    return subprocess.Popen(command, cwd=_ROOT, stdout=subprocess.PIPE, text=True)


def _measure(mode: str, chain_file: Path, datadir: Path, cache_bytes: int = 256 * 1024 * 1024,
             flush_every: int = DEFAULT_FLUSH_BLOCKS) -> dict[str, float]:
    child = _spawn(mode, chain_file, datadir, cache_bytes, flush_every)
    out, _ = child.communicate()
    if child.returncode:
        raise RuntimeError(f"the {mode} child failed ({child.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def _kill_halfway(chain_file: Path, datadir: Path, halfway: int) -> None:
    child = _spawn("connect", chain_file, datadir, 256 * 1024 * 1024)
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("height") and int(line.split()[1]) >= halfway:
                child.send_signal(signal.SIGKILL)
                break
    finally:
        child.kill()
        child.wait()
        child.stdout.close()  # type: ignore[union-attr]


def _reopen_seconds(datadir: Path) -> tuple[float, int, int]:
    """Seconds to open the store and the chain state; the flushed and the reconnected height."""
    started = time.perf_counter()
    with Store.open(datadir) as store:
        flushed = UtxoSet(store).tip
        chainstate = Chainstate(store, REGTEST)
        elapsed = time.perf_counter() - started
        height = chainstate.height
        chainstate.close()
    return elapsed, 0 if flushed is None else flushed[1], height


# --- the rows ----------------------------------------------------------------------------------

def _context_free_rate(blocks: list[Block]) -> float:
    fresh = [wire.decode_block(wire.encode_block(block)) for block in blocks]  # txids not cached yet
    started = time.perf_counter()
    for height, block in enumerate(fresh, start=1):
        check_block(block)
        check_block_at_height(block, height, REGTEST)
    return len(blocks) / (time.perf_counter() - started)


def run(quick: bool) -> list[Figure]:
    block_count, tx_count = QUICK if quick else FULL
    work = Path(tempfile.mkdtemp(prefix="pantheon-bench-chain-"))
    try:
        blocks = generate(block_count, tx_count)
        chain_file = work / "chain.blk"
        _write(blocks, chain_file)
        checked = _context_free_rate(blocks)
        txs = sum(len(block.transactions) for block in blocks)
        figures = []
        connect = _measure("connect", chain_file, work / "big")
        small = _measure("connect", chain_file, work / "small", SMALL_CACHE)
        deferred = _measure("connect", chain_file, work / "deferred", flush_every=DEFERRED_FLUSH_BLOCKS)
        decode = _measure("decode", chain_file, work / "none")
        label = f"{block_count:,} blocks, {tx_count:,} spends"
        figures.append(Figure(f"connect {label} (256 MB cache)", block_count / connect["seconds"], "blocks/s",
                              "context", True, "context-free checks only", checked))
        figures.append(Figure(f"connect {label} (256 MB cache)", txs / connect["seconds"], "tx/s", "context", True))
        figures.append(Figure(f"connect {label} (1 MB cache)", block_count / small["seconds"], "blocks/s",
                              "context", True, "256 MB cache", block_count / connect["seconds"]))
        figures.append(Figure(f"connect {label} (one batch per {DEFERRED_FLUSH_BLOCKS:,} blocks)",
                              block_count / deferred["seconds"], "blocks/s", "context", True,
                              "one batch per block", block_count / connect["seconds"]))
        plain, indexed, tx_indexed = deferred["seconds"], float("inf"), float("inf")
        as_the_node = {"flush_every": DEFERRED_FLUSH_BLOCKS}
        for attempt in range(2):
            indexed = min(indexed, _measure("connect-index", chain_file, work / f"index{attempt}",
                                            **as_the_node)["seconds"])
            tx_run = _measure("connect-txindexes", chain_file, work / f"txindexes{attempt}", **as_the_node)
            tx_indexed = min(tx_indexed, tx_run["seconds"])
            if attempt == 0:
                plain = min(plain, _measure("connect", chain_file, work / "again", **as_the_node)["seconds"])
        for option, seconds, target in (("-blockfilterindex", indexed, INDEX_COST_TARGET),
                                        ("-txindex -txospenderindex", tx_indexed, TX_INDEXES_COST_TARGET)):
            cost = seconds / plain - 1
            figures.append(Figure(f"connect {label} with {option} ({100 * cost:+.1f}%)", block_count / seconds,
                                  "blocks/s", f"<= {100 * target:.0f}% slower", cost <= target, "indexes off",
                                  block_count / plain))
        figures.append(Figure("connect: peak RSS", connect["rss"] / 2**20, "MB", "context", True,
                              "decode only", decode["rss"] / 2**20))
        _kill_halfway(chain_file, work / "killed", block_count // 2)
        reopen, flushed, height = _reopen_seconds(work / "killed")
        clean, _, _ = _reopen_seconds(work / "big")
        figures.append(Figure(f"kill halfway, reopen (flushed {flushed:,}, reconnected to {height:,})",
                              1000 * reopen, "ms", "context",
                              True, "reopen after a clean close", 1000 * clean))
        kills = SOAK_KILLS[quick]
        chain_log = logging.getLogger("pantheon.chain.chainstate")
        chain_log.setLevel(logging.ERROR)  # the soak reopens the chain state after every kill:
        try:  # its "script checks are off" warning, printed above already, would fill the screen
            soak = kill_cycles(work / "soak", kills)
        finally:
            chain_log.setLevel(logging.NOTSET)
        figures.append(Figure(f"crash soak: {kills} SIGKILLs, every check passed", soak.seconds, "s", "all pass",
                              True, "reopen + check, summed", soak.check_seconds))
        coinbase_only = generate(block_count, 0)
        _write(coinbase_only, work / "coinbase.blk")
        bare = _measure("connect", work / "coinbase.blk", work / "bare")
        rate = block_count / bare["seconds"]
        figures.append(Figure(f"connect {block_count:,} coinbase-only blocks", rate, "blocks/s",
                              f">= {BCOIN_BLOCKS_PER_SECOND:,.0f} (bcoin sync)", rate >= BCOIN_BLOCKS_PER_SECOND,
                              "bcoin→bcoin sync (DESIGN.md)", BCOIN_BLOCKS_PER_SECOND))
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
