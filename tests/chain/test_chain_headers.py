"""The header tree: 8,065 real mainnet headers across four retargets, and headers mined here at
tiny difficulty for every rejection, the testnet rules, forks and reorganisations.

Mainnet headers cannot be forged, so a header with a changed field fails `high-hash` first; the
contextual rules are exercised on headers mined in the test against networks that keep a rule
set but take regtest's easy limit (`_easy`), where a nonce search takes a couple of tries.
"""

from __future__ import annotations

import dataclasses
import gc
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from helpers.chain import REGTEST_BITS, extend, header_on
from pantheon.chain.headers import MAX_FUTURE_BLOCK_TIME, HeaderRejected, HeaderTree, TipChange
from pantheon.chain.pow import block_work, check_proof_of_work, compact_to_target, target_to_compact
from pantheon.hashing import hash_to_hex, hex_to_hash
from pantheon.params import MAIN, REGTEST, TESTNET3, TESTNET4, Network
from pantheon.primitives import BlockHeader
from pantheon.store import Store, StoreError

FIRST_HEIGHT = 822_528
LAST_HASH = "00000000000000000000506183a8b30fa3224b85e82a70416e1d594bdb632fdb"
RETARGETS = {824_544: 0x1703D869, 826_560: 0x1704005A, 828_576: 0x1703BA5D, 830_592: 0x170371B1}
NOW = 1_800_000_000.0  # a clock after the vectors (Jan 2027)
EASY_LIMIT = REGTEST.pow_limit


@pytest.fixture(scope="module")
def mainnet_raw(vectors_dir: Path) -> bytes:
    return (vectors_dir / "headers" / "mainnet_822528_830592.bin").read_bytes()


@pytest.fixture(scope="module")
def mainnet_headers(mainnet_raw: bytes) -> list[BlockHeader]:
    return [BlockHeader.from_bytes(mainnet_raw[i:i + 80]) for i in range(0, len(mainnet_raw), 80)]


@pytest.fixture(scope="module")
def mainnet_tree(mainnet_headers: list[BlockHeader]) -> HeaderTree:
    tree = HeaderTree(MAIN, mainnet_headers[0], FIRST_HEIGHT, now=lambda: NOW)
    result = tree.add_headers(mainnet_headers[1:])
    assert result.error is None and len(result.accepted) == 8_064
    return tree


def _easy(network: Network, **changes: object) -> Network:
    """`network`'s rules with regtest's proof-of-work limit, so tests can mine."""
    return dataclasses.replace(network, name=f"easy-{network.name}", pow_limit=EASY_LIMIT, **changes)


def anchored(network: Network, height: int = 0, time: int = 1_600_000_000) -> HeaderTree:
    return HeaderTree(network, header_on(bytes(32), time), height, now=lambda: NOW)


def rejected(tree: HeaderTree, header: BlockHeader) -> str:
    with pytest.raises(HeaderRejected) as info:
        tree.add_header(header)
    assert info.value.block_hash == header.hash and info.value.reason in str(info.value)
    return info.value.reason


# --- the mainnet vectors ----------------------------------------------------------------------


def test_vectors_decode_alike_with_both_twins(wire_impl: Any, mainnet_raw: bytes,
                                             mainnet_headers: list[BlockHeader]) -> None:
    """Fed as `headers` payloads of at most 2,000, each twin returns the same hashed headers."""
    decoded = []
    for start in range(0, len(mainnet_headers), 2_000):
        chunk = mainnet_headers[start:start + 2_000]
        decoded += wire_impl.module.decode_headers(wire_impl.module.encode_headers(chunk))
    assert decoded == mainnet_headers and len(decoded) == 8_065
    assert [h.hash for h in decoded] == [h.hash for h in mainnet_headers]
    assert b"".join(h.serialize() for h in decoded) == mainnet_raw
    tree = HeaderTree(MAIN, decoded[0], FIRST_HEIGHT, now=lambda: NOW)
    assert tree.add_headers(decoded[1:]).error is None and hash_to_hex(tree.tip) == LAST_HASH


def test_mainnet_chain_connects_to_the_known_tip(mainnet_tree: HeaderTree, mainnet_headers: list[BlockHeader]) -> None:
    assert mainnet_tree.height == 830_592 and hash_to_hex(mainnet_tree.tip) == LAST_HASH
    assert len(mainnet_tree) == 8_065 and mainnet_tree.anchor == mainnet_headers[0].hash
    work = sum(block_work(h.bits) for h in mainnet_headers)
    assert mainnet_tree.chain_work(mainnet_tree.tip) == work  # relative to the anchor's parent
    for height, header in enumerate(mainnet_headers, FIRST_HEIGHT):
        assert check_proof_of_work(header.hash, header.bits, MAIN.pow_limit)
        assert mainnet_tree.at_height(height) == header.hash and mainnet_tree.height_of(header.hash) == height
    assert mainnet_tree.at_height(FIRST_HEIGHT - 1) is None and mainnet_tree.at_height(830_593) is None
    assert mainnet_tree.header(mainnet_tree.tip) == mainnet_headers[-1]


def test_mainnet_retargets_recompute_exactly(mainnet_tree: HeaderTree, mainnet_headers: list[BlockHeader]) -> None:
    for height, header in enumerate(mainnet_headers[1:], FIRST_HEIGHT + 1):
        required = mainnet_tree.next_work_required(header.prev_block, header.timestamp)
        assert required == header.bits, height
        if height in RETARGETS:
            assert required == RETARGETS[height]
        else:
            assert required == mainnet_headers[height - FIRST_HEIGHT - 1].bits


def test_mainnet_median_time_past(mainnet_tree: HeaderTree, mainnet_headers: list[BlockHeader]) -> None:
    last = mainnet_headers[-11:]
    assert mainnet_tree.median_time_past(mainnet_tree.tip) == sorted(h.timestamp for h in last)[5]
    assert mainnet_tree.median_time_past(mainnet_tree.anchor) == mainnet_headers[0].timestamp


def test_mainnet_changed_headers_are_rejected(mainnet_headers: list[BlockHeader]) -> None:
    tree = HeaderTree(MAIN, mainnet_headers[0], FIRST_HEIGHT, now=lambda: NOW)
    good = mainnet_headers[1]
    for changes in ({"bits": good.bits - 1}, {"timestamp": mainnet_headers[0].timestamp}, {"nonce": 0}):
        fields = dict(version=good.version, prev_block=good.prev_block, merkle_root=good.merkle_root,
                      timestamp=good.timestamp, bits=good.bits, nonce=good.nonce)
        assert rejected(tree, BlockHeader(**{**fields, **changes})) == "high-hash"
    assert rejected(tree, mainnet_headers[2]) == "prev-blk-not-found"
    assert tree.add_header(good).new and not tree.add_header(good).new  # a known header is no error
    assert len(tree) == 2


def test_mainnet_locator_and_fork_point(mainnet_tree: HeaderTree, mainnet_headers: list[BlockHeader]) -> None:
    locator = mainnet_tree.locator()
    heights = [mainnet_tree.height_of(h) for h in locator]
    expected, step, height = [], 1, 830_592
    while height > FIRST_HEIGHT:  # Core's CChain::GetLocator, by hand
        expected.append(height)
        height = max(height - step, FIRST_HEIGHT)
        if len(expected) > 10:
            step *= 2
    assert heights == [*expected, FIRST_HEIGHT] and heights[:12] == list(range(830_592, 830_580, -1))
    assert heights[12:15] == [830_579, 830_575, 830_567]
    assert mainnet_tree.find_fork(locator) == mainnet_tree.tip
    # A peer at 825,000 on our chain, with a few hashes we do not know in front.
    peer = [bytes([n]) * 32 for n in range(3)] + mainnet_tree.locator(mainnet_headers[825_000 - FIRST_HEIGHT].hash)
    assert mainnet_tree.height_of(mainnet_tree.find_fork(peer)) == 825_000
    assert mainnet_tree.find_fork([bytes(32)]) == mainnet_tree.anchor
    served = mainnet_tree.headers_after(peer)
    assert len(served) == 2_000 and served[0] == mainnet_headers[825_001 - FIRST_HEIGHT]
    stop = mainnet_headers[825_010 - FIRST_HEIGHT].hash
    assert [h.hash for h in mainnet_tree.headers_after(peer, stop)][-1] == stop
    assert len(mainnet_tree.headers_after(peer, stop)) == 10
    assert mainnet_tree.headers_after([], stop) == [mainnet_tree.header(stop)]
    assert mainnet_tree.headers_after([], bytes(32)) == [] and mainnet_tree.headers_after(locator) == []


def test_memory_per_header(mainnet_raw: bytes) -> None:
    """What the module docstring promises: about 270 bytes a header, hash and dict entry included."""
    gc.collect()
    tracemalloc.start()
    try:
        tree = HeaderTree(MAIN, BlockHeader.from_bytes(mainnet_raw[:80]), FIRST_HEIGHT, now=lambda: NOW)
        result = tree.add_headers(BlockHeader.from_bytes(mainnet_raw[i:i + 80]) for i in range(80, len(mainnet_raw), 80))
        del result
        gc.collect()
        per_header = tracemalloc.get_traced_memory()[0] / len(tree)
    finally:
        tracemalloc.stop()
    assert len(tree) == 8_065 and 150 < per_header < 320, per_header


# --- contextual rules on mined headers --------------------------------------------------------


def test_every_rejection_reason() -> None:
    net = _easy(MAIN)
    tree = anchored(net, height=389_088)  # a period start past BIP34/65/66: version 4 required
    anchor = tree.header(tree.anchor)
    chain = extend(tree, tree.anchor, 11)
    tip = tree.header(tree.tip)
    mtp = tree.median_time_past(tree.tip)
    assert mtp == anchor.timestamp + 6 * 600
    assert rejected(tree, header_on(tree.tip, tip.timestamp + 600, bits=0x207FFFFE)) == "bad-diffbits"
    assert rejected(tree, header_on(tree.tip, mtp)) == "time-too-old"
    assert tree.add_header(header_on(tree.tip, mtp + 1, tag=1)).new  # one second after the median is enough
    assert rejected(tree, header_on(tree.tip, int(NOW) + MAX_FUTURE_BLOCK_TIME + 1)) == "time-too-new"
    assert tree.add_header(header_on(tree.tip, int(NOW) + MAX_FUTURE_BLOCK_TIME, tag=2)).new
    assert rejected(tree, header_on(tree.tip, tip.timestamp + 600, version=3)) == "bad-version(0x00000003)"
    assert rejected(tree, header_on(tree.tip, tip.timestamp + 600, version=-1)) == "bad-version(0xffffffff)"
    assert rejected(tree, header_on(bytes(range(32)), tip.timestamp + 600)) == "prev-blk-not-found"
    unmined = BlockHeader(4, tree.tip, bytes(32), tip.timestamp + 600, 0x1D00FFFF, 0)
    assert rejected(tree, unmined) == "high-hash"
    assert rejected(tree, header_on(tree.tip, tip.timestamp + 600, bits=0x2100FFFF)) == "high-hash"  # over the limit
    # An invalid header is remembered: resent, it gets its reason again; its children are bad-prevblk.
    bad = header_on(tree.tip, tip.timestamp + 600, version=2)
    assert rejected(tree, bad) == rejected(tree, bad) == "bad-version(0x00000002)"
    child = header_on(bad.hash, tip.timestamp + 1200)
    assert rejected(tree, child) == rejected(tree, child) == "bad-prevblk"
    assert rejected(tree, header_on(child.hash, tip.timestamp + 1800)) == "bad-prevblk"
    # Too far in the future is not remembered: the same header is accepted once time catches up.
    early = header_on(tree.tip, int(NOW) + MAX_FUTURE_BLOCK_TIME + 60, tag=3)
    assert rejected(tree, early) == "time-too-new"
    later = HeaderTree(net, anchor, 389_088, now=lambda: NOW + 60)
    assert later.add_headers(tree.header(tree.at_height(h)) for h in range(389_089, tree.height + 1)).error is None
    assert later.add_header(early).new and later.tip == early.hash and len(tree) == 14


def test_version_rules_follow_the_buried_heights() -> None:
    net = _easy(MAIN, bip34_height=2, bip66_height=3, bip65_height=4)
    tree = anchored(net)
    start = tree.header(tree.anchor).timestamp
    for height, (too_old, needed) in enumerate([(0, 1), (1, 2), (2, 3), (3, 4)], 1):
        if too_old:
            assert rejected(tree, header_on(tree.tip, start + 600 * height, version=too_old)).startswith("bad-version")
        tree.add_header(header_on(tree.tip, start + 600 * height, version=needed))
    assert tree.height == 4


def test_anchor_must_start_a_period() -> None:
    with pytest.raises(ValueError, match="difficulty period"):
        anchored(MAIN, height=822_529)
    assert anchored(REGTEST, height=5).height == 5  # no retargeting: any height
    with pytest.raises(KeyError, match="unknown header"):
        anchored(REGTEST).header(bytes(32))


def test_regtest_from_genesis() -> None:
    tree = HeaderTree.from_genesis(REGTEST, now=lambda: NOW)
    assert hash_to_hex(tree.tip) == REGTEST.genesis_hash and tree.height == 0
    assert tree.chain_work(tree.tip) == 2  # Core's regtest genesis chainwork
    extend(tree, tree.tip, 3)
    assert tree.height == 3 and tree.chain_work(tree.tip) == 8
    main = HeaderTree.from_genesis(MAIN)
    assert main.chain_work(main.tip) == 0x100010001 and hash_to_hex(main.anchor) == MAIN.genesis_hash


def test_testnet3_twenty_minute_rule() -> None:
    """A block more than 20 minutes after its parent must be min-difficulty; the next one goes
    back to the last real difficulty, walking over min-difficulty blocks to the period start."""
    net = _easy(TESTNET3)
    real = 0x2000FFFF  # harder than the (easy) limit 0x207fffff: a couple of hundred tries
    tree = HeaderTree(net, header_on(bytes(32), 1_600_000_000, bits=real), 2016 * 10, now=lambda: NOW)
    t = tree.header(tree.anchor).timestamp
    assert tree.next_work_required(tree.tip, t + 1200) == real  # exactly 2 x spacing: not late
    assert tree.next_work_required(tree.tip, t + 1201) == REGTEST_BITS
    assert rejected(tree, header_on(tree.tip, t + 600)) == "bad-diffbits"  # on time, so real difficulty
    assert rejected(tree, header_on(tree.tip, t + 1201, bits=real)) == "bad-diffbits"  # late: must be minimum
    tree.add_header(header_on(tree.tip, t + 600, bits=real))
    tree.add_header(header_on(tree.tip, t + 600 + 1201))  # late: min difficulty
    tree.add_header(header_on(tree.tip, t + 600 + 1201 + 1300))
    assert tree.next_work_required(tree.tip, t + 3200) == real  # walks back over two min blocks
    tree.add_header(header_on(tree.tip, t + 3200, bits=real))
    assert tree.height == 2016 * 10 + 4
    # A period whose every block is min-difficulty: the walk stops at the period's first block.
    flat = HeaderTree(net, header_on(bytes(32), 1_600_000_000), 2016 * 10, now=lambda: NOW)
    extend(flat, flat.anchor, 2, spacing=1300)
    assert flat.next_work_required(flat.tip, flat.header(flat.tip).timestamp + 1) == REGTEST_BITS


def _small(network: Network) -> Network:
    """`network`'s rules on a 16-block period of 1-second blocks, with a limit low enough that
    target x 4 cannot wrap 256 bits (Core's arithmetic wraps; real limits never get near)."""
    return dataclasses.replace(network, name=f"small-{network.name}", pow_limit=compact_to_target(SMALL_LIMIT).target,
                               pow_target_spacing=1, pow_target_timespan=16)


SMALL_LIMIT = 0x2003FFFF  # about 64 tries a header


def test_retarget_on_mined_periods() -> None:
    """Mainnet's rule on mined 16-block periods: 15 s over 16 s makes it harder, a slow period is
    clamped to 4x and then capped at the limit; each recomputed value is the one accepted."""
    net = _small(MAIN)
    tree = HeaderTree(net, header_on(bytes(32), 1_600_000_000, bits=SMALL_LIMIT), 0, now=lambda: NOW)
    parent = tree.anchor
    for height in range(1, 49):
        bits = tree.next_work_required(parent, tree.header(parent).timestamp + 1)
        if height == 16:
            assert bits == target_to_compact(compact_to_target(SMALL_LIMIT).target * 15 // 16)
        elif height == 32:
            assert bits == SMALL_LIMIT  # 4x the previous target, capped at the limit
        spacing = 1 if height <= 16 else 10
        header = header_on(parent, tree.header(parent).timestamp + spacing, bits=bits)
        assert tree.add_header(header).new
        if height in (16, 32):
            assert rejected(tree, header_on(parent, header.timestamp, bits=SMALL_LIMIT if height == 16 else 0x2003FFFE,
                                       tag=1)) == "bad-diffbits"
        parent = header.hash
    assert tree.height == 48


def test_bip94_retargets_from_the_first_block_and_refuses_timewarp() -> None:
    """A period of late (so minimum-difficulty) blocks: testnet3 scales the last block's bits and
    loses the difficulty; BIP94 scales the first block's, and refuses a timewarp at the boundary."""
    first_bits = 0x2000FFFF
    for network, expected in ((_small(TESTNET4), 0x2003FFFC), (_small(TESTNET3), SMALL_LIMIT)):
        tree = HeaderTree(network, header_on(bytes(32), 1_600_000_000, bits=first_bits), 0, now=lambda: NOW)
        parent = tree.anchor
        for _ in range(15):  # 700 s apart: each more than 2 x spacing late, so minimum difficulty
            header = header_on(parent, tree.header(parent).timestamp + 700, bits=SMALL_LIMIT)
            tree.add_header(header)
            parent = header.hash
        last = tree.header(tree.tip)
        assert tree.next_work_required(tree.tip, last.timestamp + 1) == expected
        warp = header_on(tree.tip, last.timestamp - 601, bits=expected)
        reason = "time-timewarp-attack" if network.pow_enforce_bip94 else None
        if reason:
            assert rejected(tree, warp) == reason
            assert tree.add_header(header_on(tree.tip, last.timestamp - 600, bits=expected)).new
        else:
            assert tree.add_header(warp).new


# --- best chain, forks, reorganisation --------------------------------------------------------


def test_regtest_reorg_reports_disconnect_and_connect() -> None:
    tree = HeaderTree.from_genesis(REGTEST, now=lambda: NOW)
    genesis = tree.tip
    main = extend(tree, genesis, 5)
    side = extend(tree, main[1], 3, tag=7)  # heights 3..5: equal work, first seen stays
    assert tree.tip == main[-1] and tree.is_active(main[2]) and not tree.is_active(side[0])
    assert tree.chain_work(side[-1]) == tree.chain_work(main[-1])
    locator = tree.locator(side[-1])
    assert locator == [*reversed(side), *reversed(main[:2]), genesis]
    assert tree.find_fork(locator) == main[1]
    header = header_on(side[-1], tree.header(side[-1]).timestamp + 600, tag=7)
    accepted = tree.add_header(header)
    assert accepted.height == 6 and accepted.tip_change == TipChange(
        fork=main[1], disconnected=tuple(reversed(main[2:])), connected=(*side, header.hash))
    assert accepted.tip_change.is_reorg
    assert [tree.at_height(h) for h in range(7)] == [genesis, *main[:2], *side, header.hash]
    extension = tree.add_header(header_on(header.hash, tree.header(header.hash).timestamp + 600, tag=7))
    assert extension.tip_change == TipChange(header.hash, (), (extension.hash,))
    assert not extension.tip_change.is_reorg
    # The losing branch's locator still finds the active fork point; a longer batch reorgs back.
    assert tree.find_fork(tree.locator(main[-1])) == main[1]
    more = [header_on(main[-1], tree.header(main[-1]).timestamp + 600, tag=9)]
    more.append(header_on(more[0].hash, more[0].timestamp + 600, tag=9))
    more.append(header_on(more[1].hash, more[1].timestamp + 600, tag=9))
    result = tree.add_headers(more)
    assert result.error is None and result.tip_change is not None
    assert result.tip_change.disconnected == (extension.hash, header.hash, *reversed(side))
    assert result.tip_change.connected == (*main[2:], *(h.hash for h in more))
    assert tree.tip == more[-1].hash and tree.height == 8


def test_batch_stops_at_first_rejection() -> None:
    tree = HeaderTree.from_genesis(REGTEST, now=lambda: NOW)
    first = header_on(tree.tip, tree.header(tree.tip).timestamp + 600)
    orphan = header_on(bytes(32), first.timestamp + 600)
    result = tree.add_headers([first, orphan, header_on(first.hash, first.timestamp + 600)])
    assert result.accepted == (first.hash,) and result.error is not None
    assert result.error.reason == "prev-blk-not-found" and tree.height == 1
    assert tree.add_headers([first]).tip_change is None


def test_find_fork_with_entry_beyond_tip_on_a_heavier_side() -> None:
    tree = HeaderTree.from_genesis(REGTEST, now=lambda: NOW)
    main = extend(tree, tree.tip, 2)
    tree.invalidate(main[1])
    assert tree.tip == main[0] and not tree.is_valid(main[1]) and tree.is_valid(main[0])
    assert tree.find_fork([main[1]]) == main[0]  # known, beyond our tip on our chain: our tip


def test_invalidate_moves_the_tip_to_the_best_valid_branch() -> None:
    tree = HeaderTree.from_genesis(REGTEST, now=lambda: NOW)
    genesis = tree.tip
    main = extend(tree, genesis, 4)
    side = extend(tree, main[0], 2, tag=5)
    change = tree.invalidate(main[1])
    assert change == TipChange(main[0], tuple(reversed(main[1:])), tuple(side))
    assert tree.tip == side[-1] and not tree.is_valid(main[3])
    assert rejected(tree, tree.header(main[2])) == "duplicate-invalid"
    child = header_on(main[3], tree.header(main[3]).timestamp + 600)
    assert rejected(tree, child) == "bad-prevblk"
    assert tree.invalidate(main[2]) is None  # already off the active chain
    with pytest.raises(ValueError, match="anchor"):
        tree.invalidate(genesis)
    assert tree.is_valid(hex_to_hash(REGTEST.genesis_hash))


def test_reconsider_clears_the_block_its_descendants_and_ancestors() -> None:
    """Core's ResetBlockFailureFlags: a sibling branch that failed on its own stays invalid."""
    tree = HeaderTree.from_genesis(REGTEST, now=lambda: NOW)
    main = extend(tree, tree.tip, 6)
    side = extend(tree, main[0], 8, tag=5)
    tree.invalidate(side[0])
    tree.invalidate(main[4])
    tree.invalidate(main[2])
    assert tree.tip == main[1]
    child = header_on(main[5], tree.header(main[5]).timestamp + 600)
    assert rejected(tree, child) == "bad-prevblk"
    change = tree.reconsider(main[3])  # ancestor main[2] and descendants main[4], main[5] too
    assert change == TipChange(main[1], (), tuple(main[2:]))
    assert all(tree.is_valid(h) for h in main) and not any(tree.is_valid(h) for h in side)
    assert tree.add_header(child).height == 7  # its parent is valid again
    assert tree.reconsider(main[3]) is None


def test_leaves_and_connected_marks(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        tree = HeaderTree.open(store, REGTEST, now=lambda: NOW)
        main = extend(tree, tree.tip, 3)
        side = extend(tree, main[0], 1, tag=5)
        assert sorted(tree.leaves()) == sorted([main[-1], side[-1]])
        tree.mark_connected(main[0])
        assert tree.was_connected(main[0]) and not tree.was_connected(main[1])
        tree.save()
    with Store.open(tmp_path) as store:
        tree = HeaderTree.open(store, REGTEST, now=lambda: NOW)
        assert tree.was_connected(main[0]) and not tree.was_connected(side[0])
        tree.invalidate(main[0])
        assert tree.was_connected(main[0]) and not tree.is_valid(main[0])  # the marks are apart


def test_regtest_never_retargets_and_invalid_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    tree = anchored(REGTEST, height=2014)
    hashes = extend(tree, tree.anchor, 3)  # crosses height 2016 with the same bits
    assert tree.height == 2017 and hashes[1] in tree and bytes(32) not in tree
    monkeypatch.setattr("pantheon.chain.headers.MAX_REMEMBERED_INVALID", 2)
    tip = tree.header(tree.tip)
    bad = [header_on(tree.tip, tip.timestamp + 600, bits=0x207FFFFE, tag=n) for n in range(3)]
    assert [rejected(tree, header) for header in bad] == ["bad-diffbits"] * 3
    assert rejected(tree, header_on(bad[0].hash, tip.timestamp + 1200)) == "prev-blk-not-found"  # forgotten
    assert rejected(tree, header_on(bad[2].hash, tip.timestamp + 1200)) == "bad-prevblk"  # remembered


# --- persistence in the store's block_index namespace ------------------------------------------


def test_tree_persists_in_leveldb_and_reloads_the_same(tmp_path: Path, mainnet_headers: list[BlockHeader]) -> None:
    with Store.open(tmp_path) as store:
        tree = HeaderTree.open(store, MAIN, mainnet_headers[0], FIRST_HEIGHT, now=lambda: NOW)
        assert tree.add_headers(mainnet_headers[1:2_001]).error is None
    with Store.open(tmp_path) as store:
        tree = HeaderTree.open(store, MAIN, now=lambda: NOW)
        assert tree.height == FIRST_HEIGHT + 2_000 and tree.tip == mainnet_headers[2_000].hash
        assert tree.chain_work(tree.tip) == sum(block_work(h.bits) for h in mainnet_headers[:2_001])
        tree.add_header(mainnet_headers[2_001])
        with pytest.raises(StoreError, match="anchored at"):
            HeaderTree.open(store, MAIN, mainnet_headers[1], FIRST_HEIGHT + 1)
        with pytest.raises(StoreError, match="not format 1 for 'regtest'"):
            HeaderTree.open(store, REGTEST)
    with Store.open(tmp_path) as store:
        assert HeaderTree.open(store, MAIN, mainnet_headers[0]).tip == mainnet_headers[2_001].hash
        store.namespace("block_index").put(mainnet_headers[5].hash, b"\xff" * 4 + b"\x00" + mainnet_headers[6].serialize())
        with pytest.raises(StoreError, match="does not check or link"):
            HeaderTree.open(store, MAIN)
        store.namespace("block_index").delete(mainnet_headers[0].hash)
        with pytest.raises(StoreError, match="no anchor record"):
            HeaderTree.open(store, MAIN)


def test_reload_keeps_first_seen_tip_and_invalid_marks(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        tree = HeaderTree.open(store, REGTEST, now=lambda: NOW)
        assert hash_to_hex(tree.anchor) == REGTEST.genesis_hash
        genesis = tree.tip
        first = extend(tree, genesis, 2, tag=1)
        second = extend(tree, genesis, 2, tag=2)  # equal work, seen later: not the tip
        third = extend(tree, genesis, 3, tag=3)
        tree.invalidate(third[1])
        assert tree.tip == first[-1]
    with Store.open(tmp_path) as store:
        tree = HeaderTree.open(store, REGTEST, now=lambda: NOW)
        assert tree.tip == first[-1] and len(tree) == 8 and second[-1] in tree
        assert tree.is_valid(third[0]) and not tree.is_valid(third[2])
        assert rejected(tree, tree.header(third[2])) == "duplicate-invalid"


def test_chain_does_not_load_construct_or_the_spec() -> None:
    """STYLE.md: construct and pantheon.spec stay off the chain's import path."""
    code = "import sys, pantheon.chain.headers; print(sorted(m for m in sys.modules if m.startswith(('construct', 'pantheon.spec'))))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_ancestors_and_the_fork_point_off_the_best_chain() -> None:
    """Core's skip indexes: on a branch that is not the best chain, the ancestor at every height is
    the one a parent-by-parent walk finds, and the last common ancestor of two branches is their
    fork, whichever is the best."""
    tree = HeaderTree.from_genesis(REGTEST, now=lambda: NOW)
    main = [tree.anchor, *extend(tree, tree.anchor, 300)]
    side = extend(tree, main[50], 400, tag=7)  # more work: the best chain now
    assert tree.tip == side[-1] and not tree.is_active(main[-1])
    walk = main[-1]
    for height in range(300, -1, -1):
        assert tree.ancestor(main[-1], height) == walk == main[height]
        walk = tree.header(walk).prev_block if height else walk
    assert tree.last_common_ancestor(main[-1], side[-1]) == main[50]
    assert tree.last_common_ancestor(side[-1], main[120]) == main[50]
    assert tree.last_common_ancestor(main[-1], main[120]) == main[120]
    twig = extend(tree, main[200], 3, tag=8)
    assert tree.last_common_ancestor(main[-1], twig[-1]) == main[200]
