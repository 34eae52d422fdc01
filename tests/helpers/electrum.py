"""The Electrum stack against a real `pantheon-gevent` process, as a user sets it up: ElectrumX
(PyPI `e-x`, pinned in the test extra, run unmodified) reads the node over Core's JSON-RPC, and the
Electrum wallet (Debian's `electrum`, its headless daemon on regtest) talks only to that ElectrumX.

- `NodeProcess`: pantheon-gevent in its own process, datadir and ports, with an RPC password;
- `ElectrumX`: the server, its database in its own directory; `session()` opens an
  Electrum-protocol session (newline-delimited JSON-RPC over TCP) at a protocol version;
- `ElectrumWallet`: a wallet restored from a seed, driven through Electrum's command line.
Each is a context manager that stops its process; `require_electrumx` / `require_electrum` skip (or
fail under CI=true) where the program is missing."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any, Callable, Self

from bitcoin.rpc import RawProxy

from helpers.outside import missing
from helpers.p2p import free_port
from helpers.waiting import wait_for

#: How long a program may take to start, and ElectrumX or the wallet to catch up with the node.
START_TIMEOUT = 60.0
CATCH_UP_TIMEOUT = 120.0
RPC_USER, RPC_PASSWORD = "electrumx", "pantheon"


def require_electrumx() -> Path:
    """ElectrumX's `electrumx_server`, installed beside this interpreter by the test extra."""
    server = Path(sys.executable).with_name("electrumx_server")
    if not server.exists():
        missing("ElectrumX is not installed (pip install -e '.[test]' pins e-x==2.0.0)")
    return server


def require_electrum() -> str:
    """The Electrum wallet's command line."""
    found = shutil.which("electrum")
    if found is None:
        missing("the Electrum wallet is not installed (apt-get install electrum)")
    return found


class _Process:
    """A child process with its output in a log file, stopped by SIGTERM (SIGKILL if it lingers).
    Subclasses start it in `_start`; a start that fails stops the child before the error goes on, so
    no half-started program outlives its test."""

    name = "process"

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def _spawn(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)

    def log_tail(self, characters: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-characters:] if self.log_path.exists() else ""

    def _check_running(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}; its log:\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _start(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


class NodeProcess(_Process):
    """`pantheon-gevent --datadir DIR` on regtest, loopback only, JSON-RPC with a password."""

    name = "pantheon-gevent"

    def __init__(self, datadir: Path, *flags: str) -> None:
        super().__init__(datadir / "stdout.log")
        self.datadir = datadir
        self.rpc_port = free_port()
        self.flags = ["--datadir", str(datadir), "--network", "regtest", "--port", str(free_port()),
                      "--bind", "127.0.0.1", "--listen", "0", "--dnsseed", "0", "--rpcport", str(self.rpc_port),
                      "--rpcuser", RPC_USER, "--rpcpassword", RPC_PASSWORD, *flags]

    @property
    def url(self) -> str:
        return f"http://{RPC_USER}:{RPC_PASSWORD}@127.0.0.1:{self.rpc_port}/"

    def _start(self) -> None:
        self._spawn([sys.executable, "-m", "pantheon.cli", *self.flags])

        def answers() -> bool:
            self._check_running()
            try:
                self.rpc("getblockcount")
                return True
            except OSError:
                return False

        wait_for(answers, START_TIMEOUT, what="pantheon-gevent's JSON-RPC")

    def rpc(self, method: str, *params: Any) -> Any:
        """One call on a new connection (python-bitcoinlib's client, as a script would make it)."""
        return RawProxy(service_url=self.url, timeout=60)._call(method, *params)


class ElectrumSession:
    """One Electrum-protocol session: `call` sends a request and returns its result, keeping the
    notifications that arrive meanwhile in `notifications`; an error reply raises `ElectrumError`."""

    def __init__(self, port: int, version: str) -> None:
        self._socket = socket.create_connection(("127.0.0.1", port), timeout=60)
        self._stream = self._socket.makefile("rwb")
        self._next_id = 0
        self.notifications: list[dict[str, Any]] = []
        self.server_version = self.call("server.version", "pantheon-tests", version)

    def call(self, method: str, *params: Any) -> Any:
        self._next_id += 1
        request = {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": list(params)}
        self._stream.write(json.dumps(request).encode() + b"\n")
        self._stream.flush()
        while True:
            line = self._stream.readline()
            if not line:
                raise ConnectionError(f"ElectrumX closed the session during {method}")
            reply = json.loads(line)
            if "id" not in reply:
                self.notifications.append(reply)
            elif reply["id"] == self._next_id:
                if "error" in reply:
                    raise ElectrumError(method, reply["error"])
                return reply["result"]

    def close(self) -> None:
        self._stream.close()
        self._socket.close()

    def __enter__(self) -> ElectrumSession:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


class ElectrumError(Exception):
    def __init__(self, method: str, error: dict[str, Any]) -> None:
        super().__init__(f"{method}: {error}")
        self.error = error


class ElectrumX(_Process):
    """ElectrumX (`electrumx_server`) indexing `node`: Bitcoin regtest, LevelDB (plyvel, as the node),
    one TCP port,
    no peer discovery (there is no network), its cost limits off so tests are never throttled."""

    name = "ElectrumX"

    def __init__(self, workdir: Path, node: NodeProcess) -> None:
        super().__init__(workdir / "electrumx.log")
        self.workdir = workdir
        self.node = node
        self.port = free_port()

    def _start(self) -> None:
        server = require_electrumx()
        (self.workdir / "db").mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "COIN": "Bitcoin", "NET": "regtest", "DAEMON_URL": self.node.url,
               "DB_DIRECTORY": str(self.workdir / "db"), "SERVICES": f"tcp://127.0.0.1:{self.port}",
               "PEER_DISCOVERY": "off", "PEER_ANNOUNCE": "", "COST_SOFT_LIMIT": "0", "COST_HARD_LIMIT": "0",
               "REQUEST_SLEEP": "0", "DB_ENGINE": "leveldb", "ALLOW_ROOT": "1"}  # CI runs as root; ElectrumX refuses that unless told
        self._spawn([str(server)], env)

        def listening() -> bool:
            self._check_running()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False

        wait_for(listening, START_TIMEOUT, what="ElectrumX listening")

    def session(self, version: str = "1.4") -> ElectrumSession:
        return ElectrumSession(self.port, version)

    def wait_for_height(self, height: int, timeout: float = CATCH_UP_TIMEOUT) -> None:
        """Until ElectrumX has indexed the node's chain up to `height`."""
        with self.session() as session:
            def caught_up() -> bool:
                self._check_running()
                return session.call("blockchain.headers.subscribe")["height"] >= height

            wait_for(caught_up, timeout, what=f"ElectrumX at height {height}")


class ElectrumWallet(_Process):
    """An Electrum wallet restored from `seed`, in its own directory, whose only server is
    `server` (oneserver): the daemon runs headless; `command` runs one of Electrum's commands."""

    name = "the Electrum daemon"

    def __init__(self, workdir: Path, server: ElectrumX, seed: str) -> None:
        super().__init__(workdir / "electrum.log")
        self.workdir = workdir
        self.server = server
        self.seed = seed

    def _argv(self, *args: str) -> list[str]:
        return [require_electrum(), "--regtest", "-D", str(self.workdir), *args]

    def command(self, *args: str, offline: bool = False) -> Any:
        """The command's JSON answer (or its text where it is not JSON)."""
        done = subprocess.run(self._argv(*(["--offline"] if offline else []), *args), capture_output=True,
                              text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"electrum {' '.join(args)} failed ({done.returncode}): {done.stdout}{done.stderr}")
        try:
            return json.loads(done.stdout)
        except json.JSONDecodeError:
            return done.stdout.strip()

    def _start(self) -> None:
        self.command("restore", self.seed, offline=True)
        # The RPC credentials go into the config before the daemon starts: without them the daemon
        # and the first command run against it each make up a password and save it, and when the two
        # race the daemon keeps one while the file keeps the other, so every later command is
        # answered 'Error: Forbidden'.
        for key, value in (("oneserver", "true"), ("auto_connect", "false"),
                           ("server", f"127.0.0.1:{self.server.port}:t"),
                           ("rpcuser", "pantheon-tests"), ("rpcpassword", secrets.token_hex(16))):
            self.command("setconfig", key, value, offline=True)
        self._spawn(self._argv("daemon"))
        wait_for(self._daemon_answers, START_TIMEOUT, what="the Electrum daemon")
        self.answer_accepted(lambda answer: answer is True, "load_wallet")

    def _daemon_answers(self) -> bool:
        """Whether the daemon answers getinfo with its info (an error text also exits 0)."""
        self._check_running()
        try:
            return isinstance(self.command("getinfo"), dict)
        except RuntimeError:
            return False

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                self.command("stop")
                self.process.wait(timeout)
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        super().stop(timeout)

    def answer_accepted(self, accept: Callable[[Any], bool], *args: str) -> Any:
        """`command(*args)`, repeated until `accept` takes its answer: a daemon just started, or
        still loading its wallet, may print an error text and exit 0. RuntimeError with the last
        answer if none is accepted within START_TIMEOUT."""
        answers: list[Any] = []

        def accepted() -> bool:
            answers.append(self.command(*args))
            return accept(answers[-1])

        try:
            wait_for(accepted, START_TIMEOUT, what=f"electrum {' '.join(args)}")
        except TimeoutError as error:
            raise RuntimeError(f"electrum {' '.join(args)} answered {answers[-1]!r}") from error
        return answers[-1]

    def first_address(self) -> str:
        """The wallet's first receiving address."""
        return str(self.answer_accepted(lambda answer: isinstance(answer, list) and bool(answer)
                                        and str(answer[0]).startswith("bcrt1"), "listaddresses")[0])

    def wait_for_height(self, height: int, timeout: float = CATCH_UP_TIMEOUT) -> None:
        """Until the wallet's daemon has the server's headers up to `height` and its history synced."""
        def caught_up() -> bool:
            self._check_running()
            info = self.command("getinfo")
            return info["connected"] and info["blockchain_height"] >= height and self.command("is_synchronized")

        wait_for(caught_up, timeout, what=f"the Electrum wallet at height {height}")

