"""debug.log as Core writes it (`pantheon.logs`): categories, tags, which debug lines show, the
file appended and flushed, greenlet errors routed into it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import pytest

from pantheon.config import load_config
from pantheon.logs import CoreFormatter, LogStream, category_of, configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)


def record(name: str, level: int, message: str, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord(name, level, "/src/pantheon/net/peer.py", 42, message, (), None, "handle")
    made.__dict__.update(extra)
    made.created = 1_700_000_000.123456
    return made


def test_categories_follow_the_logger_and_may_be_named() -> None:
    assert category_of(record("pantheon.net.peer", logging.DEBUG, "x")) == "net"
    assert category_of(record("pantheon.net.addrman", logging.DEBUG, "x")) == "addrman"
    assert category_of(record("pantheon.chain.mempool", logging.DEBUG, "x")) == "mempool"
    assert category_of(record("pantheon.chain.chainstate", logging.DEBUG, "x")) == "validation"
    assert category_of(record("pantheon.node", logging.DEBUG, "x", category="mempoolrej")) == "mempoolrej"
    assert category_of(record("somebody.else", logging.DEBUG, "x")) is None


def test_lines_carry_cores_tags() -> None:
    plain = CoreFormatter()
    assert plain.format(record("pantheon.net.peer", logging.DEBUG, "Ignoring low-work chain (height=14)")) == \
        "2023-11-14T22:13:20Z [net] Ignoring low-work chain (height=14)"
    assert plain.format(record("pantheon.node", logging.INFO, "Synchronizing blockheaders")) == \
        "2023-11-14T22:13:20Z Synchronizing blockheaders"
    assert plain.format(record("pantheon.node", logging.WARNING, "w")).endswith("Z [warning] w")
    assert plain.format(record("pantheon.node", logging.ERROR, "e")).endswith("Z [error] e")
    detailed = CoreFormatter(micros=True, thread_names=True, source_locations=True)
    assert detailed.format(record("pantheon.net.peer", logging.DEBUG, "m")) == \
        "2023-11-14T22:13:20.123456Z [main] [peer.py:42] [handle] [net] m"


def test_debug_lines_show_by_category(tmp_path: Path, restore_logging: None) -> None:
    config = load_config([f"-datadir={tmp_path}", "-regtest", "-debug=net", "-printtoconsole=0"])
    path = configure_logging(config, config.network_datadir)
    assert path == tmp_path / "regtest" / "debug.log"
    logging.getLogger("pantheon.net.peer").debug("shown")
    logging.getLogger("pantheon.chain.chainstate").debug("hidden")
    logging.getLogger("pantheon.chain.chainstate").info("always")
    text = path.read_text()
    assert "[net] shown" in text and text.rstrip().endswith("Z always") and "hidden" not in text


def test_everything_or_nothing_but_excluded(tmp_path: Path, restore_logging: None) -> None:
    config = load_config([f"-datadir={tmp_path}", "-regtest", "-debug", "-debugexclude=leveldb",
                          "-printtoconsole=0"])
    path = configure_logging(config, config.network_datadir)
    assert path is not None
    logging.getLogger("pantheon.chain.chainstate").debug("validation detail")
    logging.getLogger("pantheon.store").debug("leveldb detail")
    text = path.read_text()
    assert "[validation] validation detail" in text and "leveldb detail" not in text
    quiet = load_config([f"-datadir={tmp_path}", "-regtest", "-printtoconsole=0", "-debuglogfile=quiet.log"])
    quiet_path = configure_logging(quiet, quiet.network_datadir)
    assert quiet_path is not None
    logging.getLogger("pantheon.net.peer").debug("not without -debug")
    logging.getLogger("pantheon.net.peer").info("info line")
    assert quiet_path.read_text().count("\n") == 1 and "info line" in quiet_path.read_text()


def test_a_log_stream_turns_writes_into_error_lines(caplog: pytest.LogCaptureFixture) -> None:
    stream = LogStream(logging.getLogger("pantheon.greenlets"))
    stream.write("Traceback (most recent call last):\n  File \"x\"")
    stream.write(", line 1\n")
    stream.write("unfinished")
    stream.flush()
    assert [r.getMessage() for r in caplog.records] == [
        "Traceback (most recent call last):", '  File "x", line 1', "unfinished"]
