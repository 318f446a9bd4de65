"""Leaks (issue 14, defect 10, the cheap part), against a real `sharedsky serve`.

A RESPONSE to a request addressed to someone else gets the same neutral 404 as an
unknown request (it used to name the addressee), and with `--log-level info` no API key
appears in the server's log, whether sent in a URL or a WebSocket's query string.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from websockets.sync.client import connect

from service_support import Keys, Server, agreement_text, issue_keys
from sharedsky.client import Client, ServiceError

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys]]:
    d = tmp_path_factory.mktemp("leaks")
    (d / "a.toml").write_text(agreement_text())
    keys = issue_keys(d / "s.db")
    srv = Server(d / "a.toml", d / "s.db", "--log-level", "info").start()
    yield srv, keys
    srv.stop()


def test_a_response_to_someone_elses_request_gets_the_neutral_404(server: tuple[Server, Keys]) -> None:
    srv, keys = server
    blue, red = Client(srv.url, keys.blue), Client(srv.url, keys.red)
    seq = red.request("blue", "probe", time.time() + 600)
    with pytest.raises(ServiceError) as mine:
        red.respond(seq, "answering my own request")
    with pytest.raises(ServiceError) as unknown:
        red.respond(999999, "no such request")
    assert mine.value.status == unknown.value.status == 404
    assert mine.value.detail == f"request_seq: no request with seq {seq} for 'red'"
    assert "blue" not in mine.value.detail
    assert blue.respond(seq, "the addressee may") > seq


def test_no_key_in_the_log(server: tuple[Server, Keys]) -> None:
    srv, keys = server
    assert httpx.get(srv.url + "/api/v1/me", params={"key": keys.blue}).status_code == 200
    assert httpx.get(srv.url + "/api/v1/me", params={"key": "ssk_00000000_wrong"}).status_code == 401
    with connect(srv.url.replace("http", "ws") + f"/api/v1/stream?after=999999&key={keys.red}") as ws:
        ws.recv(timeout=5)
    time.sleep(0.5)
    log = srv.log.read_text(errors="replace")
    assert "/api/v1/me" in log and "/api/v1/stream" in log  # the access log is on
    for secret in (keys.blue, keys.red, "ssk_00000000_wrong"):
        assert secret not in log
    assert "key=***" in log
