"""Output script descriptors as far as Pantheon reads and writes them (Bitcoin Core's
`script/descriptor.cpp`, BIP380-386): the BIP380 checksum, parsing the two descriptors that name
scripts without keys, `raw(HEX)` and `addr(ADDRESS)`, and Core's `InferDescriptor` for a script
nothing is known about, the `desc` Core shows beside every scriptPubKey.

Parsing takes Core's steps and error texts: the checksum first (checked when given, required
only when asked), then the function. Descriptors with keys (`pk`, `pkh`, `wpkh`, `sh`, `wsh`,
`tr`, `combo`, `multi`, ...) are refused with a text saying Pantheon does not parse them: there
is no wallet here to derive or hold keys.

Pure functions of text and scripts; no state. Who expands a descriptor into outputs to scan or
mine to is the RPC's (`rpc/blockchain.py` scantxoutset, `rpc/mining.py` generatetodescriptor).
"""

from __future__ import annotations

from dataclasses import dataclass

from pantheon.chain.addresses import BECH32_CHARSET, AddressError, address_to_script, script_to_address
from pantheon.chain.script import (
    OP_1,
    OP_16,
    OP_CHECKMULTISIG,
    OP_CHECKSIG,
    MalformedScript,
    decode_op_n,
    is_p2tr,
    script_ops,
)
from pantheon.params import Network

__all__ = ["DescriptorError", "Descriptor", "descriptor_checksum", "add_checksum", "parse_descriptor",
           "infer_descriptor", "infer_wsh_descriptor"]

#: BIP380's input alphabet: a character's position gives its checksum symbols.
_INPUT_CHARSET = ("0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~"
                  "ijklmnopqrstuvwxyzABCDEFGH`#\"\\ ")
_INPUT_INDEX = {char: value for value, char in enumerate(_INPUT_CHARSET)}
_GENERATOR = (0xF5DEE51989, 0xA9FDCA3312, 0x1BAB10E32D, 0x3706B1677A, 0x644D626FFD)
_CHECKSUM_LENGTH = 8
#: secp256k1's field prime: an x-only key is valid when x is below it and x^3 + 7 is a square.
_FIELD_PRIME = 2**256 - 2**32 - 977
#: Functions Core parses that name keys; Pantheon refuses them by name.
_KEY_FUNCTIONS = ("pk", "pkh", "wpkh", "sh", "wsh", "tr", "rawtr", "combo", "multi", "sortedmulti",
                  "multi_a", "sortedmulti_a", "musig")


class DescriptorError(ValueError):
    """A descriptor Core would refuse (with Core's text) or Pantheon cannot parse (saying so)."""


@dataclass(frozen=True)
class Descriptor:
    """A parsed descriptor: its text without the checksum, and the one script it stands for."""

    text: str
    script: bytes

    def __str__(self) -> str:
        """Core's `ToString()`: the text with its checksum."""
        return add_checksum(self.text)


def _polymod(symbols: list[int]) -> int:
    check = 1
    for value in symbols:
        top = check >> 35
        check = ((check & 0x7FFFFFFFF) << 5) ^ value
        for bit, generator in enumerate(_GENERATOR):
            if (top >> bit) & 1:
                check ^= generator
    return check


def descriptor_checksum(text: str) -> str | None:
    """BIP380's eight-character checksum of `text` (no `#`), None when a character is outside
    the descriptor alphabet (Core's empty `DescriptorChecksum`)."""
    symbols: list[int] = []
    groups: list[int] = []
    for char in text:
        position = _INPUT_INDEX.get(char)
        if position is None:
            return None
        symbols.append(position & 31)
        groups.append(position >> 5)
        if len(groups) == 3:
            symbols.append(groups[0] * 9 + groups[1] * 3 + groups[2])
            groups = []
    if len(groups) == 1:
        symbols.append(groups[0])
    elif len(groups) == 2:
        symbols.append(groups[0] * 3 + groups[1])
    check = _polymod(symbols + [0] * _CHECKSUM_LENGTH) ^ 1
    return "".join(BECH32_CHARSET[(check >> (5 * (_CHECKSUM_LENGTH - 1 - i))) & 31] for i in range(_CHECKSUM_LENGTH))


def add_checksum(text: str) -> str:
    checksum = descriptor_checksum(text)
    if checksum is None:
        raise DescriptorError("Invalid characters in payload")
    return f"{text}#{checksum}"


def _strip_checksum(text: str, require_checksum: bool) -> str:
    """Core's `CheckChecksum`: the descriptor without its checksum, which must match if given."""
    parts = text.split("#")
    if len(parts) > 2:
        raise DescriptorError("Multiple '#' symbols")
    if len(parts) == 1 and require_checksum:
        raise DescriptorError("Missing checksum")
    if len(parts) == 2 and len(parts[1]) != _CHECKSUM_LENGTH:
        raise DescriptorError(f"Expected {_CHECKSUM_LENGTH} character checksum, not {len(parts[1])} characters")
    computed = descriptor_checksum(parts[0])
    if computed is None:
        raise DescriptorError("Invalid characters in payload")
    if len(parts) == 2 and parts[1] != computed:
        raise DescriptorError(f"Provided checksum '{parts[1]}' does not match computed checksum '{computed}'")
    return parts[0]


def _argument(text: str, name: str) -> str | None:
    """Core's `Func`: the inside of `name(...)` when `text` is exactly that call."""
    if len(text) >= len(name) + 2 and text.startswith(name + "(") and text.endswith(")"):
        return text[len(name) + 1 : -1]
    return None


def _is_hex(text: str) -> bool:
    """Core's `IsHex`: non-empty, an even number of hex digits."""
    return bool(text) and len(text) % 2 == 0 and all(char in "0123456789abcdefABCDEF" for char in text)


def parse_descriptor(text: str, network: Network, *, require_checksum: bool = False) -> Descriptor:
    """`raw(HEX)` or `addr(ADDRESS)`, with or without `#checksum`; DescriptorError otherwise."""
    body = _strip_checksum(text, require_checksum)
    inner = _argument(body, "raw")
    if inner is not None:
        if not _is_hex(inner):
            raise DescriptorError("Raw script is not hex")
        return Descriptor(body, bytes.fromhex(inner))
    inner = _argument(body, "addr")
    if inner is not None:
        try:
            return Descriptor(body, address_to_script(inner, network))
        except AddressError:
            raise DescriptorError("Address is not valid") from None
    for name in _KEY_FUNCTIONS:
        if _argument(body, name) is not None:
            raise DescriptorError(f"{name}() descriptors are not supported by Pantheon (it has no keys): "
                                  "use raw() or addr()")
    raise DescriptorError(f"'{body}' is not a valid descriptor function")


def _valid_compressed(key: bytes) -> bool:
    """A compressed key encoding (02/03, 33 bytes): the only kind segwit scripts may check."""
    return len(key) == 33 and key[0] in (2, 3)


def _valid_non_hybrid(key: bytes) -> bool:
    """Core's `CPubKey::IsValidNonHybrid`: a compressed (02/03, 33 bytes) or uncompressed (04, 65)
    encoding; the point itself is not checked."""
    return _valid_compressed(key) or (len(key) == 65 and key[0] == 4)


def _xonly_valid(key: bytes) -> bool:
    """Core's `XOnlyPubKey::IsFullyValid`: x is a field element on the curve y^2 = x^3 + 7."""
    x = int.from_bytes(key, "big")
    if x >= _FIELD_PRIME:
        return False
    value = (pow(x, 3, _FIELD_PRIME) + 7) % _FIELD_PRIME
    return pow(value, (_FIELD_PRIME - 1) // 2, _FIELD_PRIME) in (0, 1)


def _inferred(script: bytes, *, in_wsh: bool = False) -> str | None:
    """The key descriptors Core infers without any key information: `pk`, `multi`, and at the
    top `rawtr`; inside `wsh()` (`in_wsh`) only compressed keys count, as segwit takes no other."""
    try:
        ops = list(script_ops(script))
    except MalformedScript:
        return None
    valid_key = _valid_compressed if in_wsh else _valid_non_hybrid
    key = script[1:-1]
    if len(script) == len(key) + 2 and script[0] == len(key) and script[-1] == OP_CHECKSIG and valid_key(key):
        return f"pk({key.hex()})"
    if (len(ops) >= 4 and ops[-1] == (OP_CHECKMULTISIG, None) and OP_1 <= ops[0][0] <= OP_16
            and OP_1 <= ops[-2][0] <= OP_16):
        keys = [data for _, data in ops[1:-2]]
        required, count = decode_op_n(ops[0][0]), decode_op_n(ops[-2][0])
        if count == len(keys) and required <= count and all(key is not None and valid_key(key) for key in keys):
            return f"multi({required},{','.join(key.hex() for key in keys if key is not None)})"
    if not in_wsh and is_p2tr(script) and _xonly_valid(script[2:]):
        return f"rawtr({script[2:].hex()})"
    return None


def infer_descriptor(script: bytes, network: Network) -> str:
    """Core's `InferDescriptor(script, no keys)->ToString()`: `pk()`, `multi()` or `rawtr()` where
    the script shows its keys, else `addr()` for a script with an address, else `raw()`; with
    its checksum."""
    text = _inferred(script)
    if text is None:
        address = script_to_address(script, network)
        text = f"addr({address})" if address is not None else f"raw({script.hex()})"
    return add_checksum(text)


def infer_wsh_descriptor(witness_script: bytes) -> str:
    """Core's `InferDescriptor` of the P2WSH output of a witness script it knows (decodescript's
    `segwit.desc`): `wsh()` around the script's own inference, `pk()` or `multi()` of compressed
    keys, else `raw()`; with its checksum. Core would infer a sane miniscript policy where one
    matches; Pantheon has no miniscript, and shows such a script as `wsh(raw(...))`."""
    inner = _inferred(witness_script, in_wsh=True)
    return add_checksum(f"wsh({inner if inner is not None else f'raw({witness_script.hex()})'})")
