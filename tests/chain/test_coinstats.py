"""The UTXO set's statistics and digests (`chain/coinstats.py`) against Core's own vectors:
MuHash3072's unit test, RFC 8439's ChaCha20 block, and Core's counting rules."""

from __future__ import annotations

import hashlib

import pytest

from pantheon.chain.coins import Coin
from pantheon.chain.coinstats import MuHash3072, chacha20_block, coin_stats
from pantheon.chain.utxo import encode_coin
from pantheon.primitives import OutPoint


def test_chacha20_block_rfc8439() -> None:
    """RFC 8439 section 2.3.2: key 00..1f, nonce 000000090000004a00000000, counter 1."""
    block = chacha20_block(bytes(range(32)), 1, bytes.fromhex("000000090000004a00000000"))
    assert block.hex() == ("10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
                           "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e")


def test_muhash3072_as_cores_unit_test() -> None:
    """Core's crypto_tests muhash_tests (and its functional framework's copy)."""
    muhash = MuHash3072()
    muhash.insert(bytes(32))
    muhash.insert(b"\x01" + bytes(31))
    muhash.remove(b"\x02" + bytes(31))
    assert muhash.digest()[::-1].hex() == "10d312b100cbd32ada024a6646e40d3482fcff103668d2625f10002a607d5863"


def test_muhash_is_order_free_and_removal_undoes_insertion() -> None:
    a, b = MuHash3072(), MuHash3072()
    for item in (b"x", b"y", b"z"):
        a.insert(item)
    for item in (b"z", b"w", b"x", b"y"):
        b.insert(item)
    b.remove(b"w")
    assert a.digest() == b.digest()


def test_coin_stats_counts_and_digests() -> None:
    coins = [(OutPoint(b"\x01" * 32, 0), Coin(5_000, b"\x51", 3, True)),
             (OutPoint(b"\x01" * 32, 2), Coin(7, b"\x00\x14" + bytes(20), 4, False)),
             (OutPoint(b"\x02" * 32, 1), Coin(1, b"", 5, False))]
    stats = coin_stats(coins, "hash_serialized_3")
    assert (stats.transactions, stats.outputs, stats.total_amount) == (2, 3, 5_008)
    assert stats.bogosize == 3 * 50 + 1 + 22  # Core's GetBogoSize: 50 + the script's length
    assert stats.disk_size == sum(36 + len(encode_coin(coin)) for _, coin in coins)  # key: txid + index
    first = b"\x01" * 32 + (0).to_bytes(4, "little") + (7).to_bytes(4, "little") + (5_000).to_bytes(8, "little") + b"\x01\x51"
    assert stats.digest is not None and len(stats.digest) == 32
    single = coin_stats(coins[:1], "hash_serialized_3").digest
    assert single == hashlib.sha256(hashlib.sha256(first).digest()).digest()  # Core's TxOutSer, SHA-256d
    muhash = coin_stats(list(reversed(coins)), "muhash").digest
    assert muhash == coin_stats(coins, "muhash").digest != stats.digest
    assert coin_stats(coins, "none").digest is None
    with pytest.raises(ValueError, match="'foo hash' is not a valid hash_type"):
        coin_stats(coins, "foo hash")
