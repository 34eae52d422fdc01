"""ping, pong (btcd msgping_test.go, msgpong_test.go): BIP31's nonce; a pre-BIP31 ping is empty."""

from __future__ import annotations

from typing import Any

import pytest
from msg_tables import Layout, check_cuts, check_error, check_wire, golden

from pantheon import errors, limits

# Bitcoin Core 0.13.99 regtest: jnewbery/bitcoin-wireshark test/ping.pcap and test/pong.pcap
# @7243bf8f; golden-vectors.json.
PING = Layout((("nonce: 0xf73f37dec5f1c5c7", "c7c5f1c5de373ff7"),))
PONG = Layout((("nonce: 0x5498a160913a0aac", "ac0a3a9160a19854"),))
VECTORS = {"ping": (0xF73F37DEC5F1C5C7, PING), "pong": (0x5498A160913A0AAC, PONG)}


@pytest.mark.parametrize("command", VECTORS)
def test_basic(command: str, wire_impl: Any) -> None:
    assert limits.MAX_PAYLOAD[command] == 8
    payload = getattr(wire_impl.module, f"encode_{command}")((1 << 64) - 1)
    assert payload == b"\xff" * 8 and getattr(wire_impl.module, f"decode_{command}")(payload) == (1 << 64) - 1


@pytest.mark.parametrize("command", VECTORS)
def test_wire(command: str, wire_impl: Any) -> None:
    assert VECTORS[command][1].payload in golden(command, f"{command}.pcap")
    check_wire(wire_impl.module, command, *VECTORS[command])


def test_wire_pre_bip31_ping(wire_impl: Any) -> None:
    check_wire(wire_impl.module, "ping", None, Layout(()))


@pytest.mark.parametrize("command", VECTORS)
def test_wire_errors(command: str, wire_impl: Any) -> None:
    layout = VECTORS[command][1]
    if command == "ping":
        layout = Layout(layout.rows, ends=("nonce",))  # an empty ping is a ping
    check_cuts(wire_impl.module, command, layout)
    check_error(wire_impl.module, command, bytes(9), errors.OversizedMessage, f"{command} payload: 9 exceeds the cap of 8")
    with pytest.raises(errors.InvalidValue, match=f"^{command}.nonce out of range: -1$"):
        getattr(wire_impl.module, f"encode_{command}")(-1)
