"""The node's log as Bitcoin Core writes it: `debug.log` in the network's datadir (appended across
restarts, one flushed line per message), optionally echoed to standard error, with Core's
categories, so what operators and Core's functional tests grep for is where they look.

Line format (Core's `logging.cpp`): a UTC timestamp (microseconds with `-logtimemicros`), then
`[thread]` (`-logthreadnames`), `[file:line] [function]` (`-logsourcelocations`), then the
category tag, then the message. The tag is Core's: `[net] ` for a debug line of the net
category (`[net:trace] ` at trace level), none for an info line, `[warning] `/`[error] ` for
those levels.

Categories: each Pantheon logger belongs to one of Core's (`CATEGORY_OF_LOGGER`; a record may name
its own with `extra={"category": ...}`). Info and above are always written; a debug line is
written when its category is switched on by `-debug` (and not by `-debugexclude`), or, without
any `-debug`, when `-loglevel` is debug or trace.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import TextIO

from pantheon.config import NodeConfig

__all__ = ["CATEGORY_OF_LOGGER", "category_of", "CoreFormatter", "CategoryFilter", "configure_logging", "LogStream"]

#: Logger name prefix -> Core's category, most specific first.
CATEGORY_OF_LOGGER: tuple[tuple[str, str], ...] = (
    ("pantheon.net.addrman", "addrman"),
    ("pantheon.net", "net"),
    ("pantheon.node", "net"),
    ("pantheon.relay", "net"),
    ("pantheon.headerssync", "net"),
    ("pantheon.chain.mempool", "mempool"),
    ("pantheon.chain", "validation"),
    ("pantheon.rpc", "rpc"),
    ("pantheon.httpserver", "http"),
    ("pantheon.metrics", "http"),
    ("pantheon.store", "leveldb"),
)


def category_of(record: logging.LogRecord) -> str | None:
    explicit = getattr(record, "category", None)
    if explicit is not None:
        return str(explicit)
    for prefix, category in CATEGORY_OF_LOGGER:
        if record.name == prefix or record.name.startswith(prefix + "."):
            return category
    return None


class CategoryFilter(logging.Filter):
    """Info and above always; debug when its category is on (see the module notes)."""

    def __init__(self, enabled: frozenset[str] | None, excluded: frozenset[str]) -> None:
        super().__init__()
        self.enabled = enabled  # None: every category
        self.excluded = excluded

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG:
            return True
        category = category_of(record)
        if category in self.excluded:
            return False
        return self.enabled is None or category in self.enabled


class CoreFormatter(logging.Formatter):
    def __init__(self, micros: bool = False, thread_names: bool = False, source_locations: bool = False,
                 trace: bool = False) -> None:
        super().__init__()
        self.micros = micros
        self.thread_names = thread_names
        self.source_locations = source_locations
        self.trace = trace

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        if self.micros:
            stamp += f".{int(record.created * 1_000_000) % 1_000_000:06d}"
        parts = [stamp + "Z"]
        if self.thread_names:
            parts.append(f"[{_task_name(record)}]")
        if self.source_locations:
            parts.append(f"[{Path(record.pathname).name}:{record.lineno}] [{record.funcName}]")
        tag = self._tag(record)
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        return " ".join(parts) + " " + tag + message

    def _tag(self, record: logging.LogRecord) -> str:
        if record.levelno >= logging.ERROR:
            return "[error] "
        if record.levelno >= logging.WARNING:
            return "[warning] "
        if record.levelno >= logging.INFO:
            return ""
        category = category_of(record) or "all"
        return f"[{category}:trace] " if self.trace and getattr(record, "trace", False) else f"[{category}] "


def _task_name(record: logging.LogRecord) -> str:
    return record.threadName if record.threadName != "MainThread" else "main"


class _FlushingFileHandler(logging.FileHandler):
    """Appends and flushes each line: a reader (Core's tests read debug.log between calls) sees
    every message as soon as it is logged."""

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        self.flush()


class LogStream:
    """A file-like object whose writes become log lines: where gevent prints a greenlet's
    uncaught error, so nothing reaches standard error behind the log's back."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            if line:
                self.logger.error("%s", line)
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self.logger.error("%s", self._pending)
            self._pending = ""


def configure_logging(config: NodeConfig, log_dir: Path, console: TextIO = sys.stderr) -> Path | None:
    """Route the root logger to debug.log (and the console with `printtoconsole`); returns the
    log file's path (None with `-nodebuglogfile`)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    debug = set(config.debug)
    if debug & {"1", "all"}:
        enabled: frozenset[str] | None = None
    elif debug - {"0", "none", ""}:
        enabled = frozenset(debug - {"0", "none", ""})
    else:
        enabled = None if config.log_level <= logging.DEBUG else frozenset()
    category_filter = CategoryFilter(enabled, frozenset(config.debugexclude))
    formatter = CoreFormatter(config.logtimemicros, config.logthreadnames, config.logsourcelocations,
                              config.loglevel == "trace")
    handlers: list[logging.Handler] = []
    path = None
    if config.debuglogfile is not None:
        path = log_dir / config.debuglogfile
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(_FlushingFileHandler(path, mode="a", encoding="utf-8"))
    if config.printtoconsole:
        handlers.append(logging.StreamHandler(console))
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(category_filter)
        root.addHandler(handler)
    shows_debug = enabled is None or bool(enabled)
    root.setLevel(logging.DEBUG if shows_debug else config.log_level)
    logging.captureWarnings(True)
    return path
