"""What a message says, for people (`summarize`: one short line) and for programs (`to_json`).

The summary of the heavy payloads (inv/getdata/notfound, headers, tx, block, addr) goes through
the wire codecs, so a capture full of blocks decodes at the compiled twin's speed; everything
else, and the full `--json` decode, goes through the spec (`spec.parse_payload`), the readable
source of truth. Neither raises on a payload that does not decode: the error is the summary.
"""

from __future__ import annotations

from collections import Counter
from types import ModuleType
from typing import Any

from construct import Container, ListContainer

from pantheon import errors, spec, wire
from pantheon.protocol import FILTER_TYPE_NAMES, INV_TYPE_NAMES
from tools.describe import shown_bytes

__all__ = ["summarize", "to_json"]


def _hash(digest: bytes) -> str:
    return digest[::-1].hex()


def _inventory(command: str, items: list[Any]) -> str:
    kinds = Counter(INV_TYPE_NAMES.get(item.type, f"type{item.type}") for item in items)
    if len(items) == 1:
        return f"{command} 1 {next(iter(kinds))} {_hash(items[0].hash)}"
    if len(kinds) == 1:
        return f"{command} {len(items)} {next(iter(kinds))}"
    return f"{command} {len(items)} " + " ".join(f"{kind}={count}" for kind, count in kinds.most_common())


def _fast(command: str, payload: bytes, codecs: ModuleType) -> str | None:
    if command in ("inv", "getdata", "notfound"):
        return _inventory(command, getattr(codecs, f"decode_{command}")(payload))
    if command == "headers":
        headers = codecs.decode_headers(payload)
        first = f" first={_hash(headers[0].hash)}" if headers else ""
        return f"headers {len(headers)}{first}"
    if command == "tx":
        tx = codecs.decode_tx(payload)
        segwit = " segwit" if tx.has_witness else ""
        # Input and output counts would unpack every input and output; --json has them.
        return f"tx {_hash(tx.txid)} size={tx.size} vsize={tx.vsize}{segwit}"
    if command == "block":
        block = codecs.decode_block(payload)
        return f"block {_hash(block.hash)} txs={len(block.transactions)}"
    if command == "addr":
        return f"addr {len(codecs.decode_addr(payload))}"
    return None


def _slow(command: str, value: Any) -> str:
    if command == "version":
        agent = value.user_agent or "(no user agent)"
        height = f" height={value.start_height}" if value.start_height is not None else ""
        return f"version {value.version} {agent}{height}"
    if command in ("ping", "pong"):
        return command if value.nonce is None else f"{command} nonce={value.nonce:#018x}"
    if command in ("getheaders", "getblocks"):
        first = f" first={_hash(value.locator[0])}" if value.locator else ""
        return f"{command} locator={len(value.locator)}{first} stop={_hash(value.hash_stop)}"
    if command == "feefilter":
        return f"feefilter {value.feerate} sat/kvB"
    if command == "sendcmpct":
        return f"sendcmpct announce={value.announce} version={value.version}"
    if command == "addrv2":
        return f"addrv2 {len(value.addresses)}"
    if command == "reject":
        return f"reject {value.message} {spec.REJECT_CODES.get(value.ccode, value.ccode)} {value.reason!r}"
    if command == "cmpctblock":
        return f"cmpctblock short_ids={len(value.short_ids)} prefilled={len(value.prefilled)}"
    if command in _CF_COMMANDS:
        return _cf_summary(command, value)
    return command


_CF_COMMANDS = frozenset({"getcfilters", "getcfheaders", "getcfcheckpt", "cfilter", "cfheaders", "cfcheckpt"})


def _cf_summary(command: str, value: Any) -> str:
    """BIP157's messages: "getcfilters basic from=1 stop=…", "cfilter basic …(block) 4 bytes"."""
    kind = FILTER_TYPE_NAMES.get(value.filter_type, f"type{value.filter_type}")
    if command == "cfilter":
        return f"cfilter {kind} {_hash(value.block_hash)} {len(value.filter)} bytes"
    stop = _hash(value.stop_hash)
    if command in ("getcfilters", "getcfheaders"):
        return f"{command} {kind} from={value.start_height} stop={stop}"
    if command == "cfheaders":
        return f"cfheaders {kind} {len(value.filter_hashes)} stop={stop}"
    if command == "cfcheckpt":
        return f"cfcheckpt {kind} {len(value.filter_headers)} stop={stop}"
    return f"getcfcheckpt {kind} stop={stop}"


def summarize(command: str, payload: bytes, codecs: ModuleType = wire) -> str:
    """One short line: "inv 3 MSG_TX", "headers 2000 first=…", "version 70016 /Satoshi:27.0/ height=…"."""
    if command not in spec.PAYLOADS:
        return f"unknown command {command!r}, {len(payload)} bytes"
    try:
        fast = _fast(command, payload, codecs)
        return fast if fast is not None else _slow(command, spec.parse_payload(command, payload))
    except errors.ProtocolError as error:
        return f"{command} (undecodable: {type(error).__name__}: {error})"


def to_json(command: str, payload: bytes) -> Any:
    """The spec's full decode as JSON values: bytes as hex, hashes in display order, IPs as text.
    An unknown command gives {"raw": hex}; a payload that does not decode gives {"error": …}."""
    try:
        value = spec.parse_payload(command, payload)
    except errors.ProtocolError as error:
        return {"error": f"{type(error).__name__}: {error}", "raw": payload.hex()}
    if isinstance(value, bytes):
        return {"raw": value.hex()}
    decoded = _jsonable(value, "")
    # What the spec's fields do not hold but a reader looks for: the ids, from the wire codecs.
    if command == "tx":
        tx = wire.decode_tx(payload)
        decoded.update(txid=_hash(tx.txid), wtxid=_hash(tx.wtxid))
    elif command == "block":
        block = wire.decode_block(payload)
        decoded.update(hash=_hash(block.hash), txids=[_hash(tx.txid) for tx in block.transactions])
    elif command == "headers":
        for entry, header in zip(decoded["headers"], wire.decode_headers(payload)):
            entry["hash"] = _hash(header.hash)
    return decoded


def _jsonable(value: Any, name: str) -> Any:
    if isinstance(value, Container):
        return {key: _jsonable(item, key) for key, item in value.items() if not key.startswith("_")}
    if isinstance(value, (list, ListContainer)):
        return [_jsonable(item, name) for item in value]
    if isinstance(value, bytes):
        shown = shown_bytes(name, value)
        return value.hex() if shown is None else shown
    return value
