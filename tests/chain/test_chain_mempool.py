"""The mempool (`pantheon.chain.mempool`) on both wire twins: every reject reason of the pool's own
with a transaction built to hit it, orphans, eviction, block connect/disconnect, txid and wtxid
lookups. The standardness reasons (`chain/policy.py`) are tests/chain/test_policy.py's.

The chain is `tests/helpers/chain.RegtestChain` (a real HeaderTree and a coin dict fed by blocks our
miner makes), lighter than a `Chainstate` and enough for the pool. Scripts are not executed (the
pool is built without a verifier here; tests/chain/test_chain_integration.py runs them), so the
coins spent here are anyone-can-spend P2WSH(OP_TRUE) outputs and some witnesses are arbitrary:
that is what the rules under test look at, not script validity.
Every transaction reaches the pool encoded and decoded by the twin under test (`relay`)."""

from __future__ import annotations

import logging
import tracemalloc
from typing import Any, Callable

import pytest
from helpers.chain import P2WSH_TRUE, Prevout, RegtestChain, prevouts_of, relay, spend
from helpers.clock import Clock
from helpers.standard_outputs import KEY, P2A, P2PKH, P2SH, multisig

from pantheon.chain.mempool import CHAIN_COUNT_LIMIT, CLUSTER_COUNT_LIMIT, Mempool
from pantheon.chain.orphanage import TxOrphanage
from pantheon.chain.policy import MIN_RELAY_FEE, dust_threshold
from pantheon.chain.validation import TxRejected
from pantheon.primitives import OutPoint, Tx, TxIn, TxOut


@pytest.fixture
def coins(chain: RegtestChain) -> list[Prevout]:
    """Twelve spendable 50-coin P2WSH(OP_TRUE) coinbase outputs at height 112."""
    return chain.mature_coinbases(12)




def fan_out(submit: Callable[[Tx], Tx], coin: Prevout, count: int, value: int = 100_000) -> list[Prevout]:
    """A pooled transaction splitting `coin` into `count` outputs of `value`: parents for tests."""
    tx = spend([coin], [TxOut(value, P2WSH_TRUE)] * count + [TxOut(coin[1].value - value * count - 10_000, P2WSH_TRUE)])
    return prevouts_of(submit(tx))[:count]


# --- accepted, and looked up ----------------------------------------------------------------


def test_accept_indexes_by_txid_and_wtxid_and_reports_info(pool: Mempool, coins: list[Prevout],
                                                           wire_impl: Any) -> None:
    tx = relay(wire_impl.module, spend([coins[0]], fee=2_000))
    result = pool.accept(tx)
    assert result.status == "accepted" and result.entry is not None and result.resolved == ()
    assert tx.txid != tx.wtxid
    assert tx.txid in pool and tx.wtxid not in pool and len(pool) == 1
    assert pool.get(tx.txid) is result.entry is pool.get_by_wtxid(tx.wtxid)
    assert pool.get(tx.wtxid) is None and pool.get_by_wtxid(tx.txid) is None
    assert result.entry.fee == 2_000 and result.entry.vsize == tx.vsize
    info = pool.info()
    assert (info.size, info.bytes, info.total_fee, info.min_fee_rate, info.scripts_verified) == (
        1, tx.vsize, 2_000, MIN_RELAY_FEE / 1000, False)
    assert pool.bytes == tx.vsize and info.usage == pool.usage > len(tx.serialize())


def test_without_a_script_verifier_the_pool_says_so_loudly(chain: RegtestChain,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pantheon.chain.mempool"):
        pool = Mempool(chain)
    assert not pool.scripts_verified
    assert [record.levelno for record in caplog.records] == [logging.WARNING]
    assert "NOT verified" in caplog.records[0].getMessage()


def test_a_script_verifier_sees_the_spent_coins_and_can_reject(chain: RegtestChain, coins: list[Prevout]) -> None:
    seen = []

    def verifier(tx: Tx, spent: list) -> None:
        seen.append((tx.txid, [coin.value for coin in spent]))
        raise TxRejected("mempool-script-verify-flag-failed", tx.txid)

    pool = Mempool(chain, script_verifier=verifier)
    tx = spend([coins[0]])
    with pytest.raises(TxRejected, match="mempool-script-verify-flag-failed"):
        pool.accept(tx)
    assert seen == [(tx.txid, [coins[0][1].value])] and len(pool) == 0 and pool.scripts_verified


# --- every reject reason ----------------------------------------------------------------------


def _padded_witness(coin: Prevout, size: int) -> Tx:
    """A spend of `coin` carrying `size` bytes of witness padding (scripts are not run)."""
    return Tx(2, [TxIn(coin[0].txid, coin[0].index, b"", 0xFFFF_FFFE, (b"\x00" * size, b"\x51"))],
              [TxOut(coin[1].value - 500_000, P2WSH_TRUE)], 0)


def _with_output(script: bytes, value: int = 10_000) -> Callable[[RegtestChain, list[Prevout]], Tx]:
    return lambda chain, coins: spend([coins[0]], [TxOut(value, script),
                                                   TxOut(coins[0][1].value - 100_000, P2WSH_TRUE)])


REJECTS: list[tuple[str, Callable[[RegtestChain, list[Prevout]], Tx]]] = [
    ("bad-txns-vout-empty", lambda chain, coins: spend([coins[0]], [])),
    ("bad-txns-inputs-duplicate", lambda chain, coins: spend([coins[0], coins[0]])),
    ("coinbase", lambda chain, coins: chain.blocks[-1].transactions[0]),
    ("tx-size-small", lambda chain, coins: spend([coins[0]], [TxOut(dust_threshold(TxOut(0, P2A)), P2A)])),
    ("non-final", lambda chain, coins: spend([coins[0]], locktime=chain.height + 1)),
    ("non-final", lambda chain, coins: spend([coins[0]], locktime=chain.mtp_at(chain.height))),
    ("bad-txns-premature-spend-of-coinbase",  # a coinbase 99 blocks deep at the next block
     lambda chain, coins: spend(prevouts_of(chain.blocks[-99].transactions[0])[:1])),
    ("bad-txns-in-belowout", lambda chain, coins: spend([coins[0]], [TxOut(coins[0][1].value + 1, P2WSH_TRUE)])),
    ("bad-txns-too-many-sigops", lambda chain, coins: Tx(2, [TxIn(coins[0][0].txid, coins[0][0].index, b"", 0xFFFF_FFFE,
                                                               (b"\xae" * 801,))], [TxOut(10**9, P2WSH_TRUE)], 0)),
    ("min relay fee not met", lambda chain, coins: spend([coins[0]], fee=0)),
    ("min relay fee not met",
     lambda chain, coins: spend([coins[0]], fee=spend([coins[0]]).vsize * MIN_RELAY_FEE // 1000 - 1)),
]


@pytest.mark.parametrize(("reason", "build"), REJECTS, ids=[f"{i}-{reason}" for i, (reason, _) in enumerate(REJECTS)])
def test_each_reject_reason(pool: Mempool, chain: RegtestChain, coins: list[Prevout], wire_impl: Any,
                            reason: str, build: Callable[[RegtestChain, list[Prevout]], Tx]) -> None:
    tx = relay(wire_impl.module, build(chain, coins))
    with pytest.raises(TxRejected) as caught:
        pool.accept(tx)
    assert caught.value.reason == reason
    assert len(pool) == 0 and pool.orphan_count == 0


def test_what_each_reject_reason_lets_through(pool: Mempool, chain: RegtestChain, coins: list[Prevout],
                                              submit: Callable[[Tx], Tx]) -> None:
    """The edges just inside the limits are accepted: dust thresholds, two OP_RETURN outputs, a
    3-key bare multisig, the standard and anchor types, locktime just passed, the fee floor."""
    outputs = [TxOut(330, P2WSH_TRUE), TxOut(546, P2PKH), TxOut(0, b"\x6a\x4c\x50" + b"\x00" * 80), TxOut(0, b"\x6a"),
               TxOut(10_000, multisig(2, 3)), TxOut(240, P2A), TxOut(540, P2SH), TxOut(600, b"\x21" + KEY + b"\xac"),
               TxOut(330, b"\x51\x20" + b"\x01" * 32), TxOut(300, b"\x52\x02\x01\x02")]
    base = spend([coins[0]], outputs + [TxOut(10**9, P2WSH_TRUE)])
    submit(base)
    floor = spend([coins[1]]).vsize * MIN_RELAY_FEE // 1000
    edge = spend([coins[1]], [TxOut(coins[1][1].value - floor, P2WSH_TRUE)], locktime=chain.height, version=3)
    submit(edge)
    assert len(pool) == 2


def test_duplicates_by_wtxid_and_by_txid(pool: Mempool, coins: list[Prevout], submit: Callable[[Tx], Tx]) -> None:
    tx = submit(spend([coins[0]]))
    with pytest.raises(TxRejected, match="txn-already-in-mempool"):
        submit(tx)
    malleated = Tx(tx.version, [TxIn(i.prev_txid, i.prev_index, i.script_sig, i.sequence, (b"\x01", *i.witness))
                                for i in tx.inputs], tx.outputs, tx.locktime)
    assert malleated.txid == tx.txid and malleated.wtxid != tx.wtxid
    with pytest.raises(TxRejected, match="txn-same-nonwitness-data-in-mempool"):
        submit(malleated)


def test_a_confirmed_transaction_is_already_known(pool: Mempool, chain: RegtestChain, coins: list[Prevout],
                                                  submit: Callable[[Tx], Tx]) -> None:
    tx = submit(spend([coins[0]]))
    chain.mine_block(pool)
    assert tx.txid not in pool
    with pytest.raises(TxRejected, match="txn-already-known"):
        submit(tx)


def test_chains_of_25_with_ancestors_or_descendants(pool: Mempool, coins: list[Prevout],
                                                    submit: Callable[[Tx], Tx]) -> None:
    tip = submit(spend([coins[0]]))
    for _ in range(CHAIN_COUNT_LIMIT - 1):
        tip = submit(spend(prevouts_of(tip)))
    with pytest.raises(TxRejected, match="too many unconfirmed ancestors"):
        submit(spend(prevouts_of(tip)))
    children = fan_out(submit, coins[1], CHAIN_COUNT_LIMIT)
    for prevout in children[:CHAIN_COUNT_LIMIT - 1]:  # the splitter and 24 children: 25
        submit(spend([prevout]))
    with pytest.raises(TxRejected, match="too many descendants for tx"):
        submit(spend([children[-1]]))
    assert len(pool) == 2 * CHAIN_COUNT_LIMIT


def test_chains_of_101_kvb_with_ancestors_or_descendants(pool: Mempool, coins: list[Prevout],
                                                         submit: Callable[[Tx], Tx]) -> None:
    pool.require_standard = False  # witness padding this large is non-standard (bad-witness-nonstandard)
    parent = submit(_padded_witness(coins[0], 240_000))  # ~60,000 vB
    with pytest.raises(TxRejected, match="exceeds ancestor size limit"):
        submit(_padded_witness(prevouts_of(parent)[0], 180_000))
    splitter = submit(spend([coins[1]], [TxOut(10**8, P2WSH_TRUE)] * 2))
    submit(_padded_witness(prevouts_of(splitter)[0], 240_000))
    with pytest.raises(TxRejected, match="exceeds descendant size limit for tx"):
        submit(_padded_witness(prevouts_of(splitter)[1], 180_000))


def test_clusters_of_64_transactions(pool: Mempool, chain: RegtestChain, coins: list[Prevout],
                                     submit: Callable[[Tx], Tx]) -> None:
    """A zigzag (each child spends two neighbouring parents) keeps every chain short but joins one
    cluster: Core 31 refuses its 65th transaction."""
    splitter = submit(spend([coins[0]], [TxOut(1_000_000, P2WSH_TRUE)] * 33
                            + [TxOut(coins[0][1].value - 33_100_000, P2WSH_TRUE)]))
    chain.mine_block(pool)
    parents = [submit(spend([output], [TxOut(400_000, P2WSH_TRUE)] * 2)) for output in prevouts_of(splitter)[:33]]
    for left, right in zip(parents[:31], parents[1:32]):
        submit(spend([prevouts_of(left)[1], prevouts_of(right)[0]]))
    assert len(pool) == CLUSTER_COUNT_LIMIT
    with pytest.raises(TxRejected, match="too-large-cluster"):
        submit(spend([prevouts_of(parents[31])[1], prevouts_of(parents[32])[0]]))


def test_bip68_relative_lock_on_a_pooled_parent(pool: Mempool, coins: list[Prevout],
                                                submit: Callable[[Tx], Tx]) -> None:
    parent = submit(spend([coins[0]]))
    with pytest.raises(TxRejected, match="non-BIP68-final"):
        submit(spend(prevouts_of(parent), sequence=1))  # one block after the parent confirms
    submit(spend(prevouts_of(parent), sequence=0))


def test_bip68_time_lock_is_measured_from_the_coins_block(pool: Mempool, chain: RegtestChain,
                                                          coins: list[Prevout], submit: Callable[[Tx], Tx]) -> None:
    time_lock = (1 << 22) | 1  # 512 seconds after the coin's block's parent's MTP
    with pytest.raises(TxRejected, match="non-BIP68-final"):
        submit(spend([coins[-1]], sequence=time_lock))  # regtest blocks are 1 s apart here
    submit(spend([coins[-1]], sequence=time_lock, version=1))  # BIP68 applies from version 2


def test_the_mempool_full_and_min_fee_reasons(chain: RegtestChain, coins: list[Prevout], clock: Clock,
                                              wire_impl: Any) -> None:
    probe = Mempool(chain)
    probe.accept(spend([coins[0]]))
    pool = Mempool(chain, max_usage=probe.usage * 3, clock=clock)
    for coin, fee in zip(coins[:3], (5_000, 6_000, 7_000)):
        pool.accept(relay(wire_impl.module, spend([coin], fee=fee)))
    assert len(pool) == 3
    with pytest.raises(TxRejected, match="mempool full"):  # the lowest fee rate: itself evicted
        pool.accept(relay(wire_impl.module, spend([coins[3]], fee=200)))
    assert pool.info().min_fee_rate > 1.0 and len(pool) == 3
    below = int(pool.min_fee_rate() * spend([coins[4]]).vsize) - 1  # above the relay minimum
    with pytest.raises(TxRejected, match="mempool min fee not met"):
        pool.accept(relay(wire_impl.module, spend([coins[4]], fee=below)))
    clock.now += 3 * 24 * 3600  # the rolling minimum decays away
    assert pool.min_fee_rate() == MIN_RELAY_FEE / 1000


# --- eviction ---------------------------------------------------------------------------------


def test_eviction_takes_the_lowest_fee_rate_with_its_descendants(chain: RegtestChain, coins: list[Prevout],
                                                                 wire_impl: Any) -> None:
    pool = Mempool(chain)
    cheap = relay(wire_impl.module, spend([coins[0]], fee=300))
    child = relay(wire_impl.module, spend(prevouts_of(cheap), fee=400))
    others = [relay(wire_impl.module, spend([coin], fee=fee)) for coin, fee in zip(coins[1:4], (2_000, 3_000, 4_000))]
    for tx in (cheap, child, *others):
        pool.accept(tx)
    pool.max_usage = pool.usage - 1
    pool.accept(relay(wire_impl.module, spend([coins[4]], fee=5_000)))  # over the cap: trims
    assert cheap.txid not in pool and child.txid not in pool
    assert all(tx.txid in pool for tx in others) and pool.usage <= pool.max_usage
    assert pool.info().min_fee_rate > (300 + 400) / (cheap.vsize + child.vsize)


def test_a_high_fee_child_protects_its_parent_from_eviction(chain: RegtestChain, coins: list[Prevout]) -> None:
    """Core's descendant score: a parent is kept at its package's rate when that is higher."""
    pool = Mempool(chain)
    parent = spend([coins[0]], fee=200)
    child = spend(prevouts_of(parent), fee=20_000)
    middle = spend([coins[1]], fee=1_000)
    for tx in (parent, child, middle):
        pool.accept(tx)
    pool.max_usage = pool.usage  # full: the next one in evicts exactly one of the same size
    pool.accept(spend([coins[2]], fee=1_500))
    assert middle.txid not in pool and parent.txid in pool and child.txid in pool


def test_usage_estimate_tracks_real_memory(chain: RegtestChain, coins: list[Prevout], wire_impl: Any) -> None:
    """The per-entry constants stay within a factor of the memory tracemalloc sees held."""
    pool = Mempool(chain)
    parents = [spend([coin], [TxOut(100_000, P2WSH_TRUE)] * 20 + [TxOut(10**9, P2WSH_TRUE)]) for coin in coins[:2]]
    for tx in parents:
        pool.accept(tx)
    wire = wire_impl.module
    payloads = [wire.encode_tx(spend([prevout], fee=500)) for tx in parents for prevout in prevouts_of(tx)[:20]]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        usage = pool.usage
        for payload in payloads:  # decoded here: the transaction's own bytes are part of what is held
            pool.accept(wire.decode_tx(payload))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    estimated = pool.usage - usage
    assert 0.5 < estimated / held < 2, (estimated, held)


# --- orphans ----------------------------------------------------------------------------------


def test_orphans_resolve_recursively_when_the_parent_arrives(pool: Mempool, coins: list[Prevout],
                                                             wire_impl: Any) -> None:
    parent = relay(wire_impl.module, spend([coins[0]]))
    child = relay(wire_impl.module, spend(prevouts_of(parent)))
    grandchild = relay(wire_impl.module, spend(prevouts_of(child)))
    assert pool.accept(grandchild, peer=0).status == "orphan"
    assert pool.accept(child, peer=0).status == "orphan"
    assert pool.accept(child, peer=1).status == "orphan" and pool.orphan_count == 2  # kept once
    assert pool.orphanage.announcers(child.wtxid) == [0, 1]
    assert pool.has_orphan(child.wtxid) and len(pool) == 0
    result = pool.accept(parent)
    assert [entry.tx.txid for entry in result.resolved] == [child.txid, grandchild.txid]
    assert len(pool) == 3 and pool.orphan_count == 0
    assert pool.ancestors(grandchild.txid) == {parent.txid, child.txid}
    assert pool.descendants(parent.txid) == {child.txid, grandchild.txid}


def _bare_spend(txid: bytes, value: int) -> Tx:
    """A spend of output 0 of `txid` without a witness (scripts are not run here), so that its
    txid, which children name, is the wtxid the refusals remember (Core's rule)."""
    return Tx(2, [TxIn(txid, 0, b"", 0, ())], [TxOut(value, P2WSH_TRUE)], 0)


def test_an_orphan_invalid_once_its_parent_arrives_is_dropped_and_refused_again(
        pool: Mempool, coins: list[Prevout], caplog: pytest.LogCaptureFixture) -> None:
    """Core's ProcessOrphanTx: the refusal is logged for the orphan's peer and remembered, so an
    orphan spending the refused one is not kept."""
    parent = spend([coins[0]])
    greedy = _bare_spend(parent.txid, parent.outputs[0].value + 1)  # no witness: its txid is its wtxid
    assert pool.accept(greedy, peer=3).status == "orphan"
    with caplog.at_level(logging.DEBUG, logger="pantheon.chain"):
        assert pool.accept(parent, peer=0).resolved == () and pool.orphan_count == 0 and len(pool) == 1
        grandchild = spend(prevouts_of(greedy))
        assert pool.accept(grandchild, peer=0).status == "missing-inputs" and pool.orphan_count == 0
    lines = [record.getMessage() for record in caplog.records]
    assert f"   invalid orphan tx {greedy.txid[::-1].hex()} (wtxid={greedy.wtxid[::-1].hex()}) from peer=3. " \
           "bad-txns-in-belowout, value in (" in "\n".join(lines)
    assert any(line.startswith(f"{greedy.txid[::-1].hex()} (wtxid={greedy.wtxid[::-1].hex()}) from peer=3 was not "
                               "accepted: bad-txns-in-belowout") for line in lines)
    assert f"not keeping orphan with rejected parents {grandchild.txid[::-1].hex()} " \
           f"(wtxid={grandchild.wtxid[::-1].hex()})" in lines
    assert pool.recently_rejected(grandchild.wtxid)


def test_refusals_are_forgotten_at_a_new_tip_and_fee_refusals_not_kept(pool: Mempool, chain: RegtestChain,
                                                                        coins: list[Prevout]) -> None:
    cheap, greedy = spend([coins[0]], fee=0), _bare_spend(coins[1][0].txid, coins[1][1].value + 1)
    for tx in (cheap, greedy):
        with pytest.raises(TxRejected):
            pool.accept(tx, peer=0)
    assert not pool.recently_rejected(cheap.wtxid) and pool.recently_rejected(greedy.wtxid)
    chain.mine_block(Mempool(chain))
    assert not pool.recently_rejected(greedy.wtxid)
    assert pool.accept(spend(prevouts_of(greedy)), peer=0).status == "orphan"


def test_a_local_orphan_is_reported_and_not_kept(pool: Mempool, coins: list[Prevout]) -> None:
    """Core keeps only relayed orphans: a submission of our own with missing inputs is refused."""
    child = spend(prevouts_of(spend([coins[0]])))
    assert pool.accept(child, keep_orphan=False).status == "missing-inputs"
    assert pool.accept(child).status == "missing-inputs"  # no peer: ours
    assert pool.orphan_count == 0 and not pool.has_orphan(child.wtxid) and len(pool) == 0


def test_orphans_do_not_expire(pool: Mempool, clock: Clock, coins: list[Prevout]) -> None:
    """Core 30 dropped the 20-minute expiry: only the limits, blocks and peers remove orphans."""
    parent = spend([coins[0]])
    pool.accept(spend(prevouts_of(parent)), peer=0)
    clock.now += 7 * 24 * 3600
    assert len(pool.accept(parent).resolved) == 1 and pool.orphan_count == 0


def test_the_orphanage_keeps_more_than_100_and_forgets_a_peers(pool: Mempool) -> None:
    """Core 30 has no count limit (Core <= 29 kept 100): 150 one-input orphans of two peers fit
    in the latency score of 3,000; a peer's leave when it disconnects."""
    for i in range(150):
        pool.accept(spend([(OutPoint(i.to_bytes(32, "little"), 0), TxOut(10**6, P2WSH_TRUE))]), peer=i % 2)
    assert pool.orphan_count == 150 and pool.info().orphans == 150
    assert pool.drop_orphans_from(1) == 75 and pool.orphan_count == 75


def _orphan(i: int, inputs: int = 1, pad: int = 0) -> Tx:
    return Tx(2, [TxIn(i.to_bytes(32, "little"), n, b"", 0, (b"\x00" * pad,) if pad else ()) for n in range(inputs)],
              [TxOut(10**6, P2WSH_TRUE)], 0)


def test_the_orphanage_trims_the_peer_most_over_its_latency_share() -> None:
    """Core's LimitOrphans: the score is shared evenly by the peers holding orphans; over it, the
    worst peer (by its share) loses its oldest announcements first."""
    orphanage = TxOrphanage(max_latency_score=10)
    spammed = [_orphan(i) for i in range(9)]
    for tx in spammed[:8]:
        orphanage.add(tx, 7)
    orphanage.add(_orphan(100, inputs=10), 2)  # latency 2: one plus one per 10 inputs
    orphanage.add(spammed[8], 7)  # 11 > 10: peer 7 holds 9 of its share of 5
    assert orphanage.latency_score == 10 and _orphan(100, inputs=10).wtxid in orphanage
    assert [tx.wtxid in orphanage for tx in spammed] == [False] + [True] * 8
    orphanage.add(_orphan(101), 2)
    assert orphanage.latency_score == 10 and spammed[1].wtxid not in orphanage


def test_the_orphanage_trims_by_weight_beyond_each_peers_reservation() -> None:
    heavy = [_orphan(i, pad=4_000) for i in range(3)]
    orphanage = TxOrphanage(reserved_weight_per_peer=2 * heavy[0].weight + 10)
    for tx in heavy:
        orphanage.add(tx, 0)
    assert [tx.wtxid in orphanage for tx in heavy] == [False, True, True]
    assert orphanage.weight == 2 * heavy[0].weight
    assert not orphanage.add(_orphan(9, pad=400_000), 0) and len(orphanage) == 2  # over the standard weight


def test_orphans_list_with_their_announcers_in_wtxid_order() -> None:
    orphanage = TxOrphanage()
    txs = [_orphan(i) for i in range(5)]
    for peer, tx in enumerate(txs):
        orphanage.add(tx, peer)
        orphanage.add(tx, 9)
    assert [(tx.wtxid, peers) for tx, peers in orphanage.orphans()] == sorted(
        ((tx.wtxid, [peer, 9]) for peer, tx in enumerate(txs)), key=lambda item: item[0][::-1])
    assert orphanage.erase_for_peer(9) == 5 and len(orphanage) == 5
    assert orphanage.erase(txs[0].wtxid) and not orphanage.erase(txs[0].wtxid)


# --- blocks in and out ------------------------------------------------------------------------


def test_ordered_lists_ancestor_packages_by_fee_rate_parents_first(pool: Mempool, coins: list[Prevout],
                                                                   submit: Callable[[Tx], Tx]) -> None:
    parent = submit(spend([coins[0]], fee=200))
    child = submit(spend(prevouts_of(parent), fee=30_000))  # pays for its parent (CPFP)
    middle = submit(spend([coins[1]], fee=5_000))
    low = submit(spend([coins[2]], fee=300))
    assert [entry.tx.txid for entry in pool.ordered()] == [parent.txid, child.txid, middle.txid, low.txid]


def test_a_block_removes_its_transactions_and_their_conflicts(pool: Mempool, chain: RegtestChain,
                                                              coins: list[Prevout], submit: Callable[[Tx], Tx],
                                                              caplog: pytest.LogCaptureFixture) -> None:
    kept = submit(spend([coins[0]]))
    doomed = submit(spend([coins[1]], fee=1_000))
    doomed_child = submit(spend(prevouts_of(doomed)))
    orphan = spend([(OutPoint(b"\x09" * 32, 0), TxOut(10**6, P2WSH_TRUE))])
    pool.accept(orphan, peer=0)
    conflicting_orphan = spend([coins[2], (OutPoint(b"\x0a" * 32, 0), TxOut(10**6, P2WSH_TRUE))])
    pool.accept(conflicting_orphan, peer=0)
    rival_pool = Mempool(chain)
    rival_pool.accept(spend([coins[1]], fee=9_000))
    rival_pool.accept(spend([coins[2]], fee=9_000))
    block = chain.mine_block(rival_pool)  # confirms the rivals of `doomed` and of the orphan
    with caplog.at_level(logging.DEBUG, logger="pantheon.chain.orphanage"):
        conflicts = pool.remove_for_block(block)
    assert "Erased 1 orphan transaction(s) included or conflicted by block" in caplog.messages
    assert {entry.tx.txid for entry in conflicts} == {doomed.txid, doomed_child.txid}
    assert list(pool) == [pool.get(kept.txid)]
    assert pool.has_orphan(orphan.wtxid) and not pool.has_orphan(conflicting_orphan.wtxid)
    assert pool.bytes == kept.vsize


def test_a_disconnected_block_returns_to_the_pool_and_what_no_longer_validates_leaves(
        pool: Mempool, chain: RegtestChain, coins: list[Prevout], submit: Callable[[Tx], Tx]) -> None:
    confirmed = submit(spend([coins[0]]))
    other = submit(spend([coins[1]]))
    block = chain.mine_block(pool)
    assert len(pool) == 0 and len(block.transactions) == 3
    locked = submit(spend(prevouts_of(confirmed), sequence=1))  # fine one block after `confirmed`
    locked_child = submit(spend(prevouts_of(locked), sequence=0))
    free = submit(spend(prevouts_of(other), sequence=0))
    assert chain.disconnect() is block
    assert pool.readd_for_disconnect(block) == []
    assert confirmed.txid in pool and other.txid in pool and free.txid in pool
    assert locked.txid not in pool  # its parent is unconfirmed again: BIP68 not met
    assert locked_child.txid not in pool  # and so its child goes with it
    assert pool.get(other.txid).children == {free.txid} and pool.get(free.txid).parents == {other.txid}
    chain.mine_block(pool)
    assert len(pool) == 0


def test_a_disconnected_transaction_that_fails_policy_is_not_readded(chain: RegtestChain,
                                                                     coins: list[Prevout]) -> None:
    """A block may hold what this pool refuses (a bare multisig output, mined by a permissive
    pool): it is reported, not pooled."""
    strict = Mempool(chain, permit_bare_multisig=False)
    permissive = Mempool(chain)
    bare = _with_output(multisig(1, 1))(chain, coins)
    permissive.accept(bare)
    block = chain.mine_block(permissive)
    assert chain.disconnect() is block
    assert strict.readd_for_disconnect(block) == [bare] and len(strict) == 0


# --- prioritisation (Core's prioritisetransaction) --------------------------------------------


def test_a_fee_delta_set_before_the_transaction_comes_lets_a_free_one_in(
        pool: Mempool, coins: list[Prevout], submit: Callable[[Tx], Tx], caplog: pytest.LogCaptureFixture) -> None:
    free = spend([coins[0]], fee=0)
    with pytest.raises(TxRejected, match="min relay fee not met"):
        submit(free)
    with caplog.at_level(logging.INFO, logger="pantheon.chain.mempool"):
        pool.prioritise(free.txid, 5_000)
    assert (f"PrioritiseTransaction: {free.txid[::-1].hex()} (not in mempool) fee += 0.00005, new delta=0.00005"
            in caplog.messages)
    entry = pool.accept(free).entry  # Core's CheckFeeRate judges the modified fee
    assert entry is not None and (entry.fee, entry.fee_delta, entry.modified_fee) == (0, 5_000, 5_000)
    assert pool.deltas() == {free.txid: 5_000}
    assert pool.info().total_fee == 0  # the base fees


def test_deltas_add_up_follow_the_pooled_entry_and_clear_at_zero(pool: Mempool, coins: list[Prevout],
                                                                  submit: Callable[[Tx], Tx],
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    tx = submit(spend([coins[0]], fee=2_000))
    pool.prioritise(tx.txid, 1_000)
    pool.prioritise(tx.txid, -3_500)
    assert pool.get(tx.txid).modified_fee == -500 and pool.deltas() == {tx.txid: -2_500}
    with caplog.at_level(logging.INFO, logger="pantheon.chain.mempool"):
        pool.prioritise(tx.txid, 2_500)
    assert f"PrioritiseTransaction: {tx.txid[::-1].hex()} (in mempool) delta cleared" in caplog.messages
    assert pool.deltas() == {} and pool.get(tx.txid).modified_fee == 2_000
    pool.prioritise(tx.txid, 1 << 64)  # saturates at int64, as Core's SaturatingAdd
    assert pool.deltas() == {tx.txid: (1 << 63) - 1}


def test_the_block_order_and_eviction_judge_the_modified_fee(chain: RegtestChain, coins: list[Prevout],
                                                             pool: Mempool, submit: Callable[[Tx], Tx]) -> None:
    rich = submit(spend([coins[0]], fee=9_000))
    poor = submit(spend([coins[1]], fee=300))
    pool.prioritise(poor.txid, 20_000)
    assert [entry.tx.txid for entry in pool.ordered()] == [poor.txid, rich.txid]
    pool.prioritise(rich.txid, -9_000)
    pool.max_usage = pool.usage  # full: the next one evicts the lowest modified fee rate
    third = submit(spend([coins[2]], fee=5_000))
    assert {entry.tx.txid for entry in pool} == {poor.txid, third.txid}


def test_a_confirmed_transactions_delta_is_forgotten_an_evicted_ones_kept(chain: RegtestChain, coins: list[Prevout],
                                                                          pool: Mempool,
                                                                          submit: Callable[[Tx], Tx]) -> None:
    mined = submit(spend([coins[0]]))
    waiting = spend([coins[1]])
    pool.prioritise(mined.txid, 100)
    pool.prioritise(waiting.txid, 200)
    pool.remove_for_block(chain.mine_block(pool))
    assert pool.deltas() == {waiting.txid: 200}
