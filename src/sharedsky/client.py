"""Python client of the sharedsky service (see docs/client.md).

    from sharedsky.client import Client
    c = Client("http://127.0.0.1:8080", key="ssk_...", signing_key="...")
    c.push_reports([{"timestamp": time.time(), "icao24": "ae1234", "latitude": 36.2, ...}])
    for ev in c.stream():            # resumes from the last seq after a reconnect
        if ev["kind"] == "distress":
            c.ack(ev["seq"])

Messages are signed with the party's Ed25519 key when one is given, so the record
proves who said what. Errors from the service raise `ServiceError` with its status and
the service's message (which names the field at fault).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from sharedsky.record.log import load_private_key, sign_message

#: How every picture frame of the stream begins (`sharedsky.service.picture_feed.Frame`): a
#: stream that did not ask for pictures skips them unparsed.
PICTURE_PREFIX = '{"type":"picture",'
REPORT_FIELDS = ("timestamp", "icao24", "callsign", "latitude", "longitude", "altitude", "groundspeed",
                 "track", "vertical_rate", "squawk", "onground", "emergency", "selected_altitude")


class ServiceError(Exception):
    """The service refused a request: `status` (HTTP) and `detail` (what and where)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


def _time(t: Any) -> str | float:
    if isinstance(t, datetime):
        return (t if t.tzinfo else t.replace(tzinfo=UTC)).isoformat()
    if isinstance(t, (int, float, str)):
        return t
    return str(t)


def reports_from_frame(df: Any) -> list[dict[str, Any]]:
    """Report dicts from a traffic-library DataFrame (timestamps as epoch s, NaN dropped)."""
    from sharedsky.ingest.schema import epoch_s, parse_timestamps

    cols = [c for c in REPORT_FIELDS if c in df.columns]
    sub = df[cols].copy()
    if "timestamp" in sub:
        # Epoch seconds or milliseconds, datetimes or ISO strings, whatever pandas'
        # resolution: the same parsing as every feed (sharedsky.ingest.schema).
        sub["timestamp"] = epoch_s(parse_timestamps(sub["timestamp"]))
    return [_clean(rec) for rec in sub.to_dict("records")]


def _clean(rec: dict[str, Any]) -> dict[str, Any]:
    """A report without missing values (None, NaN, empty strings): JSON has no NaN."""
    return {k: v for k, v in rec.items() if v is not None and v == v and v != ""}


class Client:
    """A party's connection to the service: REST calls and a resumable event stream."""

    def __init__(self, url: str, key: str, *, signing_key: str | None = None, timeout: float = 10.0,
                 verify: bool | str = True) -> None:
        """`verify`: True (system CAs), False, or the path of a CA bundle / the service's certificate."""
        self.url = url.rstrip("/")
        self.key = key
        self._signer = load_private_key(signing_key) if signing_key else None
        self.verify = verify
        tls: Any = verify
        if isinstance(verify, str):  # a CA bundle or the service's own certificate
            import ssl

            tls = ssl.create_default_context(cafile=verify)
        self.http = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"},
                                 timeout=timeout, verify=tls)
        self.last_seq = 0

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        r = self.http.request(method, path, json=body, params=params or None)
        if r.status_code >= 400:
            try:
                detail = r.json().get("detail", r.text)
            except ValueError:
                detail = r.text
            raise ServiceError(r.status_code, detail if isinstance(detail, str) else json.dumps(detail))
        return r.json()

    # -- reading ---------------------------------------------------------------------------
    def me(self) -> dict[str, Any]:
        return self._call("GET", "/api/v1/me")

    def agreement(self) -> dict[str, Any]:
        return self._call("GET", "/api/v1/agreement")

    def aircraft(self) -> list[dict[str, Any]]:
        """The air picture this party may see (dead-reckoned to the last engine step)."""
        return self._call("GET", "/api/v1/aircraft")["aircraft"]

    def events(self, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        return self._call("GET", "/api/v1/events", after=after, limit=limit)["events"]

    def checkpoint(self, witnessed: bool = False) -> str:
        """The latest signed checkpoint (C2SP signed note), or the latest witnessed one."""
        r = self.http.get("/api/v1/checkpoint/witnessed" if witnessed else "/api/v1/checkpoint")
        if r.status_code >= 400:
            raise ServiceError(r.status_code, r.text)
        return r.text

    def metrics(self) -> dict[str, Any]:
        return self._call("GET", "/metrics")

    def download_record(self, path: str | None = None, after: int = 0) -> str:
        """The record's entries with seq > after as JSON lines (what this party may not see is
        withheld, its salted commitment kept)."""
        r = self.http.get("/api/v1/record", params={"after": after} if after else None)
        if r.status_code >= 400:
            raise ServiceError(r.status_code, r.text)
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(r.text)
        return r.text

    # -- writing ---------------------------------------------------------------------------
    def push_reports(self, reports: Sequence[dict[str, Any]] | Any) -> dict[str, Any]:
        """Push a batch (dicts in traffic-library columns, or a DataFrame); {accepted, seq}."""
        if hasattr(reports, "columns"):
            reports = reports_from_frame(reports)
        else:
            reports = [_clean(dict(r)) for r in reports]
        return self._call("POST", "/api/v1/reports", {"reports": list(reports)})

    def send(self, message: dict[str, Any]) -> int:
        """Send a message (signed when this client has a signing key); its event seq."""
        msg = dict(message)
        if self._signer is not None:
            msg["signature"] = sign_message(self._signer, msg)
        return int(self._call("POST", "/api/v1/messages", msg)["seq"])

    def distress(self, icao24: str, latitude: float, longitude: float, nature: str, **extra: Any) -> int:
        return self.send({"type": "DISTRESS", "icao24": icao24, "latitude": latitude,
                          "longitude": longitude, "nature": nature, **extra})

    def notice(self, area: dict[str, Any], floor_ft: float, ceiling_ft: float, start: Any, end: Any,
               text: str = "", **extra: Any) -> int:
        """Notify a planned operation of one polygon volume; `extra`: operation, version, purpose."""
        return self.send({"type": "NOTICE", "area": area, "floor_ft": floor_ft, "ceiling_ft": ceiling_ft,
                          "start": _time(start), "end": _time(end), "text": text, **extra})

    def notify_volumes(self, operation: str, volumes: Sequence[dict[str, Any]], text: str = "",
                       **extra: Any) -> int:
        """Notify (or change: the next version) an operation of several volumes, each with
        area (GeoJSON Polygon) or centre and radius_nm, floor_ft, ceiling_ft, start, end."""
        vols = [{**v, "start": _time(v["start"]), "end": _time(v["end"])} for v in volumes]
        return self.send({"type": "NOTICE", "operation": operation, "volumes": vols, "text": text, **extra})

    def withdraw(self, operation: str, text: str = "") -> int:
        """Withdraw a notified operation of this party."""
        return self.send({"type": "NOTICE", "operation": operation, "withdraw": True, "text": text})

    def request(self, to: str, text: str, deadline: Any) -> int:
        return self.send({"type": "REQUEST", "to": to, "text": text, "deadline": _time(deadline)})

    def respond(self, request_seq: int, text: str) -> int:
        return self.send({"type": "RESPONSE", "request_seq": request_seq, "text": text})

    def ack(self, seq: int) -> dict[str, Any]:
        """Acknowledge an event; {seq, duplicate}."""
        return self._call("POST", "/api/v1/ack", {"seq": seq})

    # -- streaming -------------------------------------------------------------------------
    def _ws_url(self, after: int, pictures: bool = True) -> str:
        base = self.url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{base}/api/v1/stream?after={after}" + ("" if pictures else "&pictures=0")

    def stream(self, after: int | None = None, *, pictures: bool = False, reconnect_for_s: float = 30.0,
               idle_timeout_s: float | None = None) -> Iterator[dict[str, Any]]:
        """Events (and picture frames if asked) for ever, in order, each once.

        After a dropped connection the stream reconnects (for up to `reconnect_for_s`)
        and resumes after `self.last_seq`, so nothing is missed and nothing repeats.
        Yields event dicts (with `seq`), or with `pictures=True` the raw frames.
        `idle_timeout_s` ends the iteration when nothing arrives for that long: no event
        (and, with `pictures=True`, no picture; without, none is sent).
        """
        from websockets.exceptions import ConnectionClosed, InvalidStatus
        from websockets.sync.client import connect

        if after is not None:
            self.last_seq = after
        down_since: float | None = None
        ssl_ctx = None
        if self.url.startswith("https://"):
            import ssl

            ssl_ctx = ssl.create_default_context(cafile=self.verify if isinstance(self.verify, str) else None)
            if self.verify is False:
                ssl_ctx.check_hostname = False
                ssl_ctx.verify_mode = ssl.CERT_NONE
        while True:
            try:
                with connect(self._ws_url(self.last_seq, pictures), additional_headers={"Authorization": f"Bearer {self.key}"},
                             ssl=ssl_ctx, open_timeout=5, max_size=None) as ws:
                    down_since = None
                    while True:
                        try:
                            text = ws.recv(timeout=idle_timeout_s)
                        except TimeoutError:
                            return
                        if not pictures and isinstance(text, str) and text.startswith(PICTURE_PREFIX):
                            continue  # from a server that sends them anyway: not parsed
                        frame = json.loads(text)
                        typ = frame.get("type")
                        if typ == "event":
                            if frame["seq"] <= self.last_seq:
                                continue
                            self.last_seq = frame["seq"]
                            yield frame if pictures else frame["event"]
                        elif typ == "error" and frame.get("status") in (400, 401):
                            raise ServiceError(int(frame["status"]), frame.get("detail", "refused"))
                        elif pictures:
                            yield frame
            except (ConnectionClosed, OSError, InvalidStatus) as exc:
                if isinstance(exc, ConnectionClosed) and exc.rcvd is not None and exc.rcvd.code in (4400, 4401):
                    raise ServiceError(exc.rcvd.code - 4000, exc.rcvd.reason) from exc
                now = time.monotonic()
                down_since = down_since or now
                if now - down_since > reconnect_for_s:
                    raise
                time.sleep(0.2)
