"""Bitcoin Core's functional test framework (`../shared/core-functional`, used unmodified) driving
`pantheon-gevent`: a build directory of our own (its config.ini, the framework linked in, and
`bin/bitcoind` launching pantheon-gevent), and a runner for one of Core's tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CORE_FUNCTIONAL = Path(__file__).resolve().parents[2].parent / "shared" / "core-functional"
#: Core's exit code for a skipped test (test_framework.py TEST_EXIT_SKIPPED).
SKIPPED = 77
#: The components Core's config.ini.in lists; bitcoind and its wallet are there.
_COMPONENTS = ("ENABLE_WALLET", "BUILD_BENCH", "ENABLE_CLI", "BUILD_BITCOIN_TX", "ENABLE_BITCOIN_UTIL",
               "ENABLE_BITCOIN_CHAINSTATE", "ENABLE_WALLET_TOOL", "ENABLE_BITCOIND", "ENABLE_FUZZ_BINARY",
               "ENABLE_ZMQ", "ENABLE_EMBEDDED_ASMAP", "ENABLE_EXTERNAL_SIGNER", "ENABLE_USDT_TRACEPOINTS",
               "ENABLE_IPC", "BUILD_GUI")
#: What Pantheon provides of them (tests not using the wallet get -disablewallet from the framework).
_BUILT = ("ENABLE_BITCOIND", "ENABLE_WALLET")


def available() -> bool:
    return (CORE_FUNCTIONAL / "functional" / "test_framework" / "test_framework.py").is_file()


def build_dir(root: Path, python: str = sys.executable) -> Path:
    """Lay out what Core's framework expects of a build: config.ini (here and in test/), test/functional
    (the shared framework and tests, linked), and bin/bitcoind, a launcher that execs pantheon-gevent
    (same process id, as the framework kills the process it started)."""
    (root / "test").mkdir(parents=True, exist_ok=True)
    (root / "bin").mkdir(exist_ok=True)
    link = root / "test" / "functional"
    if not link.exists():
        link.symlink_to(CORE_FUNCTIONAL / "functional", target_is_directory=True)
    components = "\n".join(f"{name}={'true' if name in _BUILT else 'false'}" for name in _COMPONENTS)
    config = (f"[environment]\nCLIENT_NAME=Pantheon\nCLIENT_BUGREPORT=https://example.invalid/pantheon/issues\n"
              f"SRCDIR={root}\nBUILDDIR={root}\nEXEEXT=\nRPCAUTH={root}/share/rpcauth/rpcauth.py\n\n"
              f"[components]\n{components}\n")
    for path in (root / "config.ini", root / "test" / "config.ini"):
        path.write_text(config)
    launcher = root / "bin" / "bitcoind"
    launcher.write_text(f'#!/bin/sh\nexec "{python}" -m pantheon.cli "$@"\n')
    launcher.chmod(0o755)
    return root


@dataclass(frozen=True)
class CoreRun:
    name: str
    returncode: int
    output: str

    @property
    def passed(self) -> bool:
        return self.returncode == 0

    @property
    def skipped(self) -> bool:
        return self.returncode == SKIPPED


def run_core_test(build: Path, test: str, work: Path, *, cache: Path, timeout_factor: float = 2.0,
                  timeout: float = 900.0, extra: tuple[str, ...] = (),
                  environment: Mapping[str, str] | None = None) -> CoreRun:
    """Run one of Core's functional tests against pantheon-gevent: `test` is a script and its
    arguments as Core's test_runner lists them, e.g. "p2p_ping.py" or "p2p_timeouts.py --v2transport".
    `environment` (default: a copy of ours) must be copied beforehand when this runs in a worker
    thread: pytest changes os.environ (PYTEST_CURRENT_TEST) under a copy made here."""
    work.mkdir(parents=True, exist_ok=True)
    script, *arguments = test.split()
    command = [sys.executable, str(build / "test" / "functional" / script), *arguments,
               f"--configfile={build / 'test' / 'config.ini'}", f"--cachedir={cache}", f"--tmpdir={work / 'run'}",
               f"--timeout-factor={timeout_factor}", *extra]
    base = os.environ if environment is None else environment
    child_environment = {**base, "BITCOIND": str(build / "bin" / "bitcoind")}
    try:
        done = subprocess.run(command, cwd=work, env=child_environment, capture_output=True, text=True, timeout=timeout)
        return CoreRun(test, done.returncode, done.stdout + done.stderr)
    except subprocess.TimeoutExpired as expired:
        output = (expired.stdout or b"").decode() + (expired.stderr or b"").decode() if isinstance(
            expired.stdout, bytes) else (expired.stdout or "") + (expired.stderr or "")
        return CoreRun(test, -1, output + f"\n(timed out after {timeout} s)")


def work_name(test: str) -> str:
    """A directory name for a test and its arguments: "p2p_timeouts.py --v2transport" -> "p2p_timeouts-v2transport"."""
    return "".join(test.replace(".py", "").split()).replace("--", "-")


def run_named_tests(argv: list[str]) -> int:
    """`python tests/helpers/core.py TEST...` (a test with arguments in quotes, "p2p_timeouts.py
    --v2transport"): run Core's tests one by one against this venv's
    Pantheon, keeping each one's directory (node logs included) under $PANTHEON_CORE_ROOT (default
    /tmp/pantheon-core; give each worktree its own, as the launcher there runs this venv's Python)."""
    root = Path(os.environ.get("PANTHEON_CORE_ROOT", "/tmp/pantheon-core"))
    build = build_dir(root / "build")
    failed = 0
    for test in argv:
        run = run_core_test(build, test, root / "work" / work_name(test), cache=root / "cache")
        print(f"{test}: {'passed' if run.passed else f'exit {run.returncode}'}")
        if not run.passed:
            failed += 1
            print(run.output[-4000:])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_named_tests(sys.argv[1:]))
