"""`pantheon-gevent`: run a node from bitcoind's command line and configuration file (`config.py`).

The one place that monkey-patches (DESIGN.md): at start, before anything else is imported, so
third-party code that blocks (DNS through the standard library, say) cooperates with the hub.
It then does what bitcoind does before its node runs: an init error is printed as `Error: …`
on standard error with exit code 1; the log goes to `debug.log` in the network's datadir (and
to standard error unless `-printtoconsole=0`), and so do uncaught greenlet errors and Python
warnings, so a quiet node writes nothing else there. glibc is told to keep freed message buffers
(`allocator.py`). SIGINT and SIGTERM stop the node gracefully:
peers closed, the chain and the address table flushed, the store closed; the next start resumes.
"""

from __future__ import annotations

import logging
import signal
import sys
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from gevent import monkey

    monkey.patch_all()
    import gevent

    from pantheon.allocator import keep_freed_memory
    from pantheon.collector import collect_less_often
    from pantheon.config import ConfigError, HelpRequested, load_config
    from pantheon.logs import LogStream, configure_logging
    from pantheon.node import BlockFromTheFuture
    from pantheon.service import NodeService
    from pantheon.store import StoreError
    from pantheon.wallet.wallet import WalletError

    try:
        config = load_config(sys.argv[1:] if argv is None else argv)
    except HelpRequested as help_text:
        print(help_text)
        return 0
    except ConfigError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    try:
        config.network_datadir.mkdir(parents=True, exist_ok=True)
        configure_logging(config, config.network_datadir)
    except OSError as error:
        print(f"Error: cannot write to the data directory: {error}", file=sys.stderr)
        return 1
    log = logging.getLogger("pantheon.cli")
    keep_freed_memory()
    gevent.get_hub().exception_stream = LogStream(logging.getLogger("pantheon.greenlets"))
    for name in config.ignored_options:
        log.info("Ignoring -%s: Pantheon's wallet does not send and it has no GUI or IPC, so this option has no "
                 "effect", name)
    try:
        service = NodeService(config).start()
    except BlockFromTheFuture as error:
        log.error("cannot start: %s", error)
        print(error, file=sys.stderr)
        return 1
    except (StoreError, OSError, WalletError) as error:
        log.error("cannot start: %s", error)
        print(f"Error: {error}", file=sys.stderr)
        return 1
    collect_less_often()
    for number in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(number, lambda: gevent.spawn(service.stop))
    service.wait_stopped()
    return 0


if __name__ == "__main__":  # pragma: no cover - `python -m pantheon.cli`
    sys.exit(main())
