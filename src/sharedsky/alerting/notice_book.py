"""The book of notified operations: versions, withdrawals, and strategic conflicts.

Every party's notified operations (`NoticeBook.apply`, one NOTICE at a time, live and
when the service rebuilds from its record) with their current version. Each new or
changed operation is checked against every other party's active and planned volumes
(`engine.notices`, an STRtree over space filtered by levels and time), and the book
says what changed: a conflict `new` (to both parties, with the overlapping region,
levels and times), `updated` (a new version of either still overlaps, differently) or
`ended` (a new version, or a withdrawal, removed the overlap). The book reads no clock:
a notice's own time decides which volumes are still planned or active (end after it).

Lead time: a conflict is flagged `short_notice` when the notice that caused it came
later than the agreement's `[channels] notice_lead_s` before the overlap begins. The
volume of lower priority (`[notices] purposes`), or on equal priority the later
notified, is named as the one to give way (`gives_way`).

Index upkeep: the volumes are indexed in one `VolumeSet`; volumes notified since it was
built are kept in a second, small one, and replaced ones are masked out; the index is
rebuilt when either grows past a bound, so a new notice costs a query, not a rebuild.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import shapely

from sharedsky.engine.notices import Pairs, VolumeSet, conflicts_between, overlaps, polygon_area_nm2
from sharedsky.ingest.notices import NoticeError, NoticeSpec, VolumeSpec
from sharedsky.ingest.times import parse_time as _parse_time

#: Volumes notified since the index was built, kept apart before a rebuild.
PENDING_MAX = 256


def iso(t_s: float) -> str:
    return datetime.fromtimestamp(t_s, UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Volume:
    """One notified volume as held: its operation and version, its party, its 4D extent."""

    operation: str  # party-qualified: "coalition:strike-7"
    version: int
    index: int  # within its operation
    party: str
    purpose: str
    priority: int
    spec: VolumeSpec
    notified_s: float  # when this version was notified

    @property
    def id(self) -> str:
        return f"{self.operation}#{self.index}"

    def describe(self) -> dict[str, Any]:
        return {"operation": self.operation, "version": self.version, "volume": self.index,
                "party": self.party, "purpose": self.purpose, "priority": self.priority}


@dataclass
class Operation:
    """The current version of one party's notified operation."""

    id: str
    party: str
    version: int
    volumes: list[Volume]
    withdrawn: bool = False


def notice_body(spec: NoticeSpec, now_s: float, lead_s: float) -> dict[str, Any]:
    """The fields of a notice event: its volumes (each outline as a GeoJSON Polygon, a
    circle's centre and radius kept), purpose and priority; the first volume's outline,
    band and the whole window at the top (as single-volume notices always had them)."""
    if spec.withdraw:
        return {"withdraw": True}
    vols = []
    for v in spec.volumes:
        d: dict[str, Any] = {"area": shapely.geometry.mapping(v.geometry), "floor_ft": v.floor_ft,
                             "ceiling_ft": v.ceiling_ft, "start": iso(v.start_s), "end": iso(v.end_s)}
        if "centre" in v.area:
            d.update(centre=v.area["centre"], radius_nm=v.area["radius_nm"])
        d["area"] = {"type": "Polygon", "coordinates": [[list(c) for c in ring] for ring in d["area"]["coordinates"]]}
        vols.append(d)
    start = min(v.start_s for v in spec.volumes)
    end = max(v.end_s for v in spec.volumes)
    lead = start - now_s
    first = vols[0]
    return {"area": first["area"], "floor_ft": first["floor_ft"], "ceiling_ft": first["ceiling_ft"],
            "start": iso(start), "end": iso(end), "volumes": vols, "purpose": spec.purpose,
            "priority": spec.priority, "lead_s": round(lead, 1), "short_notice": bool(lead < lead_s),
            "required_lead_s": lead_s}


def spec_from_body(body: dict[str, Any]) -> NoticeSpec:
    """The notice a recorded notice event holds (to rebuild the book from the record)."""
    vols = []
    for d in body.get("volumes") or ([] if body.get("withdraw") else [body]):
        area = ({"centre": d["centre"], "radius_nm": d["radius_nm"]} if d.get("centre") is not None
                else d["area"])
        geom = shapely.geometry.shape(d["area"])
        vols.append(VolumeSpec(area, geom, float(d["floor_ft"]), float(d["ceiling_ft"]),
                               float(_parse_time(d["start"]) or 0.0), float(_parse_time(d["end"]) or 0.0)))
    return NoticeSpec(str(body.get("operation") or ""), body.get("version"), str(body.get("purpose", "")),
                      int(body.get("priority", 0)), tuple(vols), bool(body.get("withdraw", False)),
                      str(body.get("from", "")))


def book_from_events(agreement: Any, events: Sequence[dict[str, Any]]) -> NoticeBook:
    """A book rebuilt from notice events as the line streams them (seq, t, from, ...)."""
    book = NoticeBook(agreement)
    for ev in events:
        if ev.get("kind") != "notice":
            continue
        spec = spec_from_body(ev)
        party = spec.party
        op = spec.operation or f"{party}:notice-{ev.get('seq', 0)}"
        book.apply(party, op, int(ev.get("version") or 1), spec, float(ev.get("t", 0.0)))
    return book


def book_from_plan(agreement: Any, specs: Sequence[NoticeSpec], t_s: float) -> tuple[NoticeBook, list[dict[str, Any]]]:
    """A book of a planned-operations file's notices (each naming its `party`), notified
    in file order at `t_s`, and the strategic conflicts among them; NoticeError names the
    notice whose party is missing or unknown, or whose version is stale."""
    book = NoticeBook(agreement)
    events: list[dict[str, Any]] = []
    for k, spec in enumerate(specs):
        if spec.party not in book.parties:
            raise NoticeError(f"notices[{k}].party", f"must be a party of the agreement ({', '.join(book.parties)}), "
                              f"got {spec.party!r}")
        try:
            op, version = book.resolve(spec.party, spec, k)
        except NoticeError as exc:
            raise NoticeError(f"notices[{k}].{exc.field}", exc.reason) from exc
        events.extend(book.apply(spec.party, op, version, spec, t_s))
    return book, events


def qualified(party: str, operation: str) -> str:
    """An operation id as the book keeps it: each party names its own operations."""
    return operation if operation.startswith(f"{party}:") else f"{party}:{operation}"


class NoticeBook:
    """Every party's notified operations, indexed, and the open conflicts between them."""

    def __init__(self, agreement: Any) -> None:
        self.parties: tuple[str, ...] = tuple(agreement.party_ids)
        cfg = agreement.notices
        self.buffer_nm = float(cfg.buffer_nm)
        self.buffer_ft = float(cfg.buffer_ft)
        self.buffer_s = float(cfg.buffer_s)
        self.lead_s = float(agreement.channels.notice_lead_s)
        self.config = cfg
        self.operations: dict[str, Operation] = {}
        self.conflicts: dict[tuple[str, str], dict[str, Any]] = {}
        self.changed = 0  # bumped on every change (the tactical watch rebuilds its zones on it)
        self._vols: list[Volume] = []  # indexed
        self._alive = np.zeros(0, dtype=bool)
        self._set: VolumeSet | None = None
        self._pending: list[Volume] = []
        self._pending_set: VolumeSet | None = None
        self._dead = 0

    # -- the index ------------------------------------------------------------------------
    def _build(self, vols: Sequence[Volume]) -> VolumeSet:
        code = {p: k for k, p in enumerate(self.parties)}
        centre = [v.spec.area.get("centre") or (np.nan, np.nan) for v in vols]
        radius = [v.spec.area.get("radius_nm", np.nan) for v in vols]
        return VolumeSet.build(
            np.array([code.get(v.party, -1 - k) for k, v in enumerate(vols)], dtype=np.int64),
            np.array([v.spec.geometry for v in vols], dtype=object),
            np.array([v.spec.floor_ft for v in vols]), np.array([v.spec.ceiling_ft for v in vols]),
            np.array([v.spec.start_s for v in vols]), np.array([v.spec.end_s for v in vols]),
            self.buffer_nm, circle=(np.array([c[0] for c in centre], dtype=np.float64),
                                    np.array([c[1] for c in centre], dtype=np.float64),
                                    np.array(radius, dtype=np.float64)))

    def _reindex(self) -> None:
        keep = [v for v, a in zip(self._vols, self._alive.tolist(), strict=True) if a] + self._pending
        self._vols = keep
        self._alive = np.ones(len(keep), dtype=bool)
        self._set = self._build(keep)
        self._pending, self._pending_set, self._dead = [], None, 0

    def _remove(self, vols: Iterable[Volume]) -> None:
        gone = {id(v) for v in vols}
        if not gone:
            return
        for k, v in enumerate(self._vols):
            if id(v) in gone and self._alive[k]:
                self._alive[k] = False
                self._dead += 1
        self._pending = [v for v in self._pending if id(v) not in gone]
        self._pending_set = None

    def _add(self, vols: Sequence[Volume]) -> None:
        self._pending.extend(vols)
        self._pending_set = None
        if len(self._pending) > PENDING_MAX or self._dead > max(PENDING_MAX, len(self._vols) // 4):
            self._reindex()

    def _against(self, new: Sequence[Volume], now_s: float) -> list[tuple[Volume, Volume, dict[str, Any]]]:
        """(new volume, held volume, overlap) of every conflict of `new` with the held
        volumes still planned or active at `now_s` (end after it)."""
        out: list[tuple[Volume, Volume, dict[str, Any]]] = []
        if not new:
            return out
        ns = self._build(new)
        sets: list[tuple[VolumeSet, list[Volume], np.ndarray]] = []
        if self._set is not None and len(self._vols):
            sets.append((self._set, self._vols, self._alive))
        if self._pending:
            if self._pending_set is None:
                self._pending_set = self._build(self._pending)
            sets.append((self._pending_set, self._pending, np.ones(len(self._pending), dtype=bool)))
        for s, held, alive in sets:
            p = conflicts_between(ns, s, self.buffer_ft, self.buffer_s)
            ok = alive[p.j] & (s.end_s[p.j] > now_s)
            p = Pairs(p.i[ok], p.j[ok], p.candidates, p.filtered)
            if not len(p):
                continue
            o = overlaps(ns, s, p)
            area = polygon_area_nm2(o.region)
            for m, (i, j) in enumerate(zip(p.i.tolist(), p.j.tolist(), strict=True)):
                region = o.region[m]
                out.append((new[i], held[j], {
                    "region": None if region.is_empty else shapely.geometry.mapping(
                        shapely.set_precision(region, 1e-6)),
                    "area_nm2": round(float(area[m]), 3),
                    "floor_ft": float(o.floor_ft[m]), "ceiling_ft": float(o.ceiling_ft[m]),
                    "start_s": float(o.start_s[m]), "end_s": float(o.end_s[m])}))
        return out

    def volumes(self) -> list[Volume]:
        """Every volume of every current (not withdrawn) operation."""
        ops = list(self.operations.values())  # one copy: the service's engine thread reads while notices arrive
        return [v for op in ops if not op.withdrawn for v in op.volumes]

    def active(self, t_s: float) -> list[Volume]:
        """The volumes active at `t_s` (start <= t < end)."""
        return [v for v in self.volumes() if v.spec.start_s <= t_s < v.spec.end_s]

    # -- notices ----------------------------------------------------------------------------
    def resolve(self, party: str, spec: NoticeSpec, seq_hint: int) -> tuple[str, int]:
        """The qualified operation id and the version a notice of `party` takes; NoticeError
        when its version is not newer than the book's or it withdraws an unknown operation."""
        op_id = qualified(party, spec.operation) if spec.operation else f"{party}:notice-{seq_hint}"
        cur = self.operations.get(op_id)
        if spec.withdraw:
            if cur is None or cur.withdrawn:
                raise NoticeError("operation", f"no notified operation {spec.operation!r} of {party!r} to withdraw")
        if cur is not None and cur.withdrawn and not spec.withdraw:
            raise NoticeError("operation", f"operation {spec.operation!r} was withdrawn; notify a new operation id")
        version = spec.version if spec.version is not None else (cur.version + 1 if cur else 1)
        if cur is not None and version <= cur.version:
            raise NoticeError("version", f"must be newer than the notified version {cur.version} of "
                              f"{spec.operation!r}, got {version}")
        return op_id, version

    def apply(self, party: str, op_id: str, version: int, spec: NoticeSpec, t_s: float) -> list[dict[str, Any]]:
        """Take a notice (its operation id and version resolved) and return the conflict
        events it causes: new, updated and ended, each addressed to both parties."""
        self.changed += 1
        old = self.operations.get(op_id)
        if old is not None:
            self._remove(old.volumes)
        if spec.withdraw:
            if old is not None:
                old.withdrawn = True
                old.version = version
            return self._close(op_id, set(), t_s, "withdrawn")
        vols = [Volume(op_id, version, k, party, spec.purpose, spec.priority, v, t_s)
                for k, v in enumerate(spec.volumes)]
        self.operations[op_id] = Operation(op_id, party, version, vols)
        events: list[dict[str, Any]] = []
        now_keys: set[tuple[str, str]] = set()
        for a, b, o in self._against(vols, t_s):
            key = (min(a.id, b.id), max(a.id, b.id))
            now_keys.add(key)
            ev = self._event(a, b, o, t_s)
            prev = self.conflicts.get(key)
            if prev is not None and prev["overlap_key"] == ev["overlap_key"]:
                ev["state"] = prev["state"]
                self.conflicts[key] = ev  # same overlap, new version: nothing to say
                continue
            ev["state"] = "updated" if prev is not None else "new"
            self.conflicts[key] = ev
            events.append(self._public(ev))
        events.extend(self._close(op_id, now_keys, t_s, "version"))
        self._add(vols)
        return events

    def check_plan(self, party: str, specs: Sequence[NoticeSpec], t_s: float) -> list[dict[str, Any]]:
        """Conflicts a planned set would have with what is notified, changing nothing."""
        out: list[dict[str, Any]] = []
        vols = [Volume(qualified(party, s.operation or f"plan-{k}"), s.version or 1, j, party, s.purpose,
                       s.priority, v, t_s) for k, s in enumerate(specs) for j, v in enumerate(s.volumes)]
        mine = {v.operation for v in vols}
        for a, b, o in self._against(vols, t_s):
            if b.operation in mine:  # the plan's own operations, as notified before: replaced
                continue
            ev = self._event(a, b, o, t_s)
            ev["state"] = "planned"
            out.append(self._public(ev))
        return out

    # -- conflict events -------------------------------------------------------------------
    def _event(self, a: Volume, b: Volume, o: dict[str, Any], t_s: float) -> dict[str, Any]:
        first, second = sorted((a, b), key=lambda v: v.id)
        lead = o["start_s"] - t_s
        # Who gives way: the lower priority, else the later notified (`a`, the new volume).
        gives = a if a.priority <= b.priority else b
        return {
            "kind": "notice_conflict",
            "id": f"{first.id}~{second.id}",
            "parties": [first.party, second.party],
            "to": sorted({first.party, second.party}),
            "volumes": [first.describe(), second.describe()],
            "overlap": o["region"], "overlap_area_nm2": o["area_nm2"],
            "floor_ft": o["floor_ft"], "ceiling_ft": o["ceiling_ft"],
            "start": iso(o["start_s"]), "end": iso(o["end_s"]),
            "buffer_nm": self.buffer_nm, "buffer_ft": self.buffer_ft, "buffer_s": self.buffer_s,
            "lead_s": round(lead, 1), "short_notice": bool(lead < self.lead_s), "required_lead_s": self.lead_s,
            "gives_way": gives.party, "gives_way_operation": gives.operation,
            "notified_by": a.party, "t": t_s,
            "overlap_key": (o["area_nm2"], o["floor_ft"], o["ceiling_ft"], o["start_s"], o["end_s"]),
        }

    @staticmethod
    def _public(ev: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in ev.items() if k != "overlap_key"}

    def _close(self, op_id: str, keep: set[tuple[str, str]], t_s: float, why: str) -> list[dict[str, Any]]:
        """End the open conflicts of `op_id` not in `keep`."""
        out: list[dict[str, Any]] = []
        pre = f"{op_id}#"
        for key in [k for k in self.conflicts if (k[0].startswith(pre) or k[1].startswith(pre)) and k not in keep]:
            ev = self.conflicts.pop(key)
            end = {k: ev[k] for k in ("kind", "id", "parties", "to", "volumes")}
            end.update(state="ended", reason=why, t=t_s)
            out.append(end)
        return out
