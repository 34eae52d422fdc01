"""The node: the chain, the mempool and the network manager joined by Bitcoin Core's message
handling, in one gevent process. `Node(config)` is the embeddable API; `pantheon-gevent`
(`cli.py`) is a thin command line around it.

What the node adds to its parts (each part is its own module and documented there):
- Headers-first sync (`sync.BlockDownload` schedules): a `getheaders` to every peer once its
  handshake is done, more while it answers with full (2,000) batches; headers are checked for
  continuity and proof of work as they arrive; blocks are fetched in parallel along each peer's
  branch, stored as they come and connected in order. Block announcements (`inv`, or `headers`
  after `sendheaders`) lead to a `getheaders` or straight to a download.
- Serving: `getheaders`, `getblocks` (with Core's hashContinue, as bcoin syncs by getblocks),
  `getdata` for blocks and transactions (`notfound` for the rest), `mempool`.
- Relay: new blocks are announced when not in initial block download (headers to peers that
  asked for them, else an inv of the tip); transactions accepted to the mempool are announced in
  trickled inv batches (at most 1,000 an inv, at Poisson intervals: 2 s outbound, 5 s inbound on
  average), by wtxid to BIP339 peers, never below a peer's feefilter nor to a peer that said
  relay=false. An announced transaction is asked of one peer at a time: the first announcer, then
  (after notfound, a timeout or a disconnect) the next; orphans' parents are asked of the peer
  that sent the orphan.
- Misbehaviour as DESIGN.md: an invalid block, invalid or non-continuous headers, or more than
  2,000 headers discourage and disconnect the peer; a mutated block (a corrupt copy of a block
  that may be valid) too, without marking the block invalid. Stalling and silent peers are
  disconnected by the download schedule's timeouts.

Every mutation of the chain happens under one lock: a block handler, an RPC call and the miner
run in different greenlets, and script verification may yield while a block is connected.
"""

from __future__ import annotations

import logging
import random
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import gevent
import gevent.event
import gevent.lock

from pantheon import __version__, limits, wire
from pantheon.chain import scripts
from pantheon.chain.chainstate import Chainstate, with_activation_heights
from pantheon.chain.scripts import ChainScriptChecks
from pantheon.chain.headers import HeaderRejected, TipChange
from pantheon.chain.mempool import Mempool
from pantheon.chain.miner import block_template, mine
from pantheon.chain.validation import BlockRejected, TxRejected
from pantheon.config import NodeConfig
from pantheon.frames import Frame
from pantheon.hashing import hash_to_hex
from pantheon.net.addrman import AddrMan
from pantheon.net.banlist import BanList
from pantheon.net.discovery import Resolver
from pantheon.net.manager import ManagerConfig, NetworkManager
from pantheon.protocol import (
    MSG_BLOCK,
    MSG_TX,
    MSG_WITNESS_BLOCK,
    MSG_WITNESS_FLAG,
    MSG_WITNESS_TX,
    MSG_WTX,
    NODE_NETWORK,
    NODE_NETWORK_LIMITED,
    NODE_WITNESS,
)
from pantheon.net.peer import BUILTIN_HANDLERS, Peer, PeerConfig, PeerState, Transition
from pantheon.metrics import NodeMetrics
from pantheon.node_rpc import node_methods
from pantheon.params import Network
from pantheon.primitives import Block, InvVect, Locator, Tx
from pantheon.rpc import RpcAuth, RpcServer
from pantheon.store import Store
from pantheon.sync import BlockDownload

__all__ = ["Node", "NodeTuning", "SyncStatus"]

log = logging.getLogger("pantheon.node")

MAX_BLOCKS_TO_ANNOUNCE = 8  # Core: more new blocks than this are announced by inv of the tip
MAX_GETBLOCKS_RESULTS = 500  # Core answers getblocks with at most 500 block hashes
INVENTORY_BROADCAST_MAX = 1_000  # Core's per-trickle cap; the "at most 1,000 per inv"
MAX_PEER_TX_REQUEST_IN_FLIGHT = 100  # Core's txrequest limit per peer
MAX_TX_FALLBACK_ANNOUNCERS = 16  # other announcers remembered per requested tx, asked in turn
MAX_TIP_AGE = 24 * 60 * 60  # Core's DEFAULT_MAX_TIP_AGE: older tip means initial block download
RECENT_REJECTS = 50_000  # wtxids recently refused, not fetched again (Core: a rolling filter)


@dataclass(frozen=True)
class NodeTuning:
    """Intervals and timeouts, Core's by default; tests shrink them to run in seconds."""

    tick: float = 0.1  # how often downloads, stalls and trickles are looked at
    trickle_outbound: float = 2.0  # Core's OUTBOUND_INVENTORY_BROADCAST_INTERVAL (mean)
    trickle_inbound: float = 5.0  # Core's INBOUND_INVENTORY_BROADCAST_INTERVAL (mean)
    tx_request_timeout: float = 60.0  # Core's GETDATA_TX_INTERVAL
    stall_timeout: float = 2.0
    block_request_timeout: float = 10 * 60.0
    added_node_retry: float = 60.0  # Core retries -addnode peers every minute
    progress_interval: float = 10.0  # seconds between sync progress lines
    handshake_timeout: float = 60.0
    ping_interval: float = 120.0
    ping_timeout: float = 20 * 60.0


@dataclass(frozen=True)
class SyncStatus:
    height: int
    target: int
    headers: int
    progress: float  # percent of `target` connected
    initial_block_download: bool


@dataclass
class _PeerRelay:
    """What the node keeps per peer beyond the connection itself."""

    continue_hash: bytes | None = None  # getblocks: when this block is fetched, inv our tip
    tx_in_flight: dict[bytes, float] = field(default_factory=dict)  # hash asked -> when
    pending_txs: dict[bytes, bytes] = field(default_factory=dict)  # txid -> wtxid, to announce
    next_trickle: float = 0.0


class Node:
    """A full node on one datadir: `start()`, then it syncs, relays and serves; `stop()`."""

    def __init__(self, config: NodeConfig, *, tuning: NodeTuning | None = None, verify_scripts: bool = True,
                 script_workers: int = 2, resolver: Resolver | None = None) -> None:
        self.config = config
        self.tuning = tuning or NodeTuning()
        network = config.network
        if config.testactivationheight:
            network = with_activation_heights(network, **dict(config.testactivationheight))
        self.network: Network = network
        self.datadir = network_datadir(config.datadir, network)
        self.store = Store.open(self.datadir)
        self._lock = gevent.lock.RLock()
        self.scripts = self._script_checks(verify_scripts, script_workers)
        try:
            self.chain = Chainstate(self.store, network, cache_bytes=config.dbcache * 1024 * 1024,
                                    script_verifier=self.scripts.block if self.scripts else None)
            if self.scripts is not None:
                self.scripts.headers = self.chain.headers
            self.mempool = Mempool(self.chain, max_usage=config.maxmempool * 1_000_000, min_relay_fee=config.minrelaytxfee,
                                   script_verifier=self.scripts.mempool_tx if self.scripts else None)
            self.addrman = AddrMan(self.store)
            self.banlist = BanList(self.store)
        except Exception:
            self.store.close()
            if self.scripts is not None:
                self.scripts.verifier.close()
            raise
        self.download = BlockDownload(self.chain.headers, self.chain.has_block, lambda: self.chain.tip,
                                      stall_timeout=self.tuning.stall_timeout,
                                      request_timeout=self.tuning.block_request_timeout)
        self.on_block: list[Callable[[Block, int], None]] = []
        self.on_transaction: list[Callable[[Tx], None]] = []
        self.traffic: Callable[[str, str, int], None] | None = None  # metrics: per-command counts
        self.block_timer: Callable[[float], None] | None = None  # metrics: seconds to accept a block
        self.started_at = time.time()
        self._relay: dict[int, _PeerRelay] = {}
        #: For each tx hash in flight from one peer: the other peers that announced it, in order,
        #: asked in turn when that request ends without the tx (Core's TxRequestTracker).
        self._tx_fallback: dict[bytes, list[int]] = {}
        self._rejects: OrderedDict[bytes, None] = OrderedDict()
        self._disconnected: list[Block] = []
        self._added: list[tuple[str, int]] = list(config.addnode)
        self._tasks: list[gevent.Greenlet] = []
        self._rng = random.Random()
        self.rpc: RpcServer | None = None
        self.metrics: NodeMetrics | None = None
        self._stopped = gevent.event.Event()
        self.chain.on_connected.append(self._block_connected)
        self.chain.on_disconnected.append(lambda block, height: self._disconnected.append(block))
        peer_config = PeerConfig(
            network=network, user_agent=f"/Pantheon:{__version__}/", fee_filter=config.minrelaytxfee,
            handshake_timeout=self.tuning.handshake_timeout, ping_interval=self.tuning.ping_interval,
            ping_timeout=self.tuning.ping_timeout)
        if resolver is None and config.dnsserver is not None:
            resolver = Resolver([config.dnsserver[0]], config.dnsserver[1])
        manager_config = ManagerConfig(
            peer=peer_config,
            listen=(config.bind, config.port) if config.listen else None,
            max_connections=config.maxconnections,
            max_inbound=max(config.maxconnections - 8, 0),
            auto_outbound=config.dnsseed and not config.connect,
            resolver=resolver,
            dns_seeds=None if config.dnsseed else (),
        )
        self.manager = NetworkManager(manager_config, banlist=self.banlist, handlers=self._handlers(),
                                      start_height=lambda: self.chain.height, addrman=self.addrman,
                                      traffic=self._count_traffic)
        self.manager.listeners.append(self._peer_changed)

    def _script_checks(self, wanted: bool, workers: int) -> ChainScriptChecks | None:
        """Bitcoin Core's interpreter when it can be loaded; otherwise say loudly that scripts
        are not checked (the chain state and mempool log it too, and RPC reports it)."""
        if not wanted:
            log.warning("script verification switched OFF by the caller: signatures are NOT checked")
            return None
        if not scripts.AVAILABLE:
            log.error("SCRIPT VERIFICATION UNAVAILABLE: %s", scripts.UNAVAILABLE_REASON)
            return None
        verifier = scripts.ScriptVerifier(workers=workers)
        return ChainScriptChecks(verifier, self.network, None, lambda: self.chain.height + 1,
                                 assumevalid=self.config.assumevalid)

    # --- life cycle ---------------------------------------------------------------------

    def start(self) -> Node:
        """Listen, dial the configured peers, serve JSON-RPC (with `server`) and metrics (with
        `metrics_port`), and start syncing. Returns the node."""
        config = self.config
        self.manager.start()
        if config.server:
            auth = RpcAuth(config.rpcuser, config.rpcpassword, cookie_dir=self.datadir)
            self.rpc = RpcServer(node_methods(self), auth, host=config.rpcbind, port=config.rpcport).start()
        if config.metrics_port is not None:
            self.metrics = NodeMetrics(self)
            self.metrics.serve(config.rpcbind, config.metrics_port)
        for host, port in (*self.config.connect, *self._added):
            self.add_peer(host, port)
        self._tasks = [gevent.spawn(self._tick_loop), gevent.spawn(self._added_nodes_loop)]
        log.info("node started on %s: height %d, headers %d, datadir %s", self.network.name,
                 self.chain.height, self.chain.headers.height, self.datadir)
        return self

    def stop(self) -> None:
        """Stop serving, close the peers, flush the chain and address tables, close the store."""
        if self._stopped.is_set():
            return
        for task in self._tasks:
            task.kill()
        self._tasks = []
        if self.rpc is not None:
            self.rpc.stop()
        if self.metrics is not None:
            self.metrics.stop()
        self.manager.stop()
        with self._lock:
            if not self.store.closed:
                self.chain.close()
                self.addrman.flush()
                self.store.close()
        if self.scripts is not None:
            self.scripts.verifier.close()
        self._stopped.set()
        log.info("node stopped")

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """Block this greenlet until `stop()` has finished (the `stop` RPC, a signal)."""
        return self._stopped.wait(timeout)

    # --- the embeddable API ---------------------------------------------------------------

    def add_peer(self, host: str, port: int) -> Peer | None:
        return self.manager.add_peer(host, port)

    def peers(self) -> list[Peer]:
        return self.manager.peers()

    def add_node(self, host: str, port: int) -> None:
        """Keep a connection to this peer (Core's addnode add): dialled now and retried."""
        if (host, port) not in self._added:
            self._added.append((host, port))
        self.add_peer(host, port)

    def remove_node(self, host: str, port: int) -> bool:
        if (host, port) not in self._added:
            return False
        self._added.remove((host, port))
        return True

    @property
    def added_nodes(self) -> list[tuple[str, int]]:
        return list(self._added)

    def in_initial_block_download(self) -> bool:
        """Core's IsInitialBlockDownload: the tip has less than the network's minimum chain work,
        or is more than a day old."""
        tip = self.chain.tip
        tree = self.chain.headers
        return (tree.chain_work(tip) < self.network.minimum_chain_work
                or tree.header(tip).timestamp < time.time() - MAX_TIP_AGE)

    def sync_status(self) -> SyncStatus:
        target = max(self.chain.headers.height, *(p.remote.start_height for p in self.peers()
                                                   if p.remote is not None and p.remote.start_height > 0),
                     self.chain.height)
        height = self.chain.height
        return SyncStatus(height, target, self.chain.headers.height, 100.0 * height / target if target else 100.0,
                          self.in_initial_block_download())

    def process_block(self, block: Block, source: Peer | None = None) -> TipChange | None:
        """Check, store and connect a block (ours or a peer's); announce a new tip. Raises
        HeaderRejected/BlockRejected with Core's reason."""
        started = time.perf_counter()
        with self._lock:
            self._disconnected = []
            try:
                change = self.chain.accept_block(block)
            finally:
                self._readd_disconnected()
        if self.block_timer is not None:
            self.block_timer(time.perf_counter() - started)
        if change is not None:
            self._announce_blocks(change, source)
        return change

    def submit_transaction(self, tx: Tx, source: Peer | None = None) -> str:
        """Offer a transaction to the mempool and, when accepted, relay it. Returns "accepted",
        "orphan" (a peer's, its inputs missing: kept until its parents come) or "missing-inputs"
        (a local one, not kept, as Core's sendrawtransaction); raises TxRejected with Core's reason."""
        with self._lock:
            result = self.mempool.accept(tx, peer=None if source is None else source.id,
                                         keep_orphan=source is not None)
        if result.status == "accepted":
            assert result.entry is not None
            for entry in (result.entry, *result.resolved):
                self._queue_announcement(entry.tx, source)
                for callback in self.on_transaction:
                    callback(entry.tx)
        return result.status

    def broadcast_block(self, block: Block) -> None:
        """Announce a block we have to every peer that may not have it."""
        self._announce_blocks(TipChange(block.header.prev_block, (), (block.hash,)), None)

    def broadcast_transaction(self, tx: Tx) -> None:
        self._queue_announcement(tx, None)

    def generate(self, count: int, pay_to: bytes | str, *, commit_witness: bool = True) -> list[bytes]:
        """Mine `count` blocks on the tip from the mempool (regtest difficulty) and process them."""
        hashes = []
        for _ in range(count):
            with self._lock:
                template = block_template(self.chain, self.mempool, pay_to,
                                          commit_witness=commit_witness)
                block = mine(template.block)
                self.process_block(block)
            hashes.append(block.hash)
            gevent.sleep(0)
        return hashes

    # --- peers coming and going -----------------------------------------------------------

    def _peer_changed(self, peer: Peer, transition: Transition) -> None:
        if transition.new is PeerState.CONNECTED:
            self._relay[peer.id] = _PeerRelay(next_trickle=self._next_trickle(peer))
            self.download.add_peer(peer.id)
            # Core starts from the best header's parent, so a peer on our chain answers at least
            # one header and so tells us it has our best block.
            tree = self.chain.headers
            best = tree.tip
            self._ask_headers(peer, tree.header(best).prev_block if best != tree.anchor else None)
        elif transition.new in (PeerState.DISCONNECTED, PeerState.BANNED):
            relay = self._relay.pop(peer.id, None)
            for tx_hash in relay.tx_in_flight if relay is not None else ():
                self._tx_request_failed(tx_hash)
            self.download.remove_peer(peer.id)
            self.mempool.drop_orphans_from(peer.id)

    def _ask_headers(self, peer: Peer, start: bytes | None = None) -> None:
        """getheaders from our best header (or `start`), if the peer serves blocks."""
        remote = peer.remote
        if remote is None or not remote.services & (NODE_NETWORK | NODE_NETWORK_LIMITED):
            return
        locator = Locator(peer.config.protocol_version, tuple(self.chain.headers.locator(start)))
        peer.send("getheaders", wire.encode_getheaders(locator))

    # --- handlers ---------------------------------------------------------------------------

    def _handlers(self) -> dict[str, Callable[[Peer, Frame], None]]:
        return {
            "headers": self._on_headers,
            "inv": self._on_inv,
            "getdata": self._on_getdata,
            "block": self._on_block,
            "tx": self._on_tx,
            "notfound": self._on_notfound,
            "getheaders": self._on_getheaders,
            "getblocks": self._on_getblocks,
            "mempool": self._on_mempool,
        }

    def _on_headers(self, peer: Peer, frame: Frame) -> None:
        headers = wire.decode_headers(frame.payload)
        if not headers:
            return
        for previous, header in zip(headers, headers[1:]):
            if header.prev_block != previous.hash:
                return peer.misbehaving("non-continuous headers sequence")
        tree = self.chain.headers
        if headers[0].prev_block not in tree:
            self._ask_headers(peer)  # an announcement we cannot connect: ask for the path to it
            return
        with self._lock:
            result = tree.add_headers(headers)
        if result.accepted:
            self.download.peer_has(peer.id, result.accepted[-1])
        if result.error is not None and result.error.reason not in ("time-too-new",):
            return peer.misbehaving(f"invalid header received: {result.error.reason}")
        if len(headers) == limits.MAX_HEADERS:
            self._ask_headers(peer, headers[-1].hash)  # more may follow
        self._request_blocks(peer)

    def _on_inv(self, peer: Peer, frame: Frame) -> None:
        BUILTIN_HANDLERS["inv"](peer, frame)  # what it announces, it has: never announced back
        items = wire.decode_inv(frame.payload)
        tree = self.chain.headers
        unknown_block = False
        wanted: list[InvVect] = []
        relay = self._relay.get(peer.id)
        ibd = self.in_initial_block_download()
        now = time.monotonic()
        for item in items:
            kind = item.type & ~MSG_WITNESS_FLAG
            if kind == MSG_BLOCK:
                if item.hash in tree:
                    self.download.peer_has(peer.id, item.hash)
                else:
                    unknown_block = True
            elif kind in (MSG_TX, MSG_WTX) and relay is not None and not ibd:
                if (kind == MSG_WTX) != peer.wtxid_relay:
                    continue  # Core ignores the other kind of tx inv from a peer
                if (self._tx_known(item.hash) or item.hash in relay.tx_in_flight
                        or len(relay.tx_in_flight) >= MAX_PEER_TX_REQUEST_IN_FLIGHT):
                    continue
                if any(item.hash in other.tx_in_flight for other in self._relay.values()):
                    fallback = self._tx_fallback.setdefault(item.hash, [])
                    if peer.id not in fallback and len(fallback) < MAX_TX_FALLBACK_ANNOUNCERS:
                        fallback.append(peer.id)  # asked of another announcer: this one is next
                    continue
                relay.tx_in_flight[item.hash] = now
                wanted.append(InvVect(MSG_WTX if peer.wtxid_relay else MSG_WITNESS_TX, item.hash))
        if unknown_block:
            self._ask_headers(peer)
        if wanted:
            peer.send("getdata", wire.encode_getdata(wanted))
        self._request_blocks(peer)

    def _tx_request_failed(self, tx_hash: bytes) -> None:
        """A request for `tx_hash` ended without the tx (notfound, timeout, the peer left): ask
        the next peer that announced it and can take another request."""
        fallback = self._tx_fallback.pop(tx_hash, None)
        if not fallback or self._tx_known(tx_hash):
            return
        connected = {peer.id: peer for peer in self.manager.peers(PeerState.CONNECTED)}
        while fallback:
            peer = connected.get(fallback.pop(0))
            relay = self._relay.get(peer.id) if peer is not None else None
            if peer is None or relay is None or len(relay.tx_in_flight) >= MAX_PEER_TX_REQUEST_IN_FLIGHT:
                continue
            relay.tx_in_flight[tx_hash] = time.monotonic()
            peer.send("getdata", wire.encode_getdata([InvVect(MSG_WTX if peer.wtxid_relay else MSG_WITNESS_TX,
                                                              tx_hash)]))
            if fallback:
                self._tx_fallback[tx_hash] = fallback
            return

    def _tx_known(self, tx_hash: bytes) -> bool:
        return (tx_hash in self._rejects or self.mempool.get(tx_hash) is not None
                or self.mempool.get_by_wtxid(tx_hash) is not None or self.mempool.has_orphan(tx_hash))

    def _on_getdata(self, peer: Peer, frame: Frame) -> None:
        items = wire.decode_getdata(frame.payload)
        missing: list[InvVect] = []
        relay = self._relay.get(peer.id)
        for item in items:
            if not peer.wait_writable(self.tuning.ping_timeout):
                return  # the peer stopped reading (or left): serve nothing more
            kind = item.type & ~MSG_WITNESS_FLAG
            if kind == MSG_BLOCK:
                raw = self._block_bytes(item.hash, witness=bool(item.type & MSG_WITNESS_FLAG))
                if raw is None:
                    missing.append(item)
                    continue
                peer.send("block", raw)
                if relay is not None and relay.continue_hash == item.hash:
                    relay.continue_hash = None  # Core: tell a getblocks peer where to go on
                    peer.send("inv", wire.encode_inv([InvVect(MSG_BLOCK, self.chain.tip)]))
            elif kind in (MSG_TX, MSG_WTX):
                entry = self.mempool.get_by_wtxid(item.hash) if kind == MSG_WTX else self.mempool.get(item.hash)
                if entry is None:
                    missing.append(item)
                    continue
                with_witness = kind == MSG_WTX or bool(item.type & MSG_WITNESS_FLAG)
                peer.send("tx", entry.tx.serialize(include_witness=with_witness))
            else:
                missing.append(item)  # filtered and compact blocks are not served
        if missing:
            for start in range(0, len(missing), limits.MAX_INV_ENTRIES):
                peer.send("notfound", wire.encode_notfound(missing[start:start + limits.MAX_INV_ENTRIES]))

    def _block_bytes(self, block_hash: bytes, witness: bool) -> bytes | None:
        if not self.chain.has_block(block_hash) or not self.chain.headers.is_valid(block_hash):
            return None
        block = self.chain.read_block(block_hash)
        if witness or not any(tx.has_witness for tx in block.transactions):
            return wire.encode_block(block)
        return block.header.serialize() + wire.write_compact_size(len(block.transactions)) + b"".join(
            tx.serialize(include_witness=False) for tx in block.transactions)

    def _on_block(self, peer: Peer, frame: Frame) -> None:
        block = wire.decode_block(frame.payload)
        self.download.block_received(peer.id, block.hash)
        peer.last_block_time = time.monotonic()
        try:
            self.process_block(block, source=peer)
        except HeaderRejected as error:
            if error.reason == "prev-blk-not-found":
                self._ask_headers(peer)  # a block we cannot place yet: learn its chain
            elif error.reason not in ("time-too-new",):
                peer.misbehaving(f"invalid block header: {error.reason}")
            return
        except BlockRejected as error:
            what = "mutated block" if error.mutated else "invalid block"
            peer.misbehaving(f"{what} {hash_to_hex(block.hash)}: {error.reason}")
            return
        finally:
            self._request_blocks(peer)

    def _on_tx(self, peer: Peer, frame: Frame) -> None:
        tx = wire.decode_tx(frame.payload)
        relay = self._relay.get(peer.id)
        if relay is not None:
            relay.tx_in_flight.pop(tx.wtxid, None)
            relay.tx_in_flight.pop(tx.txid, None)
        self._tx_fallback.pop(tx.wtxid, None)
        self._tx_fallback.pop(tx.txid, None)
        peer.known_inventory.add(tx.wtxid if peer.wtxid_relay else tx.txid)
        if self.mempool.get(tx.txid) is not None:
            return
        peer.last_tx_time = time.monotonic()
        try:
            status = self.submit_transaction(tx, source=peer)
        except TxRejected as error:
            self._remember_reject(tx.wtxid)
            log.debug("tx %s from %s rejected: %s", hash_to_hex(tx.txid), peer, error.reason)
            return
        if status == "orphan":
            parents = {txin.prev_txid for txin in tx.inputs if self.mempool.get(txin.prev_txid) is None}
            wanted = [InvVect(MSG_WITNESS_TX, parent) for parent in parents if parent not in self._rejects]
            if wanted:
                peer.send("getdata", wire.encode_getdata(wanted))

    def _remember_reject(self, wtxid: bytes) -> None:
        self._rejects[wtxid] = None
        if len(self._rejects) > RECENT_REJECTS:
            self._rejects.popitem(last=False)

    def _on_notfound(self, peer: Peer, frame: Frame) -> None:
        items = wire.decode_notfound(frame.payload)
        self.download.not_found(peer.id, [item.hash for item in items if (item.type & ~MSG_WITNESS_FLAG) == MSG_BLOCK])
        relay = self._relay.get(peer.id)
        if relay is not None:
            for item in items:
                if relay.tx_in_flight.pop(item.hash, None) is not None:
                    self._tx_request_failed(item.hash)
        self._request_blocks(peer)

    def _on_getheaders(self, peer: Peer, frame: Frame) -> None:
        request = wire.decode_getheaders(frame.payload)
        stop = None if request.stop == bytes(32) else request.stop
        headers = [header for header in self.chain.headers.headers_after(request.hashes, stop)
                   if self.chain.headers.height_of(header.hash) <= self.chain.height]
        peer.send("headers", wire.encode_headers(headers))

    def _on_getblocks(self, peer: Peer, frame: Frame) -> None:
        """Core's getblocks: up to 500 hashes of our connected chain after the locator's fork; when
        cut short, the last one is remembered so fetching it brings an inv of our tip."""
        request = wire.decode_getblocks(frame.payload)
        tree = self.chain.headers
        fork = tree.find_fork(request.hashes)
        start = tree.height_of(fork) + 1
        tip_height = self.chain.height
        hashes = []
        for height in range(start, tip_height + 1):
            block_hash = tree.ancestor(self.chain.tip, height)
            if block_hash == request.stop:
                break
            hashes.append(block_hash)
            if len(hashes) == MAX_GETBLOCKS_RESULTS:
                relay = self._relay.get(peer.id)
                if relay is not None:
                    relay.continue_hash = block_hash
                break
        if hashes:
            peer.send("inv", wire.encode_inv([InvVect(MSG_BLOCK, h) for h in hashes]))

    def _on_mempool(self, peer: Peer, frame: Frame) -> None:
        """BIP35: announce the whole mempool (above the peer's feefilter) at once."""
        relay = self._relay.get(peer.id)
        if relay is None or not _relays_txs(peer):
            return
        for entry in self.mempool.ordered():
            relay.pending_txs[entry.tx.txid] = entry.tx.wtxid
        self._flush_announcements(peer, relay, limit=None)

    # --- block download and announcement ------------------------------------------------------

    def _request_blocks(self, peer: Peer) -> None:
        if peer.closed:
            return
        wanted = self.download.next_requests(peer.id)
        if wanted:
            witness = bool(peer.remote and peer.remote.services & NODE_WITNESS)
            kind = MSG_WITNESS_BLOCK if witness else MSG_BLOCK
            peer.send("getdata", wire.encode_getdata([InvVect(kind, h) for h in wanted]))

    def _block_connected(self, block: Block, height: int) -> None:
        self.mempool.remove_for_block(block)
        for callback in self.on_block:
            callback(block, height)

    def _readd_disconnected(self) -> None:
        """After a reorganisation: the disconnected blocks' transactions go back to the mempool."""
        blocks, self._disconnected = self._disconnected, []
        for block in blocks:
            self.mempool.readd_for_disconnect(block)

    def _announce_blocks(self, change: TipChange, source: Peer | None) -> None:
        if self.in_initial_block_download():
            return
        connected = change.connected
        tree = self.chain.headers
        for peer in self.manager.peers(PeerState.CONNECTED):
            if peer is source:
                for block_hash in connected:
                    peer.known_inventory.add(block_hash)
                continue
            fresh = [h for h in connected if peer.known_inventory.add(h)]
            if not fresh:
                continue
            if peer.prefers_headers and len(fresh) <= MAX_BLOCKS_TO_ANNOUNCE:
                peer.send("headers", wire.encode_headers([tree.header(h) for h in fresh]))
            else:
                peer.send("inv", wire.encode_inv([InvVect(MSG_BLOCK, fresh[-1])]))

    # --- transaction relay -----------------------------------------------------------------

    def _queue_announcement(self, tx: Tx, source: Peer | None) -> None:
        for peer in self.manager.peers(PeerState.CONNECTED):
            relay = self._relay.get(peer.id)
            if relay is None or peer is source or not _relays_txs(peer):
                continue
            relay.pending_txs[tx.txid] = tx.wtxid

    def _next_trickle(self, peer: Peer) -> float:
        mean = self.tuning.trickle_inbound if peer.inbound else self.tuning.trickle_outbound
        return time.monotonic() + self._rng.expovariate(1.0 / mean)

    def _flush_announcements(self, peer: Peer, relay: _PeerRelay, limit: int | None = INVENTORY_BROADCAST_MAX) -> None:
        """Announce pending transactions still in the mempool and above the peer's feefilter."""
        items: list[InvVect] = []
        while relay.pending_txs and (limit is None or len(items) < limit):
            txid, wtxid = relay.pending_txs.popitem()
            entry = self.mempool.get(txid)
            if entry is None or entry.fee * 1000 < peer.fee_filter * entry.vsize:
                continue
            item = InvVect(MSG_WTX, wtxid) if peer.wtxid_relay else InvVect(MSG_TX, txid)
            if peer.known_inventory.add(item.hash):
                items.append(item)
        for start in range(0, len(items), INVENTORY_BROADCAST_MAX):
            peer.send("inv", wire.encode_inv(items[start:start + INVENTORY_BROADCAST_MAX]))

    # --- the tick: downloads, stalls, trickles, progress -------------------------------------

    def _tick_loop(self) -> None:
        last_progress = time.monotonic()
        last_height = self.chain.height
        while True:
            gevent.sleep(self.tuning.tick)
            try:
                self._tick()
                now = time.monotonic()
                if now - last_progress >= self.tuning.progress_interval:
                    last_height = self._log_progress(now - last_progress, last_height)
                    last_progress = now
            except Exception:  # a bug here must not stop syncing for good
                log.exception("node tick failed")

    def _tick(self) -> None:
        download = self.download
        peers = {peer.id: peer for peer in self.manager.peers(PeerState.CONNECTED)}
        for peer_id in download.stalling_peers():
            peer = peers.get(peer_id)
            if peer is not None:
                peer.close("stalling block download")
            download.stalled(peer_id)
        for peer_id in download.timed_out_peers():
            peer = peers.get(peer_id)
            if peer is not None:
                peer.close("block download timeout")
            download.remove_peer(peer_id)
        now = time.monotonic()
        expired_before = now - self.tuning.tx_request_timeout
        for peer in peers.values():
            if peer.closed:
                continue
            self._request_blocks(peer)
            relay = self._relay.get(peer.id)
            if relay is None:
                continue
            for tx_hash in [h for h, asked in relay.tx_in_flight.items() if asked < expired_before]:
                del relay.tx_in_flight[tx_hash]
                self._tx_request_failed(tx_hash)
            if relay.pending_txs and now >= relay.next_trickle:
                self._flush_announcements(peer, relay)
                relay.next_trickle = self._next_trickle(peer)

    def _log_progress(self, elapsed: float, last_height: int) -> int:
        status = self.sync_status()
        if status.height < status.target:
            rate = (status.height - last_height) / elapsed if elapsed > 0 else 0.0
            eta = (status.target - status.height) / rate if rate > 0 else float("inf")
            log.info("sync: height %d/%d (%.1f%%), %.1f blocks/s, %d peers, ETA %s", status.height, status.target,
                     status.progress, rate, len(self.manager.peers(PeerState.CONNECTED)),
                     "unknown" if eta == float("inf") else f"{eta:.0f} s")
        return status.height

    def _added_nodes_loop(self) -> None:
        """Core's ThreadOpenAddedConnections: keep dialling -addnode peers that are not connected."""
        while True:
            gevent.sleep(self.tuning.added_node_retry)
            connected = {peer.address for peer in self.manager.peers()}
            for host, port in list(self._added):
                if (host, port) not in connected:
                    self.add_peer(host, port)

    def _count_traffic(self, direction: str, command: str, size: int) -> None:
        if self.traffic is not None:
            self.traffic(direction, command, size)


def network_datadir(datadir: Path, network: Network) -> Path:
    """Core's layout: mainnet in the datadir itself, other networks in a subdirectory of it."""
    return datadir if network.name == "main" else datadir / network.name


def _relays_txs(peer: Peer) -> bool:
    return peer.remote is not None and peer.remote.relay
