"""Script vocabulary: the opcodes, the script size limits and the output shapes, named as in
Bitcoin Core's `script/script.h`, and the one `GetOp` loop (`script_ops`) every reader of a
script walks it with. Every module that names an opcode, a script limit or a script shape
imports it from here.

This module (`script`, singular) only reads a script's bytes: which opcode stands where, which
shape an output has. It never executes a script: `chain/scripts.py` (plural) runs Core's own
interpreter through libbitcoinkernel. Which shapes the mempool relays is `chain/policy.py`'s.
"""

from __future__ import annotations

from typing import Final, Iterator

__all__ = [
    "OP_0", "OP_PUSHDATA1", "OP_PUSHDATA2", "OP_PUSHDATA4", "OP_1NEGATE", "OP_RESERVED",
    "OP_1", "OP_2", "OP_3", "OP_4", "OP_5", "OP_6", "OP_7", "OP_8", "OP_9", "OP_10", "OP_11", "OP_12", "OP_13",
    "OP_14", "OP_15", "OP_16", "OP_NOP", "OP_RETURN", "OP_DUP", "OP_EQUAL", "OP_EQUALVERIFY", "OP_HASH160",
    "OP_CHECKSIG", "OP_CHECKSIGVERIFY", "OP_CHECKMULTISIG", "OP_CHECKMULTISIGVERIFY", "OP_NOP10", "OP_CHECKSIGADD",
    "OP_INVALIDOPCODE", "MAX_OPCODE",
    "MAX_SCRIPT_SIZE", "MAX_SCRIPT_ELEMENT_SIZE", "MAX_PUBKEYS_PER_MULTISIG",
    "encode_op_n", "decode_op_n", "MalformedScript", "script_ops", "is_push_only", "witness_program",
    "is_p2pkh", "is_p2sh", "is_p2wpkh", "is_p2wsh", "is_p2tr", "is_p2a", "is_unspendable", "has_valid_ops",
    "is_op_success",
]

# --- opcodes (Core script.h opcodetype): those Pantheon names ------------------------------
OP_0: Final = 0x00  # pushes the empty vector; also witness version 0
OP_PUSHDATA1: Final = 0x4C  # below it, an opcode is itself the length of the push that follows
OP_PUSHDATA2: Final = 0x4D
OP_PUSHDATA4: Final = 0x4E
OP_1NEGATE: Final = 0x4F
OP_RESERVED: Final = 0x50
OP_1: Final = 0x51  # OP_1..OP_16 push the numbers 1..16; also witness versions 1..16
OP_2: Final = 0x52
OP_3: Final = 0x53
OP_4: Final = 0x54
OP_5: Final = 0x55
OP_6: Final = 0x56
OP_7: Final = 0x57
OP_8: Final = 0x58
OP_9: Final = 0x59
OP_10: Final = 0x5A
OP_11: Final = 0x5B
OP_12: Final = 0x5C
OP_13: Final = 0x5D
OP_14: Final = 0x5E
OP_15: Final = 0x5F
OP_16: Final = 0x60
OP_NOP: Final = 0x61
OP_RETURN: Final = 0x6A
OP_DUP: Final = 0x76
OP_EQUAL: Final = 0x87
OP_EQUALVERIFY: Final = 0x88
OP_HASH160: Final = 0xA9
OP_CHECKSIG: Final = 0xAC  # the four signature opcodes are consecutive: 0xac..0xaf
OP_CHECKSIGVERIFY: Final = 0xAD
OP_CHECKMULTISIG: Final = 0xAE
OP_CHECKMULTISIGVERIFY: Final = 0xAF
OP_NOP10: Final = 0xB9
OP_CHECKSIGADD: Final = 0xBA  # tapscript's (BIP342)
OP_INVALIDOPCODE: Final = 0xFF
MAX_OPCODE: Final = OP_NOP10  # Core's: above it, no opcode is defined outside tapscript

# --- limits (Core script.h, consensus) --------------------------------------------------------
#: A longer script fails to execute, so a scriptPubKey this long can never be spent.
MAX_SCRIPT_SIZE: Final = 10_000
#: The most bytes one push may put on the stack (and so the cap on a BIP37 filteradd).
MAX_SCRIPT_ELEMENT_SIZE: Final = 520
#: The keys a CHECKMULTISIG may name: what legacy sigop counting charges for one.
MAX_PUBKEYS_PER_MULTISIG: Final = 20

#: BIP342's OP_SUCCESSx: in tapscript each makes the script succeed at once (Core's IsOpSuccess).
_OP_SUCCESS = frozenset((80, 98, *range(126, 130), *range(131, 135), 137, 138, 141, 142, *range(149, 154),
                         *range(187, 255)))

_P2PKH_HEAD = bytes((OP_DUP, OP_HASH160, 20))
_P2PKH_TAIL = bytes((OP_EQUALVERIFY, OP_CHECKSIG))
_P2A = bytes((OP_1, 2, 0x4E, 0x73))  # Core's IsPayToAnchor: witness v1, the 2-byte program 0x4e73


def encode_op_n(n: int) -> int:
    """Core's `CScript::EncodeOP_N`: the opcode pushing the number `n`, 0..16."""
    if not 0 <= n <= 16:
        raise ValueError(f"no opcode pushes {n}")
    return OP_1 + n - 1 if n else OP_0


def decode_op_n(opcode: int) -> int:
    """Core's `CScript::DecodeOP_N`: the number OP_0 or OP_1..OP_16 pushes."""
    if opcode != OP_0 and not OP_1 <= opcode <= OP_16:
        raise ValueError(f"opcode {opcode:#04x} pushes no small number")
    return opcode - OP_1 + 1 if opcode else 0


class MalformedScript(Exception):
    """A push runs past the end of its script (Core's `GetOp` returning false)."""


def script_ops(script: bytes) -> Iterator[tuple[int, bytes | None]]:
    """Core's `CScript::GetOp` loop: (opcode, pushed bytes or None for a non-push opcode).

    A truncated push ends the iteration with `MalformedScript`, which Core's callers read as
    their loop's `GetOp` failing.
    """
    pos = 0
    end = len(script)
    while pos < end:
        opcode = script[pos]
        pos += 1
        if opcode > OP_PUSHDATA4:
            yield opcode, None
            continue
        if opcode < OP_PUSHDATA1:
            size = opcode
        else:
            width = 1 if opcode == OP_PUSHDATA1 else 2 if opcode == OP_PUSHDATA2 else 4
            if end - pos < width:
                raise MalformedScript
            size = int.from_bytes(script[pos : pos + width], "little")
            pos += width
        if end - pos < size:
            raise MalformedScript
        yield opcode, script[pos : pos + size]
        pos += size


def is_push_only(script: bytes) -> bool:
    """Core's `CScript::IsPushOnly`: every opcode is a push or OP_1NEGATE..OP_16 (OP_RESERVED
    included), and no push is truncated."""
    try:
        return all(opcode <= OP_16 for opcode, _ in script_ops(script))
    except MalformedScript:
        return False


def witness_program(script: bytes) -> tuple[int, bytes] | None:
    """Core's `CScript::IsWitnessProgram`: (version, program) when the script is a version opcode
    (OP_0, OP_1..OP_16) and one direct push of 2..40 bytes, nothing else; None otherwise."""
    size = len(script)
    if 4 <= size <= 42 and (script[0] == OP_0 or OP_1 <= script[0] <= OP_16) and script[1] + 2 == size:
        return decode_op_n(script[0]), script[2:]
    return None


def is_p2pkh(script: bytes) -> bool:
    """Pay to public key hash: OP_DUP OP_HASH160 <20 bytes> OP_EQUALVERIFY OP_CHECKSIG."""
    return len(script) == 25 and script.startswith(_P2PKH_HEAD) and script.endswith(_P2PKH_TAIL)


def is_p2sh(script: bytes) -> bool:
    """Core's `CScript::IsPayToScriptHash` (BIP16): OP_HASH160 <20 bytes> OP_EQUAL."""
    return len(script) == 23 and script[0] == OP_HASH160 and script[1] == 20 and script[22] == OP_EQUAL


def is_p2wpkh(script: bytes) -> bool:
    """Pay to witness public key hash (BIP141): witness version 0, a 20-byte program."""
    return len(script) == 22 and script[0] == OP_0 and script[1] == 20


def is_p2wsh(script: bytes) -> bool:
    """Core's `CScript::IsPayToWitnessScriptHash` (BIP141): witness version 0, a 32-byte program."""
    return len(script) == 34 and script[0] == OP_0 and script[1] == 32


def is_p2tr(script: bytes) -> bool:
    """Core's `CScript::IsPayToTaproot` (BIP341): witness version 1, a 32-byte program."""
    return len(script) == 34 and script[0] == OP_1 and script[1] == 32


def is_p2a(script: bytes) -> bool:
    """Core's `CScript::IsPayToAnchor`: pay to anchor (P2A), the keyless output a child spends
    to bump its parent's fee."""
    return script == _P2A


def is_unspendable(script: bytes) -> bool:
    """Core's `CScript::IsUnspendable`: starts with OP_RETURN or is over MAX_SCRIPT_SIZE; such
    outputs never enter the UTXO set."""
    return (bool(script) and script[0] == OP_RETURN) or len(script) > MAX_SCRIPT_SIZE


def has_valid_ops(script: bytes) -> bool:
    """Core's `CScript::HasValidOps`: every push whole and at most MAX_SCRIPT_ELEMENT_SIZE bytes,
    every opcode defined (at most MAX_OPCODE)."""
    try:
        return all(opcode <= MAX_OPCODE and (data is None or len(data) <= MAX_SCRIPT_ELEMENT_SIZE)
                   for opcode, data in script_ops(script))
    except MalformedScript:
        return False


def is_op_success(opcode: int) -> bool:
    """Core's `IsOpSuccess`: an OP_SUCCESSx of BIP342 tapscript."""
    return opcode in _OP_SUCCESS
