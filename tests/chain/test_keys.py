"""Keys (`pantheon.chain.keys`): BIP32's test vectors 1 and 2 (every step, public and private
serializations), public derivation agreeing with private, WIF per network as Core's DecodeSecret
reads it, and extended keys refused on the wrong network."""

from __future__ import annotations

import pytest

from pantheon.chain.keys import HARDENED, ExtendedKey, decode_wif, encode_wif, public_key
from pantheon.params import REGTEST, network

MAIN = network("main")
H = HARDENED

#: BIP32 test vector 1: seed 000102...0f; (path, xpub, xprv).
VECTOR_1 = ("000102030405060708090a0b0c0d0e0f", [
    ((), "xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD265TMg7usUDFdp6W1EGMcet8",
     "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi"),
    ((H,), "xpub68Gmy5EdvgibQVfPdqkBBCHxA5htiqg55crXYuXoQRKfDBFA1WEjWgP6LHhwBZeNK1VTsfTFUHCdrfp1bgwQ9xv5ski8PX9rL2dZXvgGDnw",
     "xprv9uHRZZhk6KAJC1avXpDAp4MDc3sQKNxDiPvvkX8Br5ngLNv1TxvUxt4cV1rGL5hj6KCesnDYUhd7oWgT11eZG7XnxHrnYeSvkzY7d2bhkJ7"),
    ((H, 1), "xpub6ASuArnXKPbfEwhqN6e3mwBcDTgzisQN1wXN9BJcM47sSikHjJf3UFHKkNAWbWMiGj7Wf5uMash7SyYq527Hqck2AxYysAA7xmALppuCkwQ",
     "xprv9wTYmMFdV23N2TdNG573QoEsfRrWKQgWeibmLntzniatZvR9BmLnvSxqu53Kw1UmYPxLgboyZQaXwTCg8MSY3H2EU4pWcQDnRnrVA1xe8fs"),
    ((H, 1, H + 2), "xpub6D4BDPcP2GT577Vvch3R8wDkScZWzQzMMUm3PWbmWvVJrZwQY4VUNgqFJPMM3No2dFDFGTsxxpG5uJh7n7epu4trkrX7x7DogT5Uv6fcLW5",
     "xprv9z4pot5VBttmtdRTWfWQmoH1taj2axGVzFqSb8C9xaxKymcFzXBDptWmT7FwuEzG3ryjH4ktypQSAewRiNMjANTtpgP4mLTj34bhnZX7UiM"),
    ((H, 1, H + 2, 2), "xpub6FHa3pjLCk84BayeJxFW2SP4XRrFd1JYnxeLeU8EqN3vDfZmbqBqaGJAyiLjTAwm6ZLRQUMv1ZACTj37sR62cfN7fe5JnJ7dh8zL4fiyLHV",
     "xprvA2JDeKCSNNZky6uBCviVfJSKyQ1mDYahRjijr5idH2WwLsEd4Hsb2Tyh8RfQMuPh7f7RtyzTtdrbdqqsunu5Mm3wDvUAKRHSC34sJ7in334"),
    ((H, 1, H + 2, 2, 1000000000),
     "xpub6H1LXWLaKsWFhvm6RVpEL9P4KfRZSW7abD2ttkWP3SSQvnyA8FSVqNTEcYFgJS2UaFcxupHiYkro49S8yGasTvXEYBVPamhGW6cFJodrTHy",
     "xprvA41z7zogVVwxVSgdKUHDy1SKmdb533PjDz7J6N6mV6uS3ze1ai8FHa8kmHScGpWmj4WggLyQjgPie1rFSruoUihUZREPSL39UNdE3BBDu76"),
])
#: BIP32 test vector 2 (its first two steps).
VECTOR_2 = ("fffcf9f6f3f0edeae7e4e1dedbd8d5d2cfccc9c6c3c0bdbab7b4b1aeaba8a5a29f9c999693908d8a8784817e7b7875726f6c69"
            "6663605d5a5754514e4b484542", [
    ((), "xpub661MyMwAqRbcFW31YEwpkMuc5THy2PSt5bDMsktWQcFF8syAmRUapSCGu8ED9W6oDMSgv6Zz8idoc4a6mr8BDzTJY47LJhkJ8UB7WEGuduB",
     "xprv9s21ZrQH143K31xYSDQpPDxsXRTUcvj2iNHm5NUtrGiGG5e2DtALGdso3pGz6ssrdK4PFmM8NSpSBHNqPqm55Qn3LqFtT2emdEXVYsCzC2U"),
    ((0,), "xpub69H7F5d8KSRgmmdJg2KhpAK8SR3DjMwAdkxj3ZuxV27CprR9LgpeyGmXUbC6wb7ERfvrnKZjXoUmmDznezpbZb7ap6r1D3tgFxHmwMkQTPH",
     "xprv9vHkqa6EV4sPZHYqZznhT2NPtPCjKuDKGY38FBWLvgaDx45zo9WQRUT3dKYnjwih2yJD9mkrocEZXo1ex8G81dwSM1fwqWpWkeS3v86pgKt"),
])


@pytest.mark.parametrize(("seed", "steps"), [VECTOR_1, VECTOR_2], ids=["vector-1", "vector-2"])
def test_bip32_vectors(seed: str, steps: list[tuple[tuple[int, ...], str, str]]) -> None:
    master = ExtendedKey.from_seed(bytes.fromhex(seed))
    for path, xpub, xprv in steps:
        key = master.derive(path)
        assert key.encode(MAIN, private=False) == xpub
        assert key.encode(MAIN, private=True) == xprv
        assert ExtendedKey.decode(xprv, MAIN) == key
        assert ExtendedKey.decode(xpub, MAIN) == key.neuter()


def test_public_derivation_agrees_and_refuses_hardened_steps() -> None:
    master = ExtendedKey.from_seed(bytes(range(16)))
    assert master.neuter().derive((1, 2)).pubkey == master.derive((1, 2)).pubkey
    with pytest.raises(ValueError, match="hardened"):
        master.neuter().child(H)


def test_encodings_belong_to_their_network() -> None:
    key = ExtendedKey.from_seed(bytes(range(16)))
    tprv = key.encode(REGTEST, private=True)
    assert tprv.startswith("tprv") and key.encode(REGTEST, private=False).startswith("tpub")
    assert ExtendedKey.decode(tprv, MAIN) is None and ExtendedKey.decode(tprv, REGTEST) == key
    secret = bytes(31) + b"\x01"
    wif = encode_wif(secret, True, REGTEST)
    assert wif.startswith("c") and decode_wif(wif, REGTEST) == (secret, True) and decode_wif(wif, MAIN) is None
    assert decode_wif(encode_wif(secret, False, MAIN), MAIN) == (secret, False)
    assert public_key(secret).hex() == "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
    assert decode_wif("not a key", REGTEST) is None
