"""Bitcoin Core's own functional tests (../shared/core-functional, unmodified) against
pantheon-gevent, each in its own process through Core's framework and our launcher
(tests/helpers/core.py). `PASSING` are the tests Pantheon passes; the README's table says why each
other one does not yet. Without the shared framework a laptop skips them; CI requires it."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from helpers.core import CORE_FUNCTIONAL, CoreRun, available, build_dir, run_core_test, work_name

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
    "example_test.py",
    "p2p_disconnect_ban.py",
    "p2p_feefilter.py",
    "p2p_invalid_messages.py",
    "p2p_addr_relay.py",
    "p2p_getaddr_caching.py",
    "rpc_net.py",
    "rpc_invalidateblock.py",
    "p2p_blocksonly.py",
    "rpc_blockchain.py",
    "mining_basic.py",
    "p2p_sendheaders.py",
    "p2p_invalid_block.py",
    "p2p_unrequested_blocks.py",
    "p2p_headers_sync_with_minchainwork.py",
    "p2p_v2_transport.py",
    "p2p_v2_encrypted.py",
    "rpc_getblockfilter.py",
    "p2p_blockfilters.py",
    "p2p_mutated_blocks.py",
    "p2p_compactblocks_hb.py",
    "p2p_compactblocks.py",
    "rpc_packages.py",
    "rpc_estimatefee.py",
    "mempool_accept.py",
    "rpc_gettxspendingprevout.py",
    # the --v2transport variants Core's test_runner runs of the tests above: the framework's peers speak BIP324
    "p2p_timeouts.py --v2transport",
    "p2p_handshake.py --v2transport",
    "p2p_invalid_tx.py --v2transport",
    "p2p_invalid_block.py --v2transport",
    "rpc_setban.py --v2transport",
    "p2p_disconnect_ban.py --v2transport",
    "rpc_net.py --v2transport",
    "rpc_blockchain.py --v2transport",
    "p2p_compactblocks_hb.py --v2transport",
)

needs_core = pytest.mark.skipif(not available() and os.environ.get("CI") != "true",
                                reason=f"Core's functional tests are not at {CORE_FUNCTIONAL} (CI provides them)")

#: Parallel jobs, as Core's test_runner runs its tests: they mostly wait on timers and sockets.
JOBS = int(os.environ.get("PANTHEON_CORE_JOBS", "4"))


def uses_cached_chain(test: str) -> bool:
    """Whether the test starts from the framework's cached 200-block chain (built by the first
    such test to run; the others must wait for it rather than race to build it too)."""
    script = test.split()[0]
    return "setup_clean_chain = True" not in (CORE_FUNCTIONAL / "functional" / script).read_text()


@pytest.fixture(scope="module")
def core_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[CoreRun]]]:
    """Every test of PASSING started at once in `JOBS` threads, each in its own directory with
    its own port range (Core's --portseed); the cached-chain tests after the first of them."""
    assert available(), f"Core's functional test framework is missing: {CORE_FUNCTIONAL}"
    build = build_dir(tmp_path_factory.mktemp("core-build"))
    cache = tmp_path_factory.getbasetemp() / "core-cache"
    cached = [script for script in PASSING if uses_cached_chain(script)]
    cache_built = threading.Event()
    environment = dict(os.environ)  # here, in pytest's thread: it edits os.environ while the workers run

    def run(index: int, script: str) -> CoreRun:
        if script in cached[1:]:
            cache_built.wait()
        try:
            return run_core_test(build, script, tmp_path_factory.mktemp(work_name(script)), cache=cache,
                                 extra=(f"--portseed={index}",), environment=environment)
        finally:
            if cached and script == cached[0]:
                cache_built.set()

    order = sorted(PASSING, key=lambda script: script not in cached[:1])  # the cache builder first
    with ThreadPoolExecutor(JOBS) as pool:
        yield {script: pool.submit(run, index, script) for index, script in enumerate(order, start=1)}


@needs_core
@pytest.mark.core_functional
@pytest.mark.parametrize("script", PASSING)
def test_core_functional(script: str, core_runs: dict[str, Future[CoreRun]]) -> None:
    run = core_runs[script].result()
    assert run.passed, f"{script} exited {run.returncode}:\n{run.output[-6000:]}"
