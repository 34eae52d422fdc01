"""The status page in a real browser: headless Chromium (tests/helpers/browser.py) watches a
Pantheon node sync from bcoin 1.0.2 and shows what the node's JSON-RPC says; the screenshot it
it takes is kept where PANTHEON_STATUS_SCREENSHOT names (docs/status.png is the one the README
shows: `PANTHEON_STATUS_SCREENSHOT=docs/status.png python -m pytest tests/status`), so a test
run leaves the checkout as it found it and two runs at once never share a file. Behind --statusauth, the page's own polling
works with the credentials a browser sends (the 401s are tested over plain HTTP). Skipped without
chromium or bcoin (with the reason), a failure under CI=true."""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

from helpers.bcoin import BCOIN_RULE_ARGS, BcoinNode
from helpers.browser import Browser
from helpers.node import FAST, proxy, settings
from helpers.waiting import in_thread, wait_for
from pantheon.chain.addresses import address_to_script
from pantheon.service import NodeService

CORE_ADDRESS = "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9"
SYNC_WAIT = 120.0
PAGE_WAIT = 20.0

SHOWN = {
    "height": "document.getElementById('height')?.textContent",
    "user_agents": "[...document.querySelectorAll('#peers td.ua')].map(td => td.textContent)",
    "peer_ids": "[...document.querySelectorAll('#peers tbody tr')].map(tr => Number(tr.cells[0].textContent))",
    "mempool": "document.getElementById('mempool-count')?.textContent",
    "curve": "document.querySelectorAll('#curve polyline').length",
    "commands": "[...document.querySelectorAll('#traffic tbody tr')].map(tr => tr.cells[0].textContent)",
}


def test_chromium_shows_the_sync_from_bcoin_as_the_rpc_reports_it(bcoin: BcoinNode, tmp_path: Path) -> None:
    chain = bcoin.build_chain(300, tx_every=8)
    service = NodeService(settings(tmp_path / "pantheon", "--rpcuser", "u", "--rpcpassword", "p", *BCOIN_RULE_ARGS,
                                   "--statusport", "0", rpc=True), tuning=FAST, script_workers=0).start()
    node = service.node
    assert service.status is not None
    try:
        with Browser(width=1280, height=900) as browser:
            browser.open(f"http://127.0.0.1:{service.status.address[1]}/")
            wait_for(lambda: browser.evaluate(SHOWN["height"]) == "0", PAGE_WAIT, what="the page's first poll")
            node.add_peer("127.0.0.1", bcoin.p2p_port)
            rpc = proxy(node)

            def page_shows_the_rpc_height() -> bool:
                height = in_thread(rpc.getblockcount)
                return height == chain.height and browser.evaluate(SHOWN["height"]) == str(height)

            wait_for(page_shows_the_rpc_height, SYNC_WAIT, what=f"the page showing height {chain.height}")
            wait_for(lambda: "/bcoin:v1.0.2/" in browser.evaluate(SHOWN["user_agents"]), PAGE_WAIT,
                     what="a peer row with bcoin's user agent")
            assert browser.evaluate(SHOWN["curve"]) == 1
            assert {"block", "headers", "version"} <= set(browser.evaluate(SHOWN["commands"]))
            # bcoin dials us too (two rows, sortable), and pays into our mempool (the histogram).
            bcoin.connect_to("127.0.0.1", node.manager.address[1])
            for sats in (150_000, 250_000, 400_000):
                bcoin.send(address_to_script(CORE_ADDRESS, node.network), sats)
            wait_for(lambda: browser.evaluate(SHOWN["mempool"]) == "3", PAGE_WAIT, what="3 transactions shown")
            wait_for(lambda: len(browser.evaluate(SHOWN["peer_ids"])) == 2, PAGE_WAIT, what="two peer rows")
            ids = browser.evaluate(SHOWN["peer_ids"])
            assert ids == sorted(ids)
            browser.evaluate("document.querySelector('#peers th[data-key=id]').click()")  # the sorted column:
            assert browser.evaluate(SHOWN["peer_ids"]) == sorted(ids, reverse=True)  # now descending
            browser.evaluate("document.querySelector('#peers th[data-key=id]').click()")
            browser.screenshot(tmp_path / "status.png")
        assert (tmp_path / "status.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        if os.environ.get("PANTHEON_STATUS_SCREENSHOT"):
            shutil.copyfile(tmp_path / "status.png", os.environ["PANTHEON_STATUS_SCREENSHOT"])
    finally:
        service.stop()


def test_behind_statusauth_the_page_polls_with_the_browsers_credentials(tmp_path: Path) -> None:
    service = NodeService(settings(tmp_path, "--statusport", "0", "--statusauth", "--rpcuser", "u",
                                   "--rpcpassword", "p"), tuning=FAST, script_workers=0).start()
    assert service.status is not None
    url = f"http://127.0.0.1:{service.status.address[1]}/"
    try:
        service.node.generate(7, CORE_ADDRESS)
        with Browser() as browser:
            # what a browser sends for the page and its requests once the user typed u and p
            browser.call("Network.enable")
            browser.call("Network.setExtraHTTPHeaders",
                         headers={"Authorization": "Basic " + base64.b64encode(b"u:p").decode()})
            browser.open(url)
            wait_for(lambda: browser.evaluate(SHOWN["height"]) == "7", PAGE_WAIT, what="height 7 behind auth")
    finally:
        service.stop()
