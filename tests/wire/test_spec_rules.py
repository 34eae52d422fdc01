"""Rules the spec enforces beyond field layout, each from Bitcoin Core's deserialisation or a
BIP: header checks in Core's order, per-command caps before the payload is read, canonical
CompactSize, BIP144 witness flags, BIP155 address lengths, BIP152 16-bit indexes, the
optional tails of `version`, and unknown commands kept as raw bytes."""

from __future__ import annotations

import pytest

from pantheon import errors, limits, params, spec

MAIN = params.MAIN.magic


def header(command: bytes, length: int, checksum: bytes = b"\x00" * 4, magic: int = MAIN) -> bytes:
    return magic.to_bytes(4, "little") + command.ljust(12, b"\x00") + length.to_bytes(4, "little") + checksum


# --- the message header ------------------------------------------------------------------


@pytest.mark.parametrize(
    "field",
    [
        b"ver\x00sion\x00\x00\x00\x00",  # a character after the first NUL
        b"version\x01\x00\x00\x00\x00",  # a control character
        b"\xffersion\x00\x00\x00\x00\x00",  # not ASCII
    ],
)
def test_malformed_command_field(field: bytes) -> None:
    data = MAIN.to_bytes(4, "little") + field + bytes(8)
    with pytest.raises(errors.BadCommand):
        spec.parse_message(data)


def test_command_names_longer_than_twelve_cannot_be_built() -> None:
    with pytest.raises(errors.BadCommand):
        spec.build_message(MAIN, "thirteen-char", b"")


def test_declared_length_over_the_command_cap_fails_before_the_payload() -> None:
    """A 9-byte ping is refused from its header alone: no payload bytes are needed."""
    with pytest.raises(errors.OversizedMessage) as caught:
        spec.parse_message(header(b"ping", limits.MAX_PAYLOAD["ping"] + 1))
    assert caught.value.field == "ping payload" and caught.value.cap == 8


def test_declared_length_over_the_message_limit_fails_before_the_payload() -> None:
    with pytest.raises(errors.OversizedMessage) as caught:
        spec.parse_message(header(b"block", limits.MAX_MESSAGE_SIZE + 1))
    assert caught.value.size == limits.MAX_MESSAGE_SIZE + 1
    with pytest.raises(errors.OversizedMessage):  # unknown commands get the overall cap
        spec.parse_message(header(b"futurecmd", limits.MAX_MESSAGE_SIZE + 1))


def test_a_configured_cap_only_lowers_the_table() -> None:
    assert limits.max_payload("ping", limits.MAX_MESSAGE_SIZE) == 8
    assert limits.max_payload("block", 1_000) == 1_000
    assert limits.max_payload("futurecmd") == limits.MAX_MESSAGE_SIZE


def test_magic_is_checked_first() -> None:
    data = spec.build_message(params.TESTNET3.magic, "verack", {})
    with pytest.raises(errors.BadMagic):
        spec.parse_message(data, magic=MAIN)
    assert spec.parse_message(data, magic=params.TESTNET3.magic).network == "testnet3"


def test_unknown_command_keeps_its_raw_payload() -> None:
    data = spec.build_message(MAIN, "futurecmd", b"\x01\x02\x03")
    message = spec.parse_message(data)
    assert (message.command, message.payload) == ("futurecmd", b"\x01\x02\x03")
    assert spec.build_message(MAIN, message.command, message.payload) == data


def test_every_command_has_a_grammar_and_a_cap() -> None:
    assert set(spec.PAYLOADS) == limits.COMMANDS
    assert all(0 <= cap <= limits.MAX_MESSAGE_SIZE for cap in limits.MAX_PAYLOAD.values())


def test_empty_messages_reject_a_payload() -> None:
    with pytest.raises(errors.OversizedMessage):
        spec.parse_payload("verack", b"\x00")


# --- CompactSize -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encoded",
    ["fdfc00", "fe ffff0000".replace(" ", ""), "ff ffffffff00000000".replace(" ", "")],
    ids=["fd-below-253", "fe-below-65536", "ff-below-2^32"],
)
def test_non_canonical_compact_size_is_rejected(encoded: str) -> None:
    with pytest.raises(errors.InvalidValue, match="non-canonical"):
        spec.parse_payload("inv", bytes.fromhex(encoded))


@pytest.mark.parametrize("value", [0, 0xFC, 0xFD, 0xFFFF, 0x10000, 0xFFFFFFFF, 0x1_0000_0000, 2**64 - 1])
def test_compact_size_boundaries_round_trip(value: int) -> None:
    encoded = spec.CompactSize().build(value)
    assert len(encoded) == limits.compact_size_len(value)
    assert spec.CompactSize().parse(encoded) == value


# --- caps (the full table of capped fields is in test_spec_properties.py) -------------------


def test_user_agent_over_256_bytes() -> None:
    version = spec.parse_message(spec.build_message(MAIN, "version", _version(user_agent="x" * 256))).payload
    assert len(version.user_agent) == limits.MAX_USER_AGENT
    with pytest.raises(errors.OversizedMessage, match="version.user_agent"):
        spec.build_payload("version", _version(user_agent="x" * 257))


def test_a_huge_declared_count_without_a_cap_is_truncated_not_allocated() -> None:
    """block.transactions has no protocol cap; a 2^32 count in a tiny payload fails fast."""
    genesis_header = params.MAIN.genesis_block[:80]
    with pytest.raises(errors.Truncated):
        spec.parse_payload("block", genesis_header + b"\xfe\xff\xff\xff\x01")


# --- transactions (BIP144, as Core's UnserializeTransaction) -----------------------------


def _tx(witness: list[bytes]) -> dict:
    return {
        "version": 2,
        "inputs": [{"prev_txid": b"\x01" * 32, "prev_index": 3, "script_sig": b"", "sequence": 0, "witness": witness}],
        "outputs": [{"value": 5000, "script_pubkey": b"\x00\x14" + b"\x02" * 20}],
        "locktime": 7,
    }


def test_segwit_marker_and_flag_are_emitted_only_with_a_witness() -> None:
    segwit = spec.serialize_tx(_tx([b"\x30" * 71, b"\x02" * 33]))
    legacy = spec.serialize_tx(_tx([]))
    assert segwit[4:6] == b"\x00\x01" and legacy[4] == 1  # one input, no marker
    assert spec.serialize_tx(spec.parse_tx(segwit), include_witness=False) == legacy


def test_superfluous_witness_record_is_rejected() -> None:
    legacy = spec.serialize_tx(_tx([]))
    all_empty = legacy[:4] + b"\x00\x01" + legacy[4:-4] + b"\x00" + legacy[-4:]
    with pytest.raises(errors.InvalidValue, match="superfluous witness"):
        spec.parse_tx(all_empty)


def test_unknown_transaction_flags_are_rejected() -> None:
    segwit = spec.serialize_tx(_tx([b"\x01"]))
    with pytest.raises(errors.InvalidValue, match="unknown transaction optional data"):
        spec.parse_tx(segwit[:5] + b"\x03" + segwit[6:])


def test_empty_input_vector_with_zero_flag_is_the_empty_transaction() -> None:
    """Core reads 00 00 as no inputs and (flag 0) no outputs."""
    tx = spec.parse_tx(b"\x01\x00\x00\x00" + b"\x00\x00" + b"\x00\x00\x00\x00")
    assert (tx.inputs, tx.outputs) == ([], [])


# --- BIP155 addrv2 ---------------------------------------------------------------------------


def _addrv2(network_id: int, address: bytes) -> bytes:
    return b"\x01" + bytes(4) + b"\x01" + bytes([network_id]) + spec.CompactSize().build(len(address)) + address + b"\x20\x8d"


@pytest.mark.parametrize(("network_id", "size"), [(1, 4), (2, 16), (3, 10), (4, 32), (5, 32), (6, 16)])
def test_addrv2_known_networks_need_their_exact_length(network_id: int, size: int) -> None:
    assert spec.parse_payload("addrv2", _addrv2(network_id, bytes(size))).addresses[0].network_id == network_id
    with pytest.raises(errors.InvalidValue, match="should be"):
        spec.parse_payload("addrv2", _addrv2(network_id, bytes(size + 1)))


def test_addrv2_unknown_network_is_kept_opaque_up_to_512_bytes() -> None:
    (entry,) = spec.parse_payload("addrv2", _addrv2(42, b"\xaa" * 512)).addresses
    assert (entry.network_id, entry.address) == (42, b"\xaa" * 512)
    with pytest.raises(errors.OversizedMessage, match="addrv2.address"):
        spec.parse_payload("addrv2", _addrv2(42, b"\xaa" * 513))


# --- BIP152 differential indexes ------------------------------------------------------------


def test_getblocktxn_indexes_are_differential() -> None:
    payload = bytes(32) + b"\x03" + b"\x00\x00\x05"  # indexes 0, 1, 7
    assert list(spec.parse_payload("getblocktxn", payload).indexes) == [0, 1, 7]
    assert spec.build_payload("getblocktxn", {"block_hash": bytes(32), "indexes": [0, 1, 7]}) == payload


def test_differential_index_overflowing_16_bits_is_rejected() -> None:
    payload = bytes(32) + b"\x02" + b"\xfd\xff\xff" + b"\x00"  # 65535, then 65536
    with pytest.raises(errors.InvalidValue, match="16 bits"):
        spec.parse_payload("getblocktxn", payload)


def test_indexes_that_do_not_increase_cannot_be_built() -> None:
    with pytest.raises(errors.InvalidValue, match="increase"):
        spec.build_payload("getblocktxn", {"block_hash": bytes(32), "indexes": [4, 4]})


# --- version's optional tails ----------------------------------------------------------------


def _version(**overrides: object) -> dict:
    fields: dict = {
        "version": 70016,
        "services": 0x409,
        "timestamp": 1_700_000_000,
        "addr_recv": {"services": 0, "ip": bytes(10) + b"\xff\xff\x7f\x00\x00\x01", "port": 8333},
        "addr_from": {"services": 0x409, "ip": bytes(16), "port": 0},
        "nonce": 0x1234,
        "user_agent": "/Pantheon:0.1.0/",
        "start_height": 800_000,
        "relay": True,
        "extra": None,
    }
    fields.update(overrides)
    return fields


@pytest.mark.parametrize(
    ("cut_after", "absent"),
    [
        ("addr_recv", ["addr_from", "nonce", "user_agent", "start_height", "relay"]),  # before 106
        ("user_agent", ["start_height", "relay"]),
        ("start_height", ["relay"]),  # before 70001 (BIP37)
    ],
)
def test_version_short_forms(cut_after: str, absent: list[str]) -> None:
    full = spec.build_payload("version", _version())
    ends = {"addr_recv": 46, "user_agent": 46 + 34 + 17, "start_height": 46 + 34 + 17 + 4}
    short = spec.parse_payload("version", full[: ends[cut_after]])
    assert all(short[name] is None for name in absent)
    assert spec.build_payload("version", short) == full[: ends[cut_after]]


def test_version_cut_inside_the_nonce_is_truncated() -> None:
    with pytest.raises(errors.Truncated):
        spec.parse_payload("version", spec.build_payload("version", _version())[:46 + 26 + 4])


def test_version_keeps_fields_from_future_protocol_versions() -> None:
    payload = spec.build_payload("version", _version()) + b"\xde\xad"
    parsed = spec.parse_payload("version", payload)
    assert parsed.extra == b"\xde\xad"
    assert spec.build_payload("version", parsed) == payload


def test_old_empty_ping_and_bip31_ping() -> None:
    assert spec.parse_payload("ping", b"").nonce is None
    assert spec.parse_payload("ping", (7).to_bytes(8, "little")).nonce == 7


def test_build_errors_are_typed() -> None:
    with pytest.raises(errors.InvalidValue):
        spec.build_payload("pong", {"nonce": -1})
    with pytest.raises(errors.InvalidValue):
        spec.build_payload("pong", {})
