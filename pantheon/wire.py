"""The wire core's entry point: the compiled `pantheon._wire` or its pure twin `pantheon._wire_py`.

PANTHEON_NO_EXTENSIONS set to anything but "" or "0" forces the pure twin, as does any interpreter
other than CPython. The switch is read once, here. All names come from one backend; `IMPLEMENTATION`
says which ("cython" or "python").
"""

from __future__ import annotations

import os
import platform
from typing import TYPE_CHECKING

from pantheon import _wire_py

_NO_EXTENSIONS = os.environ.get("PANTHEON_NO_EXTENSIONS", "") not in ("", "0")
if platform.python_implementation() != "CPython":  # pragma: no cover
    _NO_EXTENSIONS = True

if TYPE_CHECKING or _NO_EXTENSIONS:
    from pantheon._wire_py import *  # noqa: F403

    IMPLEMENTATION = "python"
else:
    try:
        from pantheon._wire import *  # noqa: F403

        IMPLEMENTATION = "cython"
    except ImportError:  # pragma: no cover
        from pantheon._wire_py import *  # noqa: F403

        IMPLEMENTATION = "python"

__all__ = ["IMPLEMENTATION", *_wire_py.__all__]
