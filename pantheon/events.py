"""What a node tells its observers: one subscription API for metrics, RPC, the embedding
application and anything else that watches a `Node` without being part of it.

A `Signal` is a list of callbacks called in order, in the greenlet that emits. An observer is
never allowed to break the node: an exception raised by a callback is logged and the others are
still called. Callbacks must return quickly (they run inside the node's handlers); one that has
slow work to do spawns it. Emitting never blocks and never yields.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable, Generic, ParamSpec

if TYPE_CHECKING:
    from pantheon.net.peer import Peer, Transition
    from pantheon.primitives import Block, Tx

__all__ = ["Signal", "NodeEvents"]

log = logging.getLogger("pantheon.events")

P = ParamSpec("P")


class Signal(Generic[P]):
    """One kind of event: `subscribe(callback)` returns a function that unsubscribes it."""

    __slots__ = ("name", "_callbacks")

    def __init__(self, name: str) -> None:
        self.name = name
        self._callbacks: list[Callable[P, object]] = []

    def subscribe(self, callback: Callable[P, object]) -> Callable[[], None]:
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return unsubscribe

    def emit(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for callback in tuple(self._callbacks):
            try:
                callback(*args, **kwargs)
            except Exception:  # an observer's bug must not stop the node
                log.exception("%s observer %r failed", self.name, callback)

    def __len__(self) -> int:
        return len(self._callbacks)


class NodeEvents:
    """The events a node emits, each a `Signal` with the arguments its callbacks receive."""

    def __init__(self) -> None:
        #: (block, height) after a block joined the active chain.
        self.block_connected: Signal[[Block, int]] = Signal("block_connected")
        #: (block, height) after a block left the active chain in a reorganisation.
        self.block_disconnected: Signal[[Block, int]] = Signal("block_disconnected")
        #: (seconds) the node took to check, store and connect one block it was given.
        self.block_processed: Signal[[float]] = Signal("block_processed")
        #: (how, transactions asked for, bytes saved) per new block a peer gave us: how is
        #: "compact" (rebuilt from a BIP152 cmpctblock; the bytes saved are the full block's
        #: size less the cmpctblock and blocktxn payloads) or "full" (a block message: 0, 0).
        self.block_received: Signal[[str, int, int]] = Signal("block_received")
        #: (tx) after a transaction entered the mempool (ours, a peer's, or a resolved orphan).
        self.transaction_accepted: Signal[[Tx]] = Signal("transaction_accepted")
        #: (tx, reason) after a transaction left the mempool: Core's MemPoolRemovalReason in lower
        #: case ("block", "conflict", "reorg", "sizelimit"; see Mempool.removal_listeners).
        self.transaction_removed: Signal[[Tx, str]] = Signal("transaction_removed")
        #: (peer, transition) on every peer state change, after the network manager's bookkeeping.
        self.peer_changed: Signal[[Peer, Transition]] = Signal("peer_changed")
        #: (direction "sent"/"received", command, bytes on the wire with the header) per message.
        self.message: Signal[[str, str, int]] = Signal("message")
