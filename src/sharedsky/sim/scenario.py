"""Scenario files (TOML): parties' operations over a real region, validated with errors
that name the file, the key path, the line and what is wrong.

A scenario says which parties fly (each with its block of ICAO addresses, so that an
agreement can attribute its aircraft), from which bases, with which aircraft types, and
which missions: strike packages to target areas, combat air patrols, tankers on
racetracks, ISR orbits, transits and civil airliners on airways. Timing may be fixed
(`at_s`) or random (`sorties` in a `window_s`, drawn from the run's seed). The format is
documented by example in `examples/syria-2015.scenario.toml`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sharedsky.sim.performance import TYPES, AircraftType

MISSION_KINDS = ("strike", "cap", "tanker", "isr", "orbit", "transit", "airway")
ORBIT_KINDS = ("cap", "tanker", "isr", "orbit")


class ScenarioError(ValueError):
    """A scenario that cannot be used: every problem, each with key path and line."""

    def __init__(self, file: str, issues: list[tuple[str, int | None, str]]) -> None:
        self.file = file
        self.issues = issues
        lines = [
            f"{file}:{line}: {path}: {msg}" if line else f"{file}: {path}: {msg}"
            for path, line, msg in issues
        ]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class PartySpec:
    """A party's addresses and callsigns: ICAO blocks (inclusive ranges) and prefixes."""

    id: str
    icao_blocks: tuple[tuple[int, int], ...]
    callsigns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Base:
    id: str
    name: str
    lat_deg: float
    lon_deg: float
    elevation_ft: float = 0.0
    source: str = ""


@dataclass(frozen=True)
class Mission:
    """One line of operations; each sortie puts `aircraft` aircraft in the air."""

    id: str
    party: str
    kind: str
    types: tuple[str, ...]
    base: str | None = None
    aircraft: int = 1
    spacing_s: float = 30.0
    callsign: str | None = None
    altitude_ft: tuple[float, ...] = (25000.0,)
    speed_kt: float | None = None
    at_s: tuple[float, ...] = ()
    sorties: int = 0
    window_s: tuple[float, float] | None = None
    airborne: bool = False
    # strike
    target: tuple[float, float] | None = None
    target_radius_nm: float = 0.0
    via: tuple[tuple[float, float], ...] = ()
    # orbits
    center: tuple[float, float] | None = None
    pattern: str = "racetrack"
    heading_deg: float = 0.0
    leg_nm: float = 30.0
    radius_nm: float | None = None
    on_station_s: float = 3600.0
    # transit / airway
    route: tuple[tuple[float, float], ...] = ()
    to: str | None = None
    flights_per_hour: float = 0.0
    both_ways: bool = False
    squawk: str = ""


@dataclass(frozen=True)
class ScenarioNotice:
    """`[[notice]]`: an operation a party notifies on the line, `notified_s` after the
    scenario's start (negative: before it), as the message it would send (times as
    seconds from the start: `message(start_s)` makes them absolute)."""

    party: str
    notified_s: float
    body: dict[str, Any]  # operation, purpose, text, volumes with start_s/end_s relative

    def message(self, t0_s: float, scale: float = 1.0) -> dict[str, Any]:
        """The NOTICE as sent when the scenario starts at `t0_s` (epoch s); `scale`
        divides scenario seconds (a demo flown `speed` times faster)."""
        vols = []
        for v in self.body["volumes"]:
            d = {k: x for k, x in v.items() if k not in ("start_s", "end_s", "polygon")}
            if "polygon" in v:
                d["area"] = {"type": "Polygon", "coordinates": [[list(p) for p in v["polygon"]]]}
            d["start"] = t0_s + float(v["start_s"]) / scale
            d["end"] = t0_s + float(v["end_s"]) / scale
            vols.append(d)
        return {"type": "NOTICE", **{k: x for k, x in self.body.items() if k != "volumes"}, "volumes": vols}


NOTICE_KEYS = {"party", "operation", "purpose", "text", "notified_s", "volume", "centre", "radius_nm", "polygon",
               "floor_ft", "ceiling_ft", "start_s", "end_s"}
VOLUME_KEYS = ("centre", "radius_nm", "polygon", "floor_ft", "ceiling_ft", "start_s", "end_s")


@dataclass(frozen=True)
class Scenario:
    name: str
    start_s: float
    parties: dict[str, PartySpec]
    bases: dict[str, Base]
    types: dict[str, AircraftType]
    missions: tuple[Mission, ...]
    description: str = ""
    check_same_party: bool = False
    region: tuple[float, float, float, float] | None = None  # lon_min, lat_min, lon_max, lat_max
    file: str = "<scenario>"
    extra: dict[str, Any] = field(default_factory=dict)
    notices: tuple[ScenarioNotice, ...] = ()
    #: `[pilots]`: how crews fly resolution advisories: reaction time, and the share of
    #: advisories not followed at all (TCAS: 38 % in 80,955 US encounters).
    pilot_delay_s: float = 5.0
    noncompliance: float = 0.0

    @property
    def party_ids(self) -> tuple[str, ...]:
        return tuple(self.parties)


# -- locating keys in the text (tomllib gives no line numbers) ----------------------

_HEADER = re.compile(r"^\s*\[(\[?)\s*([^\]]+?)\s*\]?\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")


def _line_of(text: str, path: list[str | int]) -> int | None:
    """Best-effort line of a key path such as ['mission', 3, 'target'] (1-based)."""
    lines = text.splitlines()
    table: list[str | int] = []
    counts: dict[str, int] = {}
    best: int | None = None
    for n, line in enumerate(lines, 1):
        h = _HEADER.match(line)
        if h:
            name = h.group(2).strip()
            parts: list[str | int] = [p.strip().strip('"') for p in name.split(".")]
            if h.group(1):  # array of tables
                k = counts.get(name, -1) + 1
                counts[name] = k
                parts = [*parts, k]
            table = parts
            if table == path[: len(table)] and len(table) == len(path):
                return n
            if table == path[: len(table)] and best is None:
                best = n
            continue
        m = _KEY.match(line)
        if m:
            key = [p.strip().strip('"\'') for p in m.group(1).split(".")]
            full = [*table, *key]
            if full == path[: len(full)]:
                return n
    return best


def _fmt(path: list[str | int]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


class _Checker:
    def __init__(self, file: str, text: str) -> None:
        self.file, self.text = file, text
        self.issues: list[tuple[str, int | None, str]] = []

    def add(self, path: list[str | int], msg: str) -> None:
        self.issues.append((_fmt(path), _line_of(self.text, path), msg))

    def get(self, d: dict[str, Any], path: list[str | int], key: str, kind: type | tuple[type, ...],
            default: Any = None, required: bool = False) -> Any:
        if key not in d:
            if required:
                self.add(path + [key], "is required")
            return default
        v = d[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if not isinstance(v, kinds) or (isinstance(v, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            self.add(path + [key], f"must be {names}, got {type(v).__name__} {v!r}")
            return default
        return v

    def num(self, d: dict[str, Any], path: list[str | int], key: str, default: float | None = None,
            *, lo: float | None = None, hi: float | None = None, required: bool = False) -> Any:
        v = self.get(d, path, key, float, default, required)
        if v is None or key not in d:
            return v
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            self.add(path + [key], f"{v} is out of range [{lo}, {hi}]")
            return default
        return v

    def point(self, v: Any, path: list[str | int]) -> tuple[float, float] | None:
        ok = (isinstance(v, list) and len(v) == 2
              and all(isinstance(x, int | float) and not isinstance(x, bool) for x in v))
        if not ok:
            self.add(path, f"must be [latitude, longitude] in degrees, got {v!r}")
            return None
        lat, lon = float(v[0]), float(v[1])
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            self.add(path, f"[{lat}, {lon}] is not a latitude/longitude in degrees")
            return None
        return lat, lon

    def unknown(self, d: dict[str, Any], path: list[str | int], allowed: set[str]) -> None:
        for k in d:
            if k not in allowed:
                close = [a for a in sorted(allowed) if a[:3] == k[:3]]
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.add(path + [k], f"unknown key{hint}")


def _icao_block(text: Any) -> tuple[int, int] | None:
    m = re.fullmatch(r"\s*([0-9a-fA-F]{6})\s*-\s*([0-9a-fA-F]{6})\s*", str(text))
    if not m:
        return None
    lo, hi = int(m.group(1), 16), int(m.group(2), 16)
    return (lo, hi) if lo <= hi else None


_MISSION_KEYS = {
    "id", "party", "kind", "type", "types", "base", "aircraft", "spacing_s", "callsign",
    "altitude_ft", "speed_kt", "at_s", "sorties", "window_s", "airborne", "target",
    "target_radius_nm", "via", "center", "pattern", "heading_deg", "leg_nm", "radius_nm",
    "on_station_s", "route", "to", "flights_per_hour", "both_ways", "squawk", "note",
}


def loads_scenario(text: str, file: str = "<scenario>") -> Scenario:
    """Parse and validate a scenario from TOML text; raises ScenarioError."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise ScenarioError(file, [("(file)", int(m.group(1)) if m else None,
                                    f"not valid TOML: {exc}")]) from exc
    c = _Checker(file, text)
    c.unknown(doc, [], {"scenario", "parties", "types", "base", "mission", "notice", "pilots"})
    head = c.get(doc, [], "scenario", dict, {}, required=True) or {}
    c.unknown(head, ["scenario"], {"name", "description", "start", "region", "check_same_party"})
    name = c.get(head, ["scenario"], "name", str, "scenario", required=True)
    start_text = c.get(head, ["scenario"], "start", (str, datetime), "2015-10-20T06:00:00Z")
    start_s = 0.0
    try:
        if isinstance(start_text, datetime):
            dt = start_text
        else:
            dt = datetime.fromisoformat(str(start_text).replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        start_s = dt.timestamp()
    except ValueError:
        c.add(["scenario", "start"], f"not an ISO 8601 UTC time: {start_text!r}")
    region = None
    if "region" in head:
        r = head["region"]
        if (isinstance(r, list) and len(r) == 4 and all(isinstance(x, int | float) for x in r)
                and r[0] < r[2] and r[1] < r[3]):
            region = tuple(float(x) for x in r)
        else:
            c.add(["scenario", "region"], "must be [lon_min, lat_min, lon_max, lat_max]")

    parties: dict[str, PartySpec] = {}
    for pid, p in (c.get(doc, [], "parties", dict, {}, required=True) or {}).items():
        path: list[str | int] = ["parties", pid]
        if not isinstance(p, dict):
            c.add(path, "must be a table")
            continue
        c.unknown(p, path, {"icao_blocks", "callsigns", "note"})
        blocks_raw = c.get(p, path, "icao_blocks", list, [], required=True)
        blocks = []
        for k, b in enumerate(blocks_raw or []):
            blk = _icao_block(b)
            if blk is None:
                c.add(path + ["icao_blocks", k], f"must be 'xxxxxx-yyyyyy' (hex, low-high), got {b!r}")
            else:
                blocks.append(blk)
        cs = c.get(p, path, "callsigns", list, [])
        parties[pid] = PartySpec(pid, tuple(blocks), tuple(str(x) for x in cs or []))

    types = dict(TYPES)
    for code, t in (c.get(doc, [], "types", dict, {}) or {}).items():
        path = ["types", code]
        if not isinstance(t, dict):
            c.add(path, "must be a table")
            continue
        allowed = set(AircraftType.field_names()) - {"code"}
        c.unknown(t, path, allowed | {"like"})
        base_t = types.get(str(t.get("like", code)))
        vals: dict[str, Any] = {}
        for k, v in t.items():
            if k in ("name", "source"):
                vals[k] = str(v)
            elif k != "like":
                n = c.num(t, path, k)
                if n is not None:
                    vals[k] = n
        try:
            if base_t is not None:
                types[code] = base_t.with_changes(code=code, **vals)
            else:
                types[code] = AircraftType(code=code, **vals)
        except (TypeError, ValueError) as exc:
            c.add(path, f"incomplete or invalid aircraft type: {exc}")

    bases: dict[str, Base] = {}
    for k, b in enumerate(c.get(doc, [], "base", list, []) or []):
        path = ["base", k]
        if not isinstance(b, dict):
            c.add(path, "must be a table")
            continue
        c.unknown(b, path, {"id", "name", "lat", "lon", "elevation_ft", "source", "party", "note"})
        bid = c.get(b, path, "id", str, f"base{k}", required=True)
        lat = c.num(b, path, "lat", 0.0, lo=-90, hi=90, required=True)
        lon = c.num(b, path, "lon", 0.0, lo=-180, hi=180, required=True)
        if bid in bases:
            c.add(path + ["id"], f"duplicate base id {bid!r}")
        bases[bid] = Base(bid, c.get(b, path, "name", str, bid), lat, lon,
                          c.num(b, path, "elevation_ft", 0.0, lo=-1500, hi=15000),
                          c.get(b, path, "source", str, ""))

    missions: list[Mission] = []
    seen: set[str] = set()
    for k, m in enumerate(c.get(doc, [], "mission", list, []) or []):
        path = ["mission", k]
        if not isinstance(m, dict):
            c.add(path, "must be a table")
            continue
        mm = _mission(c, m, path, parties, bases, types)
        if mm is not None:
            if mm.id in seen:
                c.add(path + ["id"], f"duplicate mission id {mm.id!r}")
            seen.add(mm.id)
            missions.append(mm)
    notices = [n for k, raw in enumerate(c.get(doc, [], "notice", list, []) or [])
               if (n := _notice(c, raw, ["notice", k], parties, start_s)) is not None]
    pilots = c.get(doc, [], "pilots", dict, {}) or {}
    c.unknown(pilots, ["pilots"], {"delay_s", "noncompliance"})
    delay_s = c.num(pilots, ["pilots"], "delay_s", 5.0, lo=0, hi=120)
    noncompliance = c.num(pilots, ["pilots"], "noncompliance", 0.0, lo=0, hi=1)
    if c.issues:
        raise ScenarioError(file, c.issues)
    return Scenario(pilot_delay_s=delay_s, noncompliance=noncompliance,
                    name=name, start_s=start_s, parties=parties, bases=bases, types=types,
                    missions=tuple(missions), description=str(head.get("description", "")),
                    check_same_party=bool(head.get("check_same_party", False)),
                    region=region, file=file, notices=tuple(notices))  # type: ignore[arg-type]


def _notice(c: _Checker, raw: Any, path: list[str | int], parties: dict[str, PartySpec],
            start_s: float) -> ScenarioNotice | None:
    """One `[[notice]]`: a volume inline (centre [lon, lat] and radius_nm, or polygon of
    [lon, lat]), or several as `[[notice.volume]]`; times in seconds from the start."""
    from sharedsky.ingest.notices import NoticeError, parse_notice

    if not isinstance(raw, dict):
        c.add(path, "must be a table")
        return None
    c.unknown(raw, path, NOTICE_KEYS)
    party = c.get(raw, path, "party", str, "", required=True)
    if party and party not in parties:
        c.add(path + ["party"], f"unknown party {party!r} (declared: {', '.join(parties)})")
        return None
    vols_raw = raw.get("volume")
    if vols_raw is None:
        vols_raw = [{k: raw[k] for k in VOLUME_KEYS if k in raw}]
    elif any(k in raw for k in VOLUME_KEYS):
        c.add(path + ["volume"], "give the volume inline or as [[notice.volume]] tables, not both")
        return None
    if not isinstance(vols_raw, list) or not all(isinstance(v, dict) for v in vols_raw):
        c.add(path + ["volume"], "must be [[notice.volume]] tables")
        return None
    body: dict[str, Any] = {k: raw[k] for k in ("operation", "purpose", "text") if k in raw}
    body["volumes"] = [dict(v) for v in vols_raw]
    n = ScenarioNotice(str(party), float(c.num(raw, path, "notified_s", -86400.0) or 0.0), body)
    try:  # the line's own checks (purposes are the agreement's: checked when flown under one)
        msg = n.message(start_s)
        msg.pop("purpose", None)
        for k, v in enumerate(msg["volumes"]):
            for key in v:
                if key not in ("area", "centre", "radius_nm", "floor_ft", "ceiling_ft", "start", "end"):
                    raise NoticeError(f"volumes[{k}].{key}", "unknown field (allowed: centre, radius_nm, "
                                      "polygon, floor_ft, ceiling_ft, start_s, end_s)")
        parse_notice(msg, None)
    except NoticeError as exc:
        where = exc.field.replace("volumes[", "volume[") if vols_raw is raw.get("volume") else \
            exc.field.split(".")[-1]
        c.add(path + [where.replace("start", "start_s").replace("end", "end_s").replace("area", "polygon")],
              exc.reason)
        return None
    return n


def _mission(c: _Checker, m: dict[str, Any], path: list[str | int], parties: dict[str, PartySpec],
             bases: dict[str, Base], types: dict[str, AircraftType]) -> Mission | None:
    n0 = len(c.issues)
    c.unknown(m, path, _MISSION_KEYS)
    mid = c.get(m, path, "id", str, f"mission{path[-1]}", required=True)
    party = c.get(m, path, "party", str, "", required=True)
    if party and party not in parties:
        c.add(path + ["party"], f"unknown party {party!r} (parties: {', '.join(parties)})")
    kind = c.get(m, path, "kind", str, "", required=True)
    if kind and kind not in MISSION_KINDS:
        c.add(path + ["kind"], f"unknown kind {kind!r} (one of {', '.join(MISSION_KINDS)})")
    if "types" in m:
        tl = c.get(m, path, "types", list, [])
        tcodes = tuple(str(x) for x in tl or [])
    else:
        tcodes = (c.get(m, path, "type", str, "", required=True),)
    for t in tcodes:
        if t and t not in types:
            c.add(path + ["type" if "type" in m else "types"],
                  f"unknown aircraft type {t!r} (known: {', '.join(sorted(types))})")
    base = c.get(m, path, "base", str, None)
    if base is not None and base not in bases:
        c.add(path + ["base"], f"unknown base {base!r}")
    to = c.get(m, path, "to", str, None)
    if to is not None and to not in bases:
        c.add(path + ["to"], f"unknown base {to!r}")
    alt = m.get("altitude_ft", 25000.0)
    alts: tuple[float, ...] = ()
    if isinstance(alt, int | float) and not isinstance(alt, bool):
        alts = (float(alt),)
    elif isinstance(alt, list) and alt and all(isinstance(a, int | float) for a in alt):
        alts = tuple(float(a) for a in alt)
    else:
        c.add(path + ["altitude_ft"], f"must be a number or a list of numbers, got {alt!r}")
    for a in alts:
        if not 0 <= a <= 60000:
            c.add(path + ["altitude_ft"], f"{a} is out of range [0, 60000]")
    at = c.get(m, path, "at_s", list, [])
    at_s = []
    for j, a in enumerate(at or []):
        if not isinstance(a, int | float) or isinstance(a, bool) or a < 0:
            c.add(path + ["at_s", j], f"must be a number of seconds >= 0, got {a!r}")
        else:
            at_s.append(float(a))
    win = c.get(m, path, "window_s", list, None)
    window = None
    if win is not None:
        if len(win) == 2 and all(isinstance(x, int | float) for x in win) and 0 <= win[0] < win[1]:
            window = (float(win[0]), float(win[1]))
        else:
            c.add(path + ["window_s"], f"must be [start_s, end_s] with 0 <= start < end, got {win!r}")

    def pt(key: str) -> tuple[float, float] | None:
        return c.point(m[key], path + [key]) if key in m else None

    def pts(key: str) -> tuple[tuple[float, float], ...]:
        v = c.get(m, path, key, list, [])
        out = []
        for j, p in enumerate(v or []):
            q = c.point(p, path + [key, j])
            if q is not None:
                out.append(q)
        return tuple(out)

    mission = Mission(
        id=mid, party=party, kind=kind, types=tcodes, base=base,
        aircraft=int(c.num(m, path, "aircraft", 1, lo=1, hi=64)),
        spacing_s=c.num(m, path, "spacing_s", 30.0, lo=0, hi=3600),
        callsign=c.get(m, path, "callsign", str, None),
        altitude_ft=alts or (25000.0,),
        speed_kt=c.num(m, path, "speed_kt", None, lo=50, hi=2000),
        at_s=tuple(at_s),
        sorties=int(c.num(m, path, "sorties", 0, lo=0, hi=10000)),
        window_s=window,
        airborne=bool(c.get(m, path, "airborne", bool, False)),
        target=pt("target"),
        target_radius_nm=c.num(m, path, "target_radius_nm", 0.0, lo=0, hi=200),
        via=pts("via"),
        center=pt("center"),
        pattern=c.get(m, path, "pattern", str, "racetrack"),
        heading_deg=c.num(m, path, "heading_deg", 0.0, lo=0, hi=360),
        leg_nm=c.num(m, path, "leg_nm", 30.0, lo=0, hi=500),
        radius_nm=c.num(m, path, "radius_nm", None, lo=0.5, hi=200),
        on_station_s=c.num(m, path, "on_station_s", 3600.0, lo=0, hi=86400 * 7),
        route=pts("route"),
        to=to,
        flights_per_hour=c.num(m, path, "flights_per_hour", 0.0, lo=0, hi=600),
        both_ways=bool(c.get(m, path, "both_ways", bool, False)),
        squawk=c.get(m, path, "squawk", str, ""),
    )
    # What each kind needs.
    if kind == "strike" and mission.target is None:
        c.add(path + ["target"], "a strike needs a target [lat, lon]")
    if kind in ORBIT_KINDS:
        if mission.center is None:
            c.add(path + ["center"], f"a {kind} needs a center [lat, lon]")
        if mission.pattern not in ("racetrack", "circle"):
            c.add(path + ["pattern"], f"must be 'racetrack' or 'circle', got {mission.pattern!r}")
    if kind == "transit" and len(mission.route) < 1 and mission.to is None:
        c.add(path + ["route"], "a transit needs a route of [lat, lon] points or a destination 'to'")
    if kind == "airway":
        if len(mission.route) < 2:
            c.add(path + ["route"], "an airway needs at least two [lat, lon] points")
        if mission.flights_per_hour <= 0 and not mission.at_s:
            c.add(path + ["flights_per_hour"], "an airway needs flights_per_hour > 0 or at_s")
    elif not mission.at_s and mission.sorties == 0:
        c.add(path + ["at_s"], "give launch times at_s or a number of random sorties")
    if kind not in ("airway",) and not mission.airborne and mission.base is None and kind:
        c.add(path + ["base"], f"a {kind} that is not airborne needs a base")
    if mission.airborne and kind in ("strike", "transit") and not mission.route and mission.base is None:
        c.add(path + ["route"], "an airborne strike or transit starts at its first route point")
    if kind in ("strike", "transit") and mission.base is None and mission.to is None and not mission.route:
        c.add(path + ["to"], "needs somewhere to go: a base to return to, 'to' or a route")
    return mission if len(c.issues) == n0 else None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raises ScenarioError naming the file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(str(p), [("(file)", None, f"cannot read: {exc.strerror or exc}")]) from exc
    return loads_scenario(text, str(p))
