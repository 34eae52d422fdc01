"""Statistics and digests of the UTXO set, as Core's gettxoutsetinfo computes them
(`kernel/coinstats.cpp`): counts, amounts, Core's "bogosize", and one of its two digests:
`hash_serialized_3` (double SHA-256 over every coin serialized in key order) or `muhash`
(MuHash3072, an order-independent multiset hash: each coin's serialization is expanded by
ChaCha20 into a 3072-bit number and multiplied in, modulo 2**3072 - 1103717). Core's
`disk_size` is LevelDB's estimate of the coins' range; here it is the size of their records.

Pure functions over (outpoint, coin) pairs: the caller walks the set (and keeps it still).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Iterable

from pantheon.chain.coins import Coin
from pantheon.chain.utxo import coin_key, encode_coin
from pantheon.primitives import OutPoint
from pantheon.wire import write_compact_size

__all__ = ["HASH_TYPES", "CoinStats", "MuHash3072", "chacha20_block", "coin_stats"]

#: gettxoutsetinfo's hash_type names.
HASH_TYPES = ("hash_serialized_3", "muhash", "none")
_MODULUS = 2**3072 - 1103717  # Core's MuHash3072 prime
_CHACHA_CONSTANTS = struct.unpack("<4I", b"expand 32-byte k")
_WORDS = struct.Struct("<16I")
_MASK = 0xFFFF_FFFF
#: Core's GetBogoSize: txid, output index, height and coinbase flag, amount, script length.
_BOGO_FIXED = 32 + 4 + 4 + 8 + 2


def _quarter_round(state: list[int], a: int, b: int, c: int, d: int) -> None:
    """RFC 8439's quarter round: add, xor, rotate by 16, 12, then 8, 7."""
    for first, second in ((16, 12), (8, 7)):
        state[a] = (state[a] + state[b]) & _MASK
        state[d] ^= state[a]
        state[d] = ((state[d] << first) | (state[d] >> (32 - first))) & _MASK
        state[c] = (state[c] + state[d]) & _MASK
        state[b] ^= state[c]
        state[b] = ((state[b] << second) | (state[b] >> (32 - second))) & _MASK


def chacha20_block(key: bytes, counter: int, nonce: bytes = bytes(12)) -> bytes:
    """One 64-byte ChaCha20 keystream block (RFC 8439: 32-byte key, 32-bit counter, 96-bit nonce)."""
    initial = [*_CHACHA_CONSTANTS, *struct.unpack("<8I", key), counter & _MASK, *struct.unpack("<3I", nonce)]
    state = list(initial)
    for _ in range(10):
        _quarter_round(state, 0, 4, 8, 12)
        _quarter_round(state, 1, 5, 9, 13)
        _quarter_round(state, 2, 6, 10, 14)
        _quarter_round(state, 3, 7, 11, 15)
        _quarter_round(state, 0, 5, 10, 15)
        _quarter_round(state, 1, 6, 11, 12)
        _quarter_round(state, 2, 7, 8, 13)
        _quarter_round(state, 3, 4, 9, 14)
    return _WORDS.pack(*((word + start) & _MASK for word, start in zip(state, initial)))


def _to_num3072(data: bytes) -> int:
    """Core's MuHash3072 element: ChaCha20 keyed by SHA-256(data), 384 bytes, little-endian."""
    key = hashlib.sha256(data).digest()
    return int.from_bytes(b"".join(chacha20_block(key, counter) for counter in range(6)), "little")


class MuHash3072:
    """Core's MuHash3072: insert and remove byte strings in any order; `digest` is SHA-256 of
    the product, 384 bytes little-endian (display reversed, as Core's uint256)."""

    def __init__(self) -> None:
        self._numerator = 1
        self._denominator = 1

    def insert(self, data: bytes) -> None:
        self._numerator = self._numerator * _to_num3072(data) % _MODULUS

    def remove(self, data: bytes) -> None:
        self._denominator = self._denominator * _to_num3072(data) % _MODULUS

    def digest(self) -> bytes:
        value = self._numerator * pow(self._denominator, -1, _MODULUS) % _MODULUS
        return hashlib.sha256(value.to_bytes(384, "little")).digest()


@dataclass(frozen=True, slots=True)
class CoinStats:
    transactions: int
    outputs: int
    bogosize: int
    total_amount: int
    digest: bytes | None  # internal byte order; None for hash_type "none"
    disk_size: int  # the coin records (keys and values) as the store keeps them, before compression


def _serialize(outpoint: OutPoint, coin: Coin) -> bytes:
    """Core's TxOutSer: the outpoint, height * 2 + coinbase (u32), the output."""
    script = coin.script_pubkey
    return (outpoint.txid + struct.pack("<IIq", outpoint.index, coin.height * 2 + coin.coinbase, coin.value)
            + write_compact_size(len(script)) + script)


def coin_stats(coins: Iterable[tuple[OutPoint, Coin]], hash_type: str) -> CoinStats:
    """Core's ComputeUTXOStats over `coins` in key order (txid, then output index)."""
    if hash_type not in HASH_TYPES:
        raise ValueError(f"'{hash_type}' is not a valid hash_type")
    serialized = hashlib.sha256() if hash_type == "hash_serialized_3" else None
    muhash = MuHash3072() if hash_type == "muhash" else None
    transactions = outputs = bogosize = total = disk_size = 0
    last_txid = None
    for outpoint, coin in coins:
        if outpoint.txid != last_txid:
            transactions += 1
            last_txid = outpoint.txid
        outputs += 1
        total += coin.value
        bogosize += _BOGO_FIXED + len(coin.script_pubkey)
        disk_size += len(coin_key(outpoint.txid, outpoint.index)) + len(encode_coin(coin))
        if serialized is not None or muhash is not None:
            data = _serialize(outpoint, coin)
            if serialized is not None:
                serialized.update(data)
            else:
                assert muhash is not None
                muhash.insert(data)
    digest = None
    if serialized is not None:
        digest = hashlib.sha256(serialized.digest()).digest()
    elif muhash is not None:
        digest = muhash.digest()
    return CoinStats(transactions, outputs, bogosize, total, digest, disk_size)
