"""The address manager: Bitcoin Core's new/tried bucket tables, persisted in the store.

The design, facts and constants are Core's (addrman.cpp, addrman_impl.h):

* Two tables of buckets of slots. "new" (1,024 × 64) holds addresses we have heard of;
  "tried" (256 × 64) those we have connected to. A slot holds one address.
* Where an address goes is a keyed hash. The key is a 256-bit secret made once per node and
  kept in the store, so an outsider cannot aim addresses at chosen slots. A new bucket is
  chosen by (the address's netgroup, the source's netgroup), and one source group reaches at
  most 64 of the 1,024 buckets: one peer, or one /16 of peers, cannot fill the table. A tried
  bucket is chosen by the address, limited to 8 buckets per address group. The slot inside a
  bucket is a hash of the bucket and the address with its port. Hashes are Core's (double
  SHA-256 over Core's serialization), so a given key places addresses exactly as Core does.
* An address may sit in up to 8 new buckets (heard from several source groups); each extra
  reference is twice as hard to add as the one before.
* `good()` uses Core's test-before-evict: an address whose tried slot is taken is not moved
  there; it is recorded as a collision (at most 10). The dialer tests the occupant (a feeler
  connection to `select_tried_collision()`), then `resolve_collisions()` keeps an occupant that
  answered within 4 hours and otherwise moves the newcomer in, the occupant going back to new.
* `select()` picks new or tried with even odds, then random buckets and slots, accepting an
  entry with its chance (lowered by recent tries and failures) times a factor that grows by
  1.2 after each refusal, so it always ends. `get_addresses()` answers getaddr: random, good
  addresses, at most 1,000 or 23% of the table.

Persistence (namespace `addrman`, `a/` in the store's key schema), format version 1:
  `meta` -> u8 version, 32-byte secret
  `e/` + u8 network + address bytes + u16 port (big-endian) ->
      u8 flags (1 = tried), u64 services, i64 time, i64 last success, u32 attempts,
      u8 source network, u8 source length, source bytes, u8 n, n × u16 new buckets
Slots are recomputed from the key, so a reload restores every address to the same bucket and
slot. Changes are collected in memory and written by `flush()` in one atomic batch: the
network manager calls it periodically and at stop, never once per address. A record that does
not decode, a version this code does not know, or a database error while loading discards the
whole namespace with a log line and starts an empty table: a bad file never stops the node.
"""

from __future__ import annotations

import logging
import os
import random
import struct
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Collection, Iterable, NamedTuple

import plyvel

from pantheon import limits
from pantheon.net.address import Network, PeerAddress, TimedAddress
from pantheon.store import Store, describe_error
from pantheon.wire import double_sha256

log = logging.getLogger("pantheon.net.addrman")

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR

NEW_BUCKET_COUNT = 1 << 10
TRIED_BUCKET_COUNT = 1 << 8
BUCKET_SIZE = 1 << 6
TRIED_BUCKETS_PER_GROUP = 8  # tried buckets one address group can reach
NEW_BUCKETS_PER_SOURCE_GROUP = 64  # new buckets one source group can reach
NEW_BUCKETS_PER_ADDRESS = 8  # new buckets one address can occupy
HORIZON = 30 * DAY  # not seen for longer: terrible
RETRIES = 3  # failed attempts, with no success ever, before terrible
MAX_FAILURES = 10  # successive failures ...
MIN_FAIL = 7 * DAY  # ... with no success for this long: terrible
REPLACEMENT = 4 * HOUR  # a tried entry that succeeded this recently is not evicted
TRIED_COLLISIONS_MAX = 10
TEST_WINDOW = 40 * MINUTE  # how long a collision waits for its test before eviction anyway
GETADDR_MAX_PCT = 23  # Core MAX_PCT_ADDR_TO_SEND

FORMAT_VERSION = 1
_META_KEY = b"meta"
_ENTRY_PREFIX = b"e/"
_META = struct.Struct(">B32s")
_ENTRY_HEAD = struct.Struct(">BQqqIBB")
_TRIED_FLAG = 1


# --- placement: Core's AddrInfo::GetNewBucket / GetTriedBucket / GetBucketPosition ------------

def _cheap_hash(data: bytes) -> int:
    """Core's HashWriter GetCheapHash: double SHA-256, first 8 bytes as a little-endian int."""
    return int.from_bytes(double_sha256(data)[:8], "little")


def _vector(data: bytes) -> bytes:
    """Core's serialization of a byte vector; netgroups and service keys stay under 253 bytes,
    so the CompactSize length is one byte."""
    return bytes([len(data)]) + data


def new_bucket(key: bytes, address: PeerAddress, source: PeerAddress) -> int:
    """The new bucket for `address` heard from `source`; a source group reaches 64 buckets."""
    return _new_bucket(key, address, source.netgroup())


def _new_bucket(key: bytes, address: PeerAddress, source_group: bytes) -> int:
    source = _vector(source_group)
    spread = _cheap_hash(key + _vector(address.netgroup()) + source) % NEW_BUCKETS_PER_SOURCE_GROUP
    return _cheap_hash(key + source + spread.to_bytes(8, "little")) % NEW_BUCKET_COUNT


def tried_bucket(key: bytes, address: PeerAddress) -> int:
    """The tried bucket for `address`; one address group reaches 8 buckets."""
    spread = _cheap_hash(key + _vector(address.service_key())) % TRIED_BUCKETS_PER_GROUP
    return _cheap_hash(key + _vector(address.netgroup()) + spread.to_bytes(8, "little")) % TRIED_BUCKET_COUNT


def bucket_position(key: bytes, new: bool, bucket: int, address: PeerAddress) -> int:
    """The slot of `address` inside `bucket` of the new (`new`) or tried table."""
    tag = b"N" if new else b"K"
    return _cheap_hash(key + tag + bucket.to_bytes(4, "little") + _vector(address.service_key())) % BUCKET_SIZE


# --- entries ---------------------------------------------------------------------------------

def is_terrible(entry: AddressInfo | _Entry, now: int) -> bool:
    """Core's IsTerrible: whether an entry is bad enough to be replaced and never gossiped."""
    if now - entry.last_try <= MINUTE:  # never judge what was tried within the last minute
        return False
    if entry.time > now + 10 * MINUTE:  # seen in the future
        return True
    if now - entry.time > HORIZON:  # not seen for 30 days
        return True
    if entry.last_success == 0 and entry.attempts >= RETRIES:  # never reached in 3 tries
        return True
    return now - entry.last_success > MIN_FAIL and entry.attempts >= MAX_FAILURES


def chance(entry: AddressInfo | _Entry, now: int) -> float:
    """Core's GetChance: 1% if tried in the last 10 minutes, × 0.66 per failure (at most 8)."""
    factor = 0.01 if now - entry.last_try < 10 * MINUTE else 1.0
    return factor * 0.66 ** min(entry.attempts, 8)


@dataclass(frozen=True, slots=True)
class AddressInfo:
    """A copy of what the manager knows of one address (Core's AddrInfo).

    `time` is when the network last saw it (gossiped), `last_try`/`last_success` our own
    connection attempts (0 = never), `attempts` failures since the last success.
    """

    address: PeerAddress
    services: int
    time: int
    source: PeerAddress
    last_success: int
    last_try: int
    attempts: int
    tried: bool

    def is_terrible(self, now: int) -> bool:
        return is_terrible(self, now)


class AddressPosition(NamedTuple):
    """Where an entry sits (Core's AddressPosition): table, copies in new, bucket, slot."""

    tried: bool
    multiplicity: int
    bucket: int
    position: int


class _Entry:
    """The manager's own mutable record of one address."""

    __slots__ = ("address", "services", "time", "source", "last_success", "last_try",
                 "last_count_attempt", "attempts", "tried", "new_slots", "random_pos", "stored")

    def __init__(self, address: PeerAddress, services: int, time_: int, source: PeerAddress,
                 last_success: int = 0, attempts: int = 0) -> None:
        self.address = address
        self.services = services
        self.time = time_
        self.source = source
        self.last_success = last_success
        self.last_try = 0
        self.last_count_attempt = 0
        self.attempts = attempts
        self.tried = False
        self.new_slots: list[tuple[int, int]] = []  # (bucket, slot) in the new table
        self.random_pos = -1
        self.stored = False  # a record of this address is in the store (as of the last flush)

    def snapshot(self) -> AddressInfo:
        return AddressInfo(self.address, self.services, self.time, self.source, self.last_success,
                           self.last_try, self.attempts, self.tried)


class _Undecodable(ValueError):
    """A stored record this version cannot read."""


def _entry_key(address: PeerAddress) -> bytes:
    return _ENTRY_PREFIX + bytes([address.network]) + address.raw + address.port.to_bytes(2, "big")


def _encode(entry: _Entry) -> bytes:
    source = entry.source
    head = _ENTRY_HEAD.pack(_TRIED_FLAG if entry.tried else 0, entry.services, entry.time,
                            entry.last_success, entry.attempts, source.network, len(source.raw))
    buckets = [bucket for bucket, _ in entry.new_slots]
    return head + source.raw + bytes([len(buckets)]) + struct.pack(f">{len(buckets)}H", *buckets)


_NETWORKS = {network.value: network for network in Network}


def _decode(key: bytes, value: bytes) -> tuple[_Entry, tuple[int, ...]]:
    """An entry (not yet placed) and its stored new buckets; _Undecodable if malformed."""
    try:
        address = PeerAddress(_NETWORKS[key[2]], key[3:-2], int.from_bytes(key[-2:], "big"))
        flags, services, seen, success, attempts, source_net, source_len = _ENTRY_HEAD.unpack_from(value)
        offset = _ENTRY_HEAD.size
        source = PeerAddress(_NETWORKS[source_net], value[offset:offset + source_len])
        offset += source_len
        count = value[offset]
        rest = value[offset + 1:]
        buckets = struct.unpack(f">{len(rest) // 2}H", rest)
    except (ValueError, KeyError, IndexError, struct.error) as error:
        raise _Undecodable(f"record {key.hex()}: {error}") from None
    tried = flags == _TRIED_FLAG
    if flags not in (0, _TRIED_FLAG) or len(buckets) != count or tried == bool(buckets) \
            or count > NEW_BUCKETS_PER_ADDRESS or any(bucket >= NEW_BUCKET_COUNT for bucket in buckets):
        raise _Undecodable(f"record {key.hex()}: inconsistent fields")
    entry = _Entry(address, services, seen, source, success, attempts)
    entry.tried = tried
    entry.stored = True
    return entry, buckets


# --- the manager -------------------------------------------------------------------------------

class AddrMan:
    """Core's address manager over a `Store`; not thread-safe, never blocks (greenlet-safe).

    `clock` returns Unix seconds and `rng` drives every random choice: tests pass their own.
    `secret` fixes the bucket key of a table created now (as Core's deterministic mode does);
    a table loaded from the store keeps its own key, and a different `secret` is an error.
    """

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None, secret: bytes | None = None) -> None:
        if secret is not None and len(secret) != 32:
            raise ValueError("the addrman secret is 32 bytes")
        self._store = store
        self._view = store.namespace("addrman")
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._new: list[_Entry | None] = [None] * (NEW_BUCKET_COUNT * BUCKET_SIZE)
        self._tried: list[_Entry | None] = [None] * (TRIED_BUCKET_COUNT * BUCKET_SIZE)
        self._new_filled = [0] * NEW_BUCKET_COUNT  # occupied slots per bucket: select skips empties
        self._tried_filled = [0] * TRIED_BUCKET_COUNT
        self._by_address: dict[PeerAddress, _Entry] = {}
        self._random: list[_Entry] = []  # every entry, in the order getaddr shuffles
        self._counts: Counter[tuple[Network, bool]] = Counter()  # (network, in tried) -> entries
        self._collisions: set[_Entry] = set()
        self._last_good = 1  # Core: "never" is strictly older than any real time
        self._dirty: set[PeerAddress] = set()  # changed since the last flush (deleted if absent)
        self._key = b""
        self._load(secret)

    # --- public API --------------------------------------------------------------------------

    def size(self, network: Network | None = None, in_new: bool | None = None) -> int:
        """How many addresses, optionally only on `network` and only in new (True) or tried."""
        return sum(count for (net, tried), count in self._counts.items()
                   if (network is None or net == network) and (in_new is None or in_new != tried))

    def __len__(self) -> int:
        return len(self._random)

    def __contains__(self, address: PeerAddress) -> bool:
        return address in self._by_address

    def get(self, address: PeerAddress) -> AddressInfo | None:
        entry = self._by_address.get(address)
        return None if entry is None else entry.snapshot()

    def add(self, addresses: Iterable[TimedAddress], source: PeerAddress, time_penalty: int = 0) -> int:
        """Add gossiped addresses heard from `source` to the new table; return how many were
        placed. Unroutable ones are ignored; a `time_penalty` (seconds) ages what a peer
        relays, except its own address."""
        now = self._now()
        source = source.without_port()
        source_group = source.netgroup()
        offered = list(addresses)
        added = sum(self._add_one(entry, source, source_group, time_penalty, now) for entry in offered)
        if added:
            log.debug("Added %d addresses (of %d) from %s: %d tried, %d new", added, len(offered), source.host,
                      self.size(in_new=False), self.size(in_new=True))
        return added

    def good(self, address: PeerAddress, now: int | None = None) -> bool:
        """We completed a connection to `address`: move it to tried, unless its tried slot is
        taken (test-before-evict: then it is recorded as a collision). True if moved."""
        return self._good(address, True, self._now() if now is None else now)

    def attempt(self, address: PeerAddress, count_failure: bool = True, now: int | None = None) -> None:
        """We tried to connect. A failure counts at most once per `good()` of any address, so a
        node that is itself offline does not condemn the whole table."""
        entry = self._by_address.get(address)
        if entry is None:
            return
        now = self._now() if now is None else now
        entry.last_try = now
        if count_failure and entry.last_count_attempt < self._last_good:
            entry.last_count_attempt = now
            entry.attempts += 1
            self._dirty.add(address)

    def connected(self, address: PeerAddress, now: int | None = None) -> None:
        """A connection to `address` is alive: refresh its last-seen time (at most every 20 min)."""
        entry = self._by_address.get(address)
        now = self._now() if now is None else now
        if entry is not None and now - entry.time > 20 * MINUTE:
            entry.time = now
            self._dirty.add(address)

    def set_services(self, address: PeerAddress, services: int) -> None:
        """Record the services `address` announced in its version message."""
        entry = self._by_address.get(address)
        if entry is not None and entry.services != services:
            entry.services = services
            self._dirty.add(address)

    def select(self, new_only: bool = False, networks: Collection[Network] | None = None) -> AddressInfo | None:
        """An address to dial, or None if the table (or its part on `networks`) is empty."""
        nets = frozenset(networks or ())
        new_count = self.size(in_new=True) if not nets else sum(self.size(n, True) for n in nets)
        tried_count = self.size(in_new=False) if not nets else sum(self.size(n, False) for n in nets)
        if new_count == 0 and (new_only or tried_count == 0):
            return None
        if new_only or tried_count == 0:
            use_tried = False
        elif new_count == 0:
            use_tried = True
        else:
            use_tried = self._rng.getrandbits(1) == 1
        table, filled = (self._tried, self._tried_filled) if use_tried else (self._new, self._new_filled)
        now = self._now()
        factor = 1.0
        while True:
            bucket = self._rng.randrange(len(filled))
            if not filled[bucket]:
                continue
            entry = self._first_in_bucket(table, bucket, nets)
            if entry is None:
                continue
            if self._rng.getrandbits(30) < factor * chance(entry, now) * (1 << 30):
                return entry.snapshot()
            factor *= 1.2

    def get_addresses(self, max_count: int = limits.MAX_ADDR, max_pct: int = GETADDR_MAX_PCT,
                      network: Network | None = None) -> list[TimedAddress]:
        """Random addresses that are not terrible, for a getaddr answer: at most `max_count` and
        `max_pct`% of the table (0 = no limit); optionally one network class."""
        wanted = len(self._random)
        if max_pct:
            wanted = min(max_pct, 100) * wanted // 100
        if max_count:
            wanted = min(wanted, max_count)
        now = self._now()
        found: list[TimedAddress] = []
        for index in range(len(self._random)):
            if len(found) >= wanted:
                break
            self._swap_random(index, self._rng.randrange(index, len(self._random)))
            entry = self._random[index]
            if network is not None and entry.address.net_class != network:
                continue
            if not is_terrible(entry, now):
                found.append(TimedAddress(entry.address, entry.time, entry.services))
        return found

    def select_tried_collision(self) -> AddressInfo | None:
        """The tried occupant one pending collision would evict: the address to test."""
        if not self._collisions:
            return None
        entry = self._rng.choice(sorted(self._collisions, key=lambda pending: _entry_key(pending.address)))
        occupant = self._tried[self._tried_slot(entry.address)]
        return None if occupant is None else occupant.snapshot()

    def resolve_collisions(self) -> None:
        """Settle pending collisions as Core does (see the module docstring)."""
        now = self._now()
        for entry in list(self._collisions):
            occupant = self._tried[self._tried_slot(entry.address)]
            if occupant is None or occupant is entry:  # settled meanwhile (Core checks this too)
                replace = not entry.tried
            elif now - occupant.last_success < REPLACEMENT:
                replace = False  # the occupant answers: it stays
            elif now - occupant.last_try < REPLACEMENT:
                if now - occupant.last_try <= MINUTE:
                    continue  # its test is under way: give it a minute
                replace = True  # tried and did not answer
            elif now - entry.last_success > TEST_WINDOW:
                replace = True  # nobody tested it in time: evict anyway
            else:
                continue
            if replace:
                log.debug("tried collision: %s replaces %s", entry.address, occupant and occupant.address)
                self._good(entry.address, False, now)
            self._collisions.discard(entry)

    def entries(self, tried: bool) -> list[tuple[AddressInfo, AddressPosition]]:
        """Every occupied slot of one table, in bucket order (Core's GetEntries)."""
        table = self._tried if tried else self._new
        found = []
        for index, entry in enumerate(table):
            if entry is not None:
                copies = 1 if tried else len(entry.new_slots)
                found.append((entry.snapshot(), AddressPosition(tried, copies, *divmod(index, BUCKET_SIZE))))
        return found

    def flush(self) -> int:
        """Write every change since the last flush in one atomic batch; return records written."""
        if not self._dirty:
            return 0
        with self._view.write_batch(transaction=True) as batch:
            for address in self._dirty:
                entry = self._by_address.get(address)
                if entry is None:
                    batch.delete(_entry_key(address))
                else:
                    batch.put(_entry_key(address), _encode(entry))
                    entry.stored = True
        written = len(self._dirty)
        self._dirty.clear()
        return written

    # --- table mechanics (Core's AddSingle, Good_, MakeTried, ClearNew, Delete) ---------------

    def _now(self) -> int:
        return int(self._clock())

    def _add_one(self, offer: TimedAddress, source: PeerAddress, source_group: bytes, penalty: int,
                 now: int) -> bool:
        address = offer.address
        if not address.is_routable:
            return False
        if address.without_port() == source:
            penalty = 0  # a peer announcing itself is not aged
        entry = self._by_address.get(address)
        if entry is not None:
            interval = HOUR if now - offer.time < DAY else DAY
            if entry.time < offer.time - interval - penalty:
                entry.time = max(0, offer.time - penalty)
                self._dirty.add(address)
            if entry.services | offer.services != entry.services:
                entry.services |= offer.services
                self._dirty.add(address)
            refs = len(entry.new_slots)
            if offer.time <= entry.time or entry.tried or refs == NEW_BUCKETS_PER_ADDRESS:
                return False
            if refs and self._rng.randrange(1 << refs):  # each extra copy twice as hard
                return False
        else:
            entry = _Entry(address, offer.services, max(0, offer.time - penalty), source)
            self._register(entry)
        bucket = _new_bucket(self._key, address, source_group)
        slot = bucket_position(self._key, True, bucket, address)
        occupant = self._new[bucket * BUCKET_SIZE + slot]
        if occupant is entry:
            return False
        if occupant is None or is_terrible(occupant, now) or (len(occupant.new_slots) > 1 and not entry.new_slots):
            self._clear_new(bucket, slot)
            self._place_new(entry, bucket, slot)
            log.debug("Added %s to new[%d][%d]", address, bucket, slot)
            return True
        if not entry.new_slots:
            self._delete(entry)
        return False

    def _good(self, address: PeerAddress, test_before_evict: bool, now: int) -> bool:
        self._last_good = now
        entry = self._by_address.get(address)
        if entry is None:
            return False
        entry.last_success = now
        entry.last_try = now
        entry.attempts = 0
        self._dirty.add(address)
        if entry.tried or not entry.new_slots:
            return False
        slot = self._tried_slot(address)
        if test_before_evict and self._tried[slot] is not None:
            if len(self._collisions) < TRIED_COLLISIONS_MAX:
                self._collisions.add(entry)
            log.debug("%s collides with %s in tried; %d collisions pending", address,
                      self._tried[slot].address, len(self._collisions))
            return False
        self._make_tried(entry, slot)
        return True

    def _make_tried(self, entry: _Entry, slot: int) -> None:
        for bucket, position in entry.new_slots:
            self._new[bucket * BUCKET_SIZE + position] = None
            self._new_filled[bucket] -= 1
        entry.new_slots.clear()
        self._counts[entry.address.network, False] -= 1
        evicted = self._tried[slot]
        if evicted is not None:  # the occupant goes back to new, where its own source puts it
            self._tried[slot] = None
            self._tried_filled[slot // BUCKET_SIZE] -= 1
            evicted.tried = False
            self._counts[evicted.address.network, True] -= 1
            self._counts[evicted.address.network, False] += 1
            bucket = new_bucket(self._key, evicted.address, evicted.source)
            position = bucket_position(self._key, True, bucket, evicted.address)
            self._clear_new(bucket, position)
            self._place_new(evicted, bucket, position)
            log.debug("%s moved from tried back to new to make room for %s", evicted.address, entry.address)
        self._tried[slot] = entry
        self._tried_filled[slot // BUCKET_SIZE] += 1
        entry.tried = True
        self._counts[entry.address.network, True] += 1
        self._dirty.add(entry.address)

    def _tried_slot(self, address: PeerAddress) -> int:
        bucket = tried_bucket(self._key, address)
        return bucket * BUCKET_SIZE + bucket_position(self._key, False, bucket, address)

    def _place_new(self, entry: _Entry, bucket: int, position: int) -> None:
        self._new[bucket * BUCKET_SIZE + position] = entry
        self._new_filled[bucket] += 1
        entry.new_slots.append((bucket, position))
        self._dirty.add(entry.address)

    def _clear_new(self, bucket: int, position: int) -> None:
        """Empty one new slot; an entry left in no slot is forgotten."""
        entry = self._new[bucket * BUCKET_SIZE + position]
        if entry is None:
            return
        self._new[bucket * BUCKET_SIZE + position] = None
        self._new_filled[bucket] -= 1
        entry.new_slots.remove((bucket, position))
        self._dirty.add(entry.address)
        if not entry.new_slots:
            self._delete(entry)

    def _register(self, entry: _Entry) -> None:
        # An absent address still marked dirty has a stored record waiting to be deleted.
        entry.stored = entry.stored or entry.address in self._dirty
        self._by_address[entry.address] = entry
        entry.random_pos = len(self._random)
        self._random.append(entry)
        self._counts[entry.address.network, entry.tried] += 1

    def _delete(self, entry: _Entry) -> None:
        self._swap_random(entry.random_pos, len(self._random) - 1)
        self._random.pop()
        del self._by_address[entry.address]
        self._counts[entry.address.network, False] -= 1
        self._collisions.discard(entry)
        if entry.stored:
            self._dirty.add(entry.address)  # delete its record at the next flush
        else:
            self._dirty.discard(entry.address)  # never written: nothing to delete

    def _swap_random(self, first: int, second: int) -> None:
        entries = self._random
        entries[first], entries[second] = entries[second], entries[first]
        entries[first].random_pos = first
        entries[second].random_pos = second

    def _first_in_bucket(self, table: list[_Entry | None], bucket: int,
                         networks: frozenset[Network]) -> _Entry | None:
        """From a random slot on, wrapping, the first entry (on `networks`, if given)."""
        base = bucket * BUCKET_SIZE
        start = self._rng.randrange(BUCKET_SIZE)
        for offset in range(BUCKET_SIZE):
            entry = table[base + (start + offset) % BUCKET_SIZE]
            if entry is not None and (not networks or entry.address.network in networks):
                return entry
        return None

    # --- persistence -------------------------------------------------------------------------

    def _load(self, secret: bytes | None) -> None:
        """Take the bucket key and rebuild the tables from the store (see module docstring)."""
        try:
            meta = self._view.get(_META_KEY)
            if meta is None:
                if next(self._view.iterator(include_value=False), None) is not None:
                    raise _Undecodable("records without a header")
                self._start_fresh(secret)
                return
            if len(meta) != _META.size:
                raise _Undecodable(f"header of {len(meta)} bytes")
            version, key = _META.unpack(meta)
            if version != FORMAT_VERSION:
                raise _Undecodable(f"format version {version}, this code reads {FORMAT_VERSION}")
            records = [_decode(k, v) for k, v in self._view.iterator(prefix=_ENTRY_PREFIX, verify_checksums=True)]
        except _Undecodable as error:
            self._discard(str(error), secret)
            return
        except plyvel.Error as error:  # the files themselves are damaged: the store must mend them
            self._store.recover(f"reading the address table: {describe_error(error)}")
            self._discard(describe_error(error), secret)
            return
        if secret is not None and secret != key:
            raise ValueError("the stored addrman table was built with a different secret")
        self._key = key
        lost = 0
        for entry, buckets in sorted(records, key=lambda record: record[0].tried):  # new first, as Core
            if not self._restore(entry, buckets):
                lost += 1
                self._dirty.add(entry.address)  # deleted at the next flush
        if lost:
            log.warning("addrman: dropped %d stored addresses (slot taken or no longer routable)", lost)
        log.info("addrman: loaded %d addresses (%d new, %d tried)", len(self),
                 self.size(in_new=True), self.size(in_new=False))

    def _restore(self, entry: _Entry, buckets: tuple[int, ...]) -> bool:
        """Put a decoded entry back in its slots; False if it no longer fits anywhere."""
        if not entry.address.is_routable:
            return False
        if entry.tried:
            slot = self._tried_slot(entry.address)
            if self._tried[slot] is not None:
                return False
            self._register(entry)
            self._tried[slot] = entry
            self._tried_filled[slot // BUCKET_SIZE] += 1
            return True
        for bucket in buckets:
            position = bucket_position(self._key, True, bucket, entry.address)
            if self._new[bucket * BUCKET_SIZE + position] is None:
                self._new[bucket * BUCKET_SIZE + position] = entry
                self._new_filled[bucket] += 1
                entry.new_slots.append((bucket, position))
        if not entry.new_slots:
            return False
        self._register(entry)
        return True

    def _discard(self, reason: str, secret: bytes | None) -> None:
        discarded = self._store.clear("addrman")
        log.warning("addrman: stored table unusable (%s); discarded %d records, starting empty",
                    reason, discarded)
        self._start_fresh(secret)

    def _start_fresh(self, secret: bytes | None) -> None:
        self._key = secret if secret is not None else os.urandom(32)
        self._view.put(_META_KEY, _META.pack(FORMAT_VERSION, self._key))
