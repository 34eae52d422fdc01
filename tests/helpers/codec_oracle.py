"""The three voices of a payload codec side by side: `spec.py` and the two wire twins."""

# Shared by wire/test_codecs.py, msg/msg_tables.py and the fuzz harness fuzz/fuzz_codecs.py.
# `plain` puts a twin's value in the spec's shape (dicts and lists of plain values, what a parsed
# Container holds), so one `==` compares every field; `to_primitive` goes the other way, for the
# encoders; `agreement` runs one payload through all three voices and asserts that they agree.

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from pantheon import limits, spec
from pantheon.errors import ProtocolError
from pantheon import primitives
from pantheon.primitives import Block, BlockHeader, InvVect, Locator, NetAddress, Tx, TxIn, TxOut

#: Every command: both twins have decode_<command> / encode_<command>.
COMMANDS = tuple(sorted(limits.COMMANDS))
#: The commands whose codecs are compiled in `_codecs.pxi` (the others are the pure twin's).
COMPILED = ("inv", "getdata", "notfound", "headers", "tx", "block", "addr")
_INVENTORY = ("inv", "getdata", "notfound")
_LOCATORS = ("getheaders", "getblocks")
_HEADER_FIELDS = ("version", "prev_block", "merkle_root", "timestamp", "bits", "nonce")
#: Messages of one field decode to that field's value.
_ONE_FIELD = {"ping": "nonce", "pong": "nonce", "feefilter": "feerate", "filteradd": "data"}
#: Messages of one list decode to the list.
_LISTS = {"inv": "inventory", "getdata": "inventory", "notfound": "inventory", "addr": "addresses", "addrv2": "addresses"}
#: The record each other command decodes to.
_RECORDS: dict[str, type] = {
    "block": Block, "version": primitives.Version, "sendcmpct": primitives.SendCmpct, "reject": primitives.Reject,
    "filterload": primitives.FilterLoad, "merkleblock": primitives.MerkleBlock, "sendtxrcncl": primitives.SendTxRcncl,
    "cmpctblock": primitives.CmpctBlock, "getblocktxn": primitives.BlockTxnRequest, "blocktxn": primitives.BlockTxn,
    "getcfilters": primitives.CFRequest, "cfilter": primitives.CFilter, "getcfheaders": primitives.CFRequest,
    "cfheaders": primitives.CFHeaders, "getcfcheckpt": primitives.CFCheckptRequest, "cfcheckpt": primitives.CFCheckpt,
}


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


def value_plain(value: Any) -> Any:
    """A value of `pantheon.primitives` (or a list of them) as plain dicts and lists."""
    if isinstance(value, BlockHeader):
        return header_plain(value)
    if isinstance(value, Tx):
        return tx_plain(value)
    if dataclasses.is_dataclass(value):
        return {field.name: value_plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [value_plain(item) for item in value]
    return value


def plain(command: str, value: Any) -> Any:
    """What `spec.parse_payload(command, ...)` gives, made from a twin's decoded value."""
    if command == "headers":
        return {"headers": [{"header": header_plain(h), "tx_count": h.tx_count} for h in value]}
    if command in _LOCATORS:
        return {"version": value.version, "locator": list(value.hashes), "hash_stop": value.stop}
    if command in _ONE_FIELD:
        return {_ONE_FIELD[command]: value}
    if command in _LISTS:
        return {_LISTS[command]: value_plain(value)}
    if value is None and limits.MAX_PAYLOAD[command] == 0:
        return {}
    return value_plain(value)


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


#: Fields whose spec shape is not the record's value: field name -> converter.
_NESTED: dict[str, Callable[[Any], Any]] = {
    "addr_recv": lambda fields: record_of(primitives.Endpoint, fields),
    "addr_from": lambda fields: None if fields is None else record_of(primitives.Endpoint, fields),
    "header": header_of,
    "transactions": lambda txs: tuple(tx_of(tx) for tx in txs),
    "prefilled": lambda entries: tuple(primitives.PrefilledTx(entry["index"], tx_of(entry["tx"])) for entry in entries),
}


def record_of(kind: type, fields: Any) -> Any:
    """A record of `kind` from the spec's fields of the same names."""
    return kind(**{f.name: _NESTED.get(f.name, lambda item: item)(fields.get(f.name)) for f in dataclasses.fields(kind)})


def to_primitive(command: str, value: Any) -> Any:
    """The argument of `encode_<command>` for a spec-shaped value."""
    if command in _INVENTORY:
        return [InvVect(item["type"], item["hash"]) for item in value["inventory"]]
    if command == "headers":
        return [header_of(entry["header"], entry["tx_count"]) for entry in value["headers"]]
    if command == "tx":
        return tx_of(value)
    if command == "addr":
        return [record_of(NetAddress, a) for a in value["addresses"]]
    if command == "addrv2":
        return [record_of(primitives.AddrV2Entry, a) for a in value["addresses"]]
    if command in _LOCATORS:
        return Locator(value["version"], value["locator"], value["hash_stop"])
    if command in _ONE_FIELD:
        return value[_ONE_FIELD[command]]
    if limits.MAX_PAYLOAD[command] == 0:
        return None
    return record_of(_RECORDS[command], value)


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
