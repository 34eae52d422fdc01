"""The protocol's vocabulary: service bits, inventory types, the protocol versions that gate
features, and the sizes of the block header and of BIP152's short ids. Every module that names
one of these imports it from here.

Values are Bitcoin Core's (`protocol.h`, `version.h`); a number typed anywhere else is a bug that
`tests/test_vocabulary.py` looks for. Caps on what a message may carry are in `limits.py`; the
networks (magic, ports, chain names) are in `params.py`.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final, Mapping

__all__ = [
    "NODE_NETWORK", "NODE_BLOOM", "NODE_WITNESS", "NODE_COMPACT_FILTERS", "NODE_NETWORK_LIMITED", "NODE_P2P_V2",
    "SERVICE_NAMES", "FULL_RELAY_SERVICES", "service_names",
    "MSG_ERROR", "MSG_TX", "MSG_BLOCK", "MSG_FILTERED_BLOCK", "MSG_CMPCT_BLOCK", "MSG_WTX", "MSG_WITNESS_FLAG",
    "MSG_WITNESS_TX", "MSG_WITNESS_BLOCK", "MSG_FILTERED_WITNESS_BLOCK", "INV_TYPE_NAMES",
    "PROTOCOL_VERSION", "MIN_PEER_VERSION", "SENDHEADERS_VERSION", "FEEFILTER_VERSION", "SHORT_IDS_BLOCKS_VERSION",
    "INVALID_CB_NO_BAN_VERSION", "WTXID_RELAY_VERSION", "CMPCTBLOCKS_VERSION",
    "BLOCK_HEADER_SIZE", "SHORTTXIDS_LENGTH",
    "ELLSWIFT_SIZE", "GARBAGE_TERMINATOR_SIZE", "MAX_GARBAGE_SIZE", "LENGTH_SIZE", "HEADER_SIZE", "TAG_SIZE", "EXPANSION",
    "BASIC_FILTER", "FILTER_TYPE_NAMES", "BASIC_FILTER_P", "BASIC_FILTER_M", "CFCHECKPT_INTERVAL",
]

# --- service bits (Core protocol.h ServiceFlags) -------------------------------------------
NODE_NETWORK: Final = 1 << 0  # serves the whole chain
NODE_BLOOM: Final = 1 << 2  # BIP111: serves BIP37 bloom-filtered connections
NODE_WITNESS: Final = 1 << 3  # BIP144: serves witness data
NODE_COMPACT_FILTERS: Final = 1 << 6  # BIP157: serves compact block filters
NODE_NETWORK_LIMITED: Final = 1 << 10  # BIP159: serves the last 288 blocks
NODE_P2P_V2: Final = 1 << 11  # BIP324: speaks the encrypted transport

#: Bit -> Core's name in `servicesnames` (getpeerinfo, getnetworkinfo), in bit order.
SERVICE_NAMES: Final[Mapping[int, str]] = MappingProxyType({
    NODE_NETWORK: "NETWORK",
    NODE_BLOOM: "BLOOM",
    NODE_WITNESS: "WITNESS",
    NODE_COMPACT_FILTERS: "COMPACT_FILTERS",
    NODE_NETWORK_LIMITED: "NETWORK_LIMITED",
    NODE_P2P_V2: "P2P_V2",
})

#: Core's SeedsServiceFlags() and what automatic outbound peers must offer.
FULL_RELAY_SERVICES: Final = NODE_NETWORK | NODE_WITNESS


def service_names(services: int) -> list[str]:
    """Core's names of the bits set in `services`, lowest first; an unknown bit k is
    `UNKNOWN[2^k]`, as Core's GetServicesNames shows it."""
    return [SERVICE_NAMES.get(1 << bit, f"UNKNOWN[2^{bit}]") for bit in range(64) if services >> bit & 1]


# --- inventory types (Core protocol.h GetDataMsg) -------------------------------------------
MSG_ERROR: Final = 0
MSG_TX: Final = 1
MSG_BLOCK: Final = 2
MSG_FILTERED_BLOCK: Final = 3  # BIP37
MSG_CMPCT_BLOCK: Final = 4  # BIP152
MSG_WTX: Final = 5  # BIP339
MSG_WITNESS_FLAG: Final = 1 << 30  # BIP144: the witness variant of a type
MSG_WITNESS_TX: Final = MSG_WITNESS_FLAG | MSG_TX
MSG_WITNESS_BLOCK: Final = MSG_WITNESS_FLAG | MSG_BLOCK
MSG_FILTERED_WITNESS_BLOCK: Final = MSG_WITNESS_FLAG | MSG_FILTERED_BLOCK

#: Type -> Core's name, for decoders and logs; other types are carried as numbers (Core ignores them).
INV_TYPE_NAMES: Final[Mapping[int, str]] = MappingProxyType({
    MSG_ERROR: "ERROR",
    MSG_TX: "MSG_TX",
    MSG_BLOCK: "MSG_BLOCK",
    MSG_FILTERED_BLOCK: "MSG_FILTERED_BLOCK",
    MSG_CMPCT_BLOCK: "MSG_CMPCT_BLOCK",
    MSG_WTX: "MSG_WTX",
    MSG_WITNESS_TX: "MSG_WITNESS_TX",
    MSG_WITNESS_BLOCK: "MSG_WITNESS_BLOCK",
    MSG_FILTERED_WITNESS_BLOCK: "MSG_FILTERED_WITNESS_BLOCK",
})

# --- protocol versions (Core version.h) ----------------------------------------------------
PROTOCOL_VERSION: Final = 70016  # what we advertise
MIN_PEER_VERSION: Final = 70001  # the oldest peer we keep (the spec's floor; BIP37's version)
SENDHEADERS_VERSION: Final = 70012  # BIP130
FEEFILTER_VERSION: Final = 70013  # BIP133
SHORT_IDS_BLOCKS_VERSION: Final = 70014  # BIP152
INVALID_CB_NO_BAN_VERSION: Final = 70015  # an invalid compact block is no longer punished
WTXID_RELAY_VERSION: Final = 70016  # BIP339
CMPCTBLOCKS_VERSION: Final = 2  # BIP152's compact block version with wtxid short ids (the only one Core speaks)

# --- sizes -------------------------------------------------------------------------------
BLOCK_HEADER_SIZE: Final = 80  # version 4, previous block 32, merkle root 32, time 4, bits 4, nonce 4
SHORTTXIDS_LENGTH: Final = 6  # BIP152: a short transaction id (Core CBlockHeaderAndShortTxIDs)

# --- the encrypted transport's framing (BIP324; Core bip324.h) ------------------------------
ELLSWIFT_SIZE: Final = 64  # a public key as ElligatorSwift: 64 uniformly random-looking bytes
GARBAGE_TERMINATOR_SIZE: Final = 16
MAX_GARBAGE_SIZE: Final = 4095
LENGTH_SIZE: Final = 3  # the encrypted little-endian length of a packet's contents
HEADER_SIZE: Final = 1  # the header byte inside the AEAD (its top bit marks a decoy)
TAG_SIZE: Final = 16  # Poly1305
EXPANSION: Final = LENGTH_SIZE + HEADER_SIZE + TAG_SIZE  # what a packet adds to its contents

# --- compact block filters (BIP157, BIP158; Core blockfilter.h) -----------------------------
BASIC_FILTER: Final = 0  # BlockFilterType::BASIC, the one filter type defined
#: Filter type -> Core's name (getblockfilter's filtertype, getindexinfo's "<name> block filter index").
FILTER_TYPE_NAMES: Final[Mapping[int, str]] = MappingProxyType({BASIC_FILTER: "basic"})
BASIC_FILTER_P: Final = 19  # BIP158: Golomb-Rice parameter of the basic filter
BASIC_FILTER_M: Final = 784_931  # BIP158: the basic filter's false-positive rate is 1/M
CFCHECKPT_INTERVAL: Final = 1_000  # BIP157: cfcheckpt carries every 1,000th block's filter header
