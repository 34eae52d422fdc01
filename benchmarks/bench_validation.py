"""Context-free block validation (`pantheon.chain.validation.validate_block`): ms per real block.

Rows, for the 1 MB block_481815 (2,097 txs, pre-segwit) and the largest mainnet vector,
block_574200 (1.2 MB, 3,315 txs, segwit): decode plus every context-free check, on the compiled
and the pure twin, against decoding alone as the baseline (the ratio is what validation adds).
Each run decodes afresh, because a decoded Tx caches its txid and records and a second
validation of the same object would measure nothing. No 2.3 MB block is among the vectors
(tests/vectors/blocks stops at 1.2 MB), so the largest row is 1.2 MB. Target: 100 ms a block on the
compiled twin (a 10-minute block interval leaves room; script execution is not included).

Measured here (Python 3.11, best of 5): 10.9 ms and 16.1 ms compiled (decode alone 0.24 and
0.42 ms), 29.6 ms and 46.4 ms pure. Most of it is Python work over the decoded records: the
merkle root and txids, the legacy sigop parse and CheckTransaction per tx.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from benchmarks.common import Figure, seconds_per_call
from pantheon import _wire_py, params
from pantheon.chain.validation import validate_block

_compiled = importlib.import_module("pantheon._wire")  # an ImportError means a broken build
_BLOCKS = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "blocks"
_TARGET_MS = 100.0


def _row(label: str, height: int, twin: str, module: ModuleType, quick: bool) -> Figure:
    data = (_BLOCKS / f"block_{height}.bin").read_bytes()
    decode = module.decode_block
    timing = {"repeat": 2 if quick else 5, "min_time": 0.05 if quick else 0.3}
    decoded_ms = 1000 * seconds_per_call(lambda: decode(data), **timing)  # type: ignore[arg-type]
    validated_ms = 1000 * seconds_per_call(
        lambda: validate_block(decode(data), height, params.MAIN), **timing  # type: ignore[arg-type]
    )
    target_met = twin == "py" or validated_ms <= _TARGET_MS
    return Figure(
        name=f"validate {label} block_{height} ({twin})",
        value=validated_ms,
        unit="ms",
        target=f"<= {_TARGET_MS:.0f} ms" if twin == "cy" else "context",
        met=target_met,
        baseline="decode only",
        baseline_value=decoded_ms,
    )


def run(quick: bool) -> list[Figure]:
    figures = []
    for label, height in (("1.0 MB", 481_815), ("1.2 MB", 574_200)):
        for twin, module in (("cy", _compiled), ("py", _wire_py)):
            figures.append(_row(label, height, twin, module, quick))
    return figures
