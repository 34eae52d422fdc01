"""bcoin 1.0.2 (npm, tests/bcoin/), a real independent node: `BcoinNode` and the bcoin sync baseline."""

# `.ci/run` installs it with npm; on a laptop without it the tests that need it skip with the
# reason, but under CI=true a missing bcoin is a failure, never a silent skip. bcoin runs on
# regtest, in memory, on free loopback ports, and is always stopped (terminate, then kill).
#
# Every HTTP call to bcoin runs in gevent's threadpool and every wait sleeps with gevent.sleep,
# so a Pantheon node running in the same process keeps serving while bcoin is asked or awaited.
#
# bcoin 1.0.2 behaviours these helpers rely on (read in node_modules/bcoin/lib, seen here):
# - Its regtest addresses are its own: base58 prefix 0x3c ("R..."), bech32 "rb1...". Its RPC and
#   wallet reject Bitcoin Core's m/n/2/bcrt1 forms, so `send` pays Core's as a raw scriptPubKey.
# - The wallet RPC's getnewaddress answers in *mainnet* format ("1..."), which regtest
#   generatetoaddress then rejects; the wallet's REST API (POST /wallet/primary/address) is right.
# - Wallet sends and sendrawtransaction hand the tx to the mempool without waiting: it shows in
#   getrawmempool a moment later, or never (sendrawtransaction returns the txid of an invalid tx).
# - The wallet follows the chain asynchronously; `mine_to_wallet` waits until it has caught up.
# - `addnode HOST:PORT onetry` dials out once (no retry, no memory); the first outbound peer that
#   completes a handshake becomes the "loader", the only peer a not-yet-synced bcoin syncs from.
#   `add` also records the node and re-dials it whenever the connection drops.
# - It learns no loopback addresses from addr gossip (non-routable), so a disconnected peer
#   stays disconnected unless dialled again.
# - getrawtransaction finds confirmed transactions only with --index-tx (`index_tx=True`).

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import gevent

from helpers.outside import missing
from helpers.p2p import free_port
from helpers.waiting import wait_for
from pantheon import params
from pantheon.net.peer import PeerConfig

BCOIN = Path(__file__).parents[1] / "bcoin" / "node_modules" / ".bin" / "bcoin"
START_TIMEOUT = 30.0
MINING_ADDRESS = "RDLF3X6D6GgHf2cf7eVehdzs8Mtgzv5DB1"  # a bcoin regtest address (DESIGN.md)
COINBASE_MATURITY = 100
#: bcoin's regtest rules as Pantheon's -testactivationheight values (DESIGN.md): CSV and segwit at
#: 432, BIP34/65/66 buried elsewhere.
BCOIN_RULES = ("bip34@100000000", "dersig@1251", "cltv@1351", "csv@432", "segwit@432")
#: The same as command-line arguments.
BCOIN_RULE_ARGS = tuple(arg for rule in BCOIN_RULES for arg in ("--testactivationheight", rule))
#: Our peers' settings facing bcoin: its handshake may take a while under load; we ping every 0.5 s.
BCOIN_PEER = PeerConfig(network=params.REGTEST, handshake_timeout=10.0, ping_interval=0.5, ping_timeout=10.0)


#: Asks bcoin's own crypto library which secp256k1 it runs: the native binding (libsecp256k1,
#: built by node-gyp when npm installs bcoin) or its JavaScript fallback (elliptic).
_BACKEND_PROBE = "process.stdout.write(require('bcrypto/lib/internal/secp256k1')._bcryptoBinding ? 'native' : 'JavaScript')"


def crypto_backend() -> str:
    """Which signature backend bcoin verifies with here: "native" or "JavaScript"."""
    return subprocess.run(["node", "-e", _BACKEND_PROBE], cwd=BCOIN.parents[2], capture_output=True, text=True,
                          check=True, timeout=30).stdout


def require_bcoin() -> Path:
    """The bcoin executable, or skip (fail under CI=true) with the reason."""
    if BCOIN.exists():
        return BCOIN
    missing(f"bcoin is not installed at {BCOIN} (run: npm install --prefix tests/bcoin)")


def _outputs(destination: str | bytes, sats: int) -> dict[str, Any]:
    """The wallet API's body for one payment: to a bcoin address, or to a raw scriptPubKey."""
    output = {"address": destination} if isinstance(destination, str) else {"script": destination.hex()}
    return {"outputs": [{**output, "value": sats}]}


@dataclass(frozen=True)
class BcoinChain:
    """What `build_chain` made: the tip and the wallet transactions in its blocks."""

    height: int
    tip: str
    txids: tuple[str, ...]


def tree_cpu_seconds(pid: int) -> float:
    """User plus system CPU time so far of process `pid` and its live descendants (a process's
    own /proc stat counts a child's time only once the child is reaped), from /proc."""
    pending, ticks = [pid], 0
    while pending:
        pid = pending.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            for task in Path(f"/proc/{pid}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except FileNotFoundError:  # it ended meanwhile
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


class BcoinNode:
    """One bcoin process: regtest, in-memory chain, its own prefix and ports (P2P, node HTTP/RPC,
    wallet HTTP/RPC), so any number of them can run side by side.

    `listen=False` accepts no connections (bcoin then only dials); `wallet=False` runs no wallet
    (its helpers then fail); `index_tx` lets getrawtransaction find confirmed transactions.
    `args` are extra bcoin options, e.g. `--only=127.0.0.1:PORT` (dial only that peer, from the
    start, again whenever it drops; bcoin 1.0.2 has no `--connect`), `--nodes=HOST:PORT,...`
    (dial these first and keep them dialled), `--max-outbound=N`, `--max-inbound=N`,
    `--selfish=true` (ignores getheaders/getblocks, answers getdata with notfound, still syncs
    itself), `--compact=false`, `--log-level=info` (the default is debug).
    """

    def __init__(self, workdir: Path, *, args: Sequence[str] = (), listen: bool = True, wallet: bool = True,
                 index_tx: bool = False) -> None:
        self.workdir = workdir
        self.listen = listen
        self.has_wallet = wallet
        self.args = [
            f"--listen={str(listen).lower()}",
            *([] if wallet else ["--no-wallet=true"]),
            *(["--index-tx=true"] if index_tx else []),
            *args,
        ]
        self.p2p_port = free_port()
        self.http_port = free_port()
        self.wallet_port = free_port()
        self.api_key = secrets.token_hex(16)
        self.log_path = workdir / "bcoin.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._wallet_address: str | None = None

    def start(self) -> BcoinNode:
        executable = require_bcoin()
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                str(executable),
                "--network=regtest",
                "--memory=true",
                f"--prefix={self.workdir / 'prefix'}",
                f"--port={self.p2p_port}",
                f"--http-port={self.http_port}",
                f"--wallet-http-port={self.wallet_port}",
                f"--api-key={self.api_key}",
                "--public-host=127.0.0.1",  # no external-address discovery (there is no internet)
                *self.args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.rpc("getblockcount")
                if self.has_wallet:
                    self.wallet("GET", "/wallet/primary/balance")
                if self.listen:
                    socket.create_connection(("127.0.0.1", self.p2p_port), timeout=1).close()
                return self
            except (OSError, urllib.error.URLError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"bcoin did not start; its log:\n{self.log_path.read_text()[-2000:]}")
                gevent.sleep(0.2)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def peak_rss_kib(self) -> int:
        """The bcoin process's peak resident set (VmHWM in /proc/PID/status), in KiB."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise RuntimeError("no VmHWM in /proc status")

    def cpu_seconds(self) -> float:
        """User plus system CPU time so far of bcoin and its live child processes (its bin
        starts script-verifying workers)."""
        assert self.process is not None
        return tree_cpu_seconds(self.process.pid)

    # HTTP: the node's JSON-RPC, the wallet's REST API

    def _http(self, port: int, path: str, body: Any = None, method: str = "POST") -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": "Basic " + base64.b64encode(f"x:{self.api_key}".encode()).decode(),
                "Content-Type": "application/json",
            },
        )

        def call() -> tuple[Any, OSError | None]:
            """The request, on a pool thread; a failure is handed back (raising there would have
            gevent print the traceback as well)."""
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    return json.load(response), None
            except urllib.error.HTTPError as error:
                if error.code == 401:
                    return None, error
                return json.load(error), None  # a bcoin error: a 4xx/500 whose body says what
            except OSError as error:
                return None, error

        if threading.current_thread() is threading.main_thread():
            answer, error = gevent.get_hub().threadpool.apply(call)
        else:  # already off the main hub (a caller's own pool thread): call directly
            answer, error = call()
        if error is not None:
            raise error
        return answer

    def rpc(self, method: str, *params: Any) -> Any:
        answer = self._http(self.http_port, "/", {"method": method, "params": list(params)})
        if answer.get("error"):
            raise RuntimeError(f"bcoin {method}: {answer['error']}")
        return answer["result"]

    def wallet(self, method: str, path: str, body: Any = None) -> Any:
        """A call to the wallet's REST API (wallet/http.js), e.g. ("GET", "/wallet/primary/balance")."""
        answer = self._http(self.wallet_port, path, body, method)
        if isinstance(answer, dict) and "error" in answer:
            raise RuntimeError(f"bcoin wallet {method} {path}: {answer['error']}")
        return answer

    # the chain

    def mine(self, blocks: int, address: str = MINING_ADDRESS) -> list[str]:
        """Mine `blocks` regtest blocks paying `address` (bcoin's format), with what the mempool
        holds; returns their hashes."""
        return self.rpc("generatetoaddress", blocks, address)

    def tip(self) -> tuple[int, str]:
        """(height, hash hex) of the best block."""
        info = self.rpc("getblockchaininfo")
        return info["blocks"], info["bestblockhash"]

    def block_hex(self, block_hash: str) -> str:
        """The serialized block, hex."""
        return self.rpc("getblock", block_hash, False)

    def wait_for_height(self, height: int, timeout: float = 30.0) -> str:
        """Wait until the best chain is at least `height` high; returns the tip hash."""
        return wait_for(lambda: (tip := self.tip())[0] >= height and tip[1], timeout, f"height {height}")

    def wait_for_tip(self, block_hash: str, timeout: float = 30.0) -> None:
        wait_for(lambda: self.rpc("getbestblockhash") == block_hash, timeout, f"tip {block_hash}")

    # peers

    def peers(self) -> list[dict[str, Any]]:
        """getpeerinfo: `addr` is HOST:PORT (the listener for outbound peers), `inbound`, `version`
        (-1 until its version message arrived), `subver`, `bestheight`, `banscore`..."""
        return self.rpc("getpeerinfo")

    def peer_at(self, port: int) -> dict[str, Any] | None:
        """The getpeerinfo entry for our end of a connection (by our port), if any."""
        return next((entry for entry in self.peers() if entry["addr"].endswith(f":{port}")), None)

    def connect_to(self, host: str, port: int, timeout: float = 20.0) -> dict[str, Any]:
        """Make bcoin dial HOST:PORT (RPC `addnode ... onetry`) and wait for the handshake; returns
        its getpeerinfo entry. A one-shot dial can be dropped while bcoin is busy, so it asks again
        every 2 s."""
        target = f"{host}:{port}"

        def connected() -> dict[str, Any] | None:
            return next((p for p in self.peers() if p["addr"] == target and not p["inbound"]
                         and p["version"] > 0), None)

        deadline = time.monotonic() + timeout
        while True:
            self.rpc("addnode", target, "onetry")
            try:
                return wait_for(connected, min(2.0, max(0.0, deadline - time.monotonic())), f"a link to {target}")
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise

    def disconnect_all(self, timeout: float = 10.0) -> None:
        """Drop every connection, both directions, and wait until none is left (a peer that dials
        back, e.g. one given `--nodes` or `addnode add`, makes this time out)."""
        for peer in self.peers():
            self.rpc("disconnectnode", peer["addr"])
        wait_for(lambda: not self.peers(), timeout, "no peers")

    # the wallet ("primary", account "default"; unencrypted)

    def new_address(self) -> str:
        """A fresh receiving address of the wallet, in bcoin's regtest format ("R...")."""
        return self.wallet("POST", "/wallet/primary/address", {"account": "default"})["address"]

    def mine_to_wallet(self, blocks: int) -> list[str]:
        """Mine `blocks` blocks paying the wallet and wait until the wallet has seen them (their
        coinbases become spendable COINBASE_MATURITY blocks later)."""
        if self._wallet_address is None:
            self._wallet_address = self.new_address()
        hashes = self.mine(blocks, self._wallet_address)
        height = self.tip()[0]
        wait_for(lambda: max(self.wallet("GET", "/wallet/primary/block"), default=-1) >= height,
                   30.0, f"the wallet to reach height {height}")
        return hashes

    def send(self, destination: str | bytes, sats: int) -> str:
        """A wallet payment of `sats` to a bcoin-format address or to a raw scriptPubKey (bytes: how
        to pay Core's m/n/2/bcrt1 addresses); returns the txid once it is in the mempool."""
        txid = self.wallet("POST", "/wallet/primary/send", _outputs(destination, sats))["hash"]
        self.wait_for_mempool(txid)
        return txid

    def create_tx(self, destination: str | bytes, sats: int) -> tuple[str, str]:
        """A signed wallet payment like `send`'s, not broadcast: (txid, hex), e.g. for another node's
        sendrawtransaction. Its coins are not locked: until the tx is back in bcoin's mempool, a
        `send` may spend them again."""
        tx = self.wallet("POST", "/wallet/primary/create", _outputs(destination, sats))
        return tx["hash"], tx["hex"]

    def mempool(self) -> list[str]:
        return self.rpc("getrawmempool")

    def wait_for_mempool(self, txid: str, timeout: float = 10.0) -> None:
        wait_for(lambda: txid in self.mempool(), timeout, f"{txid} in the mempool")

    def raw_tx(self, txid: str) -> str:
        """A transaction's hex: from the mempool, or from a block only if started with index_tx."""
        return self.rpc("getrawtransaction", txid)

    def submit_raw_tx(self, tx_hex: str, timeout: float = 10.0) -> str:
        """sendrawtransaction, then wait for the mempool to accept it (bcoin answers the txid
        before validating: an invalid tx only shows as a timeout here, and in bcoin's log)."""
        txid = self.rpc("sendrawtransaction", tx_hex)
        self.wait_for_mempool(txid, timeout)
        return txid

    def build_chain(self, blocks: int = 500, tx_every: int = 8, txs_per_block: int = 1) -> BcoinChain:
        """Mine `blocks` blocks paying the wallet; once coinbases have matured, every `tx_every`-th
        block carries `txs_per_block` wallet transactions (each pays one of the wallet's fresh
        addresses). Blocks without transactions are mined in batches. The coins come from the
        blocks it mines: start on a fresh bcoin, or on one whose wallet already has mature coins."""
        start = self.tip()[0]
        mature = min(blocks, max(0, COINBASE_MATURITY + 1 - start))
        if mature:
            self.mine_to_wallet(mature)
        txids: list[str] = []
        mined = mature
        while mined < blocks:
            plain = min(blocks - mined - 1, tx_every - 1)
            if plain:
                self.mine_to_wallet(plain)
            txids.extend(self.send(self.new_address(), 10_000_000) for _ in range(txs_per_block))
            self.mine_to_wallet(1)
            mined += plain + 1
        height, tip = self.tip()
        assert height == start + blocks, (height, start, blocks)
        return BcoinChain(height, tip, tuple(txids))


@dataclass(frozen=True)
class SyncRun:
    """One bcoin syncing a chain from another: the figures the sync benchmark sets Pantheon against."""

    blocks: int
    txs: int
    build_seconds: float  # the source mining the chain (not part of the sync)
    sync_seconds: float  # from the syncing bcoin's dial to its tip equal to the source's
    peak_rss_kib: int  # the syncing bcoin's VmHWM when it reached the tip


class SyncResult(NamedTuple):
    """One bcoin's sync: seconds from the dial to the source's tip, then its peak RSS (KiB) and
    the CPU seconds it and its workers used from its start (start-up is a small part of a long sync)."""

    seconds: float
    peak_rss_kib: int
    cpu_seconds: float


def sync_from(source: BcoinNode, workdir: Path, timeout: float = 600.0,
              curve: list[tuple[float, int]] | None = None) -> SyncResult:
    """A fresh bcoin (no wallet, not listening, started before the clock runs) dials `source` and
    syncs its whole chain.
    With `curve`, each poll of the syncer's tip appends (seconds since the dial, its height).
    bcoin drops a peer whose block it waited for too long ("Peer is stalling"), which happens when
    it is itself slow to validate big blocks, and never dials an `addnode onetry` peer again, so a
    syncer left without peers is made to dial the source again (inside the timed sync)."""
    tip = source.tip()[1]
    syncer = BcoinNode(workdir, listen=False, wallet=False).start()

    def at_tip() -> bool:
        height, best = syncer.tip()
        if curve is not None:
            curve.append((time.perf_counter() - started, height))
        if best != tip and not syncer.peers():
            syncer.connect_to("127.0.0.1", source.p2p_port)
        return best == tip

    try:
        started = time.perf_counter()
        syncer.connect_to("127.0.0.1", source.p2p_port)
        wait_for(at_tip, timeout, f"tip {tip}")
        return SyncResult(time.perf_counter() - started, syncer.peak_rss_kib(), syncer.cpu_seconds())
    finally:
        syncer.stop()


def bcoin_sync_baseline(workdir: Path, blocks: int = 5000, tx_every: int = 10) -> SyncRun:
    """bcoin→bcoin initial sync: one bcoin builds a `blocks` chain with a wallet transaction in
    every `tx_every`-th block (after maturity), a second syncs it (`sync_from`)."""
    source = BcoinNode(workdir / "source").start()
    try:
        started = time.perf_counter()
        chain = source.build_chain(blocks, tx_every=tx_every)
        build_seconds = time.perf_counter() - started
        sync_seconds, peak_rss_kib, _ = sync_from(source, workdir / "syncer")
    finally:
        source.stop()
    return SyncRun(chain.height, len(chain.txids), build_seconds, sync_seconds, peak_rss_kib)
