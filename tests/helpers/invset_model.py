"""The reference model of `InventorySet`, for wire/test_invset.py and the fuzz harness fuzz_invset.py."""

# An exact FIFO set of hashes (a dict in insertion order) with InventorySet's documented
# semantics, plus the one allowance a fingerprint set needs: it may call a hash "known" that the
# model does not hold, but only when that hash's fingerprint equals the fingerprint of a hash the
# model does hold (or of one named earlier in the same payload). The model then takes the set's
# answer, so the two stay in step, and counts it in `false_positives`. The other direction, a hash
# the model holds that the set calls new or absent (a false negative), always fails. With a fixed
# seed the fingerprints are fixed, so every run of a script takes the same path.

from __future__ import annotations

from typing import Callable, Iterable


def inv_payload(entries: Iterable[tuple[int, bytes]]) -> bytes:
    """An inv payload: canonical CompactSize count, then uint32 type + 32-byte hash per entry."""
    entries = list(entries)
    count = len(entries)
    if count < 0xFD:
        prefix = bytes([count])
    elif count <= 0xFFFF:
        prefix = b"\xfd" + count.to_bytes(2, "little")
    else:
        prefix = b"\xfe" + count.to_bytes(4, "little")
    return prefix + b"".join(kind.to_bytes(4, "little") + item for kind, item in entries)


class Model:
    """What an InventorySet of `capacity` must answer. `fingerprint` is the set's own
    `_fingerprint`, consulted only to confirm that a divergence is a real collision."""

    def __init__(self, capacity: int, fingerprint: Callable[[bytes], int]) -> None:
        self.capacity = capacity
        self.fingerprint = fingerprint
        self.members: dict[bytes, None] = {}  # oldest first
        self.false_positives = 0

    def __len__(self) -> int:
        return len(self.members)

    def __contains__(self, item: bytes) -> bool:
        return item in self.members

    def clear(self) -> None:
        self.members.clear()

    def _push(self, item: bytes) -> None:
        if len(self.members) == self.capacity:
            del self.members[next(iter(self.members))]
        self.members[item] = None

    def _false_positive(self, item: bytes, earlier: Iterable[bytes] = ()) -> None:
        fp = self.fingerprint(item)
        others = [*self.members, *earlier]
        assert any(self.fingerprint(other) == fp for other in others), (
            f"{item.hex()} reported known without a fingerprint collision"
        )
        self.false_positives += 1

    def check_contains(self, item: bytes, answer: bool) -> None:
        """Check the set's `item in s`."""
        if answer != (item in self.members):
            assert answer, f"false negative: {item.hex()} was added and not evicted"
            self._false_positive(item)

    def check_add(self, item: bytes, answer: bool) -> None:
        """Check the set's `s.add(item)` and follow it."""
        new = item not in self.members
        if answer == new:
            if new:
                self._push(item)
            return
        assert new, f"add({item.hex()}) returned True for a hash the set holds"
        self._false_positive(item)

    def check_filter_new(
        self, entries: list[tuple[int, bytes]], add: bool, answer: list[tuple[int, bytes]]
    ) -> None:
        """Check the set's `s.filter_new(inv_payload(entries), add=add)` and follow it."""
        answered = iter(answer)
        expected_next = next(answered, None)
        seen: dict[bytes, None] = {}
        for kind, item in entries:
            if item in self.members or item in seen:
                assert expected_next != (kind, item), f"filter_new returned known entry {item.hex()}"
                continue
            if expected_next == (kind, item):
                seen[item] = None
                expected_next = next(answered, None)
            else:
                self._false_positive(item, seen)
        assert expected_next is None, f"filter_new returned {expected_next!r}: not new, or out of order"
        if add:
            for _, item in answer:
                self._push(item)
