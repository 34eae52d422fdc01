"""The three voices of a payload codec side by side: `spec.py` and the two wire twins."""

# Shared by wire/test_codecs.py, msg/msg_tables.py and the fuzz harness fuzz/fuzz_codecs.py.
# `plain` puts a twin's value in the spec's shape (dicts and lists of plain values, what a parsed
# Container holds), so one `==` compares every field; `to_primitive` goes the other way, for the
# encoders; `agreement` runs one payload through all three voices and asserts that they agree.

from __future__ import annotations

from typing import Any, Callable

from pantheon import spec
from pantheon.errors import ProtocolError
from pantheon.primitives import Block, BlockHeader, InvVect, NetAddress, Tx, TxIn, TxOut

#: The commands with payload codecs in both twins: decode_<command> / encode_<command>.
COMMANDS = ("inv", "getdata", "notfound", "headers", "tx", "block", "addr")
_INVENTORY = ("inv", "getdata", "notfound")
_HEADER_FIELDS = ("version", "prev_block", "merkle_root", "timestamp", "bits", "nonce")


# --- twin value -> spec shape -----------------------------------------------------------------


def spec_plain(value: Any) -> Any:
    """A parsed spec value as plain dicts and lists (construct's `_io` bookkeeping dropped)."""
    if isinstance(value, dict):
        return {key: spec_plain(item) for key, item in value.items() if not key.startswith("_")}
    if isinstance(value, (list, tuple)):
        return [spec_plain(item) for item in value]
    return value


def header_plain(header: BlockHeader) -> dict[str, Any]:
    return {name: getattr(header, name) for name in _HEADER_FIELDS}


def tx_plain(tx: Tx) -> dict[str, Any]:
    return {
        "version": tx.version,
        "inputs": [
            {"prev_txid": i.prev_txid, "prev_index": i.prev_index, "script_sig": i.script_sig,
             "sequence": i.sequence, "witness": list(i.witness)}
            for i in tx.inputs
        ],
        "outputs": [{"value": o.value, "script_pubkey": o.script_pubkey} for o in tx.outputs],
        "locktime": tx.locktime,
    }


def plain(command: str, value: Any) -> Any:
    """What `spec.parse_payload(command, ...)` gives, made from a twin's decoded value."""
    if command in _INVENTORY:
        return {"inventory": [{"type": item.type, "hash": item.hash} for item in value]}
    if command == "headers":
        return {"headers": [{"header": header_plain(h), "tx_count": h.tx_count} for h in value]}
    if command == "tx":
        return tx_plain(value)
    if command == "block":
        return {"header": header_plain(value.header), "transactions": [tx_plain(tx) for tx in value.transactions]}
    if command == "addr":
        return {"addresses": [{"time": a.time, "services": a.services, "ip": a.ip, "port": a.port} for a in value]}
    raise ValueError(command)


# --- spec shape -> primitives, for the encoders -----------------------------------------------


def header_of(fields: Any, tx_count: int = 0) -> BlockHeader:
    return BlockHeader(*(fields[name] for name in _HEADER_FIELDS), tx_count=tx_count)


def tx_of(fields: Any) -> Tx:
    inputs = [
        TxIn(i["prev_txid"], i["prev_index"], i["script_sig"], i["sequence"], i.get("witness") or ())
        for i in fields["inputs"]
    ]
    outputs = [TxOut(o["value"], o["script_pubkey"]) for o in fields["outputs"]]
    return Tx(fields["version"], inputs, outputs, fields["locktime"])


def to_primitive(command: str, value: Any) -> Any:
    """The argument of `encode_<command>` for a spec-shaped value."""
    if command in _INVENTORY:
        return [InvVect(item["type"], item["hash"]) for item in value["inventory"]]
    if command == "headers":
        return [header_of(entry["header"], entry["tx_count"]) for entry in value["headers"]]
    if command == "tx":
        return tx_of(value)
    if command == "block":
        return Block(header_of(value["header"]), tuple(tx_of(tx) for tx in value["transactions"]))
    if command == "addr":
        return [NetAddress(a["time"], a["services"], a["ip"], a["port"]) for a in value["addresses"]]
    raise ValueError(command)


# --- outcomes ---------------------------------------------------------------------------------


def outcome(function: Callable[..., Any], *args: Any) -> tuple[Any, ...]:
    """("value", result) or ("error", class, message). Only ProtocolError is caught: anything
    else escaping a decoder is a bug and propagates."""
    try:
        return ("value", function(*args))
    except ProtocolError as error:
        return ("error", type(error), str(error))


def agreement(command: str, data: bytes, twins: list[Any]) -> tuple[Any, ...]:
    """Decode `data` with every twin and with the spec and assert they agree: the twins on the
    value or on the error's class and message, the spec on the value or the error's class. An
    accepted payload must re-encode to itself. Returns the spec's outcome."""
    expected = outcome(spec.parse_payload, command, data)
    first = None
    for twin in twins:
        got = outcome(getattr(twin, f"decode_{command}"), data)
        assert got[0] == expected[0], (twin.__name__, command, data.hex(), got, expected)
        if got[0] == "value":
            assert plain(command, got[1]) == spec_plain(expected[1]), (twin.__name__, command, data.hex())
            assert getattr(twin, f"encode_{command}")(got[1]) == data, (twin.__name__, command, data.hex())
            got = ("value", plain(command, got[1]))
        else:
            assert got[1] is expected[1], (twin.__name__, command, data.hex(), got, expected)
        if first is None:
            first = got
        else:
            assert got == first, (twin.__name__, command, data.hex(), got, first)
    return expected
