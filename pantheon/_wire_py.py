"""Pure-Python twin of `pantheon._wire`: the same public names, the same behaviour, byte for byte.

`__all__` is the contract both twins honour; `pantheon.wire` picks one of them. The twin is split
by responsibility, as `_wire.pyx` is split into included `.pxi` files: header and checksum,
frame reassembly, payload codecs, inventory sets, SipHash, BIP158's Golomb-coded sets, BIP152's
short ids, merkle roots, signature-operation counts. The codecs of the cold commands (`_cold_py`)
exist only here; the compiled twin re-exports them.
"""

from __future__ import annotations

from pantheon import (_codecs_py, _cold_py, _frame_py, _gcs_py, _header_py, _invset_py, _merkle_py, _shortids_py,
                      _sigops_py, _siphash_py)
from pantheon._codecs_py import *  # noqa: F403
from pantheon._cold_py import *  # noqa: F403
from pantheon._frame_py import *  # noqa: F403
from pantheon._header_py import *  # noqa: F403
from pantheon._gcs_py import *  # noqa: F403
from pantheon._invset_py import *  # noqa: F403
from pantheon._merkle_py import *  # noqa: F403
from pantheon._sigops_py import *  # noqa: F403
from pantheon._siphash_py import *  # noqa: F403
from pantheon._shortids_py import *  # noqa: F403

__all__ = [*_header_py.__all__, *_frame_py.__all__, *_codecs_py.__all__, *_cold_py.__all__, *_invset_py.__all__,
           *_siphash_py.__all__, *_gcs_py.__all__, *_shortids_py.__all__, *_merkle_py.__all__, *_sigops_py.__all__]
