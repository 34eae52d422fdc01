"""Blocks and transactions through the spec: real mainnet and testnet blocks (up to 1.2 MB,
segwit-heavy), the blk-file chain 0..438, and raw transactions up to 1 MB. Hashes, merkle
roots, witness commitments, weights and txids recompute to the values the sources give."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers.vectors import RAW_TXS, TYPED_TXS, VECTORS
from pantheon import errors, hashing, limits, params, spec



def txid(tx: Any) -> bytes:
    return hashing.double_sha256(spec.serialize_tx(tx, include_witness=False))


def wtxid(tx: Any) -> bytes:
    return hashing.double_sha256(spec.serialize_tx(tx))


def weight(tx_or_block_bytes: tuple[bytes, bytes]) -> int:
    """BIP141 weight from (stripped, full) serialisations."""
    stripped, full = tx_or_block_bytes
    return 3 * len(stripped) + len(full)


def test_block_hash_count_and_round_trip(block_vector: tuple[dict[str, Any], bytes, Any]) -> None:
    entry, data, block = block_vector
    assert hashing.hash_to_hex(hashing.double_sha256(spec.serialize_header(block.header))) == entry["hash"]
    assert len(block.transactions) == entry["tx_count"]
    assert spec.build_payload("block", block) == data
    assert spec.parse_message(spec.build_message(params.MAIN.magic, "block", block)).payload == block


def test_block_merkle_root_and_txids(block_vector: tuple[dict[str, Any], bytes, Any]) -> None:
    entry, _, block = block_vector
    txids = [txid(tx) for tx in block.transactions]
    assert hashing.merkle_root(txids) == (block.header.merkle_root, False)
    assert hashing.hash_to_hex(block.header.merkle_root) == entry["merkle_root"]
    assert hashing.hash_to_hex(txids[0]) == entry["first_txid"]
    assert hashing.hash_to_hex(txids[-1]) == entry["last_txid"]


def test_block_segwit_weight_and_commitment(block_vector: tuple[dict[str, Any], bytes, Any]) -> None:
    entry, data, block = block_vector
    segwit_txs = [tx for tx in block.transactions if any(tx_input.witness for tx_input in tx.inputs)]
    assert len(segwit_txs) == entry["segwit_tx_count"]
    stripped = spec.build_payload("block", block)[:80]
    stripped += spec.Counted(spec.Tx, "block.transactions").build(block.transactions, include_witness=False)
    assert weight((stripped, data)) == entry["weight"]
    assert entry["weight"] <= limits.MAX_MESSAGE_SIZE
    commitment = hashing.witness_commitment([out.script_pubkey for out in block.transactions[0].outputs])
    if entry["segwit"]:
        (reserved,) = block.transactions[0].inputs[0].witness
        wtxids = [wtxid(tx) for tx in block.transactions]
        assert commitment == hashing.expected_witness_commitment(wtxids, reserved)
    else:
        assert not segwit_txs


def test_block_cuts_are_truncated(block_vector: tuple[dict[str, Any], bytes, Any]) -> None:
    _, data, _ = block_vector
    step = max(1, len(data) // 40)
    for cut in [*range(0, min(len(data), 120)), *range(120, len(data), step), len(data) - 1]:
        with pytest.raises(errors.Truncated):
            spec.parse_block(data[:cut])


def read_blk_file(path: Path, magic: int) -> list[bytes]:
    data = path.read_bytes()
    records, offset = [], 0
    while offset < len(data):
        assert int.from_bytes(data[offset : offset + 4], "little") == magic
        length = int.from_bytes(data[offset + 4 : offset + 8], "little")
        records.append(data[offset + 8 : offset + 8 + length])
        offset += 8 + length
    return records


def test_mainnet_chain_0_to_438_links_and_merkles() -> None:
    records = read_blk_file(VECTORS / "blocks" / "chain_0_to_438.blk", params.MAIN.magic)
    assert len(records) == 439
    assert records[0] == params.MAIN.genesis_block
    previous = bytes(32)
    for raw in records:
        block = spec.parse_block(raw)
        assert block.header.prev_block == previous
        assert hashing.merkle_root([txid(tx) for tx in block.transactions])[0] == block.header.merkle_root
        previous = hashing.double_sha256(spec.serialize_header(block.header))
    assert hashing.hash_to_hex(previous) == "0000000025c6b644f8add734be7e666fa4afa43ca0204d623a0c0b1fd2104c7a"


@pytest.mark.parametrize("entry", RAW_TXS, ids=lambda entry: entry["file"])
def test_raw_transaction(entry: dict[str, Any]) -> None:
    data = (VECTORS / "tx" / entry["file"]).read_bytes()
    tx = spec.parse_tx(data)
    assert (len(tx.inputs), len(tx.outputs)) == (entry["n_in"], entry["n_out"])
    assert hashing.hash_to_hex(txid(tx)) == entry["txid"]
    assert hashing.hash_to_hex(wtxid(tx)) == entry["wtxid"]
    stripped = spec.serialize_tx(tx, include_witness=False)
    assert (weight((stripped, data)) + 3) // 4 == entry["vsize"]
    assert spec.serialize_tx(tx) == data and len(data) == entry["size"]


def test_typed_mainnet_spends_parse_to_their_txids() -> None:
    cases = TYPED_TXS
    assert len(cases) == 6 and any(case["segwit"] for case in cases)
    for case in cases:
        raw = bytes.fromhex(case["hex"])
        tx = spec.parse_tx(raw)
        assert hashing.hash_to_hex(txid(tx)) == case["txid_claimed"]
        assert hashing.hash_to_hex(wtxid(tx)) == case["wtxid"]
        assert weight((spec.serialize_tx(tx, include_witness=False), raw)) == case["weight"]
        assert spec.serialize_tx(tx) == raw


# --- consensus-sized data must parse: the grammar is never stricter than consensus ----------


def coinbase_like(witness_item: bytes) -> dict[str, Any]:
    return {
        "version": 2,
        "inputs": [
            {"prev_txid": b"\x11" * 32, "prev_index": 0, "script_sig": b"", "sequence": 0xFFFFFFFF,
             "witness": [witness_item, b"\x02" * 33]},
        ],
        "outputs": [{"value": 1_000, "script_pubkey": b"\x51\x20" + b"\x33" * 32}],
        "locktime": 0,
    }


def test_a_400_kb_witness_item_parses() -> None:
    tx = coinbase_like(b"\xab" * 400_000)
    raw = spec.serialize_tx(tx)
    parsed = spec.parse_tx(raw)
    assert len(parsed.inputs[0].witness[0]) == 400_000
    assert spec.serialize_tx(parsed) == raw


def test_a_block_at_the_4_mb_message_limit_parses() -> None:
    """A block of 4,000,000 serialised bytes (weight under 4M WU: almost all witness)."""
    header = spec.parse_block(params.REGTEST.genesis_block).header
    empty_block = spec.build_payload("block", {"header": header, "transactions": [coinbase_like(b"")]})
    filler = limits.MAX_MESSAGE_SIZE - len(empty_block) - 4  # 4: the item's CompactSize grows
    block = {"header": header, "transactions": [coinbase_like(b"\xcd" * filler)]}
    data = spec.build_message(params.REGTEST.magic, "block", block)
    assert len(data) == limits.HEADER_SIZE + limits.MAX_MESSAGE_SIZE
    message = spec.parse_message(data)
    assert len(message.payload.transactions[0].inputs[0].witness[0]) == filler
    with pytest.raises(errors.OversizedMessage):
        spec.parse_message(data, max_payload=limits.MAX_MESSAGE_SIZE - 1)
