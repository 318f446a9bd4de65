"""Two parties on the line, against a real `sharedsky serve` on loopback.

Distress reaches the other party's stream within a second; an unanswered request is
overdue on both sides; an unacknowledged warning raises its own event; acks, responses,
notices, automatic distress on squawk 7700, SSE resume and signatures.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service_support import Collector, Keys, Server, agreement_text, converging, issue_keys
from sharedsky.client import Client, ServiceError
from sharedsky.record.log import verify

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys]]:
    d = tmp_path_factory.mktemp("line")
    (d / "a.toml").write_text(agreement_text(ack_within_s=2.0, notice_lead_s=3600))
    keys = issue_keys(d / "s.db")
    srv = Server(d / "a.toml", d / "s.db").start()
    yield srv, keys
    srv.stop()


def clients(srv: Server, k: Keys) -> tuple[Client, Client]:
    return (Client(srv.url, k.blue, signing_key=k.blue_sign), Client(srv.url, k.red, signing_key=k.red_sign))


def test_distress_from_one_party_reaches_the_other_within_one_second(line: tuple[Server, Keys]) -> None:
    srv, k = line
    blue, red = clients(srv, k)
    red_stream = Collector(Client(srv.url, k.red), after=blue.metrics()["last_seq"])
    time.sleep(0.5)  # the stream is connected and idle
    t_sent = time.monotonic()
    seq = blue.distress("aa0042", 35.2, 36.1, "ejection, crew in the water")
    t_rx, ev = red_stream.wait_for(lambda e: e.get("seq") == seq, timeout=5)
    assert t_rx - t_sent < 1.0
    assert ev["kind"] == "distress" and ev["from"] == "blue" and ev["auto"] is False
    assert ev["frequencies_mhz"] == [121.5, 243.0]
    assert ev["nature"] == "ejection, crew in the water"


def test_unanswered_request_is_overdue_on_both_sides(line: tuple[Server, Keys]) -> None:
    srv, k = line
    blue, red = clients(srv, k)
    deadline = time.time() + 1.5
    rseq = blue.request("red", "Confirm your strike package leaves sector 4 by 1200Z", deadline)
    # red can see the request; blue's stream and red's stream both get the overdue event
    assert any(e["seq"] == rseq and e["kind"] == "request" for e in red.events(after=rseq - 1))
    for c in (blue, red):
        t0 = time.monotonic()
        while time.monotonic() - t0 < 6:
            od = [e for e in c.events(after=rseq) if e["kind"] == "overdue" and e["request_seq"] == rseq]
            if od:
                break
            time.sleep(0.2)
        assert len(od) == 1, c.me()
        assert od[0]["from"] == "blue" and od[0]["to"] == "red"
    # An answered request is never overdue, and only the addressee may answer it.
    r2 = blue.request("red", "Request your tanker track", time.time() + 1.5)
    with pytest.raises(ServiceError) as err:
        blue.respond(r2, "answering my own request")
    assert err.value.status == 404  # neutral: the same as for no such request (issue 14, defect 10)
    resp = red.respond(r2, "Track ALPHA, FL250")
    time.sleep(2.5)
    evs = blue.events(after=r2)
    assert any(e["kind"] == "response" and e["seq"] == resp and e["request_seq"] == r2 for e in evs)
    assert not any(e["kind"] == "overdue" and e["request_seq"] == r2 for e in evs)


def test_unacknowledged_warning_raises_its_own_event(line: tuple[Server, Keys]) -> None:
    srv, k = line
    blue, red = clients(srv, k)
    start = blue.metrics()["last_seq"]
    b, r = converging(time.time(), "aa0100", "bb0100")
    blue.push_reports([b])
    red.push_reports([r])
    blue_stream = Collector(Client(srv.url, k.blue), after=start)
    _, warn = blue_stream.wait_for(lambda e: e.get("kind") == "conflict" and e.get("a") == "aa0100", timeout=5)
    assert warn["level"] == "warning" and warn["party_a"] == "blue" and warn["party_b"] == "red"
    assert 60 < warn["t_in_s"] < 120
    # blue acknowledges in time, red does not
    ack = blue.ack(warn["seq"])
    assert ack["duplicate"] is False
    assert blue.ack(warn["seq"]) == {"seq": ack["seq"], "duplicate": True}
    _, un = blue_stream.wait_for(lambda e: e.get("kind") == "unacknowledged" and e.get("of_seq") == warn["seq"],
                                 timeout=6)
    assert un["party"] == "red" and un["of_kind"] == "conflict"
    time.sleep(0.5)
    unacked = [e for e in red.events(after=warn["seq"]) if e["kind"] == "unacknowledged" and e["of_seq"] == warn["seq"]]
    assert [e["party"] for e in unacked] == ["red"]
    acks = [e for e in red.events(after=warn["seq"]) if e["kind"] == "ack"]
    assert any(e["of_seq"] == warn["seq"] and e["by"] == "blue" for e in acks)


def test_squawk_7700_raises_distress_once_per_episode(line: tuple[Server, Keys]) -> None:
    srv, k = line
    blue, red = clients(srv, k)
    start = blue.metrics()["last_seq"]
    for _ in range(3):
        blue.push_reports([{"timestamp": time.time(), "icao24": "aa0777", "latitude": 34.0, "longitude": 38.0,
                            "altitude": 15000, "squawk": "7700"}])
        time.sleep(0.7)
    evs = [e for e in red.events(after=start) if e["kind"] == "distress" and e["icao24"] == "aa0777"]
    assert len(evs) == 1
    assert evs[0]["auto"] is True and "7700" in evs[0]["nature"] and evs[0]["party"] == "blue"
    # the episode ends, a new one raises a new call
    blue.push_reports([{"timestamp": time.time(), "icao24": "aa0777", "latitude": 34.0, "longitude": 38.0,
                        "altitude": 15000, "squawk": "1200"}])
    time.sleep(1.5)
    blue.push_reports([{"timestamp": time.time(), "icao24": "aa0777", "latitude": 34.0, "longitude": 38.0,
                        "altitude": 15000, "emergency": "lifeguard"}])
    time.sleep(1.5)
    evs = [e for e in red.events(after=start) if e["kind"] == "distress" and e["icao24"] == "aa0777"]
    assert len(evs) == 2 and "lifeguard" in evs[1]["nature"]


def test_notice_is_flagged_when_short(line: tuple[Server, Keys]) -> None:
    srv, k = line
    blue, red = clients(srv, k)
    area = {"type": "Polygon", "coordinates": [[[36, 35], [37, 35], [37, 36], [36, 35]]]}
    now = time.time()
    short = blue.notice(area, 10000, 30000, now + 600, now + 4000, "strike package")
    ample = blue.notice(area, 10000, 30000, now + 7200, now + 9000, "training")
    evs = {e["seq"]: e for e in red.events(after=short - 1)}
    assert evs[short]["short_notice"] is True and evs[ample]["short_notice"] is False
    assert evs[short]["required_lead_s"] == 3600


def test_sse_resumes_with_last_event_id(line: tuple[Server, Keys]) -> None:
    srv, k = line
    blue, red = clients(srv, k)
    first = blue.distress("aa0050", 35, 36, "first")
    second = blue.distress("aa0051", 35, 36, "second")
    got: list[dict] = []
    with httpx.stream("GET", srv.url + "/api/v1/events/stream", headers={"Authorization": f"Bearer {k.red}",
                      "Last-Event-ID": str(first)}, timeout=10) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        ids: list[int] = []
        for line_ in r.iter_lines():
            if line_.startswith("id: "):
                ids.append(int(line_[4:]))
            elif line_.startswith("data: "):
                got.append(json.loads(line_[6:]))
                if got[-1]["seq"] >= second:
                    break
    assert ids[0] > first and got[0]["seq"] == ids[0]
    assert [g["seq"] for g in got] == sorted({g["seq"] for g in got})
    assert got[-1]["seq"] == second


def test_messages_are_signed_and_a_bad_signature_is_refused(line: tuple[Server, Keys], tmp_path: Path) -> None:
    srv, k = line
    blue, _ = clients(srv, k)
    seq = blue.distress("aa0060", 35, 36, "signed")
    msg = {"type": "DISTRESS", "icao24": "aa0060", "latitude": 35, "longitude": 36, "nature": "forged",
           "signature": "A" * 88}
    r = httpx.post(srv.url + "/api/v1/messages", json=msg, headers={"Authorization": f"Bearer {k.blue}"})
    assert r.status_code == 422 and r.json()["detail"].startswith("signature:")
    # The supervisor's copy of the record verifies, party signatures included.
    sup = Client(srv.url, k.sup)
    out = tmp_path / "record.jsonl"
    sup.download_record(str(out))
    entries = [json.loads(x) for x in out.read_text().splitlines()]
    mine = next(e for e in entries if e["seq"] == seq)
    assert mine["party_sig"] and mine["party"] == "blue"
    res = verify(out)
    assert res.ok, res.reason
