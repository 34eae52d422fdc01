"""Script disassembly as Bitcoin Core writes it (`ScriptToAsmStr`): the `asm` strings of
getrawtransaction, getblock and decodescript, so tools written against Core read ours unchanged.

Core's format: pushes of up to 4 bytes as the number they encode (CScriptNum, not required to be
minimal: `0`, `-1`, `500000`), longer pushes as hex, OP_0 / OP_1NEGATE / OP_1..OP_16 as `0`, `-1`,
`1`..`16`, every other opcode by its name (`OP_UNKNOWN` for the unassigned ones), and `[error]`
where a push runs past the end. In a scriptSig, a push that is a strictly DER-encoded signature
with a defined hash type (BIP66 and STRICTENC, the checks Core's `CheckSignatureEncoding` makes)
is shown as the signature without its last byte plus the type decoded, as in `3044...[ALL]`;
never in an unspendable script, whose data could merely look like a signature.
"""

from __future__ import annotations

from pantheon.chain.script import (
    OP_1NEGATE,
    OP_INVALIDOPCODE,
    OP_NOP,
    OP_PUSHDATA1,
    OP_RESERVED,
    MalformedScript,
    encode_op_n,
    is_unspendable,
    script_ops,
)

__all__ = ["script_to_asm", "OPCODE_NAMES"]

_SIGHASH_ANYONECANPAY = 0x80
_SIGHASH_NAMES = {1: "ALL", 2: "NONE", 3: "SINGLE"}


def _opcode_names() -> dict[int, str]:
    names = {OP_1NEGATE: "-1", OP_RESERVED: "OP_RESERVED"}
    names.update({encode_op_n(n): str(n) for n in range(1, 17)})
    runs = [  # (first opcode, its name and the names of the opcodes that follow it)
        (OP_PUSHDATA1, "OP_PUSHDATA1 OP_PUSHDATA2 OP_PUSHDATA4"),
        (OP_NOP, "OP_NOP OP_VER OP_IF OP_NOTIF OP_VERIF OP_VERNOTIF OP_ELSE OP_ENDIF OP_VERIFY OP_RETURN "
               "OP_TOALTSTACK OP_FROMALTSTACK OP_2DROP OP_2DUP OP_3DUP OP_2OVER OP_2ROT OP_2SWAP OP_IFDUP "
               "OP_DEPTH OP_DROP OP_DUP OP_NIP OP_OVER OP_PICK OP_ROLL OP_ROT OP_SWAP OP_TUCK OP_CAT OP_SUBSTR "
               "OP_LEFT OP_RIGHT OP_SIZE OP_INVERT OP_AND OP_OR OP_XOR OP_EQUAL OP_EQUALVERIFY OP_RESERVED1 "
               "OP_RESERVED2 OP_1ADD OP_1SUB OP_2MUL OP_2DIV OP_NEGATE OP_ABS OP_NOT OP_0NOTEQUAL OP_ADD OP_SUB "
               "OP_MUL OP_DIV OP_MOD OP_LSHIFT OP_RSHIFT OP_BOOLAND OP_BOOLOR OP_NUMEQUAL OP_NUMEQUALVERIFY "
               "OP_NUMNOTEQUAL OP_LESSTHAN OP_GREATERTHAN OP_LESSTHANOREQUAL OP_GREATERTHANOREQUAL OP_MIN "
               "OP_MAX OP_WITHIN OP_RIPEMD160 OP_SHA1 OP_SHA256 OP_HASH160 OP_HASH256 OP_CODESEPARATOR "
               "OP_CHECKSIG OP_CHECKSIGVERIFY OP_CHECKMULTISIG OP_CHECKMULTISIGVERIFY OP_NOP1 "
               "OP_CHECKLOCKTIMEVERIFY OP_CHECKSEQUENCEVERIFY OP_NOP4 OP_NOP5 OP_NOP6 OP_NOP7 OP_NOP8 OP_NOP9 "
               "OP_NOP10 OP_CHECKSIGADD"),
        (OP_INVALIDOPCODE, "OP_INVALIDOPCODE"),
    ]
    for first, run in runs:
        names.update({first + offset: name for offset, name in enumerate(run.split())})
    return names


#: Every opcode by Core's name (`GetOpName`; OP_0..OP_16 and OP_1NEGATE as their numbers).
OPCODE_NAMES = _opcode_names()


def _script_num(data: bytes) -> int:
    """CScriptNum of up to 4 bytes, minimal or not: little-endian magnitude, sign in the top bit."""
    if not data:
        return 0
    magnitude = int.from_bytes(data, "little")
    sign_bit = 0x80 << (8 * (len(data) - 1))
    return -(magnitude & ~sign_bit) if magnitude & sign_bit else magnitude


def _strict_der(sig: bytes) -> bool:
    """BIP66's IsValidSignatureEncoding: DER (r, s) plus one hash-type byte."""
    size = len(sig)
    if not 9 <= size <= 73 or sig[0] != 0x30 or sig[1] != size - 3:
        return False
    len_r = sig[3]
    if 5 + len_r >= size:
        return False
    len_s = sig[5 + len_r]
    if len_r + len_s + 7 != size or sig[2] != 0x02 or len_r == 0 or sig[4] & 0x80:
        return False
    if len_r > 1 and sig[4] == 0 and not sig[5] & 0x80:
        return False
    if sig[len_r + 4] != 0x02 or len_s == 0 or sig[len_r + 6] & 0x80:
        return False
    return not (len_s > 1 and sig[len_r + 6] == 0 and not sig[len_r + 7] & 0x80)


def _signature_asm(data: bytes) -> str | None:
    """`<der>[TYPE]` when `data` is a signature Core would decode, else None."""
    hash_type = data[-1]
    name = _SIGHASH_NAMES.get(hash_type & ~_SIGHASH_ANYONECANPAY)
    if name is None or not _strict_der(data):
        return None
    if hash_type & _SIGHASH_ANYONECANPAY:
        name += "|ANYONECANPAY"
    return f"{data[:-1].hex()}[{name}]"


def script_to_asm(script: bytes, decode_signatures: bool = False) -> str:
    """Core's ScriptToAsmStr; `decode_signatures` for a scriptSig (Core's fAttemptSighashDecode)."""
    decode_signatures = decode_signatures and not is_unspendable(script)
    words: list[str] = []
    try:
        for opcode, data in script_ops(script):
            if data is None:
                words.append(OPCODE_NAMES.get(opcode, "OP_UNKNOWN"))
            elif len(data) <= 4:
                words.append(str(_script_num(data)))
            else:
                words.append((decode_signatures and _signature_asm(data)) or data.hex())
    except MalformedScript:
        words.append("[error]")
    return " ".join(words)
