"""addr (btcd msgaddr_test.go): up to 1,000 timestamped addresses."""

from __future__ import annotations

from typing import Any

from msg_tables import Layout, check_cuts, check_largest, check_over_cap, check_wire, golden

from pantheon import limits
from pantheon.primitives import NetAddress

# bitcoinj core/src/test/java/org/bitcoinj/core/BitcoinSerializerTest.java:43 @13e137ec
# (ADDRESS_MESSAGE_BYTES); golden-vectors.json.
ONE_ADDRESS = Layout((
    ("count", "01"),
    ("time: 1292899810", "e215104d"),
    ("services: NODE_NETWORK", "0100000000000000"),
    ("ip: ::ffff:10.0.0.1", "00000000000000000000ffff0a000001"),
    ("port: 8333 (big-endian)", "208d"),
))
ONE_ADDRESS_VALUE = [NetAddress(1292899810, 1, bytes.fromhex("00000000000000000000ffff0a000001"), 8333)]


def test_basic(wire_impl: Any) -> None:
    assert limits.MAX_ADDR == 1_000  # Core MAX_ADDR_TO_SEND
    assert limits.MAX_PAYLOAD["addr"] == 3 + 1_000 * (4 + 8 + 16 + 2)
    largest = [NetAddress(0xFFFF_FFFF, (1 << 64) - 1, b"\xff" * 16, 0xFFFF)] * limits.MAX_ADDR
    check_largest(wire_impl.module, "addr", largest)


def test_wire(wire_impl: Any) -> None:
    assert ONE_ADDRESS.payload in golden("addr", "BitcoinSerializerTest.java:43")
    check_wire(wire_impl.module, "addr", ONE_ADDRESS_VALUE, ONE_ADDRESS)
    check_wire(wire_impl.module, "addr", [], Layout((("count", "00"),)))


def test_wire_errors(wire_impl: Any) -> None:
    check_cuts(wire_impl.module, "addr", ONE_ADDRESS)
    check_over_cap(wire_impl.module, "addr", b"", limits.MAX_ADDR + 1, "addr.addresses", limits.MAX_ADDR)
