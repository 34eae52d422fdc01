"""The regtest miner (`pantheon.chain.miner`) on both wire twins: mined blocks pass context-free
validation and proof of work; templates keep Core's order and limits and pay subsidy + fees.

The chain is `tests/helpers/chain.RegtestChain` (a real HeaderTree and a coin dict), standing in for
`Chainstate` until it merges. Coins are anyone-can-spend P2WSH(OP_TRUE) outputs and some witnesses
are padding or sigop-heavy scripts: nothing executes scripts yet, and the miner does not need to."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from helpers.chain import P2WSH_TRUE, PAYOUT, REGTEST_BITS, Prevout, RegtestChain, prevouts_of, spend

from pantheon.chain.addresses import address_to_script
from pantheon.chain.contextual import block_subsidy
from pantheon.chain.validation import COIN
from pantheon.chain.mempool import Mempool
from pantheon.chain.headers import MAX_TIMEWARP
from pantheon.chain.miner import (
    DEFAULT_BLOCK_MAX_WEIGHT,
    DEFAULT_BLOCK_RESERVED_WEIGHT,
    MINIMUM_BLOCK_RESERVED_WEIGHT,
    block_template,
    mine,
    minimum_time,
)
from pantheon.chain.pow import check_proof_of_work, compact_to_target
from pantheon.chain.validation import (
    MAX_BLOCK_SIGOPS_COST,
    MAX_BLOCK_WEIGHT,
    bip34_height_script,
    check_block,
    validate_block,
)
from pantheon.hashing import WITNESS_COMMITMENT_PREFIX
from pantheon.primitives import Block, BlockHeader, OutPoint, Tx, TxIn, TxOut

ADDRESS = "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9"  # Core's key_io_valid.json


@pytest.fixture
def coins(chain: RegtestChain) -> list[Prevout]:
    return chain.mature_coinbases(3)


def assert_in_order(block: Block) -> None:
    """Every input spending a transaction of the block spends one placed before it."""
    seen: set[bytes] = set()
    inside = {tx.txid for tx in block.transactions}
    for tx in block.transactions[1:]:
        assert all(txin.prev_txid in seen for txin in tx.inputs if txin.prev_txid in inside)
        seen.add(tx.txid)


def test_mined_blocks_pass_validation_and_proof_of_work(chain: RegtestChain, wire_impl: Any) -> None:
    for _ in range(20):
        template = block_template(chain, None, PAYOUT, 0)
        block = mine(template.block)
        assert block.header.bits == REGTEST_BITS
        assert check_proof_of_work(block.hash, block.header.bits, chain.network.pow_limit)
        assert block.header.timestamp == chain.mtp_at(chain.height) + 1  # time 0 asked: MTP + 1
        validate_block(wire_impl.module.decode_block(wire_impl.module.encode_block(block)), template.height,
                       chain.network)
        coinbase = block.transactions[0]
        assert coinbase.inputs[0].script_sig.startswith(bip34_height_script(template.height))
        assert coinbase.outputs[0] == TxOut(block_subsidy(template.height, chain.network), PAYOUT)
        chain.connect(block)
    assert chain.height == 20


def test_a_template_with_fee_varied_transactions(chain: RegtestChain, coins: list[Prevout], pool: Mempool,
                                                 submit: Callable[[Tx], Tx]) -> None:
    parent = submit(spend([coins[0]], fee=300))
    child = submit(spend(prevouts_of(parent), fee=40_000))
    grandchild = submit(spend(prevouts_of(child), fee=500))
    rich = submit(spend([coins[1]], fee=9_000))
    low = submit(spend([coins[2]], fee=200))
    template = block_template(chain, pool, PAYOUT)
    block = template.block
    assert [tx.txid for tx in block.transactions[1:]] == [parent.txid, child.txid, rich.txid, grandchild.txid,
                                                          low.txid]
    assert_in_order(block)
    fees = 300 + 40_000 + 500 + 9_000 + 200
    assert template.fees == fees
    assert block.transactions[0].outputs[0].value == block_subsidy(template.height, chain.network) + fees
    assert template.weight == sum(tx.weight for tx in block.transactions) + 4 * (80 + 1)
    chain.connect(mine(block))  # validate_block, proof of work, and every input against the coins
    pool.remove_for_block(chain.blocks[-1])
    assert len(pool) == 0


def test_the_weight_limit_leaves_the_lowest_fee_rates_out(chain: RegtestChain, coins: list[Prevout], pool: Mempool,
                                                          submit: Callable[[Tx], Tx]) -> None:
    """45 transactions of ~100,000 weight each cannot all fit: the cheapest wait; a child paying
    for its parent goes in with it."""
    count = 45
    pool.require_standard = False  # 99 kB witness items are non-standard (bad-witness-nonstandard)
    splitter = submit(spend([coins[0]], [TxOut(COIN // 100, P2WSH_TRUE)] * count))
    chain.mine_block(pool)
    heavy = []
    for index, prevout in enumerate(prevouts_of(splitter)):
        tx = Tx(2, [TxIn(prevout[0].txid, prevout[0].index, b"", 0xFFFF_FFFE, (b"\x00" * 99_000, b"\x51"))],
                [TxOut(COIN // 100 - 40_000 + 100 * index, P2WSH_TRUE)], 0)  # fees fall with the index
        heavy.append(submit(tx))
    child = submit(spend(prevouts_of(heavy[0]), fee=50_000))
    template = block_template(chain, pool, PAYOUT)
    block = template.block
    included = {tx.txid for tx in block.transactions[1:]}
    assert template.weight < template.assembled_weight <= DEFAULT_BLOCK_MAX_WEIGHT == MAX_BLOCK_WEIGHT
    assert template.assembled_weight > DEFAULT_BLOCK_MAX_WEIGHT - 100_000  # filled
    fitted = sum(tx.txid in included for tx in heavy)
    assert 30 < fitted < count
    assert {tx.txid for tx in heavy[:fitted]} <= included  # the highest fees (lowest index) first
    assert heavy[0].txid in included and child.txid in included
    assert heavy[-1].txid not in included
    assert_in_order(block)
    chain.connect(mine(block))


def test_a_child_of_a_left_out_parent_is_left_out(chain: RegtestChain, coins: list[Prevout], pool: Mempool,
                                                  submit: Callable[[Tx], Tx]) -> None:
    pool.require_standard = False  # a 99 kB witness item is non-standard (bad-witness-nonstandard)
    big = Tx(2, [TxIn(coins[0][0].txid, coins[0][0].index, b"", 0xFFFF_FFFE, (b"\x00" * 99_000, b"\x51"))],
             [TxOut(coins[0][1].value - 30_000, P2WSH_TRUE)], 0)
    submit(big)
    child = submit(spend(prevouts_of(big), fee=1_000))
    small = submit(spend([coins[1]], fee=1_000))
    template = block_template(chain, pool, PAYOUT, max_weight=50_000)
    assert [tx.txid for tx in template.block.transactions[1:]] == [small.txid]
    assert child.txid in pool


def test_the_sigop_limit(chain: RegtestChain, pool: Mempool, submit: Callable[[Tx], Tx]) -> None:
    """Six transactions of 15,000 sigop cost each: five fit under 80,000 with the coinbase's 400."""
    coins = chain.mature_coinbases(6)
    for coin in coins:
        submit(Tx(2, [TxIn(coin[0].txid, coin[0].index, b"", 0xFFFF_FFFE, (b"\xae" * 750,))],
                                   [TxOut(coin[1].value - 100_000, P2WSH_TRUE)], 0))
    template = block_template(chain, pool, PAYOUT)
    assert len(template.block.transactions) == 6 and template.sigop_cost == 5 * 15_000 <= MAX_BLOCK_SIGOPS_COST
    chain.connect(mine(template.block))


def test_witness_commitment_switch(chain: RegtestChain, coins: list[Prevout], pool: Mempool,
                                   submit: Callable[[Tx], Tx]) -> None:
    """By default the commitment is always there (segwit is active on regtest from 0, as in Core);
    `commit_witness=False` leaves it out unless a transaction has witness data (bcoin < 432)."""
    def committed(block: Block) -> bool:
        coinbase = block.transactions[0]
        has = any(out.script_pubkey.startswith(WITNESS_COMMITMENT_PREFIX) for out in coinbase.outputs)
        assert has == (coinbase.inputs[0].witness == (bytes(32),))
        return has

    assert committed(block_template(chain, None, PAYOUT).block)
    bare = block_template(chain, None, PAYOUT, commit_witness=False).block
    assert not committed(bare) and not bare.transactions[0].has_witness
    validate_block(mine(bare), chain.height + 1, chain.network)
    submit(spend([coins[0]]))
    with_witness = block_template(chain, pool, PAYOUT, commit_witness=False).block
    assert committed(with_witness)
    chain.connect(mine(with_witness))


def test_the_coinbase_pays_an_address_or_a_script(chain: RegtestChain) -> None:
    block = block_template(chain, None, ADDRESS).block
    assert block.transactions[0].outputs[0].script_pubkey == address_to_script(ADDRESS, chain.network)
    raw = b"\x6a\x01\x01"
    assert block_template(chain, None, raw).block.transactions[0].outputs[0].script_pubkey == raw


def test_the_time_is_at_least_mtp_plus_one(chain: RegtestChain) -> None:
    for _ in range(12):
        chain.mine_block()
    mtp = chain.mtp_at(chain.height)
    assert block_template(chain, None, PAYOUT, mtp - 1000).block.header.timestamp == mtp + 1
    assert block_template(chain, None, PAYOUT, mtp + 77).block.header.timestamp == mtp + 77


def test_mine_rolls_the_extranonce_when_the_nonces_run_out(chain: RegtestChain) -> None:
    """At a harder target (1 in 65,536) and 16 nonces per extranonce, mining must roll the
    extranonce many times; the result still has a valid merkle root and meets the target."""
    template = block_template(chain, None, PAYOUT).block
    header = template.header
    hard_bits = 0x1F00FFFF
    block = Block(BlockHeader(header.version, header.prev_block, header.merkle_root, header.timestamp, hard_bits, 0),
                  template.transactions)
    mined = mine(block, nonce_space=16)
    assert check_proof_of_work(mined.hash, hard_bits, compact_to_target(REGTEST_BITS).target)
    assert mined.transactions[0].txid != template.transactions[0].txid  # another extranonce
    assert mined.header.nonce < 16
    check_block(mined)  # the merkle root was rebuilt
    assert mined.transactions[0].inputs[0].script_sig.startswith(bip34_height_script(chain.height + 1))


def test_blocks_from_the_miner_are_accepted_by_the_chain_after_spends(
        chain: RegtestChain, coins: list[Prevout], pool: Mempool, submit: Callable[[Tx], Tx]) -> None:
    tx = submit(spend([coins[0]], fee=12_345))
    block = chain.mine_block(pool)
    assert block.transactions[1] == tx and len(pool) == 0
    assert chain.get_coin(OutPoint(tx.txid, 0)) is not None
    assert block.transactions[0].outputs[0].value == block_subsidy(chain.height, chain.network) + 12_345


def test_the_coinbase_is_locked_to_the_parents_height(chain: RegtestChain) -> None:
    """Core 30's coinbase: lock time height - 1, a sequence that lets it count; still final."""
    for _ in range(3):
        block = chain.mine_block()
        coinbase = block.transactions[0]
        assert coinbase.locktime == chain.height - 1 and coinbase.inputs[0].sequence == 0xFFFF_FFFE


def test_reserved_weight_and_the_least_fee_rate(chain: RegtestChain, coins: list[Prevout], pool: Mempool,
                                                submit: Callable[[Tx], Tx]) -> None:
    cheap = submit(spend([coins[0]], fee=200))
    dear = submit(spend([coins[1]], fee=20_000))
    rate = 1_000 * 200 // pool.get(cheap.txid).vsize  # sat/kvB: cheap pays just enough
    assert [tx.txid for tx in block_template(chain, pool, PAYOUT, min_fee_rate=rate).block.transactions[1:]] == [
        dear.txid, cheap.txid]
    assert [tx.txid for tx in block_template(chain, pool, PAYOUT, min_fee_rate=rate + 10).block.transactions[1:]] == [
        dear.txid]
    template = block_template(chain, pool, PAYOUT)
    assert template.assembled_weight == DEFAULT_BLOCK_RESERVED_WEIGHT + cheap.weight + dear.weight
    assert template.tx_fees == (20_000, 200)
    room = DEFAULT_BLOCK_RESERVED_WEIGHT + 4 * pool.get(dear.txid).vsize
    assert len(block_template(chain, pool, PAYOUT, max_weight=room).block.transactions) == 2  # one fits exactly
    assert len(block_template(chain, pool, PAYOUT, max_weight=room - 1).block.transactions) == 1
    smaller = block_template(chain, pool, PAYOUT, max_weight=room, reserved_weight=MINIMUM_BLOCK_RESERVED_WEIGHT)
    assert len(smaller.block.transactions) == 3 and smaller.assembled_weight < room


def test_the_first_block_of_a_period_keeps_within_the_timewarp_limit(chain: RegtestChain) -> None:
    """Core's GetMinimumTime: from a period's first block on, no more than 600 s before the parent."""
    interval = chain.network.pow_target_timespan // chain.network.pow_target_spacing
    while chain.height < interval - 2:
        chain.mine_block()
    parent_time = chain.time_at(chain.height)
    header = block_template(chain, None, PAYOUT, parent_time + 7_200).block.header
    chain.connect(mine(block_template(chain, None, PAYOUT, parent_time + 7_200).block))  # the period's last
    assert minimum_time(chain) == header.timestamp - MAX_TIMEWARP
    assert block_template(chain, None, PAYOUT, 0).block.header.timestamp == parent_time + 7_200 - MAX_TIMEWARP


def test_selection_judges_the_modified_fee_and_the_coinbase_collects_the_base_fees(
        chain: RegtestChain, coins: list[Prevout], pool: Mempool, submit: Callable[[Tx], Tx]) -> None:
    """Core's prioritisetransaction: a delta moves a transaction in the order and past
    -blockmintxfee, or (negative) below it, but the fees paid are what they are."""
    first = submit(spend([coins[0]], fee=9_000))
    second = submit(spend([coins[1]], fee=300))
    pool.prioritise(second.txid, 50_000)
    template = block_template(chain, pool, PAYOUT, min_fee_rate=0)
    assert [tx.txid for tx in template.block.transactions[1:]] == [second.txid, first.txid]
    assert template.tx_fees == (300, 9_000) and template.fees == 9_300
    pool.prioritise(first.txid, -9_001)  # a modified fee below zero: under even a zero minimum
    template = block_template(chain, pool, PAYOUT, min_fee_rate=0)
    assert [tx.txid for tx in template.block.transactions[1:]] == [second.txid]
