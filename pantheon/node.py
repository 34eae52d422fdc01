"""The node: the chain, the mempool and the network manager joined by Bitcoin Core's message
handling, in one gevent process. `Node(config)` is the embeddable core: it owns no server (the
JSON-RPC and metrics servers are assembled around it by `service.py`, which `pantheon-gevent`
runs), and observers watch it through `node.events` (`events.py`).

What the node adds to its parts (each part is its own module and documented there):
- Headers-first sync (`sync.BlockDownload` schedules): a `getheaders` to every peer once its
  handshake is done, more while it answers with full (2,000) batches; headers are checked for
  continuity and proof of work as they arrive, and a new chain claiming less work than Core's
  anti-DoS threshold is ignored, or presynced and downloaded again before it is stored
  (`headerssync.py`); blocks are fetched in parallel along each peer's branch, stored as they
  come and connected in order. Block announcements (`inv`, or `headers` after `sendheaders`)
  lead to a `getheaders` or, while our tip is recent, straight to a download (direct fetch).
  A block nobody asked for meets Core's anti-DoS rules (`Chainstate.accept_block`).
- Serving: `getheaders`, `getblocks` (with Core's hashContinue, as bcoin syncs by getblocks),
  `getdata` for blocks and transactions (`notfound` for the rest), `mempool`; with
  -peerblockfilters, BIP157's compact block filters (`cfilters.py`, from the -blockfilterindex
  index, which a node greenlet builds first when an existing chain lacks it).
- Relay: new blocks are announced when not in initial block download (headers to peers that
  asked for them and can connect them, else an inv of the tip, never to a peer known to have it); transactions go through `relay.TxRelay` (trickled
  announcements, one announcer asked at a time, orphans' parents), fed by the handlers here.
- Misbehaviour as DESIGN.md: an invalid block, invalid or non-continuous headers, or more than
  2,000 headers discourage and disconnect the peer; a mutated block (a corrupt copy of a block
  that may be valid) too, without marking the block invalid. Stalling and silent peers are
  disconnected by the download schedule's timeouts.

Every mutation of the chain happens under one lock: a block handler, an RPC call and the miner
run in different greenlets, and script verification may yield while a block is connected. The
node's own greenlets (the tick, the added-nodes loop) run in one group that `stop(timeout)` joins.
"""

from __future__ import annotations


import dataclasses
import ipaddress
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple, Sequence, TypeVar

import gevent
import gevent.lock
import gevent.pool

from pantheon import limits, wire
from pantheon.chain import reindex, scripts
from pantheon.chain.blockfiles import FASTPRUNE_BLOCKFILE_SIZE, MAX_BLOCKFILE_SIZE
from pantheon.chain.blockindexes import BlockIndex
from pantheon.chain.chainstate import DATABASE_WRITE_INTERVAL, Chainstate, with_activation_heights
from pantheon.chain.coinstats import CoinStats, coin_stats
from pantheon.chain.feeestimator import FEE_ESTIMATES_FILENAME, FLUSH_INTERVAL, FeeEstimator
from pantheon.chain.filterindex import BlockFilterIndex
from pantheon.chain.headers import MAX_FUTURE_BLOCK_TIME, HeaderRejected, TipChange
from pantheon.chain.mempool import Mempool
from pantheon.chain.packages import PackageResult, accept_package, test_accept
from pantheon.chain.mempool_persist import MEMPOOL_FILENAME, dump_mempool, load_mempool
from pantheon.chain.miner import BlockTemplate, block_template, mine
from pantheon.chain.pow import block_work, check_proof_of_work
from pantheon.chain.scripts import ChainScriptChecks
from pantheon.chain.txindex import TxIndex
from pantheon.chain.txospenderindex import TxoSpenderIndex
from pantheon.chain.validation import BlockRejected, TxRejected
from pantheon.cfilters import FilterServer
from pantheon.clock import NodeClock
from pantheon.compactblocks import (
    MAX_BLOCKTXN_DEPTH,
    MAX_CMPCTBLOCK_DEPTH,
    MAX_CMPCTBLOCKS_INFLIGHT_PER_BLOCK,
    CompactBlockError,
    ExtraTxns,
    HighBandwidth,
    InvalidCompactBlock,
    PartialBlock,
    PartialBlocks,
    ReconstructionFailed,
    compact_block,
)
from pantheon.config import NodeConfig, parse_hostport
from pantheon.events import NodeEvents
from pantheon.frames import Frame
from pantheon.hashing import hash_to_hex
from pantheon.headerssync import ChainStart, HeadersSyncState, SyncPhase
from pantheon.lifecycle import Lifecycle
from pantheon.net.addrman import AddrMan
from pantheon.net.address import Network as AddressNetwork, PeerAddress, TimedAddress
from pantheon.net.banlist import BANLIST_FILENAME, BanEntry, BanList, Banned
from pantheon.net.discovery import Resolver
from pantheon.net.gossip import GossipConfig
from pantheon.net.manager import ManagerConfig, NetworkManager
from pantheon.net.peer import BUILTIN_HANDLERS, Handler, NetTotals, Peer, PeerConfig, PeerState, Transition
from pantheon.net.permissions import Permission
from pantheon.params import Network
from pantheon.primitives import (
    Block, BlockHeader, BlockTxn, BlockTxnRequest, CmpctBlock, InvVect, Locator, SendCmpct, Tx,
)
from pantheon.protocol import (
    CMPCTBLOCKS_VERSION,
    INVALID_CB_NO_BAN_VERSION,
    MSG_BLOCK,
    MSG_CMPCT_BLOCK,
    MSG_FILTERED_BLOCK,
    MSG_TX,
    MSG_WITNESS_BLOCK,
    MSG_WITNESS_FLAG,
    MSG_WITNESS_TX,
    MSG_WTX,
    FULL_RELAY_SERVICES,
    NODE_COMPACT_FILTERS,
    NODE_NETWORK,
    NODE_NETWORK_LIMITED,
    NODE_P2P_V2,
    NODE_WITNESS,
)
from pantheon.relay import TxRelay
from pantheon.store import Store, StoreError
from pantheon.sync import MAX_BLOCKS_IN_TRANSIT_PER_PEER, BlockDownload

__all__ = ["BlockFromTheFuture", "Node", "NodeTuning", "SyncStatus"]

log = logging.getLogger("pantheon.node")
#: What a block's processing returns (`Node._receive_block`).
T = TypeVar("T")

MAX_BLOCKS_TO_ANNOUNCE = 8  # Core: more new blocks than this are announced by inv of the tip
HEADERS_RESPONSE_TIME = 2 * 60  # Core: a getheaders is outstanding this long unless answered
NETWORK_LIMITED_TIP_AGE = 144 * 10 * 60  # Core: a NETWORK_LIMITED peer has the last 288 blocks; 144 are a margin
MAX_GETBLOCKS_RESULTS = 500
MAX_BLOCK_SOURCES = 4096  # senders remembered of blocks stored and not yet connected; the oldest go first
#: Core's CanDirectFetch: headers are fetched at once while the tip is younger than this many
#: block intervals.
DIRECT_FETCH_TIP_AGE = 20  # Core answers getblocks with at most 500 block hashes
#: Core's regtest prunes from this height on with -fastprune (1,000 without); its block files
#: are then small too (FASTPRUNE_BLOCKFILE_SIZE), so that a short chain spans several.
FASTPRUNE_AFTER_HEIGHT = 100
#: Core creates this (empty) directory with the network's datadir even with -disablewallet, and
#: its functional tests' cached datadir is made by removing it.
WALLETS_DIRNAME = "wallets"


@dataclass(frozen=True)
class NodeTuning:
    """Intervals and timeouts, Core's by default; tests shrink them to run in seconds."""

    tick: float = 0.1  # how often downloads, stalls and trickles are looked at
    trickle_outbound: float = 2.0  # Core's OUTBOUND_INVENTORY_BROADCAST_INTERVAL (mean)
    trickle_inbound: float = 5.0  # Core's INBOUND_INVENTORY_BROADCAST_INTERVAL (mean)
    tx_request_timeout: float = 60.0  # Core's GETDATA_TX_INTERVAL
    stall_timeout: float = 2.0
    block_request_timeout: float = 10 * 60.0
    added_node_retry: float = 60.0  # Core retries -addnode and -connect peers every minute
    addrman_flush_interval: float = 15 * 60.0  # Core's DUMP_PEERS_INTERVAL: a crash loses at most this
    progress_interval: float = 10.0  # seconds between sync progress lines
    ping_interval: float = 120.0
    ping_timeout: float = 20 * 60.0


@dataclass
class _HeadersSync:
    """Core's per-peer headers-sync state: whether sync started with the peer (it serves
    blocks), whether an unknown block's inv already made us ask it before that, since when a
    getheaders to it is unanswered (at most one at a time, as Core's MaybeSendGetHeaders), and
    the last header we sent it (Core's pindexBestHeaderSent: it has that one's ancestors), and a
    low-work headers sync with it (Core's m_headers_sync)."""

    started: bool = False
    inv_triggered: bool = False
    asked_at: float | None = None
    best_header_sent: bytes | None = None
    presync: HeadersSyncState | None = None  # a low-work headers sync in progress


@dataclass(frozen=True)
class SyncStatus:
    height: int
    target: int
    headers: int
    progress: float  # percent of `target` connected
    initial_block_download: bool


#: Core's CInv::ToString names of the inventory types.
_INV_NAMES = {MSG_TX: "tx", MSG_WTX: "wtx", MSG_BLOCK: "block", MSG_FILTERED_BLOCK: "merkleblock",
              MSG_CMPCT_BLOCK: "cmpctblock", MSG_WITNESS_TX: "witness-tx", MSG_WITNESS_BLOCK: "witness-block"}


def _inv_text(item: InvVect) -> str:
    """Core's CInv::ToString: the type's name (or its number) and the hash in display order."""
    return f"{_INV_NAMES.get(item.type, f'0x{item.type:08x}')} {hash_to_hex(item.hash)}"
class BlockFromTheFuture(StoreError):
    """The chain's tip is more than two hours ahead of the clock: Core refuses to start, and
    says so without its usual `Error: ` (the message is its own question to the user)."""


def prune_target(prune: int) -> int | None:
    """Core's -prune as the chain state's target: None (0: off), 0 (1: on request), else bytes."""
    return None if prune == 0 else 0 if prune == 1 else prune * 1024 * 1024


class AddedNode(NamedTuple):
    """A peer added by addnode or -addnode: the text given, and the host and port dialled."""

    text: str
    host: str
    port: int

    @property
    def endpoint(self) -> tuple[str, int]:
        return self.host, self.port


def _numeric_endpoint(host: str, port: int) -> tuple[bytes, int] | None:
    """Core's LookupNumeric: a numeric host (inet_aton's IPv4 forms, such as 127.1, or IPv6) as
    bytes with the port; None for a name."""
    try:
        return socket.inet_aton(host), port
    except OSError:
        pass
    try:
        return ipaddress.IPv6Address(host).packed, port
    except ValueError:
        return None


def reachable_networks(config: NodeConfig) -> frozenset[AddressNetwork]:
    """Networks the node can dial (Core's g_reachable_nets): IPv4 and IPv6; CJDNS with
    -cjdnsreachable. Tor and I2P need a SOCKS5 proxy or a SAM bridge Pantheon does not speak."""
    networks = {AddressNetwork.IPV4, AddressNetwork.IPV6}
    if config.cjdnsreachable:
        networks.add(AddressNetwork.CJDNS)
    return frozenset(networks)


#: Core's MAX_FEE_ESTIMATION_TIP_AGE: an older tip means the node is behind (see
#: Node.current_for_fee_estimation).
MAX_FEE_ESTIMATION_TIP_AGE = 3 * 60 * 60


class Node(Lifecycle):
    """A full node on one datadir: `start()` (or `with Node(...) as node:`), then it syncs,
    relays and serves its peers until `stop(timeout)` (the life cycle: lifecycle.py).

    `chain` and `mempool` are the node's components, public for reading; changes go through the
    node (`process_block`, `submit_transaction`, `generate`), which holds the lock and relays.
    `events` is how observers learn what happens (see events.py).
    """

    def __init__(self, config: NodeConfig, *, tuning: NodeTuning | None = None, verify_scripts: bool = True,
                 script_workers: int | None = None, resolver: Resolver | None = None) -> None:
        """`script_workers`: processes verifying scripts (default: `-par`; 0: in this process)."""
        super().__init__()
        self.config = config
        self.tuning = tuning or NodeTuning()
        network = config.network
        if config.testactivationheight:
            network = with_activation_heights(network, **dict(config.testactivationheight))
        if config.minimumchainwork is not None:
            network = dataclasses.replace(network, minimum_chain_work=config.minimumchainwork)
        if "bip94" in config.test:
            network = dataclasses.replace(network, pow_enforce_bip94=True)
        if config.fastprune:
            network = dataclasses.replace(network, prune_after_height=FASTPRUNE_AFTER_HEIGHT)
        self.network: Network = network
        self.datadir = config.network_datadir
        #: The one clock the node's behaviour reads (clock.py); `setmocktime` moves it.
        self.clock = NodeClock(config.mocktime, mockable=network.name == "regtest")
        self.store = Store.open(self.datadir)
        (self.datadir / WALLETS_DIRNAME).mkdir(exist_ok=True)
        self._lock = gevent.lock.RLock()
        workers = script_workers if script_workers is not None else config.par if config.par > 0 else os.cpu_count() or 1
        self.scripts = self._script_checks(verify_scripts, workers)
        try:
            if config.reindex or config.reindex_chainstate:
                reindex.wipe(self.store, network.magic_bytes, keep_block_index=not config.reindex)
            #: -blockfilterindex: BIP158 filters of every block (None without the option).
            self.filter_index = BlockFilterIndex(self.store) if config.blockfilterindex else None
            #: -txindex: where each main-chain transaction is (None without the option).
            self.tx_index = TxIndex(self.store) if config.txindex else None
            #: -txospenderindex: which main-chain transaction spent each output (None without it).
            self.spender_index = TxoSpenderIndex(self.store) if config.txospenderindex else None
            #: The optional indexes kept, in getindexinfo's order (Core's).
            self.indexes: tuple[BlockIndex, ...] = tuple(
                index for index in (self.tx_index, self.filter_index, self.spender_index) if index is not None)
            self.chain = self._open_chain(config)
            if config.reindex:
                reindex.import_block_files(self.chain)
            if self.scripts is not None:
                self.scripts.headers = self.chain.headers
            self._check_loaded_chain()
            self.mempool = Mempool(self.chain, max_usage=config.maxmempool * 1_000_000, min_relay_fee=config.minrelaytxfee,
                                   script_verifier=self.scripts.mempool_tx if self.scripts else None,
                                   require_standard=not config.acceptnonstdtxn, clock=self.clock,
                                   **config.mempool_policy())
            self.addrman = AddrMan(self.store, clock=self.clock, deterministic="addrman" in config.test,
                                   check_ratio=config.checkaddrman)
            self.banlist = BanList(self.datadir / BANLIST_FILENAME, clock=self.clock,
                                   default_ban_time=config.bantime, legacy_store=self.store)
        except Exception:
            self.store.close()
            if self.scripts is not None:
                self.scripts.verifier.close()
            raise
        self.events = NodeEvents()
        self.mempool.removal_listeners.append(lambda entry, reason: self.events.transaction_removed.emit(entry.tx, reason))
        #: Core's fee estimator, fed by the node's events and kept in the datadir (None under
        #: -blocksonly, where Core has none: no transactions are relayed to learn from).
        self.fee_estimator = None if config.blocksonly else FeeEstimator()
        #: The transactions of the package being submitted: Core never counts them for fees.
        self._package_members: set[bytes] = set()
        if self.fee_estimator is not None:
            self.fee_estimator.load(self.fee_estimates_path, accept_stale=config.acceptstalefeeestimates)
            self.events.transaction_accepted.subscribe(self._estimate_accepted)
            self.events.transaction_removed.subscribe(self._estimate_removed)
            self.events.block_connected.subscribe(self._estimate_confirmed)
        self.download = BlockDownload(self.chain.headers, self.chain.has_block, lambda: self.chain.tip,
                                      stall_timeout=self.tuning.stall_timeout,
                                      request_timeout=self.tuning.block_request_timeout, clock=self.clock)
        self.relay = TxRelay(self.mempool, trickle_outbound=self.tuning.trickle_outbound,
                             trickle_inbound=self.tuning.trickle_inbound,
                             request_timeout=self.tuning.tx_request_timeout, clock=self.clock)
        self.started_at = time.time()
        #: Core's GetLoadTried: the mempool.dat load (if -persistmempool) was attempted; only
        #: then is the pool written back at stop, so a failed start never overwrites the file.
        self.mempool_loaded = False
        #: The last block assembled (mined or templated), for getmininginfo.
        self.last_template: BlockTemplate | None = None
        #: getblocks: when a peer fetches this block of ours, it is sent an inv of our tip.
        self._continue_hash: dict[int, bytes] = {}
        self._headers_sync: dict[int, _HeadersSync] = {}
        #: The last unknown block whose inv started headers sync with a new peer: Core adds at
        #: most one such peer per new block.
        self._last_inv_sync_block: bytes | None = None
        self._disconnected: list[Block] = []
        #: BIP152: transactions refused or orphaned lately (Core's vExtraTxnForCompact), the
        #: peers asked to announce with cmpctblock, the compact blocks being completed, and the
        #: last new block with its compact form (Core's most_recent_block), served first.
        self.extra_txns = ExtraTxns()
        self.high_bandwidth = HighBandwidth()
        self.partial_blocks = PartialBlocks(MAX_BLOCKS_IN_TRANSIT_PER_PEER)
        self._recent_compact: tuple[Block, CmpctBlock] | None = None
        self._highest_fast_announce = 0
        #: Core's added nodes: each as given (addnode's text) and where it is dialled.
        self._added: list[AddedNode] = [AddedNode(f"{host}:{port}", host, port) for host, port in config.addnode]
        self._greenlets = gevent.pool.Group()
        self.chain.on_connected.append(self._block_connected)
        self.chain.on_disconnected.append(self._block_disconnected)
        self.filters = FilterServer(self.chain, self.filter_index, serving=config.peerblockfilters,
                                    write_timeout=self.tuning.ping_timeout)
        self.chain.on_pow_valid.append(self._new_pow_valid_block)
        self.chain.upcoming = self._upcoming_block
        #: The peer whose block message is being handled: where the connect loop looks for the
        #: next block (`_upcoming_block`).
        self._block_sender: Peer | None = None
        #: Core's mapBlockSource: who sent each block stored and not yet connected, and whether its
        #: failure may be held against them (not a compact block's: BIP152 relays before validating),
        #: so that a block failing when another peer's block makes it connect blames its own sender.
        self._block_sources: dict[bytes, tuple[int, bool]] = {}
        peer_config = PeerConfig(
            network=network, user_agent=config.user_agent, relay=not config.blocksonly,
            services=(FULL_RELAY_SERVICES | (NODE_COMPACT_FILTERS if config.peerblockfilters else 0)
                      | (NODE_P2P_V2 if config.v2transport else 0)),
            fee_filter=None if config.blocksonly else config.minrelaytxfee,
            handshake_timeout=config.peertimeout, ping_interval=self.tuning.ping_interval,
            ping_timeout=self.tuning.ping_timeout, v2transport=config.v2transport)
        if resolver is None and config.dnsserver is not None:
            resolver = Resolver([config.dnsserver[0]], config.dnsserver[1])
        manager_config = ManagerConfig(
            peer=peer_config,
            listen=(config.bind, config.binds[0].port or config.port) if config.listen else None,
            more_listen=tuple((bind.host, bind.port or config.port, bind.onion) for bind in config.binds[1:]),
            max_connections=config.maxconnections,
            max_inbound=max(config.maxconnections - 8, 0),
            auto_outbound=not config.no_auto_outbound,
            resolver=resolver,
            dns_seeds=None if config.dnsseed else (),
            fixed_seeds=config.fixedseeds,
            gossip=GossipConfig(advertise=config.discover, reachable=reachable_networks(config)),
            whitelist=config.whitelist,
            proxy=config.proxy,
        )
        self.manager = NetworkManager(manager_config, banlist=self.banlist, handlers=self._handlers(),
                                      start_height=lambda: self.chain.height, addrman=self.addrman,
                                      traffic=self.events.message.emit, clock=self.clock)
        self.manager.listeners.append(self._peer_changed)
        self.manager.desirable_services = self.desirable_services
        self.manager.preparers["block"] = wire.decode_block  # read ahead while a block connects

    def _open_chain(self, config: NodeConfig) -> Chainstate:
        """The chain state on the store; a store whose index or UTXO set does not load is
        named as damaged, with Core's way forward."""
        try:
            return Chainstate(self.store, self.network, cache_bytes=config.dbcache * 1024 * 1024,
                              flush_every=None, flush_interval=DATABASE_WRITE_INTERVAL,
                              script_verifier=self.scripts.block if self.scripts else None, now=self.clock,
                              prune_target=prune_target(config.prune),
                              block_file_size=FASTPRUNE_BLOCKFILE_SIZE if config.fastprune else MAX_BLOCKFILE_SIZE,
                              indexes=self.indexes)
        except StoreError as error:
            raise StoreError(f"Error loading block database: {error}.{os.linesep}"
                             "Please restart with -reindex or -reindex-chainstate to recover.") from error

    def _check_loaded_chain(self) -> None:
        """Core's checks of the chain it loads: a tip from the future (the clock is wrong, or the
        database) stops the start; then the last -checkblocks blocks are verified at -checklevel."""
        chain = self.chain
        if chain.headers.header(chain.tip).timestamp > self.clock() + MAX_FUTURE_BLOCK_TIME:
            raise BlockFromTheFuture(
                "The block database contains a block which appears to be from the future. This may be due to your "
                "computer's date and time being set incorrectly. Only rebuild the block database if you are sure "
                f"that your computer's date and time are correct.{os.linesep}"
                "Please restart with -reindex or -reindex-chainstate to recover.")
        if not chain.verify_chain(self.config.checklevel, self.config.checkblocks):
            raise StoreError("Corrupted block database detected.")

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

    def _start(self) -> None:
        """Load the saved mempool (-persistmempool), then listen, dial the configured peers and
        start syncing: peers meet the pool whole, as it was at the last clean stop."""
        if self.config.persistmempool:
            with self._lock:
                load_mempool(self.mempool, self.mempool_path, self.clock())
        self.mempool_loaded = True
        self.manager.start()
        for host, port in (*self.config.connect, *(added.endpoint for added in self._added)):
            self.add_peer(host, port)
        self._greenlets.spawn(self._tick_loop)
        self._greenlets.spawn(self._added_nodes_loop)
        self._greenlets.spawn(self._addrman_flush_loop)
        if self.fee_estimator is not None:
            self._greenlets.spawn(self._fee_estimates_flush_loop)
        for index in self.indexes:
            if not index.synced:
                self._greenlets.spawn(index.build, self._lock)
        log.info("node started on %s: height %d, headers %d, datadir %s", self.network.name,
                 self.chain.height, self.chain.headers.height, self.datadir)

    def _stop(self, timeout: float) -> None:
        """Stop the node's greenlets, close the peers (waiting up to `timeout` for them), flush
        the chain and address tables and close the store."""
        self._greenlets.kill(timeout=timeout)
        self.manager.stop(timeout)
        if self.config.persistmempool and self.mempool_loaded:
            try:
                self.save_mempool()
            except OSError as error:
                log.info("Failed to dump mempool: %s. Continuing anyway.", error)
        if self.fee_estimator is not None:
            self.fee_estimator.flush_unconfirmed()  # Core: what is still pooled never confirmed
            self._save_fee_estimates()
        with self._lock:
            if not self.store.closed:
                self.chain.close()
                self.addrman.flush()
                self.store.close()
        if self.scripts is not None:
            self.scripts.verifier.close()
        log.info("node stopped")

    # --- peers and bans ----------------------------------------------------------------------

    def add_peer(self, host: str, port: int, connection_type: str = "manual", v2: bool | None = None) -> Peer | None:
        """Dial a peer (`net.manager.CONNECTION_TYPES`; manual by default), over BIP324 first
        when `v2` (default: as -v2transport says)."""
        return self.manager.add_peer(host, port, connection_type, v2)

    def peers(self, state: PeerState | None = None) -> list[Peer]:
        """The open peers (in `state` when given), oldest first."""
        return self.manager.peers(state)

    def add_node(self, text: str, v2: bool | None = None) -> bool:
        """Keep a connection to `text` (host[:port]; Core's addnode add): dialled now and retried.
        False if it is added already, as the same text or the same numeric address and port."""
        host, port = parse_hostport(text, self.network.p2p_port)
        numeric = _numeric_endpoint(host, port)
        if any(added.text == text or (numeric is not None and numeric == _numeric_endpoint(*added.endpoint))
               for added in self._added):
            return False
        self._added.append(AddedNode(text, host, port))
        self.add_peer(host, port, v2=v2)
        return True

    def remove_node(self, text: str) -> bool:
        """Stop keeping the connection added as `text` (Core compares the text)."""
        for added in self._added:
            if added.text == text:
                self._added.remove(added)
                return True
        return False

    @property
    def added_nodes(self) -> list[AddedNode]:
        return list(self._added)

    def node_addresses(self, count: int, network: AddressNetwork | None = None) -> list[TimedAddress]:
        """Up to `count` (0: all) addresses the address manager knows, shuffled, none banned or
        discouraged, optionally of one network class (Core's getnodeaddresses)."""
        assert self.manager.gossip is not None, "the node's manager always has the address manager"
        return self.manager.gossip.addresses(count, 0, network)

    def ping_peers(self) -> None:
        """Ping every connected peer now (Core's `ping` RPC); the pong updates its ping time."""
        for peer in self.peers(PeerState.CONNECTED):
            peer.ping()

    def ban(self, target: Banned, *, until: int | None = None, duration: int | None = None) -> BanEntry:
        """Ban an address or subnet (persisted) and disconnect the peers it covers."""
        entry = self.banlist.ban(target, until=until, duration=duration)
        for peer in self.peers():
            if self.banlist.is_banned(peer.address[0]):
                peer.close("banned by setban RPC")
        return entry

    def unban(self, target: Banned) -> bool:
        return self.banlist.unban(target)

    def is_banned(self, address: str | PeerAddress) -> bool:
        return self.banlist.is_banned(address)

    def bans(self) -> list[BanEntry]:
        return self.banlist.list()

    @property
    def discouraged_count(self) -> int:
        """Addresses discouraged for misbehaving (kept in memory, as Core does)."""
        return self.banlist.discouraged_count

    def clear_bans(self) -> None:
        self.banlist.clear()

    def desirable_services(self, services: int) -> int:
        """Core's GetDesirableServiceFlags: what an automatic outbound peer must offer. A pruned
        (NETWORK_LIMITED) peer will do while our tip is within a day of now, as it still has the
        blocks we lack."""
        tip_age = self.clock() - self.chain.headers.header(self.chain.tip).timestamp
        if services & NODE_NETWORK_LIMITED and tip_age < NETWORK_LIMITED_TIP_AGE:
            return NODE_NETWORK_LIMITED | NODE_WITNESS
        return NODE_NETWORK | NODE_WITNESS

    @property
    def local_services(self) -> int:
        return self.manager.config.peer.services

    @property
    def user_agent(self) -> str:
        return self.manager.config.peer.user_agent

    # --- state --------------------------------------------------------------------------------

    def in_initial_block_download(self) -> bool:
        """Core's IsInitialBlockDownload: the tip has less than the network's minimum chain work,
        or is older than `-maxtipage` (a day)."""
        tip = self.chain.tip
        tree = self.chain.headers
        return (tree.chain_work(tip) < self.network.minimum_chain_work
                or tree.header(tip).timestamp < self.clock() - self.config.maxtipage)

    def sync_status(self) -> SyncStatus:
        """How far the sync is: the target is the best header's height, which proof of work
        vouches for, never a peer's self-reported start height (anyone can claim any)."""
        target = max(self.chain.headers.height, self.chain.height)
        height = self.chain.height
        return SyncStatus(height, target, self.chain.headers.height, 100.0 * height / target if target else 100.0,
                          self.in_initial_block_download())

    def peer_sync_state(self, peer: Peer) -> tuple[int, int, list[int]]:
        """(height of the best header the peer is known to have, of the last block it shares
        with our chain (-1: unknown), heights of the blocks in flight from it)."""
        return self.download.peer_progress(peer.id)

    def peer_presync_height(self, peer: Peer) -> int:
        """Core's getpeerinfo presynced_headers: the height a low-work headers sync with the peer
        has checked up to, -1 when none runs."""
        sync = self._headers_sync.get(peer.id)
        return -1 if sync is None or sync.presync is None else sync.presync.presync_height

    def peer_relay_state(self, peer: Peer) -> tuple[int, bool, int, int]:
        """(transactions waiting to be announced to the peer, whether addresses are relayed to it,
        addresses processed from it, addresses rate-limited from it)."""
        gossip = self.manager.gossip
        assert gossip is not None, "the node's manager always has the address manager"
        return (self.relay.pending(peer.id), gossip.relay_enabled(peer), *gossip.counts(peer))

    def net_totals(self) -> NetTotals:
        """Bytes received and sent over every connection since the node started."""
        return self.manager.totals

    def blocks_in_flight(self) -> int:
        """Blocks requested from peers and not yet received."""
        return self.download.in_flight()

    def size_on_disk(self) -> int:
        """Bytes the node's store takes in its datadir."""
        return sum(path.stat().st_size for path in self.datadir.rglob("*") if path.is_file())

    # --- changing the chain and the mempool ----------------------------------------------------

    def process_block(self, block: Block, *, requested: bool = True, min_pow_checked: bool = True) -> TipChange | None:
        """Check, store and connect a block (ours or a peer's); announce a new tip. Raises
        HeaderRejected/BlockRejected with Core's reason. A peer's block nobody asked for
        (`requested` False) or whose chain's work is unproven (`min_pow_checked` False) meets
        Core's anti-DoS rules (`Chainstate.accept_block`)."""
        started = time.perf_counter()
        change = self._change_chain(lambda: self.chain.accept_block(block, requested=requested,
                                                                    min_pow_checked=min_pow_checked))
        self.events.block_processed.emit(time.perf_counter() - started)
        if change is not None:
            self._announce_blocks(change)
        return change

    def submit_header(self, header: BlockHeader) -> None:
        """Add a header to the header tree (Core's submitheader); raises HeaderRejected."""
        with self._lock:
            self.chain.headers.add_header(header)

    def prune(self, height: int) -> int | None:
        """Core's pruneblockchain under the chain lock: the data of blocks up to `height` (the
        last 288 kept) goes; the highest height pruned, None if none."""
        with self._lock:
            return self.chain.prune(height)

    @property
    def chain_lock(self) -> gevent.lock.RLock:
        """The lock every change of the chain and the mempool holds, a block's connect included
        while its scripts are checked (the UTXO set then holds the block's unverified changes):
        whoever reads the UTXO set takes it, as Core's gettxout and scantxoutset take cs_main."""
        return self._lock

    def coin_stats(self, hash_type: str) -> tuple[bytes, int, CoinStats]:
        """Core's gettxoutsetinfo over the UTXO set at the tip, under the chain lock (nothing
        connects meanwhile): (tip, its height, the statistics)."""
        with self._lock:
            return self.chain.tip, self.chain.height, coin_stats(self.chain.unspent_coins(), hash_type)

    def verify_chain(self, level: int, nblocks: int) -> bool:
        """Core's verifychain under the chain lock (Chainstate.verify_chain)."""
        with self._lock:
            return self.chain.verify_chain(level, nblocks)

    def test_block_validity(self, block: Block) -> None:
        """Core's TestBlockValidity under the chain lock (script checks may yield): raises
        BlockRejected/HeaderRejected with Core's reason; nothing changes."""
        with self._lock:
            self.chain.test_block_validity(block)

    def invalidate_block(self, block_hash: bytes) -> TipChange | None:
        """Core's invalidateblock: the block and its descendants are marked invalid, the chain
        goes back to its parent and on along the best valid chain; disconnected transactions
        return to the mempool."""
        change = self._change_chain(lambda: self.chain.invalidate_block(block_hash))
        if change is not None:
            self._announce_blocks(change)
        return change

    def reconsider_block(self, block_hash: bytes) -> TipChange | None:
        """Core's reconsiderblock: the invalid marks of the block, its ancestors and its
        descendants are cleared and the best valid chain connected."""
        change = self._change_chain(lambda: self.chain.reconsider_block(block_hash))
        if change is not None:
            self._announce_blocks(change)
        return change

    def _change_chain(self, change: Callable[[], TipChange | None]) -> TipChange | None:
        """Run a change of the chain under the lock; the transactions of blocks it disconnects
        go back to the mempool afterwards."""
        with self._lock:
            self._disconnected = []
            try:
                return change()
            finally:
                self._readd_disconnected()

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
                self.relay.queue(entry.tx, source)
                self.events.transaction_accepted.emit(entry.tx)
        return result.status

    def test_package(self, txs: Sequence[Tx]) -> PackageResult:
        """Core's testmempoolaccept: whether the mempool would take `txs` (one, or a package
        checked together), the pool left as it is."""
        with self._lock:
            return test_accept(self.mempool, txs)

    def submit_package(self, txs: Sequence[Tx], max_fee_rate: int | None = None) -> PackageResult:
        """Offer a package to the mempool as Core's submitpackage does (`chain/packages.py`), then
        relay every member now in the pool, as Core broadcasts them (already pooled ones too)."""
        with self._lock:
            result = accept_package(self.mempool, txs, max_fee_rate)
        self._package_members = {tx.txid for tx in txs}
        try:
            for tx in txs:
                if self.mempool.get(tx.txid) is None:
                    continue
                self.relay.queue(tx)
                outcome = result.results.get(tx.wtxid)
                if outcome is not None and outcome.kind == "valid":
                    self.events.transaction_accepted.emit(tx)
        finally:
            self._package_members = set()
        return result

    def prioritise_transaction(self, txid: bytes, delta: int) -> None:
        """Core's prioritisetransaction: the pool and the miner judge `txid` (pooled or not yet)
        by its fee plus `delta` satoshis."""
        with self._lock:
            self.mempool.prioritise(txid, delta)

    @property
    def mempool_path(self) -> Path:
        """Where the mempool is saved (Core's MempoolPath: the network's datadir)."""
        return self.datadir / MEMPOOL_FILENAME

    def save_mempool(self) -> Path:
        """Write the mempool and its fee deltas to `mempool_path` (Core's DumpMempool); raises
        OSError if it cannot."""
        with self._lock:
            dump_mempool(self.mempool, self.mempool_path)
        return self.mempool_path

    def broadcast_block(self, block: Block) -> None:
        """Announce a block we have to every peer that may not have it."""
        self._announce_blocks(TipChange(block.header.prev_block, (), (block.hash,)))

    def broadcast_transaction(self, tx: Tx) -> None:
        self.relay.queue(tx)

    def generate(self, count: int, pay_to: bytes | str, *, commit_witness: bool = True) -> list[bytes]:
        """Mine `count` blocks on the tip from the mempool (regtest difficulty) and process them."""
        hashes = []
        for _ in range(count):
            with self._lock:
                block = mine(self.block_template(pay_to, commit_witness=commit_witness).block)
                self.process_block(block)
            hashes.append(block.hash)
            gevent.sleep(0)
        return hashes

    def generate_block(self, pay_to: bytes | str, transactions: list[Tx], *, submit: bool = True) -> Block:
        """Core's generateblock: a block on the tip holding exactly `transactions` (the coinbase
        claims no fee of them), checked as a child of the tip, mined, and processed if `submit`;
        raises BlockRejected/HeaderRejected for a block that cannot be."""
        with self._lock:
            template = block_template(self.chain, None, pay_to, int(self.clock()), transactions=transactions,
                                      version=self.chain.versionbits.block_version(self.chain.tip))
            self.chain.test_block_validity(template.block)
            block = mine(template.block)
            if submit:
                self.process_block(block)
        return block

    def block_template(self, pay_to: bytes | str, *, commit_witness: bool = True) -> BlockTemplate:
        """Core's CreateNewBlock on the tip, now, with the node's -blockmaxweight,
        -blockreservedweight, -blockmintxfee and version (-blockversion on regtest, else BIP9's
        signalling); remembered as the last block assembled (getmininginfo)."""
        config = self.config
        with self._lock:
            version = config.blockversion
            if version is None:
                version = self.chain.versionbits.block_version(self.chain.tip)
            template = block_template(self.chain, self.mempool, pay_to, int(self.clock()),
                                      commit_witness=commit_witness, max_weight=config.blockmaxweight,
                                      reserved_weight=config.blockreservedweight, min_fee_rate=config.blockmintxfee,
                                      version=version)
        self.last_template = template
        return template

    # --- peers coming and going -----------------------------------------------------------

    def _peer_changed(self, peer: Peer, transition: Transition) -> None:
        if transition.new is PeerState.CONNECTED:
            self.relay.add_peer(peer)
            self.download.add_peer(peer.id)
            # Core starts headers sync with a peer that serves blocks, from the best header's
            # parent, so a peer on our chain answers at least one header and so tells us it has
            # our best block.
            sync = self._headers_sync[peer.id] = _HeadersSync()
            if self._serves_blocks(peer):
                sync.started = True
                tree = self.chain.headers
                best = tree.tip
                self._ask_headers(peer, tree.header(best).prev_block if best != tree.anchor else None)
        elif transition.new in (PeerState.DISCONNECTED, PeerState.BANNED):
            log.debug("Cleared nodestate for peer=%d", peer.id)
            self.relay.remove_peer(peer)
            self._continue_hash.pop(peer.id, None)
            self._headers_sync.pop(peer.id, None)
            self.download.remove_peer(peer.id)
            self.partial_blocks.remove_peer(peer.id)
            self.high_bandwidth.remove(peer.id)
            self.mempool.drop_orphans_from(peer.id)
        self.events.peer_changed.emit(peer, transition)

    def _ask_headers(self, peer: Peer, start: bytes | None = None, *, locator: list[bytes] | None = None) -> None:
        """getheaders from our best header (or `start`, or with the given `locator`), unless one
        to this peer is still unanswered (Core's MaybeSendGetHeaders). Whatever its services: Core
        asks any peer that announces what it cannot place (an unknown block's inv, unconnecting
        headers)."""
        sync = self._headers_sync.get(peer.id)
        now = self.clock()
        if sync is not None:
            if sync.asked_at is not None and now - sync.asked_at < HEADERS_RESPONSE_TIME:
                return
            sync.asked_at = now
        hashes = locator if locator is not None else self.chain.headers.locator(start)
        peer.send("getheaders", wire.encode_getheaders(Locator(peer.config.protocol_version, tuple(hashes))))

    # --- handlers ---------------------------------------------------------------------------

    def _handlers(self) -> dict[str, Handler]:
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
            "cmpctblock": self._on_cmpctblock,
            "getblocktxn": self._on_getblocktxn,
            "blocktxn": self._on_blocktxn,
            "filterload": self._on_bloom_filter,
            "filteradd": self._on_bloom_filter,
            "filterclear": self._on_bloom_filter,
            **self.filters.handlers(),
        }

    def _on_headers(self, peer: Peer, frame: Frame) -> None:
        """Core's ProcessHeadersMessage: proof of work and continuity first; a low-work sync in
        progress takes the batch (and hands on what it proved); a batch we cannot connect asks
        for the path to it; a new chain claiming less than the anti-DoS threshold is ignored or
        presynced (`headerssync.py`) unless it leads to our best header or the peer has noban;
        the rest goes to the header tree, then more is asked for and blocks are fetched."""
        headers = wire.decode_headers(frame.payload)
        sync = self._headers_sync.get(peer.id)
        if sync is None:
            return
        sync.asked_at = None  # any headers message answers our getheaders
        if not headers:
            sync.presync = None  # Core: an empty answer ends a low-work sync
            return
        # Core's CheckHeadersPoW, before anything else: each header's work against its own bits,
        # then continuity.
        pow_limit = self.network.pow_limit
        if not all(check_proof_of_work(header.hash, header.bits, pow_limit) for header in headers):
            return peer.misbehaving("header with invalid proof of work")
        for previous, header in zip(headers, headers[1:]):
            if header.prev_block != previous.hash:
                return peer.misbehaving("non-continuous headers sequence")
        full = len(headers) == limits.MAX_HEADERS
        validated_work = False
        if sync.presync is not None:
            headers, validated_work = self._continue_presync(peer, sync, headers, full)
            if not headers:
                return
        tree = self.chain.headers
        if headers[0].prev_block not in tree:
            self._ask_headers(peer)  # an announcement we cannot connect: ask for the path to it
            self.download.peer_has(peer.id, headers[-1].hash)
            return
        last = headers[-1].hash
        if last in tree and (tree.is_active(last) or self.chain.contains(last)):
            validated_work = True  # Core's IsAncestorOfBestHeaderOrTip
        if Permission.NOBAN in peer.permissions:
            validated_work = True
        if not validated_work and self._low_work(peer, sync, headers, full):
            return
        best_before = tree.tip
        with self._lock:
            result = tree.add_headers(headers)
        if result.accepted:
            self.download.peer_has(peer.id, result.accepted[-1])
        if result.error is not None and result.error.reason not in ("time-too-new",):
            return peer.misbehaving(f"invalid header received: {result.error.reason}")
        if tree.tip != best_before:
            self._log_header_progress()
        if full and sync.presync is None:
            self._ask_headers(peer, headers[-1].hash)  # more may follow
        if result.accepted:
            self._direct_fetch(peer, result.accepted[-1])
        self._request_blocks(peer)

    def _low_work(self, peer: Peer, sync: _HeadersSync, headers: list[BlockHeader], full: bool) -> bool:
        """Core's TryLowWorkHeadersSync: headers whose chain claims less work than the anti-DoS
        threshold are not stored; a full batch starts a presync with the peer, a short one is
        ignored (the peer's chain ends there). False when the work is enough."""
        tree = self.chain.headers
        start = headers[0].prev_block
        threshold = self.anti_dos_work_threshold()
        if tree.chain_work(start) + sum(block_work(header.bits) for header in headers) >= threshold:
            return False
        if not full:
            log.debug("Ignoring low-work chain (height=%d) from peer=%d", tree.height_of(start) + len(headers), peer.id)
            return True
        sync.presync = HeadersSyncState(peer.id, self.network, ChainStart.from_tree(tree, start), threshold,
                                        self.clock())
        self._continue_presync(peer, sync, headers, full)  # proves nothing yet: it was below the threshold
        return True

    def _continue_presync(self, peer: Peer, sync: _HeadersSync, headers: list[BlockHeader],
                          full: bool) -> tuple[list[BlockHeader], bool]:
        """Core's IsContinuationOfLowWorkHeadersSync: the batch goes to the peer's presync; ask
        for more if it wants; (the headers it proved, whether it succeeded)."""
        presync = sync.presync
        assert presync is not None
        result = presync.process_next_headers(headers, full)
        if result.request_more:
            locator = presync.next_request_locator()
            self._ask_headers(peer, locator=locator)
        if presync.phase is SyncPhase.FINAL:
            sync.presync = None
        return (result.ready, True) if result.success else ([], False)

    def _log_header_progress(self) -> None:
        """Core's ProcessNewBlockHeaders in initial block download: how far the best header is,
        against the blocks its age says must exist by now."""
        if not self.in_initial_block_download():
            return
        tree = self.chain.headers
        height = tree.height
        blocks_left = max(0, int(self.clock() - tree.header(tree.tip).timestamp) // self.network.pow_target_spacing)
        log.info("Synchronizing blockheaders, height: %d (~%.2f%%)", height, 100.0 * height / (height + blocks_left))

    def _on_inv(self, peer: Peer, frame: Frame) -> None:
        BUILTIN_HANDLERS["inv"](peer, frame)  # what it announces, it has: never announced back
        items = wire.decode_inv(frame.payload)
        tree = self.chain.headers
        unknown_block: bytes | None = None
        for item in items:
            kind = item.type & ~MSG_WITNESS_FLAG
            if kind == MSG_BLOCK:
                self.download.peer_has(peer.id, item.hash)
                if item.hash not in tree:
                    unknown_block = item.hash
            elif kind in (MSG_TX, MSG_WTX) and self._rejects_txs_from(peer):
                peer.disconnect(f"transaction ({hash_to_hex(item.hash)}) inv sent in violation of protocol")
                return
        if not self.in_initial_block_download():
            self.relay.announced(peer, items)
        if unknown_block is not None:
            self._headers_for_inv(peer, unknown_block)
        self._request_blocks(peer)

    def _headers_for_inv(self, peer: Peer, block_hash: bytes) -> None:
        """Core's reaction to an unknown block's inv: ask for headers from a peer we sync with;
        before that, ask each peer once, and only one new peer per new block."""
        sync = self._headers_sync.get(peer.id)
        if sync is None:
            return
        if sync.started or (not sync.inv_triggered and block_hash != self._last_inv_sync_block):
            self._ask_headers(peer)
            if not sync.started:
                sync.inv_triggered = True
                self._last_inv_sync_block = block_hash

    def _on_getdata(self, peer: Peer, frame: Frame) -> None:
        """Core's ProcessGetData: blocks we have and may serve are sent; a block we do not have
        is ignored, as is an item of an unknown type; transactions not in the pool (or not to be
        relayed to this peer) are answered with notfound."""
        items = wire.decode_getdata(frame.payload)
        log.debug("received getdata (%d invsz) peer=%d", len(items), peer.id)
        if len(items) == 1:
            log.debug("received getdata for: %s peer=%d", _inv_text(items[0]), peer.id)
        missing: list[InvVect] = []
        for item in items:
            if not peer.wait_writable(self.tuning.ping_timeout):
                return  # the peer stopped reading (or left): serve nothing more
            kind = item.type & ~MSG_WITNESS_FLAG
            if kind == MSG_CMPCT_BLOCK:
                self._send_compact_block(peer, item.hash)
            elif kind == MSG_BLOCK:
                raw = self._block_bytes(item.hash, witness=bool(item.type & MSG_WITNESS_FLAG))
                if raw is None:
                    continue
                peer.send("block", raw)
                if self._continue_hash.get(peer.id) == item.hash:
                    del self._continue_hash[peer.id]  # Core: tell a getblocks peer where to go on
                    peer.send("inv", wire.encode_inv([InvVect(MSG_BLOCK, self.chain.tip)]))
            elif kind in (MSG_TX, MSG_WTX):
                if peer.connection_type == "block-relay-only":
                    continue  # Core relays no transactions there: not even a notfound
                entry = self.mempool.get_by_wtxid(item.hash) if kind == MSG_WTX else self.mempool.get(item.hash)
                if entry is None:
                    missing.append(item)
                    continue
                with_witness = kind == MSG_WTX or bool(item.type & MSG_WITNESS_FLAG)
                peer.send("tx", entry.tx.serialize(include_witness=with_witness))
            elif kind == MSG_FILTERED_BLOCK:
                peer.disconnect("filtered block request received when NODE_BLOOM service disabled")
                return
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
        """Core's block message (`_receive_block`), processed in full: stored and connected. While
        it connects, the connect loop may take the peer's next blocks out of their turn
        (`_upcoming_block`)."""
        block = peer.prepared(frame)
        if not isinstance(block, Block):
            block = wire.decode_block(frame.payload)
        self._block_sender = peer
        try:
            accepted, change = self._receive_block(peer, block, self.process_block)
            if accepted:
                self._block_checked(peer, block.hash, change)
        finally:
            self._block_sender = None
            self._request_blocks(peer)

    def _upcoming_block(self, block_hash: bytes) -> Block | None:
        """`Chainstate.upcoming`: the block `block_hash` if it is the next message the peer whose
        block is connecting has sent (read ahead while the block connects): received and stored
        now, out of its turn (a rejection answered as its own message's would be), and the next
        blocks asked for at once so the download window does not drain meanwhile."""
        peer = self._block_sender
        if peer is None:
            return None
        block = peer.take_read_ahead(lambda frame, prepared: frame.command == "block" and isinstance(prepared, Block)
                                     and prepared.hash == block_hash)
        if not isinstance(block, Block):
            return None
        self._receive_block(peer, block, self.chain.store_block)
        self._request_blocks(peer)
        return block if self.chain.has_block(block_hash) else None

    def _receive_block(self, peer: Peer, block: Block,
                       process: Callable[..., T]) -> tuple[bool, T | None]:
        """A block from `peer`, given to `process(block, requested=, min_pow_checked=)`: whether
        it was accepted, and what `process` returned. Requested from anyone, it is processed in
        full; otherwise the chain state's anti-DoS rules for unrequested blocks apply, and its
        header is added only if its chain's claimed work reaches the anti-DoS threshold. A peer
        that sent an invalid or mutated block, or one whose parent we do not know, is punished
        (Core's MaybePunishNodeForBlock); too little work or a timestamp too far ahead is not. A
        stored block failing as this one makes it connect is its own sender's failure
        (`_blame_block_failure`). A block that fails only releases its sender's request for it
        (Core's RemoveBlockRequest for the sender): a mutated copy from one peer never cancels
        the download from another."""
        block_hash = block.hash
        requested = self.download.is_requested(block_hash)
        new = not self.chain.has_block(block_hash)
        self.partial_blocks.pop(peer.id, block_hash)
        self.download.peer_has(peer.id, block_hash)  # it has what it sent: never announced back
        peer.last_block_time = self.clock()
        tree = self.chain.headers
        parent = block.header.prev_block
        min_pow_checked = parent in tree and (
            tree.chain_work(parent) + block_work(block.header.bits) >= self.anti_dos_work_threshold())
        self._note_block_source(peer, block_hash, may_punish=True)
        try:
            result = process(block, requested=requested, min_pow_checked=min_pow_checked)
        except HeaderRejected as error:
            self._block_sources.pop(block_hash, None)
            self.download.cancel(peer.id, block_hash)
            if error.reason not in ("time-too-new", "too-little-chainwork"):
                peer.misbehaving(f"invalid block header: {error.reason}")
            return False, None
        except BlockRejected as error:
            self.download.cancel(peer.id, block_hash)
            self._blame_block_failure(error)
            return False, None
        self._forget_unstored_source(block_hash, new)
        self.download.block_received(peer.id, block_hash)
        if new:
            self.events.block_received.emit("full", 0, 0)
        return True, result

    def _note_block_source(self, peer: Peer, block_hash: bytes, *, may_punish: bool) -> None:
        """Remember who sent a block before it is processed (Core's mapBlockSource.emplace: the
        first sender stays until the block connects or fails)."""
        sources = self._block_sources
        if block_hash not in sources:
            if len(sources) >= MAX_BLOCK_SOURCES:
                del sources[next(iter(sources))]  # the oldest: most likely a block that will never connect
            sources[block_hash] = (peer.id, may_punish)

    def _forget_unstored_source(self, block_hash: bytes, new: bool) -> None:
        """After a block was processed without error: its sender is kept only while the block
        waits, stored, to be connected (connecting forgets it, `_block_connected`)."""
        if not (new and self.chain.has_block(block_hash)):
            self._block_sources.pop(block_hash, None)

    def _blame_block_failure(self, error: BlockRejected) -> None:
        """Core's BlockChecked: the peer that sent the failing block (the one just received or a
        stored one it made connect), if it is still connected and the block did not come as a
        compact block, is punished, and its request for the block released."""
        source = self._block_sources.pop(error.block_hash, None)
        if source is None:
            return  # ours (RPC), or its sender forgotten
        peer_id, may_punish = source
        sender = next((peer for peer in self.peers(PeerState.CONNECTED) if peer.id == peer_id), None)
        if sender is None:
            return
        self.download.cancel(peer_id, error.block_hash)
        if may_punish:
            what = "mutated block" if error.mutated else "invalid block"
            sender.misbehaving(f"{what} {hash_to_hex(error.block_hash)}: {error.reason}")

    # --- compact blocks (BIP152) ---------------------------------------------------------------

    def _new_pow_valid_block(self, block: Block, height: int) -> None:
        """Core's NewPoWValidBlock: a new block on our tip that passed the checks made before it
        is stored is sent at once as a cmpctblock to the peers that asked for high-bandwidth
        announcements and have its parent but not it (BIP152 relays before full validation);
        it is remembered as the most recent block for getdata and getblocktxn."""
        if height <= self._highest_fast_announce or block.header.prev_block != self.chain.tip:
            return
        if self.in_initial_block_download():
            return
        self._highest_fast_announce = height
        if height < self.network.segwit_height:
            return
        cmpct = compact_block(block)
        self._recent_compact = (block, cmpct)
        payload = wire.encode_cmpctblock(cmpct)
        sent = False
        for peer in self.peers(PeerState.CONNECTED):
            sync = self._headers_sync.get(peer.id)
            if (sync is None or peer.common_version < INVALID_CB_NO_BAN_VERSION or peer.compact_blocks is None
                    or not peer.compact_blocks.announce):
                continue
            if not self._peer_has_header(peer, sync, block.hash) and (
                    self._peer_has_header(peer, sync, block.header.prev_block)):
                log.debug("PeerManager::NewPoWValidBlock sending header-and-ids %s to peer=%d",
                          hash_to_hex(block.hash), peer.id)
                peer.send("cmpctblock", payload)
                sync.best_header_sent = block.hash
                sent = True
        if sent:
            gevent.sleep(0)  # let the writers put it on the wire now, not after the block is connected

    def _send_compact_block(self, peer: Peer, block_hash: bytes) -> None:
        """Core's answer to getdata(MSG_CMPCT_BLOCK): a cmpctblock for a block within
        MAX_CMPCTBLOCK_DEPTH of our tip while we are near the network's tip; the full block
        (with witnesses) for an older one, whose transactions the peer's mempool cannot hold."""
        recent = self._recent_compact
        if recent is not None and recent[0].hash == block_hash:
            peer.send("cmpctblock", wire.encode_cmpctblock(recent[1]))
            return
        raw = self._block_bytes(block_hash, witness=True)
        if raw is None:
            return
        tree = self.chain.headers
        if self._can_direct_fetch() and tree.height_of(block_hash) >= self.chain.height - MAX_CMPCTBLOCK_DEPTH:
            peer.send("cmpctblock", wire.encode_cmpctblock(compact_block(wire.decode_block(raw))))
        else:
            peer.send("block", raw)

    def _on_getblocktxn(self, peer: Peer, frame: Frame) -> None:
        """Core's getblocktxn: the transactions asked for, from the most recent block or one
        within MAX_BLOCKTXN_DEPTH of our tip; the full block for a deeper one (the peer must
        then take all it made us read); nothing for a block we do not have. No index at all, or
        one past the block's end, is misbehaviour."""
        request = wire.decode_getblocktxn(frame.payload)
        if not request.indexes:
            peer.misbehaving("getblocktxn received with no transaction indexes")
            return
        block_hash = request.block_hash
        recent = self._recent_compact
        if recent is not None and recent[0].hash == block_hash:
            block = recent[0]
        elif not self.chain.has_block(block_hash):
            log.debug("Peer %d sent us a getblocktxn for a block we don't have", peer.id)
            return
        elif self.chain.headers.height_of(block_hash) < self.chain.height - MAX_BLOCKTXN_DEPTH:
            log.debug("Peer %d sent us a getblocktxn for a block > %d deep", peer.id, MAX_BLOCKTXN_DEPTH)
            raw = self._block_bytes(block_hash, witness=True)
            if raw is not None:
                peer.send("block", raw)
            return
        else:
            block = self.chain.read_block(block_hash)
        transactions = block.transactions
        if any(index >= len(transactions) for index in request.indexes):
            peer.misbehaving("getblocktxn with out-of-bounds tx indices")
            return
        peer.send("blocktxn", wire.encode_blocktxn(
            BlockTxn(block_hash, tuple(transactions[index] for index in request.indexes))))

    def _on_cmpctblock(self, peer: Peer, frame: Frame) -> None:
        """Core's cmpctblock, taken only from a peer that sent sendcmpct, and only when we asked
        it for the block (getdata) or asked it to announce with cmpctblock (high bandwidth). The
        header is checked and stored first (an invalid one is punished; one whose parent we lack
        asks for headers; a low-work one is ignored). A block we need, at most two above our
        tip, is rebuilt from the mempool, the orphans and the extra transactions, asking the
        peer (getblocktxn) for the rest; a block in flight from another peer is rebuilt only if
        nothing is missing. Invalid compact data is misbehaviour; a short-id collision or an
        unrebuildable block falls back to the full block. Then, as after any message, the
        peer is asked for the blocks we want from it (a compact block ignored is asked for so)."""
        cmpct = wire.decode_cmpctblock(frame.payload)
        if peer.compact_blocks is None:
            log.debug("Ignoring cmpctblock from peer=%d, which has not sent sendcmpct", peer.id)
            return
        header = cmpct.header
        block_hash = header.hash
        tree = self.chain.headers
        if header.prev_block not in tree:
            if not self.in_initial_block_download():
                self._ask_headers(peer)
            return
        if tree.chain_work(header.prev_block) + block_work(header.bits) < self.anti_dos_work_threshold():
            log.debug("Ignoring low-work compact block from peer %d", peer.id)
            return
        try:
            with self._lock:
                tree.add_header(header)
        except HeaderRejected as error:
            if error.reason not in ("time-too-new", "duplicate-invalid"):
                peer.misbehaving(f"invalid header via cmpctblock: {error.reason}")
            return
        self.download.peer_has(peer.id, block_hash)
        self._take_compact_block(peer, cmpct, len(frame.payload))
        # Core's SendMessages, which follows every message: a block this announcement made
        # wanted is asked for now, the compact block ignored above included (from a peer not
        # announcing in high-bandwidth mode), so that the peer's next copy of it is solicited.
        self._request_blocks(peer)

    def _take_compact_block(self, peer: Peer, cmpct: CmpctBlock, wire_bytes: int) -> None:
        """The part of Core's cmpctblock handling after the header was accepted: rebuild the
        block, ask for what is missing or for the whole block, or leave it to the download."""
        block_hash = cmpct.header.hash
        tree = self.chain.headers
        if self.chain.has_block(block_hash):
            return
        holder = self.download.requested_from(block_hash)  # the first asked, if any
        in_flight = [*([holder] if holder is not None else []),
                     *(other for other in self.partial_blocks.holders(block_hash) if other != holder)]
        from_this_peer = peer.id in in_flight
        first_in_flight = holder is None or holder == peer.id
        if not from_this_peer and not peer.bip152_hb_to:
            log.debug("Ignoring unsolicited cmpctblock from peer=%d, not a high-bandwidth announcer", peer.id)
            return
        if tree.chain_work(block_hash) <= tree.chain_work(self.chain.tip):
            if from_this_peer:  # asked for it, but our mempool is unlikely to help: the block
                self._ask_blocks(peer, [block_hash])
            return
        if not in_flight and not self._can_direct_fetch():
            return  # far behind: the parallel download will get it
        if tree.height_of(block_hash) > self.chain.height + 2:
            if from_this_peer:
                self._ask_blocks(peer, [block_hash])
            else:  # an announcement: handled as headers are
                self._direct_fetch(peer, block_hash)
                self._request_blocks(peer)
            return
        if not from_this_peer and (len(in_flight) >= MAX_CMPCTBLOCKS_INFLIGHT_PER_BLOCK
                                   or self.download.in_flight(peer.id) >= self.download.per_peer
                                   or not self.partial_blocks.has_room(peer.id)):
            self._rebuild_optimistically(peer, cmpct)
            return
        if self.partial_blocks.get(peer.id, block_hash) is not None:
            log.debug("Peer sent us compact block we were already syncing!")
            return
        if holder is None:
            self.download.request(peer.id, block_hash)
        try:
            partial = PartialBlock(cmpct, self._compact_candidates())
        except InvalidCompactBlock as error:
            self._release_compact_request(peer, block_hash)
            peer.misbehaving(f"invalid compact block: {error}")
            return
        except ReconstructionFailed:
            if first_in_flight:  # the block is in flight from this peer: ask for it whole
                self._ask_blocks(peer, [block_hash])
            else:
                self._release_compact_request(peer, block_hash)
            return
        missing = partial.missing()
        if not missing:
            self._complete_compact_block(peer, block_hash, partial, (), wire_bytes)
        elif first_in_flight or (peer.bip152_hb_to and (
                not peer.inbound or len(in_flight) < MAX_CMPCTBLOCKS_INFLIGHT_PER_BLOCK - 1
                or any(not other.inbound for other in self.peers() if other.id in in_flight))):
            # Core: the first asked always completes its block; a high-bandwidth peer too,
            # unless it is inbound and would take the last slot, kept for an outbound one.
            self.partial_blocks.add(peer.id, block_hash, partial, wire_bytes)
            peer.send("getblocktxn", wire.encode_getblocktxn(BlockTxnRequest(block_hash, missing)))
        else:
            self._release_compact_request(peer, block_hash)  # wait for the other peers

    def _release_compact_request(self, peer: Peer, block_hash: bytes) -> None:
        """Core's RemoveBlockRequest for one peer: it no longer completes the block."""
        self.download.cancel(peer.id, block_hash)
        self.partial_blocks.pop(peer.id, block_hash)

    def _rebuild_optimistically(self, peer: Peer, cmpct: CmpctBlock) -> None:
        """Core: a compact block of a block in flight from another peer is used if our own
        transactions complete it, with no round trip; otherwise it is dropped."""
        try:
            partial = PartialBlock(cmpct, self._compact_candidates())
            if partial.missing():
                return
            block = partial.fill((), check_witness_root=self._segwit_after(cmpct.header.prev_block))
        except CompactBlockError:
            return
        if self._process_compact_block(peer, block):
            self.download.block_received(peer.id, block.hash)  # nobody need send it any more

    def _on_blocktxn(self, peer: Peer, frame: Frame) -> None:
        """Core's blocktxn (ProcessCompactBlockTxns): only for a compact block we asked this peer
        to complete. The wrong number of transactions is misbehaviour; a block that does not
        match its header is asked for whole."""
        message = wire.decode_blocktxn(frame.payload)
        block_hash = message.block_hash
        stored = self.partial_blocks.get(peer.id, block_hash)
        if stored is None:
            log.debug("Peer %d sent us block transactions for block we weren't expecting", peer.id)
            return
        partial, wire_bytes = stored
        if partial.used:  # its answer failed to rebuild the block, which we asked for whole since
            peer.misbehaving("previous compact block reconstruction attempt failed")
            return
        self._complete_compact_block(peer, block_hash, partial, message.transactions,
                                     wire_bytes + len(frame.payload))

    def _complete_compact_block(self, peer: Peer, block_hash: bytes, partial: PartialBlock,
                                missing: tuple[Tx, ...], wire_bytes: int) -> None:
        try:
            block = partial.fill(missing, check_witness_root=self._segwit_after(partial.header.prev_block))
        except InvalidCompactBlock as error:
            self._release_compact_request(peer, block_hash)
            peer.misbehaving(f"invalid compact block/non-matching block transactions: {error}")
            return
        except ReconstructionFailed:
            holder = self.download.requested_from(block_hash)
            if holder is None or holder == peer.id:  # might have collided: fall back to the block
                self.download.request(peer.id, block_hash)
                self._ask_blocks(peer, [block_hash])
            else:
                self._release_compact_request(peer, block_hash)
                log.debug("Peer %d sent us a compact block but it failed to reconstruct, waiting on first "
                          "download to complete", peer.id)
            return
        self.partial_blocks.pop(peer.id, block_hash)
        log.debug("Successfully reconstructed block %s with %d txn prefilled, %d txn from mempool and %d txn "
                  "requested", hash_to_hex(block_hash), partial.prefilled, partial.from_pool, len(missing))
        self.download.block_received(peer.id, block_hash)
        if self._process_compact_block(peer, block):
            self.events.block_received.emit("compact", len(missing), len(wire.encode_block(block)) - wire_bytes)
        self._request_blocks(peer)

    def _process_compact_block(self, peer: Peer, block: Block) -> bool:
        """ProcessNewBlock for a block rebuilt from a compact block, as requested (Core forces
        it: the compact block handler's own checks stand in for the anti-DoS rules). BIP152 lets
        a peer relay a block before validating it, so an invalid block is not held against it;
        an invalid header still is, and so is a stored block of another sender's that fails as
        this one makes it connect (`_blame_block_failure`). True if the block was new and stored."""
        new = not self.chain.has_block(block.hash)
        peer.last_block_time = self.clock()
        self._note_block_source(peer, block.hash, may_punish=False)
        try:
            change = self.process_block(block, requested=True, min_pow_checked=True)
        except HeaderRejected as error:
            self._block_sources.pop(block.hash, None)
            if error.reason not in ("time-too-new", "duplicate-invalid", "too-little-chainwork"):
                peer.misbehaving(f"invalid header via cmpctblock: {error.reason}")
            return False
        except BlockRejected as error:
            log.debug("peer=%d: compact block %s: block %s is invalid: %s", peer.id, hash_to_hex(block.hash),
                      hash_to_hex(error.block_hash), error.reason)
            self._blame_block_failure(error)
            return False
        self._forget_unstored_source(block.hash, new)
        self.partial_blocks.discard_block(block.hash)
        self._block_checked(peer, block.hash, change)
        return new and self.chain.has_block(block.hash)

    def _block_checked(self, peer: Peer, block_hash: bytes, change: TipChange | None) -> None:
        """Core's BlockChecked: a peer whose block became our tip while no other block was in
        flight gave us a new block first, so it is asked to announce with cmpctblock."""
        if (change is not None and block_hash in change.connected and not self.in_initial_block_download()
                and self.download.in_flight() == 0):
            self._maybe_set_high_bandwidth(peer)

    def _maybe_set_high_bandwidth(self, peer: Peer) -> None:
        """Core's MaybeSetPeerAsAnnouncingHeaderAndIDs: ask a peer that speaks compact blocks to
        announce with them (sendcmpct 1), keeping at most 3 such peers: the oldest choice is
        told sendcmpct 0, but an inbound peer never displaces the last outbound one. Not under
        -blocksonly, where our mempool cannot rebuild blocks."""
        if self.config.blocksonly or peer.compact_blocks is None:
            return
        peers = {other.id: other for other in self.peers(PeerState.CONNECTED)}
        inbound = {peer_id: other.inbound for peer_id, other in peers.items()}
        inbound[peer.id] = peer.inbound
        tell, dropped = self.high_bandwidth.choose(peer.id, inbound)
        if dropped is not None and dropped in peers:
            peers[dropped].send("sendcmpct", wire.encode_sendcmpct(SendCmpct(False, CMPCTBLOCKS_VERSION)))
            peers[dropped].bip152_hb_to = False
        if tell:
            peer.send("sendcmpct", wire.encode_sendcmpct(SendCmpct(True, CMPCTBLOCKS_VERSION)))
            peer.bip152_hb_to = True

    def _compact_candidates(self) -> list[tuple[bytes, Tx]]:
        """What a compact block is matched against, in Core's order: the mempool, then the
        orphans and the recently refused transactions (Core's extra pool)."""
        return [*self.mempool.by_wtxid(), *self.mempool.orphans_by_wtxid(), *self.extra_txns.entries()]

    def _segwit_after(self, parent: bytes) -> bool:
        """Core's DeploymentActiveAfter(parent, SEGWIT): a child of `parent` must commit to its
        witnesses."""
        return self.chain.headers.height_of(parent) + 1 >= self.network.segwit_height

    def anti_dos_work_threshold(self) -> int:
        """Core's GetAntiDoSWorkThreshold: the chain work a peer's headers must claim before they
        are stored: the network's minimum chain work, or the tip's work less 144 of its blocks
        when that is more (a chain near our tip is worth a look, one far below it is not)."""
        tree = self.chain.headers
        tip = self.chain.tip
        work = tree.chain_work(tip)
        near_tip = work - min(144 * block_work(tree.header(tip).bits), work)
        return max(near_tip, self.network.minimum_chain_work)

    def _rejects_txs_from(self, peer: Peer) -> bool:
        """Core's RejectIncomingTxs: on a block-relay-only connection, or under -blocksonly from
        a peer without the relay permission, transactions (and their invs) are a protocol
        violation, as our version message said relay=false."""
        return peer.connection_type == "block-relay-only" or (
            self.config.blocksonly and Permission.RELAY not in peer.permissions)

    def _on_tx(self, peer: Peer, frame: Frame) -> None:
        if self._rejects_txs_from(peer):
            peer.disconnect("transaction sent in violation of protocol")
            return
        tx = wire.decode_tx(frame.payload)
        self.relay.received(peer, tx)
        if self.mempool.get(tx.txid) is not None:
            return
        peer.last_tx_time = self.clock()
        try:
            status = self.submit_transaction(tx, source=peer)
        except TxRejected:
            self.extra_txns.add(tx)  # Core: a compact block may still hold it
            return  # the mempool logged it in Core's words and remembers it (recently_rejected)
        if status == "orphan":
            self.extra_txns.add(tx)
            self.relay.request_parents(peer, tx)

    def _on_notfound(self, peer: Peer, frame: Frame) -> None:
        items = wire.decode_notfound(frame.payload)
        self.download.not_found(peer.id, [item.hash for item in items if (item.type & ~MSG_WITNESS_FLAG) == MSG_BLOCK])
        self.relay.not_found(peer, [item.hash for item in items])
        self._request_blocks(peer)

    def _on_getheaders(self, peer: Peer, frame: Frame) -> None:
        """Core's getheaders: our connected chain's headers after the locator's fork (up to
        2,000 or the stop hash); with an empty locator only the stop header, and only for a
        block we validated or have on the chain. The last header sent (or our tip) is what the
        peer has from then on: block announcements build on it."""
        request = wire.decode_getheaders(frame.payload)
        stop = None if request.stop == bytes(32) else request.stop
        chain = self.chain
        if not request.hashes and (stop is None or stop not in chain.headers or not chain.is_validated(stop)):
            return
        headers = [header for header in chain.headers.headers_after(request.hashes, stop)
                   if chain.headers.height_of(header.hash) <= chain.height]
        sync = self._headers_sync.get(peer.id)
        if sync is not None:
            sync.best_header_sent = headers[-1].hash if headers else chain.tip
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
                if peer.state is PeerState.CONNECTED:
                    self._continue_hash[peer.id] = block_hash
                break
        if hashes:
            peer.send("inv", wire.encode_inv([InvVect(MSG_BLOCK, h) for h in hashes]))

    def _on_mempool(self, peer: Peer, frame: Frame) -> None:
        """BIP35: announce the whole mempool (above the peer's feefilter) at once, to a peer with
        the mempool permission; others are disconnected, as Core does without NODE_BLOOM (the
        message is how bloom-filtering light clients fill their filters)."""
        if Permission.MEMPOOL not in peer.permissions:
            if Permission.NOBAN not in peer.permissions:
                peer.disconnect("mempool request with bloom filters disabled")
            return
        self.relay.announce_mempool(peer)

    def _on_bloom_filter(self, peer: Peer, frame: Frame) -> None:
        """BIP37 filters: Pantheon does not offer NODE_BLOOM, and Core disconnects a peer that
        sends them to a node that does not."""
        peer.disconnect(f"{frame.command} received despite not offering bloom services")

    # --- block download and announcement ------------------------------------------------------

    def _request_blocks(self, peer: Peer) -> None:
        """Core's SendMessages block download: from a peer that serves blocks, along its best
        known chain (`BlockDownload.next_requests`)."""
        if peer.closed or not self._serves_blocks(peer):
            return
        self._ask_blocks(peer, self.download.next_requests(peer.id))

    def _direct_fetch(self, peer: Peer, last: bytes) -> None:
        """Core's HeadersDirectFetchBlocks: when our tip is recent, headers reaching at least its
        work bring an immediate request for their blocks from the peer that sent them, whatever
        its services (a witness-capable one, where segwit is active)."""
        chain = self.chain
        tree = chain.headers
        if (not self._can_direct_fetch() or not tree.is_valid(last)
                or tree.chain_work(last) < tree.chain_work(chain.tip)):
            return
        if not self._serves_witnesses(peer) and chain.height + 1 >= self.network.segwit_height:
            return
        wanted = self.download.direct_fetch(peer.id, last)
        if wanted is None:
            log.debug("Large reorg, won't direct fetch to %s (%d)", hash_to_hex(last), tree.height_of(last))
        elif (len(wanted) == 1 and self.download.in_flight() == 1 and peer.compact_blocks is not None
              and not self.config.blocksonly and chain.has_block(tree.header(wanted[0]).prev_block)):
            # Core: one new block on a parent we have comes as a compact block (BIP152's
            # low-bandwidth mode), unless our mempool cannot help (-blocksonly).
            peer.send("getdata", wire.encode_getdata([InvVect(MSG_CMPCT_BLOCK, wanted[0])]))
        elif wanted:
            self._ask_blocks(peer, wanted)

    def _can_direct_fetch(self) -> bool:
        """Core's CanDirectFetch: our tip is younger than 20 block intervals."""
        tip_time = self.chain.headers.header(self.chain.tip).timestamp
        return tip_time > self.clock() - DIRECT_FETCH_TIP_AGE * self.network.pow_target_spacing

    def _ask_blocks(self, peer: Peer, wanted: list[bytes]) -> None:
        """getdata for blocks (witness blocks from a peer that has witnesses), oldest first."""
        if wanted:
            kind = MSG_WITNESS_BLOCK if self._serves_witnesses(peer) else MSG_BLOCK
            peer.send("getdata", wire.encode_getdata([InvVect(kind, h) for h in wanted]))

    @staticmethod
    def _serves_witnesses(peer: Peer) -> bool:
        """Core's CanServeWitnesses: the peer offers NODE_WITNESS."""
        return bool(peer.remote and peer.remote.services & NODE_WITNESS)

    @staticmethod
    def _serves_blocks(peer: Peer) -> bool:
        """Core's CanServeBlocks: the peer offers NODE_NETWORK or NODE_NETWORK_LIMITED."""
        return bool(peer.remote and peer.remote.services & (NODE_NETWORK | NODE_NETWORK_LIMITED))

    def _block_connected(self, block: Block, height: int) -> None:
        self._block_sources.pop(block.hash, None)
        self.mempool.remove_for_block(block)
        self.events.block_connected.emit(block, height)

    def _block_disconnected(self, block: Block, height: int) -> None:
        self._disconnected.append(block)
        self.events.block_disconnected.emit(block, height)

    def _readd_disconnected(self) -> None:
        """After a reorganisation: the disconnected blocks' transactions go back to the mempool."""
        blocks, self._disconnected = self._disconnected, []
        for block in blocks:
            self.mempool.readd_for_disconnect(block)

    def _announce_blocks(self, change: TipChange) -> None:
        """Core's block announcements (UpdatedBlockTip, then SendMessages), made at once: the
        new blocks (at most 8, Core's MAX_BLOCKS_TO_ANNOUNCE) to a peer that already has the
        parent of the first one it lacks: one block as a cmpctblock to a peer that asked for
        them (BIP152 high bandwidth), else as headers to a peer that sent sendheaders; otherwise
        an inv of the tip, unless the peer has it."""
        if not change.connected or self.in_initial_block_download():
            return
        new = change.connected[-MAX_BLOCKS_TO_ANNOUNCE:]
        tree = self.chain.headers
        for peer in self.peers(PeerState.CONNECTED):
            sync = self._headers_sync.get(peer.id)
            if sync is None:
                continue
            wants_compact = peer.compact_blocks is not None and peer.compact_blocks.announce
            if peer.prefers_headers or wants_compact:
                fresh = self._headers_to_announce(peer, sync, new)
                if fresh and len(fresh) == 1 and wants_compact:
                    self._send_compact_block(peer, fresh[0])
                    sync.best_header_sent = fresh[0]
                    continue
                if fresh and peer.prefers_headers:
                    peer.send("headers", wire.encode_headers([tree.header(h) for h in fresh]))
                    sync.best_header_sent = fresh[-1]
                    continue
                if fresh is not None and not fresh:
                    continue  # it has them all
            if not self._peer_has_header(peer, sync, new[-1]):
                peer.send("inv", wire.encode_inv([InvVect(MSG_BLOCK, new[-1])]))

    def _headers_to_announce(self, peer: Peer, sync: _HeadersSync, new: tuple[bytes, ...]) -> list[bytes] | None:
        """The new blocks to announce to `peer` as headers: those after the last it has, if it
        has that one's parent; None when they would not connect for it (an inv instead)."""
        tree = self.chain.headers
        fresh: list[bytes] = []
        for block_hash in new:
            if fresh:
                fresh.append(block_hash)
            elif self._peer_has_header(peer, sync, block_hash):
                continue
            elif tree.height_of(block_hash) == tree.height_of(tree.anchor) or self._peer_has_header(
                    peer, sync, tree.header(block_hash).prev_block):
                fresh.append(block_hash)
            else:
                return None
        return fresh

    def _peer_has_header(self, peer: Peer, sync: _HeadersSync, block_hash: bytes) -> bool:
        """Core's PeerHasHeader: the block is an ancestor of (or is) the best block the peer is
        known to have, or of the last header we sent it."""
        tree = self.chain.headers
        height = tree.height_of(block_hash)
        for known in (self.download.best_of(peer.id), sync.best_header_sent):
            if known is not None and known in tree and tree.height_of(known) >= height \
                    and tree.ancestor(known, height) == block_hash:
                return True
        return False

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
        peers = {peer.id: peer for peer in self.peers(PeerState.CONNECTED)}
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
        for peer in peers.values():
            self._request_blocks(peer)
        self.relay.tick()

    def _log_progress(self, elapsed: float, last_height: int) -> int:
        status = self.sync_status()
        if status.height < status.target:
            rate = (status.height - last_height) / elapsed if elapsed > 0 else 0.0
            eta = (status.target - status.height) / rate if rate > 0 else float("inf")
            log.info("sync: height %d/%d (%.1f%%), %.1f blocks/s, %d peers, ETA %s", status.height, status.target,
                     status.progress, rate, len(self.peers(PeerState.CONNECTED)),
                     "unknown" if eta == float("inf") else f"{eta:.0f} s")
        return status.height

    def _added_nodes_loop(self) -> None:
        """Core's ThreadOpenAddedConnections (and, for -connect, ThreadOpenConnections): keep
        dialling the manual peers that are not connected."""
        while True:
            gevent.sleep(self.tuning.added_node_retry)
            connected = {peer.address for peer in self.peers()}
            for host, port in (*self.config.connect, *(added.endpoint for added in self._added)):
                if (host, port) not in connected:
                    self.add_peer(host, port)

    def _addrman_flush_loop(self) -> None:
        """Core's periodic DumpAddresses: the address table reaches the store every interval,
        not only at a clean stop, so a killed node keeps what it learned."""
        while True:
            gevent.sleep(self.tuning.addrman_flush_interval)
            with self._lock:
                if not self.store.closed:
                    self.addrman.flush()

    # --- fee estimation -------------------------------------------------------------------------

    @property
    def fee_estimates_path(self) -> Path:
        """Where the fee estimates are kept (Core's fee_estimates.dat in the network's datadir)."""
        return self.datadir / FEE_ESTIMATES_FILENAME

    def current_for_fee_estimation(self) -> bool:
        """Core's IsCurrentForFeeEstimation: out of initial block download, a tip under three
        hours old and at most one block behind the best header; only then do the blocks a
        transaction waits say anything about its fee rate."""
        chain = self.chain
        return (not self.in_initial_block_download()
                and chain.headers.header(chain.tip).timestamp >= self.clock() - MAX_FEE_ESTIMATION_TIP_AGE
                and chain.height >= chain.headers.height - 1)

    def _estimate_accepted(self, tx: Tx) -> None:
        """Core's validForFeeEstimation: a transaction counts unless it has a parent in the pool,
        came in a package (submitpackage) or the chain is not current (reorganisations re-add
        without this event)."""
        assert self.fee_estimator is not None
        entry = self.mempool.get(tx.txid)
        if entry is not None:
            counts = not entry.parents and tx.txid not in self._package_members and self.current_for_fee_estimation()
            self.fee_estimator.process_transaction(tx.txid, entry.fee, entry.vsize, entry.height, counts=counts)

    def _estimate_removed(self, tx: Tx, reason: str) -> None:
        assert self.fee_estimator is not None
        if reason != "block":  # confirmed ones are counted with their block
            self.fee_estimator.remove_transaction(tx.txid)

    def _estimate_confirmed(self, block: Block, height: int) -> None:
        assert self.fee_estimator is not None
        self.fee_estimator.process_block(height, (tx.txid for tx in block.transactions[1:]))

    def _save_fee_estimates(self) -> None:
        assert self.fee_estimator is not None
        try:
            self.fee_estimator.save(self.fee_estimates_path)
        except OSError as error:
            log.warning("Failed to write fee estimates to %s: %s. Continue anyway.", self.fee_estimates_path, error)

    def _fee_estimates_flush_loop(self) -> None:
        """Core's hourly FlushFeeEstimates: a killed node keeps what it learned."""
        while True:
            gevent.sleep(FLUSH_INTERVAL)
            self._save_fee_estimates()
