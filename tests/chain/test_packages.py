"""Packages (`pantheon.chain.packages`) on a regtest mempool: Core's well-formedness reasons,
child-with-parents topology, test-accepting several transactions together (each at its own fee
rate, the first failure ending it, nothing added), and submitting a package whose child pays for
its parents (CPFP) or whose members hit maxfeerate. Coins and transactions as in
tests/chain/test_chain_mempool.py (P2WSH(OP_TRUE), scripts not run)."""

from __future__ import annotations

from typing import Callable

import pytest
from helpers.chain import P2WSH_TRUE, Prevout, RegtestChain, prevouts_of, spend

from pantheon.chain import packages
from pantheon.chain.mempool import Mempool
from pantheon.chain.packages import MAX_PACKAGE_COUNT, accept_package, well_formed_error
from pantheon.primitives import Tx, TxOut


@pytest.fixture
def coins(chain: RegtestChain) -> list[Prevout]:
    return chain.mature_coinbases(4)


def chain_of(coin: Prevout, length: int, fee: int = 1_000) -> list[Tx]:
    txs = [spend([coin], fee=fee)]
    while len(txs) < length:
        txs.append(spend(prevouts_of(txs[-1]), fee=fee))
    return txs


def test_well_formed_reasons_in_cores_order(coins: list[Prevout]) -> None:
    parent, child = chain_of(coins[0], 2)
    assert well_formed_error([parent, child]) is None
    assert well_formed_error(chain_of(coins[1], MAX_PACKAGE_COUNT + 1)) == "package-too-many-transactions"
    heavy = [spend([coins[i]], [TxOut(1_000, b"\x6a" + b"\x00" * 60_000)] + [TxOut(10**8, P2WSH_TRUE)])
             for i in range(2)]
    assert well_formed_error(heavy) == "package-too-large"  # two of ~240,000 WU each
    assert well_formed_error([parent, parent]) == "package-contains-duplicates"
    assert well_formed_error([child, parent]) == "package-not-sorted"
    assert well_formed_error([parent, spend([coins[0]], fee=2_000)]) == "conflict-in-package"


def test_child_with_parents_topology(coins: list[Prevout]) -> None:
    first, second = spend([coins[0]]), spend([coins[1]])
    child = spend([prevouts_of(first)[0], prevouts_of(second)[0]])
    assert packages.is_child_with_parents_tree([first, second, child])
    assert not packages.is_child_with_parents([first, second])  # the last spends no other
    grandparent, parent, grandchild = chain_of(coins[2], 3)
    assert packages.is_child_with_parents([parent, grandchild])
    assert not packages.is_child_with_parents_tree([grandparent, parent, grandchild])  # not every one a parent


def test_test_accept_checks_a_chain_together_and_adds_nothing(pool: Mempool, coins: list[Prevout]) -> None:
    txs = chain_of(coins[0], 3)
    result = packages.test_accept(pool, txs)
    assert result.message == "" and len(pool) == 0
    assert [result.results[tx.wtxid].kind for tx in txs] == ["valid"] * 3
    assert result.results[txs[1].wtxid].effective_includes == (txs[1].wtxid,)  # each at its own rate


def test_test_accept_stops_at_the_first_failure(pool: Mempool, coins: list[Prevout]) -> None:
    good = spend([coins[0]])
    lost = spend([(b"\x01" * 32, 0)], [TxOut(1_000, P2WSH_TRUE)])
    result = packages.test_accept(pool, [good, lost])
    assert result.message == "transaction failed" and set(result.results) == {lost.wtxid}
    assert result.results[lost.wtxid].missing_inputs
    assert packages.test_accept(pool, [lost, good]).results.keys() == {lost.wtxid}


def test_test_accept_of_a_package_refuses_replacements(pool: Mempool, coins: list[Prevout],
                                                       submit: Callable[[Tx], Tx]) -> None:
    submit(spend([coins[0]], fee=1_000))
    replacement = spend([coins[0]], fee=50_000)
    assert packages.test_accept(pool, [replacement]).results[replacement.wtxid].kind == "valid"  # alone: RBF
    result = packages.test_accept(pool, [spend([coins[1]]), replacement])
    error = result.results[replacement.wtxid].error
    assert error is not None and error.reason == "bip125-replacement-disallowed"


def test_a_child_pays_for_its_zero_fee_parent(pool: Mempool, coins: list[Prevout]) -> None:
    parent = spend([coins[0]], fee=0)
    child = spend(prevouts_of(parent), fee=5_000)
    alone = packages.test_accept(pool, [parent])
    assert alone.results[parent.wtxid].error.reason == "min relay fee not met"  # type: ignore[union-attr]
    result = accept_package(pool, [parent, child])
    assert result.message == "" and {entry.tx.txid for entry in pool} == {parent.txid, child.txid}
    for tx in (parent, child):
        outcome = result.results[tx.wtxid]
        assert outcome.kind == "valid" and outcome.effective_includes == (parent.wtxid, child.wtxid)
        assert outcome.effective_fee_rate == 5_000 * 1000 // (parent.vsize + child.vsize)
    again = accept_package(pool, [parent, child])
    assert [again.results[tx.wtxid].kind for tx in (parent, child)] == ["in-mempool"] * 2


def test_max_fee_rate_refuses_a_member_and_its_child(pool: Mempool, coins: list[Prevout]) -> None:
    parent, child = chain_of(coins[0], 2, fee=10_000)
    result = accept_package(pool, [parent, child], max_fee_rate=10_000 * 1000 // parent.vsize - 1)
    assert result.message == "transaction failed" and len(pool) == 0
    assert result.results[parent.wtxid].error.reason == "max feerate exceeded"  # type: ignore[union-attr]
    assert result.results[child.wtxid].error.reason == "bad-txns-inputs-missingorspent"  # type: ignore[union-attr]


def test_a_child_may_spend_only_its_parents_and_unspent_coins(pool: Mempool, coins: list[Prevout]) -> None:
    parent = spend([coins[0]])
    child = spend([prevouts_of(parent)[0], (b"\x02" * 32, 0)], [TxOut(1_000, P2WSH_TRUE)])
    result = accept_package(pool, [parent, child])
    assert (result.message, result.policy_error, result.results) == (
        "package-not-child-with-unconfirmed-parents", True, {})
    assert accept_package(pool, [parent, spend([coins[1]])]).message == "package-not-child-with-parents"


def big_spend(coin: Prevout, fee: int) -> Tx:
    """A spend of `coin` with 30 outputs: large, so a smaller transaction can pay a better rate."""
    return spend([coin], [TxOut(10_000, P2WSH_TRUE)] * 30 + [TxOut(coin[1].value - 300_000 - fee, P2WSH_TRUE)])


def test_a_parent_and_child_replace_together(pool: Mempool, coins: list[Prevout],
                                            submit: Callable[[Tx], Tx]) -> None:
    original = submit(spend([coins[0]], fee=5_000))
    parent = spend([coins[0]], fee=0)
    child = spend(prevouts_of(parent), fee=20_000)
    result = accept_package(pool, [parent, child])
    assert result.message == "" and {entry.tx.txid for entry in pool} == {parent.txid, child.txid}
    assert result.results[child.wtxid].replaced == (original.txid,)


def test_package_replacement_refusals_put_the_originals_back(pool: Mempool, coins: list[Prevout],
                                                             submit: Callable[[Tx], Tx]) -> None:
    original = submit(spend([coins[0]], fee=30_000))
    parent = spend([coins[0]], fee=0)
    child = spend(prevouts_of(parent), fee=20_000)
    result = accept_package(pool, [parent, child])
    assert result.message == (f"package RBF failed: insufficient anti-DoS fees, rejecting replacement "
                              f"{child.txid[::-1].hex()}, less fees than conflicting txs; 0.0002 < 0.0003")
    assert result.results[parent.wtxid].error.reason == "min relay fee not met"  # type: ignore[union-attr]
    assert [entry.tx.txid for entry in pool] == [original.txid] and pool.get(original.txid).fee == 30_000

    big = submit(big_spend(coins[1], 10_000))
    rich_parent = spend([coins[1]], fee=9_000)  # a better rate than `big`, less fee: refused alone
    poor_child = spend(prevouts_of(rich_parent), fee=1_100)
    result = accept_package(pool, [rich_parent, poor_child])
    assert result.message.startswith("package RBF failed: package feerate is less than or equal to parent "
                                     "feerate, package feerate 0.000")
    assert big.txid in pool and rich_parent.txid not in pool

    grandparent = submit(spend([coins[2]], fee=1_000))
    replacer = spend([coins[3], prevouts_of(grandparent)[0]], fee=0)
    submit(spend([coins[3]], fee=1_000))
    result = accept_package(pool, [replacer, spend(prevouts_of(replacer), fee=50_000)])
    assert result.message == "package RBF failed: new transaction cannot have mempool ancestors"
