"""`pantheon-gevent`: run a node from the command line and `pantheon.conf` (see `config.py`).

The one place that monkey-patches (DESIGN.md): at start, before anything else is imported, so
third-party code that blocks (DNS through the standard library, say) cooperates with the hub.
SIGINT and SIGTERM stop the node gracefully: peers closed, the chain and the address table
flushed, the store closed; the next start resumes where this one stopped.
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

    from pantheon.config import ConfigError, load_config
    from pantheon.service import NodeService
    from pantheon.store import StoreError

    try:
        config = load_config(argv)
    except ConfigError as error:
        print(f"pantheon-gevent: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    try:
        config.datadir.mkdir(parents=True, exist_ok=True)
        service = NodeService(config).start()
    except (StoreError, OSError) as error:
        print(f"pantheon-gevent: cannot start: {error}", file=sys.stderr)
        return 1
    for number in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(number, lambda: gevent.spawn(service.stop))
    service.wait_stopped()
    return 0


if __name__ == "__main__":  # pragma: no cover - `python -m pantheon.cli`
    sys.exit(main())
