"""`python -m pantheon.spec`: the readable face of the spec, as the README's first command uses it."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from helpers.vectors import VECTORS
from pantheon import params, spec

README_VECTOR = VECTORS / "messages" / "version-satoshi-0.17.1.bin"


def test_readme_command_prints_the_version_field_by_field() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pantheon.spec", str(README_VECTOR)],
        capture_output=True, text=True, check=True, timeout=60,
    )
    lines = result.stdout.splitlines()
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
    assert result.stderr == ""


def test_hex_argument_and_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    message = spec.build_message(params.REGTEST.magic, "inv", {"inventory": [{"type": 0x40000002, "hash": bytes(range(32))}]})
    assert spec.main([message.hex()]) == 0
    out = capsys.readouterr().out
    assert "type: 1073741826 (MSG_WITNESS_BLOCK)" in out
    assert f"hash: {bytes(range(32))[::-1].hex()}" in out  # display order
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(message)))
    assert spec.main(["-"]) == 0
    assert "network: regtest" in capsys.readouterr().out


def test_bare_block_payload_shows_hashes(capsys: pytest.CaptureFixture[str]) -> None:
    assert spec.main(["--payload", "block", str(VECTORS / "blocks" / "block_170.bin")]) == 0
    out = capsys.readouterr().out
    assert "(block hash: 00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee)" in out
    assert "(txid: f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16)" in out


def test_legacy_header_and_bad_checksum_are_reported(capsys: pytest.CaptureFixture[str]) -> None:
    verack = spec.build_message(params.MAIN.magic, "verack", {}, legacy_header=True)
    assert spec.main(["--legacy-header", verack.hex()]) == 0
    assert "checksum: none (pre-209 header)" in capsys.readouterr().out
    corrupt = bytearray(spec.build_message(params.MAIN.magic, "ping", {"nonce": 1}))
    corrupt[-1] ^= 1
    assert spec.main([corrupt.hex()]) == 0
    assert "checksum: BAD" in capsys.readouterr().out


def test_unknown_command_and_malformed_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert spec.main([spec.build_message(params.MAIN.magic, "futurecmd", b"\xab").hex()]) == 0
    assert "payload (unknown command): ab" in capsys.readouterr().out
    assert spec.main([README_VECTOR.read_bytes()[:50].hex()]) == 1
    assert capsys.readouterr().err.startswith("error: Truncated: version")
