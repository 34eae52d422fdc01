"""Fuzz InventorySet: random payloads and operation sequences, both twins and the reference model.

    python tests/fuzz/fuzz_invset.py [--twins cy,py] [--random] [--seconds N] [libFuzzer flags]

e.g. `python tests/fuzz/fuzz_invset.py -max_total_time=60` (atheris, coverage-guided over the pure
twin's Python code) or `--random --seconds 60` (random bytes; also used when atheris is missing).
`--twins` picks the twins under test: cy (compiled pantheon._wire) and/or py (pantheon._wire_py).

Each input is a script (see `run_input`): a capacity, a seed, a few attacker-chosen hashes, then
operations: add, lookup, filter_new on a well-formed inv, on a mangled one (cut, extended,
non-canonical or over-cap count, over-cap payload), on raw bytes, clear, a malformed hash. After
every operation:
  - only the expected errors escape: ProtocolError from filter_new, ValueError or TypeError for a
    malformed hash; anything else fails the input;
  - the twins agree: the same answer and length, or the same error class and message; at the end
    of the input, the same table byte for byte;
  - the reference model (tests/helpers/invset_model.py) agrees: FIFO membership with no false negative,
    filter_new's entries; raw payloads raise the class `pantheon.spec` raises or parse as it does;
  - memory stays fixed: `nbytes` never changes and the pure twin's arrays are never reallocated
    (the compiled twin allocates only in __cinit__; both are checked by tracemalloc in
    tests/wire/test_invset.py).
libFuzzer ends an atheris run with `Done N runs in T second(s)` (N inputs tried); a --random run
ends with `fuzz_invset: N inputs, M operations (twins ...)`.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import random
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the reference model

from helpers.invset_model import Model, inv_payload  # noqa: E402
from helpers.twins import attempt  # noqa: E402

TWINS = {"cy": "pantheon._wire", "py": "pantheon._wire_py"}
MAX_OPERATIONS = 48
INV_TYPES = (0, 1, 2, 3, 4, 5, 0x40000001, 0x40000002, 0xFFFFFFFF)
COMPACT_FORMS = ((b"\xfd", 2), (b"\xfe", 4), (b"\xff", 8))
BOUNDARIES = (0, 1, 15, 0xFC, 0xFD, 0xFFFF, 0x10000, 50_000, 50_001, 2**32 - 1, 2**32, 2**64 - 1)

twins: list[ModuleType] = []
errors: Any = None
spec: Any = None
cap_payload = b""
stats = {"inputs": 0, "operations": 0}


def load(names: list[str]) -> None:
    global errors, spec, cap_payload
    twins[:] = [importlib.import_module(TWINS[name]) for name in names]
    from pantheon import errors as errors_module
    from pantheon import limits, spec as spec_module

    errors, spec = errors_module, spec_module
    cap_payload = b"\x00" + bytes(limits.max_payload("inv"))  # one byte over the cap


class Reader:
    """The fuzz input read front to back; past its end every read gives zeros."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    @property
    def done(self) -> bool:
        return self.pos >= len(self.data)

    def take(self, size: int) -> bytes:
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk.ljust(size, b"\x00")

    def byte(self) -> int:
        return self.take(1)[0]


def same_everywhere(sets: list[Any], call: Callable[[Any], Any], allowed: tuple[type, ...] = ()) -> tuple[Any, ...]:
    results = [attempt(call, target) for target in sets]  # compared across twins, then against what is allowed
    assert all(result == results[0] for result in results), f"twins disagree: {results}"
    assert all(len(target) == len(sets[0]) for target in sets), "twins disagree on len"
    if results[0][0] == "error" and not issubclass(results[0][1], allowed):
        raise AssertionError(f"unexpected {results[0][1].__name__}: {results[0][2]}")
    return results[0]


def mangle(reader: Reader, payload: bytes) -> bytes:
    how = reader.byte() % 4
    if how == 0:
        return payload[: reader.byte() % (len(payload) + 1)]
    if how == 1:
        return payload + reader.take(1 + reader.byte() % 40)
    if how == 2:  # a count near a CompactSize or cap boundary, in any of the wide forms
        prefix, width = COMPACT_FORMS[reader.byte() % len(COMPACT_FORMS)]
        value = BOUNDARIES[reader.byte() % len(BOUNDARIES)] + reader.byte() % 3 - 1
        return prefix + (value % (1 << (8 * width))).to_bytes(width, "little") + payload[1:]
    return cap_payload


def spec_outcome(payload: bytes) -> tuple[Any, ...]:
    try:
        parsed = spec.parse_payload("inv", payload)
    except errors.ProtocolError as error:
        return ("error", type(error))
    return ("ok", [(vector.type, vector.hash) for vector in parsed.inventory])


def run_input(data: bytes) -> None:
    """Run one fuzz input as a script against every loaded twin and the model."""
    reader = Reader(data)
    capacity = 1 + reader.byte() % 40
    seed = int.from_bytes(reader.take(16), "little")
    sets = [twin.InventorySet(capacity, seed=seed) for twin in twins]
    nbytes = sets[0].nbytes
    pure_storage = [(s._ring.buffer_info(), s._table.buffer_info()) for s in sets if hasattr(s, "_ring")]
    model = Model(capacity, sets[0]._fingerprint)
    pool = [reader.take(32) for _ in range(reader.byte() % 4)]
    pool += [hashlib.sha256(bytes([i]) + data[:17]).digest() for i in range(capacity + 4)]
    stats["inputs"] += 1
    for _ in range(MAX_OPERATIONS):
        if reader.done:
            break
        stats["operations"] += 1
        operation = reader.byte() % 8
        item = pool[reader.byte() % len(pool)]
        if operation in (0, 1):
            model.check_add(item, same_everywhere(sets, lambda s: s.add(item))[1])
        elif operation == 2:
            model.check_contains(item, same_everywhere(sets, lambda s: item in s)[1])
        elif operation in (3, 4, 5):
            entries = [(INV_TYPES[reader.byte() % len(INV_TYPES)], pool[reader.byte() % len(pool)])
                       for _ in range(reader.byte() % 16)]
            add = bool(reader.byte() & 1)
            payload = inv_payload(entries)
            if operation == 4:
                payload = mangle(reader, payload)
            elif operation == 5:
                payload = reader.take(reader.byte())
            expected = spec_outcome(payload)
            got = same_everywhere(sets, lambda s: s.filter_new(payload, add=add), errors.ProtocolError)
            if expected[0] == "error":
                assert got[0] == "error" and got[1] is expected[1], f"spec raises {expected[1]}, twins {got}"
            else:
                assert got[0] == "ok", f"spec parses, twins raise {got}"
                model.check_filter_new(expected[1], add, got[1])
        elif operation == 6:
            same_everywhere(sets, lambda s: s.clear())
            model.clear()
        else:
            bad: Any = reader.take(reader.byte() % 40)
            if len(bad) == 32 or reader.byte() & 1:
                bad = bytearray(bad)
            result = same_everywhere(sets, lambda s: s.add(bad) if operation & 1 else bad in s,
                                     (ValueError, TypeError))
            assert result[0] == "error", "a malformed hash was accepted"
        assert len(sets[0]) == len(model) <= capacity
        assert all(s.nbytes == nbytes for s in sets)
    assert all(s._table_snapshot() == sets[0]._table_snapshot() for s in sets), "tables differ"
    assert [(s._ring.buffer_info(), s._table.buffer_info()) for s in sets if hasattr(s, "_ring")] == pure_storage


def report() -> None:
    print(f"fuzz_invset: {stats['inputs']} inputs, {stats['operations']} operations "
          f"(twins {', '.join(twin.__name__ for twin in twins)})", flush=True)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--twins", default="cy,py", help="comma-separated: cy, py (default both)")
    parser.add_argument("--random", action="store_true", help="random bytes instead of atheris")
    parser.add_argument("--seconds", type=float, default=10.0, help="time budget with --random")
    parser.add_argument("--seed", type=int, default=0, help="random seed with --random")
    ours, libfuzzer_flags = parser.parse_known_args(argv[1:])
    names = [name for name in ours.twins.split(",") if name]
    try:
        import atheris
    except ImportError:
        atheris = None
    if ours.random or atheris is None:
        load(names)
        rng = random.Random(ours.seed)
        deadline = time.monotonic() + ours.seconds
        while time.monotonic() < deadline:
            run_input(rng.randbytes(rng.randrange(600)))
        report()
        return
    with atheris.instrument_imports(include=["pantheon"], exclude=["pantheon.spec"]):
        load(names)
    atheris.Setup([argv[0], *libfuzzer_flags], run_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
