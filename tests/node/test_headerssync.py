"""Low-work headers sync (`pantheon.headerssync`, Core's HeadersSyncState): a chain is presynced
keeping only commitments, then downloaded again and handed on only once its work is proven; a
peer that serves another chain the second time, breaks continuity or stops short gets nothing
through. Small commitment periods and buffers make every path short."""

from __future__ import annotations

from helpers.chain import extend, header_on
from helpers.clock import NOW

from pantheon.chain.headers import HeaderTree
from pantheon.chain.pow import block_work
from pantheon.headerssync import ChainStart, HeadersSyncParams, HeadersSyncState, SyncPhase
from pantheon.params import REGTEST
from pantheon.primitives import BlockHeader

WORK = block_work(0x207FFFFF)  # every regtest header's


def chain_on(tree: HeaderTree, start: bytes, count: int, tag: int = 0) -> list[BlockHeader]:
    """`count` headers on `start`, not added to the tree."""
    headers = []
    previous = tree.header(start)
    for _ in range(count):
        previous = header_on(previous.hash, previous.timestamp + 600, tag=tag)
        headers.append(previous)
    return headers


def state(needed: int, commitment_period: int = 5, buffer: int = 10) -> tuple[HeaderTree, HeadersSyncState]:
    """A sync starting at height 5 of a tree, wanting `needed` more headers' work."""
    tree = HeaderTree.from_genesis(REGTEST, now=lambda: NOW)
    start = extend(tree, tree.anchor, 5)[-1]
    chain_start = ChainStart.from_tree(tree, start)
    sync = HeadersSyncState(0, REGTEST, chain_start, chain_start.work + needed * WORK, NOW,
                            HeadersSyncParams(commitment_period, buffer))
    return tree, sync


def test_a_chain_is_presynced_then_redownloaded_and_released_once_its_work_is_proven() -> None:
    tree, sync = state(needed=30)
    headers = chain_on(tree, sync.start.hash, 40)
    first = sync.process_next_headers(headers[:20], full=True)
    assert (first.success, first.request_more, first.ready, sync.phase) == (True, True, [], SyncPhase.PRESYNC)
    assert sync.presync_height == 25 and sync.next_request_locator() == [headers[19].hash, *sync.start.locator]
    second = sync.process_next_headers(headers[20:], full=True)
    assert (second.success, second.request_more, second.ready) == (True, True, [])
    assert sync.phase is SyncPhase.REDOWNLOAD and sync.next_request_locator()[0] == sync.start.hash

    again = sync.process_next_headers(headers[:20], full=True)
    assert again.request_more and again.ready == headers[:10]  # the buffer keeps the newest 10
    assert sync.next_request_locator()[0] == headers[19].hash
    last = sync.process_next_headers(headers[20:], full=True)
    assert last.success and not last.request_more and last.ready == headers[10:]  # work reached: all of it
    assert sync.phase is SyncPhase.FINAL


def test_another_chain_served_the_second_time_fails_a_commitment() -> None:
    tree, sync = state(needed=30, commitment_period=1)  # a commitment per header: a mismatch is certain
    honest = chain_on(tree, sync.start.hash, 30)
    assert sync.process_next_headers(honest, full=True).request_more
    other = chain_on(tree, sync.start.hash, 30, tag=1)
    result = sync.process_next_headers(other, full=True)
    assert not result.success and result.ready == [] and sync.phase is SyncPhase.FINAL


def test_a_short_or_unconnected_batch_ends_the_sync() -> None:
    tree, sync = state(needed=30)
    headers = chain_on(tree, sync.start.hash, 20)
    short = sync.process_next_headers(headers[:10], full=False)  # the peer's chain ends, short of the work
    assert short.success and not short.request_more and sync.phase is SyncPhase.FINAL

    tree, sync = state(needed=30)
    headers = chain_on(tree, sync.start.hash, 20)
    assert not sync.process_next_headers(headers[1:], full=True).success  # does not start at the start
    assert sync.phase is SyncPhase.FINAL
