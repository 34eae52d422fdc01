"""tests/vectors (real wire data, provenance in its README): the folder and the indexes tests read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).parents[1] / "vectors"
#: messages/golden-vectors.json: 90 messages from other implementations' tests, with their sources.
GOLDEN: list[dict[str, Any]] = json.loads((VECTORS / "messages" / "golden-vectors.json").read_text())
#: The real blocks of blocks/index.json (its .bin files).
BLOCKS: list[dict[str, Any]] = [
    entry
    for entry in json.loads((VECTORS / "blocks" / "index.json").read_text())
    if entry["file"].endswith(".bin")
]
#: tx/raw_txs_index.json: the raw transactions and their facts.
RAW_TXS: list[dict[str, Any]] = json.loads((VECTORS / "tx" / "raw_txs_index.json").read_text())
#: tx/mainnet_txs_by_type.json: one mainnet spend per script type.
TYPED_TXS: list[dict[str, Any]] = json.loads((VECTORS / "tx" / "mainnet_txs_by_type.json").read_text())
#: bip158/testnet-19.json: BIP158's rows (height, block hash, block, spent scripts, previous
#: header, filter, header, notes), the title row dropped.
BIP158: list[list[Any]] = json.loads((VECTORS / "bip158" / "testnet-19.json").read_text())[1:]
