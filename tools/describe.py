"""The spec's readable face: one message (or a bare payload) printed field by field.

    python -m pantheon.spec HEX|FILE|- [--payload COMMAND] [--legacy-header]

The input is decided without opening anything: an argument made only of hex digits is hex; `-`
is stdin; anything else is a path (write `./NAME` for a file whose name is all hex digits). A
file or stdin may hold the raw bytes or their hex. Parsing is `pantheon.spec`'s, so what is
printed is what the grammar reads. Exit status: 0, 1 when the message does not parse (the
spec's error is printed), 2 when the input cannot be read or is not hex.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import sys
from typing import Any

from pantheon import limits, spec, wire
from pantheon.errors import ProtocolError
from pantheon.protocol import INV_TYPE_NAMES

__all__ = ["HASH_FIELDS", "InputError", "shown_bytes", "format_value", "describe_message", "read_source", "main"]

#: Hash fields, shown byte-reversed as Core's RPC and block explorers show them.
HASH_FIELDS = frozenset({
    "prev_block", "merkle_root", "prev_txid", "hash", "hash_stop", "block_hash", "stop_hash",
    "previous_filter_header", "locator", "hashes", "filter_hashes", "filter_headers",
})
_HEADER_KEYS = frozenset(sub.name for sub in spec.BlockHeader.subcons)
_TX_KEYS = frozenset({"version", "inputs", "outputs", "locktime"})
_BYTES_SHOWN = 64
_HEX = re.compile(r"[0-9a-fA-F]+")


class InputError(Exception):
    """The input could not be read, or is not hex where hex was meant."""


def shown_bytes(name: str, value: bytes) -> str | None:
    """An ip or a hash field as people read it (dotted IPv4 or IPv6 text, reversed hex), or None
    for other bytes."""
    if name == "ip" and len(value) == 16:
        address = ipaddress.IPv6Address(value)
        return str(address.ipv4_mapped or address)
    if name in HASH_FIELDS and len(value) == 32:
        return value[::-1].hex()
    return None


def _format_scalar(name: str, value: Any) -> str:
    if isinstance(value, bytes):
        shown = shown_bytes(name, value)
        if shown is not None:
            return shown
        if len(value) > _BYTES_SHOWN:
            return f"{value[:_BYTES_SHOWN].hex()}... ({len(value)} bytes)"
        return value.hex() or "(empty)"
    if name == "type" and isinstance(value, int):
        return f"{value} ({INV_TYPE_NAMES.get(value, 'unknown')})"
    if name == "ccode":
        return f"{value:#04x} ({spec.REJECT_CODES.get(value, 'unknown')})"
    if name in {"services", "bits"}:
        return f"{value:#x}"
    if name == "network_id":
        return f"{value} ({limits.ADDRV2_NETWORKS.get(value, ('unknown',))[0]})"
    return repr(value) if isinstance(value, str) else str(value)


def format_value(value: Any, name: str = "", indent: int = 0) -> list[str]:
    """Render a parsed value as indented `field: value` lines."""
    pad = "  " * indent
    label = f"{name}: " if name else ""
    if isinstance(value, dict):
        lines = [f"{pad}{name}:"] if name else []
        inner = indent + 1 if name else indent
        keys = set(value)
        if keys >= _HEADER_KEYS and "inputs" not in keys:
            block_hash = wire.double_sha256(spec.serialize_header(value))[::-1].hex()
            lines.append(f"{'  ' * inner}(block hash: {block_hash})")
        if keys == _TX_KEYS:
            txid = wire.double_sha256(spec.serialize_tx(value, include_witness=False))[::-1].hex()
            lines.append(f"{'  ' * inner}(txid: {txid})")
        for key, item in value.items():
            if not key.startswith("_"):
                lines.extend(format_value(item, key, inner))
        return lines
    if isinstance(value, list):
        lines = [f"{pad}{label}[{len(value)}]"]
        for position, item in enumerate(value):
            if isinstance(item, (dict, list)):
                lines.append(f"{pad}  [{position}]")
                lines.extend(format_value(item, "", indent + 2))
            else:
                lines.append(f"{pad}  [{position}] {_format_scalar(name, item)}")
        return lines
    if value is None:
        return [f"{pad}{label}(absent)"]
    return [f"{pad}{label}{_format_scalar(name, value)}"]


def describe_message(message: spec.Message) -> list[str]:
    network = message.network or "unknown network"
    checksum_state = {True: "ok", False: "BAD", None: "none (pre-209 header)"}[message.checksum_ok]
    lines = [
        f"network: {network} (magic {message.magic.to_bytes(4, 'little').hex()})",
        f"command: {message.command}",
        f"length: {len(message.raw_payload)}",
        f"checksum: {checksum_state}",
    ]
    if isinstance(message.payload, bytes):
        lines.append(f"payload (unknown command): {_format_scalar('', message.payload)}")
    else:
        lines.append("payload:")
        lines.extend(format_value(message.payload, "", 1))
    return lines


def _from_hex(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError as error:
        raise InputError(f"not hex: {error}") from None


def _bytes_or_hex(data: bytes) -> bytes:
    """What a file or stdin held: hex text (whitespace allowed) is decoded, anything else is raw."""
    try:
        return bytes.fromhex(data.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return data


def read_source(source: str) -> bytes:
    """The bytes `source` names: hex digits are hex, `-` is stdin, anything else a path. Nothing
    is opened to decide; InputError when a path cannot be read or hex is malformed."""
    if source == "-":
        return _bytes_or_hex(sys.stdin.buffer.read())
    if _HEX.fullmatch(source):
        return _from_hex(source)
    try:
        with open(source, "rb") as handle:
            return _bytes_or_hex(handle.read())
    except OSError as error:
        raise InputError(f"cannot read {source!r}: {error.strerror or error}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pantheon.spec",
        description="Decode one Bitcoin P2P message (or a bare payload) and print it field by field.",
    )
    parser.add_argument("source", help="hex, a file holding raw bytes or hex, or - for stdin")
    parser.add_argument("--payload", metavar="COMMAND", help="the input is a bare payload of this command")
    parser.add_argument("--legacy-header", action="store_true", help="20-byte header without checksum (pre-209)")
    args = parser.parse_args(argv)
    try:
        data = read_source(args.source)
    except InputError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    try:
        if args.payload:
            lines = [f"command: {args.payload}", f"length: {len(data)}", "payload:"]
            lines.extend(format_value(spec.parse_payload(args.payload, data), "", 1))
        else:
            message = spec.parse_message(data, legacy_header=args.legacy_header, verify_checksum=False)
            lines = describe_message(message)
    except ProtocolError as error:
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0
