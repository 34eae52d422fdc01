"""The chain state's contextual rules (Core's ConnectBlock and ContextualCheckBlock finality), one
hand-made block per rule with Core's reason and the tip unmoved; reorganisations to a heavier
branch checked against a from-scratch recomputation; hooks, the script flag and the regtest
activation heights. Blocks are mined here at regtest difficulty (`helpers.chain.Miner`)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Sequence

import gevent
import pytest

from helpers.chain import OP_TRUE, Miner, block_on, coinbase_tx, prevouts_of, recompute_utxo, snapshot, spend
from helpers.waiting import wait_for
from pantheon import wire
from pantheon.chain.blockfiles import BlockFileMissing
from pantheon.chain.chainstate import BCOIN_REGTEST, Chainstate, with_activation_heights
from pantheon.chain.coins import Coin
from pantheon.chain.validation import COIN
from pantheon.chain.headers import HeaderRejected
from pantheon.chain.validation import BlockRejected, Rejected
from pantheon.params import MAIN, REGTEST, Network
from pantheon.primitives import Block, BlockHeader, OutPoint, Tx
from pantheon.store import Store

BASE_HEIGHT = 110
P2SH_ANY = b"\xa9\x14" + b"\x5a" * 20 + b"\x87"  # sigop counting never checks the hash
GENESIS = BlockHeader.from_bytes(REGTEST.genesis_block[:80])


def build_base(network: Network) -> list[Block]:
    """Blocks 1..110 paying each coinbase to OP_TRUE: coinbases 1..10 are mature at 111."""
    miner = Miner(network, GENESIS)
    for _ in range(BASE_HEIGHT):
        miner.block()
    return miner.blocks


@pytest.fixture(scope="module")
def base() -> list[Block]:
    return build_base(REGTEST)


def chainstate_on(store: Store, blocks: Sequence[Block], network: Network = REGTEST, **options: object) -> Chainstate:
    chainstate = Chainstate(store, network, **options)  # type: ignore[arg-type]
    for block in blocks:
        chainstate.accept_block(block)
    return chainstate


def cb(blocks: Sequence[Block], height: int) -> tuple[bytes, int]:
    """The outpoint of the coinbase output at `height`."""
    return blocks[height - 1].transactions[0].txid, 0


def on_tip(chainstate: Chainstate, txs: Sequence[Tx] = (), **options: object) -> Block:
    tip = chainstate.headers.header(chainstate.tip)
    return block_on(tip, chainstate.height + 1, chainstate.network, txs, **options)  # type: ignore[arg-type]


def assert_rejected(chainstate: Chainstate, block: Block, reason: str) -> None:
    chainstate.flush()
    tip, height, coins = chainstate.tip, chainstate.height, snapshot(chainstate.store)
    with pytest.raises(BlockRejected) as caught:
        chainstate.accept_block(block)
    assert caught.value.reason == reason
    assert (chainstate.tip, chainstate.height) == (tip, height)
    chainstate.flush()
    assert snapshot(chainstate.store) == coins
    assert not chainstate.headers.is_valid(block.hash)
    with pytest.raises(HeaderRejected, match="bad-prevblk"):
        chainstate.accept_block(block_on(block.header, height + 2, chainstate.network))
    with pytest.raises(HeaderRejected, match="duplicate-invalid"):
        chainstate.accept_block(block)


# --- one block per rule ------------------------------------------------------------------------

def test_spending_a_missing_coin(store: Store, base: list[Block]) -> None:
    chainstate = chainstate_on(store, base)
    block = on_tip(chainstate, [spend([(b"\xee" * 32, 0)], [1])])
    assert_rejected(chainstate, block, "bad-txns-inputs-missingorspent")


def test_spending_a_coin_twice_in_one_block(store: Store, base: list[Block]) -> None:
    chainstate = chainstate_on(store, base)
    block = on_tip(chainstate, [spend([cb(base, 1)], [COIN]), spend([cb(base, 1)], [2 * COIN])])
    assert_rejected(chainstate, block, "bad-txns-inputs-missingorspent")


def test_spending_an_immature_coinbase(store: Store, base: list[Block]) -> None:
    chainstate = chainstate_on(store, base)
    block = on_tip(chainstate, [spend([cb(base, 20)], [COIN])])  # depth 91 at height 111
    assert_rejected(chainstate, block, "bad-txns-premature-spend-of-coinbase")


def test_a_coinbase_paying_more_than_subsidy_and_fees(store: Store, base: list[Block]) -> None:
    chainstate = chainstate_on(store, base)
    txs = [spend([cb(base, 1)], [50 * COIN - 1000])]
    assert chainstate.accept_block(on_tip(chainstate, txs, fees=1000)) is not None  # exactly allowed
    assert_rejected(chainstate, on_tip(chainstate, [spend([cb(base, 2)], [49 * COIN])], fees=COIN + 1),
                    "bad-cb-amount")


def test_a_nonfinal_locktime(store: Store, base: list[Block]) -> None:
    chainstate = chainstate_on(store, base)
    tx = spend([cb(base, 1)], [COIN], sequence=0xFFFF_FFFE, locktime=BASE_HEIGHT + 1)
    assert_rejected(chainstate, on_tip(chainstate, [tx]), "bad-txns-nonfinal")


def test_a_time_locktime_is_judged_by_median_time_past_once_csv_is_active(store: Store, base: list[Block]) -> None:
    chainstate = chainstate_on(store, base)
    mtp = chainstate.median_time_past
    tx = spend([cb(base, 1)], [COIN], sequence=0, locktime=mtp)  # final only when locktime < MTP
    block = on_tip(chainstate, [tx], timestamp=mtp + 1000)  # the block's own time would pass it
    assert_rejected(chainstate, block, "bad-txns-nonfinal")


def test_a_bip68_relative_lock_not_yet_met(store: Store, base: list[Block]) -> None:
    chainstate = chainstate_on(store, base)
    tx = spend([cb(base, 5)], [COIN], version=2, sequence=200)  # 200 blocks after height 5
    assert_rejected(chainstate, on_tip(chainstate, [tx]), "bad-txns-nonfinal")


def test_bip68_waits_for_csv_activation_with_bcoins_heights(tmp_path: Path) -> None:
    blocks = build_base(BCOIN_REGTEST)
    with Store.open(tmp_path) as store:
        chainstate = chainstate_on(store, blocks, BCOIN_REGTEST)
        tx = spend([cb(blocks, 5)], [COIN], version=2, sequence=200)
        assert chainstate.accept_block(on_tip(chainstate, [tx])) is not None  # CSV only from 432


def test_too_many_sigops_counting_p2sh_redeem_scripts(store: Store, base: list[Block]) -> None:
    chainstate = chainstate_on(store, base)
    fan_out = spend([cb(base, 1)], [COIN] * 40, script_pubkey=P2SH_ANY)
    chainstate.accept_block(on_tip(chainstate, [fan_out]))
    redeem = b"\xac" * 520  # 520 CHECKSIGs: 2,080 sigop cost per input, 83,200 for 40
    script_sig = b"\x4d" + len(redeem).to_bytes(2, "little") + redeem  # one push: no legacy sigops
    sweep = spend([(fan_out.txid, index) for index in range(40)], [COIN], script_sig=script_sig)
    assert_rejected(chainstate, on_tip(chainstate, [sweep]), "bad-blk-sigops")


def test_a_duplicate_of_an_unspent_transaction_bip30(tmp_path: Path) -> None:
    blocks = build_base(BCOIN_REGTEST)  # no BIP34 there, so a coinbase can repeat
    with Store.open(tmp_path) as store:
        chainstate = chainstate_on(store, blocks, BCOIN_REGTEST)
        repeat = on_tip(chainstate, coinbase=blocks[-1].transactions[0])
        assert_rejected(chainstate, repeat, "bad-txns-BIP30")


def test_a_repeated_coinbase_fails_bip34_first_with_cores_heights(store: Store, base: list[Block]) -> None:
    chainstate = chainstate_on(store, base)
    assert_rejected(chainstate, on_tip(chainstate, coinbase=base[-1].transactions[0]), "bad-cb-height")


def test_a_mutated_copy_does_not_mark_the_block_invalid(store: Store, base: list[Block]) -> None:
    chainstate = chainstate_on(store, base)
    good = on_tip(chainstate, [spend([cb(base, 1)], [COIN])])
    forged = Block(good.header, (*good.transactions, spend([cb(base, 2)], [COIN])))
    with pytest.raises(BlockRejected) as caught:
        chainstate.accept_block(forged)
    assert caught.value.reason == "bad-txnmrklroot" and caught.value.mutated
    assert good.hash not in chainstate.headers  # CheckBlock comes before the header is added
    assert chainstate.accept_block(good) is not None and chainstate.tip == good.hash


def test_a_check_block_failure_is_never_cached_as_invalid(store: Store, base: list[Block],
                                                         caplog: pytest.LogCaptureFixture) -> None:
    """Core's ProcessNewBlock: a block failing CheckBlock (here a transaction spending one output
    twice) is refused with Core's log line, its header not added, so nothing is marked invalid."""
    chainstate = chainstate_on(store, base)
    twice = spend([cb(base, 1), cb(base, 1)], [COIN])
    with caplog.at_level(logging.ERROR, "pantheon.chain.chainstate"), pytest.raises(BlockRejected) as caught:
        chainstate.accept_block(on_tip(chainstate, [twice]))
    assert caught.value.reason == "bad-txns-inputs-duplicate" and not caught.value.mutated
    assert "ProcessNewBlock: AcceptBlock FAILED (bad-txns-inputs-duplicate" in caplog.text
    assert chainstate.height == BASE_HEIGHT and len(chainstate.headers) == BASE_HEIGHT + 1


def test_a_header_without_anti_dos_work_is_not_added(store: Store, base: list[Block],
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """Core's AcceptBlockHeader: a valid block whose chain's work the caller could not vouch for
    (min_pow_checked false) leaves no trace; the same block with it is connected."""
    chainstate = chainstate_on(store, base)
    block = on_tip(chainstate)
    with caplog.at_level(logging.DEBUG, "pantheon.chain.headers"), pytest.raises(HeaderRejected) as caught:
        chainstate.accept_block(block, min_pow_checked=False)
    assert caught.value.reason == "too-little-chainwork" and block.hash not in chainstate.headers
    assert (f"AcceptBlockHeader: not adding new block header {block.hash[::-1].hex()}, missing anti-dos "
            "proof-of-work validation") in caplog.text
    assert chainstate.accept_block(block) is not None and chainstate.tip == block.hash


def test_unrequested_blocks_are_stored_only_when_they_may_soon_be_the_tip(store: Store, base: list[Block]) -> None:
    """Core's AcceptBlock for a block nobody asked for: a less-work fork block keeps only its
    header; an equal-work one is stored but not connected; one more than 288 blocks above the
    tip, or below the network's minimum chain work, keeps only its header."""
    chainstate = chainstate_on(store, base[:-1])  # tip at 109
    tip = chainstate.tip
    less = block_on(base[-4].header, BASE_HEIGHT - 2, REGTEST, extra=b"fork")  # 108 on 107: less work
    assert chainstate.accept_block(less, requested=False) is None
    assert less.hash in chainstate.headers and not chainstate.has_block(less.hash)
    equal = block_on(less.header, BASE_HEIGHT - 1, REGTEST, extra=b"fork")  # 109 on the fork
    assert chainstate.accept_block(equal, requested=False) is None
    assert chainstate.has_block(equal.hash) and chainstate.tip == tip
    assert chainstate.accept_block(less, requested=True) is None  # asked for: stored; equal work, no reorg
    assert chainstate.has_block(less.hash) and chainstate.tip == tip
    more = block_on(equal.header, BASE_HEIGHT, REGTEST, extra=b"fork")
    assert chainstate.accept_block(more, requested=False) is not None and chainstate.tip == more.hash

    far = Miner(REGTEST, chainstate.headers.header(chainstate.tip), BASE_HEIGHT)
    ahead = [far.block() for _ in range(289)]
    for block in ahead[:-1]:
        chainstate.headers.add_header(block.header)
    assert chainstate.accept_block(ahead[-1], requested=False) is None  # 289 above the tip
    assert not chainstate.has_block(ahead[-1].hash)
    assert chainstate.accept_block(ahead[-2], requested=False) is None  # 288 above: stored
    assert chainstate.has_block(ahead[-2].hash)


def test_unrequested_blocks_below_the_minimum_chain_work_are_not_stored(tmp_path: Path, base: list[Block]) -> None:
    network = dataclasses.replace(REGTEST, minimum_chain_work=10_000)
    with Store.open(tmp_path / "db") as store:
        chainstate = chainstate_on(store, base[:2], network)
        block = base[2]
        assert chainstate.accept_block(block, requested=False) is None and not chainstate.has_block(block.hash)
        assert chainstate.accept_block(block) is not None and chainstate.tip == block.hash


# --- reorganisations ---------------------------------------------------------------------------

def branch(base: list[Block], fork_height: int, count: int, spends: dict[int, list[Tx]], tag: bytes) -> list[Block]:
    """`count` blocks on base[fork_height], block i carrying spends[i] (fees claimed by its
    coinbase); `tag` makes the branch's coinbases differ from another branch's."""
    values = {(block.transactions[0].txid, 0): block.transactions[0].outputs[0].value for block in base}
    miner = Miner(REGTEST, base[fork_height - 1].header, fork_height)
    for i in range(count):
        txs = spends.get(i, [])
        fees = 0
        for tx in txs:
            fees += sum(values[txin.prev_txid, txin.prev_index] for txin in tx.inputs)
            fees -= sum(txout.value for txout in tx.outputs)
            values.update(((tx.txid, index), txout.value) for index, txout in enumerate(tx.outputs))
        miner.block(txs, extra=tag, fees=fees)
    return miner.blocks


def test_a_heavier_branch_reorganises_to_the_set_a_fresh_chain_would_have(tmp_path: Path, base: list[Block]) -> None:
    a1 = spend([cb(base, 1)], [20 * COIN, 29 * COIN])
    a2 = spend([(a1.txid, 0)], [19 * COIN])
    chain_a = branch(base, 108, 7, {2: [a1], 4: [a2]}, b"A")  # heights 109..115
    b1 = spend([cb(base, 1)], [10 * COIN])  # the same coin, spent otherwise
    b2 = spend([cb(base, 2)], [49 * COIN])
    chain_b = branch(base, 108, 8, {1: [b1], 5: [b2]}, b"B")  # heights 109..116
    events: list[tuple[str, int]] = []
    with Store.open(tmp_path / "reorg") as store:
        chainstate = chainstate_on(store, base[:108] + chain_a)
        chainstate.on_connected.append(lambda block, height: events.append(("+", height)))
        chainstate.on_disconnected.append(lambda block, height: events.append(("-", height)))
        for block in chain_b[:-1]:
            assert chainstate.accept_block(block) is None  # not heavier yet (equal work stays)
        assert chainstate.tip == chain_a[-1].hash
        change = chainstate.accept_block(chain_b[-1])
        assert change is not None and change.is_reorg
        assert change.disconnected == tuple(block.hash for block in reversed(chain_a))
        assert change.connected == tuple(block.hash for block in chain_b)
        assert events == [("-", h) for h in range(115, 108, -1)] + [("+", h) for h in range(109, 117)]
        chainstate.flush()
        reorged = snapshot(store)
    with Store.open(tmp_path / "fresh") as store:
        chainstate_on(store, base[:108] + chain_b).flush()
        assert snapshot(store) == reorged == recompute_utxo(base[:108] + chain_b)


def test_a_heavier_branch_with_a_bad_block_falls_back_to_the_old_tip(tmp_path: Path, base: list[Block]) -> None:
    chain_a = branch(base, 108, 4, {}, b"A")  # heights 109..112
    chain_c = branch(base, 108, 3, {}, b"C")  # heights 109..111
    parent = chain_c[-1].header
    bad = block_on(parent, 112, REGTEST, coinbase=coinbase_tx(112, 50 * COIN + 1, extra=b"C"))
    heavier = block_on(bad.header, 113, REGTEST, extra=b"C")
    with Store.open(tmp_path) as store:
        chainstate = chainstate_on(store, base[:108] + chain_a)
        chainstate.flush()
        before = snapshot(store)
        for block in chain_c + [bad]:
            assert chainstate.accept_block(block) is None
        with pytest.raises(BlockRejected) as caught:
            chainstate.accept_block(heavier)  # now C is heavier: disconnect A, connect C, fail at `bad`
        assert caught.value.reason == "bad-cb-amount" and caught.value.block_hash == bad.hash
        assert chainstate.tip == chain_a[-1].hash and chainstate.headers.tip == chain_a[-1].hash
        assert not chainstate.headers.is_valid(heavier.hash)
        chainstate.flush()
        assert snapshot(store) == before


def test_invalidate_block_goes_back_to_its_parent_then_to_the_best_valid_branch(tmp_path: Path,
                                                                                base: list[Block]) -> None:
    """Core's invalidateblock/reconsiderblock, the UTXO set checked against fresh chains."""
    a1 = spend([cb(base, 1)], [49 * COIN])
    chain_a = branch(base, 108, 4, {1: [a1]}, b"A")  # heights 109..112
    chain_c = branch(base, 108, 3, {}, b"C")  # heights 109..111, lighter
    with Store.open(tmp_path / "moved") as store:
        chainstate = chainstate_on(store, base[:108] + chain_a + chain_c)
        assert chainstate.tip == chain_a[-1].hash and not chainstate.is_validated(chain_c[-1].hash)
        change = chainstate.invalidate_block(chain_a[2].hash)
        assert change is not None and change.disconnected == tuple(b.hash for b in reversed(chain_a))
        assert chainstate.tip == chain_c[-1].hash and chainstate.headers.tip == chain_c[-1].hash
        assert chainstate.is_validated(chain_a[1].hash)  # connected once, still valid
        assert not chainstate.is_validated(chain_a[2].hash) and not chainstate.contains(chain_a[1].hash)
        chainstate.flush()
        invalidated = snapshot(store)
        change = chainstate.reconsider_block(chain_a[3].hash)
        assert change is not None and change.connected == tuple(b.hash for b in chain_a)
        assert chainstate.tip == chain_a[-1].hash and chainstate.is_validated(chain_c[-1].hash)
        assert chainstate.invalidate_block(chain_c[0].hash) is None  # off the chain: the tip stays
        chainstate.flush()
        reconsidered = snapshot(store)
    assert invalidated == recompute_utxo(base[:108] + chain_c)
    assert reconsidered == recompute_utxo(base[:108] + chain_a)


def test_invalidating_the_only_chain_walks_the_tip_back(store: Store, base: list[Block]) -> None:
    chainstate = chainstate_on(store, base[:20])
    assert chainstate.invalidate_block(base[9].hash) is not None
    assert (chainstate.height, chainstate.headers.height) == (9, 9)
    assert chainstate.reconsider_block(base[5].hash) is not None  # a descendant of it was failed
    assert chainstate.tip == base[19].hash


def test_blocks_arriving_before_their_parent_connect_when_it_comes(store: Store, base: list[Block]) -> None:
    chainstate = chainstate_on(store, base[:100])
    assert chainstate.headers.add_headers(block.header for block in base[100:]).error is None  # headers first
    for block in base[101:]:
        assert chainstate.accept_block(block) is None  # stored: block 101's data is not here yet
    assert chainstate.height == 100
    change = chainstate.accept_block(base[100])
    assert change is not None and change.connected == tuple(block.hash for block in base[100:])
    with pytest.raises(HeaderRejected, match="prev-blk-not-found"):
        chainstate.accept_block(block_on(BlockHeader(1, b"\x01" * 32, bytes(32), 0, 0x207FFFFF, 0), 5, REGTEST))


def test_a_block_extending_the_tip_connects_while_a_heavier_header_branch_waits(store: Store,
                                                                                 base: list[Block]) -> None:
    """Core connects the most-work chain it has the data of: a header-only branch with more work
    must not hold back the blocks that do arrive (as the node's own mined blocks)."""
    chainstate = chainstate_on(store, base[:100])
    waiting = branch(base, 99, 3, {}, b"W")  # heights 100..102, headers only
    assert chainstate.headers.add_headers(block.header for block in waiting).error is None
    assert chainstate.headers.tip == waiting[-1].hash and chainstate.tip == base[99].hash
    for block in base[100:103]:
        change = chainstate.accept_block(block)
        assert change is not None and chainstate.tip == block.hash
    assert chainstate.headers.tip == base[102].hash  # now the heavier one


def test_connecting_many_blocks_yields_to_other_greenlets(store: Store, base: list[Block]) -> None:
    chainstate = chainstate_on(store, base[:1])
    chainstate.headers.add_headers(block.header for block in base[1:])
    for block in base[2:]:
        chainstate.accept_block(block)  # stored, waiting for block 2
    ticks = []
    ticker = gevent.spawn(lambda: [ticks.append(gevent.sleep(0)) for _ in range(1_000)])
    chainstate.accept_block(base[1])  # connects 109 blocks in one call
    ticker.kill()
    assert chainstate.height == BASE_HEIGHT
    assert len(ticks) >= 100


# --- what the chain state exposes --------------------------------------------------------------

def test_scripts_are_off_without_a_verifier_and_say_so(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "pantheon.chain.chainstate"):
        chainstate = Chainstate(store, REGTEST)
    assert not chainstate.scripts_verified
    assert "SCRIPT CHECKS ARE OFF" in caplog.text


def test_a_script_verifier_is_fed_each_spend_and_asked_its_verdict_last(store: Store, base: list[Block]) -> None:
    """Each tx's spent coins are queued as the loop passes it (Core's CCheckQueueControl.Add), the
    verdict is asked after every other rule, and a block failing one drops what it queued."""
    calls: list[tuple] = []

    class Checks:
        def __init__(self, block: Block, height: int) -> None:
            self.block = block
            calls.append(("start", block.hash, height))

        def add(self, tx: Tx, spent: Sequence[Coin]) -> None:
            calls.append(("add", tx.txid, list(spent)))

        def complete(self) -> None:
            calls.append(("complete",))
            if self.block.transactions[-1].outputs[0].value == 7:
                raise BlockRejected("block-script-verify-flag-failed", self.block.hash)

        def abandon(self) -> None:
            calls.append(("abandon",))

    chainstate = chainstate_on(store, base, script_verifier=Checks)
    assert chainstate.scripts_verified
    calls.clear()  # the base chain's blocks
    block = on_tip(chainstate, [spend([cb(base, 1)], [COIN])])
    chainstate.accept_block(block)
    assert calls == [("start", block.hash, BASE_HEIGHT + 1),
                     ("add", block.transactions[1].txid, [Coin(50 * COIN, OP_TRUE, 1, True)]),
                     ("complete",), ("abandon",)]  # abandon after complete drops nothing
    assert_rejected(chainstate, on_tip(chainstate, [spend([cb(base, 2)], [7])]), "block-script-verify-flag-failed")
    calls.clear()
    assert_rejected(chainstate, on_tip(chainstate, [spend([cb(base, 2)], [7])], fees=50 * COIN), "bad-cb-amount")
    assert [call[0] for call in calls] == ["start", "add", "abandon"]  # no verdict: scripts come last, as in Core


def test_a_block_whose_scripts_are_not_checked_connects(store: Store, base: list[Block]) -> None:
    """A verifier answering None (-assumevalid) for a block: its other rules still apply."""
    chainstate = chainstate_on(store, base, script_verifier=lambda block, height: None)
    block = on_tip(chainstate, [spend([cb(base, 1)], [COIN])])
    chainstate.accept_block(block)
    assert chainstate.tip == block.hash
    assert_rejected(chainstate, on_tip(chainstate, [spend([cb(base, 2)], [7])], fees=50 * COIN), "bad-cb-amount")


def test_median_time_past_of_the_tip_and_at_a_height(store: Store, base: list[Block]) -> None:
    chainstate = chainstate_on(store, base)
    assert chainstate.median_time_past == base[-1].header.timestamp - 5  # 11 times one second apart
    assert chainstate.mtp_at(50) == base[49].header.timestamp - 5
    assert chainstate.mtp_at(0) == GENESIS.timestamp
    with pytest.raises(ValueError, match="outside the chain"):
        chainstate.mtp_at(BASE_HEIGHT + 1)


def test_get_coin_and_view_answer_for_the_tip(store: Store, base: list[Block]) -> None:
    chainstate = chainstate_on(store, base)
    txid, index = cb(base, 3)
    expected = Coin(50 * COIN, OP_TRUE, 3, True)
    assert chainstate.get_coin(OutPoint(txid, index)) == expected
    assert chainstate.view().get_coin(OutPoint(txid, index)) == expected


def test_activation_heights_are_regtest_only_as_in_core() -> None:
    custom = with_activation_heights(REGTEST, csv=432, segwit=432, bip34=500)
    assert (custom.csv_height, custom.segwit_height, custom.bip34_height) == (432, 432, 500)
    assert REGTEST.csv_height == 1  # the default network is untouched
    with pytest.raises(ValueError, match="only regtest"):
        with_activation_heights(MAIN, csv=1)
    with pytest.raises(ValueError, match="unknown deployment"):
        with_activation_heights(REGTEST, taproot=1)


def test_a_rejection_is_a_core_reason_string(store: Store, base: list[Block]) -> None:
    chainstate = chainstate_on(store, base)
    with pytest.raises(Rejected, match="bad-txns-inputs-missingorspent"):
        chainstate.accept_block(on_tip(chainstate, [spend([(b"\x01" * 32, 9)], [1])]))


# --- pruning and proposals -----------------------------------------------------------------------

def test_pruning_on_request_deletes_whole_block_files(tmp_path: Path, base: list[Block],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pantheon.chain.chainstate.MIN_BLOCKS_TO_KEEP", 10)
    with Store.open(tmp_path) as store:
        with pytest.raises(ValueError, match="keeps every block"):
            chainstate_on(store, ()).prune(5)
    with Store.open(tmp_path) as store:
        chainstate = chainstate_on(store, base, prune_target=0, block_file_size=1_000)  # ~4 blocks a file
        blocks_dir = chainstate.files.directory
        assert chainstate.pruned_height is None and (blocks_dir / "blk00000.dat").is_file()
        pruned = chainstate.prune(50)
        assert pruned is not None and 45 <= pruned <= 50 and chainstate.prune(40) == pruned
        assert not (blocks_dir / "blk00000.dat").exists() and not (blocks_dir / "rev00000.dat").exists()
        assert not chainstate.has_block(base[pruned - 1].hash) and chainstate.is_pruned(base[pruned - 1].hash)
        assert chainstate.has_block(base[50].hash) and not chainstate.is_pruned(base[50].hash)
        assert BASE_HEIGHT - 15 <= chainstate.prune(BASE_HEIGHT) <= BASE_HEIGHT - 10  # the last ten stay
        assert chainstate.accept_block(base[20]) is None  # stored again, not connected again
        assert chainstate.has_block(base[20].hash) and not chainstate.is_pruned(base[20].hash)
        assert chainstate.read_block(base[20].hash) == base[20]
        kept = chainstate.pruned_height
    with Store.open(tmp_path) as store:
        assert Chainstate(store, REGTEST, prune_target=0).pruned_height == kept


def test_automatic_pruning_past_the_networks_height(store: Store, base: list[Block],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pantheon.chain.chainstate.MIN_BLOCKS_TO_KEEP", 10)
    network = dataclasses.replace(REGTEST, prune_after_height=100)
    chainstate = chainstate_on(store, base[:100], network, prune_target=1, block_file_size=1_000)  # always over
    assert chainstate.pruned_height is None
    chainstate.accept_block(base[100])
    assert chainstate.pruned_height is not None and 85 <= chainstate.pruned_height <= 91
    assert not chainstate.has_block(base[80].hash)


def test_block_files_read_live_and_a_missing_file_says_so(store: Store, base: list[Block]) -> None:
    chainstate = chainstate_on(store, base[:20])
    blocks_dir = chainstate.files.directory
    assert sorted(path.name for path in blocks_dir.iterdir()) == ["blk00000.dat", "rev00000.dat"]
    assert (blocks_dir / "blk00000.dat").read_bytes()[:4] == REGTEST.magic_bytes
    chainstate.flush()
    (blocks_dir / "rev00000.dat").rename(blocks_dir / "rev_wrong")
    with pytest.raises(BlockFileMissing, match="rev00000.dat"):
        chainstate.spent_coins(base[5].hash)
    (blocks_dir / "rev_wrong").rename(blocks_dir / "rev00000.dat")
    (blocks_dir / "blk00000.dat").rename(blocks_dir / "blk.bak")
    with pytest.raises(BlockFileMissing, match="blk00000.dat"):
        chainstate.read_block(base[5].hash)
    (blocks_dir / "blk.bak").rename(blocks_dir / "blk00000.dat")
    assert chainstate.read_block(base[5].hash) == base[5] and chainstate.spent_coins(base[5].hash) == []
    legacy = on_tip(chainstate)  # a datadir from before the files kept the block itself in `k/`
    chainstate.headers.add_header(legacy.header)
    store.namespace("blocks").put(legacy.hash, wire.encode_block(legacy))
    assert chainstate.has_block(legacy.hash) and chainstate.read_block(legacy.hash) == legacy
    assert chainstate.activate_best_chain() is not None and chainstate.tip == legacy.hash


def test_test_block_validity_checks_everything_but_proof_of_work(store: Store, base: list[Block]) -> None:
    chainstate = chainstate_on(store, base[:20])
    good = on_tip(chainstate)
    unsolved = Block(BlockHeader(good.header.version, good.header.prev_block, good.header.merkle_root,
                                 good.header.timestamp, good.header.bits, good.header.nonce + 1), good.transactions)
    chainstate.test_block_validity(unsolved)  # its proof of work may fail: not checked
    greedy = on_tip(chainstate, coinbase=coinbase_tx(21, 50 * COIN + 1))
    with pytest.raises(BlockRejected, match="bad-cb-amount"):
        chainstate.test_block_validity(greedy)
    with pytest.raises(HeaderRejected, match="time-too-old"):
        chainstate.test_block_validity(on_tip(chainstate, timestamp=1))
    with pytest.raises(BlockRejected, match="inconclusive-not-best-prevblk"):
        chainstate.test_block_validity(base[5])
    assert chainstate.tip == base[19].hash and greedy.hash not in chainstate.headers


# --- a run of blocks: each block's checks start before the verdict on the one before -------------


class _Pipeline:
    """A script verifier recording what the connect loop asks of each block's checks, by height;
    the blocks in `failing` fail their verdict. (The chain states below write as the node does,
    not after each block: a block whose landing writes lands before the next one starts.)"""

    def __init__(self, failing: Sequence[Block] = (), *, slow_wait_sent: int | None = None) -> None:
        """`slow_wait_sent`: the height whose `wait_sent` blocks (yielding) until the greenlet dies."""
        self.calls: list[tuple[str, int]] = []
        self.failing = {block.hash for block in failing}
        self.slow_wait_sent = slow_wait_sent

    def __call__(self, block: Block, height: int) -> object:
        pipeline = self
        pipeline.calls.append(("start", height))

        class Checks:
            def add(self, tx: Tx, spent: Sequence[Coin]) -> None:
                pass

            def wait_sent(self) -> None:
                pipeline.calls.append(("wait_sent", height))
                if height == pipeline.slow_wait_sent:
                    gevent.sleep(60)

            def complete(self) -> None:
                pipeline.calls.append(("complete", height))
                if block.hash in pipeline.failing:
                    raise BlockRejected("block-script-verify-flag-failed", block.hash)

            def abandon(self) -> None:
                pipeline.calls.append(("abandon", height))

        return Checks()


def _run_of_three(base: list[Block], **options: object) -> list[Block]:
    """Blocks 111 to 113, each spending an output of the one before (the second and third need the
    coins of a block whose verdict is still pending when they start)."""
    miner = Miner(REGTEST, base[-1].header, BASE_HEIGHT)
    first = miner.block([spend([cb(base, 1)], [COIN])], **options)
    second = miner.block([spend(prevouts_of(first.transactions[1]))])
    third = miner.block([spend(prevouts_of(second.transactions[1]))])
    return miner.blocks


def _stored_then_connected(chainstate: Chainstate, run: list[Block]) -> BlockRejected | None:
    """Headers first, the later blocks stored, then the first: the run connects in one call."""
    assert chainstate.headers.add_headers(block.header for block in run).error is None
    for block in run[1:]:
        assert chainstate.accept_block(block) is None
    try:
        chainstate.accept_block(run[0])
    except BlockRejected as error:
        return error
    return None


def _verdicts_and_starts(calls: list[tuple[str, int]]) -> list[tuple[str, int]]:
    return [call for call in calls if call[0] in ("start", "complete")]


def test_a_run_of_stored_blocks_starts_each_blocks_checks_before_the_verdict_on_the_one_before(
        store: Store, base: list[Block]) -> None:
    pipeline = _Pipeline()
    chainstate = chainstate_on(store, base, script_verifier=pipeline, flush_every=None)
    pipeline.calls.clear()
    run = _run_of_three(base)
    assert _stored_then_connected(chainstate, run) is None
    assert _verdicts_and_starts(pipeline.calls) == [("start", 111), ("start", 112), ("complete", 111),
                                                    ("start", 113), ("complete", 112), ("complete", 113)]
    assert chainstate.tip == run[-1].hash
    chainstate.flush()
    assert snapshot(store) == recompute_utxo([*base, *run])


@pytest.mark.parametrize("failing", [0, 1, 2])
def test_a_failing_verdict_in_a_run_takes_back_the_later_blocks_changes_then_its_own(
        store: Store, base: list[Block], failing: int) -> None:
    run = _run_of_three(base)
    pipeline = _Pipeline([run[failing]])
    chainstate = chainstate_on(store, base, script_verifier=pipeline, flush_every=None)
    error = _stored_then_connected(chainstate, run)
    assert error is not None and error.block_hash == run[failing].hash
    assert chainstate.tip == (run[failing - 1].hash if failing else base[-1].hash)
    assert not chainstate.headers.is_valid(run[failing].hash)
    chainstate.flush()
    assert snapshot(store) == recompute_utxo([*base, *run[:failing]])


def test_a_block_failing_another_rule_while_its_parent_is_in_flight_lets_the_parent_connect(
        store: Store, base: list[Block]) -> None:
    pipeline = _Pipeline()
    chainstate = chainstate_on(store, base, script_verifier=pipeline, flush_every=None)
    pipeline.calls.clear()
    miner = Miner(REGTEST, base[-1].header, BASE_HEIGHT)
    first = miner.block([spend([cb(base, 1)], [COIN])])
    greedy = miner.block([spend(prevouts_of(first.transactions[1]))], fees=COIN)  # claims fees it has not
    error = _stored_then_connected(chainstate, miner.blocks)
    assert error is not None and (error.reason, error.block_hash) == ("bad-cb-amount", greedy.hash)
    assert _verdicts_and_starts(pipeline.calls) == [("start", 111), ("start", 112), ("complete", 111)]
    assert ("abandon", 112) in pipeline.calls
    assert chainstate.tip == first.hash
    chainstate.flush()
    assert snapshot(store) == recompute_utxo([*base, first])


def test_no_write_takes_the_changes_of_a_block_in_flight(store: Store, base: list[Block]) -> None:
    """Every write of the set (here after each second block) matches the chain up to its tip
    marker: the block that comes due lands before the next one starts."""
    pipeline = _Pipeline()
    chainstate = chainstate_on(store, base, script_verifier=pipeline, flush_every=2)
    run = _run_of_three(base)
    blocks_by_hash = {block.hash: block for block in [*base, *run]}
    written: list[bool] = []
    real_flush = chainstate.flush

    def checked_flush() -> None:
        real_flush()
        chain, at = [], chainstate.tip
        while at in blocks_by_hash:
            chain.append(blocks_by_hash[at])
            at = chain[-1].header.prev_block
        written.append(snapshot(store) == recompute_utxo(reversed(chain)))

    chainstate.flush = checked_flush  # type: ignore[method-assign]
    pipeline.calls.clear()
    assert _stored_then_connected(chainstate, run) is None
    assert written and all(written)
    assert chainstate.tip == run[-1].hash


def test_an_upcoming_block_connects_in_the_same_run(store: Store, base: list[Block]) -> None:
    """While a block's checks run, the loop takes its child from `upcoming` (received, stored by the
    receiver), giving the network time first (`wait_sent`); the run ends where none has come."""
    pipeline = _Pipeline()
    chainstate = chainstate_on(store, base, script_verifier=pipeline, flush_every=None)
    run = _run_of_three(base)
    asked: list[bytes] = []

    def upcoming(block_hash: bytes) -> Block | None:
        asked.append(block_hash)
        if block_hash != run[1].hash:
            return None
        chainstate.store_block(run[1])
        return run[1]

    chainstate.upcoming = upcoming
    assert chainstate.headers.add_headers(block.header for block in run).error is None
    pipeline.calls.clear()
    change = chainstate.accept_block(run[0])
    assert change is not None and change.connected == (run[0].hash, run[1].hash)
    assert asked == [run[1].hash, run[2].hash]
    assert ("wait_sent", 111) in pipeline.calls and ("wait_sent", 112) in pipeline.calls
    assert _verdicts_and_starts(pipeline.calls) == [("start", 111), ("start", 112), ("complete", 111),
                                                    ("complete", 112)]
    chainstate.upcoming = None
    assert chainstate.accept_block(run[2]) is not None and chainstate.tip == run[2].hash


def test_an_upcoming_block_failing_its_verdict_fails_the_run_after_its_parent_connected(
        store: Store, base: list[Block]) -> None:
    run = _run_of_three(base)
    chainstate = chainstate_on(store, base, script_verifier=_Pipeline([run[1]]), flush_every=None)
    chainstate.upcoming = lambda block_hash: (run[1] if block_hash == run[1].hash
                                              and chainstate.store_block(run[1]) is not None else None)
    assert chainstate.headers.add_headers(block.header for block in run).error is None
    with pytest.raises(BlockRejected) as caught:
        chainstate.accept_block(run[0])
    assert (caught.value.reason, caught.value.block_hash) == ("block-script-verify-flag-failed", run[1].hash)
    assert chainstate.tip == run[0].hash and not chainstate.headers.is_valid(run[1].hash)
    chainstate.flush()
    assert snapshot(store) == recompute_utxo([*base, run[0]])


def test_a_connect_killed_with_a_block_in_flight_takes_its_changes_back(store: Store, base: list[Block]) -> None:
    """The node's greenlet killed while the loop waits with a block in flight (here for its
    chunks to go out): that block's checks are dropped and its coins leave the set."""
    run = _run_of_three(base)
    pipeline = _Pipeline(slow_wait_sent=BASE_HEIGHT + 1)
    chainstate = chainstate_on(store, base, script_verifier=pipeline, flush_every=None)
    chainstate.upcoming = lambda block_hash: None
    assert chainstate.headers.add_headers(block.header for block in run).error is None
    connecting = gevent.spawn(chainstate.accept_block, run[0])
    wait_for(lambda: ("wait_sent", BASE_HEIGHT + 1) in pipeline.calls)
    connecting.kill()
    assert ("abandon", BASE_HEIGHT + 1) in pipeline.calls and ("complete", BASE_HEIGHT + 1) not in pipeline.calls
    assert chainstate.tip == base[-1].hash
    chainstate.flush()
    assert snapshot(store) == recompute_utxo(base)
    chainstate.upcoming = None
    pipeline.slow_wait_sent = None
    assert chainstate.activate_best_chain() is not None and chainstate.tip == run[0].hash  # connects again
