"""The wire layer against a real, independent implementation: bcoin 1.0.2 on regtest.

A raw TCP connection (no Pantheon networking yet) sends messages built by the spec and reads
bcoin's answers: its handshake messages, headers and blocks decode with the spec, the header
and checksum codecs of both wire twins agree, and the block hashes and merkle roots recompute
to what bcoin's RPC reports.
"""

from __future__ import annotations

import secrets
from typing import Iterator

import pytest

from helpers.bcoin import BcoinNode
from helpers.p2p import RawPeer, our_version
from pantheon import hashing, protocol, spec

MINED_BLOCKS = 15


@pytest.fixture
def peer(bcoin: BcoinNode, wire_impl) -> Iterator[RawPeer]:
    connection = RawPeer(bcoin.p2p_port, wire_impl.module)
    connection.send("version", our_version(bcoin.p2p_port))
    try:
        yield connection
    finally:
        connection.close()


def test_bcoin_handshake_messages_decode(peer: RawPeer) -> None:
    version = peer.handshake().payload
    assert version.version >= 70001 and version.user_agent.startswith("/bcoin:")
    assert version.nonce is not None and version.relay is not None
    # bcoin sends sendcmpct and getaddr after verack (DESIGN.md); everything decodes.
    peer.receive_until("getaddr")
    commands = [message.command for message in peer.received]
    assert {"version", "verack", "getaddr"} <= set(commands)
    assert all(message.checksum_ok for message in peer.received)
    assert all(not isinstance(message.payload, bytes) for message in peer.received), commands


def test_bcoin_headers_and_blocks_decode_and_hash(bcoin: BcoinNode, peer: RawPeer) -> None:
    peer.handshake()
    start = bcoin.rpc("getblockcount")
    expected = bcoin.mine(MINED_BLOCKS)
    locator = [hashing.hex_to_hash(bcoin.rpc("getblockhash", start))]
    peer.send("getheaders", {"version": 70016, "locator": locator, "hash_stop": bytes(32)})
    entries = peer.receive_until("headers").payload.headers
    hashes = [hashing.double_sha256(spec.serialize_header(entry.header)) for entry in entries]
    assert [hashing.hash_to_hex(block_hash) for block_hash in hashes] == expected
    assert entries[0].header.prev_block == locator[0]

    witness_block = protocol.MSG_WITNESS_BLOCK
    peer.send("getdata", {"inventory": [{"type": witness_block, "hash": block_hash} for block_hash in hashes]})
    for block_hash in hashes:
        block = peer.receive_until("block").payload
        assert hashing.double_sha256(spec.serialize_header(block.header)) == block_hash
        txids = [hashing.double_sha256(spec.serialize_tx(tx, include_witness=False)) for tx in block.transactions]
        assert hashing.merkle_root(txids) == (block.header.merkle_root, False)


def test_bcoin_answers_ping_with_our_nonce(peer: RawPeer) -> None:
    peer.handshake()
    nonce = secrets.randbits(64)
    peer.send("ping", {"nonce": nonce})
    while (pong := peer.receive_until("pong")).payload.nonce != nonce:
        pass
    assert pong.payload.nonce == nonce


def test_bcoin_has_not_banned_us(bcoin: BcoinNode) -> None:
    """After the exchanges above (this module's tests run in file order) bcoin has not banned
    us nor crossed its misbehaviour threshold: its RPC and its log both say so."""
    assert bcoin.rpc("listbanned") == []
    log = bcoin.log_path.read_text(errors="replace")
    assert "Ban threshold exceeded" not in log and "Banning peer" not in log
