"""double_sha256, checksum and the 24-byte message header, run against both twins.

Every test takes `wire_impl`. The references are hashlib, real wire bytes (sources beside each
vector) and, for the differential tests, the pure twin `pantheon._wire_py`.
"""

from __future__ import annotations

import array
import hashlib
from typing import Any, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.twins import attempt
from pantheon import _wire_py, errors, limits

# Network magics as wire bytes (DESIGN.md, Bitcoin Core chainparams); the API takes the uint32.
MAIN = int.from_bytes(bytes.fromhex("f9beb4d9"), "little")
TESTNET3 = int.from_bytes(bytes.fromhex("0b110907"), "little")
REGTEST = int.from_bytes(bytes.fromhex("fabfb5da"), "little")

# Mainnet verack, rust-bitcoin p2p/src/message.rs test serialize_verack (commit 42226547fab3),
# also in NBitcoin's ProtocolTests.cs; shared/vectors/messages/golden-vectors.json.
VERACK_MAIN = bytes.fromhex(
    "f9beb4d9"  # magic (mainnet)
    "76657261636b000000000000"  # command "verack", NUL-padded to 12
    "00000000"  # payload length 0
    "5df6e0e2"  # checksum of the empty payload
)

# Regtest ping recorded from Bitcoin Core by MithrilShards (docs/_private/bitcoin/raw-messages.md,
# commit d232b95c4fa3); shared/vectors/messages/golden-vectors.json.
PING_REGTEST_HEADER = bytes.fromhex(
    "fabfb5da"  # magic (regtest)
    "70696e670000000000000000"  # command "ping"
    "08000000"  # payload length 8
    "39ad44a3"  # checksum
)
PING_REGTEST_PAYLOAD = bytes.fromhex("0c8e5ac3a00df32f")  # nonce (uint64 LE)

# Mainnet genesis block header (Bitcoin Core chainparams.cpp; shared/vectors/blocks/block_0_genesis.bin).
GENESIS_HEADER = bytes.fromhex(
    "01000000"  # version 1
    "0000000000000000000000000000000000000000000000000000000000000000"  # previous block: none
    "3ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a"  # merkle root
    "29ab5f49"  # time 1231006505
    "ffff001d"  # bits 0x1d00ffff
    "1dac2b7c"  # nonce 2083236893
)
# Its hash in display order (byte-reversed), as RPC and explorers show it.
GENESIS_HASH = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"

EMPTY_CHECKSUM = bytes.fromhex("5df6e0e2")


def reference(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def header_with_command_field(field: bytes, magic: int = MAIN) -> bytes:
    assert len(field) == limits.COMMAND_SIZE
    return VERACK_MAIN[:4] + field + VERACK_MAIN[4 + limits.COMMAND_SIZE :]


# --- double_sha256 / checksum ----------------------------------------------------------------


def test_empty_payload_checksum(wire_impl) -> None:
    assert wire_impl.module.checksum(b"") == EMPTY_CHECKSUM
    assert wire_impl.module.double_sha256(b"")[: limits.CHECKSUM_SIZE] == EMPTY_CHECKSUM


def test_genesis_header_hash(wire_impl) -> None:
    digest = wire_impl.module.double_sha256(GENESIS_HEADER)
    assert len(digest) == 32
    assert digest[::-1].hex() == GENESIS_HASH


def test_ping_checksum(wire_impl) -> None:
    assert wire_impl.module.checksum(PING_REGTEST_PAYLOAD) == PING_REGTEST_HEADER[-limits.CHECKSUM_SIZE :]


# Around the SHA-256 block (64) and padding (55/56) edges, and the compiled twin's GIL threshold.
@pytest.mark.parametrize("size", [0, 1, 31, 32, 55, 56, 63, 64, 65, 4095, 4096, 4097, 65536])
def test_double_sha256_matches_hashlib(wire_impl, size: int) -> None:
    data = bytes((i * 7 + size) & 0xFF for i in range(size))
    digest = wire_impl.module.double_sha256(data)
    assert type(digest) is bytes
    assert digest == reference(data)
    checksum = wire_impl.module.checksum(data)
    assert type(checksum) is bytes
    assert checksum == reference(data)[: limits.CHECKSUM_SIZE]


@pytest.mark.parametrize(
    "make",
    [
        bytes,
        bytearray,
        memoryview,
        lambda data: memoryview(b"\x00" + data + b"\x00")[1:-1],  # a contiguous slice
        lambda data: memoryview(bytearray(data)),
        lambda data: array.array("B", data),
        lambda data: memoryview(data).cast("I"),  # itemsize 4: hashed as its bytes
    ],
    ids=["bytes", "bytearray", "memoryview", "memoryview-slice", "memoryview-bytearray", "array", "cast-I"],
)
@pytest.mark.parametrize("data", [b"", GENESIS_HEADER, bytes(range(256)) * 40], ids=["empty", "80", "10240"])
def test_any_buffer(wire_impl, make: Callable[[bytes], Any], data: bytes) -> None:
    assert wire_impl.module.double_sha256(make(data)) == reference(data)
    assert wire_impl.module.checksum(make(data)) == reference(data)[: limits.CHECKSUM_SIZE]


def test_one_megabyte(wire_impl) -> None:
    data = bytes(range(256)) * 4096
    assert len(data) == 1 << 20
    assert wire_impl.module.double_sha256(data) == reference(data)
    assert wire_impl.module.double_sha256(bytearray(data)) == reference(data)
    assert wire_impl.module.checksum(memoryview(data)) == reference(data)[: limits.CHECKSUM_SIZE]


@pytest.mark.parametrize("function", ["double_sha256", "checksum"])
def test_non_buffers_rejected(wire_impl, function: str) -> None:
    hash_function = getattr(wire_impl.module, function)
    for value in ["verack", 7, None, [1, 2]]:
        with pytest.raises(TypeError):
            hash_function(value)
    with pytest.raises(BufferError):
        hash_function(memoryview(b"abcdef")[::2])  # not C-contiguous


@given(st.binary(max_size=300))
def test_hashes_match_hashlib(wire_impl, data: bytes) -> None:
    assert wire_impl.module.double_sha256(data) == reference(data)
    assert wire_impl.module.checksum(bytearray(data)) == reference(data)[: limits.CHECKSUM_SIZE]


# --- pack_header / unpack_header -------------------------------------------------------------


def test_verack_mainnet(wire_impl) -> None:
    assert MAIN == 0xD9B4BEF9
    assert wire_impl.module.pack_header(MAIN, "verack", b"") == VERACK_MAIN
    assert wire_impl.module.unpack_header(VERACK_MAIN, MAIN) == ("verack", 0, EMPTY_CHECKSUM)


def test_ping_regtest(wire_impl) -> None:
    assert wire_impl.module.pack_header(REGTEST, "ping", PING_REGTEST_PAYLOAD) == PING_REGTEST_HEADER
    message = PING_REGTEST_HEADER + PING_REGTEST_PAYLOAD
    expected = ("ping", len(PING_REGTEST_PAYLOAD), PING_REGTEST_HEADER[-limits.CHECKSUM_SIZE :])
    # Bytes after the header (here the payload) are left alone.
    for data in (message, bytearray(message), memoryview(message), PING_REGTEST_HEADER):
        assert wire_impl.module.unpack_header(data, REGTEST) == expected


@pytest.mark.parametrize(
    "command",
    ["verack", "version", "getblocktxn", "sendaddrv2", "abcdefghijkl", " ~!\"#$%&'()*", "x", ""],
)
@pytest.mark.parametrize("payload", [b"", b"\x00", bytes(range(256)) * 20], ids=["0", "1", "5120"])
def test_round_trip(wire_impl, command: str, payload: bytes) -> None:
    for magic in (MAIN, TESTNET3, REGTEST, 0, 0xFFFF_FFFF):
        header = wire_impl.module.pack_header(magic, command, payload)
        assert type(header) is bytes and len(header) == limits.HEADER_SIZE
        assert header[:4] == magic.to_bytes(4, "little")
        assert header[4 : 4 + limits.COMMAND_SIZE] == command.encode().ljust(limits.COMMAND_SIZE, b"\0")
        assert wire_impl.module.unpack_header(header, magic) == (
            command,
            len(payload),
            reference(payload)[: limits.CHECKSUM_SIZE],
        )
        assert header == wire_impl.module.pack_header(magic, command, bytearray(payload))
        assert header == wire_impl.module.pack_header(magic, command, memoryview(payload))


def test_pack_length_counts_bytes_not_items(wire_impl) -> None:
    payload = array.array("I", [1, 2, 3])
    header = wire_impl.module.pack_header(MAIN, "tx", payload)
    assert wire_impl.module.unpack_header(header, MAIN) == (
        "tx",
        payload.itemsize * len(payload),
        reference(payload.tobytes())[: limits.CHECKSUM_SIZE],
    )


@pytest.mark.parametrize("size", [0, 1, limits.HEADER_SIZE - 1])
def test_unpack_truncated(wire_impl, size: int) -> None:
    with pytest.raises(errors.Truncated):
        wire_impl.module.unpack_header(VERACK_MAIN[:size], MAIN)


@pytest.mark.parametrize("expected", [TESTNET3, REGTEST, 0, MAIN ^ 1])
def test_unpack_bad_magic(wire_impl, expected: int) -> None:
    with pytest.raises(errors.BadMagic):
        wire_impl.module.unpack_header(VERACK_MAIN, expected)


@pytest.mark.parametrize(
    "field",
    [
        b"ver\x00ack\x00\x00\x00\x00\x00",  # NUL, then non-NUL
        b"verack\x00\x00\x00\x00\x00x",  # non-NUL in the last byte after padding
        b"\x00verack\x00\x00\x00\x00\x00",  # leading NUL, then non-NUL
        b"verack\x01\x00\x00\x00\x00\x00",  # control character
        b"\tverack\x00\x00\x00\x00\x00",  # tab
        b"verack\x7f\x00\x00\x00\x00\x00",  # DEL
        b"verack\x80\x00\x00\x00\x00\x00",  # high bit set
        b"\xff" * 12,
    ],
)
def test_unpack_bad_command(wire_impl, field: bytes) -> None:
    with pytest.raises(errors.BadCommand):
        wire_impl.module.unpack_header(header_with_command_field(field), MAIN)


@pytest.mark.parametrize(
    ("field", "command"),
    [
        (b"\x00" * 12, ""),  # Core's IsMessageTypeValid accepts an all-NUL (empty) command
        (b"abcdefghijkl", "abcdefghijkl"),  # 12 characters, no NUL at all
        (b" ~\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", " ~"),  # the printable range's ends
    ],
)
def test_unpack_command_edges(wire_impl, field: bytes, command: str) -> None:
    assert wire_impl.module.unpack_header(header_with_command_field(field), MAIN) == (
        command,
        0,
        EMPTY_CHECKSUM,
    )


@pytest.mark.parametrize(
    "command",
    ["sendaddrv2xyz", "x" * 20, "ver\x00ack", "verack\n", "\x7f", "vérack", "ping\u2028"],
    ids=["13-chars", "20-chars", "nul", "newline", "del", "non-ascii", "unicode-separator"],
)
def test_pack_bad_command(wire_impl, command: str) -> None:
    with pytest.raises(errors.BadCommand):
        wire_impl.module.pack_header(MAIN, command, b"")


def test_pack_oversized_payload(wire_impl) -> None:
    ceiling = limits.MAX_MESSAGE_SIZE_CEILING
    with pytest.raises(errors.OversizedMessage) as caught:
        wire_impl.module.pack_header(MAIN, "block", bytes(ceiling + 1))
    assert (caught.value.field, caught.value.size, caught.value.cap) == ("block", ceiling + 1, ceiling)


@pytest.mark.parametrize(
    ("function", "args", "error"),
    [
        ("pack_header", (-1, "verack", b""), OverflowError),
        ("pack_header", (1 << 32, "verack", b""), OverflowError),
        ("pack_header", (1.0, "verack", b""), TypeError),
        ("pack_header", (MAIN, b"verack", b""), TypeError),
        ("pack_header", (MAIN, "verack", "payload"), TypeError),
        ("unpack_header", (VERACK_MAIN, -1), OverflowError),
        ("unpack_header", (VERACK_MAIN, 1 << 32), OverflowError),
        ("unpack_header", ("f9beb4d9" * 6, MAIN), TypeError),
    ],
)
def test_bad_arguments(wire_impl, function: str, args: tuple[Any, ...], error: type) -> None:
    with pytest.raises(error):
        getattr(wire_impl.module, function)(*args)


# --- the twins agree, errors and messages included -------------------------------------------

AGREEMENT_CASES = [
    ("pack_header", (MAIN, "verack", b"")),
    ("pack_header", (MAIN, "x" * 13, b"")),
    ("pack_header", (MAIN, "v\x01", b"")),
    ("pack_header", (MAIN, "vérack", b"")),
    ("pack_header", (-1, "verack", b"")),
    ("pack_header", (1 << 32, "verack", b"")),
    ("pack_header", (MAIN, 7, b"")),
    ("unpack_header", (VERACK_MAIN, MAIN)),
    ("unpack_header", (VERACK_MAIN[:23], MAIN)),
    ("unpack_header", (b"", MAIN)),
    ("unpack_header", (VERACK_MAIN, REGTEST)),
    ("unpack_header", (header_with_command_field(b"ver\x00ack\x00\x00\x00\x00\x00"), MAIN)),
    ("unpack_header", (header_with_command_field(b"\xff" * 12), MAIN)),
    ("unpack_header", (VERACK_MAIN, 1 << 32)),
]


@pytest.mark.parametrize(("function", "args"), AGREEMENT_CASES)
def test_twins_agree(wire_impl, function: str, args: tuple[Any, ...]) -> None:
    assert attempt(getattr(wire_impl.module, function), *args) == attempt(getattr(_wire_py, function), *args)


@given(
    magic=st.sampled_from([MAIN, TESTNET3, REGTEST]),
    data=st.one_of(
        st.binary(max_size=40),
        st.builds(
            lambda field, rest: VERACK_MAIN[:4] + field + rest,
            st.binary(min_size=12, max_size=12),
            st.binary(min_size=8, max_size=16),
        ),
    ),
)
def test_twins_agree_on_any_header(wire_impl, magic: int, data: bytes) -> None:
    assert attempt(wire_impl.module.unpack_header, data, magic) == attempt(_wire_py.unpack_header, data, magic)


@given(command=st.text(max_size=14), payload=st.binary(max_size=64))
def test_twins_agree_on_any_pack(wire_impl, command: str, payload: bytes) -> None:
    expected = attempt(_wire_py.pack_header, MAIN, command, payload)
    assert attempt(wire_impl.module.pack_header, MAIN, command, payload) == expected
    if expected[0] == "ok":
        assert wire_impl.module.unpack_header(expected[1], MAIN) == (
            command,
            len(payload),
            reference(payload)[: limits.CHECKSUM_SIZE],
        )
