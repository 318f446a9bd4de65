"""The hotline: messages between parties, and the timers that make silence visible.

Messages are DISTRESS (to every party, with the agreed frequencies), NOTICE of planned
operations (flagged `short_notice` when given later than the agreement requires),
REQUEST (to one party, answered by a deadline) and RESPONSE. `Hotline` keeps what is
still open: requests awaiting an answer (-> `overdue`) and alerts or warnings awaiting
an acknowledgement (-> `unacknowledged`). It is rebuilt by replaying the record's
entries through `apply`, the same path the live service takes.
"""

from __future__ import annotations

import heapq
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sharedsky.alerting.notice_book import notice_body
from sharedsky.ingest.notices import NOTICE_FIELDS, NoticeError, parse_notice
from sharedsky.service.identity import qualify_id
from sharedsky.service.reports import ID_RE, _parse_time

MESSAGE_TYPES = ("DISTRESS", "NOTICE", "REQUEST", "RESPONSE")
MAX_TEXT = 2000
MAX_DEADLINE_S = 30 * 86400.0
ALL = "*"
#: Control and bidirectional-override characters refused in free text (\t and \n are kept).
CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: Times a message may carry (epoch s): every one of them can be written back as ISO 8601.
MIN_TIME_S = 0.0
MAX_TIME_S = 253402300799.0


class MessageError(ValueError):
    """A refused message: `status` (422, 403 or 404) and a text naming the field."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.status = status


def iso(t_s: float) -> str:
    return datetime.fromtimestamp(t_s, UTC).isoformat().replace("+00:00", "Z")


def _num(msg: dict[str, Any], key: str, lo: float, hi: float, required: bool = True) -> float | None:
    v = msg.get(key)
    if v is None:
        if required:
            raise MessageError(key, "required")
        return None
    if type(v) not in (int, float):
        raise MessageError(key, f"must be a number, got {type(v).__name__}")
    if not math.isfinite(v):
        raise MessageError(key, f"must be a finite number between {lo:g} and {hi:g}")
    if not lo <= v <= hi:
        raise MessageError(key, f"must be between {lo:g} and {hi:g}, got {v!r}")
    return float(v)


def _text(msg: dict[str, Any], key: str, required: bool = True, max_len: int = MAX_TEXT,
          single_line: bool = False) -> str:
    """A text field: free text may hold line breaks and tabs, never other control or
    direction-override characters (they rewrite what another party's screen shows);
    a `single_line` field (ids, callsigns) holds printable characters only."""
    v = msg.get(key)
    if v is None:
        if required:
            raise MessageError(key, "required")
        return ""
    if not isinstance(v, str):
        raise MessageError(key, f"must be a string, got {type(v).__name__}")
    if len(v) > max_len:
        raise MessageError(key, f"at most {max_len} characters, got {len(v)}")
    bad = next((c for c in v if not c.isprintable()), None) if single_line else None
    if bad is None and not single_line:
        m = CONTROL_RE.search(v)
        bad = m.group() if m else None
    if bad is not None:
        allowed = "printable characters only" if single_line else "no control characters but line breaks and tabs"
        raise MessageError(key, f"must hold {allowed}, found U+{ord(bad):04X} at {v.index(bad)}")
    if required and not v.strip():
        raise MessageError(key, "must not be empty")
    return v


def _time(msg: dict[str, Any], key: str) -> float:
    v = msg.get(key)
    if v is None:
        raise MessageError(key, "required")
    t = _parse_time(v)
    if t is None:
        raise MessageError(key, "must be an ISO 8601 time such as 2026-01-01T12:00:00Z or epoch seconds")
    if not MIN_TIME_S <= t <= MAX_TIME_S:
        raise MessageError(key, "must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z")
    return t


ALLOWED_FIELDS = {
    "DISTRESS": {"icao24", "latitude", "longitude", "altitude", "nature", "callsign"},
    "NOTICE": set(NOTICE_FIELDS),
    "REQUEST": {"to", "text", "deadline"},
    "RESPONSE": {"request_seq", "text"},
}


@dataclass
class OpenRequest:
    seq: int
    sender: str
    to: str
    deadline_s: float


@dataclass
class Hotline:
    """Open requests and pending acknowledgements, with deadline heaps."""

    ack_within_s: float
    requests: dict[int, OpenRequest] = field(default_factory=dict)
    answered: set[int] = field(default_factory=set)
    overdue_flagged: set[int] = field(default_factory=set)
    # (of_seq, party) -> deadline
    pending_acks: dict[tuple[int, str], float] = field(default_factory=dict)
    acked: set[tuple[int, str]] = field(default_factory=set)
    _req_heap: list[tuple[float, int]] = field(default_factory=list)
    _ack_heap: list[tuple[float, int, str]] = field(default_factory=list)

    # -- validation -------------------------------------------------------------------
    def check_message(self, msg: Any, sender: str, parties: tuple[str, ...], distress_mhz: list[float],
                      notice_lead_s: float, now_s: float, notices: Any = None) -> tuple[str, list[str], dict[str, Any]]:
        """(kind, audience, event body) of a valid message; MessageError otherwise.
        `notices`: the agreement's `[notices]` (purposes, volumes per operation)."""
        if not isinstance(msg, dict):
            raise MessageError("body", "must be a JSON object with a 'type'")
        typ = msg.get("type")
        if typ not in MESSAGE_TYPES:
            raise MessageError("type", f"must be one of {', '.join(MESSAGE_TYPES)}, got {typ!r}")
        for k in msg:
            if k not in ALLOWED_FIELDS[typ] and k not in ("type", "signature"):
                raise MessageError(k, f"unknown field for {typ} (allowed: {', '.join(sorted(ALLOWED_FIELDS[typ]))})")
        body: dict[str, Any] = {"from": sender}
        if typ == "DISTRESS":
            icao = _text(msg, "icao24", max_len=72, single_line=True).strip().lower()
            head, colon, local = icao.partition(":")
            if colon and head in parties:  # another party's track as pictures name it
                if not ID_RE.fullmatch(local):
                    raise MessageError("icao24", f"must be 6 hex digits or a track id, got {icao[:80]!r}")
            elif not ID_RE.fullmatch(icao):
                raise MessageError("icao24", "must be 6 hex digits or a track id of letters, digits and _.:- "
                                   f"(max 32), got {icao[:80]!r}")
            else:
                icao = qualify_id(icao, sender)  # the sender's own track ids, as its reports are
            body.update(
                icao24=icao,
                latitude=_num(msg, "latitude", -90, 90),
                longitude=_num(msg, "longitude", -180, 180),
                nature=_text(msg, "nature", max_len=500),
                auto=False,
                frequencies_mhz=list(distress_mhz),
            )
            alt = _num(msg, "altitude", -2000, 150000, required=False)
            if alt is not None:
                body["altitude"] = alt
            if msg.get("callsign") is not None:
                body["callsign"] = _text(msg, "callsign", max_len=32, single_line=True)
            return "distress", [ALL], body
        if typ == "NOTICE":
            try:
                spec = parse_notice(msg, notices)
            except NoticeError as exc:
                raise MessageError(exc.field, exc.reason) from exc
            body.update(notice_body(spec, now_s, notice_lead_s))
            if spec.operation is not None:
                body["operation"] = spec.operation
            if spec.version is not None:
                body["version"] = spec.version
            body["text"] = _text(msg, "text", required=False)
            return "notice", [ALL], body
        if typ == "REQUEST":
            to = _text(msg, "to", max_len=64, single_line=True)
            if to not in parties:
                raise MessageError("to", f"must be a party of the agreement ({', '.join(parties)}), got {to!r}")
            if to == sender:
                raise MessageError("to", "a request goes to another party")
            deadline = _time(msg, "deadline")
            if deadline <= now_s:
                raise MessageError("deadline", "must be in the future")
            if deadline > now_s + MAX_DEADLINE_S:
                raise MessageError("deadline", "must be within 30 days")
            body.update(to=to, text=_text(msg, "text"), deadline=iso(deadline), deadline_s=deadline)
            return "request", [sender, to], body
        # RESPONSE
        rs = msg.get("request_seq")
        if type(rs) is not int or rs <= 0:
            raise MessageError("request_seq", "must be the positive integer seq of a request")
        req = self.requests.get(rs)
        if req is None or req.to != sender:
            # One neutral answer for both: whom someone else's request went to is not the sender's business.
            raise MessageError("request_seq", f"no request with seq {rs} for {sender!r}", status=404)
        body.update(request_seq=rs, to=req.sender, text=_text(msg, "text"),
                    late=bool(now_s > req.deadline_s))
        return "response", [req.sender, sender], body

    # -- state --------------------------------------------------------------------------
    def expect_ack(self, seq: int, parties: list[str], t_s: float) -> None:
        for p in parties:
            if (seq, p) in self.acked:
                continue
            d = t_s + self.ack_within_s
            self.pending_acks[(seq, p)] = d
            heapq.heappush(self._ack_heap, (d, seq, p))

    def acknowledge(self, seq: int, party: str) -> None:
        self.acked.add((seq, party))
        self.pending_acks.pop((seq, party), None)

    def flagged_unacknowledged(self, seq: int, party: str) -> None:
        self.pending_acks.pop((seq, party), None)

    def open_request(self, seq: int, sender: str, to: str, deadline_s: float) -> None:
        self.requests[seq] = OpenRequest(seq, sender, to, deadline_s)
        heapq.heappush(self._req_heap, (deadline_s, seq))

    def answer(self, request_seq: int) -> None:
        self.answered.add(request_seq)

    def mark_overdue(self, request_seq: int) -> None:
        self.overdue_flagged.add(request_seq)

    def due(self, now_s: float) -> tuple[list[OpenRequest], list[tuple[int, str]]]:
        """Requests past their deadline unanswered, and (seq, party) acks past due, now."""
        overdue: list[OpenRequest] = []
        while self._req_heap and self._req_heap[0][0] < now_s:
            _, seq = heapq.heappop(self._req_heap)
            if seq not in self.answered and seq not in self.overdue_flagged and seq in self.requests:
                overdue.append(self.requests[seq])
        late: list[tuple[int, str]] = []
        while self._ack_heap and self._ack_heap[0][0] < now_s:
            d, seq, p = heapq.heappop(self._ack_heap)
            if self.pending_acks.get((seq, p)) == d:
                late.append((seq, p))
        return overdue, late
