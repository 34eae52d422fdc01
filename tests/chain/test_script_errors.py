"""The naming of a refused input's script error (`pantheon.chain.script_errors`): Core's
`ScriptErrorString` for what it follows, None where it stops (signatures, lock times, witness
programs), under Core's policy flags (`standard`) or consensus alone. The kernel's verdict on
these inputs is tests/chain/test_scripts.py's."""

from __future__ import annotations

import hashlib

import pytest

from pantheon.chain.script_errors import SCRIPT_ERRORS, explain_failure

P2SH_OF_TRUE = b"\xa9\x14" + hashlib.new("ripemd160", hashlib.sha256(b"\x51").digest()).digest() + b"\x87" \
    if "ripemd160" in hashlib.algorithms_available else None


def explain(script_sig: bytes, script_pubkey: bytes = b"\x51", witness: tuple[bytes, ...] = (),
            standard: bool = True) -> str | None:
    return explain_failure(script_sig, script_pubkey, witness, p2sh=True, segwit=True, standard=standard)


@pytest.mark.parametrize(("script_sig", "script_pubkey", "error"), [
    (b"\x68" * 35, b"\x51", "UNBALANCED_CONDITIONAL"),  # OP_ENDIF without OP_IF
    (b"\x51\x63", b"\x51", "UNBALANCED_CONDITIONAL"),  # OP_IF never closed
    (b"\x00\x00\x00\xab\x6a", b"\x51", "OP_CODESEPARATOR"),
    (b"\x00\x63\x7e\x68", b"\x51", "DISABLED_OPCODE"),  # OP_CAT, even in a branch not taken
    (b"\x00\x63\x65\x68", b"\x51", "BAD_OPCODE"),  # OP_VERIF, even in a branch not taken
    (b"\x00\x63\x62\x68", b"\x00", "EVAL_FALSE"),  # OP_VER in a branch not taken is fine
    (b"\x62", b"\x51", "BAD_OPCODE"),
    (b"\x6a", b"\x51", "OP_RETURN"),
    (b"", b"\x00", "EVAL_FALSE"),
    (b"", b"\x69", "INVALID_STACK_OPERATION"),  # OP_VERIFY on an empty stack
    (b"\x00", b"\x69\x51", "VERIFY"),
    (b"\x51\x52", b"\x88\x51", "EQUALVERIFY"),
    (b"\x51\x52", b"\x9d\x51", "NUMEQUALVERIFY"),
    (b"", b"\x6c", "INVALID_ALTSTACK_OPERATION"),
    (b"\x01\x05", b"\x51", "MINIMALDATA"),  # 5 pushed as data, not OP_5
    (b"\x51\x51", b"\x51", "CLEANSTACK"),
    (b"\xb0", b"\x51", "DISCOURAGE_UPGRADABLE_NOPS"),  # OP_NOP1
    (b"\x4d\x09\x02" + b"\x00" * 521, b"\x51", "PUSH_SIZE"),
    (b"\x61" * 202, b"\x51", "OP_COUNT"),
    (b"\x51" * 1001, b"\x51", "STACK_SIZE"),
    (b"\x02\x00\x80\x8b", b"\x51", "UNKNOWN_ERROR"),  # OP_1ADD of a non-minimal number under MINIMALDATA
    (b"", b"\x51", "WITNESS_UNEXPECTED"),
])
def test_errors_are_named_as_core(script_sig: bytes, script_pubkey: bytes, error: str) -> None:
    witness = (b"\x01",) if error == "WITNESS_UNEXPECTED" else ()
    assert explain(script_sig, script_pubkey, witness) == SCRIPT_ERRORS[error]


def test_policy_flags_only_where_standard() -> None:
    assert explain(b"\x00\x00\x00\xab\x6a", standard=False) == SCRIPT_ERRORS["OP_RETURN"]
    assert explain(b"\xb0\x00", b"", standard=False) == SCRIPT_ERRORS["EVAL_FALSE"]
    assert explain(b"\x51\x51", standard=False) is None  # passes: nothing to name


def test_arithmetic_and_stack_shuffles() -> None:
    # 2 3 OP_ADD 5 OP_NUMEQUAL 0 OP_BOOLAND: false
    assert explain(b"\x52\x53\x93\x55\x9c\x00\x9a", b"") == SCRIPT_ERRORS["EVAL_FALSE"]
    assert explain(b"\x52\x53\x7c\x94\x51\x87", b"\x00\x9c") == SCRIPT_ERRORS["EVAL_FALSE"]  # 3-2=1 == 1, then ==0


@pytest.mark.parametrize(("script_sig", "script_pubkey", "witness"), [
    (b"", b"\xac", ()),  # OP_CHECKSIG: signatures are not followed
    (b"", b"\x00\x14" + b"\x01" * 20, (b"\x01",)),  # a witness program's own script
    (b"\x01", b"\x51", ()),  # a push cut short
])
def test_where_it_cannot_follow_it_says_nothing(script_sig: bytes, script_pubkey: bytes,
                                               witness: tuple[bytes, ...]) -> None:
    assert explain(script_sig, script_pubkey, witness) is None


def test_witness_placement_and_p2sh() -> None:
    assert explain(b"\x51", b"\x00\x14" + b"\x01" * 20, (b"\x01",)) == SCRIPT_ERRORS["WITNESS_MALLEATED"]
    if P2SH_OF_TRUE is not None:
        assert explain(b"\x51\x76\x75\x01\x51", P2SH_OF_TRUE) == SCRIPT_ERRORS["SIG_PUSHONLY"]
        assert explain(b"\x00\x01\x51", P2SH_OF_TRUE) == SCRIPT_ERRORS["CLEANSTACK"]
