"""Why an input's script failed, in Bitcoin Core's words (`ScriptErrorString`), after Core's own
interpreter (libbitcoinkernel, `chain/scripts.py`) said it fails. The kernel answers pass or
fail only; this module re-runs the input as Core's `VerifyScript` and `EvalScript` would, far
enough to name the first error, and says nothing (None) where it cannot follow.

It never decides validity: it runs only on inputs the kernel refused, and its answer only
words the refusal. What it follows: the checks Core makes on every opcode (size, push size,
operation count, disabled opcodes, OP_CODESEPARATOR in legacy scripts, minimal pushes), flow
control, the stack, comparison, arithmetic and hashing opcodes, the upgradable NOPs, the final
stack, P2SH, and the witness-placement rules. What it does not: signatures (CHECKSIG and its
kin), lock times (CHECKLOCKTIMEVERIFY, CHECKSEQUENCEVERIFY) and witness programs' own scripts;
reaching one of those, it gives up. `standard` asks for Core's policy flags (the mempool's:
MINIMALDATA, CONST_SCRIPTCODE, DISCOURAGE_UPGRADABLE_NOPS, CLEANSTACK), else consensus only.
"""

from __future__ import annotations

import hashlib

from pantheon.chain.disassembly import OPCODE_NAMES
from pantheon.chain.script import (
    MAX_SCRIPT_ELEMENT_SIZE,
    MAX_SCRIPT_SIZE,
    OP_1,
    OP_16,
    OP_1NEGATE,
    OP_PUSHDATA1,
    OP_PUSHDATA2,
    MalformedScript,
    is_p2sh,
    is_push_only,
    script_ops,
    witness_program,
)

__all__ = ["explain_failure", "SCRIPT_ERRORS"]

#: Core's ScriptErrorString texts for the errors named here.
SCRIPT_ERRORS = {
    "EVAL_FALSE": "Script evaluated without error but finished with a false/empty top stack element",
    "OP_RETURN": "OP_RETURN was encountered",
    "SCRIPT_SIZE": "Script is too big",
    "PUSH_SIZE": "Push value size limit exceeded",
    "OP_COUNT": "Operation limit exceeded",
    "STACK_SIZE": "Stack size limit exceeded",
    "VERIFY": "Script failed an OP_VERIFY operation",
    "EQUALVERIFY": "Script failed an OP_EQUALVERIFY operation",
    "NUMEQUALVERIFY": "Script failed an OP_NUMEQUALVERIFY operation",
    "BAD_OPCODE": "Opcode missing or not understood",
    "DISABLED_OPCODE": "Attempted to use a disabled opcode",
    "INVALID_STACK_OPERATION": "Operation not valid with the current stack size",
    "INVALID_ALTSTACK_OPERATION": "Operation not valid with the current altstack size",
    "UNBALANCED_CONDITIONAL": "Invalid OP_IF construction",
    "MINIMALDATA": "Data push larger than necessary",
    "SIG_PUSHONLY": "Only push operators allowed in signatures",
    "DISCOURAGE_UPGRADABLE_NOPS": "NOPx reserved for soft-fork upgrades",
    "CLEANSTACK": "Stack size must be exactly one after execution",
    "OP_CODESEPARATOR": "Using OP_CODESEPARATOR in non-witness script",
    "WITNESS_MALLEATED": "Witness requires empty scriptSig",
    "WITNESS_MALLEATED_P2SH": "Witness requires only-redeemscript scriptSig",
    "WITNESS_UNEXPECTED": "Witness provided for non-witness script",
    "UNKNOWN_ERROR": "unknown error",
}

_OP = {name: code for code, name in OPCODE_NAMES.items() if name.startswith("OP_")}
_MAX_OPS_PER_SCRIPT = 201
_MAX_STACK_SIZE = 1000
_MAX_NUM_SIZE = 4
_DISABLED = {_OP[name] for name in ("OP_CAT", "OP_SUBSTR", "OP_LEFT", "OP_RIGHT", "OP_INVERT", "OP_AND", "OP_OR",
                                    "OP_XOR", "OP_2MUL", "OP_2DIV", "OP_MUL", "OP_DIV", "OP_MOD", "OP_LSHIFT",
                                    "OP_RSHIFT")}
_UPGRADABLE_NOPS = {_OP[name] for name in ("OP_NOP1", "OP_NOP4", "OP_NOP5", "OP_NOP6", "OP_NOP7", "OP_NOP8",
                                           "OP_NOP9", "OP_NOP10")}
_NOT_FOLLOWED = {_OP[name] for name in ("OP_CHECKSIG", "OP_CHECKSIGVERIFY", "OP_CHECKMULTISIG",
                                        "OP_CHECKMULTISIGVERIFY", "OP_CHECKLOCKTIMEVERIFY",
                                        "OP_CHECKSEQUENCEVERIFY")}
_HASHES = {"OP_SHA1": ("sha1",), "OP_SHA256": ("sha256",), "OP_HASH256": ("sha256", "sha256"),
           "OP_RIPEMD160": ("ripemd160",), "OP_HASH160": ("sha256", "ripemd160")}


class _Failed(Exception):
    """The script fails with Core's error `name`."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class _Lost(Exception):
    """The script reached what this module does not follow."""


def _true(value: bytes) -> bool:
    """Core's CastToBool: any non-zero byte, except a lone sign bit at the end (negative zero)."""
    return any(value[:-1]) or (bool(value) and value[-1] not in (0, 0x80))


def _num(value: bytes, minimal: bool) -> int:
    """CScriptNum of at most 4 bytes; Core throws (an unknown error) beyond, or for a
    non-minimal encoding under MINIMALDATA."""
    if len(value) > _MAX_NUM_SIZE:
        raise _Failed("UNKNOWN_ERROR")
    if minimal and value and (value[-1] & 0x7F) == 0 and (len(value) == 1 or not value[-2] & 0x80):
        raise _Failed("UNKNOWN_ERROR")
    if not value:
        return 0
    magnitude = int.from_bytes(value, "little") & ~(0x80 << (8 * (len(value) - 1)))
    return -magnitude if value[-1] & 0x80 else magnitude


def _encode(number: int) -> bytes:
    """CScriptNum::serialize: minimal little-endian magnitude with the sign in the top bit."""
    if number == 0:
        return b""
    magnitude = abs(number)
    data = bytearray(magnitude.to_bytes((magnitude.bit_length() + 7) // 8, "little"))
    if data[-1] & 0x80:
        data.append(0x80 if number < 0 else 0)
    elif number < 0:
        data[-1] |= 0x80
    return bytes(data)


def _minimal_push(opcode: int, data: bytes) -> bool:
    """Core's CheckMinimalPush."""
    if not data:
        return opcode == 0
    if len(data) == 1 and (1 <= data[0] <= 16 or data[0] == 0x81):
        return False
    if len(data) <= 75:
        return opcode == len(data)
    if len(data) <= 255:
        return opcode == OP_PUSHDATA1
    return len(data) > 65535 or opcode == OP_PUSHDATA2


def _hash(names: tuple[str, ...], data: bytes) -> bytes:
    for name in names:
        try:
            data = hashlib.new(name, data).digest()
        except ValueError:  # an OpenSSL without RIPEMD-160
            raise _Lost from None
    return data


def _evaluate(script: bytes, stack: list[bytes], standard: bool) -> None:
    """Core's EvalScript for a legacy (base) script, as far as it is followed; raises _Failed."""
    if len(script) > MAX_SCRIPT_SIZE:
        raise _Failed("SCRIPT_SIZE")
    executing: list[bool] = []
    altstack: list[bytes] = []
    operations = 0
    try:
        ops = list(script_ops(script))
    except MalformedScript:
        ops = None
    if ops is None:  # Core fails at the truncated push, after running what precedes it
        raise _Lost
    for opcode, data in ops:
        running = all(executing)
        if data is not None and len(data) > MAX_SCRIPT_ELEMENT_SIZE:
            raise _Failed("PUSH_SIZE")
        if opcode > OP_16:
            operations += 1
            if operations > _MAX_OPS_PER_SCRIPT:
                raise _Failed("OP_COUNT")
        if opcode in _DISABLED:
            raise _Failed("DISABLED_OPCODE")
        if opcode == _OP["OP_CODESEPARATOR"] and standard:
            raise _Failed("OP_CODESEPARATOR")
        if running and data is not None:
            if standard and not _minimal_push(opcode, data):
                raise _Failed("MINIMALDATA")
            stack.append(data)
        elif running or _OP["OP_IF"] <= opcode <= _OP["OP_ENDIF"]:
            _step(opcode, stack, altstack, executing, standard)
        if len(stack) + len(altstack) > _MAX_STACK_SIZE:
            raise _Failed("STACK_SIZE")
    if executing:
        raise _Failed("UNBALANCED_CONDITIONAL")


def _pop(stack: list[bytes], count: int = 1) -> list[bytes]:
    if len(stack) < count:
        raise _Failed("INVALID_STACK_OPERATION")
    taken = stack[-count:]
    del stack[-count:]
    return taken


def _step(opcode: int, stack: list[bytes], altstack: list[bytes], executing: list[bool], standard: bool) -> None:
    """One executed opcode (or a flow-control one in a branch not taken)."""
    name = OPCODE_NAMES.get(opcode, "")
    if opcode == OP_1NEGATE or OP_1 <= opcode <= OP_16:
        stack.append(_encode(-1 if opcode == OP_1NEGATE else opcode - OP_1 + 1))
    elif name in ("OP_IF", "OP_NOTIF"):
        taken = False
        if all(executing):
            taken = _true(_pop(stack)[0]) == (name == "OP_IF")
        executing.append(taken)
    elif name in ("OP_ELSE", "OP_ENDIF"):
        if not executing:
            raise _Failed("UNBALANCED_CONDITIONAL")
        if name == "OP_ELSE":
            executing[-1] = not executing[-1]
        else:
            executing.pop()
    elif name == "OP_NOP":
        pass
    elif opcode in _UPGRADABLE_NOPS:
        if standard:
            raise _Failed("DISCOURAGE_UPGRADABLE_NOPS")
    elif opcode in _NOT_FOLLOWED:
        raise _Lost
    elif name == "OP_VERIFY":
        if not _true(_pop(stack)[0]):
            raise _Failed("VERIFY")
    elif name == "OP_RETURN":
        raise _Failed("OP_RETURN")
    elif name == "OP_CODESEPARATOR":
        pass
    elif name in _HASHES:
        stack.append(_hash(_HASHES[name], _pop(stack)[0]))
    elif name in ("OP_EQUAL", "OP_EQUALVERIFY"):
        left, right = _pop(stack, 2)
        if name == "OP_EQUAL":
            stack.append(_encode(int(left == right)))
        elif left != right:
            raise _Failed("EQUALVERIFY")
    elif name in ("OP_TOALTSTACK", "OP_FROMALTSTACK"):
        if name == "OP_TOALTSTACK":
            altstack.append(_pop(stack)[0])
        elif not altstack:
            raise _Failed("INVALID_ALTSTACK_OPERATION")
        else:
            stack.append(altstack.pop())
    else:
        _stack_or_number(name, stack, standard)


def _stack_or_number(name: str, stack: list[bytes], standard: bool) -> None:
    """The stack shuffles and the arithmetic opcodes; any other opcode executed is a bad one."""
    shuffles = {"OP_2DROP": (2, lambda s: []), "OP_2DUP": (2, lambda s: s + s), "OP_3DUP": (3, lambda s: s + s),
                "OP_2OVER": (4, lambda s: s + s[:2]), "OP_2ROT": (6, lambda s: s[2:] + s[:2]),
                "OP_2SWAP": (4, lambda s: s[2:] + s[:2]), "OP_DROP": (1, lambda s: []), "OP_DUP": (1, lambda s: s + s),
                "OP_NIP": (2, lambda s: s[1:]), "OP_OVER": (2, lambda s: s + s[:1]),
                "OP_ROT": (3, lambda s: s[1:] + s[:1]), "OP_SWAP": (2, lambda s: s[::-1]),
                "OP_TUCK": (2, lambda s: s[1:] + s)}
    if name in shuffles:
        count, shuffle = shuffles[name]
        stack.extend(shuffle(_pop(stack, count)))
        return
    if name == "OP_IFDUP":
        top = _pop(stack)[0]
        stack.extend([top, top] if _true(top) else [top])
    elif name == "OP_DEPTH":
        stack.append(_encode(len(stack)))
    elif name == "OP_SIZE":
        top = _pop(stack)[0]
        stack.extend([top, _encode(len(top))])
    elif name in ("OP_PICK", "OP_ROLL"):
        depth = _num(_pop(stack)[0], standard)
        if not 0 <= depth < len(stack):
            raise _Failed("INVALID_STACK_OPERATION")
        item = stack[-depth - 1]
        if name == "OP_ROLL":
            del stack[-depth - 1]
        stack.append(item)
    elif name in ("OP_1ADD", "OP_1SUB", "OP_NEGATE", "OP_ABS", "OP_NOT", "OP_0NOTEQUAL"):
        value = _num(_pop(stack)[0], standard)
        stack.append(_encode({"OP_1ADD": value + 1, "OP_1SUB": value - 1, "OP_NEGATE": -value, "OP_ABS": abs(value),
                              "OP_NOT": int(value == 0), "OP_0NOTEQUAL": int(value != 0)}[name]))
    elif name == "OP_WITHIN":
        value, low, high = (_num(item, standard) for item in _pop(stack, 3))
        stack.append(_encode(int(low <= value < high)))
    elif name in _BINARY:
        left, right = (_num(item, standard) for item in _pop(stack, 2))
        result = _BINARY[name](left, right)
        if name == "OP_NUMEQUALVERIFY":
            if not result:
                raise _Failed("NUMEQUALVERIFY")
        else:
            stack.append(_encode(int(result)))
    else:  # OP_VER, OP_VERIF, OP_RESERVED..., unassigned opcodes
        raise _Failed("BAD_OPCODE")


_BINARY = {
    "OP_ADD": lambda a, b: a + b, "OP_SUB": lambda a, b: a - b, "OP_BOOLAND": lambda a, b: a != 0 and b != 0,
    "OP_BOOLOR": lambda a, b: a != 0 or b != 0, "OP_NUMEQUAL": lambda a, b: a == b,
    "OP_NUMEQUALVERIFY": lambda a, b: a == b, "OP_NUMNOTEQUAL": lambda a, b: a != b,
    "OP_LESSTHAN": lambda a, b: a < b, "OP_GREATERTHAN": lambda a, b: a > b,
    "OP_LESSTHANOREQUAL": lambda a, b: a <= b, "OP_GREATERTHANOREQUAL": lambda a, b: a >= b,
    "OP_MIN": min, "OP_MAX": max,
}


def _verify(script_sig: bytes, script_pubkey: bytes, witness: tuple[bytes, ...], *, p2sh: bool, segwit: bool,
            standard: bool) -> None:
    """Core's VerifyScript, as far as it is followed; raises _Failed or _Lost."""
    stack: list[bytes] = []
    _evaluate(script_sig, stack, standard)
    copy = list(stack)
    _evaluate(script_pubkey, stack, standard)
    if not stack or not _true(stack[-1]):
        raise _Failed("EVAL_FALSE")
    if segwit and witness_program(script_pubkey) is not None:
        if script_sig:
            raise _Failed("WITNESS_MALLEATED")
        raise _Lost
    if p2sh and is_p2sh(script_pubkey):
        if not is_push_only(script_sig):
            raise _Failed("SIG_PUSHONLY")
        stack = copy
        redeem = _pop(stack)[0]
        _evaluate(redeem, stack, standard)
        if not stack or not _true(stack[-1]):
            raise _Failed("EVAL_FALSE")
        if segwit and witness_program(redeem) is not None:
            raise _Lost
    if standard and len(stack) != 1:
        raise _Failed("CLEANSTACK")
    if segwit and witness:
        raise _Failed("WITNESS_UNEXPECTED")


def explain_failure(script_sig: bytes, script_pubkey: bytes, witness: tuple[bytes, ...], *, p2sh: bool,
                    segwit: bool, standard: bool) -> str | None:
    """Core's ScriptErrorString for an input the kernel refused, None where this module cannot
    follow the input to its error (see the module notes)."""
    try:
        _verify(script_sig, script_pubkey, witness, p2sh=p2sh, segwit=segwit, standard=standard)
    except _Failed as failed:
        return SCRIPT_ERRORS[failed.name]
    except _Lost:
        return None
    return None
