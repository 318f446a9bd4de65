"""Notified operations as read: a NOTICE's volumes, and planned-operations files.

A notified operation is one or more 4D volumes (a GeoJSON Polygon `area`, or a circle
`centre` [lon, lat] with `radius_nm`; `floor_ft`, `ceiling_ft`; `start`, `end`) of one
party, with a `purpose` (one of the agreement's `[notices] purposes`, which gives its
priority), an `operation` id the party chooses and a `version`: a later version of the
same operation replaces all its volumes, and `withdraw: true` ends it. Everything is
checked here, for the line and for `sharedsky notices check` alike; a refusal is a
`NoticeError` naming the field (`volumes[2].radius_nm: ...`, `plan.csv:4: end: ...`).

Files (`read_plan`): JSON (a notice, a list of them, or {"notices": [...]}), GeoJSON
(a FeatureCollection: each Feature a Polygon, or a Point with `radius_nm`, its
properties the other fields; features of one `operation` are its volumes) and CSV (one
volume per row: operation, purpose, floor_ft, ceiling_ft, start, end, and either
`polygon` as "lon lat, lon lat, ..." or centre_lon, centre_lat, radius_nm).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon, shape

from sharedsky.engine.airspace import prepare
from sharedsky.engine.notices import circles, widen
from sharedsky.ingest.times import parse_time as _parse_time

#: Bounds of a NOTICE's area: a polygon of at most this many rings (outer and holes) and
#: positions in all (issue 14, defect 9: a notice is sent to every party and stored twice).
MAX_RINGS = 10
MAX_POSITIONS = 1000
MAX_RADIUS_NM = 500.0
#: Smallest circle radius and polygon extent taken (NM, degrees): below, geometry degenerates.
MIN_RADIUS_NM = 0.01
MIN_EXTENT_DEG = 1e-5
MIN_LEVEL_FT, MAX_LEVEL_FT = -2000.0, 150000.0
#: Times a notice may carry (epoch s): every one of them can be written back as ISO 8601.
MIN_TIME_S, MAX_TIME_S = 0.0, 253402300799.0
OPERATION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
VOLUME_FIELDS = ("area", "centre", "radius_nm", "floor_ft", "ceiling_ft", "start", "end")
NOTICE_FIELDS = {"area", "centre", "radius_nm", "floor_ft", "ceiling_ft", "start", "end", "text",
                 "operation", "version", "purpose", "volumes", "withdraw"}


class NoticeError(ValueError):
    """A notice or plan that cannot be used; `field` names where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


@dataclass(frozen=True)
class VolumeSpec:
    """One 4D volume of a notice: outline (lon/lat), level band, time window."""

    area: dict[str, Any]  # as sent: a GeoJSON Polygon, or {"centre": [lon, lat], "radius_nm": r}
    geometry: Polygon
    floor_ft: float
    ceiling_ft: float
    start_s: float
    end_s: float


@dataclass(frozen=True)
class NoticeSpec:
    """A notice as checked: its operation, version (None: the next), purpose and volumes."""

    operation: str | None
    version: int | None
    purpose: str
    priority: int
    volumes: tuple[VolumeSpec, ...]
    withdraw: bool = False
    party: str = ""


def _num(d: dict[str, Any], key: str, where: str, lo: float, hi: float) -> float:
    v = d.get(key)
    if v is None:
        raise NoticeError(where + key, "required")
    if type(v) not in (int, float) or not math.isfinite(v):
        raise NoticeError(where + key, f"must be a finite number, got {v!r}"[:200])
    if not lo <= v <= hi:
        raise NoticeError(where + key, f"must be between {lo:g} and {hi:g}, got {v!r}")
    return float(v)


def _time(d: dict[str, Any], key: str, where: str) -> float:
    v = d.get(key)
    if v is None:
        raise NoticeError(where + key, "required")
    t = _parse_time(v)
    if t is None:
        raise NoticeError(where + key, "must be an ISO 8601 time such as 2026-01-01T12:00:00Z or epoch seconds")
    if not MIN_TIME_S <= t <= MAX_TIME_S:
        raise NoticeError(where + key, "must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z")
    return t


def check_polygon(area: Any, where: str = "") -> None:
    """A GeoJSON Polygon of bounded size with no other field; NoticeError naming where."""
    f = where + "area"
    if not isinstance(area, dict) or area.get("type") != "Polygon":
        raise NoticeError(f, "must be a GeoJSON Polygon {\"type\": \"Polygon\", \"coordinates\": [...]}")
    for k in area:
        if k not in ("type", "coordinates"):
            raise NoticeError(f"{f}.{k}", "unknown field (a Polygon has only type and coordinates)")
    rings = area.get("coordinates")
    if not isinstance(rings, list) or not rings:
        raise NoticeError(f + ".coordinates", "must be a list of rings (lists of [longitude, latitude])")
    if len(rings) > MAX_RINGS:
        raise NoticeError(f + ".coordinates", f"at most {MAX_RINGS} rings, got {len(rings)}")
    total = 0
    for i, ring in enumerate(rings):
        if not isinstance(ring, list):
            raise NoticeError(f"{f}.coordinates[{i}]", "must be a list of [longitude, latitude] positions")
        total += len(ring)
        if total > MAX_POSITIONS:
            raise NoticeError(f + ".coordinates", f"at most {MAX_POSITIONS} positions in all")
        for j, pos in enumerate(ring):
            if (not isinstance(pos, list) or not 2 <= len(pos) <= 3
                    or not all(type(x) in (int, float) for x in pos)):
                raise NoticeError(f"{f}.coordinates[{i}][{j}]",
                                  "must be a position [longitude, latitude] (or with altitude)")


def parse_volume(d: Any, where: str = "") -> VolumeSpec:
    """One volume from a dict with area (or centre and radius_nm), levels and times."""
    if not isinstance(d, dict):
        raise NoticeError(where.rstrip(".") or "volume", "must be an object")
    circle = d.get("centre") is not None or d.get("radius_nm") is not None
    if d.get("area") is not None and circle:
        raise NoticeError(where + "area", "give either area (a polygon) or centre and radius_nm, not both")
    if circle:
        c = d.get("centre")
        if (not isinstance(c, list) or len(c) != 2 or not all(type(x) in (int, float) for x in c)
                or not all(math.isfinite(x) for x in c)):
            raise NoticeError(where + "centre", "must be [longitude, latitude] in degrees")
        if not (-180 <= c[0] <= 180 and -85 <= c[1] <= 85):
            raise NoticeError(where + "centre", f"must be [longitude, latitude] in degrees (latitude within "
                              f"±85), got {c!r}")
        r = _num(d, "radius_nm", where, 0.0, MAX_RADIUS_NM)
        if r <= 0:
            raise NoticeError(where + "radius_nm", "must be above 0")
        if r < MIN_RADIUS_NM:
            raise NoticeError(where + "radius_nm", f"must be at least {MIN_RADIUS_NM:g} NM, got {r!r}")
        geom = circles(np.array([float(c[0])]), np.array([float(c[1])]), np.array([r]))[0]
        area: dict[str, Any] = {"centre": [float(c[0]), float(c[1])], "radius_nm": r}
    else:
        a = d.get("area")
        if a is None:
            raise NoticeError(where + "area", "required (a GeoJSON Polygon), or centre and radius_nm")
        check_polygon(a, where)
        try:
            geom = shape(a)
            ok = isinstance(geom, Polygon) and geom.is_valid and not geom.is_empty and geom.area > 0
            minx, miny, maxx, maxy = geom.bounds
        except Exception as exc:  # shapely raises several types for bad coordinates
            raise NoticeError(where + "area", f"not a valid polygon ({exc})") from exc
        if not ok:
            raise NoticeError(where + "area", "polygon is empty, has no area or intersects itself")
        if not (-180 <= minx <= maxx <= 180 and -85 <= miny <= maxy <= 85):
            raise NoticeError(where + "area", "coordinates must be [longitude, latitude] in degrees "
                              "(latitude within ±85)")
        if min(maxx - minx, maxy - miny) < MIN_EXTENT_DEG:
            raise NoticeError(where + "area", f"polygon is narrower than {MIN_EXTENT_DEG:g} degrees")
        geom = shapely.force_2d(geom)
        area = a
    floor = _num(d, "floor_ft", where, MIN_LEVEL_FT, MAX_LEVEL_FT)
    ceiling = _num(d, "ceiling_ft", where, MIN_LEVEL_FT, MAX_LEVEL_FT)
    if ceiling <= floor:
        raise NoticeError(where + "ceiling_ft", "must be above floor_ft")
    start, end = _time(d, "start", where), _time(d, "end", where)
    if end <= start:
        raise NoticeError(where + "end", "must be after start")
    try:  # what the checks will do with it: widen it, and prepare it as a zone
        prepare(geom, floor, ceiling)
        wide = widen(np.array([geom], dtype=object), 1.0)[0]
        ok = bool(wide.is_valid and not wide.is_empty)
    except (ValueError, shapely.errors.GEOSException) as exc:
        raise NoticeError(where + "area", f"cannot be used as a volume ({exc})") from exc
    if not ok:
        raise NoticeError(where + "area", "cannot be widened into a valid outline")
    return VolumeSpec(area, geom, floor, ceiling, start, end)


def purpose_priority(notices: Any, purpose: str, field: str = "purpose") -> int:
    """The priority of a purpose under the agreement's `[notices]` (0 when it lists none)."""
    listed = {p.name: int(p.priority) for p in getattr(notices, "purposes", [])}
    if not listed:
        return 0
    if purpose not in listed:
        raise NoticeError(field, f"must be one of the agreement's purposes ({', '.join(listed)}), got "
                          f"{purpose[:60]!r}")
    return listed[purpose]


def parse_notice(msg: dict[str, Any], notices: Any, where: str = "") -> NoticeSpec:
    """A NOTICE's operation, version, purpose and volumes (fields as the line takes them)."""
    for k in msg:
        if k not in NOTICE_FIELDS and k not in ("type", "signature", "party"):
            raise NoticeError(where + k, f"unknown field for NOTICE (allowed: {', '.join(sorted(NOTICE_FIELDS))})")
    for k in ("operation", "version", "purpose", "withdraw", "volumes"):
        if k in msg and msg[k] is None:
            raise NoticeError(where + k, "must not be null (leave it out)")
    op = msg.get("operation")
    if op is not None and (not isinstance(op, str) or not OPERATION_RE.fullmatch(op)):
        raise NoticeError(where + "operation", "must be an id of 1-64 letters, digits and _.:- "
                          "(starting with a letter or digit)")
    ver = msg.get("version")
    if ver is not None and (type(ver) is not int or not 1 <= ver <= 1_000_000):
        raise NoticeError(where + "version", "must be an integer from 1")
    withdraw = msg.get("withdraw", False)
    if type(withdraw) is not bool:
        raise NoticeError(where + "withdraw", "must be true or false")
    purpose = msg.get("purpose")
    if purpose is not None and (not isinstance(purpose, str) or len(purpose) > 40):
        raise NoticeError(where + "purpose", "must be a string of at most 40 characters")
    # A notice that declares no purpose has the lowest priority (it gives way).
    purpose = purpose or ""
    priority = 0 if withdraw or not purpose else purpose_priority(notices, purpose, where + "purpose")
    single = [k for k in VOLUME_FIELDS if msg.get(k) is not None]
    vols = msg.get("volumes")
    if withdraw:
        if op is None:
            raise NoticeError(where + "operation", "required to withdraw an operation")
        if single or vols is not None:
            raise NoticeError(where + "withdraw", "a withdrawal carries no volumes")
        return NoticeSpec(op, ver, purpose, priority, (), True)
    if vols is not None and single:
        raise NoticeError(where + "volumes", f"give either volumes or one volume's fields ({', '.join(single)}), "
                          "not both")
    if vols is None:
        specs: tuple[VolumeSpec, ...] = (parse_volume(msg, where),)
    else:
        most = int(getattr(notices, "max_volumes", 50))
        if not isinstance(vols, list) or not vols:
            raise NoticeError(where + "volumes", "must be a non-empty list of volumes")
        if len(vols) > most:
            raise NoticeError(where + "volumes", f"at most {most} volumes per operation ([notices] max_volumes), "
                              f"got {len(vols)}")
        for n, v in enumerate(vols):
            if isinstance(v, dict):
                for key in v:
                    if key not in VOLUME_FIELDS:
                        raise NoticeError(f"{where}volumes[{n}].{key}",
                                          f"unknown field for a volume (allowed: {', '.join(VOLUME_FIELDS)})")
        specs = tuple(parse_volume(v, f"{where}volumes[{k}].") for k, v in enumerate(vols))
        total = sum(len(shapely.get_coordinates(s.geometry)) for s in specs)
        if total > MAX_POSITIONS * 4:
            raise NoticeError(where + "volumes", f"at most {MAX_POSITIONS * 4} positions in all")
    return NoticeSpec(op, ver, purpose, priority, specs, False)


# --- planned-operations files ----------------------------------------------------------------


def _csv_notices(text: str) -> list[tuple[str, dict[str, Any]]]:
    """One volume per row; rows of one operation become one notice (in file order)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    by_op: dict[str, tuple[str, dict[str, Any]]] = {}
    for n, row in enumerate(rows, start=2):
        where = f"line {n}"
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        vol: dict[str, Any] = {}
        try:
            for k in ("floor_ft", "ceiling_ft", "radius_nm", "centre_lon", "centre_lat"):
                if row.get(k):
                    vol[k] = float(row[k])
        except ValueError as exc:
            raise NoticeError(where, f"not a number ({exc})") from exc
        if "centre_lon" in vol or "centre_lat" in vol:
            vol["centre"] = [vol.pop("centre_lon", None), vol.pop("centre_lat", None)]
        if row.get("polygon"):
            try:
                ring = [[float(x) for x in p.split()] for p in row["polygon"].split(",")]
            except ValueError as exc:
                raise NoticeError(f"{where}: polygon", "must be 'lon lat, lon lat, ...'") from exc
            if ring and ring[0] != ring[-1]:
                ring.append(ring[0])
            vol["area"] = {"type": "Polygon", "coordinates": [ring]}
        for k in ("start", "end"):
            if row.get(k):
                try:
                    vol[k] = float(row[k])
                except ValueError:
                    vol[k] = row[k]
        op = row.get("operation") or f"row-{n}"
        head = {k: row[k] for k in ("purpose", "party") if row.get(k)}
        if row.get("version"):
            try:
                head["version"] = int(row["version"])
            except ValueError as exc:
                raise NoticeError(f"{where}: version", "must be an integer") from exc
        entry = by_op.setdefault(op, (where, {"operation": op, **head, "volumes": []}))
        entry[1]["volumes"].append(vol)
    return list(by_op.values())


def _geojson_notices(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    feats = doc.get("features")
    if not isinstance(feats, list):
        raise NoticeError("features", "a FeatureCollection needs a list of features")
    by_op: dict[str, tuple[str, dict[str, Any]]] = {}
    for k, f in enumerate(feats):
        where = f"features[{k}]"
        if not isinstance(f, dict) or not isinstance(f.get("geometry"), dict):
            raise NoticeError(where, "must be a Feature with a geometry")
        props = dict(f.get("properties") or {})
        g = f["geometry"]
        vol: dict[str, Any] = {k2: props.pop(k2) for k2 in ("floor_ft", "ceiling_ft", "start", "end", "radius_nm")
                               if k2 in props}
        if g.get("type") == "Point":
            vol["centre"] = g.get("coordinates")
        else:
            vol["area"] = g
        op = str(props.pop("operation", f"feature-{k}"))
        entry = by_op.setdefault(op, (where, {"operation": op, **{
            k2: props[k2] for k2 in ("purpose", "party", "version") if k2 in props}, "volumes": []}))
        entry[1]["volumes"].append(vol)
    return list(by_op.values())


def read_plan(path: str | Path, notices: Any) -> list[NoticeSpec]:
    """The notices of a planned-operations file (.json, .geojson, .csv); NoticeError names
    the file, the notice or line and the field."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NoticeError(str(p), f"cannot read ({exc})") from exc
    ext = p.suffix.lower()
    try:
        if ext == ".csv":
            raw = _csv_notices(text)
        else:
            try:
                doc = json.loads(text)
            except json.JSONDecodeError as exc:
                raise NoticeError(f"line {exc.lineno}", f"not JSON ({exc.msg})") from exc
            if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
                raw = _geojson_notices(doc)
            else:
                items = doc.get("notices") if isinstance(doc, dict) and "notices" in doc else doc
                items = items if isinstance(items, list) else [items]
                raw = [(f"notices[{k}]", n) for k, n in enumerate(items)]
    except NoticeError as exc:
        raise NoticeError(f"{p}: {exc.field}", exc.reason) from exc
    out: list[NoticeSpec] = []
    for where, n in raw:
        if not isinstance(n, dict):
            raise NoticeError(f"{p}: {where}", "must be an object (a notice)")
        party = n.get("party", "")
        body = {k: v for k, v in n.items() if k != "party"}
        try:
            spec = parse_notice(body, notices)
        except NoticeError as exc:
            raise NoticeError(f"{p}: {where}: {exc.field}", exc.reason) from exc
        out.append(NoticeSpec(spec.operation, spec.version, spec.purpose, spec.priority, spec.volumes,
                              spec.withdraw, str(party) if party else ""))
    return out
