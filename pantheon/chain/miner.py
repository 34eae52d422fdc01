"""The regtest miner: a block template from the mempool (Core's BlockAssembler, simplified) and a
nonce grinder. Proof of work in Python is only practical at regtest's difficulty.

The coinbase scriptSig is the BIP34 height push followed by an 8-byte extranonce push, so `mine`
can roll the extranonce (and rebuild the merkle root) when a nonce space is exhausted.
"""

from __future__ import annotations

import struct
import time as _time
from dataclasses import dataclass
from typing import Protocol

from pantheon.chain.addresses import address_to_script
from pantheon.chain.contextual import block_subsidy
from pantheon.chain.mempool import ChainView, Mempool
from pantheon.chain.pow import compact_to_target
from pantheon.chain.script import OP_0, OP_PUSHDATA1
from pantheon.chain.contextual import tx_sigop_cost
from pantheon.chain.validation import (
    MAX_BLOCK_SIGOPS_COST,
    MAX_BLOCK_WEIGHT,
    WITNESS_SCALE_FACTOR,
    bip34_height_script,
)
from pantheon.limits import compact_size_len
from pantheon.hashing import WITNESS_COMMITMENT_PREFIX, expected_witness_commitment, merkle_root
from pantheon.primitives import Block, BlockHeader, Tx, TxIn, TxOut
from pantheon.protocol import BLOCK_HEADER_SIZE
from pantheon.wire import double_sha256

__all__ = ["MiningChain", "BlockTemplate", "block_template", "mine", "COINBASE_RESERVE_WEIGHT",
           "DEFAULT_BLOCK_MAX_WEIGHT", "DEFAULT_BLOCK_VERSION"]

COINBASE_RESERVE_WEIGHT = 4_000  # Core's BlockAssembler: header and coinbase room
COINBASE_RESERVE_SIGOPS = 400
DEFAULT_BLOCK_MAX_WEIGHT = MAX_BLOCK_WEIGHT - 4_000  # Core's -blockmaxweight default
DEFAULT_BLOCK_VERSION = 0x2000_0000  # BIP9 top bits, no deployment signalled
_WITNESS_RESERVED_VALUE = bytes(32)
_EXTRANONCE_SIZE = 8
_NONCE_SPACE = 1 << 32


class MiningChain(ChainView, Protocol):
    """The mempool's view of the chain plus the difficulty rule (as `HeaderTree` offers it)."""

    def next_work_required(self, parent_hash: bytes, timestamp: int) -> int:
        """The `bits` a child of `parent_hash` made at `timestamp` must carry."""
        ...


@dataclass(frozen=True, slots=True)
class BlockTemplate:
    """An unmined block (nonce 0) and what went into it."""

    block: Block
    height: int
    fees: int
    weight: int
    sigop_cost: int


def block_template(chain: MiningChain, mempool: Mempool | None, pay_to: bytes | str, timestamp: int | None = None,
                   *, commit_witness: bool = True, max_weight: int = DEFAULT_BLOCK_MAX_WEIGHT,
                   version: int = DEFAULT_BLOCK_VERSION, extranonce: int = 0) -> BlockTemplate:
    """A block on `chain`'s tip holding the mempool's best transactions within the weight and
    sigop limits, its coinbase paying subsidy + fees to `pay_to` (an address on the chain's
    network, or a raw scriptPubKey).

    The BIP141 commitment (and the coinbase's 32-byte reserved value) is added when segwit is
    active, as Core does; `commit_witness=False` adds it only when a transaction has witness
    data, for peers that refuse coinbase witness before segwit (bcoin's regtest below 432).
    The time is at least median-time-past + 1 (default: now).
    """
    height = chain.height + 1
    network = chain.network
    script = address_to_script(pay_to, network) if isinstance(pay_to, str) else pay_to
    chosen: list[Tx] = []
    fees = 0
    weight = COINBASE_RESERVE_WEIGHT
    sigops = COINBASE_RESERVE_SIGOPS
    if mempool is not None:
        skipped: set[bytes] = set()
        for entry in mempool.ordered():
            tx = entry.tx
            if (entry.parents & skipped or weight + tx.weight > max_weight
                    or sigops + entry.sigop_cost > MAX_BLOCK_SIGOPS_COST):
                skipped.add(tx.txid)  # and so, later, its descendants
                continue
            chosen.append(tx)
            fees += entry.fee
            weight += tx.weight
            sigops += entry.sigop_cost
    segwit = height >= network.segwit_height
    commit = segwit and (commit_witness or any(tx.has_witness for tx in chosen))
    coinbase = _coinbase(height, block_subsidy(height, network) + fees, script, chosen if commit else None,
                         extranonce)
    transactions = (coinbase, *chosen)
    timestamp = max(int(_time.time()) if timestamp is None else timestamp, chain.mtp_at(chain.height) + 1)
    header = BlockHeader(version, chain.tip, merkle_root([tx.txid for tx in transactions])[0], timestamp,
                         chain.next_work_required(chain.tip, timestamp), 0)
    block_weight = WITNESS_SCALE_FACTOR * (BLOCK_HEADER_SIZE + compact_size_len(len(transactions))) + sum(
        tx.weight for tx in transactions)
    return BlockTemplate(Block(header, transactions), height, fees, block_weight,
                         sigops - COINBASE_RESERVE_SIGOPS + tx_sigop_cost(coinbase, []))


def _coinbase(height: int, value: int, script: bytes, committed: list[Tx] | None, extranonce: int) -> Tx:
    """Core's coinbase: BIP34 height (plus our extranonce), one payout, then the witness
    commitment over `committed` when it is not None."""
    script_sig = (bip34_height_script(height) + bytes((_EXTRANONCE_SIZE,))
                  + extranonce.to_bytes(_EXTRANONCE_SIZE, "little"))
    outputs = [TxOut(value, script)]
    witness: tuple[bytes, ...] = ()
    if committed is not None:
        commitment = expected_witness_commitment([bytes(32), *(tx.wtxid for tx in committed)], _WITNESS_RESERVED_VALUE)
        outputs.append(TxOut(0, WITNESS_COMMITMENT_PREFIX + commitment))
        witness = (_WITNESS_RESERVED_VALUE,)
    return Tx(2, [TxIn(bytes(32), 0xFFFF_FFFF, script_sig, 0xFFFF_FFFF, witness)], outputs, 0)


def _with_extranonce(block: Block, extranonce: int) -> Block:
    """`block` with its coinbase's extranonce replaced and the merkle root recomputed (the
    witness commitment does not cover the coinbase, so it stands)."""
    coinbase, *rest = block.transactions
    txin = coinbase.inputs[0]
    start = _extranonce_offset(txin.script_sig)
    script_sig = (txin.script_sig[:start] + extranonce.to_bytes(_EXTRANONCE_SIZE, "little")
                  + txin.script_sig[start + _EXTRANONCE_SIZE:])
    coinbase = Tx(coinbase.version, [TxIn(txin.prev_txid, txin.prev_index, script_sig, txin.sequence, txin.witness)],
                  coinbase.outputs, coinbase.locktime)
    transactions = (coinbase, *rest)
    old = block.header
    header = BlockHeader(old.version, old.prev_block, merkle_root([tx.txid for tx in transactions])[0],
                         old.timestamp, old.bits, 0)
    return Block(header, transactions)


def _extranonce_offset(script_sig: bytes) -> int:
    """Where the extranonce starts: after the BIP34 push (one opcode, or a length byte and its
    data) and the extranonce's own length byte."""
    first = script_sig[0]
    return (1 if first == OP_0 or first >= OP_PUSHDATA1 else 1 + first) + 1


def mine(block: Block, *, nonce_space: int = _NONCE_SPACE) -> Block:
    """`block` with a nonce (and, each time `nonce_space` nonces fail, the next extranonce) whose
    header hash meets its `bits`. `nonce_space` below 2**32 is for tests of the rollover."""
    target = compact_to_target(block.header.bits).target
    extranonce = int.from_bytes(_extranonce(block), "little")
    while True:
        header = block.header
        prefix = header.serialize()[:76]
        for nonce in range(nonce_space):
            digest = double_sha256(prefix + struct.pack("<I", nonce))
            if int.from_bytes(digest, "little") <= target:
                mined = BlockHeader(header.version, header.prev_block, header.merkle_root, header.timestamp,
                                    header.bits, nonce)
                return Block(mined, block.transactions)
        extranonce += 1
        block = _with_extranonce(block, extranonce)


def _extranonce(block: Block) -> bytes:
    script_sig = block.transactions[0].inputs[0].script_sig
    start = _extranonce_offset(script_sig)
    return script_sig[start:start + _EXTRANONCE_SIZE]
