"""Network parameters: what distinguishes main, testnet3, testnet4, signet and regtest.

Plain data, imported by the spec, the wire twins, `net/` and `chain/`. Values are Bitcoin
Core's (`kernel/chainparams.cpp`); each genesis block is stored whole, as it is on the wire,
and the tests recompute its hash and merkle root. The minimum chain work and default
assumevalid block are Core 27's (testnet4 came later and has none here).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

#: Core's BIP9Deployment start times that skip the state machine, and its no-timeout value.
ALWAYS_ACTIVE = -1
NEVER_ACTIVE = -2
NO_TIMEOUT = 2**63 - 1


@dataclass(frozen=True)
class Deployment:
    """A BIP9 soft fork signalled by a version bit (Core's Consensus::BIP9Deployment and its
    VBDeploymentInfo): median-time-past window, `threshold` signalling blocks out of each
    `period`, and whether getblocktemplate clients may ignore it (`gbt_optional`)."""

    name: str
    bit: int
    start_time: int
    timeout: int = NO_TIMEOUT
    min_activation_height: int = 0
    period: int = 2016
    threshold: int = 1815
    gbt_optional: bool = True


@dataclass(frozen=True)
class ChainTxData:
    """Core's ChainTxData: transactions in the chain at `time`, and the rate (per second)
    assumed since, for its verification progress estimate."""

    time: int
    tx_count: int
    rate: float


@dataclass(frozen=True)
class Network:
    """One network's constants. Heights are where a buried deployment is enforced."""

    name: str
    chain_name: str  # Core's name: -chain=, getblockchaininfo's "chain", the bitcoin.conf section
    switch: str | None  # Core's command-line switch choosing it (-regtest, -testnet, ...); None on main
    magic: int  # the first four wire bytes read as a little-endian uint32
    p2p_port: int
    rpc_port: int
    genesis_hex: str
    genesis_hash: str  # display order (byte-reversed), as RPC and explorers show it
    pow_limit: int  # the easiest allowed target
    pow_allow_min_difficulty: bool  # testnet's 20-minute rule
    pow_no_retargeting: bool
    pow_enforce_bip94: bool = False  # testnet4: retarget from the period's first block; timewarp rule
    pow_target_spacing: int = 10 * 60
    pow_target_timespan: int = 14 * 24 * 60 * 60
    subsidy_halving_interval: int = 210_000
    bip34_height: int = 1
    bip65_height: int = 1
    bip66_height: int = 1
    csv_height: int = 1
    segwit_height: int = 1
    taproot_height: int | None = 0  # None: activated by BIP9 signalling, no buried height
    bech32_hrp: str = "tb"
    dns_seeds: tuple[str, ...] = ()
    #: Core's nMinimumChainWork: a best chain with less work is not trusted (still in initial
    #: block download; -assumevalid does not apply).
    minimum_chain_work: int = 0
    #: Core's defaultAssumeValid, display order ("" for none): the -assumevalid default.
    default_assumevalid: str = ""
    #: Core's chainTxData, for `verificationprogress`; None: estimated from heights instead.
    chain_tx_data: ChainTxData | None = None
    #: Core's nPruneAfterHeight: a chain shorter than this is never pruned.
    prune_after_height: int = 1_000
    #: Core's signet challenge (hex; "" off signet), which getblockchaininfo shows. Pantheon does
    #: not check signet block signatures against it.
    signet_challenge: str = ""
    #: BIP9 deployments followed by signalling. Only regtest's are here: elsewhere every soft
    #: fork Pantheon enforces is buried at a height above.
    deployments: tuple[Deployment, ...] = ()

    @property
    def magic_bytes(self) -> bytes:
        return self.magic.to_bytes(4, "little")

    @property
    def genesis_block(self) -> bytes:
        return bytes.fromhex(self.genesis_hex)


_POW_LIMIT_MAIN = (1 << 224) - 1  # 00000000ffff...ff

MAIN = Network(
    name="main",
    chain_name="main",
    switch=None,
    magic=0xD9B4BEF9,
    p2p_port=8333,
    rpc_port=8332,
    genesis_hex=(
        "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e"
        "67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c01010000000100000000000000000000"
        "00000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d65732030332f"
        "4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f75742066"
        "6f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a6"
        "7962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000"
    ),
    genesis_hash="000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
    pow_limit=_POW_LIMIT_MAIN,
    pow_allow_min_difficulty=False,
    pow_no_retargeting=False,
    bip34_height=227_931,
    bip65_height=388_381,
    bip66_height=363_725,
    csv_height=419_328,
    segwit_height=481_824,
    taproot_height=709_632,
    bech32_hrp="bc",
    dns_seeds=(
        "seed.bitcoin.sipa.be",
        "dnsseed.bluematt.me",
        "dnsseed.bitcoin.dashjr.org",
        "seed.bitcoinstats.com",
        "seed.bitcoin.jonasschnelli.ch",
        "seed.btc.petertodd.net",
        "seed.bitcoin.sprovoost.nl",
        "dnsseed.emzy.de",
        "seed.bitcoin.wiz.biz",
    ),
    minimum_chain_work=0x63C4EBD298DB40AF57541800,  # Core 27
    prune_after_height=100_000,
    default_assumevalid="000000000000000000026811d149d4d261995ec5b3f64f439a0a10e1a464af9a",  # 824,000
)

TESTNET3 = Network(
    name="testnet3",
    chain_name="test",
    switch="testnet",
    magic=0x0709110B,
    p2p_port=18333,
    rpc_port=18332,
    genesis_hex=(
        "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e"
        "67768f617fc81bc3888a51323a9fb8aa4b1e5e4adae5494dffff001d1aa4ae1801010000000100000000000000000000"
        "00000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d65732030332f"
        "4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f75742066"
        "6f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a6"
        "7962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000"
    ),
    genesis_hash="000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
    pow_limit=_POW_LIMIT_MAIN,
    pow_allow_min_difficulty=True,
    pow_no_retargeting=False,
    bip34_height=21_111,
    bip65_height=581_885,
    bip66_height=330_776,
    csv_height=770_112,
    segwit_height=834_624,
    taproot_height=None,
    dns_seeds=(
        "testnet-seed.bitcoin.jonasschnelli.ch",
        "seed.tbtc.petertodd.net",
        "seed.testnet.bitcoin.sprovoost.nl",
        "testnet-seed.bluematt.me",
    ),
    minimum_chain_work=0xC59B14E264BA6C15DB9,  # Core 27
    default_assumevalid="000000000001323071f38f21ea5aae529ece491eadaccce506a59bcc2d968917",  # 2,550,000
)

TESTNET4 = Network(
    name="testnet4",
    chain_name="testnet4",
    switch="testnet4",
    magic=0x283F161C,
    p2p_port=48333,
    rpc_port=48332,
    genesis_hex=(
        "0100000000000000000000000000000000000000000000000000000000000000000000004e7b2b9128fe0291db0693af"
        "2ae418b767e657cd407e80cb1434221eaea7a07a046f3566ffff001dbb0c781701010000000100000000000000000000"
        "00000000000000000000000000000000000000000000ffffffff5504ffff001d01044c4c30332f4d61792f3230323420"
        "303030303030303030303030303030303030303031656264353863323434393730623361613964373833626230303130"
        "31316662653865613865393865303065ffffffff0100f2052a0100000023210000000000000000000000000000000000"
        "00000000000000000000000000000000ac00000000"
    ),
    genesis_hash="00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043",
    pow_limit=_POW_LIMIT_MAIN,
    pow_allow_min_difficulty=True,
    pow_no_retargeting=False,
    pow_enforce_bip94=True,
    dns_seeds=("seed.testnet4.bitcoin.sprovoost.nl", "seed.testnet4.wiz.biz"),
)

SIGNET = Network(
    name="signet",
    chain_name="signet",
    switch="signet",
    magic=0x40CF030A,
    p2p_port=38333,
    rpc_port=38332,
    genesis_hex=(
        "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e"
        "67768f617fc81bc3888a51323a9fb8aa4b1e5e4a008f4d5fae77031e8ad2220301010000000100000000000000000000"
        "00000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d65732030332f"
        "4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f75742066"
        "6f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a6"
        "7962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000"
    ),
    genesis_hash="00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6",
    pow_limit=0x377AE << 216,  # 00000377ae00...00
    pow_allow_min_difficulty=False,
    pow_no_retargeting=False,
    dns_seeds=("seed.signet.bitcoin.sprovoost.nl",),
    minimum_chain_work=0x206E86F08E8,  # Core 27, the default signet
    default_assumevalid="0000000870f15246ba23c16e370a7ffb1fc8a3dcf8cb4492882ed4b0e3d4cd26",  # 180,000
    signet_challenge=("512103ad5e0edad18cb1f0fc0d28a3d4f1f3e445640337489abb10404f2d1e086be430210359ef5021964fe22d6f8e05b"
                      "2463c9540ce96883fe3b278760f048f5189f2e6c452ae"),  # Core's default signet, a 1-of-2 multisig
)

REGTEST = Network(
    name="regtest",
    chain_name="regtest",
    switch="regtest",
    magic=0xDAB5BFFA,
    p2p_port=18444,
    rpc_port=18443,
    genesis_hex=(
        "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e"
        "67768f617fc81bc3888a51323a9fb8aa4b1e5e4adae5494dffff7f200200000001010000000100000000000000000000"
        "00000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d65732030332f"
        "4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f75742066"
        "6f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a6"
        "7962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000"
    ),
    genesis_hash="0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
    pow_limit=(1 << 255) - 1,  # 7fff...ff
    pow_allow_min_difficulty=True,
    pow_no_retargeting=True,
    pow_target_timespan=24 * 60 * 60,  # Core's regtest: a one-day (144-block) difficulty period
    chain_tx_data=ChainTxData(0, 0, 0.001),  # Core's: a rate only, so progress is testable
    subsidy_halving_interval=150,
    segwit_height=0,
    bech32_hrp="bcrt",
    deployments=(
        Deployment("testdummy", 28, start_time=0, period=144, threshold=108),
        Deployment("taproot", 2, start_time=ALWAYS_ACTIVE, period=144, threshold=108),
    ),
)

NETWORKS: Mapping[str, Network] = MappingProxyType(
    {net.name: net for net in (MAIN, TESTNET3, TESTNET4, SIGNET, REGTEST)}
)
BY_MAGIC: Mapping[int, Network] = MappingProxyType({net.magic: net for net in NETWORKS.values()})


def network(name: str) -> Network:
    """Look a network up by name; `testnet` means testnet3, as in Bitcoin Core."""
    key = "testnet3" if name == "testnet" else name
    try:
        return NETWORKS[key]
    except KeyError:
        raise ValueError(f"unknown network {name!r}; choose from {', '.join(NETWORKS)}") from None
