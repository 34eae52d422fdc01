"""`python -m pantheon.spec`: the readable face of the spec (tools/describe.py), as the README's first
command uses it, on every real message we hold: the golden vectors, the payload files and every
message in the captures, given as hex, as a file and on stdin."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.vectors import GOLDEN, VECTORS

from pantheon import errors, limits, params, spec, wire
from tools import describe, framing
from tools.pipeline import decode_capture

README_VECTOR = VECTORS / "messages" / "version-satoshi-0.17.1.bin"
PAYLOADS: list[dict[str, Any]] = json.loads((VECTORS / "messages" / "payloads" / "index.json").read_text())
CAPTURES = sorted((VECTORS / "pcaps").rglob("*.pcap*"))


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "pantheon.spec", *args], input=stdin, capture_output=True,
                          check=False, timeout=60)


def captured(path: Path) -> list[tuple[bytes, bool]]:
    """Every complete message of a capture as (its bytes, whether its header is pre-209's); one
    with a bad checksum (version2.pcap's, also a golden vector) cannot be rebuilt and is left out."""
    messages: list[framing.WireMessage] = []
    with path.open("rb") as stream:
        decode_capture(stream, lambda event: messages.append(event.message))
    found = []
    for message in messages:
        magic = params.network(message.network).magic
        if message.status == framing.LEGACY:
            head = magic.to_bytes(4, "little") + message.command.encode().ljust(limits.COMMAND_SIZE, b"\0")
            found.append((head + len(message.payload).to_bytes(4, "little") + message.payload, True))
        elif message.status == framing.OK:
            found.append((wire.pack_header(magic, message.command, message.payload) + message.payload, False))
    return found


def expected_status(parse: Any, *args: Any, **options: Any) -> int:
    """0 where the spec parses the input, 1 where it refuses it: what the command must return."""
    try:
        parse(*args, **options)
    except errors.ProtocolError:
        return 1
    return 0


def check_described(capsys: pytest.CaptureFixture[str], data: bytes, legacy: bool, what: str) -> None:
    """`data` as a hex argument prints every field (or the spec's error) and nothing else."""
    status = describe.main([*(["--legacy-header"] if legacy else []), data.hex()])
    out, err = capsys.readouterr()
    assert status == expected_status(spec.parse_message, data, legacy_header=legacy, verify_checksum=False), what
    if status == 0:
        assert f"length: {len(data) - (20 if legacy else 24)}" in out.splitlines() and err == "", what
    else:
        assert out == "" and err.startswith("error: "), what


def test_readme_command_prints_the_version_field_by_field() -> None:
    result = run(str(README_VECTOR))
    lines = result.stdout.decode().splitlines()
    for expected in [
        "network: main (magic f9beb4d9)",
        "command: version",
        "checksum: ok",
        "  version: 70015",
        "  user_agent: '/Satoshi:0.17.1/'",
        "  start_height: 560275",
        "    ip: 91.240.140.128",
        "  relay: True",
    ]:
        assert expected in lines
    assert result.returncode == 0 and result.stderr == b""


@pytest.mark.parametrize("entry", GOLDEN, ids=lambda entry: f"{entry['command']}-{Path(entry['source']['path']).name}")
def test_every_golden_message_as_hex(entry: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    check_described(capsys, bytes.fromhex(entry["hex"]), entry["expect"].startswith("valid_legacy"), entry["notes"])


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda path: path.name)
def test_every_captured_message_as_hex(capture: Path, capsys: pytest.CaptureFixture[str]) -> None:
    messages = captured(capture)
    for number, (data, legacy) in enumerate(messages):
        check_described(capsys, data, legacy, f"{capture.name} message {number}")


@pytest.mark.parametrize("entry", PAYLOADS, ids=lambda entry: entry["file"])
def test_every_payload_file(entry: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    """The files' bytes as a path: headers1's is one headers entry, not a payload (Truncated)."""
    path = VECTORS / "messages" / "payloads" / entry["file"]
    command = entry["file"].split("_")[0].split(".")[0].rstrip("0123456789")
    status = describe.main(["--payload", command, str(path)])
    assert status == expected_status(spec.parse_payload, command, path.read_bytes())
    out, err = capsys.readouterr()
    assert f"length: {entry['size']}" in out.splitlines() if status == 0 else err.startswith(f"error: Truncated: {command}")


def test_long_hex_argument_is_never_opened_as_a_path() -> None:
    """Before, any argument was tried as a file first: one longer than a file name may be died
    with `OSError: [Errno 36] File name too long` (every block, tx, headers, inv ...)."""
    (entry,) = [entry for entry in GOLDEN if entry["command"] == "cfheaders"]  # 32 kB: 64 kB of hex
    result = run(entry["hex"])
    assert result.returncode == 0 and result.stderr == b""
    assert b"command: cfheaders" in result.stdout and b"filter_hashes: [1000]" in result.stdout


def test_stdin_raw_bytes_and_hex_text() -> None:
    sync = captured(VECTORS / "pcaps" / "bcoin" / "bcoin_regtest_sync.pcapng")
    block = max((data for data, _ in sync if data[4:10] == b"block\0"), key=len)
    for stdin in (block, block.hex().encode() + b"\n"):
        result = run("-", stdin=stdin)
        assert result.returncode == 0 and result.stderr == b""
        assert b"command: block" in result.stdout and b"checksum: ok" in result.stdout


def test_hex_argument_and_stdin_in_process(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    message = spec.build_message(params.REGTEST.magic, "inv", {"inventory": [{"type": 0x40000002, "hash": bytes(range(32))}]})
    assert describe.main([message.hex()]) == 0
    out = capsys.readouterr().out
    assert "type: 1073741826 (MSG_WITNESS_BLOCK)" in out
    assert f"hash: {bytes(range(32))[::-1].hex()}" in out  # display order
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(message)))
    assert describe.main(["-"]) == 0
    assert "network: regtest" in capsys.readouterr().out


def test_bare_block_payload_shows_hashes(capsys: pytest.CaptureFixture[str]) -> None:
    assert describe.main(["--payload", "block", str(VECTORS / "blocks" / "block_170.bin")]) == 0
    out = capsys.readouterr().out
    assert "(block hash: 00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee)" in out
    assert "(txid: f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16)" in out


def test_legacy_header_and_bad_checksum_are_reported(capsys: pytest.CaptureFixture[str]) -> None:
    verack = spec.build_message(params.MAIN.magic, "verack", {}, legacy_header=True)
    assert describe.main(["--legacy-header", verack.hex()]) == 0
    assert "checksum: none (pre-209 header)" in capsys.readouterr().out
    corrupt = bytearray(spec.build_message(params.MAIN.magic, "ping", {"nonce": 1}))
    corrupt[-1] ^= 1
    assert describe.main([corrupt.hex()]) == 0
    assert "checksum: BAD" in capsys.readouterr().out


def test_unknown_command_and_malformed_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert describe.main([spec.build_message(params.MAIN.magic, "futurecmd", b"\xab").hex()]) == 0
    assert "payload (unknown command): ab" in capsys.readouterr().out
    assert describe.main([README_VECTOR.read_bytes()[:50].hex()]) == 1
    assert capsys.readouterr().err.startswith("error: Truncated: version")


@pytest.mark.parametrize(("argument", "error"), [
    ("abc", "not hex: non-hexadecimal number found in fromhex() arg at position 3"),  # odd: hex, malformed
    ("no/such/file.bin", "cannot read 'no/such/file.bin': No such file or directory"),
    (str(VECTORS), f"cannot read {str(VECTORS)!r}: Is a directory"),
    ("x" * 300, f"cannot read {'x' * 300!r}: File name too long"),
])
def test_unreadable_input_is_a_clear_error(argument: str, error: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert describe.main([argument]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == f"python -m pantheon.spec: error: {error}\n"


def test_unreadable_input_exits_2_without_a_traceback() -> None:
    result = run("no/such/file.bin")
    assert result.returncode == 2
    assert result.stderr == b"python -m pantheon.spec: error: cannot read 'no/such/file.bin': No such file or directory\n"
