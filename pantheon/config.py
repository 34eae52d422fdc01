"""The node's settings: bitcoind's command line and configuration file, read as Bitcoin Core reads
them, so any tool that launches `bitcoind` can launch `pantheon-gevent`; one table of options.

Command line (Core's `ArgsManager`): `-name=value`, `-name` (a switch: on), `-noname` (off, or an
empty list), `--name=value` the same; Pantheon's own `--name value` form is read too. Networks:
`-regtest`, `-testnet`, `-testnet4`, `-signet`, `-chain=NAME`, or `--network NAME`. A section
prefix (`-regtest.port=1`) applies to that network only.

Configuration file: `DATADIR/pantheon.conf` if it exists, else Core's `DATADIR/bitcoin.conf`, or
`-conf=PATH` (relative to the datadir, as Core). `key=value` lines, `#` comments, `noKEY=1`,
`[main]`/`[test]`/`[testnet4]`/`[signet]`/`[regtest]` sections (or `regtest.key=value`) that apply
only on that network, and `regtest=1`/`chain=regtest` choosing the network.

Precedence, as Core: a single value comes from the command line (its last), else the network's
section, else the top of the file (within the file the first value wins); a list is the command
line's values, then the section's, then the top's, merged, and a negation (`-noaddnode`) drops
the values of lower priority.

Options Pantheon does not implement are refused, naming them ("Invalid parameter -foo", as Core
says of an unknown one); the wallet, GUI and IPC options Pantheon does not act on (its wallet does
not send, so fee options mean nothing to it) are accepted and named once in the log
(`ignored_options`). A mistake is a `ConfigError` naming the
flag or the file line, never a silent default.
"""

from __future__ import annotations

import decimal
import logging
import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from pantheon import __version__, limits, params
from pantheon.chain.chainstate import ACTIVATION_FIELDS
from pantheon.chain.miner import (
    DEFAULT_BLOCK_MAX_WEIGHT,
    DEFAULT_BLOCK_MIN_TX_FEE,
    DEFAULT_BLOCK_RESERVED_WEIGHT,
    MINIMUM_BLOCK_RESERVED_WEIGHT,
)
from pantheon.chain.policy import DEFAULT_PERMIT_BARE_MULTISIG, INCREMENTAL_RELAY_FEE, MAX_OP_RETURN_RELAY, MIN_RELAY_FEE
from pantheon.chain.validation import COIN, MAX_BLOCK_WEIGHT
from pantheon.net.banlist import DEFAULT_BAN_TIME
from pantheon.net.permissions import WhitelistEntry, parse_whitelist
from pantheon.protocol import FILTER_TYPE_NAMES

__all__ = [
    "ConfigError", "NodeConfig", "Bind", "load_config", "parse_hostport",
    "usage", "CONF_FILENAME", "CORE_CONF_FILENAME", "DEFAULT_DATADIR", "LOG_CATEGORIES",
]

CONF_FILENAME = "pantheon.conf"
#: Core's DEFAULT_KEYPOOL_SIZE: keys a wallet's ranged descriptors derive ahead.
DEFAULT_KEYPOOL = 1000
CORE_CONF_FILENAME = "bitcoin.conf"
DEFAULT_DATADIR = "~/.pantheon"
#: Core's -loglevel names, by how much they show; "trace" is Python's DEBUG too (it has no lower).
_LOG_LEVELS = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
               "error": logging.ERROR, "critical": logging.CRITICAL}
#: Core's -debug categories that Pantheon logs under (`logs.py` maps its loggers onto them).
LOG_CATEGORIES = ("net", "addrman", "validation", "mempool", "mempoolrej", "txpackages", "rpc", "http", "bench",
                  "leveldb", "rand", "cmpctblock", "blockstorage", "reindex", "txreconciliation", "prune", "lock")


class ConfigError(ValueError):
    """A setting could not be understood; the message names the flag or file line."""


class CoreInitError(ValueError):
    """A value refused with bitcoind's own init error text, which is shown as it is (scripts
    that drive bitcoind match it)."""


class Kind(Enum):
    VALUE = "value"  # one value; the last on the command line, the first in a file
    SWITCH = "switch"  # a boolean; `-name` alone is on
    LIST = "list"  # repeatable; the sources merge
    OFF_ONLY = "off-only"  # a Core switch for a feature Pantheon lacks: 0 is accepted, 1 refused
    IGNORED = "ignored"  # a wallet/GUI/IPC option: accepted, logged once, no effect


def parse_hostport(text: str, default_port: int | None = None) -> tuple[str, int]:
    """`host`, `host:port`, `[v6]:port` or a bare IPv6 address -> (host, port)."""
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ConfigError(f"bad address {text!r}")
        port_text = rest[1:] if rest else ""
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    if not host:
        raise ConfigError(f"bad address {text!r}: no host")
    if not port_text:
        if default_port is None:
            raise ConfigError(f"bad address {text!r}: no port")
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"bad port in {text!r}")
    return host, int(port_text)


# --- value parsers ------------------------------------------------------------------------

def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on", ""):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a yes/no value: {text!r}")


def _blockfilterindex(text: str) -> bool:
    """Core's -blockfilterindex: 0 (none), 1 (every filter type) or a filter type's name."""
    value = text.strip()
    if value in FILTER_TYPE_NAMES.values():
        return True
    try:
        return _bool(value)
    except ValueError:
        raise CoreInitError(f"Unknown -blockfilterindex value {value}.") from None


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value < 65536:
        raise ValueError(f"port out of range: {value}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"must not be negative: {value}")
    return value


def _integer(text: str) -> int:
    return int(text.strip())


def _network(text: str) -> str:
    return params.network(text.strip()).name


def _chain(text: str) -> str:
    """Core's -chain names (main, test, testnet4, signet, regtest) or ours."""
    name = text.strip()
    for network in params.NETWORKS.values():
        if name in (network.chain_name, network.name):
            return network.name
    return _network(name)


def _loglevel(text: str) -> tuple[str | None, str]:
    """Core's -loglevel: LEVEL, or CATEGORY:LEVEL."""
    category, _, level = text.strip().lower().rpartition(":")
    if level not in _LOG_LEVELS:
        raise ValueError(f"choose from {', '.join(_LOG_LEVELS)}")
    if category and category not in LOG_CATEGORIES:
        raise ValueError(f"unknown log category {category!r}")
    return category or None, level


def _category(text: str) -> str:
    lowered = text.strip().lower()
    if lowered not in (*LOG_CATEGORIES, "1", "all", "0", "none", ""):
        raise ValueError(f"unknown log category {lowered!r}; choose from {', '.join(LOG_CATEGORIES)}")
    return lowered


def _text(text: str) -> str:
    return text.strip()


def _fee_rate(text: str) -> int:
    """A BTC/kvB amount as Core writes it -> sat/kvB."""
    try:
        value = decimal.Decimal(text.strip())
    except decimal.InvalidOperation:
        raise ValueError("not a number") from None
    satoshis = value * COIN
    if value < 0 or satoshis != satoshis.to_integral_value():
        raise ValueError("not a fee rate in BTC/kvB with at most 8 decimals")
    return int(satoshis)


def _activation(text: str) -> tuple[str, int]:
    """Core's -testactivationheight=NAME@HEIGHT, checked in Core's order with its texts."""
    name, sep, height = text.partition("@")
    if not sep:
        raise CoreInitError(f"Invalid format ({text}) for -testactivationheight=name@height.")
    if not height.isdigit() or int(height) >= 2**31 - 1:
        raise CoreInitError(f"Invalid height value ({text}) for -testactivationheight=name@height.")
    if name not in ACTIVATION_FIELDS:
        raise CoreInitError(f"Invalid name ({text}) for -testactivationheight=name@height.")
    return name, int(height)


#: Core's -checkblocks and -checklevel defaults: the last 6 blocks, at level 3, at every start.
DEFAULT_CHECKBLOCKS = 6
DEFAULT_CHECKLEVEL = 3
#: Core's MIN_DISK_SPACE_FOR_BLOCK_FILES: the smallest automatic -prune target, MiB.
MIN_PRUNE_MIB = 550
#: Core's -test=<option> names Pantheon honours.
_TEST_OPTIONS = ("bip94", "addrman")


def _proxy(text: str) -> tuple[str, int] | None:
    """Core's -proxy: host[:port] (Core's default port 9050); 0 or empty: none."""
    if text.strip() in ("", "0"):
        return None
    return parse_hostport(text, 9050)


def _checklevel(text: str) -> int:
    level = int(text)
    if not 0 <= level <= 4:
        raise ValueError("must be 0 to 4")
    return level


def _test_option(text: str) -> str:
    name = text.strip()
    if name not in _TEST_OPTIONS:
        raise CoreInitError(f'Unrecognised option "{name}" provided in -test=<option>.')
    return name


def _chain_work(text: str) -> int:
    """Core's -minimumchainwork: a hex number, with or without 0x."""
    value = text.strip().lower().removeprefix("0x")
    if not value or any(c not in "0123456789abcdef" for c in value) or len(value) > 64:
        raise ValueError("expected a hex number of at most 64 digits")
    return int(value, 16)


#: Core's SAFE_CHARS_UA_COMMENT: what a -uacomment may hold.
_UA_COMMENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;-_/:?@()")


def _uacomment(text: str) -> str:
    if not set(text) <= _UA_COMMENT_CHARS:
        raise CoreInitError(f"User Agent comment ({text}) contains unsafe characters.")
    return text


def _peertimeout(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise CoreInitError("peertimeout must be a positive integer.")
    return value


def _off_only(what: str) -> Callable[[str], bool]:
    """A Core switch whose 'on' Pantheon cannot honour (the feature is not there): 0 only."""
    def parse(text: str) -> bool:
        if _bool(text):
            raise ValueError(f"{what} is not implemented; only 0 is accepted")
        return False

    return parse


@dataclass(frozen=True)
class Bind:
    """A P2P listening address; `onion` marks Core's `=onion` binds (inbound Tor connections)."""

    host: str
    port: int | None
    onion: bool = False


def _bind(text: str) -> Bind:
    address, _, tag = text.strip().partition("=")
    if tag not in ("", "onion"):
        raise ValueError(f"unknown bind tag {tag!r}")
    if ":" in address and not address.startswith("[") and address.count(":") == 1:
        host, port = parse_hostport(address)
        return Bind(host, port, bool(tag))
    if address.startswith("["):
        host, port = parse_hostport(address, 0)
        return Bind(host, port or None, bool(tag))
    return Bind(address, None, bool(tag))


@dataclass(frozen=True)
class _Option:
    name: str  # Core's name without "-", and the conf key
    parse: Callable[[str], Any]
    help: str
    kind: Kind = Kind.VALUE
    bare: str | None = None  # the value of `-name` given alone (switches: "1")

    @property
    def alone(self) -> str | None:
        return "1" if self.kind in (Kind.SWITCH, Kind.OFF_ONLY) else "" if self.kind is Kind.IGNORED else self.bare


def _ignored(name: str, what: str) -> _Option:
    return _Option(name, _text, f"{what}: accepted and ignored", Kind.IGNORED)


_OPTIONS: tuple[_Option, ...] = (
    # networks
    _Option("network", _network, "main, testnet (testnet3), testnet4, signet or regtest (default: main)"),
    _Option("chain", _chain, "Core's name for --network: main, test, testnet4, signet, regtest"),
    *(_Option(network.switch, _bool, f"use {network.name} (as -chain={network.chain_name})", Kind.SWITCH)
      for network in params.NETWORKS.values() if network.switch),
    # P2P
    _Option("port", _port, "P2P listening port (default: the network's, 8333 on main)"),
    _Option("listen", _bool, "accept inbound connections (default: 1; 0 with --connect)", Kind.SWITCH),
    _Option("bind", _bind, "P2P listening address[:port][=onion]; repeatable (default: 0.0.0.0)", Kind.LIST),
    _Option("addnode", _text, "a peer to keep connected to, host[:port]; repeatable", Kind.LIST),
    _Option("connect", _text, "connect only to this peer, host[:port]; repeatable; 0: no automatic "
            "outbound connections; disables DNS seeds", Kind.LIST),
    _Option("maxconnections", _count, "total connection limit (default: 125)"),
    _Option("dnsseed", _bool, "ask the network's DNS seeds for addresses (default: 1)", Kind.SWITCH),
    _Option("dnsserver", _text, "resolve DNS seeds through this name server host[:port] (default: system)"),
    _Option("fixedseeds", _bool, "dial the network's fixed seeds when nothing else is known (default: 1)",
            Kind.SWITCH),
    _Option("checkaddrman", _count, "check the address manager's consistency after 1 in N changes (default: 0, "
            "never)"),
    _Option("cjdnsreachable", _bool, "this host reaches the CJDNS network: fc00::/8 addresses are CJDNS, not "
            "IPv6 (default: 0)", Kind.SWITCH),
    _Option("proxy", _proxy, "Core's SOCKS5 proxy for routable peers, host:port; Pantheon speaks no SOCKS5, so "
            "with one set it dials no routable address directly (default: none; 0: none)"),
    _Option("discover", _bool, "advertise our own address to peers (default: 1)", Kind.SWITCH),
    _Option("uacomment", _uacomment, "a comment appended to the user agent, as Core's; repeatable", Kind.LIST),
    _Option("whitelist", parse_whitelist, "[PERMISSIONS@]SUBNET: grant peers from SUBNET noban, relay, forcerelay, "
            "mempool, download, addr, bloomfilter (in/out: inbound/outbound); repeatable", Kind.LIST),
    _Option("bantime", _count, "seconds a setban without a time bans for (default: 86400)"),
    _Option("peertimeout", _peertimeout, "seconds a new connection may stay silent or unfinished "
            "(default: 60)"),
    _Option("blocksonly", _bool, "relay no transactions, and ask peers for none (default: 0)", Kind.SWITCH),
    _Option("blockfilterindex", _blockfilterindex, "keep BIP158 compact block filters of every block: 0, 1 or "
            "basic (default: 0); an existing chain is indexed in the background", Kind.SWITCH),
    _Option("txindex", _bool, "keep where every main-chain transaction is, for getrawtransaction without a "
            "block hash (default: 0); an existing chain is indexed in the background", Kind.SWITCH),
    _Option("txospenderindex", _bool, "keep which main-chain transaction spent each output, for "
            "gettxspendingprevout (default: 0); an existing chain is indexed in the background", Kind.SWITCH),
    _Option("peerblockfilters", _bool, "serve BIP157 compact block filters to peers, NODE_COMPACT_FILTERS "
            "(default: 0; needs -blockfilterindex)", Kind.SWITCH),
    _Option("peerbloomfilters", _off_only("BIP37 bloom filtering"), "serve BIP37 bloom filters "
            "(not implemented: 0 only)", Kind.OFF_ONLY),
    _Option("v2transport", _bool, "BIP324 encrypted transport: accept it inbound beside v1 on one port, try it "
            "first outbound to peers offering it and manual ones, falling back to v1 (default: 1)", Kind.SWITCH),
    _Option("listenonion", _off_only("a Tor hidden service"), "publish a Tor hidden service (not implemented: "
            "0 only)", Kind.OFF_ONLY),
    _Option("natpmp", _off_only("NAT-PMP port mapping"), "map the port with NAT-PMP (not implemented: 0 only)",
            Kind.OFF_ONLY),
    # JSON-RPC and metrics
    _Option("server", _bool, "serve JSON-RPC (default: 1)", Kind.SWITCH),
    _Option("rpcport", _port, "JSON-RPC port (default: the network's, 8332 on main)"),
    _Option("rpcbind", _text, "JSON-RPC listening address (default: 127.0.0.1)"),
    _Option("rpcuser", _text, "JSON-RPC user (default: cookie authentication)"),
    _Option("rpcpassword", _text, "JSON-RPC password"),
    _Option("rpcthreads", _count, "JSON-RPC requests served at once (default: 4, Core's)"),
    _Option("rpcservertimeout", _count, "seconds an idle JSON-RPC connection is kept (default: 30)"),
    _Option("metrics-port", _port, "serve Prometheus metrics on this port (default: off)"),
    _Option("statusport", _port, "serve the live status page on this port (default: off)"),
    _Option("statusbind", _text, "the status page's listening address (default: 127.0.0.1)"),
    _Option("statusauth", _bool, "ask the status page's viewers for the JSON-RPC credentials (default: 0)",
            Kind.SWITCH),
    # chain and mempool
    _Option("assumevalid", _text, "skip script checks for ancestors of this block hash, as Core "
            "(default: Core's for the network, none on regtest; 0: off)"),
    _Option("minimumchainwork", _chain_work, "the least chain work trusted to leave initial block "
            "download (hex; default: Core's for the network)"),
    _Option("maxtipage", _count, "seconds a tip may be old and the node out of initial block download "
            "(default: 86400)"),
    _Option("dbcache", _count, "UTXO cache size in MiB (default: 450)"),
    _Option("par", _integer, "script verification worker processes (default: 2; 0 or less: as many as "
            "cores)"),
    _Option("maxmempool", _count, "mempool memory limit in MB (default: 300)"),
    _Option("minrelaytxfee", _fee_rate, "lowest fee rate relayed and accepted to the mempool, BTC/kvB "
            "(default: 0.000001)"),
    _Option("incrementalrelayfee", _fee_rate, "fee rate a replacement or an eviction adds, BTC/kvB "
            "(default: 0.000001)"),
    _Option("datacarrier", _bool, "relay and pool transactions with OP_RETURN outputs (default: 1)", Kind.SWITCH),
    _Option("datacarriersize", _count, "most bytes of OP_RETURN output scripts in a relayed transaction "
            "(default: 100000)"),
    _Option("persistmempool", _bool, "keep the mempool across restarts in mempool.dat: written at a clean stop, "
            "read at start (default: 1)", Kind.SWITCH),
    _Option("permitbaremultisig", _bool, "relay bare multisig outputs (default: 1)", Kind.SWITCH),
    _Option("acceptnonstdtxn", _bool, "accept non-standard transactions (regtest only; default: 0)",
            Kind.SWITCH),
    _Option("acceptstalefeeestimates", _bool, "read fee_estimates.dat even when it is over 60 hours old "
            "(regtest only; default: 0)", Kind.SWITCH),
    _Option("testactivationheight", _activation, "regtest only, as Core: NAME@HEIGHT enforces a deployment "
            "(bip34, dersig, cltv, csv, segwit) from HEIGHT; repeatable", Kind.LIST),
    _Option("mocktime", _count, "regtest only: start with the clock frozen at this UNIX time (0: real time)"),
    _Option("test", _test_option, "regtest only, as Core: bip94 enforces BIP94's timewarp rule; addrman makes "
            "the address manager deterministic (Core's test key and seed); repeatable",
            Kind.LIST),
    # mining
    _Option("blockmaxweight", _count, f"the most weight a mined block has (default: {DEFAULT_BLOCK_MAX_WEIGHT})"),
    _Option("blockreservedweight", _count, "weight kept for the header and coinbase of a mined block "
            f"(default: {DEFAULT_BLOCK_RESERVED_WEIGHT})"),
    _Option("blockmintxfee", _fee_rate, "the lowest fee rate of a transaction mined, BTC/kvB "
            f"(default: {DEFAULT_BLOCK_MIN_TX_FEE} sat/kvB)"),
    _Option("stopatheight", _count, "shut down once the chain reaches this height (default: 0, never)"),
    _Option("reindex", _bool, "rebuild the block index and the chain state from the blk files in blocks/ "
            "(default: 0)", Kind.SWITCH),
    _Option("reindex-chainstate", _bool, "rebuild the chain state (UTXO set) from the blocks on disk, keeping "
            "the block index (default: 0)", Kind.SWITCH),
    _Option("checkblocks", _integer, "blocks verified at start (default: 6; 0 or less: all)"),
    _Option("checklevel", _checklevel, "how thoroughly -checkblocks verifies, 0-4 (default: 3)"),
    _Option("prune", _count, "0: keep every block (default); 1: prune on request (pruneblockchain); "
            f"{MIN_PRUNE_MIB} or more: keep the stored chain under that many MiB by pruning old blocks"),
    _Option("fastprune", _bool, "regtest only: prune from a chain of 100 blocks on (default: 0)", Kind.SWITCH),
    _Option("blockversion", _integer, "regtest only: the version of mined blocks (default: BIP9's, signalling)"),
    # logging
    _Option("loglevel", _loglevel, "trace, debug, info, warning, error, or CATEGORY:LEVEL (default: info); "
            "repeatable", Kind.LIST),
    _Option("debug", _category, "log this category at debug level (alone, 1 or all: every one); repeatable",
            Kind.LIST, bare="1"),
    _Option("debugexclude", _category, "do not log this category at debug level; repeatable", Kind.LIST),
    _Option("printtoconsole", _bool, "log to standard error as well as debug.log (default: 1)", Kind.SWITCH),
    _Option("debuglogfile", _text, "the log file, relative to the network's datadir (default: debug.log; "
            "0: none)"),
    _Option("logtimemicros", _bool, "log times with microseconds (default: 0)", Kind.SWITCH),
    _Option("logthreadnames", _bool, "log the greenlet or thread name (default: 0)", Kind.SWITCH),
    _Option("logsourcelocations", _bool, "log the source file and line (default: 0)", Kind.SWITCH),
    _ignored("logips", "Core's peer-address logging (Pantheon always names a peer by its address)"),
    _ignored("logratelimit", "Core's log rate limiting (Pantheon does not rate-limit)"),
    _ignored("shrinkdebugfile", "Core's debug.log shrinking at start (Pantheon never shrinks it)"),
    # the wallet (pantheon/wallet/)
    _Option("disablewallet", _bool, "run no wallet and serve no wallet RPC (default: 0)", Kind.SWITCH),
    _Option("wallet", _text, "load this wallet (a name in the wallets directory) at start; repeatable", Kind.LIST,
            bare=""),
    _Option("keypool", _count, "keys each ranged wallet descriptor derives ahead of its next index (default: 1000)"),
    # options of Core's wallet, GUI, IPC and test-only switches Pantheon does not act on: accepted
    _ignored("walletdir", "wallet option"),
    _ignored("fallbackfee", "wallet option"),
    _ignored("mintxfee", "wallet option"),
    _ignored("paytxfee", "wallet option"),
    _ignored("walletbroadcast", "wallet option"),
    _ignored("walletrbf", "wallet option"),
    _ignored("discardfee", "wallet option"),
    _ignored("unsafesqlitesync", "wallet option"),
    _ignored("ipcbind", "IPC option"),
    _ignored("rpcdoccheck", "Core's RPC documentation self-check"),
    _ignored("prevoutfetchthreads", "Core's prevout prefetch threads"),
    _ignored("checkblockindex", "Core's block index consistency checks"),
    _ignored("deprecatedrpc", "Core's deprecated RPC switches"),
)
_BY_NAME = {option.name: option for option in _OPTIONS}
#: Core's network switches (-regtest, -testnet, ...) -> our network names.
_NETWORK_SWITCHES = {network.switch: network.name for network in params.NETWORKS.values() if network.switch}


@dataclass(frozen=True)
class NodeConfig:
    """Everything the node reads at start, resolved: defaults filled in from the network."""

    datadir: Path
    network: params.Network
    port: int
    listen: bool
    bind: str
    addnode: tuple[tuple[str, int], ...]
    connect: tuple[tuple[str, int], ...]
    maxconnections: int
    dnsseed: bool
    dnsserver: tuple[str, int] | None
    rpcport: int
    rpcbind: str
    rpcuser: str | None
    rpcpassword: str | None
    server: bool
    metrics_port: int | None
    assumevalid: bytes | None
    dbcache: int
    maxmempool: int
    loglevel: str
    minrelaytxfee: int = MIN_RELAY_FEE  # sat/kvB
    incrementalrelayfee: int = INCREMENTAL_RELAY_FEE  # sat/kvB
    datacarrier: bool = True
    datacarriersize: int = MAX_OP_RETURN_RELAY
    permitbaremultisig: bool = DEFAULT_PERMIT_BARE_MULTISIG
    persistmempool: bool = True
    testactivationheight: tuple[tuple[str, int], ...] = ()
    #: Every P2P listening address (`bind` is the first one's host, kept for single-bind callers).
    binds: tuple[Bind, ...] = ()
    #: `-connect=0`: no automatic outbound connections (Core), even with no peer to connect to.
    no_auto_outbound: bool = False
    fixedseeds: bool = True
    discover: bool = True
    uacomment: tuple[str, ...] = ()
    whitelist: tuple[WhitelistEntry, ...] = ()
    peertimeout: int = 60
    bantime: int = DEFAULT_BAN_TIME
    blocksonly: bool = False
    v2transport: bool = True
    blockfilterindex: bool = False
    txindex: bool = False
    txospenderindex: bool = False
    peerblockfilters: bool = False
    rpcthreads: int = 4
    rpcservertimeout: int = 30
    statusport: int | None = None
    statusbind: str = "127.0.0.1"
    statusauth: bool = False
    minimumchainwork: int | None = None
    maxtipage: int = 24 * 60 * 60
    par: int = 2
    acceptnonstdtxn: bool = False
    #: Core's -acceptstalefeeestimates (regtest only): load fee estimates whatever their age.
    acceptstalefeeestimates: bool = False
    mocktime: int = 0
    #: Core's -test options given (regtest only)
    test: tuple[str, ...] = ()
    checkaddrman: int = 0
    cjdnsreachable: bool = False
    proxy: tuple[str, int] | None = None
    blockmaxweight: int = DEFAULT_BLOCK_MAX_WEIGHT
    blockreservedweight: int = DEFAULT_BLOCK_RESERVED_WEIGHT
    blockmintxfee: int = DEFAULT_BLOCK_MIN_TX_FEE  # sat/kvB
    blockversion: int | None = None
    prune: int = 0  # Core's -prune: 0 off, 1 manual, else the target in MiB
    stopatheight: int = 0
    reindex: bool = False
    reindex_chainstate: bool = False
    checkblocks: int = DEFAULT_CHECKBLOCKS
    checklevel: int = DEFAULT_CHECKLEVEL
    fastprune: bool = False
    #: per-category log levels from `-loglevel=CATEGORY:LEVEL`
    category_levels: tuple[tuple[str, str], ...] = ()
    debug: tuple[str, ...] = ()
    debugexclude: tuple[str, ...] = ()
    printtoconsole: bool = True
    debuglogfile: str | None = "debug.log"
    logtimemicros: bool = False
    logthreadnames: bool = False
    logsourcelocations: bool = False
    #: the wallet: -disablewallet, the -wallet names to load at start, -keypool
    disablewallet: bool = False
    wallet: tuple[str, ...] = ()
    keypool: int = DEFAULT_KEYPOOL
    #: Core options accepted without effect (wallet, GUI, IPC, test-only), to be named in the log.
    ignored_options: tuple[str, ...] = field(default=())

    @property
    def log_level(self) -> int:
        return _LOG_LEVELS[self.loglevel]

    @property
    def user_agent(self) -> str:
        """Core's subversion format: /Pantheon:VERSION(comment; comment)/."""
        comments = f"({'; '.join(self.uacomment)})" if self.uacomment else ""
        return f"/Pantheon:{__version__}{comments}/"

    def mempool_policy(self) -> dict[str, Any]:
        """The mempool's policy options as `chain.mempool.Mempool` takes them (-datacarrier=0: no
        OP_RETURN output at all)."""
        return {"incremental_relay_fee": self.incrementalrelayfee,
                "max_datacarrier_bytes": self.datacarriersize if self.datacarrier else None,
                "permit_bare_multisig": self.permitbaremultisig}

    @property
    def network_datadir(self) -> Path:
        """Core's layout: mainnet in the datadir itself, other networks in a subdirectory of it."""
        return self.datadir if self.network.name == "main" else self.datadir / self.network.name


@dataclass(frozen=True)
class _Setting:
    name: str
    value: str | None  # None: given without a value
    negated: bool
    section: str | None  # a network's section (our network name), None for the top level
    where: str


def usage() -> str:
    """The options, one per line, for `-help`."""
    lines = ["Usage: pantheon-gevent [options]   (bitcoind's command line and bitcoin.conf are accepted)", "",
             "  -datadir=DIR   where the database, cookie, debug.log and the configuration file live "
             f"(default: {DEFAULT_DATADIR})",
             f"  -conf=FILE     configuration file (default: DATADIR/{CONF_FILENAME}, else "
             f"DATADIR/{CORE_CONF_FILENAME})"]
    lines += [f"  -{option.name}   {option.help}" for option in _OPTIONS if option.kind is not Kind.IGNORED]
    lines += ["", "Accepted and ignored (wallet options for sending, GUI, IPC): "
              + ", ".join(f"-{option.name}" for option in _OPTIONS if option.kind is Kind.IGNORED)]
    return "\n".join(lines)


def _section_of(name: str, where: str) -> tuple[str | None, str]:
    """`regtest.port` -> ("regtest", "port"): Core's network prefix."""
    prefix, dot, rest = name.partition(".")
    if not dot:
        return None, name
    for network in params.NETWORKS.values():
        if prefix in (network.chain_name, network.name):
            return network.name, rest
    raise ConfigError(f"{where}: unknown network section in {name!r}")


def _setting(raw_name: str, value: str | None, section: str | None, where: str) -> _Setting:
    prefix_section, name = _section_of(raw_name, where)
    section = prefix_section or section
    negated = False
    if name not in _BY_NAME and name.startswith("no") and name[2:] in _BY_NAME:
        name, negated = name[2:], True
        if value is not None and not _bool(value):
            negated = False  # Core: -nofoo=0 is -foo=1
            value = None
        else:
            value = None
    if name not in _BY_NAME:
        raise ConfigError(f"{where}: Invalid parameter -{raw_name}")
    return _Setting(name, value, negated, section, where)


_BOOLEAN_WORDS = frozenset({"0", "1", "true", "false", "yes", "no", "on", "off"})


def _read_command_line(argv: Sequence[str]) -> tuple[list[_Setting], str | None, str | None, bool]:
    """(settings, datadir, conf, help wanted) from argv."""
    settings: list[_Setting] = []
    datadir = conf = None
    wants_help = False
    tokens = list(argv)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not token.startswith("-") or token in ("-", "--"):
            raise ConfigError(f"Command line contains unexpected token '{token}', see pantheon-gevent -help "
                              "for a list of options.")
        flag, eq, value = token.partition("=")
        name = flag.lstrip("-")
        given: str | None = value if eq else None
        if name in ("h", "?", "help"):
            wants_help = True
            continue
        if given is None and flag.startswith("--") and index < len(tokens):
            given = _separate_value(name, tokens[index])  # Pantheon's own `--name value` form
            index += given is not None
        if name == "datadir":
            datadir = given or ""
        elif name == "conf":
            conf = given or ""
        else:
            settings.append(_setting(name, given, None, flag))
    return settings, datadir, conf, wants_help


def _separate_value(name: str, following: str) -> str | None:
    """The token after `--name`, when it is that option's value (a switch takes only 0/1-like words)."""
    option = _BY_NAME.get(name)
    if name not in ("datadir", "conf") and option is None:
        return None
    if option is not None and option.kind in (Kind.SWITCH, Kind.OFF_ONLY):
        return following if following.lower() in _BOOLEAN_WORDS else None
    negative_number = following[1:].isdigit() and following.startswith("-")
    return following if not following.startswith("-") or negative_number else None


def _read_conf(path: Path) -> list[_Setting]:
    """Every setting of a configuration file, with its section."""
    settings: list[_Setting] = []
    section: str | None = None
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from None
    for number, line in enumerate(text.splitlines(), 1):
        where = f"{path}:{number}"
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            name = line[1:-1].strip()
            section = next((network.name for network in params.NETWORKS.values()
                            if name in (network.chain_name, network.name)), None)
            if section is None:
                raise ConfigError(f"{where}: unknown section [{name}]")
            continue
        if "=" not in line:
            raise ConfigError(f"{where}: expected key=value, got {line!r}")
        key, value = (part.strip() for part in line.split("=", 1))
        if key in ("conf", "datadir"):
            raise ConfigError(f"{where}: {key} cannot be set in a configuration file")
        if key == "includeconf":
            raise ConfigError(f"{where}: includeconf is not supported")
        settings.append(_setting(key, value, section, where))
    return settings


def _parse(setting: _Setting) -> Any:
    option = _BY_NAME[setting.name]
    raw = setting.value if setting.value is not None else option.alone
    if raw is None:
        raise ConfigError(f"{setting.where}: -{setting.name} needs a value")
    try:
        return option.parse(raw)
    except CoreInitError as error:
        raise ConfigError(str(error)) from None
    except (ValueError, ConfigError) as error:
        raise ConfigError(f"{setting.where}: {setting.name}={raw!r}: {error}") from None


def _choose_network(settings: Iterable[_Setting]) -> str | None:
    """The network the settings name, or None; two different ones are Core's error."""
    chosen: set[str] = set()
    for setting in settings:
        if setting.section is not None:
            continue
        if setting.name in _NETWORK_SWITCHES and not setting.negated and _parse(setting):
            chosen.add(_NETWORK_SWITCHES[setting.name])
        elif setting.name in ("network", "chain") and not setting.negated:
            chosen.add(_parse(setting))
    if len(chosen) > 1:
        raise ConfigError("Invalid combination of -regtest, -signet, -testnet, -testnet4 and -chain. "
                          "Can use at most one.")
    return next(iter(chosen), None)


def _merge(command_line: list[_Setting], conf: list[_Setting], network: str) -> dict[str, Any]:
    """Core's precedence (see the module notes) -> name: value (a list for list options)."""
    sources = [
        [s for s in command_line if s.section in (None, network)],
        [s for s in conf if s.section == network],
        [s for s in conf if s.section is None],
    ]
    values: dict[str, Any] = {}
    for option in _OPTIONS:
        if option.name in ("network", "chain", *_NETWORK_SWITCHES):
            continue
        per_source = [[s for s in source if s.name == option.name] for source in sources]
        if option.kind is Kind.LIST:
            merged: list[Any] = []
            for found in per_source:
                if any(s.negated for s in found):
                    last_negation = max(i for i, s in enumerate(found) if s.negated)
                    merged += [_parse(s) for s in found[last_negation + 1:]]
                    values[option.name] = merged
                    break
                merged += [_parse(s) for s in found]
                if found:
                    values[option.name] = merged
            continue
        for rank, found in enumerate(per_source):
            if not found:
                continue
            chosen = found[-1] if rank == 0 else found[0]  # the command line's last, a file's first
            values[option.name] = False if chosen.negated else _parse(chosen)
            break
    return values


def load_config(argv: Sequence[str] | None = None) -> NodeConfig:
    """The command line, then the configuration file it points to, then defaults: one resolved
    `NodeConfig`. `-help` raises `HelpRequested` with the usage text."""
    command_line, datadir_arg, conf_arg, wants_help = _read_command_line(list(argv) if argv is not None else [])
    if wants_help:
        raise HelpRequested(usage())
    datadir = Path(os.path.expanduser(datadir_arg or DEFAULT_DATADIR))
    if conf_arg:
        conf_path = Path(os.path.expanduser(conf_arg))
        if not conf_path.is_absolute():
            conf_path = datadir / conf_path
        if not conf_path.is_file():
            raise ConfigError(f"-conf {conf_arg}: no such file")
    else:
        conf_path = datadir / CONF_FILENAME
        if not conf_path.is_file():
            conf_path = datadir / CORE_CONF_FILENAME
    conf = _read_conf(conf_path) if conf_path.is_file() else []
    network_name = _choose_network(command_line) or _choose_network(conf) or "main"
    values = _merge(command_line, conf, network_name)
    ignored = tuple(sorted({s.name for s in (*command_line, *conf) if _BY_NAME[s.name].kind is Kind.IGNORED}))
    return _resolve(datadir, params.network(network_name), values, ignored)


class HelpRequested(Exception):
    """`-help` was given; the message is the usage text."""


def _resolve(datadir: Path, network: params.Network, values: dict[str, Any], ignored: tuple[str, ...]) -> NodeConfig:
    connect_texts = [text for text in values.get("connect", ()) if text != "0"]
    no_auto_outbound = "connect" in values  # Core: -connect (any, "0" included) stops automatic outbound
    connect = tuple(parse_hostport(text, network.p2p_port) for text in connect_texts)
    dnsserver = values.get("dnsserver")
    assumevalid = values.get("assumevalid", network.default_assumevalid or None)
    if assumevalid is not None and not assumevalid.strip("0"):
        assumevalid = None  # Core's -assumevalid=0: off
    if assumevalid is not None:
        try:
            assumevalid_hash = bytes.fromhex(assumevalid)[::-1]
        except ValueError:
            assumevalid_hash = b""
        if len(assumevalid_hash) != 32:
            raise ConfigError(f"assumevalid={assumevalid!r}: not a 64-digit block hash")
        assumevalid = assumevalid_hash
    for regtest_only in ("testactivationheight", "mocktime", "acceptnonstdtxn", "acceptstalefeeestimates", "test",
                         "blockversion", "fastprune"):
        if values.get(regtest_only) and network.name != "regtest":
            raise ConfigError(f"{regtest_only} is for regtest only, not {network.name}")
    if values.get("peerblockfilters") and not values.get("blockfilterindex"):
        raise ConfigError("Cannot set -peerblockfilters without -blockfilterindex.")
    if ("rpcuser" in values) != ("rpcpassword" in values):
        raise ConfigError("rpcuser and rpcpassword must be given together")
    port = values.get("port", network.p2p_port)
    prune = values.get("prune", 0)
    if prune and values.get("reindex-chainstate"):
        raise ConfigError("Prune mode is incompatible with -reindex-chainstate. Use full -reindex instead.")
    for index in ("txindex", "txospenderindex"):
        if prune and values.get(index):
            raise ConfigError(f"Prune mode is incompatible with -{index}.")
    if 1 < prune < MIN_PRUNE_MIB:
        raise ConfigError(f"Prune configured below the minimum of {MIN_PRUNE_MIB} MiB.  Please use a higher number.")
    max_weight = values.get("blockmaxweight", DEFAULT_BLOCK_MAX_WEIGHT)
    reserved_weight = values.get("blockreservedweight", DEFAULT_BLOCK_RESERVED_WEIGHT)
    if reserved_weight > MAX_BLOCK_WEIGHT:
        raise ConfigError(f"-blockreservedweight ({reserved_weight}) exceeds consensus maximum block weight "
                          f"({MAX_BLOCK_WEIGHT})")
    if reserved_weight < MINIMUM_BLOCK_RESERVED_WEIGHT:
        raise ConfigError(f"-blockreservedweight ({reserved_weight}) is lower than minimum safety value of "
                          f"({MINIMUM_BLOCK_RESERVED_WEIGHT})")
    if max_weight > MAX_BLOCK_WEIGHT:
        raise ConfigError(f"-blockmaxweight ({max_weight}) exceeds consensus maximum block weight ({MAX_BLOCK_WEIGHT})")
    if reserved_weight > max_weight:
        raise ConfigError(f"-blockreservedweight ({reserved_weight}) exceeds -blockmaxweight ({max_weight})")
    uacomment = tuple(values.get("uacomment", ()))
    agent_length = len(f"/Pantheon:{__version__}({'; '.join(uacomment)})/") if uacomment else 0
    if agent_length > limits.MAX_USER_AGENT:
        raise ConfigError(f"Total length of network version string ({agent_length}) exceeds maximum length "
                          f"({limits.MAX_USER_AGENT}). Reduce the number or size of uacomments.")
    binds = tuple(values.get("bind", ())) or (Bind("0.0.0.0", None),)
    levels = values.get("loglevel", [])
    overall = next((level for category, level in reversed(levels) if category is None), "info")
    debug = tuple(values.get("debug", ()))
    logfile = values.get("debuglogfile", "debug.log")
    return NodeConfig(
        datadir=datadir,
        network=network,
        port=port,
        listen=values.get("listen", not no_auto_outbound or "bind" in values),
        bind=binds[0].host,
        binds=binds,
        addnode=tuple(parse_hostport(text, network.p2p_port) for text in values.get("addnode", ())),
        connect=connect,
        no_auto_outbound=no_auto_outbound,
        maxconnections=values.get("maxconnections", 125),
        dnsseed=values.get("dnsseed", not no_auto_outbound),
        dnsserver=parse_hostport(dnsserver, 53) if dnsserver else None,
        fixedseeds=values.get("fixedseeds", True),
        discover=values.get("discover", True),
        uacomment=uacomment,
        whitelist=tuple(values.get("whitelist", ())),
        peertimeout=values.get("peertimeout", 60),
        bantime=values.get("bantime", DEFAULT_BAN_TIME),
        blocksonly=values.get("blocksonly", False),
        v2transport=values.get("v2transport", True),
        blockfilterindex=values.get("blockfilterindex", False),
        txindex=values.get("txindex", False),
        txospenderindex=values.get("txospenderindex", False),
        peerblockfilters=values.get("peerblockfilters", False),
        rpcport=values.get("rpcport", network.rpc_port),
        rpcbind=values.get("rpcbind", "127.0.0.1"),
        rpcuser=values.get("rpcuser"),
        rpcpassword=values.get("rpcpassword"),
        rpcthreads=values.get("rpcthreads", 4),
        rpcservertimeout=values.get("rpcservertimeout", 30),
        server=values.get("server", True),
        metrics_port=values.get("metrics-port"),
        statusport=values.get("statusport"),
        statusbind=values.get("statusbind", "127.0.0.1"),
        statusauth=values.get("statusauth", False),
        assumevalid=assumevalid,
        minimumchainwork=values.get("minimumchainwork"),
        maxtipage=values.get("maxtipage", 24 * 60 * 60),
        dbcache=values.get("dbcache", 450),
        par=values.get("par", 2),
        maxmempool=values.get("maxmempool", 300),
        minrelaytxfee=values.get("minrelaytxfee", MIN_RELAY_FEE),
        incrementalrelayfee=values.get("incrementalrelayfee", INCREMENTAL_RELAY_FEE),
        datacarrier=values.get("datacarrier", True),
        datacarriersize=values.get("datacarriersize", MAX_OP_RETURN_RELAY),
        permitbaremultisig=values.get("permitbaremultisig", DEFAULT_PERMIT_BARE_MULTISIG),
        persistmempool=values.get("persistmempool", True),
        acceptnonstdtxn=values.get("acceptnonstdtxn", False),
        acceptstalefeeestimates=values.get("acceptstalefeeestimates", False),
        testactivationheight=tuple(values.get("testactivationheight", ())),
        mocktime=values.get("mocktime", 0),
        test=tuple(values.get("test", ())),
        checkaddrman=values.get("checkaddrman", 0),
        cjdnsreachable=values.get("cjdnsreachable", False),
        proxy=values.get("proxy"),
        blockmaxweight=max_weight,
        blockreservedweight=reserved_weight,
        blockmintxfee=values.get("blockmintxfee", DEFAULT_BLOCK_MIN_TX_FEE),
        blockversion=values.get("blockversion"),
        prune=prune,
        stopatheight=values.get("stopatheight", 0),
        reindex=values.get("reindex", False),
        reindex_chainstate=values.get("reindex-chainstate", False),
        checkblocks=values.get("checkblocks", DEFAULT_CHECKBLOCKS),
        checklevel=values.get("checklevel", DEFAULT_CHECKLEVEL),
        fastprune=values.get("fastprune", False),
        loglevel=overall,
        category_levels=tuple((category, level) for category, level in levels if category is not None),
        debug=debug,
        debugexclude=tuple(values.get("debugexclude", ())),
        printtoconsole=values.get("printtoconsole", True),
        debuglogfile=None if logfile in ("0", "") or values.get("debuglogfile") is False else logfile,
        logtimemicros=values.get("logtimemicros", False),
        logthreadnames=values.get("logthreadnames", False),
        logsourcelocations=values.get("logsourcelocations", False),
        disablewallet=values.get("disablewallet", False),
        wallet=tuple(values.get("wallet", ())),
        keypool=values.get("keypool", DEFAULT_KEYPOOL),
        ignored_options=ignored,
    )
