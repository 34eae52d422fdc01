"""Peer addresses against Bitcoin Core's documented cases.

Rows come from Core's src/test/netbase_tests.cpp (netbase_properties, netbase_getgroup) and
net_tests.cpp (Tor v3 and I2P names, BIP155 handling); each row names its RFC.
"""

from __future__ import annotations

import hashlib

import pytest

from helpers.net import ip
from pantheon import limits
from pantheon.net.address import ADDRESS_SIZES, BIP155_IDS, Network, PeerAddress, TimedAddress

TOR_V3 = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion"
I2P = "udhdrtrcetjm5sxzskjyr5ztpeszydbh4dpl3pl4utgqqw2v4jna.b32.i2p"


# (address, valid, routable, local): Core's IsValid / IsRoutable / IsLocal.
CLASSIFICATION = [
    pytest.param("8.8.8.8", True, True, False, id="public-ipv4"),
    pytest.param("250.1.1.1", True, True, False, id="class-E-is-routable-in-core"),
    pytest.param("2001::1", True, True, False, id="teredo-routable"),
    pytest.param("2001:4860::8888", True, True, False, id="public-ipv6"),
    pytest.param("127.0.0.1", True, False, True, id="loopback-v4"),
    pytest.param("0.1.2.3", True, False, True, id="this-network-v4"),
    pytest.param("::1", True, False, True, id="loopback-v6"),
    pytest.param("10.0.0.1", True, False, False, id="RFC1918-10"),
    pytest.param("172.16.0.1", True, False, False, id="RFC1918-172.16"),
    pytest.param("172.31.255.255", True, False, False, id="RFC1918-172.31"),
    pytest.param("172.15.255.255", True, True, False, id="RFC1918-below"),
    pytest.param("172.32.0.0", True, True, False, id="RFC1918-above"),
    pytest.param("192.168.1.1", True, False, False, id="RFC1918-192.168"),
    pytest.param("198.18.0.0", True, False, False, id="RFC2544-low"),
    pytest.param("198.19.255.255", True, False, False, id="RFC2544-high"),
    pytest.param("198.20.0.0", True, True, False, id="RFC2544-above"),
    pytest.param("169.254.1.1", True, False, False, id="RFC3927"),
    pytest.param("100.64.0.1", True, False, False, id="RFC6598-low"),
    pytest.param("100.127.255.255", True, False, False, id="RFC6598-high"),
    pytest.param("100.128.0.0", True, True, False, id="RFC6598-above"),
    pytest.param("192.0.2.1", True, False, False, id="RFC5737-1"),
    pytest.param("198.51.100.1", True, False, False, id="RFC5737-2"),
    pytest.param("203.0.113.1", True, False, False, id="RFC5737-3"),
    pytest.param("fe80::1", True, False, False, id="RFC4862"),
    pytest.param("fe80:0:0:1::1", True, True, False, id="RFC4862-only-the-/64"),
    pytest.param("fc00::1", True, False, False, id="RFC4193-fc"),
    pytest.param("fdff::1", True, False, False, id="RFC4193-fd"),
    pytest.param("2001:10::1", True, False, False, id="RFC4843"),
    pytest.param("2001:20::1", True, False, False, id="RFC7343"),
    pytest.param("2001:db8::1", False, False, False, id="RFC3849-invalid"),
    pytest.param("::", False, False, False, id="unspecified-v6"),
    pytest.param("0.0.0.0", False, False, True, id="INADDR_ANY"),
    pytest.param("255.255.255.255", False, False, False, id="INADDR_NONE"),
    pytest.param("2002:102:304::1", True, True, False, id="RFC3964-6to4"),
    pytest.param("64:ff9b::102:304", True, True, False, id="RFC6052"),
    pytest.param("::ffff:0:102:304", True, True, False, id="RFC6145"),
]


@pytest.mark.parametrize(("text", "valid", "routable", "local"), CLASSIFICATION)
def test_classification_matches_core(text: str, valid: bool, routable: bool, local: bool) -> None:
    address = ip(text)
    assert (address.is_valid, address.is_routable, address.is_local) == (valid, routable, local)


def test_overlay_networks_classify_as_core() -> None:
    tor, i2p = PeerAddress.parse(TOR_V3), PeerAddress.parse(I2P)
    cjdns = PeerAddress(Network.CJDNS, bytes.fromhex("fc00000100020003") + bytes(8))
    bad_cjdns = PeerAddress(Network.CJDNS, bytes.fromhex("fd") + bytes(15))
    internal = PeerAddress.internal("seed.example.org")
    assert tor.is_routable and i2p.is_routable
    assert cjdns.is_routable  # inside fc00::/7, but RFC4193 applies to the IPv6 network only
    assert not bad_cjdns.is_valid and not bad_cjdns.is_routable
    assert not internal.is_valid and not internal.is_routable
    assert [a.net_class for a in (tor, i2p, cjdns, bad_cjdns, internal)] == [
        Network.ONION, Network.I2P, Network.CJDNS, Network.UNROUTABLE, Network.INTERNAL]


# (address, netgroup): Core's netbase_getgroup, plus the overlay networks' rules.
NETGROUPS = [
    pytest.param("127.0.0.1", [0], id="local"),
    pytest.param("::1", [0], id="local-v6"),
    pytest.param("10.0.0.1", [0], id="RFC1918"),
    pytest.param("169.254.1.1", [0], id="RFC3927"),
    pytest.param("2001:db8::1", [0], id="invalid"),
    pytest.param("1.2.3.4", [1, 1, 2], id="ipv4-/16"),
    pytest.param("::ffff:1.2.3.4", [1, 1, 2], id="ipv4-mapped"),
    pytest.param("::ffff:0:102:304", [1, 1, 2], id="RFC6145"),
    pytest.param("64:ff9b::102:304", [1, 1, 2], id="RFC6052"),
    pytest.param("2002:102:304:9999:9999:9999:9999:9999", [1, 1, 2], id="RFC3964"),
    pytest.param("2001:0:9999:9999:9999:9999:fefd:fcfb", [1, 1, 2], id="RFC4380-teredo"),
    pytest.param("2001:470:abcd:9999:9999:9999:9999:9999", [2, 32, 1, 4, 112, 175], id="he.net-/36"),
    pytest.param("2001:2001:9999:9999:9999:9999:9999:9999", [2, 32, 1, 32, 1], id="ipv6-/32"),
]


@pytest.mark.parametrize(("text", "group"), NETGROUPS)
def test_netgroup_matches_core(text: str, group: list[int]) -> None:
    assert ip(text).netgroup() == bytes(group)


def test_netgroup_of_overlays_and_internal() -> None:
    tor, i2p = PeerAddress.parse(TOR_V3), PeerAddress.parse(I2P)
    cjdns = PeerAddress(Network.CJDNS, bytes.fromhex("fc12345678") + bytes(11))
    assert tor.netgroup() == bytes([Network.ONION, tor.raw[0] | 0x0F])
    assert i2p.netgroup() == bytes([Network.I2P, i2p.raw[0] | 0x0F])
    assert cjdns.netgroup() == bytes([Network.CJDNS, 0xFC, 0x1F])
    # Core: "baz.net" hashes to 12929400eb4607c4ac07...; the group is the class and 10 bytes.
    assert PeerAddress.internal("baz.net").netgroup() == bytes.fromhex("0612929400eb4607c4ac07")


def test_linked_ipv4_of_embedded_forms() -> None:
    for text in ("1.2.3.4", "::ffff:0:102:304", "64:ff9b::102:304", "2002:102:304::1",
                 "2001:0:9999:9999:9999:9999:fefd:fcfb"):
        assert ip(text).linked_ipv4() == bytes([1, 2, 3, 4]), text
    assert ip("10.0.0.1").linked_ipv4() is None  # only routable addresses link
    assert ip("2001:4860::1").linked_ipv4() is None
    assert PeerAddress.parse(TOR_V3).linked_ipv4() is None


def test_netgroup_ignores_the_port_and_the_low_bits() -> None:
    assert ip("1.2.3.4", 1).netgroup() == ip("1.2.200.9", 2).netgroup() != ip("1.3.3.4").netgroup()


def test_legacy_form_round_trips() -> None:
    v4 = PeerAddress.from_legacy(bytes(10) + b"\xff\xff" + bytes([1, 2, 3, 4]), 8333)
    assert v4 == PeerAddress(Network.IPV4, bytes([1, 2, 3, 4]), 8333) == ip("1.2.3.4", 8333)
    assert v4.to_legacy() == bytes(10) + b"\xff\xff\x01\x02\x03\x04"
    v6 = ip("2001:4860::8888", 18333)
    assert PeerAddress.from_legacy(v6.to_legacy(), 18333) == v6
    internal = PeerAddress.internal("seed.example.org")
    assert PeerAddress.from_legacy(internal.to_legacy()) == internal
    onioncat_torv2 = bytes.fromhex("fd87d87eeb43") + bytes(range(10))
    assert PeerAddress.from_legacy(onioncat_torv2) is None
    with pytest.raises(ValueError, match="16 bytes"):
        PeerAddress.from_legacy(b"\x00" * 4)
    for overlay in (PeerAddress.parse(TOR_V3), PeerAddress.parse(I2P)):
        assert not overlay.addrv1_compatible
        with pytest.raises(ValueError, match="use addrv2"):
            overlay.to_legacy()


def test_bip155_table_comes_from_limits() -> None:
    names = {network_id: name for network_id, (name, _) in limits.ADDRV2_NETWORKS.items()}
    assert {names[network_id] for network_id in BIP155_IDS.values()} == {"IPv4", "IPv6", "TorV3", "I2P", "CJDNS"}
    assert BIP155_IDS[Network.ONION] == 4 and ADDRESS_SIZES[Network.ONION] == 32
    assert ADDRESS_SIZES[Network.INTERNAL] == 10


def test_addrv2_form_round_trips_and_drops_what_core_drops() -> None:
    for address in (ip("1.2.3.4", 1), ip("2001:4860::1", 2), PeerAddress.parse(TOR_V3, 3),
                    PeerAddress.parse(I2P, 4), PeerAddress(Network.CJDNS, b"\xfc" + bytes(15), 5)):
        network_id, raw = address.to_addrv2()
        assert PeerAddress.from_addrv2(network_id, raw, address.port) == address
    assert PeerAddress.from_addrv2(3, bytes(10)) is None  # TorV2
    assert PeerAddress.from_addrv2(0xAA, b"future") is None  # unknown network id
    for prefix in ("00000000000000000000ffff", "fd87d87eeb43", "fd6b88c08724"):
        raw = bytes.fromhex(prefix).ljust(16, b"\x01")
        assert PeerAddress.from_addrv2(2, raw) is None
    with pytest.raises(ValueError, match="IPV4 address with 5 bytes"):
        PeerAddress.from_addrv2(1, bytes(5))
    with pytest.raises(ValueError, match="never sent"):
        PeerAddress.internal("x").to_addrv2()


def test_text_forms() -> None:
    assert str(ip("1.2.3.4", 8333)) == "1.2.3.4:8333"
    assert str(ip("2001:4860:0:0::8888", 8333)) == "[2001:4860::8888]:8333"
    assert str(PeerAddress.parse(TOR_V3.upper(), 9050)) == f"{TOR_V3}:9050"
    assert str(PeerAddress.parse(I2P.upper(), 0)) == f"{I2P}:0"
    cjdns = PeerAddress(Network.CJDNS, b"\xfc" + bytes(14) + b"\x01", 8333)
    assert str(cjdns) == "[fc00::1]:8333"
    internal = PeerAddress.internal("baz.net")
    assert internal.host.endswith(".internal") and len(internal.host) == 16 + len(".internal")


@pytest.mark.parametrize("text", [
    TOR_V3.replace("pg6m", "pg6n"),  # checksum no longer matches
    "aaaa.onion",
    "1" * 56 + ".onion",  # not base32
    I2P[:-10] + ".b32.i2p",
    "1" * 52 + ".b32.i2p",
    "fd87:d87e:eb43::1",  # a TorV2 OnionCat literal
    "not-an-address",
])
def test_parse_rejects_malformed_hosts(text: str) -> None:
    with pytest.raises(ValueError):
        PeerAddress.parse(text)


def test_constructor_checks_its_fields() -> None:
    with pytest.raises(ValueError, match="no address can be on network"):
        PeerAddress(Network.UNROUTABLE, b"")
    with pytest.raises(ValueError, match="IPV4 address has 4 bytes"):
        PeerAddress(Network.IPV4, bytes(16))
    with pytest.raises(ValueError, match="port 65536"):
        PeerAddress(Network.IPV4, bytes(4), 65536)
    with pytest.raises(ValueError, match="needs a name"):
        PeerAddress.internal("")


def test_service_key_is_core_getkey() -> None:
    assert ip("1.2.3.4", 8333).service_key() == bytes(10) + b"\xff\xff\x01\x02\x03\x04\x20\x8d"
    tor = PeerAddress.parse(TOR_V3, 1)
    assert tor.service_key() == tor.raw + b"\x00\x01"
    assert ip("1.2.3.4", 8333).without_port() == ip("1.2.3.4")
    assert hashlib.sha256(b"baz.net").digest()[:10] == PeerAddress.internal("baz.net").raw


def test_timed_address_is_a_value() -> None:
    entry = TimedAddress(ip("1.2.3.4", 8333), 1_700_000_000, 1033)
    assert entry == TimedAddress(ip("1.2.3.4", 8333), 1_700_000_000, 1033)
    assert hash(entry) == hash(TimedAddress(ip("1.2.3.4", 8333), 1_700_000_000, 1033))
