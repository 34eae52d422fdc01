"""Python's cyclic garbage collector, told to run less often in a node's process.

Why: CPython collects its youngest generation every 700 net allocations of container objects
(its default threshold). A node allocates tens of thousands of them per block it relays or
connects (transactions, inputs, outpoints, coins, undo records), nearly all freed by reference
counting before any collection could matter; but each collection still walks every young object
alive at that moment, and every tenth promotes them toward older generations whose collections
walk more. Relaying a block of 2,000 mempool transactions took dozens of young collections in its
few milliseconds of checks (`python -m benchmarks blockrelay`: the README gives the figures).
With `YOUNG_THRESHOLD` the young generation is collected about 70 times less often, each
collection doing the work of the ones it replaces, so the work is the same but comes in fewer,
larger pieces; cyclic garbage (rare: Pantheon's objects do not point back at their owners)
waits a little longer to be freed.

`gc.freeze()` also moves everything allocated before the call (modules, the chain state's index
loaded at start) into a generation no collection walks again.

`pantheon-gevent` calls `collect_less_often()` once its node has started; an application embedding
the node may call it too (it changes the whole process's collector).
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "collect_less_often"]

#: Net allocations of container objects between two collections of the youngest generation.
YOUNG_THRESHOLD = 50_000


def collect_less_often() -> None:
    """Freeze what the process holds now and raise the young generation's threshold (the older
    generations' stay CPython's)."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
