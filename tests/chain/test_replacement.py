"""Replacement (`pantheon.chain.replacement`, applied by `chain.mempool`): Core 31's full RBF
rules with Core's reasons and details, each hit by a pooled conflict built for it, and the
feerate-diagram arithmetic on figures worked out by hand. Coins are P2WSH(OP_TRUE) coinbase
outputs of `helpers.chain.RegtestChain`; scripts are not run (tests/chain/test_chain_mempool.py
explains why)."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from helpers.chain import P2WSH_TRUE, Prevout, RegtestChain, prevouts_of, spend

from pantheon.chain.mempool import Mempool
from pantheon.chain.policy import format_money
from pantheon.chain.replacement import MAX_REPLACEMENT_CANDIDATES, ClusterTx, chunks, improves_diagram, linearize
from pantheon.chain.validation import TxRejected
from pantheon.hashing import hash_to_hex
from pantheon.primitives import Tx, TxOut


@pytest.fixture
def coins(chain: RegtestChain) -> list[Prevout]:
    return chain.mature_coinbases(4)


def rejected(submit: Callable[[Tx], Tx], tx: Tx) -> TxRejected:
    with pytest.raises(TxRejected) as caught:
        submit(tx)
    return caught.value


# --- the diagram ------------------------------------------------------------------------------


def test_chunks_merge_a_parent_with_the_child_paying_for_it() -> None:
    graph = {b"p": ClusterTx(100, 100, frozenset()), b"c": ClusterTx(900, 100, frozenset({b"p"})),
             b"x": ClusterTx(300, 100, frozenset())}
    assert chunks(graph) == [(1000, 200), (300, 100)]  # 5 sat/vB package first, then 3 sat/vB


def test_equal_feerates_stay_separate_chunks_whatever_the_graph_order() -> None:
    """Core's chunking merges a transaction into the chunk before it only at a strictly higher
    feerate: a chain of three at one feerate is three chunks, however the graph is listed."""
    chain = {b"a": ClusterTx(100, 100, frozenset()), b"b": ClusterTx(100, 100, frozenset({b"a"})),
             b"c": ClusterTx(100, 100, frozenset({b"b"}))}
    for listed in (chain, dict(reversed(chain.items()))):
        assert [sorted(members) for _, _, members in linearize(listed)] == [[b"a"], [b"b"], [b"c"]]


def test_a_diagram_must_be_strictly_better() -> None:
    old = [(1000, 100)]
    assert not improves_diagram(old, [(1000, 100)])  # the same: not better
    assert improves_diagram(old, [(1001, 100)])
    assert not improves_diagram(old, [(1500, 200)])  # more fee, but below old at 100 vB (750 < 1000)
    assert improves_diagram(old, [(1000, 50)])  # same fee in half the space


# --- the pool ---------------------------------------------------------------------------------


def test_a_replacement_paying_more_evicts_the_original_and_its_descendants(
        pool: Mempool, coins: list[Prevout], submit: Callable[[Tx], Tx]) -> None:
    original = submit(spend([coins[0]], fee=1_000))
    child = submit(spend(prevouts_of(original), fee=1_000))
    replacement = spend([coins[0]], fee=10_000)
    result = pool.accept(replacement)
    assert result.status == "accepted"
    assert {entry.tx.txid for entry in result.replaced} == {original.txid, child.txid}
    assert [entry.tx.txid for entry in pool] == [replacement.txid]


def test_the_removal_listeners_hear_replaced_and_nothing_of_a_package_s_take_out(
        pool: Mempool, coins: list[Prevout], submit: Callable[[Tx], Tx]) -> None:
    """The fee estimator stops tracking a replaced transaction (Core's REPLACED reason); a
    package's trial `unstage`/`restore` is no departure, so it hears nothing of it."""
    heard: list[tuple[bytes, str]] = []
    pool.removal_listeners.append(lambda entry, reason: heard.append((entry.tx.txid, reason)))
    original = submit(spend([coins[0]], fee=1_000))
    bystander = submit(spend([coins[1]], fee=1_000))
    pool.restore(pool.unstage([bystander.txid]))
    assert heard == [] and bystander.txid in pool
    submit(spend([coins[0]], fee=10_000))
    assert heard == [(original.txid, "replaced")]


def test_a_replacement_must_pay_the_fees_it_evicts(pool: Mempool, coins: list[Prevout],
                                                   submit: Callable[[Tx], Tx]) -> None:
    original = submit(spend([coins[0]], fee=5_000))
    replacement = spend([coins[0]], fee=4_000)
    error = rejected(submit, replacement)
    assert (error.reason, error.detail) == (
        "insufficient fee", f"rejecting replacement {hash_to_hex(replacement.txid)}, less fees than conflicting "
                            f"txs; 0.00004 < 0.00005")
    assert [entry.tx.txid for entry in pool] == [original.txid]


def test_a_replacement_must_pay_for_its_own_relay(pool: Mempool, coins: list[Prevout],
                                                 submit: Callable[[Tx], Tx]) -> None:
    original = submit(spend([coins[0]], fee=5_000))
    replacement = spend([coins[0]], fee=5_001)  # 1 sat more; its ~100 vB need 10 at 0.1 sat/vB
    error = rejected(submit, replacement)
    relay = -(-pool.incremental_relay_fee * replacement.vsize // 1000)
    assert (error.reason, error.detail) == (
        "insufficient fee", f"rejecting replacement {hash_to_hex(replacement.txid)}, not enough additional fees "
                            f"to relay; 0.00000001 < {format_money(relay)}")
    assert [entry.tx.txid for entry in pool] == [original.txid]


def test_a_replacement_must_improve_the_feerate_diagram(coins: list[Prevout], submit: Callable[[Tx], Tx]) -> None:
    submit(spend([coins[0]], fee=10_000))
    big = spend([coins[0]], [TxOut(1_000, P2WSH_TRUE)] * 40 + [TxOut(coins[0][1].value - 60_000, P2WSH_TRUE)],
                fee=20_000)  # twice the fee, over ten times the size
    error = rejected(submit, big)
    assert (error.reason, error.detail) == ("replacement-failed",
                                            "insufficient feerate: does not improve feerate diagram")


def test_a_replacement_may_not_spend_what_it_replaces(coins: list[Prevout], submit: Callable[[Tx], Tx]) -> None:
    original = submit(spend([coins[0], coins[1]], [TxOut(coins[0][1].value, P2WSH_TRUE),
                                                   TxOut(coins[1][1].value - 1_000, P2WSH_TRUE)]))
    bad = spend([coins[1], prevouts_of(original)[0]], fee=100_000)
    error = rejected(submit, bad)
    assert (error.reason, error.detail) == (
        "bad-txns-spends-conflicting-tx",
        f"{hash_to_hex(bad.txid)} spends conflicting transaction {hash_to_hex(original.txid)}")


def test_a_replacement_may_conflict_with_at_most_100_clusters(chain: RegtestChain, pool: Mempool,
                                                              coins: list[Prevout], submit: Callable[[Tx], Tx]) -> None:
    count = MAX_REPLACEMENT_CANDIDATES + 1
    splitter = submit(spend([coins[0]], [TxOut(100_000, P2WSH_TRUE)] * count
                            + [TxOut(coins[0][1].value - 100_000 * count - 50_000, P2WSH_TRUE)]))
    chain.mine_block(pool)
    outputs = prevouts_of(splitter)[:count]
    for output in outputs:
        submit(spend([output], fee=500))
    replacement = spend(outputs, fee=1_000_000)
    error = rejected(submit, replacement)
    assert (error.reason, error.detail) == (
        "too many potential replacements",
        f"rejecting replacement {hash_to_hex(replacement.txid)}; too many conflicting clusters (101 > 100)")
    assert pool.accept(spend(outputs[:-1], fee=1_000_000)).status == "accepted"  # 100 clusters: allowed
    assert len(pool) == 2  # the 100 replaced gone; the 101st's spend stays


def test_test_accept_allows_a_replacement_and_changes_nothing(pool: Mempool, coins: list[Prevout],
                                                              submit: Callable[[Tx], Tx]) -> None:
    original = submit(spend([coins[0]], fee=1_000))
    checked = pool.test_accept(spend([coins[0]], fee=2_000))
    assert checked is not None and checked.replaced == {original.txid} and checked.fee == 2_000
    assert [entry.tx.txid for entry in pool] == [original.txid]


def test_a_package_check_may_refuse_any_replacement(pool: Mempool, coins: list[Prevout],
                                                    submit: Callable[[Tx], Tx], wire_impl: Any) -> None:
    submit(spend([coins[0]], fee=1_000))
    with pytest.raises(TxRejected, match="bip125-replacement-disallowed"):
        pool.check(spend([coins[0]], fee=50_000), allow_replacement=False)


def test_the_pool_reports_each_transactions_chunk(pool: Mempool, coins: list[Prevout],
                                                  submit: Callable[[Tx], Tx]) -> None:
    parent = submit(spend([coins[0]], fee=200))
    child = submit(spend(prevouts_of(parent), fee=5_000))  # pays for its parent: one chunk
    alone = submit(spend([coins[1]], fee=300))
    chunks = pool.chunks([parent.txid, child.txid, alone.txid])
    assert chunks[parent.txid] == chunks[child.txid] == (5_200, parent.weight + child.weight)
    assert chunks[alone.txid] == (300, alone.weight)
