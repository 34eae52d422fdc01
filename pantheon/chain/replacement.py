"""Replacement (RBF) as Bitcoin Core 31 decides it: every transaction is replaceable (full RBF,
Core's only mode since 28), and a replacement is judged by what it does to the pool's feerate
diagram (cluster mempool) rather than by BIP125's signal and per-transaction rates.

Core 31's rules (`policy/rbf.cpp`, `MemPoolAccept::ReplacementChecks`), in its order, with its
reasons:
- the replacement must not spend an output of a transaction it replaces, directly or through an
  ancestor (`bad-txns-spends-conflicting-tx`);
- it may conflict with at most 100 clusters (`too many potential replacements`);
- it pays at least the modified fees of everything it evicts (the conflicts and their
  descendants), plus the incremental relay fee for its own size (`insufficient fee`);
- the affected clusters' feerate diagram after the change is strictly better than before
  (`replacement-failed`: "insufficient feerate: does not improve feerate diagram").

Diagrams are built from the chunks of each affected set: a linearisation that takes, at each
step, the remaining transaction whose remaining ancestors have the best feerate, cut into chunks
where the feerate stops rising. Core linearises clusters optimally (txgraph); for the small
clusters a replacement touches this greedy order gives the same chunks in all but contrived
cases. Pure functions of what the pool passes in; the pool applies them (`chain/mempool.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from pantheon.chain.policy import format_money
from pantheon.chain.validation import TxRejected
from pantheon.hashing import hash_to_hex

__all__ = [
    "MAX_REPLACEMENT_CANDIDATES",
    "ClusterTx",
    "linearize",
    "chunks",
    "improves_diagram",
    "pays_for_replacement",
    "check_replacement",
    "check_package_replacement",
    "clusters",
]

#: Core's MAX_REPLACEMENT_CANDIDATES: the most clusters a replacement may conflict with.
MAX_REPLACEMENT_CANDIDATES = 100
_DIAGRAM_FAILURE = "insufficient feerate: does not improve feerate diagram"


@dataclass(frozen=True, slots=True)
class ClusterTx:
    """One transaction of a cluster, as a diagram needs it: modified fee, vsize, in-set parents."""

    fee: int
    vsize: int
    parents: frozenset[bytes]


def linearize(graph: Mapping[bytes, ClusterTx]) -> list[tuple[int, int, frozenset[bytes]]]:
    """The chunks of `graph` (parents always before children), best feerate first: (fee,
    vsize, members) each. The order is built greedily, best ancestor set first (on a tie the
    smaller, then the lowest txid: the same graph always gives the same chunks), each set's
    transactions parents first; then, as Core's ChunkLinearization, a transaction joins the
    chunk before it only when its chunk's feerate is strictly higher."""
    remaining = dict(graph)
    order: list[bytes] = []
    while remaining:
        best: set[bytes] = set()
        best_key: tuple[Fraction, int] | None = None
        for txid in sorted(remaining):
            members = _closure([txid], lambda t: (p for p in remaining[t].parents if p in remaining))
            vsize = sum(remaining[m].vsize for m in members)
            key = (Fraction(sum(remaining[m].fee for m in members), vsize), -vsize)
            if best_key is None or key > best_key:
                best, best_key = members, key
        pending = set(best)
        while pending:  # parents first within the set
            ready = sorted(t for t in pending if not remaining[t].parents & pending)
            order += ready
            pending.difference_update(ready)
        for member in best:
            del remaining[member]
    merged: list[tuple[int, int, frozenset[bytes]]] = []
    for txid in order:
        fee, vsize, members = graph[txid].fee, graph[txid].vsize, frozenset((txid,))
        while merged and fee * merged[-1][1] > merged[-1][0] * vsize:
            previous_fee, previous_vsize, previous = merged.pop()
            fee, vsize, members = fee + previous_fee, vsize + previous_vsize, members | previous
        merged.append((fee, vsize, members))
    return merged


def chunks(graph: Mapping[bytes, ClusterTx]) -> list[tuple[int, int]]:
    """(fee, vsize) of each chunk of `graph`, best feerate first: its feerate diagram."""
    return [(fee, vsize) for fee, vsize, _ in linearize(graph)]


def _fee_at(diagram: list[tuple[int, int]], size: Fraction) -> Fraction:
    """The cumulative fee of the diagram of `diagram`'s chunks at `size` vbytes (flat past its end)."""
    total_fee, total_size = Fraction(0), 0
    for fee, vsize in diagram:
        if size <= total_size + vsize:
            return total_fee + Fraction(fee) * (size - total_size) / vsize
        total_fee += fee
        total_size += vsize
    return total_fee


def improves_diagram(old: list[tuple[int, int]], new: list[tuple[int, int]]) -> bool:
    """Core's CompareChunks is_gt: `new`'s diagram nowhere below `old`'s and above it somewhere
    (diagrams are piecewise linear: comparing at every corner of either decides it)."""
    corners: set[Fraction] = set()
    for diagram in (old, new):
        size = 0
        for _, vsize in diagram:
            size += vsize
            corners.add(Fraction(size))
    better = False
    for size in sorted(corners):
        old_fee, new_fee = _fee_at(old, size), _fee_at(new, size)
        if new_fee < old_fee:
            return False
        better = better or new_fee > old_fee
    return better


def pays_for_replacement(txid: bytes, original_fees: int, replacement_fees: int, replacement_vsize: int,
                         incremental_relay_fee: int) -> str | None:
    """Core's PaysForRBF (rules 3 and 4): why the replacement's fees do not cover what it
    evicts plus its own relay at `incremental_relay_fee` (sat/kvB), or None."""
    name = hash_to_hex(txid)
    if replacement_fees < original_fees:
        return (f"rejecting replacement {name}, less fees than conflicting txs; "
                f"{format_money(replacement_fees)} < {format_money(original_fees)}")
    relay = -(-incremental_relay_fee * replacement_vsize // 1000)
    if replacement_fees - original_fees < relay:
        return (f"rejecting replacement {name}, not enough additional fees to relay; "
                f"{format_money(replacement_fees - original_fees)} < {format_money(relay)}")
    return None


def check_replacement(txid: bytes, fee: int, vsize: int, parents: Iterable[bytes], direct: Collection[bytes],
                      pool: Callable[[bytes], ClusterTx], children: Callable[[bytes], Iterable[bytes]],
                      incremental_relay_fee: int) -> set[bytes]:
    """Core 31's replacement checks for a transaction (`txid`, modified `fee`, `vsize`, in-pool
    `parents`) conflicting directly with `direct`; `pool` gives a pooled transaction as a
    ClusterTx, `children` its in-pool children. Returns every txid it evicts; raises TxRejected."""
    ancestors = _closure(parents, lambda t: pool(t).parents)
    spent = sorted(ancestors & set(direct))
    if spent:
        raise TxRejected("bad-txns-spends-conflicting-tx", txid,
                         f"{hash_to_hex(txid)} spends conflicting transaction {hash_to_hex(spent[0])}")
    conflicting = clusters(direct, pool, children)
    if len(conflicting) > MAX_REPLACEMENT_CANDIDATES:
        raise TxRejected("too many potential replacements", txid,
                         f"rejecting replacement {hash_to_hex(txid)}; too many conflicting clusters "
                         f"({len(conflicting)} > {MAX_REPLACEMENT_CANDIDATES})")
    evicted = _closure(direct, children)
    problem = pays_for_replacement(txid, sum(pool(t).fee for t in evicted), fee, vsize, incremental_relay_fee)
    if problem is not None:
        raise TxRejected("insufficient fee", txid, problem)
    affected = set().union(*conflicting, *clusters(ancestors, pool, children))
    before = {t: pool(t) for t in affected}
    after = {t: node for t, node in before.items() if t not in evicted}
    after[txid] = ClusterTx(fee, vsize, frozenset(parents))
    if not improves_diagram(chunks(before), chunks(after)):
        raise TxRejected("replacement-failed", txid, _DIAGRAM_FAILURE)
    return evicted


def _fee_rate_text(fee: int, vsize: int) -> str:
    """Core's CFeeRate::ToString: BTC/kvB with 8 decimals."""
    rate = fee * 1000 // vsize
    return f"{rate // 100_000_000}.{rate % 100_000_000:08d} BTC/kvB"


def check_package_replacement(parent: tuple[bytes, int, int], child: tuple[bytes, int, int], has_ancestors: bool,
                              before: Mapping[bytes, ClusterTx], cluster_count: int, evicted: Collection[bytes],
                              incremental_relay_fee: int) -> None:
    """Core 31's PackageRBFChecks for a parent and its child, each (txid, modified fee, vsize),
    replacing `evicted` (the direct conflicts' `cluster_count` clusters, `before`, with their
    descendants); `has_ancestors`: a member spends a pooled transaction it does not replace.
    Raises TxRejected with Core's "package RBF failed" reasons; the child is the one named."""
    child_txid = child[0]
    if has_ancestors:
        raise TxRejected("package RBF failed: new transaction cannot have mempool ancestors", child_txid)
    if cluster_count > MAX_REPLACEMENT_CANDIDATES:
        raise TxRejected("package RBF failed: too many potential replacements", child_txid,
                         f"rejecting replacement {hash_to_hex(child_txid)}; too many conflicting clusters "
                         f"({cluster_count} > {MAX_REPLACEMENT_CANDIDATES})")
    fee, vsize = parent[1] + child[1], parent[2] + child[2]
    problem = pays_for_replacement(child_txid, sum(before[t].fee for t in evicted), fee, vsize,
                                   incremental_relay_fee)
    if problem is not None:
        raise TxRejected("package RBF failed: insufficient anti-DoS fees", child_txid, problem)
    if fee * 1000 // vsize <= parent[1] * 1000 // parent[2]:  # CFeeRate's, per kvB truncated
        raise TxRejected("package RBF failed: package feerate is less than or equal to parent feerate", child_txid,
                         f"package feerate {_fee_rate_text(fee, vsize)} <= parent feerate is "
                         f"{_fee_rate_text(parent[1], parent[2])}")
    after = {t: node for t, node in before.items() if t not in evicted}
    after[parent[0]] = ClusterTx(parent[1], parent[2], frozenset())
    after[child_txid] = ClusterTx(child[1], child[2], frozenset({parent[0]}))
    if not improves_diagram(chunks(dict(before)), chunks(after)):
        raise TxRejected(f"package RBF failed: {_DIAGRAM_FAILURE}", child_txid)


def _closure(start: Iterable[bytes], links: Callable[[bytes], Iterable[bytes]]) -> set[bytes]:
    found: set[bytes] = set()
    stack = list(start)
    while stack:
        current = stack.pop()
        if current not in found:
            found.add(current)
            stack.extend(links(current))
    return found


def clusters(txids: Iterable[bytes], pool: Callable[[bytes], ClusterTx],
             children: Callable[[bytes], Iterable[bytes]]) -> list[set[bytes]]:
    """The distinct clusters (connected by spending, either way) holding `txids`."""
    found: list[set[bytes]] = []
    for txid in txids:
        if any(txid in cluster for cluster in found):
            continue
        found.append(_closure([txid], lambda t: [*pool(t).parents, *children(t)]))
    return found
