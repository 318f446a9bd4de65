"""Helpers for the service tests: a small agreement, keys, and a real server in a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from sharedsky.record.keys import KeyStore

REPO = Path(__file__).resolve().parents[1]


AIRSPACE = """
[[airspace]]
id = "blue-home"
name = "Blue home airspace"
owner = "blue"
polygon = [[36.0, 36.0], [37.0, 36.0], [37.0, 37.0], [36.0, 37.0], [36.0, 36.0]]
barred = ["red"]
horizon_s = 300
[airspace.schedule]
stages = [{ name = "advisory", lead_s = 300 }, { name = "warning", lead_s = 120 }]
repeat_inside_s = 30
"""


#: blue/red: the default minima and a DO-365B well-clear alerter beside them (issue 12).
WELLCLEAR = """
[[minima]]
parties = ["blue", "red"]
[[minima.level]]
name = "advisory"
h_nm = 10
v_ft = 2000
t_s = 300
[[minima.level]]
name = "warning"
h_nm = 5
v_ft = 1000
t_s = 120
[minima.wellclear]
"""


def agreement_text(ack_within_s: float = 60.0, notice_lead_s: float = 3600.0, disclosure: str = "conflict",
                   within_nm: float = 50.0, airspace: bool = False, resolution: bool = False,
                   wellclear: bool = False) -> str:
    rule = f'mode = "{disclosure}"'
    if disclosure == "within":
        rule += f"\nwithin_nm = {within_nm}\nwithin_s = 0"
    return f"""
[agreement]
name = "test line"
default_party = "unknown"
alert_levels = ["advisory", "warning"]

[[party]]
id = "blue"
name = "Blue force"
colour = "#1f77b4"
[party.attribution]
icao_ranges = [["aa0000", "aaffff"]]
sources = ["blue"]

[[party]]
id = "red"
name = "Red force"
colour = "#d62728"
[party.attribution]
icao_ranges = [["bb0000", "bbffff"]]
sources = ["red"]

[[party]]
id = "unknown"
name = "Unattributed"

[[minima_default.level]]
name = "advisory"
h_nm = 10
v_ft = 2000
t_s = 300
[[minima_default.level]]
name = "warning"
h_nm = 5
v_ft = 1000
t_s = 120

{WELLCLEAR if wellclear else ""}
{AIRSPACE if airspace else ""}
{"[resolution]" + chr(10) + "enabled = true" if resolution else ""}
[channels]
distress_mhz = [121.5, 243.0]
hotline = "test line"
notice_lead_s = {notice_lead_s}
ack_within_s = {ack_within_s}

[disclosure_default]
{rule}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Keys:
    blue: str
    red: str
    sup: str
    blue_sign: str
    red_sign: str


def issue_keys(db: Path) -> Keys:
    ks = KeyStore(db)
    b, r, s = ks.issue("blue"), ks.issue("red"), ks.issue("un", supervisor=True)
    ks.close()
    return Keys(b.api_key, r.api_key, s.api_key, b.signing_key, r.signing_key)


class Server:
    """`sharedsky serve` in a subprocess on a free loopback port."""

    def __init__(self, agreement: Path, db: Path, *extra: str) -> None:
        self.agreement, self.db, self.extra = agreement, db, extra
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = db.with_suffix(".log")

    def start(self, timeout: float = 60.0) -> Server:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        fh = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sharedsky.cli", "serve", "--agreement", str(self.agreement),
             "--db", str(self.db), "--port", str(self.port), *self.extra],
            cwd=REPO, env=env, stdout=fh, stderr=fh)
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/api/v1/me", timeout=1).status_code == 401:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flush."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def serve_pushing(d: Path, agreement: str, blue: dict | list[dict], red: dict | list[dict]
                  ) -> Iterator[tuple[Server, Keys]]:
    """A real server on `agreement` whose two parties push their reports (blue's, red's: one
    or a list each), re-stamped every second so that the geometry holds for as long as the
    block runs."""
    (d / "a.toml").write_text(agreement)
    keys = issue_keys(d / "s.db")
    srv = Server(d / "a.toml", d / "s.db").start()
    stop = threading.Event()

    def push() -> None:
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            while not stop.is_set():
                now = time.time()
                for key, ac in ((keys.blue, blue), (keys.red, red)):
                    r = c.post("/api/v1/reports",
                               json={"reports": [{"timestamp": now, **a} for a in (ac if isinstance(ac, list) else [ac])]},
                               headers={"Authorization": f"Bearer {key}"})
                    assert r.status_code == 202, r.text
                stop.wait(1.0)

    t = threading.Thread(target=push, daemon=True)
    t.start()
    try:
        yield srv, keys
    finally:
        stop.set()
        t.join(5)
        srv.stop()


def converging(now: float, icao_blue: str = "aa0001", icao_red: str = "bb0001") -> tuple[dict, dict]:
    """Two aircraft head-on at the same level, about 25 NM apart: a warning within ~90 s."""
    b = {"timestamp": now, "icao24": icao_blue, "callsign": "BLU1", "latitude": 35.0, "longitude": 36.0,
         "altitude": 20000, "groundspeed": 400, "track": 90, "vertical_rate": 0}
    r = {"timestamp": now, "icao24": icao_red, "callsign": "RED1", "latitude": 35.0, "longitude": 36.5,
         "altitude": 20000, "groundspeed": 400, "track": 270, "vertical_rate": 0}
    return b, r


class Collector:
    """Runs `client.stream()` on a thread and keeps (receive time, event) pairs."""

    def __init__(self, client, after: int = 0, pictures: bool = False) -> None:  # noqa: ANN001
        import threading

        self.client = client
        self.items: list[tuple[float, dict]] = []
        self.error: BaseException | None = None
        self._pictures = pictures
        self._after = after
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        try:
            for ev in self.client.stream(after=self._after, pictures=self._pictures, reconnect_for_s=60):
                self.items.append((time.monotonic(), ev))
        except BaseException as exc:  # surfaced by wait_for
            self.error = exc

    @property
    def events(self) -> list[dict]:
        return [e if "kind" in e else e.get("event", e) for _, e in self.items if e.get("type", "event") == "event"]

    def wait_for(self, pred, timeout: float = 10.0):  # noqa: ANN001, ANN201
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            for t, e in list(self.items):
                if pred(e):
                    return t, e
            if self.error is not None:
                raise self.error
            time.sleep(0.01)
        raise AssertionError(f"not received within {timeout} s; got {[e for _, e in self.items][-10:]}")


def wait_until(pred: Callable[[], object], timeout: float, what: str) -> None:
    """Poll `pred` every 0.1 s until it holds; fail naming `what` after `timeout` seconds."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")
