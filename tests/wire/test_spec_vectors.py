"""The construct spec against real messages gathered from nine other implementations and
captures (tests/vectors/README.md): every golden message parses, matches what its source
states, and rebuilds to identical bytes; every cut of it fails with a typed error. The
wire twins' checksum and header codec are checked as the other voices on the same bytes."""

from __future__ import annotations

from typing import Any

import pytest

from helpers.vectors import GOLDEN, VECTORS
from pantheon import errors, hashing, limits, params, spec

VALID = [entry for entry in GOLDEN if entry["expect"].startswith("valid_framing") and "invalid" not in entry["expect"]]
LEGACY = [entry for entry in GOLDEN if entry["expect"] == "valid_legacy_pre209_header_without_checksum"]


def vector_id(entry: dict[str, Any]) -> str:
    source = entry["source"]
    where = source["path"].rsplit("/", 1)[-1]
    if source.get("line"):
        where += f":{source['line']}"
    return f"{entry['command']}-{source['repo'].split('/')[-1]}-{where}"


def golden(command: str, notes_fragment: str) -> bytes:
    """The one golden message of `command` whose notes contain `notes_fragment`."""
    (entry,) = [e for e in GOLDEN if e["command"] == command and notes_fragment in e["notes"]]
    return bytes.fromhex(entry["hex"])


def block_header_of(file_name: str) -> Any:
    return spec.parse_block((VECTORS / "blocks" / file_name).read_bytes()).header


# --- every golden message ------------------------------------------------------------------


def test_vectors_cover_every_command_but_the_block_sized_ones() -> None:
    covered = {entry["command"] for entry in GOLDEN}
    assert covered == set(spec.PAYLOADS)


@pytest.mark.parametrize("entry", VALID, ids=vector_id)
def test_golden_message_round_trips(entry: dict[str, Any], wire_impl) -> None:
    data = bytes.fromhex(entry["hex"])
    verify = entry["verify"]
    message = spec.parse_message(data)
    assert message.command == entry["command"]
    assert message.magic.to_bytes(4, "little").hex() == entry["network_magic_hex"]
    assert message.network == {"mainnet": "main"}.get(verify["network"], verify["network"])
    assert len(message.raw_payload) == verify["length_field"] == verify["payload_len"]
    assert message.checksum_ok is True
    assert spec.build_message(message.magic, message.command, message.payload) == data
    # The other voices: both wire twins frame the same header and checksum.
    assert wire_impl.module.checksum(message.raw_payload) == bytes.fromhex(verify["checksum_field_hex"])
    assert wire_impl.module.unpack_header(data, message.magic) == (
        message.command,
        len(message.raw_payload),
        bytes.fromhex(verify["checksum_field_hex"]),
    )
    assert wire_impl.module.pack_header(message.magic, message.command, message.raw_payload) == data[: limits.HEADER_SIZE]


@pytest.mark.parametrize("entry", LEGACY, ids=vector_id)
def test_legacy_20_byte_header_round_trips(entry: dict[str, Any]) -> None:
    data = bytes.fromhex(entry["hex"])
    message = spec.parse_message(data, legacy_header=True)
    assert message.command == entry["command"]
    assert message.checksum_ok is None
    assert spec.build_message(message.magic, message.command, message.payload, legacy_header=True) == data
    # Read with the modern 24-byte header the same bytes do not make sense.
    with pytest.raises(errors.ProtocolError):
        spec.parse_message(data)


def test_bad_checksum_vector_is_rejected_and_reportable() -> None:
    data = golden("version", "relay byte")
    with pytest.raises(errors.BadChecksum):
        spec.parse_message(data)
    message = spec.parse_message(data, verify_checksum=False)
    assert message.checksum_ok is False
    assert message.payload.relay is None  # the byte that was cut out


def test_unknown_magic_vector() -> None:
    data = golden("sendcmpct", "fuzzer-derived")
    with pytest.raises(errors.BadMagic):
        spec.parse_message(data, magic=params.MAIN.magic)
    assert int.from_bytes(data[:4], "little") not in params.BY_MAGIC
    with pytest.raises(errors.BadChecksum):  # checked before the (also malformed) payload
        spec.parse_message(data)


def test_non_canonical_boolean_vector_is_invalid() -> None:
    with pytest.raises(errors.InvalidValue, match="0 or 1"):
        spec.parse_message(golden("sendcmpct", "invalid_mode_bit"))


# --- fields the sources state ------------------------------------------------------------


def test_version_from_bitcoin_core_0_17_1() -> None:
    payload = spec.parse_message((VECTORS / "messages" / "version-satoshi-0.17.1.bin").read_bytes()).payload
    assert (payload.version, payload.user_agent, payload.start_height) == (70015, "/Satoshi:0.17.1/", 560275)
    assert payload.relay is True and payload.extra is None


def test_version_protocol_60002_and_pre_209_forms() -> None:
    assert spec.parse_message(golden("version", "protocol 60002")).payload.version == 60002
    nbitcoin = spec.parse_message(golden("version", "protocol version 31900"), legacy_header=True).payload
    assert nbitcoin.version == 31900 and nbitcoin.relay is None
    peafowl = [e for e in LEGACY if e["command"] == "version"]
    assert {spec.parse_message(bytes.fromhex(e["hex"]), legacy_header=True).payload.version for e in peafowl} == {
        31900,
        32001,
    }


def test_addr_with_one_address() -> None:
    (address,) = spec.parse_message(golden("addr", "10.0.0.1:8333")).payload.addresses
    assert address.ip == bytes(10) + b"\xff\xff" + bytes([10, 0, 0, 1])
    assert address.port == 8333


def test_addr_with_a_thousand_addresses() -> None:
    assert len(spec.parse_message(golden("addr", "1000 addresses")).payload.addresses) == limits.MAX_ADDR


def test_addrv2_ipv4_entries() -> None:
    payload = spec.parse_message(golden("addrv2", "addr_v2_spec")).payload
    assert {entry.network_id for entry in payload.addresses} == {1}
    assert payload.addresses[0].address == bytes([123, 123, 123, 0])


def test_reject_duplicate() -> None:
    payload = spec.parse_message(golden("reject", "bad-txns-inputs-spent")).payload
    assert (payload.message, payload.ccode, payload.reason) == ("tx", 0x12, "bad-txns-inputs-spent")
    assert payload.data[::-1].hex().startswith("964182ff") and payload.data[::-1].hex().endswith("7a57")


def test_headers_are_mainnet_blocks_1_to_6_and_link() -> None:
    entries = spec.parse_message(golden("headers", "blocks 1..6")).payload.headers
    assert len(entries) == 6
    previous = hashing.hex_to_hash(params.MAIN.genesis_hash)
    for entry in entries:
        assert entry.header.prev_block == previous
        assert entry.tx_count == 0
        previous = hashing.double_sha256(spec.serialize_header(entry.header))
    assert entries[0].header == block_header_of("block_1.bin")


def test_cmpctblock_for_block_426884() -> None:
    payload = spec.parse_message(golden("cmpctblock", "426884")).payload
    assert len(payload.short_ids) == 408
    (prefilled,) = payload.prefilled
    assert prefilled.index == 0
    assert payload.header == block_header_of("block_426884.bin")
    txid = hashing.hash_to_hex(hashing.double_sha256(spec.serialize_tx(prefilled.tx, include_witness=False)))
    assert txid.startswith("d867349c") and txid.endswith("7e2a")


def test_merkleblock_for_block_300025() -> None:
    payload = spec.parse_message(golden("merkleblock", "300025")).payload
    assert (payload.total_transactions, len(payload.hashes), len(payload.flags)) == (461, 10, 3)
    assert payload.header == block_header_of("block_300025.bin")


def test_bare_payload_files() -> None:
    payloads = VECTORS / "messages" / "payloads"
    assert len(spec.parse_payload("cmpctblock", (payloads / "cmpctblock_426884.payload.bin").read_bytes()).short_ids) == 408
    merkle = spec.parse_payload("merkleblock", (payloads / "merkleblock_300025.payload.bin").read_bytes())
    assert merkle.total_transactions == 461
    entry = spec.parse_payload("headers", b"\x01" + (payloads / "headers1.payload.bin").read_bytes())
    assert entry.headers[0].header == block_header_of("block_1.bin")


def test_partial_message_tail_is_trailing_bytes() -> None:
    (entry,) = [e for e in GOLDEN if "stream_tail_hex" in e]
    data = bytes.fromhex(entry["hex"]) + bytes.fromhex(entry["stream_tail_hex"])
    with pytest.raises(errors.TrailingBytes):
        spec.parse_message(data)


# --- truncation -----------------------------------------------------------------------------


def cut_points(length: int) -> range | list[int]:
    """Every offset for small messages; for large ones the edges and a stride between."""
    if length <= 2048:
        return range(length)
    return sorted({*range(256), *range(length - 256, length), *range(256, length - 256, 97)})


@pytest.mark.parametrize("entry", VALID + LEGACY, ids=vector_id)
def test_every_cut_of_a_message_is_truncated(entry: dict[str, Any]) -> None:
    data = bytes.fromhex(entry["hex"])
    legacy = entry in LEGACY
    for cut in cut_points(len(data)):
        with pytest.raises(errors.Truncated):
            spec.parse_message(data[:cut], legacy_header=legacy)


@pytest.mark.parametrize("entry", VALID, ids=vector_id)
def test_every_cut_of_a_payload_fails_typed_or_is_a_shorter_valid_form(entry: dict[str, Any]) -> None:
    """Cut payloads either raise a ProtocolError or (version, ping, reject: optional and
    greedy tails) parse to a shorter valid form that rebuilds to exactly the cut bytes."""
    message = spec.parse_message(bytes.fromhex(entry["hex"]))
    payload = message.raw_payload
    for cut in cut_points(len(payload)):
        try:
            value = spec.parse_payload(message.command, payload[:cut])
        except errors.ProtocolError:
            continue
        assert message.command in {"version", "ping", "reject"}, f"cut at {cut} parsed"
        assert spec.build_payload(message.command, value) == payload[:cut]
