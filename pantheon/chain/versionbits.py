"""BIP9 version bits (Core's `versionbits.cpp`): the state of each deployment a network signals
(`params.Deployment`) for the block after a given parent, and the version a miner sets.

A deployment's state changes only at period boundaries: it is computed for the last block of
each period, from the state of the period before (DEFINED until the median time past reaches the
start time, STARTED while counting, LOCKED_IN once `threshold` blocks of a period signalled,
ACTIVE from `min_activation_height`, FAILED at the timeout), and cached by that block's hash, so
it never goes stale on a reorganisation. Reads only the header tree; never changes anything.
"""

from __future__ import annotations

from typing import Iterable

from pantheon.chain.headers import HeaderTree
from pantheon.params import ALWAYS_ACTIVE, NEVER_ACTIVE, Deployment

__all__ = ["DEFINED", "STARTED", "LOCKED_IN", "ACTIVE", "FAILED", "VERSIONBITS_TOP_BITS", "VersionBits"]

# Core's ThresholdState, as getdeploymentinfo names them.
DEFINED, STARTED, LOCKED_IN, ACTIVE, FAILED = "defined", "started", "locked_in", "active", "failed"
VERSIONBITS_TOP_BITS = 0x2000_0000  # BIP9: the top three bits 001
VERSIONBITS_TOP_MASK = 0xE000_0000


def signals(version: int, deployment: Deployment) -> bool:
    """Core's Condition: a BIP9 version with the deployment's bit set."""
    return (version & VERSIONBITS_TOP_MASK) == VERSIONBITS_TOP_BITS and bool(version >> deployment.bit & 1)


class VersionBits:
    """The deployments' states along a header tree (Core's VersionBitsCache)."""

    def __init__(self, tree: HeaderTree, deployments: Iterable[Deployment]) -> None:
        self.tree = tree
        self.deployments = tuple(deployments)
        self._cache: dict[tuple[str, bytes], str] = {}

    def state(self, deployment: Deployment, parent: bytes) -> str:
        """The deployment's state for a block built on `parent` (Core's GetStateFor)."""
        if deployment.start_time == ALWAYS_ACTIVE:
            return ACTIVE
        if deployment.start_time == NEVER_ACTIVE:
            return FAILED
        tree = self.tree
        period = deployment.period
        last = self._period_end(parent, period)
        pending: list[bytes] = []
        state = DEFINED
        while last is not None:
            known = self._cache.get((deployment.name, last))
            if known is not None:
                state = known
                break
            if tree.median_time_past(last) < deployment.start_time:
                self._cache[deployment.name, last] = DEFINED
                break
            pending.append(last)
            last = self._ancestor(last, tree.height_of(last) - period)
        for last in reversed(pending):
            state = self._next(deployment, state, last)
            self._cache[deployment.name, last] = state
        return state

    def since(self, deployment: Deployment, parent: bytes) -> int:
        """The height from which a block on `parent` has been in its state (Core's
        GetStateSinceHeightFor): 0 for DEFINED and the deployments outside the state machine."""
        state = self.state(deployment, parent)
        if state == DEFINED or deployment.start_time in (ALWAYS_ACTIVE, NEVER_ACTIVE):
            return 0
        tree = self.tree
        period = deployment.period
        last = self._period_end(parent, period)
        assert last is not None  # not DEFINED: a period has passed
        while (earlier := self._ancestor(last, tree.height_of(last) - period)) is not None \
                and self.state(deployment, earlier) == state:
            last = earlier
        return tree.height_of(last) + 1

    def block_version(self, parent: bytes) -> int:
        """Core's ComputeBlockVersion: the top bits, and the bit of each deployment STARTED or
        LOCKED_IN (signalling until it is active)."""
        version = VERSIONBITS_TOP_BITS
        for deployment in self.deployments:
            if self.state(deployment, parent) in (STARTED, LOCKED_IN):
                version |= 1 << deployment.bit
        return version

    def _next(self, deployment: Deployment, state: str, last: bytes) -> str:
        """The state of the period after the one ending at `last`."""
        tree = self.tree
        if state == DEFINED:
            return STARTED if tree.median_time_past(last) >= deployment.start_time else DEFINED
        if state == STARTED:
            count = 0
            block = last
            for _ in range(deployment.period):
                header = tree.header(block)
                count += signals(header.version, deployment)
                block = header.prev_block
            if count >= deployment.threshold:
                return LOCKED_IN
            return FAILED if tree.median_time_past(last) >= deployment.timeout else STARTED
        if state == LOCKED_IN:
            return ACTIVE if tree.height_of(last) + 1 >= deployment.min_activation_height else LOCKED_IN
        return state  # ACTIVE and FAILED are final

    def _period_end(self, parent: bytes, period: int) -> bytes | None:
        """The last block of the period before the one a child of `parent` is in."""
        height = self.tree.height_of(parent)
        return self._ancestor(parent, height - (height + 1) % period)

    def _ancestor(self, block: bytes, height: int) -> bytes | None:
        return self.tree.ancestor(block, height) if height >= self.tree.height_of(self.tree.anchor) else None
