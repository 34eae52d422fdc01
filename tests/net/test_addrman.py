"""The address manager on a real LevelDB store.

Placement and collisions are checked against Bitcoin Core's own expectations
(src/test/addrman_tests.cpp): with Core's test keys the same addresses land in the same
buckets and collide with the same neighbours, so the hashing is Core's byte for byte.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import struct
from collections.abc import Iterable
from pathlib import Path

import pytest

from pantheon.net import addrman as am
from pantheon.net.address import Network, PeerAddress, TimedAddress
from pantheon.net.addrman import AddressInfo, AddrMan, bucket_position, new_bucket, tried_bucket
from pantheon.store import DB_DIRNAME, Store
from pantheon.wire import double_sha256

from helpers.clock import NOW, Clock
from helpers.net import CORE_DETERMINISTIC_KEY, ip
from helpers.store import zero_table_blocks

CORE_TEST_KEY_1 = double_sha256(struct.pack("<i", 1))  # (HashWriter{} << 1).GetHash()
CORE_TEST_KEY_2 = double_sha256(struct.pack("<i", 2))


def offer(text: str, port: int = 8333, seen: int = NOW, services: int = 0) -> TimedAddress:
    return TimedAddress(ip(text, port), seen, services)


CORE_SOURCE = ip("252.2.2.2")


def add_and_good(table: AddrMan, numbers: Iterable[int], now: int | None = None) -> list[bool]:
    """Core's test pattern: hear of 250.1.1.<n> (port 0) from 252.2.2.2, then connect to it;
    returns whether each moved to tried."""
    moved = []
    for n in numbers:
        address = ip(f"250.1.1.{n}")
        assert table.add([TimedAddress(address, NOW)], CORE_SOURCE) == 1
        moved.append(table.good(address, now=now))
    return moved


def spread_ipv4(count: int, rng: random.Random) -> list[PeerAddress]:
    """`count` distinct routable IPv4 addresses from many /16s."""
    found: dict[PeerAddress, None] = {}
    while len(found) < count:
        address = PeerAddress(Network.IPV4, bytes([rng.randrange(1, 224), *rng.randbytes(3)]), 8333)
        if address.is_routable:
            found[address] = None
    return list(found)


def manager(store: Store, clock: Clock, seed: int = 7, **options) -> AddrMan:
    return AddrMan(store, clock=clock, rng=random.Random(seed), **options)


def slots(table: AddrMan) -> dict[tuple[bool, int, int], AddressInfo]:
    """(tried, bucket, position) -> entry, both tables."""
    return {(p.tried, p.bucket, p.position): info
            for tried in (False, True) for info, p in table.entries(tried)}


# --- placement: Core's vectors -------------------------------------------------------------------

def test_tried_bucket_is_cores() -> None:
    info1 = ip("250.1.1.1", 8333)
    assert tried_bucket(CORE_TEST_KEY_1, info1) == 40
    assert tried_bucket(CORE_TEST_KEY_1, info1) != tried_bucket(CORE_TEST_KEY_2, info1)
    assert tried_bucket(CORE_TEST_KEY_1, info1) != tried_bucket(CORE_TEST_KEY_1, ip("250.1.1.1", 9999))
    same_group = {tried_bucket(CORE_TEST_KEY_1, ip(f"250.1.1.{i}")) for i in range(255)}
    many_groups = {tried_bucket(CORE_TEST_KEY_1, ip(f"250.{j}.1.1")) for j in range(255)}
    assert (len(same_group), len(many_groups)) == (8, 160)  # Core's counts for this key


def test_new_bucket_is_cores() -> None:
    source = ip("250.1.2.1")
    assert new_bucket(CORE_TEST_KEY_1, ip("250.1.2.1", 8333), source) == 786
    assert new_bucket(CORE_TEST_KEY_1, ip("250.1.2.1", 9999), source) == 786  # port: same bucket
    assert new_bucket(CORE_TEST_KEY_2, ip("250.1.2.1", 8333), source) != 786
    same_group = {new_bucket(CORE_TEST_KEY_1, ip(f"250.1.1.{i}"), ip(f"250.1.1.{i}")) for i in range(255)}
    assert len(same_group) == 1
    one_source = {new_bucket(CORE_TEST_KEY_1, ip(f"{250 + j // 255}.{j % 256}.1.1"), ip("251.4.1.1"))
                  for j in range(4 * 255)}
    assert 1 < len(one_source) <= 64  # one source group never reaches more than 64 buckets
    many_sources = {new_bucket(CORE_TEST_KEY_1, ip("250.1.1.1"), ip(f"250.{p}.1.1")) for p in range(255)}
    assert len(many_sources) > 64


def test_bucket_position_depends_on_table_bucket_and_port() -> None:
    def position(new: bool, bucket: int, port: int) -> int:
        return bucket_position(CORE_TEST_KEY_1, new, bucket, ip("1.2.3.4", port))

    assert [position(True, 5, 8333), position(False, 5, 8333), position(True, 6, 8333),
            position(True, 5, 8334)] == [43, 17, 10, 21]  # fixed by the key: a regression check
    positions = {position(new, bucket, 8333) for new in (True, False) for bucket in range(64)}
    assert len(positions) > 20 and all(0 <= slot < 64 for slot in positions)


def test_core_deterministic_collisions(store: Store, clock: Clock) -> None:
    """Core's addrman_noevict: with key uint256{1}, 36 collides with 19 and 59 with 10."""
    table = manager(store, clock, secret=CORE_DETERMINISTIC_KEY)
    assert all(add_and_good(table, range(1, 36)))
    assert add_and_good(table, [36]) == [False]
    assert table.select_tried_collision().address == ip("250.1.1.19")
    table.resolve_collisions()  # 19 succeeded just now: it stays, 36 stays in new
    assert table.select_tried_collision() is None
    assert table.get(ip("250.1.1.19")).tried and not table.get(ip("250.1.1.36")).tried
    assert all(add_and_good(table, range(37, 59)))
    assert add_and_good(table, [59]) == [False]
    assert table.select_tried_collision().address == ip("250.1.1.10")


def test_core_eviction_after_a_failed_test(store: Store, clock: Clock) -> None:
    """Core's addrman_evictionworks: an occupant that fails its test is replaced."""
    table = manager(store, clock, secret=CORE_DETERMINISTIC_KEY)
    add_and_good(table, range(1, 37))
    addr19, addr36 = ip("250.1.1.19"), ip("250.1.1.36")
    assert table.select_tried_collision().address == addr19
    assert not table.good(addr19, now=1)  # last success in the deep past
    table.attempt(addr19, count_failure=False, now=clock.now - 61)  # tried 61 s ago, no answer
    table.resolve_collisions()
    assert table.select_tried_collision() is None
    assert table.get(addr36).tried and not table.get(addr19).tried
    assert not table.good(addr36)  # already tried: no collision
    assert table.select_tried_collision() is None
    assert not table.good(addr19)  # 19 now collides with 36
    assert table.select_tried_collision().address == addr36
    clock.now += 4 * 60 * 60  # the test never happened: after the window 19 goes back in
    table.resolve_collisions()
    assert table.select_tried_collision() is None
    assert table.get(addr19).tried and not table.get(addr36).tried
    assert table.size(in_new=False) == 35 and table.size(in_new=True) == 1


def test_core_new_table_collision(store: Store, clock: Clock) -> None:
    """Core's addrman_new_collisions: with key uint256{1}, 250.1.1.23 lands on an earlier
    address's new slot. Core's addresses carry the 1973 default time, so the occupant is
    terrible and is replaced; a fresh occupant keeps its slot and the newcomer is dropped."""
    core_default_time = 100_000_000
    for seen, kept in ((core_default_time, True), (NOW, False)):
        table = manager(store, clock, secret=CORE_DETERMINISTIC_KEY)
        source = CORE_SOURCE
        for i in range(1, 23):
            assert table.add([offer(f"250.1.1.{i}", 0, seen)], source) == 1
            assert len(table) == i
        assert table.add([offer("250.1.1.23", 0, seen)], source) == int(kept)
        assert len(table) == 22 and (ip("250.1.1.23") in table) is kept
        assert table.add([offer("250.1.1.24", 0, seen)], source) == 1
        assert len(table) == 23
        store.clear("addrman")


def test_resolve_collisions_waits_for_the_test(store: Store, clock: Clock) -> None:
    table = manager(store, clock, secret=CORE_DETERMINISTIC_KEY)
    add_and_good(table, range(1, 37), now=NOW - 5 * 3600)  # the occupants last answered 5 h ago
    addr19, addr36 = ip("250.1.1.19"), ip("250.1.1.36")
    assert not table.good(addr36)  # collides with 19; 36 itself answered just now
    table.resolve_collisions()
    assert table.select_tried_collision().address == addr19  # waiting for a test of 19
    table.attempt(addr19, count_failure=False, now=NOW - 30)  # the feeler went out 30 s ago
    table.resolve_collisions()
    assert table.select_tried_collision().address == addr19  # give it a minute
    clock.now += 31
    table.resolve_collisions()  # no answer in 61 s: 36 takes the slot
    assert table.select_tried_collision() is None
    assert table.get(addr36).tried and not table.get(addr19).tried


def test_pending_collisions_are_bounded(store: Store, clock: Clock) -> None:
    table = manager(store, clock, secret=CORE_DETERMINISTIC_KEY)
    source = CORE_SOURCE
    moved = 0
    for i in range(1, 255):
        address = ip(f"250.1.1.{i}")
        table.add([TimedAddress(address, NOW)], source)
        moved += table.good(address)
    assert len(table) - moved > 10  # many collided...
    assert len(table._collisions) == am.TRIED_COLLISIONS_MAX  # ...but at most 10 are remembered
    table.resolve_collisions()  # every occupant answered just now: all claims dropped
    assert table.select_tried_collision() is None


def test_a_spare_copy_yields_its_slot_to_an_address_with_none(store: Store, clock: Clock) -> None:
    key = CORE_DETERMINISTIC_KEY
    table = manager(store, clock, secret=key)
    popular = ip("8.8.8.8", 8333)
    sources = spread_ipv4(400, random.Random(13))
    for n, source in enumerate(sources):
        table.add([TimedAddress(popular, NOW + 1 + n)], source)
    slots_of_popular = {(p.bucket, p.position) for info, p in table.entries(False)}
    assert len(slots_of_popular) >= 2
    # A newcomer from the same /16 and source as one copy lands in that copy's bucket; find one
    # that also lands on its slot.
    source = next(s for s in sources if (new_bucket(key, popular, s),
                                         bucket_position(key, True, new_bucket(key, popular, s), popular))
                  in slots_of_popular)
    bucket = new_bucket(key, popular, source)
    newcomer = next(candidate for candidate in (ip(f"8.8.{i // 256}.{i % 256}", 8333) for i in range(1, 65536))
                    if candidate != popular
                    and bucket_position(key, True, bucket, candidate) == bucket_position(key, True, bucket, popular))
    assert table.add([TimedAddress(newcomer, NOW)], source) == 1
    remaining = {(p.bucket, p.position) for info, p in table.entries(False) if info.address == popular}
    assert remaining == slots_of_popular - {(bucket, bucket_position(key, True, bucket, popular))}
    assert newcomer in table and popular in table


def test_re_adding_from_the_same_group_keeps_one_copy(store: Store, clock: Clock) -> None:
    table = manager(store, clock)
    for n in range(20):
        assert table.add([offer("8.8.8.8", seen=NOW + n)], ip("1.1.1.1")) == int(n == 0)
    [(_, position)] = table.entries(False)
    assert position.multiplicity == 1


# --- one source cannot fill the table ------------------------------------------------------------

def test_one_source_lands_in_at_most_64_new_buckets(store: Store, clock: Clock) -> None:
    table = manager(store, clock)
    added = table.add([TimedAddress(address, NOW) for address in spread_ipv4(3000, random.Random(1))],
                      ip("203.0.1.1"))
    buckets = {position.bucket for _, position in table.entries(False)}
    assert added == len(table) > 1000
    assert 32 < len(buckets) <= 64
    assert len(table) <= 64 * 64  # the rest of the 65,536 new slots stay out of its reach


def test_many_sources_spread_over_many_buckets(store: Store, clock: Clock) -> None:
    table = manager(store, clock)
    addresses = spread_ipv4(2000, random.Random(2))
    sources = spread_ipv4(2000, random.Random(3))
    for address, source in zip(addresses, sources):
        table.add([TimedAddress(address, NOW)], source)
    buckets = {position.bucket for _, position in table.entries(False)}
    assert len(table) > 1900 and len(buckets) > 700


def test_an_address_from_many_sources_occupies_at_most_8_new_slots(store: Store, clock: Clock) -> None:
    table = manager(store, clock)
    address = ip("8.8.8.8", 8333)
    for n, source in enumerate(spread_ipv4(3000, random.Random(4))):
        table.add([TimedAddress(address, NOW + 1 + n % 3000)], source)  # newer, within the hour
    copies = [p for info, p in table.entries(False) if info.address == address]
    assert len(table) == 1
    assert 2 <= len(copies) <= 8 and all(p.multiplicity == len(copies) for p in copies)


# --- add, good, attempt, connected ----------------------------------------------------------------

def test_add_ignores_unroutable_and_stale_offers(store: Store, clock: Clock) -> None:
    table = manager(store, clock)
    source = ip("1.1.1.1")
    unroutable = [offer(text) for text in ("10.0.0.1", "127.0.0.1", "192.168.1.1", "fe80::1", "2001:db8::1")]
    assert table.add(unroutable, source) == 0 and len(table) == 0
    assert table.add([offer("8.8.8.8", seen=NOW - 100)], source) == 1
    assert table.add([offer("8.8.8.8", seen=NOW - 100)], source) == 0  # nothing new
    assert len(table) == 1


def test_add_ages_relayed_addresses_but_not_self_announcements(store: Store, clock: Clock) -> None:
    table = manager(store, clock)
    table.add([offer("8.8.8.8", seen=NOW, services=1), offer("1.1.1.1", seen=NOW)], ip("1.1.1.1"),
              time_penalty=2 * 60 * 60)
    assert table.get(ip("8.8.8.8", 8333)).time == NOW - 2 * 60 * 60
    assert table.get(ip("1.1.1.1", 8333)).time == NOW  # the source announcing itself
    table.add([offer("8.8.8.8", seen=NOW, services=8)], ip("9.9.9.9"))
    refreshed = table.get(ip("8.8.8.8", 8333))
    assert refreshed.services == 9 and refreshed.time == NOW  # services accumulate; time advanced


def test_good_moves_to_tried_and_resets_failures(store: Store, clock: Clock) -> None:
    table = manager(store, clock)
    address = ip("8.8.8.8", 8333)
    table.add([offer("8.8.8.8")], ip("1.1.1.1"))
    assert table.size(in_new=True) == 1 and table.size(in_new=False) == 0
    table.attempt(address)
    assert table.get(address).attempts == 1
    clock.now += 5
    assert table.good(address)
    info = table.get(address)
    assert info.tried and info.attempts == 0 and info.last_success == info.last_try == NOW + 5
    assert table.size(in_new=False) == 1 and table.size(Network.IPV4, in_new=False) == 1
    assert table.size(Network.IPV6) == 0
    assert not table.good(address)  # already tried
    assert not table.good(ip("9.9.9.9"))  # unknown
    assert table.add([offer("8.8.8.8", seen=NOW + 10)], ip("1.1.1.1")) == 0  # tried: not re-added
    [(tried_info, position)] = table.entries(True)
    assert position.tried and position.multiplicity == 1 and tried_info.address == address


def test_failures_count_once_per_success_anywhere(store: Store, clock: Clock) -> None:
    """Core's rule: while no connection succeeds (we may be offline), failures do not pile up."""
    table = manager(store, clock)
    address = ip("8.8.8.8", 8333)
    table.add([offer("8.8.8.8"), offer("9.9.9.9")], ip("1.1.1.1"))
    for _ in range(5):
        table.attempt(address, now=NOW - 1000)
    assert table.get(address).attempts == 1
    table.attempt(ip("4.4.4.4"))  # unknown: ignored
    table.good(ip("9.9.9.9", 8333))
    for _ in range(3):
        table.attempt(address, now=NOW - 61)  # before the success: each counts
    assert table.get(address).attempts == 4
    table.attempt(address, count_failure=False, now=NOW - 61)
    info = table.get(address)
    assert info.attempts == 4 and info.is_terrible(NOW)  # 3+ failures and never a success


def info_with(**fields) -> AddressInfo:
    base = dict(address=ip("8.8.8.8"), services=0, time=NOW - 60, source=ip("1.1.1.1"),
                last_success=0, last_try=0, attempts=0, tried=False)
    return AddressInfo(**(base | fields))


@pytest.mark.parametrize(("fields", "terrible"), [
    pytest.param({}, False, id="fresh"),
    pytest.param({"time": NOW + 11 * 60}, True, id="from-the-future"),
    pytest.param({"time": NOW + 9 * 60}, False, id="slightly-ahead"),
    pytest.param({"time": NOW - 31 * 86400}, True, id="older-than-30-days"),
    pytest.param({"time": NOW - 29 * 86400}, False, id="within-30-days"),
    pytest.param({"attempts": 3}, True, id="3-failures-never-success"),
    pytest.param({"attempts": 2}, False, id="2-failures"),
    pytest.param({"attempts": 10, "last_success": NOW - 8 * 86400}, True, id="10-failures-a-week"),
    pytest.param({"attempts": 10, "last_success": NOW - 6 * 86400}, False, id="10-failures-6-days"),
    pytest.param({"attempts": 9, "last_success": NOW - 8 * 86400}, False, id="9-failures-a-week"),
    pytest.param({"attempts": 5, "last_try": NOW - 30}, False, id="tried-this-minute-is-spared"),
    pytest.param({"time": 0, "last_try": NOW - 60}, False, id="spared-to-the-second"),
])
def test_is_terrible_rules(fields: dict, terrible: bool) -> None:
    assert info_with(**fields).is_terrible(NOW) is terrible


def test_chance_falls_with_recent_tries_and_failures() -> None:
    assert am.chance(info_with(), NOW) == 1.0
    assert am.chance(info_with(last_try=NOW - 60), NOW) == pytest.approx(0.01)
    assert am.chance(info_with(attempts=2), NOW) == pytest.approx(0.66 ** 2)
    assert am.chance(info_with(attempts=20), NOW) == pytest.approx(0.66 ** 8)  # capped at 8


def test_connected_and_set_services_update_the_entry(store: Store, clock: Clock) -> None:
    table = manager(store, clock)
    address = ip("8.8.8.8", 8333)
    table.add([offer("8.8.8.8", seen=NOW - 3600)], ip("1.1.1.1"))
    table.connected(address, now=NOW - 3600 + 60)  # within 20 minutes: unchanged
    assert table.get(address).time == NOW - 3600
    table.connected(address)
    assert table.get(address).time == NOW
    table.set_services(address, 1 | 8)
    assert table.get(address).services == 9
    table.connected(ip("9.9.9.9"))  # unknown addresses are ignored
    table.set_services(ip("9.9.9.9"), 1)
    assert ip("9.9.9.9") not in table and address in table


# --- select ------------------------------------------------------------------------------------

def test_select_on_an_empty_table_returns_none(store: Store, clock: Clock) -> None:
    table = manager(store, clock)
    assert table.select() is None and table.select(new_only=True) is None
    assert table.select(networks=[Network.ONION]) is None
    assert table.get_addresses() == [] and table.select_tried_collision() is None
    table.resolve_collisions()  # nothing to do, nothing breaks


def test_select_returns_only_known_addresses_from_both_tables(store: Store, clock: Clock) -> None:
    table = manager(store, clock)
    known = spread_ipv4(50, random.Random(5))
    table.add([TimedAddress(address, NOW) for address in known], ip("1.1.1.1"))
    for address in known[:10]:
        table.good(address)
    tried = {info.address for info, _ in table.entries(True)}
    picks = [table.select() for _ in range(300)]
    assert {pick.address for pick in picks} <= set(known)
    assert any(pick.tried for pick in picks) and any(not pick.tried for pick in picks)
    assert all(not table.select(new_only=True).tried for _ in range(50))
    assert tried and all(pick.address in tried for pick in picks if pick.tried)


def test_select_filters_by_network(store: Store, clock: Clock) -> None:
    table = manager(store, clock)
    table.add([offer("8.8.8.8"), offer("2001:4860::8888")], ip("1.1.1.1"))
    assert {table.select(networks=[Network.IPV6]).address for _ in range(30)} == {ip("2001:4860::8888", 8333)}
    assert table.select(networks=[Network.ONION]) is None
    table.good(ip("8.8.8.8", 8333))
    assert table.select(new_only=True, networks=[Network.IPV4]) is None
    assert table.select(networks=[Network.IPV4]).address == ip("8.8.8.8", 8333)


def test_select_favours_addresses_not_just_tried(store: Store, clock: Clock) -> None:
    table = manager(store, clock)
    table.add([offer("8.8.8.8"), offer("9.9.9.9")], ip("1.1.1.1"))
    table.attempt(ip("8.8.8.8", 8333), count_failure=False)  # chance 1% for 10 minutes
    picks = [table.select().address for _ in range(400)]
    assert picks.count(ip("9.9.9.9", 8333)) > 300


# --- getaddr -----------------------------------------------------------------------------------

def fill(table: AddrMan, count: int, seed: int) -> None:
    addresses = spread_ipv4(count, random.Random(seed))
    sources = spread_ipv4(count // 8, random.Random(seed + 1))
    for n, address in enumerate(addresses):
        table.add([TimedAddress(address, NOW)], sources[n % len(sources)])


def test_getaddr_answers_23_percent_of_a_small_table(store: Store, clock: Clock) -> None:
    table = manager(store, clock)
    fill(table, 2500, 6)
    answer = table.get_addresses()
    assert len(answer) == len(table) * 23 // 100 < 1000
    assert len({entry.address for entry in answer}) == len(answer)
    assert {entry.address for entry in answer} <= {info.address for info, _ in table.entries(False)}
    assert len(table.get_addresses(max_count=0, max_pct=0)) == len(table)
    assert len(table.get_addresses(max_count=10)) == 10
    assert len(table.get_addresses(max_pct=150, max_count=0)) == len(table)  # percent capped at 100


def test_getaddr_caps_at_1000(store: Store, clock: Clock) -> None:
    table = manager(store, clock)
    fill(table, 6000, 8)
    assert len(table) * 23 // 100 > 1000
    assert len(table.get_addresses()) == 1000


def test_getaddr_skips_terrible_entries_and_filters_by_network_class(store: Store, clock: Clock) -> None:
    table = manager(store, clock)
    table.add([offer("8.8.8.8", seen=NOW - 31 * 86400), offer("9.9.9.9"),
               offer("2001:4860::8888"), offer("2002:102:304::1")], ip("1.1.1.1"))
    answer = {entry.address for entry in table.get_addresses(max_count=0, max_pct=0)}
    assert ip("8.8.8.8", 8333) not in answer and len(answer) == 3
    ipv6 = table.get_addresses(max_count=0, max_pct=0, network=Network.IPV6)
    assert [entry.address for entry in ipv6] == [ip("2001:4860::8888", 8333)]
    ipv4 = {entry.address for entry in table.get_addresses(max_count=0, max_pct=0, network=Network.IPV4)}
    assert ipv4 == {ip("9.9.9.9", 8333), ip("2002:102:304::1", 8333)}  # 6to4 counts as IPv4


# --- persistence -------------------------------------------------------------------------------

def test_restart_restores_contents_and_bucket_positions(tmp_path: Path, clock: Clock) -> None:
    with Store.open(tmp_path) as store:
        table = manager(store, clock)
        fill(table, 1500, 9)
        table.add([offer("2001:4860::8888", services=1033)], ip("1.1.1.1"))
        for info, _ in table.entries(False)[:200]:
            table.good(info.address)
        for info, _ in table.entries(False)[:20]:
            table.attempt(info.address)
        before = slots(table)
        sizes = (len(table), table.size(in_new=True), table.size(in_new=False), table.size(Network.IPV6))
        assert table.flush() > 0 and table.flush() == 0
    with Store.open(tmp_path) as store:
        reloaded = manager(store, clock, seed=99)
        after = slots(reloaded)
        assert (len(reloaded), reloaded.size(in_new=True), reloaded.size(in_new=False),
                reloaded.size(Network.IPV6)) == sizes
        assert after.keys() == before.keys()
        # last_try is memory-only, as in Core; everything else survives, in the same slots.
        assert after == {where: dataclasses.replace(info, last_try=0) for where, info in before.items()}


def test_changes_reach_the_store_only_at_flush(store: Store, clock: Clock) -> None:
    table = manager(store, clock)
    view = store.namespace("addrman")
    fill(table, 500, 10)
    assert [key for key, _ in view.iterator()] == [b"meta"]  # no write per address
    written = table.flush()  # addresses added and dropped again since the last flush cost nothing
    assert written == len(table) == sum(1 for _ in view.iterator(prefix=b"e/"))
    table.good(table.entries(False)[0][0].address)
    assert table.flush() == 1


def test_flush_deletes_records_of_forgotten_addresses(tmp_path: Path, clock: Clock) -> None:
    key, source = CORE_DETERMINISTIC_KEY, CORE_SOURCE

    def new_slot(address: PeerAddress) -> tuple[int, int]:
        bucket = new_bucket(key, address, source)
        return bucket, bucket_position(key, True, bucket, address)

    with Store.open(tmp_path) as store:
        table = manager(store, clock, secret=key)
        table.add([offer(f"250.1.1.{i}", 0) for i in range(1, 37)], source)
        table.flush()
        size = len(table)
        # 31 days on, the entries are terrible: a newcomer for an occupied slot overwrites one.
        occupied = {(p.bucket, p.position): info.address for info, p in table.entries(False)}
        clock.now += 31 * 86400
        newcomer = next(address for address in (ip(f"250.1.2.{i}") for i in range(256))
                        if new_slot(address) in occupied)
        victim = occupied[new_slot(newcomer)]
        assert table.add([TimedAddress(newcomer, clock.now)], source) == 1
        assert victim not in table and len(table) == size
        # Offered again, the victim finds its slot taken by a fresh entry and is dropped at once;
        # its old record must still go.
        assert table.add([TimedAddress(victim, clock.now)], source) == 0 and victim not in table
        assert table.flush() == 2  # the newcomer's record, the victim's deletion
        assert store.namespace("addrman").get(b"e/" + bytes([victim.network]) + victim.raw + b"\x00\x00") is None
        assert sum(1 for _ in store.namespace("addrman").iterator(prefix=b"e/")) == size
    with Store.open(tmp_path) as store:
        reloaded = manager(store, clock)
        assert victim not in reloaded and newcomer in reloaded and len(reloaded) == size


def _saved_table(tmp_path: Path, clock: Clock) -> bytes:
    with Store.open(tmp_path) as store:
        table = manager(store, clock)
        fill(table, 300, 11)
        table.flush()
        return store.namespace("addrman").get(b"meta")


@pytest.mark.parametrize(("damage", "reason"), [
    (lambda view: view.put(b"e/" + bytes([1, 8, 8, 8, 8, 0x20, 0x8D]), b"\x00garbage"), "record 652f01"),
    (lambda view: view.put(b"e/\x09\x01\x02", b""), "record 652f09"),
    (lambda view: view.put(*_record(ip("8.8.8.8", 1), True, [5], ip("1.1.1.1"))), "inconsistent fields"),
    (lambda view: view.put(b"meta", b"\x02" + bytes(32)), "format version 2, this code reads 1"),
    (lambda view: view.put(b"meta", b"\x01short"), "header of 6 bytes"),
    (lambda view: view.delete(b"meta"), "records without a header"),
])
def test_undecodable_store_is_discarded_not_fatal(tmp_path: Path, clock: Clock, damage, reason, caplog) -> None:
    old_meta = _saved_table(tmp_path, clock)
    with Store.open(tmp_path) as store:
        damage(store.namespace("addrman"))
    with caplog.at_level(logging.WARNING, logger="pantheon.net.addrman"), Store.open(tmp_path) as store:
        table = manager(store, clock)
        assert len(table) == 0 and table.select() is None
        assert [key for key, _ in store.namespace("addrman").iterator()] == [b"meta"]
        assert store.namespace("addrman").get(b"meta") != old_meta  # a new secret
        table.add([offer("8.8.8.8")], ip("1.1.1.1"))
        assert len(table) == 1
    [warning] = caplog.records
    assert "stored table unusable" in warning.getMessage() and reason in warning.getMessage()
    assert "discarded" in warning.getMessage()


def test_corrupt_table_files_are_discarded_not_fatal(tmp_path: Path, clock: Clock, caplog) -> None:
    with Store.open(tmp_path) as store:
        table = manager(store, clock)
        fill(table, 2000, 12)
        table.flush()
        store._db.compact_range()
    zero_table_blocks(tmp_path / DB_DIRNAME)
    with caplog.at_level(logging.WARNING), Store.open(tmp_path) as store:
        table = manager(store, clock)
        assert len(table) == 0 and table.select() is None
    assert any("stored table unusable" in record.getMessage() and "Corruption" in record.getMessage()
               for record in caplog.records)


def _record(address: PeerAddress, tried: bool, buckets: list[int], source: PeerAddress) -> tuple[bytes, bytes]:
    """A stored entry, built from the layout in addrman's module docstring."""
    key = b"e/" + bytes([address.network]) + address.raw + address.port.to_bytes(2, "big")
    value = struct.pack(">BQqqIBB", 1 if tried else 0, 0, NOW, NOW if tried else 0, 0, source.network, len(source.raw))
    value += source.raw + bytes([len(buckets)]) + b"".join(struct.pack(">H", b) for b in buckets)
    return key, value


def test_stored_entries_that_no_longer_fit_are_dropped(tmp_path: Path, clock: Clock, caplog) -> None:
    source = CORE_SOURCE
    with Store.open(tmp_path) as store:
        table = manager(store, clock, secret=CORE_DETERMINISTIC_KEY)
        add_and_good(table, range(1, 37))
        table.flush()
        view = store.namespace("addrman")
        # 36 is stored as tried in the slot 19 holds; 10.0.0.1 is not routable; 8.8.8.8 is fine;
        # 9.9.x.y shares 8.8.8.8's slot in bucket 3 and comes later in key order.
        clash = next(candidate for candidate in (ip(f"9.9.{i // 256}.{i % 256}", 8333) for i in range(1, 65536))
                     if bucket_position(CORE_DETERMINISTIC_KEY, True, 3, candidate)
                     == bucket_position(CORE_DETERMINISTIC_KEY, True, 3, ip("8.8.8.8", 8333)))
        for record in (_record(ip("250.1.1.36"), True, [], source), _record(ip("10.0.0.1"), False, [3], source),
                       _record(ip("8.8.8.8", 8333), False, [3, 700], source), _record(clash, False, [3], source)):
            view.put(*record)
    with caplog.at_level(logging.INFO, logger="pantheon.net.addrman"), Store.open(tmp_path) as store:
        table = manager(store, clock, secret=CORE_DETERMINISTIC_KEY)
        assert table.get(ip("250.1.1.19")).tried and ip("250.1.1.36") not in table
        assert ip("10.0.0.1") not in table and clash not in table
        assert [p.bucket for info, p in table.entries(False) if info.address == ip("8.8.8.8", 8333)] == [3, 700]
        assert table.flush() == 3  # the dropped records are deleted
        assert store.namespace("addrman").get(_record(ip("10.0.0.1"), False, [3], source)[0]) is None
    messages = [record.getMessage() for record in caplog.records]
    assert any("dropped 3 stored addresses" in message for message in messages)
    assert any("loaded 36 addresses (1 new, 35 tried)" in message for message in messages)


def test_secret_is_persisted_and_checked(tmp_path: Path, clock: Clock) -> None:
    address, source = ip("250.1.2.1", 8333), ip("250.1.2.1")
    with Store.open(tmp_path) as store:
        manager(store, clock, secret=CORE_TEST_KEY_1).add([TimedAddress(address, NOW)], source)
        assert store.namespace("addrman").get(b"meta") == b"\x01" + CORE_TEST_KEY_1
    with Store.open(tmp_path) as store:
        table = manager(store, clock)
        assert len(table) == 0  # never flushed
        table.add([TimedAddress(address, NOW)], source)
        assert [p.bucket for _, p in table.entries(False)] == [786]  # still Core's key 1
        with pytest.raises(ValueError, match="different secret"):
            manager(store, clock, secret=CORE_TEST_KEY_2)
        with pytest.raises(ValueError, match="32 bytes"):
            manager(store, clock, secret=b"short")


def test_fresh_tables_get_distinct_random_secrets(tmp_path: Path, clock: Clock) -> None:
    secrets = set()
    for n in range(3):
        with Store.open(tmp_path / str(n)) as store:
            manager(store, clock)
            meta = store.namespace("addrman").get(b"meta")
            assert len(meta) == 33 and meta[0] == 1
            secrets.add(meta[1:])
    assert len(secrets) == 3


def test_additions_are_logged_in_cores_words(store: Store, clock: Clock, caplog) -> None:
    """Core's addrman lines: each placement with its bucket and slot, then a summary."""
    table = manager(store, clock)
    with caplog.at_level(logging.DEBUG, logger="pantheon.net.addrman"):
        assert table.add([offer("9.9.9.9"), offer("10.0.0.1")], ip("1.2.3.4")) == 1  # 10/8 is not routable
    [((tried, bucket, position), placed)] = slots(table).items()
    assert not tried and placed.address == ip("9.9.9.9", 8333)
    assert f"Added 9.9.9.9:8333 to new[{bucket}][{position}]" in caplog.text
    assert "Added 1 addresses (of 2) from 1.2.3.4: 0 tried, 1 new" in caplog.text
