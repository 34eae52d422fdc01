"""Runs tests/fuzz/fuzz_codecs.py on every decoder, briefly (about 11 s of the 60 s CI fuzz
budget, see conftest.py), from a seed corpus of real payloads: both twins against each other
and the spec."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from helpers.vectors import GOLDEN, TYPED_TXS, VECTORS
from pantheon import spec

HARNESS = Path(__file__).with_name("fuzz_codecs.py")
TARGETS = ("inv", "getdata", "notfound", "headers", "tx", "block", "addr", "compact_size")
# Seconds per target; libFuzzer adds up to a second, start-up another half.
SECONDS = {"tx": 2, "block": 2, "headers": 2}
MAX_LEN = 4096


def seeds(target: str) -> list[bytes]:
    """Real payloads for `target`: the golden messages and the small vectors."""
    found = []
    for entry in GOLDEN:
        if entry["command"] == target and entry["expect"] == "valid_framing":
            found.append(spec.parse_message(bytes.fromhex(entry["hex"])).raw_payload)
    if target == "tx":
        found += [bytes.fromhex(case["hex"]) for case in TYPED_TXS]
        found += [path.read_bytes() for path in (VECTORS / "tx").glob("bcoin_tx*.bin")]
    if target == "block":
        found += [(VECTORS / "blocks" / name).read_bytes() for name in ("block_0_genesis.bin", "block_170.bin", "testnet3_block_21066.bin")]
    if target == "headers":
        found.append((VECTORS / "messages" / "payloads" / "headers1.payload.bin").read_bytes())
    if target == "compact_size":
        found += [bytes.fromhex(text) for text in ("00", "fc", "fdfd00", "feffff0100", "ff0000000001000000")]
    return [seed for seed in found if len(seed) <= MAX_LEN]


@pytest.mark.compiled
@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_decoder(target: str, fuzz_campaign: Callable[..., int]) -> None:
    fuzz_campaign(
        f"fuzz_codecs {target}", HARNESS, target, f"-max_len={MAX_LEN}",
        seconds=SECONDS.get(target, 1), seeds=seeds(target), min_inputs=1_000,
    )
