"""Headless Chromium (Debian's `chromium`) driven over its DevTools protocol: `Browser` opens a
page, evaluates JavaScript in it and takes screenshots, for tests that must see what a person sees.

`.ci/run` installs chromium; on a laptop without it `require_chromium` skips with the reason, and
under CI=true fails. The DevTools protocol is JSON over a websocket (websocket-client, blocking):
every call runs in a native thread (`helpers.waiting.in_thread`), so a node in the test's process
keeps serving the page while the browser is asked.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import urllib.request
from itertools import count
from pathlib import Path
from typing import Any

import websocket

from helpers.outside import missing
from helpers.waiting import in_thread, wait_for

START_TIMEOUT = 30.0
CALL_TIMEOUT = 30.0


def require_chromium() -> str:
    """The chromium executable, or skip (fail under CI=true) with the reason."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    missing("chromium is not installed (apt-get install chromium)")


class Browser:
    """A headless Chromium with one page; `close()` (or a `with` block) stops it."""

    def __init__(self, width: int = 1280, height: int = 900) -> None:
        executable = require_chromium()
        self._profile = tempfile.mkdtemp(prefix="pantheon-chromium-")
        self._process = subprocess.Popen(
            [executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--remote-debugging-port=0",
             f"--user-data-dir={self._profile}", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._ids = count(1)
        try:
            port_file = Path(self._profile) / "DevToolsActivePort"
            wait_for(lambda: port_file.exists() and port_file.read_text().strip(), START_TIMEOUT,
                     what="chromium's DevTools port")
            port = int(port_file.read_text().split()[0])
            targets = in_thread(self._targets, port)
            page = next(target for target in targets if target["type"] == "page")
            self._socket = in_thread(lambda: websocket.create_connection(page["webSocketDebuggerUrl"],
                                                                         timeout=CALL_TIMEOUT, suppress_origin=True))
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _targets(port: int) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=CALL_TIMEOUT) as reply:
            return json.load(reply)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """One DevTools command and its result (events arriving meanwhile are dropped)."""
        return in_thread(self._call, method, params)

    def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        request_id = next(self._ids)
        self._socket.send(json.dumps({"id": request_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == request_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of `expression` in the page."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> None:
        """A PNG of the whole page (not only the window) at `path`."""
        height = self.evaluate("document.documentElement.scrollHeight")
        width = self.evaluate("document.documentElement.scrollWidth")
        shot = self.call("Page.captureScreenshot", format="png",
                         clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
                         captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        socket = getattr(self, "_socket", None)
        if socket is not None:
            socket.close()
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
