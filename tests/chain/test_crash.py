"""Crash safety of the chain state: the writer in tests/helpers/crashkill.py is SIGKILLed at random
moments (PANTHEON_CRASH_KILLS times, default 100) while it connects, disconnects and reconnects
the bcoin regtest chain with a small cache, so flushes happen often; after every kill the store
opens, its tip is a fully connected block, the UTXO set equals one recomputed from the stored
blocks, the block filter index is at the same tip with its header chain intact, and the
transaction and spender indexes hold exactly the records of the chain up to their own tips, then,
built on reopening, of the chain's (see `crashkill.check_store`)."""

from __future__ import annotations

import os
from pathlib import Path

from helpers.crashkill import kill_cycles

KILLS = int(os.environ.get("PANTHEON_CRASH_KILLS", "100"))


def test_the_store_survives_random_sigkills_of_a_writer(tmp_path: Path) -> None:
    stats = kill_cycles(tmp_path, KILLS)
    assert stats.kills == KILLS
    assert max(stats.tip_heights) > 0  # blocks were connected between kills
    assert len(set(stats.tip_heights)) > KILLS // 10  # and the kills landed at many different tips
