"""Reading RPC arguments as Core reads them, with Core's error for each kind of bad one."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
import json
from typing import TYPE_CHECKING, Any

from pantheon import wire
from pantheon.chain.validation import COIN, MAX_MONEY
from pantheon.config import ConfigError, parse_hostport
from pantheon.errors import ProtocolError
from pantheon.hashing import hex_to_hash
from pantheon.primitives import Tx
from pantheon.rpc.errors import (
    RPC_DESERIALIZATION_ERROR,
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_TYPE_ERROR,
    RpcError,
)

if TYPE_CHECKING:
    from pantheon.chain.chainstate import Chainstate

__all__ = ["hash_arg", "known_block", "json_type", "int_arg", "check_types", "check_object", "amount_arg", "hex_arg",
           "tx_arg", "endpoint_arg"]


def hash_arg(value: Any, name: str = "hash") -> bytes:
    """A display-order hex hash, or Core's -8 error."""
    if not isinstance(value, str) or len(value) != 64:
        raise RpcError(RPC_INVALID_PARAMETER, f"{name} must be of length 64 (not {len(str(value))}, for '{value}')")
    try:
        return hex_to_hash(value)
    except ValueError:
        raise RpcError(RPC_INVALID_PARAMETER, f"{name} must be hexadecimal string (not '{value}')") from None


def known_block(chain: Chainstate, value: Any, name: str = "blockhash") -> bytes:
    """A block hash naming a header the chain has, or Core's -5 error."""
    block_hash = hash_arg(value, name)
    if block_hash not in chain.headers:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
    return block_hash


def json_type(value: Any) -> str:
    """UniValue's name for a JSON value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def int_arg(value: Any, name: str) -> int:
    """A JSON integer (not a boolean), or UniValue's -3 error (`name` is for the caller's
    reading; Core's text does not carry it)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise RpcError(RPC_TYPE_ERROR, f"JSON value of type {json_type(value)} is not of expected type number")
    return value


def amount_arg(value: Any) -> int:
    """Core's AmountFromValue: bitcoins (a JSON number or string, at most 8 decimals) as
    satoshis, or Core's -3 error."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise RpcError(RPC_TYPE_ERROR, "Amount is not a number or string")
    try:
        satoshis = Decimal(str(value)) * COIN
    except InvalidOperation:
        raise RpcError(RPC_TYPE_ERROR, "Invalid amount") from None
    if satoshis != satoshis.to_integral_value():
        raise RpcError(RPC_TYPE_ERROR, "Invalid amount")
    if not 0 <= satoshis <= MAX_MONEY:
        raise RpcError(RPC_TYPE_ERROR, "Amount out of range")
    return int(satoshis)
def check_types(*arguments: tuple[str, Any, str]) -> None:
    """Core's RPCHelpMan check of every argument given (name, value, expected JSON type; None:
    omitted), before the method runs: one -3 error listing each mismatch by position."""
    mismatches = {f"Position {position} ({name})": f"JSON value of type {json_type(value)} is not of expected type "
                  f"{expected}" for position, (name, value, expected) in enumerate(arguments, 1)
                  if value is not None and json_type(value) != expected}
    if mismatches:
        raise RpcError(RPC_TYPE_ERROR, f"Wrong type passed:\n{json.dumps(mismatches, indent=4)}")


def check_object(value: dict[str, Any], expected: dict[str, str], *, allow_null: bool = True) -> None:
    """Core's strict RPCTypeCheckObj: each expected key (in Core's sorted order) of its JSON
    type (absent or null allowed with `allow_null`, else "Missing"), and no other key; -3."""
    for key in sorted(expected):
        item = value.get(key)
        if item is None and not allow_null:
            raise RpcError(RPC_TYPE_ERROR, f"Missing {key}")
        if item is not None and json_type(item) != expected[key]:
            raise RpcError(RPC_TYPE_ERROR, f"JSON value of type {json_type(item)} for field {key} is not of expected "
                           f"type {expected[key]}")
    for key in value:
        if key not in expected:
            raise RpcError(RPC_TYPE_ERROR, f"Unexpected key {key}")


def hex_arg(value: Any) -> bytes | None:
    """The bytes of a hex string as Core's IsHex accepts it (even length, hex digits only), or None.
    bytes.fromhex also skips whitespace, which IsHex refuses: two digits per byte decoded says there
    was none (checked this way, not character by character: a block's megabytes of hex)."""
    if not isinstance(value, str):
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return None
    return raw if len(raw) * 2 == len(value) else None


def tx_arg(hexstring: Any) -> Tx:
    """A serialized transaction, or Core's -22 error (DecodeHexTx: hex as IsHex takes it)."""
    try:
        raw = hex_arg(hexstring)
        if raw is None:
            raise ValueError
        return wire.decode_tx(raw)
    except (ValueError, ProtocolError):
        raise RpcError(RPC_DESERIALIZATION_ERROR,
                       "TX decode failed. Make sure the tx has at least one input.") from None


def endpoint_arg(text: Any, default_port: int) -> tuple[str, int]:
    """`host[:port]` as addnode takes it, or Core's -8 error."""
    try:
        return parse_hostport(str(text), default_port)
    except ConfigError as error:
        raise RpcError(RPC_INVALID_PARAMETER, str(error)) from None
