"""Places to steer by on the map: aerodromes, airbases and towns, from data bundled with the service.

Aerodromes come from the `airportsdata` package (MIT, maintained; the list the aerodrome
suppression rule uses too), entries with an ICAO location indicator only. Airbases are those
named by the scenario the service was started with (the demo's bases, with their sources)
or given to `create_app`. Towns are GeoNames places of at least 50,000 inhabitants bundled
in `sharedsky/data/towns.json.gz` (CC BY 4.0; see the data README). Nothing is fetched: the map asks the service for the places in a
box around its view (`GET /api/v1/places?bbox=...`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: At most this many aerodromes in one answer (those with an IATA code, the larger ones, first).
MAX_PLACES = 1500


@dataclass(frozen=True)
class AerodromeTable:
    """Aerodromes as columns: ICAO code, IATA code ('' if none), name, position, elevation."""

    icao: NDArray[np.str_]
    iata: NDArray[np.str_]
    name: NDArray[np.str_]
    lat_deg: NDArray[np.float64]
    lon_deg: NDArray[np.float64]
    elevation_ft: NDArray[np.float64]
    source: str


@cache
def aerodrome_table() -> AerodromeTable:
    """airportsdata's aerodromes with an ICAO location indicator (read once, about 0.1 s)."""
    import airportsdata

    from sharedsky.agreement.aerodromes import _ICAO_LOCATION_INDICATOR

    rows = [a for code, a in sorted(airportsdata.load("ICAO").items()) if _ICAO_LOCATION_INDICATOR.match(code)]
    return AerodromeTable(
        icao=np.array([a["icao"] for a in rows], dtype=str),
        iata=np.array([a.get("iata") or "" for a in rows], dtype=str),
        name=np.array([a.get("name") or "" for a in rows], dtype=str),
        lat_deg=np.array([float(a["lat"]) for a in rows]),
        lon_deg=np.array([float(a["lon"]) for a in rows]),
        elevation_ft=np.array([float(a.get("elevation") or 0.0) for a in rows]),
        source=f"airportsdata {getattr(airportsdata, '__version__', '?')} (MIT)",
    )


@cache
def town_table() -> tuple[NDArray[np.str_], NDArray[np.float64], NDArray[np.float64], NDArray[np.int64], str]:
    """The bundled towns as columns: name, latitude, longitude, population; and their source."""
    import gzip
    import json
    from importlib.resources import files

    with gzip.open(str(files("sharedsky") / "data" / "towns.json.gz"), "rt", encoding="utf-8") as f:
        doc = json.load(f)
    rows = doc["rows"]
    return (np.array([r[0] for r in rows], dtype=str), np.array([r[1] for r in rows], dtype=np.float64),
            np.array([r[2] for r in rows], dtype=np.float64), np.array([r[3] for r in rows], dtype=np.int64),
            str(doc["source"]))


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """`lon0,lat0,lon1,lat1` in degrees; ValueError naming what is wrong."""
    parts = text.split(",")
    if len(parts) != 4:
        raise ValueError("bbox: must be lon0,lat0,lon1,lat1")
    try:
        lon0, lat0, lon1, lat1 = (float(p) for p in parts)
    except ValueError as exc:
        raise ValueError("bbox: must be four numbers, lon0,lat0,lon1,lat1") from exc
    if not all(np.isfinite([lon0, lat0, lon1, lat1])) or not (-90 <= lat0 <= lat1 <= 90) or not (
            -180 <= lon0 <= lon1 <= 180):
        raise ValueError("bbox: needs -180 <= lon0 <= lon1 <= 180 and -90 <= lat0 <= lat1 <= 90")
    return lon0, lat0, lon1, lat1


def places_in(bbox: tuple[float, float, float, float], bases: list[dict[str, Any]]) -> dict[str, Any]:
    """Aerodromes and bases inside `bbox`, aerodromes with an IATA code first, at most MAX_PLACES."""
    lon0, lat0, lon1, lat1 = bbox
    a = aerodrome_table()
    inside = np.flatnonzero((a.lon_deg >= lon0) & (a.lon_deg <= lon1) & (a.lat_deg >= lat0) & (a.lat_deg <= lat1))
    order = inside[np.argsort(a.iata[inside] == "", kind="stable")][:MAX_PLACES]
    base_codes = {str(b.get("icao") or "") for b in bases}
    aerodromes = [{"icao": str(a.icao[i]), "iata": str(a.iata[i]), "name": str(a.name[i]),
                   "lat": round(float(a.lat_deg[i]), 5), "lon": round(float(a.lon_deg[i]), 5),
                   "elevation_ft": float(a.elevation_ft[i])}
                  for i in order.tolist() if str(a.icao[i]) not in base_codes]
    near = [b for b in bases if lon0 <= b["lon"] <= lon1 and lat0 <= b["lat"] <= lat1]
    name, lat, lon, pop, town_source = town_table()
    tin = np.flatnonzero((lon >= lon0) & (lon <= lon1) & (lat >= lat0) & (lat <= lat1))[:MAX_PLACES]  # largest first
    towns = [{"name": str(name[i]), "lat": float(lat[i]), "lon": float(lon[i]), "population": int(pop[i])}
             for i in tin.tolist()]
    return {"aerodromes": aerodromes, "bases": near, "towns": towns, "truncated": bool(inside.size > MAX_PLACES),
            "source": a.source, "towns_source": town_source}


def bases_of_scenario(scenario: Any) -> list[dict[str, Any]]:
    """A scenario's bases as places (id, name, position, elevation, the ICAO code in its name)."""
    import re

    out = []
    for b in getattr(scenario, "bases", {}).values():
        m = re.search(r"\(([A-Z]{4})\)", b.name)
        out.append({"id": b.id, "name": b.name, "lat": float(b.lat_deg), "lon": float(b.lon_deg),
                    "elevation_ft": float(getattr(b, "elevation_ft", 0.0) or 0.0), "icao": m.group(1) if m else ""})
    return out
