"""sendcmpct (btcd msgsendcmpct_test.go): BIP152's announce flag and compact block version."""

from __future__ import annotations

from typing import Any

import pytest
from msg_tables import Layout, check_cuts, check_error, check_wire, golden

from pantheon import errors, limits
from pantheon.primitives import SendCmpct

# Bitcoin Core 0.13.99 regtest: jnewbery/bitcoin-wireshark test/sendcmpct.pcap @7243bf8f;
# golden-vectors.json.
VERSION_2 = Layout((("announce: 0 (low bandwidth)", "00"), ("version: 2 (with witnesses)", "0200000000000000")))
# chaintope/bitcoinrb spec/bitcoin/message/send_cmpct_spec.rb:21 @4069b531; golden-vectors.json.
VERSION_1 = Layout((("announce: 0", "00"), ("version: 1", "0100000000000000")))


def test_basic(wire_impl: Any) -> None:
    assert limits.MAX_PAYLOAD["sendcmpct"] == 1 + 8
    largest = SendCmpct(True, (1 << 64) - 1)
    assert wire_impl.module.decode_sendcmpct(wire_impl.module.encode_sendcmpct(largest)) == largest


@pytest.mark.parametrize(("value", "layout"), [(SendCmpct(False, 2), VERSION_2), (SendCmpct(False, 1), VERSION_1)])
def test_wire(value: SendCmpct, layout: Layout, wire_impl: Any) -> None:
    assert layout.payload in golden("sendcmpct", "sendcmpct.pcap") + golden("sendcmpct", "send_cmpct_spec.rb:21")
    check_wire(wire_impl.module, "sendcmpct", value, layout)


def test_wire_errors(wire_impl: Any) -> None:
    check_cuts(wire_impl.module, "sendcmpct", VERSION_2)
    # rust-bitcoin p2p/src/message.rs:2887 @42226547 (golden-vectors.json): announce 0x12.
    check_error(wire_impl.module, "sendcmpct", bytes.fromhex("120100000000000000"), errors.InvalidValue,
                "sendcmpct.announce: boolean byte must be 0 or 1, got 0x12")
    with pytest.raises(TypeError, match="^sendcmpct: expected SendCmpct, not tuple$"):
        wire_impl.module.encode_sendcmpct((True, 2))
