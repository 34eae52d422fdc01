"""`pantheon.compactblocks` without a node: building a cmpctblock, Core's InitData and FillBlock
outcomes for every bad input, the bounded extra pool and partial blocks, and the choice of the
three high-bandwidth announcers (Core's MaybeSetPeerAsAnnouncingHeaderAndIDs)."""

from __future__ import annotations

import hashlib

import pytest
from helpers.chain import P2WSH_TRUE, block_on, coinbase_tx, prevouts_of, spend

from pantheon import wire
from pantheon.compactblocks import (
    EXTRA_TXN_FOR_COMPACT,
    ExtraTxns,
    HighBandwidth,
    InvalidCompactBlock,
    PartialBlock,
    PartialBlocks,
    ReconstructionFailed,
    compact_block,
    short_id_key,
)
from pantheon.params import REGTEST
from pantheon.primitives import BlockHeader, CmpctBlock, PrefilledTx, Tx

PARENT = BlockHeader(0x2000_0000, bytes(32), bytes(32), 1_700_000_000, 0x207F_FFFF, 0)


def payments(count: int, tag: int = 0) -> list[Tx]:
    coinbase = coinbase_tx(1 + tag, 50 * 10**8, P2WSH_TRUE)
    fanout = spend(prevouts_of(coinbase)[:1], [10**6] * count, script_pubkey=P2WSH_TRUE)
    return [spend(prevouts_of(fanout)[i:i + 1], [10**5], script_pubkey=P2WSH_TRUE) for i in range(count)]


def pool(txs: list[Tx]) -> list[tuple[bytes, Tx]]:
    return [(tx.wtxid, tx) for tx in txs]


def test_the_key_is_bip152s_and_the_coinbase_is_prefilled() -> None:
    txs = payments(5)
    block = block_on(PARENT, 500, REGTEST, txs)
    cmpct = compact_block(block, nonce=7)
    digest = hashlib.sha256(block.header.serialize() + (7).to_bytes(8, "little")).digest()
    k0, k1 = short_id_key(block.header, 7)
    assert (k0, k1) == (int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:16], "little"))
    assert cmpct.prefilled == (PrefilledTx(0, block.transactions[0]),)
    assert cmpct.short_ids == tuple(wire.short_ids(k0, k1, [tx.wtxid for tx in txs]))
    assert wire.decode_cmpctblock(wire.encode_cmpctblock(cmpct)) == cmpct


def test_a_block_is_rebuilt_and_what_is_missing_is_filled_in_order() -> None:
    txs = payments(6)
    block = block_on(PARENT, 500, REGTEST, txs)
    partial = PartialBlock(compact_block(block), pool(txs[::2]) + pool(payments(3, tag=1)))
    assert partial.missing() == (2, 4, 6) and partial.from_pool == 3
    assert partial.fill(txs[1::2], check_witness_root=True) == block
    with pytest.raises(InvalidCompactBlock):
        PartialBlock(compact_block(block), []).fill(txs[:2], check_witness_root=True)  # 2 for 6
    with pytest.raises(InvalidCompactBlock):
        PartialBlock(compact_block(block), []).fill(txs + txs[:1], check_witness_root=True)  # 7 for 6
    with pytest.raises(ReconstructionFailed):  # the right count, the wrong transactions
        PartialBlock(compact_block(block), []).fill(txs[::-1], check_witness_root=True)


def test_bad_compact_blocks_are_invalid_and_collisions_fail() -> None:
    txs = payments(3)
    block = block_on(PARENT, 500, REGTEST, txs)
    good = compact_block(block)
    coinbase = block.transactions[0]
    bad = [
        CmpctBlock(block.header, 1, (), ()),  # no transactions at all
        CmpctBlock(block.header, 1, good.short_ids, (PrefilledTx(4, coinbase),)),  # past the end
        CmpctBlock(block.header, 1, good.short_ids, (PrefilledTx(1, coinbase), PrefilledTx(1, coinbase))),  # twice
        CmpctBlock(block.header, 1, good.short_ids[:1], (PrefilledTx(1, coinbase), PrefilledTx(0, coinbase))),
    ]
    for cmpct in bad:
        with pytest.raises(InvalidCompactBlock):
            PartialBlock(cmpct, pool(txs))
    collided = CmpctBlock(block.header, good.nonce, (good.short_ids[0],) * 3, good.prefilled)
    with pytest.raises(ReconstructionFailed):
        PartialBlock(collided, pool(txs))


def test_the_extra_pool_keeps_the_last_100_small_transactions() -> None:
    extra = ExtraTxns()
    txs = payments(EXTRA_TXN_FOR_COMPACT + 20)
    for tx in txs:
        extra.add(tx)
    assert len(extra) == EXTRA_TXN_FOR_COMPACT
    assert {wtxid for wtxid, _ in extra.entries()} == {tx.wtxid for tx in txs[20:]}
    big = spend(prevouts_of(txs[0])[:1], [1] * 2_500, script_pubkey=P2WSH_TRUE)  # over 100,000 bytes
    extra.add(big)
    assert big.wtxid not in {wtxid for wtxid, _ in extra.entries()}


def test_partial_blocks_are_bounded_per_peer() -> None:
    txs = payments(2)
    block = block_on(PARENT, 500, REGTEST, txs)
    partial = PartialBlock(compact_block(block), [])
    blocks = PartialBlocks(per_peer=2)
    for n in range(3):
        blocks.add(1, bytes([n]) * 32, partial, 100)
    assert blocks.count(1) == 2 and blocks.get(1, bytes(32)) is None  # the oldest dropped
    assert not blocks.has_room(1) and blocks.has_room(2)
    blocks.add(2, bytes([2]) * 32, partial, 100)
    assert blocks.holders(bytes([2]) * 32) == [1, 2]
    blocks.discard_block(bytes([2]) * 32)
    assert blocks.count() == 1
    blocks.remove_peer(1)
    assert blocks.count() == 0


def test_three_high_bandwidth_peers_and_the_last_outbound_one_is_kept() -> None:
    chosen = HighBandwidth()
    inbound = {1: False, 2: True, 3: True, 4: True, 5: False}
    assert [chosen.choose(peer, inbound) for peer in (1, 2, 3)] == [(True, None)] * 3
    assert chosen.choose(2, inbound) == (False, None) and chosen.peers() == [1, 3, 2]  # made newest
    # An inbound peer displaces the oldest choice, but not the only outbound one (peer 1).
    assert chosen.choose(4, inbound) == (True, 3) and chosen.peers() == [1, 2, 4]
    # An outbound peer displaces the oldest, whatever it is.
    assert chosen.choose(5, inbound) == (True, 1) and chosen.peers() == [2, 4, 5]
    chosen.remove(4)
    assert 4 not in chosen and chosen.peers() == [2, 5]
