"""Notified operations on the line (issue 17), against a real `sharedsky serve` on loopback:
a NOTICE that overlaps another party's is a recorded conflict to both parties; a new
version that keeps clear ends it; a withdrawal ends it; stale versions are refused; the
book comes back after a restart; `sharedsky notices check` reports a plan's conflicts
against the record and the service without sending anything."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from service_support import REPO, Server, agreement_text, issue_keys
from sharedsky.client import Client, ServiceError

pytestmark = pytest.mark.timeout(120)


def square(lon0: float, lat0: float, lon1: float, lat1: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]]}


def conflicts(c: Client, after: int) -> list[dict]:
    return [e for e in c.events(after=after) if e["kind"] == "notice_conflict"]


def test_notice_conflicts_on_the_line_versions_withdrawal_restart_and_plan_check(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(agreement_text(notice_lead_s=3600))
    keys = issue_keys(tmp_path / "s.db")
    srv = Server(tmp_path / "a.toml", tmp_path / "s.db").start()
    try:
        blue, red = Client(srv.url, keys.blue), Client(srv.url, keys.red)
        now = time.time()
        b1 = blue.notice(square(36.0, 35.0, 36.5, 35.5), 10000, 20000, now + 7200, now + 10800, "strike",
                         operation="strike-1")
        r1 = red.notify_volumes("isr-9", [
            {"centre": [37.5, 35.2], "radius_nm": 5, "floor_ft": 0, "ceiling_ft": 40000, "start": now + 600,
             "end": now + 99999},
            {"area": square(36.3, 35.3, 36.8, 35.8), "floor_ft": 15000, "ceiling_ft": 25000, "start": now + 900,
             "end": now + 8000},
        ])
        for c in (blue, red):  # one conflict, to each party, with the overlap
            evs = conflicts(c, b1)
            assert [(e["state"], e["parties"]) for e in evs] == [("new", ["blue", "red"])]
            ev = evs[0]
            assert ev["volumes"][0]["operation"] == "blue:strike-1" and ev["volumes"][1]["operation"] == "red:isr-9"
            assert ev["volumes"][1]["volume"] == 1
            assert (ev["floor_ft"], ev["ceiling_ft"]) == (15000, 20000)
            assert ev["short_notice"] is False  # the overlap begins two hours ahead
        notice_ev = next(e for e in red.events(after=r1 - 1) if e["seq"] == r1)
        assert notice_ev["operation"] == "red:isr-9" and notice_ev["version"] == 1 and len(notice_ev["volumes"]) == 2
        # A stale version is refused, naming the field.
        with pytest.raises(ServiceError) as exc:
            red.notify_volumes("isr-9", [{"centre": [37.5, 35.2], "radius_nm": 5, "floor_ft": 0, "ceiling_ft": 1000,
                                          "start": now + 600, "end": now + 900}], version=1)
        assert exc.value.status == 422 and "version" in str(exc.value)
        # Version 2 moves the second volume above blue's band: the conflict ends, for both.
        r2 = red.notify_volumes("isr-9", [
            {"area": square(36.3, 35.3, 36.8, 35.8), "floor_ft": 20000, "ceiling_ft": 25000, "start": now + 900,
             "end": now + 8000}])
        for c in (blue, red):
            assert [(e["state"], e["reason"]) for e in conflicts(c, r2)] == [("ended", "version")]
        # Version 3 comes back into it (short notice: the overlap begins in 30 minutes).
        blue.notice(square(36.0, 35.0, 36.5, 35.5), 10000, 30000, now + 1800, now + 10800, operation="strike-1")
        r3 = red.events(after=0)[-1]["seq"]
        assert conflicts(red, r3 - 1)[0]["short_notice"] is True
        srv.stop()
        srv = Server(tmp_path / "a.toml", tmp_path / "s.db").start()  # the book is rebuilt from the record
        blue, red = Client(srv.url, keys.blue), Client(srv.url, keys.red)
        w = red.withdraw("isr-9")
        assert [(e["state"], e["reason"]) for e in conflicts(blue, w)] == [("ended", "withdrawn")]
        with pytest.raises(ServiceError) as exc:
            red.withdraw("isr-9")
        assert exc.value.status == 422 and "operation" in str(exc.value)
        # Planning before sending: a plan checked against the record and against the service.
        plan = tmp_path / "plan.json"
        plan.write_text(json.dumps([{"operation": "cap-2", "area": square(36.2, 35.2, 36.4, 35.4),
                                     "floor_ft": 25000, "ceiling_ft": 35000, "start": now + 3600,
                                     "end": now + 7200}]))
        before = blue.metrics()["last_seq"]
        for against in (str(tmp_path / "s.db"), srv.url):
            run = subprocess.run(
                [sys.executable, "-m", "sharedsky.cli", "notices", "check", str(plan), "--against", against,
                 "--agreement", str(tmp_path / "a.toml"), "--party", "red", "--key", keys.red, "--json"],
                cwd=REPO, capture_output=True, text=True, timeout=60)
            assert run.returncode == 1, run.stderr  # 1: conflicts found
            found = [json.loads(line) for line in run.stdout.splitlines()]
            assert [(e["state"], e["volumes"][0]["operation"]) for e in found] == [("planned", "blue:strike-1")]
            assert (found[0]["floor_ft"], found[0]["ceiling_ft"]) == (25000, 30000)
        assert blue.metrics()["last_seq"] == before  # nothing was sent
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps([{"operation": "x", "centre": [36, 35], "radius_nm": 0, "floor_ft": 0,
                                    "ceiling_ft": 1, "start": now, "end": now + 1}]))
        run = subprocess.run([sys.executable, "-m", "sharedsky.cli", "notices", "check", str(bad), "--against",
                              str(tmp_path / "s.db"), "--agreement", str(tmp_path / "a.toml"), "--party", "red"],
                             cwd=REPO, capture_output=True, text=True, timeout=60)
        assert run.returncode == 2 and "notices[0]: radius_nm: must be above 0" in run.stderr
    finally:
        srv.stop()
