"""Addresses <-> scriptPubKeys, as Bitcoin Core's `key_io` reads and writes them: base58check
P2PKH/P2SH, and segwit outputs in bech32 (BIP173, version 0) or bech32m (BIP350, versions 1-16).

What is per network: the segwit human-readable part comes from `Network.bech32_hrp`; the base58
version bytes are not in `params` (only this module needs them), so they live in `BASE58_PREFIXES`
below. Every test network shares testnet's bytes, as in Core. bcoin's regtest uses other
prefixes (its `R...` addresses); they are refused here, as Core refuses them.
"""

from __future__ import annotations

import hashlib
from enum import Enum

from pantheon.chain.script import (
    OP_CHECKSIG,
    OP_DUP,
    OP_EQUAL,
    OP_EQUALVERIFY,
    OP_HASH160,
    encode_op_n,
    is_p2pkh,
    is_p2sh,
    witness_program,
)
from pantheon.params import Network

__all__ = ["AddressError", "BASE58_PREFIXES", "address_to_script", "script_to_address",
           "b58check_encode", "b58check_decode", "bech32_encode", "bech32_decode", "Encoding",
           "BECH32_CHARSET", "hash160", "p2sh_output", "p2wsh_output", "p2wpkh_output"]

#: (P2PKH, P2SH) version bytes per network name (Core's `base58Prefixes`).
BASE58_PREFIXES: dict[str, tuple[int, int]] = {
    "main": (0x00, 0x05),
    "testnet3": (0x6F, 0xC4),
    "testnet4": (0x6F, 0xC4),
    "signet": (0x6F, 0xC4),
    "regtest": (0x6F, 0xC4),
}

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {char: value for value, char in enumerate(_B58)}
#: The 32 characters of bech32 data, by value (BIP173); BIP380 descriptor checksums use them too.
BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_B32_INDEX = {char: value for value, char in enumerate(BECH32_CHARSET)}
_BECH32_MAX_LENGTH = 90


class AddressError(ValueError):
    """Text that is not a valid address for the network asked about."""


class Encoding(Enum):
    """The two checksums: BIP173's constant 1 and BIP350's 0x2bc830a3."""

    BECH32 = 1
    BECH32M = 0x2BC830A3


# --- base58check --------------------------------------------------------------------------


def _checksum(payload: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]


def b58check_encode(payload: bytes) -> str:
    """Base58 of `payload` and its 4-byte double-SHA256 checksum; each leading zero byte is a '1'."""
    data = payload + _checksum(payload)
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, digit = divmod(number, 58)
        digits.append(_B58[digit])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(digits))


def b58check_decode(text: str) -> bytes:
    """The payload of a base58check string, or AddressError (bad character or checksum)."""
    number = 0
    for char in text:
        value = _B58_INDEX.get(char)
        if value is None:
            raise AddressError(f"invalid base58 character {char!r}")
        number = number * 58 + value
    zeros = len(text) - len(text.lstrip("1"))
    data = b"\0" * zeros + number.to_bytes((number.bit_length() + 7) // 8, "big")
    if len(data) < 5 or _checksum(data[:-4]) != data[-4:]:
        raise AddressError("invalid base58 checksum")
    return data[:-4]


# --- bech32 / bech32m ---------------------------------------------------------------------


def _polymod(values: list[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            if (top >> i) & 1:
                check ^= generator[i]
    return check


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(char) >> 5 for char in hrp] + [0] + [ord(char) & 31 for char in hrp]


def bech32_encode(hrp: str, data: list[int], encoding: Encoding) -> str:
    """`hrp` + '1' + the 5-bit `data` and its 6-character checksum, lower case."""
    polymod = _polymod(_hrp_expand(hrp) + data + [0] * 6) ^ encoding.value
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH32_CHARSET[value] for value in data + checksum)


def bech32_decode(text: str) -> tuple[str, list[int], Encoding]:
    """(hrp, 5-bit data without checksum, which checksum matched), or AddressError."""
    if any(not 33 <= ord(char) <= 126 for char in text):
        raise AddressError("character out of range")
    if text.lower() != text and text.upper() != text:
        raise AddressError("mixed case")
    text = text.lower()
    pos = text.rfind("1")
    if pos < 1 or pos + 7 > len(text) or len(text) > _BECH32_MAX_LENGTH:
        raise AddressError("bad separator position or length")
    hrp = text[:pos]
    try:
        data = [_B32_INDEX[char] for char in text[pos + 1 :]]
    except KeyError as error:
        raise AddressError(f"invalid bech32 character {error.args[0]!r}") from None
    const = _polymod(_hrp_expand(hrp) + data)
    for encoding in Encoding:
        if const == encoding.value:
            return hrp, data[:-6], encoding
    raise AddressError("invalid bech32 checksum")


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    """Regroup bits (BIP173's `convertbits`); without `pad`, leftover bits must be < from_bits and 0."""
    acc = bits = 0
    out = []
    mask = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & mask)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & mask)
    elif bits >= from_bits or (acc << (to_bits - bits)) & mask:
        raise AddressError("invalid padding")
    return out


def _segwit_decode(text: str) -> tuple[int, bytes]:
    """BIP350's `decode` after the hrp matched: the witness version and program, checked for
    length and checksum kind."""
    _, data, encoding = bech32_decode(text)  # the caller matched the hrp
    if not data:
        raise AddressError("empty data section")
    version = data[0]
    program = bytes(_convert_bits(data[1:], 5, 8, False))
    if version > 16:
        raise AddressError(f"invalid witness version {version}")
    if not 2 <= len(program) <= 40:
        raise AddressError(f"invalid witness program length {len(program)}")
    if version == 0 and len(program) not in (20, 32):
        raise AddressError("invalid witness v0 program length")
    if (encoding is Encoding.BECH32) != (version == 0):
        raise AddressError("wrong checksum for this witness version")
    return version, program


# --- scripts ------------------------------------------------------------------------------


def hash160(data: bytes) -> bytes:
    """Core's Hash160, RIPEMD-160 of SHA-256: what P2PKH, P2SH and P2WPKH outputs commit to."""
    return hashlib.new("ripemd160", hashlib.sha256(data).digest()).digest()


def p2sh_output(redeem_script: bytes) -> bytes:
    """The P2SH scriptPubKey of `redeem_script` (Core's GetScriptForDestination(ScriptHash))."""
    return bytes((OP_HASH160, 20)) + hash160(redeem_script) + bytes((OP_EQUAL,))


def p2wsh_output(witness_script: bytes) -> bytes:
    """The P2WSH scriptPubKey of `witness_script` (BIP141: version 0, its SHA-256)."""
    return bytes((encode_op_n(0), 32)) + hashlib.sha256(witness_script).digest()


def p2wpkh_output(key_hash: bytes) -> bytes:
    """The P2WPKH scriptPubKey of a 20-byte key hash (BIP141: version 0, the hash)."""
    return bytes((encode_op_n(0), 20)) + key_hash


def address_to_script(address: str, network: Network) -> bytes:
    """The scriptPubKey paying to `address` on `network`, or AddressError."""
    if address.lower().startswith(network.bech32_hrp + "1"):
        version, program = _segwit_decode(address)
        return bytes((encode_op_n(version), len(program))) + program
    p2pkh, p2sh = BASE58_PREFIXES[network.name]
    payload = b58check_decode(address)
    if len(payload) == 21 and payload[0] == p2pkh:
        return bytes((OP_DUP, OP_HASH160, 20)) + payload[1:] + bytes((OP_EQUALVERIFY, OP_CHECKSIG))
    if len(payload) == 21 and payload[0] == p2sh:
        return bytes((OP_HASH160, 20)) + payload[1:] + bytes((OP_EQUAL,))
    raise AddressError(f"not a {network.name} address")


def script_to_address(script: bytes, network: Network) -> str | None:
    """The address of a P2PKH, P2SH or witness-program scriptPubKey; None for other scripts."""
    p2pkh, p2sh = BASE58_PREFIXES[network.name]
    if is_p2pkh(script):
        return b58check_encode(bytes((p2pkh,)) + script[3:23])
    if is_p2sh(script):
        return b58check_encode(bytes((p2sh,)) + script[2:22])
    found = witness_program(script)
    if found is None:
        return None
    version, program = found
    if version == 0 and len(program) not in (20, 32):
        return None
    encoding = Encoding.BECH32 if version == 0 else Encoding.BECH32M
    return bech32_encode(network.bech32_hrp, [version, *_convert_bits(program, 8, 5, True)], encoding)
