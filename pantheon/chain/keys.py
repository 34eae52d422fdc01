"""secp256k1 keys as Bitcoin Core encodes them: WIF private keys (`key_io.cpp` DecodeSecret /
EncodeSecret), BIP32 extended keys (xprv/xpub on main, tprv/tpub on the test networks) and their
derivation, and BIP341's key-path-only output key.

The curve arithmetic is libsecp256k1's, through `coincurve`; derivation is BIP32's HMAC-SHA512.
Encodings are per network, as Core's are: a test network's WIF or tprv is not a key on main and
the other way round. Pure functions and frozen values; no storage (the wallet keeps its keys).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

import coincurve

from pantheon.chain.addresses import AddressError, b58check_decode, b58check_encode, hash160
from pantheon.chain.sighash import tagged_hash
from pantheon.params import Network

__all__ = ["HARDENED", "CURVE_ORDER", "decode_wif", "encode_wif", "public_key", "is_valid_pubkey",
           "ExtendedKey", "taproot_output_key"]

#: BIP32: child numbers from here on are hardened (derived from the private key only).
HARDENED = 0x80000000
#: secp256k1's group order n: a private key is 1..n-1.
CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
#: Core's SECRET_KEY base58 prefix: main 0x80, every test network 0xef.
_WIF_PREFIX = {True: 0x80, False: 0xEF}
#: Core's EXT_PUBLIC_KEY / EXT_SECRET_KEY prefixes: xpub/xprv on main, tpub/tprv elsewhere.
_EXT_PREFIX = {True: (bytes.fromhex("0488B21E"), bytes.fromhex("0488ADE4")),
               False: (bytes.fromhex("043587CF"), bytes.fromhex("04358394"))}
_BIP32_SEED_KEY = b"Bitcoin seed"
_EXTENDED_LENGTH = 78


def _is_main(network: Network) -> bool:
    return network.name == "main"


def _valid_secret(secret: bytes) -> bool:
    return len(secret) == 32 and 0 < int.from_bytes(secret, "big") < CURVE_ORDER


def decode_wif(text: str, network: Network) -> tuple[bytes, bool] | None:
    """(32-byte secret, compressed) of a WIF key of `network`, None when `text` is not one."""
    try:
        payload = b58check_decode(text)
    except AddressError:
        return None
    if not payload or payload[0] != _WIF_PREFIX[_is_main(network)]:
        return None
    if len(payload) == 34 and payload[33] == 1:
        secret, compressed = payload[1:33], True
    elif len(payload) == 33:
        secret, compressed = payload[1:], False
    else:
        return None
    return (secret, compressed) if _valid_secret(secret) else None


def encode_wif(secret: bytes, compressed: bool, network: Network) -> str:
    return b58check_encode(bytes((_WIF_PREFIX[_is_main(network)],)) + secret + (b"\x01" if compressed else b""))


def public_key(secret: bytes, compressed: bool = True) -> bytes:
    """The serialized public key (33 bytes compressed, 65 not) of a private key."""
    return coincurve.PrivateKey(secret).public_key.format(compressed=compressed)


def is_valid_pubkey(data: bytes) -> bool:
    """Core's `CPubKey::IsFullyValid` of a compressed (02/03) or uncompressed (04) encoding:
    a point on the curve (hybrid 06/07 encodings are refused by the caller, as Core does)."""
    if not ((len(data) == 33 and data[0] in (2, 3)) or (len(data) == 65 and data[0] == 4)):
        return False
    try:
        coincurve.PublicKey(data)
    except ValueError:
        return False
    return True


def taproot_output_key(internal_key: bytes) -> bytes:
    """BIP341's x-only output key of a key-path-only output: the internal key (x-only, 32 bytes,
    even y) tweaked by its TapTweak hash with no script tree."""
    tweak = tagged_hash("TapTweak", internal_key)
    if int.from_bytes(tweak, "big") >= CURVE_ORDER:
        raise ValueError("taproot tweak out of range")
    return coincurve.PublicKey(b"\x02" + internal_key).add(tweak).format()[1:]


@dataclass(frozen=True)
class ExtendedKey:
    """A BIP32 extended key: the public key (33 bytes), its chain code, where it sits in its tree
    (depth, parent fingerprint, child number), and the private key when known."""

    depth: int
    parent_fingerprint: bytes
    child_number: int
    chain_code: bytes
    pubkey: bytes
    secret: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_seed(cls, seed: bytes) -> ExtendedKey:
        """BIP32's master key of a 16-64 byte seed."""
        digest = hmac.new(_BIP32_SEED_KEY, seed, hashlib.sha512).digest()
        secret = digest[:32]
        if not _valid_secret(secret):
            raise ValueError("seed gives an invalid master key")
        return cls(0, bytes(4), 0, digest[32:], public_key(secret), secret)

    @classmethod
    def decode(cls, text: str, network: Network) -> ExtendedKey | None:
        """An xprv/xpub (main) or tprv/tpub (test networks) string, None when `text` is not one."""
        try:
            data = b58check_decode(text)
        except AddressError:
            return None
        if len(data) != _EXTENDED_LENGTH:
            return None
        public_prefix, private_prefix = _EXT_PREFIX[_is_main(network)]
        depth, fingerprint, child = data[4], data[5:9], int.from_bytes(data[9:13], "big")
        chain_code, key = data[13:45], data[45:78]
        if data[:4] == private_prefix and key[0] == 0 and _valid_secret(key[1:]):
            return cls(depth, fingerprint, child, chain_code, public_key(key[1:]), key[1:])
        if data[:4] == public_prefix and is_valid_pubkey(key) and len(key) == 33:
            return cls(depth, fingerprint, child, chain_code, key)
        return None

    def encode(self, network: Network, private: bool) -> str:
        """BIP32's base58 serialization (private only when the secret is known and asked for)."""
        public_prefix, private_prefix = _EXT_PREFIX[_is_main(network)]
        with_secret = private and self.secret is not None
        key = b"\x00" + self.secret if with_secret and self.secret is not None else self.pubkey
        return b58check_encode((private_prefix if with_secret else public_prefix) + bytes((self.depth,))
                               + self.parent_fingerprint + self.child_number.to_bytes(4, "big")
                               + self.chain_code + key)

    @property
    def fingerprint(self) -> bytes:
        """The first four bytes of Hash160 of the public key: what children name as parent."""
        return hash160(self.pubkey)[:4]

    def neuter(self) -> ExtendedKey:
        return ExtendedKey(self.depth, self.parent_fingerprint, self.child_number, self.chain_code, self.pubkey)

    def child(self, index: int) -> ExtendedKey:
        """BIP32's CKDpriv (with the secret) or CKDpub; ValueError for a hardened child of a
        public key (or the 1-in-2^127 invalid child)."""
        if index >= HARDENED:
            if self.secret is None:
                raise ValueError("cannot derive a hardened child without the private key")
            data = b"\x00" + self.secret + index.to_bytes(4, "big")
        else:
            data = self.pubkey + index.to_bytes(4, "big")
        digest = hmac.new(self.chain_code, data, hashlib.sha512).digest()
        tweak, chain_code = digest[:32], digest[32:]
        if int.from_bytes(tweak, "big") >= CURVE_ORDER:
            raise ValueError("invalid child key")
        if self.secret is not None:
            number = (int.from_bytes(tweak, "big") + int.from_bytes(self.secret, "big")) % CURVE_ORDER
            if number == 0:
                raise ValueError("invalid child key")
            secret = number.to_bytes(32, "big")
            return ExtendedKey(self.depth + 1, self.fingerprint, index, chain_code, public_key(secret), secret)
        pubkey = coincurve.PublicKey(self.pubkey).add(tweak).format()
        return ExtendedKey(self.depth + 1, self.fingerprint, index, chain_code, pubkey)

    def derive(self, path: tuple[int, ...]) -> ExtendedKey:
        key = self
        for index in path:
            key = key.child(index)
        return key
