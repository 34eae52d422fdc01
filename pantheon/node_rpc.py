"""The node's JSON-RPC methods, in Bitcoin Core's names, arguments, result shapes and error codes
(`rpc/blockchain.cpp`, `rpc/net.cpp`, `rpc/mempool.cpp`, `rpc/rawtransaction.cpp`), so clients
written for Core work unchanged. `node_methods(node)` gives the table `rpc.RpcServer` serves.

Differences, on purpose and visible: `getblockchaininfo` and `getmempoolinfo` add
`scripts_verified` (whether scripts are executed: see chain/scripts.py); `getsyncstatus` is ours;
`generatetoaddress` exists on regtest only; scripts are shown with Core's `asm`, `hex`, `type`
and `address` but without its output descriptors (`desc`); without a transaction index,
`getrawtransaction` finds mempool transactions, or a block's when its hash is given, as Core does
without `-txindex`.
"""

from __future__ import annotations

import ipaddress
import time
from typing import TYPE_CHECKING, Any, Callable

import gevent

from pantheon import __version__, wire
from pantheon.chain.addresses import AddressError, script_to_address
from pantheon.chain.disassembly import script_to_asm
from pantheon.chain.headers import HeaderRejected
from pantheon.chain.mempool import MempoolEntry
from pantheon.chain.policy import output_type
from pantheon.chain.validation import BlockRejected, TxRejected, is_coinbase
from pantheon.config import ConfigError, parse_hostport
from pantheon.errors import ProtocolError
from pantheon.hashing import hash_to_hex, hex_to_hash
from pantheon.net.peer import Peer, PeerState
from pantheon.primitives import Tx
from pantheon.protocol import BLOCK_HEADER_SIZE, PROTOCOL_VERSION, service_names
from pantheon.rpc import (
    RPC_CLIENT_INVALID_IP_OR_SUBNET,
    RPC_CLIENT_NODE_ALREADY_ADDED,
    RPC_CLIENT_NODE_NOT_ADDED,
    RPC_CLIENT_NODE_NOT_CONNECTED,
    RPC_DESERIALIZATION_ERROR,
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_MISC_ERROR,
    RPC_TYPE_ERROR,
    RPC_VERIFY_ALREADY_IN_CHAIN,
    RPC_VERIFY_ERROR,
    RPC_VERIFY_REJECTED,
    RpcError,
)

if TYPE_CHECKING:
    from pantheon.node import Node

__all__ = ["node_methods", "difficulty", "tx_to_json"]

COIN = 100_000_000
_CLIENT_VERSION = int("".join(f"{int(part):02d}" for part in __version__.split("."))) * 100


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


def _amount(satoshis: int) -> float:
    return round(satoshis / COIN, 8)


def _hash_arg(value: Any, name: str = "hash") -> bytes:
    """A display-order hex hash argument, or Core's -8 error."""
    if not isinstance(value, str) or len(value) != 64:
        raise RpcError(RPC_INVALID_PARAMETER, f"{name} must be of length 64 (not {len(str(value))}, for '{value}')")
    try:
        return hex_to_hash(value)
    except ValueError:
        raise RpcError(RPC_INVALID_PARAMETER, f"{name} must be hexadecimal string (not '{value}')") from None


def _int_arg(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RpcError(RPC_TYPE_ERROR, f"{name}: expected a number, got {type(value).__name__}")
    return value


def _tx_arg(hexstring: Any) -> Tx:
    """A serialized transaction argument, or Core's -22 error."""
    try:
        return wire.decode_tx(bytes.fromhex(hexstring))
    except (ValueError, TypeError, ProtocolError):
        raise RpcError(RPC_DESERIALIZATION_ERROR,
                       "TX decode failed. Make sure the tx has at least one input.") from None


def tx_to_json(tx: Tx, network: Any, block_hash: bytes | None = None) -> dict[str, Any]:
    """Core's TxToUniv: the decoded transaction as getrawtransaction shows it."""
    vin: list[dict[str, Any]] = []
    for txin in tx.inputs:
        if is_coinbase(tx):
            entry: dict[str, Any] = {"coinbase": txin.script_sig.hex()}
        else:
            entry = {"txid": hash_to_hex(txin.prev_txid), "vout": txin.prev_index,
                     "scriptSig": {"asm": script_to_asm(txin.script_sig, decode_signatures=True),
                                   "hex": txin.script_sig.hex()}}
        if txin.witness:
            entry["txinwitness"] = [item.hex() for item in txin.witness]
        entry["sequence"] = txin.sequence
        vin.append(entry)
    vout = []
    for index, txout in enumerate(tx.outputs):
        script: dict[str, Any] = {"asm": script_to_asm(txout.script_pubkey), "hex": txout.script_pubkey.hex(),
                                  "type": output_type(txout.script_pubkey)}
        address = script_to_address(txout.script_pubkey, network)
        if address is not None:
            script["address"] = address
        vout.append({"value": _amount(txout.value), "n": index, "scriptPubKey": script})
    result = {"txid": hash_to_hex(tx.txid), "hash": hash_to_hex(tx.wtxid), "version": tx.version, "size": tx.size,
              "vsize": tx.vsize, "weight": tx.weight, "locktime": tx.locktime, "vin": vin, "vout": vout}
    if block_hash is not None:
        result["blockhash"] = hash_to_hex(block_hash)
    result["hex"] = tx.serialize().hex()
    return result


def node_methods(node: Node) -> dict[str, Callable[..., Any]]:
    """Every RPC method the node serves, by Core's name."""
    chain = node.chain
    tree = chain.headers
    network = node.network

    def in_active_chain(block_hash: bytes) -> bool:
        height = tree.height_of(block_hash)
        return chain.height >= height and tree.ancestor(chain.tip, height) == block_hash

    def header_json(block_hash: bytes) -> dict[str, Any]:
        header = tree.header(block_hash)
        height = tree.height_of(block_hash)
        active = in_active_chain(block_hash)
        result: dict[str, Any] = {
            "hash": hash_to_hex(block_hash),
            "confirmations": chain.height - height + 1 if active else -1,
            "height": height, "version": header.version, "versionHex": f"{header.version & 0xFFFFFFFF:08x}",
            "merkleroot": hash_to_hex(header.merkle_root), "time": header.timestamp,
            "mediantime": tree.median_time_past(block_hash), "nonce": header.nonce, "bits": f"{header.bits:08x}",
            "difficulty": difficulty(header.bits), "chainwork": f"{tree.chain_work(block_hash):064x}",
        }
        if height > 0:
            result["previousblockhash"] = hash_to_hex(header.prev_block)
        if active and height < chain.height:
            result["nextblockhash"] = hash_to_hex(tree.ancestor(chain.tip, height + 1))
        return result

    def known_block(value: Any) -> bytes:
        block_hash = _hash_arg(value, "blockhash")
        if block_hash not in tree:
            raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
        return block_hash

    # --- blockchain ---

    def getblockcount() -> int:
        return chain.height

    def getbestblockhash() -> str:
        return hash_to_hex(chain.tip)

    def getblockhash(height: Any) -> str:
        height = _int_arg(height, "height")
        if not 0 <= height <= chain.height:
            raise RpcError(RPC_INVALID_PARAMETER, "Block height out of range")
        return hash_to_hex(tree.ancestor(chain.tip, height))

    def getblockheader(blockhash: Any, verbose: bool = True) -> Any:
        block_hash = known_block(blockhash)
        if not verbose:
            return tree.header(block_hash).serialize().hex()
        result = header_json(block_hash)
        result["nTx"] = len(chain.read_block(block_hash).transactions) if chain.has_block(block_hash) else 0
        return result

    def getblock(blockhash: Any, verbosity: Any = 1) -> Any:
        block_hash = known_block(blockhash)
        if isinstance(verbosity, bool):
            verbosity = int(verbosity)
        verbosity = _int_arg(verbosity, "verbosity")
        if not chain.has_block(block_hash):
            raise RpcError(RPC_MISC_ERROR, "Block not available (pruned data)")
        block = chain.read_block(block_hash)
        if verbosity <= 0:
            return wire.encode_block(block).hex()
        result = header_json(block_hash)
        stripped = BLOCK_HEADER_SIZE + len(wire.write_compact_size(len(block.transactions))) + sum(
            tx.stripped_size for tx in block.transactions)
        size = len(wire.encode_block(block))
        result.update({"size": size, "strippedsize": stripped, "weight": 3 * stripped + size,
                       "nTx": len(block.transactions)})
        result["tx"] = ([tx_to_json(tx, network) for tx in block.transactions] if verbosity >= 2
                        else [hash_to_hex(tx.txid) for tx in block.transactions])
        return result

    def getblockchaininfo() -> dict[str, Any]:
        tip = tree.header(chain.tip)
        status = node.sync_status()
        return {
            "chain": network.chain_name, "blocks": chain.height, "headers": tree.height,
            "bestblockhash": hash_to_hex(chain.tip), "difficulty": difficulty(tip.bits), "time": tip.timestamp,
            "mediantime": chain.median_time_past, "verificationprogress": status.progress / 100.0,
            "initialblockdownload": status.initial_block_download,
            "chainwork": f"{tree.chain_work(chain.tip):064x}", "size_on_disk": _size_on_disk(node),
            "pruned": False, "scripts_verified": chain.scripts_verified, "warnings": _warnings(node),
        }

    def getsyncstatus() -> dict[str, Any]:
        status = node.sync_status()
        return {"height": status.height, "target": status.target, "headers": status.headers,
                "progress": round(status.progress, 2), "initialblockdownload": status.initial_block_download,
                "blocks_in_flight": node.download.in_flight(),
                "peers": len(node.manager.peers(PeerState.CONNECTED))}

    # --- transactions and the mempool ---

    def getrawtransaction(txid: Any, verbose: Any = False, blockhash: Any = None) -> Any:
        tx_hash = _hash_arg(txid, "txid")
        found: Tx | None = None
        in_block: bytes | None = None
        if blockhash is not None:
            in_block = known_block(blockhash)
            if not chain.has_block(in_block):
                raise RpcError(RPC_MISC_ERROR, "Block not available")
            found = next((tx for tx in chain.read_block(in_block).transactions if tx.txid == tx_hash), None)
            if found is None:
                raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "No such transaction found in the provided block.")
        else:
            entry = node.mempool.get(tx_hash)
            if entry is None:
                raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "No such mempool transaction. Use -txindex or provide "
                               "a block hash to enable blockchain transaction queries.")
            found = entry.tx
        if not verbose:
            return found.serialize().hex()
        result = tx_to_json(found, network, in_block)
        if in_block is not None:  # Core's TxToJSON with a block hash given
            active = in_active_chain(in_block)
            result["in_active_chain"] = active
            result["confirmations"] = chain.height - tree.height_of(in_block) + 1 if active else 0
            if active:
                result["time"] = result["blocktime"] = tree.header(in_block).timestamp
        return result

    def decoderawtransaction(hexstring: Any, iswitness: Any = None) -> dict[str, Any]:
        """Core's, without `hex`. `iswitness` is accepted and not needed: the decoder reads the
        BIP144 marker, which is Core's heuristic for every transaction that can be valid."""
        result = tx_to_json(_tx_arg(hexstring), network)
        del result["hex"]
        return result

    def sendrawtransaction(hexstring: Any, maxfeerate: Any = None) -> str:
        tx = _tx_arg(hexstring)
        if node.mempool.get(tx.txid) is not None:
            return hash_to_hex(tx.txid)  # Core: already in the mempool is success
        try:
            status = node.submit_transaction(tx)
        except TxRejected as error:
            if error.reason == "txn-already-known":
                raise RpcError(RPC_VERIFY_ALREADY_IN_CHAIN, "Transaction outputs already in utxo set") from None
            raise RpcError(RPC_VERIFY_REJECTED, error.reason) from None
        if status != "accepted":  # inputs missing (Core's TX_MISSING_INPUTS)
            raise RpcError(RPC_VERIFY_ERROR, "bad-txns-inputs-missingorspent")
        return hash_to_hex(tx.txid)

    def entry_json(entry: MempoolEntry) -> dict[str, Any]:
        return {"vsize": entry.vsize, "weight": entry.tx.weight, "time": int(time.time() - (time.monotonic() - entry.time)),
                "height": entry.height, "fees": {"base": _amount(entry.fee)}, "wtxid": hash_to_hex(entry.tx.wtxid),
                "depends": sorted(hash_to_hex(parent) for parent in entry.parents),
                "spentby": sorted(hash_to_hex(child) for child in entry.children)}

    def getrawmempool(verbose: bool = False) -> Any:
        entries = list(node.mempool)
        if not verbose:
            return [hash_to_hex(entry.tx.txid) for entry in entries]
        return {hash_to_hex(entry.tx.txid): entry_json(entry) for entry in entries}

    def getmempoolinfo() -> dict[str, Any]:
        info = node.mempool.info()
        return {"loaded": True, "size": info.size, "bytes": info.bytes, "usage": info.usage,
                "total_fee": _amount(info.total_fee), "maxmempool": info.max_usage,
                "mempoolminfee": round(max(info.min_fee_rate, info.min_relay_fee_rate) * 1000 / COIN, 8),
                "minrelaytxfee": round(info.min_relay_fee_rate * 1000 / COIN, 8), "unbroadcastcount": 0,
                "fullrbf": False, "orphans": info.orphans, "scripts_verified": info.scripts_verified}

    # --- network ---

    def peer_json(peer: Peer) -> dict[str, Any]:
        info = peer.info()
        remote = peer.remote
        return {
            "id": peer.id, "addr": info["addr"], "network": _net_name(peer.address[0]),
            "services": info["services"], "relaytxes": info["relaytxes"], "bytessent": info["bytessent"],
            "bytesrecv": info["bytesrecv"], "conntime": int(time.time() - float(info["conntime"])),  # type: ignore[arg-type]
            "pingtime": info["pingtime"], "minping": info["minping"], "version": info["version"],
            "subver": info["subver"], "inbound": peer.inbound, "startingheight": info["startingheight"],
            "synced_headers": -1 if node.download.best_of(peer.id) is None else tree.height_of(node.download.best_of(peer.id)),  # type: ignore[arg-type]
            "inflight": node.download.in_flight(peer.id), "wtxid_relay": peer.wtxid_relay,
            "connection_type": "inbound" if peer.inbound else "outbound-full-relay",
            "minfeefilter": round(peer.fee_filter / COIN, 8), "state": info["state"],
            "transitions": info["transitions"], "bip152_hb_to": False, "bip152_hb_from": False,
            "permissions": [], "servicesnames": service_names(remote.services if remote else 0),
        }

    def getpeerinfo() -> list[dict[str, Any]]:
        return [peer_json(peer) for peer in node.manager.peers()]

    def getconnectioncount() -> int:
        return len(node.manager.peers(PeerState.CONNECTED))

    def getnetworkinfo() -> dict[str, Any]:
        peers = node.manager.peers(PeerState.CONNECTED)
        inbound = sum(1 for peer in peers if peer.inbound)
        services = node.manager.config.peer.services
        return {
            "version": _CLIENT_VERSION, "subversion": node.manager.config.peer.user_agent,
            "protocolversion": PROTOCOL_VERSION, "localservices": f"{services:016x}",
            "localservicesnames": service_names(services), "localrelay": True, "timeoffset": 0,
            "networkactive": True, "connections": len(peers), "connections_in": inbound,
            "connections_out": len(peers) - inbound,
            "networks": [{"name": name, "limited": False, "reachable": True, "proxy": "",
                          "proxy_randomize_credentials": False} for name in ("ipv4", "ipv6")],
            "relayfee": _amount(node.mempool.min_relay_fee), "incrementalfee": 0.00001, "localaddresses": [],
            "warnings": _warnings(node),
        }

    def getinfo() -> dict[str, Any]:
        """bcoin's and old Core's summary, kept for tools that still ask for it."""
        return {"version": _CLIENT_VERSION, "protocolversion": PROTOCOL_VERSION, "blocks": chain.height,
                "connections": getconnectioncount(), "difficulty": difficulty(tree.header(chain.tip).bits),
                "testnet": network.name != "main", "relayfee": _amount(node.mempool.min_relay_fee),
                "errors": _warnings(node)}

    def addnode(node_address: Any, command: Any) -> None:
        host, port = _endpoint(node_address, network.p2p_port)
        if command == "onetry":
            node.add_peer(host, port)
        elif command == "add":
            if (host, port) in node.added_nodes:
                raise RpcError(RPC_CLIENT_NODE_ALREADY_ADDED, "Error: Node already added")
            node.add_node(host, port)
        elif command == "remove":
            if not node.remove_node(host, port):
                raise RpcError(RPC_CLIENT_NODE_NOT_ADDED,
                               "Error: Node could not be removed. It has not been added previously.")
        else:
            raise RpcError(RPC_INVALID_PARAMETER, f"addnode command must be add, remove or onetry, not {command!r}")

    def disconnectnode(address: Any = "", nodeid: Any = None) -> None:
        if nodeid is not None and address:
            raise RpcError(RPC_INVALID_PARAMETER, "Only one of address and nodeid should be provided.")
        for peer in node.manager.peers():
            if (nodeid is not None and peer.id == nodeid) or (
                    address and f"{peer.address[0]}:{peer.address[1]}" in (address, f"{address}:{network.p2p_port}")):
                peer.close("disconnectnode RPC")
                return
        raise RpcError(RPC_CLIENT_NODE_NOT_CONNECTED, "Node not found in connected nodes")

    def setban(subnet: Any, command: Any, bantime: Any = 0, absolute: Any = False) -> None:
        try:
            target = ipaddress.ip_network(subnet, strict=False) if "/" in str(subnet) else ipaddress.ip_address(subnet)
        except ValueError:
            raise RpcError(RPC_CLIENT_INVALID_IP_OR_SUBNET, "Error: Invalid IP/Subnet") from None
        if command == "add":
            if node.banlist.is_banned(str(target)) if not isinstance(target, (ipaddress.IPv4Network, ipaddress.IPv6Network)) \
                    else any(entry.subnet == target for entry in node.banlist.list()):
                raise RpcError(RPC_CLIENT_NODE_ALREADY_ADDED, "Error: IP/Subnet already banned")
            bantime = _int_arg(bantime, "bantime")
            if absolute:
                node.banlist.ban(target, until=bantime)
            else:
                node.banlist.ban(target, duration=bantime or None)
            for peer in node.manager.peers():
                if node.banlist.is_banned(peer.address[0]):
                    peer.close("banned by setban RPC")
        elif command == "remove":
            if not node.banlist.unban(target):
                raise RpcError(RPC_CLIENT_INVALID_IP_OR_SUBNET, "Error: Unban failed. Requested address/subnet was not previously manually banned.")
        else:
            raise RpcError(RPC_INVALID_PARAMETER, f"setban command must be add or remove, not {command!r}")

    def listbanned() -> list[dict[str, Any]]:
        now = int(time.time())
        return [{"address": str(entry.subnet), "ban_created": entry.created, "banned_until": entry.until,
                 "ban_duration": entry.until - entry.created, "time_remaining": max(entry.until - now, 0)}
                for entry in node.banlist.list()]

    def clearbanned() -> None:
        node.banlist.clear()

    def ping() -> None:
        for peer in node.manager.peers(PeerState.CONNECTED):
            peer.ping()

    def stop() -> str:
        gevent.spawn_later(0.1, node.stop)
        return "Pantheon server stopping"

    def uptime() -> int:
        return int(time.time() - node.started_at)

    methods: dict[str, Callable[..., Any]] = {
        "getblockcount": getblockcount, "getbestblockhash": getbestblockhash, "getblockhash": getblockhash,
        "getblockheader": getblockheader, "getblock": getblock, "getblockchaininfo": getblockchaininfo,
        "getsyncstatus": getsyncstatus, "getrawtransaction": getrawtransaction,
        "sendrawtransaction": sendrawtransaction, "decoderawtransaction": decoderawtransaction,
        "getrawmempool": getrawmempool, "getmempoolinfo": getmempoolinfo,
        "getpeerinfo": getpeerinfo, "getconnectioncount": getconnectioncount, "getnetworkinfo": getnetworkinfo,
        "getinfo": getinfo, "addnode": addnode, "disconnectnode": disconnectnode, "setban": setban,
        "listbanned": listbanned, "clearbanned": clearbanned, "ping": ping, "stop": stop, "uptime": uptime,
    }
    if network.name == "regtest":
        def generatetoaddress(nblocks: Any, address: Any, maxtries: Any = 1_000_000) -> list[str]:
            count = _int_arg(nblocks, "nblocks")
            try:
                hashes = node.generate(count, address)
            except AddressError:
                raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Error: Invalid address") from None
            except (BlockRejected, HeaderRejected) as error:
                raise RpcError(RPC_VERIFY_ERROR, f"generated block rejected: {error.reason}") from None
            return [hash_to_hex(block_hash) for block_hash in hashes]

        methods["generatetoaddress"] = generatetoaddress
    return methods


def _endpoint(text: Any, default_port: int) -> tuple[str, int]:
    try:
        return parse_hostport(str(text), default_port)
    except ConfigError as error:
        raise RpcError(RPC_INVALID_PARAMETER, str(error)) from None


def _net_name(host: str) -> str:
    try:
        return "ipv4" if ipaddress.ip_address(host).version == 4 else "ipv6"
    except ValueError:
        return "onion" if host.endswith(".onion") else "not_publicly_routable"


def _size_on_disk(node: Node) -> int:
    return sum(path.stat().st_size for path in node.datadir.rglob("*") if path.is_file())


def _warnings(node: Node) -> str:
    return "" if node.chain.scripts_verified else "Script verification is OFF: scripts and signatures are not checked"
