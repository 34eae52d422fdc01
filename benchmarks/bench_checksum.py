"""The message checksum (first 4 bytes of double-SHA256): compiled twin against hashlib.

Rows: a 1 MB payload (a block: throughput, target >= 0.9x hashlib's double SHA-256 of the same
bytes) and an 8-byte payload (a ping: per-call cost, where calling OpenSSL's SHA256_Init/
Update/Final from C avoids hashlib's object overhead; reported).
"""

from __future__ import annotations

import hashlib
import importlib
import os

from benchmarks.common import Figure, rate

_compiled = importlib.import_module("pantheon._wire")  # an ImportError means a broken build


def _hashlib_checksum(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()[:4]


def run(quick: bool) -> list[Figure]:
    figures = []
    big = os.urandom(1 << 20)
    assert _compiled.checksum(big) == _hashlib_checksum(big)
    ours = rate(lambda: _compiled.checksum(big), len(big)) / 1e6
    theirs = rate(lambda: _hashlib_checksum(big), len(big)) / 1e6
    figures.append(Figure("checksum of a 1 MB payload, compiled", ours, "MB/s", ">= 0.9x hashlib", ours >= 0.9 * theirs,
                          "hashlib double SHA-256", theirs))
    small = os.urandom(8)
    ours = rate(lambda: _compiled.checksum(small))
    theirs = rate(lambda: _hashlib_checksum(small))
    figures.append(Figure("checksum of an 8-byte payload, compiled", ours, "calls/s", "reported", True,
                          "hashlib double SHA-256", theirs))
    return figures
