"""The JSON-RPC server (`pantheon.rpc.server`) over real loopback HTTP: curl, python-bitcoinlib's proxy,
and hand-written requests, answered in Bitcoin Core's legacy and JSON-RPC 2.0 dialects."""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import stat
import time
from pathlib import Path
from typing import Any, Iterator

import gevent
import gevent.socket
import gevent.subprocess
import pytest
from bitcoin.rpc import JSONRPCError, RawProxy

from helpers.waiting import in_thread
from pantheon.rpc.errors import RPC_INVALID_PARAMETER, RpcError
from pantheon.rpc.server import COOKIE_USER, RpcAuth, RpcServer

USER, PASSWORD = "alice", "correct-horse"


def methods() -> dict[str, Any]:
    def getblockcount() -> int:
        return 42

    def echo(value: Any, twice: bool = False) -> Any:
        return [value, value] if twice else value

    def setban(subnet: str) -> None:
        raise RpcError(RPC_INVALID_PARAMETER, f"Error: Invalid IP/Subnet: {subnet}")

    def broken() -> None:
        raise KeyError("lost")

    def unserialisable() -> bytes:
        return b"\x00"

    return {"getblockcount": getblockcount, "echo": echo, "setban": setban, "broken": broken,
            "unserialisable": unserialisable}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RpcServer]:
    rpc = RpcServer(methods(), RpcAuth(USER, PASSWORD, cookie_dir=tmp_path), port=0).start()
    yield rpc
    rpc.stop()


def post(server: RpcServer, body: bytes | str, auth: str | None = f"{USER}:{PASSWORD}",
         method: str = "POST") -> tuple[int, dict[str, str], bytes]:
    def send() -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(*server.address, timeout=5)
        headers = {"Content-Type": "application/json"}
        if auth is not None:
            headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
        connection.request(method, "/", body, headers)
        response = connection.getresponse()
        result = response.status, dict(response.getheaders()), response.read()
        connection.close()
        return result

    return in_thread(send)


def call(server: RpcServer, request: Any) -> tuple[int, Any]:
    status, _, body = post(server, json.dumps(request))
    return status, json.loads(body) if body else None


def test_legacy_request_gets_result_and_null_error(server: RpcServer) -> None:
    assert call(server, {"method": "getblockcount", "params": [], "id": 7}) == (
        200, {"result": 42, "error": None, "id": 7})


def test_named_and_positional_params(server: RpcServer) -> None:
    assert call(server, {"method": "echo", "params": ["x", True], "id": 1})[1]["result"] == ["x", "x"]
    assert call(server, {"method": "echo", "params": {"value": 3, "twice": True}, "id": 1})[1]["result"] == [3, 3]


@pytest.mark.parametrize(("request_body", "status", "code"), [
    ({"method": "nosuch", "id": 1}, 404, -32601),
    ({"method": 5, "id": 1}, 400, -32600),
    ({"method": "echo", "params": "x", "id": 1}, 400, -32600),
    ({"method": "echo", "params": [], "id": 1}, 500, -1),  # wrong number of parameters
    ({"method": "echo", "params": {"nope": 1}, "id": 1}, 500, -1),
    ({"method": "setban", "params": ["bad"], "id": 1}, 500, RPC_INVALID_PARAMETER),
    ({"method": "broken", "id": 1}, 500, -32603),
    ([], 200, -32600),
    (17, 400, -32600),
])
def test_legacy_errors_carry_cores_codes_and_statuses(server: RpcServer, request_body: Any, status: int,
                                                     code: int) -> None:
    got_status, reply = call(server, request_body)
    assert got_status == status
    assert reply["error"]["code"] == code
    assert "Traceback" not in reply["error"]["message"]


def test_internal_error_names_the_exception_not_a_traceback(server: RpcServer) -> None:
    reply = call(server, {"method": "broken", "id": 1})[1]
    assert reply == {"result": None, "error": {"code": -32603, "message": "KeyError: 'lost'"}, "id": 1}


def test_parse_error_and_unserialisable_result(server: RpcServer) -> None:
    status, headers, body = post(server, b"{not json")
    assert (status, json.loads(body)["error"]["code"]) == (500, -32700)
    assert headers["Content-Type"] == "application/json"
    assert call(server, {"method": "unserialisable", "id": 1})[1]["error"]["code"] == -32603


def test_jsonrpc_2_replies_always_200_with_result_or_error(server: RpcServer) -> None:
    assert call(server, {"jsonrpc": "2.0", "method": "getblockcount", "id": "a"}) == (
        200, {"jsonrpc": "2.0", "result": 42, "id": "a"})
    assert call(server, {"jsonrpc": "2.0", "method": "nosuch", "id": 2}) == (
        200, {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": 2})


def test_notifications_get_no_reply(server: RpcServer) -> None:
    status, _, body = post(server, json.dumps({"jsonrpc": "2.0", "method": "getblockcount"}))
    assert (status, body) == (204, b"")
    batch = [{"jsonrpc": "2.0", "method": "getblockcount"}, {"jsonrpc": "2.0", "method": "echo", "params": [1]}]
    status, _, body = post(server, json.dumps(batch))
    assert (status, body) == (204, b"")


def test_batch_answers_each_element_in_order(server: RpcServer) -> None:
    batch = [
        {"method": "getblockcount", "id": 1},
        {"jsonrpc": "2.0", "method": "nosuch", "id": 2},
        {"jsonrpc": "2.0", "method": "echo", "params": ["n"]},  # notification: left out
        "junk",
        {"method": "echo", "params": ["z"], "id": 4},
    ]
    status, replies = call(server, batch)
    assert status == 200
    assert [reply.get("id") for reply in replies] == [1, 2, None, 4]
    assert replies[0]["result"] == 42
    assert replies[1]["error"]["code"] == -32601
    assert replies[2]["error"]["code"] == -32600
    assert replies[3]["result"] == "z"


def test_wrong_password_waits_and_gets_401(server: RpcServer) -> None:
    started = gevent.get_hub().loop.now()
    status, headers, _ = post(server, "{}", auth=f"{USER}:wrong")
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="jsonrpc"'
    assert gevent.get_hub().loop.now() - started >= 0.2
    assert post(server, "{}", auth=None)[0] == 401
    assert post(server, "{}", auth="no-colon-here")[0] == 401


def test_get_is_refused(server: RpcServer) -> None:
    assert post(server, "", method="GET")[0] == 405


def test_oversized_body_is_refused_unread(server: RpcServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pantheon.rpc.server.MAX_BODY", 100)
    assert post(server, json.dumps({"method": "echo", "params": ["x" * 200], "id": 1}))[0] == 413


def test_cookie_file_is_private_works_and_is_removed_at_stop(tmp_path: Path) -> None:
    rpc = RpcServer(methods(), RpcAuth(cookie_dir=tmp_path), port=0).start()
    cookie = tmp_path / ".cookie"
    secret = cookie.read_text()
    assert secret.startswith(f"{COOKIE_USER}:") and len(secret) == len(COOKIE_USER) + 1 + 64
    assert stat.S_IMODE(os.stat(cookie).st_mode) == 0o600
    status, _, body = post(rpc, json.dumps({"method": "getblockcount", "id": 1}), auth=secret)
    assert (status, json.loads(body)["result"]) == (200, 42)
    rpc.stop()
    assert not cookie.exists()


def test_auth_needs_some_credentials(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        RpcAuth()
    with pytest.raises(ValueError):
        RpcAuth(USER, None)
    with pytest.raises(ValueError):
        RpcAuth("a:b", "c")


def test_python_bitcoinlib_proxy_works_unmodified(server: RpcServer) -> None:
    host, port = server.address
    proxy = RawProxy(service_url=f"http://{USER}:{PASSWORD}@{host}:{port}")
    try:
        assert in_thread(proxy.getblockcount) == 42
        assert in_thread(proxy.echo, {"k": [1, 2]}) == {"k": [1, 2]}
        with pytest.raises(JSONRPCError) as caught:
            in_thread(proxy.setban, "300.1.1.1")
        assert caught.value.error["code"] == RPC_INVALID_PARAMETER
    finally:
        proxy.close()


@pytest.mark.skipif(shutil.which("curl") is None and os.environ.get("CI") != "true", reason="curl not installed (CI installs it)")
def test_curl_works_unmodified(server: RpcServer) -> None:
    host, port = server.address
    output = gevent.subprocess.check_output([
        "curl", "-s", "--user", f"{USER}:{PASSWORD}", "--data-binary",
        '{"jsonrpc": "1.0", "id": "curltest", "method": "getblockcount", "params": []}',
        "-H", "content-type: text/plain;", f"http://{host}:{port}/"], timeout=10)
    assert json.loads(output) == {"result": 42, "error": None, "id": "curltest"}


def test_an_idle_connection_is_closed_after_rpcservertimeout(tmp_path: Path) -> None:
    """Core's -rpcservertimeout: a client that opens a connection and sends nothing is let go."""
    rpc = RpcServer(methods(), RpcAuth(USER, PASSWORD, cookie_dir=tmp_path), port=0, idle_timeout=0.3).start()
    try:
        idle = gevent.socket.create_connection(rpc.address, timeout=5)
        started = time.monotonic()
        assert idle.recv(1) == b""  # closed by the server, nothing said
        assert time.monotonic() - started < 3
        idle.close()
        assert post(rpc, json.dumps({"method": "getblockcount", "id": 1}))[0] == 200  # others still served
    finally:
        rpc.stop()


def test_positional_arguments_beside_named_ones_come_as_args(server: RpcServer) -> None:
    """What Core's test framework sends for f(a, twice=True): {"args": [a], "twice": true}."""
    status, _, body = post(server, json.dumps({"jsonrpc": "2.0", "method": "echo", "id": 1,
                                               "params": {"args": ["x"], "twice": True}}))
    assert status == 200 and json.loads(body)["result"] == ["x", "x"]
    status, _, body = post(server, json.dumps({"jsonrpc": "2.0", "method": "echo", "id": 2,
                                               "params": {"args": "x"}}))
    assert json.loads(body)["error"]["code"] == -32600
