"""What a dossier states, as a pure function of the entries it cites (so `verify` can state it again).

Every line of the summary, every row of the timeline and every position of the track table
is made here from proven entries only, and carries the seqs of the entries it rests on.
`verify` builds the same facts from the proofs embedded in the dossier and compares them with
the text of the HTML: a digit changed in a time, a position or a warning names its entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from sharedsky.record.log import Entry
from sharedsky.reports.dossier_source import payload_of

#: Kinds whose payload is an event addressed to parties (`{"to": [...], "event": {...}}`).
EVENT_KINDS = ("conflict", "loss_of_separation", "airspace", "distress", "notice", "request", "response",
               "overdue", "ack", "unacknowledged", "delivered", "not_delivered", "witness_alarm",
               "notice_conflict", "notice_volume", "advisory", "wellclear")
#: Kinds that follow up an earlier entry (`of_seq`).
FOLLOW_UPS = ("ack", "unacknowledged", "delivered", "not_delivered", "overdue")


@dataclass(frozen=True)
class Fact:
    """One row or line of the dossier: which table, the entries it rests on, its cells."""

    table: str  # "summary", "timeline" or "track"
    seqs: tuple[int, ...]
    cells: tuple[str, ...]


def utc(t: float | None, date: bool = False) -> str:
    """A UTC time to the tenth of a second, e.g. 14:22:37.3Z (with the date if asked)."""
    if t is None or t != t:
        return "-"
    tenths = int(round(t * 10))
    dt = datetime.fromtimestamp(tenths // 10, UTC)
    return f"{dt:%Y-%m-%d }" * date + f"{dt:%H:%M:%S}.{tenths % 10}Z"


def event_of(e: Entry) -> dict[str, Any]:
    """The event an entry records ({} where withheld or not an event)."""
    ev = payload_of(e).get("event")
    return ev if isinstance(ev, dict) else {}


def aircraft_of(ev: dict[str, Any]) -> set[str]:
    """The aircraft an event names."""
    return {str(ev[k]) for k in ("a", "b", "icao24") if ev.get(k)}


def _num(v: Any, fmt: str) -> str:
    return "-" if v is None or not isinstance(v, (int, float)) or v != v else format(v, fmt)


def describe(e: Entry, copy_of: str = "", v1: bool = False, advice: bool = True) -> str:
    """One line saying what an entry records, from its payload (or that it is withheld).
    `advice=False`: advisories and well-clear alerts as dossiers before format 3 said them."""
    if e.payload is None:
        # (`v1`: as dossiers of format 1 said it, so they still verify)
        who = (f" (a copy for {copy_of})" if v1 else f" (payloads of {copy_of})") if copy_of else ""
        return (f"withheld from this copy{who}: its payload is not disclosed to this party; the entry is "
                "proven by its salted commitment")
    p = payload_of(e)
    ev = event_of(e)
    k = e.kind
    if k == "reports":
        cols = p.get("columns", {})
        return f"position reports: {cols.get('n', 0)} in the batch (source {p.get('source', '')})"
    if k == "conflict":
        return (f"predicted conflict {ev.get('state', '')} ({ev.get('level', '')}): {ev.get('a')}/{ev.get('b')}, "
                f"closest {_num(ev.get('d_cpa_nm'), '.2f')} NM and {_num(ev.get('dz_cpa_ft'), '.0f')} ft in "
                f"{_num(ev.get('t_cpa_s'), '.0f')} s, minima infringed in {_num(ev.get('t_in_s'), '.0f')} s")
    if k == "loss_of_separation":
        return (f"loss of separation {ev.get('state', '')}: {ev.get('a')}/{ev.get('b')} at "
                f"{_num(ev.get('d_nm'), '.2f')} NM and {_num(ev.get('dz_ft'), '.0f')} ft")
    if k == "airspace":
        freq = ", ".join(_num(f, '.1f') for f in ev.get("frequencies_mhz", []) or [])
        where = (f"entry in {_num(ev.get('time_to_entry_s'), '.0f')} s, {_num(ev.get('distance_nm'), '.2f')} NM out"
                 if ev.get("state") in ("advisory", "warning") else
                 f"depth {_num(ev.get('depth_nm'), '.3f')} NM (max {_num(ev.get('max_depth_nm'), '.3f')} NM)")
        return (f"airspace {ev.get('airspace', '')} {ev.get('state', '')}: {ev.get('callsign') or ''} "
                f"({ev.get('icao24', '')}), {where}; on {freq} MHz and the line "
                f"'{ev.get('hotline', '')}'; avoid by heading {_num(ev.get('heading_to_avoid_deg'), '.0f')} deg")
    if k == "advisory" and advice:
        freq = ", ".join(_num(f, '.1f') for f in ev.get("frequencies_mhz", []) or [])
        callsign = f"{ev['callsign']} " if ev.get("callsign") else ""
        text = str(ev.get("text") or ev.get("reason") or "")
        return (f"resolution advisory {ev.get('state', '')} for {callsign}({ev.get('icao24', '')}) "
                f"of {ev.get('party', '')}" + (f": {text}" if text else "") + (f"; on {freq} MHz" if freq else ""))
    if k == "wellclear" and advice:
        intruders = ", ".join(f"{x.get('icao24')} at level {x.get('level')}" for x in ev.get("intruders") or []
                              if isinstance(x, dict))
        return (f"well-clear alert {ev.get('state', '')} for {ev.get('icao24', '')} of {ev.get('party', '')}: "
                f"level {ev.get('level')} ({ev.get('region', '')})" + (", corrective" if ev.get("corrective") else "")
                + f"; intruders {intruders or 'none'}")
    if k in ("request", "response", "distress", "notice"):
        to = ev.get("to", p.get("to", ""))
        signed = ", signed" if e.signed else ""
        return f"{k} from {ev.get('from', e.party)} to {to}{signed}: {ev.get('text', ev.get('nature', ''))}"
    if k == "ack":
        return f"{ev.get('by')} acknowledged entry {ev.get('of_seq')} ({ev.get('of_kind')})"
    if k == "delivered":
        return (f"entry {ev.get('of_seq')} ({ev.get('of_kind')}) delivered to {ev.get('party')}: its node cosigned "
                f"checkpoint {ev.get('checkpoint_size')} at {utc(ev.get('cosigned_t'))}")
    if k == "not_delivered":
        return f"entry {ev.get('of_seq')} ({ev.get('of_kind')}) not delivered to {ev.get('party')} in time"
    if k == "unacknowledged":
        return f"entry {ev.get('of_seq')} ({ev.get('of_kind')}) not acknowledged by {ev.get('party')} in time"
    if k == "overdue":
        return f"request {ev.get('of_seq', ev.get('request_seq'))} overdue: no response from {ev.get('party', ev.get('to'))}"
    return f"{k}: " + ", ".join(f"{a}={b}" for a, b in sorted(ev.items()) if not isinstance(b, (dict, list)))[:300]


@dataclass
class Track:
    """One aircraft's reported positions (report time order), each with the entry it came from."""

    icao24: str
    callsign: str
    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    alt_ft: np.ndarray
    gs_kt: np.ndarray
    trk_deg: np.ndarray
    seq: np.ndarray


def tracks_of(entries: Iterable[Entry], ids: set[str]) -> dict[str, Track]:
    """The incident aircraft's tracks from the report batches among `entries`."""
    rows: dict[str, list[tuple[float, float, float, float, float, float, int, str]]] = {i: [] for i in ids}
    for e in entries:
        if e.kind != "reports" or e.payload is None:
            continue
        c = payload_of(e).get("columns", {})
        icao = c.get("icao24", [])
        for j, a in enumerate(icao):
            if a in rows:
                def g(name: str, j: int = j, c: dict[str, Any] = c) -> float:
                    v = (c.get(name) or [None] * (j + 1))[j]
                    return float("nan") if v is None else float(v)
                rows[a].append((g("t_s"), g("latitude"), g("longitude"), g("altitude"), g("groundspeed"),
                                g("track"), e.seq, str((c.get("callsign") or [""] * (j + 1))[j] or "")))
    out = {}
    for a, r in rows.items():
        if not r:
            continue
        r.sort(key=lambda x: (x[0], x[6]))
        arr = np.array([x[:7] for x in r], dtype=float)
        cs = next((x[7] for x in reversed(r) if x[7]), "")
        out[a] = Track(a, cs, arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4], arr[:, 5], arr[:, 6].astype(int))
    return out


def separation(a: Track, b: Track, step_s: float = 1.0) -> dict[str, np.ndarray]:
    """Horizontal (NM, WGS84 geodesic) and vertical (ft) separation over the tracks' common time, interpolated."""
    from pyproj import Geod

    t0, t1 = max(a.t[0], b.t[0]), min(a.t[-1], b.t[-1])
    if t1 < t0:
        return {"t": np.zeros(0), "h_nm": np.zeros(0), "v_ft": np.zeros(0)}
    t = np.arange(t0, t1 + 1e-9, step_s)
    la, oa, za = (np.interp(t, a.t, x) for x in (a.lat, a.lon, a.alt_ft))
    lb, ob, zb = (np.interp(t, b.t, x) for x in (b.lat, b.lon, b.alt_ft))
    _, _, d_m = Geod(ellps="WGS84").inv(oa, la, ob, lb)
    return {"t": t, "h_nm": np.asarray(d_m) / 1852.0, "v_ft": np.abs(za - zb)}


def _nearest_seqs(tr: Track, t: float) -> tuple[int, ...]:
    k = int(np.searchsorted(tr.t, t))
    return tuple(sorted({int(tr.seq[i]) for i in (k - 1, k) if 0 <= i < len(tr.seq)}))


def summary(entries: Sequence[Entry], ids: Sequence[str], anchor: int, advice: bool = True) -> list[Fact]:
    """The summary's lines: who, when, the warnings, the advice given (`advice`: format 3 on),
    the outcome (closest approach, duration, depth)."""
    by_seq = {e.seq: e for e in entries}
    tracks = tracks_of(entries, set(ids))
    out: list[Fact] = []
    first = by_seq.get(anchor)
    ev = event_of(first) if first is not None else {}
    names = []
    for i in ids:
        tr = tracks.get(i)
        names.append(f"{tr.callsign or i} ({i})" if tr is not None else f"{i} (no position visible)")
    parties = sorted({str(ev[k]) for k in ("party_a", "party_b", "party") if ev.get(k)})
    if first is not None:
        out.append(Fact("summary", (anchor,), (
            f"Incident: entry {anchor}, {first.kind.replace('_', ' ')} {ev.get('state', '')} at "
            f"{utc(first.t, date=True)}: {', '.join(names)}; parties {', '.join(parties) or '-'}",)))
    events = [e for e in entries if e.kind in EVENT_KINDS and e.payload is not None]
    warn = [e for e in events if (e.kind == "airspace" and event_of(e).get("state") in ("advisory", "warning"))
            or (e.kind == "conflict" and event_of(e).get("state") == "new")]
    if warn:
        out.append(Fact("summary", tuple(e.seq for e in warn), (
            f"Warnings: {len(warn)}, the first at {utc(warn[0].t)} (entry {warn[0].seq}), the last at "
            f"{utc(warn[-1].t)} (entry {warn[-1].seq})",)))
    msgs = [e for e in events if e.kind in ("request", "response", "distress", "notice")]
    if msgs:
        out.append(Fact("summary", tuple(e.seq for e in msgs), (
            f"Messages on the line: {len(msgs)}, "
            + "; ".join(f"{e.party} to {event_of(e).get('to', '')} at {utc(e.t)} (entry {e.seq})" for e in msgs[:6])
            + ("; ..." if len(msgs) > 6 else ""),)))
    acks = [e for e in events if e.kind == "ack"]
    if acks:
        out.append(Fact("summary", tuple(e.seq for e in acks), (
            "Acknowledged: " + "; ".join(f"{event_of(e).get('by')} at {utc(e.t)} (entry {e.seq})" for e in acks),)))
    advised = [e for e in events if advice and e.kind == "advisory" and event_of(e).get("state") in ("new", "updated")]
    if advised:
        acked: dict[int, list[Entry]] = {}
        for e in acks:
            acked.setdefault(int(event_of(e).get("of_seq") or 0), []).append(e)

        def told(e: Entry) -> str:
            ev = event_of(e)
            by = acked.get(e.seq, [])
            ack = (", acknowledged by " + ", ".join(f"{event_of(a).get('by')} at {utc(a.t)} (entry {a.seq})" for a in by)
                   if by else ", not acknowledged here")
            return f"{ev.get('icao24')} ({ev.get('party')}) at {utc(e.t)} (entry {e.seq}): {ev.get('text', '')}{ack}"

        out.append(Fact("summary", tuple(sorted({e.seq for e in advised} | {a.seq for e in advised
                                                                            for a in acked.get(e.seq, [])})), (
            f"Resolution advisories shown: {len(advised)}; " + "; ".join(told(e) for e in advised[:6])
            + ("; ..." if len(advised) > 6 else ""),)))
    los = [e for e in events if e.kind == "loss_of_separation"]
    if los:
        start = next((e for e in los if event_of(e).get("state") == "start"), los[0])
        end = next((e for e in los if event_of(e).get("state") in ("end", "ended")), None)
        dur = f"{end.t - start.t:.0f} s (to entry {end.seq})" if end is not None else "not ended within the window"
        out.append(Fact("summary", tuple(e.seq for e in los), (
            f"Loss of separation from {utc(start.t)} (entry {start.seq}): {dur}",)))
    viol = [e for e in events if e.kind == "airspace" and event_of(e).get("state") in ("violation", "exit")]
    if viol:
        depth = max(float(event_of(e).get("max_depth_nm") or 0.0) for e in viol)
        v0 = event_of(viol[0])
        out.append(Fact("summary", tuple(e.seq for e in viol), (
            f"Airspace {v0.get('airspace_name') or v0.get('airspace')}: entered at {utc(v0.get('entry_t'))} "
            f"(entry {viol[0].seq}), maximum depth {depth:.3f} NM, last reported inside at {utc(viol[-1].t)}",)))
    if len(ids) == 2 and all(i in tracks for i in ids):
        a, b = tracks[ids[0]], tracks[ids[1]]
        s = separation(a, b)
        if len(s["t"]):
            k = int(np.argmin(s["h_nm"]))
            tk = float(s["t"][k])
            out.append(Fact("summary", _nearest_seqs(a, tk) + _nearest_seqs(b, tk), (
                f"Closest approach (from the reported positions): {s['h_nm'][k]:.2f} NM and {s['v_ft'][k]:.0f} ft "
                f"at {utc(tk)}",)))
    return out


def timeline(entries: Sequence[Entry], copy_of: str = "", v1: bool = False, advice: bool = True) -> list[Fact]:
    """One row per cited entry: seq, time, the party that caused it, kind, what it says."""
    return [Fact("timeline", (e.seq,), (str(e.seq), utc(e.t), e.party or "service", e.kind,
                                        describe(e, copy_of, v1, advice)))
            for e in entries]


def track_rows(entries: Sequence[Entry], ids: Sequence[str]) -> list[Fact]:
    """Every reported position of the incident's aircraft, with the entry it came from."""
    out = []
    for i in ids:
        tr = tracks_of(entries, {i}).get(i)
        if tr is None:
            continue
        for j in range(len(tr.t)):
            out.append(Fact("track", (int(tr.seq[j]),), (
                str(int(tr.seq[j])), utc(float(tr.t[j])), tr.callsign or i, i, _num(tr.lat[j], ".5f"),
                _num(tr.lon[j], ".5f"), _num(tr.alt_ft[j], ".0f"), _num(tr.gs_kt[j], ".0f"),
                _num(tr.trk_deg[j], ".0f"))))
    return out


def all_facts(entries: Sequence[Entry], ids: Sequence[str], anchor: int, copy_of: str = "",
              v1: bool = False, advice: bool = True) -> list[Fact]:
    """Everything the dossier states, in document order (`v1`, `advice=False`: as the formats
    before said it, so that their dossiers still verify)."""
    entries = sorted(entries, key=lambda e: e.seq)
    return (summary(entries, ids, anchor, advice) + timeline(entries, copy_of, v1, advice)
            + track_rows(entries, ids))
