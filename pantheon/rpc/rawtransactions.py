"""Core's raw-transaction RPCs (`rpc/rawtransaction.cpp`): finding, decoding and creating
(unsigned, `createrawtransaction`) transactions, decoding scripts, and finding the transaction
that spends an output (`gettxspendingprevout`).

`getrawtransaction` finds a block's transactions when its hash is given, mempool transactions,
and with -txindex (`chain/txindex.py`) every main-chain one. `gettxspendingprevout` reads the
mempool, then with -txospenderindex (`chain/txospenderindex.py`) the chain.
"""

from __future__ import annotations

from typing import Any

from pantheon.chain.addresses import (
    AddressError,
    address_to_script,
    hash160,
    p2sh_output,
    p2wpkh_output,
    p2wsh_output,
    script_to_address,
)
from pantheon.chain.blockfiles import BlockFileMissing
from pantheon.chain.coins import Coin
from pantheon.chain.descriptors import infer_wsh_descriptor
from pantheon.chain.policy import output_type
from pantheon.chain.script import (
    OP_CHECKSIGADD,
    OP_RETURN,
    has_valid_ops,
    is_op_success,
    is_p2wsh,
    is_unspendable,
    script_ops,
)
from pantheon.chain.txindex import TxIndex
from pantheon.chain.validation import is_coinbase
from pantheon.hashing import hash_to_hex
from pantheon.params import Network
from pantheon.primitives import BlockHeader, OutPoint, Tx, TxIn, TxOut
from pantheon.protocol import BLOCK_HEADER_SIZE
from pantheon.rpc.arguments import (
    amount_arg,
    check_object,
    check_types,
    hash_arg,
    hex_arg,
    int_arg,
    json_type,
    known_block,
    tx_arg,
)
from pantheon.rpc.errors import (
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_MISC_ERROR,
    RPC_TYPE_ERROR,
    RpcError,
)
from pantheon.rpc.registry import RpcGroup, rpc_method
from pantheon.rpc.results import script_pubkey_json, tx_to_json

__all__ = ["RawTransactionsRpc"]

#: Core's input sequences for createrawtransaction: BIP125-signalling, non-final, final.
_RBF_SEQUENCE, _NONFINAL_SEQUENCE, _FINAL_SEQUENCE = 0xFFFF_FFFD, 0xFFFF_FFFE, 0xFFFF_FFFF
#: Solver types decodescript never wraps in P2SH: unspendable, a script hash, a newer witness program.
_NOT_IN_P2SH = frozenset({"nulldata", "scripthash", "witness_unknown", "witness_v1_taproot", "anchor"})
#: ... nor in a segwit output: a witness program cannot hold another.
_NOT_IN_SEGWIT = _NOT_IN_P2SH | {"witness_v0_keyhash", "witness_v0_scripthash"}


def _push(data: bytes) -> bytes:
    """Core's `CScript << data`: the shortest push of `data`."""
    size = len(data)
    if size == 0:
        return b"\x00"
    if size < 0x4C:
        return bytes((size,)) + data
    if size <= 0xFF:
        return bytes((0x4C, size)) + data
    if size <= 0xFFFF:
        return b"\x4d" + size.to_bytes(2, "little") + data
    return b"\x4e" + size.to_bytes(4, "little") + data


def _raw_inputs(inputs: list[Any], replaceable: bool, locktime: int) -> list[TxIn]:
    """Core's AddInputs: each {txid, vout, sequence?}, sequences defaulting as Core chooses them."""
    default = _RBF_SEQUENCE if replaceable else _NONFINAL_SEQUENCE if locktime else _FINAL_SEQUENCE
    built = []
    for item in inputs:
        check_types(("input", item, "object"))
        txid = hash_arg(item.get("txid"), "txid")
        vout = item.get("vout")
        if vout is None:
            raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, missing vout key")
        if isinstance(vout, bool) or not isinstance(vout, int):
            raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, vout must be a number")
        if vout < 0:
            raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, vout cannot be negative")
        sequence = item.get("sequence", default)
        if isinstance(sequence, bool) or not isinstance(sequence, int) or not 0 <= sequence <= _FINAL_SEQUENCE:
            raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, sequence number is out of range")
        built.append(TxIn(txid, vout, b"", sequence))
    return built


def _raw_outputs(outputs: Any, network: Network) -> list[TxOut]:
    """Core's AddOutputs: {address: amount, "data": hex} (or an array of one-key objects)."""
    if isinstance(outputs, dict):
        pairs = list(outputs.items())
    elif isinstance(outputs, list):
        pairs = []
        for item in outputs:
            check_types(("output", item, "object"))
            if len(item) != 1:
                raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, key-value pair must contain exactly one key.")
            pairs.extend(item.items())
    else:
        raise RpcError(RPC_TYPE_ERROR, "JSON value is not an object or array as expected")
    built, seen = [], set()
    for key, value in pairs:
        if key in seen:
            prefix = "duplicate key" if key == "data" else "duplicated address"
            raise RpcError(RPC_INVALID_PARAMETER, f"Invalid parameter, {prefix}: {key}")
        seen.add(key)
        if key == "data":
            data = hex_arg(value)
            if data is None:
                raise RpcError(RPC_INVALID_PARAMETER, f"Data must be hexadecimal string (not '{value}')")
            built.append(TxOut(0, bytes((OP_RETURN,)) + _push(data)))
            continue
        try:
            script = address_to_script(key, network)
        except AddressError:
            raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, f"Invalid Bitcoin address: {key}") from None
        built.append(TxOut(amount_arg(value), script))
    return built


def _can_wrap(script: bytes, kind: str) -> bool:
    """Core's decodescript `can_wrap`: P2SH may wrap a script that is no script hash or newer
    witness program, whose opcodes are all defined and spendable outside tapscript."""
    if kind in _NOT_IN_P2SH:
        return False
    if not has_valid_ops(script) or is_unspendable(script):
        return False
    return not any(opcode == OP_CHECKSIGADD or is_op_success(opcode) for opcode, _ in script_ops(script))


def _segwit_output(script: bytes, kind: str) -> bytes | None:
    """Core's decodescript `can_wrap_P2WSH` and its choice: a key (P2PK) or key hash (P2PKH) as
    P2WPKH, any other script as P2WSH; None for a witness program or a script holding an
    uncompressed key, which segwit cannot check."""
    if kind in _NOT_IN_SEGWIT:
        return None
    keys = [data for _, data in script_ops(script) if data is not None and len(data) > 1]
    if kind in ("pubkey", "multisig") and any(len(key) != 33 for key in keys):
        return None
    if kind == "pubkey":
        return p2wpkh_output(hash160(keys[0]))
    if kind == "pubkeyhash":
        return p2wpkh_output(script[3:23])
    return p2wsh_output(script)


def _decoded_script(script: bytes, network: Network) -> dict[str, Any]:
    """Core's decodescript result: the script as an output (no hex), then the P2SH address and
    the segwit output that could wrap it, where they can."""
    result = script_pubkey_json(script, network, include_hex=False)
    kind = output_type(script).partition(":")[0]
    if not _can_wrap(script, kind):
        return result
    result["p2sh"] = script_to_address(p2sh_output(script), network)
    segwit = _segwit_output(script, kind)
    if segwit is not None:
        desc = infer_wsh_descriptor(script) if is_p2wsh(segwit) else None  # Core's provider knows the script
        result["segwit"] = {**script_pubkey_json(segwit, network, desc=desc),
                            "p2sh-segwit": script_to_address(p2sh_output(segwit), network)}
    return result


#: The largest `vout` Core reads (as a C int).
_INT_MAX = 2**31 - 1
#: Core's last words on every transaction getrawtransaction cannot find.
_WALLET_HINT = "Use gettransaction for wallet transactions."


def _missing_tx(index: TxIndex | None) -> str:
    """Core's reason no transaction was found without a block hash, by the state of -txindex."""
    if index is None:
        return "No such mempool transaction. Use -txindex or provide a block hash to enable blockchain transaction " \
               "queries."
    if not index.synced:
        return "No such mempool transaction. Blockchain transactions are still in the process of being indexed."
    return "No such mempool or blockchain transaction."


def _add_spender(result: dict[str, Any], tx: Tx, with_tx: bool) -> None:
    """gettxspendingprevout's spender fields: its txid, and the transaction when asked."""
    result["spendingtxid"] = hash_to_hex(tx.txid)
    if with_tx:
        result["spendingtx"] = tx.serialize().hex()


class RawTransactionsRpc(RpcGroup):
    category = "rawtransactions"

    @rpc_method
    def createrawtransaction(self, inputs: Any, outputs: Any, locktime: Any = 0, replaceable: Any = True,
                             version: Any = 2) -> str:
        """An unsigned transaction spending `inputs` ([{txid, vout, sequence?}]) to `outputs`
        ({address: amount, "data": hex}), as hex. Inputs signal replaceability unless
        `replaceable` is false (then they are final, or non-final when a `locktime` is set)."""
        check_types(("inputs", inputs, "array"), ("locktime", locktime, "number"),
                    ("replaceable", replaceable, "bool"), ("version", version, "number"))
        if isinstance(locktime, bool) or not isinstance(locktime, int) or not 0 <= locktime <= 0xFFFF_FFFF:
            raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, locktime out of range")
        if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= 3:
            raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, version out of range(1~3)")
        tx = Tx(version, _raw_inputs(inputs, bool(replaceable), locktime), _raw_outputs(outputs, self.node.network),
                locktime)
        return tx.serialize().hex()

    @rpc_method
    def getrawtransaction(self, txid: Any, verbose: Any = 0, blockhash: Any = None) -> Any:
        """A transaction of the given block, else of the mempool, else (with -txindex) of the
        chain: hex (verbosity 0), decoded with its block's hash, confirmations and time (1), and
        for a transaction in a block, its fee and each input's `prevout` from the block's undo
        data (2, Core's SHOW_DETAILS_AND_PREVOUT; a coinbase or a mempool transaction shows 1's)."""
        chain = self.node.chain
        tx_hash = hash_arg(txid, "txid")
        verbosity = int(verbose) if isinstance(verbose, bool) else int_arg(verbose, "verbosity")
        if tx_hash == self._genesis_coinbase:
            raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "The genesis block coinbase is not considered an ordinary "
                           "transaction and cannot be retrieved")
        found: Tx | None = None
        in_block: bytes | None = None
        if blockhash is not None:
            in_block = known_block(chain, blockhash)
            if not chain.has_block(in_block):
                raise RpcError(RPC_MISC_ERROR, "Block not available")
            found = next((tx for tx in chain.read_block(in_block).transactions if tx.txid == tx_hash), None)
            if found is None:
                raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "No such transaction found in the provided block. "
                               + _WALLET_HINT)
        else:
            entry = self.node.mempool.get(tx_hash)
            index = self.node.tx_index
            if entry is not None:
                found = entry.tx
            elif index is not None and (located := index.find(tx_hash)) is not None:
                found, in_block = located
            else:
                raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, f"{_missing_tx(index)} {_WALLET_HINT}")
        if verbosity <= 0:
            return found.serialize().hex()
        spent = self._spent_coins(found, in_block) if verbosity >= 2 else None
        result = tx_to_json(found, self.node.network, in_block, spent=spent, prevouts=spent is not None)
        if in_block is not None:  # Core's TxToJSON with the block's hash known
            active = chain.contains(in_block)
            if blockhash is not None:
                result["in_active_chain"] = active
            result["confirmations"] = chain.height - chain.headers.height_of(in_block) + 1 if active else 0
            if active:
                result["time"] = result["blocktime"] = chain.headers.header(in_block).timestamp
        return result

    def _spent_coins(self, tx: Tx, in_block: bytes | None) -> list[Coin] | None:
        """The coins `tx` spent, from its block's undo data; None for a coinbase, a mempool
        transaction or a block whose undo data is gone (pruned), as Core shows them."""
        chain = self.node.chain
        if in_block is None or is_coinbase(tx):
            return None
        try:
            spent = chain.spent_coins(in_block)
            block = chain.read_block(in_block)
        except (KeyError, BlockFileMissing):
            return None
        if spent is None:
            return None
        position = next(position for position, candidate in enumerate(block.transactions) if candidate.txid == tx.txid)
        return spent[position - 1]

    @property
    def _genesis_coinbase(self) -> bytes:
        """Genesis's coinbase txid (its merkle root), which Core never returns."""
        return BlockHeader.from_bytes(self.node.network.genesis_block[:BLOCK_HEADER_SIZE]).merkle_root

    @rpc_method(category="blockchain")
    def gettxspendingprevout(self, outputs: Any, options: Any = None, *, mempool_only: Any = None,
                             return_spending_tx: Any = None) -> list[dict[str, Any]]:
        """Core 31's: for each output, the mempool transaction spending it, else (with
        -txospenderindex, unless `mempool_only`) the chain's one and its block; `options` (or
        the same names given as named arguments): `mempool_only`, `return_spending_tx`."""
        check_types(("outputs", outputs, "array"))
        if not outputs:
            raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, outputs are missing")
        if options is None:
            options = {}
        check_types(("options", options, "object"))
        named = {"mempool_only": mempool_only, "return_spending_tx": return_spending_tx}
        options = {**options, **{name: value for name, value in named.items() if value is not None}}
        check_object(options, {"mempool_only": "bool", "return_spending_tx": "bool"})
        index = self.node.spender_index
        pool_only = options.get("mempool_only", index is None)
        with_tx = options.get("return_spending_tx", False)
        queries = [self._outpoint(output) for output in outputs]
        results: list[dict[str, Any]] = []
        for output, (txid, vout) in zip(outputs, queries):
            result = dict(output)
            spender = self.node.mempool.spender(OutPoint(txid, vout))
            confirmed = None
            if spender is None and not pool_only:
                if index is None or not index.synced:
                    raise RpcError(RPC_MISC_ERROR, "Mempool lacks a relevant spend, and txospenderindex is "
                                   "unavailable.")
                confirmed = index.find_spender(txid, vout)
            if spender is not None:
                entry = self.node.mempool.get(spender)
                assert entry is not None
                _add_spender(result, entry.tx, with_tx)
            elif confirmed is not None:
                _add_spender(result, confirmed.tx, with_tx)
                result["blockhash"] = hash_to_hex(confirmed.block_hash)
            results.append(result)
        return results

    @staticmethod
    def _outpoint(output: Any) -> tuple[bytes, int]:
        """One of gettxspendingprevout's outputs, {"txid", "vout"}, as Core checks it."""
        if not isinstance(output, dict):
            raise RpcError(RPC_TYPE_ERROR, f"JSON value of type {json_type(output)} is not of expected type object")
        check_object(output, {"txid": "string", "vout": "number"}, allow_null=False)
        txid = hash_arg(output["txid"], "txid")
        vout = int_arg(output["vout"], "vout")
        if vout > _INT_MAX:
            raise RpcError(RPC_MISC_ERROR, "JSON integer out of range")
        if vout < 0:
            raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, vout cannot be negative")
        return txid, vout

    @rpc_method
    def decoderawtransaction(self, hexstring: Any, iswitness: Any = None) -> dict[str, Any]:
        """Core's, without `hex`. `iswitness` is accepted and not needed: the decoder reads the
        BIP144 marker, which is Core's heuristic for every transaction that can be valid."""
        result = tx_to_json(tx_arg(hexstring), self.node.network)
        del result["hex"]
        return result

    @rpc_method
    def decodescript(self, hexstring: Any) -> dict[str, Any]:
        """Decode a hex-encoded script: its asm, inferred descriptor, type and address; where it
        can be wrapped, the P2SH address of it and (`segwit`) the witness output that would hold
        it: P2WPKH for a key or key hash, else P2WSH. An empty string is the empty script."""
        check_types(("hexstring", hexstring, "string"))
        script = hex_arg(hexstring) if hexstring else b""
        if script is None:
            raise RpcError(RPC_INVALID_PARAMETER, f"argument must be hexadecimal string (not '{hexstring}')")
        return _decoded_script(script, self.node.network)
