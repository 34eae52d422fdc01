"""Bitcoin Core's own functional tests (../shared/core-functional, unmodified) against
pantheon-gevent, each in its own process through Core's framework and our launcher
(tests/helpers/core.py). `PASSING` are the tests Pantheon passes; the README's table says why each
other one does not yet. Without the shared framework a laptop skips them; CI requires it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers.core import CORE_FUNCTIONAL, available, build_dir, run_core_test

#: Core's test scripts that pass against Pantheon (the README's table lists all of them).
PASSING = (
    "rpc_uptime.py",
    "p2p_nobloomfilter_messages.py",
    "p2p_ping.py",
    "p2p_timeouts.py",
    "rpc_setban.py",
    "p2p_invalid_tx.py",
    "rpc_getchaintips.py",
    "p2p_invalid_locator.py",
    "p2p_handshake.py",
    "p2p_getdata.py",
    "feature_framework_miniwallet.py",
    "p2p_disconnect_ban.py",
    "p2p_feefilter.py",
    "p2p_invalid_messages.py",
    "p2p_sendheaders.py",
    "p2p_invalid_block.py",
    "p2p_unrequested_blocks.py",
    "p2p_headers_sync_with_minchainwork.py",
)

needs_core = pytest.mark.skipif(not available() and os.environ.get("CI") != "true",
                                reason=f"Core's functional tests are not at {CORE_FUNCTIONAL} (CI provides them)")


@pytest.fixture(scope="module")
def core_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert available(), f"Core's functional test framework is missing: {CORE_FUNCTIONAL}"
    return build_dir(tmp_path_factory.mktemp("core-build"))


@needs_core
@pytest.mark.core_functional
@pytest.mark.parametrize("script", PASSING)
def test_core_functional(script: str, core_build: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    work = tmp_path_factory.mktemp(script.removesuffix(".py"))
    run = run_core_test(core_build, script, work, cache=tmp_path_factory.getbasetemp() / "core-cache")
    assert run.passed, f"{script} exited {run.returncode}:\n{run.output[-6000:]}"
