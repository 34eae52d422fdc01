"""Output descriptors (`pantheon.chain.descriptors`): BIP380's checksum against its published
vectors, parsing `raw()`, `addr()` and the key descriptors with Core's error texts, their
expansion against Core's descriptor_tests.cpp and the BIP84/BIP86 vectors, and Core's
InferDescriptor for the scripts Core shows a `desc` for."""

from __future__ import annotations

import re

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
from pantheon.chain.keys import ExtendedKey
from pantheon.params import REGTEST, network

MAIN = network("main")
#: Core's descriptor_tests.cpp keys: one private key, compressed and uncompressed (mainnet WIF).
COMPRESSED_WIF = "L4rK1yDtCWekvXuE6oXD9jCYfFNV2cWRpVuPLBcCU2z8TrisoyY1"
COMPRESSED = "03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd"
UNCOMPRESSED_WIF = "5KYZdUEo39z3FPrtuX2QbbwGnNP5zTd7yyr2SC1j299sBCnWjss"
UNCOMPRESSED = ("04a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd5b8dec5235a0fa8722476c7709c02559e3aa73"
                "aa03918ba2d492eea75abea235")
#: BIP84/BIP86's root key (the "abandon ... about" mnemonic).
ROOT = ("xprv9s21ZrQH143K3GJpoapnV8SFfukcVBSfeCficPSGfubmSFDxo1kuHnLisriDvSnRRuL2Qrg5ggqHKNVpxR86QEC8w35uxmGoggxtQTPvfUu")
#: A regtest extended private key.
TPRV = ExtendedKey.from_seed(bytes(range(16))).encode(REGTEST, private=True)

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
    ("wsh(pk(" + G + "))", "wsh() descriptors are not supported by Pantheon"),
    (f"wpkh({UNCOMPRESSED})", "wpkh(): Uncompressed keys are not allowed"),
    ("wpkh(03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5)",
     "wpkh(): Pubkey '03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5' is invalid"),
    (f"pkh(deadbeef/1/2'/3/4']{G})", "pkh(): Key origin start '[ character expected but not found, got 'd' instead"),
    (f"pkh([deadbeef]/1/2'/3/4']{G})", "pkh(): Multiple ']' characters found for a single pubkey"),
    (f"pkh([deadbee/1]{G})", "pkh(): Fingerprint is not 4 bytes (7 characters instead of 8 characters)"),
    (f"pkh([deadbeeg/1]{G})", "pkh(): Fingerprint 'deadbeeg' is not hex"),
    (f"pkh({TPRV}/1/x)", "pkh(): Key path value 'x' is not a valid uint32"),
    (f"pkh({TPRV}/2147483648)", "pkh(): Key path value 2147483648 is out of range"),
    (f"wpkh({TPRV}/<0;1>/*)", "wpkh(): Multipath key path '<0;1>' is not supported by Pantheon"),
    (f"pkh({COMPRESSED_WIF})", "pkh(): key '" + COMPRESSED_WIF + "' is not valid"),  # mainnet's key on regtest
    ("pkh()", "pkh(): No key provided"),
    (f"sh(combo({G}))", "Can only have combo() at top level"),
    (f"sh(sh(pk({G})))", "Can only have sh() at top level"),
    (f"tr({G},pk({G}))", "tr() with a script tree is not supported by Pantheon"),
    ("raw(51)x", "'raw(51)x' is not a valid descriptor function"),
])
def test_parse_errors_are_cores(text: str, error: str) -> None:
    with pytest.raises(DescriptorError, match=re.escape(error)):
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


@pytest.mark.parametrize(("text", "scripts"), [
    (f"combo({COMPRESSED_WIF})", [f"21{COMPRESSED}ac", "76a9149a1c78a507689f6f54b847ad1cef1e614ee23f1e88ac",
                                  "00149a1c78a507689f6f54b847ad1cef1e614ee23f1e",
                                  "a91484ab21b1b2fd065d4504ff693d832434b6108d7b87"]),
    (f"combo({UNCOMPRESSED_WIF})", [f"41{UNCOMPRESSED}ac", "76a914b5bd079c4d57cc7fc28ecf8213a6b791625b818388ac"]),
    (f"pk({COMPRESSED})", [f"21{COMPRESSED}ac"]),
    (f"pkh({COMPRESSED_WIF})", ["76a9149a1c78a507689f6f54b847ad1cef1e614ee23f1e88ac"]),
    (f"wpkh({COMPRESSED})", ["00149a1c78a507689f6f54b847ad1cef1e614ee23f1e"]),
    (f"sh(wpkh({COMPRESSED_WIF}))", ["a91484ab21b1b2fd065d4504ff693d832434b6108d7b87"]),
])
def test_key_descriptors_expand_as_cores(text: str, scripts: list[str]) -> None:
    """Core's descriptor_tests.cpp expansions; the public form replaces a WIF by its key."""
    descriptor = parse_descriptor(text, MAIN)
    assert [output.script.hex() for output in descriptor.expand()] == scripts
    assert descriptor.to_string(private=True) == add_checksum(text)
    assert COMPRESSED_WIF not in descriptor.text and UNCOMPRESSED_WIF not in descriptor.text


@pytest.mark.parametrize(("text", "address"), [
    (f"wpkh({ROOT}/84'/0'/0'/0/*)", "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"),  # BIP84's first address
    (f"tr({ROOT}/86h/0h/0h/0/*)", "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr"),  # BIP86's
])
def test_ranged_descriptors_derive_the_bips_addresses(text: str, address: str) -> None:
    descriptor = parse_descriptor(text, MAIN)
    assert descriptor.is_range
    output = descriptor.expand(0)[0]
    assert script_to_address(output.script, MAIN) == address
    assert output.desc.startswith(f"{descriptor.function}([73c5da0a/8")
    assert descriptor.text.startswith(f"{descriptor.function}(xpub661MyMwAqRbc")  # public form: the xpub
    with pytest.raises(DescriptorError, match="Ranged descriptor not accepted"):
        descriptor.script


def test_origins_hardened_marks_and_public_derivation() -> None:
    xpub = parse_descriptor(f"pkh({ROOT})", MAIN).text[4:-1]
    ranged = parse_descriptor(f"wpkh([d34db33f/84h/0h/0h]{xpub}/1/*)", MAIN)
    assert ranged.text == f"wpkh([d34db33f/84h/0h/0h]{xpub}/1/*)"
    assert re.fullmatch(r"wpkh\(\[d34db33f/84h/0h/0h/1/5\]0[23][0-9a-f]{64}\)", ranged.expand(5)[0].desc)
    apostrophe = parse_descriptor(f"pkh([d34db33f/44'/0'/0']{xpub}/0/*)", MAIN)
    assert apostrophe.text == f"pkh([d34db33f/44'/0'/0']{xpub}/0/*)"  # written back as given
    with pytest.raises(DescriptorError, match="Cannot derive"):
        parse_descriptor(f"pkh({xpub}/1h/*)", MAIN).expand(0)  # a hardened step needs the private key
    combo = parse_descriptor(f"combo({COMPRESSED})", MAIN)
    assert not combo.is_single_type and combo.output_type is None
    assert parse_descriptor(f"sh(wpkh({COMPRESSED}))", MAIN).output_type == "p2sh-segwit"
    with pytest.raises(DescriptorError, match="stands for 4 scripts"):
        combo.script
