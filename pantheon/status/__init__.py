"""The node's live status page (`--statusport`): one HTML page, its script and style, and the
JSON snapshot they poll, served from the node's own gevent WSGI server or mounted in an
embedder's WSGI app.

history.py records what only events can tell (the height over time, bytes by command over the
last hour); snapshot.py reads everything else from the node into one JSON-ready dict; page.py is
the WSGI app (routes, auth, the once-a-second cache) and the server. The page itself is plain
files in static/, shipped as package data: no build step, no CDN.
"""

from pantheon.status.page import StatusPage, StatusServer

__all__ = ["StatusPage", "StatusServer"]
