"""Bans (persisted in Core's banlist.json) and discouragement (in memory, bounded)."""

from __future__ import annotations

import ipaddress
import json
import logging
import struct
from pathlib import Path

import pytest

from pantheon.net.address import Network, PeerAddress
from pantheon.net.banlist import DEFAULT_BAN_TIME, DISCOURAGED_MAX, BanEntry, BanList, read_banlist_file
from pantheon.store import Store
from helpers.clock import NOW, Clock

TOR_V3 = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion"


@pytest.fixture
def banfile(tmp_path: Path) -> Path:
    return tmp_path / "banlist.json"


def test_a_banned_address_is_banned_on_every_port(banfile: Path, clock: Clock) -> None:
    bans = BanList(banfile, clock=clock)
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
def test_subnet_matching(banfile: Path, clock: Clock, subnet: str, inside: list[str], outside: list[str]) -> None:
    bans = BanList(banfile, clock=clock)
    bans.ban(subnet)
    assert [address for address in inside if not bans.is_banned(address)] == []
    assert [address for address in outside if bans.is_banned(address)] == []


def test_host_bits_are_cleared_and_forms_agree(banfile: Path, clock: Clock) -> None:
    bans = BanList(banfile, clock=clock)
    assert bans.ban("10.1.2.3/8").subnet == ipaddress.ip_network("10.0.0.0/8")
    assert bans.ban(ipaddress.ip_network("2001:4860::/32")).subnet.prefixlen == 32
    assert bans.ban(PeerAddress.from_ip("2001:4860::1", 8333)).subnet == ipaddress.ip_network("2001:4860::1/128")
    assert [str(entry.subnet) for entry in bans.list()] == ["10.0.0.0/8", "2001:4860::/32", "2001:4860::1/128"]


def test_an_overlay_address_is_banned_as_itself_and_persists(banfile: Path, clock: Clock) -> None:
    """Core bans a Tor or I2P address as a single-address CSubNet; no IP subnet covers one."""
    bans = BanList(banfile, clock=clock)
    tor = PeerAddress.parse(TOR_V3, 9050)
    bans.ban("0.0.0.0/0")
    assert not bans.is_banned(tor)
    entry = bans.ban(tor)
    assert bans.is_banned(tor) and bans.is_banned(TOR_V3) and entry.address == TOR_V3
    assert [e.address for e in BanList(banfile, clock=clock).list()] == ["0.0.0.0/0", TOR_V3]  # reloaded
    assert bans.unban(TOR_V3) and not bans.is_banned(tor)
    with pytest.raises(ValueError):
        bans.ban("not an address")


def test_bans_list_in_cores_order_and_default_to_the_configured_time(banfile: Path, clock: Clock) -> None:
    """Core's banmap order: network (IPv4, IPv6, Tor), then address bytes, then netmask."""
    bans = BanList(banfile, clock=clock, default_ban_time=1234)
    for target in (TOR_V3, "2001:4d48:ac57:400:cacf:e9ff:fe1d:9c63/19", "192.168.0.2", "127.0.0.0/32", "127.0.0.0/24"):
        bans.ban(target)
    assert [entry.address for entry in bans.list()] == [
        "127.0.0.0/24", "127.0.0.0/32", "192.168.0.2/32", "2001:4000::/19", TOR_V3]
    assert {entry.until - entry.created for entry in bans.list()} == {1234}


def test_until_duration_and_default(banfile: Path, clock: Clock) -> None:
    bans = BanList(banfile, clock=clock)
    assert bans.ban("1.1.1.1", NOW + 60).until == NOW + 60
    assert bans.ban("2.2.2.2", duration=3600).until == NOW + 3600
    assert bans.ban("3.3.3.3").until == NOW + 24 * 60 * 60
    with pytest.raises(ValueError, match="not both"):
        bans.ban("4.4.4.4", NOW + 60, duration=60)


def test_a_ban_is_extended_never_shortened(banfile: Path, clock: Clock) -> None:
    bans = BanList(banfile, clock=clock)
    bans.ban("1.1.1.1", duration=7200)
    assert bans.ban("1.1.1.1", duration=60).until == NOW + 7200
    clock.now += 10
    assert bans.ban("1.1.1.1", duration=7200) == BanEntry(ipaddress.ip_network("1.1.1.1/32"), NOW + 10, NOW + 7210)
    assert len(bans.list()) == 1


def test_bans_expire_and_are_swept_on_list(banfile: Path, clock: Clock, caplog) -> None:
    bans = BanList(banfile, clock=clock)
    bans.ban("1.1.1.1", duration=60)
    bans.ban("10.0.0.0/8", duration=3600)
    clock.now += 59
    assert bans.is_banned("1.1.1.1")
    clock.now += 1
    assert not bans.is_banned("1.1.1.1") and bans.is_banned("10.9.9.9")
    with caplog.at_level(logging.INFO, logger="pantheon.net.banlist"):
        assert [str(entry.subnet) for entry in bans.list()] == ["10.0.0.0/8"]
    assert "swept 1 expired bans" in caplog.text
    assert [entry.address for entry in read_banlist_file(banfile)] == ["10.0.0.0/8"]


def test_unban_and_clear(banfile: Path, clock: Clock) -> None:
    bans = BanList(banfile, clock=clock)
    bans.ban("1.1.1.1")
    bans.ban("10.0.0.0/8")
    assert not bans.unban("10.0.0.0/16")  # only the exact subnet lifts a ban
    assert bans.unban("1.1.1.1") and not bans.unban("1.1.1.1")
    assert not bans.is_banned("1.1.1.1") and bans.is_banned("10.0.0.1")
    bans.clear()
    assert bans.list() == [] and not bans.is_banned("10.0.0.1")
    assert read_banlist_file(banfile) == []


def test_the_file_is_cores_banlist_json(banfile: Path, clock: Clock) -> None:
    """Core's keys and order, so a ban list moves between Core and Pantheon."""
    bans = BanList(banfile, clock=clock)
    bans.ban(TOR_V3)
    bans.ban("2001:4d48:ac57:400:cacf:e9ff:fe1d:9c63/19", duration=1000)
    bans.ban("127.0.0.0/24", NOW + 120)
    assert json.loads(banfile.read_text()) == {"banned_nets": [
        {"version": 1, "ban_created": NOW, "banned_until": NOW + 120, "address": "127.0.0.0/24"},
        {"version": 1, "ban_created": NOW, "banned_until": NOW + 1000, "address": "2001:4000::/19"},
        {"version": 1, "ban_created": NOW, "banned_until": NOW + DEFAULT_BAN_TIME, "address": TOR_V3}]}
    assert list(json.loads(banfile.read_text())["banned_nets"][0]) == ["version", "ban_created", "banned_until",
                                                                     "address"]
    assert not banfile.with_name("banlist.json.new").exists()  # replaced by rename, nothing left over


def test_bans_survive_restart_and_expired_ones_are_swept_on_load(banfile: Path, clock: Clock, caplog) -> None:
    bans = BanList(banfile, clock=clock)
    bans.ban("203.0.113.0/24", duration=7 * 86400)
    bans.ban("2001:db8::/32", duration=86400)
    bans.ban("1.1.1.1", duration=60)
    kept = [entry for entry in bans.list() if entry.until > NOW + 60]
    clock.now += 3600
    with caplog.at_level(logging.DEBUG, logger="pantheon.net.banlist"):
        bans = BanList(banfile, clock=clock)
    assert bans.list() == kept
    assert bans.is_banned("203.0.113.200") and bans.is_banned("2001:db8::5")
    assert not bans.is_banned("1.1.1.1")
    assert len(read_banlist_file(banfile)) == 2
    assert "swept 1 expired bans" in caplog.text and "Loaded 2 banned node addresses/subnets" in caplog.text
    assert "Recreating" not in caplog.text


def test_a_missing_file_is_recreated_empty_as_core_does(banfile: Path, clock: Clock, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="pantheon.net.banlist"):
        bans = BanList(banfile, clock=clock)
    assert "Recreating the banlist database" in caplog.text
    assert bans.list() == [] and json.loads(banfile.read_text()) == {"banned_nets": []}


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe", b"[]", b'{"banned_nets": {}}'])
def test_an_unreadable_file_is_kept_aside_and_recreated(banfile: Path, clock: Clock, caplog, content: bytes) -> None:
    banfile.write_bytes(content)
    with caplog.at_level(logging.INFO, logger="pantheon.net.banlist"):
        bans = BanList(banfile, clock=clock)
    assert bans.list() == [] and read_banlist_file(banfile) == []
    [aside] = banfile.parent.glob("banlist.json.unreadable-*")
    assert aside.read_bytes() == content  # nothing is lost: the operator can look at it
    assert "Cannot load banlist" in caplog.text and "Recreating the banlist database" in caplog.text


def test_an_unreadable_entry_is_dropped_and_the_rest_kept(banfile: Path, clock: Clock, caplog) -> None:
    good = {"version": 1, "ban_created": NOW, "banned_until": NOW + 60, "address": "10.0.0.0/8"}
    banfile.write_text(json.dumps({"banned_nets": [
        good, {**good, "version": 2}, {**good, "address": "10.0.0.1/42"}, {**good, "address": 7},
        {**good, "banned_until": "soon"}, "not an object"]}))
    with caplog.at_level(logging.WARNING, logger="pantheon.net.banlist"):
        bans = BanList(banfile, clock=clock)
    assert [entry.address for entry in bans.list()] == ["10.0.0.0/8"]
    assert caplog.text.count("Dropping entry with") == 5
    assert "unknown version (2)" in caplog.text and "unparseable address or subnet (10.0.0.1/42)" in caplog.text


def test_bans_an_older_version_kept_in_the_store_move_into_the_file(tmp_path: Path, banfile: Path, clock: Clock,
                                                                     caplog) -> None:
    def record(until: int) -> bytes:
        return struct.pack(">Bqq", 1, NOW, until)

    with Store.open(tmp_path / "db") as store:
        view = store.namespace("bans")
        view.put(b"\x04" + bytes([10, 0, 0, 0]) + b"\x08", record(NOW + 600))
        view.put(b"\x06" + bytes.fromhex("20010db8") + bytes(12) + b"\x20", record(NOW + 900))
        view.put(bytes([0x80 | Network.ONION]) + PeerAddress.parse(TOR_V3).raw, record(NOW + 300))
        view.put(b"\x04\x01\x02\x03\x04\x20", b"short")  # unreadable: dropped with a line
        with caplog.at_level(logging.INFO, logger="pantheon.net.banlist"):
            bans = BanList(banfile, clock=clock, legacy_store=store)
        assert list(view.iterator()) == []
    assert [entry.address for entry in bans.list()] == ["10.0.0.0/8", "2001:db8::/32", TOR_V3]
    assert [entry.until for entry in read_banlist_file(banfile)] == [NOW + 600, NOW + 900, NOW + 300]
    assert "moving 3 bans from the store into banlist.json" in caplog.text
    assert "dropping unreadable stored ban record" in caplog.text


def test_discouragement_is_per_address_and_in_memory(banfile: Path, clock: Clock) -> None:
    bans = BanList(banfile, clock=clock)
    bans.discourage(PeerAddress.from_ip("1.2.3.4", 8333))
    bans.discourage(PeerAddress.parse(TOR_V3, 9050))
    assert bans.is_discouraged("1.2.3.4") and bans.is_discouraged(PeerAddress.from_ip("1.2.3.4", 1))
    assert bans.is_discouraged(PeerAddress.parse(TOR_V3)) and not bans.is_discouraged("1.2.3.5")
    assert not bans.is_banned("1.2.3.4")  # discouraged is not banned
    assert read_banlist_file(banfile) == []
    assert not BanList(banfile, clock=clock).is_discouraged("1.2.3.4")


def test_discouragement_is_bounded_oldest_first(banfile: Path, clock: Clock) -> None:
    assert DISCOURAGED_MAX == 50_000
    bans = BanList(banfile, clock=clock, max_discouraged=100)
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


def test_default_discouragement_bound_holds(banfile: Path, clock: Clock) -> None:
    bans = BanList(banfile, clock=clock)
    for n in range(DISCOURAGED_MAX + 500):
        bans.discourage(PeerAddress(Network.IPV4, (0x0B000000 + n).to_bytes(4, "big")))
    assert bans.discouraged_count == DISCOURAGED_MAX
    assert not bans.is_discouraged(ipaddress.IPv4Address(0x0B000000))
    assert bans.is_discouraged(ipaddress.IPv4Address(0x0B000000 + DISCOURAGED_MAX + 499))
