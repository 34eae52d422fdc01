"""Core's mining RPCs (`rpc/mining.cpp`): block templates, submitted blocks and headers, the
mining figures, and (on regtest) mining blocks on the node's own tip."""

from __future__ import annotations

from typing import Any

from pantheon import wire
from pantheon.chain.addresses import AddressError, address_to_script
from pantheon.chain.descriptors import DescriptorError, parse_descriptor
from pantheon.chain.headers import HeaderRejected
from pantheon.chain.miner import minimum_time
from pantheon.chain.script import OP_1
from pantheon.chain.validation import (
    MAX_BLOCK_SERIALIZED_SIZE,
    MAX_BLOCK_SIGOPS_COST,
    MAX_BLOCK_WEIGHT,
    WITNESS_SCALE_FACTOR,
    BlockRejected,
)
from pantheon.chain.versionbits import ACTIVE, LOCKED_IN, STARTED
from pantheon.errors import ProtocolError
from pantheon.hashing import hash_to_hex
from pantheon.net.peer import PeerState
from pantheon.primitives import Block, BlockHeader
from pantheon.protocol import BLOCK_HEADER_SIZE
from pantheon.rpc.arguments import check_types, hash_arg, hex_arg, int_arg, tx_arg
from pantheon.rpc.errors import (
    RPC_CLIENT_IN_INITIAL_DOWNLOAD,
    RPC_CLIENT_NOT_CONNECTED,
    RPC_DESERIALIZATION_ERROR,
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_TYPE_ERROR,
    RPC_VERIFY_ERROR,
    RpcError,
)
from pantheon.rpc.registry import HIDDEN, RpcGroup, rpc_method
from pantheon.rpc.results import amount, difficulty, target, warnings

__all__ = ["MiningRpc"]

#: What getblocktemplate's coinbase pays to (Core's default coinbase_output_script).
_TEMPLATE_PAYOUT = bytes((OP_1,))
#: Core's getnetworkhashps default lookup: the last 120 blocks.
_HASHPS_BLOCKS = 120


def _block_arg(hexdata: Any) -> Block:
    """A serialized block, or Core's -22 error."""
    raw = hex_arg(hexdata)
    try:
        if raw is None:
            raise ValueError
        return wire.decode_block(raw)
    except (ValueError, ProtocolError):
        raise RpcError(RPC_DESERIALIZATION_ERROR, "Block decode failed") from None


class MiningRpc(RpcGroup):
    category = "mining"

    @rpc_method(regtest_only=True, category="generating")
    def generatetoaddress(self, nblocks: Any, address: Any, maxtries: Any = 1_000_000) -> list[str]:
        """Mine `nblocks` blocks from the mempool to `address`, now; returns their hashes."""
        count = int_arg(nblocks, "nblocks")
        try:
            hashes = self.node.generate(count, address)
        except AddressError:
            raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Error: Invalid address") from None
        except (BlockRejected, HeaderRejected) as error:
            raise RpcError(RPC_VERIFY_ERROR, f"generated block rejected: {error.reason}") from None
        return [hash_to_hex(block_hash) for block_hash in hashes]

    @rpc_method(regtest_only=True, category="generating")
    def generatetodescriptor(self, num_blocks: Any, descriptor: Any, maxtries: Any = 1_000_000) -> list[str]:
        """Mine `num_blocks` blocks from the mempool to the script of `descriptor`, now; returns
        their hashes. The descriptor must stand for one script (not ranged, not combo())."""
        count = int_arg(num_blocks, "num_blocks")
        try:
            script = parse_descriptor(str(descriptor), self.node.network).script
        except DescriptorError as error:
            raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, str(error)) from None
        try:
            hashes = self.node.generate(count, script)
        except (BlockRejected, HeaderRejected) as error:
            raise RpcError(RPC_VERIFY_ERROR, f"generated block rejected: {error.reason}") from None
        return [hash_to_hex(block_hash) for block_hash in hashes]
    @rpc_method(regtest_only=True, category=HIDDEN)
    def generateblock(self, output: Any, transactions: Any, submit: Any = True) -> dict[str, Any]:
        """Mine a block paying `output` (a descriptor, `raw()` or `addr()`, else an address)
        holding `transactions` in order (txids of pooled transactions, or raw transactions); it
        is submitted unless `submit` is false, when its hex is returned with its hash."""
        check_types(("output", output, "string"), ("transactions", transactions, "array"),
                    ("submit", submit, "bool"))
        node = self.node
        chosen = []
        for item in transactions:
            entry = None
            if isinstance(item, str) and len(item) == 64:
                entry = node.mempool.get(hash_arg(item, "txid"))
                if entry is None:
                    raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, f"Transaction {item} not in mempool.")
                chosen.append(entry.tx)
                continue
            try:
                chosen.append(tx_arg(item))
            except RpcError:
                raise RpcError(RPC_DESERIALIZATION_ERROR, f"Transaction decode failed for {item}. Make sure the tx "
                               "has at least one input.") from None
        try:
            script = parse_descriptor(output, node.network).script
        except DescriptorError:  # Core tries the text as an address next
            try:
                script = address_to_script(output, node.network)
            except AddressError:
                raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Error: Invalid address or descriptor") from None
        try:
            block = node.generate_block(script, chosen, submit=submit)
        except (BlockRejected, HeaderRejected) as error:
            raise RpcError(RPC_VERIFY_ERROR, f"TestBlockValidity failed: {error.reason}") from None
        result = {"hash": hash_to_hex(block.hash)}
        if not submit:
            result["hex"] = wire.encode_block(block).hex()
        return result

    @rpc_method
    def prioritisetransaction(self, txid: Any, dummy: Any = None, fee_delta: Any = None) -> bool:
        """Judge a transaction (pooled or not yet) as paying `fee_delta` satoshis more (or less,
        when negative) when it is mined and when the mempool checks its fee; deltas add up.
        `dummy` must be 0 or null (Core's old priority argument). Pantheon's pool admits no
        dust, so Core's refusal to prioritise a dust transaction never arises."""
        check_types(("txid", txid, "string"), ("dummy", dummy, "number"), ("fee_delta", fee_delta, "number"))
        tx_hash = hash_arg(txid, "txid")
        delta = int_arg(fee_delta, "fee_delta")  # required: null is Core's -3 type error
        if dummy:
            raise RpcError(RPC_INVALID_PARAMETER,
                           "Priority is no longer supported, dummy argument to prioritisetransaction must be 0.")
        self.node.prioritise_transaction(tx_hash, delta)
        return True

    @rpc_method
    def getprioritisedtransactions(self) -> dict[str, dict[str, Any]]:
        """Every fee delta prioritisetransaction set, by txid: the delta (satoshis), whether the
        transaction is pooled and, if it is, its modified fee (satoshis)."""
        pool = self.node.mempool
        result: dict[str, dict[str, Any]] = {}
        for tx_hash, delta in sorted(pool.deltas().items()):
            entry = pool.get(tx_hash)
            result[hash_to_hex(tx_hash)] = {"fee_delta": delta, "in_mempool": entry is not None,
                                            **({"modified_fee": entry.modified_fee} if entry is not None else {})}
        return result

    @rpc_method
    def submitblock(self, hexdata: Any, dummy: Any = None) -> str | None:
        """Offer a block to the chain. BIP22's answer, as Core gives it: null when this call
        connected it, "duplicate" when its data was here already, "inconclusive" when it was
        stored but not connected (off the best chain, or a pruned block stored again), else the
        reason it was rejected ("duplicate-invalid": known to be invalid). `dummy` is ignored."""
        block = _block_arg(hexdata)
        node = self.node
        block_hash = block.hash
        stored_before = node.chain.has_block(block_hash)
        try:
            change = node.process_block(block)
        except (HeaderRejected, BlockRejected) as error:
            # a failure of another block on the way leaves this one stored, its fate unknown
            return error.reason if error.block_hash == block_hash else "inconclusive"
        if stored_before:
            return "duplicate"
        return None if change is not None and block_hash in change.connected else "inconclusive"

    @rpc_method
    def submitheader(self, hexdata: Any) -> None:
        """Add a block header (its first 80 bytes: a whole block's hex is taken too) to the
        header tree, without its block; raises Core's -25 with the reason it was refused."""
        raw = hex_arg(hexdata)
        if raw is None or len(raw) < BLOCK_HEADER_SIZE:
            raise RpcError(RPC_DESERIALIZATION_ERROR, "Block header decode failed")
        header = BlockHeader.from_bytes(raw[:BLOCK_HEADER_SIZE])
        node = self.node
        if header.prev_block not in node.chain.headers:
            raise RpcError(RPC_VERIFY_ERROR, f"Must submit previous header ({hash_to_hex(header.prev_block)}) first")
        try:
            node.submit_header(header)
        except HeaderRejected as error:
            raise RpcError(RPC_VERIFY_ERROR, error.reason) from None

    @rpc_method
    def getnetworkhashps(self, nblocks: Any = _HASHPS_BLOCKS, height: Any = -1) -> float:
        """Hashes per second the network spent on the `nblocks` blocks (-1: since the last
        difficulty change) up to the one at `height` (-1: the tip): their work over their time."""
        check_types(("nblocks", nblocks, "number"), ("height", height, "number"))
        lookup = int_arg(nblocks, "nblocks")
        at = int_arg(height, "height")
        chain = self.node.chain
        if lookup < -1 or lookup == 0:
            raise RpcError(RPC_INVALID_PARAMETER, "Invalid nblocks. Must be a positive number or -1.")
        if at < -1 or at > chain.height:
            raise RpcError(RPC_INVALID_PARAMETER, "Block does not exist at specified height")
        tree = chain.headers
        end = chain.height if at == -1 else at
        if end == 0:
            return 0
        network = chain.network
        if lookup == -1:
            lookup = end % (network.pow_target_timespan // network.pow_target_spacing) + 1
        lookup = min(lookup, end)
        times = [chain.time_at(h) for h in range(end - lookup, end + 1)]
        if min(times) == max(times):
            return 0
        work = tree.chain_work(tree.ancestor(chain.tip, end)) - tree.chain_work(tree.ancestor(chain.tip, end - lookup))
        return work / (max(times) - min(times))

    @rpc_method
    def getmininginfo(self) -> dict[str, Any]:
        """The tip and the next block's difficulty, the network's hash rate, the mempool's size,
        and (once this process assembled a block) that block's weight and transaction count."""
        node = self.node
        chain = node.chain
        bits = chain.headers.header(chain.tip).bits
        result: dict[str, Any] = {"blocks": chain.height}
        last = node.last_template
        if last is not None:
            result["currentblockweight"] = last.assembled_weight
            result["currentblocktx"] = len(last.block.transactions) - 1
        next_time = max(minimum_time(chain), int(node.clock()))
        next_bits = chain.next_work_required(chain.tip, next_time)
        result.update({
            "bits": f"{bits:08x}", "difficulty": difficulty(bits), "target": target(bits),
            "networkhashps": self.getnetworkhashps(), "pooledtx": len(node.mempool),
            "blockmintxfee": amount(node.config.blockmintxfee), "chain": node.network.chain_name,
            "next": {"height": chain.height + 1, "bits": f"{next_bits:08x}", "difficulty": difficulty(next_bits),
                     "target": target(next_bits)},
            "warnings": warnings(node),
        })
        return result

    @rpc_method
    def getblocktemplate(self, template_request: Any = None) -> Any:
        """BIP22/23 block templates (`rules` must hold "segwit"), or with `mode` "proposal" a
        block (`data`) checked as a child of the tip without its proof of work: null if valid,
        else BIP22's reason. Long polling (`longpollid`) is not supported: a template comes at
        once. On mainnet, refused without peers or in initial block download, as Core does."""
        node = self.node
        chain = node.chain
        request = template_request if template_request is not None else {}
        if not isinstance(request, dict):
            raise RpcError(RPC_TYPE_ERROR, "JSON value of type "
                           f"{type(request).__name__} is not of expected type object")
        mode = request.get("mode", "template")
        if mode is None:
            mode = "template"
        if not isinstance(mode, str):
            raise RpcError(RPC_INVALID_PARAMETER, "Invalid mode")
        if mode == "proposal":
            data = request.get("data")
            if not isinstance(data, str):
                raise RpcError(RPC_TYPE_ERROR, "Missing data String key for proposal")
            return self._proposal(_block_arg(data))
        if mode != "template":
            raise RpcError(RPC_INVALID_PARAMETER, "Invalid mode")
        rules = set(request.get("rules") or ())
        if node.network.name == "main":
            if not node.peers(PeerState.CONNECTED):
                raise RpcError(RPC_CLIENT_NOT_CONNECTED, "Pantheon is not connected!")
            if node.in_initial_block_download():
                raise RpcError(RPC_CLIENT_IN_INITIAL_DOWNLOAD,
                               "Pantheon is in initial sync and waiting for blocks...")
        if "segwit" not in rules:
            raise RpcError(RPC_INVALID_PARAMETER, "getblocktemplate must be called with the segwit rule set "
                           '(call with {"rules": ["segwit"]})')
        template = node.block_template(_TEMPLATE_PAYOUT)
        block = template.block
        header = block.header
        version = header.version
        segwit = template.height >= node.network.segwit_height
        rule_names = ["csv", *(["!segwit"] if segwit else [])]
        available: dict[str, int] = {}
        for deployment in node.network.deployments:
            state = chain.versionbits.state(deployment, chain.tip)
            name = deployment.name if deployment.gbt_optional else f"!{deployment.name}"
            mask = 1 << deployment.bit
            if state == ACTIVE:
                rule_names.append(name)
                if not deployment.gbt_optional and deployment.name not in rules:
                    raise RpcError(RPC_INVALID_PARAMETER,
                                   f"Support for '{deployment.name}' rule requires explicit client support")
            elif state in (STARTED, LOCKED_IN):
                available[name] = deployment.bit
                if state == LOCKED_IN:
                    version |= mask
                if not deployment.gbt_optional and deployment.name not in rules:
                    version &= ~mask
        index = {tx.txid: position for position, tx in enumerate(block.transactions)}
        scale = 1 if segwit else WITNESS_SCALE_FACTOR
        transactions = [{
            "data": tx.serialize().hex(), "txid": hash_to_hex(tx.txid), "hash": hash_to_hex(tx.wtxid),
            "depends": [index[txin.prev_txid] for txin in tx.inputs if txin.prev_txid in index],
            "fee": fee, "sigops": sigops // scale, "weight": tx.weight,
        } for tx, fee, sigops in zip(block.transactions[1:], template.tx_fees, template.tx_sigops)]
        result: dict[str, Any] = {
            "capabilities": ["proposal"], "version": version, "rules": rule_names, "vbavailable": available,
            "vbrequired": 0, "previousblockhash": hash_to_hex(header.prev_block), "transactions": transactions,
            "coinbaseaux": {}, "coinbasevalue": block.transactions[0].outputs[0].value,
            "longpollid": hash_to_hex(header.prev_block) + "0", "target": target(header.bits),
            "mintime": minimum_time(chain), "mutable": ["time", "transactions", "prevblock"],
            "noncerange": "00000000ffffffff", "sigoplimit": MAX_BLOCK_SIGOPS_COST // scale,
            "sizelimit": MAX_BLOCK_SERIALIZED_SIZE // scale,
        }
        if segwit:
            result["weightlimit"] = MAX_BLOCK_WEIGHT
        result.update({"curtime": header.timestamp, "bits": f"{header.bits:08x}", "height": template.height})
        if template.commitment is not None:
            result["default_witness_commitment"] = template.commitment.hex()
        return result

    def _proposal(self, block: Block) -> str | None:
        """BIP23's proposal: a known block by what is known of it, else Core's TestBlockValidity."""
        chain = self.node.chain
        block_hash = block.hash
        if block_hash in chain.headers:
            if chain.is_validated(block_hash):
                return "duplicate"
            return "duplicate-inconclusive" if chain.headers.is_valid(block_hash) else "duplicate-invalid"
        try:
            self.node.test_block_validity(block)
        except (HeaderRejected, BlockRejected) as error:
            return error.reason
        return None
