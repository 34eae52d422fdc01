"""Property tests of the construct grammar, for every command in `spec.PAYLOADS`.

1. Round trip: a random valid payload (plain dicts and lists) builds, parses back to the same
   value field by field, and the parsed value rebuilds to the same bytes; the same holds
   through framing, for every network magic and for the pre-209 header.
2. Robustness: arbitrary bytes and mutated valid encodings either raise a `ProtocolError`
   subclass or parse to a value that rebuilds to exactly the input (the encoding is canonical).
3. Truncation: every strict prefix of a valid payload raises `Truncated`, except the complete
   shorter forms of the three grammars with optional or greedy tails (version, ping, reject).
4. Caps: each capped field builds and parses at its cap; one more is refused by the builder,
   and by the parser from the declared count alone, before any item is read.

Why prefixes can only raise `Truncated`: the grammar reads forward and every check depends
only on bytes already read, so a prefix is read exactly like the full payload until it runs
out. Only `IfMore` (version, ping) and `GreedyBytes` (version, reject) look at where the data
ends; no other command can see a cut as a different count, flag or value.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from pantheon import limits, protocol, spec
from pantheon.errors import (
    InvalidValue,
    OversizedMessage,
    ProtocolError,
    Truncated,
)
from pantheon.params import BY_MAGIC

COMMANDS = sorted(spec.PAYLOADS)
MAGICS = sorted(BY_MAGIC)
MAX_SIZE = limits.MAX_MESSAGE_SIZE_CEILING  # Core's MAX_SIZE: the ceiling of every count

# --- helpers -------------------------------------------------------------------------------


def compact_size(value: int) -> bytes:
    """A canonical CompactSize, written here independently of the spec."""
    if value < 0xFD:
        return bytes([value])
    if value <= 0xFFFF:
        return b"\xfd" + value.to_bytes(2, "little")
    if value <= 0xFFFFFFFF:
        return b"\xfe" + value.to_bytes(4, "little")
    return b"\xff" + value.to_bytes(8, "little")


def frame_header(magic: int, command: bytes, payload: bytes, *, length: int | None = None) -> bytes:
    """A 24-byte header built by hand (correct checksum, `length` defaults to the real one)."""
    digest = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    size = len(payload) if length is None else length
    return magic.to_bytes(4, "little") + command.ljust(12, b"\x00") + size.to_bytes(4, "little") + digest


_TX_INPUT_KEYS = frozenset({"prev_txid", "prev_index", "script_sig", "sequence"})


def normalise(value: Any) -> Any:
    """Plain dicts/lists/bytes: Containers lose construct's `_io`, a tx input without a
    `witness` key has an empty stack."""
    if isinstance(value, dict):
        out = {key: normalise(item) for key, item in value.items() if not key.startswith("_")}
        if _TX_INPUT_KEYS <= out.keys():
            out.setdefault("witness", [])
        return out
    if isinstance(value, list):
        return [normalise(item) for item in value]
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    return value


def canonical_or_rejected(command: str, data: bytes) -> None:
    """`data` is refused with a ProtocolError, or it parses to a value rebuilding to `data`."""
    try:
        parsed = spec.parse_payload(command, data)
    except ProtocolError as error:
        event(f"rejected: {type(error).__name__}")
        return
    event("accepted")
    assert spec.build_payload(command, parsed) == data


def message_canonical_or_rejected(data: bytes, legacy_header: bool = False) -> None:
    """The framed counterpart of `canonical_or_rejected`, also with the checksum unverified."""
    try:
        message = spec.parse_message(data, legacy_header=legacy_header)
    except ProtocolError as error:
        event(f"rejected: {type(error).__name__}")
    else:
        event("accepted")
        assert message.checksum_ok is (None if legacy_header else True)
        assert spec.build_message(message.magic, message.command, message.payload, legacy_header=legacy_header) == data
    if legacy_header:
        return
    try:
        message = spec.parse_message(data, verify_checksum=False)
    except ProtocolError:
        return
    assert data[limits.HEADER_SIZE:] == message.raw_payload
    assert spec.build_payload(message.command, message.payload) == message.raw_payload


# --- strategies: one per command -----------------------------------------------------------

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, 2**64 - 1)
i32 = st.integers(-(2**31), 2**31 - 1)
i64 = st.integers(-(2**63), 2**63 - 1)
hashes = st.binary(min_size=32, max_size=32)
# every CompactSize width, its boundaries included
compact_sizes = st.one_of(
    st.sampled_from([0, 0xFC, 0xFD, 0xFFFF, 0x1_0000, 0xFFFF_FFFF, 0x1_0000_0000, 2**64 - 1]),
    st.integers(0, 0xFC),
    st.integers(0xFD, 0xFFFF),
    st.integers(0x1_0000, 0xFFFF_FFFF),
    st.integers(0x1_0000_0000, 2**64 - 1),
)
# Core reads a header's tx count with ReadCompactSize's range check: at most MAX_SIZE
tx_counts = st.one_of(st.sampled_from([0, 0xFC, 0xFD, 0xFFFF, 0x1_0000, MAX_SIZE]), st.integers(0, MAX_SIZE))
# byte strings across the one-byte/three-byte CompactSize boundary
var_bytes = st.one_of(st.binary(max_size=40), st.binary(min_size=250, max_size=260))


def few(strategy: st.SearchStrategy, max_size: int = 4, **kwargs: Any) -> st.SearchStrategy:
    return st.lists(strategy, max_size=max_size, **kwargs)


# any bytes are a legal string: undecodable ones travel as surrogate escapes
wire_text = st.one_of(
    st.text(max_size=40),  # at most 160 UTF-8 bytes
    st.binary(max_size=80).map(lambda raw: raw.decode("utf-8", "surrogateescape")),
)
user_agents = st.one_of(
    wire_text,
    st.binary(min_size=250, max_size=limits.MAX_USER_AGENT).map(lambda raw: raw.decode("utf-8", "surrogateescape")),
)

net_addresses = st.fixed_dictionaries({"services": u64, "ip": st.binary(min_size=16, max_size=16), "port": u16})
timed_net_addresses = st.fixed_dictionaries(
    {"time": u32, "services": u64, "ip": st.binary(min_size=16, max_size=16), "port": u16}
)
block_headers = st.fixed_dictionaries(
    {"version": i32, "prev_block": hashes, "merkle_root": hashes, "timestamp": u32, "bits": u32, "nonce": u32}
)
inv_vectors = st.fixed_dictionaries({"type": st.one_of(st.sampled_from(sorted(protocol.INV_TYPE_NAMES)), u32), "hash": hashes})
inventories = st.fixed_dictionaries({"inventory": few(inv_vectors, 5)})
locators = st.fixed_dictionaries({"version": u32, "locator": few(hashes, 5), "hash_stop": hashes})


def transactions_of(scripts: st.SearchStrategy, max_inputs: int) -> st.SearchStrategy:
    """At least one input: a zero-input transaction is ambiguous with the segwit marker (as
    in Core). An input without a `witness` key has an empty stack."""
    tx_inputs = st.fixed_dictionaries(
        {"prev_txid": hashes, "prev_index": u32, "script_sig": scripts, "sequence": u32},
        optional={"witness": few(st.binary(max_size=40), 3)},
    )
    tx_outputs = st.fixed_dictionaries({"value": i64, "script_pubkey": scripts})
    return st.fixed_dictionaries(
        {
            "version": i32,
            "inputs": st.lists(tx_inputs, min_size=1, max_size=max_inputs),
            "outputs": few(tx_outputs, max_inputs),
            "locktime": u32,
        }
    )


transactions = transactions_of(var_bytes, 3)
# inside block, blocktxn and cmpctblock: short scripts keep every-prefix checks fast
small_transactions = transactions_of(st.binary(max_size=40), 2)

addrv2_known = st.sampled_from(sorted(spec.ADDRV2_NETWORKS.items())).flatmap(
    lambda item: st.tuples(st.just(item[0]), st.binary(min_size=item[1][1], max_size=item[1][1]))
)
addrv2_unknown = st.tuples(
    st.integers(0, 0xFF).filter(lambda network: network not in spec.ADDRV2_NETWORKS),
    st.one_of(st.binary(max_size=40), st.binary(min_size=250, max_size=limits.MAX_ADDRV2_ADDRESS)),
)
addrv2_entries = st.builds(
    lambda time, services, address, port: {
        "time": time, "services": services, "network_id": address[0], "address": address[1], "port": port,
    },
    u32, compact_sizes, st.one_of(addrv2_known, addrv2_unknown), u16,
)

bip152_indexes = st.lists(st.integers(0, limits.MAX_BIP152_INDEX), unique=True, max_size=6).map(sorted)


@st.composite
def versions(draw: st.DrawFn) -> dict:
    """Each optional field present only when every field before it is (as Core reads them);
    `extra` non-empty, since an empty trailing field is indistinguishable from none."""
    depth = draw(st.integers(0, 5))
    return {
        "version": draw(i32),
        "services": draw(u64),
        "timestamp": draw(i64),
        "addr_recv": draw(net_addresses),
        "addr_from": draw(net_addresses) if depth >= 1 else None,
        "nonce": draw(u64) if depth >= 1 else None,
        "user_agent": draw(user_agents) if depth >= 2 else None,
        "start_height": draw(i32) if depth >= 3 else None,
        "relay": draw(st.booleans()) if depth >= 4 else None,
        "extra": draw(st.binary(min_size=1, max_size=64)) if depth >= 5 else None,
    }


@st.composite
def prefilled(draw: st.DrawFn) -> list:
    return [{"index": index, "tx": draw(small_transactions)} for index in draw(bip152_indexes.map(lambda xs: xs[:3]))]


empty = st.just({})

STRATEGIES: dict[str, st.SearchStrategy] = {
    "version": versions(),
    "verack": empty,
    "ping": st.fixed_dictionaries({"nonce": st.none() | u64}),
    "pong": st.fixed_dictionaries({"nonce": u64}),
    "getaddr": empty,
    "addr": st.fixed_dictionaries({"addresses": few(timed_net_addresses, 5)}),
    "addrv2": st.fixed_dictionaries({"addresses": few(addrv2_entries, 3)}),
    "sendaddrv2": empty,
    "inv": inventories,
    "getdata": inventories,
    "notfound": inventories,
    "getheaders": locators,
    "getblocks": locators,
    "headers": st.fixed_dictionaries(
        {"headers": few(st.fixed_dictionaries({"header": block_headers, "tx_count": tx_counts}), 3)}
    ),
    "block": st.fixed_dictionaries({"header": block_headers, "transactions": few(small_transactions, 3)}),
    "tx": transactions,
    "mempool": empty,
    "reject": st.fixed_dictionaries(
        {
            "message": wire_text,
            "ccode": st.one_of(st.sampled_from(sorted(spec.REJECT_CODES)), u8),
            "reason": wire_text,
            "data": st.one_of(st.just(b""), hashes, st.binary(max_size=40)),
        }
    ),
    "sendheaders": empty,
    "feefilter": st.fixed_dictionaries({"feerate": i64}),
    "sendcmpct": st.fixed_dictionaries({"announce": st.booleans(), "version": u64}),
    "cmpctblock": st.fixed_dictionaries(
        {
            "header": block_headers,
            "nonce": u64,
            "short_ids": few(st.binary(min_size=6, max_size=6), 6),
            "prefilled": prefilled(),
        }
    ),
    "getblocktxn": st.fixed_dictionaries({"block_hash": hashes, "indexes": bip152_indexes}),
    "blocktxn": st.fixed_dictionaries({"block_hash": hashes, "transactions": few(small_transactions, 3)}),
    "wtxidrelay": empty,
    "merkleblock": st.fixed_dictionaries(
        {"header": block_headers, "total_transactions": u32, "hashes": few(hashes, 4), "flags": st.binary(max_size=8)}
    ),
    "filterload": st.fixed_dictionaries(
        {"filter": st.binary(max_size=300), "hash_funcs": u32, "tweak": u32, "flags": u8}
    ),
    "filteradd": st.fixed_dictionaries({"data": st.binary(max_size=limits.MAX_FILTERADD_SIZE)}),
    "filterclear": empty,
    "getcfilters": st.fixed_dictionaries({"filter_type": u8, "start_height": u32, "stop_hash": hashes}),
    "cfilter": st.fixed_dictionaries({"filter_type": u8, "block_hash": hashes, "filter": var_bytes}),
    "getcfheaders": st.fixed_dictionaries({"filter_type": u8, "start_height": u32, "stop_hash": hashes}),
    "cfheaders": st.fixed_dictionaries(
        {"filter_type": u8, "stop_hash": hashes, "previous_filter_header": hashes, "filter_hashes": few(hashes, 4)}
    ),
    "getcfcheckpt": st.fixed_dictionaries({"filter_type": u8, "stop_hash": hashes}),
    "cfcheckpt": st.fixed_dictionaries({"filter_type": u8, "stop_hash": hashes, "filter_headers": few(hashes, 4)}),
    "sendtxrcncl": st.fixed_dictionaries({"version": u32, "salt": u64}),
}


@st.composite
def mutations(draw: st.DrawFn, data: bytes) -> bytes:
    """One to three edits of `data`: flip, truncate, append, insert, delete, duplicate."""
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "truncate", "append", "insert", "delete", "duplicate"]))
        size = len(data)
        if kind == "append" or not data:
            data += draw(st.binary(min_size=1, max_size=16))
        elif kind == "flip":
            at = draw(st.integers(0, size - 1))
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 0xFF))]) + data[at + 1:]
        elif kind == "truncate":
            data = data[: draw(st.integers(0, size - 1))]
        elif kind == "insert":
            at = draw(st.integers(0, size))
            data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
        else:
            start = draw(st.integers(0, size - 1))
            stop = draw(st.integers(start + 1, min(size, start + 40)))
            data = data[:start] + data[stop:] if kind == "delete" else data[:stop] + data[start:]
    return data


# --- 1. round trips ------------------------------------------------------------------------


def test_strategies_cover_exactly_the_command_table() -> None:
    """Every command has a strategy and nothing else does: a new command fails here first."""
    assert set(STRATEGIES) == set(spec.PAYLOADS) == limits.COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_payload_round_trip(command: str, data: st.DataObject) -> None:
    """A valid payload builds, parses to the same value field by field, and rebuilds byte for byte."""
    obj = data.draw(STRATEGIES[command], label="obj")
    payload = spec.build_payload(command, obj)
    assert len(payload) <= limits.MAX_PAYLOAD[command]
    parsed = spec.parse_payload(command, payload)
    assert normalise(parsed) == normalise(obj)
    assert spec.build_payload(command, parsed) == payload


@pytest.mark.parametrize("command", COMMANDS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), magic=st.sampled_from(MAGICS), legacy_header=st.booleans())
def test_message_round_trip(command: str, data: st.DataObject, magic: int, legacy_header: bool) -> None:
    """Framed for any known network (and with the pre-209 header), a message parses back to
    the same magic, command and payload, with the checksum verified."""
    obj = data.draw(STRATEGIES[command], label="obj")
    payload = spec.build_payload(command, obj)
    frame = spec.build_message(magic, command, obj, legacy_header=legacy_header)
    header_size = limits.LEGACY_HEADER_SIZE if legacy_header else limits.HEADER_SIZE
    assert frame[:4] == BY_MAGIC[magic].magic_bytes
    assert frame[header_size:] == payload
    message = spec.parse_message(frame, magic=magic, legacy_header=legacy_header)
    assert message.magic == magic
    assert message.network == BY_MAGIC[magic].name
    assert message.command == command
    assert message.raw_payload == payload
    assert message.checksum_ok is (None if legacy_header else True)
    assert normalise(message.payload) == normalise(obj)
    assert spec.build_message(magic, command, message.payload, legacy_header=legacy_header) == frame


@settings(max_examples=150, deadline=None)
@given(command=st.text(max_size=14), payload=st.binary(max_size=16))
def test_command_names_frame_exactly_or_are_refused(command: str, payload: bytes) -> None:
    """Any command name either frames and reads back unchanged, or the builder refuses it
    with a ProtocolError; it is never silently rewritten."""
    assume(command not in spec.PAYLOADS)  # an unknown command carries raw bytes
    try:
        frame = spec.build_message(MAGICS[0], command, payload)
    except ProtocolError:
        return
    message = spec.parse_message(frame)
    assert (message.command, message.payload) == (command, payload)


# --- 2. robustness -------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=600))
def test_parse_payload_arbitrary_bytes(command: str, data: bytes) -> None:
    """Arbitrary bytes are refused with a ProtocolError or are a canonical encoding."""
    canonical_or_rejected(command, data)


@pytest.mark.parametrize("command", COMMANDS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_parse_payload_mutated(command: str, data: st.DataObject) -> None:
    """Flipped, cut, extended or spliced valid payloads are refused with a ProtocolError or
    are a canonical encoding."""
    payload = spec.build_payload(command, data.draw(STRATEGIES[command], label="obj"))
    canonical_or_rejected(command, data.draw(mutations(payload), label="mutated"))


_frame_commands = st.sampled_from([*(name.encode() for name in COMMANDS), b"", b"unknown", b"alert"])


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=600),
        # a well-formed header (length and checksum right) over arbitrary payload bytes
        st.builds(
            lambda magic, command, payload: frame_header(magic, command, payload) + payload,
            st.one_of(st.sampled_from(MAGICS), u32),
            _frame_commands,
            st.binary(max_size=600),
        ),
    ),
    legacy_header=st.booleans(),
)
def test_parse_message_arbitrary_bytes(data: bytes, legacy_header: bool) -> None:
    """Arbitrary bytes, alone or under a correct header, never parse into a message that
    does not rebuild to exactly those bytes, and never raise anything but a ProtocolError."""
    message_canonical_or_rejected(data, legacy_header)


@pytest.mark.parametrize("command", COMMANDS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), magic=st.sampled_from(MAGICS))
def test_parse_message_mutated(command: str, data: st.DataObject, magic: int) -> None:
    """A mutated frame, and a mutated payload under a correct header, is refused with a
    ProtocolError or rebuilds to exactly the same frame."""
    obj = data.draw(STRATEGIES[command], label="obj")
    frame = spec.build_message(magic, command, obj)
    message_canonical_or_rejected(data.draw(mutations(frame), label="mutated frame"))
    payload = data.draw(mutations(frame[limits.HEADER_SIZE:]), label="mutated payload")
    message_canonical_or_rejected(frame_header(magic, command.encode(), payload) + payload)


# --- 3. truncation -------------------------------------------------------------------------


def _version_shorter_forms(obj: dict, payload: bytes) -> dict[int, dict]:
    """Prefix length -> the value it must parse to: the version with the trailing fields
    cut off (pre-106, pre-209, pre-70001 forms), or with a shorter `extra`."""
    forms: dict[int, dict] = {}
    cut = dict(obj, addr_from=None, nonce=None, user_agent=None, start_height=None, relay=None, extra=None)
    end = 4 + 8 + 8 + 26
    forms[end] = dict(cut)
    if obj["addr_from"] is None:
        return forms
    end += 26 + 8
    cut.update(addr_from=obj["addr_from"], nonce=obj["nonce"])
    forms[end] = dict(cut)
    for name in ("user_agent", "start_height", "relay"):
        if obj[name] is None:
            return forms
        if name == "user_agent":
            encoded = obj[name].encode("utf-8", "surrogateescape")
            end += limits.compact_size_len(len(encoded)) + len(encoded)
        else:
            end += 4 if name == "start_height" else 1
        cut[name] = obj[name]
        forms[end] = dict(cut)
    for stop in range(end + 1, len(payload)):
        forms[stop] = dict(cut, extra=payload[end:stop])
    return forms


def _reject_shorter_forms(obj: dict, payload: bytes) -> dict[int, dict]:
    end = 0
    for name in ("message", "reason"):
        size = len(obj[name].encode("utf-8", "surrogateescape"))
        end += limits.compact_size_len(size) + size + (1 if name == "message" else 0)
    return {stop: dict(obj, data=payload[end:stop]) for stop in range(end, len(payload))}


#: Grammars whose strict prefixes can be complete messages, and which prefixes those are.
SHORTER_FORMS: dict[str, Callable[[dict, bytes], dict[int, dict]]] = {
    "version": _version_shorter_forms,
    "ping": lambda obj, payload: {0: {"nonce": None}},
    "reject": _reject_shorter_forms,
}


@pytest.mark.parametrize("command", COMMANDS)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_strict_prefix(command: str, data: st.DataObject) -> None:
    """Each strict prefix of a valid payload raises Truncated, unless (version, ping, reject
    only) it is a complete shorter form: then it parses to exactly that form and rebuilds to
    the prefix."""
    obj = data.draw(STRATEGIES[command], label="obj")
    payload = spec.build_payload(command, obj)
    shorter = SHORTER_FORMS[command](obj, payload) if command in SHORTER_FORMS else {}
    for stop in range(len(payload)):
        prefix = payload[:stop]
        if stop in shorter:
            parsed = spec.parse_payload(command, prefix)
            assert normalise(parsed) == normalise(shorter[stop]), stop
            assert spec.build_payload(command, parsed) == prefix
        else:
            with pytest.raises(Truncated):
                spec.parse_payload(command, prefix)


# --- 4. caps -------------------------------------------------------------------------------

_HEADER = {"version": 1, "prev_block": bytes(32), "merkle_root": bytes(32), "timestamp": 0, "bits": 0, "nonce": 0}
_TX = {
    "version": 2, "locktime": 0, "outputs": [{"value": 1, "script_pubkey": b"\x51"}],
    "inputs": [{"prev_txid": bytes(32), "prev_index": 0, "script_sig": b"", "sequence": 0xFFFFFFFF}],
}
_ADDR = {"time": 0, "services": 1, "ip": bytes(16), "port": 8333}
_VERSION_TO_NONCE = {
    "version": 70016, "services": 1, "timestamp": 0, "addr_recv": {"services": 1, "ip": bytes(16), "port": 8333},
    "addr_from": {"services": 1, "ip": bytes(16), "port": 8333}, "nonce": 7,
}
_VERSION_TO_NONCE_BYTES = bytes(4 + 8 + 8 + 26 + 26 + 8)
# every version field present, with a 256-byte user agent: the room left is for `extra`
_VERSION_FULL = (
    len(_VERSION_TO_NONCE_BYTES) + limits.compact_size_len(limits.MAX_USER_AGENT) + limits.MAX_USER_AGENT + 4 + 1
)
_VERSION_EXTRA_ROOM = limits.MAX_PAYLOAD["version"] - _VERSION_FULL


def _version(user_agent_size: int, extra_size: int = 0) -> dict:
    extra = b"\xee" * extra_size or None
    return dict(_VERSION_TO_NONCE, user_agent="a" * user_agent_size, start_height=0, relay=True, extra=extra)


def _addrv2_entry(address_size: int, network_id: int = 0xFF) -> dict:
    return {"time": 0, "services": 2**64 - 1, "network_id": network_id, "address": b"\x01" * address_size, "port": 1}


@dataclass(frozen=True)
class Cap:
    """A capped field: `build(n)` is a payload with `n` items (or bytes) in that field (None:
    parser check only); `wire_prefix` is the payload bytes before its count; `exact` when a
    payload at the cap is exactly the command's MAX_PAYLOAD."""

    field: str
    command: str
    cap: int
    build: Callable[[int], dict] | None
    wire_prefix: bytes
    exact: bool

    def __str__(self) -> str:
        return self.field


def _inv_cap(command: str) -> Cap:
    return Cap(
        f"{command}.inventory", command, limits.MAX_INV_ENTRIES,
        lambda n: {"inventory": [{"type": 2, "hash": b"\x11" * 32}] * n}, b"", True,
    )


def _locator_cap(command: str) -> Cap:
    return Cap(
        f"{command}.locator", command, limits.MAX_LOCATOR_HASHES,
        lambda n: {"version": 70016, "locator": [b"\x22" * 32] * n, "hash_stop": bytes(32)}, b"\x00" * 4, True,
    )


CAPS = [
    *(_inv_cap(command) for command in ("inv", "getdata", "notfound")),
    Cap("addr.addresses", "addr", limits.MAX_ADDR, lambda n: {"addresses": [_ADDR] * n}, b"", True),
    # largest entries (9-byte services, unknown network, 512-byte address) reach MAX_PAYLOAD
    Cap(
        "addrv2.addresses", "addrv2", limits.MAX_ADDR,
        lambda n: {"addresses": [_addrv2_entry(limits.MAX_ADDRV2_ADDRESS)] * n}, b"", True,
    ),
    Cap(
        "addrv2.address", "addrv2", limits.MAX_ADDRV2_ADDRESS,
        lambda n: {"addresses": [_addrv2_entry(n)]},
        b"\x01" + bytes(4) + compact_size(2**64 - 1) + b"\xff", False,
    ),
    *(_locator_cap(command) for command in ("getheaders", "getblocks")),
    # a 5-byte tx count (Core's MAX_SIZE) on every header reaches MAX_PAYLOAD
    Cap(
        "headers.headers", "headers", limits.MAX_HEADERS,
        lambda n: {"headers": [{"header": _HEADER, "tx_count": MAX_SIZE}] * n}, b"", True,
    ),
    # with the full extension room after `relay`, a 256-byte user agent reaches MAX_PAYLOAD
    Cap(
        "version.user_agent", "version", limits.MAX_USER_AGENT,
        lambda n: _version(n, _VERSION_EXTRA_ROOM),
        _VERSION_TO_NONCE_BYTES, True,
    ),
    Cap(
        "filterload.filter", "filterload", limits.MAX_BLOOM_FILTER_SIZE,
        lambda n: {"filter": b"\x33" * n, "hash_funcs": 11, "tweak": 0, "flags": 1}, b"", True,
    ),
    Cap("filteradd.data", "filteradd", limits.MAX_FILTERADD_SIZE, lambda n: {"data": b"\x44" * n}, b"", True),
    Cap(
        "cfheaders.filter_hashes", "cfheaders", limits.MAX_CFHEADERS,
        lambda n: {"filter_type": 0, "stop_hash": bytes(32), "previous_filter_header": bytes(32),
                   "filter_hashes": [b"\x55" * 32] * n},
        bytes(1 + 32 + 32), True,
    ),
    # indexes 0..n-1 (one-byte gaps); more than 65,536 cannot all fit 16 bits
    Cap(
        "getblocktxn.indexes", "getblocktxn", limits.MAX_BIP152_INDEX + 1,
        lambda n: {"block_hash": bytes(32), "indexes": list(range(n))}, bytes(32), False,
    ),
]

#: Capped fields too large to build at the cap in a unit test (65,536 prefilled transactions
#: are ~3.4 MB of construct work): only the parser's count check is exercised.
PARSE_ONLY_CAPS = [
    Cap("cmpctblock.prefilled", "cmpctblock", limits.MAX_BIP152_INDEX + 1, None, bytes(80 + 8) + b"\x00", False),
]


@pytest.mark.parametrize("cap", CAPS, ids=str)
def test_builds_and_parses_at_cap(cap: Cap) -> None:
    """A field exactly at its cap builds within the command's MAX_PAYLOAD (exactly at it where
    the payload cap is derived from that field) and round-trips."""
    assert cap.build is not None
    obj = cap.build(cap.cap)
    payload = spec.build_payload(cap.command, obj)
    if cap.exact:
        assert len(payload) == limits.MAX_PAYLOAD[cap.command]
    else:
        assert len(payload) <= limits.MAX_PAYLOAD[cap.command]
    parsed = spec.parse_payload(cap.command, payload)
    assert normalise(parsed) == normalise(obj)
    assert spec.build_payload(cap.command, parsed) == payload


@pytest.mark.parametrize("cap", CAPS, ids=str)
def test_build_over_cap_is_oversized(cap: Cap) -> None:
    """One item (or byte) over the cap is refused by the builder as OversizedMessage naming
    the field."""
    assert cap.build is not None
    with pytest.raises(OversizedMessage) as raised:
        spec.build_payload(cap.command, cap.build(cap.cap + 1))
    assert (raised.value.field, raised.value.size, raised.value.cap) == (cap.field, cap.cap + 1, cap.cap)


@pytest.mark.parametrize("cap", CAPS + PARSE_ONLY_CAPS, ids=str)
def test_parse_declared_count_over_cap(cap: Cap) -> None:
    """A declared count one over the cap is OversizedMessage with no item bytes following (the
    count is checked before any item is read); a count at the cap is accepted and then runs
    out of data (Truncated)."""
    with pytest.raises(OversizedMessage) as raised:
        spec.parse_payload(cap.command, cap.wire_prefix + compact_size(cap.cap + 1))
    assert (raised.value.field, raised.value.size, raised.value.cap) == (cap.field, cap.cap + 1, cap.cap)
    with pytest.raises(Truncated):
        spec.parse_payload(cap.command, cap.wire_prefix + compact_size(cap.cap))


#: Counts and lengths with no protocol cap: Core's MAX_SIZE still bounds them.
UNCAPPED = [
    ("tx", "tx.inputs", b"\x01\x00\x00\x00"),
    ("tx", "tx.outputs", b"\x01\x00\x00\x00\x01" + bytes(36) + b"\x00" + bytes(4)),
    ("tx", "tx.script_sig", b"\x01\x00\x00\x00\x01" + bytes(36)),
    ("tx", "tx.witness", b"\x01\x00\x00\x00\x00\x01\x01" + bytes(36) + b"\x00" + bytes(4) + b"\x00"),
    ("tx", "tx.witness_item", b"\x01\x00\x00\x00\x00\x01\x01" + bytes(36) + b"\x00" + bytes(4) + b"\x00\x01"),
    ("block", "block.transactions", bytes(80)),
    ("cmpctblock", "cmpctblock.short_ids", bytes(88)),
    ("blocktxn", "blocktxn.transactions", bytes(32)),
    ("merkleblock", "merkleblock.hashes", bytes(84)),
    ("merkleblock", "merkleblock.flags", bytes(85)),
    ("cfilter", "cfilter.filter", bytes(33)),
    ("cfcheckpt", "cfcheckpt.filter_headers", bytes(33)),
    ("reject", "reject.message", b""),
    ("reject", "reject.reason", b"\x00\x10"),
]


@pytest.mark.parametrize(("command", "field", "wire_prefix"), UNCAPPED, ids=[row[1] for row in UNCAPPED])
def test_uncapped_counts_held_to_max_size(command: str, field: str, wire_prefix: bytes) -> None:
    """A count or length with no protocol cap above Core's MAX_SIZE is OversizedMessage before
    any item is read; at MAX_SIZE it is read and runs out of data at once (no hang)."""
    with pytest.raises(OversizedMessage) as raised:
        spec.parse_payload(command, wire_prefix + compact_size(MAX_SIZE + 1))
    assert (raised.value.field, raised.value.size) == (field, MAX_SIZE + 1)
    with pytest.raises(Truncated):
        spec.parse_payload(command, wire_prefix + compact_size(MAX_SIZE))


def test_headers_tx_count_held_to_max_size() -> None:
    """A header's tx count is read and ignored, but, as in Core (ReadCompactSize's range
    check, which the headers payload cap in limits.py assumes), never above MAX_SIZE."""
    entry = bytes(80)
    at_ceiling = b"\x01" + entry + compact_size(MAX_SIZE)
    assert spec.parse_payload("headers", at_ceiling).headers[0].tx_count == MAX_SIZE
    with pytest.raises(ProtocolError):
        spec.parse_payload("headers", b"\x01" + entry + compact_size(MAX_SIZE + 1))
    with pytest.raises(ProtocolError):
        spec.build_payload("headers", {"headers": [{"header": _HEADER, "tx_count": MAX_SIZE + 1}]})


def test_version_extension_room_is_the_payload_cap() -> None:
    """`extra` may fill the version payload up to MAX_PAYLOAD; one byte more is refused."""
    at_cap = _version(limits.MAX_USER_AGENT, _VERSION_EXTRA_ROOM)
    assert len(spec.build_payload("version", at_cap)) == limits.MAX_PAYLOAD["version"]
    with pytest.raises(OversizedMessage) as raised:
        spec.build_payload("version", dict(at_cap, extra=at_cap["extra"] + b"\xee"))
    assert raised.value.field == "version payload"


@pytest.mark.parametrize("command", COMMANDS)
def test_payload_over_command_cap(command: str) -> None:
    """A payload longer than the command's cap is OversizedMessage before parsing, and a
    header declaring that length is refused before any payload byte is looked at."""
    cap = limits.max_payload(command)
    with pytest.raises(OversizedMessage) as raised:
        spec.parse_payload(command, bytes(cap + 1))
    assert (raised.value.field, raised.value.size, raised.value.cap) == (f"{command} payload", cap + 1, cap)
    with pytest.raises(OversizedMessage):
        spec.parse_message(frame_header(MAGICS[0], command.encode(), b"", length=cap + 1))


@pytest.mark.parametrize(
    ("command", "obj", "wire"),
    [
        ("getblocktxn", {"block_hash": bytes(32), "indexes": [limits.MAX_BIP152_INDEX + 1]},
         bytes(32) + b"\x01" + compact_size(limits.MAX_BIP152_INDEX + 1)),
        ("getblocktxn", {"block_hash": bytes(32), "indexes": [5, 5]}, None),
        ("cmpctblock", {"header": _HEADER, "nonce": 0, "short_ids": [], "prefilled": [
            {"index": limits.MAX_BIP152_INDEX + 1, "tx": _TX}]},
         bytes(88) + b"\x00\x01" + compact_size(limits.MAX_BIP152_INDEX + 1)),
        ("cmpctblock", None, bytes(88) + b"\x00\x02\x00" + bytes(10) + compact_size(limits.MAX_BIP152_INDEX)),
    ],
    ids=["getblocktxn-0x10000", "getblocktxn-repeated", "cmpctblock-0x10000", "cmpctblock-gap-past-0xffff"],
)
def test_bip152_index_beyond_16_bits(command: str, obj: dict | None, wire: bytes | None) -> None:
    """A BIP152 index past 0xFFFF, or not strictly increasing, is InvalidValue when built and,
    from the gap alone (no transaction bytes after it), when parsed."""
    if obj is not None:
        with pytest.raises(InvalidValue, match="16 bits"):
            spec.build_payload(command, obj)
    if wire is not None:
        with pytest.raises(InvalidValue, match="16 bits"):
            spec.parse_payload(command, wire)


@settings(max_examples=30, deadline=None)
@given(
    tx=transactions,
    index=st.integers(limits.MAX_BIP152_INDEX - 3, limits.MAX_BIP152_INDEX),
    short_ids=few(st.binary(min_size=6, max_size=6), 2),
)
def test_bip152_index_at_16_bits(tx: dict, index: int, short_ids: list) -> None:
    """Indexes up to 0xFFFF (a 3-byte gap) build and round-trip in cmpctblock and getblocktxn."""
    prefilled_at = [{"index": index, "tx": tx}]
    for command, obj in (
        ("cmpctblock", {"header": _HEADER, "nonce": 1, "short_ids": short_ids, "prefilled": prefilled_at}),
        ("getblocktxn", {"block_hash": bytes(32), "indexes": [0, index]}),
    ):
        payload = spec.build_payload(command, obj)
        parsed = spec.parse_payload(command, payload)
        assert normalise(parsed) == normalise(obj)
        assert spec.build_payload(command, parsed) == payload
