"""The node's settings: command-line flags and `pantheon.conf`, one table of options for both.

Bitcoin Core's habits, so an operator's muscle memory carries over: the configuration file lives
in the datadir (`DATADIR/pantheon.conf`, or `--conf PATH`), holds `key=value` lines with the
flag's name (`rpcport=18443`, `addnode=10.0.0.2:18444` repeated for lists), `#` comments, and
`[main]`/`[test]`/`[testnet4]`/`[signet]`/`[regtest]` sections that apply only on that network.
`noKEY=1` turns a switch off, as Core's `-noKEY`. The command line wins over the file, the file
over the defaults. A mistake (unknown key, bad value) is a `ConfigError` naming the line, never
a silent default.
"""

from __future__ import annotations

import argparse
import decimal
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from pantheon import params
from pantheon.chain.validation import COIN

__all__ = ["ConfigError", "NodeConfig", "load_config", "parse_hostport", "CONF_FILENAME", "DEFAULT_DATADIR"]

CONF_FILENAME = "pantheon.conf"
DEFAULT_DATADIR = "~/.pantheon"
_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


class ConfigError(ValueError):
    """A setting could not be understood; the message names the flag or file line."""


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


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on", ""):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a yes/no value: {text!r}")


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


def _network(text: str) -> str:
    return params.network(text.strip()).name


def _loglevel(text: str) -> str:
    lowered = text.strip().lower()
    if lowered not in _LOG_LEVELS:
        raise ValueError(f"choose from {', '.join(_LOG_LEVELS)}")
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
    name, sep, height = text.strip().partition("@")
    if not sep or not name or not height.isdigit():
        raise ValueError("expected NAME@HEIGHT")
    return name, int(height)


@dataclass(frozen=True)
class _Option:
    name: str  # the flag without "--", and the conf key
    parse: Callable[[str], Any]
    help: str
    repeat: bool = False
    switch: bool = False  # a flag that may be given without a value


_OPTIONS: tuple[_Option, ...] = (
    _Option("network", _network, "main, testnet (testnet3), testnet4, signet or regtest (default: main)"),
    _Option("port", _port, "P2P listening port (default: the network's, 8333 on main)"),
    _Option("listen", _bool, "accept inbound connections (default: 1; 0 with --connect)", switch=True),
    _Option("bind", _text, "P2P listening address (default: 0.0.0.0)"),
    _Option("addnode", _text, "a peer to keep connected to, host[:port]; repeatable", repeat=True),
    _Option("connect", _text, "connect only to this peer, host[:port]; repeatable; disables DNS seeds",
            repeat=True),
    _Option("maxconnections", _count, "total connection limit (default: 125)"),
    _Option("dnsseed", _bool, "ask the network's DNS seeds for addresses (default: 1)", switch=True),
    _Option("dnsserver", _text, "resolve DNS seeds through this name server host[:port] (default: system)"),
    _Option("rpcport", _port, "JSON-RPC port (default: the network's, 8332 on main)"),
    _Option("rpcbind", _text, "JSON-RPC listening address (default: 127.0.0.1)"),
    _Option("rpcuser", _text, "JSON-RPC user (default: cookie authentication)"),
    _Option("rpcpassword", _text, "JSON-RPC password"),
    _Option("server", _bool, "serve JSON-RPC (default: 1)", switch=True),
    _Option("metrics-port", _port, "serve Prometheus metrics on this port (default: off)"),
    _Option("assumevalid", _text, "skip script checks for ancestors of this block hash, as Core "
            "(default: Core's for the network, none on regtest; 0: off)"),
    _Option("dbcache", _count, "UTXO cache size in MiB (default: 450)"),
    _Option("maxmempool", _count, "mempool memory limit in MB (default: 300)"),
    _Option("minrelaytxfee", _fee_rate, "lowest fee rate relayed and accepted to the mempool, BTC/kvB "
            "(default: 0.00001)"),
    _Option("loglevel", _loglevel, "debug, info, warning, error (default: info)"),
    _Option("testactivationheight", _activation, "regtest only, as Core: NAME@HEIGHT enforces a deployment "
            "(bip34, dersig, cltv, csv, segwit) from HEIGHT; repeatable", repeat=True),
)
_BY_NAME = {option.name: option for option in _OPTIONS}


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
    minrelaytxfee: int = 1_000  # sat/kvB
    testactivationheight: tuple[tuple[str, int], ...] = ()

    @property
    def log_level(self) -> int:
        return getattr(logging, self.loglevel.upper())


def argument_parser() -> argparse.ArgumentParser:
    """The `pantheon-gevent` flags: the options table plus `--datadir` and `--conf`."""
    parser = argparse.ArgumentParser(prog="pantheon-gevent", description="Pantheon peer-to-peer node (gevent)")
    parser.add_argument("--datadir", help=f"where the database, cookie and {CONF_FILENAME} live "
                                          f"(default: {DEFAULT_DATADIR})")
    parser.add_argument("--conf", help=f"configuration file (default: DATADIR/{CONF_FILENAME})")
    for option in _OPTIONS:
        kwargs: dict[str, Any] = {"help": option.help, "dest": option.name}
        if option.repeat:
            kwargs["action"] = "append"
        elif option.switch:
            kwargs["nargs"] = "?"
            kwargs["const"] = "1"
        parser.add_argument(f"--{option.name}", **kwargs)
    return parser


def read_conf(path: Path, network_section: str | None) -> dict[str, list[tuple[str, str]]]:
    """The file's settings as name -> [(raw value, where)], top level and the given section only.
    With `network_section` None, only the top level is read (to learn the network first)."""
    settings: dict[str, list[tuple[str, str]]] = {}
    section: str | None = None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        where = f"{path}:{number}"
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            if section not in {network.chain_name for network in params.NETWORKS.values()}:
                raise ConfigError(f"{where}: unknown section [{section}]")
            continue
        if "=" not in line:
            raise ConfigError(f"{where}: expected key=value, got {line!r}")
        key, value = (part.strip() for part in line.split("=", 1))
        negated = key.startswith("no") and key[2:] in _BY_NAME and _BY_NAME[key[2:]].switch
        name = key[2:] if negated else key
        if name not in _BY_NAME:
            raise ConfigError(f"{where}: unknown setting {key!r}")
        if section is not None and section != network_section:
            continue
        if negated:
            value = "0" if _bool(value) else "1"
        settings.setdefault(name, []).append((value, where))
    return settings


def _parse(name: str, raw: str, where: str) -> Any:
    try:
        return _BY_NAME[name].parse(raw)
    except (ValueError, ConfigError) as error:
        raise ConfigError(f"{where}: {name}={raw!r}: {error}") from None


def load_config(argv: Sequence[str] | None = None) -> NodeConfig:
    """Flags, then the conf file they point to, then defaults: one resolved `NodeConfig`."""
    args = vars(argument_parser().parse_args(argv))
    datadir = Path(os.path.expanduser(args.pop("datadir") or DEFAULT_DATADIR))
    conf_flag = args.pop("conf")
    conf_path = Path(os.path.expanduser(conf_flag)) if conf_flag else datadir / CONF_FILENAME
    if conf_flag and not conf_path.is_file():
        raise ConfigError(f"--conf {conf_flag}: no such file")
    values: dict[str, Any] = {}
    for name, given in args.items():
        if given is not None:
            values[name] = [_parse(name, raw, f"--{name}") for raw in given] if _BY_NAME[name].repeat \
                else _parse(name, given, f"--{name}")
    if conf_path.is_file():
        network_name = values.get("network")
        if network_name is None:
            top = read_conf(conf_path, None)
            network_name = _parse("network", *top["network"][-1]) if "network" in top else "main"
        for name, entries in read_conf(conf_path, params.network(network_name).chain_name).items():
            if name in values:
                continue  # the command line wins
            parsed = [_parse(name, raw, where) for raw, where in entries]
            values[name] = parsed if _BY_NAME[name].repeat else parsed[-1]
    return _resolve(datadir, values)


def _resolve(datadir: Path, values: dict[str, Any]) -> NodeConfig:
    network = params.network(values.get("network", "main"))
    connect = tuple(parse_hostport(text, network.p2p_port) for text in values.get("connect", ()))
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
    if values.get("testactivationheight") and network.name != "regtest":
        raise ConfigError(f"testactivationheight is for regtest only, not {network.name}")
    if ("rpcuser" in values) != ("rpcpassword" in values):
        raise ConfigError("rpcuser and rpcpassword must be given together")
    return NodeConfig(
        datadir=datadir,
        network=network,
        port=values.get("port", network.p2p_port),
        listen=values.get("listen", not connect),
        bind=values.get("bind", "0.0.0.0"),
        addnode=tuple(parse_hostport(text, network.p2p_port) for text in values.get("addnode", ())),
        connect=connect,
        maxconnections=values.get("maxconnections", 125),
        dnsseed=values.get("dnsseed", not connect),
        dnsserver=parse_hostport(dnsserver, 53) if dnsserver else None,
        rpcport=values.get("rpcport", network.rpc_port),
        rpcbind=values.get("rpcbind", "127.0.0.1"),
        rpcuser=values.get("rpcuser"),
        rpcpassword=values.get("rpcpassword"),
        server=values.get("server", True),
        metrics_port=values.get("metrics-port"),
        assumevalid=assumevalid,
        dbcache=values.get("dbcache", 450),
        maxmempool=values.get("maxmempool", 300),
        loglevel=values.get("loglevel", "info"),
        minrelaytxfee=values.get("minrelaytxfee", 1_000),
        testactivationheight=tuple(values.get("testactivationheight", ())),
    )
