"""feefilter (btcd msgfeefilter_test.go): BIP133's minimum fee rate, satoshis per 1,000 vbytes."""

from __future__ import annotations

from typing import Any

import pytest
from msg_tables import Layout, check_cuts, check_wire, golden

from pantheon import errors, limits

# Bitcoin Core 0.13.99 regtest: jnewbery/bitcoin-wireshark test/feefilter.pcap @7243bf8f;
# golden-vectors.json.
FEEFILTER = Layout((("feerate: 15000 sat/kvB (int64)", "983a000000000000"),))


def test_basic(wire_impl: Any) -> None:
    assert limits.MAX_PAYLOAD["feefilter"] == 8
    for rate in (-(1 << 63), (1 << 63) - 1):  # Core's CAmount is signed
        assert wire_impl.module.decode_feefilter(wire_impl.module.encode_feefilter(rate)) == rate


def test_wire(wire_impl: Any) -> None:
    assert FEEFILTER.payload in golden("feefilter", "feefilter.pcap")
    check_wire(wire_impl.module, "feefilter", 15000, FEEFILTER)


def test_wire_errors(wire_impl: Any) -> None:
    check_cuts(wire_impl.module, "feefilter", FEEFILTER)
    with pytest.raises(errors.InvalidValue, match=f"^feefilter.feerate out of range: {1 << 63}$"):
        wire_impl.module.encode_feefilter(1 << 63)
