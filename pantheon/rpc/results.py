"""The shapes of Core's RPC results that several groups share: amounts, difficulty, a decoded
transaction (TxToUniv), a block header (blockheaderToJSON) and the node's warnings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from pantheon.chain.addresses import script_to_address
from pantheon.chain.coins import Coin
from pantheon.chain.descriptors import infer_descriptor
from pantheon.chain.validation import COIN
from pantheon.chain.disassembly import script_to_asm
from pantheon.chain.policy import output_type
from pantheon.chain.validation import is_coinbase
from pantheon.hashing import hash_to_hex
from pantheon.chain.pow import compact_to_target
from pantheon.params import Network
from pantheon.primitives import Block, Tx

if TYPE_CHECKING:
    from pantheon.chain.chainstate import Chainstate
    from pantheon.node import Node

__all__ = ["amount", "difficulty", "target", "script_pubkey_json", "tx_to_json", "coinbase_json", "header_json", "warnings"]


def amount(satoshis: int) -> float:
    """Satoshis as Core's JSON amounts: bitcoins with 8 decimals."""
    return round(satoshis / COIN, 8)


def difficulty(bits: int) -> float:
    """Core's GetDifficulty: how many times harder than the 0x1d00ffff target (any network)."""
    shift = (bits >> 24) & 0xFF
    value = float(0x0000FFFF) / float(bits & 0x00FFFFFF or 1)
    while shift < 29:
        value *= 256.0
        shift += 1
    while shift > 29:
        value /= 256.0
        shift -= 1
    return value


def script_pubkey_json(script: bytes, network: Network, *, include_hex: bool = True,
                       desc: str | None = None) -> dict[str, Any]:
    """Core's ScriptToUniv for an output script, in its order: asm, desc (inferred, unless given),
    hex (unless left out, as decodescript does), address (when it has one), type (Core's
    TxoutType name: "multisig" without its counts)."""
    result: dict[str, Any] = {"asm": script_to_asm(script), "desc": desc or infer_descriptor(script, network)}
    if include_hex:
        result["hex"] = script.hex()
    address = script_to_address(script, network)
    if address is not None:
        result["address"] = address
    result["type"] = output_type(script).partition(":")[0]
    return result


def tx_to_json(tx: Tx, network: Network, block_hash: bytes | None = None, *, spent: Sequence[Coin] | None = None,
               prevouts: bool = False) -> dict[str, Any]:
    """Core's TxToUniv: the decoded transaction as getrawtransaction shows it; with the coins its
    inputs spent (a block's undo data) also its fee and, with `prevouts`, each input's `prevout`."""
    vin: list[dict[str, Any]] = []
    for position, txin in enumerate(tx.inputs):
        if is_coinbase(tx):
            entry: dict[str, Any] = {"coinbase": txin.script_sig.hex()}
        else:
            entry = {"txid": hash_to_hex(txin.prev_txid), "vout": txin.prev_index,
                     "scriptSig": {"asm": script_to_asm(txin.script_sig, decode_signatures=True),
                                   "hex": txin.script_sig.hex()}}
        if txin.witness:
            entry["txinwitness"] = [item.hex() for item in txin.witness]
        if spent is not None and prevouts:
            coin = spent[position]
            entry["prevout"] = {"generated": coin.coinbase, "height": coin.height, "value": amount(coin.value),
                                "scriptPubKey": script_pubkey_json(coin.script_pubkey, network)}
        entry["sequence"] = txin.sequence
        vin.append(entry)
    vout = [{"value": amount(txout.value), "n": index, "scriptPubKey": script_pubkey_json(txout.script_pubkey, network)}
            for index, txout in enumerate(tx.outputs)]
    result = {"txid": hash_to_hex(tx.txid), "hash": hash_to_hex(tx.wtxid), "version": tx.version, "size": tx.size,
              "vsize": tx.vsize, "weight": tx.weight, "locktime": tx.locktime, "vin": vin, "vout": vout}
    if spent is not None:
        result["fee"] = amount(sum(coin.value for coin in spent) - sum(txout.value for txout in tx.outputs))
    if block_hash is not None:
        result["blockhash"] = hash_to_hex(block_hash)
    result["hex"] = tx.serialize().hex()
    return result


def target(bits: int) -> str:
    """Core's `target` field: the compact `bits` expanded, 64 hex digits."""
    return f"{compact_to_target(bits).target:064x}"


def coinbase_json(coinbase: Tx) -> dict[str, Any]:
    """getblock's `coinbase_tx`: what a miner reads of the coinbase without decoding it."""
    txin = coinbase.inputs[0]
    result: dict[str, Any] = {"version": coinbase.version, "locktime": coinbase.locktime,
                              "sequence": txin.sequence, "coinbase": txin.script_sig.hex()}
    if txin.witness:
        result["witness"] = txin.witness[0].hex()
    return result


def header_json(chain: Chainstate, block_hash: bytes, block: Block | None = None) -> dict[str, Any]:
    """Core's blockheaderToJSON: the fields getblockheader and getblock share (`nTx` from
    `block` when given, else from the stored block; 0 when its data is not here)."""
    tree = chain.headers
    header = tree.header(block_hash)
    height = tree.height_of(block_hash)
    active = chain.contains(block_hash)
    if block is None and chain.has_block(block_hash):
        block = chain.read_block(block_hash)
    result: dict[str, Any] = {
        "hash": hash_to_hex(block_hash),
        "confirmations": chain.height - height + 1 if active else -1,
        "height": height, "version": header.version, "versionHex": f"{header.version & 0xFFFFFFFF:08x}",
        "merkleroot": hash_to_hex(header.merkle_root), "time": header.timestamp,
        "mediantime": tree.median_time_past(block_hash), "nonce": header.nonce, "bits": f"{header.bits:08x}",
        "target": target(header.bits), "difficulty": difficulty(header.bits),
        "chainwork": f"{tree.chain_work(block_hash):064x}",
        "nTx": 0 if block is None else len(block.transactions),
    }
    if height > 0:
        result["previousblockhash"] = hash_to_hex(header.prev_block)
    if active and height < chain.height:
        result["nextblockhash"] = hash_to_hex(tree.ancestor(chain.tip, height + 1))
    return result


def warnings(node: Node) -> list[str]:
    """Core's node warnings (GetNodeWarnings), as the `warnings` arrays of getblockchaininfo,
    getmininginfo and getnetworkinfo show them: what an operator must know about this node."""
    return [] if node.chain.scripts_verified else ["Script verification is OFF: scripts and signatures are not checked"]
