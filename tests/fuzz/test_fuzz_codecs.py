"""Runs the atheris harness tests/fuzz/fuzz_codecs.py on every decoder, briefly (CI's budget for
all fuzzing is 60 s; these take ~25 s), from a seed corpus of real payloads.

One subprocess per target (libFuzzer exits the process when its time is up). It checks both
twins against each other and the spec, so it needs the compiled twin: marked `compiled`, it runs
in CI's accelerated job only, once. The inputs tried are listed in the `fuzz_codecs` section of
the terminal summary (tests/fuzz/conftest.py) from each test's `inputs_tried` property.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("atheris", reason="atheris (Linux x86-64 wheels) is not installed")

from pantheon import spec  # noqa: E402

HARNESS = Path(__file__).with_name("fuzz_codecs.py")
VECTORS = Path(__file__).parent.parent / "vectors"
TARGETS = ("inv", "getdata", "notfound", "headers", "tx", "block", "addr", "compact_size")
# Seconds per target; libFuzzer adds up to a second, start-up another half.
SECONDS = {"tx": 2, "block": 2, "headers": 2}
MAX_LEN = 4096


def seeds(target: str) -> list[bytes]:
    """Real payloads for `target`: the golden messages and the small vectors."""
    found = []
    for entry in json.loads((VECTORS / "messages" / "golden-vectors.json").read_text()):
        if entry["command"] == target and entry["expect"] == "valid_framing":
            found.append(spec.parse_message(bytes.fromhex(entry["hex"])).raw_payload)
    if target == "tx":
        found += [bytes.fromhex(case["hex"]) for case in json.loads((VECTORS / "tx" / "mainnet_txs_by_type.json").read_text())]
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
def test_fuzz_decoder(target: str, tmp_path: Path, record_property: Any) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for number, seed in enumerate(seeds(target)):
        (corpus / f"seed-{number}").write_bytes(seed)
    done = subprocess.run(
        [sys.executable, str(HARNESS), target, f"-max_total_time={SECONDS.get(target, 1)}", f"-max_len={MAX_LEN}",
         "-rss_limit_mb=2048", f"-artifact_prefix={tmp_path}/", "-print_final_stats=1", str(corpus)],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )
    ran = re.search(r"^Done (\d+) runs in (\d+) second", done.stderr, re.MULTILINE)
    assert done.returncode == 0 and ran, done.stderr[-4000:]
    tried, seconds = int(ran.group(1)), int(ran.group(2))
    for name, value in (("fuzz_target", target), ("inputs_tried", tried), ("fuzz_seconds", seconds)):
        record_property(name, value)
    assert tried > 1_000
