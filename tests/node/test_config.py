"""Node settings (`pantheon.config`): flags, `pantheon.conf` with Core's sections and `no` prefix,
precedence, and a typed error naming the culprit for every mistake."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from pantheon import params
from pantheon.config import _OPTIONS, ConfigError, HelpRequested, Kind, NodeConfig, load_config, parse_hostport
from pantheon.net.permissions import Permission
from pantheon.hashing import hex_to_hash


def config(tmp_path: Path, *argv: str, conf: str | None = None) -> NodeConfig:
    if conf is not None:
        (tmp_path / "pantheon.conf").write_text(conf)
    return load_config(["--datadir", str(tmp_path), *argv])


def test_defaults_are_mainnets_like_core(tmp_path: Path) -> None:
    settings = config(tmp_path)
    assert settings.datadir == tmp_path
    assert settings.network is params.MAIN
    assert (settings.port, settings.rpcport, settings.rpcbind) == (8333, 8332, "127.0.0.1")
    assert settings.listen and settings.dnsseed and settings.server
    assert (settings.maxconnections, settings.maxmempool, settings.loglevel) == (125, 300, "info")
    assert settings.rpcuser is None and settings.metrics_port is None
    assert settings.assumevalid == hex_to_hash(params.MAIN.default_assumevalid)  # Core's default
    assert settings.minrelaytxfee == 100  # Core 30's 0.1 sat/vB
    assert settings.mempool_policy() == {"incremental_relay_fee": 100, "max_datacarrier_bytes": 100_000,
                                         "permit_bare_multisig": True}
    assert config(tmp_path, "-datacarrier=0").mempool_policy()["max_datacarrier_bytes"] is None
    assert config(tmp_path, "-datacarriersize=83", "-nopermitbaremultisig").mempool_policy() == {
        "incremental_relay_fee": 100, "max_datacarrier_bytes": 83, "permit_bare_multisig": False}
    assert config(tmp_path, "--minrelaytxfee", "0.0000099").minrelaytxfee == 990


def test_every_option_is_a_config_field() -> None:
    """Each option that does something lands in NodeConfig (the network choosers select
    `network`; -loglevel=CATEGORY:LEVEL fills `category_levels`)."""
    names = {field.name for field in dataclasses.fields(NodeConfig)}
    choosers = {"chain", *(network.switch for network in params.NETWORKS.values() if network.switch)}
    effective = {option.name.replace("-", "_") for option in _OPTIONS
                 if option.kind not in (Kind.IGNORED, Kind.OFF_ONLY)}
    assert effective - choosers <= names


def test_network_sets_its_ports(tmp_path: Path) -> None:
    settings = config(tmp_path, "--network", "regtest")
    assert (settings.network, settings.port, settings.rpcport) == (params.REGTEST, 18444, 18443)
    assert config(tmp_path, "--network", "testnet").network is params.TESTNET3


def test_conf_file_sections_lists_and_precedence(tmp_path: Path) -> None:
    conf = """
# comments and blank lines are fine
network = regtest
rpcport=1111
addnode=10.0.0.1
[main]
rpcport=2222
[regtest]
addnode=10.0.0.2:19000
nodnsseed=1
metrics-port=9100
"""
    settings = config(tmp_path, conf=conf)
    assert settings.network is params.REGTEST
    assert settings.rpcport == 1111  # the [main] section is not read on regtest
    assert settings.addnode == (("10.0.0.2", 19000), ("10.0.0.1", 18444))  # the section's first, as Core
    assert not settings.dnsseed
    assert settings.metrics_port == 9100
    overridden = config(tmp_path, "--rpcport", "3333", "--addnode", "127.0.0.1:1", "--dnsseed")
    assert overridden.rpcport == 3333 and overridden.dnsseed
    # Core merges lists: the command line's first, then the section's, then the top's
    assert overridden.addnode == (("127.0.0.1", 1), ("10.0.0.2", 19000), ("10.0.0.1", 18444))
    assert config(tmp_path, "-noaddnode").addnode == ()  # a negation drops the file's values
    on_main = config(tmp_path, "--network", "main")
    assert on_main.rpcport == 2222 and on_main.addnode == (("10.0.0.1", 8333),)


def test_connect_turns_off_listening_and_dns_seeds(tmp_path: Path) -> None:
    settings = config(tmp_path, "--network", "regtest", "--connect", "[::1]:18445")
    assert settings.connect == (("::1", 18445),)
    assert not settings.listen and not settings.dnsseed
    assert config(tmp_path, "--connect", "1.2.3.4", "--listen").listen


def test_explicit_conf_path(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.conf"
    other.write_text("loglevel=debug\n")
    assert config(tmp_path, "--conf", str(other)).loglevel == "debug"
    with pytest.raises(ConfigError, match="no such file"):
        config(tmp_path, "--conf", str(tmp_path / "missing.conf"))


def test_assumevalid_is_read_in_display_order(tmp_path: Path) -> None:
    shown = "00000000000000000000" + "ab" * 22
    assert config(tmp_path, "--assumevalid", shown).assumevalid == bytes.fromhex(shown)[::-1]
    assert config(tmp_path, "--assumevalid", "0" * 64).assumevalid is None  # Core's "0": off
    assert config(tmp_path, "--assumevalid", "0").assumevalid is None


@pytest.mark.parametrize(("network", "expected"), [
    ("main", "000000000000000000026811d149d4d261995ec5b3f64f439a0a10e1a464af9a"),  # Core 27: 824,000
    ("testnet", "000000000001323071f38f21ea5aae529ece491eadaccce506a59bcc2d968917"),
    ("signet", "0000000870f15246ba23c16e370a7ffb1fc8a3dcf8cb4492882ed4b0e3d4cd26"),
    ("regtest", None),
])
def test_assumevalid_defaults_to_cores_block_for_the_network(tmp_path: Path, network: str,
                                                             expected: str | None) -> None:
    assumevalid = config(tmp_path, "--network", network).assumevalid
    assert assumevalid == (None if expected is None else hex_to_hash(expected))


@pytest.mark.parametrize(("argv", "conf", "match"), [
    (["--rpcport", "70000"], None, "--rpcport"),
    (["--maxconnections", "-1"], None, "maxconnections"),
    (["--network", "moon"], None, "unknown network"),
    (["--loglevel", "loud"], None, "loglevel"),
    (["--listen=maybe"], None, "yes/no"),
    (["--assumevalid", "zz"], None, "64-digit"),
    (["--minrelaytxfee", "0.000000001"], None, "8 decimals"),
    (["--minrelaytxfee", "cheap"], None, "not a number"),
    (["--rpcuser", "u"], None, "together"),
    (["--addnode", "1.2.3.4:0"], None, "bad port"),
    (["--connect", ":5"], None, "no host"),
    ([], "bogus=1\n", r"pantheon.conf:1: Invalid parameter -bogus"),
    (["-bogus"], None, "Invalid parameter -bogus"),
    (["regtest"], None, "unexpected token 'regtest'"),
    (["-regtest", "-testnet"], None, "at most one"),
    (["-regtest", "-peertimeout=0"], None, "peertimeout must be a positive integer."),
    (["-v2transport=perhaps"], None, "yes/no"),
    (["-peerbloomfilters"], None, "only 0 is accepted"),
    (["-mocktime=5"], None, "regtest only"),
    (["-whitelist=bogus@127.0.0.1"], None, "Invalid P2P permission: 'bogus'"),
    # Core's init errors, word for word
    (["-blockreservedweight=4000001"], None,
     r"^-blockreservedweight \(4000001\) exceeds consensus maximum block weight \(4000000\)$"),
    (["-blockreservedweight=1999"], None,
     r"^-blockreservedweight \(1999\) is lower than minimum safety value of \(2000\)$"),
    (["-blockmaxweight=4000001"], None, r"^-blockmaxweight \(4000001\) exceeds consensus maximum block weight"),
    (["-blockmaxweight=7999"], None, r"^-blockreservedweight \(8000\) exceeds -blockmaxweight \(7999\)$"),
    (["-prune=549"], None, r"^Prune configured below the minimum of 550 MiB.  Please use a higher number.$"),
    (["-prune=1", "-reindex-chainstate"], None,
     r"^Prune mode is incompatible with -reindex-chainstate. Use full -reindex instead.$"),
    (["-prune=1", "-txindex"], None, r"^Prune mode is incompatible with -txindex.$"),
    (["-prune=600", "-txospenderindex"], None, r"^Prune mode is incompatible with -txospenderindex.$"),
    (["-regtest", "-test=addrmap"], None, r'^Unrecognised option "addrmap" provided in -test=<option>.$'),
    (["-test=bip94"], None, "regtest only"),
    (["-peerblockfilters"], None, r"^Cannot set -peerblockfilters without -blockfilterindex.$"),
    (["-blockfilterindex=0", "-peerblockfilters"], None, r"^Cannot set -peerblockfilters without -blockfilterindex.$"),
    (["-blockfilterindex=abc"], None, r"^Unknown -blockfilterindex value abc.$"),
    (["-fastprune"], None, "regtest only"),
    ([], "includeconf=other.conf\n", "not supported"),
    ([], "\n\nrpcport\n", r"pantheon.conf:3: expected key=value"),
    ([], "[moon]\n", "unknown section"),
    ([], "[regtest]\nport=x\n", None),  # ignored on main: no error
    ([], "network=regtest\n[regtest]\nport=x\n", r"pantheon.conf:3: port='x'"),
])
def test_mistakes_are_config_errors_naming_the_culprit(tmp_path: Path, argv: list[str], conf: str | None,
                                                       match: str | None) -> None:
    if match is None:
        assert config(tmp_path, *argv, conf=conf).port == 8333
        return
    with pytest.raises(ConfigError, match=match):
        config(tmp_path, *argv, conf=conf)


@pytest.mark.parametrize(("text", "default", "expected"), [
    ("host", 8333, ("host", 8333)),
    ("1.2.3.4:5", None, ("1.2.3.4", 5)),
    ("[2001:db8::1]:8333", None, ("2001:db8::1", 8333)),
    ("[2001:db8::1]", 18444, ("2001:db8::1", 18444)),
    ("2001:db8::1", 18444, ("2001:db8::1", 18444)),
])
def test_parse_hostport(text: str, default: int | None, expected: tuple[str, int]) -> None:
    assert parse_hostport(text, default) == expected


@pytest.mark.parametrize("text", ["host", "[::1", "[::1]x", "h:port"])
def test_parse_hostport_refuses(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_hostport(text)


def test_test_activation_heights_are_regtest_only(tmp_path: Path) -> None:
    settings = config(tmp_path, "--network", "regtest", "--testactivationheight", "segwit@432",
                      "--testactivationheight", "bip34@100000000")
    assert settings.testactivationheight == (("segwit", 432), ("bip34", 100_000_000))
    with pytest.raises(ConfigError, match="regtest only"):
        config(tmp_path, "--testactivationheight", "csv@1")
    for text, error in (("csv", "Invalid format (csv)"), ("name@2", "Invalid name (name@2)"),
                        ("bip34@-2", "Invalid height value (bip34@-2)")):
        with pytest.raises(ConfigError, match=rf"^{re.escape(error)} for -testactivationheight=name@height.$"):
            config(tmp_path, "--network", "regtest", "--testactivationheight", text)


def test_bitcoinds_command_line_and_bitcoin_conf_as_the_functional_tests_write_them(tmp_path: Path) -> None:
    """Core's framework (test_framework/util.py and test_node.py) starts bitcoind like this."""
    (tmp_path / "bitcoin.conf").write_text(
        "regtest=1\n[regtest]\nport=11000\nrpcport=16000\nrpcservertimeout=99000\nrpcdoccheck=1\n"
        "rpcthreads=2\nfallbackfee=0.0002\nserver=1\nkeypool=1\ndiscover=0\ndnsseed=0\nfixedseeds=0\n"
        "listenonion=0\npeertimeout=999999999\nprinttoconsole=0\nnatpmp=0\nshrinkdebugfile=0\n"
        "unsafesqlitesync=1\nconnect=0\nmaxconnections=94\npar=2\nprevoutfetchthreads=1\nbind=127.0.0.1\n")
    settings = load_config([f"-datadir={tmp_path}", "-logtimemicros", "-debug", "-debugexclude=leveldb",
                            "-debugexclude=rand", "-uacomment=testnode0", "-disablewallet", "-logthreadnames",
                            "-logsourcelocations", "-loglevel=trace", "-nologratelimit", "-v2transport=0",
                            "-whitelist=noban,in,out@127.0.0.1", "-peertimeout=3"])
    assert settings.network is params.REGTEST and settings.datadir == tmp_path
    assert (settings.port, settings.rpcport, settings.maxconnections, settings.par) == (11000, 16000, 94, 2)
    assert settings.listen and settings.bind == "127.0.0.1"  # a bind keeps listening on despite connect=0
    assert settings.no_auto_outbound and settings.connect == () and not settings.dnsseed
    assert not (settings.fixedseeds or settings.discover or settings.printtoconsole)
    assert settings.peertimeout == 3  # the command line beats the file
    assert settings.uacomment == ("testnode0",) and settings.debug == ("1",)
    assert settings.debugexclude == ("leveldb", "rand") and settings.loglevel == "trace"
    assert settings.logtimemicros and settings.logthreadnames and settings.logsourcelocations
    assert settings.disablewallet and settings.keypool == 1 and settings.wallet == ()
    assert settings.ignored_options == ("fallbackfee", "logratelimit", "prevoutfetchthreads", "rpcdoccheck",
                                        "shrinkdebugfile", "unsafesqlitesync")
    (entry,) = settings.whitelist
    assert entry.permissions == {Permission.NOBAN} and entry.inbound and entry.outbound
    assert str(entry.subnet) == "127.0.0.1/32"


def test_core_forms_of_names_values_and_sections(tmp_path: Path) -> None:
    (tmp_path / "bitcoin.conf").write_text("chain=regtest\nregtest.rpcport=1\nrpcport=2\nrpcport=3\n"
                                           "[regtest]\nmaxconnections=7\nmaxconnections=8\n")
    settings = load_config([f"-datadir={tmp_path}", "--listen=0", "-regtest.port=5", "-nodnsseed",
                            "-whitelist=10.0.0.0/8", "-loglevel=net:debug", "-bind=127.0.0.1:9=onion"])
    assert settings.network is params.REGTEST
    assert settings.rpcport == 1  # the network's own value beats the top level
    assert settings.maxconnections == 7  # in a file the first value wins, as Core
    assert settings.port == 5 and not settings.listen and not settings.dnsseed
    assert settings.category_levels == (("net", "debug"),) and settings.loglevel == "info"
    (entry,) = settings.whitelist
    assert entry.permissions == {Permission.NOBAN, Permission.MEMPOOL, Permission.RELAY, Permission.DOWNLOAD}
    (bind,) = settings.binds
    assert (bind.host, bind.port, bind.onion) == ("127.0.0.1", 9, True)
    (tmp_path / "pantheon.conf").write_text("network=testnet\n")  # ours wins over bitcoin.conf
    assert load_config([f"-datadir={tmp_path}"]).network is params.TESTNET3


def test_wallet_options(tmp_path: Path) -> None:
    chosen = config(tmp_path, "-regtest", "-wallet=a", "-wallet=", "-keypool=7")
    assert (chosen.wallet, chosen.keypool, chosen.disablewallet) == (("a", ""), 7, False)
    assert config(tmp_path, "-regtest", "-wallet=a", "-nowallet").wallet == ()
    assert config(tmp_path, "-regtest").keypool == 1000  # Core's DEFAULT_KEYPOOL_SIZE


def test_help_lists_the_options() -> None:
    with pytest.raises(HelpRequested) as caught:
        load_config(["-help"])
    text = str(caught.value)
    assert "-peertimeout" in text and "-whitelist" in text and "-disablewallet" in text


def test_mining_and_pruning_options(tmp_path: Path) -> None:
    chosen = config(tmp_path, "-regtest", "-blockmaxweight=3998000", "-blockreservedweight=4000",
                    "-blockmintxfee=0.00021", "-blockversion=1337", "-test=bip94", "-prune=1", "-fastprune")
    assert (chosen.blockmaxweight, chosen.blockreservedweight, chosen.blockmintxfee) == (3_998_000, 4_000, 21_000)
    assert (chosen.blockversion, chosen.test, chosen.prune, chosen.fastprune) == (1337, ("bip94",), 1, True)
    assert config(tmp_path, "-prune=123456789").prune == 123_456_789


def test_address_manager_and_proxy_options(tmp_path: Path) -> None:
    chosen = config(tmp_path, "-regtest", "-test=addrman", "-checkaddrman=1", "-cjdnsreachable", "-proxy=127.0.0.1:1")
    assert (chosen.test, chosen.checkaddrman, chosen.cjdnsreachable, chosen.proxy) == (
        ("addrman",), 1, True, ("127.0.0.1", 1))
    defaults = config(tmp_path, "-regtest")
    assert (defaults.checkaddrman, defaults.cjdnsreachable, defaults.proxy) == (0, False, None)
    assert config(tmp_path, "-proxy=10.0.0.1").proxy == ("10.0.0.1", 9050)  # Core's default proxy port
    assert config(tmp_path, "-proxy=0").proxy is None
    with pytest.raises(ConfigError):
        config(tmp_path, "-test=addrman")  # regtest only, as Core


@pytest.mark.parametrize(("argv", "conf", "index", "serve"), [
    ([], None, False, False),
    (["-blockfilterindex"], None, True, False),
    (["-blockfilterindex=1", "-peerblockfilters"], None, True, True),
    (["--blockfilterindex=basic", "--peerblockfilters=1"], None, True, True),
    (["-blockfilterindex=0"], None, False, False),
    (["-noblockfilterindex"], "blockfilterindex=basic\n", False, False),
    ([], "blockfilterindex=basic\npeerblockfilters=1\n", True, True),
])
def test_block_filter_options(tmp_path: Path, argv: list[str], conf: str | None, index: bool, serve: bool) -> None:
    chosen = config(tmp_path, *argv, conf=conf)
    assert (chosen.blockfilterindex, chosen.peerblockfilters) == (index, serve)


@pytest.mark.parametrize(("argv", "conf", "txindex", "spenders"), [
    ([], None, False, False),
    (["-txindex", "-txospenderindex"], None, True, True),
    (["--txindex=1"], "txospenderindex=1\n", True, True),
    (["-notxindex"], "txindex=1\n", False, False),
    (["-txospenderindex=0"], "[regtest]\ntxindex=1\n", False, False),  # the section is not main's
])
def test_transaction_index_options(tmp_path: Path, argv: list[str], conf: str | None, txindex: bool,
                                   spenders: bool) -> None:
    chosen = config(tmp_path, *argv, conf=conf)
    assert (chosen.txindex, chosen.txospenderindex) == (txindex, spenders)
