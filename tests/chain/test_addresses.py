"""Addresses <-> scriptPubKeys (`pantheon.chain.addresses`) against the published vectors: BIP350's
segwit address table (sipa/bech32 ref/python/tests.py, which supersedes BIP173's for v1+) and
Bitcoin Core's src/test/data/key_io_valid.json (the public-key rows, per chain).

Pure string and hash code: it does not touch the wire twins, so it runs once per suite run."""

from __future__ import annotations

import pytest

from pantheon import params
from pantheon.chain.addresses import (
    AddressError,
    Encoding,
    address_to_script,
    b58check_decode,
    bech32_decode,
    script_to_address,
)

NET = {name: params.network(name) for name in ("main", "testnet3", "testnet4", "signet", "regtest")}

# BIP350 "Test vectors for v0-v16 native segregated witness addresses" (bc or tb).
BIP350_VALID = [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6"),
    ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
     "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262"),
    ("bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
     "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6"),
    ("BC1SW50QGDZ25J", "6002751e"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323"),
    ("tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
     "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433"),
    ("tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
     "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
     "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"),
]

BIP350_INVALID = [
    "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut",  # invalid HRP
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",  # bech32 instead of bech32m
    "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf",  # bech32 instead of bech32m
    "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",  # bech32 instead of bech32m
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",  # bech32m instead of bech32
    "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47",  # bech32m instead of bech32
    "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",  # invalid character in checksum
    "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",  # invalid witness version
    "bc1pw5dgrnzv",  # program of 1 byte
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",  # 41 bytes
    "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",  # v0 program of 16 bytes
    "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq",  # mixed case
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",  # more than 4 padding bits
    "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j",  # non-zero padding
    "bc1gmk9yu",  # empty data section
]

# Core's key_io_valid.json, public-key rows: (address, scriptPubKey hex, chain).
CORE_KEY_IO = [
    ("1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo", "76a914a31c06bd463e3923bc1aadbde48b16976c08071788ac", "main"),
    ("36j4NfKv6Akva9amjWrLG6MuSQym1GuEmm", "a914373b819a068f32b7a6b38b6b38729647cfde01c287", "main"),
    ("mzK2FFDEhxqHcmrJw1ysqFkVyhUULo45hZ", "76a914ce28b26c57472737f5c3561a1761185bd8589a4388ac", "testnet4"),
    ("2NC2hEhe28ULKAJkW5MjZ3jtTMJdvXmByvK", "a914ce0bba75891ff9ec60148d4bd4a09ee2dc5c933187", "testnet4"),
    ("mww4LvqtTMKvmeQvizPz2EQv26xTneWrbg", "76a914b4110ba93ac54afc14da3bdd19614774a2d55d2988ac", "signet"),
    ("2N1r7aC69VHeE7yQJPDLi9T1PYq4wnwvjuT", "a9145e5a35ab44b3efaea5129ba22b88ba3e2976614587", "signet"),
    ("n4fajahJrAuKbN7uNsKjLjQkz9Qn5ewJXQ", "76a914fdeca3b08e38af53d7c4c60e3ad208ce5066441088ac", "regtest"),
    ("2MxFajLApXpYk4VodBSZSt7rw8y4ryABkfA", "a91436e9f191e0b75036a77f65e2eaa4752443233fbe87", "regtest"),
    ("bc1qvyq0cc6rahyvsazfdje0twl7ez82ndmuac2lhv", "00146100fc6343edc8c874496cb2f5bbfec88ea9b77c", "main"),
    ("bc1qyucykdlhp62tezs0hagqury402qwhk589q80tqs5myh3rxq34nwqhkdhv7",
     "002027304b37f70e94bc8a0fbf500e0c957a80ebda87280ef58214d92f119811acdc", "main"),
    ("bc1p83n3au0rjylefxq2nc2xh2y4jzz4pm6zxj4mw5pagdjjr2a9f36s6jjnnu",
     "51203c671ef1e3913f94980a9e146ba895908550ef4234abb7503d436521aba54c75", "main"),
    ("bc1z2rksukkjr8", "520250ed", "main"),
    ("tb1rgv5m6uvdk3kc7qsuz0c79v88ycr5w4wa", "53104329bd718db46d8f021c13f1e2b0e726", "testnet4"),
    ("tb1pae5um27ahn8n73pgexe3kcwlp8dhswpn684h2k2w6t9a7w3eq65qephd5y",
     "5120ee69cdabddbccf3f4428c9b31b61df09db783833d1eb75594ed2cbdf3a3906a8", "signet"),
    ("bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9", "00146f58bac9506f9bfb821d62e69330410bb56f0085", "regtest"),
    ("bcrt1qan8gntac7z7me2ejt4hpru42ad2f759fmy0m3ejvs98656znv7eqga4uhv",
     "0020ecce89afb8f0bdbcab325d6e11f2aaeb549f50a9d91fb8e64c814faa685367b2", "regtest"),
    ("bcrt1pfwxjqvtt4tcxrtdluukfmy2dv7xd2qzdfy6kajv5nwn4yam3wxkq3553uh",
     "51204b8d20316baaf061adbfe72c9d914d678cd5004d49356ec9949ba752777171ac", "regtest"),
    ("bcrt1sx6p8njlx7h9mc2agz4yg82dzne23050ncq72cneeecez2pst8mahn8xecsf8g6hzx94420",
     "6028368279cbe6f5cbbc2ba8154883a9a29e5517d1f3c03cac4f39ce3225060b3efb799cd9c412746ae2", "regtest"),
]


@pytest.mark.parametrize(("address", "script"), BIP350_VALID)
def test_bip350_valid_addresses_decode_and_reencode(address: str, script: str) -> None:
    network = NET["main"] if address.lower().startswith("bc1") else NET["testnet3"]
    assert address_to_script(address, network).hex() == script
    assert script_to_address(bytes.fromhex(script), network) == address.lower()


@pytest.mark.parametrize("address", BIP350_INVALID)
def test_bip350_invalid_addresses_are_refused_on_both_networks(address: str) -> None:
    for network in (NET["main"], NET["testnet3"]):
        with pytest.raises(AddressError):
            address_to_script(address, network)


@pytest.mark.parametrize(("address", "script", "chain"), CORE_KEY_IO)
def test_core_key_io_vectors_round_trip_on_their_chain(address: str, script: str, chain: str) -> None:
    assert address_to_script(address, NET[chain]).hex() == script
    assert script_to_address(bytes.fromhex(script), NET[chain]) == address
    if address[0] in "bt":  # tryCaseFlip: upper case decodes too
        assert address_to_script(address.upper(), NET[chain]).hex() == script


def test_an_address_of_another_network_is_refused() -> None:
    with pytest.raises(AddressError, match="not a regtest address"):
        address_to_script("1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo", NET["regtest"])
    with pytest.raises(AddressError):
        address_to_script("bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9", NET["main"])
    with pytest.raises(AddressError):  # bcoin's regtest P2PKH prefix (DESIGN.md), not Core's
        address_to_script("RDLF3X6D6GgHf2cf7eVehdzs8Mtgzv5DB1", NET["regtest"])


def test_base58_errors_name_the_fault() -> None:
    with pytest.raises(AddressError, match="character"):
        b58check_decode("1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2m0")
    with pytest.raises(AddressError, match="checksum"):
        b58check_decode("1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mp")


@pytest.mark.parametrize(("text", "encoding"), [("A12UEL5L", Encoding.BECH32), ("a1lqfn3a", Encoding.BECH32M),
                                                ("?1ezyfcl", Encoding.BECH32), ("?1v759aa", Encoding.BECH32M)])
def test_bech32_and_bech32m_checksums_are_told_apart(text: str, encoding: Encoding) -> None:
    assert bech32_decode(text)[2] is encoding


@pytest.mark.parametrize("text", ["pzry9x0s0muk", "1pzry9x0s0muk", "x1b4n0q5v", "li1dgmt3", "A1G7SGD8",
                                  "10a06t8", " 1nwldj5", "M1VUXWEZ", "16plkw9"])
def test_bip173_and_bip350_invalid_strings(text: str) -> None:
    with pytest.raises(AddressError):
        bech32_decode(text)


@pytest.mark.parametrize("script", ["6a04deadbeef", "51", "0015" + "00" * 21, ""])
def test_scripts_without_an_address(script: str) -> None:
    assert script_to_address(bytes.fromhex(script), NET["main"]) is None
