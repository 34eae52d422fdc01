"""`pantheon-decode`: every Bitcoin message in a packet capture, one line (or JSON object) each.

    pantheon-decode CAPTURE|- [--json] [--filter CMD[,CMD]] [--stream N] [--stats]
    pantheon-decode --hex HEX

Reads pcap or pcapng (from a file or stdin), reassembles TCP per direction, recognises the
network by magic on any port, and frames with pantheon.wire (see tools.framing for the pre-209
header and for gaps). Bad input never crashes it: gaps, unframed bytes, frames that were not
TCP and a truncated file are reported on stderr. A BIP324 v2 connection (see tools.transports)
cannot be decrypted: it is shown as one line (or JSON object), with the bytes each way, when it
ends. Exit status: 0, or 2 when the capture cannot be read at all (or the arguments are wrong).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, TextIO

from pantheon import errors, limits, spec
from tools import framing
from tools.describe import describe_message
from tools.pcap import CaptureError
from tools.pipeline import CaptureReport, Event, StreamReport, decode_capture
from tools.summary import summarize, to_json
from tools.transports import EncryptedStream

__all__ = ["main", "format_line", "format_encrypted"]

_CHECKSUM_SHOWN = {
    framing.OK: "ok",
    framing.LEGACY: "none",
    framing.BAD_CHECKSUM: "BAD",
    framing.BAD_COMMAND: "BAD-COMMAND",
}


@lru_cache(maxsize=64)
def _second(second: int) -> str:
    return datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _time(stamp: float) -> str:
    """ISO 8601 UTC with microseconds; the part down to the second is made once per second."""
    micros = round(stamp * 1_000_000)
    second, micro = divmod(micros, 1_000_000)
    return f"{_second(second)}.{micro:06d}Z"


_NO_PAYLOAD = {
    framing.INCOMPLETE_GAP: "incomplete: cut by a gap",
    framing.INCOMPLETE_END: "incomplete: the capture ends",
    framing.OVERSIZED: "declared length over the command's cap; resynchronised",
}


def _summary(message: framing.WireMessage) -> str:
    if message.payload is None:
        return f"{message.command} ({_NO_PAYLOAD[message.status]})"
    return summarize(message.command, message.payload)


def format_line(event: Event) -> str:
    """time  #stream  src → dst  network  command  size  checksum  summary"""
    message = event.message
    checksum = _CHECKSUM_SHOWN.get(message.status, "-")
    return (
        f"{_time(message.time)} #{event.stream} {event.src} → {event.dst} {message.network} "
        f"{message.command} {message.length}B checksum={checksum} {_summary(message)}"
    )


def _encrypted_summary(stream: EncryptedStream) -> str:
    lost = f", {stream.gaps} bytes lost to gaps" if stream.gaps else ""
    return f"BIP324 v2 (encrypted), {stream.sent} bytes →, {stream.received} bytes ←{lost}"


def format_encrypted(stream: EncryptedStream) -> str:
    """time  #stream  initiator → responder  BIP324 v2 (encrypted), bytes each way"""
    return f"{_time(stream.time)} #{stream.stream} {stream.src} → {stream.dst} {_encrypted_summary(stream)}"


def _encrypted_json(stream: EncryptedStream) -> dict[str, Any]:
    """The v2 connection's record: `src` is the initiator; `bytes_sent` go src → dst."""
    return {
        "time": stream.time, "stream": stream.stream, "src": stream.src, "dst": stream.dst, "transport": "v2",
        "bytes_sent": stream.sent, "bytes_received": stream.received, "bytes_lost": stream.gaps,
        "summary": _encrypted_summary(stream),
    }


def _json_object(event: Event) -> dict[str, Any]:
    message = event.message
    obj: dict[str, Any] = {
        "time": message.time, "stream": event.stream, "src": event.src, "dst": event.dst,
        "frame": message.frame, "offset": message.offset, "network": message.network,
        "command": message.command, "length": message.length, "status": message.status,
        "summary": _summary(message),
    }
    if message.payload is not None:
        obj["payload"] = to_json(message.command, message.payload)
    return obj


class _Stats:
    """Messages and bytes per stream and per command, with gaps and bad checksums; each
    stream's transport (v1, v2, or "-" when it held no Bitcoin message) and the count of each."""

    def __init__(self) -> None:
        self.by_stream: dict[int, Counter[str]] = defaultdict(Counter)
        self.by_command: dict[str, Counter[str]] = defaultdict(Counter)
        self.transports: dict[int, str] = {}

    def add(self, event: Event) -> None:
        message = event.message
        header = limits.LEGACY_HEADER_SIZE if message.status == framing.LEGACY else limits.HEADER_SIZE
        for row in (self.by_stream[event.stream], self.by_command[message.command]):
            row["messages"] += 1
            row["bytes"] += header + message.length
            row["bad_checksum"] += message.status == framing.BAD_CHECKSUM
            row["incomplete"] += message.status in (framing.INCOMPLETE_GAP, framing.INCOMPLETE_END)

    def add_encrypted(self, stream: EncryptedStream) -> None:
        self.by_stream[stream.stream]["bytes"] += stream.sent + stream.received

    def stream_ended(self, stream: StreamReport) -> None:
        self.by_stream[stream.stream]["gaps"] += len(stream.walker.gaps)
        if stream.transport is not None or stream.stream not in self.transports:
            self.transports[stream.stream] = stream.transport or "-"

    def write(self, out: TextIO) -> None:
        out.write(f"{'stream':>8} {'messages':>9} {'bytes':>12} {'gaps':>5} {'bad_checksum':>12} {'incomplete':>10} {'transport':>9}\n")
        for index in sorted(self.by_stream):
            row, transport = self.by_stream[index], self.transports.get(index, "-")
            messages = "-" if transport == "v2" else row["messages"]  # encrypted: not countable
            out.write(f"{index:>8} {messages:>9} {row['bytes']:>12} {row['gaps']:>5} {row['bad_checksum']:>12} {row['incomplete']:>10} {transport:>9}\n")
        counts = Counter(self.transports.values())
        out.write(f"\nstreams by transport: v1 {counts['v1']}, v2 {counts['v2']}, neither {counts['-']}\n")
        out.write(f"\n{'command':>12} {'messages':>9} {'bytes':>12} {'bad_checksum':>12} {'incomplete':>10}\n")
        for command in sorted(self.by_command):
            row = self.by_command[command]
            out.write(f"{command:>12} {row['messages']:>9} {row['bytes']:>12} {row['bad_checksum']:>12} {row['incomplete']:>10}\n")


def _stream_notes(stream: StreamReport, out: TextIO) -> None:
    """What one direction held that was not decoded, and why (written when it ends)."""
    where = f"stream {stream.stream} {stream.src} → {stream.dst}"
    if stream.transport == "v2":
        for start, end in stream.walker.gaps:
            out.write(f"{where}: gap of {end - start} bytes at offset {start} (not captured)\n")
        return
    if stream.walker.network is None:
        out.write(f"{where}: {stream.direction.captured} bytes, no Bitcoin message (no known magic)\n")
        return
    for start, end in stream.walker.gaps:
        out.write(f"{where}: gap of {end - start} bytes at offset {start} (not captured); resynchronised after it\n")
    for start, end, why in stream.walker.skipped:
        out.write(f"{where}: skipped {end - start} bytes at offset {start}: {why}\n")


def _capture_notes(report: CaptureReport, out: TextIO) -> None:
    """What the capture held that was not TCP, and whether it was cut."""
    for reason, count in sorted(report.reader.skipped.items()):
        out.write(f"{count} frames skipped: {reason}\n")
    if report.reader.short_frames:
        out.write(f"{report.reader.short_frames} frames shorter than their IP length (snap length or a cut file)\n")
    if report.reader.truncated:
        out.write(f"truncated capture: {report.reader.truncated}\n")


def _decode_hex(text: str, as_json: bool, out: TextIO) -> int:
    try:
        data = bytes.fromhex(text)
    except ValueError as error:
        print(f"pantheon-decode: --hex: {error}", file=sys.stderr)
        return 2
    try:
        message = spec.parse_message(data, verify_checksum=False)
    except errors.ProtocolError as error:
        try:
            message = spec.parse_message(data, legacy_header=True)
        except errors.ProtocolError:
            print(f"pantheon-decode: --hex: {type(error).__name__}: {error}", file=sys.stderr)
            return 1
    if as_json:
        status = {True: framing.OK, False: framing.BAD_CHECKSUM, None: framing.LEGACY}[message.checksum_ok]
        obj = {"network": message.network, "command": message.command, "length": len(message.raw_payload),
               "status": status, "summary": summarize(message.command, message.raw_payload),
               "payload": to_json(message.command, message.raw_payload)}
        out.write(json.dumps(obj) + "\n")
    else:
        out.write(summarize(message.command, message.raw_payload) + "\n")
        out.write("\n".join(describe_message(message)) + "\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pantheon-decode",
        description="Show every Bitcoin P2P message in a pcap/pcapng capture.",
    )
    parser.add_argument("capture", nargs="?", help="a pcap or pcapng file, or - for stdin")
    parser.add_argument("--json", action="store_true", help="JSON lines with the full decode")
    parser.add_argument("--filter", metavar="CMD[,CMD]", help="only these commands")
    parser.add_argument("--stream", metavar="N", type=int, help="only TCP stream N")
    parser.add_argument("--stats", action="store_true", help="per stream and per command counts instead of messages")
    parser.add_argument("--hex", metavar="HEX", help="decode one message given as hex")
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    args = _parser().parse_args(argv)
    out = out if out is not None else sys.stdout
    if args.hex is not None:
        return _decode_hex(args.hex, args.json, out)
    if args.capture is None:
        _parser().error("a capture file (or - for stdin) or --hex is required")
    commands = set(args.filter.split(",")) if args.filter else None
    stats = _Stats()

    def on_message(event: Event) -> None:
        if commands is not None and event.message.command not in commands:
            return
        if args.stream is not None and event.stream != args.stream:
            return
        if args.stats:
            stats.add(event)
        elif args.json:
            out.write(json.dumps(_json_object(event)) + "\n")
        else:
            out.write(format_line(event) + "\n")

    def on_encrypted(stream: EncryptedStream) -> None:
        if commands is not None or (args.stream is not None and stream.stream != args.stream):
            return  # a filter names commands: an encrypted connection shows none
        if args.stats:
            stats.add_encrypted(stream)
        elif args.json:
            out.write(json.dumps(_encrypted_json(stream)) + "\n")
        else:
            out.write(format_encrypted(stream) + "\n")

    def on_stream_end(stream: StreamReport) -> None:
        if args.stream is not None and stream.stream != args.stream:
            return
        stats.stream_ended(stream)
        _stream_notes(stream, sys.stderr)

    try:
        if args.capture == "-":
            report = decode_capture(sys.stdin.buffer, on_message, on_stream_end=on_stream_end,
                                    on_encrypted=on_encrypted)
        else:
            with open(args.capture, "rb") as stream:
                report = decode_capture(stream, on_message, on_stream_end=on_stream_end, on_encrypted=on_encrypted)
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly
        sys.stdout = None  # type: ignore[assignment]
        return 0
    except (OSError, CaptureError) as error:
        print(f"pantheon-decode: {args.capture}: {error}", file=sys.stderr)
        return 2
    if args.stats:
        stats.write(out)
    _capture_notes(report, sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
