"""Payload codecs: transaction decoding, headers decoding with hashes, a 1 MB block with its txids.

The compiled twin against construct (`spec.parse_tx`), python-bitcoinlib
(`CTransaction.deserialize`) and the pure twin, all in this process and run. A decode is the
public call on a bytes payload; "decode + txid" also reads `.txid`, "headers" reads every
header's `.hash`, the block figure reads every transaction's `.txid`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from benchmarks.common import Figure, rate, seconds_per_call
from pantheon import _wire, _wire_py, params, spec

VECTORS = Path(__file__).resolve().parent.parent / "tests" / "vectors"
TX_TARGET = 3_000_000  # per second, compiled, 226-byte P2PKH
CONSTRUCT_RATIO = 20
BITCOINLIB_RATIO = 3
HEADERS_TARGET = 5_000_000  # per second, decode + hash
BLOCK_TARGET_MS = 15.0  # block_481815, 2,097 txs, decode + every txid
BATCH = 1_000


def _typed_tx(kind: str) -> bytes:
    cases = json.loads((VECTORS / "tx" / "mainnet_txs_by_type.json").read_text())
    (case,) = [case for case in cases if case["type"] == kind]
    return bytes.fromhex(case["hex"])


def _headers_payload() -> bytes:
    """2,000 real mainnet headers (blocks 0..438, repeated), each with tx count 0."""
    data = (VECTORS / "blocks" / "chain_0_to_438.blk").read_bytes()
    headers, offset = [], 0
    while offset < len(data):
        length = int.from_bytes(data[offset + 4 : offset + 8], "little")
        headers.append(data[offset + 8 : offset + 88] + b"\x00")
        offset += 8 + length
    return _wire.write_compact_size(2_000) + b"".join((headers * 5)[:2_000])


def _batched(decode: Callable[[bytes], Any], raw: bytes, count: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(count):
            decode(raw)

    return run


def _bitcoinlib() -> Any:
    try:
        from bitcoin.core import CBlock, CTransaction
    except ImportError:  # pragma: no cover - the test extra installs it
        return None
    return CTransaction, CBlock


def _tx_figures(label: str, raw: bytes, timing: dict[str, float], target: bool) -> list[Figure]:
    compiled = rate(_batched(_wire.decode_tx, raw, BATCH), BATCH, **timing)
    construct = rate(_batched(spec.parse_tx, raw, 20), 20, **timing)
    pure = rate(_batched(_wire_py.decode_tx, raw, 100), 100, **timing)
    with_txid = rate(_batched(lambda data: _wire.decode_tx(data).txid, raw, BATCH), BATCH, **timing)
    name = f"tx decode {label} {len(raw)} B"
    floor = f"≥ {TX_TARGET:,}/s, " if target else ""
    figures = [
        Figure(f"{name}, compiled", compiled, "tx/s", f"{floor}≥ {CONSTRUCT_RATIO}x construct",
               (not target or compiled >= TX_TARGET) and compiled >= CONSTRUCT_RATIO * construct,
               "construct", construct),
    ]
    library = _bitcoinlib()
    if library is not None:
        transaction = library[0]
        bitcoinlib = rate(_batched(transaction.deserialize, raw, 100), 100, **timing)
        figures.append(Figure(f"{name}, compiled", compiled, "tx/s", f"≥ {BITCOINLIB_RATIO}x python-bitcoinlib",
                              compiled >= BITCOINLIB_RATIO * bitcoinlib, "python-bitcoinlib", bitcoinlib))
    figures += [
        Figure(f"{name}, pure twin", pure, "tx/s", "(reference)", True, "construct", construct),
        Figure(f"{name} + txid, compiled", with_txid, "tx/s", "(reference)", True, "pure twin + txid",
               rate(_batched(lambda data: _wire_py.decode_tx(data).txid, raw, 100), 100, **timing)),
    ]
    return figures


def _headers_figure(timing: dict[str, float]) -> Figure:
    payload = _headers_payload()

    def hashes(module: Any) -> Callable[[], None]:
        return lambda: [header.hash for header in module.decode_headers(payload)]

    compiled = rate(hashes(_wire), 2_000, **timing)
    pure = rate(hashes(_wire_py), 2_000, **timing)
    return Figure("headers decode + hash (2,000 per message), compiled", compiled, "headers/s",
                  f"≥ {HEADERS_TARGET:,}/s", compiled >= HEADERS_TARGET, "pure twin", pure)


def _block_figures(timing: dict[str, float]) -> list[Figure]:
    raw = (VECTORS / "blocks" / "block_481815.bin").read_bytes()

    def txids(module: Any) -> Callable[[], None]:
        return lambda: [tx.txid for tx in module.decode_block(raw).transactions]

    compiled = seconds_per_call(txids(_wire), **timing) * 1e3
    pure = seconds_per_call(txids(_wire_py), **timing) * 1e3
    name = f"block 481815 ({len(raw):,} B, 2,097 txs) decode + all txids, compiled (lower is better)"
    figures = [Figure(name, compiled, "ms", f"≤ {BLOCK_TARGET_MS:g} ms", compiled <= BLOCK_TARGET_MS, "pure twin", pure)]
    library = _bitcoinlib()
    if library is not None:
        block = library[1]
        bitcoinlib = seconds_per_call(lambda: [tx.GetTxid() for tx in block.deserialize(raw).vtx], **timing) * 1e3
        figures.append(Figure(name, compiled, "ms", "(reference)", True, "python-bitcoinlib", bitcoinlib))
    return figures


def run(quick: bool) -> list[Figure]:
    timing = {"repeat": 2, "min_time": 0.05} if quick else {"repeat": 5, "min_time": 0.2}
    assert _wire.decode_block(params.MAIN.genesis_block).transactions  # the compiled twin is built
    return [
        *_tx_figures("P2PKH", _typed_tx("P2PKH"), timing, target=True),
        *_tx_figures("P2WPKH (segwit)", _typed_tx("native P2WPKH"), timing, target=False),
        _headers_figure(timing),
        *_block_figures(timing),
    ]
