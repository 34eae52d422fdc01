"""A small real regtest chain for the mempool and miner tests, standing in for
`chain.chainstate.Chainstate` (built in parallel) through the `ChainView`/`MiningChain` protocols.

Headers go into a real `HeaderTree` (median-time-past and next-work-required are its own); coins
live in a dict fed by the blocks connected, each checked by `validate_block`, proof of work and
`check_tx_inputs`. Scripts are not executed anywhere yet, so the outputs here are anyone-can-spend:
bare OP_TRUE or P2WSH(OP_TRUE), spent with an empty scriptSig (plus the witness script)."""

from __future__ import annotations

import hashlib
from types import ModuleType

from pantheon import params
from pantheon.chain.coins import Coin
from pantheon.chain.contextual import check_tx_inputs
from pantheon.chain.headers import HeaderTree
from pantheon.chain.mempool import Mempool
from pantheon.chain.miner import block_template, mine
from pantheon.chain.pow import check_proof_of_work
from pantheon.chain.validation import is_coinbase, validate_block
from pantheon.params import Network
from pantheon.primitives import Block, OutPoint, Tx, TxIn, TxOut

OP_TRUE = b"\x51"
#: P2WSH of the witness script OP_TRUE: spent with the witness (OP_TRUE,).
P2WSH_TRUE = b"\x00\x20" + hashlib.sha256(OP_TRUE).digest()
#: The miner's payout: P2WSH(OP_TRUE), so coinbase outputs are standard to spend and to relay.
PAYOUT = P2WSH_TRUE


class RegtestChain:
    """Blocks on regtest genesis: `connect`, `disconnect`, and the chain view the pool reads."""

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


#: A spendable output: where it is and what it holds.
Prevout = tuple[OutPoint, TxOut]


def prevouts_of(tx: Tx) -> list[Prevout]:
    return [(OutPoint(tx.txid, index), txout) for index, txout in enumerate(tx.outputs)]


def spend(prevouts: list[Prevout], outputs: list[TxOut] | None = None, *, fee: int = 1_000, version: int = 2,
          locktime: int = 0, sequence: int = 0xFFFF_FFFE, script_sig: bytes = b"") -> Tx:
    """Spend anyone-can-spend outputs (empty scriptSig; witness OP_TRUE for P2WSH(OP_TRUE)) into
    `outputs`, by default one P2WSH(OP_TRUE) output of the total minus `fee`."""
    total = sum(txout.value for _, txout in prevouts)
    inputs = [TxIn(outpoint.txid, outpoint.index, script_sig, sequence,
                   (OP_TRUE,) if txout.script_pubkey == P2WSH_TRUE else ())
              for outpoint, txout in prevouts]
    return Tx(version, inputs, outputs if outputs is not None else [TxOut(total - fee, P2WSH_TRUE)], locktime)


def relay(wire: ModuleType, tx: Tx) -> Tx:
    """`tx` as a peer delivers it: encoded, then decoded by the wire twin under test."""
    return wire.decode_tx(wire.encode_tx(tx))
