"""getheaders, getblocks (btcd msggetheaders_test.go, msggetblocks_test.go): a block locator of up
to 101 hashes, newest first, and a stop hash."""

from __future__ import annotations

from typing import Any

import pytest
from msg_tables import Layout, check_cuts, check_largest, check_over_cap, check_wire, golden

from pantheon import errors, limits
from pantheon.primitives import Locator

COMMANDS = ("getheaders", "getblocks")
H = [
    "d18af7986e37cce50bd1840a4355b76c3127847538f598ca3c11050000000000",
    "16fcb7157eb73f293f39a5f999beae35638fd760531968e5ba06010000000000",
    "b243161b0c4df323ef0a7db26b1d5af1312c76b0cb1dd804e634000000000000",
]
# chaintope/bitcoinrb spec/bitcoin/message/get_headers_spec.rb:15 and get_blocks_spec.rb:15
# @4069b531 (the same bytes); golden-vectors.json.
THREE_HASHES = Layout((
    ("version: 70015", "7f110100"),
    ("locator count", "03"),
    ("locator[0]: the newest", H[0]),
    ("locator[1]", H[1]),
    ("locator[2]", H[2]),
    ("hash_stop: zero, as many as the answer holds", "00" * 32),
))
THREE_HASHES_VALUE = Locator(70015, tuple(bytes.fromhex(h) for h in H))
EMPTY = Layout((("version: 70001", "71110100"), ("locator count", "00"), ("hash_stop", "09" * 32)))
EMPTY_VALUE = Locator(70001, (), b"\x09" * 32)


@pytest.mark.parametrize("command", COMMANDS)
def test_basic(command: str, wire_impl: Any) -> None:
    assert limits.MAX_LOCATOR_HASHES == 101  # Core MAX_LOCATOR_SZ
    assert limits.MAX_PAYLOAD[command] == 4 + 1 + 101 * 32 + 32
    largest = Locator(0xFFFF_FFFF, (b"\xff" * 32,) * 101, b"\xff" * 32)
    check_largest(wire_impl.module, command, largest)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("value", "layout"), [(THREE_HASHES_VALUE, THREE_HASHES), (EMPTY_VALUE, EMPTY)],
                         ids=["three", "empty"])
def test_wire(command: str, value: Locator, layout: Layout, wire_impl: Any) -> None:
    assert THREE_HASHES.payload in golden(command, f"{command.replace('get', 'get_')}_spec.rb:15")
    check_wire(wire_impl.module, command, value, layout)


@pytest.mark.parametrize("command", COMMANDS)
def test_wire_errors(command: str, wire_impl: Any) -> None:
    module = wire_impl.module
    check_cuts(module, command, THREE_HASHES)
    check_over_cap(module, command, THREE_HASHES.payload[:4], 102, f"{command}.locator", 101)
    with pytest.raises(errors.OversizedMessage, match=rf"^{command}.locator: 102 exceeds the cap of 101$"):
        getattr(module, f"encode_{command}")(Locator(1, (bytes(32),) * 102))
