"""`serve --feed`: a live SBS stream from a real TCP socket on loopback joins the picture,
is recorded, and an aircraft squawking 7700 on it raises an automatic distress call."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service_support import Server, agreement_text, free_port, issue_keys
from sharedsky.client import Client
from sharedsky.record.log import Record

pytestmark = pytest.mark.timeout(120)


def sbs_server(port: int, stop: threading.Event) -> None:
    """Serves SBS lines of one aircraft (red's block) squawking 7700, every 0.5 s."""
    srv = socket.create_server(("127.0.0.1", port))
    srv.settimeout(0.5)
    conns: list[socket.socket] = []
    lat = 35.0
    while not stop.is_set():
        try:
            c, _ = srv.accept()
            conns.append(c)
        except TimeoutError:
            pass
        now = datetime.now(UTC)
        d, t = now.strftime("%Y/%m/%d"), now.strftime("%H:%M:%S.%f")[:-3]
        lat += 0.002
        lines = (f"MSG,1,1,1,BB0AAA,1,{d},{t},{d},{t},REDSOS,,,,,,,,,,,0\r\n"
                 f"MSG,3,1,1,BB0AAA,1,{d},{t},{d},{t},,24000,,,{lat:.5f},36.00000,,,0,1,0,0\r\n"
                 f"MSG,4,1,1,BB0AAA,1,{d},{t},{d},{t},,,420,0,,,0,,0,0,0,0\r\n"
                 f"MSG,6,1,1,BB0AAA,1,{d},{t},{d},{t},,,,,,,,7700,0,1,0,0\r\n").encode()
        for c in list(conns):
            try:
                c.sendall(lines)
            except OSError:
                conns.remove(c)
        time.sleep(0.5)
    for c in conns:
        c.close()
    srv.close()


def test_live_sbs_feed_is_recorded_and_raises_distress(tmp_path: Path) -> None:
    port = free_port()
    stop = threading.Event()
    threading.Thread(target=sbs_server, args=(port, stop), daemon=True).start()
    (tmp_path / "a.toml").write_text(agreement_text())
    keys = issue_keys(tmp_path / "s.db")
    srv = Server(tmp_path / "a.toml", tmp_path / "s.db", "--feed", f"sbs://127.0.0.1:{port}").start()
    try:
        blue, red = Client(srv.url, keys.blue), Client(srv.url, keys.red)
        t0 = time.monotonic()
        calls: list[dict] = []
        while not calls and time.monotonic() - t0 < 20:
            calls = [e for e in blue.events() if e["kind"] == "distress" and e["icao24"] == "bb0aaa"]
            time.sleep(0.3)
        assert len(calls) == 1, Client(srv.url, keys.sup).metrics()
        assert calls[0]["auto"] and calls[0]["party"] == "red" and "7700" in calls[0]["nature"]
        assert "bb0aaa" in {a["icao24"] for a in red.aircraft()}
        assert Client(srv.url, keys.sup).metrics()["reports_accepted"] > 0
    finally:
        srv.stop()
        stop.set()
    rec = Record(tmp_path / "s.db")
    feed_batches = [e for e in rec.entries(kinds=["reports"]) if e.party == ""]
    assert feed_batches and feed_batches[0].data["source"] == f"sbs://127.0.0.1:{port}"
