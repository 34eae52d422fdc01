"""Taproot key-path signing for tests: BIP340 Schnorr over secp256k1 (the message from chain/sighash.py)."""

# Written fresh from the BIPs' reference algorithms, for SIGHASH_DEFAULT. Test-only: slow, not
# constant-time, never for real keys.

from __future__ import annotations

from typing import Optional, Sequence

from pantheon.chain import sighash
from pantheon.chain.sighash import tagged_hash
from pantheon.primitives import Tx, TxIn

Point = Optional[tuple[int, int]]

_P = 2**256 - 2**32 - 977
_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_G = (
    0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
    0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8,
)


def _add(a: Point, b: Point) -> Point:
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0] and a[1] != b[1]:
        return None
    if a == b:
        slope = 3 * a[0] * a[0] * pow(2 * a[1], -1, _P) % _P
    else:
        slope = (b[1] - a[1]) * pow(b[0] - a[0], -1, _P) % _P
    x = (slope * slope - a[0] - b[0]) % _P
    return x, (slope * (a[0] - x) - a[1]) % _P


def _mul(k: int, point: Point = _G) -> Point:
    result = None
    while k:
        if k & 1:
            result = _add(result, point)
        point = _add(point, point)
        k >>= 1
    return result


def _xonly(point: Point) -> bytes:
    assert point is not None
    return point[0].to_bytes(32, "big")


def schnorr_sign(secret: int, message: bytes, aux: bytes = bytes(32)) -> bytes:
    public = _mul(secret)
    d = secret if public[1] % 2 == 0 else _N - secret
    masked = (d ^ int.from_bytes(tagged_hash("BIP0340/aux", aux), "big")).to_bytes(32, "big")
    k0 = int.from_bytes(tagged_hash("BIP0340/nonce", masked + _xonly(public) + message), "big") % _N
    nonce_point = _mul(k0)
    k = k0 if nonce_point[1] % 2 == 0 else _N - k0
    challenge = tagged_hash("BIP0340/challenge", _xonly(nonce_point) + _xonly(public) + message)
    e = int.from_bytes(challenge, "big") % _N
    return _xonly(nonce_point) + ((k + e * d) % _N).to_bytes(32, "big")


def taproot_output(internal_secret: int) -> tuple[int, bytes]:
    """BIP341 key path without scripts: the tweaked secret and the P2TR scriptPubKey."""
    internal = _mul(internal_secret)
    secret = internal_secret if internal[1] % 2 == 0 else _N - internal_secret
    tweak = int.from_bytes(tagged_hash("TapTweak", _xonly(internal)), "big")
    tweaked = (secret + tweak) % _N
    return tweaked, b"\x51\x20" + _xonly(_mul(tweaked))


def taproot_sighash(tx: Tx, spent: list[tuple[int, bytes]], index: int) -> bytes:
    """BIP341 SigMsg hash for SIGHASH_DEFAULT, no annex, key path."""
    return sighash.taproot_sighash(sighash.PrecomputedTx(tx, spent), index)


def sign_key_path(tx: Tx, spent: Sequence[tuple[int, bytes]], secrets: Sequence[int]) -> Tx:
    """`tx` with every input signed on its key path by the tweaked secret given for it."""
    signatures = [schnorr_sign(secret, taproot_sighash(tx, list(spent), index)) for index, secret in enumerate(secrets)]
    inputs = [TxIn(txin.prev_txid, txin.prev_index, txin.script_sig, txin.sequence, (signature,))
              for txin, signature in zip(tx.inputs, signatures, strict=True)]
    return Tx(tx.version, inputs, tx.outputs, tx.locktime)
