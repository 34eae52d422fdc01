"""inv, getdata, notfound (btcd msginv_test.go, msggetdata_test.go, msgnotfound_test.go)."""

from __future__ import annotations

from typing import Any

import pytest
from msg_tables import Layout, check_cuts, check_largest, check_over_cap, check_wire, golden

from pantheon import limits
from pantheon.primitives import InvVect

COMMANDS = ("inv", "getdata", "notfound")

# bitcoinrb spec/bitcoin/message/inv_spec.rb:26 and get_data_spec.rb:26 @4069b531 (the same
# bytes); golden-vectors.json.
TWO_BLOCKS = Layout((
    ("count", "02"),
    ("[0] type: MSG_TX", "01000000"),
    ("[0] hash", "099c332dc6d71c968a3f47d6ffd43436062c72dad477b515ce2e108e1e6f1096"),
    ("[1] type: MSG_TX", "01000000"),
    ("[1] hash", "e6cf87650476e8677543885e388761f09c732e66d479501f9d9c19cdb2b50e05"),
))
TWO_BLOCKS_VALUE = [
    InvVect(1, bytes.fromhex("099c332dc6d71c968a3f47d6ffd43436062c72dad477b515ce2e108e1e6f1096")),
    InvVect(1, bytes.fromhex("e6cf87650476e8677543885e388761f09c732e66d479501f9d9c19cdb2b50e05")),
]
EMPTY = Layout((("count", "00"),))


@pytest.mark.parametrize("command", COMMANDS)
def test_basic(command: str, wire_impl: Any) -> None:
    assert limits.MAX_INV_ENTRIES == 50_000  # Core MAX_INV_SZ
    assert limits.MAX_PAYLOAD[command] == 3 + 50_000 * (4 + 32)
    largest = [InvVect(0xFFFF_FFFF, b"\xff" * 32)] * limits.MAX_INV_ENTRIES
    check_largest(wire_impl.module, command, largest)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("value", "layout"), [(TWO_BLOCKS_VALUE, TWO_BLOCKS), ([], EMPTY)], ids=["two", "empty"])
def test_wire(command: str, value: list[InvVect], layout: Layout, wire_impl: Any) -> None:
    assert TWO_BLOCKS.payload in golden("inv", "inv_spec.rb:26") + golden("getdata", "get_data_spec.rb:26")
    check_wire(wire_impl.module, command, value, layout)


@pytest.mark.parametrize("command", COMMANDS)
def test_wire_errors(command: str, wire_impl: Any) -> None:
    check_cuts(wire_impl.module, command, TWO_BLOCKS)
    check_over_cap(wire_impl.module, command, b"", limits.MAX_INV_ENTRIES + 1, f"{command}.inventory", limits.MAX_INV_ENTRIES)
