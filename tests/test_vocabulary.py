"""No constant typed twice: each piece of the protocol's vocabulary has one home module, and the
code elsewhere (pantheon/, tools/, benchmarks/, examples/) imports it rather than retyping it.

Two checks, both on tokens and syntax trees (comments and docstrings may name values freely):
- names: a module-level assignment to a vocabulary name (`NODE_*`, `MSG_*`, `OP_*`, `COIN`,
  `PROTOCOL_VERSION`, ...) outside its home is a second definition;
- literals: the numbers that only mean one thing here (protocol versions, opcodes, the header
  size, satoshis per coin) may appear only in their home, or in the few places listed with the
  different thing they mean there.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TREES = ("pantheon", "tools", "benchmarks", "examples")

#: name pattern -> the module allowed to define it
NAME_HOMES = {
    r"NODE_[A-Z0-9_]+|SERVICE_NAMES|FULL_RELAY_SERVICES": "pantheon/protocol.py",
    r"MSG_[A-Z_]+|INV_TYPE_NAMES": "pantheon/protocol.py",
    r"PROTOCOL_VERSION|MIN_PEER_VERSION|(SENDHEADERS|FEEFILTER|SHORT_IDS_BLOCKS|INVALID_CB_NO_BAN|WTXID_RELAY)_VERSION":
        "pantheon/protocol.py",
    r"BLOCK_HEADER_SIZE|SHORTTXIDS_LENGTH": "pantheon/protocol.py",
    r"OP_[A-Z0-9_]+|MAX_SCRIPT_SIZE|MAX_SCRIPT_ELEMENT_SIZE|MAX_PUBKEYS_PER_MULTISIG": "pantheon/chain/script.py",
    r"COIN|MAX_MONEY": "pantheon/chain/validation.py",
    r"MAX_HEADERS(_RESULTS)?|MAX_INV_(ENTRIES|SZ)|MAX_LOCATOR_(HASHES|SZ)|MAX_ADDR": "pantheon/limits.py",
}

#: literal value -> its home
LITERAL_HOMES = {
    **{version: "pantheon/protocol.py" for version in (70001, 70012, 70013, 70014, 70015, 70016)},
    80: "pantheon/protocol.py",  # BLOCK_HEADER_SIZE
    **{opcode: "pantheon/chain/script.py"
       for opcode in (0x51, 0x60, 0x6A, 0x76, 0x87, 0x88, 0xA9, 0xAC, 0xAD, 0xAE, 0xAF)},
    100_000_000: "pantheon/chain/validation.py",  # COIN
}
#: (file, literal) allowed outside the home, with what the number means there
LITERAL_EXCEPTIONS = {
    ("pantheon/chain/script.py", 80): "OP_RESERVED is 0x50",
    ("pantheon/chain/policy.py", 80): "Core's 80-byte P2WSH and tapscript stack item limits, the 0x50 annex tag",
    ("pantheon/net/gossip.py", 100_000_000): "Core's earliest plausible addr timestamp",
    ("pantheon/chain/chainstate.py", 100_000_000): "bcoin's BIP34 activation height on its regtest",
}


def sources() -> list[Path]:
    return sorted(path for tree in TREES for path in (ROOT / tree).rglob("*.py"))


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def defined_names(path: Path) -> list[tuple[str, int]]:
    """Module-level names assigned in `path` (plain and annotated assignments)."""
    found = []
    for node in ast.parse(path.read_text(), str(path)).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        found += [(target.id, node.lineno) for target in targets if isinstance(target, ast.Name)]
    return found


def number_literals(path: Path) -> list[tuple[int, int]]:
    """(value, line) of every integer literal in code, not in comments or strings."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if token.type == tokenize.NUMBER:
            try:
                found.append((int(token.string.replace("_", ""), 0), token.start[0]))
            except ValueError:
                continue  # a float or complex literal
    return found


def test_each_vocabulary_name_is_defined_in_its_home_only() -> None:
    misplaced = []
    for path in sources():
        where = relative(path)
        for name, line in defined_names(path):
            for pattern, home in NAME_HOMES.items():
                if re.fullmatch(pattern, name) and where != home:
                    misplaced.append(f"{where}:{line}: {name} belongs in {home}")
    assert misplaced == []


def test_known_literals_appear_in_their_home_only() -> None:
    misplaced = []
    for path in sources():
        where = relative(path)
        for value, line in number_literals(path):
            home = LITERAL_HOMES.get(value)
            if home is not None and where != home and (where, value) not in LITERAL_EXCEPTIONS:
                misplaced.append(f"{where}:{line}: {value:#x} / {value} is typed outside {home}")
    assert misplaced == []


@pytest.mark.parametrize(("home", "names"), [
    ("pantheon/protocol.py", {"NODE_NETWORK", "MSG_WITNESS_FLAG", "PROTOCOL_VERSION", "BLOCK_HEADER_SIZE"}),
    ("pantheon/chain/script.py", {"OP_1", "OP_RETURN", "OP_CHECKSIG", "MAX_SCRIPT_SIZE"}),
    ("pantheon/chain/validation.py", {"COIN", "MAX_MONEY"}),
    ("pantheon/limits.py", {"MAX_HEADERS", "MAX_INV_ENTRIES", "MAX_LOCATOR_HASHES"}),
])
def test_the_homes_define_what_the_checks_look_for(home: str, names: set[str]) -> None:
    """The checks above would pass vacuously if the homes moved: they must hold the names."""
    assert names <= {name for name, _ in defined_names(ROOT / home)}


def test_the_literal_check_sees_through_spelling() -> None:
    probe = ROOT / "pantheon" / "protocol.py"
    values = {value for value, _ in number_literals(probe)}
    assert {70016, 80} <= values  # 70_016 or 0x50 would be read as the same numbers
