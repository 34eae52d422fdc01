"""Script verification with Bitcoin Core's own interpreter: libbitcoinkernel via `py-bitcoinkernel`.
This module (`scripts`, plural) runs scripts; `chain/script.py` (singular) only names what is in
them (opcodes, limits, output shapes) and never runs one.

Writing a script interpreter by hand is where alternative nodes have split from consensus, so
Pantheon runs Core's `VerifyScript`. This module is the only one that imports `pbk` (an alpha
release, pinned exactly): our `Tx`, `Block` and `Coin` go in, our errors come out.

What the kernel can and cannot express
- Flags: only the seven consensus flags (`ScriptFlags`). Any other bit makes the kernel `assert`,
  i.e. abort the process, so unknown bits are refused here with ValueError. Core's
  STANDARD_SCRIPT_VERIFY_FLAGS adds 13 policy flags (STRICTENC, MINIMALDATA,
  DISCOURAGE_UPGRADABLE_NOPS, CLEANSTACK, MINIMALIF, NULLFAIL, LOW_S,
  DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM, WITNESS_PUBKEYTYPE, CONST_SCRIPTCODE,
  DISCOURAGE_UPGRADABLE_TAPROOT_VERSION, DISCOURAGE_OP_SUCCESS, DISCOURAGE_UPGRADABLE_PUBKEYTYPE)
  that the kernel does not expose, so `STANDARD_FLAGS` is the consensus set only: the mempool
  accepts scripts that Core's policy would call non-standard (e.g. a high-S signature), except
  DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM, which needs no interpreter and is checked here after
  the kernel (`refuse_upgradable_witness`).
- Errors: the kernel returns pass/fail, not Core's ScriptError. The error is named by
  `chain/script_errors.py`, which follows the refused input as Core's interpreter would as far as
  it can (every opcode's checks, flow control, the stack, P2SH, the witness placement rules,
  but no signatures, lock times or witness programs' scripts); where it cannot, the text is
  Core's own for an unspecified error, `unknown error`, where Core would show e.g. `Signature
  must be zero for failed CHECK(MULTI)SIG operation`. The input, txid and wtxid are in `detail`.
- Reasons: Core 30's, `mempool-script-verify-flag-failed (<error>)` for a mempool transaction
  (Core's policy flags named by the explanation) and `block-script-verify-flag-failed (<error>)`
  in a block (Core <= 29 said `mandatory-script-verify-flag-failed` or
  `non-mandatory-script-verify-flag`, re-checking with the consensus flags to tell them apart).

Not blocking the gevent hub (`ScriptVerifier(workers=...)`). An input's cost is split between the
kernel, which runs with the GIL released (`pbk` calls through `ctypes.CDLL`), and Python and ctypes
work building the kernel's objects, with the GIL held. So native threads overlap only the kernel
part, while worker processes run both in parallel, the pickling of each tx and its spent outputs
being small against an input's verification (`python -m benchmarks scripts` compares the three; the README
has the figures). So blocks of at least `min_parallel_inputs` inputs are verified by `workers`
processes (default 2, at most the cores), fed chunks over pipes by the block's
`ScriptCheckQueue` while the chain state's connect loop goes on (Core's CCheckQueue), gevent
waiting on the pipes cooperatively. The connect loop may start a block's checks before the last
block's verdict (`ScriptCheckQueue.wait_sent`): its chunks queue behind the last block's, so the
workers need not wait for the loop between two blocks. `workers=0` (and small blocks) verify in
the calling greenlet and yield (`gevent.sleep(0)`) every `yield_every` inputs, a few milliseconds
of work.
Processes are started with `subprocess`, not `multiprocessing`, so monkey-patching (cli.py)
cannot turn their plumbing into greenlets. A mempool tx is verified inline: one tx is a fraction of a millisecond.

Successful verifications are cached by (wtxid, flags), as Core's script execution cache: the wtxid
commits to the scripts and the spent outpoints, so a tx accepted to the mempool is not verified
again when its block connects (the block's lookup removes the entry, a tx is in one block).
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import os
import pickle
import struct
import sys
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Callable, Sequence, Union

import gevent
from gevent import select as gselect
from gevent import subprocess as gsubprocess
from gevent.lock import RLock

from pantheon.chain.addresses import hash160
from pantheon.chain.coins import Coin
from pantheon.chain.script import is_p2a, is_p2sh, script_ops, witness_program
from pantheon.chain.pow import block_work
from pantheon.chain.script_errors import SCRIPT_ERRORS, explain_failure
from pantheon.chain.validation import BlockRejected, TxRejected, is_coinbase
from pantheon.hashing import hash_to_hex, hex_to_hash
from pantheon.params import MAIN, TESTNET3, Network
from pantheon.primitives import Block, Tx

try:
    import pbk
    from pbk.capi import KernelOpaquePtr
except (ImportError, OSError, RuntimeError) as exc:  # no wheel here, or its library fails to load
    pbk = None
    AVAILABLE = False
    UNAVAILABLE_REASON = f"py-bitcoinkernel cannot be loaded ({type(exc).__name__}: {exc}); script checks are off"
else:
    AVAILABLE = True
    UNAVAILABLE_REASON = ""

__all__ = [
    "AVAILABLE",
    "UNAVAILABLE_REASON",
    "ScriptFlags",
    "CONSENSUS_FLAGS",
    "STANDARD_FLAGS",
    "MEMPOOL_REASON",
    "refuse_upgradable_witness",
    "BLOCK_REASON",
    "SCRIPT_ERROR_TEXT",
    "SpentOutput",
    "ScriptCheckError",
    "ScriptsUnavailable",
    "ScriptRejected",
    "VerificationCache",
    "BlockScriptStats",
    "ScriptVerifier",
    "ScriptCheckQueue",
    "script_flags",
    "flag_names",
    "verify_tx",
    "ChainScriptChecks",
]


class ScriptFlags(enum.IntFlag):
    """The script verification flags libbitcoinkernel exposes: Core's `SCRIPT_VERIFY_*` bits."""

    NONE = 0
    P2SH = 1 << 0  # BIP16
    DERSIG = 1 << 2  # BIP66
    NULLDUMMY = 1 << 4  # BIP147
    CHECKLOCKTIMEVERIFY = 1 << 9  # BIP65
    CHECKSEQUENCEVERIFY = 1 << 10  # BIP112
    WITNESS = 1 << 11  # BIP141/143
    TAPROOT = 1 << 17  # BIP341/342


#: Every flag the kernel knows: Core's MANDATORY_SCRIPT_VERIFY_FLAGS.
CONSENSUS_FLAGS = (
    ScriptFlags.P2SH
    | ScriptFlags.DERSIG
    | ScriptFlags.NULLDUMMY
    | ScriptFlags.CHECKLOCKTIMEVERIFY
    | ScriptFlags.CHECKSEQUENCEVERIFY
    | ScriptFlags.WITNESS
    | ScriptFlags.TAPROOT
)
#: Core's STANDARD_SCRIPT_VERIFY_FLAGS as far as the kernel can express them (the module
#: docstring lists the 13 policy flags it cannot): the consensus set, whatever the height.
STANDARD_FLAGS = CONSENSUS_FLAGS

MEMPOOL_REASON = "mempool-script-verify-flag-failed"
BLOCK_REASON = "block-script-verify-flag-failed"
#: Core's ScriptErrorString(SCRIPT_ERR_UNKNOWN_ERROR): where the failure cannot be named.
SCRIPT_ERROR_TEXT = SCRIPT_ERRORS["UNKNOWN_ERROR"]
#: -assumevalid skips a block's scripts only under more than this much work (two weeks of blocks).
ASSUMEVALID_BURIED_SECONDS = 60 * 60 * 24 * 7 * 2

#: Core's GetBlockScriptFlags always sets these, except in the blocks listed below.
_ALWAYS = ScriptFlags.P2SH | ScriptFlags.WITNESS | ScriptFlags.TAPROOT
#: Core's consensus.script_flag_exceptions (kernel/chainparams.cpp): the historical blocks that
#: violate a rule applied retroactively, with the flags they are checked with instead.
_FLAG_EXCEPTIONS: dict[tuple[str, bytes], ScriptFlags] = {
    # mainnet block 170,060: violates BIP16
    (MAIN.name, hex_to_hash("00000000000002dc756eebf4f49723ed8d30cc28a5f108eb94b1ba88ac4f9c22")): ScriptFlags.NONE,
    # mainnet block 692,261: violates Taproot
    (MAIN.name, hex_to_hash("0000000000000000000f14c35b2d841e986ab5441de8c585d5ffe55ea1e395ad")): (
        ScriptFlags.P2SH | ScriptFlags.WITNESS
    ),
    # testnet3 block 5,027: violates BIP16
    (TESTNET3.name, hex_to_hash("00000000dd30457c001f4095d208cc1296b0eed002427aa599874af7a432b105")): ScriptFlags.NONE,
}

#: A spent output: our `Coin`, or a `(value, script_pubkey)` pair.
SpentOutput = Union[Coin, tuple[int, bytes]]

_DEFAULT_CACHE_ENTRIES = 100_000
_CHUNKS_PER_WORKER = 8
#: Chunks a worker is sent ahead of its replies by default (`ScriptVerifier.queued_chunks`): one
#: running, the rest in its pipe, enough to cover the connect loop's work between one block's last
#: chunk and the next block's first (measured in the dense sync, 4 left the cores idle half as
#: long as 2, and 8 no less than 4).
_QUEUED_CHUNKS = 4
#: One transaction to verify: its position in the block, its bytes, its spent (value, script)s.
_Work = tuple[int, bytes, list[tuple[int, bytes]]]
_FRAME = struct.Struct("<I")
#: A worker's reply: the chunk's number and its first failing position, or `_NO_FAILURE`.
_REPLY = struct.Struct("<Ii")
_NO_FAILURE = -1


class ScriptCheckError(RuntimeError):
    """The scripts could not be checked at all (never a pass): kernel missing, worker lost."""


class ScriptsUnavailable(ScriptCheckError):
    """py-bitcoinkernel is not installed or cannot load here; `UNAVAILABLE_REASON` says why."""


class ScriptRejected(TxRejected):
    """An input's script failed. `reason` is Core's: MEMPOOL_REASON or BLOCK_REASON, then the
    script error (`error`) in parentheses."""

    def __init__(self, tx: Tx, input_index: int, flags: int, *, prefix: str, error: str) -> None:
        txin = tx.inputs[input_index]
        detail = (
            f"input {input_index} of {hash_to_hex(tx.txid)} (wtxid {hash_to_hex(tx.wtxid)}), "
            f"spending {hash_to_hex(txin.prev_txid)}:{txin.prev_index}"
        )
        super().__init__(f"{prefix} ({error})", tx.txid, detail)
        self.input_index = input_index
        self.flags = flags
        self.error = error


def flag_names(flags: int) -> str:
    """`P2SH|DERSIG|...` (or `NONE`): flags as a log line shows them."""
    return "|".join(flag.name for flag in ScriptFlags if flag and flags & flag) or "NONE"  # type: ignore[misc]


def script_flags(network: Network, height: int, block_hash: bytes | None) -> ScriptFlags:
    """Core's GetBlockScriptFlags: the consensus flags for the block at `height`.

    P2SH, WITNESS and TAPROOT apply to every block (no historical block breaks them but the
    listed exceptions, so `network.taproot_height` plays no part); DERSIG, CHECKLOCKTIMEVERIFY,
    CHECKSEQUENCEVERIFY and NULLDUMMY from their buried heights. `block_hash` (internal byte
    order) must be given when connecting a block, or an exception block would be rejected;
    None is for a block not yet mined (mempool, template).
    """
    flags = _FLAG_EXCEPTIONS.get((network.name, block_hash), _ALWAYS) if block_hash else _ALWAYS
    if height >= network.bip66_height:
        flags |= ScriptFlags.DERSIG
    if height >= network.bip65_height:
        flags |= ScriptFlags.CHECKLOCKTIMEVERIFY
    if height >= network.csv_height:
        flags |= ScriptFlags.CHECKSEQUENCEVERIFY
    if height >= network.segwit_height:
        flags |= ScriptFlags.NULLDUMMY
    return flags


def _check_flags(flags: int) -> int:
    """Refuse what the kernel would abort on (unknown bits) or reject (WITNESS without P2SH)."""
    flags = int(flags)
    if flags & ~int(CONSENSUS_FLAGS):  # int: ~ on an IntFlag keeps only its known bits
        raise ValueError(f"flags {flags:#x} name bits libbitcoinkernel does not support")
    if flags & ScriptFlags.WITNESS and not flags & ScriptFlags.P2SH:
        raise ValueError("the WITNESS flag needs P2SH")
    return flags


def _pairs(tx: Tx, spent_outputs: Sequence[SpentOutput]) -> list[tuple[int, bytes]]:
    """(value, script_pubkey) per input, checked to match the inputs one for one."""
    if len(spent_outputs) != len(tx.inputs):
        raise ValueError(f"{len(spent_outputs)} spent outputs for {len(tx.inputs)} inputs")
    return [(out.value, out.script_pubkey) if isinstance(out, Coin) else (out[0], out[1]) for out in spent_outputs]


class _KernelTx:
    """One serialised tx and its spent outputs as the kernel's objects, built once per tx: its
    PrecomputedTransactionData holds every spent output (taproot signatures commit to all)."""

    __slots__ = ("tx", "scripts", "values", "txdata")

    def __init__(self, raw: bytes, pairs: Sequence[tuple[int, bytes]]) -> None:
        try:
            self.tx = _from_bytes(pbk.Transaction, raw)
        except RuntimeError as exc:
            raise ScriptCheckError(f"libbitcoinkernel cannot parse a transaction we decoded: {exc}") from exc
        self.values = [value for value, _ in pairs]
        self.scripts = [_from_bytes(pbk.ScriptPubkey, script) for _, script in pairs]
        outputs = [pbk.TransactionOutput(script, value) for script, value in zip(self.scripts, self.values)]
        self.txdata = pbk.script.PrecomputedTransactionData(self.tx, outputs)

    def input_ok(self, index: int, flags: int) -> bool:
        """Core's VerifyScript for input `index`."""
        return bool(self.scripts[index].verify(self.values[index], self.tx, self.txdata, index, flags))

    def first_failure(self, flags: int) -> int | None:
        return next((index for index in range(len(self.scripts)) if not self.input_ok(index, flags)), None)


def _from_bytes(kind: type, data: bytes) -> Any:
    """A kernel transaction or script made from serialised bytes in one copy. pbk's own
    constructors (`pbk.Transaction(data)`) build their ctypes array from `*data`, one int per
    byte: 50 us for a 400-byte tx where this takes 10, about a quarter of a worker's time."""
    made = kind.__new__(kind)
    KernelOpaquePtr.__init__(made, (ctypes.c_ubyte * len(data)).from_buffer_copy(data), len(data))
    return made


def _first_failure(raw: bytes, pairs: Sequence[tuple[int, bytes]], flags: int) -> int | None:
    """The first input of a serialised tx whose script fails under `flags`, or None."""
    return _KernelTx(raw, pairs).first_failure(flags)


def _require_kernel() -> None:
    if not AVAILABLE:
        raise ScriptsUnavailable(UNAVAILABLE_REASON)


def verify_tx(tx: Tx, spent_outputs: Sequence[SpentOutput], flags: int, *, mempool: bool = False) -> None:
    """Verify every input of `tx` (not a coinbase) against the outputs it spends, in input order.

    Raises ScriptRejected on the first failing input, its error named as Core would under its
    policy flags (`mempool`) or under `flags` alone (a block's).
    """
    _require_kernel()
    if is_coinbase(tx):
        raise ValueError("a coinbase spends no outputs: it has no scripts to verify")
    flags = _check_flags(flags)
    pairs = _pairs(tx, spent_outputs)
    kernel_tx = _KernelTx(tx.serialize(), pairs)
    failed = kernel_tx.first_failure(flags)
    if failed is None:
        return
    txin = tx.inputs[failed]
    error = explain_failure(txin.script_sig, pairs[failed][1], txin.witness, p2sh=bool(flags & ScriptFlags.P2SH),
                            segwit=bool(flags & ScriptFlags.WITNESS), standard=mempool)
    raise ScriptRejected(tx, failed, flags, prefix=MEMPOOL_REASON if mempool else BLOCK_REASON,
                         error=error or SCRIPT_ERROR_TEXT)


class VerificationCache:
    """Successful verifications by (wtxid, flags), the oldest dropped beyond `max_entries`.

    An entry is 36 bytes of key in an OrderedDict, ~150 bytes of memory with Python's overhead,
    so the default 100,000 entries (more than a full mempool's transactions) is ~15 MB.
    """

    def __init__(self, max_entries: int = _DEFAULT_CACHE_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be positive")
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, None] = OrderedDict()

    @staticmethod
    def _key(wtxid: bytes, flags: int) -> bytes:
        return wtxid + _FRAME.pack(int(flags))

    def add(self, wtxid: bytes, flags: int) -> None:
        entries = self._entries
        entries[self._key(wtxid, flags)] = None
        if len(entries) > self.max_entries:
            entries.popitem(last=False)

    def contains(self, wtxid: bytes, flags: int, *, erase: bool = False) -> bool:
        """Whether (wtxid, flags) verified; `erase` drops the entry (a block uses it once)."""
        key = self._key(wtxid, flags)
        if erase:
            return self._entries.pop(key, False) is None
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True)
class BlockScriptStats:
    """What one block's verification did: inputs run through the interpreter, and transactions
    skipped because the cache had them."""

    inputs_verified: int
    txs_from_cache: int


class ScriptVerifier:
    """The node's one script checker: the cache and, when `workers` > 0, the worker processes.

    `verify_mempool_tx` and `queue_block` are the two calls the mempool and the block connection
    make (`verify_block_scripts` feeds a block's queue at once). Blocks with fewer than
    `min_parallel_inputs` inputs to check are verified inline (a round trip to the workers costs
    more than a few inputs), yielding to the hub every `yield_every` inputs. A worker is sent up to
    `queued_chunks` chunks ahead of its replies. Workers start on first use; `close()` (or a `with`
    block) stops them.
    """

    def __init__(
        self,
        *,
        workers: int = 2,
        cache: VerificationCache | None = None,
        yield_every: int = 64,
        min_parallel_inputs: int = 256,
        queued_chunks: int = _QUEUED_CHUNKS,
    ) -> None:
        _require_kernel()
        if workers < 0 or yield_every < 1 or queued_chunks < 1:
            raise ValueError("workers must be >= 0, yield_every and queued_chunks >= 1")
        self.workers = min(workers, os.cpu_count() or 1)
        self.cache = VerificationCache() if cache is None else cache
        self.yield_every = yield_every
        self.min_parallel_inputs = min_parallel_inputs
        self.queued_chunks = queued_chunks
        self._workers: list[_Worker] = []
        #: Held by the greenlet whose blocks use the workers, once per block in flight.
        self._claim = RLock()
        #: Full chunks no worker has room for yet, oldest block's first.
        self._waiting: deque[tuple[ScriptCheckQueue, list[_Work]]] = deque()

    def verify_mempool_tx(
        self, tx: Tx, spent_outputs: Sequence[SpentOutput], network: Network, next_height: int
    ) -> None:
        """Verify a tx for the mempool with STANDARD_FLAGS and cache the success under them and
        the flags of the block at `next_height`, so the tx's block finds it, as Core's
        ConsensusScriptChecks caches it. No second run is needed: STANDARD_FLAGS is a superset,
        and removing flags never invalidates scripts (tx_valid tests this)."""
        block_flags = script_flags(network, next_height, None)
        if self.cache.contains(tx.wtxid, STANDARD_FLAGS):
            return
        verify_tx(tx, spent_outputs, STANDARD_FLAGS, mempool=True)
        refuse_upgradable_witness(tx, spent_outputs)
        self.cache.add(tx.wtxid, STANDARD_FLAGS)
        self.cache.add(tx.wtxid, block_flags)

    def verify_block_scripts(
        self, block: Block, spent_outputs_per_tx: Sequence[Sequence[SpentOutput]], flags: int
    ) -> BlockScriptStats:
        """Verify every input script of `block` with its consensus `flags` (`script_flags`), for a
        caller that has every spent output already: `queue_block` fed at once.

        `spent_outputs_per_tx` is aligned with `block.transactions`, the coinbase's entry empty.
        Raises BlockRejected as `ScriptCheckQueue.complete` does.
        """
        txs = block.transactions
        if len(spent_outputs_per_tx) != len(txs):
            raise ValueError(f"{len(spent_outputs_per_tx)} spent-output lists for {len(txs)} transactions")
        with self.queue_block(block, flags) as queue:
            for tx, spent in zip(txs, spent_outputs_per_tx):
                if not is_coinbase(tx):
                    queue.add(tx, spent)
            return queue.complete()

    def queue_block(self, block: Block, flags: int) -> ScriptCheckQueue:
        """The queue for `block`'s script checks under its consensus `flags`, to feed one tx at a
        time as the connect loop finds its spent outputs; use it in a `with` block."""
        return ScriptCheckQueue(self, block, flags)

    def _run_inline(self, work: Sequence[_Work], flags: int) -> int | None:
        """The first failing position, verified in this greenlet, yielding every `yield_every` inputs."""
        since_yield = 0
        for position, raw, pairs in work:
            kernel_tx = _KernelTx(raw, pairs)
            for index in range(len(pairs)):  # yielding inside a tx too: one may have thousands
                if not kernel_tx.input_ok(index, flags):
                    return position
                since_yield += 1
                if since_yield >= self.yield_every:
                    gevent.sleep(0)
                    since_yield = 0
        return None

    def _claim_workers(self) -> list[_Worker]:
        """The workers, started if need be, for one block: `_release_workers` gives them back.
        One greenlet at a time has blocks in flight; it may claim them again for its next block
        before the last one's verdict."""
        self._claim.acquire()
        if not self._workers:
            try:
                self._workers = [_Worker() for _ in range(self.workers)]
            except BaseException:
                self._claim.release()
                raise
        return self._workers

    def _release_workers(self) -> None:
        self._claim.release()

    def _discard_workers(self) -> None:
        """The pipes are out of step (a lost worker, a greenlet killed mid-exchange): every block in
        flight has lost its checks (`ScriptCheckQueue` sees its workers are gone), and the next
        block starts fresh workers."""
        workers, self._workers = self._workers, []
        self._waiting.clear()
        for worker in workers:
            worker.kill()

    def _exchange(self, done: Callable[[], bool] | None = None) -> None:
        """Read the replies that have come (each goes to the block whose chunk it answers) and hand
        waiting chunks to the workers with room, oldest block's first; with `done`, wait for
        replies until it holds. Any error discards the workers (`_discard_workers`)."""
        workers = self._workers
        try:
            while True:
                for worker in workers:
                    worker.read_replies()
                self._send_waiting(workers)
                if done is None or done():
                    return
                busy = [worker.replies for worker in workers if worker.sent]
                if not busy:
                    raise AssertionError("waiting for replies to chunks never sent")
                gselect.select(busy, [], [])
        except BaseException:
            self._discard_workers()
            raise

    def _send_waiting(self, workers: list[_Worker]) -> None:
        """Hand the waiting chunks, oldest first, to the workers with the fewest out, up to
        `queued_chunks` each; drop those of a block whose verdict a reply has given."""
        waiting = self._waiting
        while waiting:
            queue, chunk = waiting[0]
            if queue._failures:  # its verdict is known: the rest of its chunks need not run
                waiting.popleft()
                queue._unsent -= 1
                continue
            worker = min(workers, key=lambda worker: len(worker.sent))
            if len(worker.sent) >= self.queued_chunks:
                return
            waiting.popleft()
            queue._unsent -= 1
            worker.send(queue, chunk)

    def close(self) -> None:
        """Stop the worker processes (closing their input ends them) and wait for them."""
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.process.stdin.close()
        for worker in workers:
            worker.process.wait(timeout=10)
            worker.process.stdout.close()

    def __enter__(self) -> ScriptVerifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ScriptCheckQueue:
    """One block's script checks, queued as the connect loop reaches each transaction (Core's
    CCheckQueueControl): `add` each non-coinbase tx with its spent outputs in block order once its
    other checks pass, `complete` for the verdict after every other rule of the block; leaving
    the `with` block without it (`abandon`) drops the checks of a block that failed another rule.

    The transactions the cache holds are skipped. If the rest have fewer than the verifier's
    `min_parallel_inputs` inputs, or it has no workers, they are verified in `complete`, in the
    calling greenlet. Otherwise they go to the worker processes while the connect loop goes on, in
    chunks of ~1/8 of a worker's share of the inputs: a full chunk is written at once to the worker
    with the fewest waiting (a write yields only when that pipe is full), at most `queued_chunks`
    per worker so none idles between chunks and none is given a long backlog (an input's cost
    varies with its tx, as legacy sighash hashes the whole tx: fixed shares were measured 2:1 out
    of balance on block 481815); further chunks wait in the verifier, behind those of any block
    still in flight, until a reply, read without waiting at the next chunk or waited for in
    `complete` or `wait_sent`, frees a worker. Once a reply names a failure, no further chunk of the
    block is sent; the failure is raised by `complete` only, as Core reports its parallel checks'
    failure when it waits for them after every other rule.
    """

    def __init__(self, verifier: ScriptVerifier, block: Block, flags: int) -> None:
        self._verifier = verifier
        self._block_hash = block.hash
        self._flags = flags = _check_flags(flags)
        cache = verifier.cache
        #: Verified before (the mempool): skipped, and used up when the verdict is asked.
        self._from_cache: set[bytes] = set()
        self._inputs = 0
        for tx in block.transactions:
            if is_coinbase(tx):
                continue
            if cache.contains(tx.wtxid, flags):
                self._from_cache.add(tx.wtxid)
            else:
                self._inputs += len(tx.inputs)
        self._queued: list[tuple[Tx, Sequence[SpentOutput]]] = []  # by the position `_Work` names
        self._held: list[_Work] = []  # the chunk being filled; every tx when verified inline
        self._held_inputs = 0
        self._unsent = 0  # chunks waiting in the verifier for a worker
        self._unanswered = 0  # chunks sent, their replies not read
        self._failures: list[int] = []
        self._finished = False
        self._workers: list[_Worker] | None = None
        if verifier.workers and self._inputs >= verifier.min_parallel_inputs:
            self._workers = verifier._claim_workers()
            self._chunk_inputs = max(1, self._inputs // (len(self._workers) * _CHUNKS_PER_WORKER))

    def add(self, tx: Tx, spent_outputs: Sequence[SpentOutput]) -> None:
        """Queue `tx`'s input scripts against the outputs it spends (aligned with its inputs)."""
        if self._failures or (self._from_cache and tx.wtxid in self._from_cache):
            return  # the verdict is known already, or the tx was verified before
        pairs = _pairs(tx, spent_outputs)
        self._held.append((len(self._queued), tx.serialize(), pairs))
        self._queued.append((tx, spent_outputs))
        self._held_inputs += len(pairs)
        if self._workers is not None and self._held_inputs >= self._chunk_inputs:
            self._hand_over_held()
            self._exchange()

    def wait_sent(self) -> None:
        """Every check is queued: send the last chunk, then wait (other greenlets run) until each
        chunk of the block is with a worker, none waiting here. The next block's chunks, queued
        from then on, keep the workers busy while this block's last ones run and its verdict waits."""
        if self._workers is None or self._finished:
            return
        self._hand_over_held()
        self._exchange(lambda: not self._unsent)

    def complete(self) -> BlockScriptStats:
        """The verdict once every queued check has run. Raises BlockRejected (Core's reason, the tx
        and input in `detail`, caused by the ScriptRejected) on a failing tx: the first in block
        order inline, the first the workers found otherwise (as Core's parallel checks report
        whichever failed)."""
        for wtxid in self._from_cache:
            self._verifier.cache.contains(wtxid, self._flags, erase=True)  # a tx is in one block
        if self._workers is None:
            self._finished = True
            failed = self._verifier._run_inline(self._held, self._flags)
        else:
            try:
                self._hand_over_held()
                self._exchange(lambda: not self._unsent and not self._unanswered)
            finally:
                self._finish()
            failed = min(self._failures) if self._failures else None
        if failed is not None:
            tx, spent = self._queued[failed]
            try:
                verify_tx(tx, spent, self._flags)
            except ScriptRejected as rejected:
                raise BlockRejected(rejected.reason, self._block_hash, rejected.detail) from rejected
            raise ScriptCheckError(f"tx {hash_to_hex(tx.txid)} failed, then passed when checked again")
        return BlockScriptStats(self._inputs, len(self._from_cache))

    def abandon(self) -> None:
        """Drop the checks of a block that failed another rule (nothing after `complete`): its
        chunks not sent yet are dropped, the ones sent waited for (so no later read takes their
        replies for another block's), and the workers given back."""
        if self._finished or self._workers is None:
            self._finished = True
            return
        verifier = self._verifier
        if self._workers is verifier._workers and self._unsent:
            kept = [(queue, chunk) for queue, chunk in verifier._waiting if queue is not self]
            verifier._waiting = deque(kept)
            self._unsent = 0
        try:
            self._exchange(lambda: not self._unanswered)
        except ScriptCheckError:
            pass  # the workers were discarded and start afresh; no verdict is wanted
        finally:
            self._finish()

    def _hand_over_held(self) -> None:
        if self._held:
            self._verifier._waiting.append((self, self._held))
            self._unsent += 1
            self._held, self._held_inputs = [], 0

    def _exchange(self, done: Callable[[], bool] | None = None) -> None:
        """The verifier's exchange for this block; ScriptCheckError if the workers its chunks went
        to were discarded meanwhile (a lost worker while another block's replies were read)."""
        if self._workers is not self._verifier._workers:
            raise ScriptCheckError("the script workers were lost while this block's checks ran")
        self._verifier._exchange(done)

    def _answered(self, failed: int) -> None:
        self._unanswered -= 1
        if failed != _NO_FAILURE:
            self._failures.append(failed)

    def _finish(self) -> None:
        if not self._finished:
            self._finished = True
            self._verifier._release_workers()

    def __enter__(self) -> ScriptCheckQueue:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.abandon()


class _Worker:
    """A worker process and the chunks sent to it and not answered yet, oldest first, each with
    its number and the block's queue it belongs to: a reply must name the oldest, so none is ever
    taken for another chunk's, and it goes to that chunk's block."""

    def __init__(self) -> None:
        command = [sys.executable, "-c", "from pantheon.chain.scripts import _worker_main; _worker_main()"]
        self.process = gsubprocess.Popen(command, stdin=gsubprocess.PIPE, stdout=gsubprocess.PIPE)
        self.replies = self.process.stdout.fileno()  # non-blocking: gevent's pipes are
        self.sent: deque[tuple[int, ScriptCheckQueue]] = deque()
        self._number = 0
        self._unread = bytearray()

    def send(self, queue: ScriptCheckQueue, chunk: list[_Work]) -> None:
        self._number = (self._number + 1) & 0xFFFF_FFFF
        try:
            _send(self.process.stdin, (self._number, queue._flags, chunk))
        except OSError as exc:
            raise ScriptCheckError("a script worker process exited") from exc
        self.sent.append((self._number, queue))
        queue._unanswered += 1

    def read_replies(self) -> None:
        """Hand the replies that have come to their blocks' queues, read without waiting."""
        while self.sent:
            try:
                data = os.read(self.replies, _REPLY.size * 8)  # a few replies at a time
            except BlockingIOError:
                return
            if not data:
                raise ScriptCheckError("a script worker process exited")
            self._unread += data
            while len(self._unread) >= _REPLY.size:
                number, failed = _REPLY.unpack_from(self._unread)
                del self._unread[:_REPLY.size]
                if not self.sent or self.sent[0][0] != number:
                    raise ScriptCheckError("a script worker answered a chunk it was not sent")
                self.sent.popleft()[1]._answered(failed)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        with contextlib.suppress(BrokenPipeError):  # a chunk a dead worker never read is dropped
            self.process.stdin.close()
        self.process.stdout.close()


class ChainScriptChecks:
    """A `ScriptVerifier` as the chain state and the mempool call it, with Core's `-assumevalid`
    (ConnectBlock's condition, in full): a block's scripts are skipped (everything else about it
    is still checked) when it is an ancestor of the assumed-valid block and of the best header,
    the best header has at least the network's minimum chain work, and more than two weeks of
    blocks' work (at the best header's difficulty) lies on top of the block; Core's reason for
    the last: burying a block takes work, so a demand to "just set assumevalid" gains nothing.
    """

    def __init__(self, verifier: ScriptVerifier, network: Network, headers: Any,
                 next_height: Any, assumevalid: bytes | None = None) -> None:
        self.verifier = verifier
        self.network = network
        self.headers = headers  # a chain.headers.HeaderTree; None until the chain state is open
        self.next_height = next_height  # () -> the height a mempool tx is judged for
        self.assumevalid = assumevalid
        self.skipped = 0

    def assumed_valid(self, block_hash: bytes, height: int) -> bool:
        anchor, headers = self.assumevalid, self.headers
        if anchor is None or headers is None or anchor not in headers:
            return False
        best = headers.tip
        if (headers.height_of(anchor) < height or headers.ancestor(anchor, height) != block_hash
                or headers.height < height or headers.ancestor(best, height) != block_hash):
            return False
        best_work = headers.chain_work(best)
        if best_work < self.network.minimum_chain_work:
            return False
        # Core's GetBlockProofEquivalentTime(best header, block, best header)
        buried = (best_work - headers.chain_work(block_hash)) * self.network.pow_target_spacing
        return buried // block_work(headers.header(best).bits) > ASSUMEVALID_BURIED_SECONDS

    def block(self, block: Block, height: int) -> ScriptCheckQueue | None:
        """The queue for the scripts of a block the chain state connects; None when -assumevalid
        skips them."""
        if self.assumed_valid(block.hash, height):
            self.skipped += 1
            return None
        return self.verifier.queue_block(block, script_flags(self.network, height, block.hash))

    def mempool_tx(self, tx: Tx, spent: Sequence[SpentOutput]) -> None:
        """The mempool's script check of a transaction for the next block."""
        self.verifier.verify_mempool_tx(tx, spent, self.network, self.next_height())


def refuse_upgradable_witness(tx: Tx, spent_outputs: Sequence[SpentOutput]) -> None:
    """Core's policy flag DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM, which the kernel lacks: an input
    spending a witness program of a version or size no rule defines yet (a P2A anchor counts
    only unwrapped, taproot only unwrapped) is refused from the mempool."""
    for index, (txin, spent) in enumerate(zip(tx.inputs, spent_outputs)):
        script = spent.script_pubkey if isinstance(spent, Coin) else spent[1]
        nested = is_p2sh(script)
        if nested:
            pushes = list(script_ops(txin.script_sig))
            if len(pushes) != 1 or pushes[0][1] is None or hash160(pushes[0][1]) != script[2:22]:
                continue  # not a P2SH-wrapped witness spend: the kernel judged it
            script = pushes[0][1]
        program = witness_program(script)
        if program is None:
            continue
        version, data = program
        defined = (version == 0 and len(data) in (20, 32)) or (not nested and (
            (version == 1 and len(data) == 32) or is_p2a(script)))
        if not defined:
            raise ScriptRejected(tx, index, STANDARD_FLAGS, prefix=MEMPOOL_REASON,
                                 error="Witness version reserved for soft-fork upgrades")


def _send(stream: Any, message: object) -> None:
    data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    stream.write(_FRAME.pack(len(data)) + data)
    stream.flush()


def _worker_main() -> None:
    """A worker process: read (number, flags, chunk) requests, reply with the number and the
    first failing position (`_NO_FAILURE` if none)."""
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = requests.read(_FRAME.size)
        if len(header) < _FRAME.size:
            return
        number, flags, chunk = pickle.loads(requests.read(_FRAME.unpack(header)[0]))
        failed = next((position for position, raw, pairs in chunk if _first_failure(raw, pairs, flags) is not None),
                      _NO_FAILURE)
        replies.write(_REPLY.pack(number, failed))
        replies.flush()
