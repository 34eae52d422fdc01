"""Context-free block checks: Bitcoin Core's `CheckBlock` and `CheckTransaction`, and the parts of
`ContextualCheckBlock` that need only the block's height (BIP34, the BIP141 witness commitment and
the block weight).

Script execution is NOT done here: no signature, no script is run, and the sigop count is Core's
legacy (`GetLegacySigOpCount`, fAccurate=false) count only, not the P2SH or witness sigop cost that
needs the spent outputs. Neither are the checks that need the UTXO set or the chain (inputs exist
and are unspent, coinbase maturity, fees, subsidy, locktime finality against median-time-past):
those belong to the contextual validation that connects a block.

Every rejection raises with Core's reject reason string (`reason`), in Core's order, so a peer's
`reject` or a log line reads the same as Core's. A block rejected with `mutated=True` (Core's
BLOCK_MUTATED: merkle root mismatch, CVE-2012-2459 duplicate subtree, witness malleation, and, as
Core's `IsBlockMutated`, a block without a coinbase holding a 64-byte transaction) is a
corrupt copy of a block whose header may still be valid: the caller must drop the copy and must
NOT mark the header invalid, or one peer could get a valid block banned.
"""

from __future__ import annotations

from pantheon import limits, wire
from pantheon.chain.script import encode_op_n
from pantheon.hashing import expected_witness_commitment, hash_to_hex, merkle_root, witness_commitment
from pantheon.params import Network
from pantheon.primitives import Block, Tx
from pantheon.protocol import BLOCK_HEADER_SIZE

__all__ = [
    "COIN",
    "MAX_BLOCK_WEIGHT",
    "is_block_mutated",
    "MAX_BLOCK_SERIALIZED_SIZE",
    "MAX_BLOCK_SIGOPS_COST",
    "MAX_MONEY",
    "Rejected",
    "TxRejected",
    "BlockRejected",
    "check_transaction",
    "check_block",
    "check_block_at_height",
    "validate_block",
    "legacy_sigop_count",
    "tx_legacy_sigop_count",
    "bip34_height_script",
    "is_coinbase",
]

MAX_BLOCK_WEIGHT = 4_000_000
MAX_BLOCK_SERIALIZED_SIZE = 4_000_000  # Core's consensus.h: bytes, witness included
MAX_BLOCK_SIGOPS_COST = 80_000
WITNESS_SCALE_FACTOR = 4
COIN = 100_000_000  # satoshis in a bitcoin
MAX_MONEY = 21_000_000 * COIN
_NULL_HASH = bytes(32)
_NULL_INDEX = 0xFFFF_FFFF
_MERKLE_NODE_PAIR = 64  # two 32-byte hashes: what an inner merkle node hashes


class Rejected(Exception):
    """A consensus check failed; `reason` is Core's reject reason string."""

    def __init__(self, reason: str, subject: bytes, detail: str = "") -> None:
        text = f"{reason}: {hash_to_hex(subject)}"
        super().__init__(f"{text} ({detail})" if detail else text)
        self.reason = reason
        self.detail = detail

    @property
    def state(self) -> str:
        """Core's ValidationState::ToString, as its log lines quote a rejection: the reason,
        then the debug message."""
        return f"{self.reason}, {self.detail}" if self.detail else self.reason


class TxRejected(Rejected):
    """A transaction failed `check_transaction`; `txid` names it."""

    def __init__(self, reason: str, txid: bytes, detail: str = "") -> None:
        super().__init__(reason, txid, detail)
        self.txid = txid


class BlockRejected(Rejected):
    """A block failed a check. `mutated`: the block's data does not match its header (Core's
    BLOCK_MUTATED), so the header itself must not be marked invalid."""

    def __init__(self, reason: str, block_hash: bytes, detail: str = "", *, mutated: bool = False) -> None:
        super().__init__(reason, block_hash, detail)
        self.block_hash = block_hash
        self.mutated = mutated


def is_coinbase(tx: Tx) -> bool:
    """Core's `IsCoinBase`: exactly one input, spending the null outpoint."""
    inputs = tx.inputs
    return len(inputs) == 1 and inputs[0].prev_index == _NULL_INDEX and inputs[0].prev_txid == _NULL_HASH


def legacy_sigop_count(script: bytes, accurate: bool = False) -> int:
    """Core's `CScript::GetSigOpCount(fAccurate)`: CHECKSIG(VERIFY) 1, CHECKMULTISIG(VERIFY) 20,
    or, when `accurate`, the key count an OP_1..OP_16 just before it states (`wire.script_sigops`:
    push data is skipped, a truncated push ends the count)."""
    return wire.script_sigops(script, accurate)


def tx_legacy_sigop_count(tx: Tx) -> int:
    """Core's `GetLegacySigOpCount`: every scriptSig and scriptPubKey, coinbase included
    (`wire.tx_legacy_sigops`). Counted once per Tx object and kept in it (`Tx.legacy_sigops`):
    a block's checks, its connect and the mempool all ask."""
    count = tx.legacy_sigops
    if count is None:
        count = tx.legacy_sigops = wire.tx_legacy_sigops(tx)
    return count


def check_transaction(tx: Tx) -> None:
    """Core's `CheckTransaction`: the rules a transaction meets on its own, or TxRejected."""
    inputs = tx.inputs
    outputs = tx.outputs
    if not inputs:
        raise TxRejected("bad-txns-vin-empty", tx.txid)
    if not outputs:
        raise TxRejected("bad-txns-vout-empty", tx.txid)
    if tx.stripped_size * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT:
        raise TxRejected("bad-txns-oversize", tx.txid, "size limits failed")
    total = 0
    for txout in outputs:
        value = txout.value
        if value < 0:
            raise TxRejected("bad-txns-vout-negative", tx.txid)
        if value > MAX_MONEY:
            raise TxRejected("bad-txns-vout-toolarge", tx.txid)
        total += value
        if total > MAX_MONEY:
            raise TxRejected("bad-txns-txouttotal-toolarge", tx.txid)
    if len(inputs) > 1:  # CVE-2018-17144: one outpoint spent twice inside one transaction
        outpoints = {(txin.prev_txid, txin.prev_index) for txin in inputs}
        if len(outpoints) != len(inputs):
            raise TxRejected("bad-txns-inputs-duplicate", tx.txid)
    if is_coinbase(tx):
        if not 2 <= len(inputs[0].script_sig) <= 100:
            raise TxRejected("bad-cb-length", tx.txid)
    else:
        for txin in inputs:
            if txin.prev_index == _NULL_INDEX and txin.prev_txid == _NULL_HASH:
                raise TxRejected("bad-txns-prevout-null", tx.txid)


def check_block(block: Block) -> None:
    """Core's `CheckBlock` without the header's proof of work (`chain.headers` checks that):
    merkle root and mutation, size, one coinbase first, every transaction, legacy sigops."""
    block_hash = block.hash
    transactions = block.transactions
    root, mutated = merkle_root([tx.txid for tx in transactions])
    if root != block.header.merkle_root:
        raise BlockRejected("bad-txnmrklroot", block_hash, "hashMerkleRoot mismatch", mutated=True)
    if mutated:
        raise BlockRejected("bad-txns-duplicate", block_hash, "duplicate transaction", mutated=True)
    count = len(transactions)
    stripped = BLOCK_HEADER_SIZE + limits.compact_size_len(count) + sum(tx.stripped_size for tx in transactions)
    if not count or max(count, stripped) * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT:
        raise BlockRejected("bad-blk-length", block_hash, "size limits failed")
    if not is_coinbase(transactions[0]):
        # Core's IsBlockMutated: without a coinbase, a 64-byte tx may be an inner merkle node
        # posing as a transaction, so the block may be a forged copy of a valid one.
        forged = any(tx.stripped_size == _MERKLE_NODE_PAIR for tx in transactions)
        raise BlockRejected("bad-cb-missing", block_hash, "first tx is not coinbase", mutated=forged)
    for tx in transactions[1:]:
        if is_coinbase(tx):
            raise BlockRejected("bad-cb-multiple", block_hash, "more than one coinbase")
    for tx in transactions:
        try:
            check_transaction(tx)
        except TxRejected as error:
            raise BlockRejected(error.reason, block_hash, f"tx {hash_to_hex(error.txid)}") from error
    sigops = sum(tx_legacy_sigop_count(tx) for tx in transactions)
    if sigops * WITNESS_SCALE_FACTOR > MAX_BLOCK_SIGOPS_COST:
        raise BlockRejected("bad-blk-sigops", block_hash, "out-of-bounds SigOpCount")


def is_block_mutated(block: Block, *, check_witness_root: bool) -> bool:
    """Core's IsBlockMutated: the transactions do not match the header's merkle root (or the
    tree repeats a subtree), a coinbase-less block holds a 64-byte transaction (it may be an
    inner node posing as one), or the witnesses do not match the coinbase's commitment (checked
    only with `check_witness_root`, where segwit is active; otherwise any witness is a mutation)."""
    transactions = block.transactions
    root, repeated = merkle_root([tx.txid for tx in transactions])
    if root != block.header.merkle_root or repeated:
        return True
    if not transactions or not is_coinbase(transactions[0]):
        return any(tx.stripped_size == _MERKLE_NODE_PAIR for tx in transactions)
    if check_witness_root:
        coinbase = transactions[0]
        commitment = witness_commitment([txout.script_pubkey for txout in coinbase.outputs])
        if commitment is not None:
            stack = coinbase.inputs[0].witness
            return len(stack) != 1 or len(stack[0]) != 32 or expected_witness_commitment(
                [tx.wtxid for tx in transactions], stack[0]) != commitment
    return any(tx.has_witness for tx in transactions)


def bip34_height_script(height: int) -> bytes:
    """What a BIP34 coinbase scriptSig starts with: Core's `CScript() << height`."""
    if height <= 16:
        return bytes((encode_op_n(height),))  # OP_0, OP_1..OP_16
    number = height.to_bytes((height.bit_length() + 7) // 8, "little")
    if number[-1] & 0x80:  # CScriptNum: the top bit is the sign, so add a byte
        number += b"\x00"
    return bytes((len(number),)) + number


def check_block_at_height(block: Block, height: int, network: Network) -> None:
    """The height-only part of Core's `ContextualCheckBlock`, in its order: BIP34 height in the
    coinbase, the BIP141 witness commitment (or no witness at all), then the block weight.

    Locktime finality (`bad-txns-nonfinal`) needs median-time-past and is left to the caller.
    `block` must already have passed `check_block` (it has a coinbase).
    """
    block_hash = block.hash
    transactions = block.transactions
    coinbase = transactions[0]
    if height >= network.bip34_height:
        expect = bip34_height_script(height)
        if not coinbase.inputs[0].script_sig.startswith(expect):
            raise BlockRejected("bad-cb-height", block_hash, "block height mismatch in coinbase")
    if height >= network.segwit_height:
        commitment = witness_commitment([txout.script_pubkey for txout in coinbase.outputs])
        if commitment is not None:
            stack = coinbase.inputs[0].witness
            if len(stack) != 1 or len(stack[0]) != 32:
                raise BlockRejected("bad-witness-nonce-size", block_hash, "invalid witness reserved value size",
                                    mutated=True)
            if expected_witness_commitment([tx.wtxid for tx in transactions], stack[0]) != commitment:
                raise BlockRejected("bad-witness-merkle-match", block_hash, "witness merkle commitment mismatch",
                                    mutated=True)
            return _check_weight(block)
    for tx in transactions:
        if tx.has_witness:
            raise BlockRejected("unexpected-witness", block_hash, "unexpected witness data found", mutated=True)
    _check_weight(block)


def _check_weight(block: Block) -> None:
    transactions = block.transactions
    size = BLOCK_HEADER_SIZE + limits.compact_size_len(len(transactions))
    weight = sum(tx.weight for tx in transactions) + WITNESS_SCALE_FACTOR * size
    if weight > MAX_BLOCK_WEIGHT:
        raise BlockRejected("bad-blk-weight", block.hash, "weight limit failed")


def validate_block(block: Block, height: int, network: Network) -> None:
    """Every check here, in Core's order: `check_block`, then `check_block_at_height`."""
    check_block(block)
    check_block_at_height(block, height, network)
