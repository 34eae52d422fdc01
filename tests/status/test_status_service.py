"""`--statusport`, `--statusbind`, `--statusauth` from the command line and pantheon.conf, and the
status page as NodeService (what pantheon-gevent runs) serves it, behind the RPC's credentials
or the cookie."""

from __future__ import annotations

import base64
from pathlib import Path

from helpers.http import request
from helpers.node import FAST, settings
from pantheon.config import load_config
from pantheon.service import NodeService


def _basic(credentials: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def test_the_options_and_their_defaults(tmp_path: Path) -> None:
    default = load_config(["--datadir", str(tmp_path)])
    assert (default.statusport, default.statusbind, default.statusauth) == (None, "127.0.0.1", False)
    given = load_config(["--datadir", str(tmp_path), "--statusport", "8080", "--statusbind", "0.0.0.0",
                         "-statusauth"])
    assert (given.statusport, given.statusbind, given.statusauth) == (8080, "0.0.0.0", True)
    (tmp_path / "pantheon.conf").write_text("[regtest]\nstatusport=18445\nstatusauth=1\n")
    from_file = load_config(["--datadir", str(tmp_path), "--network", "regtest"])
    assert (from_file.statusport, from_file.statusauth) == (18445, True)


def test_off_by_default(tmp_path: Path) -> None:
    with NodeService(settings(tmp_path), tuning=FAST, script_workers=0) as service:
        assert service.status is None


def test_statusauth_without_rpc_writes_the_cookie_the_page_asks_for(tmp_path: Path) -> None:
    service = NodeService(settings(tmp_path, "--statusport", "0", "--statusauth"), tuning=FAST,
                          script_workers=0).start()
    cookie = service.node.datadir / ".cookie"
    try:
        assert service.rpc is None and service.status is not None
        host, port = service.status.address
        assert host == "127.0.0.1"
        assert request(port, "/status.json").status == "401 Unauthorized"
        assert request(port, "/status.json", headers=_basic(cookie.read_text())).status == "200 OK"
    finally:
        service.stop()
    assert not cookie.exists()


def test_statusauth_takes_the_rpc_user_and_password(tmp_path: Path) -> None:
    service = NodeService(settings(tmp_path, "--statusport", "0", "--statusauth", "--rpcuser", "u",
                                   "--rpcpassword", "p", rpc=True), tuning=FAST, script_workers=0).start()
    try:
        assert service.status is not None
        port = service.status.address[1]
        assert request(port, "/", headers=_basic("u:p")).status == "200 OK"
        assert request(port, "/", headers=_basic("u:q")).status == "401 Unauthorized"
    finally:
        service.stop()
    assert len(service.node.events.message) == 0  # the page stopped observing the node


def test_without_statusauth_the_page_is_open(tmp_path: Path) -> None:
    with NodeService(settings(tmp_path, "--statusport", "0"), tuning=FAST, script_workers=0) as service:
        assert service.status is not None
        assert request(service.status.address[1], "/status.json").status == "200 OK"
