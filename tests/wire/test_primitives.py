"""The value types of pantheon.primitives: what their constructors accept, how they compare,
that they cannot be changed, and that a decoded value behaves as one built by hand (with either
twin doing its lazy work)."""

from __future__ import annotations

import copy
import json
import pickle
import struct
from typing import Any

import pytest

from helpers.vectors import VECTORS
from pantheon import errors, hashing, limits, params, primitives
from pantheon.primitives import Block, BlockHeader, InvVect, NetAddress, OutPoint, Tx, TxIn, TxOut
from pantheon.primitives import (  # the other messages' records
    AddrV2Entry, BlockTxnRequest, CmpctBlock, Endpoint, Locator, PrefilledTx, Reject, SendCmpct, Version,
)

TYPED_TXS = {case["type"]: bytes.fromhex(case["hex"]) for case in json.loads((VECTORS / "tx" / "mainnet_txs_by_type.json").read_text())}
GENESIS = params.MAIN.genesis_block
H = bytes(range(32))


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: InvVect(-1, H), errors.InvalidValue, "InvVect.type out of range: -1"),
        (lambda: InvVect(1, H[:31]), errors.InvalidValue, "InvVect.hash must be 32 bytes, got 31"),
        (lambda: InvVect(1, "00" * 32), TypeError, "InvVect.hash must be bytes, not str"),
        (lambda: InvVect(1.0, H), TypeError, "'float' object cannot be interpreted as an integer"),
        (lambda: OutPoint(H, 1 << 32), errors.InvalidValue, "OutPoint.index out of range: 4294967296"),
        (lambda: TxIn(H, 0, b"", 0, b"\x01"), TypeError, "TxIn.witness must be a sequence of bytes items"),
        (lambda: TxIn(H, 0, b"", 0, [None]), TypeError, "TxIn.witness item must be bytes, not NoneType"),
        (lambda: TxIn(H, 0, b"", -1), errors.InvalidValue, "TxIn.sequence out of range: -1"),
        (lambda: TxOut(1 << 63, b""), errors.InvalidValue, f"TxOut.value out of range: {1 << 63}"),
        (lambda: NetAddress(0, 1 << 64, bytes(16), 0), errors.InvalidValue, f"NetAddress.services out of range: {1 << 64}"),
        (lambda: NetAddress(0, 0, bytes(4), 0), errors.InvalidValue, "NetAddress.ip must be 16 bytes, got 4"),
        (lambda: NetAddress(0, 0, bytes(16), 65536), errors.InvalidValue, "NetAddress.port out of range: 65536"),
        (lambda: BlockHeader(1 << 31, H, H, 0, 0, 0), errors.InvalidValue, f"BlockHeader.version out of range: {1 << 31}"),
        (lambda: BlockHeader(1, H, H, 0, 0, 0, -1), errors.InvalidValue, "BlockHeader.tx_count out of range: -1"),
        (lambda: BlockHeader.from_bytes(GENESIS[:79]), errors.InvalidValue, "BlockHeader must be 80 bytes, got 79"),
        (lambda: Tx(1, [TxOut(0, b"")], [], 0), TypeError, "Tx inputs must be TxIn, not TxOut"),
        (lambda: Tx(1, [], [TxIn(H, 0)], 0), TypeError, "Tx outputs must be TxOut, not TxIn"),
        (lambda: Tx(1, [], [], -1), errors.InvalidValue, "Tx.locktime out of range: -1"),
        (lambda: Block(GENESIS, ()), TypeError, "Block.header must be a BlockHeader, not bytes"),
        (lambda: Block(BlockHeader.from_bytes(GENESIS[:80]), (b"",)), TypeError, "Block.transactions must be Tx, not bytes"),
        (lambda: Endpoint(0, bytes(4)), errors.InvalidValue, "Endpoint.ip must be 16 bytes, got 4"),
        (lambda: Version(1 << 31, 0, 0, Endpoint()), errors.InvalidValue, f"Version.version out of range: {1 << 31}"),
        (lambda: Version(1, 0, 0, None), TypeError, "Version.addr_recv must be Endpoint, not NoneType"),
        (lambda: Version(1, 0, 0, Endpoint(), Endpoint()), errors.InvalidValue,
         "Version.addr_from and Version.nonce come together"),
        (lambda: Version(1, 0, 0, Endpoint(), Endpoint(), 1, None, 5), errors.InvalidValue,
         "Version.start_height follows an absent field"),
        (lambda: Version(1, 0, 0, Endpoint(), Endpoint(), 1, b"/ua/"), TypeError, "Version.user_agent must be str, not bytes"),
        (lambda: Version(1, 0, 0, Endpoint(), Endpoint(), 1, "", 0, 1), TypeError, "Version.relay must be bool, not int"),
        (lambda: SendCmpct(True, -1), errors.InvalidValue, "SendCmpct.version out of range: -1"),
        (lambda: AddrV2Entry(0, 0, 256, b"", 0), errors.InvalidValue, "AddrV2Entry.network_id out of range: 256"),
        (lambda: Locator(1, H), TypeError, "Locator.hashes must be a sequence of items, not bytes"),
        (lambda: Locator(1, [H[:31]]), errors.InvalidValue, "Locator.hashes item must be 32 bytes, got 31"),
        (lambda: Reject("tx", 0x10, None), TypeError, "Reject.reason must be str, not NoneType"),
        (lambda: BlockTxnRequest(H, (1 << 16,)), errors.InvalidValue, "BlockTxnRequest.indexes item out of range: 65536"),
        (lambda: PrefilledTx(0, b""), TypeError, "PrefilledTx.tx must be Tx, not bytes"),
        (lambda: CmpctBlock(GENESIS, 0, (), ()), TypeError, "CmpctBlock.header must be BlockHeader, not bytes"),
        (lambda: CmpctBlock(BlockHeader.from_bytes(GENESIS[:80]), 0, (H,), ()), errors.InvalidValue,
         "CmpctBlock.short_ids item must be 6 bytes, got 32"),
    ],
)
def test_constructors_check_their_fields(make: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=f"^{message.replace('(', '[(]').replace(')', '[)]')}$"):
        make()


def test_constructors_normalise_buffers_and_sequences() -> None:
    entry = TxIn(bytearray(H), 7, memoryview(b"\x51"), 5, [bytearray(b"\x01"), b""])
    assert entry == TxIn(H, 7, b"\x51", 5, (b"\x01", b""))
    assert type(entry.prev_txid) is bytes and type(entry.witness) is tuple
    assert entry.outpoint == OutPoint(H, 7) and hash(entry.outpoint) == hash(OutPoint(H, 7))


def test_message_records_normalise_and_show_themselves() -> None:
    locator = Locator(1, [bytearray(H)], memoryview(H))
    assert locator == Locator(1, (H,), H) and type(locator.hashes) is tuple and type(locator.stop) is bytes
    no_extra = Version(1, 0, 0, Endpoint(), Endpoint(), 1, "", 0, True)
    assert Version(1, 0, 0, Endpoint(), Endpoint(), 1, "", 0, True, b"") == no_extra and no_extra.extra is None
    assert Endpoint.from_host("10.0.0.1", 8333) == Endpoint(0, bytes(10) + b"\xff\xff\x0a\x00\x00\x01", 8333)
    assert Endpoint.from_host("::1", 1, 9) == Endpoint(9, bytes(15) + b"\x01", 1)
    assert Endpoint.from_host("seed.example", 1) == Endpoint(0, bytes(16), 1)
    namespace = {"Version": Version, "Endpoint": Endpoint, "Locator": Locator, "Reject": Reject}
    version = Version(70016, 1, 2, Endpoint.from_host("1.2.3.4", 5), Endpoint(), 7, "/x/", 3, False)
    for value in (locator, version, Reject("tx", 0x10, "bad", H)):
        assert eval(repr(value), namespace) == value  # noqa: S307 - our own repr, of our own values
        assert pickle.loads(pickle.dumps(value)) == value and hash(pickle.loads(pickle.dumps(value))) == hash(value)
    with pytest.raises(AttributeError):
        version.nonce = 8  # type: ignore[misc]


def test_values_are_immutable(wire_impl: Any) -> None:
    tx = wire_impl.module.decode_tx(TYPED_TXS["P2PKH"])
    header = wire_impl.module.decode_block(GENESIS).header
    for value, name in ((tx, "txid"), (tx, "inputs"), (header, "hash"), (header, "tx_count"),
                        (tx.inputs[0], "sequence"), (InvVect(1, H), "hash")):
        with pytest.raises(AttributeError):
            setattr(value, name, None)
    with pytest.raises(AttributeError):
        del header.nonce
    assert copy.copy(tx) is tx and copy.deepcopy(tx) is tx
    assert copy.copy(header) is header and copy.deepcopy(header) is header


def test_lazy_parts_in_either_order(wire_impl: Any) -> None:
    first = wire_impl.module.decode_tx(TYPED_TXS["P2WSH"])
    second = wire_impl.module.decode_tx(TYPED_TXS["P2WSH"])
    assert first.outputs == second.outputs and second.inputs == first.inputs


def test_serialiser_holds_core_max_size() -> None:
    # Vectors of 32 MiB items cannot be built in a test; the check itself can be exercised.
    with pytest.raises(errors.OversizedMessage, match="^tx.inputs: 33554433 exceeds the cap of 33554432$"):
        primitives._check_count("tx.inputs", limits.MAX_MESSAGE_SIZE_CEILING + 1)


def test_header_fields_equality_and_tx_count(wire_impl: Any) -> None:
    header = wire_impl.module.decode_block(GENESIS).header
    fields = (header.version, header.prev_block, header.merkle_root, header.timestamp, header.bits, header.nonce)
    assert fields == (1, bytes(32), header.merkle_root, 1231006505, 0x1D00FFFF, 2083236893)
    built = BlockHeader(*fields, tx_count=3)
    assert built == header and hash(built) == hash(header) and built.hash == header.hash
    assert built.tx_count == 3 and header.tx_count == 0  # a headers message's count: not identity
    assert BlockHeader.from_bytes(GENESIS[:80]) == header and header.serialize() == GENESIS[:80]
    assert hashing.hash_to_hex(header.hash) == params.MAIN.genesis_hash
    assert repr(built).endswith("nonce=2083236893, tx_count=3)")
    assert header != GENESIS[:80] and header != built.serialize()


def test_hand_built_tx_matches_decoded(wire_impl: Any) -> None:
    for raw in TYPED_TXS.values():
        decoded = wire_impl.module.decode_tx(raw)
        built = Tx(decoded.version, decoded.inputs, decoded.outputs, decoded.locktime)
        assert built == decoded and built.serialize() == raw
        for name in ("txid", "wtxid", "size", "stripped_size", "weight", "vsize", "has_witness"):
            assert getattr(built, name) == getattr(decoded, name), name
        assert built.serialize(include_witness=False) == decoded.serialize(include_witness=False)
        assert (built.stripped_size == built.size) != built.has_witness
    assert Tx(1, [], [], 0).serialize() == b"\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"


def test_equality_is_by_type_and_bytes(wire_impl: Any) -> None:
    tx = wire_impl.module.decode_tx(TYPED_TXS["P2PKH"])
    assert tx != TYPED_TXS["P2PKH"] and tx.__eq__(None) is NotImplemented
    assert len({tx, wire_impl.module.decode_tx(TYPED_TXS["P2PKH"])}) == 1
    assert InvVect(1, H) != OutPoint(H, 1)
    assert repr(TxIn(H, 0, b"", 0, [b"\x01"])).endswith("witness=(bytes.fromhex('01'),))")


def test_a_tampered_tx_is_reported_not_read_past(wire_impl: Any) -> None:
    """The lazy readers trust a decoder's layout; one corrupted by hand must fail cleanly."""
    reader = wire_impl.module.decode_tx(TYPED_TXS["P2PKH"])._reader
    if wire_impl.name == "cy":
        for raw, wit in ((b"\x01\x00\x00\x00\xff", 0), (TYPED_TXS["P2PKH"][:60], 0), (TYPED_TXS["native P2WPKH"], 7)):
            with pytest.raises(ValueError, match="^corrupt transaction layout$"):
                reader.parts(raw, wit)
        with pytest.raises(ValueError, match="^witness offset 5 outside a 10-byte transaction$"):
            reader.txid(bytes(10), 5)
    else:  # Python cannot read past the end: a short read raises
        with pytest.raises(struct.error):
            reader.parts(b"\x01\x00\x00\x00\x01", 0)
