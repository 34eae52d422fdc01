"""BIP324's cryptography: the ElligatorSwift key exchange, the session's keys, and the packet
cipher (FSChaCha20 for the 3-byte lengths, FSChaCha20Poly1305 for the contents, both rekeyed
every 224 messages).

Nothing here is hand-written cryptography: libsecp256k1 (bundled with `coincurve`) does the
ElligatorSwift encoding and the x-only ECDH with BIP324's hash, and `cryptography` (OpenSSL) does
ChaCha20, ChaCha20-Poly1305 and HKDF. Only the BIP's framing and rekeying schedule are ours. The
handshake (garbage, terminators, version packet) is `net/v2transport.py`'s; this module holds no
connection state beyond the two ciphers of each direction.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final

from coincurve import GLOBAL_CONTEXT
from coincurve._libsecp256k1 import ffi, lib
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from cryptography.hazmat.primitives.hmac import HMAC

from ..errors import ProtocolError
from ..protocol import (
    ELLSWIFT_SIZE, EXPANSION, GARBAGE_TERMINATOR_SIZE, HEADER_SIZE, LENGTH_SIZE, MAX_GARBAGE_SIZE, TAG_SIZE,
)

__all__ = [
    "REKEY_INTERVAL", "IGNORE_BIT", "SHORT_MESSAGE_TYPES", "SHORT_MESSAGE_IDS",
    "V2CipherError", "EllSwiftKey", "ellswift_decode_x", "SessionKeys", "FSChaCha20", "FSChaCha20Poly1305",
    "PacketCipher",
]

REKEY_INTERVAL: Final = 224  # messages per key in each direction
IGNORE_BIT: Final = 0x80

#: BIP324's one-byte message type ids (1-28); every other type travels as 12 bytes after a 0.
SHORT_MESSAGE_TYPES: Final[tuple[str, ...]] = (
    "addr", "block", "blocktxn", "cmpctblock", "feefilter", "filteradd", "filterclear", "filterload",
    "getblocks", "getblocktxn", "getdata", "getheaders", "headers", "inv", "mempool", "merkleblock",
    "notfound", "ping", "pong", "sendcmpct", "tx", "getcfilters", "cfilter", "getcfheaders", "cfheaders",
    "getcfcheckpt", "cfcheckpt", "addrv2",
)
SHORT_MESSAGE_IDS: Final[dict[str, int]] = {command: i for i, command in enumerate(SHORT_MESSAGE_TYPES, 1)}

_SALT_PREFIX: Final = b"bitcoin_v2_shared_secret"
_AEAD_REKEY_NONCE_PREFIX: Final = b"\xff\xff\xff\xff"


class V2CipherError(ProtocolError):
    """A BIP324 packet or key that does not check: the peer is disconnected (Core's reaction)."""


@dataclass(frozen=True, slots=True)
class EllSwiftKey:
    """A private key and its public key's ElligatorSwift encoding (what goes on the wire)."""

    secret: bytes
    encoding: bytes

    @classmethod
    def generate(cls) -> "EllSwiftKey":
        """A fresh key with a random encoding, as every v2 connection needs."""
        while True:
            secret = os.urandom(32)
            encoding = ffi.new("unsigned char[64]")
            if lib.secp256k1_ellswift_create(GLOBAL_CONTEXT.ctx, encoding, secret, os.urandom(32)):
                return cls(secret, bytes(ffi.buffer(encoding, ELLSWIFT_SIZE)))

    def shared_secret(self, theirs: bytes, *, initiating: bool) -> bytes:
        """BIP324's ECDH: the tagged hash of both encodings (initiator's first) and the shared x."""
        if len(theirs) != ELLSWIFT_SIZE:
            raise V2CipherError(f"an ElligatorSwift key is {ELLSWIFT_SIZE} bytes, not {len(theirs)}")
        initiator, responder = (self.encoding, theirs) if initiating else (theirs, self.encoding)
        output = ffi.new("unsigned char[32]")
        party = 0 if initiating else 1
        if not lib.secp256k1_ellswift_xdh(GLOBAL_CONTEXT.ctx, output, initiator, responder, self.secret, party,
                                          lib.secp256k1_ellswift_xdh_hash_function_bip324, ffi.NULL):
            raise V2CipherError("ECDH failed: the private key is not valid")
        return bytes(ffi.buffer(output, 32))


def ellswift_decode_x(encoding: bytes) -> bytes:
    """The x coordinate (32 bytes, big-endian) of the point an ElligatorSwift encoding maps to;
    every 64 bytes map to some point."""
    pubkey = ffi.new("secp256k1_pubkey *")
    if not lib.secp256k1_ellswift_decode(GLOBAL_CONTEXT.ctx, pubkey, encoding):
        raise V2CipherError("cannot decode the ElligatorSwift encoding")
    serialized = ffi.new("unsigned char[33]")
    size = ffi.new("size_t *", 33)
    lib.secp256k1_ec_pubkey_serialize(GLOBAL_CONTEXT.ctx, serialized, size, pubkey, lib.SECP256K1_EC_COMPRESSED)
    return bytes(ffi.buffer(serialized, 33))[1:]


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """What BIP324's HKDF derives from the shared secret and the network's magic, as seen by one side."""

    send_length_key: bytes
    send_packet_key: bytes
    recv_length_key: bytes
    recv_packet_key: bytes
    send_garbage_terminator: bytes
    recv_garbage_terminator: bytes
    session_id: bytes

    @classmethod
    def derive(cls, shared_secret: bytes, magic: bytes, *, initiating: bool) -> "SessionKeys":
        """HKDF-SHA256 with the salt `bitcoin_v2_shared_secret` + magic, one 32-byte expansion per label."""
        extract = HMAC(_SALT_PREFIX + magic, hashes.SHA256())
        extract.update(shared_secret)
        prk = extract.finalize()

        def expand(label: str) -> bytes:
            return HKDFExpand(hashes.SHA256(), 32, label.encode()).derive(prk)

        initiator = expand("initiator_L"), expand("initiator_P")
        responder = expand("responder_L"), expand("responder_P")
        terminators = expand("garbage_terminators")
        ours, theirs = (initiator, responder) if initiating else (responder, initiator)
        initiator_terminator, responder_terminator = terminators[:16], terminators[16:]
        send_terminator, recv_terminator = ((initiator_terminator, responder_terminator) if initiating
                                            else (responder_terminator, initiator_terminator))
        return cls(ours[0], ours[1], theirs[0], theirs[1], send_terminator, recv_terminator, expand("session_id"))


class FSChaCha20:
    """The length cipher: one ChaCha20 keystream per key, consumed across messages; after every
    224th message the next 32 keystream bytes become the key (forward secrecy)."""

    __slots__ = ("_key", "_rekey_interval", "_chunks", "_stream")

    def __init__(self, key: bytes, rekey_interval: int = REKEY_INTERVAL) -> None:
        self._key = key
        self._rekey_interval = rekey_interval
        self._chunks = 0
        self._stream = self._keystream()

    def _keystream(self):  # noqa: ANN202 - cryptography's CipherContext
        """ChaCha20 from block 0 under the current key, its nonce the number of rekeyings so far."""
        epoch = self._chunks // self._rekey_interval
        nonce = bytes(4) + epoch.to_bytes(8, "little")  # cryptography takes the 32-bit counter first
        return Cipher(algorithms.ChaCha20(self._key, bytes(4) + nonce), mode=None).encryptor()

    def crypt(self, chunk: bytes) -> bytes:
        """Encrypt or decrypt one message's chunk (XOR with the keystream is its own inverse)."""
        out = self._stream.update(chunk)
        self._chunks += 1
        if self._chunks % self._rekey_interval == 0:
            self._key = self._stream.update(bytes(32))
            self._stream = self._keystream()
        return out


class FSChaCha20Poly1305:
    """The packet AEAD: ChaCha20-Poly1305 with a nonce counting messages, rekeyed after every
    224th message with the first 32 bytes of an encryption of zeros under a reserved nonce."""

    __slots__ = ("_aead", "_rekey_interval", "_packets")

    def __init__(self, key: bytes, rekey_interval: int = REKEY_INTERVAL) -> None:
        self._aead = ChaCha20Poly1305(key)
        self._rekey_interval = rekey_interval
        self._packets = 0

    def _nonce(self) -> bytes:
        epoch, index = divmod(self._packets, self._rekey_interval)
        return index.to_bytes(4, "little") + epoch.to_bytes(8, "little")

    def _advance(self, nonce: bytes) -> None:
        self._packets += 1
        if self._packets % self._rekey_interval == 0:
            new_key = self._aead.encrypt(_AEAD_REKEY_NONCE_PREFIX + nonce[4:], bytes(32), b"")[:32]
            self._aead = ChaCha20Poly1305(new_key)

    def encrypt(self, aad: bytes, plaintext: bytes) -> bytes:
        nonce = self._nonce()
        ciphertext = self._aead.encrypt(nonce, plaintext, aad)
        self._advance(nonce)
        return ciphertext

    def decrypt(self, aad: bytes, ciphertext: bytes | memoryview) -> bytes:
        """The plaintext, or V2CipherError when the tag does not check (the message counter still
        advances, though a failed packet ends the connection anyway)."""
        nonce = self._nonce()
        try:
            return self._aead.decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise V2CipherError("a BIP324 packet failed authentication") from None
        finally:
            self._advance(nonce)


class PacketCipher:
    """Both directions of one session's packets: `encrypt` makes a whole packet; a reader first
    learns the contents' length from `decrypt_length` (3 bytes), then reads that many plus
    `HEADER_SIZE + TAG_SIZE` and hands them to `decrypt`. `seal` and `open` are the same with the
    header byte in the plaintext, for a transport that builds and reads plaintexts in one copy."""

    __slots__ = ("keys", "_send_length", "_send_packet", "_recv_length", "_recv_packet")

    def __init__(self, keys: SessionKeys) -> None:
        self.keys = keys
        self._send_length = FSChaCha20(keys.send_length_key)
        self._send_packet = FSChaCha20Poly1305(keys.send_packet_key)
        self._recv_length = FSChaCha20(keys.recv_length_key)
        self._recv_packet = FSChaCha20Poly1305(keys.recv_packet_key)

    def encrypt(self, contents: bytes, aad: bytes = b"", ignore: bool = False) -> bytes:
        length, ciphertext = self.seal(bytes((IGNORE_BIT if ignore else 0,)) + contents, aad)
        return length + ciphertext

    def seal(self, plaintext: bytes, aad: bytes = b"") -> tuple[bytes, bytes]:
        """A packet as its encrypted length and its ciphertext, from a plaintext that starts with
        the header byte; two parts, so that a large packet is not copied to join them."""
        length = (len(plaintext) - HEADER_SIZE).to_bytes(LENGTH_SIZE, "little")
        return self._send_length.crypt(length), self._send_packet.encrypt(aad, plaintext)

    def decrypt_length(self, encrypted_length: bytes) -> int:
        return int.from_bytes(self._recv_length.crypt(encrypted_length), "little")

    def decrypt(self, ciphertext: bytes, aad: bytes = b"") -> tuple[bool, bytes]:
        """(whether the packet is a decoy to ignore, its contents)."""
        plaintext = self.open(ciphertext, aad)
        return bool(plaintext[0] & IGNORE_BIT), plaintext[HEADER_SIZE:]

    def open(self, ciphertext: bytes | memoryview, aad: bytes = b"") -> bytes:
        """The plaintext, header byte first (its IGNORE_BIT marks a decoy); the ciphertext may be
        a view into the reader's buffer."""
        return self._recv_packet.decrypt(aad, ciphertext)
