"""The transaction memory pool: Bitcoin Core's `MemPoolAccept` checks in Core's order and with its
reject reasons, the orphanage (`chain/orphanage.py`) and the recently refused transactions, a
memory cap, and the ancestor-aware order the miner reads.

Standardness (what is relayed at all, dust, virtual size, the relay fee rates) is Core 30's, in
`chain/policy.py`; the pool applies it where Core's `PreChecks` does. Replacement is Core 31's full
RBF judged by the feerate diagram (`chain/replacement.py`): a transaction spending what a pooled
one spends replaces it, with its descendants, when it passes those rules. Packages (Core's
`AcceptPackage`, a child paying for its parents) are `chain/packages.py`'s, built on `check`,
`stage` and `unstage` here. Chains are limited as Core's defaults: 25 transactions and 101,000 vB
with ancestors, and with descendants, for each ancestor (`too-long-mempool-chain`), and clusters
(transactions linked by spending, either way) as Core 31's: 64 transactions of 404,000
sigop-adjusted weight units together (`too-large-cluster`). Not implemented: TRUC (v3) topology
rules.

Scripts are NOT executed unless a `script_verifier` is given (`chain/scripts.py` provides one):
without it the pool says so loudly once, and `scripts_verified` is False.

A peer's transaction (`accept(tx, peer=ID)`) is logged as Core's net_processing logs it: accepted
(mempool), or refused with its reason (mempoolrej). Refused transactions are remembered, as
Core's recent-rejects filter, until the tip changes (those refused only for their fee rate are
not: a package could pay for them); an orphan spending one is not kept. When a transaction is
accepted, the orphans spending it are tried at once, recursively.

Fee deltas (Core's `prioritisetransaction`, `prioritise` here) are kept by txid whether or not the
transaction is pooled, applied when it enters, and forgotten when a block confirms it. The
modified fee (fee plus delta) is what the pool's fee checks, eviction and block order judge;
the base fee is what a block's coinbase collects and what peers' fee filters see.

Memory use (`usage`) is an estimate of what an entry costs in this process, as Core's
`DynamicMemoryUsage` estimates malloc's: the serialised bytes plus fixed per-entry, per-input and
per-output costs of the Python objects kept for it (the decoded records, the entry, and the index
entries for its txid, wtxid and each spent outpoint), measured with tracemalloc on CPython 3.11
(tests/test_chain_mempool.py checks the estimate against tracemalloc again).
"""

from __future__ import annotations

import heapq
import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Literal, Protocol

from pantheon.chain.coins import Coin, CoinView
from pantheon.chain.contextual import (
    check_tx_inputs,
    is_final_tx,
    sequence_locks,
    sequence_locks_met,
    tx_sigop_cost,
)
from pantheon.chain.orphanage import TxOrphanage
from pantheon.chain.replacement import ClusterTx, check_replacement, clusters, linearize
from pantheon.chain.policy import (
    BYTES_PER_SIGOP,
    DEFAULT_PERMIT_BARE_MULTISIG,
    INCREMENTAL_RELAY_FEE,
    MAX_OP_RETURN_RELAY,
    MAX_STANDARD_TX_SIGOPS_COST,
    MIN_RELAY_FEE,
    MIN_STANDARD_TX_NONWITNESS_SIZE,
    check_standard_tx,
    format_money,
    is_witness_standard,
    virtual_size,
)
from pantheon.chain.validation import COIN, WITNESS_SCALE_FACTOR, TxRejected, check_transaction, is_coinbase
from pantheon.hashing import hash_to_hex
from pantheon.params import Network
from pantheon.primitives import Block, OutPoint, Tx

__all__ = [
    "ChainView",
    "ScriptVerifier",
    "MempoolEntry",
    "AcceptResult",
    "Checked",
    "MempoolInfo",
    "Mempool",
    "DEFAULT_MAX_USAGE",
    "CHAIN_COUNT_LIMIT",
    "CHAIN_SIZE_LIMIT",
    "CLUSTER_COUNT_LIMIT",
    "CLUSTER_SIZE_LIMIT",
    "RECENT_REJECTS",
    "FEE_REASONS",
    "MAX_MONEY_DELTA",
    "state_text",
]

log = logging.getLogger(__name__)
_MEMPOOLREJ = {"category": "mempoolrej"}
_TXPACKAGES = {"category": "txpackages"}

DEFAULT_MAX_USAGE = 300_000_000  # Core's -maxmempool default, 300 MB
#: Refused transactions remembered (Core's m_lazy_recent_rejects holds 120,000 in a rolling filter).
RECENT_REJECTS = 120_000
#: Reasons Core files as TX_RECONSIDERABLE (the fee rate alone): not remembered as refused.
FEE_REASONS = frozenset({"min relay fee not met", "mempool min fee not met"})
CHAIN_COUNT_LIMIT = 25  # Core's -limitancestorcount and -limitdescendantcount
CHAIN_SIZE_LIMIT = 101_000  # vB, Core's -limitancestorsize and -limitdescendantsize
CLUSTER_COUNT_LIMIT = 64  # Core 31's -limitclustercount
CLUSTER_SIZE_LIMIT = 101_000  # vB (of sigop-adjusted weight), Core 31's -limitclustersize
_ROLLING_FEE_HALFLIFE = 12 * 60 * 60
#: Core keeps a fee delta in an int64 and saturates sums there (SaturatingAdd).
MAX_MONEY_DELTA = (1 << 63) - 1

# Memory estimate (bytes, CPython 3.11, measured with tracemalloc; see the module docstring).
_ENTRY_COST = 900  # the entry, its Tx object, the txid/wtxid hashes and their index slots
_INPUT_COST = 400  # a decoded TxIn, its OutPoint and the spent-outpoint index slot
_OUTPUT_COST = 150  # a decoded TxOut and its script object


def _adjusted_weight(weight: int, sigop_cost: int) -> int:
    """Core's GetSigOpsAdjustedWeight: the weight, or the sigop cost at BYTES_PER_SIGOP if more."""
    return max(weight, sigop_cost * BYTES_PER_SIGOP)


def state_text(error: TxRejected) -> str:
    """Core's TxValidationState::ToString: the reason, then the debug message."""
    return f"{error.reason}, {error.detail}" if error.detail else error.reason


class ChainView(CoinView, Protocol):
    """What the pool needs from the chain (`chainstate.Chainstate` provides it): the tip, its
    unspent outputs and median-time-pasts, and the network for activation heights."""

    @property
    def network(self) -> Network: ...

    @property
    def height(self) -> int: ...

    @property
    def tip(self) -> bytes: ...

    def mtp_at(self, height: int) -> int:
        """Median-time-past of the active chain's block at `height` (<= the tip's)."""
        ...


#: A txid or wtxid, internal byte order (an alias, as `Mempool.bytes` shadows the builtin in its class).
Hash = bytes

#: Runs a transaction's input scripts against the coins it spends; raises TxRejected if one fails.
ScriptVerifier = Callable[[Tx, list[Coin]], None]


@dataclass(eq=False, slots=True)
class MempoolEntry:
    """A pooled transaction and what selection and eviction need: its fee (and the delta
    prioritisetransaction added), virtual size (Core's, sigop-adjusted), sigop cost and in-pool
    parents/children by txid."""

    tx: Tx
    fee: int
    vsize: int
    sigop_cost: int
    time: float
    height: int
    usage: int
    fee_delta: int = 0
    parents: set[bytes] = field(default_factory=set)
    children: set[bytes] = field(default_factory=set)

    @property
    def modified_fee(self) -> int:
        """Core's GetModifiedFee: what the miner and eviction judge the entry by."""
        return self.fee + self.fee_delta

    @property
    def fee_rate(self) -> float:
        """sat/vB, of the modified fee"""
        return self.modified_fee / self.vsize


@dataclass(frozen=True, slots=True)
class AcceptResult:
    """`status` "accepted" (`entry` set), "orphan" (inputs missing: kept until its parents come)
    or "missing-inputs" (the same, not kept); `resolved`: orphans accepted because this
    transaction arrived, in the order they were accepted."""

    status: Literal["accepted", "orphan", "missing-inputs"]
    entry: MempoolEntry | None
    resolved: tuple[MempoolEntry, ...] = ()
    replaced: tuple[MempoolEntry, ...] = ()  # evicted by this transaction (RBF), with their descendants


@dataclass(frozen=True, slots=True)
class MempoolInfo:
    """What getmempoolinfo reports; fee rates in sat/vB."""

    size: int
    bytes: int
    usage: int
    max_usage: int
    total_fee: int
    min_fee_rate: float
    min_relay_fee_rate: float
    orphans: int
    scripts_verified: bool


@dataclass(frozen=True, slots=True)
class Checked:
    """What the checks found of a transaction that passed them: what its entry records, the
    coins it spends (for the script checks) and the pooled txids it would evict (RBF)."""

    fee: int
    modified_fee: int  # with the prioritisetransaction delta
    vsize: int  # sigop-adjusted
    sigop_cost: int
    height: int  # the tip's, at acceptance
    spent: tuple[Coin, ...]
    replaced: frozenset[bytes] = frozenset()


class _PoolView:
    """Chain coins plus the pool's outputs, which a transaction for the next block may spend:
    they count as created at that block's height (Core's CalculateLockPointsAtTip)."""

    def __init__(self, pool: Mempool) -> None:
        self._pool = pool

    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        pool = self._pool
        entry = pool._entries.get(outpoint.txid)
        if entry is None:
            return pool.chain.get_coin(outpoint)
        outputs = entry.tx.outputs
        if outpoint.index >= len(outputs):
            return None
        txout = outputs[outpoint.index]
        return Coin(txout.value, txout.script_pubkey, pool.chain.height + 1, False)


class Mempool:
    """Unconfirmed transactions valid for the block after `chain`'s tip, by txid and wtxid."""

    def __init__(self, chain: ChainView, *, max_usage: int = DEFAULT_MAX_USAGE,
                 script_verifier: ScriptVerifier | None = None,
                 permit_bare_multisig: bool = DEFAULT_PERMIT_BARE_MULTISIG,
                 clock: Callable[[], float] = time.time, min_relay_fee: int = MIN_RELAY_FEE,
                 incremental_relay_fee: int = INCREMENTAL_RELAY_FEE,
                 max_datacarrier_bytes: int | None = MAX_OP_RETURN_RELAY, require_standard: bool = True,
                 orphanage: TxOrphanage | None = None) -> None:
        self.chain = chain
        #: Core's -acceptnonstdtxn=0: IsStandardTx applies (size, sigop and fee limits apply regardless).
        self.require_standard = require_standard
        self.min_relay_fee = min_relay_fee  # sat/kvB (Core's -minrelaytxfee)
        self.incremental_relay_fee = incremental_relay_fee  # sat/kvB (Core's -incrementalrelayfee)
        #: Core's -datacarriersize (None: -datacarrier=0, no OP_RETURN output relayed).
        self.max_datacarrier_bytes = max_datacarrier_bytes
        self.max_usage = max_usage
        self.script_verifier = script_verifier
        self.permit_bare_multisig = permit_bare_multisig
        self.orphanage = orphanage or TxOrphanage()
        self._clock = clock
        self._entries: dict[Hash, MempoolEntry] = {}
        self._by_wtxid: dict[Hash, Hash] = {}  # wtxid -> txid
        self._spenders: dict[OutPoint, Hash] = {}  # outpoint -> txid of the pooled spender
        self._rejects: OrderedDict[Hash, None] = OrderedDict()  # wtxids refused at `_rejects_tip`
        self._rejects_tip = chain.tip
        self._deltas: dict[Hash, int] = {}  # txid -> fee delta (Core's mapDeltas)
        self._usage = 0
        self._vbytes = 0
        self._rolling_min_fee = 0.0  # sat/kvB, raised by evictions, decaying (Core's)
        self._rolling_updated = clock()
        self._view = _PoolView(self)
        #: Called with each entry leaving the pool and why, in Core's MemPoolRemovalReason words:
        #: "block" (confirmed), "conflict", "replaced", "reorg" (invalid after a disconnect),
        #: "sizelimit".
        self.removal_listeners: list[Callable[[MempoolEntry, str], object]] = []
        if script_verifier is None:
            log.warning("mempool: no script verifier: transaction scripts are NOT verified; "
                        "only structure, policy, inputs and fees are checked")

    # --- reading --------------------------------------------------------------------------

    @property
    def scripts_verified(self) -> bool:
        return self.script_verifier is not None

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, txid: object) -> bool:
        """By txid (use `get_by_wtxid` for a wtxid)."""
        return txid in self._entries

    def __iter__(self) -> Iterator[MempoolEntry]:
        return iter(list(self._entries.values()))

    def get(self, txid: Hash) -> MempoolEntry | None:
        return self._entries.get(txid)

    def coin(self, outpoint: OutPoint) -> Coin | None:
        """The unspent output a transaction for the next block may spend: the chain's, or a
        pooled transaction's (whether or not a pooled transaction spends it already)."""
        return self._view.get_coin(outpoint)

    def spender(self, outpoint: OutPoint) -> Hash | None:
        """The txid of the pooled transaction spending `outpoint`, None if none does."""
        return self._spenders.get(outpoint)

    def get_by_wtxid(self, wtxid: Hash) -> MempoolEntry | None:
        txid = self._by_wtxid.get(wtxid)
        return None if txid is None else self._entries[txid]

    def by_wtxid(self) -> list[tuple[Hash, Tx]]:
        """(wtxid, transaction) of every pooled transaction: what a compact block is matched against."""
        entries = self._entries
        return [(wtxid, entries[txid].tx) for wtxid, txid in self._by_wtxid.items()]

    def orphans_by_wtxid(self) -> list[tuple[Hash, Tx]]:
        """(wtxid, transaction) of every orphan, which a compact block may hold too."""
        return [(tx.wtxid, tx) for tx, _ in self.orphanage.orphans()]

    def has_orphan(self, wtxid: Hash) -> bool:
        return wtxid in self.orphanage

    @property
    def orphan_count(self) -> int:
        return len(self.orphanage)

    def recently_rejected(self, tx_hash: Hash) -> bool:
        """Core's RecentRejectsFilter: refused at this tip (by wtxid, which is the txid of a
        transaction without witnesses)."""
        if self._rejects_tip != self.chain.tip:
            self._rejects.clear()
            self._rejects_tip = self.chain.tip
        return tx_hash in self._rejects

    @property
    def bytes(self) -> int:
        """Sum of virtual sizes, as getmempoolinfo's `bytes`."""
        return self._vbytes

    @property
    def usage(self) -> int:
        """Estimated memory held, in bytes (see the module docstring)."""
        return self._usage

    def min_fee_rate(self) -> float:
        """sat/vB a transaction must pay: the relay minimum, or more while the pool has been
        full recently (Core's rolling minimum: raised on eviction, halving every 12 h, faster
        when the pool is under half or a quarter full)."""
        now = self._clock()
        if self._rolling_min_fee:
            halflife = _ROLLING_FEE_HALFLIFE / (4 if self._usage < self.max_usage / 4
                                                else 2 if self._usage < self.max_usage / 2 else 1)
            self._rolling_min_fee /= 2 ** ((now - self._rolling_updated) / halflife)
            if self._rolling_min_fee < self.incremental_relay_fee / 2:
                self._rolling_min_fee = 0.0
        self._rolling_updated = now
        return max(self._rolling_min_fee, self.min_relay_fee) / 1000

    def info(self) -> MempoolInfo:
        return MempoolInfo(len(self._entries), self._vbytes, self._usage, self.max_usage,
                           sum(entry.fee for entry in self._entries.values()), self.min_fee_rate(),
                           self.min_relay_fee / 1000, len(self.orphanage), self.scripts_verified)

    def ancestors(self, txid: Hash) -> set[Hash]:
        """The txids of every in-pool ancestor of `txid`."""
        return self._closure(txid, "parents")

    def descendants(self, txid: Hash) -> set[Hash]:
        """The txids of every in-pool descendant of `txid`."""
        return self._closure(txid, "children")

    def chunks(self, txids: Iterable[Hash]) -> dict[Hash, tuple[int, int]]:
        """The modified fee and sigop-adjusted weight of the chunk each of `txids` would be mined
        in (its cluster linearised as `chain/replacement.py` does, once per cluster):
        getmempoolentry's `fees.chunk` and `chunkweight`."""
        found: dict[Hash, tuple[int, int]] = {}
        for txid in txids:
            if txid in found:
                continue
            for fee, _, members in linearize(self.cluster_graph([txid])):
                weight = sum(_adjusted_weight(self._entries[m].tx.weight, self._entries[m].sigop_cost)
                             for m in members)
                found.update((member, (fee, weight)) for member in members)
        return found

    def cluster_graph(self, txids: Iterable[Hash]) -> dict[Hash, ClusterTx]:
        """Every transaction of the clusters holding `txids` (pooled), as replacement judges them."""
        found = clusters(txids, self._cluster_tx, lambda other: self._entries[other].children)
        return {member: self._cluster_tx(member) for cluster in found for member in cluster}

    def cluster_count(self, txids: Iterable[Hash]) -> int:
        """How many distinct clusters hold `txids` (pooled)."""
        return len(clusters(txids, self._cluster_tx, lambda other: self._entries[other].children))

    def ordered(self) -> list[MempoolEntry]:
        """Every entry in Core's block-assembly order: the best ancestor fee rate first, each
        package (a transaction and its not yet listed ancestors) parents before children, the
        scores of the remaining descendants updated as their ancestors are listed."""
        ancestors = {txid: self.ancestors(txid) for txid in self._entries}
        listed: set[Hash] = set()

        def score(txid: Hash) -> float:
            package = [txid, *(a for a in ancestors[txid] if a not in listed)]
            return (sum(self._entries[t].modified_fee for t in package)
                    / sum(self._entries[t].vsize for t in package))

        heap = [(-score(txid), txid) for txid in self._entries]
        heapq.heapify(heap)
        order: list[MempoolEntry] = []
        while heap:
            negative, txid = heapq.heappop(heap)
            if txid in listed:
                continue
            if score(txid) != -negative:
                continue  # stale: its rescored entry is in the heap too
            package = sorted((a for a in ancestors[txid] if a not in listed), key=lambda a: len(ancestors[a]))
            package.append(txid)
            listed.update(package)
            order.extend(self._entries[t] for t in package)
            for member in package:  # their descendants' packages shrank: rescore them
                for child in self.descendants(member) - listed:
                    heapq.heappush(heap, (-score(child), child))
        return order

    # --- accepting ------------------------------------------------------------------------

    def accept(self, tx: Tx, peer: int | None = None, keep_orphan: bool = True,
               accepted_at: float | None = None) -> AcceptResult:
        """Check `tx` as Core's AcceptToMemoryPool does and add it, or raise TxRejected with
        Core's reason. Missing inputs put it in the orphanage, announced by `peer`, unless
        `keep_orphan` is False (Core keeps only relayed orphans) or a parent was refused at this
        tip; an accepted transaction then resolves the orphans waiting for it, recursively.
        `accepted_at`: the entry's time (default now; a reloaded pool keeps its entries' own)."""
        try:
            accepted = self._accept(tx, bypass_limits=False, accepted_at=accepted_at)
        except TxRejected as error:
            self._refused(tx, error, peer)
            raise
        if accepted is None:
            if not keep_orphan or peer is None:
                return AcceptResult("missing-inputs", None)
            if any(self.recently_rejected(txin.prev_txid) for txin in tx.inputs):
                log.debug("not keeping orphan with rejected parents %s (wtxid=%s)", hash_to_hex(tx.txid),
                          hash_to_hex(tx.wtxid))
                self._remember_reject(tx.wtxid)
                return AcceptResult("missing-inputs", None)
            self.orphanage.add(tx, peer)
            return AcceptResult("orphan", None)
        entry, replaced = accepted
        if peer is not None:
            log.debug("AcceptToMemoryPool: peer=%d: accepted %s (wtxid=%s) (poolsz %d txn, %d kB)", peer,
                      hash_to_hex(tx.txid), hash_to_hex(tx.wtxid), len(self._entries), self._usage // 1000)
        return AcceptResult("accepted", entry, tuple(self._resolve_orphans(entry.tx)), replaced)

    def _refused(self, tx: Tx, error: TxRejected, peer: int | None) -> None:
        """Core's MempoolRejectedTx: log a peer's refused transaction and remember it."""
        if peer is not None:
            log.debug("%s (wtxid=%s) from peer=%d was not accepted: %s", hash_to_hex(tx.txid),
                      hash_to_hex(tx.wtxid), peer, state_text(error), extra=_MEMPOOLREJ)
        if error.reason not in FEE_REASONS:
            self._remember_reject(tx.wtxid)

    def _remember_reject(self, tx_hash: Hash) -> None:
        self.recently_rejected(tx_hash)  # forget the previous tip's
        self._rejects[tx_hash] = None
        if len(self._rejects) > RECENT_REJECTS:
            self._rejects.popitem(last=False)

    def test_accept(self, tx: Tx) -> Checked | None:
        """Core's `test_accept`: every check `accept` makes (replacement allowed), the pool left
        as it is. None when inputs are missing; raises TxRejected with Core's reason."""
        return self.check(tx)

    def _accept(self, tx: Tx, bypass_limits: bool, accepted_at: float | None = None,
                max_fee_rate: int | None = None) -> tuple[MempoolEntry, tuple[MempoolEntry, ...]] | None:
        """Core's MemPoolAccept: the checks, the replaced transactions evicted, then the entry
        added and the pool trimmed; returns the entry and what it replaced, None: inputs missing."""
        checked = self.check(tx, bypass_limits=bypass_limits, max_fee_rate=max_fee_rate)
        if checked is None:
            return None
        entry, replaced = self.stage(tx, checked, accepted_at)
        if not bypass_limits:
            self._trim()
            if tx.txid not in self._entries:
                raise TxRejected("mempool full", tx.txid)
        return entry, replaced

    def accept_in_package(self, tx: Tx, max_fee_rate: int | None) -> tuple[MempoolEntry, tuple[MempoolEntry, ...]] | None:
        """Core's AcceptSubPackage of one transaction: `accept`'s checks, refusing a modified fee
        rate over `max_fee_rate` (sat/kvB) before the scripts, without the orphanage or the
        recent-rejects memory. None: inputs missing."""
        return self._accept(tx, bypass_limits=False, max_fee_rate=max_fee_rate)

    def stage(self, tx: Tx, checked: Checked,
              accepted_at: float | None = None) -> tuple[MempoolEntry, tuple[MempoolEntry, ...]]:
        """Add a checked transaction, evicting what it replaces, without trimming the pool
        (Core's changeset apply; packages stage their members, then keep or `unstage` them)."""
        replaced = tuple(self._remove(checked.replaced, "replaced"))
        for old in replaced:
            log.info("replacing mempool tx %s (wtxid=%s, fees=%s, vsize=%d). New tx %s (wtxid=%s, fees=%s, vsize=%d)",
                     hash_to_hex(old.tx.txid), hash_to_hex(old.tx.wtxid), format_money(old.fee), old.vsize,
                     hash_to_hex(tx.txid), hash_to_hex(tx.wtxid), format_money(checked.fee), checked.vsize)
        entry = self._add(tx, checked.fee, checked.vsize, checked.sigop_cost, checked.height,
                          self._clock() if accepted_at is None else accepted_at)
        return entry, replaced

    def unstage(self, txids: Iterable[Hash]) -> list[MempoolEntry]:
        """Take transactions out (staged members of a package refused or only test-accepted, or
        the pooled ones a package would replace); returns their entries, for `restore`. Not a
        departure: the removal listeners are not told."""
        return self._remove(txids, None)

    def restore(self, entries: Iterable[MempoolEntry]) -> None:
        """Put taken-out entries back as they were (the package replacing them was refused)."""
        for entry in entries:
            self._add(entry.tx, entry.fee, entry.vsize, entry.sigop_cost, entry.height, entry.time)

    def trim(self) -> None:
        """Core's LimitMempoolSize, as a package runs it once its members are in."""
        self._trim()

    def verify_scripts(self, tx: Tx, checked: Checked) -> None:
        """Core's PolicyScriptChecks, which a package runs after its fee checks; raises TxRejected."""
        if self.script_verifier is not None:
            self.script_verifier(tx, list(checked.spent))

    def check_fee_rate(self, txid: Hash, vsize: int, modified_fee: int) -> None:
        """Core's CheckFeeRate for `vsize` vbytes paying `modified_fee` (one transaction's, or a
        package's): the rolling minimum while the pool has been full, and the relay minimum."""
        floor = math.ceil(self.min_fee_rate() * vsize)
        if self._rolling_min_fee and modified_fee < floor:
            raise TxRejected("mempool min fee not met", txid, f"{modified_fee} < {floor}")
        if modified_fee < self.min_relay_fee * vsize // 1000:
            raise TxRejected("min relay fee not met", txid, f"{modified_fee} < {self.min_relay_fee * vsize // 1000}")

    def check(self, tx: Tx, *, bypass_limits: bool = False, package_feerates: bool = False,
              allow_replacement: bool = True, max_fee_rate: int | None = None,
              verify_scripts: bool = True) -> Checked | None:
        """Core's MemPoolAccept::PreChecks and the rest in order, the pool unchanged; None: inputs
        missing. A package's members skip their own fee-rate floor (`package_feerates`: the
        package's rate is judged instead) and their scripts (checked after, `verify_scripts`);
        a test-accepted package may replace nothing (`allow_replacement`)."""
        check_transaction(tx)
        txid = tx.txid
        if is_coinbase(tx):
            raise TxRejected("coinbase", txid)
        if self.require_standard:
            check_standard_tx(tx, self.permit_bare_multisig, self.max_datacarrier_bytes)
        if tx.stripped_size < MIN_STANDARD_TX_NONWITNESS_SIZE:
            raise TxRejected("tx-size-small", txid)
        chain = self.chain
        height = chain.height + 1
        if not is_final_tx(tx, height, chain.mtp_at(chain.height)):
            raise TxRejected("non-final", txid, "non-final transaction")
        if tx.wtxid in self._by_wtxid:
            raise TxRejected("txn-already-in-mempool", txid)
        if txid in self._entries:
            raise TxRejected("txn-same-nonwitness-data-in-mempool", txid)
        direct = {self._spenders[txin.outpoint] for txin in tx.inputs if txin.outpoint in self._spenders}
        if direct and not allow_replacement:
            raise TxRejected("bip125-replacement-disallowed", txid)
        view = self._view
        heights = []
        for txin in tx.inputs:
            coin = view.get_coin(txin.outpoint)
            if coin is None:
                # Core: if this transaction's own outputs are unspent in the chain, it is confirmed
                if any(chain.get_coin(OutPoint(txid, i)) is not None for i in range(len(tx.outputs))):
                    raise TxRejected("txn-already-known", txid)
                return None
            heights.append(coin.height)
        network = chain.network
        if height >= network.csv_height:
            locks = sequence_locks(tx, heights, chain.mtp_at)
            if not sequence_locks_met(locks, height, chain.mtp_at(chain.height)):
                raise TxRejected("non-BIP68-final", txid)
        fee, spent = check_tx_inputs(tx, view, height)
        if (self.require_standard and any(txin.witness for txin in tx.inputs)
                and not is_witness_standard(tx, [coin.script_pubkey for coin in spent])):
            raise TxRejected("bad-witness-nonstandard", txid)
        sigop_cost = tx_sigop_cost(tx, spent, witness=height >= network.segwit_height)
        if sigop_cost > MAX_STANDARD_TX_SIGOPS_COST:
            raise TxRejected("bad-txns-too-many-sigops", txid, str(sigop_cost))
        vsize = virtual_size(tx.weight, sigop_cost)
        modified_fee = fee + self._deltas.get(txid, 0)  # Core's fee checks judge the modified fee
        if not bypass_limits and not package_feerates:
            self.check_fee_rate(txid, vsize, modified_fee)
        parents = {txin.prev_txid for txin in tx.inputs if txin.prev_txid in self._entries}
        replaced: set[Hash] = set()
        if direct:
            replaced = check_replacement(txid, modified_fee, vsize, parents, direct, self._cluster_tx,
                                         lambda other: self._entries[other].children, self.incremental_relay_fee)
        self._check_chain_limits(tx, vsize, parents, replaced)
        self._check_cluster_limits(txid, _adjusted_weight(tx.weight, sigop_cost), parents, replaced)
        if max_fee_rate is not None and modified_fee * 1000 // vsize > max_fee_rate:
            raise TxRejected("max feerate exceeded", txid)
        checked = Checked(fee, modified_fee, vsize, sigop_cost, height - 1, tuple(spent), frozenset(replaced))
        if verify_scripts:
            self.verify_scripts(tx, checked)
        return checked

    def _check_cluster_limits(self, txid: Hash, weight: int, parents: set[Hash], replaced: set[Hash]) -> None:
        """Core 31's cluster limits: the cluster the new transaction joins (its parents' clusters,
        less what it replaces) stays within 64 transactions and 101 kvB of adjusted weight."""
        joined = set(self.cluster_graph(parents)) - replaced
        if (len(joined) + 1 > CLUSTER_COUNT_LIMIT or sum(
                _adjusted_weight(self._entries[m].tx.weight, self._entries[m].sigop_cost) for m in joined)
                + weight > CLUSTER_SIZE_LIMIT * WITNESS_SCALE_FACTOR):
            raise TxRejected("too-large-cluster", txid)

    def _cluster_tx(self, txid: Hash) -> ClusterTx:
        entry = self._entries[txid]
        return ClusterTx(entry.modified_fee, entry.vsize, frozenset(entry.parents))

    def _check_chain_limits(self, tx: Tx, vsize: int, parents: set[Hash], replaced: set[Hash]) -> None:
        """Core's CalculateMemPoolAncestors limits: the new transaction with its in-pool
        ancestors, and each ancestor with its descendants (but those it replaces) plus the new one."""
        txid = tx.txid
        ancestors = set(parents)
        for parent in parents:
            ancestors |= self.ancestors(parent)
        if len(ancestors) + 1 > CHAIN_COUNT_LIMIT:
            raise TxRejected("too-long-mempool-chain", txid,
                             f"too many unconfirmed ancestors [limit: {CHAIN_COUNT_LIMIT}]")
        if sum(self._entries[a].vsize for a in ancestors) + vsize > CHAIN_SIZE_LIMIT:
            raise TxRejected("too-long-mempool-chain", txid,
                             f"exceeds ancestor size limit [limit: {CHAIN_SIZE_LIMIT}]")
        for ancestor in ancestors:
            descendants = self.descendants(ancestor) - replaced
            name = ancestor[::-1].hex()
            if len(descendants) + 2 > CHAIN_COUNT_LIMIT:
                raise TxRejected("too-long-mempool-chain", txid,
                                 f"too many descendants for tx {name} [limit: {CHAIN_COUNT_LIMIT}]")
            size = self._entries[ancestor].vsize + sum(self._entries[d].vsize for d in descendants) + vsize
            if size > CHAIN_SIZE_LIMIT:
                raise TxRejected("too-long-mempool-chain", txid,
                                 f"exceeds descendant size limit for tx {name} [limit: {CHAIN_SIZE_LIMIT}]")

    def _add(self, tx: Tx, fee: int, vsize: int, sigop_cost: int, height: int, accepted_at: float) -> MempoolEntry:
        txid = tx.txid
        usage = len(tx.serialize()) + _ENTRY_COST + _INPUT_COST * len(tx.inputs) + _OUTPUT_COST * len(tx.outputs)
        entry = MempoolEntry(tx, fee, vsize, sigop_cost, accepted_at, height, usage, self._deltas.get(txid, 0))
        for txin in tx.inputs:
            self._spenders[txin.outpoint] = txid
            if txin.prev_txid in self._entries:
                entry.parents.add(txin.prev_txid)
                self._entries[txin.prev_txid].children.add(txid)
        for index in range(len(tx.outputs)):  # pooled children already there (re-added after a disconnect)
            child = self._spenders.get(OutPoint(txid, index))
            if child is not None:
                entry.children.add(child)
                self._entries[child].parents.add(txid)
        self._entries[txid] = entry
        self._by_wtxid[tx.wtxid] = txid
        self._usage += usage
        self._vbytes += vsize
        return entry

    # --- prioritising ---------------------------------------------------------------------

    def prioritise(self, txid: Hash, delta: int) -> None:
        """Core's PrioritiseTransaction: add `delta` satoshis to the fee the pool judges `txid` by
        (saturating at int64, as Core), pooled or not yet; a delta summing to 0 is forgotten."""
        total = max(-MAX_MONEY_DELTA - 1, min(MAX_MONEY_DELTA, self._deltas.get(txid, 0) + delta))
        entry = self._entries.get(txid)
        if entry is not None:
            entry.fee_delta = total
        where = "" if entry is not None else "not "
        if total:
            self._deltas[txid] = total
            log.info("PrioritiseTransaction: %s (%sin mempool) fee += %s, new delta=%s", hash_to_hex(txid), where,
                     format_money(delta), format_money(total))
        else:
            self._deltas.pop(txid, None)
            log.info("PrioritiseTransaction: %s (%sin mempool) delta cleared", hash_to_hex(txid), where)

    def deltas(self) -> dict[Hash, int]:
        """Every fee delta by txid, pooled or not (Core's mapDeltas, as getprioritisedtransactions
        and mempool.dat read it)."""
        return dict(self._deltas)

    # --- removing -------------------------------------------------------------------------

    def _remove(self, txids: Iterable[Hash], reason: str | None) -> list[MempoolEntry]:
        """Remove exactly these entries (the caller includes descendants when it must), telling
        the removal listeners `reason` (Core's MemPoolRemovalReason; None: taken out for a
        moment by `unstage`, and told to nobody)."""
        removed = []
        for txid in txids:
            entry = self._entries.pop(txid, None)
            if entry is None:
                continue
            tx = entry.tx
            del self._by_wtxid[tx.wtxid]
            for txin in tx.inputs:
                if self._spenders.get(txin.outpoint) == txid:
                    del self._spenders[txin.outpoint]
            for parent in entry.parents:
                if parent in self._entries:
                    self._entries[parent].children.discard(txid)
            for child in entry.children:
                if child in self._entries:
                    self._entries[child].parents.discard(txid)
            self._usage -= entry.usage
            self._vbytes -= entry.vsize
            removed.append(entry)
            for listener in self.removal_listeners if reason is not None else ():
                listener(entry, reason)
        return removed

    def remove_with_descendants(self, txid: Hash, reason: str = "conflict") -> list[MempoolEntry]:
        return self._remove([txid, *self.descendants(txid)], reason) if txid in self._entries else []

    def remove_for_block(self, block: Block) -> list[MempoolEntry]:
        """A block was connected: drop its transactions, and those that conflict with them (with
        their descendants), from the pool and the orphan pool. Returns the conflicts removed."""
        conflicts: list[MempoolEntry] = []
        # An empty pool (initial block download) holds nothing a block confirms or conflicts with.
        for tx in block.transactions[1:] if self._entries or self._deltas else ():
            txid = tx.txid
            self._remove([txid], "block")
            self._deltas.pop(txid, None)  # Core's ClearPrioritisation: confirmed, the delta is spent
            for txin in tx.inputs:
                spender = self._spenders.get(txin.outpoint)
                if spender is not None and spender != txid:
                    conflicts += self.remove_with_descendants(spender)
        self.orphanage.erase_for_block(block)
        return conflicts

    def readd_for_disconnect(self, block: Block) -> list[Tx]:
        """A block was disconnected (the chain is already at its parent): put its non-coinbase
        transactions back, bypassing the fee limits as Core does, then drop every pooled
        transaction that no longer validates at the new tip (it spent the vanished coinbase,
        its coinbase input is immature again, or it is no longer final). Returns the dropped
        transactions of the block that failed to re-enter."""
        dropped = []
        for tx in block.transactions[1:]:
            try:
                if self._accept(tx, bypass_limits=True) is None:
                    dropped.append(tx)
            except TxRejected:
                dropped.append(tx)
        self._remove_invalid_at_tip()
        self._trim()
        return dropped

    def _remove_invalid_at_tip(self) -> None:
        """Core's removeForReorg: inputs missing or immature, non-final, BIP68-locked."""
        chain = self.chain
        height = chain.height + 1
        mtp = chain.mtp_at(chain.height)
        stale: set[Hash] = set()
        for entry in sorted(self._entries.values(), key=lambda e: len(self.ancestors(e.tx.txid))):
            tx = entry.tx
            if entry.parents & stale:
                stale.add(tx.txid)
                continue
            try:
                if not is_final_tx(tx, height, mtp):
                    raise TxRejected("non-final", tx.txid)
                _, coins = check_tx_inputs(tx, self._view, height)
                if height >= chain.network.csv_height:
                    locks = sequence_locks(tx, [coin.height for coin in coins], chain.mtp_at)
                    if not sequence_locks_met(locks, height, mtp):
                        raise TxRejected("non-BIP68-final", tx.txid)
            except TxRejected as error:
                log.info("mempool: dropping %s after a disconnect: %s", tx.txid[::-1].hex(), error.reason)
                stale.add(tx.txid)
        self._remove(stale, "reorg")

    def _trim(self) -> None:
        """Core's TrimToSize: while over the cap, evict the entry with the lowest descendant
        score (its fee rate, or its package's with its descendants if higher) with its
        descendants, and raise the rolling minimum fee rate above what was evicted.

        Scores are recomputed per eviction (a scan of the pool): eviction happens only when full."""
        while self._usage > self.max_usage and self._entries:
            def descendant_score(entry: MempoolEntry) -> float:
                package = [entry, *(self._entries[t] for t in self.descendants(entry.tx.txid))]
                return max(entry.fee_rate, sum(e.modified_fee for e in package) / sum(e.vsize for e in package))

            victim = min(self._entries.values(), key=descendant_score)
            rate = descendant_score(victim) * 1000 + self.incremental_relay_fee
            self.min_fee_rate()  # decay first, so the bump starts from now
            self._rolling_min_fee = max(self._rolling_min_fee, rate)
            removed = self.remove_with_descendants(victim.tx.txid, "sizelimit")
            log.info("mempool: full, evicted %d transaction(s) at %.3f sat/vB", len(removed), rate / 1000)

    # --- orphans --------------------------------------------------------------------------

    def drop_orphans_from(self, peer: int) -> int:
        """Forget what `peer` announced to the orphanage (it disconnected); returns how many."""
        return self.orphanage.erase_for_peer(peer)

    def _resolve_orphans(self, parent: Tx) -> Iterator[MempoolEntry]:
        """Core's ProcessOrphanTx, run at once: try the orphans spending `parent`, then those
        spending each one accepted. An orphan still missing a parent stays; one refused
        otherwise leaves the orphanage and is remembered as refused."""
        work = [parent]
        while work:
            tx = work.pop()
            for wtxid in self.orphanage.spenders(tx.txid, len(tx.outputs)):
                orphan = self.orphanage.get(wtxid)
                if orphan is None:
                    continue  # resolved or dropped meanwhile
                peer = self.orphanage.announcers(wtxid)[0]
                try:
                    accepted = self._accept(orphan, bypass_limits=False)
                except TxRejected as error:
                    log.debug("   invalid orphan tx %s (wtxid=%s) from peer=%d. %s", hash_to_hex(orphan.txid),
                              hash_to_hex(wtxid), peer, state_text(error), extra=_TXPACKAGES)
                    self._refused(orphan, error, peer)
                    self.orphanage.erase(wtxid)
                    continue
                if accepted is not None:
                    log.debug("   accepted orphan tx %s (wtxid=%s)", hash_to_hex(orphan.txid), hash_to_hex(wtxid),
                              extra=_TXPACKAGES)
                    self.orphanage.erase(wtxid)
                    work.append(orphan)
                    yield accepted[0]

    # --- helpers --------------------------------------------------------------------------

    def _closure(self, txid: Hash, link: Literal["parents", "children"]) -> set[Hash]:
        found: set[Hash] = set()
        stack = list(getattr(self._entries[txid], link))
        while stack:
            other = stack.pop()
            if other not in found:
                found.add(other)
                stack.extend(getattr(self._entries[other], link))
        return found
