"""The service's state, derived from the record: events, sequence numbers, open requests.

`Hub` is the one place where anything is accepted. Each accepted thing is appended to
the record first (fsync), then applied to the in-memory state by `apply(entry)` — the
same function that rebuilds the state from the record at start, so a restart after a
SIGKILL comes back to exactly what had been acknowledged. Event sequence numbers are
the record's own `seq`: per service, increasing, shared by every stream (report
batches take numbers too, so event numbers have gaps, never repeats).
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sharedsky.alerting.notice_book import NoticeBook, qualified, spec_from_body
from sharedsky.ingest.notices import NoticeError
from sharedsky.ingest.tracks import TrackTable
from sharedsky.record.checkpoint import NoteError, SignedNote, verify_cosignature
from sharedsky.record.keys import KeyInfo, KeyStore
from sharedsky.record.log import Entry, Record, RecordError, canonical_json, load_public_key, unb64
from sharedsky.record.notary import Notary, trust_of
from sharedsky.service.hotline import ALL, Hotline, MessageError
from sharedsky.service.identity import ATTEMPT_IDS, Owners, qualify_ids
from sharedsky.service.quotas import Quotas, TooMany
from sharedsky.service.reports import (
    MAX_BATCH,
    ReportError,
    columns_from_payload,
    columns_payload,
    validate_reports,
)

EVENT_KINDS = ("conflict", "loss_of_separation", "airspace", "distress", "notice", "request",
               "response", "overdue", "ack", "unacknowledged", "delivered", "not_delivered", "witness_alarm",
               "notice_conflict", "notice_volume", "advisory", "wellclear")
#: Messages whose delivery to each addressee is proven by that party's witness (issue 15).
MESSAGE_KINDS = ("distress", "notice", "request", "response")
#: Kinds that change state without being events of their own.
STATE_KINDS = ("distress_clear",)
AIRSPACE_ACK_STATES = ("warning", "violation")
#: Reports older than this are not replayed into the live picture at start.
REBUILD_REPORTS_S = 120.0
#: An aircraft not reported for this long is no longer live: it leaves the track table and
#: its first reporter no longer owns it (the engine loop's coast time).
LIVE_S = 60.0
#: How often the service reads the revoked keys (a revoked key's streams end within this
#: and a stream's wake-up; issue 14 asks for 1 s).
REVOCATION_POLL_S = 0.2
#: A base64 Ed25519 signature is 88 characters; anything much longer is not one.
MAX_SIGNATURE_CHARS = 128
#: Events kept in memory (the latest); older ones are read from the record when asked for.
EVENTS_KEPT = 20_000

log = logging.getLogger("sharedsky.service")


class Forbidden(Exception):
    """403: the key may not do this (the message says why)."""


class NotFound(Exception):
    """404: no such event or request (for this party)."""


class Revoked(Exception):
    """The key of an open stream has been revoked: the stream ends (401, WebSocket 4401)."""


@dataclass
class StoredEvent:
    """One event as kept in memory: who may see it and its JSON, serialised once."""

    seq: int
    audience: frozenset[str] | None  # None: every party
    event: dict[str, Any]
    text: str


@dataclass(eq=False)
class Subscriber:
    loop: asyncio.AbstractEventLoop
    flag: asyncio.Event

    def notify(self) -> None:
        try:
            self.loop.call_soon_threadsafe(self.flag.set)
        except RuntimeError:  # loop closed
            pass


@dataclass
class Counters:
    reports_accepted: int = 0
    report_batches: int = 0
    reports_rejected: Counter[str] = field(default_factory=Counter)
    messages_rejected: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    clients: int = 0
    engine_steps: int = 0
    engine_step_ms: list[float] = field(default_factory=list)
    #: When the engine step a restarted service resumed from ran (UTC epoch s), if it did.
    engine_resumed_from: float | None = None


class Hub:
    """Accepts reports, messages and acks; keeps events; tells streams when there is news."""

    def __init__(self, agreement: Any, db_path: str, *, max_age_s: float = 20.0,
                 require_signatures: bool = False, clock: Any = time.time) -> None:
        self.agreement = agreement
        self.parties: tuple[str, ...] = tuple(agreement.party_ids)
        self.default_party: str = agreement.default_party
        self.level_names = [m.name for m in agreement.minima_levels()]
        self.record = Record(db_path)
        self.keys = KeyStore(db_path, self.record)
        #: The agreement's keys for the record, checkpoints and cosignatures (issue 15).
        self.trust = trust_of(agreement, self.record.public_key)
        log_key = agreement.record.log_key
        if log_key and log_key != self.record.public_key:
            raise RecordError(f"{db_path}: the agreement's [record] log_key is not this record's server key "
                              f"({self.record.public_key})")
        self.notary = Notary(self.record, self.trust)
        self.deliver_within_s = float(agreement.record.deliver_within_s)
        #: (seq, party) -> time sent, for messages and warnings not yet proven delivered.
        self.undelivered: dict[tuple[int, str], float] = {}
        self.late: set[tuple[int, str]] = set()
        #: The latest checkpoint each party's witness cosigned (its own view; evidence of forks).
        self.witness_notes: dict[str, str] = {}
        #: Test-only misbehaviour (`SHAREDSKY_TEST_MISBEHAVE`), see sharedsky.service.misbehave.
        self.views: dict[str, Any] = {}
        self.max_age_s = max_age_s
        line = getattr(agreement, "line", None)
        #: Largest report body or WebSocket frame accepted, bytes (`[line] max_body_bytes`).
        self.max_body_bytes = int(getattr(line, "max_body_bytes", 16 * 1024 * 1024))
        self.require_signatures = require_signatures
        self.clock = clock
        self.table = TrackTable(self.parties)
        self.owners = Owners()
        #: Per-party quotas of the agreement's `[line]` (issue 14, defect 3).
        self.quotas = Quotas(getattr(agreement, "line", None))
        self.live_s = LIVE_S
        # Held from the ownership check to the claim, so two parties never both take an id.
        self._owners_lock = threading.Lock()
        self.hotline = Hotline(float(agreement.channels.ack_within_s))
        #: Every party's notified operations and the conflicts between them (issue 17).
        self.notice_book = NoticeBook(agreement)
        self._notice_events: list[dict[str, Any]] = []
        self.events: list[StoredEvent] = []
        self._seqs: list[int] = []
        self._by_seq: dict[int, StoredEvent] = {}
        #: Whether older events than those in memory exist (read from the record then).
        self._trimmed = False
        self.distress_active: set[str] = set()
        self.counters = Counters()
        self.lock = threading.RLock()
        self._subs: set[Subscriber] = set()
        self._subs_lock = threading.Lock()
        self.picture: Any = None
        self.picture_version = 0
        #: The last record seq of a report batch applied to the track table (hub lock): the seq
        #: an engine step's picture was built from, so the map's history can rebuild it exactly.
        self.table_seq = 0
        self.on_reports: Any = None  # set by the engine loop: called after each accepted batch
        #: Clear while an engine step computes (`yield_to_engine`).
        self.engine_idle = threading.Event()
        self.engine_idle.set()
        #: A history of a record (`serve --history`, `replay --map`): shows the past, accepts nothing.
        self.read_only = False
        #: Revoked key ids as last read from the database (`watch_revocations` keeps it fresh).
        self.revoked: frozenset[str] = frozenset(self.keys.revoked_ids())
        self._rebuild()

    # -- start-up -------------------------------------------------------------------
    def _rebuild(self) -> None:
        """State from the record: every event and state entry, and recent reports."""
        kinds = EVENT_KINDS + STATE_KINDS
        with self.record.lock:
            n = int(self.record.connection.execute(
                f"SELECT COUNT(*) FROM record WHERE kind IN ({','.join('?' * len(kinds))})", kinds).fetchall()[0][0])
        # Every event updates the state (open requests, pending acks); only the latest are kept
        # in memory as streamable events, and only those are serialised.
        for k, e in enumerate(self.record.entries(kinds=kinds)):
            self.apply(e, notify=False, keep=k >= n - EVENTS_KEPT // 2)
        since = self.clock() - REBUILD_REPORTS_S
        for e in self.record.entries(kinds=["reports"], since_t=since):
            d = e.data
            cols = columns_from_payload(d["columns"])
            if e.party in self.parties and not d.get("supervisor"):
                self.owners.claim(cols["icao24"], e.party, e.t)
            self._update_table(cols, d.get("source", e.party))
            self.table_seq = e.seq

    # -- subscribers ----------------------------------------------------------------
    def subscribe(self) -> Subscriber:
        sub = Subscriber(asyncio.get_running_loop(), asyncio.Event())
        with self._subs_lock:
            self._subs.add(sub)
            self.counters.clients = len(self._subs)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._subs_lock:
            self._subs.discard(sub)
            self.counters.clients = len(self._subs)

    # -- revocation -----------------------------------------------------------------------
    def check_revocations(self) -> bool:
        """Re-read the revoked keys; wake every stream if there is a new one (True then).

        `sharedsky keys revoke` runs in another process and writes only the database, so
        the service polls it (`watch_revocations`); each stream then checks its own key
        (`key_revoked`) and ends (issue 14, defect 7).
        """
        now = frozenset(self.keys.revoked_ids())
        if now == self.revoked:
            return False
        self.revoked = now
        self.notify()
        return True

    def key_revoked(self, key_id: str, fresh: bool = False) -> bool:
        """Has this key been revoked? `fresh` reads the database now (for a frame that is
        about to change state), else the last poll (for streams, at most 0.2 s old)."""
        if fresh:
            return not self.keys.is_live(key_id)
        return key_id in self.revoked

    def watch_revocations(self, stop: threading.Event, every_s: float = REVOCATION_POLL_S) -> None:
        """Poll the database for revoked keys until `stop` (runs on its own thread)."""
        while not stop.wait(every_s):
            try:
                self.check_revocations()
            except Exception:  # a busy or locked database: try again next time
                log.warning("could not read revoked keys", exc_info=True)

    def notify(self) -> None:
        with self._subs_lock:
            subs = list(self._subs)
        for s in subs:
            s.notify()

    # -- the record -> state ----------------------------------------------------------
    def apply(self, e: Entry, notify: bool = True, keep: bool = True) -> None:
        """Apply one recorded entry to the in-memory state (live and at start); `keep=False`
        updates the state without keeping the event in memory (old events at start-up)."""
        if e.kind == "distress_clear":
            self.distress_active.discard(str(e.data.get("icao24")))
            return
        if e.kind not in EVENT_KINDS:
            return
        if keep:
            se = self._stored(e)
            ev = body = se.event
            self.events.append(se)
            self._seqs.append(e.seq)
            self._by_seq[e.seq] = se
        else:
            ev = body = self._event_dict(e)[0]
            self._trimmed = True
        if len(self.events) > EVENTS_KEPT:
            # Start-up and a long run keep only the latest events; older ones are read from
            # the record when asked for (issue 15: a 478,250-entry record took 1.4 GB to open).
            drop = len(self.events) - EVENTS_KEPT // 2
            for old in self.events[:drop]:
                self._by_seq.pop(old.seq, None)
            del self.events[:drop]
            del self._seqs[:drop]
            self._trimmed = True
        self.counters.events[e.kind] += 1
        h = self.hotline
        kind = e.kind
        if kind == "ack":
            h.acknowledge(int(body["of_seq"]), str(body["by"]))
        elif kind == "unacknowledged":
            h.flagged_unacknowledged(int(body["of_seq"]), str(body["party"]))
        elif kind == "request":
            h.open_request(e.seq, str(body["from"]), str(body["to"]), float(body["deadline_s"]))
        elif kind == "response":
            h.answer(int(body["request_seq"]))
        elif kind == "overdue":
            h.mark_overdue(int(body["request_seq"]))
        elif kind == "distress" and body.get("auto") and body.get("icao24"):
            self.distress_active.add(str(body.get("icao24")))
        elif kind == "delivered":
            self.undelivered.pop((int(body["of_seq"]), str(body["party"])), None)
        elif kind == "not_delivered":
            self.late.add((int(body["of_seq"]), str(body["party"])))
        elif kind == "notice":
            try:
                spec = spec_from_body(body)
            except (KeyError, TypeError, ValueError):
                # A notice without volumes (a record written before notified operations, or a
                # free-text notice): kept in the record, not an operation of the book.
                spec = None
            if spec is not None:
                party = str(body.get("from", e.party))
                op = qualified(party, spec.operation) if spec.operation else f"{party}:notice-{e.seq}"
                # Conflicts it causes: appended by `post_message` live; at start they are in the record.
                self._notice_events = self.notice_book.apply(party, op, int(spec.version or 1), spec, e.t)
        need = self.ack_parties(ev)
        if need:
            h.expect_ack(e.seq, need, e.t)
        for p in self.delivery_parties(ev, e.party, need):
            self.undelivered[(e.seq, p)] = e.t
        if notify:
            self.notify()

    @staticmethod
    def _event_dict(e: Entry) -> tuple[dict[str, Any], frozenset[str] | None]:
        """An event entry's event as streamed, and its audience (None: every party)."""
        d = e.data
        body = {k: v for k, v in d["event"].items() if k not in ("kind", "seq")}
        to = d.get("to", [ALL])
        audience = None if ALL in to else frozenset(to)
        t = float(body.pop("t", e.t))
        return {"seq": e.seq, "t": t, "kind": e.kind, **body}, audience

    @classmethod
    def _stored(cls, e: Entry) -> StoredEvent:
        """An event entry as streamed: its audience and its JSON, serialised once."""
        ev, audience = cls._event_dict(e)
        return StoredEvent(e.seq, audience, ev, json.dumps(ev, separators=(",", ":")))

    def event(self, seq: int) -> StoredEvent | None:
        """The event with this seq: from memory, else (an old one) from the record."""
        se = self._by_seq.get(seq)
        if se is not None or not self._trimmed or (self._seqs and seq >= self._seqs[0]):
            return se
        e = self.record.entry(seq)
        return None if e is None or e.kind not in EVENT_KINDS else self._stored(e)

    def ack_parties(self, ev: dict[str, Any]) -> list[str]:
        """Parties that must acknowledge this event (alerts, warnings and advisories).

        A suppressed conflict or loss of separation (the agreement's `[suppression]`
        volumes, `suppressed: true`) is recorded and streamed but needs no
        acknowledgement; one whose suppression is lifted (`updated` with `suppressed:
        false`) does, like a new alert."""
        kind, state = ev["kind"], ev.get("state")
        out: list[str] = []
        suppressed = ev.get("suppressed") is True
        if (kind == "conflict" and state in ("new", "updated") and ev.get("level") == self.level_names[-1]
                and not suppressed):
            out = [ev.get("party_a", ""), ev.get("party_b", "")]
        elif kind == "loss_of_separation" and not suppressed and (
                state == "start" or (state == "updated" and ev.get("suppressed") is False)):
            out = [ev.get("party_a", ""), ev.get("party_b", "")]
        elif kind == "advisory" and state in ("new", "updated"):
            # A resolution advisory is acknowledged by the party flying it, like a warning.
            out = [ev.get("party", "")]
        elif kind == "airspace" and state in AIRSPACE_ACK_STATES:
            out = [ev.get("party", "")]
        elif kind == "notice_conflict" and state in ("new", "updated"):
            out = list(ev.get("parties", []))
        elif kind == "notice_volume" and state in AIRSPACE_ACK_STATES:
            out = [ev.get("party", "")]
        elif kind == "distress":
            # Automatic distress comes from the aircraft of `party`: the others acknowledge it.
            sender = ev.get("party") if ev.get("auto") else ev.get("from")
            out = [p for p in self.parties if p != sender]
        seen: list[str] = []
        for p in out:
            if p and p in self.parties and p != self.default_party and p not in seen:
                seen.append(p)
        return seen

    def delivery_parties(self, ev: dict[str, Any], sender: str, need: list[str]) -> list[str]:
        """Parties with a witness to whom this event is addressed (a message, or an alert they must ack)."""
        w = self.trust.witnesses
        if not w:
            return []
        if ev["kind"] in MESSAGE_KINDS:
            if ev["kind"] in ("request", "response"):
                to = [str(ev.get("to", ""))]
            else:
                to = list(self.parties)
            return [p for p in to if p in w and p != sender and p != self.default_party]
        return [p for p in need if p in w]

    def append_events(self, items: Iterable[tuple[str, str, dict[str, Any], str | None]],
                      t: float | None = None, *,
                      state: tuple[str, Callable[[int], bytes]] | None = None) -> list[Entry]:
        """Record (one fsync) then apply a batch of (kind, party, payload, party_sig);
        `state`: working state written in the same transaction (`Record.append_many`)."""
        items = list(items)
        if not items and state is None:
            return []
        with self.lock:
            entries = self.record.append_many(items, t, state=state)
            for e in entries:
                self.apply(e, notify=False)
        if entries:
            self.notify()
        return entries

    # -- reading events -------------------------------------------------------------
    @staticmethod
    def may_see(who: KeyInfo, se: StoredEvent) -> bool:
        return who.supervisor or se.audience is None or who.party in se.audience

    def events_for(self, who: KeyInfo, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Events this key may see with seq > after, in order, at most `limit`."""
        out: list[StoredEvent] = []
        with self.lock:
            if self._trimmed and (not self._seqs or after + 1 < self._seqs[0]):
                for e in self.record.entries(after=after, kinds=EVENT_KINDS, page=min(limit, 2000)):
                    se = self._stored(e)
                    if self.may_see(who, se):
                        out.append(se)
                        if len(out) >= limit:
                            break
                return out
            k = bisect.bisect_right(self._seqs, after)
            evs = self.events
            while k < len(evs) and len(out) < limit:
                se = evs[k]
                if self.may_see(who, se):
                    out.append(se)
                k += 1
        return out

    @property
    def last_seq(self) -> int:
        return self.record.head()[0]

    def _writable(self) -> None:
        if self.read_only:
            raise Forbidden("this service shows the history of a record and accepts nothing")

    # -- reports ------------------------------------------------------------------------
    def _update_table(self, cols: dict[str, np.ndarray], source: str) -> np.ndarray:
        n = cols["t_s"].shape[0]
        party = self.agreement.attribute(cols["icao24"], cols["callsign"], np.full(n, source, dtype=object))
        party = self._owned(cols["icao24"], party)
        self.table.update_columns({**cols, "source": np.full(n, source, dtype=object)}, party)
        return party

    def _owned(self, ids: np.ndarray, party: np.ndarray) -> np.ndarray:
        """Party codes with each live owned aircraft given to its owner (feeds, supervisors)."""
        if not len(self.owners):
            return party
        owner = self.owners.of(ids, self.clock() - self.live_s)
        has = np.flatnonzero(owner != "")
        if has.size:
            party = party.copy()
            party[has] = [self.parties.index(str(p)) for p in owner[has].tolist()]
        return party

    def expire(self, now_s: float, coast_s: float) -> None:
        """Forget aircraft not heard from for `coast_s` (table and owners; hub lock held)."""
        self.live_s = coast_s
        self.table.expire(now_s, coast_s)
        with self._owners_lock:
            self.owners.expire(now_s - coast_s)

    def _refuse(self, who: KeyInfo, reason: str, ids: np.ndarray, rows: np.ndarray, owners: np.ndarray,
                n: int, text: str) -> Forbidden:
        """Record an attempt to report another party's aircraft; the 403 to raise.

        The record keeps who tried, how many reports and which aircraft (the first
        `ATTEMPT_IDS`) with their owners, never the positions: a refused batch changes
        nothing else. The 403 names no owner (who flies an id is the disclosure rule's to
        tell), and the entry's payload is withheld from every party's copy of the record
        (`may_read_payload`), the refused party's included: only supervisors read it.
        """
        named = pd.unique(ids[rows]).tolist()[:ATTEMPT_IDS]
        first_owner: dict[str, str] = {}
        for i in rows.tolist():
            first_owner.setdefault(str(ids[i]), str(owners[i]))
        self.record.append("report_refused", who.party, {
            "reason": reason, "reports": n, "refused": int(rows.size), "icao24": named,
            "owners": {k: first_owner[k] for k in named}, "key_id": who.key_id})
        self.counters.reports_rejected[reason] += 1
        return Forbidden(f"{text}; the attempt is recorded")

    def submit_reports(self, who: KeyInfo, body: Any) -> tuple[int, int]:
        """Validate, check attribution, record and apply a batch; (accepted, record seq)."""
        self._writable()
        now = self.clock()
        reps = body.get("reports") if isinstance(body, dict) else None
        if not who.supervisor and isinstance(reps, list) and 0 < len(reps) <= MAX_BATCH:
            # The bucket is asked as soon as the batch's size is known: a batch over it is
            # refused before it costs a validation (issue 14, defect 3).
            try:
                self.quotas.reports(who.party, len(reps))
            except ValueError as exc:
                self.counters.reports_rejected["reports"] += 1
                raise ReportError("reports", str(exc)) from exc
            except TooMany:
                self.counters.reports_rejected["quota"] += 1
                raise
        try:
            cols = validate_reports(body, now, float(self.agreement.line.clock_skew_s))
        except ReportError as exc:
            self.counters.reports_rejected[exc.field.split(".")[-1].split("[")[0]] += 1
            raise
        n = cols["t_s"].shape[0]
        source = who.party
        if not who.supervisor:
            cols["icao24"] = qualify_ids(cols["icao24"], who.party)
        ids = cols["icao24"]
        party = self.agreement.attribute(ids, cols["callsign"], np.full(n, source, dtype=object))
        with self._owners_lock:
            if who.supervisor:
                party = self._owned(ids, party)
            else:
                own = self.parties.index(who.party)
                names = np.asarray(self.parties, dtype=object)
                bad = np.flatnonzero(party != own)
                if bad.size:
                    i = int(bad[0])
                    raise self._refuse(who, "forbidden", ids, bad, names[party], n,
                                       f"reports[{i}]: aircraft {ids[i]!r} is attributed by the agreement "
                                       f"to another party")
                owner = self.owners.of(ids, now - self.live_s)
                bad = np.flatnonzero((owner != "") & (owner != who.party))
                if bad.size:
                    i = int(bad[0])
                    raise self._refuse(who, "owned", ids, bad, owner, n,
                                       f"reports[{i}]: aircraft {ids[i]!r} is reported by another party")
                try:
                    self.quotas.aircraft(who.party, self.owners.live_with(who.party, ids, now - self.live_s),
                                         self.live_s)
                except TooMany:
                    self.counters.reports_rejected["quota"] += 1
                    raise
            # Claimed now, so that no other party's batch can take these aircraft meanwhile,
            # but recorded outside the lock: another party's batch never waits for this
            # one's write (issue 14, defect 3). Undone if the write fails.
            before = None if who.supervisor else self.owners.claim(ids, who.party, now)
        payload: dict[str, Any] = {"source": source, "columns": columns_payload(cols)}
        if who.supervisor:
            payload["supervisor"] = True
        # Recorded (fsync) before it is applied or acknowledged. Report batches are not
        # events, so they need not be ordered with them: the hub lock (which the engine
        # step needs) is held only for the table update, not during the fsync.
        try:
            e = self.record.append("reports", who.party, payload)
        except BaseException:
            if before is not None:
                with self._owners_lock:
                    self.owners.restore(before)
            raise
        with self.lock:
            self.table.update_columns({**cols, "source": np.full(n, source, dtype=object)}, party)
            self.table_seq = max(self.table_seq, e.seq)
            self.counters.reports_accepted += n
            self.counters.report_batches += 1
        if self.on_reports is not None:
            self.on_reports()
        return n, e.seq

    def yield_to_engine(self, timeout_s: float = 1.0) -> None:
        """Waits (at most `timeout_s`) for a running engine step to end before bulk work starts
        (a large batch, a picture publication): the step's alerts come first. The service's
        threads share one interpreter lock, and a step that computes 60 ms took 450 ms
        beside a party's flood of batches and the pictures of its crowd."""
        self.engine_idle.wait(timeout_s)

    def admit_reports(self, who: KeyInfo) -> None:
        """429 before a party's batch is read if its report bucket is empty (no batch could pass)."""
        if who.supervisor:
            return
        try:
            self.quotas.reports_empty(who.party)
        except TooMany:
            self.counters.reports_rejected["quota"] += 1
            raise

    def ingest_feed(self, cols: dict[str, np.ndarray], source: str) -> int:
        """Reports from a feed the operator named (already quality-gated): record, apply."""
        n = cols["t_s"].shape[0]
        if n == 0:
            return 0
        e = self.record.append("reports", "", {"source": source, "columns": columns_payload(cols)})
        with self.lock:
            self._update_table(cols, source)
            self.table_seq = max(self.table_seq, e.seq)
            self.counters.reports_accepted += n
            self.counters.report_batches += 1
        if self.on_reports is not None:
            self.on_reports()
        return e.seq

    # -- messages and acks --------------------------------------------------------------
    def post_message(self, who: KeyInfo, msg: Any) -> int:
        """Validate, check the party's signature, record; the new event's seq."""
        self._writable()
        if not who.supervisor and who.party not in self.parties:
            raise Forbidden(f"key's party {who.party!r} is not a party of the agreement")
        if not who.supervisor:
            try:
                self.quotas.messages(who.party)
            except TooMany:
                self.counters.messages_rejected["quota"] += 1
                raise
        ch = self.agreement.channels
        sig = msg.get("signature") if isinstance(msg, dict) else None
        message = {k: v for k, v in msg.items() if k != "signature"} if isinstance(msg, dict) else msg
        with self.lock:
            try:
                kind, to, body = self.hotline.check_message(
                    message, who.party, self.parties, list(ch.distress_mhz),
                    float(ch.notice_lead_s), self.clock(), self.agreement.notices)
                if kind == "notice" and body.get("operation") is not None:
                    try:
                        op, version = self.notice_book.resolve(who.party, spec_from_body(body), 0)
                    except NoticeError as exc:
                        raise MessageError(exc.field, exc.reason) from exc
                    body.update(operation=op, version=version)
                if sig is not None:
                    if not isinstance(sig, str) or len(sig) > MAX_SIGNATURE_CHARS:
                        raise MessageError("signature", f"must be a base64 string of at most "
                                           f"{MAX_SIGNATURE_CHARS} characters (an Ed25519 signature is 88)")
                    try:
                        load_public_key(who.public_key).verify(
                            unb64(sig), canonical_json(message).encode("utf-8"))
                    except Exception as exc:
                        raise MessageError("signature", "does not verify with this key's signing key "
                                           "(sign the canonical JSON of the message without 'signature')"
                                           ) from exc
                elif self.require_signatures:
                    raise MessageError("signature", "required by this service")
            except MessageError as exc:
                self.counters.messages_rejected[str(exc).split(":")[0]] += 1
                raise
            if kind == "distress":
                body["party"] = self.aircraft_party(str(body["icao24"]), str(body.get("callsign", "")))
            payload = {"to": to, "event": body, "message": message, "key_id": who.key_id}
            self._notice_events = []
            entries = self.append_events([(kind, who.party, payload, sig)])
            if self._notice_events:  # strategic conflicts of a notice: one event to both parties each
                found, self._notice_events = self._notice_events, []
                self.append_events([("notice_conflict", "", {
                    "to": ev["to"], "event": {k: v for k, v in ev.items() if k != "to"}}, None) for ev in found])
        return entries[0].seq

    def aircraft_party(self, icao24: str, callsign: str = "") -> str:
        """Whose aircraft an id names: its namespace, else its attribution, else its live owner.

        A DISTRESS call may name another party's aircraft (anyone who sees one go down
        must be able to say so at once); the event then carries both `from` (who called)
        and this `party`, so nobody takes it for the owner's own call (issue 14, defect 11).
        """
        head, colon, _ = icao24.partition(":")
        if colon and head in self.parties:
            return head
        p = self.parties[int(self.agreement.attribute(np.array([icao24], dtype=object),
                                                      np.array([callsign], dtype=object))[0])]
        if p != self.default_party:
            return p
        owner = str(self.owners.of(np.array([icao24], dtype=object), self.clock() - self.live_s)[0])
        return owner or self.default_party

    def ack(self, who: KeyInfo, body: Any) -> tuple[int, bool]:
        """Acknowledge an event; (seq of the ack, True if it had been acknowledged already)."""
        self._writable()
        if not isinstance(body, dict) or set(body) - {"seq"}:
            raise MessageError("body", "must be {\"seq\": N}")
        seq = body.get("seq")
        if type(seq) is not int or seq <= 0:
            raise MessageError("seq", "must be the positive integer seq of an event")
        with self.lock:
            se = self.event(seq)
            if se is None or not self.may_see(who, se):
                raise NotFound(f"seq: no event {seq} for {who.party!r}")
            if se.event["kind"] in ("ack",):
                raise MessageError("seq", "an acknowledgement is not itself acknowledged")
            if (seq, who.party) in self.hotline.acked:
                for other in reversed(self.events):
                    ev = other.event
                    if ev["kind"] == "ack" and ev.get("of_seq") == seq and ev.get("by") == who.party:
                        return other.seq, True
            to = [ALL] if se.audience is None else sorted(se.audience | {who.party})
            ev = {"of_seq": seq, "of_kind": se.event["kind"], "by": who.party}
            entries = self.append_events([("ack", who.party, {"to": to, "event": ev}, None)])
        return entries[0].seq, False

    # -- the record for one party -------------------------------------------------------
    def view(self, who: KeyInfo) -> Any:
        """What this party is shown of the record: the record itself (a test may make it lie)."""
        return self.views.get(who.party, self.record)

    def record_lines(self, who: KeyInfo, after: int = 0, limit: int | None = None) -> Iterable[str]:
        """Entries with seq > after as JSON lines (at most `limit`); payloads, salts and
        signatures this party may not see are withheld (the salted commitment kept)."""
        upto = None if limit is None else after + limit
        for e in self.view(who).entries(after=after, upto=upto):
            yield e.to_json(redact=not self.may_read_payload(who, e)) + "\n"

    # -- checkpoints, witnesses, delivery (issue 15) -------------------------------------
    def checkpoint_text(self, who: KeyInfo) -> str:
        """The latest signed checkpoint (the checkpoint thread signs one a second while the record
        grows; serving that one, not a fresh one per request, lets every witness cosign the same)."""
        v = self.views.get(who.party)
        if v is not None:
            return str(v.checkpoint().text())
        note = self.notary.latest()
        if note is None:
            self.sign_checkpoint()
            note = self.notary.latest()
        assert note is not None
        return note.text()

    def consistency(self, who: KeyInfo, size1: int, size2: int) -> list[bytes]:
        v = self.view(who)
        if not 0 < size1 <= size2 <= v.size:
            raise MessageError("to", f"sizes must satisfy 0 < from <= to <= {v.size}")
        return list(v.consistency(size1, size2))

    def inclusion(self, who: KeyInfo, seq: int, size: int) -> list[bytes]:
        v = self.view(who)
        if not 0 < seq <= size <= v.size:
            raise MessageError("size", f"need 0 < seq <= size <= {v.size}")
        return list(v.inclusion(seq, size))

    def sign_checkpoint(self) -> None:
        """Sign a checkpoint if the record grew (the checkpoint thread, at least once a second)."""
        self.notary.sign()

    def cosign(self, who: KeyInfo, text: Any) -> dict[str, Any]:
        """A witness's cosigned checkpoint: kept as its latest view, counted if it is ours."""
        if not isinstance(text, str):
            raise MessageError("checkpoint", "must be the signed note text with the witness's cosignature")
        party = who.party
        try:
            note = SignedNote.parse(text)
            cp = note.checkpoint
            sig = next((s for n, s in note.sigs if n == party and len(s) == 76), None)
            if sig is None:
                raise NoteError(f"no cosignature of {party!r} in the note")
            own = self.notary.note(cp.size)
            if own is not None and own.body == note.body:
                witnessed = self.notary.cosign(party, cp.size, sig)
            else:
                key = self.trust.witnesses.get(party)
                if key is None or verify_cosignature(note.body, party, key, sig) is None:
                    raise NoteError(f"cosignature of {party!r} does not verify")
                witnessed = False
        except ValueError as exc:  # NoteError, or a malformed note
            raise MessageError("checkpoint", str(exc)) from exc
        self.witness_notes[party] = note.text()
        if witnessed:
            self.deliver(cp.size)
        return {"size": cp.size, "witnessed": witnessed, "witnessed_size": self.notary.witnessed_size()}

    def deliver(self, size: int) -> None:
        """Record `delivered` for each message a witnessed checkpoint of `size` proves its addressee held."""
        by = self.notary.cosigners(size)
        items: list[tuple[str, str, dict[str, Any], str | None]] = []
        with self.lock:
            for (seq, party), t_sent in sorted(self.undelivered.items()):
                if seq > size or party not in by:
                    continue
                se = self.event(seq)
                to = [ALL] if se is None or se.audience is None else sorted(se.audience)
                items.append(("delivered", "", {"to": to, "event": {
                    "of_seq": seq, "of_kind": se.event["kind"] if se else "", "party": party,
                    "sent_t": t_sent, "cosigned_t": by[party], "checkpoint_size": size}}, None))
            if items:
                self.append_events(items)

    def overdue_deliveries(self, now_s: float) -> None:
        """A `not_delivered` event for each addressed message not delivered within the agreement's time."""
        items: list[tuple[str, str, dict[str, Any], str | None]] = []
        with self.lock:
            for (seq, party), t_sent in sorted(self.undelivered.items()):
                if (seq, party) in self.late or now_s - t_sent < self.deliver_within_s:
                    continue
                se = self.event(seq)
                to = [ALL] if se is None or se.audience is None else sorted(se.audience)
                items.append(("not_delivered", "", {"to": to, "event": {
                    "of_seq": seq, "of_kind": se.event["kind"] if se else "", "party": party, "sent_t": t_sent,
                    "deliver_within_s": self.deliver_within_s}}, None))
            if items:
                self.append_events(items)

    def alarm(self, who: KeyInfo, body: Any) -> int:
        """A witness's alarm (rollback, fork, entries that do not match): recorded, sent to every party."""
        if not isinstance(body, dict) or set(body) - {"kind", "detail", "evidence"}:
            raise MessageError("body", 'must be {"kind": "...", "detail": "...", "evidence": [notes]}')
        for f, n in (("kind", 40), ("detail", 2000)):
            if not isinstance(body.get(f), str) or len(body[f]) > n:
                raise MessageError(f, f"must be a string of at most {n} characters")
        evidence = body.get("evidence", [])
        if (not isinstance(evidence, list) or len(evidence) > 4
                or not all(isinstance(x, str) and len(x) <= 8192 for x in evidence)):
            raise MessageError("evidence", "must be at most 4 signed notes (text, 8192 characters each)")
        if not who.supervisor:
            self.quotas.messages(who.party)  # alarms count against the party's message quota
        ev = {"party": who.party, "alarm": body["kind"], "detail": body["detail"], "evidence": evidence}
        return self.append_events([("witness_alarm", who.party, {"to": [ALL], "event": ev}, None)])[0].seq

    def may_read_payload(self, who: KeyInfo, e: Entry) -> bool:
        if who.supervisor or e.kind in ("genesis", "party_key", "key_revoked", "migrated"):
            return True
        if e.kind == "report_refused":  # names the owners of the aircraft it was refused
            return False
        if e.party == who.party:
            return True
        if e.kind in EVENT_KINDS:
            se = self.event(e.seq)
            return se is not None and self.may_see(who, se)
        return False
