"""Packages as Bitcoin Core 31 validates them (`policy/packages.cpp`, and `validation.cpp`'s
`AcceptMultipleTransactions` and `AcceptPackage`): what `testmempoolaccept` with several
transactions and `submitpackage` answer.

- Well-formed: at most 25 transactions of 404,000 weight units together, no duplicate, parents
  before children, no two spending the same output (`package-too-many-transactions`,
  `package-too-large`, `package-contains-duplicates`, `package-not-sorted`,
  `conflict-in-package`): a policy error, no member validated.
- Test-accepting several transactions checks them together, each at its own fee rate, none
  replacing a pooled one (`bip125-replacement-disallowed`); the first failure ends the
  evaluation, and only the members already fully checked have results.
- Submitting (child-with-parents: the last transaction spends every other one, each of its
  inputs a package parent's or an unspent coin) tries each member alone first; those refused
  only for their fee rate, or for a parent refused so, are then evaluated together at the
  package's fee rate (total modified fees over total vsize): a child pays for its parents (CPFP).
  Evaluated together, a parent and its child may replace pooled transactions (Core's package RBF,
  `chain/replacement.py`): only as a 1-parent-1-child package without other pooled ancestors.

The pool's checks, staging and trimming are `chain/mempool.py`'s; this module only orders them
and gathers the results as Core's `PackageMempoolAcceptResult`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from pantheon.chain.mempool import FEE_REASONS, Checked, Mempool, MempoolEntry, state_text
from pantheon.chain.replacement import check_package_replacement
from pantheon.chain.validation import TxRejected
from pantheon.primitives import Tx

__all__ = [
    "MAX_PACKAGE_COUNT",
    "MAX_PACKAGE_WEIGHT",
    "TxResult",
    "PackageResult",
    "well_formed_error",
    "is_child_with_parents",
    "is_child_with_parents_tree",
    "test_accept",
    "accept_package",
]

MAX_PACKAGE_COUNT = 25
MAX_PACKAGE_WEIGHT = 404_000
#: Core's TX_RECONSIDERABLE reasons: a package's fee rate may change the answer.
RECONSIDERABLE = FEE_REASONS | {"insufficient fee", "replacement-failed"}
_MISSING_INPUTS = "bad-txns-inputs-missingorspent"
_FAILED = "transaction failed"


@dataclass(frozen=True, slots=True)
class TxResult:
    """One member's outcome (Core's MempoolAcceptResult): "valid" (accepted, or would be),
    "in-mempool" (already there), "different-witness" (its txid is pooled with `other_wtxid`)
    or "invalid" (`error`; `missing_inputs` when its inputs are unknown). Fee rates in sat/kvB."""

    kind: Literal["valid", "in-mempool", "different-witness", "invalid"]
    vsize: int = 0
    fee: int = 0
    effective_fee_rate: int = 0
    effective_includes: tuple[bytes, ...] = ()  # wtxids whose fees and sizes make that rate
    error: TxRejected | None = None
    missing_inputs: bool = False
    other_wtxid: bytes | None = None
    replaced: tuple[bytes, ...] = ()  # txids evicted


@dataclass(frozen=True, slots=True)
class PackageResult:
    """Core's PackageMempoolAcceptResult: `message` "" when all went in (or would), else the
    package-wide reason; `policy_error` when the package itself was refused (no results then);
    `results` by wtxid, missing for members whose evaluation never finished."""

    message: str
    policy_error: bool
    results: dict[bytes, TxResult]


def _invalid(error: TxRejected | None, tx: Tx) -> TxResult:
    if error is None:
        return TxResult("invalid", error=TxRejected(_MISSING_INPUTS, tx.txid), missing_inputs=True)
    return TxResult("invalid", error=error)


def well_formed_error(txs: Sequence[Tx]) -> str | None:
    """Core's IsWellFormedPackage, in its order: the reason the package is refused, or None."""
    if len(txs) > MAX_PACKAGE_COUNT:
        return "package-too-many-transactions"
    if len(txs) > 1 and sum(tx.weight for tx in txs) > MAX_PACKAGE_WEIGHT:
        return "package-too-large"
    later = {tx.txid for tx in txs}
    if len(later) != len(txs):
        return "package-contains-duplicates"
    for tx in txs:
        if any(txin.prev_txid in later for txin in tx.inputs):
            return "package-not-sorted"
        later.discard(tx.txid)
    spent: set[object] = set()
    for tx in txs:
        outpoints = {txin.outpoint for txin in tx.inputs}
        if outpoints & spent:
            return "conflict-in-package"
        spent |= outpoints
    return None


def is_child_with_parents(txs: Sequence[Tx]) -> bool:
    """Core's IsChildWithParents: two or more, the last spending every other one."""
    if len(txs) < 2:
        return False
    spent = {txin.prev_txid for txin in txs[-1].inputs}
    return all(tx.txid in spent for tx in txs[:-1])


def is_child_with_parents_tree(txs: Sequence[Tx]) -> bool:
    """Core's IsChildWithParentsTree: child-with-parents, and no parent spends another."""
    parents = {tx.txid for tx in txs[:-1]}
    return is_child_with_parents(txs) and not any(
        txin.prev_txid in parents for tx in txs[:-1] for txin in tx.inputs)


def _valid(tx: Tx, vsize: int, fee: int, modified_fee: int, replaced: Sequence[bytes] = ()) -> TxResult:
    return TxResult("valid", vsize, fee, modified_fee * 1000 // vsize, (tx.wtxid,), replaced=tuple(replaced))


def test_accept(pool: Mempool, txs: Sequence[Tx]) -> PackageResult:
    """Core's testmempoolaccept evaluation: one transaction as `accept` would judge it
    (replacing allowed), several as a package checked together; the pool is left unchanged."""
    if len(txs) == 1:
        tx = txs[0]
        try:
            checked = pool.test_accept(tx)
        except TxRejected as error:
            return PackageResult(_FAILED, False, {tx.wtxid: _invalid(error, tx)})
        if checked is None:
            return PackageResult(_FAILED, False, {tx.wtxid: _invalid(None, tx)})
        return PackageResult("", False, {tx.wtxid: _valid(tx, checked.vsize, checked.fee, checked.modified_fee,
                                                          sorted(checked.replaced))})
    problem = well_formed_error(txs)
    if problem is not None:
        return PackageResult(problem, True, {})
    return _accept_together(pool, txs, keep=False, package_feerates=False, max_fee_rate=None)


def _accept_together(pool: Mempool, txs: Sequence[Tx], *, keep: bool, package_feerates: bool,
                     max_fee_rate: int | None) -> PackageResult:
    """Core's AcceptMultipleTransactions: each member checked with its predecessors staged in
    the pool, then the package's fee rate (`package_feerates`), then every member's scripts;
    the first failure ends it. Staged members stay only when all pass and `keep`."""
    staged: list[tuple[Tx, Checked]] = []
    results: dict[bytes, TxResult] = {}
    direct = {spender for tx in txs for txin in tx.inputs
              if (spender := pool.spender(txin.outpoint)) is not None} if keep else set()
    evicted: list[MempoolEntry] = []
    if direct:  # package RBF: the conflicts leave while the members are checked, back if refused
        if len(txs) != 2 or not is_child_with_parents(txs):
            return PackageResult("package RBF failed: package must be 1-parent-1-child", True, {})
        before, cluster_count = pool.cluster_graph(direct), pool.cluster_count(direct)
        evicted = pool.unstage(direct.union(*(pool.descendants(txid) for txid in direct)))
    try:
        for tx in txs:
            try:
                checked = pool.check(tx, package_feerates=package_feerates, allow_replacement=False,
                                     max_fee_rate=max_fee_rate, verify_scripts=False)
            except TxRejected as error:
                return PackageResult(_FAILED, False, {tx.wtxid: _invalid(error, tx)})
            if checked is None:
                return PackageResult(_FAILED, False, {tx.wtxid: _invalid(None, tx)})
            pool.stage(tx, checked)
            staged.append((tx, checked))
        total_fee = sum(checked.modified_fee for _, checked in staged)
        total_vsize = sum(checked.vsize for _, checked in staged)
        last = txs[-1]
        if package_feerates:
            try:
                pool.check_fee_rate(last.txid, total_vsize, total_fee)
            except TxRejected as error:
                return PackageResult(_FAILED, False, {last.wtxid: _invalid(error, last)})
        if direct:
            (parent, parent_checked), (child, child_checked) = staged
            outside = pool.ancestors(parent.txid) | (pool.ancestors(child.txid) - {parent.txid})
            try:
                check_package_replacement((parent.txid, parent_checked.modified_fee, parent_checked.vsize),
                                          (child.txid, child_checked.modified_fee, child_checked.vsize),
                                          bool(outside), before, cluster_count,
                                          {entry.tx.txid for entry in evicted}, pool.incremental_relay_fee)
            except TxRejected as error:
                return PackageResult(state_text(error), True, {})
        everyone = tuple(tx.wtxid for tx in txs)
        for tx, checked in staged:
            try:
                pool.verify_scripts(tx, checked)
            except TxRejected as error:
                results[tx.wtxid] = _invalid(error, tx)
                return PackageResult(_FAILED, False, results)
            results[tx.wtxid] = (TxResult("valid", checked.vsize, checked.fee, total_fee * 1000 // total_vsize,
                                          everyone) if package_feerates
                                 else _valid(tx, checked.vsize, checked.fee, checked.modified_fee))
        if evicted:  # Core lists them with the package's results: here with the child's
            results[last.wtxid] = replace(results[last.wtxid], replaced=tuple(entry.tx.txid for entry in evicted))
        if keep:
            staged.clear()
            evicted.clear()
        return PackageResult("", False, results)
    finally:
        pool.unstage(tx.txid for tx, _ in staged)
        pool.restore(evicted)


def accept_package(pool: Mempool, txs: Sequence[Tx], max_fee_rate: int | None = None) -> PackageResult:
    """Core's AcceptPackage (submitpackage): a child-with-parents package (or one transaction)
    into the pool, members alone first, those refused for their fee rate then together at the
    package's; any member whose modified fee rate exceeds `max_fee_rate` (sat/kvB) is refused."""
    problem = well_formed_error(txs)
    if problem is None and len(txs) > 1 and not is_child_with_parents(txs):
        problem = "package-not-child-with-parents"
    if problem is None and len(txs) > 1:
        parents = {tx.txid for tx in txs[:-1]}
        if any(txin.prev_txid not in parents and pool.coin(txin.outpoint) is None for txin in txs[-1].inputs):
            problem = "package-not-child-with-unconfirmed-parents"
    if problem is not None:
        return PackageResult(problem, True, {})
    final: dict[bytes, TxResult] = {}
    alone: dict[bytes, TxResult] = {}
    together: list[Tx] = []
    quit_early = False
    for tx in txs:
        pooled = pool.get_by_wtxid(tx.wtxid)
        same_txid = pool.get(tx.txid)
        if pooled is not None:
            final[tx.wtxid] = TxResult("in-mempool", pooled.vsize, pooled.fee)
        elif same_txid is not None:
            final[tx.wtxid] = TxResult("different-witness", other_wtxid=same_txid.tx.wtxid)
        else:
            result = _accept_alone(pool, tx, max_fee_rate)
            if result.kind == "valid":
                final[tx.wtxid] = result
                continue
            alone[tx.wtxid] = result
            assert result.error is not None
            if len(txs) == 1 or not (result.missing_inputs or result.error.reason in RECONSIDERABLE):
                quit_early = True
            else:
                together.append(tx)
    if quit_early or not together:
        evaluated = PackageResult(_FAILED if quit_early else "", False, {})
    else:
        evaluated = _accept_together(pool, together, keep=True, package_feerates=True, max_fee_rate=max_fee_rate)
    pool.trim()
    message = evaluated.message
    for tx in txs:
        full = TxResult("invalid", error=TxRejected("mempool full", tx.txid))
        if tx.wtxid in evaluated.results:
            result = evaluated.results[tx.wtxid]
            if result.kind == "valid" and pool.get_by_wtxid(tx.wtxid) is None:
                message, result = _FAILED, full
            final[tx.wtxid] = result
        elif tx.wtxid in final:
            if pool.get(tx.txid) is None:
                message, final[tx.wtxid] = _FAILED, full
        elif tx.wtxid in alone:
            final[tx.wtxid] = alone[tx.wtxid]
    return PackageResult(message, False, final)


def _accept_alone(pool: Mempool, tx: Tx, max_fee_rate: int | None) -> TxResult:
    """Core's AcceptSubPackage of one member: `accept`'s rules (replacing allowed)."""
    try:
        accepted = pool.accept_in_package(tx, max_fee_rate)
    except TxRejected as error:
        return _invalid(error, tx)
    if accepted is None:
        return _invalid(None, tx)
    entry, replaced = accepted
    return _valid(tx, entry.vsize, entry.fee, entry.modified_fee, [old.tx.txid for old in replaced])
