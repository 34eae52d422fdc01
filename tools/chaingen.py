"""`python -m tools.chaingen`: a regtest chain at mainnet density, signed for real, deterministic
from a seed, written in blk-file framing (regtest magic, u32 length, block; genesis first), the
framing of Core's blk files and of `tests/vectors/chains/`, so `-reindex`-style imports and the
tests' loaders read it.

The chain: `PREAMBLE` coinbase-only blocks paying to the generator's keys (bcoin's regtest
activates CSV and segwit by BIP9 at 432, so every block signals them and bcoin accepts the whole
chain; blocks are 600 s apart from a date after BIP16's), one fan-out block splitting every
mature coinbase into enough coins for what follows, then `blocks` blocks of `txs` transactions
each, then `tail` coinbase-only blocks (more than 2,016 bury the spends under the two weeks of
work Core's -assumevalid wants on top of a block before it skips its scripts). Every transaction
spends coins confirmed in earlier blocks (fan-in from `_INPUTS`) and pays fan-out (`_OUTPUTS`)
to a mix of output types in mainnet-like shares (`KINDS`): P2WPKH, P2TR key path, P2PKH,
P2SH-P2WPKH, 2-of-3 P2WSH multisig and a few P2TR script paths; each pays a fee.
Signatures are coincurve's (libsecp256k1: ECDSA low-S DER, BIP340 Schnorr with zero auxiliary
randomness, so signing is deterministic) over `chain/sighash.py`'s messages; keys come from a pool
of `_KEYS_PER_KIND` per type derived from the seed, so worker processes rebuild them from the seed
alone. What the generator never does: check a rule. Pantheon's chain state judges the blocks
(tests/tools/test_chaingen.py).

Signing is most of the time, and it does not depend on other blocks once a block's transactions
are laid out, except that a P2PKH signature changes its txid: so each block is laid out, signed by
`workers` processes in shares, and its txids read back before the next is laid out.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import random
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from coincurve import PrivateKey

from pantheon import params, wire
from pantheon.chain.addresses import hash160, p2sh_output, p2wpkh_output, p2wsh_output
from pantheon.chain.contextual import block_subsidy
from pantheon.chain.miner import DEFAULT_BLOCK_VERSION, mine
from pantheon.chain.script import (
    OP_1,
    OP_2,
    OP_3,
    OP_CHECKMULTISIG,
    OP_CHECKSIG,
    OP_DUP,
    OP_EQUALVERIFY,
    OP_HASH160,
    OP_PUSHDATA1,
)
from pantheon.chain.sighash import (
    SIGHASH_ALL,
    TAPSCRIPT_LEAF_VERSION,
    PrecomputedTx,
    legacy_sighash,
    segwit_v0_sighash,
    tagged_hash,
    tapleaf_hash,
    taproot_sighash,
)
from pantheon.chain.validation import bip34_height_script
from pantheon.hashing import WITNESS_COMMITMENT_PREFIX, expected_witness_commitment, merkle_root
from pantheon.params import Network
from pantheon.primitives import Block, BlockHeader, Tx, TxIn, TxOut

__all__ = ["KINDS", "PREAMBLE", "ChainSpec", "generate", "write_chain", "read_blocks", "cached_chain", "main"]

#: Output types and their shares (per 100 outputs), near mainnet's mix of spends.
KINDS: dict[str, int] = {"p2wpkh": 45, "p2tr": 20, "p2pkh": 15, "p2sh_p2wpkh": 10, "p2wsh_2of3": 8, "p2tr_script": 2}
#: Coinbase-only blocks before the spends: bcoin's regtest activates segwit at 432.
PREAMBLE = 432
_COINBASE_MATURITY = 100
#: Block times: mainnet's spacing, from a date after BIP16's (bcoin checks P2SH only in blocks
#: after 2012-04-01, and asserts on a P2SH-wrapped witness spend in an earlier one).
_FIRST_TIME = 1_700_000_000
_SPACING = 600
#: Every block signals CSV (bit 0) and segwit (bit 1): bcoin's regtest deploys them by BIP9, so
#: they lock in at 288 and are active at 432 only if the preamble signals them.
_BLOCK_VERSION = DEFAULT_BLOCK_VERSION | 1 << 0 | 1 << 1
_KEYS_PER_KIND = 64
_INPUTS = (1, 1, 1, 1, 1, 2, 2, 2, 3, 4)  # fan-in drawn per transaction: 1.8 on average
_OUTPUTS = (2, 3, 3, 3, 4, 4, 4, 5)  # fan-out: 3.5 on average, so the UTXO set grows
_FEE_RATE = 2  # sat/vB, on an estimate of the size
_MIN_OUTPUT = 5_000  # sat: above every dust limit
_MIN_SPEND = 20 * _MIN_OUTPUT  # what a transaction's inputs are worth at least
_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141  # secp256k1's order
_AUX = bytes(32)  # BIP340 auxiliary randomness: none, so the chain depends on the seed alone
_FRAME = struct.Struct("<4sI")
_INPUT_VBYTES = {"p2wpkh": 68, "p2tr": 58, "p2pkh": 148, "p2sh_p2wpkh": 91, "p2wsh_2of3": 105, "p2tr_script": 108}


@dataclass(frozen=True)
class ChainSpec:
    """What decides the bytes: the same spec gives the same file."""

    blocks: int
    txs: int
    seed: int
    tail: int = 0  # coinbase-only blocks after the spends

    @property
    def name(self) -> str:
        tail = f"_a{self.tail}" if self.tail else ""
        return f"density_b{self.blocks}_t{self.txs}_s{self.seed}{tail}.blk"


def _push(data: bytes) -> bytes:
    assert len(data) < OP_PUSHDATA1
    return bytes((len(data),)) + data


class _Key:
    """One output's keys and scripts: what pays to it and what spending it needs."""

    def __init__(self, kind: str, seed: int, index: int) -> None:
        def secret(part: int) -> PrivateKey:
            digest = hashlib.sha256(f"chaingen/{seed}/{kind}/{index}/{part}".encode()).digest()
            return PrivateKey.from_int(int.from_bytes(digest, "big") % (_N - 1) + 1)

        self.kind = kind
        self.keys = [secret(part) for part in range(3 if kind == "p2wsh_2of3" else 2 if kind == "p2tr_script" else 1)]
        self.pubs = [key.public_key.format() for key in self.keys]
        pub = self.pubs[0]
        if kind in ("p2wpkh", "p2sh_p2wpkh", "p2pkh"):
            key_hash = hash160(pub)
            self.script_code = bytes((OP_DUP, OP_HASH160, 20)) + key_hash + bytes((OP_EQUALVERIFY, OP_CHECKSIG))
            self.redeem = p2wpkh_output(key_hash)  # BIP143's script code above is P2WPKH's too
            self.script_pubkey = {"p2wpkh": self.redeem, "p2pkh": self.script_code,
                                  "p2sh_p2wpkh": p2sh_output(self.redeem)}[kind]
        elif kind == "p2wsh_2of3":
            self.script_code = (bytes((OP_2,)) + b"".join(_push(key) for key in self.pubs)
                                + bytes((OP_3, OP_CHECKMULTISIG)))
            self.script_pubkey = p2wsh_output(self.script_code)
        else:  # taproot: the internal key, tweaked by the script tree's root if there is one
            internal = self.keys[0]
            if pub[0] == 3:  # BIP340 keys have even y: negate the secret so its point does
                internal = PrivateKey.from_int(_N - internal.to_int())
            xonly = pub[1:]
            root = b""
            if kind == "p2tr_script":  # one leaf: <key 1> OP_CHECKSIG
                self.script_code = _push(self.pubs[1][1:]) + bytes((OP_CHECKSIG,))
                self.leaf_hash = tapleaf_hash(self.script_code)
                root = self.leaf_hash
            tweak = int.from_bytes(tagged_hash("TapTweak", xonly + root), "big")
            self.tweaked = PrivateKey.from_int((internal.to_int() + tweak) % _N)
            output = self.tweaked.public_key.format()
            self.script_pubkey = bytes((OP_1, 32)) + output[1:]
            self.control = bytes((TAPSCRIPT_LEAF_VERSION | (output[0] & 1),)) + xonly  # + parity of the output key

    def sign(self, tx: Tx, pre: PrecomputedTx, index: int, value: int) -> tuple[bytes, tuple[bytes, ...]]:
        """The input's scriptSig and witness."""
        kind = self.kind
        if kind == "p2tr":
            return b"", (self.tweaked.sign_schnorr(taproot_sighash(pre, index), _AUX),)
        if kind == "p2tr_script":
            signature = self.keys[1].sign_schnorr(taproot_sighash(pre, index, self.leaf_hash), _AUX)
            return b"", (signature, self.script_code, self.control)
        if kind == "p2pkh":
            signature = self.keys[0].sign(legacy_sighash(tx, index, self.script_code), hasher=None)
            return _push(signature + bytes((SIGHASH_ALL,))) + _push(self.pubs[0]), ()
        message = segwit_v0_sighash(pre, index, self.script_code, value)
        signatures = [key.sign(message, hasher=None) + bytes((SIGHASH_ALL,)) for key in self.keys[:2]]
        if kind == "p2wsh_2of3":
            return b"", (b"", *signatures, self.script_code)
        script_sig = _push(self.redeem) if kind == "p2sh_p2wpkh" else b""
        return script_sig, (signatures[0], self.pubs[0])


class _Wallet:
    """The key pool of one seed."""

    def __init__(self, seed: int) -> None:
        self.keys = {kind: [_Key(kind, seed, index) for index in range(_KEYS_PER_KIND)] for kind in KINDS}


#: A coin: (txid, index, value, kind, key index).
_Coin = tuple[bytes, int, int, str, int]
#: A transaction to sign: the unsigned tx and the coins it spends.
_Draft = tuple[Tx, list[_Coin]]

_worker_wallet: _Wallet | None = None


def _start_worker(seed: int) -> None:
    global _worker_wallet
    _worker_wallet = _Wallet(seed)


def _sign_share(drafts: list[_Draft]) -> list[bytes]:
    """Sign drafts with the worker's wallet; the signed txs' bytes (pickled more cheaply than Tx)."""
    assert _worker_wallet is not None
    return [wire.encode_tx(_sign(_worker_wallet, tx, coins)) for tx, coins in drafts]


def _sign(wallet: _Wallet, tx: Tx, coins: Sequence[_Coin]) -> Tx:
    keys = [wallet.keys[kind][key] for _, _, _, kind, key in coins]
    spent = [(value, key.script_pubkey) for (_, _, value, _, _), key in zip(coins, keys)]
    pre = PrecomputedTx(tx, spent if any(key.kind.startswith("p2tr") for key in keys) else ())
    inputs = []
    for index, (txin, key, coin) in enumerate(zip(tx.inputs, keys, coins)):
        script_sig, witness = key.sign(tx, pre, index, coin[2])
        inputs.append(TxIn(txin.prev_txid, txin.prev_index, script_sig, txin.sequence, witness))
    return Tx(tx.version, inputs, tx.outputs, tx.locktime)


class _Generator:
    """Lays out blocks from the seed's random stream and signs them (in `workers` processes)."""

    def __init__(self, spec: ChainSpec, network: Network, workers: int) -> None:
        self.spec = spec
        self.network = network
        self.rng = random.Random(spec.seed)
        self.wallet = _Wallet(spec.seed)
        self.pool = (multiprocessing.get_context("fork").Pool(workers, _start_worker, (spec.seed,))
                     if workers > 1 else None)
        self.workers = workers
        self.coins: list[_Coin] = []  # confirmed, spendable
        self._coinbases: list[tuple[bytes, int, str, int]] = []  # txid, value, kind, key index
        self._owner = {key.script_pubkey: (kind, index) for kind, keys in self.wallet.keys.items()
                       for index, key in enumerate(keys)}
        self.tip = wire.decode_block(network.genesis_block).header
        self.height = 0

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool.join()

    def _kind(self) -> tuple[str, int]:
        kind = self.rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
        return kind, self.rng.randrange(_KEYS_PER_KIND)

    def _take(self) -> _Coin:
        coins = self.coins
        position = self.rng.randrange(len(coins))
        coins[position], coins[-1] = coins[-1], coins[position]
        return coins.pop()

    def _inputs(self, count: int) -> list[_Coin]:
        """`count` random coins, and more while they are worth less than `_MIN_SPEND` (small
        coins get consolidated, so values never wear down to dust)."""
        inputs = [self._take() for _ in range(count)]
        while sum(coin[2] for coin in inputs) < _MIN_SPEND:
            inputs.append(self._take())
        return inputs

    def _draft(self, inputs: list[_Coin], outputs: int) -> tuple[_Draft, int]:
        """An unsigned tx spending `inputs` to `outputs` new coins of random types; its fee."""
        kinds = [self._kind() for _ in range(outputs)]
        vbytes = 11 + sum(_INPUT_VBYTES[coin[3]] for coin in inputs) + 43 * outputs
        fee = _FEE_RATE * vbytes
        total = sum(coin[2] for coin in inputs) - fee
        outputs = max(1, min(outputs, total // (2 * _MIN_OUTPUT)))
        weights = [self.rng.randrange(1, 100) for _ in range(outputs)]
        values = [_MIN_OUTPUT + (total - outputs * _MIN_OUTPUT) * weight // sum(weights) for weight in weights]
        values[0] += total - sum(values)
        txouts = [TxOut(value, self.wallet.keys[kind][key].script_pubkey) for value, (kind, key) in zip(values, kinds)]
        txins = [TxIn(txid, index, b"", 0xFFFF_FFFD) for txid, index, _, _, _ in inputs]
        return (Tx(2, txins, txouts, 0), inputs), fee

    def _signed(self, drafts: list[_Draft]) -> list[Tx]:
        if self.pool is None or len(drafts) < 2 * self.workers:
            return [_sign(self.wallet, tx, coins) for tx, coins in drafts]
        size = -(-len(drafts) // self.workers)
        shares = self.pool.map(_sign_share, [drafts[start:start + size] for start in range(0, len(drafts), size)])
        return [wire.decode_tx(raw) for share in shares for raw in share]

    def block(self, drafts: list[_Draft], fees: int) -> Block:
        """Sign `drafts`, mine them on the tip with a coinbase to the wallet; the new coins become
        spendable (the coinbase's after maturity, which the caller keeps track of)."""
        height = self.height + 1
        txs = self._signed(drafts)
        commitment = None
        if any(tx.has_witness for tx in txs):
            commitment = expected_witness_commitment([bytes(32), *(tx.wtxid for tx in txs)], bytes(32))
        kind, key = "p2wpkh", self.rng.randrange(_KEYS_PER_KIND)
        outputs = [TxOut(block_subsidy(height, self.network) + fees, self.wallet.keys[kind][key].script_pubkey)]
        if commitment is not None:
            outputs.append(TxOut(0, WITNESS_COMMITMENT_PREFIX + commitment))
        script_sig = bip34_height_script(height) + b"\x08" + bytes(8)  # the extranonce `mine` rolls
        coinbase = Tx(2, [TxIn(bytes(32), 0xFFFF_FFFF, script_sig, 0xFFFF_FFFF,
                               (bytes(32),) if commitment else ())], outputs, 0)
        transactions = (coinbase, *txs)
        header = BlockHeader(_BLOCK_VERSION, self.tip.hash, merkle_root([tx.txid for tx in transactions])[0],
                             _FIRST_TIME + _SPACING * (height - 1), self.tip.bits, 0)  # regtest: no retarget
        block = mine(Block(header, transactions))
        for tx in txs:
            for index, txout in enumerate(tx.outputs):
                script = txout.script_pubkey
                self.coins.append((tx.txid, index, txout.value, *self._owner[script]))
        self.tip, self.height = block.header, height
        self._coinbases.append((coinbase.txid, outputs[0].value, kind, key))
        return block

    def blocks(self) -> Iterator[Block]:
        for _ in range(PREAMBLE):
            yield self.block([], 0)
        mature = self._coinbases[:PREAMBLE - _COINBASE_MATURITY + 1]
        fan_out = max(2, -(-4 * self.spec.txs * max(_INPUTS) // len(mature)))
        drafts, fees = [], 0
        for txid, value, kind, key in mature:
            draft, fee = self._draft([(txid, 0, value, kind, key)], fan_out)
            drafts.append(draft)
            fees += fee
        yield self.block(drafts, fees)
        for _ in range(self.spec.blocks):
            drafts, fees = [], 0
            for _ in range(self.spec.txs):
                inputs = self._inputs(self.rng.choice(_INPUTS))
                draft, fee = self._draft(inputs, self.rng.choice(_OUTPUTS))
                drafts.append(draft)
                fees += fee
            yield self.block(drafts, fees)
        for _ in range(self.spec.tail):
            yield self.block([], 0)


def generate(spec: ChainSpec, network: Network = params.REGTEST, workers: int = 1) -> Iterator[Block]:
    """The chain's blocks after genesis, in order."""
    generator = _Generator(spec, network, workers)
    try:
        yield from generator.blocks()
    finally:
        generator.close()


def write_chain(spec: ChainSpec, path: Path, network: Network = params.REGTEST, workers: int = 1) -> dict[str, float]:
    """Write genesis and the generated blocks to `path` (atomically: a partial file never has
    the final name); counts and the seconds taken."""
    started = time.perf_counter()
    counts = {"blocks": 0, "txs": 0, "inputs": 0, "outputs": 0}
    partial = path.with_name(path.name + ".partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    with partial.open("wb") as out:
        out.write(_FRAME.pack(network.magic_bytes, len(network.genesis_block)) + network.genesis_block)
        for block in _counted(generate(spec, network, workers), counts):
            raw = wire.encode_block(block)
            out.write(_FRAME.pack(network.magic_bytes, len(raw)) + raw)
    partial.replace(path)
    counts["seconds"] = time.perf_counter() - started
    return counts


def _counted(blocks: Iterator[Block], counts: dict[str, float]) -> Iterator[Block]:
    for block in blocks:
        counts["blocks"] += 1
        counts["txs"] += len(block.transactions) - 1
        counts["inputs"] += sum(len(tx.inputs) for tx in block.transactions[1:])
        counts["outputs"] += sum(len(tx.outputs) for tx in block.transactions)
        yield block


def read_blocks(path: Path, network: Network = params.REGTEST) -> Iterator[bytes]:
    """The blocks of a file `write_chain` wrote (genesis first), as bytes, read as it is streamed."""
    with path.open("rb") as source:
        while header := source.read(_FRAME.size):
            magic, size = _FRAME.unpack(header)
            if magic != network.magic_bytes:
                raise ValueError(f"{path}: not {network.name}'s magic at offset {source.tell() - _FRAME.size}")
            yield source.read(size)


def cached_chain(spec: ChainSpec, cache_dir: Path, workers: int = 1) -> Path:
    """The chain file for `spec` under `cache_dir`, generated the first time only."""
    path = cache_dir / spec.name
    if not path.exists():
        write_chain(spec, path, workers=workers)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.chaingen", description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=400, help="blocks of spends after the preamble")
    parser.add_argument("--txs", type=int, default=500, help="transactions per block")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tail", type=int, default=0, help="coinbase-only blocks after the spends")
    parser.add_argument("--workers", type=int, default=1, help="signing processes (default 1)")
    parser.add_argument("--out", type=Path, required=True, help="the blk-framed file to write")
    args = parser.parse_args(argv)
    counts = write_chain(ChainSpec(args.blocks, args.txs, args.seed, args.tail), args.out, workers=args.workers)
    print(f"{args.out}: {counts['blocks']:,} blocks, {counts['txs']:,} txs, {counts['inputs']:,} inputs, "
          f"{counts['outputs']:,} outputs in {counts['seconds']:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
