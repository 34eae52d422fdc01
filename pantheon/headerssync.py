"""Low-work headers sync with one peer: Bitcoin Core's `HeadersSyncState` (headerssync.cpp), so a
peer cannot fill the header tree with a cheap chain, nor make us keep its headers in memory.

A peer's headers that start on our tree but claim less work than the anti-DoS threshold are not
stored. The node starts a sync here instead (when the batch is a full 2,000), in two phases:

- PRESYNC: each header is checked for continuity and a permitted difficulty transition only (no
  timestamps: they need the ancestors' times), its work added up; one bit of a salted hash of every
  `commitment_period`-th header (from a random offset) is kept. Nothing else is kept, so memory is
  bounded by the commitments (at most 6 headers a second since the start's median time past).
  When the work reaches the threshold the chain is worth having: REDOWNLOAD.
- REDOWNLOAD: the same headers are asked for again from the start, checked against the kept bits
  (a peer that serves another chain the second time fails a commitment), and buffered; headers
  more than `redownload_buffer_size` behind the newest, and all of them once the work is reached
  again, are handed to the caller, which adds them to the tree like any others.

The state never touches the network or the tree: `process_next_headers` says what to hand on and
whether to ask for more, `next_request_locator` what to ask with. Either phase ends (FINAL) on
the first surprise, which is not punished: the peer may simply have reorganised.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import secrets
from collections import deque
from dataclasses import dataclass, field

from pantheon.chain.headers import MAX_FUTURE_BLOCK_TIME, HeaderTree
from pantheon.chain.pow import block_work, permitted_difficulty_transition
from pantheon.params import Network
from pantheon.primitives import BlockHeader

__all__ = ["ChainStart", "HeadersSyncParams", "HeadersSyncState", "ProcessingResult", "SyncPhase", "headers_sync_params"]

log = logging.getLogger("pantheon.headerssync")


@dataclass(frozen=True)
class HeadersSyncParams:
    """Core's HeadersSyncParams (chainparams.cpp, made by headerssync-params.py)."""

    commitment_period: int
    redownload_buffer_size: int


_MAIN_PARAMS = HeadersSyncParams(commitment_period=641, redownload_buffer_size=15218)
_TEST_PARAMS = HeadersSyncParams(commitment_period=275, redownload_buffer_size=7017)


def headers_sync_params(network: Network) -> HeadersSyncParams:
    """Core's values: mainnet's, and the test networks' (regtest included)."""
    return _MAIN_PARAMS if network.name == "main" else _TEST_PARAMS


class SyncPhase(enum.Enum):
    PRESYNC = "presync"
    REDOWNLOAD = "redownload"
    FINAL = "final"


@dataclass
class ProcessingResult:
    """What a batch gave: `success` (False: the sync is over, nothing to use), `request_more` (ask
    with `next_request_locator`), and the headers now proven to carry enough work."""

    success: bool = False
    request_more: bool = False
    ready: list[BlockHeader] = field(default_factory=list)


@dataclass(frozen=True)
class ChainStart:
    """The header on our tree the peer's chain starts from."""

    hash: bytes
    height: int
    work: int
    bits: int
    median_time_past: int
    locator: tuple[bytes, ...]

    @classmethod
    def from_tree(cls, tree: HeaderTree, block_hash: bytes) -> ChainStart:
        return cls(block_hash, tree.height_of(block_hash), tree.chain_work(block_hash), tree.header(block_hash).bits,
                   tree.median_time_past(block_hash), tuple(tree.locator(block_hash)))


class HeadersSyncState:
    """One peer's low-work headers sync (see the module notes)."""

    def __init__(self, peer_id: int, network: Network, start: ChainStart, minimum_required_work: int,
                 now: float, params: HeadersSyncParams | None = None) -> None:
        self.peer_id = peer_id
        self.network = network
        self.params = params or headers_sync_params(network)
        self.start = start
        self.minimum_required_work = minimum_required_work
        self.phase = SyncPhase.PRESYNC
        self._commit_offset = secrets.randbelow(self.params.commitment_period)
        self._salt = secrets.token_bytes(16)
        # A valid chain cannot hold more than 6 blocks a second (the median-time-past rule) since
        # the start, up to the future limit: more commitments than that is a peer feeding us junk.
        seconds = int(now) - start.median_time_past + MAX_FUTURE_BLOCK_TIME
        self._max_commitments = 6 * seconds // self.params.commitment_period
        self._commitments: deque[bool] = deque()
        self._last_hash = start.hash
        self._last_bits = start.bits
        self.presync_work = start.work
        self.presync_height = start.height
        self._redownloaded: deque[BlockHeader] = deque()
        self._redownload_height = start.height
        self._redownload_last_hash = start.hash
        self._redownload_work = start.work
        self._release_all = False
        log.debug("Initial headers sync started with peer=%d: height=%d, max_commitments=%d, min_work=%064x",
                  peer_id, start.height, self._max_commitments, minimum_required_work)

    def process_next_headers(self, headers: list[BlockHeader], full: bool) -> ProcessingResult:
        """Core's ProcessNextHeaders: one headers message (`full`: 2,000 of them, so more may come)."""
        result = ProcessingResult()
        if not headers or self.phase is SyncPhase.FINAL:
            return result
        if self.phase is SyncPhase.PRESYNC:
            result.success = self._presync(headers)
            if result.success:
                if full or self.phase is SyncPhase.REDOWNLOAD:
                    result.request_more = True
                else:
                    self._abort("incomplete headers message", self.presync_height)
        else:
            result.success = all(self._redownload(header) for header in headers)
            if result.success:
                result.ready = self._pop_ready()
                if not self._redownloaded and self._release_all:
                    log.debug("Initial headers sync complete with peer=%d: releasing all at height=%d (redownload phase)",
                              self.peer_id, self._redownload_height)
                elif full:
                    result.request_more = True
                else:
                    self._abort("incomplete headers message", self._redownload_height)
        if not (result.success and result.request_more):
            self._finalize()
        return result

    def next_request_locator(self) -> list[bytes]:
        """Core's NextHeadersRequestLocator: on from the last header received in this phase, then
        the start's own locator."""
        last = self._last_hash if self.phase is SyncPhase.PRESYNC else self._redownload_last_hash
        return [last, *self.start.locator]

    # --- PRESYNC -----------------------------------------------------------------------------

    def _presync(self, headers: list[BlockHeader]) -> bool:
        if headers[0].prev_block != self._last_hash:
            return self._abort("non-continuous headers", self.presync_height)
        for header in headers:
            height = self.presync_height + 1
            if not permitted_difficulty_transition(self.network, height, self._last_bits, header.bits):
                return self._abort("invalid difficulty transition", height)
            if height % self.params.commitment_period == self._commit_offset:
                self._commitments.append(self._commitment(header.hash))
                if len(self._commitments) > self._max_commitments:
                    return self._abort("exceeded max commitments", height)
            self.presync_work += block_work(header.bits)
            self._last_hash, self._last_bits = header.hash, header.bits
            self.presync_height = height
        if self.presync_work >= self.minimum_required_work:
            self.phase = SyncPhase.REDOWNLOAD
            log.debug("Initial headers sync transition with peer=%d: reached sufficient work at height=%d, "
                      "redownloading from height=%d", self.peer_id, self.presync_height, self.start.height)
        return True

    # --- REDOWNLOAD --------------------------------------------------------------------------

    def _redownload(self, header: BlockHeader) -> bool:
        height = self._redownload_height + 1
        if header.prev_block != self._redownload_last_hash:
            return self._abort("non-continuous headers", height)
        previous_bits = self._redownloaded[-1].bits if self._redownloaded else self.start.bits
        if not permitted_difficulty_transition(self.network, height, previous_bits, header.bits):
            return self._abort("invalid difficulty transition", height)
        self._redownload_work += block_work(header.bits)
        if self._redownload_work >= self.minimum_required_work:
            self._release_all = True
        # Once the work is reached again the chain is proven: the peer may have extended it since,
        # past the last commitment, so commitments stop being checked there.
        if not self._release_all and height % self.params.commitment_period == self._commit_offset:
            if not self._commitments:
                return self._abort("commitment overrun", height)
            if self._commitment(header.hash) != self._commitments.popleft():
                return self._abort("commitment mismatch", height)
        self._redownloaded.append(header)
        self._redownload_height = height
        self._redownload_last_hash = header.hash
        return True

    def _pop_ready(self) -> list[BlockHeader]:
        ready = []
        buffered = self._redownloaded
        while len(buffered) > self.params.redownload_buffer_size or (buffered and self._release_all):
            ready.append(buffered.popleft())
        return ready

    # --- both --------------------------------------------------------------------------------

    def _commitment(self, block_hash: bytes) -> bool:
        """One bit of a salted hash of the header (Core: a salted SipHash), unknowable to the peer."""
        return bool(hashlib.blake2b(block_hash, key=self._salt, digest_size=1).digest()[0] & 1)

    def _abort(self, why: str, height: int) -> bool:
        log.debug("Initial headers sync aborted with peer=%d: %s at height=%d (%s phase)", self.peer_id, why, height,
                  self.phase.value)
        return False

    def _finalize(self) -> None:
        """Free what the sync kept; the state is spent."""
        self._commitments.clear()
        self._redownloaded.clear()
        self.phase = SyncPhase.FINAL
