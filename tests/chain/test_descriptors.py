"""Output descriptors (`pantheon.chain.descriptors`): BIP380's checksum against its published
vectors, parsing `raw()` and `addr()` with Core's error texts, and Core's InferDescriptor for
the scripts Core shows a `desc` for."""

from __future__ import annotations

import pytest

from pantheon.chain.addresses import address_to_script, script_to_address
from pantheon.chain.descriptors import (
    DescriptorError,
    add_checksum,
    descriptor_checksum,
    infer_descriptor,
    infer_wsh_descriptor,
    parse_descriptor,
)
from pantheon.params import REGTEST

#: A regtest P2WPKH address (the framework's deterministic node key) and its script.
ADDRESS = "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9"
P2WPKH = address_to_script(ADDRESS, REGTEST).hex()
OFF_CURVE = "5120" + "ff" * 32
G = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"  # the generator: key 1


def test_bip380_checksum_vectors() -> None:
    assert add_checksum("raw(deadbeef)") == "raw(deadbeef)#89f8spxm"
    assert descriptor_checksum("raw(Ü)") is None


@pytest.mark.parametrize(("text", "error"), [
    ("raw(deadbeef)#", "Expected 8 character checksum, not 0 characters"),
    ("raw(deadbeef)#89f8spxmx", "Expected 8 character checksum, not 9 characters"),
    ("raw(deadbeef)#89f8spx", "Expected 8 character checksum, not 7 characters"),
    ("raw(deadbeef)#89f8spxn", "Provided checksum '89f8spxn' does not match computed checksum '89f8spxm'"),
    ("raw(deedbeef)#89f8spxm", "Provided checksum '89f8spxm' does not match computed checksum"),
    ("raw(deadbeef)##9f8spxm", "Multiple '#' symbols"),
    ("raw(Ü)#00000000", "Invalid characters in payload"),
    ("raw(dea)", "Raw script is not hex"),
    ("raw()", "Raw script is not hex"),
    ("addr(1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2)", "Address is not valid"),  # mainnet's, not regtest's
    ("pkh(" + G + ")", "pkh() descriptors are not supported by Pantheon"),
    ("raw(51)x", "'raw(51)x' is not a valid descriptor function"),
])
def test_parse_errors_are_cores(text: str, error: str) -> None:
    with pytest.raises(DescriptorError, match=error.replace("(", r"\(").replace(")", r"\)")):
        parse_descriptor(text, REGTEST)


def test_parse_raw_and_addr_with_or_without_checksum() -> None:
    assert parse_descriptor("raw(deadbeef)#89f8spxm", REGTEST).script == bytes.fromhex("deadbeef")
    described = parse_descriptor(f"addr({ADDRESS})", REGTEST)
    assert described.script.hex() == P2WPKH
    assert str(described) == add_checksum(f"addr({ADDRESS})")
    with pytest.raises(DescriptorError, match="Missing checksum"):
        parse_descriptor("raw(51)", REGTEST, require_checksum=True)


@pytest.mark.parametrize(("script", "inferred"), [
    ("21" + G + "ac", f"pk({G})"),  # P2PK: the key shows
    ("5121" + G + "51ae", f"multi(1,{G})"),  # bare multisig with valid keys
    ("5120" + "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
     "rawtr(79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798)"),  # an x-only key on the curve
    (OFF_CURVE, f"addr({script_to_address(bytes.fromhex(OFF_CURVE), REGTEST)})"),  # x beyond the field
    (P2WPKH, f"addr({ADDRESS})"),
    ("2106" + "11" * 32 + "ac", "raw(2106" + "11" * 32 + "ac)"),  # a hybrid key: no pk()
    ("51", "raw(51)"),
    ("6a0101", "raw(6a0101)"),
])
def test_infer_descriptor_as_core(script: str, inferred: str) -> None:
    assert infer_descriptor(bytes.fromhex(script), REGTEST) == add_checksum(inferred)


def test_infer_wsh_descriptor_keeps_compressed_keys_only() -> None:
    """Inside wsh() Core infers pk() and multi() of compressed keys only (segwit checks no other)."""
    compressed = "02" + "11" * 32
    uncompressed = "04" + "11" * 64
    assert infer_wsh_descriptor(bytes.fromhex(f"21{compressed}ac")) == add_checksum(f"wsh(pk({compressed}))")
    assert infer_wsh_descriptor(bytes.fromhex(f"41{uncompressed}ac")) == add_checksum(f"wsh(raw(41{uncompressed}ac))")
    assert infer_wsh_descriptor(bytes.fromhex("51")) == add_checksum("wsh(raw(51))")
