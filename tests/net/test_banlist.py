"""Bans (persisted in a real LevelDB store) and discouragement (in memory, bounded)."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

import pytest

from pantheon.net.address import Network, PeerAddress
from pantheon.net.banlist import DEFAULT_BAN_TIME, DISCOURAGED_MAX, BanEntry, BanList
from pantheon.store import Store
from helpers.clock import NOW, Clock

TOR_V3 = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion"


def test_a_banned_address_is_banned_on_every_port(store: Store, clock: Clock) -> None:
    bans = BanList(store, clock=clock)
    entry = bans.ban("203.0.113.7")
    assert entry == BanEntry(ipaddress.ip_network("203.0.113.7/32"), NOW, NOW + DEFAULT_BAN_TIME)
    assert bans.is_banned(PeerAddress.from_ip("203.0.113.7", 8333))
    assert bans.is_banned("203.0.113.7") and bans.is_banned(ipaddress.ip_address("203.0.113.7"))
    assert bans.is_banned("::ffff:203.0.113.7")  # the IPv4-mapped form is the same host
    assert not bans.is_banned("203.0.113.8")


@pytest.mark.parametrize(("subnet", "inside", "outside"), [
    ("10.0.0.0/8", ["10.0.0.0", "10.255.255.255", "::ffff:10.1.2.3"], ["11.0.0.0", "9.255.255.255", "::a00:1"]),
    ("192.168.4.0/23", ["192.168.4.1", "192.168.5.255"], ["192.168.6.0", "192.168.3.255"]),
    ("1.2.3.4/32", ["1.2.3.4"], ["1.2.3.5"]),
    ("2001:db8::/32", ["2001:db8::1", "2001:db8:ffff::1"], ["2001:db9::1", "10.0.0.1"]),
    ("2001:4860:4860::/48", ["2001:4860:4860::8888"], ["2001:4860:4861::1"]),
    ("::/0", ["::1", "2002::1"], ["1.2.3.4"]),  # all of IPv6 but none of IPv4
    ("0.0.0.0/0", ["1.2.3.4", "255.255.255.255"], ["::1"]),
])
def test_subnet_matching(store: Store, clock: Clock, subnet: str, inside: list[str], outside: list[str]) -> None:
    bans = BanList(store, clock=clock)
    bans.ban(subnet)
    assert [address for address in inside if not bans.is_banned(address)] == []
    assert [address for address in outside if bans.is_banned(address)] == []


def test_host_bits_are_cleared_and_forms_agree(store: Store, clock: Clock) -> None:
    bans = BanList(store, clock=clock)
    assert bans.ban("10.1.2.3/8").subnet == ipaddress.ip_network("10.0.0.0/8")
    assert bans.ban(ipaddress.ip_network("2001:4860::/32")).subnet.prefixlen == 32
    assert bans.ban(PeerAddress.from_ip("2001:4860::1", 8333)).subnet == ipaddress.ip_network("2001:4860::1/128")
    assert [str(entry.subnet) for entry in bans.list()] == ["10.0.0.0/8", "2001:4860::/32", "2001:4860::1/128"]


def test_an_overlay_address_is_banned_as_itself_and_persists(store: Store, clock: Clock) -> None:
    """Core bans a Tor or I2P address as a single-address CSubNet; no IP subnet covers one."""
    bans = BanList(store, clock=clock)
    tor = PeerAddress.parse(TOR_V3, 9050)
    bans.ban("0.0.0.0/0")
    assert not bans.is_banned(tor)
    entry = bans.ban(tor)
    assert bans.is_banned(tor) and bans.is_banned(TOR_V3) and entry.address == TOR_V3
    assert [e.address for e in BanList(store, clock=clock).list()] == ["0.0.0.0/0", TOR_V3]  # reloaded
    assert bans.unban(TOR_V3) and not bans.is_banned(tor)
    with pytest.raises(ValueError):
        bans.ban("not an address")


def test_bans_list_in_cores_order_and_default_to_the_configured_time(store: Store, clock: Clock) -> None:
    """Core's banmap order: network (IPv4, IPv6, Tor), then address bytes, then netmask."""
    bans = BanList(store, clock=clock, default_ban_time=1234)
    for target in (TOR_V3, "2001:4d48:ac57:400:cacf:e9ff:fe1d:9c63/19", "192.168.0.2", "127.0.0.0/32", "127.0.0.0/24"):
        bans.ban(target)
    assert [entry.address for entry in bans.list()] == [
        "127.0.0.0/24", "127.0.0.0/32", "192.168.0.2/32", "2001:4000::/19", TOR_V3]
    assert {entry.until - entry.created for entry in bans.list()} == {1234}


def test_until_duration_and_default(store: Store, clock: Clock) -> None:
    bans = BanList(store, clock=clock)
    assert bans.ban("1.1.1.1", NOW + 60).until == NOW + 60
    assert bans.ban("2.2.2.2", duration=3600).until == NOW + 3600
    assert bans.ban("3.3.3.3").until == NOW + 24 * 60 * 60
    with pytest.raises(ValueError, match="not both"):
        bans.ban("4.4.4.4", NOW + 60, duration=60)


def test_a_ban_is_extended_never_shortened(store: Store, clock: Clock) -> None:
    bans = BanList(store, clock=clock)
    bans.ban("1.1.1.1", duration=7200)
    assert bans.ban("1.1.1.1", duration=60).until == NOW + 7200
    clock.now += 10
    assert bans.ban("1.1.1.1", duration=7200) == BanEntry(ipaddress.ip_network("1.1.1.1/32"), NOW + 10, NOW + 7210)
    assert len(bans.list()) == 1


def test_bans_expire_and_are_swept_on_list(store: Store, clock: Clock, caplog) -> None:
    bans = BanList(store, clock=clock)
    bans.ban("1.1.1.1", duration=60)
    bans.ban("10.0.0.0/8", duration=3600)
    clock.now += 59
    assert bans.is_banned("1.1.1.1")
    clock.now += 1
    assert not bans.is_banned("1.1.1.1") and bans.is_banned("10.9.9.9")
    with caplog.at_level(logging.INFO, logger="pantheon.net.banlist"):
        assert [str(entry.subnet) for entry in bans.list()] == ["10.0.0.0/8"]
    assert "swept 1 expired bans" in caplog.text
    assert len(list(store.namespace("bans").iterator())) == 1


def test_unban_and_clear(store: Store, clock: Clock) -> None:
    bans = BanList(store, clock=clock)
    bans.ban("1.1.1.1")
    bans.ban("10.0.0.0/8")
    assert not bans.unban("10.0.0.0/16")  # only the exact subnet lifts a ban
    assert bans.unban("1.1.1.1") and not bans.unban("1.1.1.1")
    assert not bans.is_banned("1.1.1.1") and bans.is_banned("10.0.0.1")
    bans.clear()
    assert bans.list() == [] and not bans.is_banned("10.0.0.1")
    assert list(store.namespace("bans").iterator()) == []


def test_bans_survive_restart_and_expired_ones_are_swept_on_load(tmp_path: Path, clock: Clock, caplog) -> None:
    with Store.open(tmp_path) as store:
        bans = BanList(store, clock=clock)
        bans.ban("203.0.113.0/24", duration=7 * 86400)
        bans.ban("2001:db8::/32", duration=86400)
        bans.ban("1.1.1.1", duration=60)
        kept = [entry for entry in bans.list() if entry.until > NOW + 60]
    clock.now += 3600
    with caplog.at_level(logging.INFO, logger="pantheon.net.banlist"), Store.open(tmp_path) as store:
        bans = BanList(store, clock=clock)
        assert bans.list() == kept
        assert bans.is_banned("203.0.113.200") and bans.is_banned("2001:db8::5")
        assert not bans.is_banned("1.1.1.1")
        assert len(list(store.namespace("bans").iterator())) == 2
    assert "swept 1 expired bans" in caplog.text and "loaded 2 bans" in caplog.text


def test_an_unreadable_record_is_dropped_and_the_rest_kept(tmp_path: Path, clock: Clock, caplog) -> None:
    with Store.open(tmp_path) as store:
        BanList(store, clock=clock).ban("10.0.0.0/8")
        view = store.namespace("bans")
        view.put(b"\x04\x01\x02\x03\x04\x20", b"short")  # truncated value
        view.put(b"\x04\x01\x02\x03\x05\x18", b"\x01" + bytes(16))  # host bits under a /24
        view.put(b"\x06" + bytes(4) + b"\x20", b"\x01" + bytes(16))  # IPv6 key, IPv4-sized address
        view.put(b"\x04\x01\x02\x03\x06\x20", b"\x02" + bytes(16))  # unknown format version
    with caplog.at_level(logging.WARNING, logger="pantheon.net.banlist"), Store.open(tmp_path) as store:
        bans = BanList(store, clock=clock)
        assert [str(entry.subnet) for entry in bans.list()] == ["10.0.0.0/8"]
        assert len(list(store.namespace("bans").iterator())) == 1
    assert caplog.text.count("dropping unreadable ban record") == 4


def test_discouragement_is_per_address_and_in_memory(tmp_path: Path, clock: Clock) -> None:
    with Store.open(tmp_path) as store:
        bans = BanList(store, clock=clock)
        bans.discourage(PeerAddress.from_ip("1.2.3.4", 8333))
        bans.discourage(PeerAddress.parse(TOR_V3, 9050))
        assert bans.is_discouraged("1.2.3.4") and bans.is_discouraged(PeerAddress.from_ip("1.2.3.4", 1))
        assert bans.is_discouraged(PeerAddress.parse(TOR_V3)) and not bans.is_discouraged("1.2.3.5")
        assert not bans.is_banned("1.2.3.4")  # discouraged is not banned
        assert list(store.namespace("bans").iterator()) == []
    with Store.open(tmp_path) as store:
        assert not BanList(store, clock=clock).is_discouraged("1.2.3.4")


def test_discouragement_is_bounded_oldest_first(store: Store, clock: Clock) -> None:
    assert DISCOURAGED_MAX == 50_000
    bans = BanList(store, clock=clock, max_discouraged=100)
    addresses = [f"198.51.{n // 256}.{n % 256}" for n in range(150)]
    for address in addresses[:100]:
        bans.discourage(address)
    bans.discourage(addresses[0])  # seen again: now the newest
    for address in addresses[100:]:
        bans.discourage(address)
    assert bans.discouraged_count == 100
    assert bans.is_discouraged(addresses[0])
    assert [a for a in addresses[1:51] if bans.is_discouraged(a)] == []
    assert all(bans.is_discouraged(a) for a in addresses[51:])


def test_default_discouragement_bound_holds(store: Store, clock: Clock) -> None:
    bans = BanList(store, clock=clock)
    for n in range(DISCOURAGED_MAX + 500):
        bans.discourage(PeerAddress(Network.IPV4, (0x0B000000 + n).to_bytes(4, "big")))
    assert bans.discouraged_count == DISCOURAGED_MAX
    assert not bans.is_discouraged(ipaddress.IPv4Address(0x0B000000))
    assert bans.is_discouraged(ipaddress.IPv4Address(0x0B000000 + DISCOURAGED_MAX + 499))
