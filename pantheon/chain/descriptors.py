"""Output script descriptors as Bitcoin Core reads and writes them (`script/descriptor.cpp`,
BIP380-386): the BIP380 checksum; parsing `raw(HEX)`, `addr(ADDRESS)` and the single-key
descriptors a wallet holds coins with, `pk`, `pkh`, `wpkh`, `sh(...)`, `tr(KEY)` (key path only)
and `combo`; their expansion into output scripts; and Core's `InferDescriptor` for a script nothing
is known about, the `desc` Core shows beside every scriptPubKey.

A key expression is what Core's `ParsePubkey` reads: an optional origin `[fingerprint/path]`, then
a hex public key, a WIF private key, or an extended key (xpub/xprv, tpub/tprv on the test networks)
with a derivation path (`'` or `h` marking hardened steps) that may end in `/*` (ranged). Errors
carry Core's texts, a key's prefixed with its function (`wpkh(): Pubkey '…' is invalid`).
Descriptors Core has and Pantheon does not parse (`wsh`, `multi`, `rawtr`, `tr` with a script
tree, `musig`, multipath keys) are refused with a text saying so.

Pure values and functions: no state. Who uses a descriptor: the wallet (`pantheon/wallet/`),
scantxoutset and the generate RPCs (one script each; see `Descriptor.script`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from pantheon.chain.addresses import (
    BECH32_CHARSET,
    AddressError,
    address_to_script,
    hash160,
    p2sh_output,
    p2wpkh_output,
    script_to_address,
)
from pantheon.chain.keys import (
    HARDENED,
    ExtendedKey,
    decode_wif,
    encode_wif,
    is_valid_pubkey,
    public_key,
    taproot_output_key,
)
from pantheon.chain.script import (
    OP_1,
    OP_16,
    OP_CHECKMULTISIG,
    OP_CHECKSIG,
    OP_DUP,
    OP_EQUALVERIFY,
    OP_HASH160,
    MalformedScript,
    decode_op_n,
    is_p2tr,
    script_ops,
)
from pantheon.params import Network

__all__ = ["DescriptorError", "Descriptor", "KeyExpression", "KeyOrigin", "ExpandedOutput", "descriptor_checksum",
           "add_checksum", "parse_descriptor", "infer_descriptor", "infer_wsh_descriptor", "format_path"]

#: BIP380's input alphabet: a character's position gives its checksum symbols.
_INPUT_CHARSET = ("0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~"
                  "ijklmnopqrstuvwxyzABCDEFGH`#\"\\ ")
_INPUT_INDEX = {char: value for value, char in enumerate(_INPUT_CHARSET)}
_GENERATOR = (0xF5DEE51989, 0xA9FDCA3312, 0x1BAB10E32D, 0x3706B1677A, 0x644D626FFD)
_CHECKSUM_LENGTH = 8
#: secp256k1's field prime: an x-only key is valid when x is below it and x^3 + 7 is a square.
_FIELD_PRIME = 2**256 - 2**32 - 977
#: Functions Core parses that Pantheon does not; refused by name.
_UNSUPPORTED = ("wsh", "rawtr", "multi", "sortedmulti", "multi_a", "sortedmulti_a", "musig", "rawnode", "raw_leaf")
#: Parse contexts (Core's ParseScriptContext): where a script or key expression sits.
_TOP, _P2SH, _P2WPKH, _P2TR = "top", "sh", "wpkh", "tr"
#: Core's output types of the single-type descriptors (OutputType names as the RPCs spell them).
_OUTPUT_TYPES = {"pkh": "legacy", "wpkh": "bech32", "tr": "bech32m"}


class DescriptorError(ValueError):
    """A descriptor Core would refuse (with Core's text) or Pantheon cannot parse (saying so)."""


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


def format_path(path: tuple[int, ...], apostrophe: bool = False) -> str:
    """A derivation path as descriptors write it: `/84h/1h/0h/0` (`'` for hardened when asked)."""
    mark = "'" if apostrophe else "h"
    return "".join(f"/{index & ~HARDENED}{mark}" if index & HARDENED else f"/{index}" for index in path)


def _parse_path(elements: list[str]) -> tuple[tuple[int, ...], bool]:
    """Core's ParseKeyPath: the steps and whether any used `'` for hardened."""
    path: list[int] = []
    apostrophe = False
    for element in elements:
        if element.startswith("<"):
            raise DescriptorError(f"Multipath key path '{element}' is not supported by Pantheon: import each path")
        hardened = element.endswith(("'", "h"))
        apostrophe = apostrophe or element.endswith("'")
        number = element[:-1] if hardened else element
        if not number.isdigit() or int(number) > 0xFFFFFFFF:
            raise DescriptorError(f"Key path value '{number}' is not a valid uint32")
        if int(number) >= HARDENED:
            raise DescriptorError(f"Key path value {int(number)} is out of range")
        path.append(int(number) | (HARDENED if hardened else 0))
    return tuple(path), apostrophe


@lru_cache(maxsize=1024)
def _derived(extended: ExtendedKey, path: tuple[int, ...]) -> ExtendedKey:
    """The key at a fixed path below an extended key, kept: a ranged descriptor derives its
    fixed part once, then one step per index."""
    return extended.derive(path)


@dataclass(frozen=True)
class KeyOrigin:
    """Where a key comes from: its master key's fingerprint and the path from there."""

    fingerprint: bytes
    path: tuple[int, ...]

    def text(self, apostrophe: bool = False) -> str:
        return f"[{self.fingerprint.hex()}{format_path(self.path, apostrophe)}]"


@dataclass(frozen=True)
class DerivedKey:
    """One key a key expression stands for (at an index, when ranged): its public key as the
    script takes it, the private key when known, and its origin."""

    pubkey: bytes
    secret: bytes | None
    origin: KeyOrigin


@dataclass(frozen=True)
class KeyExpression:
    """A parsed key expression: a constant key (`pubkey`, with `secret` when given as WIF) or an
    extended key with a path and a derivation (`""`, `"*"`, `"*h"`), behind an optional origin."""

    origin: KeyOrigin | None
    pubkey: bytes | None = None
    secret: bytes | None = None
    xonly: bool = False
    extended: ExtendedKey | None = None
    path: tuple[int, ...] = ()
    derive: str = ""
    apostrophe: bool = False

    @property
    def is_range(self) -> bool:
        return bool(self.derive)

    @property
    def has_private(self) -> bool:
        return self.secret is not None or (self.extended is not None and self.extended.secret is not None)

    def key_at(self, index: int) -> DerivedKey:
        """The key at `index` (ignored unless ranged); ValueError for a hardened step without the
        private key."""
        origin_path = self.origin.path if self.origin is not None else ()
        if self.extended is None:
            assert self.pubkey is not None
            fingerprint = self.origin.fingerprint if self.origin is not None else hash160(self.pubkey)[:4]
            return DerivedKey(self.pubkey, self.secret, KeyOrigin(fingerprint, origin_path))
        steps = self.path
        derived = _derived(self.extended, self.path)
        if self.derive:
            child = index | (HARDENED if self.derive == "*h" else 0)
            steps += (child,)
            derived = derived.child(child)
        pubkey = derived.pubkey[1:] if self.xonly else derived.pubkey
        if self.origin is not None:
            origin = KeyOrigin(self.origin.fingerprint, origin_path + steps)
        else:
            origin = KeyOrigin(self.extended.fingerprint, steps)
        return DerivedKey(pubkey, derived.secret, origin)

    def text(self, network: Network, private: bool = False) -> str:
        """Core's ToString (or ToPrivateString with `private`, when the key is known)."""
        origin = self.origin.text(self.apostrophe) if self.origin is not None else ""
        if self.extended is None:
            assert self.pubkey is not None
            if private and self.secret is not None:
                return origin + encode_wif(self.secret, len(self.pubkey) != 65, network)
            return origin + self.pubkey.hex()
        mark = "'" if self.apostrophe else "h"
        derive = {"": "", "*": "/*", "*h": f"/*{mark}"}[self.derive]
        return origin + self.extended.encode(network, private) + format_path(self.path, self.apostrophe) + derive


def _parse_key_inner(text: str, context: str, network: Network) -> KeyExpression:
    """Core's ParsePubkeyInner, without the origin."""
    permit_uncompressed = context in (_TOP, _P2SH)
    split = text.split("/")
    first = split[0]
    if not first:
        raise DescriptorError("No key provided")
    if len(split) == 1:
        if _is_hex(first):
            data = bytes.fromhex(first)
            if len(data) == 65 and data[0] in (6, 7):
                raise DescriptorError("Hybrid public keys are not allowed")
            if is_valid_pubkey(data):
                if not permit_uncompressed and len(data) == 65:
                    raise DescriptorError("Uncompressed keys are not allowed")
                return KeyExpression(None, pubkey=data[1:] if context == _P2TR else data, xonly=context == _P2TR)
            if len(data) == 32 and context == _P2TR and is_valid_pubkey(b"\x02" + data):
                return KeyExpression(None, pubkey=data, xonly=True)
            raise DescriptorError(f"Pubkey '{first}' is invalid")
        wif = decode_wif(first, network)
        if wif is not None:
            secret, compressed = wif
            if not permit_uncompressed and not compressed:
                raise DescriptorError("Uncompressed keys are not allowed")
            pubkey = public_key(secret, compressed)
            return KeyExpression(None, pubkey=pubkey[1:] if context == _P2TR else pubkey, secret=secret,
                                 xonly=context == _P2TR)
    extended = ExtendedKey.decode(first, network)
    if extended is None:
        raise DescriptorError(f"key '{first}' is not valid")
    elements = split[1:]
    derive = ""
    if elements and elements[-1] == "*":
        derive, elements = "*", elements[:-1]
    elif elements and elements[-1] in ("*'", "*h"):
        derive, elements = "*h", elements[:-1]
    path, apostrophe = _parse_path(elements)
    return KeyExpression(None, extended=extended, path=path, derive=derive, xonly=context == _P2TR,
                         apostrophe=apostrophe or split[-1] == "*'")


def _parse_key(text: str, context: str, network: Network) -> KeyExpression:
    """Core's ParsePubkey: an optional `[fingerprint/path]` origin, then the key."""
    parts = text.split("]")
    if len(parts) > 2:
        raise DescriptorError("Multiple ']' characters found for a single pubkey")
    if len(parts) == 1:
        return _parse_key_inner(text, context, network)
    origin_text, key_text = parts
    if not origin_text or origin_text[0] != "[":
        raise DescriptorError("Key origin start '[ character expected but not found, "
                              f"got '{origin_text[0] if origin_text else ']'}' instead")
    elements = origin_text[1:].split("/")
    if len(elements[0]) != 8:
        raise DescriptorError(f"Fingerprint is not 4 bytes ({len(elements[0])} characters instead of 8 characters)")
    if not _is_hex(elements[0]):
        raise DescriptorError(f"Fingerprint '{elements[0]}' is not hex")
    path, apostrophe = _parse_path(elements[1:])
    inner = _parse_key_inner(key_text, context, network)
    return KeyExpression(KeyOrigin(bytes.fromhex(elements[0]), path), inner.pubkey, inner.secret, inner.xonly,
                         inner.extended, inner.path, inner.derive, inner.apostrophe or apostrophe)


@dataclass(frozen=True)
class ExpandedOutput:
    """One output script a descriptor stands for, with Core's inferred descriptor of that output
    alone (`pkh([origin]KEY)`, no checksum: what listunspent shows as `desc`) and its key."""

    script: bytes
    desc: str
    key: DerivedKey | None
    #: the script a P2SH output commits to (listunspent's redeemScript)
    redeem_script: bytes | None = None


def _push_key(pubkey: bytes) -> bytes:
    return bytes((len(pubkey),)) + pubkey


def _p2pkh(pubkey: bytes) -> bytes:
    return bytes((OP_DUP, OP_HASH160, 20)) + hash160(pubkey) + bytes((OP_EQUALVERIFY, OP_CHECKSIG))


@dataclass(frozen=True)
class Descriptor:
    """A parsed descriptor: `function` (raw, addr, pk, pkh, wpkh, sh, tr, combo) over a key
    expression, an inner descriptor (sh) or a fixed script (raw, addr)."""

    function: str
    network: Network
    key: KeyExpression | None = None
    inner: Descriptor | None = None
    fixed: bytes | None = None
    address: str | None = None

    @property
    def text(self) -> str:
        """Core's ToString without the checksum: public keys only."""
        return self._body(private=False)

    def to_string(self, private: bool = False) -> str:
        """With its checksum; `private`: Core's ToPrivateString (private keys where known)."""
        return add_checksum(self._body(private))

    def __str__(self) -> str:
        return self.to_string()

    def _body(self, private: bool) -> str:
        if self.function == "raw":
            assert self.fixed is not None
            return f"raw({self.fixed.hex()})"
        if self.function == "addr":
            return f"addr({self.address})"
        if self.inner is not None:
            return f"{self.function}({self.inner._body(private)})"
        assert self.key is not None
        return f"{self.function}({self.key.text(self.network, private)})"

    @property
    def keys(self) -> tuple[KeyExpression, ...]:
        if self.inner is not None:
            return self.inner.keys
        return (self.key,) if self.key is not None else ()

    @property
    def is_range(self) -> bool:
        return any(key.is_range for key in self.keys)

    @property
    def has_private_keys(self) -> bool:
        return any(key.has_private for key in self.keys)

    @property
    def is_single_type(self) -> bool:
        """Core's IsSingleType: every descriptor but combo() stands for one kind of output."""
        return self.function != "combo"

    @property
    def output_type(self) -> str | None:
        """Core's GetOutputType as the RPCs name it (legacy, p2sh-segwit, bech32, bech32m), None
        when the descriptor has none (pk, combo, raw, most addr)."""
        if self.function == "sh" and self.inner is not None and self.inner.function == "wpkh":
            return "p2sh-segwit"
        return _OUTPUT_TYPES.get(self.function)

    def expand(self, index: int = 0) -> list[ExpandedOutput]:
        """The output scripts at `index` (ignored unless ranged), in Core's order (combo: P2PK,
        P2PKH, then for a compressed key P2WPKH and P2SH-P2WPKH); DescriptorError when a key
        cannot be derived (a hardened step below an xpub)."""
        if self.fixed is not None:
            return [ExpandedOutput(self.fixed, self._body(private=False), None)]
        if self.inner is not None:
            return [ExpandedOutput(p2sh_output(output.script), f"sh({output.desc})", output.key, output.script)
                    for output in self.inner.expand(index)]
        assert self.key is not None
        try:
            key = self.key.key_at(index)
        except ValueError as error:
            raise DescriptorError(f"Cannot derive {self.text} at {index}: {error}") from None
        shown = KeyExpression(key.origin, key.pubkey, apostrophe=self.key.apostrophe).text(self.network)

        def output(function: str, script: bytes) -> ExpandedOutput:
            return ExpandedOutput(script, f"{function}({shown})", key)

        pubkey = key.pubkey
        if self.function == "pk":
            return [output("pk", _push_key(pubkey) + bytes((OP_CHECKSIG,)))]
        if self.function == "pkh":
            return [output("pkh", _p2pkh(pubkey))]
        if self.function == "wpkh":
            return [output("wpkh", p2wpkh_output(hash160(pubkey)))]
        if self.function == "tr":
            return [output("tr", bytes((OP_1, 32)) + taproot_output_key(pubkey))]
        outputs = [output("pk", _push_key(pubkey) + bytes((OP_CHECKSIG,))), output("pkh", _p2pkh(pubkey))]
        if len(pubkey) == 33:
            witness = p2wpkh_output(hash160(pubkey))
            outputs += [output("wpkh", witness), ExpandedOutput(p2sh_output(witness), f"sh(wpkh({shown}))", key, witness)]
        return outputs

    @property
    def script(self) -> bytes:
        """The one script of an unranged single-script descriptor (what scantxoutset and the
        generate RPCs take), else DescriptorError."""
        if self.is_range:
            raise DescriptorError("Ranged descriptor not accepted. Maybe pass through deriveaddresses first?")
        outputs = self.expand(0)
        if len(outputs) != 1:
            raise DescriptorError(f"{self.function}() stands for {len(outputs)} scripts, not one")
        return outputs[0].script


def parse_descriptor(text: str, network: Network, *, require_checksum: bool = False) -> Descriptor:
    """A descriptor, with or without `#checksum` (required when asked); DescriptorError with
    Core's text otherwise."""
    return _parse_script(_strip_checksum(text, require_checksum), _TOP, network)


def _key_argument(function: str, inner: str, context: str, network: Network) -> KeyExpression:
    """The key of `function(KEY)`; its errors carry the function's name, as Core's do."""
    try:
        return _parse_key(inner, context, network)
    except DescriptorError as error:
        raise DescriptorError(f"{function}(): {error}") from None


def _parse_script(body: str, context: str, network: Network) -> Descriptor:
    """Core's ParseScript for the functions Pantheon reads, in `context` (top level or sh())."""
    for function in ("raw", "addr", "combo", "sh", "tr"):
        if _argument(body, function) is not None and context != _TOP:
            raise DescriptorError(f"Can only have {function}() at top level")
    inner = _argument(body, "raw")
    if inner is not None:
        if not _is_hex(inner):
            raise DescriptorError("Raw script is not hex")
        return Descriptor("raw", network, fixed=bytes.fromhex(inner))
    inner = _argument(body, "addr")
    if inner is not None:
        try:
            return Descriptor("addr", network, fixed=address_to_script(inner, network), address=inner)
        except AddressError:
            raise DescriptorError("Address is not valid") from None
    for function in ("pk", "pkh", "combo"):
        inner = _argument(body, function)
        if inner is not None:
            return Descriptor(function, network, key=_key_argument(function, inner, context, network))
    inner = _argument(body, "wpkh")
    if inner is not None:
        return Descriptor("wpkh", network, key=_key_argument("wpkh", inner, _P2WPKH, network))
    inner = _argument(body, "sh")
    if inner is not None:
        return Descriptor("sh", network, inner=_parse_script(inner, _P2SH, network))
    inner = _argument(body, "tr")
    if inner is not None:
        if "," in inner:
            raise DescriptorError("tr() with a script tree is not supported by Pantheon: give tr(KEY)")
        return Descriptor("tr", network, key=_key_argument("tr", inner, _P2TR, network))
    for function in _UNSUPPORTED:
        if _argument(body, function) is not None:
            raise DescriptorError(f"{function}() descriptors are not supported by Pantheon: use raw(), addr(), "
                                  "pk(), pkh(), wpkh(), sh(wpkh()), tr(KEY) or combo()")
    if context == _P2SH:
        raise DescriptorError("A function is needed within P2SH")
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
