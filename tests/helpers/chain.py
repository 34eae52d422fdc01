"""Regtest chains built in tests: blocks, headers, a validated chain view, spends, bcoin's chain."""

from __future__ import annotations

import hashlib
import itertools
import json
import struct
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterable, Sequence

from pantheon import params
from pantheon.chain.contextual import block_subsidy
from pantheon.chain.pow import check_proof_of_work
from pantheon.chain.script import is_unspendable
from pantheon.chain.utxo import coin_key, encode_coin
from pantheon.chain.validation import bip34_height_script, is_coinbase
from pantheon.chain.coins import Coin
from pantheon.chain.contextual import check_tx_inputs
from pantheon.chain.headers import HeaderTree
from pantheon.chain.mempool import Mempool
from pantheon.chain.miner import block_template, mine
from pantheon.chain.pow import compact_to_target
from pantheon.chain.validation import validate_block
from pantheon.hashing import WITNESS_COMMITMENT_PREFIX, expected_witness_commitment, merkle_root
from pantheon.params import Network
from pantheon.primitives import Block, BlockHeader, OutPoint, Tx, TxIn, TxOut
from pantheon.store import Store

#: bcoin's 471-block regtest chain (blk framing) and its facts (.json): see tests/vectors/README.md.
CHAIN_FILE = Path(__file__).parents[1] / "vectors" / "chains" / "regtest_bcoin_471.blk"
CHAIN_JSON = json.loads(CHAIN_FILE.with_suffix(".json").read_text())
REGTEST_BITS = 0x207FFFFF
OP_TRUE = b"\x51"
#: P2WSH of the witness script OP_TRUE: spent with the witness (OP_TRUE,).
P2WSH_TRUE = b"\x00\x20" + hashlib.sha256(OP_TRUE).digest()
#: The template miner's payout: P2WSH(OP_TRUE), so coinbase outputs are standard to spend and to relay.
PAYOUT = P2WSH_TRUE
_FRAME = struct.Struct("<4sI")

#: A spendable output: where it is and what it holds.
Prevout = tuple[OutPoint, TxOut]


# --- bcoin's chain, and the UTXO set recomputed without the code under test ------------------------

def read_chain(decode_block: Callable[[bytes], Block], path: Path = CHAIN_FILE) -> list[Block]:
    """The blocks of a blk-framed file (regtest magic, u32 length, block), genesis first."""
    data = path.read_bytes()
    blocks = []
    pos = 0
    while pos < len(data):
        magic, size = _FRAME.unpack_from(data, pos)
        assert magic == params.REGTEST.magic_bytes
        pos += _FRAME.size
        blocks.append(decode_block(data[pos:pos + size]))
        pos += size
    return blocks


def snapshot(store: Store, namespace: str = "utxo") -> dict[bytes, bytes]:
    """Every record of a namespace, as stored."""
    return dict(store.namespace(namespace).iterator())


def recompute_utxo(blocks: Iterable[Block]) -> dict[bytes, bytes]:
    """The `c/` records the UTXO set must hold after `blocks` (genesis excluded by the caller):
    a plain dict, outputs in and spent outputs out, in block order."""
    coins: dict[bytes, bytes] = {}
    for height, block in enumerate(blocks, start=1):
        for tx in block.transactions:
            coinbase = is_coinbase(tx)
            if not coinbase:
                for txin in tx.inputs:
                    del coins[coin_key(txin.prev_txid, txin.prev_index)]
            for index, txout in enumerate(tx.outputs):
                if not is_unspendable(txout.script_pubkey):
                    coins[coin_key(tx.txid, index)] = encode_coin(
                        Coin(txout.value, txout.script_pubkey, height, coinbase))
    return coins


# --- blocks mined here, with no rule checked ----------------------------------------------------

def coinbase_tx(height: int, value: int, script_pubkey: bytes = OP_TRUE, extra: bytes = b"",
                witness_commitment: bytes | None = None) -> Tx:
    """A BIP34 coinbase paying `value` to `script_pubkey` (plus a BIP141 commitment if given)."""
    outputs = [TxOut(value, script_pubkey)]
    witness: tuple[bytes, ...] = ()
    if witness_commitment is not None:
        outputs.append(TxOut(0, WITNESS_COMMITMENT_PREFIX + witness_commitment))
        witness = (bytes(32),)
    script_sig = bip34_height_script(height) + b"\x00" + extra  # two bytes at least (bad-cb-length)
    return Tx(1, [TxIn(bytes(32), 0xFFFF_FFFF, script_sig, 0xFFFF_FFFF, witness)], outputs, 0)


def block_on(parent: BlockHeader, height: int, network: Network, txs: Sequence[Tx] = (), *, fees: int = 0,
             coinbase: Tx | None = None, timestamp: int | None = None, extra: bytes = b"",
             version: int = 0x2000_0000) -> Block:
    """A block on `parent` at regtest difficulty: a coinbase claiming subsidy plus `fees` (unless
    one is given), `txs`, a witness commitment when one of them has witness data."""
    commitment = None
    if any(tx.has_witness for tx in txs):
        commitment = expected_witness_commitment([bytes(32), *(tx.wtxid for tx in txs)], bytes(32))
    if coinbase is None:
        coinbase = coinbase_tx(height, block_subsidy(height, network) + fees, extra=extra,
                               witness_commitment=commitment)
    transactions = (coinbase, *txs)
    root, _ = merkle_root([tx.txid for tx in transactions])
    when = parent.timestamp + 1 if timestamp is None else timestamp
    nonce = 0
    while True:
        header = BlockHeader(version, parent.hash, root, when, REGTEST_BITS, nonce)
        if check_proof_of_work(header.hash, REGTEST_BITS, network.pow_limit):
            return Block(header, transactions)
        nonce += 1


class Miner:
    """Extends a chain from `tip` (at `height`): each `block()` builds on the last one made, with
    no rule checked (the chain state under test judges them)."""

    def __init__(self, network: Network, tip: BlockHeader, height: int = 0) -> None:
        self.network = network
        self.tip = tip
        self.height = height
        self.blocks: list[Block] = []

    def block(self, txs: Sequence[Tx] = (), **options: object) -> Block:
        block = block_on(self.tip, self.height + 1, self.network, txs, **options)  # type: ignore[arg-type]
        self.tip = block.header
        self.height += 1
        self.blocks.append(block)
        return block


# --- a chain view that checks every block it connects --------------------------------------------

class RegtestChain:
    """Blocks on regtest genesis, standing in for `Chainstate` through the `ChainView`/`MiningChain`
    protocols: `connect` and `disconnect`, and the chain view the mempool and miner read.

    Headers go into a real `HeaderTree` (median-time-past and next-work-required are its own);
    coins live in a dict fed by the blocks connected, each checked by `validate_block`, proof of
    work and `check_tx_inputs`. No script runs here: the outputs are anyone-can-spend, bare OP_TRUE
    or P2WSH(OP_TRUE), spent with an empty scriptSig (plus the witness script)."""

    def __init__(self, network: Network = params.REGTEST) -> None:
        self.network = network
        self.tree = HeaderTree.from_genesis(network)
        self.coins: dict[OutPoint, Coin] = {}
        self.blocks: list[Block] = []
        self._undo: list[list[tuple[OutPoint, Coin]]] = []

    @property
    def height(self) -> int:
        return self.tree.height

    @property
    def tip(self) -> bytes:
        return self.tree.tip

    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        return self.coins.get(outpoint)

    def mtp_at(self, height: int) -> int:
        block_hash = self.tree.at_height(height)
        assert block_hash is not None
        return self.tree.median_time_past(block_hash)

    def next_work_required(self, parent_hash: bytes, timestamp: int) -> int:
        return self.tree.next_work_required(parent_hash, timestamp)

    def time_at(self, height: int) -> int:
        block_hash = self.tree.at_height(height)
        assert block_hash is not None
        return self.tree.header(block_hash).timestamp

    def connect(self, block: Block) -> None:
        """Validate and apply a block on the tip (context-free checks, PoW, inputs)."""
        height = self.height + 1
        assert block.header.prev_block == self.tip
        validate_block(block, height, self.network)
        assert check_proof_of_work(block.hash, block.header.bits, self.network.pow_limit)
        spent: list[tuple[OutPoint, Coin]] = []
        for tx in block.transactions:
            if not is_coinbase(tx):
                check_tx_inputs(tx, self, height)
                for txin in tx.inputs:
                    spent.append((txin.outpoint, self.coins.pop(txin.outpoint)))
            for index, txout in enumerate(tx.outputs):
                self.coins[OutPoint(tx.txid, index)] = Coin(txout.value, txout.script_pubkey, height, is_coinbase(tx))
        self.tree.add_header(block.header)  # proof of work, bits and time rules: HeaderRejected
        assert self.tip == block.hash
        self.blocks.append(block)
        self._undo.append(spent)

    def disconnect(self) -> Block:
        """Undo the tip block: its outputs go, the coins it spent come back."""
        block = self.blocks.pop()
        for tx in block.transactions:
            for index in range(len(tx.outputs)):
                self.coins.pop(OutPoint(tx.txid, index), None)
        self.coins.update(self._undo.pop())
        self.tree.invalidate(block.hash)
        return block

    def mine_block(self, mempool: Mempool | None = None, *, commit_witness: bool = True) -> Block:
        """Template, grind, connect; the pool (if any) drops what the block confirmed."""
        template = block_template(self, mempool, PAYOUT, self.mtp_at(self.height) + 1,
                                  commit_witness=commit_witness, extranonce=len(self.tree))  # unique after a disconnect
        block = mine(template.block)
        self.connect(block)
        if mempool is not None:
            mempool.remove_for_block(block)
        return block

    def mature_coinbases(self, count: int) -> list[Prevout]:
        """Mine `count` blocks and then 100 more, so their coinbase payouts can be spent."""
        blocks = [self.mine_block() for _ in range(count)]
        for _ in range(100):
            self.mine_block()
        return [prevouts_of(block.transactions[0])[0] for block in blocks]


# --- spending ------------------------------------------------------------------------------------

def spend(prevouts: Sequence[Prevout | tuple[bytes, int]], outputs: Sequence[TxOut | int] | None = None, *,
          fee: int = 1_000, version: int = 2, locktime: int = 0, sequence: int = 0xFFFF_FFFE,
          script_sig: bytes = b"", script_pubkey: bytes = OP_TRUE) -> Tx:
    """A transaction spending anyone-can-spend outputs; no script is run to build it.

    `prevouts` are (OutPoint, TxOut) pairs (a P2WSH(OP_TRUE) one gets the witness (OP_TRUE,)) or bare
    (txid, index) outpoints. `outputs` are TxOuts, or values paid to `script_pubkey` (bare OP_TRUE);
    by default one P2WSH(OP_TRUE) output of the pairs' total minus `fee`. Every input has `script_sig`
    and `sequence` (by default 0xFFFFFFFE: `locktime` is enforced, no relative lock-time applies)."""
    inputs, total = [], 0
    for prevout in prevouts:
        if isinstance(prevout[0], OutPoint):
            outpoint, txout = prevout
            witness = (OP_TRUE,) if txout.script_pubkey == P2WSH_TRUE else ()
            inputs.append(TxIn(outpoint.txid, outpoint.index, script_sig, sequence, witness))
            total += txout.value
        else:
            txid, index = prevout
            inputs.append(TxIn(txid, index, script_sig, sequence))
    if outputs is None:
        outputs = [TxOut(total - fee, P2WSH_TRUE)]
    return Tx(version, inputs, [out if isinstance(out, TxOut) else TxOut(out, script_pubkey) for out in outputs],
              locktime)


def prevouts_of(tx: Tx) -> list[Prevout]:
    return [(OutPoint(tx.txid, index), txout) for index, txout in enumerate(tx.outputs)]


def relay(wire: ModuleType, tx: Tx) -> Tx:
    """`tx` as a peer delivers it: encoded, then decoded by the wire twin under test."""
    return wire.decode_tx(wire.encode_tx(tx))


# --- headers alone --------------------------------------------------------------------------------

def header_on(prev: bytes, timestamp: int, bits: int = REGTEST_BITS, version: int = 4, tag: int = 0) -> BlockHeader:
    """A header on `prev` meeting its own `bits`; `tag` (in the merkle root) tells branches apart."""
    target = compact_to_target(bits).target
    for nonce in itertools.count():
        header = BlockHeader(version, prev, tag.to_bytes(32, "little"), timestamp, bits, nonce)
        if int.from_bytes(header.hash, "little") <= target:
            return header
    raise AssertionError("unreachable")  # pragma: no cover


def extend(tree: HeaderTree, parent: bytes, count: int, tag: int = 0, spacing: int = 600) -> list[bytes]:
    """Mine `count` headers on `parent` into `tree`; their hashes."""
    hashes = []
    for _ in range(count):
        header = header_on(parent, tree.header(parent).timestamp + spacing, tag=tag)
        tree.add_header(header)
        hashes.append(parent := header.hash)
    return hashes
