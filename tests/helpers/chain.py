"""Helpers for the chain-state tests: the bcoin regtest chain, a small regtest miner, and a UTXO
set recomputed from blocks without the code under test's cache, overlay or undo data."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Callable, Iterable, Sequence

from pantheon.chain.contextual import block_subsidy
from pantheon.chain.pow import check_proof_of_work
from pantheon.chain.utxo import coin_key, encode_coin, is_unspendable
from pantheon.chain.validation import bip34_height_script, is_coinbase
from pantheon.chain.coins import Coin
from pantheon.hashing import WITNESS_COMMITMENT_PREFIX, expected_witness_commitment, merkle_root
from pantheon.params import Network
from pantheon.primitives import Block, BlockHeader, Tx, TxIn, TxOut
from pantheon.store import Store

CHAIN_FILE = Path(__file__).parents[1] / "vectors" / "chains" / "regtest_bcoin_471.blk"
REGTEST_BITS = 0x207FFFFF
OP_TRUE = b"\x51"
_FRAME = struct.Struct("<4sI")


def read_chain(decode_block: Callable[[bytes], Block], path: Path = CHAIN_FILE) -> list[Block]:
    """The blocks of a blk-framed file (magic, u32 length, block), genesis first."""
    data = path.read_bytes()
    blocks = []
    pos = 0
    while pos < len(data):
        _, size = _FRAME.unpack_from(data, pos)
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


def spend(prevouts: Sequence[tuple[bytes, int]], values: Sequence[int], *, version: int = 2,
          sequence: int = 0xFFFF_FFFF, locktime: int = 0, script_sig: bytes = b"",
          script_pubkey: bytes = OP_TRUE) -> Tx:
    """A transaction spending `prevouts` to OP_TRUE outputs (scripts are not run here)."""
    return Tx(version, [TxIn(txid, index, script_sig, sequence) for txid, index in prevouts],
              [TxOut(value, script_pubkey) for value in values], locktime)


def mine(parent: BlockHeader, height: int, network: Network, txs: Sequence[Tx] = (), *, fees: int = 0,
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
    """Extends a chain from `tip` (at `height`): each `block()` builds on the last one made."""

    def __init__(self, network: Network, tip: BlockHeader, height: int = 0) -> None:
        self.network = network
        self.tip = tip
        self.height = height
        self.blocks: list[Block] = []

    def block(self, txs: Sequence[Tx] = (), **options: object) -> Block:
        block = mine(self.tip, self.height + 1, self.network, txs, **options)  # type: ignore[arg-type]
        self.tip = block.header
        self.height += 1
        self.blocks.append(block)
        return block

