"""BIP158's basic block filter of one block and BIP157's filter header (Core's blockfilter.cpp):
which scripts go in, the filter's bytes, its hash and the header chain. The Golomb-coded set
itself is the wire core's (`gcs_encode`, compiled with a pure twin); this module never stores
anything (the index is `chain/filterindex.py`).

Elements (Core's BasicFilterElements): every output script the block creates, except empty
ones and those starting with OP_RETURN, and every script its inputs spend (from the undo data;
the coinbase spends nothing), except empty ones; each distinct script once. The set is keyed by
the block hash's first 16 bytes (internal byte order). A filter header is the double SHA-256 of
the filter's hash followed by the previous block's filter header (zeros before genesis).
"""

from __future__ import annotations

from typing import Iterable

from pantheon import wire
from pantheon.chain.script import OP_RETURN
from pantheon.primitives import Block
from pantheon.protocol import BASIC_FILTER_M, BASIC_FILTER_P, FILTER_TYPE_NAMES

__all__ = [
    "GENESIS_PREVIOUS_HEADER",
    "basic_filter",
    "basic_filter_elements",
    "filter_hash",
    "filter_header",
    "filter_type_by_name",
    "match_any",
]

#: The "previous filter header" of genesis.
GENESIS_PREVIOUS_HEADER = bytes(32)
_KEY_SIZE = 16


def basic_filter_elements(block: Block, spent_scripts: Iterable[bytes]) -> set[bytes]:
    """The distinct scripts BIP158's basic filter of `block` holds; `spent_scripts` are the
    scriptPubKeys of the coins its inputs spent (in any order)."""
    elements = {script for tx in block.transactions for txout in tx.outputs
                if (script := txout.script_pubkey) and script[0] != OP_RETURN}
    elements.update(spent_scripts)
    elements.discard(b"")
    return elements


def basic_filter(block: Block, spent_scripts: Iterable[bytes]) -> bytes:
    """The encoded basic filter of `block` (what cfilter carries and getblockfilter shows)."""
    return wire.gcs_encode(block.hash[:_KEY_SIZE], basic_filter_elements(block, spent_scripts),
                           BASIC_FILTER_P, BASIC_FILTER_M)


def match_any(block_hash: bytes, encoded: bytes, scripts: Iterable[bytes]) -> bool:
    """Whether a basic filter of the block `block_hash` may hold any of `scripts`."""
    return wire.gcs_match_any(block_hash[:_KEY_SIZE], encoded, list(scripts), BASIC_FILTER_P, BASIC_FILTER_M)


def filter_hash(encoded: bytes) -> bytes:
    return wire.double_sha256(encoded)


def filter_header(hash_of_filter: bytes, previous_header: bytes) -> bytes:
    return wire.double_sha256(hash_of_filter + previous_header)


def filter_type_by_name(name: str) -> int | None:
    """Core's BlockFilterTypeByName: the type called `name`, None for an unknown name."""
    for filter_type, known in FILTER_TYPE_NAMES.items():
        if known == name:
            return filter_type
    return None

