"""One peer connection: its state machine, handshake, timers, send queue and Bitcoin Core's
reactions to bad input.

States (`PeerState`), each transition logged on `pantheon.net.peer` with the peer and why, kept
in `Peer.transitions` and passed to `on_transition`:

    CONNECTING --connected/accepted--> HANDSHAKE --verack after version--> CONNECTED
    any --close(reason)--> DISCONNECTED          any --misbehaving(reason)--> BANNED

Greenlets. One reader per peer: it connects (outbound), reads into a `FrameDecoder`, dispatches
each frame and runs the timers (handshake deadline, ping, pong deadline) by bounding each read
with a `gevent.Timeout`, so an idle peer costs this one greenlet. `start()` spawns it; an inbound
peer accepted by a StreamServer handler calls `run()` instead, so the handler greenlet is the
reader and no second greenlet waits beside it. A writer greenlet is spawned
only while the send queue holds bytes and ends when it is empty. The queue is bounded in bytes:
above `send_pause` the reader stops taking the peer's messages (Core's fPauseSend: a peer that
does not read is not served more), above `send_limit` the peer is disconnected.

Reading ahead. While the handler of a command that has a preparer runs (a block's, whose connect
waits for the script workers), a second greenlet goes on taking the peer's frames off the socket,
as Core's socket thread goes on receiving while its message thread works: up to
`receive_buffer` bytes of frames (Core's -maxreceivebuffer, its fPauseRecv threshold), each
passed through its command's preparer, a pure function of the payload (the node decodes a block).
The reader dispatches those frames afterwards, in order, as if it had read them itself; a handler
takes its frame's prepared value with `prepared(frame)`, and the running handler may take the next
frame out of its turn (`take_read_ahead`: the node's connect loop goes on with the next block
while the one before it is checked). An error met while reading ahead is raised when the frames
before it have been dispatched.

Reactions (DESIGN.md, Bitcoin Core's):
    wrong magic                                   disconnect
    declared length over max_payload              disconnect before reading the payload (Core's
                                                  transport caps only the whole message)
    bad checksum, malformed command field         drop the message, keep the peer (checksum first)
    unknown command                               ignore, counted in counters["unknown command"]
    any message before version                    ignore; a duplicate version is ignored
    other messages between version and verack     ignore (Core: "unsupported message prior to verack")
    addr/addrv2 > 1,000, inv/getdata > 50,000,
    headers > 2,000 entries declared               misbehaving ("addr message size = 1010", Core's
                                                  words): disconnect and discourage
    locator > 101 (getheaders, getblocks)         disconnect
    wtxidrelay/sendaddrv2 after verack            disconnect (Core)
    sendcmpct whose announce byte is not 0 or 1   misbehaving (Core)
    version < min_peer_version                    disconnect
    our own nonce in an inbound version           disconnect (connected to ourselves)
    no verack within handshake_timeout,
    no pong within ping_timeout                   disconnect
    a payload that does not decode                drop the message, keep the peer (Core logs it)
Misbehaving discourages the address through the `BanList` when one is given; the peer ends BANNED.

Dispatch: `handlers` maps a command to `handler(peer, frame)`. The built-in handshake, ping and
inv (known inventory) handlers are in `BUILTIN_HANDLERS`; a manager's table is looked up first
(one table shared by all its peers, never copied per peer), and a handler that replaces a
built-in calls it (`BUILTIN_HANDLERS[command](peer, frame)`). Handlers run
in the reader greenlet: they must not block (no unbounded I/O, no long CPU loop); longer work is
spawned into the manager's pool. A handler raising a ProtocolError drops the message; any other
exception is logged and counted ("handler errors") and the peer stays, as in Core.
Reactions are logged in Core's words (the "Header error: …" lines, "Misbehaving: peer=N: …").
"""

from __future__ import annotations

import enum
import itertools
import logging
import secrets
import string
import time
from collections import Counter, deque
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, MutableSet, Sequence

import gevent
import gevent.event
import greenlet
import gevent.pool
import gevent.socket

import pantheon
import pantheon.wire
from pantheon import limits, params
from pantheon.errors import BadMagic, InvalidValue, OversizedMessage, ProtocolError, Truncated
from pantheon.frames import BAD_CHECKSUM, Frame
from pantheon.net.address import PeerAddress
from pantheon.net.bip324 import V2CipherError
from pantheon.net.v2transport import V2State, V2Transport, V2TransportError, v2_wire_size
from pantheon.net.banlist import BanList
from pantheon.net.permissions import Permission
from pantheon.primitives import Endpoint, InvVect, SendCmpct, Version
from pantheon.protocol import (
    CMPCTBLOCKS_VERSION,
    FEEFILTER_VERSION,
    FULL_RELAY_SERVICES,
    MIN_PEER_VERSION,
    PROTOCOL_VERSION,
    SENDHEADERS_VERSION,
    SHORT_IDS_BLOCKS_VERSION,
    WTXID_RELAY_VERSION,
)

if TYPE_CHECKING:
    from pantheon._invset_py import InventorySet

__all__ = [
    "USER_AGENT", "NetTotals", "COUNT_CAPS", "PeerState", "Transition",
    "PeerConfig", "Peer", "Handler", "Preparer", "Traffic", "Ticker", "BUILTIN_HANDLERS",
]

log = logging.getLogger("pantheon.net.peer")

USER_AGENT = f"/Pantheon:{pantheon.__version__}/"

#: command -> (offset of the entry count in the payload, cap, misbehaving: discourage as well).
COUNT_CAPS: Mapping[str, tuple[int, int, bool]] = {
    "addr": (0, limits.MAX_ADDR, True),
    "addrv2": (0, limits.MAX_ADDR, True),
    "inv": (0, limits.MAX_INV_ENTRIES, True),
    "getdata": (0, limits.MAX_INV_ENTRIES, True),
    "headers": (0, limits.MAX_HEADERS, True),
    "getheaders": (4, limits.MAX_LOCATOR_HASHES, False),
    "getblocks": (4, limits.MAX_LOCATOR_HASHES, False),
}
#: Core's SendMessages work one peer's reader runs after each message and when idle: called with
#: (peer, now), it acts if due and returns the seconds until it is next due (None: not waiting).
Ticker = Callable[["Peer", float], "float | None"]
#: Core's ExpectServicesFromConn: the outbound connections we rely on for blocks, transactions or
#: addresses; inbound, manual and feeler connections take whatever the peer offers.
SERVICE_CHECKED_CONNECTIONS = frozenset({"outbound-full-relay", "block-relay-only", "addr-fetch"})
# Accepted between version and verack (Core); everything else then is ignored.
_BEFORE_VERACK = frozenset({"version", "verack", "wtxidrelay", "sendaddrv2", "sendtxrcncl"})
#: Core's SAFE_CHARS_DEFAULT: what its log keeps of a peer-supplied message type.
_SAFE_CHARS = frozenset(string.ascii_letters + string.digits + " .,;-_/:?@()")
_ids = itertools.count(0)  # Core numbers the connections of a process from 0


def sanitized_type(command: str) -> str:
    """A message type as Core logs it: up to its first NUL, only safe characters kept."""
    return "".join(char for char in command.partition("\0")[0] if char in _SAFE_CHARS)


def core_exception_text(error: ProtocolError) -> str:
    """What Core's deserializer would say of the same fault, then ours: its stream's "end of
    data", its "Address too long" (operators and Core's tests grep for these)."""
    if isinstance(error, Truncated):
        return f"end of data: {error}"
    if isinstance(error, OversizedMessage) and error.field.endswith(".address"):
        return f"Address too long: {error.size} > {error.cap}"
    return str(error)


class PeerState(str, enum.Enum):
    CONNECTING = "connecting"
    HANDSHAKE = "handshake"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    BANNED = "banned"


@dataclass(frozen=True, slots=True)
class Transition:
    """One state change: from `old` to `new` because of `reason`, at `at` (the peer's clock)."""

    old: PeerState
    new: PeerState
    reason: str
    at: float


@dataclass(frozen=True)
class PeerConfig:
    """What a peer advertises and its limits; every timeout is here so tests can shrink it."""

    network: params.Network = params.MAIN
    protocol_version: int = PROTOCOL_VERSION
    min_peer_version: int = MIN_PEER_VERSION
    # Service bits an outbound peer must offer (Core: NODE_NETWORK | NODE_WITNESS for automatic
    # outbound connections, none for manual ones); an outbound peer lacking one is disconnected.
    required_services: int = 0
    services: int = FULL_RELAY_SERVICES
    user_agent: str = USER_AGENT
    relay: bool = True
    fee_filter: int | None = 1_000  # sat/kvB sent after verack (Core's default min relay fee); None: none
    handshake_timeout: float = 60.0
    ping_interval: float = 120.0
    ping_timeout: float = 20 * 60.0
    send_pause: int = 1_000_000  # Core -maxsendbuffer: stop reading the peer's messages above it
    send_limit: int = 1_000_000 + limits.MAX_MESSAGE_SIZE  # disconnect above it
    max_payload: int = limits.MAX_MESSAGE_SIZE
    known_inventory: int = 50_000  # Core's m_tx_inventory_known_filter size; made on first use
    recv_size: int = 64 * 1024
    receive_buffer: int = 5_000_000  # Core -maxreceivebuffer: frames read ahead while a handler runs
    v2transport: bool = False  # Core's -v2transport (the node turns it on): BIP324 accepted inbound and tried outbound


@dataclass
class NetTotals:
    """Bytes received and sent by every peer of a manager, counted as they cross the socket
    (Core's getnettotals: a partial message counts as soon as its bytes arrive)."""

    received: int = 0
    sent: int = 0


Handler = Callable[["Peer", Frame], None]
#: A pure function of a payload, run while the frame waits to be dispatched (see Reading ahead).
#: If it raises, the frame goes to its handler unprepared, which meets the error itself.
Preparer = Callable[[bytes], object]
#: (direction "sent" or "received", command, bytes on the wire including the 24-byte header)
Traffic = Callable[[str, str, int], None]


class _ReadAhead:
    """A peer's frames read ahead (module notes), oldest first with their prepared values, their
    bytes on the wire, the error that stopped the reading, and the frame being dispatched."""

    __slots__ = ("frames", "size", "error", "current")

    def __init__(self) -> None:
        self.frames: deque[tuple[Frame, object]] = deque()
        self.size = 0
        self.error: Exception | None = None
        self.current: tuple[Frame, object] | None = None


class Peer:
    """One connection to a peer (see the module notes). Create, then `start()`.

    sock          a connected socket (inbound), or None to dial `address` (outbound).
    address       (host, port) of the peer.
    banlist       where misbehaving addresses are discouraged; None: only disconnected.
    handlers      command -> handler, looked up before BUILTIN_HANDLERS; kept by reference, so
                  a manager's peers share its one table.
    nonces        shared by a node's peers: each registers its version nonce until its
                  handshake ends; an inbound version carrying one is a connection to ourselves.
    start_height  our best height, or a callable giving it when the version is sent.
    group         the gevent group the reader and writer are spawned in (a manager's pool).
    wire          the wire twin (`pantheon.wire` by default; tests pass either twin).
    traffic       called (direction "sent"/"received", command, bytes with the header) for each
                  message queued or read: the node's per-command metrics.
    tickers       `Ticker`s run by the reader while connected, after each message and when due
                  (the address gossip's send timer): shared by a manager's peers, like `handlers`.
    preparers     command -> `Preparer`: while such a command's handler runs, the peer reads ahead
                  (module notes); shared by a manager's peers, like `handlers`.
    """

    # Slots: every idle peer saves its instance dict (bench_net measures the bytes per peer).
    __slots__ = (
        "id", "address", "inbound", "config", "banlist", "handlers", "counters", "transitions",
        "on_transition", "_known_inventory", "local_nonce", "remote", "common_version", "wtxid_relay",
        "permissions", "inbound_onion", "wants_addrv2", "prefers_headers", "fee_filter", "compact_blocks", "bip152_hb_to", "ping_time", "min_ping",
        "close_reason", "last_block_time", "last_tx_time", "_sock", "_wire", "_nonces", "_start_height",
        "_group", "_decoder", "_v2", "_state", "_verack_received", "_started_at", "_ping_nonce", "_ping_sent_at",
        "_next_ping", "_clock", "_local", "bytes_sent_per_msg", "bytes_recv_per_msg", "last_send", "last_recv",
        "connection_type", "desirable_services", "_totals", "_tickers", "_queue", "_queued", "_drained", "_closed", "_reader", "_writer", "_traffic",
        "preparers", "_ahead",
    )

    def __init__(
        self,
        sock: gevent.socket.socket | None,
        address: tuple[str, int],
        *,
        inbound: bool,
        config: PeerConfig | None = None,
        banlist: BanList | None = None,
        handlers: Mapping[str, Handler] | None = None,
        nonces: MutableSet[int] | None = None,
        start_height: int | Callable[[], int] = 0,
        group: gevent.pool.Group | None = None,
        wire: ModuleType = pantheon.wire,
        on_transition: Callable[[Peer, Transition], None] | None = None,
        traffic: Traffic | None = None,
        permissions: frozenset[Permission] = frozenset(),
        clock: Callable[[], float] = time.time,
        totals: NetTotals | None = None,
        tickers: Sequence[Ticker] = (),
        v2: bool = False,
        preparers: Mapping[str, Preparer] | None = None,
    ) -> None:
        self.id = next(_ids)
        self.permissions = permissions  # what -whitelist grants this peer (net/permissions.py)
        self.inbound_onion = False  # accepted on an onion bind (Core's m_inbound_onion)
        self.address = (address[0], address[1])
        self.inbound = inbound
        self.config = config or PeerConfig()
        self.banlist = banlist
        self.handlers: Mapping[str, Handler] = handlers if handlers is not None else {}
        self.preparers: Mapping[str, Preparer] = preparers if preparers is not None else {}
        self._ahead: _ReadAhead | None = None  # made the first time the peer reads ahead
        self.counters: Counter[str] = Counter()
        self.transitions: list[Transition] = []
        self.on_transition = on_transition
        self._traffic = traffic
        self._known_inventory: InventorySet | None = None
        self.local_nonce = secrets.randbits(64)
        self.remote: Version | None = None  # the peer's version message
        self.common_version = 0
        self.wtxid_relay = False  # BIP339, agreed before verack
        self.wants_addrv2 = False  # BIP155
        self.prefers_headers = False  # BIP130
        self.fee_filter = 0  # BIP133: the peer's minimum fee rate
        #: BIP152: the peer's last sendcmpct of version 2 (Core's m_provides_cmpctblocks; its
        #: `announce` is m_requested_hb_cmpctblocks, getpeerinfo's bip152_hb_from); other
        #: versions are ignored, as Core ignores them.
        self.compact_blocks: SendCmpct | None = None
        self.bip152_hb_to = False  # we asked the peer to announce blocks with cmpctblock
        self.ping_time: float | None = None  # last round trip, seconds
        self.min_ping: float | None = None
        self.close_reason: str | None = None
        # When the peer last relayed a new block / transaction (its clock; 0: never). Set
        # by the node's handlers; inbound eviction protects recent relayers.
        self.last_block_time = 0.0
        self.last_tx_time = 0.0
        self._sock = sock
        self._wire = wire
        self._nonces: MutableSet[int] = set() if nonces is None else nonces
        self._start_height = start_height
        self._group = group if group is not None else gevent.pool.Group()
        # Core's transport caps only the whole message; counts are checked once it is in.
        self._decoder = wire.FrameDecoder(self.config.network.magic, self.config.max_payload, caps={})
        # BIP324 (`v2`): an outbound peer starts the handshake, an inbound one tells v1 from v2 by
        # the first bytes; None once the connection is known to be v1.
        self._v2 = (V2Transport(self.config.network.magic, initiating=not inbound, max_payload=self.config.max_payload)
                    if v2 else None)
        self._state = PeerState.CONNECTING
        self._verack_received = False
        self._clock = clock  # the node's clock (clock.py): every timer and time here reads it
        self._tickers = tickers
        self._totals = totals if totals is not None else NetTotals()
        self._started_at = clock()
        self._local: tuple[str, int] | None = None
        # Bytes by message type, header included, as Core's getpeerinfo shows them: a message
        # of an unknown type or whose header failed its checks counts under "*other*".
        self.bytes_sent_per_msg: Counter[str] = Counter()
        self.bytes_recv_per_msg: Counter[str] = Counter()
        self.last_send = 0.0  # the clock when bytes last went out / came in (0: never)
        self.last_recv = 0.0
        #: Core's getpeerinfo connection_type: "inbound", "outbound-full-relay", "manual" (-addnode,
        #: -connect, RPC), "block-relay-only", "feeler", "addr-fetch"; the manager sets it.
        self.connection_type = "inbound" if inbound else "outbound-full-relay"
        #: For an automatic outbound connection: the services it must offer, given those it
        #: offers (Core's GetDesirableServiceFlags); None: `config.required_services`.
        self.desirable_services: Callable[[int], int] | None = None
        self._ping_nonce: int | None = None
        self._ping_sent_at = 0.0
        self._next_ping = float("inf")  # set when the handshake completes
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._drained = gevent.event.Event()
        self._drained.set()
        self._closed = gevent.event.Event()
        self._reader: greenlet.greenlet | None = None
        self._writer: gevent.Greenlet | None = None

    def __str__(self) -> str:
        host, port = self.address
        return f"peer={self.id} {host}:{port} {'inbound' if self.inbound else 'outbound'}"

    # --- observation --------------------------------------------------------------------

    @property
    def state(self) -> PeerState:
        return self._state

    @property
    def connected_at(self) -> float:
        """When the connection began (the peer's clock)."""
        return self._started_at

    @property
    def queued_bytes(self) -> int:
        """Bytes in the send queue, including a chunk being written."""
        return self._queued

    @property
    def paused(self) -> bool:
        """True while the send queue is above `send_pause`: the peer's messages wait."""
        return self._queued > self.config.send_pause

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def local_address(self) -> tuple[str, int] | None:
        """Our end of the connection (host, port); None before connecting."""
        return self._local

    @property
    def known_inventory(self) -> InventorySet:
        """Hashes the peer has or was sent. Made on first use: its table (~1 MB at Core's 50,000
        entries) is most of a peer's memory, and an idle peer never needs it."""
        known = self._known_inventory
        if known is None:
            known = self._known_inventory = self._wire.InventorySet(self.config.known_inventory)
        return known

    def info(self) -> dict[str, object]:
        """What Core's getpeerinfo shows of this peer (the RPC layer serves it), plus the state
        and its history."""
        remote = self.remote
        now = self._clock()
        return {
            "id": self.id,
            "addr": f"{self.address[0]}:{self.address[1]}",
            "inbound": self.inbound,
            "state": self._state.value,
            "transitions": [(t.new.value, t.reason) for t in self.transitions],
            "version": remote.version if remote else 0,
            "subver": remote.user_agent if remote else "",
            "services": f"{remote.services:016x}" if remote else "",
            "startingheight": remote.start_height if remote else -1,
            "relaytxes": bool(remote and remote.relay),
            "wtxid_relay": self.wtxid_relay,
            "addrv2": self.wants_addrv2,
            "pingtime": self.ping_time,
            "minping": self.min_ping,
            "pingwait": now - self._ping_sent_at if self._ping_nonce is not None else None,
            "bytessent": self.counters["bytes sent"],
            "bytesrecv": self.counters["bytes received"],
            "conntime": self._started_at,  # when it connected, on the peer's clock (Unix time)
            "counters": dict(self.counters),
        }

    def wait_writable(self, timeout: float | None = None) -> bool:
        """Wait until the send queue is at or below `send_pause` (the peer reads what we send);
        False if the peer closed or `timeout` passed first. A handler serving a large answer
        (blocks for getdata) waits here between items, as Core stops serving a peer whose send
        buffer is full."""
        if not self.paused:
            return not self.closed
        self._drained.wait(timeout)
        return not self.closed and not self.paused

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the peer is closed; True if it is."""
        return self._closed.wait(timeout)

    # --- life cycle ---------------------------------------------------------------------

    def start(self) -> Peer:
        """Spawn the reader; outbound, it connects first. Returns the peer."""
        if self._reader is None:
            self._reader = self._group.spawn(self._run)
        return self

    def run(self) -> None:
        """Be the reader in the calling greenlet until the peer closes: a StreamServer handler
        calls this, so an inbound peer costs one greenlet, not a handler waiting on a reader."""
        if self._reader is not None:
            raise RuntimeError(f"{self} is already running")
        self._reader = gevent.getcurrent()
        self._run()

    def close(self, reason: str, *, discourage: bool = False) -> None:
        """Disconnect (idempotent): DISCONNECTED, or BANNED when discouraged for misbehaving."""
        if self._closed.is_set():
            return
        self._closed.set()
        self.close_reason = reason
        self._nonces.discard(self.local_nonce)
        self._set_state(PeerState.BANNED if discourage else PeerState.DISCONNECTED, reason)
        self._queue.clear()
        self._queued = 0
        self._drained.set()
        if self._sock is not None:
            self._sock.close()
        current = gevent.getcurrent()
        for task in (self._writer, self._reader):
            if task is not None and task is not current:
                gevent.kill(task)  # the reader may be a StreamServer's handler (`run`)

    def disconnect(self, message: str) -> None:
        """Close with Core's wording: `message`, then "disconnecting peer=N" (net category)."""
        log.debug("%s, disconnecting peer=%d", message, self.id)
        self.close(message)

    def misbehaving(self, reason: str) -> None:
        """Core's MaybeDiscourageAndDisconnect: a noban or manually connected peer is only warned
        about; a local one (loopback, or inbound over Tor, whose address all such peers share) is
        disconnected without discouraging its address; any other is discouraged and disconnected."""
        log.debug("Misbehaving: peer=%d: %s", self.id, reason)
        self.counters["misbehaving"] += 1
        if Permission.NOBAN in self.permissions:
            log.warning("Warning: not punishing noban peer %d!", self.id)
            return
        if self.connection_type == "manual":
            log.warning("Warning: not punishing manually connected peer %d!", self.id)
            return
        try:
            address: PeerAddress | None = PeerAddress.from_ip(self.address[0])
        except ValueError:  # not an IP address: nothing to discourage
            address = None
        if address is None or address.is_local or self.inbound_onion:
            log.debug("Warning: disconnecting but not discouraging %s peer %d!",
                      "inbound onion" if self.inbound_onion else "local", self.id)
        else:
            log.info("Disconnecting and discouraging peer %d! (%s: %s)", self.id, self, reason)
            if self.banlist is not None:
                self.banlist.discourage(address)
        self.close(f"misbehaving: {reason}", discourage=True)

    def _set_state(self, new: PeerState, reason: str) -> None:
        transition = Transition(self._state, new, reason, self._clock())
        self._state = new
        self.transitions.append(transition)
        log.info("%s %s -> %s: %s", self, transition.old.value, new.value, reason)
        if self.on_transition is not None:
            self.on_transition(self, transition)

    # --- sending ------------------------------------------------------------------------

    def send(self, command: str, payload: bytes = b"") -> bool:
        """Queue a message; False if the peer is closed or this message took the queue past
        `send_limit` (the peer is then disconnected)."""
        if self._closed.is_set():
            return False
        if self._v2 is None:
            data = self._wire.pack_header(self.config.network.magic, command, payload) + payload
            parts: Iterable[bytes] = (data,)
            size = len(data)
        else:
            self._v2.send(command, payload)
            parts = self._v2.take_parts()  # none while the handshake holds the message back
            size = v2_wire_size(command, payload)
        log.debug("sending %s (%d bytes) peer=%d", command, len(payload), self.id)
        for part in parts:
            self._enqueue(part)
        self.counters["messages sent"] += 1
        self.bytes_sent_per_msg[command] += size
        if self._traffic is not None:
            self._traffic("sent", command, size)
        if self._queued > self.config.send_limit:
            self.close(f"send queue {self._queued} bytes, over the limit of {self.config.send_limit}")
            return False
        return True

    def _enqueue(self, data: bytes) -> None:
        """Queue bytes for the writer (a message, or BIP324's handshake bytes)."""
        if not data:
            return
        self._queue.append(data)
        self._queued += len(data)
        if self._queued > self.config.send_pause:
            self._drained.clear()
        if self._writer is None and self._sock is not None:
            self._writer = self._group.spawn(self._write)

    @property
    def transport_protocol(self) -> str:
        """Core's getpeerinfo transport_protocol_type: v1, v2, or detecting while BIP324's
        handshake has not shown which."""
        if self._v2 is None:
            return "v1"
        return "v2" if self._v2.established else "detecting"

    @property
    def session_id(self) -> str:
        """BIP324's session id in hex (getpeerinfo), empty on v1 or before the handshake ends."""
        session = self._v2.session_id if self._v2 is not None else None
        return session.hex() if session else ""

    @property
    def should_reconnect_v1(self) -> bool:
        """Core's ShouldReconnectV1: an outbound v2 attempt that received nothing at all after
        sending at least a v1 header's worth (a v1 peer drops such a connection); also one
        answered by a v1 version (a v1 peer that speaks first)."""
        v2 = self._v2
        if v2 is None or self.inbound:
            return False
        return v2.state is V2State.V1 or (v2.state is V2State.KEY and v2.received_nothing
                                          and self.counters["bytes sent"] >= limits.HEADER_SIZE)

    def announce(self, items: Iterable[InvVect]) -> int:
        """Send an inv of the items the peer is not known to have (and remember them); returns
        how many were sent."""
        fresh = [item for item in items if self.known_inventory.add(item.hash)]
        for start in range(0, len(fresh), limits.MAX_INV_ENTRIES):
            self.send("inv", self._wire.encode_inv(fresh[start : start + limits.MAX_INV_ENTRIES]))
        return len(fresh)

    def ping(self) -> bool:
        """Send a ping now (as Core's `ping` RPC, even with one outstanding, which it replaces);
        False before the handshake is complete. The pong sets `ping_time`."""
        if self._state is not PeerState.CONNECTED:
            return False
        self._ping_nonce = secrets.randbits(64) or 1  # never 0: a zero nonce means none
        self._ping_sent_at = self._clock()
        return self.send("ping", self._wire.encode_ping(self._ping_nonce))

    def _write(self) -> None:
        """Writer greenlet: exists only while the queue holds bytes."""
        sock = self._sock
        assert sock is not None
        try:
            while self._queue:
                chunk = self._queue[0]
                sock.sendall(chunk)
                if self._closed.is_set():
                    return
                self._queue.popleft()
                self._queued -= len(chunk)
                self.counters["bytes sent"] += len(chunk)
                self._totals.sent += len(chunk)
                self.last_send = self._clock()
                if self._queued <= self.config.send_pause:
                    self._drained.set()
        except OSError as error:
            self.close(f"send failed: {error}")
        finally:
            self._writer = None

    # --- reading and timers -------------------------------------------------------------

    def _run(self) -> None:
        """Reader greenlet."""
        try:
            if self._sock is None:
                self._sock = gevent.socket.create_connection(self.address, timeout=self.config.handshake_timeout)
                self._sock.settimeout(None)
                self._set_state(PeerState.HANDSHAKE, "connected")
                if self._v2 is not None:
                    log.debug("start sending v2 handshake to peer=%d", self.id)
                    self._enqueue(self._v2.take_output())  # our key and garbage, first of all
                    # The writer puts them on the wire before the first read, as Core's socket
                    # loop does: a peer that closes at once (a v1 node, a ban) then finds a key
                    # sent and nothing received, which is when Core retries with v1.
                    gevent.sleep(0)
                if self._queue:
                    self._writer = self._group.spawn(self._write)
            else:
                self._set_state(PeerState.HANDSHAKE, "accepted")
            log.debug("Added connection peer=%d", self.id)
            self._local = self._sock.getsockname()[:2]
            self._nonces.add(self.local_nonce)
            if not self.inbound:
                self._send_version()
            self._read_loop()
        except BadMagic as error:
            self.disconnect(f"Header error: Wrong MessageStart {error.found.hex()} received")
        except (V2TransportError, V2CipherError) as error:  # Core: the connection ends, no punishment
            self.disconnect(str(error) if str(error).startswith("V2 transport error") else
                            f"V2 transport error: {error}")
        except OversizedMessage as error:  # decided from the header: the payload is never read
            self.disconnect(f"Header error: Size too large ({sanitized_type(error.field.removesuffix(' payload'))}, "
                            f"{error.size} bytes)")
        except OSError as error:
            self.close(f"connection failed: {error or type(error).__name__}")
        finally:
            self.close("reader stopped")

    def _read_loop(self) -> None:
        sock = self._sock
        assert sock is not None
        while not self._closed.is_set():
            wait = self._run_timers(self._clock())
            poll = getattr(self._clock, "poll_interval", None)  # a mock clock may jump: look again soon
            if poll is not None:
                wait = min(wait, poll)
            if self._closed.is_set():
                return
            if self.paused:
                self._drained.wait(wait)
                continue
            frame = self._next_frame()
            if frame is not None:
                if frame.error is None and frame.command in self.preparers and self._verack_received:
                    self._dispatch_reading_ahead(frame)
                else:
                    self._dispatch(frame)
                continue
            data = None
            with gevent.Timeout(wait, False):
                data = sock.recv(self.config.recv_size)
            if data is None:
                continue  # a timer is due
            if not data:
                self.close("connection closed by peer")
                return
            self._received(data)
            # gevent's recv returns without yielding while bytes are waiting: yield once a chunk,
            # or a peer that floods us would starve every other greenlet.
            gevent.sleep(0)

    def _received(self, data: bytes) -> None:
        self.counters["bytes received"] += len(data)
        self._totals.received += len(data)
        self.last_recv = self._clock()
        if self._v2 is None:
            self._decoder.feed(data)
        else:
            self._v2.feed(data)

    def _next_frame(self) -> Frame | None:
        """The next frame to dispatch: one read ahead first, then the error that stopped the
        reading ahead, then what the transport holds."""
        ahead = self._ahead
        if ahead is not None:
            ahead.current = None
            if ahead.frames:
                frame, prepared = ahead.frames.popleft()
                ahead.size -= frame.wire_size
                ahead.current = (frame, prepared)
                return frame
            if ahead.error is not None:
                error, ahead.error = ahead.error, None
                raise error
        return self._take_frame()

    def _take_frame(self) -> Frame | None:
        return self._decoder.next_frame() if self._v2 is None else self._next_v2_frame()

    def prepared(self, frame: Frame) -> object:
        """What the command's preparer made of `frame` while it was read ahead; None if it was
        not read ahead or could not be prepared."""
        ahead = self._ahead
        if ahead is None or ahead.current is None or ahead.current[0] is not frame:
            return None
        return ahead.current[1]

    def take_read_ahead(self, wanted: Callable[[Frame, object], bool]) -> object:
        """For the running handler: the next frame read ahead, if `wanted(frame, prepared)`, is
        handled by the caller now instead of being dispatched later (it is counted as received
        here): its prepared value; None when there is none or it is not wanted."""
        ahead = self._ahead
        if ahead is None or not ahead.frames:
            return None
        frame, prepared = ahead.frames[0]
        if not wanted(frame, prepared):
            return None
        ahead.frames.popleft()
        ahead.size -= frame.wire_size
        self._count_received(frame)
        return prepared

    def _dispatch_reading_ahead(self, frame: Frame) -> None:
        """Dispatch `frame` while a second greenlet reads ahead (module notes); it is stopped
        before the reader reads again, at a point where it holds no bytes it has not queued."""
        if self._ahead is None:
            self._ahead = _ReadAhead()
        task = gevent.spawn(self._read_ahead, self._ahead)  # not the group: a full pool would block
        try:
            self._dispatch(frame)
        finally:
            task.kill()

    def _read_ahead(self, ahead: _ReadAhead) -> None:
        sock = self._sock
        assert sock is not None
        try:
            while ahead.size < self.config.receive_buffer and ahead.error is None and not self._closed.is_set():
                frame = self._take_frame()
                if frame is None:
                    data = sock.recv(self.config.recv_size)
                    if not data:
                        return  # the reader meets the end itself
                    self._received(data)
                    continue
                ahead.frames.append((frame, self._prepare(frame)))
                ahead.size += frame.wire_size
                gevent.sleep(0)  # preparing is CPU work: let the handler's verdict in between frames
        except Exception as error:  # the reader raises it in its turn, after the frames before it
            ahead.error = error

    def _prepare(self, frame: Frame) -> object:
        preparer = self.preparers.get(frame.command) if frame.error is None else None
        if preparer is None:
            return None
        try:
            return preparer(frame.payload)
        except Exception:  # the handler does the work again and meets the error (Preparer)
            return None

    def _next_v2_frame(self) -> Frame | None:
        """The next frame through BIP324, sending what its handshake has to say; when an inbound
        connection turns out to be v1, its bytes go to the v1 decoder from then on."""
        v2 = self._v2
        assert v2 is not None
        detecting = v2.state is V2State.MAYBE_V1
        frame = v2.next_frame()
        if detecting and v2.state is V2State.KEY:
            log.debug("start sending v2 handshake to peer=%d", self.id)
        self._enqueue(v2.take_output())
        if v2.state is V2State.V1:
            if not self.inbound:  # it already read our key as a bad header: start again on v1
                self.close("v1 peer answered the v2 handshake")
                return None
            self._v2 = None
            self._decoder.feed(v2.v1_bytes())
            return self._decoder.next_frame()
        return frame

    def _run_timers(self, now: float) -> float:
        """Act on due timers, as Core's InactivityCheck and MaybeSendPing; returns the seconds
        until the next one. Nothing is timed out until `handshake_timeout` (Core's
        -peertimeout) has passed since connecting; then, in Core's order: a connection that never
        received or never sent, no traffic either way for `ping_timeout` (20 minutes), an
        unfinished handshake, a ping unanswered for `ping_timeout`."""
        config = self.config
        checked_from = self._started_at + config.handshake_timeout
        if now > checked_from:
            problem = self._inactivity(now)
            if problem is not None:
                self.disconnect(problem)
                return 0.0
        deadlines = [checked_from] if now <= checked_from else []
        if self._state is PeerState.CONNECTED:
            if self._ping_nonce is None and now >= self._next_ping:
                self.ping()
            if self._ping_nonce is not None:
                deadlines.append(max(self._ping_sent_at + config.ping_timeout, checked_from))
            else:
                deadlines.append(self._next_ping)
        deadlines.append(max(self.last_send, self.last_recv, self._started_at) + config.ping_timeout)
        if self._state is PeerState.CONNECTED:
            for ticker in self._tickers:
                wait = ticker(self, now)
                if wait is not None:
                    deadlines.append(now + wait)
        return max(min(deadlines) - now, 0.0)

    def _inactivity(self, now: float) -> str | None:
        """Why the connection is dead by Core's rules, or None."""
        timeout = self.config.ping_timeout
        if not self.last_recv or not self.last_send:
            return (f"socket no message in first {self.config.handshake_timeout:g} seconds"
                    + ("" if self.last_recv else ", never received from peer")
                    + ("" if self.last_send else ", never sent to peer"))
        if now > self.last_send + timeout:
            return f"socket sending timeout: {now - self.last_send:.0f}s"
        if now > self.last_recv + timeout:
            return f"socket receive timeout: {now - self.last_recv:.0f}s"
        if self._state is not PeerState.CONNECTED:
            return "version handshake timeout"
        if self._ping_nonce is not None and now > self._ping_sent_at + timeout:
            return f"ping timeout: {now - self._ping_sent_at:f}s"
        return None

    # --- dispatch -----------------------------------------------------------------------

    def _ignore(self, frame: Frame, why: str) -> None:
        self.counters["ignored"] += 1
        log.debug("%s ignoring %s: %s", self, frame.command, why)

    def _count_received(self, frame: Frame) -> None:
        self.counters["messages received"] += 1
        command = frame.command
        size = frame.wire_size
        known = frame.error is None and command in limits.COMMANDS
        self.bytes_recv_per_msg[command if known else "*other*"] += size
        if self._traffic is not None:
            self._traffic("received", command, size)

    def _dispatch(self, frame: Frame) -> None:
        self._count_received(frame)
        command = frame.command
        if frame.error is not None:  # Core's V1Transport drops it and keeps the peer
            self.counters[f"dropped: {frame.error}"] += 1
            if frame.error == BAD_CHECKSUM:
                log.debug("Header error: Wrong checksum (%s, %d bytes), expected %s was %s, peer=%d",
                          sanitized_type(command), len(frame.payload), self._wire.checksum(frame.payload).hex(),
                          (frame.received_checksum or b"").hex(), self.id)
            else:
                log.debug("Header error: Invalid message type (%s, %d bytes), peer=%d", sanitized_type(command),
                          len(frame.payload), self.id)
            return
        log.debug("received: %s (%d bytes) peer=%d", command, len(frame.payload), self.id)
        if self.remote is None and command != "version":
            log.debug('non-version message before version handshake. Message "%s" from peer=%d', command, self.id)
            return self._ignore(frame, "message before version")
        if not self._verack_received and command not in _BEFORE_VERACK:
            log.debug('Unsupported message "%s" prior to verack from peer=%d', command, self.id)
            return self._ignore(frame, "message before verack")
        caps = COUNT_CAPS.get(command)
        if caps is not None and not self._within_count(frame, *caps):
            return
        handler = self.handlers.get(command) or BUILTIN_HANDLERS.get(command)
        if handler is None:
            if command in limits.COMMANDS:
                self.counters["unhandled"] += 1
                log.debug("%s no handler for %s", self, command)
            else:
                self.counters["unknown command"] += 1
                log.info("%s ignoring unknown command %r", self, command)
            return
        try:
            handler(self, frame)
        except ProtocolError as error:  # Core's ProcessMessages catches it; the peer stays
            self.counters["malformed"] += 1
            log.debug("ProcessMessages(%s, %d bytes): Exception '%s' (%s) caught", sanitized_type(command),
                      len(frame.payload), core_exception_text(error), type(error).__name__)
        except Exception:  # a handler's bug costs the message, not the peer (as Core's ProcessMessages)
            self.counters["handler errors"] += 1
            log.exception("%s handler for %s failed", self, command)

    def _within_count(self, frame: Frame, offset: int, cap: int, discourage: bool) -> bool:
        """Check the declared entry count against its cap, reacting when it is over."""
        payload = frame.payload
        if len(payload) <= offset:
            return True  # too short to declare a count: the handler finds it malformed
        try:
            count, _ = self._wire.read_compact_size(payload, offset)
        except ProtocolError:
            return True
        if count <= cap:
            return True
        if discourage:
            self.misbehaving(f"{frame.command} message size = {count}")
        else:
            self.disconnect(f"{frame.command} locator size {count} > {cap}")
        return False

    # --- the handshake and ping ---------------------------------------------------------

    def _send_version(self) -> None:
        config = self.config
        host, port = self.address
        height = self._start_height() if callable(self._start_height) else self._start_height
        version = Version(
            version=config.protocol_version,
            services=config.services,
            timestamp=int(self._clock()),
            addr_recv=Endpoint.from_host(host, port),
            addr_from=Endpoint(services=config.services),
            nonce=self.local_nonce,
            user_agent=config.user_agent,
            start_height=height,
            relay=config.relay,
        )
        self.send("version", self._wire.encode_version(version))

    def _on_version(self, frame: Frame) -> None:
        if self.remote is not None:
            log.debug("redundant version message from peer=%d", self.id)
            return self._ignore(frame, "redundant version")
        remote = self._wire.decode_version(frame.payload)
        if remote.version < self.config.min_peer_version:
            self.close(f"obsolete version {remote.version} < {self.config.min_peer_version}")
            return
        expected = (self.desirable_services(remote.services) if self.desirable_services is not None
                    else self.config.required_services)
        if self.connection_type in SERVICE_CHECKED_CONNECTIONS and remote.services & expected != expected:
            self.disconnect(f"peer does not offer the expected services ({remote.services:08x} offered, "
                            f"{expected:08x} expected)")
            return
        if self.inbound and remote.nonce in self._nonces and remote.nonce != self.local_nonce:
            log.info("connected to self at %s:%d, disconnecting", *self.address)
            self.close("connected to self")
            return
        self.remote = remote
        self.common_version = min(remote.version, self.config.protocol_version)
        log.info("%s version %d %r height %s services %#x", self, remote.version, remote.user_agent,
                 remote.start_height, remote.services)
        if self.inbound:
            self._send_version()
        if self.common_version >= WTXID_RELAY_VERSION:
            self.send("wtxidrelay")
            # BIP155 is for any version, but Core only sends it from 70016 on as a courtesy.
            self.send("sendaddrv2")
        self.send("verack")
        if self.connection_type == "feeler":  # Core: a feeler only learns that the address answers
            self.disconnect("feeler connection completed")

    def _on_verack(self, frame: Frame) -> None:
        if self._verack_received:
            log.debug("ignoring redundant verack message from peer=%d", self.id)
            return self._ignore(frame, "redundant verack")
        self._verack_received = True
        self._nonces.discard(self.local_nonce)
        self._set_state(PeerState.CONNECTED, "handshake complete")
        if self.common_version >= SENDHEADERS_VERSION:
            self.send("sendheaders")
        if self.common_version >= SHORT_IDS_BLOCKS_VERSION:
            # Core offers compact blocks to every peer that speaks them (not asking it to
            # announce with them: that is for the peers that give us new blocks first).
            self.send("sendcmpct", self._wire.encode_sendcmpct(SendCmpct(False, CMPCTBLOCKS_VERSION)))
        # Core: a forcerelay peer's transactions are taken whatever their fee, so it is not told one.
        if (self.config.fee_filter is not None and self.common_version >= FEEFILTER_VERSION
                and Permission.FORCERELAY not in self.permissions):
            self.send("feefilter", self._wire.encode_feefilter(self.config.fee_filter))
        self._next_ping = self._clock()  # Core pings as soon as the handshake is done

    def _on_wtxidrelay(self, frame: Frame) -> None:
        if self._verack_received:
            self.close("wtxidrelay received after verack")
        elif self.common_version >= WTXID_RELAY_VERSION:
            self.wtxid_relay = True
        else:
            self._ignore(frame, f"wtxidrelay with common version {self.common_version}")

    def _on_sendaddrv2(self, frame: Frame) -> None:
        if self._verack_received:
            self.close("sendaddrv2 received after verack")
        else:
            self.wants_addrv2 = True

    def _on_sendheaders(self, frame: Frame) -> None:
        self.prefers_headers = True

    def _on_feefilter(self, frame: Frame) -> None:
        self.fee_filter = self._wire.decode_feefilter(frame.payload)

    def _on_sendcmpct(self, frame: Frame) -> None:
        try:
            message = self._wire.decode_sendcmpct(frame.payload)
        except InvalidValue:  # the one value a sendcmpct can get wrong: BIP152's boolean
            self.misbehaving("invalid sendcmpct announce field")
            return
        if message.version == CMPCTBLOCKS_VERSION:
            self.compact_blocks = message

    def _on_ping(self, frame: Frame) -> None:
        nonce = self._wire.decode_ping(frame.payload)
        if nonce is not None:  # a BIP31-less ping expects no pong
            self.send("pong", self._wire.encode_pong(nonce))

    def _on_pong(self, frame: Frame) -> None:
        """Core's pong handling: the answer to our ping ends it and times the round trip; a short
        payload or a zero nonce cancels it (a bug elsewhere, Core says), a mismatch leaves it
        outstanding; anything but the answer is logged with what was expected."""
        payload = frame.payload
        expected = self._ping_nonce or 0
        nonce = int.from_bytes(payload[:8], "little") if len(payload) >= 8 else 0
        finished = False
        problem = None
        if len(payload) < 8:
            finished, problem = True, "Short payload"
        elif not expected:
            problem = "Unsolicited pong without ping"
        elif nonce == expected:
            finished = True
            now = self._clock()
            self.ping_time = now - self._ping_sent_at
            self.min_ping = self.ping_time if self.min_ping is None else min(self.min_ping, self.ping_time)
        elif nonce == 0:
            finished, problem = True, "Nonce zero"
        else:
            problem = "Nonce mismatch"
        if problem is not None:
            self.counters["unexpected pong"] += 1
            log.debug("pong peer=%d: %s, %x expected, %x received, %d bytes", self.id, problem, expected, nonce,
                      len(payload))
        if finished:
            self._ping_nonce = None
            self._next_ping = self._ping_sent_at + self.config.ping_interval

    def _on_inv(self, frame: Frame) -> None:
        """What the peer announces, it has: remember it so it is never announced back."""
        self.known_inventory.filter_new(frame.payload)


BUILTIN_HANDLERS: Mapping[str, Handler] = {
    "version": Peer._on_version,
    "verack": Peer._on_verack,
    "wtxidrelay": Peer._on_wtxidrelay,
    "sendaddrv2": Peer._on_sendaddrv2,
    "sendheaders": Peer._on_sendheaders,
    "feefilter": Peer._on_feefilter,
    "sendcmpct": Peer._on_sendcmpct,
    "ping": Peer._on_ping,
    "pong": Peer._on_pong,
    "inv": Peer._on_inv,
}
