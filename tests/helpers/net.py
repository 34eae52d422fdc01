"""What the net tests share: a listening manager's settings, Core's deterministic AddrMan key, `ip`."""

from __future__ import annotations

from pantheon import params
from pantheon.net.address import PeerAddress
from pantheon.net.gossip import GossipConfig
from pantheon.net.manager import ManagerConfig
from pantheon.net.peer import PeerConfig

PEER = PeerConfig(network=params.REGTEST, handshake_timeout=2.0, ping_interval=60.0)
GOSSIP = GossipConfig(relay_interval=0.05)  # Core's 30 s trickle, shrunk
LISTEN = ManagerConfig(peer=PEER, listen=("127.0.0.1", 0), gossip=GOSSIP)

#: Core's uint256{1}, its AddrMan(..., deterministic=true) key. A test that counts the addresses
#: one source placed must fix the key: under a random one, one source group reaches only 64 new
#: buckets, so two of five addresses share a slot (and the later is dropped, as in Core) about
#: once in 400 tables.
CORE_DETERMINISTIC_KEY = b"\x01" + bytes(31)


def ip(text: str, port: int = 0) -> PeerAddress:
    return PeerAddress.from_ip(text, port)
