"""verack, getaddr, sendaddrv2, mempool, sendheaders, wtxidrelay, filterclear (btcd msgverack_test.go,
msggetaddr_test.go, msgmempool_test.go, msgsendheaders_test.go, msgfilterclear_test.go): the empty
payloads, each command with its own pair of codecs."""

from __future__ import annotations

from typing import Any

import pytest
from msg_tables import Layout, check_cuts, check_wire, golden

from pantheon import limits

COMMANDS = ("verack", "getaddr", "sendaddrv2", "mempool", "sendheaders", "wtxidrelay", "filterclear")
# Every golden vector of these commands (jnewbery/bitcoin-wireshark, rust-bitcoin, NBitcoin,
# bitcoinrb, MithrilShards, peafowl; golden-vectors.json) carries no payload byte.
EMPTY = Layout(())


def test_basic_covers_every_empty_command() -> None:
    assert {command for command in limits.COMMANDS if limits.MAX_PAYLOAD[command] == 0} == set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_basic(command: str, wire_impl: Any) -> None:
    assert limits.MAX_PAYLOAD[command] == 0
    assert getattr(wire_impl.module, f"encode_{command}")() == b""
    assert getattr(wire_impl.module, f"decode_{command}").__name__ == f"decode_{command}"


@pytest.mark.parametrize("command", COMMANDS)
def test_wire(command: str, wire_impl: Any) -> None:
    assert set(golden(command, "")) == {EMPTY.payload}
    check_wire(wire_impl.module, command, None, EMPTY)


@pytest.mark.parametrize("command", COMMANDS)
def test_wire_errors(command: str, wire_impl: Any) -> None:
    check_cuts(wire_impl.module, command, EMPTY)  # a byte too many is over the cap of 0
    with pytest.raises(TypeError, match=f"^{command}: expected None, not dict$"):
        getattr(wire_impl.module, f"encode_{command}")({})
