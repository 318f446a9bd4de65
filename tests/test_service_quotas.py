"""Quotas per party (issue 14, defect 3), against a real `sharedsky serve`.

One party posting as fast as it can is answered 429 with a `Retry-After` once over the
agreement's quotas (`[line] reports_per_s`, `reports_burst`, `aircraft_live`,
`messages_per_min`), while the other parties' reports and messages go through; after
the `Retry-After` the party is heard again. A batch over the burst could never pass: 422.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from service_support import Keys, Server, agreement_text, issue_keys
from sharedsky.client import Client

pytestmark = pytest.mark.timeout(120)

QUOTAS = "\n[line]\nreports_per_s = 100\nreports_burst = 200\naircraft_live = 150\nmessages_per_min = 5\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys]]:
    d = tmp_path_factory.mktemp("quotas")
    (d / "a.toml").write_text(agreement_text() + QUOTAS)
    keys = issue_keys(d / "s.db")
    srv = Server(d / "a.toml", d / "s.db").start()
    yield srv, keys
    srv.stop()


def batch(prefix: str, n: int, distinct: int | None = None) -> dict[str, Any]:
    """N reports of DISTINCT aircraft in a line; each party at its own level, so the test
    measures quotas, not 15,000 blue/red conflicts (100 x 150 aircraft on one spot)."""
    now = time.time()
    k = distinct or n
    alt_ft = 30000 if prefix.startswith("bb") else 20000
    return {"reports": [{"timestamp": now, "icao24": f"{prefix}{i % k:04x}", "latitude": 35.0,
                         "longitude": 36.0 + 0.001 * (i % k), "altitude": alt_ft} for i in range(n)]}


def post(srv: Server, key: str, path: str, body: Any) -> httpx.Response:
    return httpx.post(srv.url + path, content=json.dumps(body).encode(), timeout=30,
                      headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})


def test_a_flooding_party_gets_429_and_the_others_go_through(server: tuple[Server, Keys]) -> None:
    srv, keys = server
    assert post(srv, keys.blue, "/api/v1/reports", batch("aa", 200, 100)).status_code == 202  # the burst
    r = post(srv, keys.blue, "/api/v1/reports", batch("aa", 100))
    assert r.status_code == 429, r.text
    retry = int(r.headers["retry-after"])
    assert 1 <= retry <= 2 and "reports_per_s" in r.json()["detail"]
    # another party is not held back by blue's flood
    assert post(srv, keys.red, "/api/v1/reports", batch("bb", 150)).status_code == 202
    time.sleep(retry)
    assert post(srv, keys.blue, "/api/v1/reports", batch("aa", 100)).status_code == 202
    # a batch larger than the burst could never pass: 422, not 429
    r = post(srv, keys.blue, "/api/v1/reports", batch("aa", 201, 100))
    assert r.status_code == 422 and r.json()["detail"].startswith("reports: at most 200 reports per batch")
    assert Client(srv.url, keys.sup).metrics()["reports_rejected"].get("quota", 0) >= 1


def test_live_aircraft_over_the_quota_get_429(server: tuple[Server, Keys]) -> None:
    srv, keys = server
    time.sleep(2)  # the bucket refills
    # blue has 100 live aircraft (aa0000..aa0063); 60 more would make 160 > 150
    r = post(srv, keys.blue, "/api/v1/reports", batch("ab", 60))
    assert r.status_code == 429 and "aircraft_live" in r.json()["detail"], r.text
    assert int(r.headers["retry-after"]) >= 1
    assert post(srv, keys.blue, "/api/v1/reports", batch("ab", 50)).status_code == 202  # 150: at the quota


def test_messages_over_the_quota_get_429(server: tuple[Server, Keys]) -> None:
    srv, keys = server
    req = {"type": "REQUEST", "to": "blue", "text": "flood", "deadline": time.time() + 600}
    codes = [post(srv, keys.red, "/api/v1/messages", req).status_code for _ in range(6)]
    assert codes == [201] * 5 + [429], codes
    r = post(srv, keys.red, "/api/v1/messages", req)
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 12
    # blue's own quota is untouched
    assert post(srv, keys.blue, "/api/v1/messages", {**req, "to": "red"}).status_code == 201
