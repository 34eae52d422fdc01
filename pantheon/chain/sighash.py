"""The messages a transaction's signatures commit to: legacy (pre-segwit), BIP143 (segwit v0) and
BIP341/342 (taproot key and script paths). Signing needs them; verifying never does here (Core's
interpreter, `chain/scripts.py`, computes its own), so this module serves signers: the chain
generator (`tools/chaingen.py`) and the tests that sign.

Only SIGHASH_ALL (and taproot's SIGHASH_DEFAULT) is implemented: every signer in the tree uses it,
and a mode nobody calls would be untested code. `PrecomputedTx` holds the per-transaction hashes
(BIP143's hashPrevouts/hashSequence/hashOutputs and BIP341's sha_* of them) so an n-input
transaction costs n signature messages, not n times the whole transaction.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Sequence

from pantheon.primitives import Tx, compact_size

__all__ = ["SIGHASH_ALL", "SIGHASH_DEFAULT", "TAPSCRIPT_LEAF_VERSION", "tagged_hash", "tapleaf_hash", "PrecomputedTx", "legacy_sighash",
           "segwit_v0_sighash", "taproot_sighash"]

SIGHASH_ALL = 0x01
SIGHASH_DEFAULT = 0x00  # BIP341: ALL, without the byte in the signature
TAPSCRIPT_LEAF_VERSION = 0xC0  # BIP342
_TAG_HASHES: dict[str, bytes] = {}


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _dsha256(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def tagged_hash(tag: str, data: bytes) -> bytes:
    """BIP340's SHA256(SHA256(tag) || SHA256(tag) || data)."""
    prefix = _TAG_HASHES.get(tag)
    if prefix is None:
        prefix = _TAG_HASHES[tag] = _sha256(tag.encode()) * 2
    return _sha256(prefix + data)


def tapleaf_hash(script: bytes, leaf_version: int = TAPSCRIPT_LEAF_VERSION) -> bytes:
    """BIP341's TapLeaf hash of one script."""
    return tagged_hash("TapLeaf", bytes((leaf_version,)) + compact_size(len(script)) + script)


def _outpoint(txid: bytes, index: int) -> bytes:
    return txid + struct.pack("<I", index)


def _txout(value: int, script: bytes) -> bytes:
    return struct.pack("<q", value) + compact_size(len(script)) + script


class PrecomputedTx:
    """A transaction's hashes shared by all its inputs' signature messages (Core's
    PrecomputedTransactionData). `spent`: (value, scriptPubKey) per input, needed by taproot
    (BIP341 commits to every spent output); segwit v0 and legacy need only the tx."""

    def __init__(self, tx: Tx, spent: Sequence[tuple[int, bytes]] = ()) -> None:
        self.tx = tx
        prevouts = b"".join(_outpoint(txin.prev_txid, txin.prev_index) for txin in tx.inputs)
        sequences = b"".join(struct.pack("<I", txin.sequence) for txin in tx.inputs)
        outputs = b"".join(_txout(out.value, out.script_pubkey) for out in tx.outputs)
        self.sha_prevouts = _sha256(prevouts)
        self.sha_sequences = _sha256(sequences)
        self.sha_outputs = _sha256(outputs)
        self.hash_prevouts = _sha256(self.sha_prevouts)  # BIP143's are the double hashes
        self.hash_sequence = _sha256(self.sha_sequences)
        self.hash_outputs = _sha256(self.sha_outputs)
        if spent:
            self.sha_amounts = _sha256(b"".join(struct.pack("<q", value) for value, _ in spent))
            self.sha_scriptpubkeys = _sha256(b"".join(compact_size(len(script)) + script for _, script in spent))


def legacy_sighash(tx: Tx, index: int, script_code: bytes) -> bytes:
    """The pre-segwit SIGHASH_ALL message hash of input `index` spending `script_code` (the
    scriptPubKey, or a P2SH redeem script; no OP_CODESEPARATOR in it): the tx with every other
    input's scriptSig empty and this one's the script code, then the hash type."""
    parts = [struct.pack("<i", tx.version), compact_size(len(tx.inputs))]
    for position, txin in enumerate(tx.inputs):
        script = script_code if position == index else b""
        parts.append(_outpoint(txin.prev_txid, txin.prev_index) + compact_size(len(script)) + script
                     + struct.pack("<I", txin.sequence))
    parts.append(compact_size(len(tx.outputs)))
    parts.extend(_txout(out.value, out.script_pubkey) for out in tx.outputs)
    parts.append(struct.pack("<II", tx.locktime, SIGHASH_ALL))
    return _dsha256(b"".join(parts))


def segwit_v0_sighash(pre: PrecomputedTx, index: int, script_code: bytes, amount: int) -> bytes:
    """BIP143's SIGHASH_ALL message hash of input `index` (`script_code`: for P2WPKH the P2PKH
    script of the key hash, for P2WSH the witness script), spending `amount` satoshis."""
    tx = pre.tx
    txin = tx.inputs[index]
    return _dsha256(b"".join((
        struct.pack("<i", tx.version), pre.hash_prevouts, pre.hash_sequence,
        _outpoint(txin.prev_txid, txin.prev_index), compact_size(len(script_code)), script_code,
        struct.pack("<qI", amount, txin.sequence), pre.hash_outputs,
        struct.pack("<II", tx.locktime, SIGHASH_ALL),
    )))


def taproot_sighash(pre: PrecomputedTx, index: int, leaf_hash: bytes | None = None) -> bytes:
    """BIP341's SIGHASH_DEFAULT message hash of input `index`, no annex: the key path, or with
    `leaf_hash` BIP342's script path (key version 0, no OP_CODESEPARATOR executed)."""
    tx = pre.tx
    message = b"".join((
        b"\x00\x00",  # epoch, hash type
        struct.pack("<iI", tx.version, tx.locktime),
        pre.sha_prevouts, pre.sha_amounts, pre.sha_scriptpubkeys, pre.sha_sequences, pre.sha_outputs,
        b"\x00" if leaf_hash is None else b"\x02",  # spend type: ext_flag * 2, no annex
        struct.pack("<I", index),
        b"" if leaf_hash is None else leaf_hash + b"\x00" + b"\xff\xff\xff\xff",
    ))
    return tagged_hash("TapSighash", message)
