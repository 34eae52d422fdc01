"""Atheris harness for the payload decoders of both wire twins.

    python tests/fuzz/fuzz_codecs.py [TARGET] [libFuzzer options] [CORPUS_DIR ...]

TARGET is a command (any of `limits.COMMANDS`: its decoder), `compact_size`, or `all` (the
default), where the first input byte picks the decoder and the rest is its payload. For every
input the harness asserts:

- only ProtocolError escapes a decoder (anything else propagates and is a crash);
- the twins agree: the same value (field by field, in the spec's shape), or the same error
  class and message;
- spec.py agrees on accept/reject, on the value, and on the error's class;
- an accepted payload re-encodes to itself in both twins.

Python code (pantheon, the oracle) is instrumented for coverage feedback; the compiled twin is
checked against it. Long campaigns: `-max_total_time=3600 corpus/`; a crash is written as
`crash-<sha1>` (see -artifact_prefix) and replays with the file as the only argument.
tests/fuzz/test_fuzz_codecs.py runs every target for a few seconds in CI.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/: helpers.codec_oracle

with atheris.instrument_imports(include=["pantheon", "helpers.codec_oracle"]):
    from helpers import codec_oracle
    from pantheon import _wire, _wire_py

TARGETS = (*codec_oracle.COMMANDS, "compact_size")
TWINS = [_wire, _wire_py]


def check_compact_size(data: bytes) -> None:
    results = []
    for twin in TWINS:
        result = codec_oracle.outcome(twin.read_compact_size, data)
        if result[0] == "value":
            value, end = result[1]
            assert twin.write_compact_size(value) == data[:end], (data.hex(), result)
        results.append(result)
    assert results[0] == results[1], (data.hex(), results)


def check(target: str, data: bytes) -> None:
    if target == "compact_size":
        check_compact_size(data)
    else:
        codec_oracle.agreement(target, data, TWINS)


def main(argv: list[str]) -> None:
    target = "all"
    if len(argv) > 1 and argv[1] in (*TARGETS, "all"):
        target = argv.pop(1)

    def one_input(data: bytes) -> None:
        if target != "all":
            check(target, data)
        elif data:
            check(TARGETS[data[0] % len(TARGETS)], data[1:])

    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
