"""`attempt`: a call's result or whatever it raised, to compare how the twins react to anything."""

from __future__ import annotations

from typing import Any, Callable


def attempt(function: Callable[..., Any], *args: Any) -> tuple[Any, ...]:
    """("ok", result) or ("error", class, message). Any exception is caught: the twins must raise
    the same class with the same message (`codec_oracle.outcome` catches only ProtocolError)."""
    try:
        return ("ok", function(*args))
    except Exception as error:  # noqa: BLE001 - any difference between the twins is the failure
        return ("error", type(error), str(error))
