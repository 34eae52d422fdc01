"""Mempool standardness policy: which transactions a node relays and pools beyond what consensus
allows, as Bitcoin Core 30's `policy/policy.h` and `policy.cpp` decide it, with Core's reject
reasons.

Core 30's `IsStandardTx`: version 1..3, any number of OP_RETURN outputs whose scripts together
take at most `-datacarriersize` bytes (100,000 by default; Core <= 29 allowed one of 83 bytes),
bare multisig of at most 3 keys allowed unless refused (`permit_bare_multisig`), P2A anchors
standard, and every dust output refused at 3 sat/vB (Core 29's single zero-fee "ephemeral dust"
output is not implemented). Relay fee rates are Core 30's: 0.1 sat/vB minimum and increment.
`IsWitnessStandard` (`bad-witness-nonstandard`) judges witnesses against the outputs they spend:
none on a P2A anchor or a non-witness output, P2WSH and tapscript stack limits, no annex. Not
implemented: `AreInputsStandard` (`bad-txns-nonstandard-inputs`).

Pure functions of a transaction or an output, and the policy constants; no state. When and in
what order they apply is the pool's (`chain/mempool.py`); the script shapes they read are
`chain/script.py`'s.
"""

from __future__ import annotations

from pantheon.chain.script import (
    OP_1,
    OP_16,
    OP_CHECKMULTISIG,
    OP_CHECKSIG,
    OP_RETURN,
    MalformedScript,
    decode_op_n,
    is_p2a,
    is_p2pkh,
    is_p2sh,
    is_p2tr,
    is_p2wpkh,
    is_p2wsh,
    is_push_only,
    is_unspendable,
    script_ops,
    witness_program,
)
from pantheon.chain.validation import COIN, MAX_BLOCK_SIGOPS_COST, WITNESS_SCALE_FACTOR, TxRejected
from pantheon.limits import compact_size_len
from pantheon.primitives import Tx, TxOut

__all__ = [
    "MAX_STANDARD_TX_WEIGHT",
    "MIN_STANDARD_TX_NONWITNESS_SIZE",
    "MAX_STANDARD_SCRIPTSIG_SIZE",
    "MAX_STANDARD_TX_SIGOPS_COST",
    "TX_MAX_STANDARD_VERSION",
    "MAX_OP_RETURN_RELAY",
    "DUST_RELAY_FEE",
    "MIN_RELAY_FEE",
    "INCREMENTAL_RELAY_FEE",
    "BYTES_PER_SIGOP",
    "DEFAULT_PERMIT_BARE_MULTISIG",
    "output_type",
    "dust_threshold",
    "virtual_size",
    "check_standard_tx",
    "is_witness_standard",
    "format_money",
]

MAX_STANDARD_TX_WEIGHT = 400_000
MIN_STANDARD_TX_NONWITNESS_SIZE = 65
MAX_STANDARD_SCRIPTSIG_SIZE = 1_650
MAX_STANDARD_TX_SIGOPS_COST = MAX_BLOCK_SIGOPS_COST // 5
TX_MAX_STANDARD_VERSION = 3
#: Core's default -datacarriersize: the bytes of all OP_RETURN output scripts of a transaction.
MAX_OP_RETURN_RELAY = 100_000
DUST_RELAY_FEE = 3_000  # sat/kvB
MIN_RELAY_FEE = 100  # sat/kvB: Core 30's default -minrelaytxfee
INCREMENTAL_RELAY_FEE = 100  # sat/kvB: Core 30's -incrementalrelayfee (eviction's bump, the rolling floor)
BYTES_PER_SIGOP = 20  # Core's -bytespersigop: sigops weigh in a transaction's virtual size
DEFAULT_PERMIT_BARE_MULTISIG = True  # Core's -permitbaremultisig
MAX_STANDARD_P2WSH_STACK_ITEMS = 100
MAX_STANDARD_P2WSH_STACK_ITEM_SIZE = 80
MAX_STANDARD_P2WSH_SCRIPT_SIZE = 3_600
MAX_STANDARD_TAPSCRIPT_STACK_ITEM_SIZE = 80
_ANNEX_TAG = 0x50
_TAPSCRIPT_LEAF = 0xC0


def format_money(satoshis: int) -> str:
    """Core's FormatMoney, as policy's reject details and log lines show amounts: bitcoins,
    trailing zeros cut to two decimals."""
    whole, fraction = divmod(abs(satoshis), COIN)
    text = f"{whole}.{fraction:08d}".rstrip("0")
    text += "0" * (2 - len(text.split(".")[1]))
    return f"-{text}" if satoshis < 0 else text


def dust_threshold(txout: TxOut, dust_relay_fee: int = DUST_RELAY_FEE) -> int:
    """Core's `GetDustThreshold`: what spending the output would cost at `dust_relay_fee` (sat/kvB),
    the output plus a typical input (witness inputs discounted); 0 for unspendable outputs."""
    script = txout.script_pubkey
    if is_unspendable(script):
        return 0
    size = 8 + compact_size_len(len(script)) + len(script)
    size += 32 + 4 + 1 + 107 // 4 + 4 if witness_program(script) is not None else 32 + 4 + 1 + 107 + 4
    return dust_relay_fee * size // 1000


def virtual_size(weight: int, sigop_cost: int) -> int:
    """Core's `GetVirtualTransactionSize`: the weight in vbytes, or the sigop cost at
    `BYTES_PER_SIGOP` each when that is more."""
    return (max(weight, sigop_cost * BYTES_PER_SIGOP) + WITNESS_SCALE_FACTOR - 1) // WITNESS_SCALE_FACTOR


def _valid_pubkey_size(data: bytes) -> bool:
    """Core's `CPubKey::ValidSize`: the length the first byte announces (33 or 65)."""
    return bool(data) and len(data) == {2: 33, 3: 33, 4: 65, 6: 65, 7: 65}.get(data[0], 0)


def output_type(script: bytes) -> str:
    """Core's `Solver` types that matter to `IsStandard`: anchor, scripthash, witness types,
    nulldata, pubkey, pubkeyhash, multisig:<m>:<n>, or nonstandard."""
    size = len(script)
    if is_p2a(script):
        return "anchor"
    if is_p2sh(script):
        return "scripthash"
    if is_p2wpkh(script):
        return "witness_v0_keyhash"
    if is_p2wsh(script):
        return "witness_v0_scripthash"
    if is_p2tr(script):
        return "witness_v1_taproot"
    found = witness_program(script)
    if found is not None:
        return "witness_unknown" if found[0] else "nonstandard"
    if size and script[0] == OP_RETURN and is_push_only(script[1:]):
        return "nulldata"
    if is_p2pkh(script):
        return "pubkeyhash"
    if size in (35, 67) and script[0] == size - 2 and script[-1] == OP_CHECKSIG and _valid_pubkey_size(
            script[1:-1]):
        return "pubkey"
    try:
        ops = list(script_ops(script))
    except MalformedScript:
        return "nonstandard"
    if (len(ops) >= 4 and ops[-1] == (OP_CHECKMULTISIG, None) and OP_1 <= ops[0][0] <= OP_16
            and OP_1 <= ops[-2][0] <= OP_16):
        keys = ops[1:-2]
        required, count = decode_op_n(ops[0][0]), decode_op_n(ops[-2][0])
        if (count == len(keys) and required <= count
                and all(data is not None and _valid_pubkey_size(data) for _, data in keys)):
            return f"multisig:{required}:{count}"
    return "nonstandard"


def check_standard_tx(tx: Tx, permit_bare_multisig: bool = DEFAULT_PERMIT_BARE_MULTISIG,
                      max_datacarrier_bytes: int | None = MAX_OP_RETURN_RELAY) -> None:
    """Core 30's `IsStandardTx`, in its order: version, weight, each scriptSig's size and
    push-only form, each output's type (`IsStandard`), the OP_RETURN bytes left of
    `max_datacarrier_bytes` (None: none allowed, Core's -datacarrier=0), bare multisig, dust.
    Raises TxRejected with Core's reason."""
    txid = tx.txid
    if not 1 <= tx.version <= TX_MAX_STANDARD_VERSION:
        raise TxRejected("version", txid)
    if tx.weight > MAX_STANDARD_TX_WEIGHT:
        raise TxRejected("tx-size", txid)
    for txin in tx.inputs:
        if len(txin.script_sig) > MAX_STANDARD_SCRIPTSIG_SIZE:
            raise TxRejected("scriptsig-size", txid)
        if not is_push_only(txin.script_sig):
            raise TxRejected("scriptsig-not-pushonly", txid)
    data_left = max_datacarrier_bytes or 0
    for txout in tx.outputs:
        kind = output_type(txout.script_pubkey)
        if kind == "nonstandard":
            raise TxRejected("scriptpubkey", txid)
        if kind.startswith("multisig:"):
            _, required, count = kind.split(":")
            if not 1 <= int(count) <= 3 or not 1 <= int(required) <= int(count):
                raise TxRejected("scriptpubkey", txid)
        if kind == "nulldata":
            if len(txout.script_pubkey) > data_left:
                raise TxRejected("datacarrier", txid)
            data_left -= len(txout.script_pubkey)
        elif kind.startswith("multisig:") and not permit_bare_multisig:
            raise TxRejected("bare-multisig", txid)
    if any(txout.value < dust_threshold(txout) for txout in tx.outputs):
        raise TxRejected("dust", txid)


def _witness_standard(witness: tuple[bytes, ...], script: bytes, nested: bool) -> bool:
    """One input of `is_witness_standard`: its witness against the (redeem) script it satisfies."""
    program = witness_program(script)
    if program is None:
        return False  # a witness where no witness program is spent
    version, data = program
    if version == 0 and len(data) == 32:
        items = witness[:-1]
        return (len(witness[-1]) <= MAX_STANDARD_P2WSH_SCRIPT_SIZE and len(items) <= MAX_STANDARD_P2WSH_STACK_ITEMS
                and all(len(item) <= MAX_STANDARD_P2WSH_STACK_ITEM_SIZE for item in items))
    if version == 1 and len(data) == 32 and not nested:
        if len(witness) >= 2 and witness[-1][:1] == bytes((_ANNEX_TAG,)):
            return False
        if len(witness) >= 2:
            control = witness[-1]
            if not control:
                return False
            return (control[0] & 0xFE != _TAPSCRIPT_LEAF
                    or all(len(item) <= MAX_STANDARD_TAPSCRIPT_STACK_ITEM_SIZE for item in witness[:-2]))
        return len(witness) == 1
    return True


def is_witness_standard(tx: Tx, spent_scripts: list[bytes]) -> bool:
    """Core's `IsWitnessStandard`: each input's witness (if any) against the output it spends
    (`spent_scripts`, in input order): none on a P2A anchor, none unless a witness program is
    spent (P2SH-wrapped counts, its redeem script the last push of the scriptSig), P2WSH at most
    100 items of 80 bytes and a 3,600-byte script, taproot without annex and tapscript items of
    at most 80 bytes."""
    for txin, script in zip(tx.inputs, spent_scripts):
        if not txin.witness:
            continue
        if is_p2a(script):
            return False
        nested = is_p2sh(script)
        if nested:
            pushes = [data or b"" for _, data in script_ops(txin.script_sig)]
            if not pushes:
                return False
            script = pushes[-1]
        if not _witness_standard(txin.witness, script, nested):
            return False
    return True
