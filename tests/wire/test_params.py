"""Network parameters: every genesis block parses, hashes to its known hash, and its
merkle root recomputes; magics and ports are Bitcoin Core's."""

from __future__ import annotations


import pytest

from helpers.vectors import VECTORS
from pantheon import hashing, params, spec



def bits_to_target(bits: int) -> int:
    exponent, mantissa = bits >> 24, bits & 0x7FFFFF
    return mantissa << (8 * (exponent - 3))


@pytest.mark.parametrize("network", params.NETWORKS.values(), ids=lambda net: net.name)
def test_genesis_block_hash_merkle_root_and_pow(network: params.Network) -> None:
    block = spec.parse_block(network.genesis_block)
    header_bytes = spec.serialize_header(block.header)
    assert hashing.hash_to_hex(hashing.double_sha256(header_bytes)) == network.genesis_hash
    assert block.header.prev_block == bytes(32)
    assert len(block.transactions) == 1
    coinbase = block.transactions[0]
    assert coinbase.inputs[0].prev_txid == bytes(32) and coinbase.inputs[0].prev_index == 0xFFFFFFFF
    assert coinbase.outputs[0].value == 50 * 100_000_000
    txid = hashing.double_sha256(spec.serialize_tx(coinbase, include_witness=False))
    assert hashing.merkle_root([txid]) == (block.header.merkle_root, False)
    target = bits_to_target(block.header.bits)
    assert target <= network.pow_limit
    assert int.from_bytes(hashing.double_sha256(header_bytes), "little") <= target


def test_mainnet_genesis_matches_the_independent_vector() -> None:
    assert params.MAIN.genesis_block == (VECTORS / "blocks" / "block_0_genesis.bin").read_bytes()


@pytest.mark.parametrize(
    ("name", "magic_wire", "p2p", "rpc"),
    [
        ("main", "f9beb4d9", 8333, 8332),
        ("testnet3", "0b110907", 18333, 18332),
        ("testnet4", "1c163f28", 48333, 48332),
        ("signet", "0a03cf40", 38333, 38332),
        ("regtest", "fabfb5da", 18444, 18443),
    ],
)
def test_magic_and_ports(name: str, magic_wire: str, p2p: int, rpc: int) -> None:
    network = params.network(name)
    assert network.magic_bytes.hex() == magic_wire
    assert params.BY_MAGIC[network.magic] is network
    assert (network.p2p_port, network.rpc_port) == (p2p, rpc)


def test_brief_constants() -> None:
    assert params.MAIN.magic == 0xD9B4BEF9
    assert params.TESTNET3.magic_bytes == (0x0B110907).to_bytes(4, "big")


def test_testnet_alias_and_unknown_network() -> None:
    assert params.network("testnet") is params.TESTNET3
    with pytest.raises(ValueError, match="unknown network 'mainnet'"):
        params.network("mainnet")


def test_activation_heights_are_cores() -> None:
    main = params.MAIN
    assert (main.bip34_height, main.bip65_height, main.bip66_height) == (227_931, 388_381, 363_725)
    assert (main.csv_height, main.segwit_height, main.taproot_height) == (419_328, 481_824, 709_632)
    assert params.REGTEST.segwit_height == 0 and params.REGTEST.pow_no_retargeting
    assert params.TESTNET3.pow_allow_min_difficulty and not params.MAIN.pow_allow_min_difficulty
