"""addrv2 (BIP155; btcd msgaddrv2_test.go): up to 1,000 addresses of any network, each with its
network id and the address bytes that id implies."""

from __future__ import annotations

from typing import Any

from msg_tables import Layout, check_cuts, check_error, check_largest, check_over_cap, check_wire, golden

from pantheon import errors, limits
from pantheon.primitives import AddrV2Entry


def _entry(number: int) -> tuple[tuple[str, str], ...]:
    return (
        (f"[{number}] time: {1613352048 + number}", (1613352048 + number).to_bytes(4, "little").hex()),
        (f"[{number}] services: NETWORK|WITNESS (CompactSize)", "09"),
        (f"[{number}] network_id: 1 (IPv4)", "01"),
        (f"[{number}] address length: 4", "04"),
        (f"[{number}] address: 123.123.123.{number}", f"7b7b7b{number:02x}"),
        (f"[{number}] port: {8333 + number} (big-endian)", (8333 + number).to_bytes(2, "big").hex()),
    )


# chaintope/bitcoinrb spec/bitcoin/message/addr_v2_spec.rb:7 @4069b531; golden-vectors.json.
TEN_IPV4 = Layout((("count: 10", "0a"), *(row for number in range(10) for row in _entry(number))))
TEN_IPV4_VALUE = [AddrV2Entry(1613352048 + n, 9, 1, bytes([123, 123, 123, n]), 8333 + n) for n in range(10)]
# Built here and checked by the spec: each known network at its length, an unknown one kept.
OTHER_NETWORKS = Layout((
    ("count: 3", "03"),
    ("[0] time", "00000000"), ("[0] services: 2**40 (a 9-byte CompactSize)", "ff0000000000010000"),
    ("[0] network_id: 4 (TorV3)", "04"), ("[0] address length: 32", "20"), ("[0] address", "ab" * 32),
    ("[0] port", "0000"),
    ("[1] time", "ffffffff"), ("[1] services: 0xfd00 (3 bytes)", "fd00fd"),
    ("[1] network_id: 2 (IPv6)", "02"), ("[1] address length: 16", "10"), ("[1] address", "00" * 15 + "01"),
    ("[1] port", "ffff"),
    ("[2] time", "01000000"), ("[2] services", "00"),
    ("[2] network_id: 99 (unknown: any length)", "63"), ("[2] address length: 3", "03"), ("[2] address", "010203"),
    ("[2] port", "0001"),
))
OTHER_NETWORKS_VALUE = [
    AddrV2Entry(0, 1 << 40, 4, b"\xab" * 32, 0),
    AddrV2Entry(0xFFFF_FFFF, 0xFD00, 2, bytes(15) + b"\x01", 0xFFFF),
    AddrV2Entry(1, 0, 99, b"\x01\x02\x03", 1),
]


def test_basic(wire_impl: Any) -> None:
    assert limits.MAX_ADDR == 1_000 and limits.MAX_ADDRV2_ADDRESS == 512  # Core MAX_ADDR_TO_SEND, MAX_ADDRV2_SIZE
    largest = [AddrV2Entry(0xFFFF_FFFF, (1 << 64) - 1, 0xFF, b"\xff" * 512, 0xFFFF)] * limits.MAX_ADDR
    check_largest(wire_impl.module, "addrv2", largest)


def test_wire(wire_impl: Any) -> None:
    assert TEN_IPV4.payload in golden("addrv2", "addr_v2_spec.rb:7")
    check_wire(wire_impl.module, "addrv2", TEN_IPV4_VALUE, TEN_IPV4)
    check_wire(wire_impl.module, "addrv2", OTHER_NETWORKS_VALUE, OTHER_NETWORKS)
    check_wire(wire_impl.module, "addrv2", [], Layout((("count", "00"),)))


def test_wire_errors(wire_impl: Any) -> None:
    module = wire_impl.module
    check_cuts(module, "addrv2", TEN_IPV4)
    check_cuts(module, "addrv2", OTHER_NETWORKS)
    check_over_cap(module, "addrv2", b"", limits.MAX_ADDR + 1, "addrv2.addresses", limits.MAX_ADDR)
    prefix = OTHER_NETWORKS.payload[: OTHER_NETWORKS.start("[2] address length")]
    check_over_cap(module, "addrv2", prefix, 513, "addrv2.address", 512)
    wrong_length = bytes.fromhex("01" "00000000" "00" "01" "05" "0102030405" "0000")  # IPv4 with 5 bytes
    check_error(module, "addrv2", wrong_length, errors.InvalidValue, "BIP155 IPv4 address with length 5, should be 4")
    cut_short = wrong_length[:-4]  # the address read first, so the cut is found before the length rule
    check_error(module, "addrv2", cut_short, errors.Truncated, f"addrv2: data ends early ({len(cut_short)} bytes)")
