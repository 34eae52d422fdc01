"""version (btcd msgversion_test.go): the handshake's first message, read as Core reads it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from helpers.codec_oracle import plain
from msg_tables import Layout, check_cuts, check_error, check_largest, check_over_cap, check_wire, golden

from pantheon import errors, limits, protocol, spec
from pantheon.primitives import Endpoint, Version

U64 = (1 << 64) - 1
MAPPED = "00000000000000000000ffff"  # ::ffff:0:0/96, an IPv4-mapped address follows
# Fields a peer may stop before: Core reads each only while bytes remain.
OPTIONAL = ("addr_from.services", "user_agent length", "start_height", "relay")


def endpoint(name: str, services: str, ip: str, ip_hex: str, port: str, port_hex: str) -> tuple[tuple[str, str], ...]:
    """The rows of an address without time: services, 16-byte ip, port (big-endian)."""
    return ((f"{name}.services: {services}", int(services, 0).to_bytes(8, "little").hex()),
            (f"{name}.ip: {ip}", ip_hex), (f"{name}.port: {port}", port_hex))


# A mainnet version from Bitcoin Core 0.17.1 (protocol 70015): rust-bitcoin p2p/src/message.rs:2682
# @42226547 (test deserialize_version); golden-vectors.json and
# tests/vectors/messages/version-satoshi-0.17.1.bin (the README's first command).
SATOSHI_0_17_1 = Layout((
    ("version: 70015", "7f110100"),
    ("services: NETWORK|WITNESS|NETWORK_LIMITED", "0d04000000000000"),
    ("timestamp: 1548554224", "f00f4d5c00000000"),
    *endpoint("addr_recv", "0", "::ffff:91.240.140.128", MAPPED + "5bf08c80", "46269", "b4bd"),
    *endpoint("addr_from", "0x40d", "::", "00" * 16, "0", "0000"),
    ("nonce", "faa99559cc68a1c1"),
    ("user_agent length", "10"),
    ("user_agent: /Satoshi:0.17.1/", "2f5361746f7368693a302e31372e312f"),
    ("start_height: 560275", "938c0800"),
    ("relay: 1", "01"),
), ends=OPTIONAL, open_end=True)
SATOSHI_0_17_1_VALUE = Version(
    70015, 0x40D, 1548554224, Endpoint(0, bytes.fromhex(MAPPED + "5bf08c80"), 46269), Endpoint(0x40D), 0xC1A168CC5995A9FA,
    "/Satoshi:0.17.1/", 560275, True,
)

# Protocol 60002, before BIP37's relay byte: NBitcoin NBitcoin.Tests/ProtocolTests.cs:180 @1f9f0fc3;
# golden-vectors.json.
SATOSHI_0_7_2 = Layout((
    ("version: 60002", "62ea0000"),
    ("services: NETWORK", "0100000000000000"),
    ("timestamp: 1355854353", "11b2d05000000000"),
    *endpoint("addr_recv", "1", "::ffff:0.0.0.0", MAPPED + "00000000", "0", "0000"),
    *endpoint("addr_from", "0", "::ffff:0.0.0.0", MAPPED + "00000000", "0", "0000"),
    ("nonce", "3b2eb35d8ce61765"),
    ("user_agent length", "0f"),
    ("user_agent: /Satoshi:0.7.2/", "2f5361746f7368693a302e372e322f"),
    ("start_height: 212672", "c03e0300"),
), ends=OPTIONAL[:3], open_end=True)
SATOSHI_0_7_2_VALUE = Version(
    60002, 1, 1355854353, Endpoint(1, bytes.fromhex(MAPPED + "00000000")), Endpoint(0, bytes.fromhex(MAPPED + "00000000")),
    0x6517E68C5DB32E3B, "/Satoshi:0.7.2/", 212672,
)

# A 2011 mainnet connection, protocol 32001 (Bitcoin 0.3.x, sent with the pre-209 header): an
# empty user agent. DanieleDeSensi/peafowl test/pcaps/bitcoin.pcap @89fdf35a; golden-vectors.json.
PEAFOWL_2011 = Layout((
    ("version: 32001", "017d0000"),
    ("services: NETWORK", "0100000000000000"),
    ("timestamp: 1301328472", "58b2904d00000000"),
    *endpoint("addr_recv", "1", "::ffff:66.68.83.22", MAPPED + "42445316", "8333", "208d"),
    *endpoint("addr_from", "1", "::ffff:38.96.132.30", MAPPED + "2660841e", "8333", "208d"),
    ("nonce", "b50e07788132e0a6"),
    ("user_agent length: 0", "00"),
    ("start_height: 114400", "e0be0100"),
), ends=OPTIONAL[:3], open_end=True)
PEAFOWL_2011_VALUE = Version(
    32001, 1, 1301328472, Endpoint(1, bytes.fromhex(MAPPED + "42445316"), 8333),
    Endpoint(1, bytes.fromhex(MAPPED + "2660841e"), 8333), 0xA6E0328178070EB5, "", 114400,
)
VECTORS = [
    (SATOSHI_0_17_1_VALUE, SATOSHI_0_17_1, "message.rs:2682"),
    (SATOSHI_0_7_2_VALUE, SATOSHI_0_7_2, "ProtocolTests.cs:180"),
    (PEAFOWL_2011_VALUE, PEAFOWL_2011, "bitcoin.pcap"),
]
VECTOR_IDS = ["satoshi-0.17.1", "satoshi-0.7.2", "peafowl-2011"]

# Hand-built: every shape a version may stop at, and bytes of a later protocol after relay.
FULL = Version(
    version=70016,
    services=protocol.NODE_NETWORK | protocol.NODE_WITNESS,
    timestamp=1_700_000_000,
    addr_recv=Endpoint.from_host("127.0.0.1", 18444, services=1),
    addr_from=Endpoint.from_host("::1", 8333),
    nonce=0x0123456789ABCDEF,
    user_agent="/Pantheon:0.1.0/",
    start_height=471,
    relay=True,
)
SHAPES = [
    FULL,
    Version(70001, 0, -5, Endpoint.from_host("not an ip", 1)),  # addr_recv only (pre-106 shape)
    Version(70001, 0, 0, Endpoint(), Endpoint(), 7),  # stops after the nonce
    Version(70001, 0, 0, Endpoint(), Endpoint(), 7, "", -1),  # no relay byte (pre-70001 shape)
    Version(70016, 1, 2, Endpoint(), Endpoint(), U64, "x" * 256, 0, False, b"future"),
    Version(70016, 1, 2, Endpoint(), Endpoint(), 0, "\udcff", 0),  # a non-UTF-8 byte, kept as is
]


def test_basic(wire_impl: Any) -> None:
    assert limits.MAX_USER_AGENT == 256  # Core MAX_SUBVERSION_LENGTH
    fields = 4 + 8 + 8 + 26 + 26 + 8 + 3 + 256 + 4 + 1
    assert limits.MAX_PAYLOAD["version"] == fields + 256  # room for a later protocol's fields
    endpoint = Endpoint(U64, b"\xff" * 16, 0xFFFF)
    largest = Version(-1, U64, (1 << 63) - 1, endpoint, endpoint, U64, "x" * 256, -1, True, b"\xff" * 256)
    check_largest(wire_impl.module, "version", largest)
    over = Version(-1, U64, 0, endpoint, endpoint, U64, "x" * 256, -1, True, b"\xff" * 257)
    cap = limits.MAX_PAYLOAD["version"]
    with pytest.raises(errors.OversizedMessage, match=rf"^version payload: {cap + 1} exceeds the cap of {cap}$"):
        wire_impl.module.encode_version(over)


@pytest.mark.parametrize(("value", "layout", "where"), VECTORS, ids=VECTOR_IDS)
def test_wire(value: Version, layout: Layout, where: str, wire_impl: Any) -> None:
    assert layout.payload in golden("version", where)
    check_wire(wire_impl.module, "version", value, layout)


def test_wire_readme_vector(vectors_dir: Path, wire_impl: Any) -> None:
    message = spec.parse_message((vectors_dir / "messages" / "version-satoshi-0.17.1.bin").read_bytes())
    assert message.raw_payload == SATOSHI_0_17_1.payload
    assert wire_impl.module.decode_version(message.raw_payload) == SATOSHI_0_17_1_VALUE


def test_wire_later_protocol_fields(wire_impl: Any) -> None:
    layout = Layout((*SATOSHI_0_17_1.rows, ("extra: a later protocol's fields, kept", "abcd")))
    check_wire(wire_impl.module, "version", replace(SATOSHI_0_17_1_VALUE, extra=b"\xab\xcd"), layout)


@pytest.mark.parametrize("value", SHAPES)
def test_wire_hand_built(value: Version, wire_impl: Any) -> None:
    payload = wire_impl.module.encode_version(value)
    assert payload == spec.build_payload("version", plain("version", value))
    assert wire_impl.module.decode_version(payload) == value


@pytest.mark.parametrize("layout", [layout for _, layout, _ in VECTORS], ids=VECTOR_IDS)
def test_wire_errors(layout: Layout, wire_impl: Any) -> None:
    check_cuts(wire_impl.module, "version", layout)


def test_wire_errors_bad_values(wire_impl: Any) -> None:
    module, payload = wire_impl.module, SATOSHI_0_17_1.payload
    agent = SATOSHI_0_17_1.start("user_agent length")
    cap = limits.MAX_USER_AGENT
    check_over_cap(module, "version", payload[:agent], cap + 1, "version.user_agent", cap)
    check_error(module, "version", payload[:-1] + b"\x02", errors.InvalidValue,
                "version.relay: boolean byte must be 0 or 1, got 0x02")
    check_error(module, "version", payload[:agent] + b"\xfd\x10\x00" + bytes(21), errors.InvalidValue,
                "non-canonical CompactSize 16 in 3 bytes")
    with pytest.raises(errors.OversizedMessage, match=rf"^version.user_agent: 257 exceeds the cap of {cap}$"):
        module.encode_version(Version(70016, 0, 0, Endpoint(), Endpoint(), 1, "y" * 257))
    with pytest.raises(TypeError, match="^version: expected Version, not dict$"):
        module.encode_version(plain("version", FULL))
