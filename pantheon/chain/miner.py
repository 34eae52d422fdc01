"""The regtest miner: a block template from the mempool (Core's BlockAssembler, simplified) and a
nonce grinder. Proof of work in Python is only practical at regtest's difficulty.

The coinbase is Core 30's: the BIP34 height push (followed by an 8-byte extranonce push, so `mine`
can roll the extranonce and rebuild the merkle root when a nonce space is exhausted), its lock
time the parent's height and its sequence not final, so that the lock time is enforced.

Transactions are chosen in the mempool's block order (`Mempool.ordered`) while they fit Core's
limits: the block weight (`max_weight`, with `reserved_weight` kept for the header, the
transaction count and the coinbase), the sigop cost, and `min_fee_rate` (Core's -blockmintxfee,
judged per transaction where Core judges the package: the same for transactions without pooled
ancestors). A transaction left out takes its descendants with it. Selection judges the modified
fee (prioritisetransaction's delta included), as Core's; the coinbase collects the base fees.
"""

from __future__ import annotations

import struct
import time as _time
from dataclasses import dataclass
from typing import Protocol, Sequence

from pantheon.chain.addresses import address_to_script
from pantheon.chain.contextual import block_subsidy
from pantheon.chain.headers import MAX_TIMEWARP
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

__all__ = ["MiningChain", "BlockTemplate", "block_template", "minimum_time", "mine", "DEFAULT_BLOCK_MAX_WEIGHT",
           "DEFAULT_BLOCK_RESERVED_WEIGHT", "MINIMUM_BLOCK_RESERVED_WEIGHT", "DEFAULT_BLOCK_MIN_TX_FEE",
           "DEFAULT_BLOCK_VERSION"]

COINBASE_RESERVE_SIGOPS = 400  # Core's coinbase_output_max_additional_sigops
DEFAULT_BLOCK_MAX_WEIGHT = MAX_BLOCK_WEIGHT  # Core 30's -blockmaxweight default
DEFAULT_BLOCK_RESERVED_WEIGHT = 8_000  # Core's -blockreservedweight: header, tx count and coinbase room
MINIMUM_BLOCK_RESERVED_WEIGHT = 2_000  # Core refuses a smaller -blockreservedweight
DEFAULT_BLOCK_MIN_TX_FEE = 1  # sat/kvB, Core 30's -blockmintxfee default
DEFAULT_BLOCK_VERSION = 0x2000_0000  # BIP9 top bits, no deployment signalled
_NONFINAL_SEQUENCE = 0xFFFF_FFFE  # Core's MAX_SEQUENCE_NONFINAL: the coinbase's lock time counts
_WITNESS_RESERVED_VALUE = bytes(32)
_EXTRANONCE_SIZE = 8
_NONCE_SPACE = 1 << 32


class MiningChain(ChainView, Protocol):
    """The mempool's view of the chain plus the difficulty rule (as `HeaderTree` offers it)."""

    def next_work_required(self, parent_hash: bytes, timestamp: int) -> int:
        """The `bits` a child of `parent_hash` made at `timestamp` must carry."""
        ...

    def time_at(self, height: int) -> int:
        """The timestamp of the active chain's block at `height` (<= the tip's)."""
        ...


@dataclass(frozen=True, slots=True)
class BlockTemplate:
    """An unmined block (nonce 0) and what went into it: per chosen transaction (coinbase left
    out) its fee and sigop cost, as getblocktemplate lists them; `assembled_weight` is Core's
    `currentblockweight` (the reserved weight plus the transactions')."""

    block: Block
    height: int
    fees: int
    weight: int
    sigop_cost: int
    tx_fees: tuple[int, ...] = ()
    tx_sigops: tuple[int, ...] = ()
    assembled_weight: int = 0
    commitment: bytes | None = None


def minimum_time(chain: MiningChain) -> int:
    """Core's GetMinimumTime for a block on the tip: after the median time past and, for the
    first block of a difficulty period, no more than BIP94's MAX_TIMEWARP before its parent
    (on every network, as Core's miner does)."""
    network = chain.network
    earliest = chain.mtp_at(chain.height) + 1
    if (chain.height + 1) % (network.pow_target_timespan // network.pow_target_spacing) == 0:
        earliest = max(earliest, chain.time_at(chain.height) - MAX_TIMEWARP)
    return earliest


def block_template(chain: MiningChain, mempool: Mempool | None, pay_to: bytes | str, timestamp: int | None = None,
                   *, commit_witness: bool = True, max_weight: int = DEFAULT_BLOCK_MAX_WEIGHT,
                   reserved_weight: int = DEFAULT_BLOCK_RESERVED_WEIGHT, min_fee_rate: int = DEFAULT_BLOCK_MIN_TX_FEE,
                   version: int = DEFAULT_BLOCK_VERSION, extranonce: int = 0,
                   transactions: Sequence[Tx] = ()) -> BlockTemplate:
    """A block on `chain`'s tip holding the mempool's best transactions within the weight, sigop
    and fee-rate limits (`min_fee_rate` in sat/kvB), its coinbase paying subsidy + fees to
    `pay_to` (an address on the chain's network, or a raw scriptPubKey). `transactions` are
    put in as given, after those, their fees not claimed (Core's generateblock).

    The BIP141 commitment (and the coinbase's 32-byte reserved value) is added when segwit is
    active, as Core does; `commit_witness=False` adds it only when a transaction has witness
    data, for peers that refuse coinbase witness before segwit (bcoin's regtest below 432).
    The time is `timestamp` (default: now), at least `minimum_time`.
    """
    height = chain.height + 1
    network = chain.network
    script = address_to_script(pay_to, network) if isinstance(pay_to, str) else pay_to
    max_weight = min(max(max_weight, reserved_weight), MAX_BLOCK_WEIGHT)  # Core's ClampOptions
    chosen: list[Tx] = []
    tx_fees: list[int] = []
    tx_sigops: list[int] = []
    weight = reserved_weight
    sigops = COINBASE_RESERVE_SIGOPS
    if mempool is not None:
        skipped: set[bytes] = set()
        for entry in mempool.ordered():
            tx = entry.tx
            if (entry.parents & skipped or weight + WITNESS_SCALE_FACTOR * entry.vsize > max_weight
                    or sigops + entry.sigop_cost >= MAX_BLOCK_SIGOPS_COST
                    or entry.modified_fee < -(-min_fee_rate * entry.vsize // 1000)):
                skipped.add(tx.txid)  # and so, later, its descendants
                continue
            chosen.append(tx)
            tx_fees.append(entry.fee)
            tx_sigops.append(entry.sigop_cost)
            weight += tx.weight
            sigops += entry.sigop_cost
    fees = sum(tx_fees)
    chosen += transactions
    segwit = height >= network.segwit_height
    commitment = None
    if segwit and (commit_witness or any(tx.has_witness for tx in chosen)):
        commitment = WITNESS_COMMITMENT_PREFIX + expected_witness_commitment(
            [bytes(32), *(tx.wtxid for tx in chosen)], _WITNESS_RESERVED_VALUE)
    coinbase = _coinbase(height, block_subsidy(height, network) + fees, script, commitment, extranonce)
    transactions = (coinbase, *chosen)
    timestamp = max(int(_time.time()) if timestamp is None else timestamp, minimum_time(chain))
    header = BlockHeader(version, chain.tip, merkle_root([tx.txid for tx in transactions])[0], timestamp,
                         chain.next_work_required(chain.tip, timestamp), 0)
    block_weight = WITNESS_SCALE_FACTOR * (BLOCK_HEADER_SIZE + compact_size_len(len(transactions))) + sum(
        tx.weight for tx in transactions)
    return BlockTemplate(Block(header, transactions), height, fees, block_weight,
                         sigops - COINBASE_RESERVE_SIGOPS + tx_sigop_cost(coinbase, []), tuple(tx_fees),
                         tuple(tx_sigops), weight, commitment)


def _coinbase(height: int, value: int, script: bytes, commitment: bytes | None, extranonce: int) -> Tx:
    """Core's coinbase: BIP34 height (plus our extranonce), one payout, then the witness
    commitment output when there is one; locked to the parent's height, as Core 30's."""
    script_sig = (bip34_height_script(height) + bytes((_EXTRANONCE_SIZE,))
                  + extranonce.to_bytes(_EXTRANONCE_SIZE, "little"))
    outputs = [TxOut(value, script)]
    witness: tuple[bytes, ...] = ()
    if commitment is not None:
        outputs.append(TxOut(0, commitment))
        witness = (_WITNESS_RESERVED_VALUE,)
    return Tx(2, [TxIn(bytes(32), 0xFFFF_FFFF, script_sig, _NONFINAL_SEQUENCE, witness)], outputs, height - 1)


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
