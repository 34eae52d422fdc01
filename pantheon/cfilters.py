"""BIP157 serving: `getcfilters`, `getcfheaders` and `getcfcheckpt` answered from the block filter
index with Bitcoin Core's limits and reactions (net_processing's PrepareBlockFilterRequest and
ProcessGetCFilters / ProcessGetCFHeaders / ProcessGetCFCheckPt). It owns no state: the index is
`chain/filterindex.py`, the messages' codecs are the wire core's.

Every request is checked as Core checks it, in Core's order, and a failed check disconnects the
peer (never discourages it), logged with Core's words:
1. the filter type is basic and this node serves filters (-peerblockfilters, NODE_COMPACT_FILTERS
   in our services): else "peer requested unsupported block filter type";
2. the stop hash names a block we know that we would serve (Core's BlockRequestAllowed: on the
   active chain, or fully validated and less than a month, in time and in proof-equivalent time,
   behind the best header): else "peer requested invalid block hash";
3. start height at most the stop block's: else "sent invalid getcfilters/getcfheaders with start
   height A and stop height B";
4. at most 1,000 filters or 2,000 filter headers: else "requested too many cfilters/cfheaders".
Filters are queued as the peer reads them (the send queue stays bounded). A request the index
cannot answer yet (it is still being built) is dropped without an answer or a
disconnect, as Core does. Answers: one `cfilter` per block in height order; one `cfheaders`; one
`cfcheckpt` with the filter header of every 1,000th block up to the stop block.
"""

from __future__ import annotations

import logging

from pantheon import limits, wire
from pantheon.chain.chainstate import Chainstate
from pantheon.chain.filterindex import BlockFilterIndex
from pantheon.chain.pow import block_work
from pantheon.frames import Frame
from pantheon.hashing import hash_to_hex
from pantheon.net.peer import Handler, Peer
from pantheon.primitives import CFCheckpt, CFHeaders, CFilter
from pantheon.protocol import BASIC_FILTER, CFCHECKPT_INTERVAL, FILTER_TYPE_NAMES

__all__ = ["FilterServer", "STALE_RELAY_AGE_LIMIT"]

log = logging.getLogger("pantheon.cfilters")

#: Core's STALE_RELAY_AGE_LIMIT: a block off the active chain is served this long (30 days).
STALE_RELAY_AGE_LIMIT = 30 * 24 * 60 * 60
#: Core's getcfcheckpt has no range limit: any stop height is one request.
_NO_LIMIT = 0xFFFFFFFF


class FilterServer:
    """The BIP157 handlers of one node: `handlers()` for the network manager."""

    def __init__(self, chain: Chainstate, index: BlockFilterIndex | None, serving: bool,
                 write_timeout: float) -> None:
        """`serving`: -peerblockfilters (the index must then be given). `write_timeout`: how long
        the answer to getcfilters waits for the peer to read before each filter."""
        if serving and index is None:
            raise ValueError("serving compact block filters needs the block filter index")
        self._chain = chain
        self._index = index
        self._serving = serving
        self._write_timeout = write_timeout

    def handlers(self) -> dict[str, Handler]:
        return {"getcfilters": self._on_getcfilters, "getcfheaders": self._on_getcfheaders,
                "getcfcheckpt": self._on_getcfcheckpt}

    def _request_allowed(self, block_hash: bytes) -> bool:
        """Core's BlockRequestAllowed."""
        chain = self._chain
        if chain.contains(block_hash):
            return True
        tree = chain.headers
        if not chain.is_validated(block_hash):
            return False
        best = tree.header(tree.tip)
        if best.timestamp - tree.header(block_hash).timestamp >= STALE_RELAY_AGE_LIMIT:
            return False
        behind = tree.chain_work(tree.tip) - tree.chain_work(block_hash)
        return behind * chain.network.pow_target_spacing // block_work(best.bits) < STALE_RELAY_AGE_LIMIT

    def _prepare(self, peer: Peer, filter_type: int, start_height: int, stop_hash: bytes,
                 max_height_diff: int) -> tuple[BlockFilterIndex, int] | None:
        """Core's PrepareBlockFilterRequest: (index, stop height), or None after disconnecting
        the peer (or, when the index is missing, without)."""
        if filter_type != BASIC_FILTER or not self._serving:
            peer.disconnect(f"peer requested unsupported block filter type: {filter_type}")
            return None
        tree = self._chain.headers
        if stop_hash not in tree or not self._request_allowed(stop_hash):
            peer.disconnect(f"peer requested invalid block hash: {hash_to_hex(stop_hash)}")
            return None
        stop_height = tree.height_of(stop_hash)
        if start_height > stop_height:
            peer.disconnect(f"peer sent invalid getcfilters/getcfheaders with start height {start_height} "
                            f"and stop height {stop_height}")
            return None
        if stop_height - start_height >= max_height_diff:
            peer.disconnect(f"peer requested too many cfilters/cfheaders: {stop_height - start_height + 1} / "
                            f"{max_height_diff}")
            return None
        assert self._index is not None  # serving implies the index
        return self._index, stop_height

    def _on_getcfilters(self, peer: Peer, frame: Frame) -> None:
        request = wire.decode_getcfilters(frame.payload)
        prepared = self._prepare(peer, request.filter_type, request.start_height, request.stop_hash,
                                 limits.MAX_GETCFILTERS)
        if prepared is None:
            return
        found = prepared[0].lookup_range(request.start_height, request.stop_hash)
        if found is None:
            return self._not_indexed(request.filter_type, request.start_height, request.stop_hash)
        for block_hash, entry in found:
            # 1,000 mainnet filters run to tens of MB, past the send queue's limit: wait for the
            # peer to read, as the getdata handler does between blocks.
            if not peer.wait_writable(self._write_timeout):
                return
            peer.send("cfilter", wire.encode_cfilter(CFilter(request.filter_type, block_hash, entry.filter)))

    def _on_getcfheaders(self, peer: Peer, frame: Frame) -> None:
        request = wire.decode_getcfheaders(frame.payload)
        prepared = self._prepare(peer, request.filter_type, request.start_height, request.stop_hash,
                                 limits.MAX_CFHEADERS)
        if prepared is None:
            return
        index = prepared[0]
        previous_header = bytes(32)
        if request.start_height > 0:
            previous = index.lookup(self._chain.headers.ancestor(request.stop_hash, request.start_height - 1))
            if previous is None:
                return self._not_indexed(request.filter_type, request.start_height, request.stop_hash)
            previous_header = previous.header
        found = index.lookup_range(request.start_height, request.stop_hash)
        if found is None:
            return self._not_indexed(request.filter_type, request.start_height, request.stop_hash)
        peer.send("cfheaders", wire.encode_cfheaders(CFHeaders(
            request.filter_type, request.stop_hash, previous_header, tuple(entry.filter_hash for _, entry in found))))

    def _on_getcfcheckpt(self, peer: Peer, frame: Frame) -> None:
        request = wire.decode_getcfcheckpt(frame.payload)
        prepared = self._prepare(peer, request.filter_type, 0, request.stop_hash, _NO_LIMIT)
        if prepared is None:
            return
        index, stop_height = prepared
        headers = []
        for height in range(CFCHECKPT_INTERVAL, stop_height + 1, CFCHECKPT_INTERVAL):
            entry = index.lookup(self._chain.headers.ancestor(request.stop_hash, height))
            if entry is None:
                return self._not_indexed(request.filter_type, 0, request.stop_hash)
            headers.append(entry.header)
        peer.send("cfcheckpt", wire.encode_cfcheckpt(CFCheckpt(request.filter_type, request.stop_hash, tuple(headers))))

    @staticmethod
    def _not_indexed(filter_type: int, start_height: int, stop_hash: bytes) -> None:
        log.debug("Failed to find block filter in index: filter_type=%s, start_height=%d, stop_hash=%s",
                  FILTER_TYPE_NAMES.get(filter_type, filter_type), start_height, hash_to_hex(stop_hash))
