"""InventorySet: memory per entry at 1,000,000 entries and filter_new lookups per second.

Memory. The compiled twin's figure is its own accounting (`nbytes`: the two arrays it allocates
in __cinit__), cross-checked by tracemalloc (which traces PyMem_Calloc) and by the RSS growth of
a fresh process that builds a set and fills it to 1,000,000 entries (every page touched). The
pure twin's figure is tracemalloc at construction, with its buffers checked unmoved after the
fill. The baseline is a Python set of 1,000,000 32-byte bytes objects, traced in the same run.

Speed. A set of Core's per-peer size (50,000 entries, full) filters 50,000-entry inv payloads
with add=False, so every call sees the same set: half known, half new (the target); all known
(lookups alone); all new (bound by building a (type, hash) tuple per entry). Then add=True,
alternating two payloads, so each call inserts 50,000 and evicts 50,000. The baseline does the
same work with a Python set (and a deque for FIFO order): unpack, test, deduplicate, build the
list, add and evict.

False positives. 10,000,000 lookups of never-added hashes in the full 50,000-entry set; the
bound is 2 * 50,000 / 2**64 per lookup, against Core's rolling bloom filter at 1e-6.
"""

from __future__ import annotations

import collections
import gc
import json
import os
import struct
import subprocess
import sys
import tracemalloc
from pathlib import Path

from benchmarks.common import Figure, rate
from pantheon import _wire, _wire_py, limits

ENTRIES = 1_000_000
PEER_CAPACITY = limits.MAX_INV_ENTRIES  # Core: m_tx_inventory_known_filter{50000, 0.000001}
CORE_FP_RATE = 1e-6
_ENTRY = struct.Struct("<I32s")

_RSS_SCRIPT = """
import json, sys
from pantheon import _wire
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
count = int(sys.argv[1])
before = rss()
s = _wire.InventorySet(count, seed=1)
built = rss()
for i in range(count):
    s.add(i.to_bytes(32, "little"))
print(json.dumps({"nbytes": s.nbytes, "built": built - before, "filled": rss() - before, "len": len(s)}))
"""


def _payload(hashes: list[bytes], kind: int = 1) -> bytes:
    count = len(hashes)
    prefix = bytes([count]) if count < 0xFD else b"\xfd" + count.to_bytes(2, "little")
    return prefix + b"".join(_ENTRY.pack(kind, item) for item in hashes)


def _random_hashes(count: int) -> list[bytes]:
    blob = os.urandom(32 * count)
    return [blob[i : i + 32] for i in range(0, len(blob), 32)]


def _traced(build):
    """(object, bytes tracemalloc saw allocated while building it and still held)."""
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        built = build()
        return built, tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()


def _fill(s, count: int) -> None:
    for start in range(0, count, PEER_CAPACITY):
        s.filter_new(_payload([i.to_bytes(32, "little") for i in range(start, min(count, start + PEER_CAPACITY))]))


def _memory(quick: bool) -> list[Figure]:
    py_set, set_bytes = _traced(lambda: {i.to_bytes(32, "little") for i in range(ENTRIES)})
    del py_set
    per_set = set_bytes / ENTRIES
    baseline = {"baseline": "Python set of bytes", "baseline_value": per_set}

    compiled, compiled_traced = _traced(lambda: _wire.InventorySet(ENTRIES, seed=1))
    _fill(compiled, ENTRIES)
    assert len(compiled) == ENTRIES
    nbytes = compiled.nbytes
    del compiled

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(Path(_wire.__file__).resolve().parent.parent), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(ENTRIES)], env=env,
                          capture_output=True, text=True, check=True)
    rss = json.loads(done.stdout)
    assert rss["len"] == ENTRIES and rss["nbytes"] == nbytes

    pure, pure_traced = _traced(lambda: _wire_py.InventorySet(ENTRIES, seed=1))
    buffers = (pure._ring.buffer_info(), pure._table.buffer_info())
    pure_fill = 100_000 if quick else ENTRIES
    _fill(pure, pure_fill)
    assert (pure._ring.buffer_info(), pure._table.buffer_info()) == buffers and len(pure) == pure_fill
    del pure

    per_entry = nbytes / ENTRIES
    return [
        Figure("invset bytes/entry @1M, compiled (nbytes)", per_entry, "B", "<= 40", per_entry <= 40, **baseline),
        Figure("  cross-check: tracemalloc of its PyMem_Calloc", compiled_traced / ENTRIES, "B",
               "= nbytes +-1%", abs(compiled_traced - nbytes) <= nbytes / 100),
        Figure("  cross-check: RSS growth, fresh process, filled", rss["filled"] / ENTRIES, "B",
               "= nbytes +-10%", abs(rss["filled"] - nbytes) <= nbytes / 10),
        Figure(f"invset bytes/entry @1M, pure (tracemalloc; {pure_fill:,} filled)", pure_traced / ENTRIES, "B",
               "reported", True, **baseline),
    ]


def _speed(quick: bool) -> list[Figure]:
    timing = {"repeat": 2 if quick else 5, "min_time": 0.1 if quick else 0.3}
    known = _random_hashes(PEER_CAPACITY)
    unknown = _random_hashes(PEER_CAPACITY)
    mixed = _payload([item for pair in zip(known[::2], unknown[::2]) for item in pair])
    all_known = _payload(known)
    all_new = _payload(unknown)
    fresh = [_payload(_random_hashes(PEER_CAPACITY)) for _ in range(2)]

    compiled = _wire.InventorySet(PEER_CAPACITY)
    pure = _wire_py.InventorySet(PEER_CAPACITY)
    for s in (compiled, pure):
        s.filter_new(all_known)
        assert len(s.filter_new(mixed, add=False)) == PEER_CAPACITY // 2

    # The baseline: a Python set (and, for add=True, a deque for FIFO order) doing the same work.
    members = set(known)
    order = collections.deque(known)

    def set_filter(payload: bytes, add: bool = False) -> list[tuple[int, bytes]]:
        view = memoryview(payload)
        start = 1 if view[0] < 0xFD else 3
        seen: set[bytes] = set()
        new = []
        for kind, item in _ENTRY.iter_unpack(view[start:]):
            if item not in members and item not in seen:
                seen.add(item)
                new.append((kind, item))
        if add:
            for _, item in new:
                members.discard(order.popleft())
                members.add(item)
                order.append(item)
        return new

    def alternate(filter_new):
        turn = [0]

        def once() -> None:  # each call adds 50,000 new entries and evicts the other 50,000
            turn[0] ^= 1
            assert len(filter_new(fresh[turn[0]], add=True)) == PEER_CAPACITY

        return once

    assert set_filter(mixed) == compiled.filter_new(mixed, add=False)
    figures = []
    for name, payload, target in (("filter_new/s, compiled, 50k inv half new", mixed, True),
                                  ("  all known", all_known, True),
                                  ("  all new (a tuple built for each)", all_new, False)):
        baseline = rate(lambda: set_filter(payload), PEER_CAPACITY, **timing)
        value = rate(lambda: compiled.filter_new(payload, add=False), PEER_CAPACITY, **timing)
        figures.append(Figure(name, value, "/s", ">= 5M" if target else "reported",
                              value >= 5_000_000 or not target,
                              baseline="Python set", baseline_value=baseline))
    baseline = rate(alternate(set_filter), PEER_CAPACITY, **timing)
    value = rate(alternate(compiled.filter_new), PEER_CAPACITY, **timing)
    figures.append(Figure("  add=True, all new, 50k evicted", value, "/s", "reported", True,
                          baseline="Python set+deque", baseline_value=baseline))
    value = rate(lambda: pure.filter_new(mixed, add=False), PEER_CAPACITY, repeat=1, min_time=0)
    figures.append(Figure("filter_new/s, pure, 50k inv half new", value, "/s", "reported", True,
                          baseline="Python set", baseline_value=figures[0].baseline_value))
    return figures


def _false_positives(quick: bool) -> list[Figure]:
    s = _wire.InventorySet(PEER_CAPACITY)
    s.filter_new(_payload(_random_hashes(PEER_CAPACITY)))
    lookups = 0
    false_positives = 0
    for _ in range(20 if quick else 200):
        new = s.filter_new(_payload(_random_hashes(PEER_CAPACITY)), add=False)
        lookups += PEER_CAPACITY
        false_positives += PEER_CAPACITY - len(new)
    bound = lookups * 2 * PEER_CAPACITY / 2**64
    return [
        Figure(f"false positives in {lookups:,} lookups @50k", false_positives, "",
               f"0 (expected {bound:.1e})", false_positives == 0,
               baseline="Core bloom 1e-6, expected", baseline_value=lookups * CORE_FP_RATE),
    ]


def run(quick: bool) -> list[Figure]:
    return [*_memory(quick), *_speed(quick), *_false_positives(quick)]
