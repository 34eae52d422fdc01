"""The block download schedule (`pantheon.sync.BlockDownload`) on a real header tree: window,
per-peer limit, out-of-order delivery, stalling with Core's doubling timeout, notfound and
disconnects mid-download never leaving a block unrequested."""

from __future__ import annotations

import pytest

from helpers.chain import extend
from helpers.clock import NOW, Clock
from pantheon.chain.headers import HeaderTree
from pantheon.params import REGTEST
from pantheon.sync import BlockDownload


class Chain:
    """A header tree with `length` blocks and the set of blocks we 'have' (stored or connected)."""

    def __init__(self, length: int) -> None:
        self.tree = HeaderTree.from_genesis(REGTEST, now=lambda: NOW)
        self.hashes = [self.tree.tip, *extend(self.tree, self.tree.tip, length)]
        self.have = {self.hashes[0]}
        self.tip_height = 0

    def connect_ready(self) -> None:
        """What the chainstate does: connect stored blocks in order while the next one is here."""
        while self.tip_height + 1 < len(self.hashes) and self.hashes[self.tip_height + 1] in self.have:
            self.tip_height += 1


def download(chain: Chain, clock: Clock, *peers: str, **options: float) -> BlockDownload:
    """The schedule over `chain`, with `peers` added, each announcing the chain's last block."""
    schedule = BlockDownload(chain.tree, chain.have.__contains__, lambda: chain.hashes[chain.tip_height], clock=clock,
                             **options)
    for peer in peers:
        schedule.add_peer(peer)
        schedule.peer_has(peer, chain.hashes[-1])
    return schedule


def test_requests_lowest_first_within_per_peer_limit_and_window(clock: Clock) -> None:
    chain = Chain(40)
    schedule = download(chain, clock, "a", "b", "c", window=20, per_peer=8)
    assert schedule.next_requests("a") == chain.hashes[1:9]
    assert schedule.next_requests("b") == chain.hashes[9:17]
    assert schedule.next_requests("c") == chain.hashes[17:21]  # the window ends at tip + 20
    assert schedule.next_requests("a") == [] and schedule.in_flight() == 20


def test_out_of_order_arrival_is_connected_in_order_and_the_window_moves(clock: Clock) -> None:
    chain = Chain(30)
    schedule = download(chain, clock, "a", window=10, per_peer=10)
    asked = schedule.next_requests("a")
    for block_hash in reversed(asked):  # delivered backwards
        assert schedule.block_received("a", block_hash)
        chain.have.add(block_hash)
        chain.connect_ready()
    assert chain.tip_height == 10
    assert schedule.next_requests("a") == chain.hashes[11:21]


def test_a_peer_is_only_asked_for_what_it_has(clock: Clock) -> None:
    chain = Chain(10)
    side = extend(chain.tree, chain.hashes[4], 3, tag=5)  # a shorter branch
    schedule = download(chain, clock)
    schedule.add_peer("short")
    schedule.peer_has("short", chain.hashes[3])
    assert schedule.next_requests("short") == chain.hashes[1:4]
    schedule.add_peer("side")
    schedule.peer_has("side", side[-1])
    assert schedule.next_requests("side") == [chain.hashes[4], *side]
    schedule.peer_has("side", chain.hashes[2])  # less work than what it already showed: ignored
    assert schedule.best_of("side") == side[-1]
    schedule.add_peer("nothing")
    assert schedule.next_requests("nothing") == []
    schedule.peer_has("nothing", b"\x01" * 32)  # an unknown header: ignored
    assert schedule.best_of("nothing") is None


def test_staller_is_named_after_the_timeout_which_doubles_then_relaxes(clock: Clock) -> None:
    chain = Chain(50)
    schedule = download(chain, clock, "slow", "fast", window=16, per_peer=8)
    slow = schedule.next_requests("slow")  # heights 1..8
    fast = schedule.next_requests("fast")  # heights 9..16
    for block_hash in fast:
        schedule.block_received("fast", block_hash)
        chain.have.add(block_hash)
    chain.connect_ready()
    assert chain.tip_height == 0  # block 1 is still with "slow": the window cannot move
    assert schedule.next_requests("fast") == []  # ... and "fast" has nothing to do: "slow" stalls
    clock.now += 1.9
    assert schedule.stalling_peers() == []
    clock.now += 0.2
    assert schedule.stalling_peers() == ["slow"]
    schedule.stalled("slow")
    assert schedule.stall_timeout == 4.0
    assert schedule.next_requests("fast") == slow  # re-requested from the peer still here
    for block_hash in slow:
        assert schedule.block_received("fast", block_hash)
        chain.have.add(block_hash)
    chain.connect_ready()
    assert chain.tip_height == 16
    assert schedule.stall_timeout == pytest.approx(2.0)  # relaxed by 15% a block, not below 2 s


def test_stall_timeout_is_capped_at_64_seconds(clock: Clock) -> None:
    chain = Chain(5)
    schedule = download(chain, clock)
    for index in range(8):
        schedule.add_peer(index)
        schedule.stalled(index)
    assert schedule.stall_timeout == 64.0


def test_delivering_a_block_clears_stalling(clock: Clock) -> None:
    chain = Chain(30)
    schedule = download(chain, clock, "slow", "fast", window=4, per_peer=2)
    slow = schedule.next_requests("slow")
    for block_hash in schedule.next_requests("fast"):
        schedule.block_received("fast", block_hash)
        chain.have.add(block_hash)
    assert schedule.next_requests("fast") == []
    schedule.block_received("slow", slow[1])
    clock.now += 10
    assert schedule.stalling_peers() == []


def test_notfound_moves_the_block_to_another_peer_and_never_back(clock: Clock) -> None:
    chain = Chain(3)
    schedule = download(chain, clock, "liar", "honest")
    assert schedule.next_requests("liar") == chain.hashes[1:]
    schedule.not_found("liar", [chain.hashes[2], b"\x07" * 32])  # an unasked hash is ignored
    assert schedule.in_flight("liar") == 2
    assert schedule.next_requests("honest") == [chain.hashes[2]]
    schedule.remove_peer("honest")  # disconnects mid-download
    assert schedule.next_requests("liar") == []  # it said it lacks block 2: not asked again
    schedule.add_peer("late")
    schedule.peer_has("late", chain.hashes[-1])
    assert schedule.next_requests("late") == [chain.hashes[2]]


def test_disconnect_mid_download_frees_its_blocks(clock: Clock) -> None:
    chain = Chain(10)
    schedule = download(chain, clock, "gone", "stays", per_peer=4)
    gone = schedule.next_requests("gone")
    stays = schedule.next_requests("stays")
    schedule.remove_peer("gone")
    assert schedule.in_flight("gone") == 0
    for block_hash in stays:
        schedule.block_received("stays", block_hash)
        chain.have.add(block_hash)
    assert schedule.next_requests("stays") == gone
    assert not schedule.block_received("gone", gone[0])  # a late delivery from a forgotten peer


def test_a_peer_that_never_answers_times_out(clock: Clock) -> None:
    chain = Chain(5)
    schedule = download(chain, clock, "mute", request_timeout=30)
    schedule.next_requests("mute")
    clock.now += 29
    assert schedule.timed_out_peers() == []
    clock.now += 2
    assert schedule.timed_out_peers() == ["mute"]


def test_nothing_to_do_at_or_below_our_tip(clock: Clock) -> None:
    chain = Chain(3)
    chain.have.update(chain.hashes)
    chain.connect_ready()
    schedule = download(chain, clock, "p")
    assert schedule.next_requests("p") == []
    assert schedule.in_flight("unknown") == 0 and schedule.best_of("unknown") is None
    schedule.not_found("unknown", [chain.hashes[1]])
    schedule.remove_peer("unknown")


def test_tree_ancestor_walks_any_branch() -> None:
    chain = Chain(6)
    side = extend(chain.tree, chain.hashes[2], 2, tag=3)
    assert chain.tree.ancestor(side[-1], 2) == chain.hashes[2]
    assert chain.tree.ancestor(side[-1], 4) == side[-1]
    assert chain.tree.ancestor(chain.hashes[6], 5) == chain.hashes[5]
    with pytest.raises(ValueError):
        chain.tree.ancestor(side[-1], 5)


def test_a_heavier_fork_is_fetched_from_the_fork_not_from_our_height(clock: Clock) -> None:
    chain = Chain(6)
    chain.have.update(chain.hashes)
    chain.connect_ready()  # connected up to 6
    side = extend(chain.tree, chain.hashes[3], 5, tag=4)  # heights 4..8: more work than ours
    schedule = download(chain, clock)
    schedule.add_peer("fork")
    schedule.peer_has("fork", side[1])  # height 5: less work than our tip, nothing to gain
    assert schedule.next_requests("fork") == []
    schedule.peer_has("fork", side[2])  # height 6: equal work; Core fetches it (it may win the race)
    assert schedule.next_requests("fork") == side[:3]
    schedule.peer_has("fork", side[-1])
    assert schedule.next_requests("fork") == side[3:]


def test_a_block_announced_before_its_header_counts_once_the_header_comes(clock: Clock) -> None:
    """Core's hashLastUnknownBlock: an inv of a block we cannot place yet is kept, and becomes the
    peer's best block when its header arrives (by whoever sends it)."""
    chain = Chain(2)
    schedule = download(chain, clock)
    schedule.add_peer("p")
    unknown = b"\x42" * 32
    schedule.peer_has("p", unknown)
    assert schedule.best_of("p") is None
    later = extend(chain.tree, chain.hashes[-1], 1)[0]
    schedule.peer_has("p", later)  # another unknown would replace it; a known one just counts
    assert schedule.best_of("p") == later


def test_direct_fetch_walks_back_to_our_chain_skipping_what_is_here_or_asked(clock: Clock) -> None:
    """Core's HeadersDirectFetchBlocks: oldest first, up to the per-peer limit, blocks in flight
    elsewhere skipped; a branch more than the limit away from our chain is left alone."""
    chain = Chain(3)
    chain.have.update(chain.hashes)
    chain.connect_ready()
    side = extend(chain.tree, chain.hashes[-1], 6, tag=5)
    schedule = download(chain, clock, per_peer=4)
    schedule.add_peer("a")
    schedule.add_peer("b")
    assert schedule.direct_fetch("a", side[1]) == side[:2]
    assert schedule.direct_fetch("b", side[3]) == side[2:4]  # side[:2] are asked of "a"
    assert schedule.direct_fetch("a", side[5]) == side[4:6]
    assert schedule.direct_fetch("a", side[5]) == []  # "a" has 4 in flight
    far = extend(chain.tree, chain.hashes[-1], 6, tag=6)
    assert schedule.direct_fetch("b", far[-1]) is None  # 6 blocks off the chain, limit 4


def test_the_window_slides_over_stored_blocks_of_a_branch_not_yet_connected(clock: Clock) -> None:
    """A reorganisation longer than the window connects only once all of it is here: the window
    counts from the last block stored, not from the fork (Core's pindexLastCommonBlock)."""
    chain = Chain(3)
    chain.have.update(chain.hashes)
    chain.connect_ready()
    side = extend(chain.tree, chain.hashes[1], 30, tag=9)  # heavier; forks at 1, so nothing connects
    schedule = download(chain, clock, window=10, per_peer=10)
    schedule.add_peer("p")
    schedule.peer_has("p", side[-1])
    asked = schedule.next_requests("p")
    assert asked == side[:10]
    for block_hash in asked:
        schedule.block_received("p", block_hash)
        chain.have.add(block_hash)
    assert schedule.next_requests("p") == side[10:20]
