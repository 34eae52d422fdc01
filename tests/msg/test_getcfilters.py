"""getcfilters, getcfheaders (BIP157; btcd msggetcfilters_test.go, msggetcfheaders_test.go): a
filter type and a range of blocks, from a height up to a stop hash."""

from __future__ import annotations

from typing import Any

import pytest
from msg_tables import Layout, check_cuts, check_wire, golden

from pantheon import limits
from pantheon.primitives import CFRequest

# chaintope/bitcoinrb spec/bitcoin/message/get_cfilters_spec.rb:13 and get_cfheaders_spec.rb:13
# @4069b531; golden-vectors.json.
VECTORS = {
    "getcfilters": Layout((
        ("filter_type: 0 (BIP158 basic)", "00"),
        ("start_height: 1000", "e8030000"),
        ("stop_hash", "4b75600dbb3ce35fa383b7439be10a66a2e7023bcb6b3a45bf83e57de020a954"),
    )),
    "getcfheaders": Layout((
        ("filter_type: 0 (BIP158 basic)", "00"),
        ("start_height: 1", "01000000"),
        ("stop_hash", "eb07535100f930e08933a82705333cfbb0d4e0387b8bba78e0d4c5d1b0f3cb14"),
    )),
}


@pytest.mark.parametrize("command", VECTORS)
def test_basic(command: str, wire_impl: Any) -> None:
    assert limits.MAX_PAYLOAD[command] == 1 + 4 + 32
    largest = CFRequest(0xFF, 0xFFFF_FFFF, b"\xff" * 32)
    assert getattr(wire_impl.module, f"encode_{command}")(largest) == b"\xff" * 37
    assert getattr(wire_impl.module, f"decode_{command}")(b"\xff" * 37) == largest


@pytest.mark.parametrize("command", VECTORS)
def test_wire(command: str, wire_impl: Any) -> None:
    layout = VECTORS[command]
    assert layout.payload in golden(command, f"{command.replace('getcf', 'get_cf')}_spec.rb:13")
    value = CFRequest(0, int.from_bytes(layout.payload[1:5], "little"), layout.payload[5:])
    check_wire(wire_impl.module, command, value, layout)


@pytest.mark.parametrize("command", VECTORS)
def test_wire_errors(command: str, wire_impl: Any) -> None:
    check_cuts(wire_impl.module, command, VECTORS[command])
