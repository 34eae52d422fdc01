"""Script verification through libbitcoinkernel (`pantheon.chain.scripts`).

Bitcoin Core's tx_valid/tx_invalid suites are run the way Core's `transaction_tests.cpp` runs them
(read at the Core commit the kernel wheel is built from, whose data files are byte-identical to
tests/vectors/tx): a valid case names the flags EXCLUDED from the full set and must pass with the
rest, with any flag removed as well, and fail when any one excluded flag is put back; an invalid
case names the flags it must fail with, and must still fail with any flag added; `BADTX` cases
must fail `check_transaction`. The kernel knows only the seven consensus flags (the module
docstring of scripts.py), so policy flag names are dropped from the flags a valid case runs with,
and an invalid case that names a policy flag is skipped: its failure may need that flag.
Transactions are decoded by both wire twins.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import gevent
import pytest
from gevent import select as gselect
from packaging.requirements import Requirement

from pantheon import _wire_py
from helpers.chain import CHAIN_JSON, read_chain
from helpers.taproot import schnorr_sign, taproot_output, taproot_sighash
from helpers.vectors import TYPED_TXS, VECTORS

from pantheon.chain import scripts
from pantheon.chain.addresses import hash160
from pantheon.chain.coins import Coin
from pantheon.chain.scripts import CONSENSUS_FLAGS, ScriptFlags
from pantheon.chain.validation import BlockRejected, TxRejected, check_transaction, is_coinbase
from pantheon.hashing import hex_to_hash
from pantheon.params import MAIN, REGTEST, TESTNET3
from pantheon.primitives import Block, BlockHeader, OutPoint, Tx, TxIn, TxOut

needs_kernel = pytest.mark.skipif(not scripts.AVAILABLE, reason=scripts.UNAVAILABLE_REASON or "kernel loaded")


# --- Core's script text (`ParseScript` in core_io.cpp), written fresh ----------------------

#: Opcode names Core's parser accepts: OP_RESERVED and OP_NOP..OP_NOP10, with or without `OP_`.
#: Small numbers are written as numbers ("0", "16", "-1"), never by name.
_OPCODES_FROM_NOP = (
    "NOP VER IF NOTIF VERIF VERNOTIF ELSE ENDIF VERIFY RETURN TOALTSTACK FROMALTSTACK 2DROP 2DUP "
    "3DUP 2OVER 2ROT 2SWAP IFDUP DEPTH DROP DUP NIP OVER PICK ROLL ROT SWAP TUCK CAT SUBSTR LEFT "
    "RIGHT SIZE INVERT AND OR XOR EQUAL EQUALVERIFY RESERVED1 RESERVED2 1ADD 1SUB 2MUL 2DIV NEGATE "
    "ABS NOT 0NOTEQUAL ADD SUB MUL DIV MOD LSHIFT RSHIFT BOOLAND BOOLOR NUMEQUAL NUMEQUALVERIFY "
    "NUMNOTEQUAL LESSTHAN GREATERTHAN LESSTHANOREQUAL GREATERTHANOREQUAL MIN MAX WITHIN RIPEMD160 "
    "SHA1 SHA256 HASH160 HASH256 CODESEPARATOR CHECKSIG CHECKSIGVERIFY CHECKMULTISIG "
    "CHECKMULTISIGVERIFY NOP1 CHECKLOCKTIMEVERIFY CHECKSEQUENCEVERIFY NOP4 NOP5 NOP6 NOP7 NOP8 "
    "NOP9 NOP10"
).split()
_OP_NOP = 0x61
_OPCODES = {"RESERVED": 0x50, **{name: _OP_NOP + offset for offset, name in enumerate(_OPCODES_FROM_NOP)}}
_OPCODES.update({f"OP_{name}": value for name, value in list(_OPCODES.items())})
_MAX_DECIMAL = 0xFFFFFFFF


def push_data(data: bytes) -> bytes:
    """The shortest push opcode for `data` (CScript's `<<` of a byte vector)."""
    size = len(data)
    if size < 0x4C:
        return bytes([size]) + data
    if size <= 0xFF:
        return b"\x4c" + bytes([size]) + data
    if size <= 0xFFFF:
        return b"\x4d" + size.to_bytes(2, "little") + data
    return b"\x4e" + size.to_bytes(4, "little") + data


def script_number(value: int) -> bytes:
    """CScript's `<<` of an integer: OP_0, OP_1NEGATE, OP_1..OP_16, else a minimal CScriptNum push."""
    if value == 0:
        return b"\x00"
    if value == -1 or 1 <= value <= 16:
        return bytes([0x50 + value])
    magnitude = abs(value)
    encoded = bytearray()
    while magnitude:
        encoded.append(magnitude & 0xFF)
        magnitude >>= 8
    if encoded[-1] & 0x80:
        encoded.append(0x80 if value < 0 else 0x00)
    elif value < 0:
        encoded[-1] |= 0x80
    return push_data(bytes(encoded))


def parse_script(text: str) -> bytes:
    """Core's test script text: decimal numbers, `0x..` raw bytes, `'..'` pushed strings, opcodes."""
    out = bytearray()
    for word in text.split():
        digits = word[1:] if word.startswith("-") and len(word) > 1 else word
        if digits.isdigit():
            value = int(word)
            if abs(value) > _MAX_DECIMAL:
                raise ValueError(f"decimal {word} outside -0xFFFFFFFF..0xFFFFFFFF")
            out += script_number(value)
        elif word.startswith("0x") and len(word) > 2:
            out += bytes.fromhex(word[2:])  # inserted as is, not pushed
        elif len(word) >= 2 and word[0] == word[-1] == "'":
            out += push_data(word[1:-1].encode())
        elif word in _OPCODES:
            out.append(_OPCODES[word])
        else:
            raise ValueError(f"unknown opcode {word!r}")
    return bytes(out)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0 -1 1 16 17 -17 128 -128 255 256", "00 4f 51 60 0111 0191 028000 028080 02ff00 020001"),
        ("0x41 0x04ff OP_CHECKSIG", "41 04ff ac"),
        ("DUP HASH160 0x14 0x" + "00" * 20 + " EQUALVERIFY CHECKSIG", "76a914" + "00" * 20 + "88ac"),
        ("'Az' NOP10 RESERVED OP_CHECKSEQUENCEVERIFY 4294967295", "02417a b9 50 b2 05ffffffff00"),
        ("'" + "a" * 76 + "'", "4c4c" + "61" * 76),
    ],
)
def test_parse_script_matches_cores_encoding(text: str, expected: str) -> None:
    assert parse_script(text) == bytes.fromhex(expected.replace(" ", ""))


@pytest.mark.parametrize("text", ["OP_1", "TRUE", "4294967296", "CHECKSIGADD", "0xzz"])
def test_parse_script_refuses_what_core_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_script(text)


# --- the vectors -----------------------------------------------------------------------------

#: Core's flag names (script/interpreter.cpp) with the kernel's bit, or None for a policy flag.
_FLAG_NAMES: dict[str, ScriptFlags | None] = {
    **{flag.name: flag for flag in CONSENSUS_FLAGS},  # type: ignore[union-attr]
    **dict.fromkeys(
        "STRICTENC LOW_S SIGPUSHONLY MINIMALDATA DISCOURAGE_UPGRADABLE_NOPS CLEANSTACK MINIMALIF "
        "NULLFAIL DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM WITNESS_PUBKEYTYPE CONST_SCRIPTCODE "
        "DISCOURAGE_UPGRADABLE_TAPROOT_VERSION DISCOURAGE_OP_SUCCESS DISCOURAGE_UPGRADABLE_PUBKEYTYPE".split()
    ),
}


@dataclass(frozen=True)
class Case:
    """One tx_valid/tx_invalid entry: the prevouts it names, the tx hex and its flag names."""

    number: int
    prevouts: dict[tuple[bytes, int], tuple[int, bytes]]
    tx_hex: str
    flag_names: frozenset[str]

    @property
    def policy_flags(self) -> frozenset[str]:
        return frozenset(name for name in self.flag_names if _FLAG_NAMES[name] is None)

    @property
    def kernel_flags(self) -> int:
        flags = ScriptFlags.NONE
        for name in self.flag_names:
            flags |= _FLAG_NAMES[name] or 0
        return flags

    def spent(self, tx: Tx) -> list[tuple[int, bytes]]:
        return [self.prevouts[(txin.prev_txid, txin.prev_index)] for txin in tx.inputs]


def _load(name: str) -> list[Case]:
    cases = []
    for number, entry in enumerate(json.loads((VECTORS / "tx" / name).read_text())):
        if not isinstance(entry[0], list):
            continue  # a comment line
        prevouts = {
            (hex_to_hash(prev_hash), index & 0xFFFF_FFFF): (amount[0] if amount else 0, parse_script(script))
            for prev_hash, index, script, *amount in entry[0]
        }
        names = frozenset() if entry[2] in ("", "NONE") else frozenset(entry[2].split(","))
        cases.append(Case(number, prevouts, entry[1], names))
    return cases


VALID = _load("tx_valid.json")
INVALID = _load("tx_invalid.json")


def trim(flags: int) -> int:
    """Core's TrimFlags, on the kernel's flags: WITNESS needs P2SH."""
    return flags & ~ScriptFlags.WITNESS if not flags & ScriptFlags.P2SH else flags


def fill(flags: int) -> int:
    """Core's FillFlags, on the kernel's flags: WITNESS brings P2SH."""
    return flags | ScriptFlags.P2SH if flags & ScriptFlags.WITNESS else flags


def _passes(tx: Tx, case: Case, flags: int) -> bool:
    if is_coinbase(tx):  # Core's test runs the two coinbase cases' input too; verify_tx refuses them
        return scripts._KernelTx(tx.serialize(), case.spent(tx)).first_failure(flags) is None
    try:
        scripts.verify_tx(tx, case.spent(tx), flags)
    except scripts.ScriptRejected:
        return False
    return True


def test_vector_counts() -> None:
    """The suites' sizes and how many invalid cases the kernel cannot express (see module doc)."""
    assert (len(VALID), len(INVALID)) == (121, 93)
    assert sum(case.flag_names == {"BADTX"} for case in INVALID) == 9
    assert sum(bool(case.policy_flags) for case in INVALID if case.flag_names != {"BADTX"}) == 14


@needs_kernel
@pytest.mark.parametrize("case", VALID, ids=lambda case: f"valid-{case.number}")
def test_tx_valid(wire_impl, case: Case) -> None:
    tx = wire_impl.module.decode_tx(bytes.fromhex(case.tx_hex))
    check_transaction(tx)
    excluded = case.kernel_flags
    assert fill(CONSENSUS_FLAGS & ~excluded) == CONSENSUS_FLAGS & ~excluded, "Core's own check of the case"
    assert _passes(tx, case, CONSENSUS_FLAGS & ~excluded)
    for flag in CONSENSUS_FLAGS:  # removing a flag never invalidates
        assert _passes(tx, case, trim(CONSENSUS_FLAGS & ~(excluded | flag))), flag
    for flag in ScriptFlags(excluded):  # the excluded set is maximal: putting one back fails
        assert not _passes(tx, case, CONSENSUS_FLAGS & ~trim(excluded & ~flag)), flag


@needs_kernel
@pytest.mark.parametrize("case", INVALID, ids=lambda case: f"invalid-{case.number}")
def test_tx_invalid(wire_impl, case: Case) -> None:
    tx = wire_impl.module.decode_tx(bytes.fromhex(case.tx_hex))
    if case.flag_names == {"BADTX"}:
        with pytest.raises(TxRejected):
            check_transaction(tx)
        return
    check_transaction(tx)
    if case.policy_flags:
        pytest.skip(f"needs policy flag(s) libbitcoinkernel cannot express: {', '.join(sorted(case.policy_flags))}")
    flags = case.kernel_flags
    assert fill(flags) == flags, "Core's own check of the case"
    assert not _passes(tx, case, flags)
    for flag in CONSENSUS_FLAGS:  # adding a flag never validates
        assert not _passes(tx, case, fill(flags | flag)), flag


# --- flags -----------------------------------------------------------------------------------


@needs_kernel
def test_flags_are_the_kernels() -> None:
    kernel = scripts.pbk.ScriptVerificationFlags
    assert {flag.name: int(flag) for flag in ScriptFlags} == {
        flag.name: int(flag) for flag in kernel if flag.name != "ALL"
    }
    assert CONSENSUS_FLAGS == kernel.ALL
    assert scripts.STANDARD_FLAGS == CONSENSUS_FLAGS


def test_script_flags_follow_cores_get_block_script_flags() -> None:
    always = ScriptFlags.P2SH | ScriptFlags.WITNESS | ScriptFlags.TAPROOT
    assert scripts.script_flags(MAIN, 0, None) == always
    assert scripts.script_flags(MAIN, 363_725, None) == always | ScriptFlags.DERSIG
    assert scripts.script_flags(MAIN, 419_328, None) == always | ScriptFlags.DERSIG | (
        ScriptFlags.CHECKLOCKTIMEVERIFY | ScriptFlags.CHECKSEQUENCEVERIFY
    )
    assert scripts.script_flags(MAIN, 481_823, None) & ScriptFlags.NULLDUMMY == 0
    assert scripts.script_flags(MAIN, 481_824, None) == CONSENSUS_FLAGS
    assert scripts.script_flags(REGTEST, 0, None) == always | ScriptFlags.NULLDUMMY
    assert scripts.script_flags(REGTEST, 1, None) == CONSENSUS_FLAGS
    assert scripts.script_flags(TESTNET3, 2_000_000, None) == CONSENSUS_FLAGS  # taproot by BIP9: no height


def test_script_flags_exception_blocks() -> None:
    bip16 = hex_to_hash("00000000000002dc756eebf4f49723ed8d30cc28a5f108eb94b1ba88ac4f9c22")
    taproot = hex_to_hash("0000000000000000000f14c35b2d841e986ab5441de8c585d5ffe55ea1e395ad")
    testnet = hex_to_hash("00000000dd30457c001f4095d208cc1296b0eed002427aa599874af7a432b105")
    assert scripts.script_flags(MAIN, 170_060, bip16) == ScriptFlags.NONE
    assert scripts.script_flags(MAIN, 692_261, taproot) == CONSENSUS_FLAGS & ~ScriptFlags.TAPROOT
    assert scripts.script_flags(TESTNET3, 5_027, testnet) == ScriptFlags.NONE
    assert scripts.script_flags(TESTNET3, 170_060, bip16) & ScriptFlags.P2SH  # another network's exception
    assert scripts.flag_names(ScriptFlags.NONE) == "NONE"
    assert scripts.flag_names(ScriptFlags.P2SH | ScriptFlags.WITNESS) == "P2SH|WITNESS"


@needs_kernel
@pytest.mark.parametrize("flags", [1 << 1, 1 << 30, ScriptFlags.WITNESS])
def test_flags_the_kernel_would_abort_on_are_refused(flags: int) -> None:
    tx, spent = _typed("P2PKH", _wire_py)
    with pytest.raises(ValueError):
        scripts.verify_tx(tx, spent, flags)
    with pytest.raises(ValueError, match="spent outputs"):
        scripts.verify_tx(tx, spent * 2, CONSENSUS_FLAGS)
    with pytest.raises(ValueError, match="coinbase"):
        scripts.verify_tx(_COINBASE, [(0, b"")], CONSENSUS_FLAGS)


# --- mainnet spends --------------------------------------------------------------------------

_TYPED = {entry["type"]: entry for entry in TYPED_TXS}


def _typed(kind: str, module: ModuleType, corrupt_at: int | None = None) -> tuple[Tx, list[tuple[int, bytes]]]:
    """A typed mainnet spend and its spent outputs; `corrupt_at` flips one byte of the tx."""
    entry = _TYPED[kind]
    raw = bytearray.fromhex(entry["hex"])
    if corrupt_at is not None:
        raw[corrupt_at] ^= 0x01
    tx = module.decode_tx(bytes(raw))
    spent = entry["spent_output"]
    outputs = [(0, b"")] * len(tx.inputs)  # only the vector's input is known
    outputs[spent["input_index"]] = (spent["amount_sat"] or 0, bytes.fromhex(spent["script_pubkey_hex"]))
    return tx, outputs


@needs_kernel
@pytest.mark.parametrize("kind", ["P2PKH", "multisig P2SH", "P2SH-P2WPKH", "native P2WPKH", "P2TR key-path"])
def test_mainnet_spends_verify(wire_impl, kind: str) -> None:
    tx, spent = _typed(kind, wire_impl.module)
    scripts.verify_tx(tx, spent, CONSENSUS_FLAGS)


@needs_kernel
def test_mainnet_p2wsh_input_verifies(wire_impl) -> None:
    """The vector gives the output spent by input 1 only: that input is checked on its own."""
    tx, spent = _typed("P2WSH", wire_impl.module)
    kernel_tx = scripts._KernelTx(tx.serialize(), spent)
    assert kernel_tx.input_ok(1, CONSENSUS_FLAGS)
    broken = scripts._KernelTx(tx.serialize(), [spent[0], (spent[1][0] - 1, spent[1][1])])
    assert not broken.input_ok(1, CONSENSUS_FLAGS)  # BIP143 signs the amount


@needs_kernel
def test_corrupted_signature_is_rejected_with_an_unknown_error(wire_impl) -> None:
    """Signatures are the kernel's alone: where one fails, the error cannot be named."""
    # version 4 + count 1 + outpoint 36 + script length 1 + push 1, then DER 30 45 02 21 00 r...
    tx, spent = _typed("P2PKH", wire_impl.module, corrupt_at=4 + 1 + 36 + 1 + 1 + 10)
    with pytest.raises(scripts.ScriptRejected) as caught:
        scripts.verify_tx(tx, spent, CONSENSUS_FLAGS)
    error = caught.value
    assert error.reason == "block-script-verify-flag-failed (unknown error)"
    assert (error.input_index, error.txid, error.error) == (0, tx.txid, "unknown error")
    assert f"input 0 of {tx.txid[::-1].hex()}" in str(error)


def test_kernel_loads_wherever_pyproject_installs_it() -> None:
    """Where the dependency's marker holds, a missing kernel is a broken install, not a skip."""
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    (line,) = [dep for dep in project["project"]["dependencies"] if dep.startswith("py-bitcoinkernel")]
    requirement = Requirement(line)
    assert str(requirement.specifier).startswith("==")  # an alpha: pinned exactly
    if requirement.marker is None or requirement.marker.evaluate():
        assert scripts.AVAILABLE, scripts.UNAVAILABLE_REASON


def test_without_the_kernel_nothing_is_verified() -> None:
    """With `pbk` unimportable the module loads, says why, and every check raises."""
    program = (
        "import sys; sys.modules['pbk'] = None\n"
        "from pantheon.chain import scripts\n"
        "assert not scripts.AVAILABLE and 'script checks are off' in scripts.UNAVAILABLE_REASON\n"
        "for call in (lambda: scripts.verify_tx(None, [], 0), scripts.ScriptVerifier):\n"
        "    try:\n"
        "        call()\n"
        "    except scripts.ScriptsUnavailable:\n"
        "        pass\n"
        "    else:\n"
        "        raise SystemExit('verified without a kernel')\n"
    )
    subprocess.run([sys.executable, "-c", program], check=True, timeout=60)


# --- the mempool's reasons ----------------------------------------------------------------------

_NULLDUMMY_CASE = next(case for case in INVALID if case.flag_names == {"NULLDUMMY"})


@needs_kernel
def test_the_mempool_says_mempool_script_verify_flag_failed_whatever_the_height(wire_impl) -> None:
    """Core 30: one reason for every mempool script failure (Core <= 29 told a failure of policy
    flags only, `non-mandatory-script-verify-flag`, from a consensus one)."""
    tx = wire_impl.module.decode_tx(bytes.fromhex(_NULLDUMMY_CASE.tx_hex))
    spent = _NULLDUMMY_CASE.spent(tx)
    # its signature is not strict DER and its dummy not null: both enforced only from BIP66, BIP147
    with scripts.ScriptVerifier(workers=0) as verifier, pytest.raises(scripts.ScriptRejected) as caught:
        verifier.verify_mempool_tx(tx, [Coin(value, script, 1, False) for value, script in spent], MAIN, 363_724)
    assert caught.value.reason == "mempool-script-verify-flag-failed (unknown error)" and len(verifier.cache) == 0


@needs_kernel
@pytest.mark.parametrize(("script_sig", "error"), [
    (b"\x68" * 35, "Invalid OP_IF construction"),
    (b"\x00\x00\x00\xab\x6a", "Using OP_CODESEPARATOR in non-witness script"),  # before its OP_RETURN
    (b"\x7e", "Attempted to use a disabled opcode"),  # OP_CAT
])
def test_a_failing_script_is_named_as_core_names_it(wire_impl, script_sig: bytes, error: str) -> None:
    """Core's p2p_invalid_tx cases: a bare OP_TRUE output spent with a failing scriptSig."""
    tx = wire_impl.module.decode_tx(Tx(2, [TxIn(b"\x05" * 32, 0, script_sig)], [TxOut(1_000, b"\x51")], 0).serialize())
    with scripts.ScriptVerifier(workers=0) as verifier, pytest.raises(scripts.ScriptRejected) as caught:
        verifier.verify_mempool_tx(tx, [Coin(5_000, b"\x51", 1, False)], MAIN, 900_000)
    assert caught.value.reason == f"mempool-script-verify-flag-failed ({error})"
    with pytest.raises(scripts.ScriptRejected) as caught:
        scripts.verify_tx(tx, [(5_000, b"\x51")], CONSENSUS_FLAGS)
    assert caught.value.reason.startswith("block-script-verify-flag-failed (")


@pytest.mark.parametrize(("spent", "script_sig", "refused"), [
    (b"\x51\x02\x4e\x73", b"", False),  # a P2A anchor
    (b"\x52\x02\x4e\x73", b"", True),  # witness v2: reserved
    (b"\xa9\x14" + bytes.fromhex("b5ee9c1e4a1a2d0bc3e9bd0c0f1ab79c54e82e0c") + b"\x87", b"\x04\x51\x02\x4e\x73",
     None),  # a P2SH whose hash the redeem script does not match: left to the kernel
    (b"\xa9\x14" + hash160(b"\x51\x02\x4e\x73") + b"\x87", b"\x04\x51\x02\x4e\x73", True),  # nested P2A
])
def test_upgradable_witness_programs_are_refused_from_the_mempool(spent: bytes, script_sig: bytes,
                                                                  refused: bool | None) -> None:
    """Core's DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM (mempool_accept's nested-P2A case)."""
    tx = Tx(2, [TxIn(b"\x05" * 32, 0, script_sig)], [TxOut(1_000, b"\x51")], 0)
    if not refused:
        scripts.refuse_upgradable_witness(tx, [Coin(5_000, spent, 1, False)])
        return
    with pytest.raises(scripts.ScriptRejected) as caught:
        scripts.refuse_upgradable_witness(tx, [Coin(5_000, spent, 1, False)])
    assert caught.value.reason == "mempool-script-verify-flag-failed (Witness version reserved for soft-fork upgrades)"
    assert caught.value.detail == f"input 0 of {tx.txid[::-1].hex()} (wtxid {tx.wtxid[::-1].hex()}), spending {'05' * 32}:0"


# --- taproot key path, signed here -----------------------------------------------------------

def _p2tr_spend(wire_module: ModuleType, corrupt: bool = False) -> tuple[Tx, list[tuple[int, bytes]]]:
    secret, script_pubkey = taproot_output(0xC0FFEE)
    other_secret, other_script = taproot_output(0xBEEF)
    spent = [(50_000, script_pubkey), (70_000, other_script)]
    outputs = [TxOut(119_000, bytes.fromhex("0014") + bytes(20))]
    unsigned = [TxIn(bytes([7]) * 32, 1, sequence=0xFFFFFFFD), TxIn(bytes([8]) * 32, 0)]
    draft = Tx(2, unsigned, outputs, 0)
    signatures = [schnorr_sign(key, taproot_sighash(draft, spent, index)) for index, key in enumerate((secret, other_secret))]
    if corrupt:
        signatures[1] = signatures[1][:40] + bytes([signatures[1][40] ^ 1]) + signatures[1][41:]
    signed = [TxIn(txin.prev_txid, txin.prev_index, sequence=txin.sequence, witness=(sig,)) for txin, sig in zip(unsigned, signatures)]
    return wire_module.decode_tx(Tx(2, signed, outputs, 0).serialize()), spent


@needs_kernel
def test_p2tr_key_path_spend_signed_here_verifies(wire_impl) -> None:
    tx, spent = _p2tr_spend(wire_impl.module)
    scripts.verify_tx(tx, spent, CONSENSUS_FLAGS)
    with pytest.raises(scripts.ScriptRejected) as caught:  # BIP341 signs every spent amount
        scripts.verify_tx(tx, [spent[0], (spent[1][0] + 1, spent[1][1])], CONSENSUS_FLAGS)
    assert caught.value.input_index == 0


@needs_kernel
def test_p2tr_corrupted_signature_fails(wire_impl) -> None:
    tx, spent = _p2tr_spend(wire_impl.module, corrupt=True)
    with pytest.raises(scripts.ScriptRejected) as caught:
        scripts.verify_tx(tx, spent, CONSENSUS_FLAGS)
    assert caught.value.input_index == 1
    scripts.verify_tx(tx, spent, CONSENSUS_FLAGS & ~ScriptFlags.TAPROOT)  # unknown witness v1 before taproot


# --- a whole chain: bcoin's regtest wallets -------------------------------------------------

@needs_kernel
def test_bcoin_regtest_chain_scripts_all_verify(wire_impl) -> None:
    """Every input of the 471-block chain, its spent outputs taken from the chain itself (the
    UTXO set's job, kept to a dict here), then the 4 txs left in bcoin's mempool at the tip."""
    unspent: dict[OutPoint, Coin] = {}
    inputs = segwit_inputs = 0
    with scripts.ScriptVerifier(workers=0) as verifier:
        for height, block in enumerate(read_chain(wire_impl.module.decode_block)):
            assert block.hash == hex_to_hash(CHAIN_JSON["blocks"][height]["hash"])
            spent = []
            for tx in block.transactions:  # in order: a tx may spend an earlier one of its block
                spent.append([] if is_coinbase(tx) else [unspent.pop(txin.outpoint) for txin in tx.inputs])
                for index, txout in enumerate(tx.outputs):
                    unspent[OutPoint(tx.txid, index)] = Coin(txout.value, txout.script_pubkey, height, is_coinbase(tx))
            stats = verifier.verify_block_scripts(block, spent, scripts.script_flags(REGTEST, height, block.hash))
            inputs += stats.inputs_verified
            segwit_inputs += sum(bool(txin.witness) for tx in block.transactions[1:] for txin in tx.inputs)
        for entry in CHAIN_JSON["mempool_at_tip"]:
            tx = wire_impl.module.decode_tx(bytes.fromhex(entry["hex"]))
            verifier.verify_mempool_tx(tx, [unspent.pop(txin.outpoint) for txin in tx.inputs], REGTEST, height + 1)
            for index, txout in enumerate(tx.outputs):
                unspent[OutPoint(tx.txid, index)] = Coin(txout.value, txout.script_pubkey, height + 1, False)
    assert (inputs, segwit_inputs) == (942, 539)


# --- blocks, the cache, the hub --------------------------------------------------------------

_COINBASE = Tx(1, [TxIn(bytes(32), 0xFFFF_FFFF, b"\x01\x01")], [TxOut(0, b"\x51")], 0)


def _block(wire_module: ModuleType, corrupt: bool = False) -> tuple[Block, list[list[tuple[int, bytes]]]]:
    """A block (its header is not checked here) of a coinbase and four signed spends."""
    txs, spent = [_COINBASE], [[]]
    for kind in ("P2PKH", "native P2WPKH", "multisig P2SH"):
        tx, outputs = _typed(kind, wire_module)
        txs.append(tx)
        spent.append(outputs)
    tx, outputs = _p2tr_spend(wire_module, corrupt)
    txs.append(tx)
    spent.append(outputs)
    return Block(BlockHeader(1, bytes(32), bytes(32), 0, 0x207FFFFF, 0), tuple(txs)), spent


@needs_kernel
@pytest.mark.parametrize("workers", [0, 2])
def test_block_scripts_verify_and_a_bad_one_rejects_the_block(wire_impl, workers: int) -> None:
    with scripts.ScriptVerifier(workers=workers, min_parallel_inputs=1) as verifier:
        block, spent = _block(wire_impl.module)
        assert verifier.verify_block_scripts(block, spent, CONSENSUS_FLAGS) == scripts.BlockScriptStats(5, 0)
        bad_block, bad_spent = _block(wire_impl.module, corrupt=True)
        with pytest.raises(BlockRejected) as caught:
            verifier.verify_block_scripts(bad_block, bad_spent, CONSENSUS_FLAGS)
        assert caught.value.reason == "block-script-verify-flag-failed (unknown error)"
        assert f"input 1 of {bad_block.transactions[4].txid[::-1].hex()}" in caught.value.detail
        assert not caught.value.mutated and isinstance(caught.value.__cause__, scripts.ScriptRejected)
        assert verifier.verify_block_scripts(block, spent, CONSENSUS_FLAGS).inputs_verified == 5  # workers reused


@needs_kernel
def test_mempool_verification_is_not_repeated_in_the_block(wire_impl) -> None:
    block, spent = _block(wire_impl.module)
    flags = scripts.script_flags(REGTEST, 200, block.hash)
    with scripts.ScriptVerifier(workers=0) as verifier:
        for tx, outputs in zip(block.transactions[1:3], spent[1:3]):
            verifier.verify_mempool_tx(tx, outputs, REGTEST, 200)
        assert len(verifier.cache) == 2  # past the activations the standard and block flags coincide
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(scripts, "_KernelTx", None)  # a second mempool check must not reach the kernel
            verifier.verify_mempool_tx(block.transactions[1], spent[1], REGTEST, 200)
        with pytest.raises(ValueError, match="spent-output lists"):
            verifier.verify_block_scripts(block, spent[1:], flags)
        assert verifier.verify_block_scripts(block, spent, flags) == scripts.BlockScriptStats(3, 2)
        assert len(verifier.cache) == 0  # a block's hit is used up
        assert verifier.verify_block_scripts(block, spent, flags) == scripts.BlockScriptStats(5, 0)


def test_cache_is_bounded_oldest_first() -> None:
    cache = scripts.VerificationCache(max_entries=2)
    for wtxid in (b"a" * 32, b"b" * 32, b"c" * 32):
        cache.add(wtxid, CONSENSUS_FLAGS)
    assert len(cache) == 2 and not cache.contains(b"a" * 32, CONSENSUS_FLAGS)
    assert cache.contains(b"c" * 32, CONSENSUS_FLAGS) and not cache.contains(b"c" * 32, ScriptFlags.P2SH)
    assert cache.contains(b"c" * 32, CONSENSUS_FLAGS, erase=True) and not cache.contains(b"c" * 32, CONSENSUS_FLAGS)
    with pytest.raises(ValueError):
        scripts.VerificationCache(0)


@needs_kernel
@pytest.mark.parametrize("workers", [0, 2])
def test_block_verification_lets_other_greenlets_run(workers: int) -> None:
    block, spent = _block(_wire_py)
    ticks = []

    def ticker() -> None:
        while True:
            ticks.append(1)
            gevent.sleep(0)

    with scripts.ScriptVerifier(workers=workers, yield_every=1, min_parallel_inputs=1) as verifier:
        other = gevent.spawn(ticker)
        gevent.sleep(0)
        before = len(ticks)
        verifier.verify_block_scripts(block, spent, CONSENSUS_FLAGS)
        other.kill()
    assert len(ticks) > before


@needs_kernel
def test_inline_verification_yields_inside_a_transaction() -> None:
    """A tx of many inputs must not hold the hub for all of them (a yield every input here)."""
    wide = Tx(2, [TxIn(bytes([index]) * 32, 0) for index in range(20)], [TxOut(0, b"\x51")], 0)
    block = Block(BlockHeader(1, bytes(32), bytes(32), 0, 0x207FFFFF, 0), (_COINBASE, wide))
    runs = []

    def watcher() -> None:
        while True:
            runs.append(1)
            gevent.sleep(0)

    with scripts.ScriptVerifier(workers=0, yield_every=1) as verifier:
        other = gevent.spawn(watcher)
        gevent.sleep(0)
        before = len(runs)
        verifier.verify_block_scripts(block, [[], [(1, b"\x51")] * 20], CONSENSUS_FLAGS)  # OP_TRUE
        other.kill()
    assert len(runs) - before >= 19


@needs_kernel
def test_blocks_verified_at_once_share_the_workers() -> None:
    block, spent = _block(_wire_py)
    bad_block, bad_spent = _block(_wire_py, corrupt=True)
    with scripts.ScriptVerifier(workers=1, min_parallel_inputs=1) as verifier:
        good = [gevent.spawn(verifier.verify_block_scripts, block, spent, CONSENSUS_FLAGS) for _ in range(3)]
        bad = gevent.spawn(verifier.verify_block_scripts, bad_block, bad_spent, CONSENSUS_FLAGS)
        gevent.joinall([*good, bad])
    assert [job.value for job in good] == [scripts.BlockScriptStats(5, 0)] * 3
    assert isinstance(bad.exception, BlockRejected)


@needs_kernel
def test_workers_run_under_monkey_patching() -> None:
    """cli.py patches the stdlib: the workers' pipes must still be gevent's, and work."""
    program = (
        "from gevent import monkey; monkey.patch_all()\n"
        "from pantheon.chain import scripts\n"
        "from pantheon.primitives import Block, BlockHeader, Tx, TxIn, TxOut\n"
        "coinbase = Tx(1, [TxIn(bytes(32), 0xFFFFFFFF, b'\\x01\\x01')], [TxOut(0, b'\\x51')], 0)\n"
        "spend = Tx(2, [TxIn(bytes([1]) * 32, 0)], [TxOut(0, b'\\x51')], 0)\n"
        "block = Block(BlockHeader(1, bytes(32), bytes(32), 0, 0, 0), (coinbase, spend))\n"
        "with scripts.ScriptVerifier(workers=2, min_parallel_inputs=1) as verifier:\n"
        "    stats = verifier.verify_block_scripts(block, [[], [(1, b'\\x51')]], scripts.CONSENSUS_FLAGS)\n"
        "assert stats == scripts.BlockScriptStats(1, 0), stats\n"
    )
    subprocess.run([sys.executable, "-c", program], check=True, timeout=60)


@needs_kernel
def test_a_dead_worker_fails_the_check_and_is_replaced() -> None:
    block, spent = _block(_wire_py)
    with scripts.ScriptVerifier(workers=1, min_parallel_inputs=1) as verifier:
        verifier.verify_block_scripts(block, spent, CONSENSUS_FLAGS)
        verifier._workers[0].process.kill()
        verifier._workers[0].process.wait()  # dead before the next chunk is written: the pipe is broken
        with pytest.raises(scripts.ScriptCheckError):
            verifier.verify_block_scripts(block, spent, CONSENSUS_FLAGS)
        assert verifier.verify_block_scripts(block, spent, CONSENSUS_FLAGS).inputs_verified == 5


# --- the queue the connect loop feeds -----------------------------------------------------------

_OP_TRUE, _OP_FALSE = (1, b"\x51"), (1, b"\x00")


def _one_input_block(count: int, failing: set[int]) -> tuple[Block, list[list[tuple[int, bytes]]]]:
    """A block of a coinbase and `count` one-input spends of bare OP_TRUE outputs, those at the
    positions in `failing` (1-based, as in the block) spending OP_FALSE instead."""
    txs = tuple(Tx(2, [TxIn(position.to_bytes(32, "little"), 0)], [TxOut(0, b"\x51")], 0)
                for position in range(1, count + 1))
    spent = [[]] + [[_OP_FALSE if position in failing else _OP_TRUE] for position in range(1, count + 1)]
    return Block(BlockHeader(1, bytes(32), bytes(32), 0, 0x207FFFFF, 0), (_COINBASE, *txs)), spent


def _rejection(verifier: scripts.ScriptVerifier, block: Block,
               spent: list[list[tuple[int, bytes]]]) -> tuple[str, str]:
    with pytest.raises(BlockRejected) as caught:
        verifier.verify_block_scripts(block, spent, CONSENSUS_FLAGS)
    return caught.value.reason, caught.value.detail


@needs_kernel
def test_a_failure_is_found_while_later_transactions_are_still_queued(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker answers the first chunk while the loop queues on; the chunks after it are never
    sent, and the verdict is the one the inline path gives."""
    block, spent = _one_input_block(40, failing={2})
    with scripts.ScriptVerifier(workers=0) as inline:
        expected = _rejection(inline, block, spent)
    assert expected[0] == ("block-script-verify-flag-failed (Script evaluated without error but finished with a "
                           "false/empty top stack element)")
    assert f"input 0 of {block.transactions[2].txid[::-1].hex()}" in expected[1]
    sent: list[list[int]] = []
    real_send = scripts._send
    monkeypatch.setattr(scripts, "_send", lambda stream, message: (
        sent.append([position for position, _, _ in message[2]]), real_send(stream, message))[1])
    with scripts.ScriptVerifier(workers=1, min_parallel_inputs=1) as verifier:
        with verifier.queue_block(block, CONSENSUS_FLAGS) as queue:  # chunks of 40 // 8 = 5 inputs
            for tx, outputs in zip(block.transactions[1:6], spent[1:6]):
                queue.add(tx, outputs)
            assert sent == [[0, 1, 2, 3, 4]]  # written as soon as it was full, before any verdict
            gselect.select([verifier._workers[0].replies], [], [], 10)  # the worker has answered
            for tx, outputs in zip(block.transactions[6:], spent[6:]):
                queue.add(tx, outputs)
            with pytest.raises(BlockRejected) as caught:
                queue.complete()
        assert sent == [[0, 1, 2, 3, 4]]
        assert (caught.value.reason, caught.value.detail) == expected
        assert isinstance(caught.value.__cause__, scripts.ScriptRejected)


@needs_kernel
def test_an_abandoned_block_leaves_no_reply_for_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    """A block failing another rule after its chunks went out (here every tx of it fails its
    script): the next block reads none of its replies, and the same workers serve it."""
    bad, bad_spent = _one_input_block(64, failing=set(range(1, 65)))
    good, good_spent = _one_input_block(64, failing=set())
    with scripts.ScriptVerifier(workers=2, min_parallel_inputs=1) as verifier:
        with verifier.queue_block(bad, CONSENSUS_FLAGS) as queue:
            for tx, outputs in zip(bad.transactions[1:], bad_spent[1:]):
                queue.add(tx, outputs)
        workers = [worker.process.pid for worker in verifier._workers]
        assert [len(worker.sent) for worker in verifier._workers] == [0, 0]  # every reply was read
        assert verifier.verify_block_scripts(good, good_spent, CONSENSUS_FLAGS) == scripts.BlockScriptStats(64, 0)
        assert [worker.process.pid for worker in verifier._workers] == workers
        assert _rejection(verifier, bad, bad_spent)[1].startswith(f"input 0 of {bad.transactions[1].txid[::-1].hex()}")


@needs_kernel
def test_an_abandoned_block_keeps_its_cache_entries(wire_impl) -> None:
    """Only a block whose verdict is asked uses up the mempool's verifications, as before."""
    block, spent = _block(wire_impl.module)
    with scripts.ScriptVerifier(workers=2, min_parallel_inputs=1) as verifier:
        verifier.verify_mempool_tx(block.transactions[1], spent[1], REGTEST, 200)
        flags = scripts.script_flags(REGTEST, 200, block.hash)
        with verifier.queue_block(block, flags) as queue:
            for tx, outputs in zip(block.transactions[1:], spent[1:]):
                queue.add(tx, outputs)
        assert verifier.cache.contains(block.transactions[1].wtxid, flags)
        assert verifier.verify_block_scripts(block, spent, flags) == scripts.BlockScriptStats(4, 1)
        assert not verifier.cache.contains(block.transactions[1].wtxid, flags)


@needs_kernel
@pytest.mark.parametrize("workers", [0, 2])
def test_small_blocks_and_no_workers_verify_inline_when_the_verdict_is_asked(
        monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    block, spent = _one_input_block(8, failing={3, 6})
    checked: list[int] = []
    real_kernel_tx = scripts._KernelTx
    monkeypatch.setattr(scripts, "_KernelTx", lambda raw, pairs: (checked.append(1), real_kernel_tx(raw, pairs))[1])
    with scripts.ScriptVerifier(workers=workers, min_parallel_inputs=9) as verifier:
        with verifier.queue_block(block, CONSENSUS_FLAGS) as queue:
            for tx, outputs in zip(block.transactions[1:], spent[1:]):
                queue.add(tx, outputs)
            assert checked == []  # nothing runs before the verdict is asked
            with pytest.raises(BlockRejected) as caught:
                queue.complete()
        assert verifier._workers == []  # 8 inputs are below min_parallel_inputs: no process started
    assert len(checked) == 4  # txs 1 to 3 in block order, stopping at the first failure, then 3 named again
    assert f"input 0 of {block.transactions[3].txid[::-1].hex()}" in caught.value.detail


# --- blocks in flight together (the connect loop's pipeline) --------------------------------------


def _filled(verifier: scripts.ScriptVerifier, block: Block,
            spent: list[list[tuple[int, bytes]]]) -> scripts.ScriptCheckQueue:
    queue = verifier.queue_block(block, CONSENSUS_FLAGS)
    for tx, outputs in zip(block.transactions[1:], spent[1:]):
        queue.add(tx, outputs)
    return queue


def _distinct_one_input_block(count: int, failing: set[int], salt: int) -> tuple[Block, list[list[tuple[int, bytes]]]]:
    """`_one_input_block` whose transactions differ from another salt's (their own txids)."""
    block, spent = _one_input_block(count, failing)
    txs = tuple(Tx(2, tx.inputs, [TxOut(salt, b"\x51")], 0) for tx in block.transactions[1:])
    return Block(block.header, (_COINBASE, *txs)), spent


def _claim_is_free(verifier: scripts.ScriptVerifier) -> bool:
    """Whether a greenlet other than the one that used the workers can claim them now."""
    if not verifier._claim.acquire(blocking=False):
        return False
    verifier._claim.release()
    return True


@needs_kernel
def test_the_next_blocks_chunks_queue_behind_the_last_ones_and_each_verdict_is_its_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """One greenlet starts block B's checks before asking block A's verdict (A's chunks all with
    a worker): B's chunks are sent after A's, and a failure in one block is that block's alone."""
    sent: list[bool] = []  # per chunk sent: whether it is block A's
    real_send = scripts._send
    monkeypatch.setattr(scripts, "_send", lambda stream, message: (
        sent.append(message[2][0][1] in a_raw), real_send(stream, message))[1])
    for failing_a, failing_b in ((set(), set()), ({30}, set()), (set(), {7}), ({3}, {60})):
        a, a_spent = _distinct_one_input_block(64, failing_a, salt=1)
        b, b_spent = _distinct_one_input_block(64, failing_b, salt=2)
        a_raw = {tx.serialize() for tx in a.transactions[1:]}
        sent.clear()
        verdicts: list[object] = []
        with scripts.ScriptVerifier(workers=2, min_parallel_inputs=1) as verifier:
            with _filled(verifier, a, a_spent) as first:
                first.wait_sent()
                with _filled(verifier, b, b_spent) as second:
                    second.wait_sent()
                    for queue in (first, second):
                        try:
                            verdicts.append(queue.complete())
                        except BlockRejected as error:
                            verdicts.append(error.detail.split(" (wtxid")[0])
            assert gevent.spawn(_claim_is_free, verifier).get(timeout=10)  # both blocks gave the workers back
        for verdict, block, failing in zip(verdicts, (a, b), (failing_a, failing_b)):
            if failing:
                assert verdict == f"input 0 of {block.transactions[min(failing)].txid[::-1].hex()}"
            else:
                assert verdict == scripts.BlockScriptStats(64, 0)
        if not failing_a and not failing_b:
            assert sent == [True] * 16 + [False] * 16  # every chunk of A went out before any of B


@needs_kernel
def test_a_worker_lost_with_two_blocks_in_flight_fails_both_and_the_next_starts_afresh() -> None:
    a, a_spent = _distinct_one_input_block(64, set(), salt=1)
    b, b_spent = _distinct_one_input_block(64, set(), salt=2)
    warm_up, warm_up_spent = _distinct_one_input_block(64, set(), salt=3)
    # 64 inputs make 16 chunks for 2 workers; a backlog of 8 each takes all of a block's at once
    with scripts.ScriptVerifier(workers=2, min_parallel_inputs=1, queued_chunks=8) as verifier:
        verifier.verify_block_scripts(warm_up, warm_up_spent, CONSENSUS_FLAGS)  # the workers start
        for worker in verifier._workers:  # paused: no reply comes before the loss, both blocks stay in flight
            worker.process.send_signal(signal.SIGSTOP)
        with _filled(verifier, a, a_spent) as first:
            first.wait_sent()
            with _filled(verifier, b, b_spent) as second:
                lost, *others = verifier._workers
                lost.process.kill()
                lost.process.wait()
                for worker in others:
                    worker.process.send_signal(signal.SIGCONT)
                with pytest.raises(scripts.ScriptCheckError):
                    first.complete()
                with pytest.raises(scripts.ScriptCheckError):
                    second.complete()
        assert verifier._workers == []
        other = gevent.spawn(verifier.verify_block_scripts, a, a_spent, CONSENSUS_FLAGS)  # the claim is free
        assert other.get(timeout=30) == scripts.BlockScriptStats(64, 0)
        assert lost not in verifier._workers and len(verifier._workers) == 2


@needs_kernel
@pytest.mark.parametrize("queued_chunks", [1, 4])
def test_a_worker_is_never_sent_more_chunks_ahead_than_queued_chunks(monkeypatch: pytest.MonkeyPatch,
                                                                    queued_chunks: int) -> None:
    block, spent = _one_input_block(64, failing=set())
    most: list[int] = []
    with scripts.ScriptVerifier(workers=1, min_parallel_inputs=1, queued_chunks=queued_chunks) as verifier:
        real_send = scripts._send
        monkeypatch.setattr(scripts, "_send", lambda stream, message: (
            most.append(len(verifier._workers[0].sent) + 1), real_send(stream, message))[1])
        assert verifier.verify_block_scripts(block, spent, CONSENSUS_FLAGS) == scripts.BlockScriptStats(64, 0)
    assert len(most) == 8 and max(most) == queued_chunks  # 64 inputs in chunks of 8: the backlog filled
    with pytest.raises(ValueError, match="queued_chunks"):
        scripts.ScriptVerifier(workers=1, queued_chunks=0)
